#define G_LOG_DOMAIN "chorus-signaling"

#include "signaling/connection.h"

#include <string.h>

#include "core/error.h"
#include "core/metrics.h"
#include "signaling/handlers.h"
#include "signaling/jsonrpc.h"

/* libsoup builds a close frame's payload in a 128-byte buffer and refuses
 * (protocol error) one longer than 125 bytes: keep reasons short. */
#define CLOSE_REASON_MAX 120

/* How long a refused (1013) connection may linger before we close it
 * through libsoup (the peer did not answer our close frame). */
#define REFUSED_LINGER_US (5 * G_USEC_PER_SEC)

/* "Rate limited" log lines: at most one per interval for the whole
 * process, so that a flood cannot flood the log instead. */
#define THROTTLE_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

static gint64 last_throttle_log_us; /* main thread only */

/* A client with more than this many bytes of requests waiting to be handled
 * is flooding beyond what any rate limit reply can help with: closed with
 * 1008 rather than letting its backlog grow without bound. */
#define INBOX_MIN_BYTES (4u << 20)

typedef struct {
  GBytes *data;
  gint64 rx_us; /* arrival: the rate limiter judges arrival times */
} ChorusSignalingFrame;

static void
frame_free(gpointer data)
{
  ChorusSignalingFrame *f = data;
  g_bytes_unref(f->data);
  g_free(f);
}

static void
clear_inbox(ChorusSignalingConnection *conn)
{
  g_queue_clear_full(&conn->inbox, frame_free);
  conn->inbox_bytes = 0;
}

static gboolean
can_send(ChorusSignalingConnection *conn)
{
  return !conn->close_frame_sent &&
         soup_websocket_connection_get_state(conn->ws) == SOUP_WEBSOCKET_STATE_OPEN;
}

/* Sends @msg (transfer full) as one text frame. */
static void
send_json(ChorusSignalingConnection *conn, json_t *msg)
{
  if (can_send(conn)) {
    g_autofree char *text = chorus_jsonrpc_encode(msg);
    if (text) {
      soup_websocket_connection_send_text(conn->ws, text);
      chorus_metrics_inc(CHORUS_METRIC_MESSAGES_SENT);
    }
  }
  json_decref(msg);
}

static void
reply_error(ChorusSignalingConnection *conn, json_t *id, int code, const char *message,
            json_t *data /* transfer full */)
{
  chorus_metrics_count_error(code);
  send_json(conn, chorus_jsonrpc_error_new(id, code, message, data));
}

/* Only its address matters. */
static json_t deferred_marker;
json_t *const CHORUS_SIGNALING_DEFERRED = &deferred_marker;

ChorusSignalingDeferred *
chorus_signaling_connection_defer(ChorusSignalingConnection *conn, json_t *id, const char *method)
{
  g_return_val_if_fail(conn->deferred == NULL, NULL);
  ChorusSignalingDeferred *d = g_new0(ChorusSignalingDeferred, 1);
  d->refcount = 2; /* the connection's and the completion's */
  d->conn = conn;
  d->id = id ? json_incref(id) : NULL;
  d->method = g_strdup(method);
  conn->deferred = d;
  return d;
}

static void
deferred_unref(ChorusSignalingDeferred *d)
{
  if (--d->refcount > 0)
    return;
  if (d->id)
    json_decref(d->id);
  g_free(d->method);
  g_free(d);
}

