#include "webrtc/dtls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

#include "core/error.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SSL_CTX, SSL_CTX_free)

#define RECORD_HEADER_LEN 13
#define EXPORTER_LABEL "EXTRACTOR-dtls_srtp"
#define MIN_TIMEOUT_MS 50

/* Preference order: a server picks the first of these the client offers. */
#define DEFAULT_SRTP_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"

/* ECDHE (forward secrecy) with AEAD only; ECDSA for our own certificate,
 * RSA too because a certificate loaded from files may be RSA and so may the
 * peer's. Every WebRTC stack offers AES-GCM. No CBC suites: with
 * encrypt-then-MAC, OpenSSL 3.0's DTLS treats one record with a bad MAC as
 * fatal instead of discarding it, so a single spoofed datagram could end a
 * session. */
#define CIPHER_LIST                                                                                \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                     \
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                     \
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* RFC 6347 4.1: no record body is longer than 2^14 + 2048. */
#define MAX_RECORD_BODY_LEN (16384 + 2048)

struct _ChorusDtlsContext {
  SSL_CTX *ssl_ctx;
  ChorusCertificate *cert;
};

struct _ChorusDtls {
  ChorusDtlsContext *ctx; /* strong ref */
  SSL *ssl;
  BIO *rbio; /* both owned by ssl */
  BIO *wbio;
  ChorusDtlsRole role;
  ChorusDtlsState state;
  char *failure_reason;
  /* "" = not known yet */
  char remote_fp[CHORUS_FINGERPRINT_SHA256_LEN + 1];
  char peer_fp[CHORUS_FINGERPRINT_SHA256_LEN + 1];
  /* OpenSSL finished and keys are exported; CONNECTED also needs remote_fp. */
  gboolean handshake_done;
  gboolean peer_sent_fatal_alert;
  /* OpenSSL failed after CONNECTED on input that was not a fatal alert: the
   * keys stay good, DTLS input is ignored from then on. */
  gboolean input_disabled;
  guint initial_timeout_us;
  gint64 deadline_us;
  ChorusSrtpKeys keys;
  ChorusDtlsStats stats;
};

const char *
chorus_dtls_state_to_string(ChorusDtlsState state)
{
  switch (state) {
  case CHORUS_DTLS_STATE_NEW:
    return "new";
  case CHORUS_DTLS_STATE_HANDSHAKING:
    return "handshaking";
  case CHORUS_DTLS_STATE_CONNECTED:
    return "connected";
  case CHORUS_DTLS_STATE_FAILED:
    return "failed";
  case CHORUS_DTLS_STATE_CLOSED:
    return "closed";
  default:
    return "unknown";
  }
}

/* ---- context ---------------------------------------------------------- */

static int verify_certificate(X509_STORE_CTX *store, void *arg);

static void
set_openssl_error(GError **error, const char *what)
{
  char buf[256] = "unknown OpenSSL error";
  unsigned long e = ERR_get_error();
  if (e != 0)
    ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "%s: %s", what, buf);
}

ChorusDtlsContext *
chorus_dtls_context_new(ChorusCertificate *cert, GError **error)
{
  g_return_val_if_fail(cert != NULL, NULL);
  ERR_clear_error();

  g_autoptr(SSL_CTX) ssl_ctx = SSL_CTX_new(DTLS_method());
  if (ssl_ctx == NULL) {
    set_openssl_error(error, "SSL_CTX_new");
    return NULL;
  }
  if (SSL_CTX_set_min_proto_version(ssl_ctx, DTLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ssl_ctx, DTLS1_2_VERSION) != 1) {
    set_openssl_error(error, "restricting to DTLS 1.2");
    return NULL;
  }
  if (SSL_CTX_use_certificate(ssl_ctx, chorus_certificate_get_x509(cert)) != 1 ||
      SSL_CTX_use_PrivateKey(ssl_ctx, chorus_certificate_get_private_key(cert)) != 1 ||
      SSL_CTX_check_private_key(ssl_ctx) != 1) {
    set_openssl_error(error, "installing the certificate");
    return NULL;
  }
  if (SSL_CTX_set_cipher_list(ssl_ctx, CIPHER_LIST) != 1 ||
      SSL_CTX_set1_groups_list(ssl_ctx, "X25519:P-256:P-384") != 1) {
    set_openssl_error(error, "setting ciphers");
    return NULL;
  }
  /* Note the inverted convention: 0 is success here. */
  if (SSL_CTX_set_tlsext_use_srtp(ssl_ctx, DEFAULT_SRTP_PROFILES) != 0) {
    set_openssl_error(error, "enabling use_srtp");
    return NULL;
  }
  /* No MTU probing through the (memory) BIO, no session resumption (every
   * connection has fresh certificates/fingerprints anyway), no
   * renegotiation. */
  SSL_CTX_set_options(ssl_ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                                   SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_OFF);
  /* Both roles demand the peer's certificate; verify_certificate() replaces
   * chain building with the fingerprint check. */
  SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  SSL_CTX_set_cert_verify_callback(ssl_ctx, verify_certificate, NULL);

  ChorusDtlsContext *ctx = g_atomic_rc_box_new0(ChorusDtlsContext);
  ctx->ssl_ctx = g_steal_pointer(&ssl_ctx);
  ctx->cert = chorus_certificate_ref(cert);
  return ctx;
}

