/* Worker side of a room's media: participants' PeerConnections, uptracks
 * (published streams) and downtracks (one per subscriber and track), the
 * publisher answer and the subscriber offers. Everything here runs on the
 * room's worker thread. */
#define G_LOG_DOMAIN "chorus-media"

#include <string.h>

#include "core/error.h"
#include "media/media-private.h"


/* ---- helpers ------------------------------------------------------------ */

static char *
random_id(const char *prefix)
{
  return g_strdup_printf("%s%08x%04x", prefix, g_random_int(), g_random_int() & 0xffff);
}

static guint32
random_ssrc(void)
{
  guint32 v;
  do
    v = g_random_int();
  while (v == 0);
  return v;
}

static void
flush_counters(MediaRoom *room)
{
  for (guint i = 0; i < MEDIA_COUNTER_N_; i++) {
    if (room->counters[i]) {
      __atomic_add_fetch(&room->engine->counters[i], room->counters[i], __ATOMIC_RELAXED);
      room->counters[i] = 0;
    }
  }
  for (guint k = 0; k < 2; k++) {
    for (guint i = 0; i < MEDIA_DELAY_BUCKETS; i++) {
      if (room->delay_buckets[k][i]) {
        __atomic_add_fetch(&room->engine->delay_buckets[k][i], room->delay_buckets[k][i],
                           __ATOMIC_RELAXED);
        room->delay_buckets[k][i] = 0;
      }
    }
    __atomic_add_fetch(&room->engine->delay_sum_us[k], room->delay_sum_us[k], __ATOMIC_RELAXED);
    room->delay_sum_us[k] = 0;
  }
}

/* Peer stats are cumulative per peer; the room keeps the part already
 * flushed so that only deltas reach the engine. */
static void
account_peer(MediaRoom *room, ChorusPeer *peer, ChorusPeerStats *seen)
{
  if (peer == NULL)
    return;
  ChorusPeerStats now;
  chorus_peer_get_stats(peer, &now);
  room->counters[MEDIA_COUNTER_SRTP_FAILED] += now.srtp_unprotect_failed - seen->srtp_unprotect_failed;
  room->counters[MEDIA_COUNTER_UNKNOWN_DATAGRAMS] += now.unknown_dropped - seen->unknown_dropped;
  room->counters[MEDIA_COUNTER_DTLS_GARBAGE] += now.dtls_garbage - seen->dtls_garbage;
  room->counters[MEDIA_COUNTER_SEND_FAILED] += now.send_failed - seen->send_failed;
  *seen = now;
}

/* The connected-peers gauge follows each peer's own flag: up once when it
 * connects, down once when it fails, closes or is freed. */
static void
set_connected(MediaRoom *room, gboolean *flag, gboolean connected)
{
  if (*flag == connected)
    return;
  *flag = connected;
  g_atomic_int_add(&room->engine->peers_connected, connected ? 1 : -1);
}

/* Frees the peer in @slot after counting what it has not reported yet. */
static void
drop_peer(MediaRoom *room, ChorusPeer **slot, ChorusPeerStats *seen, gboolean *connected)
{
  if (*slot == NULL)
    return;
  account_peer(room, *slot, seen);
  set_connected(room, connected, FALSE);
  g_clear_pointer(slot, chorus_peer_free);
  memset(seen, 0, sizeof(*seen));
}

/* ---- uptracks and downtracks ------------------------------------------------ */

static void downtrack_detach(Downtrack *d);
static void maybe_offer(MediaPart *part);

static void
downtrack_free(Downtrack *d)
{
  if (d->mid != NULL && chorus_rtp_munger_is_started(&d->munger)) {
    /* Remembered for a track that takes over this m-line (and SSRC). */
    MediaPart *part = d->sub;
    guint k = part->retired_next++ % G_N_ELEMENTS(part->retired);
    part->retired[k].ssrc = d->ssrc;
    part->retired[k].last_seq = chorus_rtp_munger_get_last_seq(&d->munger);
    part->retired[k].last_ts = chorus_rtp_munger_get_last_ts(&d->munger);
    part->retired[k].last_us = d->munger.last_us;
    part->retired[k].rtx_seq = d->rtx_seq;
  }
  downtrack_detach(d);
  g_free(d->track_id);
  g_free(d->publisher_id);
  g_free(d->mid);
  g_free(d->quality);
  g_free(d);
}

static void
downtrack_detach(Downtrack *d)
{
  if (d->up) {
    g_ptr_array_remove_fast(d->up->downtracks, d);
    d->up = NULL;
  }
}

static void
uptrack_free(Uptrack *up)
{
  media_relay_source_gone(up);      /* PK: relays into other rooms stop */
  media_relay_destination_gone(up); /* PK: this was another room's track */
  /* Voice rooms: slots showing this track go empty (they stay). */
  media_voice_uptrack_removed(up->owner->room, up);
  /* Subscribers lose this track: their downtracks go, and each affected
   * subscriber gets a new offer without it. */
  while (up->downtracks->len > 0) {
    Downtrack *d = g_ptr_array_index(up->downtracks, up->downtracks->len - 1);
    MediaPart *sub = d->sub;
    g_ptr_array_remove(sub->downtracks, d); /* frees d, which detaches */
    sub->offer_dirty = TRUE;
    maybe_offer(sub);
  }
  g_ptr_array_unref(up->downtracks);
  g_hash_table_remove(up->owner->room->tracks, up->id);
  chorus_sdp_payload_free(up->codec);
  for (guint i = 0; i < MEDIA_MAX_LAYERS; i++) {
    g_free(up->rids[i]);
    g_free(up->rings[i]);
    g_clear_pointer(&up->nacks[i], chorus_nack_generator_free);
    g_clear_pointer(&up->rx[i], chorus_rtp_receive_stats_free);
  }
  g_free(up->mid);
  g_free(up->id);
  g_free(up);
}

