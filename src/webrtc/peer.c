#define G_LOG_DOMAIN "chorus-peer"

#include "webrtc/peer.h"
#include "webrtc/send-batch.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "core/error.h"
#include "webrtc/demux.h"
#include "webrtc/rx-stamp.h"


/* Largest datagram we accept or build (an Ethernet MTU plus headroom). */
#define PEER_BUF_BYTES 1536

#define PEER_SOCKET_BUFFER_BYTES (2 * 1024 * 1024)

struct _ChorusPeer {
  GMainContext *context;
  ChorusIce *ice;
  ChorusDtlsContext *dtls_ctx;
  ChorusDtls *dtls;
  ChorusSrtp *srtp;
  ChorusPeerState state;
  ChorusPeerCallbacks cb;
  gpointer user_data;
  GSource *dtls_timer;
  char remote_fingerprint[CHORUS_FINGERPRINT_SHA256_LEN + 1];
  char *remote_ufrag;
  gboolean gathering_done;
  guint drop_in_permille, drop_out_permille;
  /* Direct send path (config->direct_send): the selected pair's socket
   * (a reference keeps its fd valid) and remote address, valid while the
   * pair generation matches. */
  gboolean direct_send;
  gboolean batch_send;
  ChorusSendBatchDest batch_dest; /* this peer's queue in the thread's send batch */
  GSocket *direct_socket;
  int direct_fd;
  guint direct_generation;
  gboolean direct_ready;
  struct sockaddr_storage direct_addr;
  socklen_t direct_addr_len;
  ChorusPeerStats stats;
  /* Receive scratch: libnice's buffer is read-only and SRTP unprotects in
   * place. One per peer keeps the receive path allocation-free. */
  guint8 rx[PEER_BUF_BYTES];
  guint8 tx[PEER_BUF_BYTES];
};

const char *
chorus_peer_state_to_string(ChorusPeerState state)
{
  switch (state) {
  case CHORUS_PEER_STATE_NEW: return "new";
  case CHORUS_PEER_STATE_CONNECTING: return "connecting";
  case CHORUS_PEER_STATE_CONNECTED: return "connected";
  case CHORUS_PEER_STATE_FAILED: return "failed";
  case CHORUS_PEER_STATE_CLOSED: return "closed";
  }
  return "unknown";
}

static void
set_state(ChorusPeer *peer, ChorusPeerState state, const char *reason)
{
  if (peer->state == state)
    return;
  /* FAILED and CLOSED are final. */
  if (peer->state == CHORUS_PEER_STATE_FAILED || peer->state == CHORUS_PEER_STATE_CLOSED)
    return;
  peer->state = state;
  if (reason)
    g_debug("peer %p: %s (%s)", (void *)peer, chorus_peer_state_to_string(state), reason);
  if (peer->cb.state_changed)
    peer->cb.state_changed(peer, state, reason, peer->user_data);
}

static void schedule_dtls_timer(ChorusPeer *peer);
static gboolean direct_path(ChorusPeer *peer);

/* Sends every datagram DTLS has queued, then re-arms its timer. */
static void
flush_dtls(ChorusPeer *peer)
{
  gsize n;
  while (chorus_dtls_poll_datagram(peer->dtls, peer->tx, sizeof(peer->tx), &n))
    chorus_ice_send(peer->ice, peer->tx, n);
  schedule_dtls_timer(peer);
}