ChorusDtlsContext *
chorus_dtls_context_ref(ChorusDtlsContext *ctx)
{
  g_return_val_if_fail(ctx != NULL, NULL);
  return g_atomic_rc_box_acquire(ctx);
}

static void
context_clear(gpointer data)
{
  ChorusDtlsContext *ctx = data;
  SSL_CTX_free(ctx->ssl_ctx);
  chorus_certificate_unref(ctx->cert);
}

void
chorus_dtls_context_unref(ChorusDtlsContext *ctx)
{
  if (ctx != NULL)
    g_atomic_rc_box_release_full(ctx, context_clear);
}

const char *
chorus_dtls_context_get_fingerprint(ChorusDtlsContext *ctx)
{
  g_return_val_if_fail(ctx != NULL, NULL);
  return chorus_certificate_get_fingerprint(ctx->cert);
}

/* ---- OpenSSL callbacks ------------------------------------------------ */

/* The first reason wins: later errors are usually consequences of it. */
G_GNUC_PRINTF(2, 3)
static void
remember_reason(ChorusDtls *d, const char *format, ...)
{
  if (d->failure_reason != NULL)
    return;
  va_list args;
  va_start(args, format);
  d->failure_reason = g_strdup_vprintf(format, args);
  va_end(args);
}

static int
verify_certificate(X509_STORE_CTX *store, void *arg)
{
  SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
  ChorusDtls *d = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
  X509 *peer = X509_STORE_CTX_get0_cert(store);
  if (d == NULL)
    return 0;
  if (peer == NULL || !chorus_certificate_compute_fingerprint(peer, d->peer_fp)) {
    d->peer_fp[0] = '\0';
    remember_reason(d, "cannot read the peer certificate");
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  if (d->remote_fp[0] != '\0' && !chorus_certificate_fingerprint_equal(d->remote_fp, d->peer_fp)) {
    remember_reason(d, "fingerprint mismatch: expected %s got %s", d->remote_fp, d->peer_fp);
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  return 1;
}

static void
on_info(const SSL *ssl, int where, int ret)
{
  /* SSL_CB_READ_ALERT is two bits; SSL_CB_WRITE_ALERT shares one of them. */
  if ((where & SSL_CB_READ_ALERT) != SSL_CB_READ_ALERT || (ret >> 8) != SSL3_AL_FATAL)
    return;
  ChorusDtls *d = SSL_get_app_data(ssl);
  if (d == NULL)
    return;
  d->peer_sent_fatal_alert = TRUE;
  remember_reason(d, "peer sent fatal alert: %s", SSL_alert_desc_string_long(ret));
}

/* OpenSSL asks for the next timeout at the start of each flight (0) and on
 * each expiry (the current one), which is exactly one retransmission. */
static unsigned int
next_timeout_us(SSL *ssl, unsigned int current_us)
{
  ChorusDtls *d = SSL_get_app_data(ssl);
  if (current_us == 0)
    return d->initial_timeout_us;
  d->stats.retransmissions++;
  guint64 next_us = (guint64)current_us * 2;
  return (unsigned int)MIN(next_us, (guint64)CHORUS_DTLS_MAX_TIMEOUT_MS * 1000);
}

/* ---- state machine ------------------------------------------------------ */

static void
set_failed(ChorusDtls *d, const char *fallback_reason)
{
  if (fallback_reason != NULL)
    remember_reason(d, "%s", fallback_reason);
  d->state = CHORUS_DTLS_STATE_FAILED;
  d->deadline_us = G_MAXINT64;
  chorus_srtp_keys_clear(&d->keys);
}

/* Failure reported by OpenSSL: a reason from our callbacks if there is one,
 * else OpenSSL's own. */
static void
fail_from_openssl(ChorusDtls *d, const char *what)
{
  unsigned long e = ERR_peek_error();
  if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_READ_TIMEOUT_EXPIRED) {
    remember_reason(d, "handshake timed out");
    /* next_timeout_us() counted this last expiry, which gave up instead of
     * resending. */
    if (d->stats.retransmissions > 0)
      d->stats.retransmissions--;
  } else if (e != 0) {
    const char *s = ERR_reason_error_string(e);
    remember_reason(d, "%s: %s", what, s != NULL ? s : "unknown OpenSSL error");
  } else {
    remember_reason(d, "%s", what);
  }
  ERR_clear_error();
  set_failed(d, NULL);
}

/* After the handshake: tell the peer we are leaving (it thinks it is
 * connected) and fail. */
static void
abort_established(ChorusDtls *d, const char *reason)
{
  remember_reason(d, "%s", reason);
  SSL_shutdown(d->ssl);
  ERR_clear_error();
  set_failed(d, NULL);
}

/* CONNECTED once the handshake is done and the peer's certificate matches the
 * SDP; waits while the SDP fingerprint is unknown. */
static void
check_ready(ChorusDtls *d)
{
  if (d->state != CHORUS_DTLS_STATE_HANDSHAKING && d->state != CHORUS_DTLS_STATE_NEW)
    return;
  if (d->remote_fp[0] != '\0' && d->peer_fp[0] != '\0' &&
      !chorus_certificate_fingerprint_equal(d->remote_fp, d->peer_fp)) {
    g_autofree char *reason =
        g_strdup_printf("fingerprint mismatch: expected %s got %s", d->remote_fp, d->peer_fp);
    if (d->handshake_done)
      abort_established(d, reason);
    else
      set_failed(d, reason);
    return;
  }
  if (d->handshake_done && d->remote_fp[0] != '\0') {
    d->state = CHORUS_DTLS_STATE_CONNECTED;
    d->deadline_us = G_MAXINT64;
  }
}

/* OpenSSL completed the handshake: pick up the profile and the keys. */
static void
finish_handshake(ChorusDtls *d)
{
  if (d->peer_fp[0] == '\0') {
    abort_established(d, "the peer presented no certificate");
    return;
  }
  const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);
  ChorusSrtpProfile profile = p != NULL ? (ChorusSrtpProfile)p->id : CHORUS_SRTP_PROFILE_NONE;
  guint key_len = 0, salt_len = 0;
  if (!chorus_srtp_profile_get_key_lengths(profile, &key_len, &salt_len)) {
    abort_established(d, "no common SRTP profile");
    return;
  }

  /* RFC 5764 4.2: client key | server key | client salt | server salt. */
  guint8 material[2 * (CHORUS_SRTP_MAX_KEY_LEN + CHORUS_SRTP_MAX_SALT_LEN)];
  gsize material_len = 2 * (key_len + salt_len);
  if (SSL_export_keying_material(d->ssl, material, material_len, EXPORTER_LABEL,
                                 strlen(EXPORTER_LABEL), NULL, 0, 0) != 1) {
    ERR_clear_error();
    abort_established(d, "exporting the SRTP keys failed");
    return;
  }
  const guint8 *client_key = material;
  const guint8 *server_key = material + key_len;
  const guint8 *client_salt = material + 2 * key_len;
  const guint8 *server_salt = material + 2 * key_len + salt_len;
  gboolean client = d->role == CHORUS_DTLS_ROLE_CLIENT;

  d->keys.profile = profile;
  d->keys.key_len = key_len;
  d->keys.salt_len = salt_len;
  memcpy(d->keys.local_key, client ? client_key : server_key, key_len);
  memcpy(d->keys.local_salt, client ? client_salt : server_salt, salt_len);
  memcpy(d->keys.remote_key, client ? server_key : client_key, key_len);
  memcpy(d->keys.remote_salt, client ? server_salt : client_salt, salt_len);
  explicit_bzero(material, sizeof material);

  d->handshake_done = TRUE;
  check_ready(d);
}

