/* ChorusDtls and ChorusCertificate: in-process handshakes between two
 * ChorusDtls (and against a plain OpenSSL client configured like aiortc's),
 * pumping datagrams by hand with a fake clock.
 *
 * The fake clock: OpenSSL 3.0 checks gettimeofday() before it retransmits
 * (see dtls.h, "Clock"). This binary defines gettimeofday() itself, which
 * takes precedence over libc's for libssl, so that OpenSSL and the now_us we
 * pass are one virtual clock: retransmission tests jump to the deadline
 * instead of sleeping, and nothing retransmits because a test ran slowly. */
#include <check.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <glib/gstdio.h>
#include <sys/time.h>

#include "core/error.h"
#include "webrtc/certificate.h"
#include "webrtc/dtls.h"
#include "webrtc/srtp.h"

#define FAKE_EPOCH_S G_GINT64_CONSTANT(1700000000)

static gint64 now_us = 1000000;

int
gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
  gint64 t = FAKE_EPOCH_S * G_USEC_PER_SEC + now_us;
  tv->tv_sec = (time_t)(t / G_USEC_PER_SEC);
  tv->tv_usec = (suseconds_t)(t % G_USEC_PER_SEC);
  return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static ChorusDtlsContext *
make_context(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusCertificate) cert = chorus_certificate_new_generated(&error);
  ck_assert_msg(cert != NULL, "%s", error ? error->message : "");
  ChorusDtlsContext *ctx = chorus_dtls_context_new(cert, &error);
  ck_assert_msg(ctx != NULL, "%s", error ? error->message : "");
  return ctx;
}

static ChorusDtls *
make_dtls(ChorusDtlsContext *ctx, ChorusDtlsRole role, const char *remote_fp)
{
  g_autoptr(GError) error = NULL;
  ChorusDtls *d = chorus_dtls_new(ctx, role, remote_fp, &error);
  ck_assert_msg(d != NULL, "%s", error ? error->message : "");
  return d;
}

static guint max_datagram_seen;

/* Moves every datagram @from has queued to @to (or drops them when @to is
 * NULL); returns how many. Every datagram must respect the MTU. */
static guint
flush(ChorusDtls *from, ChorusDtls *to)
{
  guint8 buf[CHORUS_DTLS_MTU];
  gsize len = 0;
  guint n = 0;
  while (chorus_dtls_poll_datagram(from, buf, sizeof buf, &len)) {
    ck_assert_uint_gt(len, 0);
    ck_assert_uint_le(len, CHORUS_DTLS_MTU);
    max_datagram_seen = MAX(max_datagram_seen, len);
    if (to != NULL)
      chorus_dtls_handle_datagram(to, buf, len, now_us);
    n++;
  }
  return n;
}

static void
pump(ChorusDtls *a, ChorusDtls *b)
{
  for (int rounds = 0; rounds < 50; rounds++) {
    if (flush(a, b) + flush(b, a) == 0)
      return;
  }
  ck_abort_msg("datagrams kept flowing");
}

static void
assert_keys_agree(ChorusDtls *client, ChorusDtls *server, ChorusSrtpProfile profile)
{
  ChorusSrtpKeys kc, ks;
  ck_assert(chorus_dtls_get_srtp_keys(client, &kc));
  ck_assert(chorus_dtls_get_srtp_keys(server, &ks));
  guint key_len = 0, salt_len = 0;
  ck_assert(chorus_srtp_profile_get_key_lengths(profile, &key_len, &salt_len));
  ck_assert_int_eq(kc.profile, profile);
  ck_assert_int_eq(ks.profile, profile);
  ck_assert_uint_eq(kc.key_len, key_len);
  ck_assert_uint_eq(kc.salt_len, salt_len);
  ck_assert_uint_eq(ks.key_len, key_len);
  ck_assert_uint_eq(ks.salt_len, salt_len);
  ck_assert_mem_eq(kc.local_key, ks.remote_key, key_len);
  ck_assert_mem_eq(kc.local_salt, ks.remote_salt, salt_len);
  ck_assert_mem_eq(kc.remote_key, ks.local_key, key_len);
  ck_assert_mem_eq(kc.remote_salt, ks.local_salt, salt_len);
  ck_assert(memcmp(kc.local_key, kc.remote_key, key_len) != 0);

  /* And they work: media both ways. */
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusSrtp) sc = chorus_srtp_new(&kc, &error);
  ck_assert_msg(sc != NULL, "%s", error ? error->message : "");
  g_autoptr(ChorusSrtp) ss = chorus_srtp_new(&ks, &error);
  ck_assert_msg(ss != NULL, "%s", error ? error->message : "");
  guint8 pkt[300] = {0x80, 111, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4};
  for (int i = 12; i < 172; i++)
    pkt[i] = (guint8)i;
  guint8 plain[300];
  memcpy(plain, pkt, sizeof pkt);
  gsize n = 172;
  ck_assert_int_eq(chorus_srtp_protect_rtp(sc, pkt, &n, sizeof pkt), CHORUS_SRTP_OK);
  ck_assert_int_eq(chorus_srtp_unprotect_rtp(ss, pkt, &n), CHORUS_SRTP_OK);
  ck_assert_uint_eq(n, 172);
  ck_assert_mem_eq(pkt, plain, 172);
  ck_assert_int_eq(chorus_srtp_protect_rtp(ss, pkt, &n, sizeof pkt), CHORUS_SRTP_OK);
  ck_assert_int_eq(chorus_srtp_unprotect_rtp(sc, pkt, &n), CHORUS_SRTP_OK);
  ck_assert_mem_eq(pkt, plain, 172);
  chorus_srtp_keys_clear(&kc);
  chorus_srtp_keys_clear(&ks);
}

/* ---- certificates ------------------------------------------------------- */

