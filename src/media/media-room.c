/* Main-thread side of media: the engine, the room handle, and the messages
 * between the main thread and a room's worker. */
#define G_LOG_DOMAIN "chorus-media"

#include <string.h>

#include "core/ctx-mux.h"
#include "core/error.h"
#include "core/metrics.h"
#include "media/media-private.h"
#include "webrtc/send-batch.h"
#include "webrtc/certificate.h"


struct _ChorusMediaRoom {
  ChorusMediaEngine *engine;
  ChorusWorker *worker;
  MediaLink *link;
  MediaRoom *wroom; /* owned by the worker; freed there by the destroy message */
};

const char *
chorus_media_target_to_string(ChorusMediaTarget target)
{
  return target == CHORUS_MEDIA_PUBLISHER ? "publisher" : "subscriber";
}

gboolean
chorus_media_target_from_string(const char *s, ChorusMediaTarget *out)
{
  if (g_strcmp0(s, "publisher") == 0)
    *out = CHORUS_MEDIA_PUBLISHER;
  else if (g_strcmp0(s, "subscriber") == 0)
    *out = CHORUS_MEDIA_SUBSCRIBER;
  else
    return FALSE;
  return TRUE;
}

/* ---- engine ------------------------------------------------------------ */

static void collect(GString *out, gpointer user_data);

ChorusMediaEngine *
chorus_media_engine_new(const ChorusConfig *config, GError **error)
{
  g_autoptr(ChorusCertificate) cert = NULL;
  if (config->certificate_file)
    cert = chorus_certificate_new_from_files(config->certificate_file, config->private_key_file,
                                             error);
  else
    cert = chorus_certificate_new_generated(error);
  if (cert == NULL)
    return NULL;
  ChorusDtlsContext *dtls = chorus_dtls_context_new(cert, error);
  if (dtls == NULL)
    return NULL;

  ChorusMediaEngine *engine = g_new0(ChorusMediaEngine, 1);
  engine->config = config;
  engine->local_addresses = g_strdupv(config->interfaces);
  engine->peer_config.dtls = dtls;
  engine->peer_config.ice = (ChorusIceConfig){
    .lite = config->ice_lite,
    .local_addresses = (const char *const *)engine->local_addresses,
    .public_ip = config->public_ip,
    .port_min = config->port_min,
    .port_max = config->port_max,
  };
  engine->peer_config.direct_send = config->direct_send;
  engine->peer_config.batch_send = config->batch_send;
  /* Loss shim for tests (netem is not available on our CI machines). */
  static const struct {
    const char *env;
    gsize offset;
  } shims[] = {
    { "CHORUS_TEST_PUBLISHER_LOSS_PCT", G_STRUCT_OFFSET(ChorusMediaEngine, test_publisher_loss_permille) },
    { "CHORUS_TEST_SUBSCRIBER_LOSS_PCT", G_STRUCT_OFFSET(ChorusMediaEngine, test_subscriber_loss_permille) },
  };
  for (guint i = 0; i < G_N_ELEMENTS(shims); i++) {
    const char *v = g_getenv(shims[i].env);
    if (v == NULL || *v == '\0')
      continue;
    double pct = g_ascii_strtod(v, NULL);
    guint permille = (guint)CLAMP(pct * 10.0, 0.0, 1000.0);
    G_STRUCT_MEMBER(guint, engine, shims[i].offset) = permille;
    g_warning("TEST LOSS SHIM: %s=%s: %.1f %% of RTP dropped at random; never set this in "
              "production", shims[i].env, v, permille / 10.0);
  }
  g_message("media: DTLS fingerprint sha-256 %s; ICE %s on %s, UDP ports %u-%u%s%s",
            chorus_dtls_context_get_fingerprint(dtls), config->ice_lite ? "lite" : "full",
            config->interfaces ? config->interfaces[0] : "all addresses", config->port_min,
            config->port_max, config->public_ip ? ", advertised as " : "",
            config->public_ip ? config->public_ip : "");
  return engine;
}