/* Reads what OpenSSL has after the handshake: close_notify, alerts,
 * retransmitted peer flights (OpenSSL answers those itself), application
 * data (dropped). */
static void
read_records(ChorusDtls *d)
{
  guint8 buf[2048];
  for (;;) {
    int n = SSL_read(d->ssl, buf, sizeof buf);
    if (n > 0) {
      d->stats.app_data_dropped++;
      continue;
    }
    int err = SSL_get_error(d->ssl, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      ERR_clear_error();
      return;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {
      /* close_notify: answer it and stop. */
      SSL_shutdown(d->ssl);
      ERR_clear_error();
      d->state = CHORUS_DTLS_STATE_CLOSED;
      d->deadline_us = G_MAXINT64;
      chorus_srtp_keys_clear(&d->keys);
      return;
    }
    if (d->state == CHORUS_DTLS_STATE_CONNECTED && !d->peer_sent_fatal_alert) {
      /* Media keys were exported and verified; a record that upset OpenSSL
       * afterwards (which only an on-path sender can inject) is no reason
       * to end the session. We lose close_notify detection, which ICE
       * consent freshness covers. */
      ERR_clear_error();
      d->input_disabled = TRUE;
      d->stats.errors_after_connect++;
      return;
    }
    fail_from_openssl(d, "connection failed");
    return;
  }
}

static void
drive(ChorusDtls *d)
{
  if (d->state != CHORUS_DTLS_STATE_HANDSHAKING && d->state != CHORUS_DTLS_STATE_CONNECTED)
    return;
  if (!SSL_is_init_finished(d->ssl)) {
    int ret = SSL_do_handshake(d->ssl);
    if (ret != 1) {
      int err = SSL_get_error(d->ssl, ret);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
        fail_from_openssl(d, "handshake failed");
      ERR_clear_error();
      return;
    }
    finish_handshake(d);
    if (d->state == CHORUS_DTLS_STATE_FAILED)
      return;
  }
  read_records(d);
}

static void
update_deadline(ChorusDtls *d, gint64 now_us)
{
  struct timeval left;
  if (d->state == CHORUS_DTLS_STATE_HANDSHAKING && !d->handshake_done &&
      DTLSv1_get_timeout(d->ssl, &left) == 1)
    d->deadline_us = now_us + (gint64)left.tv_sec * G_USEC_PER_SEC + left.tv_usec;
  else
    d->deadline_us = G_MAXINT64;
}

/* The shortest encrypted record body the negotiated AEAD can produce (an
 * empty plaintext): AES-GCM 8 (explicit nonce) + 16 (tag), ChaCha20-Poly1305
 * 16. OpenSSL 3.0 aborts the connection on a shorter one (the AEAD refuses
 * the AAD and that is reported as an internal error) instead of dropping it,
 * so such records must not reach it. Before negotiation an epoch > 0 record
 * cannot be valid anyway; the GCM bound is as good as any. */
static gsize
min_encrypted_body_len(ChorusDtls *d)
{
  const SSL_CIPHER *c = SSL_get_current_cipher(d->ssl);
  if (c != NULL && SSL_CIPHER_get_cipher_nid(c) == NID_chacha20_poly1305)
    return 16;
  return 24;
}

/* RFC 7983 says DTLS starts with 20..63; we accept only what DTLS 1.0/1.2
 * can carry: whole records of type 20..23 with a 0xFEFF/0xFEFD version, of
 * a plausible length, back to back, filling the datagram exactly. */
static gboolean
is_dtls_record_sequence(ChorusDtls *d, const guint8 *data, gsize len)
{
  if (len < RECORD_HEADER_LEN || len > G_MAXUINT16)
    return FALSE;
  gsize off = 0;
  while (off < len) {
    if (len - off < RECORD_HEADER_LEN)
      return FALSE;
    const guint8 *h = data + off;
    if (h[0] < 20 || h[0] > 23 || h[1] != 0xfe || (h[2] != 0xff && h[2] != 0xfd))
      return FALSE;
    guint epoch = ((guint)h[3] << 8) | h[4];
    gsize body = ((gsize)h[11] << 8) | h[12];
    if (body > len - off - RECORD_HEADER_LEN || body > MAX_RECORD_BODY_LEN)
      return FALSE;
    if (epoch > 0 && body < min_encrypted_body_len(d))
      return FALSE;
    off += RECORD_HEADER_LEN + body;
  }
  return TRUE;
}

/* ---- public API --------------------------------------------------------- */

ChorusDtls *
chorus_dtls_new(ChorusDtlsContext *ctx, ChorusDtlsRole role, const char *remote_fingerprint_sha256,
                GError **error)
{
  g_return_val_if_fail(ctx != NULL, NULL);
  g_return_val_if_fail(role == CHORUS_DTLS_ROLE_SERVER || role == CHORUS_DTLS_ROLE_CLIENT, NULL);
  if (remote_fingerprint_sha256 != NULL &&
      !chorus_certificate_fingerprint_is_valid(remote_fingerprint_sha256)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "not a SHA-256 fingerprint (want 32 hex pairs joined by ':'): \"%s\"",
                remote_fingerprint_sha256);
    return NULL;
  }

  ERR_clear_error();
  g_autoptr(ChorusDtls) d = g_new0(ChorusDtls, 1);
  d->ctx = chorus_dtls_context_ref(ctx);
  d->role = role;
  d->state = CHORUS_DTLS_STATE_NEW;
  d->initial_timeout_us = CHORUS_DTLS_INITIAL_TIMEOUT_MS * 1000;
  d->deadline_us = G_MAXINT64;
  if (remote_fingerprint_sha256 != NULL)
    g_strlcpy(d->remote_fp, remote_fingerprint_sha256, sizeof d->remote_fp);

  d->ssl = SSL_new(ctx->ssl_ctx);
  if (d->ssl == NULL) {
    set_openssl_error(error, "SSL_new");
    return NULL;
  }
  BIO *rbio = BIO_new(BIO_s_mem());
  BIO *wbio = BIO_new(BIO_s_mem());
  if (rbio == NULL || wbio == NULL) {
    BIO_free(rbio);
    BIO_free(wbio);
    set_openssl_error(error, "BIO_new");
    return NULL;
  }
  /* An empty memory BIO means "no datagram yet" (retry), not end of file. */
  BIO_set_mem_eof_return(rbio, -1);
  BIO_set_mem_eof_return(wbio, -1);
  SSL_set_bio(d->ssl, rbio, wbio);
  d->rbio = rbio;
  d->wbio = wbio;

  SSL_set_app_data(d->ssl, d);
  SSL_set_info_callback(d->ssl, on_info);
  DTLS_set_timer_cb(d->ssl, next_timeout_us);
  if (role == CHORUS_DTLS_ROLE_SERVER)
    SSL_set_accept_state(d->ssl);
  else
    SSL_set_connect_state(d->ssl);
  if (SSL_set_mtu(d->ssl, CHORUS_DTLS_MTU) <= 0) {
    set_openssl_error(error, "SSL_set_mtu");
    return NULL;
  }
  return g_steal_pointer(&d);
}