guint
media_quality_to_layer(const char *quality, guint n_layers)
{
  if (n_layers <= 1)
    return 0;
  if (g_strcmp0(quality, "high") == 0)
    return n_layers - 1;
  /* "auto" (until per-subscriber bandwidth allocation) starts at the
   * middle layer: good enough for a viewer's tile or full screen on most
   * links, and when it does not flow (a publisher short of bandwidth
   * sends only the lowest) the layer check falls back within a second. */
  if (g_strcmp0(quality, "medium") == 0 || g_strcmp0(quality, "auto") == 0 || quality == NULL)
    return n_layers / 2;
  return 0; /* "low" */
}

static Downtrack *
find_downtrack(MediaPart *part, const char *track)
{
  for (guint i = 0; i < part->downtracks->len; i++) {
    Downtrack *d = g_ptr_array_index(part->downtracks, i);
    if (g_strcmp0(d->track_id, track) == 0)
      return d;
  }
  return NULL;
}

/* ---- participants -------------------------------------------------------------- */

static void
part_free(MediaPart *part)
{
  drop_peer(part->room, &part->pub, &part->pub_seen, &part->pub_connected);
  drop_peer(part->room, &part->sub, &part->sub_seen, &part->sub_connected);
  g_clear_pointer(&part->twcc, chorus_twcc_recorder_free);
  g_clear_pointer(&part->uptracks, g_ptr_array_unref);   /* uptrack_free */
  g_clear_pointer(&part->downtracks, g_ptr_array_unref); /* downtrack_free */
  g_clear_pointer(&part->offerer, chorus_sdp_offerer_free);
  g_free(part->id);
  g_free(part);
}

MediaPart *
media_part_get(MediaRoom *room, const char *id, gboolean create)
{
  MediaPart *part = g_hash_table_lookup(room->parts, id);
  if (part || !create)
    return part;
  part = g_new0(MediaPart, 1);
  part->room = room;
  part->id = g_strdup(id);
  part->uptracks = g_ptr_array_new_with_free_func((GDestroyNotify)uptrack_free);
  part->downtracks = g_ptr_array_new_with_free_func((GDestroyNotify)downtrack_free);
  part->pub_session_id = ((guint64)g_random_int() << 20) ^ g_random_int();
  g_hash_table_insert(room->parts, part->id, part);
  return part;
}

/* ---- peer callbacks -------------------------------------------------------------- */

/* Pending in the room's teardowns until it runs; a room freed first
 * destroys it, so it never sees a freed room. */
typedef struct {
  MediaRoom *room;
  GSource *source;
  char *participant;
  ChorusMediaTarget target;
  char *reason;
} PeerTeardown;

static void
peer_teardown_free(gpointer data)
{
  PeerTeardown *t = data;
  g_ptr_array_remove_fast(t->room->teardowns, t->source);
  g_free(t->participant);
  g_free(t->reason);
  g_free(t);
}

static void
close_publisher(MediaPart *part, const char *reason)
{
  MediaRoom *room = part->room;
  for (guint i = 0; i < part->uptracks->len; i++) {
    Uptrack *up = g_ptr_array_index(part->uptracks, i);
    media_emit_track_gone(room, part->id, up->id);
  }
  g_ptr_array_set_size(part->uptracks, 0);
  drop_peer(room, &part->pub, &part->pub_seen, &part->pub_connected);
  g_clear_pointer(&part->twcc, chorus_twcc_recorder_free);
  media_emit_peer_closed(room, part->id, CHORUS_MEDIA_PUBLISHER, reason);
}

static void
close_subscriber(MediaPart *part, const char *reason)
{
  g_ptr_array_set_size(part->downtracks, 0);
  memset(part->slot_downtracks, 0, sizeof(part->slot_downtracks));
  drop_peer(part->room, &part->sub, &part->sub_seen, &part->sub_connected);
  g_clear_pointer(&part->offerer, chorus_sdp_offerer_free);
  part->offer_dirty = FALSE;
  media_emit_peer_closed(part->room, part->id, CHORUS_MEDIA_SUBSCRIBER, reason);
}

/* A failed peer is torn down from an idle callback: its own callback is on
 * the stack when it reports the failure. The teardown looks the
 * participant up again, since it may have left meanwhile. */
static gboolean
run_teardown(gpointer data)
{
  PeerTeardown *t = data;
  MediaPart *part = media_part_get(t->room, t->participant, FALSE);
  if (part == NULL)
    return G_SOURCE_REMOVE;
  if (t->target == CHORUS_MEDIA_PUBLISHER && part->pub)
    close_publisher(part, t->reason);
  else if (t->target == CHORUS_MEDIA_SUBSCRIBER && part->sub)
    close_subscriber(part, t->reason);
  return G_SOURCE_REMOVE;
}