void
chorus_media_engine_free(ChorusMediaEngine *engine)
{
  if (engine == NULL)
    return;
  chorus_metrics_remove_collector(collect, engine);
  g_clear_pointer(&engine->peer_config.dtls, chorus_dtls_context_unref);
  g_strfreev(engine->local_addresses);
  g_free(engine);
}

const char *
chorus_media_engine_get_fingerprint(ChorusMediaEngine *engine)
{
  return chorus_dtls_context_get_fingerprint(engine->peer_config.dtls);
}

const gint64 media_delay_bounds_us[MEDIA_DELAY_BUCKETS - 1] = {
  5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000,
};

static const struct {
  const char *name;
  const char *help;
} counter_info[MEDIA_COUNTER_N_] = {
  [MEDIA_COUNTER_RTP_IN] = { "chorus_media_rtp_received_total", "RTP packets received from publishers (decrypted)." },
  [MEDIA_COUNTER_RTP_FORWARDED] = { "chorus_media_rtp_forwarded_total", "RTP packets sent to subscribers." },
  [MEDIA_COUNTER_RTCP_IN] = { "chorus_media_rtcp_received_total", "RTCP compound packets received." },
  [MEDIA_COUNTER_RTP_UNMATCHED] = { "chorus_media_rtp_unmatched_total", "RTP packets of no known track (dropped)." },
  [MEDIA_COUNTER_RTP_MALFORMED] = { "chorus_media_rtp_malformed_total", "Malformed RTP/RTCP after decryption (dropped)." },
  [MEDIA_COUNTER_RTX_DROPPED] = { "chorus_media_rtx_dropped_total", "Publisher retransmissions (RTX) dropped." },
  [MEDIA_COUNTER_SRTP_FAILED] = { "chorus_media_srtp_unprotect_failed_total", "SRTP/SRTCP packets failing authentication or replay checks." },
  [MEDIA_COUNTER_UNKNOWN_DATAGRAMS] = { "chorus_media_unknown_datagrams_total", "Datagrams that are neither DTLS nor RTP/RTCP (dropped)." },
  [MEDIA_COUNTER_DTLS_GARBAGE] = { "chorus_media_dtls_garbage_total", "DTLS-range datagrams that are not DTLS records (dropped)." },
  [MEDIA_COUNTER_SEND_FAILED] = { "chorus_media_send_failed_total", "Packets that could not be protected or sent." },
  [MEDIA_COUNTER_KEYFRAME_REQUESTS] = { "chorus_media_keyframe_requests_total", "PLIs sent to publishers." },
  [MEDIA_COUNTER_WAITING_KEYFRAME] = { "chorus_media_waiting_keyframe_dropped_total", "Video packets not forwarded while a subscriber waits for a keyframe." },
  [MEDIA_COUNTER_KEYFRAME_REPLAYS] = { "chorus_media_keyframe_replays_total", "Subscribers started at once from a keyframe that had just arrived." },
  [MEDIA_COUNTER_TWCC_FEEDBACK] = { "chorus_media_twcc_feedback_sent_total", "Transport-wide CC feedback packets sent to publishers." },
  [MEDIA_COUNTER_NACKS_SENT] = { "chorus_media_nacks_sent_total", "Sequence numbers NACKed to publishers." },
  [MEDIA_COUNTER_RTX_RECOVERED] = { "chorus_media_rtx_recovered_total", "Publisher retransmissions (RTX) unwrapped and forwarded." },
  [MEDIA_COUNTER_NACKS_RECEIVED] = { "chorus_media_nacks_received_total", "Sequence numbers subscribers NACKed." },
  [MEDIA_COUNTER_RETRANSMITTED] = { "chorus_media_retransmitted_total", "Packets resent to subscribers from history (RTX or plain)." },
  [MEDIA_COUNTER_RETRANSMIT_MISSED] = { "chorus_media_retransmit_missed_total", "NACKed packets no longer in history." },
  [MEDIA_COUNTER_RETRANSMIT_LIMITED] = { "chorus_media_retransmit_limited_total", "NACKed packets not resent: asked again within 15 ms, or the subscriber's resends would pass half its forwarded packets (plus a burst of 64)." },
  [MEDIA_COUNTER_PEERS_FAILED] = { "chorus_media_peers_failed_total", "PeerConnections that failed (ICE, consent, DTLS)." },
  [MEDIA_COUNTER_RELAY_DROPPED] = { "chorus_media_relay_dropped_total", "PK: packets dropped because a cross-room queue was full." },
  [MEDIA_COUNTER_REMB_SENT] = { "chorus_media_remb_sent_total", "REMB estimates sent to publishers without transport-wide CC." },
};

