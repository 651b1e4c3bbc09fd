/* ChorusIce: the ICE transport of one PeerConnection, a thin owner of one
 * libnice NiceAgent with one stream and one component (BUNDLE + rtcp-mux).
 *
 * Threading: a ChorusIce lives on the GMainContext given at creation (the
 * room's worker). Every function must be called on the thread that runs that
 * context, and every callback runs there. No locks of ours.
 *
 * What this wrapper decides, and why:
 *
 * - RFC 5245 compatibility, full ICE by default, ICE-lite as an option,
 *   trickle ICE both ways, RFC 7675 consent freshness, UDP only (ICE-TCP off:
 *   browsers always offer UDP, and TCP candidates would double the sockets).
 *
 * - Role (chorus_ice_role_is_controlling()): Chorus is controlled when it
 *   answers a client's offer. When Chorus offers (subscriber PCs) it would
 *   rather be controlled too, but RFC 8445 section 6.1.1 makes the initiating
 *   agent controlling when both sides are full agents, and two controlled
 *   agents only sort it out with a 487 role-conflict round trip (tie-breaker,
 *   i.e. random). So: offerer + full ICE = controlling; ICE-lite is always
 *   controlled; a full Chorus facing an ICE-lite peer controls. The
 *   controlling side uses libnice's default (aggressive) nomination: with
 *   host candidates only, the first valid pair is as good as any, and it
 *   saves a round trip at join.
 *
 * - public_ip (a 1:1 NAT in front of the server): libnice still binds and
 *   gathers on the local addresses; the candidate strings handed to the owner
 *   (callback and chorus_ice_get_local_candidates()) carry public_ip instead
 *   of the local address, with the same port. Only candidates of public_ip's
 *   address family are rewritten (an IPv4 public_ip leaves IPv6 host
 *   candidates alone). The NAT must keep ports (1:1), as is usual for cloud
 *   "elastic" addresses.
 *
 * - Early data (the join-latency fact in INTEROP.md: a client sends its DTLS
 *   ClientHello ~0.5 ms after its own check succeeds). What libnice 0.1.21
 *   does, measured by test-ice.c: once libnice has answered an authenticated
 *   check from an address (our local ufrag/pwd), it delivers every datagram
 *   from that address at once, while our side is still CONNECTING, and even
 *   before the remote credentials are known (Chorus offered and the answer
 *   is not applied yet: libnice still says GATHERING then). So nothing is
 *   held or dropped on receive, and the receive callback is attached from
 *   the start. The gap is on the way back: our side can only send once it
 *   has selected a pair of its own (its triggered check must succeed, ~20
 *   ms later, or later still without remote credentials). chorus_ice_send()
 *   therefore queues the few datagrams sent before the first pair is
 *   selected (the DTLS server's reply flight) and flushes them, in order,
 *   the moment one is, instead of losing them to a 1 s DTLS retransmission.
 *
 * - Remote candidates that arrive before the remote credentials (trickle can
 *   overtake the SDP) are parsed at once (errors are reported at once) and
 *   applied when the credentials are set; so is end-of-candidates.
 *
 * - Only host candidates (plus public_ip): no STUN/TURN server gathering,
 *   which a server with a known address does not need.
 *
 * - Consent freshness (RFC 7675, libnice's own timers, not configurable in
 *   0.1.21): a peer that stops answering -> state FAILED. Measured here: 5 to
 *   10 s after the peer goes silent (libnice fails the first consent check
 *   that times out), i.e. sooner than the RFC's 30 s; there is no
 *   setting for it. Same for an ICE-lite agent,
 *   which sends no checks but fails when the peer's checks stop coming.
 *
 * - ICE restart: chorus_ice_restart() makes new local credentials (and keeps
 *   the local candidates and the current pair, which carries data until a
 *   new one is selected); then chorus_ice_set_remote_credentials() with the
 *   peer's new ones. Remote candidates carrying another ufrag than the
 *   current remote one are held (at most 64, oldest dropped) until
 *   credentials with that ufrag are set: a trickled candidate of the next
 *   generation can overtake its SDP.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct _ChorusIce ChorusIce;

/* Mirrors libnice's component states. */
typedef enum {
  CHORUS_ICE_STATE_DISCONNECTED = 0, /* nothing yet */
  CHORUS_ICE_STATE_GATHERING,
  CHORUS_ICE_STATE_CONNECTING,
  CHORUS_ICE_STATE_CONNECTED, /* a pair is selected: data can flow */
  CHORUS_ICE_STATE_READY,     /* checks finished, pair final */
  CHORUS_ICE_STATE_FAILED,    /* no pair, or consent lost */
} ChorusIceState;

const char *chorus_ice_state_to_string(ChorusIceState state);

/* Packet-path result of chorus_ice_send(); each reason has a counter. */
typedef enum {
  CHORUS_ICE_SEND_OK = 0,
  CHORUS_ICE_SEND_QUEUED,  /* no pair selected yet: kept, sent when one is */
  CHORUS_ICE_SEND_DROPPED, /* queue full, state FAILED, or libnice refused */
} ChorusIceSendResult;

typedef struct {
  gboolean lite;                      /* ICE-lite (always controlled) */
  gboolean controlling;               /* see chorus_ice_role_is_controlling(); ignored if lite */
  const char *const *local_addresses; /* host candidates only on these (NULL-terminated);
                                       * NULL or empty = every local address */
  const char *public_ip;              /* advertised 1:1 NAT address, or NULL */
  guint port_min;                     /* UDP port range; 0,0 = any port */
  guint port_max;
} ChorusIceConfig;

