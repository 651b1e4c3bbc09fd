/* ChorusDtls: the DTLS-SRTP handshake of one PeerConnection (RFC 5763/5764),
 * DTLS 1.2 over OpenSSL memory BIOs, sans-IO: feed it received datagrams
 * and the time, drain the datagrams it wants sent, ask for its next
 * deadline. No socket, thread, GSource or clock inside.
 *
 *   d = chorus_dtls_new(ctx, CHORUS_DTLS_ROLE_SERVER, fingerprint, &error);
 *   on receive:  state = chorus_dtls_handle_datagram(d, buf, len, now_us);
 *   then always: while (chorus_dtls_poll_datagram(d, out, sizeof out, &n)) send(out, n);
 *   timer:       at chorus_dtls_next_deadline_us(d) call
 *                chorus_dtls_handle_timeout(d, now_us) and drain again.
 *   CONNECTED:   chorus_dtls_get_srtp_keys() -> chorus_srtp_new().
 *
 * Decisions, and why:
 *
 * - Roles: a=setup:passive (SERVER) is what Chorus prefers; ACTIVE (CLIENT)
 *   when the peer takes passive. A SERVER needs no chorus_dtls_start(): a
 *   ClientHello that arrives first, even before the remote SDP, is processed
 *   at once (INTEROP.md: dropping it costs the client's 1 s retransmission).
 *
 * - Authentication is the remote SDP's SHA-256 fingerprint, nothing else (no
 *   chain, names or dates; WebRTC certificates are self-signed). Both roles
 *   require the peer's certificate. A mismatch fails the handshake inside
 *   OpenSSL (bad_certificate alert to the peer) with the reason
 *   "fingerprint mismatch: expected <sdp> got <certificate>". When the
 *   fingerprint is not known yet (Chorus offered, the answer is on its way
 *   while the peer's ClientHello is already here), pass NULL: the handshake
 *   runs, the peer certificate's fingerprint is remembered, and the state
 *   stays HANDSHAKING (no keys) until chorus_dtls_set_remote_fingerprint()
 *   confirms it (-> CONNECTED) or refutes it (-> FAILED, close_notify sent).
 *   So an owner that offered a=setup:actpass and gets a ClientHello before
 *   the answer can create a SERVER with NULL right then.
 *
 * - SRTP profiles: by default both roles offer/accept
 *   "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"; a server picks by its
 *   own order (GCM whenever the client offers it). No common profile, or a
 *   peer without use_srtp, fails with "no common SRTP profile".
 *
 * - Output: each polled datagram is one or more whole DTLS records, at most
 *   CHORUS_DTLS_MTU bytes (OpenSSL fragments handshake messages to that; we
 *   pack consecutive records of a flight into one datagram).
 *
 * - Input that is not DTLS (RFC 7983: first byte 20..63) or not a sequence of
 *   well-formed DTLS 1.x records (header, type, version, length; encrypted
 *   records no shorter than the cipher's nonce + tag) is dropped before
 *   OpenSSL and counted (stats.garbage_dropped); it never changes the state.
 *   Well-framed records go to OpenSSL, which silently discards encrypted
 *   records that fail to authenticate (RFC 6347 4.1.2.7; why there are no
 *   CBC suites: see dtls.c). Before the handshake completes, records are
 *   plaintext: a well-framed record with invalid handshake content makes
 *   OpenSSL abort (FAILED). After CONNECTED, an OpenSSL error caused by input
 *   (other than a fatal alert from the peer, which FAILS) keeps the state
 *   CONNECTED and the keys, and further DTLS input is ignored
 *   (stats.errors_after_connect): media must not die of one odd record. ICE
 *   only delivers datagrams from a validated pair, so all this is about
 *   on-path senders, who could drop the handshake anyway.
 *
 * - Retransmission: initial timeout CHORUS_DTLS_INITIAL_TIMEOUT_MS (not RFC
 *   6347's 1 s: joins on low-RTT paths should not wait a second for a lost
 *   flight; chorus_dtls_set_initial_timeout_ms() lets the owner use 2x the
 *   ICE RTT), doubling up to CHORUS_DTLS_MAX_TIMEOUT_MS. A flight resent 12
 *   times without an answer (OpenSSL's limit) fails the handshake at the
 *   next expiry, 39.75 s after it was first sent with the defaults:
 *   "handshake timed out". Owners with a shorter join budget just free it.
 *
 * - Clock: the caller's clock schedules everything (next_deadline_us is in
 *   the caller's now_us). OpenSSL 3.0 however also compares its own
 *   gettimeofday() before it agrees to retransmit, and has no API to give it
 *   the time. So now_us must advance at the rate of real time (in production
 *   g_get_monotonic_time()); if handle_timeout() comes early by the wall
 *   clock, nothing is sent and the deadline moves to what OpenSSL has left.
 *   (OpenSSL also resends an expired flight by itself when a datagram is
 *   handled late; stats.retransmissions counts both.)
 *   Unit tests make both clocks one by giving the test binary its own
 *   gettimeofday() (tests/unit/test-dtls.c).
 *
 * - Application data (no data channels in Chorus) is counted and dropped;
 *   renegotiation is refused.
 *
 * Threading: ChorusDtlsContext is shared by all workers (atomic refcount,
 * immutable, SSL_CTX is thread-safe for SSL_new). A ChorusDtls is confined
 * to the worker of its PeerConnection. Every call clears OpenSSL's
 * per-thread error queue so errors never leak between connections. */
