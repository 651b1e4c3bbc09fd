#define G_LOG_DOMAIN "chorus-load"

#include "load-participant.h"

#include <jansson.h>

#include "load-publisher.h"
#include "load-rpc.h"
#include "load-subscriber.h"

struct _LoadParticipant {
  LoadThread *thread;
  const LoadShared *shared;
  guint index;
  const LoadRole *role;
  char *identity;
  char *server_role;
  LoadRpc *rpc;
  char *id; /* participant id from the join result */
  LoadPublisher *pub;
  LoadSubscriber *sub;
  char *pub_mid; /* our BUNDLE tag, for trickled candidates */
  char *sub_mid;

  gboolean ws_open;
  gboolean authenticated;
  gboolean publish_replied;
  gboolean subscribe_replied;
  gboolean joined;
  gboolean failed;
  gboolean finished; /* the run ended: closes and failures are expected now */
  gboolean connected_posted;
  char *fail_stage;
  char *fail_reason;

  gint64 start_us;
  gint64 fail_us;
  gboolean offered; /* an offer came: the subscriber PC is expected to connect */
  gint64 join_sent_us;
  gint64 joined_us;
  gint64 pub_connected_us;
  gint64 sub_connected_us;
};

static double
ms_since(gint64 t0_us, gint64 t_us)
{
  if (t0_us == 0 || t_us == 0)
    return -1;
  return (double)(t_us - t0_us) / 1000.0;
}

static void
fail(LoadParticipant *p, const char *stage, const char *reason)
{
  if (p->failed || p->finished)
    return;
  p->failed = TRUE;
  p->fail_us = g_get_monotonic_time();
  p->fail_stage = g_strdup(stage);
  p->fail_reason = g_strdup(reason);
  g_autofree char *detail = g_strdup_printf("%s: %s: %s", p->identity, stage, reason);
  load_thread_post_event(p->thread, p->index, LOAD_EVENT_FAILED, detail);
}

static gint64
now_us(void)
{
  return g_get_monotonic_time();
}

static gboolean
publishes(const LoadParticipant *p)
{
  return p->role->publish_audio || p->role->publish_video;
}

/* A participant that publishes and subscribes gets no offer while nothing
 * else is published (the first voice speaker): it counts as connected
 * with its publisher alone until an offer comes. */
static gboolean
subscriber_expected(const LoadParticipant *p)
{
  return p->role->subscribe && (p->offered || !publishes(p));
}

static void
check_connected(LoadParticipant *p)
{
  if (p->connected_posted || p->failed)
    return;
  if (publishes(p) && p->pub_connected_us == 0)
    return;
  if (subscriber_expected(p) && p->sub_connected_us == 0)
    return;
  p->connected_posted = TRUE;
  load_thread_post_event(p->thread, p->index, LOAD_EVENT_CONNECTED, NULL);
}

static json_t *
params_new(LoadParticipant *p)
{
  return json_pack("{s:s}", "participant", p->id);
}

/* ---- trickle out ----------------------------------------------------------------- */

static void
send_trickle(LoadParticipant *p, const char *target, const char *mid, const char *candidate,
             const char *ufrag)
{
  if (p->id == NULL)
    return;
  json_t *params = params_new(p);
  json_object_set_new(params, "target", json_string(target));
  if (candidate == NULL)
    json_object_set_new(params, "candidate", json_null());
  else
    json_object_set_new(params, "candidate",
                        json_pack("{s:s, s:s?, s:s?}", "candidate", candidate, "sdpMid", mid,
                                  "usernameFragment", ufrag));
  load_rpc_notify(p->rpc, "trickle", params);
}

static void
on_pub_candidate(LoadPublisher *pub, const char *candidate, const char *ufrag, gpointer user_data)
{
  LoadParticipant *p = user_data;
  send_trickle(p, "publisher", p->pub_mid, candidate, ufrag);
}

static void
on_sub_candidate(LoadSubscriber *sub, const char *candidate, const char *ufrag, gpointer user_data)
{
  LoadParticipant *p = user_data;
  send_trickle(p, "subscriber", p->sub_mid, candidate, ufrag);
}