static void
after_dtls(ChorusPeer *peer, ChorusDtlsState st)
{
  if (st == CHORUS_DTLS_STATE_CONNECTED && peer->srtp == NULL) {
    ChorusSrtpKeys keys;
    g_autoptr(GError) error = NULL;
    if (!chorus_dtls_get_srtp_keys(peer->dtls, &keys)) {
      set_state(peer, CHORUS_PEER_STATE_FAILED, "DTLS connected but no SRTP keys");
      return;
    }
    peer->srtp = chorus_srtp_new(&keys, &error);
    chorus_srtp_keys_clear(&keys);
    if (peer->srtp == NULL) {
      g_autofree char *reason = g_strdup_printf("SRTP setup failed: %s", error->message);
      set_state(peer, CHORUS_PEER_STATE_FAILED, reason);
      return;
    }
    /* Normally set up when ICE connected (on_ice_state), for receive
     * stamps from the first media packet; again here in case the selected
     * pair came after that state (one compare when it is current). */
    direct_path(peer);
    set_state(peer, CHORUS_PEER_STATE_CONNECTED, NULL);
  } else if (st == CHORUS_DTLS_STATE_FAILED) {
    g_autofree char *reason =
      g_strdup_printf("DTLS failed: %s", chorus_dtls_get_failure_reason(peer->dtls));
    set_state(peer, CHORUS_PEER_STATE_FAILED, reason);
  } else if (st == CHORUS_DTLS_STATE_CLOSED) {
    set_state(peer, CHORUS_PEER_STATE_CLOSED, "DTLS closed by the peer");
  }
}

static gboolean
on_dtls_timer(gpointer user_data)
{
  ChorusPeer *peer = user_data;
  g_clear_pointer(&peer->dtls_timer, g_source_unref);
  ChorusDtlsState st = chorus_dtls_handle_timeout(peer->dtls, g_get_monotonic_time());
  flush_dtls(peer);
  after_dtls(peer, st);
  return G_SOURCE_REMOVE;
}

/* DTLS timers run only during the handshake, so one source per handshaking
 * peer is cheap; the packet path has no timers here. */
static void
schedule_dtls_timer(ChorusPeer *peer)
{
  if (peer->dtls_timer) {
    g_source_destroy(peer->dtls_timer);
    g_clear_pointer(&peer->dtls_timer, g_source_unref);
  }
  gint64 deadline_us = chorus_dtls_next_deadline_us(peer->dtls);
  if (deadline_us == G_MAXINT64)
    return;
  gint64 delay_us = MAX(0, deadline_us - g_get_monotonic_time());
  peer->dtls_timer = g_timeout_source_new((guint)((delay_us + 999) / 1000));
  g_source_set_callback(peer->dtls_timer, on_dtls_timer, peer, NULL);
  g_source_set_static_name(peer->dtls_timer, "chorus-dtls-timer");
  g_source_attach(peer->dtls_timer, peer->context);
}

static void
on_receive(ChorusIce *ice, const guint8 *data, gsize len, gpointer user_data)
{
  ChorusPeer *peer = user_data;
  gint64 now_us = g_get_monotonic_time();
  ChorusDemuxKind kind = chorus_demux_classify(data, len);
  switch (kind) {
  case CHORUS_DEMUX_DTLS: {
    if (peer->dtls == NULL) {
      peer->stats.unknown_dropped++;
      return;
    }
    ChorusDtlsStats before;
    chorus_dtls_get_stats(peer->dtls, &before);
    ChorusDtlsState st = chorus_dtls_handle_datagram(peer->dtls, data, len, now_us);
    ChorusDtlsStats after;
    chorus_dtls_get_stats(peer->dtls, &after);
    peer->stats.dtls_garbage += after.garbage_dropped - before.garbage_dropped;
    flush_dtls(peer);
    after_dtls(peer, st);
    return;
  }
  case CHORUS_DEMUX_RTP:
  case CHORUS_DEMUX_RTCP: {
    gboolean rtcp = kind == CHORUS_DEMUX_RTCP;
    if (G_UNLIKELY(peer->drop_in_permille) && !rtcp &&
        (guint)g_random_int_range(0, 1000) < peer->drop_in_permille) {
      peer->stats.test_dropped++;
      return;
    }
    if (peer->srtp == NULL || len > sizeof(peer->rx)) {
      peer->stats.srtp_unprotect_failed++;
      return;
    }
    memcpy(peer->rx, data, len);
    gsize plain = len;
    ChorusSrtpResult r = rtcp ? chorus_srtp_unprotect_rtcp(peer->srtp, peer->rx, &plain)
                              : chorus_srtp_unprotect_rtp(peer->srtp, peer->rx, &plain);
    if (r != CHORUS_SRTP_OK) {
      peer->stats.srtp_unprotect_failed++;
      return;
    }
    if (rtcp) {
      peer->stats.rtcp_in++;
      if (peer->cb.rtcp)
        peer->cb.rtcp(peer, peer->rx, plain, now_us, peer->user_data);
    } else {
      peer->stats.rtp_in++;
      if (peer->cb.rtp)
        peer->cb.rtp(peer, peer->rx, plain, now_us, peer->user_data);
    }
    return;
  }
  case CHORUS_DEMUX_STUN:   /* libnice keeps STUN; anything else is noise */
  case CHORUS_DEMUX_UNKNOWN:
    peer->stats.unknown_dropped++;
    return;
  }
}