static void
schedule_teardown(MediaPart *part, ChorusMediaTarget target, const char *reason)
{
  PeerTeardown *t = g_new0(PeerTeardown, 1);
  t->room = part->room;
  t->participant = g_strdup(part->id);
  t->target = target;
  t->reason = g_strdup(reason);
  t->source = g_idle_source_new();
  g_source_set_callback(t->source, run_teardown, t, peer_teardown_free);
  g_ptr_array_add(part->room->teardowns, t->source);
  g_source_attach(t->source, part->room->context);
  g_source_unref(t->source);
}

static void
request_keyframes_for_subscriber(MediaPart *part, gint64 now_us)
{
  for (guint i = 0; i < part->downtracks->len; i++) {
    Downtrack *d = g_ptr_array_index(part->downtracks, i);
    if (d->up && d->negotiated && d->sel.need_keyframe)
      media_downtrack_kickoff(d, now_us);
  }
}

static void
on_peer_state(ChorusPeer *peer, ChorusPeerState state, const char *reason, gpointer user_data)
{
  MediaPart *part = user_data;
  gboolean is_pub = peer == part->pub;
  gboolean *connected = is_pub ? &part->pub_connected : &part->sub_connected;
  set_connected(part->room, connected, state == CHORUS_PEER_STATE_CONNECTED);
  if (state == CHORUS_PEER_STATE_CONNECTED) {
    g_debug("room %s: %s %s connected (%s)", part->room->name, part->id,
            is_pub ? "publisher" : "subscriber",
            chorus_srtp_profile_to_string(chorus_peer_get_srtp_profile(peer)));
    if (!is_pub)
      request_keyframes_for_subscriber(part, g_get_monotonic_time());
    return;
  }
  if (state != CHORUS_PEER_STATE_FAILED && state != CHORUS_PEER_STATE_CLOSED)
    return;
  part->room->counters[MEDIA_COUNTER_PEERS_FAILED] += state == CHORUS_PEER_STATE_FAILED;
  g_message("room %s: %s %s PeerConnection %s: %s", part->room->name, part->id,
            is_pub ? "publisher" : "subscriber", chorus_peer_state_to_string(state),
            reason ? reason : "");
  schedule_teardown(part, is_pub ? CHORUS_MEDIA_PUBLISHER : CHORUS_MEDIA_SUBSCRIBER,
                    reason ? reason : chorus_peer_state_to_string(state));
}

static void
on_pub_rtp(ChorusPeer *peer, guint8 *buf, gsize len, gint64 now_us, gpointer user_data)
{
  media_forward_publisher_rtp(user_data, buf, len, now_us);
}

static void
on_pub_rtcp(ChorusPeer *peer, guint8 *buf, gsize len, gint64 now_us, gpointer user_data)
{
  media_forward_publisher_rtcp(user_data, buf, len, now_us);
}

static void
on_sub_rtcp(ChorusPeer *peer, guint8 *buf, gsize len, gint64 now_us, gpointer user_data)
{
  media_forward_subscriber_rtcp(user_data, buf, len, now_us);
}

static ChorusPeer *
make_peer(MediaPart *part, gboolean offerer, GError **error)
{
  static const ChorusPeerCallbacks pub_cb = {
    .state_changed = on_peer_state,
    .rtp = on_pub_rtp,
    .rtcp = on_pub_rtcp,
  };
  static const ChorusPeerCallbacks sub_cb = {
    .state_changed = on_peer_state,
    .rtcp = on_sub_rtcp,
  };
  MediaRoom *room = part->room;
  ChorusPeerConfig config = room->engine->peer_config;
  if (offerer)
    config.test_drop_rtp_out_permille = room->engine->test_subscriber_loss_permille;
  else
    config.test_drop_rtp_in_permille = room->engine->test_publisher_loss_permille;
  g_autoptr(ChorusPeer) peer = chorus_peer_new(room->context, &config, offerer,
                                               offerer ? &sub_cb : &pub_cb, part, error);
  if (peer == NULL || !chorus_peer_gather(peer, error))
    return NULL;
  return g_steal_pointer(&peer);
}

/* Our side of the SDP from @peer's transport (strings borrowed from it). */
static void
local_params(ChorusPeer *peer, ChorusMediaEngine *engine, ChorusSdpLocalParams *lp,
             GPtrArray **candidates)
{
  const char *ufrag, *pwd, *fp;
  gboolean done = FALSE;
  chorus_peer_get_local_params(peer, &ufrag, &pwd, &fp, candidates, &done);
  g_ptr_array_add(*candidates, NULL);
  *lp = (ChorusSdpLocalParams){
    .ice_ufrag = ufrag,
    .ice_pwd = pwd,
    .fingerprint_sha256 = fp,
    .candidates = (const char *const *)(*candidates)->pdata,
    .end_of_candidates = done,
    .ice_lite = engine->config->ice_lite,
  };
}

/* ---- room ------------------------------------------------------------------- */