void
chorus_signaling_deferred_done(gpointer user_data, json_t *result, const GError *error)
{
  ChorusSignalingDeferred *d = user_data;
  ChorusSignalingConnection *conn = d->conn;
  if (conn != NULL) {
    if (d->id == NULL) {
      if (error)
        g_debug("conn#%" G_GUINT64_FORMAT ": notification %s failed (no reply): %s",
                conn->serial, d->method, error->message);
    } else if (error == NULL) {
      send_json(conn, chorus_jsonrpc_result_new(d->id, json_incref(result)));
    } else {
      int code = chorus_jsonrpc_error_code(error);
      json_t *data = code == CHORUS_ERROR_NEGOTIATION_FAILED
                         ? json_pack("{s:s}", "reason", error->message)
                         : NULL;
      reply_error(conn, d->id, code, error->message, data);
    }
    conn->deferred = NULL;
    deferred_unref(d); /* the connection's */
    if (!g_queue_is_empty(&conn->inbox))
      chorus_signaling_server_schedule(conn->server, conn);
  }
  deferred_unref(d); /* the completion's */
}

/* libsoup's soup_websocket_connection_close() accepts only the codes of
 * RFC 6455 section 7.4.1 that it knows, and 3000+; anything else (1013 "try
 * again later") it turns into 1002. Such a close frame is queued as a raw
 * control frame instead: libsoup then completes the close when the peer
 * echoes it (its echo handling answers 1002, which the peer ignores since it
 * has already seen our 1013). */
static gboolean
libsoup_accepts_close_code(gushort code)
{
  switch (code) {
  case SOUP_WEBSOCKET_CLOSE_NORMAL:
  case SOUP_WEBSOCKET_CLOSE_GOING_AWAY:
  case SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR:
  case SOUP_WEBSOCKET_CLOSE_UNSUPPORTED_DATA:
  case SOUP_WEBSOCKET_CLOSE_BAD_DATA:
  case SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION:
  case SOUP_WEBSOCKET_CLOSE_TOO_BIG:
  case SOUP_WEBSOCKET_CLOSE_SERVER_ERROR:
    return TRUE;
  default:
    return code >= 3000 && code <= 4999;
  }
}

static void
close_with(ChorusSignalingConnection *conn, gushort code, const char *reason)
{
  if (!can_send(conn))
    return;
  char text[CLOSE_REASON_MAX + 1];
  g_strlcpy(text, reason ? reason : "", sizeof text);
  if (libsoup_accepts_close_code(code)) {
    soup_websocket_connection_close(conn->ws, code, text);
  } else {
    guint8 frame[2 + CLOSE_REASON_MAX];
    gsize n = strlen(text);
    frame[0] = (guint8)(code >> 8);
    frame[1] = (guint8)(code & 0xff);
    memcpy(frame + 2, text, n);
    g_autoptr(GBytes) bytes = g_bytes_new(frame, 2 + n);
    /* Opcode 0x8 (close) through the message API: see above. */
    soup_websocket_connection_send_message(conn->ws, (SoupWebsocketDataType)0x08, bytes);
  }
  conn->close_frame_sent = TRUE;
}

/* Participants. */

static ChorusParticipant *
lookup_owned(ChorusSignalingConnection *conn, const char *id)
{
  ChorusParticipant *p = chorus_room_directory_find_participant(conn->dir, id);
  return (p && chorus_participant_sink_data(p) == conn) ? p : NULL;
}

static void
prune(ChorusSignalingConnection *conn)
{
  for (guint i = conn->participant_ids->len; i-- > 0;) {
    if (lookup_owned(conn, g_ptr_array_index(conn->participant_ids, i)) == NULL)
      g_ptr_array_remove_index(conn->participant_ids, i);
  }
}

guint
chorus_signaling_connection_participant_count(ChorusSignalingConnection *conn)
{
  prune(conn);
  return conn->participant_ids->len;
}

ChorusParticipant *
chorus_signaling_connection_first_participant(ChorusSignalingConnection *conn)
{
  prune(conn);
  if (conn->participant_ids->len == 0)
    return NULL;
  return lookup_owned(conn, g_ptr_array_index(conn->participant_ids, 0));
}

gboolean
chorus_signaling_connection_owns(ChorusSignalingConnection *conn, ChorusParticipant *p)
{
  return p != NULL && chorus_participant_sink_data(p) == conn;
}