static void
on_local_candidate(ChorusIce *ice, const char *candidate, gpointer user_data)
{
  ChorusPeer *peer = user_data;
  if (peer->cb.local_candidate)
    peer->cb.local_candidate(peer, candidate, peer->user_data);
}

static void
on_gathering_done(ChorusIce *ice, gpointer user_data)
{
  ChorusPeer *peer = user_data;
  peer->gathering_done = TRUE;
  if (peer->cb.local_candidate)
    peer->cb.local_candidate(peer, NULL, peer->user_data);
}

static void
on_ice_state(ChorusIce *ice, ChorusIceState state, gpointer user_data)
{
  ChorusPeer *peer = user_data;
  if (state == CHORUS_ICE_STATE_FAILED)
    set_state(peer, CHORUS_PEER_STATE_FAILED,
              "ICE failed: no candidate pair works, or the peer stopped answering consent checks");
  else if (state == CHORUS_ICE_STATE_CONNECTING && peer->state == CHORUS_PEER_STATE_NEW)
    set_state(peer, CHORUS_PEER_STATE_CONNECTING, NULL);
  else if (state == CHORUS_ICE_STATE_CONNECTED || state == CHORUS_ICE_STATE_READY)
    direct_path(peer); /* the socket, and its receive stamps, before DTLS and media */
}

ChorusPeer *
chorus_peer_new(GMainContext *context, const ChorusPeerConfig *config, gboolean offerer,
                const ChorusPeerCallbacks *callbacks, gpointer user_data, GError **error)
{
  g_return_val_if_fail(config != NULL && config->dtls != NULL, NULL);
  ChorusPeer *peer = g_new0(ChorusPeer, 1);
  peer->context = context;
  peer->cb = *callbacks;
  peer->user_data = user_data;
  peer->dtls_ctx = chorus_dtls_context_ref(config->dtls);
  peer->drop_in_permille = config->test_drop_rtp_in_permille;
  peer->direct_send = config->direct_send;
  peer->batch_send = config->batch_send;
  peer->direct_generation = G_MAXUINT;
  peer->drop_out_permille = config->test_drop_rtp_out_permille;
  ChorusIceConfig ice_config = config->ice;
  ice_config.controlling =
    chorus_ice_role_is_controlling(offerer, config->ice.lite, FALSE /* remote lite: unknown */);
  static const ChorusIceCallbacks ice_cb = {
    .local_candidate = on_local_candidate,
    .gathering_done = on_gathering_done,
    .state_changed = on_ice_state,
    .receive = on_receive,
  };
  peer->ice = chorus_ice_new(context, &ice_config, &ice_cb, peer, error);
  if (peer->ice == NULL) {
    chorus_peer_free(peer);
    return NULL;
  }
  /* When Chorus offers (actpass), the client answers active and sends its
   * ClientHello as soon as its own ICE check succeeds: often before its
   * answer reaches us. A DTLS server ready from the start takes it (the
   * fingerprint is confirmed when the answer arrives) instead of leaving the
   * client to its 1 s retransmission. */
  if (offerer) {
    peer->dtls = chorus_dtls_new(peer->dtls_ctx, CHORUS_DTLS_ROLE_SERVER, NULL, error);
    if (peer->dtls == NULL) {
      chorus_peer_free(peer);
      return NULL;
    }
  }
  return peer;
}