static void
collect(GString *out, gpointer user_data)
{
  ChorusMediaEngine *engine = user_data;
  for (guint i = 0; i < MEDIA_COUNTER_N_; i++) {
    chorus_metrics_append_sample(out, counter_info[i].name, "counter", counter_info[i].help,
                                 __atomic_load_n(&engine->counters[i], __ATOMIC_RELAXED));
  }
  chorus_metrics_append_header(out, "chorus_media_forward_delay_us", "histogram",
                               "Time from the kernel's receipt of a publisher's packet (its receive stamp: the time it waited in the socket counts) to sending it to a subscriber (us; with [media] batch_send, to queueing it: the batch goes out before the worker polls again).");
  static const char *const kinds[2] = { [MEDIA_DELAY_AUDIO] = "audio", [MEDIA_DELAY_VIDEO] = "video" };
  for (guint k = 0; k < 2; k++) {
    gint64 cumulative = 0;
    for (guint i = 0; i < MEDIA_DELAY_BUCKETS; i++) {
      cumulative += __atomic_load_n(&engine->delay_buckets[k][i], __ATOMIC_RELAXED);
      if (i + 1 < MEDIA_DELAY_BUCKETS)
        g_string_append_printf(out, "chorus_media_forward_delay_us_bucket{kind=\"%s\",le=\"%" G_GINT64_FORMAT "\"} %" G_GINT64_FORMAT "\n",
                               kinds[k], media_delay_bounds_us[i], cumulative);
      else
        g_string_append_printf(out, "chorus_media_forward_delay_us_bucket{kind=\"%s\",le=\"+Inf\"} %" G_GINT64_FORMAT "\n",
                               kinds[k], cumulative);
    }
    g_string_append_printf(out, "chorus_media_forward_delay_us_sum{kind=\"%s\"} %" G_GINT64_FORMAT "\n",
                           kinds[k], __atomic_load_n(&engine->delay_sum_us[k], __ATOMIC_RELAXED));
    g_string_append_printf(out, "chorus_media_forward_delay_us_count{kind=\"%s\"} %" G_GINT64_FORMAT "\n",
                           kinds[k], cumulative);
  }
  ChorusSendBatchStats batch;
  chorus_send_batch_get_totals(&batch);
  chorus_metrics_append_sample(out, "chorus_media_batched_packets_total", "counter",
                               "Media packets sent through the per-worker sendmmsg batches.",
                               (gint64)batch.packets);
  chorus_metrics_append_sample(out, "chorus_media_batch_syscalls_total", "counter",
                               "sendmmsg calls made by the batches (packets / calls = mean batch).",
                               (gint64)batch.syscalls);
  ChorusSubContextStats ctx;
  chorus_sub_context_get_totals(&ctx);
  chorus_metrics_append_sample(out, "chorus_ice_context_services_total", "counter",
                               "Iterations of the ICE agents' own contexts (socket readiness or a due libnice timer).",
                               (gint64)ctx.services);
  chorus_metrics_append_sample(out, "chorus_ice_context_timer_wakeups_total", "counter",
                               "ICE agent context iterations started by a due timer alone.",
                               (gint64)ctx.timer_wakeups);
  chorus_metrics_append_sample(out, "chorus_ice_read_yields_total", "counter",
                               "Turns in which a PeerConnection's socket still had data after 64 datagrams and the worker moved on to the others first (a flood, or a very large burst).",
                               (gint64)ctx.read_yields);
  chorus_metrics_append_sample(out, "chorus_media_peers_connected", "gauge",
                               "PeerConnections with DTLS established.",
                               g_atomic_int_get(&engine->peers_connected));
}