void
chorus_signaling_connection_add_participant(ChorusSignalingConnection *conn, ChorusParticipant *p)
{
  g_ptr_array_add(conn->participant_ids, g_strdup(chorus_participant_id(p)));
}

void
chorus_signaling_connection_remove_participant(ChorusSignalingConnection *conn,
                                               const char *participant_id)
{
  for (guint i = 0; i < conn->participant_ids->len; i++) {
    if (g_strcmp0(g_ptr_array_index(conn->participant_ids, i), participant_id) == 0) {
      g_ptr_array_remove_index(conn->participant_ids, i);
      return;
    }
  }
}

/* Takes the id list away first: leaving sends notifications, some of them to
 * this very connection, and those may prune the list. */
static GPtrArray *
steal_participants(ChorusSignalingConnection *conn)
{
  GPtrArray *ids = conn->participant_ids;
  conn->participant_ids = g_ptr_array_new_with_free_func(g_free);
  return ids;
}

static void
leave_all(ChorusSignalingConnection *conn, const char *reason)
{
  g_autoptr(GPtrArray) ids = steal_participants(conn);
  for (guint i = 0; i < ids->len; i++) {
    ChorusParticipant *p = lookup_owned(conn, g_ptr_array_index(ids, i));
    if (p) {
      g_debug("conn#%" G_GUINT64_FORMAT ": participant %s leaves (%s)", conn->serial,
              (const char *)g_ptr_array_index(ids, i), reason);
      chorus_participant_leave(p, reason);
    }
  }
}

static void
detach_all(ChorusSignalingConnection *conn, guint grace_s)
{
  g_autoptr(GPtrArray) ids = steal_participants(conn);
  for (guint i = 0; i < ids->len; i++) {
    ChorusParticipant *p = lookup_owned(conn, g_ptr_array_index(ids, i));
    if (p) {
      g_debug("conn#%" G_GUINT64_FORMAT ": participant %s detached for %u s", conn->serial,
              (const char *)g_ptr_array_index(ids, i), grace_s);
      chorus_participant_detach(p, grace_s);
    }
  }
}

/* The sink the room layer writes notifications to. */
static void
sink_notify(gpointer sink_data, ChorusParticipant *to, const char *method, json_t *params)
{
  ChorusSignalingConnection *conn = sink_data;
  if (to && g_strcmp0(method, "room.closed") == 0)
    chorus_signaling_connection_remove_participant(conn, chorus_participant_id(to));
  send_json(conn, chorus_jsonrpc_notification_new(method, params));
}

void
chorus_signaling_connection_set_claims(ChorusSignalingConnection *conn, ChorusAuthClaims *claims)
{
  g_clear_pointer(&conn->claims, chorus_auth_claims_free);
  g_clear_pointer(&conn->url_token_refusal, g_free);
  conn->claims = claims;
  conn->authenticated = TRUE;
  conn->admin = claims->admin;
}

/* Frame handling. */

static void
violation(ChorusSignalingConnection *conn, gushort code, const char *reason)
{
  g_info("conn#%" G_GUINT64_FORMAT " (%s): closing with %u: %s", conn->serial, conn->peer, code,
         reason);
  conn->state = CHORUS_CONN_VIOLATION;
  clear_inbox(conn);
  leave_all(conn, "disconnected");
  close_with(conn, code, reason);
}