void
chorus_peer_free(ChorusPeer *peer)
{
  if (peer == NULL)
    return;
  /* Queued packets point at this peer's address: out they go first. */
  if (peer->batch_send)
    chorus_send_batch_flush();
  if (peer->dtls_timer) {
    g_source_destroy(peer->dtls_timer);
    g_source_unref(peer->dtls_timer);
  }
  if (peer->dtls && peer->ice && chorus_dtls_get_state(peer->dtls) == CHORUS_DTLS_STATE_CONNECTED) {
    chorus_dtls_close(peer->dtls);
    gsize n;
    while (chorus_dtls_poll_datagram(peer->dtls, peer->tx, sizeof(peer->tx), &n))
      chorus_ice_send(peer->ice, peer->tx, n);
  }
  g_clear_object(&peer->direct_socket);
  g_clear_pointer(&peer->srtp, chorus_srtp_free);
  g_clear_pointer(&peer->dtls, chorus_dtls_free);
  g_clear_pointer(&peer->ice, chorus_ice_free);
  g_clear_pointer(&peer->dtls_ctx, chorus_dtls_context_unref);
  g_free(peer->remote_ufrag);
  g_free(peer);
}

gboolean
chorus_peer_gather(ChorusPeer *peer, GError **error)
{
  return chorus_ice_gather(peer->ice, error);
}

void
chorus_peer_get_local_params(ChorusPeer *peer, const char **ufrag, const char **pwd,
                             const char **fingerprint, GPtrArray **candidates,
                             gboolean *gathering_done)
{
  *ufrag = chorus_ice_get_local_ufrag(peer->ice);
  *pwd = chorus_ice_get_local_pwd(peer->ice);
  *fingerprint = chorus_dtls_context_get_fingerprint(peer->dtls_ctx);
  if (candidates)
    *candidates = chorus_ice_get_local_candidates(peer->ice);
  if (gathering_done)
    *gathering_done = chorus_ice_is_gathering_done(peer->ice);
}

static void
format_fingerprint(const guint8 fp[32], char out[CHORUS_FINGERPRINT_SHA256_LEN + 1])
{
  static const char hex[] = "0123456789ABCDEF";
  for (int i = 0; i < 32; i++) {
    out[i * 3] = hex[fp[i] >> 4];
    out[i * 3 + 1] = hex[fp[i] & 15];
    out[i * 3 + 2] = i == 31 ? '\0' : ':';
  }
}