#pragma once

#include <glib.h>

#include "webrtc/certificate.h"
#include "webrtc/srtp.h"

G_BEGIN_DECLS

#define CHORUS_DTLS_MTU 1200
#define CHORUS_DTLS_INITIAL_TIMEOUT_MS 250
#define CHORUS_DTLS_MAX_TIMEOUT_MS 4000

typedef struct _ChorusDtlsContext ChorusDtlsContext;
typedef struct _ChorusDtls ChorusDtls;

typedef enum {
  CHORUS_DTLS_ROLE_SERVER = 0, /* a=setup:passive */
  CHORUS_DTLS_ROLE_CLIENT,     /* a=setup:active */
} ChorusDtlsRole;

typedef enum {
  CHORUS_DTLS_STATE_NEW = 0,
  CHORUS_DTLS_STATE_HANDSHAKING,
  CHORUS_DTLS_STATE_CONNECTED, /* peer verified, SRTP keys available */
  CHORUS_DTLS_STATE_FAILED,    /* see chorus_dtls_get_failure_reason() */
  CHORUS_DTLS_STATE_CLOSED,    /* close_notify sent or received */
} ChorusDtlsState;

const char *chorus_dtls_state_to_string(ChorusDtlsState state);

typedef struct {
  guint64 datagrams_in;         /* every datagram given to handle_datagram() */
  guint64 datagrams_out;        /* datagrams returned by poll_datagram() */
  guint64 garbage_dropped;      /* not a sequence of DTLS records: never reached OpenSSL */
  guint64 ignored;              /* arrived in state FAILED or CLOSED, or after an error
                                 * following CONNECTED (see errors_after_connect) */
  guint64 retransmissions;      /* flights resent because a timer expired */
  guint64 app_data_dropped;     /* application data records (no data channels) */
  guint64 errors_after_connect; /* OpenSSL failed on input after CONNECTED (0 or 1) */
} ChorusDtlsStats;

/* The process-wide part: @cert (a reference is taken) and one SSL_CTX. */
ChorusDtlsContext *chorus_dtls_context_new(ChorusCertificate *cert, GError **error);
ChorusDtlsContext *chorus_dtls_context_ref(ChorusDtlsContext *ctx);
void chorus_dtls_context_unref(ChorusDtlsContext *ctx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusDtlsContext, chorus_dtls_context_unref)

/* Our fingerprint for SDP (borrowed). */
const char *chorus_dtls_context_get_fingerprint(ChorusDtlsContext *ctx);

/* @remote_fingerprint_sha256: "AB:CD:..." from the remote a=fingerprint
 * (sha-256), or NULL when not known yet. Error: a fingerprint that is not of
 * that form (CHORUS_ERROR_INVALID_PARAMS). */
