#define G_LOG_DOMAIN "chorus-load"

#include "load-janus.h"

#include "core/error.h"

/* Offers of a subscriber to many feeds can be large. */
#define MAX_INCOMING_BYTES (16 * 1024 * 1024)
/* Janus's default session timeout is 60 s. */
#define KEEPALIVE_INTERVAL_US (25 * G_USEC_PER_SEC)
#define VIDEOROOM_PLUGIN "janus.plugin.videoroom"

/* VideoRoom error codes (janus_videoroom.c) and core ones (apierror.h) that
 * have a Chorus equivalent. */
#define JANUS_VR_NO_MESSAGE 421
#define JANUS_VR_INVALID_JSON 422
#define JANUS_VR_INVALID_REQUEST 423
#define JANUS_VR_ALREADY_JOINED 425
#define JANUS_VR_NO_SUCH_ROOM 426
#define JANUS_VR_ROOM_EXISTS 427
#define JANUS_VR_NO_SUCH_FEED 428
#define JANUS_VR_MISSING_ELEMENT 429
#define JANUS_VR_INVALID_ELEMENT 430
#define JANUS_VR_INVALID_SDP_TYPE 431
#define JANUS_VR_PUBLISHERS_FULL 432
#define JANUS_VR_UNAUTHORIZED 433
#define JANUS_VR_ALREADY_PUBLISHED 434
#define JANUS_VR_ID_EXISTS 436
#define JANUS_VR_INVALID_SDP 437
#define JANUS_UNAUTHORIZED 403
#define JANUS_SESSION_NOT_FOUND 458
#define JANUS_HANDLE_NOT_FOUND 459
#define JANUS_JSEP_INVALID_SDP 465

/* Chorus roles that only receive: everything else joins as a publisher. */
static const char *const receive_only_roles[] = {"audience", "listener", NULL};

typedef enum {
  HANDLE_ADMIN, /* room.create / room.destroy */
  HANDLE_PUB,
  HANDLE_SUB,
  HANDLE_N,
  HANDLE_NONE = HANDLE_N,
} HandleKind;

static const char *const handle_targets[] = {"admin", "publisher", "subscriber"};

typedef struct _Call Call;
typedef struct _Txn Txn;

/* One step of a call: runs on the success reply of a Janus transaction
 * (@msg), or directly (@msg NULL) when a precondition (session, handle)
 * was already met. @call is NULL when the call ended (timed out) while the
 * transaction was in flight: steps still record what Janus created. */
typedef void (*StepFunc)(LoadJanus *j, Call *call, const Txn *txn, json_t *msg);

/* One Chorus request being translated: a chain of Janus transactions. */
struct _Call {
  guint id;
  char *method;
  json_t *params; /* owned */
  guint timeout_ms;
  gint64 deadline_us;
  LoadRpcReplyFunc reply;
  gpointer user_data;
  StepFunc resume; /* what runs once the session / handle exists */
};

struct _Txn {
  char *id;
  guint call_id;     /* 0: not part of a call */
  StepFunc step;     /* NULL: nothing but an ack is expected */
  HandleKind handle; /* the handle it was sent on, or the one it attaches */
  const char *fails; /* no call: the target that fails with it ("subscriber"), or NULL */
};

struct _LoadJanus {
  guint refcount;
  gboolean disposed;
  SoupSession *session;
  char *url;
  LoadRpc *owner;
  LoadRpcCallbacks cb;
  gpointer user_data;
  GCancellable *cancellable;
  SoupWebsocketConnection *ws;
  gboolean connecting;
  gboolean connect_timed_out;
  guint connect_timeout_ms;
  gint64 connect_deadline_us;
  gboolean close_by_us;

  guint next_txn;
  guint next_call;
  GHashTable *txns; /* transaction id -> Txn * (owned) */
  GQueue calls;     /* Call *, oldest first */

  guint64 session_id;
  gboolean creating_session;
  GQueue session_waiters; /* call ids waiting for the session */
  gint64 next_keepalive_us;
  guint64 handles[HANDLE_N];

  /* The participant. */
  guint64 room_id;
  char *identity;
  guint64 my_feed;    /* our publisher id in the room */
  GArray *feeds;      /* guint64: publishers known (not us) */
  GArray *subscribed; /* guint64: feeds asked for on the subscriber handle */
  gboolean want_subscribe;
  gboolean sub_joined; /* the subscriber handle joined the room */
  gboolean sub_busy;   /* an offer/answer exchange is under way */
  gint64 offer_version;
};

/* ---- pure helpers ----------------------------------------------------------------- */

guint64
load_janus_room_id(const char *name)
{
  g_return_val_if_fail(name != NULL, 0);
  /* FNV-1a: stable across runs and processes (g_str_hash is too, but its
   * algorithm is not part of GLib's contract). */
  guint32 h = 2166136261u;
  for (const guchar *c = (const guchar *)name; *c; c++)
    h = (h ^ *c) * 16777619u;
  return (guint64)(h & 0x3fffffff) + 1;
}