static void
handle_text(ChorusSignalingConnection *conn, const char *data, gsize len, gint64 now_us)
{
  g_autoptr(GError) error = NULL;
  json_t *error_id = NULL;
  g_autoptr(ChorusJsonRpcRequest) req = chorus_jsonrpc_parse(data, len, &error_id, &error);
  gboolean notification = req && chorus_jsonrpc_request_is_notification(req);

  /* Every frame costs a token, well-formed or not: a flood of garbage is a
   * flood too. The frame is parsed first only to echo its id. */
  if (!chorus_token_bucket_take(&conn->requests, now_us)) {
    chorus_metrics_inc(CHORUS_METRIC_REQUESTS_RATE_LIMITED);
    if (now_us - last_throttle_log_us > THROTTLE_LOG_INTERVAL_US) {
      last_throttle_log_us = now_us;
      g_warning("conn#%" G_GUINT64_FORMAT " (%s): rate limited (over %u requests/s, burst %u)",
                conn->serial, conn->peer, conn->config->request_rate, conn->config->request_burst);
    }
    if (!notification) {
      g_autofree char *msg =
          g_strdup_printf("rate limited: more than %u requests/s (burst %u) on this connection",
                          conn->config->request_rate, conn->config->request_burst);
      reply_error(conn, req ? req->id : error_id, CHORUS_ERROR_RATE_LIMITED, msg, NULL);
    }
    if (error_id)
      json_decref(error_id);
    return;
  }

  if (req == NULL) {
    /* Framing errors are always answered: see jsonrpc.h. */
    reply_error(conn, error_id, chorus_jsonrpc_error_code(error), error->message, NULL);
    json_decref(error_id);
    return;
  }

  json_t *error_data = NULL;
  gint64 wall_s = g_get_real_time() / G_USEC_PER_SEC;
  json_t *result = chorus_signaling_dispatch(conn, req, now_us, wall_s, &error_data, &error);
  if (result == CHORUS_SIGNALING_DEFERRED)
    return;
  if (notification) {
    if (error)
      g_debug("conn#%" G_GUINT64_FORMAT ": notification %s failed (no reply): %s", conn->serial,
              req->method, error->message);
    if (result)
      json_decref(result);
    if (error_data)
      json_decref(error_data);
    return;
  }
  if (result) {
    send_json(conn, chorus_jsonrpc_result_new(req->id, result));
    if (error_data)
      json_decref(error_data);
  } else {
    g_assert(error != NULL);
    reply_error(conn, req->id, chorus_jsonrpc_error_code(error), error->message, error_data);
  }
}

static void
on_message(SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer user_data)
{
  ChorusSignalingConnection *conn = user_data;
  gint64 now_us = g_get_monotonic_time();
  conn->last_rx_us = now_us;
  chorus_metrics_inc(CHORUS_METRIC_MESSAGES_RECEIVED);
  if (conn->state != CHORUS_CONN_OPEN)
    return;

  gsize len = g_bytes_get_size(message);
  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    violation(conn, SOUP_WEBSOCKET_CLOSE_UNSUPPORTED_DATA,
              "binary frames are not accepted: send JSON-RPC in text frames");
    return;
  }
  if (len > conn->config->max_frame_bytes) {
    g_autofree char *reason =
        g_strdup_printf("frame of %" G_GSIZE_FORMAT " bytes exceeds the limit of %" G_GSIZE_FORMAT,
                        len, conn->config->max_frame_bytes);
    violation(conn, SOUP_WEBSOCKET_CLOSE_TOO_BIG, reason);
    return;
  }
  gsize inbox_max = MAX(INBOX_MIN_BYTES, 4 * conn->config->max_frame_bytes);
  if (conn->inbox_bytes + len > inbox_max) {
    violation(conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
              "too many requests waiting: slow down and read the replies");
    return;
  }
  ChorusSignalingFrame *f = g_new(ChorusSignalingFrame, 1);
  f->data = g_bytes_ref(message);
  f->rx_us = now_us;
  g_queue_push_tail(&conn->inbox, f);
  conn->inbox_bytes += len;
  chorus_signaling_server_schedule(conn->server, conn);
}