START_TEST(test_certificate_generated)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusCertificate) a = chorus_certificate_new_generated(&error);
  g_autoptr(ChorusCertificate) b = chorus_certificate_new_generated(&error);
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_nonnull(b);

  const char *fp = chorus_certificate_get_fingerprint(a);
  ck_assert_uint_eq(strlen(fp), CHORUS_FINGERPRINT_SHA256_LEN);
  ck_assert(chorus_certificate_fingerprint_is_valid(fp));
  for (const char *c = fp; *c; c++)
    ck_assert(*c == ':' || g_ascii_isdigit(*c) || (*c >= 'A' && *c <= 'F'));
  ck_assert_str_ne(fp, chorus_certificate_get_fingerprint(b));

  /* Fingerprint = SHA-256 of the DER encoding. */
  X509 *x = chorus_certificate_get_x509(a);
  unsigned char *der = NULL;
  int der_len = i2d_X509(x, &der);
  ck_assert_int_gt(der_len, 0);
  unsigned char md[32];
  ck_assert(EVP_Digest(der, der_len, md, NULL, EVP_sha256(), NULL) == 1);
  OPENSSL_free(der);
  g_autofree char *expect = g_strdup_printf("%02X:%02X:%02X", md[0], md[1], md[2]);
  ck_assert(g_str_has_prefix(fp, expect));

  /* ECDSA P-256, self-signed, v3, random positive serial, 30 days. */
  EVP_PKEY *pkey = chorus_certificate_get_private_key(a);
  ck_assert(EVP_PKEY_is_a(pkey, "EC"));
  char group[64];
  ck_assert(EVP_PKEY_get_group_name(pkey, group, sizeof group, NULL) == 1);
  ck_assert_str_eq(group, "prime256v1");
  ck_assert_int_eq(X509_verify(x, pkey), 1);
  ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
  ck_assert_int_eq(X509_get_version(x), X509_VERSION_3);
  const ASN1_INTEGER *sa = X509_get0_serialNumber(x);
  const ASN1_INTEGER *sb = X509_get0_serialNumber(chorus_certificate_get_x509(b));
  ck_assert_int_ne(ASN1_INTEGER_cmp(sa, sb), 0);
  ck_assert_int_eq(sa->type, V_ASN1_INTEGER); /* not V_ASN1_NEG_INTEGER */
  int days = 0, secs = 0;
  ck_assert(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) == 1);
  gint64 left_s = (gint64)days * 86400 + secs;
  ck_assert_int_le(left_s, CHORUS_CERTIFICATE_VALIDITY_DAYS * 86400);
  ck_assert_int_ge(left_s, CHORUS_CERTIFICATE_VALIDITY_DAYS * 86400 - 60);
  ck_assert_int_lt(X509_cmp_current_time(X509_get0_notBefore(x)), 0);

  ck_assert_ptr_eq(chorus_certificate_ref(a), a);
  chorus_certificate_unref(a);
}
END_TEST

