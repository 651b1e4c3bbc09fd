#include "webrtc/certificate.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <string.h>

#include "core/error.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509, X509_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIO, BIO_free_all)

struct _ChorusCertificate {
  X509 *x509;
  EVP_PKEY *pkey;
  char fingerprint[CHORUS_FINGERPRINT_SHA256_LEN + 1];
};

/* Turns the first error on OpenSSL's (per-thread) queue into a GError and
 * empties the queue, so a stale error never shows up in a later message. */
static void
set_openssl_error(GError **error, int code, const char *what)
{
  char buf[256] = "unknown OpenSSL error";
  unsigned long e = ERR_get_error();
  if (e != 0)
    ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  g_set_error(error, CHORUS_ERROR, code, "%s: %s", what, buf);
}

static ChorusCertificate *
certificate_new_take(X509 *x509, EVP_PKEY *pkey, GError **error)
{
  ChorusCertificate *cert = g_atomic_rc_box_new0(ChorusCertificate);
  cert->x509 = x509;
  cert->pkey = pkey;
  if (!chorus_certificate_compute_fingerprint(x509, cert->fingerprint)) {
    set_openssl_error(error, CHORUS_ERROR_INTERNAL, "certificate fingerprint");
    chorus_certificate_unref(cert);
    return NULL;
  }
  return cert;
}

ChorusCertificate *
chorus_certificate_new_generated(GError **error)
{
  ERR_clear_error();
  g_autoptr(EVP_PKEY) pkey = EVP_EC_gen("P-256");
  if (pkey == NULL) {
    set_openssl_error(error, CHORUS_ERROR_INTERNAL, "generating an ECDSA P-256 key");
    return NULL;
  }

  g_autoptr(X509) x509 = X509_new();
  if (x509 == NULL) {
    set_openssl_error(error, CHORUS_ERROR_INTERNAL, "X509_new");
    return NULL;
  }
  /* Positive, non-zero, 63 random bits: unique enough that two restarts
   * never present the same serial with different keys. */
  guint64 serial = 0;
  while (serial == 0) {
    if (RAND_bytes((unsigned char *)&serial, sizeof serial) != 1) {
      set_openssl_error(error, CHORUS_ERROR_INTERNAL, "random serial");
      return NULL;
    }
    serial &= G_GUINT64_CONSTANT(0x7fffffffffffffff);
  }

  X509_NAME *name = X509_get_subject_name(x509);
  gboolean ok = X509_set_version(x509, X509_VERSION_3) == 1 &&
                ASN1_INTEGER_set_uint64(X509_get_serialNumber(x509), serial) == 1 &&
                X509_gmtime_adj(X509_getm_notBefore(x509), -24 * 3600) != NULL &&
                X509_gmtime_adj(X509_getm_notAfter(x509),
                                (long)CHORUS_CERTIFICATE_VALIDITY_DAYS * 24 * 3600) != NULL &&
                X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                           (const unsigned char *)"chorus", -1, -1, 0) == 1 &&
                X509_set_issuer_name(x509, name) == 1 && X509_set_pubkey(x509, pkey) == 1 &&
                X509_sign(x509, pkey, EVP_sha256()) > 0;
  if (!ok) {
    set_openssl_error(error, CHORUS_ERROR_INTERNAL, "making a self-signed certificate");
    return NULL;
  }
  return certificate_new_take(g_steal_pointer(&x509), g_steal_pointer(&pkey), error);
}

/* Refuses encrypted keys instead of letting OpenSSL prompt on the terminal
 * of a daemon. */
static int
no_passphrase(char *buf, int size, int rwflag, void *userdata)
{
  return -1;
}