void
chorus_dtls_free(ChorusDtls *d)
{
  if (d == NULL)
    return;
  if (d->ssl != NULL)
    SSL_free(d->ssl);
  chorus_srtp_keys_clear(&d->keys);
  chorus_dtls_context_unref(d->ctx);
  g_free(d->failure_reason);
  g_free(d);
}

gboolean
chorus_dtls_set_remote_fingerprint(ChorusDtls *d, const char *fingerprint_sha256, GError **error)
{
  g_return_val_if_fail(d != NULL, FALSE);
  if (!chorus_certificate_fingerprint_is_valid(fingerprint_sha256)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "not a SHA-256 fingerprint (want 32 hex pairs joined by ':'): \"%s\"",
                fingerprint_sha256 != NULL ? fingerprint_sha256 : "(null)");
    return FALSE;
  }
  if (d->remote_fp[0] != '\0') {
    if (chorus_certificate_fingerprint_equal(d->remote_fp, fingerprint_sha256))
      return TRUE;
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "the remote fingerprint is already %s", d->remote_fp);
    return FALSE;
  }
  g_strlcpy(d->remote_fp, fingerprint_sha256, sizeof d->remote_fp);
  ERR_clear_error();
  check_ready(d);
  return TRUE;
}

gboolean
chorus_dtls_set_srtp_profiles(ChorusDtls *d, const ChorusSrtpProfile *profiles, guint n_profiles,
                              GError **error)
{
  g_return_val_if_fail(d != NULL && (profiles != NULL || n_profiles == 0), FALSE);
  if (d->state != CHORUS_DTLS_STATE_NEW) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "SRTP profiles can only change before the handshake starts");
    return FALSE;
  }
  if (n_profiles == 0) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS, "no SRTP profile given");
    return FALSE;
  }
  g_autoptr(GString) list = g_string_new(NULL);
  for (guint i = 0; i < n_profiles; i++) {
    const char *name = chorus_srtp_profile_to_string(profiles[i]);
    if (name == NULL) {
      g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                  "unsupported SRTP profile 0x%04x", (guint)profiles[i]);
      return FALSE;
    }
    g_string_append_printf(list, "%s%s", i > 0 ? ":" : "", name);
  }
  ERR_clear_error();
  if (SSL_set_tlsext_use_srtp(d->ssl, list->str) != 0) {
    set_openssl_error(error, "SSL_set_tlsext_use_srtp");
    return FALSE;
  }
  return TRUE;
}