gboolean
chorus_signaling_connection_process(ChorusSignalingConnection *conn, guint max_frames)
{
  for (guint n = 0; n < max_frames && conn->state == CHORUS_CONN_OPEN; n++) {
    if (conn->deferred != NULL)
      return FALSE; /* resumed by chorus_signaling_deferred_done() */
    ChorusSignalingFrame *f = g_queue_pop_head(&conn->inbox);
    if (f == NULL)
      return FALSE;
    gsize len = 0;
    const char *data = g_bytes_get_data(f->data, &len);
    conn->inbox_bytes -= len;
    handle_text(conn, data, len, f->rx_us);
    frame_free(f);
  }
  if (conn->state != CHORUS_CONN_OPEN)
    clear_inbox(conn);
  return !g_queue_is_empty(&conn->inbox);
}

static void
on_pong(SoupWebsocketConnection *ws, GBytes *message, gpointer user_data)
{
  ChorusSignalingConnection *conn = user_data;
  conn->last_rx_us = g_get_monotonic_time();
}

static void
on_error(SoupWebsocketConnection *ws, GError *error, gpointer user_data)
{
  ChorusSignalingConnection *conn = user_data;
  g_debug("conn#%" G_GUINT64_FORMAT " (%s): websocket error: %s", conn->serial, conn->peer,
          error->message);
  /* libsoup's own hard cap (see server.c): it drops the TCP connection
   * without a close frame. Treat it like our 1009. */
  if (g_error_matches(error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG) &&
      conn->state == CHORUS_CONN_OPEN) {
    g_info("conn#%" G_GUINT64_FORMAT " (%s): frame over the hard limit: connection dropped",
           conn->serial, conn->peer);
    conn->state = CHORUS_CONN_VIOLATION;
    leave_all(conn, "disconnected");
  }
}

static void
on_closed(SoupWebsocketConnection *ws, gpointer user_data)
{
  ChorusSignalingConnection *conn = user_data;
  gushort peer_code = soup_websocket_connection_get_close_code(ws);
  g_debug("conn#%" G_GUINT64_FORMAT " (%s): closed (peer code %u)", conn->serial, conn->peer,
          peer_code);
  switch (conn->state) {
  case CHORUS_CONN_OPEN:
    /* Requests that arrived before the close still take effect (a last
     * message.send, say); their replies have nowhere to go. */
    chorus_signaling_connection_process(conn, G_MAXUINT);
    /* A close frame from the peer means "I am leaving"; anything else (TCP
     * reset, EOF, libsoup's 1006) is a lost connection that may resume. */
    if (peer_code != 0 && peer_code != SOUP_WEBSOCKET_CLOSE_ABNORMAL)
      leave_all(conn, "left");
    else
      detach_all(conn, conn->config->resume_grace_s);
    break;
  case CHORUS_CONN_LOST:
    detach_all(conn, conn->config->resume_grace_s);
    break;
  case CHORUS_CONN_VIOLATION:
  case CHORUS_CONN_SHUTDOWN:
    leave_all(conn, "disconnected");
    break;
  case CHORUS_CONN_REFUSED:
    break;
  }
  chorus_metrics_add(CHORUS_METRIC_CONNECTIONS_OPEN, -1);
  /* Frees @conn. */
  chorus_signaling_server_connection_closed(conn->server, conn);
}

static char *
describe_peer(GSocketAddress *remote, gboolean *loopback)
{
  *loopback = FALSE;
  if (!G_IS_INET_SOCKET_ADDRESS(remote))
    return g_strdup("?");
  GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS(remote);
  GInetAddress *addr = g_inet_socket_address_get_address(isa);
  g_autofree char *text = g_inet_address_to_string(addr);
  *loopback = g_inet_address_get_is_loopback(addr);
  /* ::ffff:127.0.0.1 on a dual-stack socket is loopback too. */
  if (!*loopback && g_inet_address_get_family(addr) == G_SOCKET_FAMILY_IPV6 &&
      g_str_has_prefix(text, "::ffff:127."))
    *loopback = TRUE;
  return g_strdup_printf("%s:%u", text, g_inet_socket_address_get_port(isa));
}

