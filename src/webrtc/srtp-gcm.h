/* Internal to src/webrtc/srtp.c: SRTP protection of outgoing RTP with
 * AEAD_AES_128_GCM (RFC 7714) on OpenSSL, one cipher context made once.
 *
 * Why not libsrtp for this: Debian's libsrtp2 is built against NSS, whose
 * PK11_Encrypt makes and frees a cipher context and takes locks on every
 * call. Measured in scripts/bench-forward.sh: ~4.6 allocations per
 * forwarded packet on the worker threads, and about a quarter of the
 * worker's CPU in NSS/libsrtp. This covers the packet path's calls: RTP
 * protect and unprotect with GCM (what browsers negotiate); RTCP and the
 * CM profile stay with libsrtp, whose key derivation, index and replay
 * rules this follows (and unit tests check against). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ChorusSrtpGcmSender ChorusSrtpGcmSender;

/* From the 16-byte master key and 12-byte master salt; NULL if OpenSSL fails. */
ChorusSrtpGcmSender *chorus_srtp_gcm_sender_new(const guint8 *master_key, const guint8 *master_salt);
void chorus_srtp_gcm_sender_free(ChorusSrtpGcmSender *s);

/* Protects the RTP packet in @buf (@len bytes, header of @hdr_len bytes
 * already validated) in place, appending the 16-byte tag (the caller
 * checked the room). FALSE: the SSRC table is full (the caller falls back
 * to libsrtp for SSRCs not in it) or OpenSSL failed. */
gboolean chorus_srtp_gcm_sender_protect(ChorusSrtpGcmSender *s, guint8 *buf, gsize len, gsize hdr_len);

/* SRTCP (RFC 7714 9.1) of the compound packet in @buf (@len >= 8 bytes),
 * in place, appending the 16-byte tag and the E-flag/index word (the
 * caller checked the room). One index counter for every SSRC sent. */
gboolean chorus_srtp_gcm_sender_protect_rtcp(ChorusSrtpGcmSender *s, guint8 *buf, gsize len);

/* Whether @ssrc is protected here (once seen, always: the rollover
 * counter lives in one place). */
gboolean chorus_srtp_gcm_sender_has_ssrc(ChorusSrtpGcmSender *s, guint32 ssrc);

G_END_DECLS

G_BEGIN_DECLS

/* Unprotect of incoming RTP with AEAD_AES_128_GCM on OpenSSL, for the
 * same reason (NSS allocates and locks per packet): index estimation and a
 * 1024-packet replay window per SSRC as libsrtp does them (unit tests
 * check both against libsrtp). */
typedef struct _ChorusSrtpGcmReceiver ChorusSrtpGcmReceiver;

typedef enum {
  CHORUS_SRTP_GCM_OK,
  CHORUS_SRTP_GCM_AUTH_FAIL,
  CHORUS_SRTP_GCM_REPLAY,
  CHORUS_SRTP_GCM_NOT_MINE, /* an SSRC this receiver does not keep: libsrtp's */
} ChorusSrtpGcmResult;

ChorusSrtpGcmReceiver *chorus_srtp_gcm_receiver_new(const guint8 *master_key, const guint8 *master_salt);
void chorus_srtp_gcm_receiver_free(ChorusSrtpGcmReceiver *r);

/* @buf: @len bytes of SRTP (header of @hdr_len bytes validated, at least
 * 16 bytes of tag after it). On OK the payload is decrypted in place and
 * the plain length is @len - 16. */
ChorusSrtpGcmResult chorus_srtp_gcm_receiver_unprotect(ChorusSrtpGcmReceiver *r, guint8 *buf, gsize len,
                                                       gsize hdr_len);

G_END_DECLS