gboolean
chorus_peer_set_remote(ChorusPeer *peer, const ChorusSdpTransport *transport, GError **error)
{
  char fp[CHORUS_FINGERPRINT_SHA256_LEN + 1];
  format_fingerprint(transport->fingerprint_sha256, fp);

  ChorusDtlsRole role = transport->dtls_server ? CHORUS_DTLS_ROLE_SERVER : CHORUS_DTLS_ROLE_CLIENT;
  gboolean confirm = FALSE;
  if (peer->dtls != NULL && peer->remote_fingerprint[0] == '\0') {
    /* The early server of an offerer: keep it if the answer made us the
     * server, else (the peer answered passive) start over as client. */
    if (role == CHORUS_DTLS_ROLE_SERVER)
      confirm = TRUE;
    else
      g_clear_pointer(&peer->dtls, chorus_dtls_free);
  }
  if (peer->dtls == NULL) {
    peer->dtls = chorus_dtls_new(peer->dtls_ctx, role, fp, error);
    if (peer->dtls == NULL)
      return FALSE;
    memcpy(peer->remote_fingerprint, fp, sizeof(fp));
  } else if (confirm) {
    memcpy(peer->remote_fingerprint, fp, sizeof(fp));
    if (!chorus_dtls_set_remote_fingerprint(peer->dtls, fp, error))
      return FALSE;
    ChorusDtlsState st = chorus_dtls_get_state(peer->dtls);
    flush_dtls(peer); /* a close_notify when the fingerprint was refuted */
    after_dtls(peer, st);
  } else if (!chorus_certificate_fingerprint_equal(peer->remote_fingerprint, fp)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_NEGOTIATION_FAILED,
                "the DTLS fingerprint changed in a renegotiation (was %s, now %s)",
                peer->remote_fingerprint, fp);
    return FALSE;
  }

  if (transport->ice_lite && !chorus_ice_get_controlling(peer->ice) &&
      chorus_ice_get_state(peer->ice) <= CHORUS_ICE_STATE_GATHERING)
    chorus_ice_set_controlling(peer->ice, TRUE); /* a lite peer never controls */
  if (!chorus_ice_set_remote_credentials(peer->ice, transport->ice_ufrag, transport->ice_pwd, error))
    return FALSE;
  g_free(peer->remote_ufrag);
  peer->remote_ufrag = g_strdup(transport->ice_ufrag);
  for (guint i = 0; transport->candidates && transport->candidates[i]; i++) {
    g_autoptr(GError) e = NULL;
    if (!chorus_ice_add_remote_candidate(peer->ice, transport->candidates[i], transport->ice_ufrag,
                                         &e))
      g_debug("peer %p: ignoring remote candidate \"%s\": %s", (void *)peer,
              transport->candidates[i], e->message);
  }
  if (transport->end_of_candidates)
    chorus_ice_set_remote_gathering_done(peer->ice);

  if (chorus_dtls_get_state(peer->dtls) == CHORUS_DTLS_STATE_NEW) {
    if (chorus_dtls_get_role(peer->dtls) == CHORUS_DTLS_ROLE_CLIENT) {
      ChorusDtlsState st = chorus_dtls_start(peer->dtls, g_get_monotonic_time());
      flush_dtls(peer); /* queued in ICE until a pair is selected */
      after_dtls(peer, st);
    }
  }
  if (peer->state == CHORUS_PEER_STATE_NEW)
    set_state(peer, CHORUS_PEER_STATE_CONNECTING, NULL);
  return TRUE;
}

gboolean
chorus_peer_add_remote_candidate(ChorusPeer *peer, const char *candidate, const char *ufrag,
                                 GError **error)
{
  if (candidate == NULL || candidate[0] == '\0') {
    chorus_ice_set_remote_gathering_done(peer->ice);
    return TRUE;
  }
  return chorus_ice_add_remote_candidate(peer->ice, candidate, ufrag, error);
}

const char *
chorus_peer_get_remote_ufrag(ChorusPeer *peer)
{
  return peer->remote_ufrag;
}

gboolean
chorus_peer_restart_ice(ChorusPeer *peer, GError **error)
{
  return chorus_ice_restart(peer->ice, error);
}

ChorusPeerState
chorus_peer_get_state(ChorusPeer *peer)
{
  return peer->state;
}

gint64
chorus_peer_get_arrival_us(ChorusPeer *peer, gint64 now_us)
{
  /* Media arrives on the selected pair's socket: the stamp there is the
   * packet's own while it is being handled. */
  if (!direct_path(peer))
    return now_us;
  gint64 t = chorus_rx_stamp_arrival_us(peer->direct_fd, now_us, g_get_real_time());
  return t < 0 ? now_us : t;
}

ChorusSrtpProfile
chorus_peer_get_srtp_profile(ChorusPeer *peer)
{
  return peer->srtp ? chorus_srtp_get_profile(peer->srtp) : CHORUS_SRTP_PROFILE_NONE;
}

/* The selected pair's socket and address, refreshed when the pair
 * changed (one integer compare per packet otherwise). */