ChorusDtls *chorus_dtls_new(ChorusDtlsContext *ctx, ChorusDtlsRole role,
                            const char *remote_fingerprint_sha256, GError **error);
void chorus_dtls_free(ChorusDtls *dtls);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusDtls, chorus_dtls_free)

/* Sets (or confirms) the peer's fingerprint. If the handshake already
 * finished, this verifies it now: the state becomes CONNECTED or FAILED (the
 * caller should then poll: a close_notify is queued). Errors: bad form, or a
 * different fingerprint than the one already set
 * (CHORUS_ERROR_INVALID_PARAMS; the state does not change). */
gboolean chorus_dtls_set_remote_fingerprint(ChorusDtls *dtls, const char *fingerprint_sha256,
                                            GError **error);

/* Replaces the profiles offered (CLIENT) or accepted, in order of preference
 * (SERVER). Before start/the first datagram only. */
gboolean chorus_dtls_set_srtp_profiles(ChorusDtls *dtls, const ChorusSrtpProfile *profiles,
                                       guint n_profiles, GError **error);

/* First retransmission timeout (then doubling). Before start/the first
 * datagram; clamped to 50..CHORUS_DTLS_MAX_TIMEOUT_MS. */
void chorus_dtls_set_initial_timeout_ms(ChorusDtls *dtls, guint timeout_ms);

/* CLIENT: queues the ClientHello. SERVER: only marks the start (it waits for
 * the ClientHello). Does nothing unless the state is NEW. */
ChorusDtlsState chorus_dtls_start(ChorusDtls *dtls, gint64 now_us);

/* One received datagram (DTLS by RFC 7983 demux). @data is borrowed for the
 * call. Any state; returns the state after processing. */
ChorusDtlsState chorus_dtls_handle_datagram(ChorusDtls *dtls, const guint8 *data, gsize len,
                                            gint64 now_us);

/* Copies the next datagram to send into @out (at most @cap bytes; give
 * CHORUS_DTLS_MTU) and sets *@len. FALSE when nothing is queued. Drain after
 * every call that can produce output (start, handle_*, set_remote_fingerprint,
 * close), including those that end in FAILED: the alert tells the peer. */
gboolean chorus_dtls_poll_datagram(ChorusDtls *dtls, guint8 *out, gsize cap, gsize *len);

/* When chorus_dtls_handle_timeout() next has work, in the caller's clock;
 * G_MAXINT64 when there is none (not handshaking). */
gint64 chorus_dtls_next_deadline_us(ChorusDtls *dtls);

/* Retransmits the last flight if its timer expired; may end in FAILED
 * ("handshake timed out"). Harmless to call early or often. */
ChorusDtlsState chorus_dtls_handle_timeout(ChorusDtls *dtls, gint64 now_us);

/* Sends close_notify (if the handshake got far enough to encrypt it) and
 * moves to CLOSED. No-op in FAILED or CLOSED. */
void chorus_dtls_close(ChorusDtls *dtls);

ChorusDtlsState chorus_dtls_get_state(ChorusDtls *dtls);
ChorusDtlsRole chorus_dtls_get_role(ChorusDtls *dtls);

/* Why the state is FAILED (borrowed), NULL otherwise. */
const char *chorus_dtls_get_failure_reason(ChorusDtls *dtls);

/* The fingerprint of the certificate the peer presented (borrowed), NULL
 * before it did. */
const char *chorus_dtls_get_peer_fingerprint(ChorusDtls *dtls);

/* CHORUS_SRTP_PROFILE_NONE unless CONNECTED. */
ChorusSrtpProfile chorus_dtls_get_srtp_profile(ChorusDtls *dtls);

/* The RFC 5764 keying material (label "EXTRACTOR-dtls_srtp") split for our
 * role: a CLIENT's local keys are the client_write ones, a SERVER's are the
 * server_write ones. FALSE unless CONNECTED. Wipe @out after use
 * (chorus_srtp_keys_clear()). */
gboolean chorus_dtls_get_srtp_keys(ChorusDtls *dtls, ChorusSrtpKeys *out);

void chorus_dtls_get_stats(ChorusDtls *dtls, ChorusDtlsStats *out);

G_END_DECLS