/* All optional (NULL = not interested). @user_data is the one given to
 * chorus_ice_new(). A callback may call chorus_ice_free() on its own ice. */
typedef struct {
  /* One local candidate, as the value of an SDP "a=" line (and of
   * RTCIceCandidate.candidate): "candidate:1 1 udp 2015363327 127.0.0.1 50000
   * typ host". Borrowed. May run inside chorus_ice_gather(). */
  void (*local_candidate)(ChorusIce *ice, const char *candidate, gpointer user_data);
  /* Local gathering finished (send end-of-candidates). May run inside
   * chorus_ice_gather(). */
  void (*gathering_done)(ChorusIce *ice, gpointer user_data);
  void (*state_changed)(ChorusIce *ice, ChorusIceState state, gpointer user_data);
  /* One received datagram (DTLS, SRTP, SRTCP: STUN stays inside libnice).
   * @data is borrowed for the duration of the call. */
  void (*receive)(ChorusIce *ice, const guint8 *data, gsize len, gpointer user_data);
} ChorusIceCallbacks;

typedef struct {
  guint64 datagrams_in;
  guint64 bytes_in;
  guint64 datagrams_out; /* handed to the socket (including flushed queued ones) */
  guint64 bytes_out;
  guint64 send_queued;   /* chorus_ice_send() calls that returned QUEUED */
  guint64 send_dropped;  /* chorus_ice_send() calls that returned DROPPED, plus
                          * queued datagrams that could not be flushed */
  guint64 remote_candidates_added;   /* given to libnice */
  guint64 remote_candidates_ignored; /* TCP, component != 1, stale generation */
} ChorusIceStats;

/* Which role Chorus takes (see the header comment). */
gboolean chorus_ice_role_is_controlling(gboolean local_is_offerer, gboolean local_lite,
                                        gboolean remote_lite);

/* Creates the agent on @context (borrowed, must outlive the ice) and its
 * stream; does not gather yet. @config is copied. Errors (CHORUS_ERROR_
 * INVALID_PARAMS): an address that does not parse, a bad port range. */
ChorusIce *chorus_ice_new(GMainContext *context, const ChorusIceConfig *config,
                          const ChorusIceCallbacks *callbacks, gpointer user_data,
                          GError **error);
void chorus_ice_free(ChorusIce *ice);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusIce, chorus_ice_free)

/* Binds the sockets and gathers host candidates. The local_candidate and
 * gathering_done callbacks may run before this returns. Once only. */
gboolean chorus_ice_gather(ChorusIce *ice, GError **error);

gboolean chorus_ice_is_gathering_done(ChorusIce *ice);

/* The local candidates gathered so far, strings as given to the
 * local_candidate callback (transfer container; strings owned by @ice, valid
 * until it is freed). */
GPtrArray *chorus_ice_get_local_candidates(ChorusIce *ice);

/* Current local credentials for SDP (borrowed; change on restart). */
const char *chorus_ice_get_local_ufrag(ChorusIce *ice);
const char *chorus_ice_get_local_pwd(ChorusIce *ice);

/* Only before the first remote credentials; with ICE-lite always FALSE. */
void chorus_ice_set_controlling(ChorusIce *ice, gboolean controlling);
gboolean chorus_ice_get_controlling(ChorusIce *ice);

/* Sets the peer's a=ice-ufrag / a=ice-pwd (RFC 8839 syntax checked:
 * ice-chars, ufrag 4..256, pwd 22..256). Same values again = no-op. After
 * chorus_ice_restart(), the peer's new ones. Starts our checks and applies
 * the candidates held so far. */
gboolean chorus_ice_set_remote_credentials(ChorusIce *ice, const char *ufrag, const char *pwd,
                                           GError **error);

/* One remote candidate from SDP or trickle: "a=candidate:...",
 * "candidate:..." or the bare "1 1 udp ..." form (aiortc). @ufrag (nullable)
 * is the trickle usernameFragment. Garbage -> FALSE with
 * CHORUS_ERROR_INVALID_PARAMS. Well-formed but unusable candidates (TCP,
 * component other than 1) are ignored and return TRUE. mDNS names
 * ("....local") cannot be resolved here and are an error. */
gboolean chorus_ice_add_remote_candidate(ChorusIce *ice, const char *candidate, const char *ufrag,
                                         GError **error);

/* End of remote candidates (trickle "candidate: null" or
 * a=end-of-candidates): lets the agent declare FAILED when all pairs fail. */
void chorus_ice_set_remote_gathering_done(ChorusIce *ice);

/* New local credentials; the remote ones must be set again. */
gboolean chorus_ice_restart(ChorusIce *ice, GError **error);

ChorusIceState chorus_ice_get_state(ChorusIce *ice);

/* Sends one datagram on the selected pair (see ChorusIceSendResult). */
ChorusIceSendResult chorus_ice_send(ChorusIce *ice, const guint8 *data, gsize len);

/* The selected pair's local socket (transfer full) and the remote address
 * (*remote_address, transfer full), for a direct sendmmsg() path that leaves
 * STUN and consent to libnice. NULL (and *remote_address NULL) when no pair
 * is selected. */
GSocket *chorus_ice_get_selected_socket(ChorusIce *ice, GSocketAddress **remote_address);

void chorus_ice_get_stats(ChorusIce *ice, ChorusIceStats *out);

/* Changes whenever the selected pair does (selected, replaced, lost): a
 * direct-send path caches the socket and address and compares this before
 * each use. */
guint chorus_ice_get_pair_generation(ChorusIce *ice);

G_END_DECLS