static void
authenticate_from_url(ChorusSignalingConnection *conn, GUri *uri, gboolean dev_mode, gint64 wall_s)
{
  const char *query = uri ? g_uri_get_query(uri) : NULL;
  g_autoptr(GHashTable) params =
      query ? g_uri_parse_params(query, -1, "&", G_URI_PARAMS_WWW_FORM, NULL) : NULL;
  const char *token = params ? g_hash_table_lookup(params, "token") : NULL;

  if (token) {
    /* An explicit token is honoured even in dev mode: a refused token
     * leaves the connection unauthenticated, never silently admin. */
    g_autoptr(GError) error = NULL;
    ChorusAuthClaims *claims = chorus_auth_verify(conn->config->api_secret, token, wall_s,
                                                  conn->config->token_leeway_s, &error);
    if (claims) {
      chorus_signaling_connection_set_claims(conn, claims);
      g_debug("conn#%" G_GUINT64_FORMAT ": authenticated from ?token= (%s%s)", conn->serial,
              claims->admin ? "admin " : "", claims->identity ? claims->identity : "");
    } else {
      chorus_metrics_inc(CHORUS_METRIC_AUTH_FAILURES);
      conn->url_token_refusal = g_strdup(error->message);
      g_info("conn#%" G_GUINT64_FORMAT " (%s): ?token= %s", conn->serial, conn->peer,
             error->message);
    }
    return;
  }
  if (dev_mode && conn->loopback) {
    conn->authenticated = TRUE;
    conn->admin = TRUE;
    g_debug("conn#%" G_GUINT64_FORMAT " (%s): dev mode: unauthenticated loopback connection "
            "accepted as admin",
            conn->serial, conn->peer);
  }
}

ChorusSignalingConnection *
chorus_signaling_connection_new(ChorusSignalingServer *server, const ChorusConfig *config,
                                ChorusRoomDirectory *dir, SoupWebsocketConnection *ws,
                                GSocketAddress *remote, GUri *uri, gboolean dev_mode,
                                gboolean refuse, guint64 serial, gint64 now_us)
{
  ChorusSignalingConnection *conn = g_new0(ChorusSignalingConnection, 1);
  conn->server = server;
  conn->config = config;
  conn->dir = dir;
  conn->ws = g_object_ref(ws);
  conn->serial = serial;
  conn->peer = describe_peer(remote, &conn->loopback);
  conn->created_us = now_us;
  conn->last_rx_us = now_us;
  conn->participant_ids = g_ptr_array_new_with_free_func(g_free);
  g_queue_init(&conn->inbox);
  conn->sink.notify = sink_notify;
  conn->sink.sink_data = conn;
  chorus_token_bucket_init(&conn->requests, config->request_rate, config->request_burst, now_us);

  conn->message_id = g_signal_connect(ws, "message", G_CALLBACK(on_message), conn);
  conn->pong_id = g_signal_connect(ws, "pong", G_CALLBACK(on_pong), conn);
  conn->error_id = g_signal_connect(ws, "error", G_CALLBACK(on_error), conn);
  conn->closed_id = g_signal_connect(ws, "closed", G_CALLBACK(on_closed), conn);
  chorus_metrics_inc(CHORUS_METRIC_CONNECTIONS_TOTAL);
  chorus_metrics_inc(CHORUS_METRIC_CONNECTIONS_OPEN);

  if (refuse) {
    static gint64 last_refusal_log_us; /* main thread only */
    if (now_us - last_refusal_log_us > THROTTLE_LOG_INTERVAL_US) {
      last_refusal_log_us = now_us;
      g_warning("conn#%" G_GUINT64_FORMAT " (%s): refused with 1013: max_connections (%u) "
                "reached",
                serial, conn->peer, config->max_connections);
    }
    conn->state = CHORUS_CONN_REFUSED;
    close_with(conn, 1013, "try again later");
    return conn;
  }

  /* Frames above max_frame_bytes are closed by us with 1009 (on_message).
   * libsoup's own limit drops the TCP connection without a close frame, so
   * it is set well above ours and only stops absurd frames from being
   * buffered. */
  guint64 hard_cap = MAX((guint64)config->max_frame_bytes * 4, 4u << 20);
  soup_websocket_connection_set_max_incoming_payload_size(ws, hard_cap);
  soup_websocket_connection_set_keepalive_interval(ws, config->ping_interval_s);
  authenticate_from_url(conn, uri, dev_mode, g_get_real_time() / G_USEC_PER_SEC);
  g_debug("conn#%" G_GUINT64_FORMAT " (%s): open, subprotocol %s", serial, conn->peer,
          soup_websocket_connection_get_protocol(ws) ? soup_websocket_connection_get_protocol(ws)
                                                     : "(none)");
  return conn;
}