ChorusCertificate *
chorus_certificate_new_from_pem(const char *cert_pem, gsize cert_len, const char *key_pem,
                                gsize key_len, const char *source, GError **error)
{
  g_return_val_if_fail(cert_pem != NULL && key_pem != NULL, NULL);
  g_return_val_if_fail(cert_len <= G_MAXINT && key_len <= G_MAXINT, NULL);
  if (source == NULL)
    source = "certificate";

  ERR_clear_error();
  g_autoptr(BIO) cert_bio = BIO_new_mem_buf(cert_pem, (int)cert_len);
  g_autoptr(X509) x509 = cert_bio ? PEM_read_bio_X509(cert_bio, NULL, no_passphrase, NULL) : NULL;
  if (x509 == NULL) {
    ERR_clear_error();
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS, "%s: no PEM certificate found",
                source);
    return NULL;
  }

  g_autoptr(BIO) key_bio = BIO_new_mem_buf(key_pem, (int)key_len);
  g_autoptr(EVP_PKEY) pkey =
      key_bio ? PEM_read_bio_PrivateKey(key_bio, NULL, no_passphrase, NULL) : NULL;
  if (pkey == NULL) {
    ERR_clear_error();
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "%s: no unencrypted PEM private key found", source);
    return NULL;
  }

  if (X509_check_private_key(x509, pkey) != 1) {
    ERR_clear_error();
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "%s: the private key does not belong to the certificate", source);
    return NULL;
  }
  return certificate_new_take(g_steal_pointer(&x509), g_steal_pointer(&pkey), error);
}

ChorusCertificate *
chorus_certificate_new_from_files(const char *cert_path, const char *key_path, GError **error)
{
  g_return_val_if_fail(cert_path != NULL && key_path != NULL, NULL);

  g_autofree char *cert_pem = NULL;
  gsize cert_len = 0;
  if (!g_file_get_contents(cert_path, &cert_pem, &cert_len, error)) {
    g_prefix_error(error, "certificate_file: ");
    return NULL;
  }
  g_autofree char *key_pem = NULL;
  gsize key_len = 0;
  if (!g_file_get_contents(key_path, &key_pem, &key_len, error)) {
    g_prefix_error(error, "private_key_file: ");
    return NULL;
  }
  g_autofree char *source = g_strdup_printf("%s + %s", cert_path, key_path);
  ChorusCertificate *cert =
      chorus_certificate_new_from_pem(cert_pem, cert_len, key_pem, key_len, source, error);
  /* The key text is secret: do not leave it in freed heap memory. */
  OPENSSL_cleanse(key_pem, key_len);
  return cert;
}

ChorusCertificate *
chorus_certificate_ref(ChorusCertificate *cert)
{
  g_return_val_if_fail(cert != NULL, NULL);
  return g_atomic_rc_box_acquire(cert);
}

static void
certificate_clear(gpointer data)
{
  ChorusCertificate *cert = data;
  X509_free(cert->x509);
  EVP_PKEY_free(cert->pkey);
}

void
chorus_certificate_unref(ChorusCertificate *cert)
{
  if (cert != NULL)
    g_atomic_rc_box_release_full(cert, certificate_clear);
}

const char *
chorus_certificate_get_fingerprint(ChorusCertificate *cert)
{
  g_return_val_if_fail(cert != NULL, NULL);
  return cert->fingerprint;
}

X509 *
chorus_certificate_get_x509(ChorusCertificate *cert)
{
  g_return_val_if_fail(cert != NULL, NULL);
  return cert->x509;
}

EVP_PKEY *
chorus_certificate_get_private_key(ChorusCertificate *cert)
{
  g_return_val_if_fail(cert != NULL, NULL);
  return cert->pkey;
}

gboolean
chorus_certificate_compute_fingerprint(X509 *x509, char out[CHORUS_FINGERPRINT_SHA256_LEN + 1])
{
  g_return_val_if_fail(x509 != NULL && out != NULL, FALSE);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(x509, EVP_sha256(), md, &md_len) != 1 || md_len != 32)
    return FALSE;
  static const char hex[] = "0123456789ABCDEF";
  for (guint i = 0; i < 32; i++) {
    out[i * 3] = hex[md[i] >> 4];
    out[i * 3 + 1] = hex[md[i] & 0xf];
    out[i * 3 + 2] = i == 31 ? '\0' : ':';
  }
  return TRUE;
}

gboolean
chorus_certificate_fingerprint_is_valid(const char *fingerprint)
{
  if (fingerprint == NULL || strlen(fingerprint) != CHORUS_FINGERPRINT_SHA256_LEN)
    return FALSE;
  for (guint i = 0; i < CHORUS_FINGERPRINT_SHA256_LEN; i++) {
    gboolean ok = i % 3 == 2 ? fingerprint[i] == ':' : g_ascii_isxdigit(fingerprint[i]);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

gboolean
chorus_certificate_fingerprint_equal(const char *a, const char *b)
{
  g_return_val_if_fail(a != NULL && b != NULL, FALSE);
  return g_ascii_strcasecmp(a, b) == 0;
}