/* Called by the worker's one timer every CHORUS_WORKER_TICK_US. */
static void
media_room_tick(gpointer data, gint64 now_us)
{
  MediaRoom *room = data;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, room->parts);
  gboolean reports = now_us - room->last_reports_us >= G_USEC_PER_SEC;
  if (reports)
    room->last_reports_us = now_us;
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    MediaPart *part = value;
    media_publisher_feedback(part, now_us);
    if (!reports)
      continue;
    media_reports(part, now_us);
    for (guint i = 0; i < part->downtracks->len; i++)
      media_downtrack_check_layers(g_ptr_array_index(part->downtracks, i), now_us);
  }
  media_voice_tick(room, now_us);
  if (now_us - room->last_flush_us < G_USEC_PER_SEC)
    return;
  room->last_flush_us = now_us;
  g_hash_table_iter_init(&it, room->parts);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    MediaPart *part = value;
    account_peer(room, part->pub, &part->pub_seen);
    account_peer(room, part->sub, &part->sub_seen);
  }
  flush_counters(room);
}

MediaRoom *
media_room_new(ChorusMediaEngine *engine, GMainContext *context, MediaLink *link,
               const char *name)
{
  MediaRoom *room = g_new0(MediaRoom, 1);
  room->engine = engine;
  room->context = context;
  room->link = media_link_ref(link);
  room->name = g_strdup(name);
  room->parts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)part_free);
  room->tracks = g_hash_table_new(g_str_hash, g_str_equal);
  room->teardowns = g_ptr_array_new();
  room->rtcp_ssrc = random_ssrc();
  room->worker = chorus_worker_get_current();
  room->last_flush_us = g_get_monotonic_time();
  if (room->worker)
    room->ticker_id = chorus_worker_add_ticker(room->worker, media_room_tick, room);
  return room;
}

void
media_room_free(MediaRoom *room)
{
  if (room == NULL)
    return;
  if (room->worker)
    chorus_worker_remove_ticker(room->worker, room->ticker_id);
  /* Each destroy runs peer_teardown_free, which takes it out of the array. */
  while (room->teardowns->len > 0)
    g_source_destroy(g_ptr_array_index(room->teardowns, room->teardowns->len - 1));
  g_ptr_array_unref(room->teardowns);
  /* Downtracks point at other participants' uptracks: drop them all first. */
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, room->parts);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    MediaPart *part = value;
    g_ptr_array_set_size(part->downtracks, 0);
  }
  g_hash_table_destroy(room->parts);
  g_hash_table_destroy(room->tracks);
  media_voice_free(room->voice);
  flush_counters(room);
  media_link_unref(room->link);
  g_free(room->name);
  g_free(room);
}

/* ---- publish --------------------------------------------------------------- */

static Uptrack *
find_uptrack_by_mid(MediaPart *part, const char *mid)
{
  for (guint i = 0; i < part->uptracks->len; i++) {
    Uptrack *up = g_ptr_array_index(part->uptracks, i);
    if (g_strcmp0(up->mid, mid) == 0)
      return up;
  }
  return NULL;
}

static void
uptrack_apply(Uptrack *up, const ChorusSdpMediaResult *m)
{
  g_clear_pointer(&up->codec, chorus_sdp_payload_free);
  up->codec = chorus_sdp_payload_copy(m->codec);
  if (up->codec->id == CHORUS_SDP_CODEC_OPUS) {
    /* Subscribers are offered one Opus configuration whoever publishes
     * (the stream describes itself; these parameters are receiver hints):
     * an m-line that carried one publisher's audio then carries another's
     * with the same payload type, which aiortc needs (it binds a reused
     * m-line to the payload types it first saw). */
    g_free(up->codec->fmtp);
    up->codec->fmtp = g_strdup(MEDIA_OPUS_FMTP);
  }
  up->rtx_pt = m->rtx_pt;
  up->red_pt = m->red_pt;
  memcpy(up->ext_ids, m->ext_ids, sizeof(up->ext_ids));
  up->n_layers = MAX(1u, MIN(m->rids->len, (guint)MEDIA_MAX_LAYERS));
  switch (m->codec->id) {
  case CHORUS_SDP_CODEC_VP8: up->rtp_codec = CHORUS_RTP_CODEC_VP8; break;
  case CHORUS_SDP_CODEC_VP9: up->rtp_codec = CHORUS_RTP_CODEC_VP9; break;
  case CHORUS_SDP_CODEC_H264: up->rtp_codec = CHORUS_RTP_CODEC_H264; break;
  case CHORUS_SDP_CODEC_AV1: up->rtp_codec = CHORUS_RTP_CODEC_AV1; break;
  default: up->rtp_codec = CHORUS_RTP_CODEC_OTHER; break;
  }
  /* NACK retries follow the publisher's RTT, learnt from its answers
   * (Chorus receives nothing the publisher reports on). */
  ChorusNackGeneratorConfig nack_config;
  chorus_nack_generator_config_init(&nack_config);
  nack_config.rtt_from_retransmissions = TRUE;
  /* Rings for video layers, allocated here (control plane), never per packet. */
  for (guint l = 0; l < MEDIA_MAX_LAYERS; l++) {
    gboolean want = up->kind == CHORUS_SDP_KIND_VIDEO && l < up->n_layers &&
                    up->rtp_codec != CHORUS_RTP_CODEC_OTHER;
    if (want && up->rings[l] == NULL)
      up->rings[l] = g_new0(MediaRing, 1);
    else if (!want)
      g_clear_pointer(&up->rings[l], g_free);
    /* NACKs only where the publisher can answer them with RTX. */
    gboolean nack = want && m->rtx_pt >= 0 && (m->codec->feedback & CHORUS_SDP_FB_NACK);
    if (nack && up->nacks[l] == NULL)
      up->nacks[l] = chorus_nack_generator_new(&nack_config);
    else if (!nack)
      g_clear_pointer(&up->nacks[l], chorus_nack_generator_free);
  }
  for (guint l = 0; l < MEDIA_MAX_LAYERS; l++) {
    g_clear_pointer(&up->rids[l], g_free);
    if (l < m->rids->len && l < MEDIA_MAX_LAYERS) {
      const ChorusSdpSimulcastLayer *layer = g_ptr_array_index(m->rids, l);
      up->rids[l] = g_strdup(layer->rid);
    }
  }
  /* Signalled SSRCs (aiortc, Chromium without simulcast; SIM order for
   * simulcast): without rids they name the layers in order. */
  for (guint l = 0; l < m->ssrcs->len && l < MEDIA_MAX_LAYERS; l++) {
    if (m->rids->len == 0 && l >= up->n_layers)
      break;
    up->ssrcs[l] = g_array_index(m->ssrcs, guint32, l);
    if (l < m->rtx_ssrcs->len)
      up->rtx_ssrcs[l] = g_array_index(m->rtx_ssrcs, guint32, l);
  }
}