void
chorus_signaling_connection_check_idle(ChorusSignalingConnection *conn, gint64 now_us)
{
  switch (conn->state) {
  case CHORUS_CONN_OPEN: {
    gint64 silent_us = now_us - conn->last_rx_us;
    if (silent_us <= (gint64)conn->config->idle_timeout_s * G_USEC_PER_SEC)
      return;
    g_info("conn#%" G_GUINT64_FORMAT " (%s): silent for %" G_GINT64_FORMAT
           " s despite pings: lost (participants kept %u s for resume)",
           conn->serial, conn->peer, silent_us / G_USEC_PER_SEC, conn->config->resume_grace_s);
    conn->state = CHORUS_CONN_LOST;
    detach_all(conn, conn->config->resume_grace_s);
    close_with(conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "idle timeout");
    return;
  }
  case CHORUS_CONN_REFUSED:
    /* Our raw 1013 is invisible to libsoup's close timer. */
    if (now_us - conn->created_us > REFUSED_LINGER_US &&
        soup_websocket_connection_get_state(conn->ws) == SOUP_WEBSOCKET_STATE_OPEN) {
      conn->state = CHORUS_CONN_SHUTDOWN;
      soup_websocket_connection_close(conn->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
    }
    return;
  case CHORUS_CONN_VIOLATION:
  case CHORUS_CONN_LOST:
  case CHORUS_CONN_SHUTDOWN:
    /* libsoup closes the socket 5 s after its close frame at the latest. */
    return;
  }
}

void
chorus_signaling_connection_shutdown(ChorusSignalingConnection *conn, const char *reason)
{
  if (conn->state == CHORUS_CONN_OPEN || conn->state == CHORUS_CONN_LOST)
    conn->state = CHORUS_CONN_SHUTDOWN;
  leave_all(conn, "disconnected");
  close_with(conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, reason);
}

void
chorus_signaling_connection_free(ChorusSignalingConnection *conn)
{
  if (conn == NULL)
    return;
  g_signal_handler_disconnect(conn->ws, conn->message_id);
  g_signal_handler_disconnect(conn->ws, conn->pong_id);
  g_signal_handler_disconnect(conn->ws, conn->error_id);
  g_signal_handler_disconnect(conn->ws, conn->closed_id);
  chorus_signaling_server_unschedule(conn->server, conn);
  clear_inbox(conn);
  if (conn->deferred) {
    conn->deferred->conn = NULL;
    deferred_unref(conn->deferred);
    conn->deferred = NULL;
  }
  /* Freed while still open (server freed before the close completed):
   * nothing may keep pointing at this connection. */
  detach_all(conn, 0);
  if (soup_websocket_connection_get_state(conn->ws) != SOUP_WEBSOCKET_STATE_CLOSED)
    chorus_metrics_add(CHORUS_METRIC_CONNECTIONS_OPEN, -1);
  g_object_unref(conn->ws);
  g_ptr_array_unref(conn->participant_ids);
  chorus_auth_claims_free(conn->claims);
  g_free(conn->url_token_refusal);
  g_free(conn->peer);
  g_free(conn);
}