void
chorus_media_engine_register_metrics(ChorusMediaEngine *engine)
{
  chorus_metrics_add_collector(collect, engine);
}

/* ---- link ---------------------------------------------------------------- */

MediaLink *
media_link_ref(MediaLink *link)
{
  g_atomic_int_inc(&link->refcount);
  return link;
}

void
media_link_unref(MediaLink *link)
{
  if (g_atomic_int_dec_and_test(&link->refcount))
    g_free(link);
}

/* ---- events: worker -> main ------------------------------------------------ */

typedef enum { EV_OFFER, EV_TRICKLE, EV_PEER_CLOSED, EV_TRACK_GONE, EV_SPEAKERS, EV_TRACKS_CHANGED } EventKind;

typedef struct {
  EventKind kind;
  MediaLink *link;
  char *participant;
  json_t *params;
  ChorusMediaTarget target;
  char *text; /* candidate, reason or track */
  char *mid;
} Event;

static void
event_free(gpointer data)
{
  Event *ev = data;
  media_link_unref(ev->link);
  g_free(ev->participant);
  if (ev->params)
    json_decref(ev->params);
  g_free(ev->text);
  g_free(ev->mid);
  g_free(ev);
}

static gboolean
event_dispatch(gpointer data)
{
  Event *ev = data;
  MediaLink *l = ev->link;
  if (!l->alive)
    return G_SOURCE_REMOVE;
  switch (ev->kind) {
  case EV_OFFER:
    if (l->cb.offer)
      l->cb.offer(l->user_data, ev->participant, ev->params);
    break;
  case EV_TRICKLE:
    if (l->cb.trickle)
      l->cb.trickle(l->user_data, ev->participant, ev->target, ev->text, ev->mid);
    break;
  case EV_PEER_CLOSED:
    if (l->cb.peer_closed)
      l->cb.peer_closed(l->user_data, ev->participant, ev->target, ev->text);
    break;
  case EV_TRACK_GONE:
    if (l->cb.track_gone)
      l->cb.track_gone(l->user_data, ev->participant, ev->text);
    break;
  case EV_SPEAKERS:
    if (l->cb.speakers)
      l->cb.speakers(l->user_data, ev->params);
    break;
  case EV_TRACKS_CHANGED:
    if (l->cb.tracks_changed)
      l->cb.tracks_changed(l->user_data);
    break;
  }
  return G_SOURCE_REMOVE;
}

static void
post_event(MediaRoom *room, Event *ev)
{
  ev->link = media_link_ref(room->link);
  g_main_context_invoke_full(g_main_context_default(), G_PRIORITY_DEFAULT, event_dispatch, ev,
                             event_free);
}

void
media_emit_offer(MediaRoom *room, const char *participant, json_t *params)
{
  Event *ev = g_new0(Event, 1);
  ev->kind = EV_OFFER;
  ev->participant = g_strdup(participant);
  ev->params = params;
  post_event(room, ev);
}

void
media_emit_trickle(MediaRoom *room, const char *participant, ChorusMediaTarget target,
                   const char *candidate, const char *mid)
{
  Event *ev = g_new0(Event, 1);
  ev->kind = EV_TRICKLE;
  ev->participant = g_strdup(participant);
  ev->target = target;
  ev->text = g_strdup(candidate);
  ev->mid = g_strdup(mid);
  post_event(room, ev);
}

void
media_emit_peer_closed(MediaRoom *room, const char *participant, ChorusMediaTarget target,
                       const char *reason)
{
  Event *ev = g_new0(Event, 1);
  ev->kind = EV_PEER_CLOSED;
  ev->participant = g_strdup(participant);
  ev->target = target;
  ev->text = g_strdup(reason);
  post_event(room, ev);
}

void
media_emit_track_gone(MediaRoom *room, const char *participant, const char *track)
{
  Event *ev = g_new0(Event, 1);
  ev->kind = EV_TRACK_GONE;
  ev->participant = g_strdup(participant);
  ev->text = g_strdup(track);
  post_event(room, ev);
}