void
chorus_dtls_set_initial_timeout_ms(ChorusDtls *d, guint timeout_ms)
{
  g_return_if_fail(d != NULL);
  d->initial_timeout_us = CLAMP(timeout_ms, MIN_TIMEOUT_MS, CHORUS_DTLS_MAX_TIMEOUT_MS) * 1000;
}

ChorusDtlsState
chorus_dtls_start(ChorusDtls *d, gint64 now_us)
{
  g_return_val_if_fail(d != NULL, CHORUS_DTLS_STATE_FAILED);
  if (d->state != CHORUS_DTLS_STATE_NEW)
    return d->state;
  d->state = CHORUS_DTLS_STATE_HANDSHAKING;
  ERR_clear_error();
  /* A server's SSL_do_handshake() just finds no ClientHello yet. */
  drive(d);
  update_deadline(d, now_us);
  return d->state;
}

ChorusDtlsState
chorus_dtls_handle_datagram(ChorusDtls *d, const guint8 *data, gsize len, gint64 now_us)
{
  g_return_val_if_fail(d != NULL && (data != NULL || len == 0), CHORUS_DTLS_STATE_FAILED);
  d->stats.datagrams_in++;
  if (d->state == CHORUS_DTLS_STATE_FAILED || d->state == CHORUS_DTLS_STATE_CLOSED ||
      d->input_disabled) {
    d->stats.ignored++;
    return d->state;
  }
  if (!is_dtls_record_sequence(d, data, len)) {
    d->stats.garbage_dropped++;
    return d->state;
  }
  if (d->state == CHORUS_DTLS_STATE_NEW)
    d->state = CHORUS_DTLS_STATE_HANDSHAKING;

  ERR_clear_error();
  if (BIO_write(d->rbio, data, (int)len) != (int)len) {
    fail_from_openssl(d, "buffering a datagram failed");
    return d->state;
  }
  drive(d);
  /* One datagram at a time: never let a leftover glue onto the next one. */
  if (BIO_ctrl_pending(d->rbio) > 0)
    (void)BIO_reset(d->rbio);
  update_deadline(d, now_us);
  ERR_clear_error();
  return d->state;
}