json_t *
load_janus_request_new(const char *verb, const char *transaction, guint64 session_id,
                       guint64 handle_id)
{
  json_t *msg = json_pack("{s:s, s:s}", "janus", verb, "transaction", transaction);
  if (session_id)
    json_object_set_new(msg, "session_id", json_integer((json_int_t)session_id));
  if (handle_id)
    json_object_set_new(msg, "handle_id", json_integer((json_int_t)handle_id));
  return msg;
}

json_t *
load_janus_trickle_candidate(const char *candidate, const char *mid)
{
  if (candidate == NULL || candidate[0] == '\0')
    return json_pack("{s:b}", "completed", TRUE);
  return json_pack("{s:s, s:s, s:i}", "candidate", candidate, "sdpMid", mid ? mid : "0",
                   "sdpMLineIndex", 0);
}

json_t *
load_janus_room_create_body(json_t *params)
{
  const char *name = json_string_value(json_object_get(params, "room"));
  json_t *options = json_object_get(params, "options");
  json_int_t publishers = 1;
  json_t *v = json_object_get(options, "max_publishers");
  if (!json_is_integer(v))
    v = json_object_get(options, "seats");
  if (json_is_integer(v) && json_integer_value(v) > 0)
    publishers = json_integer_value(v);
  /* Everything else stays at Janus's defaults: no bitrate cap, no periodic
   * keyframe requests (fir_freq 0), Opus and VP8 first. */
  return json_pack("{s:s, s:I, s:s, s:I, s:s, s:s}", "request", "create", "room",
                   (json_int_t)load_janus_room_id(name ? name : ""), "description",
                   name ? name : "", "publishers", publishers, "audiocodec", "opus", "videocodec",
                   "vp8");
}

int
load_janus_error_code_to_chorus(int janus_code)
{
  switch (janus_code) {
  case JANUS_VR_NO_SUCH_ROOM:
  case JANUS_VR_NO_SUCH_FEED:
  case JANUS_SESSION_NOT_FOUND:
  case JANUS_HANDLE_NOT_FOUND:
    return CHORUS_ERROR_NOT_FOUND;
  case JANUS_VR_ALREADY_JOINED:
  case JANUS_VR_ROOM_EXISTS:
  case JANUS_VR_ALREADY_PUBLISHED:
  case JANUS_VR_ID_EXISTS:
    return CHORUS_ERROR_CONFLICT;
  case JANUS_VR_PUBLISHERS_FULL:
    return CHORUS_ERROR_ROOM_FULL;
  case JANUS_VR_UNAUTHORIZED:
  case JANUS_UNAUTHORIZED:
    return CHORUS_ERROR_FORBIDDEN;
  case JANUS_VR_NO_MESSAGE:
  case JANUS_VR_INVALID_JSON:
  case JANUS_VR_INVALID_REQUEST:
  case JANUS_VR_MISSING_ELEMENT:
  case JANUS_VR_INVALID_ELEMENT:
    return CHORUS_ERROR_INVALID_PARAMS;
  case JANUS_VR_INVALID_SDP_TYPE:
  case JANUS_VR_INVALID_SDP:
  case JANUS_JSEP_INVALID_SDP:
    return CHORUS_ERROR_NEGOTIATION_FAILED;
  default:
    return CHORUS_ERROR_INTERNAL;
  }
}

static json_t *
plugin_data(json_t *msg)
{
  return json_object_get(json_object_get(msg, "plugindata"), "data");
}

GError *
load_janus_error_from_message(json_t *msg)
{
  if (g_strcmp0(json_string_value(json_object_get(msg, "janus")), "error") == 0) {
    json_t *err = json_object_get(msg, "error");
    int code = (int)json_integer_value(json_object_get(err, "code"));
    const char *reason = json_string_value(json_object_get(err, "reason"));
    return g_error_new(CHORUS_ERROR, load_janus_error_code_to_chorus(code), "Janus error %d: %s",
                       code, reason ? reason : "no reason");
  }
  json_t *data = plugin_data(msg);
  json_t *code = json_object_get(data, "error_code");
  if (json_is_integer(code)) {
    const char *reason = json_string_value(json_object_get(data, "error"));
    int c = (int)json_integer_value(code);
    return g_error_new(CHORUS_ERROR, load_janus_error_code_to_chorus(c),
                       "Janus VideoRoom error %d: %s", c, reason ? reason : "no reason");
  }
  return NULL;
}

/* ---- lifetime --------------------------------------------------------------------- */

static void
txn_free(gpointer data)
{
  Txn *t = data;
  g_free(t->id);
  g_free(t);
}

static void
call_free(Call *c)
{
  g_free(c->method);
  json_decref(c->params);
  g_free(c);
}

static LoadJanus *
janus_ref(LoadJanus *j)
{
  j->refcount++;
  return j;
}

static void
janus_unref(LoadJanus *j)
{
  if (--j->refcount > 0)
    return;
  g_assert(g_queue_is_empty(&j->calls));
  g_clear_object(&j->ws);
  g_clear_object(&j->cancellable);
  g_hash_table_unref(j->txns);
  g_queue_clear(&j->session_waiters);
  g_array_unref(j->feeds);
  g_array_unref(j->subscribed);
  g_free(j->identity);
  g_free(j->url);
  g_free(j);
}