static json_t *
uptrack_json(const Uptrack *up)
{
  json_t *rids = json_array();
  for (guint l = 0; l < MEDIA_MAX_LAYERS && up->rids[l]; l++)
    json_array_append_new(rids, json_string(up->rids[l]));
  return json_pack("{s:s, s:s, s:s, s:o}", "track", up->id, "mid", up->mid, "kind",
                   chorus_sdp_kind_to_string(up->kind), "simulcast", rids);
}

json_t *
media_publish(MediaRoom *room, const char *participant, const char *sdp, GError **error)
{
  MediaPart *part = media_part_get(room, participant, TRUE);
  gboolean created = FALSE;
  if (part->pub == NULL) {
    part->pub = make_peer(part, FALSE, error);
    if (part->pub == NULL) {
      g_prefix_error(error, "cannot create the publisher PeerConnection: ");
      return NULL;
    }
    created = TRUE;
  } else {
    /* A renegotiation with new ICE credentials is an ICE restart. */
    g_autoptr(ChorusSdpSession) offer = chorus_sdp_session_parse(sdp, error);
    if (offer == NULL)
      return NULL;
    const char *ufrag = NULL;
    for (guint i = 0; i < offer->media->len && ufrag == NULL; i++) {
      const ChorusSdpMedia *m = g_ptr_array_index(offer->media, i);
      if (chorus_sdp_media_is_used(m))
        ufrag = m->ice_ufrag;
    }
    const char *current = chorus_peer_get_remote_ufrag(part->pub);
    if (ufrag && current && g_strcmp0(ufrag, current) != 0 &&
        !chorus_peer_restart_ice(part->pub, error))
      return NULL;
  }
  g_autoptr(GPtrArray) candidates = NULL;
  ChorusSdpLocalParams lp;
  local_params(part->pub, room->engine, &lp, &candidates);
  lp.session_id = part->pub_session_id;
  lp.session_version = ++part->pub_version;
  /* RED over Opus is taken from publishers that offer it (browsers): passed
   * through to subscribers that negotiate it, reduced to the primary block
   * for the others (media-forward.c). */
  ChorusSdpAnswerOptions opts = { .no_red = FALSE };
  g_autoptr(ChorusSdpNegotiation) neg =
    chorus_sdp_negotiation_answer_offer(sdp, &lp, &opts, error);
  if (neg == NULL || !chorus_peer_set_remote(part->pub, &neg->transport, error)) {
    if (created)
      drop_peer(room, &part->pub, &part->pub_seen, &part->pub_connected);
    return NULL;
  }

  json_t *all = json_array(), *added = json_array(), *removed = json_array();
  for (guint i = 0; i < neg->media->len; i++) {
    const ChorusSdpMediaResult *m = g_ptr_array_index(neg->media, i);
    Uptrack *up = m->mid ? find_uptrack_by_mid(part, m->mid) : NULL;
    gboolean usable = m->accepted && m->codec &&
                      (m->kind == CHORUS_SDP_KIND_AUDIO || m->kind == CHORUS_SDP_KIND_VIDEO) &&
                      m->direction == CHORUS_SDP_DIRECTION_RECVONLY;
    if (!usable) {
      if (up) {
        json_array_append_new(removed, json_string(up->id));
        g_ptr_array_remove(part->uptracks, up);
      }
      continue;
    }
    if (up == NULL) {
      up = g_new0(Uptrack, 1);
      up->id = random_id("t_");
      up->owner = part;
      up->mid = g_strdup(m->mid);
      up->kind = m->kind;
      up->downtracks = g_ptr_array_new();
      for (guint l = 0; l < MEDIA_MAX_LAYERS; l++)
        chorus_keyframe_throttle_init(&up->pli[l], CHORUS_KEYFRAME_THROTTLE_INTERVAL_US);
      g_ptr_array_add(part->uptracks, up);
      g_hash_table_insert(room->tracks, up->id, up);
      uptrack_apply(up, m);
      media_voice_uptrack_added(room, up);
      json_array_append_new(added, uptrack_json(up));
    } else {
      uptrack_apply(up, m);
    }
    json_array_append_new(all, uptrack_json(up));
    if (up->ext_ids[CHORUS_SDP_EXT_TRANSPORT_CC] && part->twcc == NULL) {
      part->twcc_ext_id = up->ext_ids[CHORUS_SDP_EXT_TRANSPORT_CC];
      part->twcc = chorus_twcc_recorder_new(CHORUS_TWCC_RECORDER_DEFAULT_INTERVAL_US);
      chorus_rtcp_twcc_builder_init(&part->twcc_builder, room->rtcp_ssrc, 0,
                                    MEDIA_PKT_BYTES - 200);
    }
    if (up->kind == CHORUS_SDP_KIND_VIDEO && (up->codec->feedback & CHORUS_SDP_FB_GOOG_REMB) &&
        !part->remb_enabled) {
      part->remb_enabled = TRUE;
      chorus_remb_controller_init(&part->remb, NULL);
    }
  }
  if (part->twcc)
    part->remb_enabled = FALSE; /* transport-wide CC feedback drives its estimate */
  return json_pack("{s:s, s:o, s:o, s:o, s:b}", "sdp", neg->sdp, "tracks", all, "new_tracks",
                   added, "removed_tracks", removed, "end_of_candidates", lp.end_of_candidates);
}

