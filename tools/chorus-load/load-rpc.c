#define G_LOG_DOMAIN "chorus-load"

#include "load-rpc.h"

#include <string.h>

#include "core/error.h"
#include "load-janus.h"

/* Offers can be large (one m-line per track of a big conference). */
#define MAX_INCOMING_BYTES (16 * 1024 * 1024)

typedef struct {
  json_int_t id;
  gint64 deadline_us;
  guint timeout_ms;
  char *method;
  LoadRpcReplyFunc reply;
  gpointer user_data;
} Pending;

struct _LoadRpc {
  guint refcount;    /* the owner's + one per async operation in flight */
  gboolean disposed; /* load_rpc_free() was called: no more callbacks */
  SoupSession *session;
  char *url;
  LoadRpcCallbacks cb;
  gpointer user_data;
  GCancellable *cancellable;
  SoupWebsocketConnection *ws;
  gboolean connecting;
  gboolean connect_timed_out;
  guint connect_timeout_ms;
  gint64 connect_deadline_us;
  json_int_t next_id;
  GQueue pending; /* Pending *, oldest first */
  gboolean close_by_us;
  LoadJanus *janus; /* non-NULL: every call goes to the Janus backend */
};

static void
pending_free(Pending *p)
{
  g_free(p->method);
  g_free(p);
}

static LoadRpc *
rpc_ref(LoadRpc *rpc)
{
  rpc->refcount++;
  return rpc;
}

static void
rpc_unref(LoadRpc *rpc)
{
  if (--rpc->refcount > 0)
    return;
  g_assert(g_queue_is_empty(&rpc->pending));
  g_clear_object(&rpc->ws);
  g_clear_object(&rpc->cancellable);
  g_free(rpc->url);
  g_free(rpc);
}

LoadRpc *
load_rpc_new(SoupSession *session, const char *url, const LoadRpcCallbacks *callbacks,
             gpointer user_data)
{
  LoadRpc *rpc = g_new0(LoadRpc, 1);
  rpc->refcount = 1;
  rpc->session = session;
  rpc->url = g_strdup(url);
  rpc->cb = *callbacks;
  rpc->user_data = user_data;
  rpc->cancellable = g_cancellable_new();
  rpc->next_id = 1;
  g_queue_init(&rpc->pending);
  return rpc;
}

LoadRpc *
load_rpc_new_janus(SoupSession *session, const char *url, const LoadRpcCallbacks *callbacks,
                   gpointer user_data)
{
  LoadRpc *rpc = load_rpc_new(session, url, callbacks, user_data);
  rpc->janus = load_janus_new(session, url, rpc, callbacks, user_data);
  return rpc;
}

static void
drop_pending(LoadRpc *rpc)
{
  Pending *p;
  while ((p = g_queue_pop_head(&rpc->pending)) != NULL)
    pending_free(p);
}