/* ---- PeerConnection states ---------------------------------------------------------- */

static void
on_pub_state(LoadPublisher *pub, ChorusPeerState state, const char *reason, gpointer user_data)
{
  LoadParticipant *p = user_data;
  if (state == CHORUS_PEER_STATE_CONNECTED) {
    p->pub_connected_us = now_us();
    load_thread_media_changed(p->thread);
    load_thread_post_event(p->thread, p->index, LOAD_EVENT_PUBLISHING, NULL);
    check_connected(p);
  } else if (state == CHORUS_PEER_STATE_FAILED || state == CHORUS_PEER_STATE_CLOSED) {
    g_autofree char *text =
        g_strdup_printf("publisher PeerConnection %s: %s", chorus_peer_state_to_string(state),
                        reason ? reason : "no reason");
    fail(p, "media", text);
  }
}

static void
on_sub_state(LoadSubscriber *sub, ChorusPeerState state, const char *reason, gpointer user_data)
{
  LoadParticipant *p = user_data;
  if (state == CHORUS_PEER_STATE_CONNECTED) {
    p->sub_connected_us = now_us();
    check_connected(p);
  } else if (state == CHORUS_PEER_STATE_FAILED || state == CHORUS_PEER_STATE_CLOSED) {
    g_autofree char *text =
        g_strdup_printf("subscriber PeerConnection %s: %s", chorus_peer_state_to_string(state),
                        reason ? reason : "no reason");
    fail(p, "media", text);
  }
}

/* ---- requests --------------------------------------------------------------------- */

static void
call(LoadParticipant *p, const char *method, json_t *params, LoadRpcReplyFunc reply)
{
  load_rpc_call(p->rpc, method, params, p->shared->request_timeout_ms, now_us(), reply, p);
}

static void
on_answer_reply(LoadRpc *rpc, json_t *result, const GError *error, gpointer user_data)
{
  if (error)
    fail(user_data, "answer", error->message);
}

static void
handle_offer(LoadParticipant *p, json_t *params)
{
  const char *sdp = json_string_value(json_object_get(params, "sdp"));
  json_t *version = json_object_get(params, "version");
  if (sdp == NULL || !json_is_integer(version)) {
    fail(p, "offer", "an offer notification without sdp or version");
    return;
  }
  if (p->sub == NULL) {
    fail(p, "offer", "an offer although we did not subscribe");
    return;
  }
  p->offered = TRUE;
  g_autoptr(GError) error = NULL;
  g_autofree char *answer = load_subscriber_handle_offer(p->sub, sdp, &error);
  if (answer == NULL) {
    fail(p, "answer", error->message);
    return;
  }
  if (p->sub_mid == NULL) {
    json_t *tracks = json_object_get(params, "tracks");
    const char *mid = json_string_value(json_object_get(json_array_get(tracks, 0), "mid"));
    p->sub_mid = g_strdup(mid ? mid : "0");
  }
  json_t *answer_params = params_new(p);
  json_object_set_new(answer_params, "sdp", json_string(answer));
  json_object_set(answer_params, "version", version);
  call(p, "answer", answer_params, on_answer_reply);
}

static void
handle_trickle(LoadParticipant *p, json_t *params)
{
  const char *target = json_string_value(json_object_get(params, "target"));
  json_t *cand = json_object_get(params, "candidate");
  const char *text = json_string_value(json_object_get(cand, "candidate"));
  const char *ufrag = json_string_value(json_object_get(cand, "usernameFragment"));
  g_autoptr(GError) error = NULL;
  gboolean ok = TRUE;
  if (g_strcmp0(target, "publisher") == 0 && p->pub)
    ok = load_publisher_add_remote_candidate(p->pub, text, ufrag, &error);
  else if (g_strcmp0(target, "subscriber") == 0 && p->sub)
    ok = load_subscriber_add_remote_candidate(p->sub, text, ufrag, &error);
  if (!ok)
    g_debug("%s: ignoring a %s candidate: %s", p->identity, target, error->message);
}