gboolean
chorus_dtls_poll_datagram(ChorusDtls *d, guint8 *out, gsize cap, gsize *len)
{
  g_return_val_if_fail(d != NULL && out != NULL && len != NULL, FALSE);
  char *data = NULL;
  long pending = BIO_get_mem_data(d->wbio, &data);
  if (pending <= 0 || data == NULL)
    return FALSE;

  /* Whole records, as many as fit in one MTU-sized datagram. OpenSSL wrote
   * them, so headers are sane; still, never read past what is pending. */
  const guint8 *p = (const guint8 *)data;
  gsize avail = (gsize)pending;
  gsize limit = MIN(cap, (gsize)CHORUS_DTLS_MTU);
  gsize used = 0;
  while (avail - used >= RECORD_HEADER_LEN) {
    gsize rec = RECORD_HEADER_LEN + (((gsize)p[used + 11] << 8) | p[used + 12]);
    if (rec > avail - used || used + rec > limit)
      break;
    used += rec;
  }
  if (used == 0) {
    /* A first record larger than the MTU does not come from OpenSSL at our
     * MTU; send it alone if the caller has room rather than stall. */
    gsize rec = avail >= RECORD_HEADER_LEN
                    ? MIN(avail, RECORD_HEADER_LEN + (((gsize)p[11] << 8) | p[12]))
                    : avail;
    g_return_val_if_fail(rec <= cap, FALSE);
    used = rec;
  }
  if (BIO_read(d->wbio, out, (int)used) != (int)used) {
    ERR_clear_error();
    return FALSE;
  }
  *len = used;
  d->stats.datagrams_out++;
  return TRUE;
}