void
load_rpc_free(LoadRpc *rpc)
{
  if (rpc == NULL)
    return;
  rpc->disposed = TRUE;
  g_clear_pointer(&rpc->janus, load_janus_free);
  g_cancellable_cancel(rpc->cancellable);
  drop_pending(rpc);
  if (rpc->ws) {
    g_signal_handlers_disconnect_by_data(rpc->ws, rpc);
    if (soup_websocket_connection_get_state(rpc->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close(rpc->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  }
  rpc_unref(rpc);
}

gboolean
load_rpc_is_open(LoadRpc *rpc)
{
  if (rpc->janus)
    return load_janus_is_open(rpc->janus);
  return rpc->ws != NULL &&
         soup_websocket_connection_get_state(rpc->ws) == SOUP_WEBSOCKET_STATE_OPEN;
}

guint
load_rpc_pending_count(LoadRpc *rpc)
{
  if (rpc->janus)
    return load_janus_pending_count(rpc->janus);
  return g_queue_get_length(&rpc->pending);
}

/* Fails every pending request with @error (their callbacks may add new
 * requests: those fail too, as the connection is gone). */
static void
fail_pending(LoadRpc *rpc, const GError *error)
{
  Pending *p;
  rpc_ref(rpc);
  while (!rpc->disposed && (p = g_queue_pop_head(&rpc->pending)) != NULL) {
    p->reply(rpc, NULL, error, p->user_data);
    pending_free(p);
  }
  rpc_unref(rpc);
}

static GError *
error_from_reply(json_t *err)
{
  json_t *code = json_object_get(err, "code");
  const char *message = json_string_value(json_object_get(err, "message"));
  json_t *data = json_object_get(err, "data");
  const char *reason = json_string_value(json_object_get(data, "reason"));
  int c = json_is_integer(code) ? (int)json_integer_value(code) : CHORUS_ERROR_INTERNAL;
  if (reason)
    return g_error_new(CHORUS_ERROR, c, "%s (%s)", message ? message : "error", reason);
  return g_error_new_literal(CHORUS_ERROR, c, message ? message : "error without a message");
}

static void
handle_reply(LoadRpc *rpc, json_t *msg, json_int_t id)
{
  Pending *found = NULL;
  for (GList *l = rpc->pending.head; l; l = l->next) {
    Pending *p = l->data;
    if (p->id == id) {
      found = p;
      g_queue_delete_link(&rpc->pending, l);
      break;
    }
  }
  if (found == NULL) {
    g_debug("reply to unknown or expired request %" JSON_INTEGER_FORMAT, id);
    return;
  }
  json_t *err = json_object_get(msg, "error");
  if (err != NULL) {
    g_autoptr(GError) error = error_from_reply(err);
    found->reply(rpc, NULL, error, found->user_data);
  } else {
    found->reply(rpc, json_object_get(msg, "result"), NULL, found->user_data);
  }
  pending_free(found);
}

static void
on_message(SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer user_data)
{
  LoadRpc *rpc = user_data;
  if (rpc->disposed || type != SOUP_WEBSOCKET_DATA_TEXT)
    return;
  gsize len;
  const char *data = g_bytes_get_data(message, &len);
  json_error_t jerr;
  json_t *msg = json_loadb(data, len, 0, &jerr);
  if (!json_is_object(msg)) {
    g_warning("%s: a frame that is not a JSON object: %s", rpc->url, msg ? "" : jerr.text);
    json_decref(msg);
    return;
  }
  rpc_ref(rpc);
  json_t *id = json_object_get(msg, "id");
  const char *method = json_string_value(json_object_get(msg, "method"));
  if (json_is_integer(id)) {
    handle_reply(rpc, msg, json_integer_value(id));
  } else if (method != NULL && id == NULL) {
    if (rpc->cb.notification)
      rpc->cb.notification(rpc, method, json_object_get(msg, "params"), rpc->user_data);
  } else if (json_object_get(msg, "error")) {
    /* An error for a request the server could not read the id of. */
    const char *text = json_string_value(json_object_get(json_object_get(msg, "error"), "message"));
    g_warning("%s: error reply without an id: %s", rpc->url, text ? text : "?");
  }
  json_decref(msg);
  rpc_unref(rpc);
}

static void
on_closed(SoupWebsocketConnection *ws, gpointer user_data)
{
  LoadRpc *rpc = user_data;
  if (rpc->disposed)
    return;
  rpc_ref(rpc);
  gushort code = soup_websocket_connection_get_close_code(ws);
  const char *reason = soup_websocket_connection_get_close_data(ws);
  g_autoptr(GError) error =
      g_error_new(G_IO_ERROR, G_IO_ERROR_CLOSED, "the signaling connection closed (code %u%s%s)",
                  code, reason && *reason ? ": " : "", reason ? reason : "");
  fail_pending(rpc, error);
  if (!rpc->disposed && rpc->cb.closed)
    rpc->cb.closed(rpc, code, reason, rpc->close_by_us, rpc->user_data);
  rpc_unref(rpc);
}

static void
on_ws_error(SoupWebsocketConnection *ws, GError *error, gpointer user_data)
{
  LoadRpc *rpc = user_data;
  if (!rpc->disposed)
    g_debug("%s: websocket error: %s", rpc->url, error->message);
}

static void
on_connected(GObject *source, GAsyncResult *result, gpointer user_data)
{
  LoadRpc *rpc = user_data;
  g_autoptr(GError) error = NULL;
  SoupWebsocketConnection *ws =
      soup_session_websocket_connect_finish(SOUP_SESSION(source), result, &error);
  if (rpc->disposed) {
    if (ws) {
      soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_object_unref(ws);
    }
    rpc_unref(rpc);
    return;
  }
  rpc->connecting = FALSE;
  if (ws == NULL) {
    if (rpc->connect_timed_out) {
      g_clear_error(&error);
      g_set_error(&error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                  "cannot connect to %s: no answer within %u ms", rpc->url,
                  rpc->connect_timeout_ms);
    } else {
      g_prefix_error(&error, "cannot connect to %s: ", rpc->url);
    }
    if (rpc->cb.connected)
      rpc->cb.connected(rpc, error, rpc->user_data);
    rpc_unref(rpc);
    return;
  }
  rpc->ws = ws;
  soup_websocket_connection_set_max_incoming_payload_size(ws, MAX_INCOMING_BYTES);
  g_signal_connect(ws, "message", G_CALLBACK(on_message), rpc);
  g_signal_connect(ws, "closed", G_CALLBACK(on_closed), rpc);
  g_signal_connect(ws, "error", G_CALLBACK(on_ws_error), rpc);
  if (rpc->cb.connected)
    rpc->cb.connected(rpc, NULL, rpc->user_data);
  rpc_unref(rpc);
}

void
load_rpc_connect(LoadRpc *rpc, guint timeout_ms, gint64 now_us)
{
  if (rpc->janus) {
    load_janus_connect(rpc->janus, timeout_ms, now_us);
    return;
  }
  g_return_if_fail(!rpc->connecting && rpc->ws == NULL);
  g_autoptr(SoupMessage) msg = soup_message_new(SOUP_METHOD_GET, rpc->url);
  if (msg == NULL) {
    g_autoptr(GError) error =
        g_error_new(G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not a valid URL: %s", rpc->url);
    if (rpc->cb.connected)
      rpc->cb.connected(rpc, error, rpc->user_data);
    return;
  }
  static char *protocols[] = {"chorus.v1", NULL};
  rpc->connecting = TRUE;
  rpc->connect_timeout_ms = timeout_ms;
  rpc->connect_deadline_us = now_us + (gint64)timeout_ms * 1000;
  soup_session_websocket_connect_async(rpc->session, msg, NULL, protocols, G_PRIORITY_DEFAULT,
                                       rpc->cancellable, on_connected, rpc_ref(rpc));
}

static void
send_json(LoadRpc *rpc, json_t *msg)
{
  char *text = json_dumps(msg, JSON_COMPACT);
  soup_websocket_connection_send_text(rpc->ws, text);
  free(text);
}

void
load_rpc_call(LoadRpc *rpc, const char *method, json_t *params, guint timeout_ms, gint64 now_us,
              LoadRpcReplyFunc reply, gpointer user_data)
{
  if (rpc->janus) {
    load_janus_call(rpc->janus, method, params, timeout_ms, now_us, reply, user_data);
    return;
  }
  if (params == NULL)
    params = json_object();
  if (!load_rpc_is_open(rpc)) {
    json_decref(params);
    g_autoptr(GError) error = g_error_new(G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                                          "%s: the signaling connection is not open", method);
    reply(rpc, NULL, error, user_data);
    return;
  }
  Pending *p = g_new0(Pending, 1);
  p->id = rpc->next_id++;
  p->deadline_us = now_us + (gint64)timeout_ms * 1000;
  p->timeout_ms = timeout_ms;
  p->method = g_strdup(method);
  p->reply = reply;
  p->user_data = user_data;
  g_queue_push_tail(&rpc->pending, p);
  json_t *msg = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", p->id, "method", method,
                          "params", params);
  send_json(rpc, msg);
  json_decref(msg);
}

void
load_rpc_notify(LoadRpc *rpc, const char *method, json_t *params)
{
  if (rpc->janus) {
    load_janus_notify(rpc->janus, method, params);
    return;
  }
  if (params == NULL)
    params = json_object();
  if (!load_rpc_is_open(rpc)) {
    json_decref(params);
    return;
  }
  json_t *msg = json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", method, "params", params);
  send_json(rpc, msg);
  json_decref(msg);
}

void
load_rpc_check_deadlines(LoadRpc *rpc, gint64 now_us)
{
  if (rpc->janus) {
    load_janus_check_deadlines(rpc->janus, now_us);
    return;
  }
  if (rpc->connecting && !rpc->connect_timed_out && now_us >= rpc->connect_deadline_us) {
    rpc->connect_timed_out = TRUE;
    g_cancellable_cancel(rpc->cancellable); /* on_connected reports the timeout */
  }
  rpc_ref(rpc);
  /* Replies come in order, so expired requests are at the head. */
  while (!rpc->disposed && !g_queue_is_empty(&rpc->pending)) {
    Pending *p = g_queue_peek_head(&rpc->pending);
    if (now_us < p->deadline_us)
      break;
    g_queue_pop_head(&rpc->pending);
    g_autoptr(GError) error = g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                          "%s: no reply within %u ms", p->method, p->timeout_ms);
    p->reply(rpc, NULL, error, p->user_data);
    pending_free(p);
  }
  rpc_unref(rpc);
}

void
load_rpc_close(LoadRpc *rpc)
{
  if (rpc->janus) {
    load_janus_close(rpc->janus);
    return;
  }
  if (!load_rpc_is_open(rpc))
    return;
  rpc->close_by_us = TRUE;
  soup_websocket_connection_close(rpc->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}
