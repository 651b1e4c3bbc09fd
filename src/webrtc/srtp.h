/* ChorusSrtp: SRTP/SRTCP for one PeerConnection (libsrtp2), keyed from the
 * DTLS handshake (RFC 5764): one outbound session (our keys, any SSRC we
 * send) and one inbound session (the peer's keys, any SSRC it sends).
 *
 * Profiles: SRTP_AEAD_AES_128_GCM (RFC 7714, preferred: several times cheaper
 * per packet, see tests/unit/bench-srtp.c) and SRTP_AES128_CM_SHA1_80 (what
 * aiortc offers). 80-bit tags for RTCP as well.
 *
 * Packet path: everything works in place on caller memory; no allocation
 * (except libsrtp's one stream per new SSRC, made the first time that SSRC
 * is protected or successfully unprotected), no logging, no GError: each
 * call returns a ChorusSrtpResult and counts it (chorus_srtp_get_count()).
 *
 * Policies and why:
 * - replay window 1024 packets per SSRC (RFC 3711 requires >= 64; video
 *   bursts reordered by the network or a pacer need more, and libsrtp's
 *   window costs a shift of window/32 words per new highest index, so not
 *   arbitrarily more);
 * - allow_repeat_tx: the same packet (same SSRC and seq) may be protected
 *   again, for retransmissions to peers that have no RTX stream. libsrtp then
 *   reuses the IV/nonce, which is harmless only when the whole packet is
 *   byte-identical. With GCM a repeated nonce over a different header (a new
 *   transport-cc seq or abs-send-time in an extension) or payload lets an
 *   observer forge packets: resend the exact bytes, or use RTX (new seq).
 *
 * Threading: a ChorusSrtp is confined to the worker of its PeerConnection. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The IANA DTLS-SRTP protection profile ids (RFC 5764, RFC 7714). */
typedef enum {
  CHORUS_SRTP_PROFILE_NONE = 0,
  CHORUS_SRTP_PROFILE_AES128_CM_SHA1_80 = 0x0001,
  CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM = 0x0007,
} ChorusSrtpProfile;

/* "SRTP_AEAD_AES_128_GCM" / "SRTP_AES128_CM_SHA1_80" (the names OpenSSL and
 * the RFCs use), or NULL for anything else. */
const char *chorus_srtp_profile_to_string(ChorusSrtpProfile profile);

/* Master key and salt lengths of @profile: 16/14 for CM, 16/12 for GCM.
 * FALSE for an unknown profile. */
gboolean chorus_srtp_profile_get_key_lengths(ChorusSrtpProfile profile, guint *key_len,
                                             guint *salt_len);

#define CHORUS_SRTP_MAX_KEY_LEN 16
#define CHORUS_SRTP_MAX_SALT_LEN 14

/* Bytes protect adds at most (GCM: 16-byte tag; SRTCP also a 4-byte index). */
#define CHORUS_SRTP_MAX_RTP_OVERHEAD 16
#define CHORUS_SRTP_MAX_RTCP_OVERHEAD 20

/* Keying material of one connection, already split by direction: "local"
 * protects what we send, "remote" unprotects what we receive. Secret: wipe
 * copies with chorus_srtp_keys_clear(). */
typedef struct {
  ChorusSrtpProfile profile;
  guint key_len;
  guint salt_len;
  guint8 local_key[CHORUS_SRTP_MAX_KEY_LEN];
  guint8 local_salt[CHORUS_SRTP_MAX_SALT_LEN];
  guint8 remote_key[CHORUS_SRTP_MAX_KEY_LEN];
  guint8 remote_salt[CHORUS_SRTP_MAX_SALT_LEN];
} ChorusSrtpKeys;

/* Zeroes @keys in a way the compiler may not optimise away. */
void chorus_srtp_keys_clear(ChorusSrtpKeys *keys);

typedef enum {
  CHORUS_SRTP_OK = 0,
  CHORUS_SRTP_AUTH_FAIL, /* unprotect: the tag does not verify (tampered, other key) */
  CHORUS_SRTP_REPLAY,    /* unprotect: index already seen, or older than the window */
  CHORUS_SRTP_MALFORMED, /* too short, not version 2, header past the end, SRTCP
                          * not flagged as encrypted */
  CHORUS_SRTP_NO_SPACE,  /* protect: @cap leaves no room for the trailer */
  CHORUS_SRTP_ERROR,     /* anything else libsrtp reports (e.g. key usage exhausted) */
  CHORUS_SRTP_RESULT_N_
} ChorusSrtpResult;

const char *chorus_srtp_result_to_string(ChorusSrtpResult result);

typedef enum {
  CHORUS_SRTP_OP_PROTECT_RTP = 0,
  CHORUS_SRTP_OP_UNPROTECT_RTP,
  CHORUS_SRTP_OP_PROTECT_RTCP,
  CHORUS_SRTP_OP_UNPROTECT_RTCP,
  CHORUS_SRTP_OP_N_
} ChorusSrtpOp;

typedef struct _ChorusSrtp ChorusSrtp;

/* Both sessions from @keys (copied; the caller may clear its copy). Errors:
 * an unknown profile or key lengths that do not match it
 * (CHORUS_ERROR_INVALID_PARAMS), libsrtp failing (CHORUS_ERROR_INTERNAL). */
ChorusSrtp *chorus_srtp_new(const ChorusSrtpKeys *keys, GError **error);
void chorus_srtp_free(ChorusSrtp *srtp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusSrtp, chorus_srtp_free)

ChorusSrtpProfile chorus_srtp_get_profile(ChorusSrtp *srtp);

/* Exact bytes protect adds with this profile: RTP 16 (GCM) or 10 (CM);
 * RTCP 20 or 14. */
guint chorus_srtp_get_rtp_overhead(ChorusSrtp *srtp);
guint chorus_srtp_get_rtcp_overhead(ChorusSrtp *srtp);

/* In place. @buf holds *@len bytes of plain RTP (RTCP) and has room for
 * @cap; on OK *@len is the protected length (<= @cap). On any other result
 * *@len is unchanged and the packet must not be sent. */
ChorusSrtpResult chorus_srtp_protect_rtp(ChorusSrtp *srtp, guint8 *buf, gsize *len, gsize cap);
ChorusSrtpResult chorus_srtp_protect_rtcp(ChorusSrtp *srtp, guint8 *buf, gsize *len, gsize cap);

/* In place; on OK *@len is the plain length. On failure the buffer content
 * is unspecified (libsrtp may have decrypted part of it) and *@len is
 * unchanged: drop the packet. */
ChorusSrtpResult chorus_srtp_unprotect_rtp(ChorusSrtp *srtp, guint8 *buf, gsize *len);
ChorusSrtpResult chorus_srtp_unprotect_rtcp(ChorusSrtp *srtp, guint8 *buf, gsize *len);

/* How many calls of @op returned @result so far. */
guint64 chorus_srtp_get_count(ChorusSrtp *srtp, ChorusSrtpOp op, ChorusSrtpResult result);

G_END_DECLS
