/* ChorusCertificate: the DTLS identity of this Chorus process, one X.509
 * certificate and its private key, whose SHA-256 fingerprint goes into every
 * SDP we produce (a=fingerprint:sha-256 AB:CD:...).
 *
 * Made once at start (ECDSA P-256, self-signed, random serial) or loaded from
 * the PEM files named by [media] certificate_file / private_key_file, then
 * shared by every PeerConnection on every worker. Immutable after creation,
 * so it needs no lock; the refcount is atomic because it crosses threads.
 *
 * Validity of a generated certificate: from one day before now (peers with a
 * slightly late clock) to CHORUS_CERTIFICATE_VALIDITY_DAYS after. WebRTC
 * peers authenticate by fingerprint and do not check validity dates; a
 * process that runs longer than that keeps working with browsers and aiortc,
 * but make a new one at restart rather than persisting it forever. */
#pragma once

#include <glib.h>
#include <openssl/types.h>

G_BEGIN_DECLS

#define CHORUS_CERTIFICATE_VALIDITY_DAYS 30

/* "AB:CD:...": 32 bytes as upper-case hex pairs joined by ':' (95 chars). */
#define CHORUS_FINGERPRINT_SHA256_LEN 95

typedef struct _ChorusCertificate ChorusCertificate;

/* A fresh ECDSA P-256 key and a self-signed certificate for it (CN
 * "chorus", signed with SHA-256). Fails only when OpenSSL does
 * (CHORUS_ERROR_INTERNAL). */
ChorusCertificate *chorus_certificate_new_generated(GError **error);

/* Loads a PEM certificate (the first one in the file) and its PEM private
 * key. Errors: a file that cannot be read (GFileError, prefixed with the
 * path), text that is not PEM of the right kind, or a key that does not
 * belong to the certificate (CHORUS_ERROR_INVALID_PARAMS). */
ChorusCertificate *chorus_certificate_new_from_files(const char *cert_path, const char *key_path,
                                                     GError **error);

/* Same from memory; @source names the input in messages. */
ChorusCertificate *chorus_certificate_new_from_pem(const char *cert_pem, gsize cert_len,
                                                   const char *key_pem, gsize key_len,
                                                   const char *source, GError **error);

ChorusCertificate *chorus_certificate_ref(ChorusCertificate *cert);
void chorus_certificate_unref(ChorusCertificate *cert);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusCertificate, chorus_certificate_unref)

/* "AB:CD:..." (borrowed, lives as long as @cert). */
const char *chorus_certificate_get_fingerprint(ChorusCertificate *cert);

/* Borrowed OpenSSL objects, for the DTLS context. */
X509 *chorus_certificate_get_x509(ChorusCertificate *cert);
EVP_PKEY *chorus_certificate_get_private_key(ChorusCertificate *cert);

/* Writes the SHA-256 fingerprint of @x509 into @out. FALSE only if OpenSSL
 * cannot encode the certificate. */
gboolean chorus_certificate_compute_fingerprint(X509 *x509,
                                                char out[CHORUS_FINGERPRINT_SHA256_LEN + 1]);

/* TRUE when @fingerprint has the form above (hex digits of either case). */
gboolean chorus_certificate_fingerprint_is_valid(const char *fingerprint);

/* Compares two well-formed fingerprints, ignoring the case of hex digits
 * (RFC 8122 uses upper case; some peers send lower). */
gboolean chorus_certificate_fingerprint_equal(const char *a, const char *b);

G_END_DECLS