gboolean
media_unpublish(MediaRoom *room, const char *participant, const char *track, GError **error)
{
  MediaPart *part = media_part_get(room, participant, FALSE);
  Uptrack *up = g_hash_table_lookup(room->tracks, track);
  if (part == NULL || up == NULL || up->owner != part) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_NOT_FOUND, "no track %s published by %s",
                track, participant);
    return FALSE;
  }
  g_ptr_array_remove(part->uptracks, up);
  return TRUE;
}

/* ---- subscribe ------------------------------------------------------------- */

void
media_downtrack_build_ext_map(Downtrack *d)
{
  memset(d->ext_map, 0, sizeof(d->ext_map));
  if (d->up == NULL)
    return;
  /* Only extensions whose value means the same for the subscriber pass:
   * mid/rid name the publisher's m-line and layer, and transport-wide
   * sequence numbers belong to each transport (stamped per subscriber by
   * the forwarding engine's pacer later). */
  static const ChorusSdpExtension passed[] = {
    CHORUS_SDP_EXT_AUDIO_LEVEL,
    CHORUS_SDP_EXT_ABS_SEND_TIME,
    CHORUS_SDP_EXT_VIDEO_ORIENTATION,
  };
  for (guint i = 0; i < G_N_ELEMENTS(passed); i++) {
    guint8 in = d->up->ext_ids[passed[i]], out = d->sub_ext_ids[passed[i]];
    if (in && out)
      d->ext_map[in] = out;
  }
}

/* A new downtrack placed on a recycled m-line takes over that m-line's
 * SSRC (see chorus_sdp_offerer_create_offer) and continues its sequence
 * and timeline, so the receiver sees one stream going on. */
static void
downtrack_adopt_ssrc(Downtrack *d, guint32 ssrc, guint32 rtx_ssrc)
{
  if (rtx_ssrc != 0)
    d->rtx_ssrc = rtx_ssrc;
  if (ssrc == d->ssrc)
    return;
  d->ssrc = ssrc;
  MediaPart *part = d->sub;
  for (guint k = 0; k < G_N_ELEMENTS(part->retired); k++) {
    if (part->retired[k].ssrc != ssrc)
      continue;
    chorus_rtp_munger_continue_from(&d->munger, part->retired[k].last_seq, part->retired[k].last_ts,
                                    part->retired[k].last_us);
    d->rtx_seq = part->retired[k].rtx_seq;
    part->retired[k].ssrc = 0;
    return;
  }
}