static gboolean
direct_path(ChorusPeer *peer)
{
  guint generation = chorus_ice_get_pair_generation(peer->ice);
  if (generation == peer->direct_generation)
    return peer->direct_ready;
  if (peer->batch_send)
    chorus_send_batch_flush(); /* queued packets use the old address */
  peer->direct_generation = generation;
  peer->direct_ready = FALSE;
  g_clear_object(&peer->direct_socket);
  g_autoptr(GSocketAddress) remote = NULL;
  GSocket *socket = chorus_ice_get_selected_socket(peer->ice, &remote);
  if (socket == NULL || remote == NULL ||
      g_socket_get_socket_type(socket) != G_SOCKET_TYPE_DATAGRAM ||
      !g_socket_address_to_native(remote, &peer->direct_addr, sizeof(peer->direct_addr), NULL)) {
    g_clear_object(&socket);
    return FALSE;
  }
  peer->direct_socket = socket;
  peer->direct_fd = g_socket_get_fd(socket);
  /* The default 208 KiB receive buffer overflows on a publisher's socket
   * while the worker is busy fanning out (a video frame burst), and what
   * overflows is lost for every subscriber, consent checks included.
   * The kernel caps this at net.core.rmem_max (raise it for large rooms). */
  int bytes = PEER_SOCKET_BUFFER_BYTES;
  setsockopt(peer->direct_fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
  setsockopt(peer->direct_fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  chorus_rx_stamp_enable(peer->direct_fd);
  peer->direct_addr_len = (socklen_t)g_socket_address_get_native_size(remote);
  peer->direct_ready = TRUE;
  return TRUE;
}

static void
batch_send_failed(gpointer owner)
{
  ChorusPeer *peer = owner;
  peer->stats.send_failed++;
}

static ChorusIceSendResult
send_datagram(ChorusPeer *peer, const guint8 *buf, gsize len, gboolean batch)
{
  if (batch && peer->batch_send && peer->direct_send && direct_path(peer)) {
    ChorusSendBatchDest *dest = &peer->batch_dest;
    dest->fd = peer->direct_fd;
    dest->addr = (const struct sockaddr *)&peer->direct_addr;
    dest->addr_len = peer->direct_addr_len;
    dest->failed = batch_send_failed;
    dest->owner = peer;
    if (chorus_send_batch_add(dest, buf, len))
      return CHORUS_ICE_SEND_OK; /* failures are counted when the batch goes out */
  }
  if (peer->direct_send && direct_path(peer)) {
    ssize_t n = sendto(peer->direct_fd, buf, len, MSG_DONTWAIT,
                       (const struct sockaddr *)&peer->direct_addr, peer->direct_addr_len);
    return n == (ssize_t)len ? CHORUS_ICE_SEND_OK : CHORUS_ICE_SEND_DROPPED;
  }
  return chorus_ice_send(peer->ice, buf, len);
}

static ChorusPeerSendResult
send_protected(ChorusPeer *peer, guint8 *buf, gsize len, gsize cap, gboolean rtcp)
{
  if (peer->srtp == NULL) {
    peer->stats.send_failed++;
    return CHORUS_PEER_SEND_NOT_CONNECTED;
  }
  ChorusSrtpResult r = rtcp ? chorus_srtp_protect_rtcp(peer->srtp, buf, &len, cap)
                            : chorus_srtp_protect_rtp(peer->srtp, buf, &len, cap);
  if (r != CHORUS_SRTP_OK) {
    peer->stats.send_failed++;
    return CHORUS_PEER_SEND_SRTP_ERROR;
  }
  if (G_UNLIKELY(peer->drop_out_permille) && !rtcp &&
      (guint)g_random_int_range(0, 1000) < peer->drop_out_permille) {
    peer->stats.test_dropped++;
    return CHORUS_PEER_SEND_OK; /* "sent": lost on the way */
  }
  if (send_datagram(peer, buf, len, !rtcp) == CHORUS_ICE_SEND_DROPPED) {
    peer->stats.send_failed++;
    return CHORUS_PEER_SEND_DROPPED;
  }
  if (rtcp)
    peer->stats.rtcp_out++;
  else
    peer->stats.rtp_out++;
  return CHORUS_PEER_SEND_OK;
}

ChorusPeerSendResult
chorus_peer_send_rtp(ChorusPeer *peer, guint8 *buf, gsize len, gsize cap)
{
  return send_protected(peer, buf, len, cap, FALSE);
}

ChorusPeerSendResult
chorus_peer_send_rtcp(ChorusPeer *peer, guint8 *buf, gsize len, gsize cap)
{
  return send_protected(peer, buf, len, cap, TRUE);
}

void
chorus_peer_get_stats(ChorusPeer *peer, ChorusPeerStats *out)
{
  *out = peer->stats;
}