static void
on_notification(LoadRpc *rpc, const char *method, json_t *params, gpointer user_data)
{
  LoadParticipant *p = user_data;
  const char *to = json_string_value(json_object_get(params, "to"));
  if (to != NULL && p->id != NULL && g_strcmp0(to, p->id) != 0)
    return;
  if (g_strcmp0(method, "offer") == 0) {
    handle_offer(p, params);
  } else if (g_strcmp0(method, "trickle") == 0) {
    handle_trickle(p, params);
  } else if (g_strcmp0(method, "peer.closed") == 0) {
    const char *target = json_string_value(json_object_get(params, "target"));
    const char *reason = json_string_value(json_object_get(params, "reason"));
    g_autofree char *text = g_strdup_printf("Chorus closed the %s PeerConnection: %s",
                                            target ? target : "?", reason ? reason : "?");
    fail(p, "media", text);
  } else if (g_strcmp0(method, "room.closed") == 0 && !p->finished) {
    const char *reason = json_string_value(json_object_get(params, "reason"));
    g_autofree char *text = g_strdup_printf("room closed (%s)", reason ? reason : "?");
    fail(p, "room", text);
    load_thread_post_event(p->thread, p->index, LOAD_EVENT_SERVER_CLOSED, text);
  } else if (g_strcmp0(method, "participant.left") == 0 &&
             g_strcmp0(json_string_value(json_object_get(params, "participant")), p->id) == 0) {
    const char *reason = json_string_value(json_object_get(params, "reason"));
    g_autofree char *text = g_strdup_printf("removed from the room (%s)", reason ? reason : "?");
    fail(p, "room", text);
  }
}

static void
on_publish_reply(LoadRpc *rpc, json_t *result, const GError *error, gpointer user_data)
{
  LoadParticipant *p = user_data;
  p->publish_replied = TRUE;
  if (error) {
    fail(p, "publish", error->message);
    return;
  }
  const char *sdp = json_string_value(json_object_get(result, "sdp"));
  g_autoptr(GError) err = NULL;
  if (sdp == NULL) {
    fail(p, "publish", "publish result without sdp");
  } else if (!load_publisher_apply_answer(p->pub, sdp, &err)) {
    g_autofree char *text = g_strdup_printf("Chorus's answer: %s", err->message);
    fail(p, "publish", text);
  }
}

static void
on_subscribe_reply(LoadRpc *rpc, json_t *result, const GError *error, gpointer user_data)
{
  LoadParticipant *p = user_data;
  p->subscribe_replied = TRUE;
  if (error)
    fail(p, "subscribe", error->message);
}

static void
start_publishing(LoadParticipant *p)
{
  static const LoadPublisherCallbacks cb = {
      .state_changed = on_pub_state,
      .local_candidate = on_pub_candidate,
  };
  g_autoptr(GError) error = NULL;
  p->pub = load_publisher_new(p->shared, load_thread_get_context(p->thread), p->role->publish_audio,
                              p->role->publish_video, p->identity, &cb, p, &error);
  g_autofree char *offer = p->pub ? load_publisher_create_offer(p->pub, &error) : NULL;
  if (offer == NULL) {
    fail(p, "publish", error->message);
    return;
  }
  p->pub_mid = g_strdup("0"); /* the offerer numbers mids from 0 */
  json_t *params = params_new(p);
  json_object_set_new(params, "sdp", json_string(offer));
  call(p, "publish", params, on_publish_reply);
}

static void
start_subscribing(LoadParticipant *p)
{
  static const LoadSubscriberCallbacks cb = {
      .state_changed = on_sub_state,
      .local_candidate = on_sub_candidate,
  };
  p->sub = load_subscriber_new(p->shared, load_thread_get_context(p->thread), &cb, p);
  json_t *params = params_new(p);
  json_object_set_new(params, "tracks", json_string("all"));
  json_object_set_new(params, "quality", json_string(p->shared->quality));
  call(p, "subscribe", params, on_subscribe_reply);
}