static void
maybe_offer(MediaPart *part)
{
  MediaRoom *room = part->room;
  if (part->sub == NULL || part->offerer == NULL)
    return;
  if (!part->offer_dirty && !part->sub_restart_pending)
    return;
  if (chorus_sdp_offerer_has_pending_offer(part->offerer))
    return; /* goes into the next offer, after the answer */

  g_autoptr(GArray) tracks = g_array_new(FALSE, TRUE, sizeof(ChorusSdpTrack));
  for (guint i = 0; i < part->downtracks->len; i++) {
    Downtrack *d = g_ptr_array_index(part->downtracks, i);
    if (d->up == NULL && d->slot < 0)
      continue;
    ChorusSdpTrack t = {
      .track_key = d->track_id,
      .kind = d->up ? d->up->kind : CHORUS_SDP_KIND_AUDIO,
      .codec = d->slot >= 0 ? media_voice_slot_codec(room) : d->up->codec,
      .rtx = d->up && d->up->rings[0] != NULL, /* video: NACKs answered from the ring */
      /* Audio RED passed through where the publisher sends it (and on
       * voice slots, whose speakers may); reduced to Opus for subscribers
       * that do not take it. */
      .red = d->slot >= 0 || (d->up && d->up->red_pt >= 0),
      .ssrc = d->ssrc,
      .rtx_ssrc = d->rtx_ssrc,
      .stream_id = d->slot >= 0 ? "chorus-slots" : d->publisher_id,
      .track_id = d->track_id,
    };
    g_array_append_val(tracks, t);
  }
  g_autoptr(GPtrArray) candidates = NULL;
  ChorusSdpLocalParams lp;
  local_params(part->sub, room->engine, &lp, &candidates);
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusSdpNegotiation) neg = chorus_sdp_offerer_create_offer(
    part->offerer, (const ChorusSdpTrack *)(void *)tracks->data, tracks->len, &lp, &error);
  if (neg == NULL) {
    g_warning("room %s: cannot make an offer for %s: %s", room->name, part->id, error->message);
    return;
  }
  part->offer_dirty = FALSE;
  part->sub_restart_pending = FALSE;

  json_t *mapping = json_array();
  for (guint i = 0; i < neg->media->len; i++) {
    const ChorusSdpMediaResult *m = g_ptr_array_index(neg->media, i);
    if (m->track_key == NULL)
      continue;
    Downtrack *d = find_downtrack(part, m->track_key);
    if (d == NULL)
      continue;
    if (d->mid == NULL && m->ssrcs->len > 0)
      downtrack_adopt_ssrc(d, g_array_index(m->ssrcs, guint32, 0),
                           m->rtx_ssrcs->len > 0 ? g_array_index(m->rtx_ssrcs, guint32, 0) : 0);
    g_free(d->mid);
    d->mid = g_strdup(m->mid);
    if (d->slot >= 0) {
      /* Voice rooms: who speaks on a slot changes without an offer (the
       * `speakers` notification says who is loud). */
      json_array_append_new(mapping, json_pack("{s:s, s:s, s:n, s:s, s:i}", "track", d->track_id,
                                               "mid", m->mid, "participant", "kind", "audio",
                                               "slot", d->slot));
      continue;
    }
    json_array_append_new(mapping, json_pack("{s:s, s:s, s:s, s:s}", "track", d->track_id, "mid",
                                             m->mid, "participant", d->publisher_id, "kind",
                                             chorus_sdp_kind_to_string(d->up->kind)));
  }
  json_t *params = json_pack("{s:s, s:s, s:I, s:o}", "participant", part->id, "sdp", neg->sdp,
                             "version", (json_int_t)chorus_sdp_offerer_get_version(part->offerer),
                             "tracks", mapping);
  media_emit_offer(room, part->id, params);
  if (lp.end_of_candidates)
    media_emit_trickle(room, part->id, CHORUS_MEDIA_SUBSCRIBER, NULL, NULL);
}

/* A downtrack of @sub for @up; @up NULL: a voice room's audio slot (its
 * source comes and goes; it offers the room's slot codec). */
Downtrack *
media_downtrack_new(MediaPart *sub, Uptrack *up, const char *quality)
{
  Downtrack *d = g_new0(Downtrack, 1);
  d->up = up;
  d->sub = sub;
  d->slot = -1;
  d->track_id = up ? g_strdup(up->id) : NULL;
  d->publisher_id = up ? g_strdup(up->owner->id) : NULL;
  d->ssrc = random_ssrc();
  d->rtx_ssrc = random_ssrc();
  d->rtx_pt = -1;
  d->red_pt = -1;
  d->pt = up ? up->codec->pt : 0;
  d->quality = g_strdup(quality ? quality : "auto");
  gboolean video = up && up->kind == CHORUS_SDP_KIND_VIDEO;
  chorus_simulcast_selector_init(&d->sel, up ? media_quality_to_layer(d->quality, up->n_layers) : 0,
                                 video, video && up->rtp_codec != CHORUS_RTP_CODEC_OTHER);
  chorus_rtp_munger_init(&d->munger);
  chorus_resend_limiter_init(&d->resends);
  return d;
}

void
media_subscribe_set(MediaRoom *room, const char *participant, GArray *subs)
{
  MediaPart *part = media_part_get(room, participant, TRUE);
  gboolean changed = FALSE;

  /* Drop downtracks no longer wanted. */
  for (guint i = part->downtracks->len; i-- > 0;) {
    Downtrack *d = g_ptr_array_index(part->downtracks, i);
    gboolean wanted = FALSE;
    if (d->slot >= 0)
      continue; /* a voice room's slots stay for the PeerConnection's life */
    for (guint j = 0; j < subs->len && !wanted; j++)
      wanted = g_strcmp0(g_array_index(subs, MediaSub, j).track, d->track_id) == 0;
    if (!wanted || d->up == NULL) {
      g_ptr_array_remove_index(part->downtracks, i);
      changed = TRUE;
    }
  }
  /* Add the new ones (tracks that exist and are not the subscriber's own). */
  for (guint j = 0; j < subs->len; j++) {
    const MediaSub *s = &g_array_index(subs, MediaSub, j);
    Uptrack *up = g_hash_table_lookup(room->tracks, s->track);
    /* In voice rooms audio comes through the subscriber's slots. */
    if (up == NULL || up->owner == part || up->codec == NULL /* PK relay not described yet */ ||
        (room->voice && up->kind == CHORUS_SDP_KIND_AUDIO))
      continue;
    Downtrack *d = find_downtrack(part, s->track);
    if (d) {
      media_downtrack_set_paused(d, s->paused > 0, g_get_monotonic_time());
      continue;
    }
    d = media_downtrack_new(part, up, s->quality);
    d->paused = s->paused > 0;
    g_ptr_array_add(up->downtracks, d);
    g_ptr_array_add(part->downtracks, d);
    changed = TRUE;
  }
  changed |= media_voice_subscribe(part);
  if (!changed)
    return;
  part->offer_dirty = TRUE;
  if (part->sub == NULL) {
    g_autoptr(GError) error = NULL;
    part->sub = make_peer(part, TRUE, &error);
    if (part->sub == NULL) {
      g_warning("room %s: cannot create the subscriber PeerConnection of %s: %s", room->name,
                part->id, error->message);
      media_emit_peer_closed(room, part->id, CHORUS_MEDIA_SUBSCRIBER, error->message);
      g_ptr_array_set_size(part->downtracks, 0);
      memset(part->slot_downtracks, 0, sizeof(part->slot_downtracks));
      return;
    }
    part->offerer = chorus_sdp_offerer_new(((guint64)g_random_int() << 20) ^ g_random_int());
  }
  maybe_offer(part);
}