void
media_emit_speakers(MediaRoom *room, json_t *speakers)
{
  Event *ev = g_new0(Event, 1);
  ev->kind = EV_SPEAKERS;
  ev->params = speakers;
  post_event(room, ev);
}

void
media_emit_tracks_changed(MediaRoom *room)
{
  Event *ev = g_new0(Event, 1);
  ev->kind = EV_TRACKS_CHANGED;
  post_event(room, ev);
}

/* ---- requests: main -> worker -> main ------------------------------------- */

typedef enum {
  OP_CREATE,
  OP_DESTROY,
  OP_PUBLISH,
  OP_UNPUBLISH,
  OP_TRICKLE,
  OP_SUBSCRIBE_SET,
  OP_SUBSCRIPTION_UPDATE,
  OP_ANSWER,
  OP_ICE_RESTART,
  OP_MUTE,
  OP_REMOVE,
  OP_AUDIO_SLOTS,
  OP_RELAY_ATTACH_DST,
  OP_RELAY_ATTACH_SRC,
  OP_RELAY_REMOVE_DST,
  OP_RELAY_DETACH_SRC,
} OpKind;

typedef struct {
  OpKind kind;
  ChorusMediaRoom *handle; /* handle->wroom: written by OP_CREATE, read by the
                            * others, on the worker only */
  ChorusMediaEngine *engine;
  MediaLink *link;
  char *name;
  char *participant;
  char *track;
  char *sdp;
  char *candidate;
  char *ufrag;
  char *quality;
  int paused;
  gboolean muted;
  ChorusMediaTarget target;
  guint64 version;
  GArray *subs; /* MediaSub */
  guint audio_slots;   /* OP_AUDIO_SLOTS */
  MediaRelay *relay;  /* OP_RELAY_ATTACH_*: a reference */
  gpointer dst_handle; /* OP_RELAY_DETACH_SRC */
  ChorusMediaDone done;
  gpointer done_data;
  json_t *result;
  GError *error;
} Op;

static void
clear_sub(gpointer data)
{
  MediaSub *s = data;
  g_free(s->track);
  g_free(s->quality);
}

static void
op_free(gpointer data)
{
  Op *op = data;
  if (op->link)
    media_link_unref(op->link);
  g_free(op->name);
  g_free(op->participant);
  g_free(op->track);
  g_free(op->sdp);
  g_free(op->candidate);
  g_free(op->ufrag);
  g_free(op->quality);
  if (op->subs)
    g_array_unref(op->subs);
  if (op->relay)
    media_relay_unref(op->relay);
  if (op->result)
    json_decref(op->result);
  g_clear_error(&op->error);
  g_free(op);
}

static gboolean
op_complete(gpointer data)
{
  Op *op = data;
  op->done(op->done_data, op->result, op->error);
  return G_SOURCE_REMOVE;
}

