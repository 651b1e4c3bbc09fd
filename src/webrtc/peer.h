/* ChorusPeer: one PeerConnection of Chorus's side: ICE (ChorusIce), RFC 7983
 * demultiplexing, DTLS (ChorusDtls) and SRTP (ChorusSrtp) composed. It knows
 * nothing of tracks or rooms: it hands decrypted RTP/RTCP to its owner and
 * protects and sends what the owner gives it.
 *
 * Threading: lives on one worker's GMainContext (given at creation); every
 * call and callback on that thread. */
#pragma once

#include <glib.h>

#include "webrtc/dtls.h"
#include "webrtc/ice.h"
#include "webrtc/sdp.h"
#include "webrtc/srtp.h"

G_BEGIN_DECLS

typedef struct _ChorusPeer ChorusPeer;

typedef enum {
  CHORUS_PEER_STATE_NEW = 0,   /* gathering / waiting for the remote description */
  CHORUS_PEER_STATE_CONNECTING, /* ICE checks and DTLS handshake under way */
  CHORUS_PEER_STATE_CONNECTED,  /* DTLS done, SRTP keyed: media flows */
  CHORUS_PEER_STATE_FAILED,     /* ICE failed / consent lost / DTLS failed: see reason */
  CHORUS_PEER_STATE_CLOSED,
} ChorusPeerState;

const char *chorus_peer_state_to_string(ChorusPeerState state);

/* Packet-path verdicts, each counted. */
typedef enum {
  CHORUS_PEER_SEND_OK = 0,
  CHORUS_PEER_SEND_NOT_CONNECTED,
  CHORUS_PEER_SEND_SRTP_ERROR,
  CHORUS_PEER_SEND_DROPPED, /* ICE refused or queue full */
} ChorusPeerSendResult;

typedef struct {
  /* Each callback optional. Buffers are borrowed for the call. */
  /* A local ICE candidate ("candidate:..."), or NULL when gathering is done. */
  void (*local_candidate)(ChorusPeer *peer, const char *candidate, gpointer user_data);
  /* @reason is a human sentence for FAILED/CLOSED, else NULL. */
  void (*state_changed)(ChorusPeer *peer, ChorusPeerState state, const char *reason,
                        gpointer user_data);
  /* Decrypted RTP / RTCP; @buf may be modified in place by the owner. */
  void (*rtp)(ChorusPeer *peer, guint8 *buf, gsize len, gint64 now_us, gpointer user_data);
  void (*rtcp)(ChorusPeer *peer, guint8 *buf, gsize len, gint64 now_us, gpointer user_data);
} ChorusPeerCallbacks;

typedef struct {
  ChorusIceConfig ice;          /* strings borrowed: must outlive the peer */
  ChorusDtlsContext *dtls;      /* a reference is taken */
  /* Test shim (loss tests; netem is not available here): drop this many
   * per mille of received / sent RTP at random. 0 in production. */
  guint test_drop_rtp_in_permille;
  guint test_drop_rtp_out_permille;
  /* Send SRTP/SRTCP on the selected pair's socket directly (sendto), not
   * through nice_agent_send, which takes libnice's process-wide lock per
   * packet. STUN and consent stay with libnice. */
  gboolean direct_send;
  /* With direct_send: queue media in the thread's send batch (sendmmsg
   * per socket at the end of the loop iteration, webrtc/send-batch.h)
   * instead of one sendto per packet. */
  gboolean batch_send;
} ChorusPeerConfig;

typedef struct {
  guint64 rtp_in, rtcp_in, rtp_out, rtcp_out;
  guint64 srtp_unprotect_failed; /* auth failures, replays, malformed */
  guint64 unknown_dropped;       /* RFC 7983: neither DTLS nor RTP/RTCP */
  guint64 send_failed;
  guint64 dtls_garbage;          /* DTLS-range datagrams that were not records */
  guint64 test_dropped;          /* by the loss shim */
} ChorusPeerStats;

/* @offerer: Chorus makes the offer on this PeerConnection (subscriber side);
 * it decides the ICE role (see ice.h). */
ChorusPeer *chorus_peer_new(GMainContext *context, const ChorusPeerConfig *config,
                            gboolean offerer, const ChorusPeerCallbacks *callbacks,
                            gpointer user_data, GError **error);
/* Frees at once (no callbacks after). Sends close_notify if connected. */
void chorus_peer_free(ChorusPeer *peer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusPeer, chorus_peer_free)

/* Gathers host candidates (usually synchronously: then every local
 * candidate and the NULL end are reported before this returns). */
gboolean chorus_peer_gather(ChorusPeer *peer, GError **error);

/* Our transport parameters for SDP. Strings borrowed from @peer; the
 * candidates array is a new container of borrowed strings. */
void chorus_peer_get_local_params(ChorusPeer *peer, const char **ufrag, const char **pwd,
                                  const char **fingerprint, GPtrArray **candidates,
                                  gboolean *gathering_done);

/* Applies the remote side of a negotiation: ICE credentials and candidates,
 * DTLS role and fingerprint. On renegotiation the same credentials are a
 * no-op, new ones an ICE restart; a different fingerprint is an error. */
gboolean chorus_peer_set_remote(ChorusPeer *peer, const ChorusSdpTransport *transport,
                                GError **error);

/* Trickle. @candidate "candidate:..." (or NULL = end of candidates). */
gboolean chorus_peer_add_remote_candidate(ChorusPeer *peer, const char *candidate,
                                          const char *ufrag, GError **error);

/* The remote ICE ufrag last applied (borrowed), NULL before. A publisher's
 * new offer with another ufrag is an ICE restart: the answer then needs new
 * local credentials too (chorus_peer_restart_ice() first). */
const char *chorus_peer_get_remote_ufrag(ChorusPeer *peer);

/* New local ICE credentials (then a new offer/answer carries them). */
gboolean chorus_peer_restart_ice(ChorusPeer *peer, GError **error);

ChorusPeerState chorus_peer_get_state(ChorusPeer *peer);

/* When the datagram being handled (call it from the rtp/rtcp callbacks)
 * reached the socket, on the monotonic clock: the kernel's receive stamp
 * (see webrtc/rx-stamp.h), @now_us when there is none. */
gint64 chorus_peer_get_arrival_us(ChorusPeer *peer, gint64 now_us);
/* The negotiated SRTP profile once CONNECTED. */
ChorusSrtpProfile chorus_peer_get_srtp_profile(ChorusPeer *peer);

/* Protects @buf (plain RTP/RTCP of *@len bytes, room for @cap) in place and
 * sends it. */
ChorusPeerSendResult chorus_peer_send_rtp(ChorusPeer *peer, guint8 *buf, gsize len, gsize cap);
ChorusPeerSendResult chorus_peer_send_rtcp(ChorusPeer *peer, guint8 *buf, gsize len, gsize cap);

void chorus_peer_get_stats(ChorusPeer *peer, ChorusPeerStats *out);

G_END_DECLS