gboolean
media_subscription_update(MediaRoom *room, const char *participant, const char *track,
                          const char *quality, int paused, GError **error)
{
  MediaPart *part = media_part_get(room, participant, FALSE);
  Downtrack *d = part ? find_downtrack(part, track) : NULL;
  if (d == NULL || d->up == NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_NOT_FOUND, "%s is not subscribed to track %s",
                participant, track);
    return FALSE;
  }
  if (paused >= 0)
    media_downtrack_set_paused(d, paused > 0, g_get_monotonic_time());
  if (quality) {
    g_free(d->quality);
    d->quality = g_strdup(quality);
    guint layer = media_quality_to_layer(quality, d->up->n_layers);
    if (chorus_simulcast_selector_set_target(&d->sel, layer)) /* on that layer's next keyframe */
      media_request_keyframe(d->up, layer, g_get_monotonic_time());
  }
  return TRUE;
}

gboolean
media_answer(MediaRoom *room, const char *participant, const char *sdp, guint64 version,
             GError **error)
{
  MediaPart *part = media_part_get(room, participant, FALSE);
  if (part == NULL || part->offerer == NULL || !chorus_sdp_offerer_has_pending_offer(part->offerer)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_CONFLICT, "no offer is outstanding for %s",
                participant);
    return FALSE;
  }
  guint64 current = chorus_sdp_offerer_get_version(part->offerer);
  if (version != 0 && version != current) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_CONFLICT,
                "answer is for offer version %" G_GUINT64_FORMAT
                ", the outstanding offer is version %" G_GUINT64_FORMAT,
                version, current);
    return FALSE;
  }
  g_autoptr(ChorusSdpNegotiation) neg = chorus_sdp_offerer_apply_answer(part->offerer, sdp, error);
  if (neg == NULL)
    return FALSE;
  if (!chorus_peer_set_remote(part->sub, &neg->transport, error))
    return FALSE;
  for (guint i = 0; i < neg->media->len; i++) {
    const ChorusSdpMediaResult *m = g_ptr_array_index(neg->media, i);
    if (m->track_key == NULL)
      continue;
    Downtrack *d = find_downtrack(part, m->track_key);
    if (d == NULL || (d->up == NULL && d->slot < 0))
      continue;
    d->negotiated = m->accepted && m->codec != NULL;
    if (d->negotiated) {
      d->pt = m->codec->pt;
      d->rtx_pt = m->rtx_pt;
      d->red_pt = m->red_pt;
      memcpy(d->sub_ext_ids, m->ext_ids, sizeof(d->sub_ext_ids));
      media_downtrack_build_ext_map(d);
    }
  }
  /* New video downtracks: ask for a keyframe now, so that it is in the
   * ring by the time the subscriber connects (or replay one if it already
   * is connected). */
  request_keyframes_for_subscriber(part, g_get_monotonic_time());
  maybe_offer(part); /* changes made while this offer was out */
  return TRUE;
}

gboolean
media_trickle(MediaRoom *room, const char *participant, ChorusMediaTarget target,
              const char *candidate, const char *ufrag, GError **error)
{
  MediaPart *part = media_part_get(room, participant, FALSE);
  ChorusPeer *peer = part ? (target == CHORUS_MEDIA_PUBLISHER ? part->pub : part->sub) : NULL;
  if (peer == NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_NOT_FOUND,
                "%s has no %s PeerConnection (publish or subscribe first)", participant,
                chorus_media_target_to_string(target));
    return FALSE;
  }
  if (!chorus_peer_add_remote_candidate(peer, candidate, ufrag, error)) {
    if (error && *error)
      (*error)->code = CHORUS_ERROR_INVALID_PARAMS;
    return FALSE;
  }
  return TRUE;
}

gboolean
media_ice_restart(MediaRoom *room, const char *participant, GError **error)
{
  MediaPart *part = media_part_get(room, participant, FALSE);
  if (part == NULL || part->sub == NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_NOT_FOUND,
                "%s has no subscriber PeerConnection", participant);
    return FALSE;
  }
  if (!chorus_peer_restart_ice(part->sub, error))
    return FALSE;
  part->sub_restart_pending = TRUE;
  maybe_offer(part);
  return TRUE;
}

void
media_track_set_muted(MediaRoom *room, const char *track, gboolean muted)
{
  Uptrack *up = g_hash_table_lookup(room->tracks, track);
  if (up) {
    up->muted = muted;
    media_voice_set_muted(room, up); /* a muted speaker leaves the slots */
  }
}

void
media_participant_remove(MediaRoom *room, const char *participant)
{
  MediaPart *part = media_part_get(room, participant, FALSE);
  if (part == NULL)
    return;
  g_ptr_array_set_size(part->downtracks, 0);
  g_ptr_array_set_size(part->uptracks, 0); /* renegotiates its subscribers */
  g_hash_table_remove(room->parts, participant);
}