static gboolean
op_run(gpointer data)
{
  Op *op = data;
  /* Ops run on the worker in the order they were posted (idle sources of one
   * priority run FIFO), so OP_CREATE has set handle->wroom before any other
   * op reads it, and OP_DESTROY is the last to read it. */
  MediaRoom *r = op->kind == OP_CREATE ? NULL : op->handle->wroom;
  gboolean ok = TRUE;
  switch (op->kind) {
  case OP_CREATE:
    op->handle->wroom = media_room_new(op->engine, g_main_context_get_thread_default(), op->link,
                                       op->name);
    break;
  case OP_DESTROY:
    media_room_free(r);
    g_free(op->handle); /* the main thread let go of it in chorus_media_room_free() */
    break;
  case OP_PUBLISH:
    op->result = media_publish(r, op->participant, op->sdp, &op->error);
    ok = op->result != NULL;
    break;
  case OP_UNPUBLISH:
    ok = media_unpublish(r, op->participant, op->track, &op->error);
    break;
  case OP_TRICKLE:
    ok = media_trickle(r, op->participant, op->target, op->candidate, op->ufrag, &op->error);
    break;
  case OP_SUBSCRIBE_SET:
    media_subscribe_set(r, op->participant, op->subs);
    break;
  case OP_SUBSCRIPTION_UPDATE:
    ok = media_subscription_update(r, op->participant, op->track, op->quality, op->paused,
                                   &op->error);
    break;
  case OP_ANSWER:
    ok = media_answer(r, op->participant, op->sdp, op->version, &op->error);
    break;
  case OP_ICE_RESTART:
    ok = media_ice_restart(r, op->participant, &op->error);
    break;
  case OP_MUTE:
    media_track_set_muted(r, op->track, op->muted);
    break;
  case OP_REMOVE:
    media_participant_remove(r, op->participant);
    break;
  case OP_AUDIO_SLOTS:
    media_voice_set_slots(r, op->audio_slots);
    break;
  case OP_RELAY_ATTACH_DST:
    media_relay_attach_destination(r, g_steal_pointer(&op->relay));
    break;
  case OP_RELAY_ATTACH_SRC:
    media_relay_attach_source(r, g_steal_pointer(&op->relay));
    break;
  case OP_RELAY_REMOVE_DST:
    media_relay_remove_destination(r, op->track);
    break;
  case OP_RELAY_DETACH_SRC:
    media_relay_detach_source(r, op->track, op->dst_handle);
    break;
  }
  if (ok && op->result == NULL)
    op->result = json_object();
  if (op->done) {
    /* The reply goes back to the main thread, which frees the op. */
    g_main_context_invoke_full(g_main_context_default(), G_PRIORITY_DEFAULT, op_complete, op,
                               op_free);
  } else {
    op_free(op);
  }
  return G_SOURCE_REMOVE;
}

static Op *
op_new(ChorusMediaRoom *room, OpKind kind, const char *participant)
{
  Op *op = g_new0(Op, 1);
  op->kind = kind;
  op->handle = room;
  op->participant = g_strdup(participant);
  return op;
}

static void
op_post(ChorusMediaRoom *room, Op *op, ChorusMediaDone done, gpointer done_data)
{
  op->done = done;
  op->done_data = done_data;
  chorus_worker_invoke(room->worker, op_run, op, NULL);
}

ChorusMediaRoom *
chorus_media_room_new(ChorusMediaEngine *engine, ChorusWorker *worker, const char *room_name,
                      const ChorusMediaRoomCallbacks *callbacks, gpointer user_data)
{
  ChorusMediaRoom *room = g_new0(ChorusMediaRoom, 1);
  room->engine = engine;
  room->worker = worker;
  room->link = g_new0(MediaLink, 1);
  room->link->refcount = 1;
  room->link->alive = TRUE;
  room->link->cb = *callbacks;
  room->link->user_data = user_data;
  Op *op = op_new(room, OP_CREATE, NULL);
  op->engine = engine;
  op->link = media_link_ref(room->link);
  op->name = g_strdup(room_name);
  op_post(room, op, NULL, NULL);
  return room;
}

void
chorus_media_room_free(ChorusMediaRoom *room)
{
  if (room == NULL)
    return;
  room->link->alive = FALSE;
  media_link_unref(room->link);
  room->link = NULL;
  /* From here the handle belongs to the worker, which frees it after the
   * room (OP_DESTROY); the main thread must not touch it again. */
  op_post(room, op_new(room, OP_DESTROY, NULL), NULL, NULL);
}

void
chorus_media_publish(ChorusMediaRoom *room, const char *participant, const char *sdp,
                     ChorusMediaDone done, gpointer user_data)
{
  Op *op = op_new(room, OP_PUBLISH, participant);
  op->sdp = g_strdup(sdp);
  op_post(room, op, done, user_data);
}

void
chorus_media_unpublish(ChorusMediaRoom *room, const char *participant, const char *track,
                       ChorusMediaDone done, gpointer user_data)
{
  Op *op = op_new(room, OP_UNPUBLISH, participant);
  op->track = g_strdup(track);
  op_post(room, op, done, user_data);
}