static char *
write_pem(const char *dir, const char *name, X509 *x509, EVP_PKEY *pkey)
{
  char *path = g_build_filename(dir, name, NULL);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  if (x509 != NULL)
    ck_assert_int_eq(PEM_write_X509(f, x509), 1);
  if (pkey != NULL)
    ck_assert_int_eq(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
  fclose(f);
  return path;
}

START_TEST(test_certificate_from_files)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp("chorus-dtls-XXXXXX", &error);
  ck_assert_ptr_nonnull(dir);
  g_autoptr(ChorusCertificate) a = chorus_certificate_new_generated(NULL);
  g_autoptr(ChorusCertificate) b = chorus_certificate_new_generated(NULL);
  g_autofree char *cert_a = write_pem(dir, "a.crt", chorus_certificate_get_x509(a), NULL);
  g_autofree char *key_a = write_pem(dir, "a.key", NULL, chorus_certificate_get_private_key(a));
  g_autofree char *key_b = write_pem(dir, "b.key", NULL, chorus_certificate_get_private_key(b));
  g_autofree char *missing = g_build_filename(dir, "missing.crt", NULL);

  g_autoptr(ChorusCertificate) loaded = chorus_certificate_new_from_files(cert_a, key_a, &error);
  ck_assert_msg(loaded != NULL, "%s", error ? error->message : "");
  ck_assert_str_eq(chorus_certificate_get_fingerprint(loaded),
                   chorus_certificate_get_fingerprint(a));
  /* Usable for DTLS. */
  g_autoptr(ChorusDtlsContext) ctx = chorus_dtls_context_new(loaded, &error);
  ck_assert_ptr_nonnull(ctx);
  ck_assert_str_eq(chorus_dtls_context_get_fingerprint(ctx), chorus_certificate_get_fingerprint(a));

  ck_assert_ptr_null(chorus_certificate_new_from_files(cert_a, key_b, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
  g_autofree char *msg =
      g_strdup_printf("%s + %s: the private key does not belong to the certificate", cert_a, key_b);
  ck_assert_str_eq(error->message, msg);
  g_clear_error(&error);

  ck_assert_ptr_null(chorus_certificate_new_from_files(missing, key_a, &error));
  ck_assert(g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT));
  ck_assert(g_str_has_prefix(error->message, "certificate_file: "));
  g_clear_error(&error);

  /* A key file where the certificate should be. */
  ck_assert_ptr_null(chorus_certificate_new_from_files(key_a, key_a, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
  ck_assert(g_str_has_suffix(error->message, ": no PEM certificate found"));
  g_clear_error(&error);

  ck_assert_ptr_null(chorus_certificate_new_from_files(cert_a, cert_a, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
  ck_assert(g_str_has_suffix(error->message, ": no unencrypted PEM private key found"));
  g_clear_error(&error);

  /* An encrypted key is refused, not prompted for. */
  g_autofree char *enc = g_build_filename(dir, "enc.key", NULL);
  FILE *f = fopen(enc, "w");
  ck_assert_int_eq(PEM_write_PrivateKey(f, chorus_certificate_get_private_key(a), EVP_aes_128_cbc(),
                                        (unsigned char *)"secret", 6, NULL, NULL),
                   1);
  fclose(f);
  ck_assert_ptr_null(chorus_certificate_new_from_files(cert_a, enc, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
  g_clear_error(&error);

  const char *files[] = {cert_a, key_a, key_b, enc};
  for (guint i = 0; i < G_N_ELEMENTS(files); i++)
    g_unlink(files[i]);
  g_rmdir(dir);
}
END_TEST

START_TEST(test_fingerprint_syntax)
{
  const char *good = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
                     "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
  ck_assert(chorus_certificate_fingerprint_is_valid(good));
  g_autofree char *lower = g_ascii_strdown(good, -1);
  ck_assert(chorus_certificate_fingerprint_is_valid(lower));
  ck_assert(chorus_certificate_fingerprint_equal(good, lower));
  g_autofree char *other = g_strdup(good);
  other[0] = '0';
  ck_assert(!chorus_certificate_fingerprint_equal(good, other));

  ck_assert(!chorus_certificate_fingerprint_is_valid(NULL));
  ck_assert(!chorus_certificate_fingerprint_is_valid(""));
  ck_assert(!chorus_certificate_fingerprint_is_valid(good + 3));
  g_autofree char *bad = g_strdup(good);
  bad[2] = '-';
  ck_assert(!chorus_certificate_fingerprint_is_valid(bad));
  bad[2] = ':';
  bad[4] = 'G';
  ck_assert(!chorus_certificate_fingerprint_is_valid(bad));
  g_autofree char *prefixed = g_strconcat("sha-256 ", good, NULL);
  ck_assert(!chorus_certificate_fingerprint_is_valid(prefixed));

  g_autoptr(ChorusDtlsContext) ctx = make_context();
  g_autoptr(GError) error = NULL;
  ck_assert_ptr_null(chorus_dtls_new(ctx, CHORUS_DTLS_ROLE_SERVER, prefixed, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
}
END_TEST

/* ---- handshakes --------------------------------------------------------- */

static const struct {
  const char *name;
  ChorusSrtpProfile client[2];
  guint n_client; /* 0: default list */
  ChorusSrtpProfile server[2];
  guint n_server;
  ChorusSrtpProfile expect;
} profile_cases[] = {
    {"defaults", {0}, 0, {0}, 0, CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM},
    {"client offers CM only (aiortc)",
     {CHORUS_SRTP_PROFILE_AES128_CM_SHA1_80},
     1,
     {0},
     0,
     CHORUS_SRTP_PROFILE_AES128_CM_SHA1_80},
    {"client prefers CM, server's order wins",
     {CHORUS_SRTP_PROFILE_AES128_CM_SHA1_80, CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM},
     2,
     {0},
     0,
     CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM},
    {"server accepts CM only",
     {0},
     0,
     {CHORUS_SRTP_PROFILE_AES128_CM_SHA1_80},
     1,
     CHORUS_SRTP_PROFILE_AES128_CM_SHA1_80},
};

START_TEST(test_handshake)
{
  g_autoptr(ChorusDtlsContext) sctx = make_context();
  g_autoptr(ChorusDtlsContext) cctx = make_context();
  const char *sfp = chorus_dtls_context_get_fingerprint(sctx);
  const char *cfp = chorus_dtls_context_get_fingerprint(cctx);
  g_autoptr(ChorusDtls) server = make_dtls(sctx, CHORUS_DTLS_ROLE_SERVER, cfp);
  g_autoptr(ChorusDtls) client = make_dtls(cctx, CHORUS_DTLS_ROLE_CLIENT, sfp);
  g_autoptr(GError) error = NULL;
  if (profile_cases[_i].n_client > 0)
    ck_assert(chorus_dtls_set_srtp_profiles(client, profile_cases[_i].client,
                                            profile_cases[_i].n_client, &error));
  if (profile_cases[_i].n_server > 0)
    ck_assert(chorus_dtls_set_srtp_profiles(server, profile_cases[_i].server,
                                            profile_cases[_i].n_server, &error));

  ck_assert_int_eq(chorus_dtls_get_state(client), CHORUS_DTLS_STATE_NEW);
  ck_assert_int_eq(chorus_dtls_start(server, now_us), CHORUS_DTLS_STATE_HANDSHAKING);
  ck_assert_uint_eq(flush(server, NULL), 0); /* a server waits */
  ck_assert_int_eq(chorus_dtls_next_deadline_us(server), G_MAXINT64);
  ck_assert_int_eq(chorus_dtls_start(client, now_us), CHORUS_DTLS_STATE_HANDSHAKING);
  ck_assert_int_eq(chorus_dtls_next_deadline_us(client),
                   now_us + CHORUS_DTLS_INITIAL_TIMEOUT_MS * 1000);
  pump(client, server);

  ck_assert_msg(chorus_dtls_get_state(server) == CHORUS_DTLS_STATE_CONNECTED, "%s: server %s (%s)",
                profile_cases[_i].name, chorus_dtls_state_to_string(chorus_dtls_get_state(server)),
                chorus_dtls_get_failure_reason(server));
  ck_assert_int_eq(chorus_dtls_get_state(client), CHORUS_DTLS_STATE_CONNECTED);
  ck_assert_ptr_null(chorus_dtls_get_failure_reason(client));
  ck_assert_int_eq(chorus_dtls_get_srtp_profile(server), profile_cases[_i].expect);
  ck_assert_int_eq(chorus_dtls_get_srtp_profile(client), profile_cases[_i].expect);
  ck_assert_str_eq(chorus_dtls_get_peer_fingerprint(server), cfp);
  ck_assert_str_eq(chorus_dtls_get_peer_fingerprint(client), sfp);
  ck_assert_int_eq(chorus_dtls_next_deadline_us(server), G_MAXINT64);
  ck_assert_int_eq(chorus_dtls_next_deadline_us(client), G_MAXINT64);
  assert_keys_agree(client, server, profile_cases[_i].expect);

  /* Four flights, each one datagram: ClientHello; ServerHello..Done;
   * Certificate..Finished; ChangeCipherSpec+Finished. No retransmission. */
  ChorusDtlsStats cs, ss;
  chorus_dtls_get_stats(client, &cs);
  chorus_dtls_get_stats(server, &ss);
  ck_assert_uint_eq(cs.datagrams_out, 2);
  ck_assert_uint_eq(ss.datagrams_out, 2);
  ck_assert_uint_eq(cs.datagrams_in, 2);
  ck_assert_uint_eq(ss.datagrams_in, 2);
  ck_assert_uint_eq(cs.retransmissions + ss.retransmissions, 0);
  ck_assert_uint_eq(cs.garbage_dropped + ss.garbage_dropped, 0);

  /* Profiles cannot change once started. */
  ChorusSrtpProfile cm = CHORUS_SRTP_PROFILE_AES128_CM_SHA1_80;
  ck_assert(!chorus_dtls_set_srtp_profiles(client, &cm, 1, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
}
END_TEST

/* INTEROP.md: the ClientHello may be the first thing a server sees, before
 * anyone called start() and before the remote SDP was applied. */
START_TEST(test_early_client_hello_late_fingerprint)
{
  g_autoptr(ChorusDtlsContext) sctx = make_context();
  g_autoptr(ChorusDtlsContext) cctx = make_context();
  const char *cfp = chorus_dtls_context_get_fingerprint(cctx);
  g_autoptr(ChorusDtls) server = make_dtls(sctx, CHORUS_DTLS_ROLE_SERVER, NULL);
  g_autoptr(ChorusDtls) client =
      make_dtls(cctx, CHORUS_DTLS_ROLE_CLIENT, chorus_dtls_context_get_fingerprint(sctx));
  chorus_dtls_start(client, now_us);
  pump(client, server);

  /* The client is done; the server finished the handshake but cannot trust
   * it yet: no keys. */
  ck_assert_int_eq(chorus_dtls_get_state(client), CHORUS_DTLS_STATE_CONNECTED);
  ck_assert_int_eq(chorus_dtls_get_state(server), CHORUS_DTLS_STATE_HANDSHAKING);
  ck_assert_int_eq(chorus_dtls_next_deadline_us(server), G_MAXINT64);
  ChorusSrtpKeys keys;
  ck_assert(!chorus_dtls_get_srtp_keys(server, &keys));
  ck_assert_int_eq(chorus_dtls_get_srtp_profile(server), CHORUS_SRTP_PROFILE_NONE);
  ck_assert_str_eq(chorus_dtls_get_peer_fingerprint(server), cfp);

  g_autoptr(GError) error = NULL;
  g_autofree char *lower = g_ascii_strdown(cfp, -1);
  ck_assert(chorus_dtls_set_remote_fingerprint(server, lower, &error));
  ck_assert_int_eq(chorus_dtls_get_state(server), CHORUS_DTLS_STATE_CONNECTED);
  assert_keys_agree(client, server, CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM);

  /* Same again: fine. Another one: refused, nothing changes. */
  ck_assert(chorus_dtls_set_remote_fingerprint(server, cfp, &error));
  ck_assert(!chorus_dtls_set_remote_fingerprint(server, chorus_dtls_context_get_fingerprint(sctx),
                                                &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
  ck_assert_int_eq(chorus_dtls_get_state(server), CHORUS_DTLS_STATE_CONNECTED);
}
END_TEST

START_TEST(test_late_fingerprint_mismatch)
{
  g_autoptr(ChorusDtlsContext) sctx = make_context();
  g_autoptr(ChorusDtlsContext) cctx = make_context();
  g_autoptr(ChorusDtlsContext) other = make_context();
  g_autoptr(ChorusDtls) server = make_dtls(sctx, CHORUS_DTLS_ROLE_SERVER, NULL);
  g_autoptr(ChorusDtls) client =
      make_dtls(cctx, CHORUS_DTLS_ROLE_CLIENT, chorus_dtls_context_get_fingerprint(sctx));
  chorus_dtls_start(client, now_us);
  pump(client, server);
  ck_assert_int_eq(chorus_dtls_get_state(server), CHORUS_DTLS_STATE_HANDSHAKING);

  const char *wrong = chorus_dtls_context_get_fingerprint(other);
  ck_assert(chorus_dtls_set_remote_fingerprint(server, wrong, NULL));
  ck_assert_int_eq(chorus_dtls_get_state(server), CHORUS_DTLS_STATE_FAILED);
  g_autofree char *expect = g_strdup_printf("fingerprint mismatch: expected %s got %s", wrong,
                                            chorus_dtls_context_get_fingerprint(cctx));
  ck_assert_str_eq(chorus_dtls_get_failure_reason(server), expect);
  /* The client believed it was connected: a close_notify tells it. */
  ck_assert_uint_eq(flush(server, client), 1);
  ck_assert_int_eq(chorus_dtls_get_state(client), CHORUS_DTLS_STATE_CLOSED);
}
END_TEST

START_TEST(test_fingerprint_mismatch)
{
  /* _i == 0: the client distrusts the server; 1: the server the client. */
  g_autoptr(ChorusDtlsContext) sctx = make_context();
  g_autoptr(ChorusDtlsContext) cctx = make_context();
  g_autoptr(ChorusDtlsContext) other = make_context();
  const char *wrong = chorus_dtls_context_get_fingerprint(other);
  const char *sfp = chorus_dtls_context_get_fingerprint(sctx);
  const char *cfp = chorus_dtls_context_get_fingerprint(cctx);
  g_autoptr(ChorusDtls) server = make_dtls(sctx, CHORUS_DTLS_ROLE_SERVER, _i == 1 ? wrong : cfp);
  g_autoptr(ChorusDtls) client = make_dtls(cctx, CHORUS_DTLS_ROLE_CLIENT, _i == 0 ? wrong : sfp);
  chorus_dtls_start(client, now_us);
  pump(client, server);

  ChorusDtls *refuser = _i == 0 ? client : server;
  ChorusDtls *refused = _i == 0 ? server : client;
  g_autofree char *expect =
      g_strdup_printf("fingerprint mismatch: expected %s got %s", wrong, _i == 0 ? sfp : cfp);
  ck_assert_int_eq(chorus_dtls_get_state(refuser), CHORUS_DTLS_STATE_FAILED);
  ck_assert_str_eq(chorus_dtls_get_failure_reason(refuser), expect);
  ck_assert_int_eq(chorus_dtls_get_state(refused), CHORUS_DTLS_STATE_FAILED);
  ck_assert_str_eq(chorus_dtls_get_failure_reason(refused),
                   "peer sent fatal alert: bad certificate");
  ChorusSrtpKeys keys;
  ck_assert(!chorus_dtls_get_srtp_keys(refuser, &keys));
  ck_assert(!chorus_dtls_get_srtp_keys(refused, &keys));
  ck_assert_int_eq(chorus_dtls_next_deadline_us(refuser), G_MAXINT64);

  /* Nothing more happens after FAILED. */
  ChorusDtlsStats st;
  guint8 junk[20] = {22, 0xfe, 0xfd};
  chorus_dtls_handle_datagram(refuser, junk, sizeof junk, now_us);
  chorus_dtls_get_stats(refuser, &st);
  ck_assert_uint_eq(st.ignored, 1);
  ck_assert_int_eq(chorus_dtls_handle_timeout(refuser, now_us + 60 * G_USEC_PER_SEC),
                   CHORUS_DTLS_STATE_FAILED);
}
END_TEST

START_TEST(test_retransmit_lost_client_hello)
{
  g_autoptr(ChorusDtlsContext) sctx = make_context();
  g_autoptr(ChorusDtlsContext) cctx = make_context();
  g_autoptr(ChorusDtls) server =
      make_dtls(sctx, CHORUS_DTLS_ROLE_SERVER, chorus_dtls_context_get_fingerprint(cctx));
  g_autoptr(ChorusDtls) client =
      make_dtls(cctx, CHORUS_DTLS_ROLE_CLIENT, chorus_dtls_context_get_fingerprint(sctx));
  chorus_dtls_start(client, now_us);
  ck_assert_uint_eq(flush(client, NULL), 1); /* lost */

  gint64 deadline = chorus_dtls_next_deadline_us(client);
  ck_assert_int_eq(deadline, now_us + 250000);
  /* Early: nothing. */
  now_us = deadline - 1;
  ck_assert_int_eq(chorus_dtls_handle_timeout(client, now_us), CHORUS_DTLS_STATE_HANDSHAKING);
  ck_assert_uint_eq(flush(client, NULL), 0);
  /* On time: the ClientHello again, and the next timeout doubles. */
  now_us = deadline;
  ck_assert_int_eq(chorus_dtls_handle_timeout(client, now_us), CHORUS_DTLS_STATE_HANDSHAKING);
  ck_assert_int_eq(chorus_dtls_next_deadline_us(client), now_us + 500000);
  pump(client, server);
  ck_assert_int_eq(chorus_dtls_get_state(client), CHORUS_DTLS_STATE_CONNECTED);
  ck_assert_int_eq(chorus_dtls_get_state(server), CHORUS_DTLS_STATE_CONNECTED);
  ChorusDtlsStats st;
  chorus_dtls_get_stats(client, &st);
  ck_assert_uint_eq(st.retransmissions, 1);
  ck_assert_uint_eq(st.datagrams_out, 3);
  assert_keys_agree(client, server, CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM);
}
END_TEST

/* The server's flight is lost: its own timer resends it (the client's timer
 * fires at the same time and resends the ClientHello, which the server
 * answers by resending as well; both are harmless duplicates). */
START_TEST(test_retransmit_lost_server_flight)
{
  g_autoptr(ChorusDtlsContext) sctx = make_context();
  g_autoptr(ChorusDtlsContext) cctx = make_context();
  g_autoptr(ChorusDtls) server =
      make_dtls(sctx, CHORUS_DTLS_ROLE_SERVER, chorus_dtls_context_get_fingerprint(cctx));
  g_autoptr(ChorusDtls) client =
      make_dtls(cctx, CHORUS_DTLS_ROLE_CLIENT, chorus_dtls_context_get_fingerprint(sctx));
  chorus_dtls_set_initial_timeout_ms(server, 100);
  chorus_dtls_start(client, now_us);
  now_us += 10000;
  ck_assert_uint_eq(flush(client, server), 1);
  ck_assert_uint_eq(flush(server, NULL), 1); /* lost */

  gint64 sd = chorus_dtls_next_deadline_us(server);
  ck_assert_int_eq(sd, now_us + 100000);
  ck_assert_int_lt(sd, chorus_dtls_next_deadline_us(client));
  now_us = sd;
  chorus_dtls_handle_timeout(server, now_us);
  chorus_dtls_handle_timeout(client, now_us); /* not due yet */
  ck_assert_uint_eq(flush(client, NULL), 0);
  pump(server, client);
  ck_assert_int_eq(chorus_dtls_get_state(client), CHORUS_DTLS_STATE_CONNECTED);
  ck_assert_int_eq(chorus_dtls_get_state(server), CHORUS_DTLS_STATE_CONNECTED);
  ChorusDtlsStats st;
  chorus_dtls_get_stats(server, &st);
  ck_assert_uint_eq(st.retransmissions, 1);
  chorus_dtls_get_stats(client, &st);
  ck_assert_uint_eq(st.retransmissions, 0);
}
END_TEST

/* Chorus as client: the server's last flight (CCS + Finished) is lost. Only
 * the client has a timer then; its resent flight makes the server resend. */
START_TEST(test_retransmit_lost_final_flight)
{
  g_autoptr(ChorusDtlsContext) sctx = make_context();
  g_autoptr(ChorusDtlsContext) cctx = make_context();
  g_autoptr(ChorusDtls) server =
      make_dtls(sctx, CHORUS_DTLS_ROLE_SERVER, chorus_dtls_context_get_fingerprint(cctx));
  g_autoptr(ChorusDtls) client =
      make_dtls(cctx, CHORUS_DTLS_ROLE_CLIENT, chorus_dtls_context_get_fingerprint(sctx));
  chorus_dtls_start(client, now_us);
  ck_assert_uint_eq(flush(client, server), 1);
  ck_assert_uint_eq(flush(server, client), 1);
  ck_assert_uint_eq(flush(client, server), 1);
  ck_assert_int_eq(chorus_dtls_get_state(server), CHORUS_DTLS_STATE_CONNECTED);
  ck_assert_uint_eq(flush(server, NULL), 1); /* lost */
  ck_assert_int_eq(chorus_dtls_get_state(client), CHORUS_DTLS_STATE_HANDSHAKING);

  now_us = chorus_dtls_next_deadline_us(client);
  chorus_dtls_handle_timeout(client, now_us);
  ck_assert_uint_ge(flush(client, server), 1);
  ck_assert_uint_ge(flush(server, client), 1);
  ck_assert_int_eq(chorus_dtls_get_state(client), CHORUS_DTLS_STATE_CONNECTED);
  assert_keys_agree(client, server, CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM);
}
END_TEST

START_TEST(test_handshake_timeout)
{
  g_autoptr(ChorusDtlsContext) cctx = make_context();
  g_autoptr(ChorusDtls) client = make_dtls(cctx, CHORUS_DTLS_ROLE_CLIENT, NULL);
  gint64 start = now_us;
  chorus_dtls_start(client, now_us);
  guint sent = flush(client, NULL);
  while (chorus_dtls_get_state(client) == CHORUS_DTLS_STATE_HANDSHAKING) {
    gint64 deadline = chorus_dtls_next_deadline_us(client);
    ck_assert_int_lt(deadline, G_MAXINT64);
    ck_assert_int_le(deadline - now_us, CHORUS_DTLS_MAX_TIMEOUT_MS * 1000);
    now_us = deadline;
    chorus_dtls_handle_timeout(client, now_us);
    sent += flush(client, NULL);
    ck_assert_uint_lt(sent, 100);
  }
  ck_assert_int_eq(chorus_dtls_get_state(client), CHORUS_DTLS_STATE_FAILED);
  ck_assert_str_eq(chorus_dtls_get_failure_reason(client), "handshake timed out");
  ChorusDtlsStats st;
  chorus_dtls_get_stats(client, &st);
  ck_assert_uint_eq(st.retransmissions, 12);
  ck_assert_uint_eq(sent, 13);
  /* 250 + 500 + 1000 + 2000 + 9 * 4000 ms */
  ck_assert_int_eq(now_us - start, 39750000);
  ck_assert_int_eq(chorus_dtls_next_deadline_us(client), G_MAXINT64);
}
END_TEST

static gsize
random_datagram(GRand *rand, guint8 *buf, gsize cap)
{
  gsize n = g_rand_int_range(rand, 0, (gint32)cap);
  for (gsize i = 0; i < n; i++)
    buf[i] = (guint8)g_rand_int(rand);
  return n;
}

/* A well-framed record of @type with a random body. */
static gsize
framed_garbage(GRand *rand, guint8 *buf, gsize cap, guint8 type, guint16 epoch)
{
  gsize body = g_rand_int_range(rand, 0, (gint32)(cap - 13));
  buf[0] = type;
  buf[1] = 0xfe;
  buf[2] = 0xfd;
  buf[3] = epoch >> 8;
  buf[4] = epoch & 0xff;
  for (int i = 5; i < 11; i++)
    buf[i] = (guint8)g_rand_int(rand);
  buf[11] = body >> 8;
  buf[12] = body & 0xff;
  for (gsize i = 0; i < body; i++)
    buf[13 + i] = (guint8)g_rand_int(rand);
  return 13 + body;
}

/* Anything that is not a sequence of DTLS records is counted and dropped in
 * every state, and never stops a handshake. */
START_TEST(test_garbage_dropped)
{
  g_autoptr(ChorusDtlsContext) sctx = make_context();
  g_autoptr(ChorusDtlsContext) cctx = make_context();
  g_autoptr(ChorusDtls) server =
      make_dtls(sctx, CHORUS_DTLS_ROLE_SERVER, chorus_dtls_context_get_fingerprint(cctx));
  g_autoptr(ChorusDtls) client =
      make_dtls(cctx, CHORUS_DTLS_ROLE_CLIENT, chorus_dtls_context_get_fingerprint(sctx));
  GRand *rand = g_rand_new_with_seed(1234);
  guint8 buf[1500];
  guint fed = 0;

  /* Hand-made near misses first. */
  const guint8 short_rec[] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0,
                              0,  0,    0,    0, 5, 1, 2}; /* length 5, 2 present */
  const guint8 bad_version[] = {22, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}; /* TLS, not DTLS */
  const guint8 bad_type[] = {24, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const guint8 trailing[] = {21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80};
  const guint8 stun[] = {0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const struct {
    const guint8 *data;
    gsize len;
  } near[] = {{short_rec, sizeof short_rec}, {bad_version, sizeof bad_version},
              {bad_type, sizeof bad_type},   {trailing, sizeof trailing},
              {stun, sizeof stun},           {stun, 0}};
  for (guint i = 0; i < G_N_ELEMENTS(near); i++, fed++)
    ck_assert_int_eq(chorus_dtls_handle_datagram(server, near[i].data, near[i].len, now_us),
                     CHORUS_DTLS_STATE_NEW);

  for (int i = 0; i < 500; i++, fed++) {
    gsize n = random_datagram(rand, buf, sizeof buf);
    ck_assert_int_eq(chorus_dtls_handle_datagram(server, buf, n, now_us), CHORUS_DTLS_STATE_NEW);
  }
  ChorusDtlsStats st;
  chorus_dtls_get_stats(server, &st);
  ck_assert_uint_eq(st.garbage_dropped, fed);
  ck_assert_uint_eq(chorus_dtls_poll_datagram(server, buf, sizeof buf, &(gsize){0}), FALSE);

  /* Mid-handshake: garbage between every flight. */
  chorus_dtls_start(client, now_us);
  for (int round = 0; round < 10; round++) {
    for (int i = 0; i < 20; i++, fed++) {
      gsize n = random_datagram(rand, buf, sizeof buf);
      chorus_dtls_handle_datagram(i % 2 ? server : client, buf, n, now_us);
    }
    flush(client, server);
    flush(server, client);
  }
  ck_assert_int_eq(chorus_dtls_get_state(server), CHORUS_DTLS_STATE_CONNECTED);
  ck_assert_int_eq(chorus_dtls_get_state(client), CHORUS_DTLS_STATE_CONNECTED);

  /* Connected: random bytes and well-framed records that do not decrypt
   * (epoch 1, type 23/22/21) or belong to an old epoch are all dropped. */
  for (int i = 0; i < 300; i++) {
    gsize n = i % 2 ? random_datagram(rand, buf, sizeof buf)
                    : framed_garbage(rand, buf, sizeof buf, (guint8)(21 + i % 3),
                                     (guint16)(i % 4 == 0 ? 0 : 1));
    ck_assert_msg(chorus_dtls_handle_datagram(server, buf, n, now_us) ==
                      CHORUS_DTLS_STATE_CONNECTED,
                  "i=%d type=%u epoch=%u len=%zu: %s", i, buf[0], buf[4], n,
                  chorus_dtls_get_failure_reason(server));
    ck_assert_int_eq(chorus_dtls_handle_datagram(client, buf, n, now_us),
                     CHORUS_DTLS_STATE_CONNECTED);
  }
  ck_assert_uint_eq(flush(server, NULL) + flush(client, NULL), 0);
  assert_keys_agree(client, server, CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM);

  /* An encrypted record shorter than GCM's nonce + tag would make OpenSSL
   * 3.0 abort the connection: it must be filtered before OpenSSL. One just
   * long enough reaches OpenSSL and is discarded there. */
  chorus_dtls_get_stats(server, &st);
  guint64 garbage_before = st.garbage_dropped;
  guint8 rec[13 + 24] = {21, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0x10, 0};
  rec[12] = 20;
  ck_assert_int_eq(chorus_dtls_handle_datagram(server, rec, 13 + 20, now_us),
                   CHORUS_DTLS_STATE_CONNECTED);
  rec[12] = 24;
  ck_assert_int_eq(chorus_dtls_handle_datagram(server, rec, 13 + 24, now_us),
                   CHORUS_DTLS_STATE_CONNECTED);
  chorus_dtls_get_stats(server, &st);
  ck_assert_uint_eq(st.garbage_dropped, garbage_before + 1);
  ck_assert_uint_eq(st.errors_after_connect, 0);
  chorus_dtls_get_stats(client, &st);
  ck_assert_uint_eq(st.errors_after_connect, 0);

  /* DTLS still works: close_notify gets through. */
  chorus_dtls_close(client);
  ck_assert_uint_eq(flush(client, server), 1);
  ck_assert_int_eq(chorus_dtls_get_state(server), CHORUS_DTLS_STATE_CLOSED);
  g_rand_free(rand);
}
END_TEST

/* Well-framed plaintext handshake records with random content before the
 * handshake: OpenSSL may abort (documented), but nothing crashes, a FAILED
 * state always has a reason, and the output stays within the MTU. */
START_TEST(test_framed_garbage_before_handshake)
{
  g_autoptr(ChorusDtlsContext) ctx = make_context();
  GRand *rand = g_rand_new_with_seed(99);
  guint8 buf[1500];
  guint failed = 0;
  for (int i = 0; i < 300; i++) {
    ChorusDtlsRole role = i % 2 ? CHORUS_DTLS_ROLE_CLIENT : CHORUS_DTLS_ROLE_SERVER;
    g_autoptr(ChorusDtls) d = make_dtls(ctx, role, NULL);
    chorus_dtls_start(d, now_us);
    flush(d, NULL);
    for (int k = 0; k < 5; k++) {
      gsize n = framed_garbage(rand, buf, 400, (guint8)(20 + g_rand_int_range(rand, 0, 4)), 0);
      if (k == 0 && n >= 25) {
        /* Make some look like the start of a ClientHello/ServerHello. */
        buf[13] = role == CHORUS_DTLS_ROLE_SERVER ? 1 : 2;
      }
      chorus_dtls_handle_datagram(d, buf, n, now_us);
      flush(d, NULL);
    }
    ChorusDtlsState s = chorus_dtls_get_state(d);
    ck_assert(s == CHORUS_DTLS_STATE_HANDSHAKING || s == CHORUS_DTLS_STATE_FAILED);
    if (s == CHORUS_DTLS_STATE_FAILED) {
      failed++;
      ck_assert_ptr_nonnull(chorus_dtls_get_failure_reason(d));
    }
  }
  /* Some do fail: that is the documented price of plaintext handshakes. */
  ck_assert_uint_gt(failed, 0);
  g_rand_free(rand);
}
END_TEST

START_TEST(test_close_notify)
{
  g_autoptr(ChorusDtlsContext) sctx = make_context();
  g_autoptr(ChorusDtlsContext) cctx = make_context();
  g_autoptr(ChorusDtls) server =
      make_dtls(sctx, CHORUS_DTLS_ROLE_SERVER, chorus_dtls_context_get_fingerprint(cctx));
  g_autoptr(ChorusDtls) client =
      make_dtls(cctx, CHORUS_DTLS_ROLE_CLIENT, chorus_dtls_context_get_fingerprint(sctx));
  chorus_dtls_start(client, now_us);
  pump(client, server);
  ck_assert_int_eq(chorus_dtls_get_state(server), CHORUS_DTLS_STATE_CONNECTED);

  /* _i == 0: the client closes; 1: the server. */
  ChorusDtls *closer = _i == 0 ? client : server;
  ChorusDtls *other = _i == 0 ? server : client;
  chorus_dtls_close(closer);
  ck_assert_int_eq(chorus_dtls_get_state(closer), CHORUS_DTLS_STATE_CLOSED);
  ChorusSrtpKeys keys;
  ck_assert(!chorus_dtls_get_srtp_keys(closer, &keys));
  ck_assert_uint_eq(flush(closer, other), 1);
  ck_assert_int_eq(chorus_dtls_get_state(other), CHORUS_DTLS_STATE_CLOSED);
  ck_assert_ptr_null(chorus_dtls_get_failure_reason(other));
  /* The other side answers with its own close_notify; the closer ignores it. */
  ck_assert_uint_eq(flush(other, closer), 1);
  ChorusDtlsStats st;
  chorus_dtls_get_stats(closer, &st);
  ck_assert_uint_eq(st.ignored, 1);
  chorus_dtls_close(closer); /* idempotent */
  ck_assert_uint_eq(flush(closer, NULL), 0);
}
END_TEST

/* A certificate bigger than the MTU: the server's flight is fragmented and
 * every datagram still fits in CHORUS_DTLS_MTU. */
START_TEST(test_fragmented_flight)
{
  EVP_PKEY *pkey = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  ck_assert_ptr_nonnull(pkey);
  X509_set_version(x, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             (const unsigned char *)"big", -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  X509_set_pubkey(x, pkey);
  char comment[3001];
  memset(comment, 'x', sizeof comment - 1);
  comment[sizeof comment - 1] = '\0';
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_netscape_comment, comment);
  ck_assert_ptr_nonnull(ext);
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  ck_assert_int_gt(X509_sign(x, pkey, EVP_sha256()), 0);
  ck_assert_int_gt(i2d_X509(x, NULL), 3000);

  BIO *cb = BIO_new(BIO_s_mem());
  BIO *kb = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cb, x);
  PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL);
  char *cp = NULL, *kp = NULL;
  long cl = BIO_get_mem_data(cb, &cp);
  long kl = BIO_get_mem_data(kb, &kp);
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusCertificate) big = chorus_certificate_new_from_pem(cp, cl, kp, kl, "big", &error);
  ck_assert_msg(big != NULL, "%s", error ? error->message : "");
  BIO_free(cb);
  BIO_free(kb);
  X509_free(x);
  EVP_PKEY_free(pkey);

  g_autoptr(ChorusDtlsContext) sctx = chorus_dtls_context_new(big, &error);
  g_autoptr(ChorusDtlsContext) cctx = make_context();
  g_autoptr(ChorusDtls) server =
      make_dtls(sctx, CHORUS_DTLS_ROLE_SERVER, chorus_dtls_context_get_fingerprint(cctx));
  g_autoptr(ChorusDtls) client =
      make_dtls(cctx, CHORUS_DTLS_ROLE_CLIENT, chorus_dtls_context_get_fingerprint(sctx));
  max_datagram_seen = 0;
  chorus_dtls_start(client, now_us);
  pump(client, server);
  ck_assert_int_eq(chorus_dtls_get_state(client), CHORUS_DTLS_STATE_CONNECTED);
  ck_assert_int_eq(chorus_dtls_get_state(server), CHORUS_DTLS_STATE_CONNECTED);
  ChorusDtlsStats st;
  chorus_dtls_get_stats(server, &st);
  ck_assert_uint_ge(st.datagrams_out, 4); /* >= 3 for the flight, 1 for Finished */
  ck_assert_uint_le(max_datagram_seen, CHORUS_DTLS_MTU);
  ck_assert_uint_gt(max_datagram_seen, CHORUS_DTLS_MTU - 100); /* packed, not tiny */
}
END_TEST

/* ---- a plain OpenSSL client, configured like aiortc's ------------------- */

static int
accept_any(int preverify_ok, X509_STORE_CTX *store)
{
  return 1;
}

/* Moves everything the raw client wrote to @server, one datagram. */
static guint
raw_to_chorus(BIO *wbio, ChorusDtls *server)
{
  char *data = NULL;
  long n = BIO_get_mem_data(wbio, &data);
  if (n <= 0)
    return 0;
  chorus_dtls_handle_datagram(server, (const guint8 *)data, (gsize)n, now_us);
  (void)BIO_reset(wbio);
  return 1;
}

static void
raw_client_handshake(const char *client_profiles, ChorusDtls *server, SSL **out_ssl,
                     SSL_CTX **out_ctx)
{
  g_autoptr(ChorusCertificate) cert = chorus_certificate_new_generated(NULL);
  SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
  ck_assert_ptr_nonnull(ctx);
  ck_assert_int_eq(SSL_CTX_use_certificate(ctx, chorus_certificate_get_x509(cert)), 1);
  ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, chorus_certificate_get_private_key(cert)), 1);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
  if (client_profiles != NULL)
    ck_assert_int_eq(SSL_CTX_set_tlsext_use_srtp(ctx, client_profiles), 0);
  SSL *ssl = SSL_new(ctx);
  BIO *rbio = BIO_new(BIO_s_mem());
  BIO *wbio = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(rbio, -1);
  BIO_set_mem_eof_return(wbio, -1);
  SSL_set_bio(ssl, rbio, wbio);
  SSL_set_connect_state(ssl);

  ck_assert(
      chorus_dtls_set_remote_fingerprint(server, chorus_certificate_get_fingerprint(cert), NULL));
  guint8 buf[CHORUS_DTLS_MTU];
  gsize len;
  for (int round = 0; round < 20; round++) {
    int r = SSL_do_handshake(ssl);
    if (r != 1)
      ck_assert_int_eq(SSL_get_error(ssl, r), SSL_ERROR_WANT_READ);
    guint moved = raw_to_chorus(wbio, server);
    while (chorus_dtls_poll_datagram(server, buf, sizeof buf, &len)) {
      BIO_write(rbio, buf, (int)len);
      moved++;
    }
    if (moved == 0)
      break;
  }
  ERR_clear_error();
  *out_ssl = ssl;
  *out_ctx = ctx;
}

START_TEST(test_raw_openssl_client_cm_only)
{
  g_autoptr(ChorusDtlsContext) sctx = make_context();
  g_autoptr(ChorusDtls) server = make_dtls(sctx, CHORUS_DTLS_ROLE_SERVER, NULL);
  SSL *ssl = NULL;
  SSL_CTX *ctx = NULL;
  raw_client_handshake("SRTP_AES128_CM_SHA1_80", server, &ssl, &ctx);

  ck_assert(SSL_is_init_finished(ssl));
  ck_assert_msg(chorus_dtls_get_state(server) == CHORUS_DTLS_STATE_CONNECTED, "%s",
                chorus_dtls_get_failure_reason(server));
  const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(ssl);
  ck_assert_ptr_nonnull(p);
  ck_assert_str_eq(p->name, "SRTP_AES128_CM_SHA1_80");
  ck_assert_int_eq(chorus_dtls_get_srtp_profile(server), CHORUS_SRTP_PROFILE_AES128_CM_SHA1_80);

  /* The client sees our certificate... */
  X509 *peer = SSL_get0_peer_certificate(ssl);
  char fp[CHORUS_FINGERPRINT_SHA256_LEN + 1];
  ck_assert(chorus_certificate_compute_fingerprint(peer, fp));
  ck_assert_str_eq(fp, chorus_dtls_context_get_fingerprint(sctx));

  /* ...and exports the same keys, split as RFC 5764 says. */
  guint8 m[60];
  ck_assert_int_eq(
      SSL_export_keying_material(ssl, m, sizeof m, "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0), 1);
  ChorusSrtpKeys ks;
  ck_assert(chorus_dtls_get_srtp_keys(server, &ks));
  ck_assert_uint_eq(ks.key_len, 16);
  ck_assert_uint_eq(ks.salt_len, 14);
  ck_assert_mem_eq(ks.remote_key, m, 16);       /* client_write_key */
  ck_assert_mem_eq(ks.local_key, m + 16, 16);   /* server_write_key */
  ck_assert_mem_eq(ks.remote_salt, m + 32, 14); /* client_write_salt */
  ck_assert_mem_eq(ks.local_salt, m + 46, 14);  /* server_write_salt */
  chorus_srtp_keys_clear(&ks);

  /* Application data (a data channel) is counted and dropped. */
  ck_assert_int_eq(SSL_write(ssl, "hello", 5), 5);
  ck_assert_uint_eq(raw_to_chorus(SSL_get_wbio(ssl), server), 1);
  ChorusDtlsStats st;
  chorus_dtls_get_stats(server, &st);
  ck_assert_uint_eq(st.app_data_dropped, 1);
  ck_assert_int_eq(chorus_dtls_get_state(server), CHORUS_DTLS_STATE_CONNECTED);

  /* Renegotiation is refused with a warning (the session stays up); this
   * client then gives up with a fatal alert, which does end it. */
  ck_assert_int_eq(SSL_renegotiate(ssl), 1);
  SSL_do_handshake(ssl);
  ERR_clear_error();
  ck_assert_uint_eq(raw_to_chorus(SSL_get_wbio(ssl), server), 1);
  ck_assert_int_eq(chorus_dtls_get_state(server), CHORUS_DTLS_STATE_CONNECTED);
  guint8 buf[CHORUS_DTLS_MTU];
  gsize len;
  ck_assert(chorus_dtls_poll_datagram(server, buf, sizeof buf, &len));
  BIO_write(SSL_get_rbio(ssl), buf, (int)len);
  ck_assert(!chorus_dtls_poll_datagram(server, buf, sizeof buf, &len));
  SSL_do_handshake(ssl);
  ERR_clear_error();
  ck_assert_uint_eq(raw_to_chorus(SSL_get_wbio(ssl), server), 1);
  ck_assert_int_eq(chorus_dtls_get_state(server), CHORUS_DTLS_STATE_FAILED);
  ck_assert_str_eq(chorus_dtls_get_failure_reason(server),
                   "peer sent fatal alert: handshake failure");
  SSL_free(ssl);
  SSL_CTX_free(ctx);
}
END_TEST

/* A peer that does not negotiate use_srtp at all cannot carry media. */
START_TEST(test_raw_openssl_client_without_srtp)
{
  g_autoptr(ChorusDtlsContext) sctx = make_context();
  g_autoptr(ChorusDtls) server = make_dtls(sctx, CHORUS_DTLS_ROLE_SERVER, NULL);
  SSL *ssl = NULL;
  SSL_CTX *ctx = NULL;
  raw_client_handshake(NULL, server, &ssl, &ctx);
  ck_assert_int_eq(chorus_dtls_get_state(server), CHORUS_DTLS_STATE_FAILED);
  ck_assert_str_eq(chorus_dtls_get_failure_reason(server), "no common SRTP profile");
  SSL_free(ssl);
  SSL_CTX_free(ctx);
}
END_TEST

static Suite *
dtls_suite(void)
{
  Suite *s = suite_create("dtls");
  TCase *tc = tcase_create("certificate");
  tcase_add_test(tc, test_certificate_generated);
  tcase_add_test(tc, test_certificate_from_files);
  tcase_add_test(tc, test_fingerprint_syntax);
  suite_add_tcase(s, tc);

  tc = tcase_create("handshake");
  tcase_add_loop_test(tc, test_handshake, 0, G_N_ELEMENTS(profile_cases));
  tcase_add_test(tc, test_early_client_hello_late_fingerprint);
  tcase_add_test(tc, test_late_fingerprint_mismatch);
  tcase_add_loop_test(tc, test_fingerprint_mismatch, 0, 2);
  tcase_add_test(tc, test_retransmit_lost_client_hello);
  tcase_add_test(tc, test_retransmit_lost_server_flight);
  tcase_add_test(tc, test_retransmit_lost_final_flight);
  tcase_add_test(tc, test_handshake_timeout);
  tcase_add_test(tc, test_garbage_dropped);
  tcase_add_test(tc, test_framed_garbage_before_handshake);
  tcase_add_loop_test(tc, test_close_notify, 0, 2);
  tcase_add_test(tc, test_fragmented_flight);
  tcase_add_test(tc, test_raw_openssl_client_cm_only);
  tcase_add_test(tc, test_raw_openssl_client_without_srtp);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(dtls_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