static void
on_join_reply(LoadRpc *rpc, json_t *result, const GError *error, gpointer user_data)
{
  LoadParticipant *p = user_data;
  if (error) {
    fail(p, "join", error->message);
    return;
  }
  const char *id = json_string_value(json_object_get(result, "participant"));
  if (id == NULL) {
    fail(p, "join", "join result without a participant id");
    return;
  }
  p->id = g_strdup(id);
  p->joined = TRUE;
  p->joined_us = now_us();
  load_thread_post_event(p->thread, p->index, LOAD_EVENT_JOINED, NULL);
  if (p->role->publish_audio || p->role->publish_video)
    start_publishing(p);
  if (p->role->subscribe && !p->failed)
    start_subscribing(p);
}

static void
send_join(LoadParticipant *p)
{
  json_t *params = json_pack("{s:s, s:s, s:s}", "room", p->shared->room, "identity", p->identity,
                             "role", p->server_role);
  p->join_sent_us = now_us();
  call(p, "join", params, on_join_reply);
}

static void
on_auth_reply(LoadRpc *rpc, json_t *result, const GError *error, gpointer user_data)
{
  LoadParticipant *p = user_data;
  if (error) {
    fail(p, "auth", error->message);
    return;
  }
  p->authenticated = TRUE;
  send_join(p);
}

static void
on_connected(LoadRpc *rpc, const GError *error, gpointer user_data)
{
  LoadParticipant *p = user_data;
  if (error) {
    fail(p, "connect", error->message);
    return;
  }
  p->ws_open = TRUE;
  if (p->shared->token)
    call(p, "auth", json_pack("{s:s}", "token", p->shared->token), on_auth_reply);
  else
    send_join(p);
}

static void
on_closed(LoadRpc *rpc, gushort code, const char *reason, gboolean by_us, gpointer user_data)
{
  LoadParticipant *p = user_data;
  if (by_us || p->finished)
    return;
  g_autofree char *text =
      g_strdup_printf("the server closed the signaling connection (code %u%s%s)", code,
                      reason && *reason ? ": " : "", reason ? reason : "");
  fail(p, "signaling", text);
  load_thread_post_event(p->thread, p->index, LOAD_EVENT_SERVER_CLOSED, text);
}

/* ---- lifecycle -------------------------------------------------------------------- */

LoadParticipant *
load_participant_new(LoadThread *thread, guint index, const LoadRole *role, const char *identity,
                     const char *server_role)
{
  LoadParticipant *p = g_new0(LoadParticipant, 1);
  p->thread = thread;
  p->shared = load_thread_get_shared(thread);
  p->index = index;
  p->role = role;
  p->identity = g_strdup(identity);
  p->server_role = g_strdup(server_role);
  return p;
}

void
load_participant_free(LoadParticipant *p)
{
  if (p == NULL)
    return;
  g_clear_pointer(&p->rpc, load_rpc_free);
  g_clear_pointer(&p->pub, load_publisher_free);
  g_clear_pointer(&p->sub, load_subscriber_free);
  g_free(p->identity);
  g_free(p->server_role);
  g_free(p->id);
  g_free(p->pub_mid);
  g_free(p->sub_mid);
  g_free(p->fail_stage);
  g_free(p->fail_reason);
  g_free(p);
}

void
load_participant_start(LoadParticipant *p, gint64 t_us)
{
  static const LoadRpcCallbacks cb = {
      .connected = on_connected,
      .notification = on_notification,
      .closed = on_closed,
  };
  p->start_us = t_us;
  SoupSession *session = load_thread_get_session(p->thread);
  p->rpc = p->shared->target == LOAD_TARGET_JANUS
               ? load_rpc_new_janus(session, p->shared->url, &cb, p)
               : load_rpc_new(session, p->shared->url, &cb, p);
  load_rpc_connect(p->rpc, p->shared->connect_timeout_ms, t_us);
}

void
load_participant_run_media(LoadParticipant *p, gint64 t_us)
{
  if (p->pub)
    load_publisher_run(p->pub, t_us);
}

gint64
load_participant_next_media_deadline_us(LoadParticipant *p)
{
  return p->pub ? load_publisher_next_deadline_us(p->pub) : G_MAXINT64;
}