void
chorus_media_trickle(ChorusMediaRoom *room, const char *participant, ChorusMediaTarget target,
                     const char *candidate, const char *ufrag, ChorusMediaDone done,
                     gpointer user_data)
{
  Op *op = op_new(room, OP_TRICKLE, participant);
  op->target = target;
  op->candidate = g_strdup(candidate);
  op->ufrag = g_strdup(ufrag);
  op_post(room, op, done, user_data);
}

void
chorus_media_subscribe_set(ChorusMediaRoom *room, const char *participant,
                           const ChorusMediaSubscription *subs, guint n_subs)
{
  Op *op = op_new(room, OP_SUBSCRIBE_SET, participant);
  op->subs = g_array_sized_new(FALSE, TRUE, sizeof(MediaSub), n_subs);
  g_array_set_clear_func(op->subs, clear_sub);
  for (guint i = 0; i < n_subs; i++) {
    MediaSub s = { g_strdup(subs[i].track), g_strdup(subs[i].quality), subs[i].paused };
    g_array_append_val(op->subs, s);
  }
  op_post(room, op, NULL, NULL);
}

void
chorus_media_subscription_update(ChorusMediaRoom *room, const char *participant,
                                 const char *track, const char *quality, int paused,
                                 ChorusMediaDone done, gpointer user_data)
{
  Op *op = op_new(room, OP_SUBSCRIPTION_UPDATE, participant);
  op->track = g_strdup(track);
  op->quality = g_strdup(quality);
  op->paused = paused;
  op_post(room, op, done, user_data);
}

void
chorus_media_answer(ChorusMediaRoom *room, const char *participant, const char *sdp,
                    guint64 version, ChorusMediaDone done, gpointer user_data)
{
  Op *op = op_new(room, OP_ANSWER, participant);
  op->sdp = g_strdup(sdp);
  op->version = version;
  op_post(room, op, done, user_data);
}

void
chorus_media_ice_restart(ChorusMediaRoom *room, const char *participant, ChorusMediaDone done,
                         gpointer user_data)
{
  op_post(room, op_new(room, OP_ICE_RESTART, participant), done, user_data);
}

void
chorus_media_track_set_muted(ChorusMediaRoom *room, const char *track, gboolean muted)
{
  Op *op = op_new(room, OP_MUTE, NULL);
  op->track = g_strdup(track);
  op->muted = muted;
  op_post(room, op, NULL, NULL);
}

void
chorus_media_room_set_audio_slots(ChorusMediaRoom *room, guint slots)
{
  Op *op = op_new(room, OP_AUDIO_SLOTS, NULL);
  op->audio_slots = MIN(slots, CHORUS_MEDIA_MAX_AUDIO_SLOTS);
  op_post(room, op, NULL, NULL);
}

void
chorus_media_relay_add(ChorusMediaRoom *dst, ChorusMediaRoom *src, const char *track,
                       const char *publisher)
{
  MediaRelay *relay = media_relay_new(track, publisher, dst, chorus_worker_context(src->worker),
                                      chorus_worker_context(dst->worker));
  /* The destination's placeholder first (its subscribers may name the
   * track at once); the source then describes the track to it. */
  Op *op = op_new(dst, OP_RELAY_ATTACH_DST, NULL);
  op->relay = media_relay_ref(relay);
  op_post(dst, op, NULL, NULL);
  op = op_new(src, OP_RELAY_ATTACH_SRC, NULL);
  op->relay = relay;
  op_post(src, op, NULL, NULL);
}

void
chorus_media_relay_remove(ChorusMediaRoom *dst, ChorusMediaRoom *src, const char *track)
{
  Op *op = op_new(src, OP_RELAY_DETACH_SRC, NULL);
  op->track = g_strdup(track);
  op->dst_handle = dst;
  op_post(src, op, NULL, NULL);
  op = op_new(dst, OP_RELAY_REMOVE_DST, NULL);
  op->track = g_strdup(track);
  op_post(dst, op, NULL, NULL);
}

void
chorus_media_participant_remove(ChorusMediaRoom *room, const char *participant)
{
  op_post(room, op_new(room, OP_REMOVE, participant), NULL, NULL);
}