LoadJanus *
load_janus_new(SoupSession *session, const char *url, LoadRpc *owner,
               const LoadRpcCallbacks *callbacks, gpointer user_data)
{
  LoadJanus *j = g_new0(LoadJanus, 1);
  j->refcount = 1;
  j->session = session;
  j->url = g_strdup(url);
  j->owner = owner;
  j->cb = *callbacks;
  j->user_data = user_data;
  j->cancellable = g_cancellable_new();
  j->txns = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, txn_free);
  g_queue_init(&j->calls);
  g_queue_init(&j->session_waiters);
  j->feeds = g_array_new(FALSE, FALSE, sizeof(guint64));
  j->subscribed = g_array_new(FALSE, FALSE, sizeof(guint64));
  return j;
}

static void
drop_calls(LoadJanus *j)
{
  Call *c;
  while ((c = g_queue_pop_head(&j->calls)) != NULL)
    call_free(c);
}

void
load_janus_free(LoadJanus *j)
{
  if (j == NULL)
    return;
  j->disposed = TRUE;
  g_cancellable_cancel(j->cancellable);
  drop_calls(j);
  if (j->ws) {
    g_signal_handlers_disconnect_by_data(j->ws, j);
    if (soup_websocket_connection_get_state(j->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close(j->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  }
  janus_unref(j);
}

gboolean
load_janus_is_open(LoadJanus *j)
{
  return j->ws != NULL && soup_websocket_connection_get_state(j->ws) == SOUP_WEBSOCKET_STATE_OPEN;
}

guint
load_janus_pending_count(LoadJanus *j)
{
  return g_queue_get_length(&j->calls);
}

/* ---- calls ------------------------------------------------------------------------ */

static Call *
call_lookup(LoadJanus *j, guint id)
{
  for (GList *l = j->calls.head; l && id; l = l->next)
    if (((Call *)l->data)->id == id)
      return l->data;
  return NULL;
}

/* Ends @call with @result (transfer full; NULL = {}) or @error. */
static void
call_end(LoadJanus *j, Call *call, json_t *result, const GError *error)
{
  g_queue_remove(&j->calls, call);
  if (!j->disposed) {
    if (error)
      call->reply(j->owner, NULL, error, call->user_data);
    else {
      if (result == NULL)
        result = json_object();
      call->reply(j->owner, result, NULL, call->user_data);
    }
  }
  json_decref(result);
  call_free(call);
}

static void call_fail(LoadJanus *j, Call *call, int code, const char *format, ...)
    G_GNUC_PRINTF(4, 5);

static void
call_fail(LoadJanus *j, Call *call, int code, const char *format, ...)
{
  va_list ap;
  va_start(ap, format);
  g_autofree char *text = g_strdup_vprintf(format, ap);
  va_end(ap);
  g_autoptr(GError) error = g_error_new_literal(CHORUS_ERROR, code, text);
  call_end(j, call, NULL, error);
}

static void
notify(LoadJanus *j, const char *method, json_t *params /* transfer full */)
{
  if (!j->disposed && j->cb.notification)
    j->cb.notification(j->owner, method, params, j->user_data);
  json_decref(params);
}

/* A background exchange (no call to fail) failed: its PeerConnection is
 * as good as closed. */
static void
target_failed(LoadJanus *j, const char *target, const char *reason)
{
  notify(j, "peer.closed", json_pack("{s:s, s:s}", "target", target, "reason", reason));
}

/* ---- sending ---------------------------------------------------------------------- */

static void
send_json(LoadJanus *j, json_t *msg)
{
  char *text = json_dumps(msg, JSON_COMPACT);
  soup_websocket_connection_send_text(j->ws, text);
  free(text);
}

/* Sends @msg (transfer full; a request from request_new()) and remembers
 * its transaction. */
static void
txn_send(LoadJanus *j, json_t *msg, Call *call, StepFunc step, HandleKind handle, const char *fails)
{
  if (!load_janus_is_open(j)) {
    json_decref(msg);
    if (call)
      call_fail(j, call, CHORUS_ERROR_INTERNAL, "%s: the Janus connection is not open",
                call->method);
    return;
  }
  Txn *t = g_new0(Txn, 1);
  t->id = g_strdup(json_string_value(json_object_get(msg, "transaction")));
  t->call_id = call ? call->id : 0;
  t->step = step;
  t->handle = handle;
  t->fails = fails;
  g_hash_table_replace(j->txns, t->id, t);
  send_json(j, msg);
  json_decref(msg);
}

static json_t *
request_new(LoadJanus *j, const char *verb, HandleKind handle)
{
  g_autofree char *txn = g_strdup_printf("t%u", ++j->next_txn);
  return load_janus_request_new(verb, txn, j->session_id,
                                handle < HANDLE_N ? j->handles[handle] : 0);
}

/* A VideoRoom message on @handle: @body and @jsep (transfer full; jsep may
 * be NULL). */
static void
send_message(LoadJanus *j, HandleKind handle, json_t *body, json_t *jsep, Call *call, StepFunc step,
             const char *fails)
{
  json_t *msg = request_new(j, "message", handle);
  json_object_set_new(msg, "body", body);
  if (jsep)
    json_object_set_new(msg, "jsep", jsep);
  txn_send(j, msg, call, step, handle, fails);
}

/* ---- session and handles ---------------------------------------------------------- */

static void
on_session_created(LoadJanus *j, Call *call, const Txn *txn, json_t *msg)
{
  j->creating_session = FALSE;
  json_t *id = json_object_get(json_object_get(msg, "data"), "id");
  if (!json_is_integer(id)) {
    if (call)
      call_fail(j, call, CHORUS_ERROR_INTERNAL, "Janus created a session without an id");
    return;
  }
  j->session_id = (guint64)json_integer_value(id);
  j->next_keepalive_us = 0; /* check_deadlines() schedules it from its now_us */
  gpointer waiting;
  while ((waiting = g_queue_pop_head(&j->session_waiters)) != NULL) {
    Call *w = call_lookup(j, GPOINTER_TO_UINT(waiting));
    if (w)
      w->resume(j, w, NULL, NULL);
  }
  if (call)
    call->resume(j, call, NULL, NULL);
}

static void
ensure_session(LoadJanus *j, Call *call, StepFunc then)
{
  if (j->session_id) {
    then(j, call, NULL, NULL);
    return;
  }
  call->resume = then;
  if (j->creating_session) {
    g_queue_push_tail(&j->session_waiters, GUINT_TO_POINTER(call->id));
    return;
  }
  j->creating_session = TRUE;
  txn_send(j, request_new(j, "create", HANDLE_NONE), call, on_session_created, HANDLE_NONE, NULL);
}

static void
on_attached(LoadJanus *j, Call *call, const Txn *txn, json_t *msg)
{
  json_t *id = json_object_get(json_object_get(msg, "data"), "id");
  if (!json_is_integer(id)) {
    if (call)
      call_fail(j, call, CHORUS_ERROR_INTERNAL, "Janus attached a handle without an id");
    return;
  }
  j->handles[txn->handle] = (guint64)json_integer_value(id);
  if (call)
    call->resume(j, call, NULL, NULL);
}

static void
ensure_handle(LoadJanus *j, Call *call, HandleKind kind, StepFunc then)
{
  if (j->handles[kind]) {
    then(j, call, NULL, NULL);
    return;
  }
  call->resume = then;
  json_t *msg = request_new(j, "attach", HANDLE_NONE);
  json_object_set_new(msg, "plugin", json_string(VIDEOROOM_PLUGIN));
  txn_send(j, msg, call, on_attached, kind, NULL);
}

/* ---- the subscription ------------------------------------------------------------- */

static gboolean
feed_in(GArray *feeds, guint64 feed)
{
  for (guint i = 0; i < feeds->len; i++)
    if (g_array_index(feeds, guint64, i) == feed)
      return TRUE;
  return FALSE;
}

/* Learns the publishers of a "joined", "participants" or "publishers"
 * list. @publishers_only: entries need "publisher": true (listparticipants
 * also lists participants that do not publish). */
static void
feeds_learn(LoadJanus *j, json_t *list, gboolean publishers_only)
{
  size_t i;
  json_t *entry;
  json_array_foreach(list, i, entry)
  {
    json_t *id = json_object_get(entry, "id");
    if (!json_is_integer(id))
      continue;
    if (publishers_only && !json_is_true(json_object_get(entry, "publisher")))
      continue;
    guint64 feed = (guint64)json_integer_value(id);
    if (feed != j->my_feed && !feed_in(j->feeds, feed))
      g_array_append_val(j->feeds, feed);
  }
}

static void
emit_offer(LoadJanus *j, json_t *data, json_t *jsep)
{
  const char *sdp = json_string_value(json_object_get(jsep, "sdp"));
  const char *mid = json_string_value(
      json_object_get(json_array_get(json_object_get(data, "streams"), 0), "mid"));
  notify(j, "offer",
         json_pack("{s:s, s:I, s:[{s:s}]}", "sdp", sdp ? sdp : "", "version",
                   (json_int_t)++j->offer_version, "tracks", "mid", mid ? mid : "0"));
}

static void subscription_update(LoadJanus *j, Call *call);

static void
on_subscription_offer(LoadJanus *j, Call *call, const Txn *txn, json_t *msg)
{
  json_t *jsep = json_object_get(msg, "jsep");
  if (g_strcmp0(json_string_value(json_object_get(jsep, "type")), "offer") != 0) {
    /* Nothing to negotiate (every stream asked for was already there). */
    j->sub_busy = FALSE;
    if (call)
      call_end(j, call, NULL, NULL);
    subscription_update(j, NULL);
    return;
  }
  j->sub_joined = TRUE;
  if (call)
    call_end(j, call, NULL, NULL);
  emit_offer(j, plugin_data(msg), jsep);
}

/* Asks for the feeds not yet subscribed: the subscriber handle joins with
 * them, or (joined already) adds them with "subscribe". One exchange at a
 * time: Janus renegotiates each change with a new offer. Ends @call (the
 * subscribe request, or NULL) once its offer came or nothing was to do. */
static void
subscription_update(LoadJanus *j, Call *call)
{
  if (!j->want_subscribe || j->sub_busy || j->handles[HANDLE_SUB] == 0) {
    if (call)
      call_end(j, call, NULL, NULL);
    return;
  }
  json_t *streams = json_array();
  for (guint i = 0; i < j->feeds->len; i++) {
    guint64 feed = g_array_index(j->feeds, guint64, i);
    if (feed_in(j->subscribed, feed))
      continue;
    g_array_append_val(j->subscribed, feed);
    json_array_append_new(streams, json_pack("{s:I}", "feed", (json_int_t)feed));
  }
  if (json_array_size(streams) == 0) {
    json_decref(streams);
    if (call)
      call_end(j, call, NULL, NULL);
    return;
  }
  j->sub_busy = TRUE;
  json_t *body;
  if (j->sub_joined)
    body = json_pack("{s:s, s:o}", "request", "subscribe", "streams", streams);
  else
    body = json_pack("{s:s, s:s, s:I, s:o}", "request", "join", "ptype", "subscriber", "room",
                     (json_int_t)j->room_id, "streams", streams);
  send_message(j, HANDLE_SUB, body, NULL, call, on_subscription_offer, "subscriber");
}

/* ---- Chorus methods --------------------------------------------------------------- */

static void
on_joined_publisher(LoadJanus *j, Call *call, const Txn *txn, json_t *msg)
{
  json_t *data = plugin_data(msg);
  j->my_feed = (guint64)json_integer_value(json_object_get(data, "id"));
  feeds_learn(j, json_object_get(data, "publishers"), FALSE);
  if (call)
    call_end(j, call, json_pack("{s:s}", "participant", j->identity), NULL);
}

static void
join_in_room(LoadJanus *j, Call *call, const Txn *txn, json_t *msg)
{
  if (j->handles[HANDLE_PUB] == 0) {
    /* Receive-only: joining is the subscription itself (subscribe). */
    call_end(j, call, json_pack("{s:s}", "participant", j->identity), NULL);
    return;
  }
  json_t *body = json_pack("{s:s, s:s, s:I, s:s}", "request", "join", "ptype", "publisher", "room",
                           (json_int_t)j->room_id, "display", j->identity);
  send_message(j, HANDLE_PUB, body, NULL, call, on_joined_publisher, NULL);
}

static void
join_attach(LoadJanus *j, Call *call, const Txn *txn, json_t *msg)
{
  const char *role = json_string_value(json_object_get(call->params, "role"));
  gboolean publisher = role == NULL || !g_strv_contains(receive_only_roles, role);
  ensure_handle(j, call, publisher ? HANDLE_PUB : HANDLE_SUB, join_in_room);
}

static void
call_join(LoadJanus *j, Call *call)
{
  const char *room = json_string_value(json_object_get(call->params, "room"));
  const char *identity = json_string_value(json_object_get(call->params, "identity"));
  if (room == NULL || identity == NULL) {
    call_fail(j, call, CHORUS_ERROR_INVALID_PARAMS, "join: room and identity are required");
    return;
  }
  j->room_id = load_janus_room_id(room);
  g_free(j->identity);
  j->identity = g_strdup(identity);
  ensure_session(j, call, join_attach);
}

static void
on_published(LoadJanus *j, Call *call, const Txn *txn, json_t *msg)
{
  if (call == NULL)
    return;
  json_t *jsep = json_object_get(msg, "jsep");
  const char *sdp = json_string_value(json_object_get(jsep, "sdp"));
  if (sdp == NULL || g_strcmp0(json_string_value(json_object_get(jsep, "type")), "answer") != 0) {
    call_fail(j, call, CHORUS_ERROR_NEGOTIATION_FAILED, "Janus's publish reply has no answer");
    return;
  }
  call_end(j, call, json_pack("{s:s}", "sdp", sdp), NULL);
}

static void
call_publish(LoadJanus *j, Call *call)
{
  const char *sdp = json_string_value(json_object_get(call->params, "sdp"));
  if (j->handles[HANDLE_PUB] == 0 || sdp == NULL) {
    call_fail(j, call, CHORUS_ERROR_INVALID_PARAMS,
              "publish: needs an sdp and a join with a publishing role first");
    return;
  }
  send_message(j, HANDLE_PUB, json_pack("{s:s}", "request", "publish"),
               json_pack("{s:s, s:s}", "type", "offer", "sdp", sdp), call, on_published, NULL);
}

static void
on_participants(LoadJanus *j, Call *call, const Txn *txn, json_t *msg)
{
  feeds_learn(j, json_object_get(plugin_data(msg), "participants"), TRUE);
  j->want_subscribe = TRUE;
  if (call)
    subscription_update(j, call);
}

static void
subscribe_list(LoadJanus *j, Call *call, const Txn *txn, json_t *msg)
{
  send_message(
      j, HANDLE_SUB,
      json_pack("{s:s, s:I}", "request", "listparticipants", "room", (json_int_t)j->room_id), NULL,
      call, on_participants, NULL);
}

static void
call_subscribe(LoadJanus *j, Call *call)
{
  if (j->session_id == 0) {
    call_fail(j, call, CHORUS_ERROR_INVALID_REQUEST, "subscribe: join first");
    return;
  }
  ensure_handle(j, call, HANDLE_SUB, subscribe_list);
}

static void
on_started(LoadJanus *j, Call *call, const Txn *txn, json_t *msg)
{
  j->sub_busy = FALSE;
  if (call)
    call_end(j, call, NULL, NULL);
  subscription_update(j, NULL);
}

static void
call_answer(LoadJanus *j, Call *call)
{
  const char *sdp = json_string_value(json_object_get(call->params, "sdp"));
  if (j->handles[HANDLE_SUB] == 0 || sdp == NULL) {
    call_fail(j, call, CHORUS_ERROR_INVALID_PARAMS, "answer: needs an sdp and an offer first");
    return;
  }
  send_message(j, HANDLE_SUB, json_pack("{s:s}", "request", "start"),
               json_pack("{s:s, s:s}", "type", "answer", "sdp", sdp), call, on_started,
               "subscriber");
}

static void
on_admin_done(LoadJanus *j, Call *call, const Txn *txn, json_t *msg)
{
  if (call)
    call_end(j, call, NULL, NULL);
}

static void
room_create_send(LoadJanus *j, Call *call, const Txn *txn, json_t *msg)
{
  send_message(j, HANDLE_ADMIN, load_janus_room_create_body(call->params), NULL, call,
               on_admin_done, NULL);
}

static void
room_destroy_send(LoadJanus *j, Call *call, const Txn *txn, json_t *msg)
{
  const char *room = json_string_value(json_object_get(call->params, "room"));
  send_message(j, HANDLE_ADMIN,
               json_pack("{s:s, s:I}", "request", "destroy", "room",
                         (json_int_t)load_janus_room_id(room ? room : "")),
               NULL, call, on_admin_done, NULL);
}

static void
admin_attach_create(LoadJanus *j, Call *call, const Txn *txn, json_t *msg)
{
  ensure_handle(j, call, HANDLE_ADMIN, room_create_send);
}

static void
admin_attach_destroy(LoadJanus *j, Call *call, const Txn *txn, json_t *msg)
{
  ensure_handle(j, call, HANDLE_ADMIN, room_destroy_send);
}

void
load_janus_call(LoadJanus *j, const char *method, json_t *params, guint timeout_ms, gint64 now_us,
                LoadRpcReplyFunc reply, gpointer user_data)
{
  Call *call = g_new0(Call, 1);
  call->id = ++j->next_call;
  call->method = g_strdup(method);
  call->params = params ? params : json_object();
  call->timeout_ms = timeout_ms;
  call->deadline_us = now_us + (gint64)timeout_ms * 1000;
  call->reply = reply;
  call->user_data = user_data;
  g_queue_push_tail(&j->calls, call);
  if (!load_janus_is_open(j)) {
    call_fail(j, call, CHORUS_ERROR_INTERNAL, "%s: the Janus connection is not open", method);
    return;
  }
  janus_ref(j);
  if (g_strcmp0(method, "join") == 0)
    call_join(j, call);
  else if (g_strcmp0(method, "publish") == 0)
    call_publish(j, call);
  else if (g_strcmp0(method, "subscribe") == 0)
    call_subscribe(j, call);
  else if (g_strcmp0(method, "answer") == 0)
    call_answer(j, call);
  else if (g_strcmp0(method, "room.create") == 0)
    ensure_session(j, call, admin_attach_create);
  else if (g_strcmp0(method, "room.destroy") == 0)
    ensure_session(j, call, admin_attach_destroy);
  else
    call_fail(j, call, CHORUS_ERROR_METHOD_NOT_FOUND, "%s: not available against Janus", method);
  janus_unref(j);
}

void
load_janus_notify(LoadJanus *j, const char *method, json_t *params)
{
  if (g_strcmp0(method, "trickle") == 0 && load_janus_is_open(j) && j->session_id) {
    const char *target = json_string_value(json_object_get(params, "target"));
    HandleKind kind = g_strcmp0(target, "publisher") == 0    ? HANDLE_PUB
                      : g_strcmp0(target, "subscriber") == 0 ? HANDLE_SUB
                                                             : HANDLE_NONE;
    if (kind != HANDLE_NONE && j->handles[kind]) {
      json_t *cand = json_object_get(params, "candidate");
      json_t *msg = request_new(j, "trickle", kind);
      json_object_set_new(
          msg, "candidate",
          load_janus_trickle_candidate(json_string_value(json_object_get(cand, "candidate")),
                                       json_string_value(json_object_get(cand, "sdpMid"))));
      txn_send(j, msg, NULL, NULL, kind, NULL);
    }
  }
  json_decref(params);
}

/* ---- receiving -------------------------------------------------------------------- */

static HandleKind
handle_of(LoadJanus *j, json_t *msg)
{
  json_t *sender = json_object_get(msg, "sender");
  if (!json_is_integer(sender))
    return HANDLE_NONE;
  for (guint k = 0; k < HANDLE_N; k++)
    if (j->handles[k] && j->handles[k] == (guint64)json_integer_value(sender))
      return (HandleKind)k;
  return HANDLE_NONE;
}

/* Messages no transaction of ours waits for: Janus's own events. */
static void
handle_unsolicited(LoadJanus *j, const char *verb, json_t *msg)
{
  HandleKind kind = handle_of(j, msg);
  const char *target = kind != HANDLE_NONE ? handle_targets[kind] : "?";
  if (g_strcmp0(verb, "event") == 0) {
    json_t *data = plugin_data(msg);
    json_t *jsep = json_object_get(msg, "jsep");
    if (g_strcmp0(json_string_value(json_object_get(data, "videoroom")), "destroyed") == 0) {
      notify(j, "room.closed", json_pack("{s:s}", "reason", "destroyed"));
    } else if (kind == HANDLE_PUB && json_is_array(json_object_get(data, "publishers"))) {
      feeds_learn(j, json_object_get(data, "publishers"), FALSE);
      subscription_update(j, NULL);
    } else if (kind == HANDLE_SUB &&
               g_strcmp0(json_string_value(json_object_get(jsep, "type")), "offer") == 0) {
      /* Janus renegotiates on its own (a feed went away). */
      j->sub_busy = TRUE;
      emit_offer(j, data, jsep);
    } else if (json_object_get(data, "error_code")) {
      g_debug("%s: Janus %s event: %s", j->url, target,
              json_string_value(json_object_get(data, "error")));
    }
  } else if (g_strcmp0(verb, "hangup") == 0) {
    const char *reason = json_string_value(json_object_get(msg, "reason"));
    g_autofree char *text = g_strdup_printf("Janus hung up (%s)", reason ? reason : "?");
    if (kind == HANDLE_PUB || kind == HANDLE_SUB)
      target_failed(j, target, text);
  } else if (g_strcmp0(verb, "timeout") == 0) {
    j->session_id = 0;
    for (guint k = HANDLE_PUB; k <= HANDLE_SUB; k++)
      if (j->handles[k])
        target_failed(j, handle_targets[k], "the Janus session timed out");
  } else if (g_strcmp0(verb, "trickle") == 0 && (kind == HANDLE_PUB || kind == HANDLE_SUB)) {
    json_t *cand = json_object_get(msg, "candidate");
    const char *text = json_string_value(json_object_get(cand, "candidate"));
    json_t *params = json_pack("{s:s}", "target", target);
    if (text == NULL || json_is_true(json_object_get(cand, "completed")))
      json_object_set_new(params, "candidate", json_null());
    else
      json_object_set_new(params, "candidate",
                          json_pack("{s:s, s:s?}", "candidate", text, "sdpMid",
                                    json_string_value(json_object_get(cand, "sdpMid"))));
    notify(j, "trickle", params);
  }
  /* webrtcup, media, slowlink, detached: nothing to do. */
}

static void
handle_message(LoadJanus *j, json_t *msg)
{
  const char *verb = json_string_value(json_object_get(msg, "janus"));
  const char *tid = json_string_value(json_object_get(msg, "transaction"));
  Txn *txn = tid ? g_hash_table_lookup(j->txns, tid) : NULL;
  if (verb == NULL)
    return;
  if (txn == NULL) {
    if (g_strcmp0(verb, "ack") != 0)
      handle_unsolicited(j, verb, msg);
    return;
  }
  /* A "message" gets an ack and then its event, in either order; a
   * trickle or keepalive only the ack. */
  if (g_strcmp0(verb, "ack") == 0 && txn->step != NULL)
    return;
  g_hash_table_steal(j->txns, txn->id);
  Call *call = call_lookup(j, txn->call_id);
  g_autoptr(GError) error = load_janus_error_from_message(msg);
  if (error) {
    if (txn->step == on_session_created)
      j->creating_session = FALSE;
    if (call) {
      g_prefix_error(&error, "%s: ", call->method);
      call_end(j, call, NULL, error);
    } else if (txn->fails) {
      target_failed(j, txn->fails, error->message);
    } else {
      g_debug("%s: %s", j->url, error->message);
    }
  } else if (txn->step) {
    txn->step(j, call, txn, msg);
  }
  txn_free(txn);
}

static void
on_ws_message(SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer user_data)
{
  LoadJanus *j = user_data;
  if (j->disposed || type != SOUP_WEBSOCKET_DATA_TEXT)
    return;
  gsize len;
  const char *data = g_bytes_get_data(message, &len);
  json_error_t jerr;
  json_t *msg = json_loadb(data, len, 0, &jerr);
  if (!json_is_object(msg)) {
    g_warning("%s: a frame that is not a JSON object: %s", j->url, msg ? "" : jerr.text);
    json_decref(msg);
    return;
  }
  janus_ref(j);
  handle_message(j, msg);
  json_decref(msg);
  janus_unref(j);
}

/* Fails every call (their callbacks may start new ones: those fail too). */
static void
fail_calls(LoadJanus *j, const GError *error)
{
  Call *c;
  while (!j->disposed && (c = g_queue_peek_head(&j->calls)) != NULL)
    call_end(j, c, NULL, error);
}

static void
on_ws_closed(SoupWebsocketConnection *ws, gpointer user_data)
{
  LoadJanus *j = user_data;
  if (j->disposed)
    return;
  janus_ref(j);
  gushort code = soup_websocket_connection_get_close_code(ws);
  const char *reason = soup_websocket_connection_get_close_data(ws);
  g_autoptr(GError) error =
      g_error_new(G_IO_ERROR, G_IO_ERROR_CLOSED, "the Janus connection closed (code %u%s%s)", code,
                  reason && *reason ? ": " : "", reason ? reason : "");
  g_hash_table_remove_all(j->txns);
  fail_calls(j, error);
  if (!j->disposed && j->cb.closed)
    j->cb.closed(j->owner, code, reason, j->close_by_us, j->user_data);
  janus_unref(j);
}

static void
on_ws_error(SoupWebsocketConnection *ws, GError *error, gpointer user_data)
{
  LoadJanus *j = user_data;
  if (!j->disposed)
    g_debug("%s: websocket error: %s", j->url, error->message);
}

static void
on_connected(GObject *source, GAsyncResult *result, gpointer user_data)
{
  LoadJanus *j = user_data;
  g_autoptr(GError) error = NULL;
  SoupWebsocketConnection *ws =
      soup_session_websocket_connect_finish(SOUP_SESSION(source), result, &error);
  if (j->disposed) {
    if (ws) {
      soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_object_unref(ws);
    }
    janus_unref(j);
    return;
  }
  j->connecting = FALSE;
  if (ws == NULL) {
    if (j->connect_timed_out) {
      g_clear_error(&error);
      g_set_error(&error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                  "cannot connect to %s: no answer within %u ms", j->url, j->connect_timeout_ms);
    } else {
      g_prefix_error(&error, "cannot connect to %s: ", j->url);
    }
    if (j->cb.connected)
      j->cb.connected(j->owner, error, j->user_data);
    janus_unref(j);
    return;
  }
  j->ws = ws;
  soup_websocket_connection_set_max_incoming_payload_size(ws, MAX_INCOMING_BYTES);
  /* Janus sends nothing while idle; libsoup's keepalive is not needed. */
  g_signal_connect(ws, "message", G_CALLBACK(on_ws_message), j);
  g_signal_connect(ws, "closed", G_CALLBACK(on_ws_closed), j);
  g_signal_connect(ws, "error", G_CALLBACK(on_ws_error), j);
  if (j->cb.connected)
    j->cb.connected(j->owner, NULL, j->user_data);
  janus_unref(j);
}

void
load_janus_connect(LoadJanus *j, guint timeout_ms, gint64 now_us)
{
  g_return_if_fail(!j->connecting && j->ws == NULL);
  g_autoptr(SoupMessage) msg = soup_message_new(SOUP_METHOD_GET, j->url);
  if (msg == NULL) {
    g_autoptr(GError) error =
        g_error_new(G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not a valid URL: %s", j->url);
    if (j->cb.connected)
      j->cb.connected(j->owner, error, j->user_data);
    return;
  }
  static char *protocols[] = {"janus-protocol", NULL};
  j->connecting = TRUE;
  j->connect_timeout_ms = timeout_ms;
  j->connect_deadline_us = now_us + (gint64)timeout_ms * 1000;
  soup_session_websocket_connect_async(j->session, msg, NULL, protocols, G_PRIORITY_DEFAULT,
                                       j->cancellable, on_connected, janus_ref(j));
}

void
load_janus_check_deadlines(LoadJanus *j, gint64 now_us)
{
  if (j->connecting && !j->connect_timed_out && now_us >= j->connect_deadline_us) {
    j->connect_timed_out = TRUE;
    g_cancellable_cancel(j->cancellable); /* on_connected reports the timeout */
  }
  if (j->session_id && j->next_keepalive_us == 0) {
    j->next_keepalive_us = now_us + KEEPALIVE_INTERVAL_US;
  } else if (j->session_id && load_janus_is_open(j) && now_us >= j->next_keepalive_us) {
    j->next_keepalive_us = now_us + KEEPALIVE_INTERVAL_US;
    txn_send(j, request_new(j, "keepalive", HANDLE_NONE), NULL, NULL, HANDLE_NONE, NULL);
  }
  janus_ref(j);
  /* Calls may have different timeouts: look at each. */
  GList *l = j->calls.head;
  while (!j->disposed && l) {
    Call *c = l->data;
    l = l->next;
    if (now_us < c->deadline_us)
      continue;
    g_autoptr(GError) error =
        g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: no reply from Janus within %u ms",
                    c->method, c->timeout_ms);
    call_end(j, c, NULL, error);
    l = j->calls.head; /* the callback may have changed the queue */
  }
  janus_unref(j);
}

void
load_janus_close(LoadJanus *j)
{
  if (!load_janus_is_open(j))
    return;
  j->close_by_us = TRUE;
  /* Janus destroys the session (and its handles) with the connection. */
  soup_websocket_connection_close(j->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}