void
load_participant_check_deadlines(LoadParticipant *p, gint64 t_us)
{
  if (p->rpc)
    load_rpc_check_deadlines(p->rpc, t_us);
}

void
load_participant_add_to_snapshot(LoadParticipant *p, LoadSnapshot *acc)
{
  acc->started++;
  acc->joined += p->joined ? 1 : 0;
  acc->failed += p->failed ? 1 : 0;
  acc->connected += p->connected_posted && !p->failed ? 1 : 0;
  if (p->sub) {
    guint64 packets, expected, lost;
    load_subscriber_get_counts(p->sub, &packets, &expected, &lost);
    acc->rx_packets += packets;
    acc->rx_expected += expected;
    acc->rx_lost += lost;
  }
  if (p->pub) {
    LoadTxTotals tx;
    load_publisher_get_totals(p->pub, &tx);
    acc->tx_packets += tx.packets[LOAD_KIND_AUDIO] + tx.packets[LOAD_KIND_VIDEO];
  }
}

/* What an unfinished participant was waiting for. */
static const char *
pending_stage(const LoadParticipant *p)
{
  if (p->failed)
    return NULL;
  if (!p->ws_open)
    return "connect";
  if (p->shared->token && !p->authenticated)
    return "auth";
  if (!p->joined)
    return "join";
  if (publishes(p) && p->pub_connected_us == 0)
    return p->publish_replied ? "publisher ICE/DTLS" : "publish";
  if (subscriber_expected(p) && p->sub_connected_us == 0) {
    if (!p->subscribe_replied)
      return "subscribe";
    return p->offered ? "subscriber ICE/DTLS" : "offer";
  }
  return NULL;
}

void
load_participant_finish(LoadParticipant *p, gint64 t_us, LoadResult *out)
{
  p->finished = TRUE;
  *out = (LoadResult){0};
  out->index = p->index;
  out->role = p->role;
  out->identity = g_strdup(p->identity);
  out->joined = p->joined;
  out->failed = p->failed;
  out->fail_stage = g_strdup(p->fail_stage);
  out->fail_reason = g_strdup(p->fail_reason);
  /* A participant that never got to sending its join failed earlier. */
  gint64 t0 = p->join_sent_us;
  out->join_ms = ms_since(t0, p->joined_us);
  out->publish_connected_ms = ms_since(t0, p->pub_connected_us);
  out->subscribe_connected_ms = ms_since(t0, p->sub_connected_us);
  out->publishes = publishes(p);
  out->subscribes = p->role->subscribe;
  out->subscribe_expected = subscriber_expected(p);
  out->fail_ms = p->failed ? ms_since(t0 ? t0 : p->start_us, p->fail_us) : -1;
  out->pending_stage = pending_stage(p);
  out->publish_connected = p->pub_connected_us != 0;
  out->subscribe_connected = p->sub_connected_us != 0;
  out->first_packet_ms = out->first_audio_ms = out->first_video_ms = out->first_keyframe_ms = -1;
  if (p->pub) {
    load_publisher_stop(p->pub, t_us);
    load_publisher_get_totals(p->pub, &out->tx);
  }
  if (p->sub) {
    load_subscriber_finish(p->sub, t_us);
    load_subscriber_get_totals(p->sub, out->rx, &out->srtp_failed, &out->rx_unknown);
    out->first_packet_ms = ms_since(t0, load_subscriber_first_packet_us(p->sub, LOAD_KIND_N));
    out->first_audio_ms = ms_since(t0, load_subscriber_first_packet_us(p->sub, LOAD_KIND_AUDIO));
    out->first_video_ms = ms_since(t0, load_subscriber_first_packet_us(p->sub, LOAD_KIND_VIDEO));
    out->first_keyframe_ms = ms_since(t0, load_subscriber_first_keyframe_us(p->sub));
  }
}

gboolean
load_participant_close(LoadParticipant *p)
{
  p->finished = TRUE;
  if (p->rpc == NULL || !load_rpc_is_open(p->rpc))
    return FALSE;
  load_rpc_close(p->rpc);
  return TRUE;
}