gint64
chorus_dtls_next_deadline_us(ChorusDtls *d)
{
  g_return_val_if_fail(d != NULL, G_MAXINT64);
  return d->deadline_us;
}

ChorusDtlsState
chorus_dtls_handle_timeout(ChorusDtls *d, gint64 now_us)
{
  g_return_val_if_fail(d != NULL, CHORUS_DTLS_STATE_FAILED);
  if (d->state != CHORUS_DTLS_STATE_HANDSHAKING || d->handshake_done || now_us < d->deadline_us)
    return d->state;
  ERR_clear_error();
  if (DTLSv1_handle_timeout(d->ssl) < 0)
    fail_from_openssl(d, "retransmission failed");
  update_deadline(d, now_us);
  ERR_clear_error();
  return d->state;
}

void
chorus_dtls_close(ChorusDtls *d)
{
  g_return_if_fail(d != NULL);
  if (d->state == CHORUS_DTLS_STATE_FAILED || d->state == CHORUS_DTLS_STATE_CLOSED)
    return;
  ERR_clear_error();
  /* Before the handshake finished there is nothing to protect an alert
   * with; the peer's handshake will time out or it gets ICE's verdict. */
  if (SSL_is_init_finished(d->ssl))
    SSL_shutdown(d->ssl);
  ERR_clear_error();
  d->state = CHORUS_DTLS_STATE_CLOSED;
  d->deadline_us = G_MAXINT64;
  chorus_srtp_keys_clear(&d->keys);
}

ChorusDtlsState
chorus_dtls_get_state(ChorusDtls *d)
{
  g_return_val_if_fail(d != NULL, CHORUS_DTLS_STATE_FAILED);
  return d->state;
}

ChorusDtlsRole
chorus_dtls_get_role(ChorusDtls *d)
{
  g_return_val_if_fail(d != NULL, CHORUS_DTLS_ROLE_SERVER);
  return d->role;
}

const char *
chorus_dtls_get_failure_reason(ChorusDtls *d)
{
  g_return_val_if_fail(d != NULL, NULL);
  return d->state == CHORUS_DTLS_STATE_FAILED ? d->failure_reason : NULL;
}

const char *
chorus_dtls_get_peer_fingerprint(ChorusDtls *d)
{
  g_return_val_if_fail(d != NULL, NULL);
  return d->peer_fp[0] != '\0' ? d->peer_fp : NULL;
}

ChorusSrtpProfile
chorus_dtls_get_srtp_profile(ChorusDtls *d)
{
  g_return_val_if_fail(d != NULL, CHORUS_SRTP_PROFILE_NONE);
  return d->state == CHORUS_DTLS_STATE_CONNECTED ? d->keys.profile : CHORUS_SRTP_PROFILE_NONE;
}

gboolean
chorus_dtls_get_srtp_keys(ChorusDtls *d, ChorusSrtpKeys *out)
{
  g_return_val_if_fail(d != NULL && out != NULL, FALSE);
  if (d->state != CHORUS_DTLS_STATE_CONNECTED)
    return FALSE;
  *out = d->keys;
  return TRUE;
}

void
chorus_dtls_get_stats(ChorusDtls *d, ChorusDtlsStats *out)
{
  g_return_if_fail(d != NULL && out != NULL);
  *out = d->stats;
}
