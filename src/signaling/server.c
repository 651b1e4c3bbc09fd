#define G_LOG_DOMAIN "chorus-signaling"

#include "signaling/server.h"

#include <libsoup/soup.h>
#include <string.h>
#include <sys/socket.h>

#include "chorus-build-config.h"
#include "core/error.h"
#include "core/metrics.h"
#include "signaling/connection.h"

/* One timer for every connection: idle detection needs no finer grain. */
#define SWEEP_INTERVAL_S 1

/* Fair handling of queued frames: each turn a connection gets at most
 * FRAMES_PER_TURN frames, and one dispatch of the drain source handles at
 * most FRAMES_PER_DISPATCH before returning to the main loop, so sockets
 * (other connections' frames, libnice later) are polled in between. */
#define FRAMES_PER_TURN 16
#define LISTEN_BACKLOG 1024
#define FRAMES_PER_DISPATCH 256

struct _ChorusSignalingServer {
  const ChorusConfig *config; /* borrowed: outlives the server */
  ChorusRoomDirectory *dir;   /* borrowed: outlives the server */
  gboolean dev_mode;
  SoupServer *soup;
  GHashTable *connections; /* set of ChorusSignalingConnection* (owned) */
  guint sweep_id;
  GQueue ready;   /* ChorusSignalingConnection* with queued frames (borrowed) */
  guint drain_id; /* source handling them, while any */
  guint64 next_serial;
  gboolean shutting_down;
};

static void
on_websocket(SoupServer *soup, SoupServerMessage *msg, const char *path,
             SoupWebsocketConnection *ws, gpointer user_data)
{
  ChorusSignalingServer *server = user_data;
  gboolean refuse = g_hash_table_size(server->connections) >= server->config->max_connections;
  ChorusSignalingConnection *conn = chorus_signaling_connection_new(
      server, server->config, server->dir, ws, soup_server_message_get_remote_address(msg),
      soup_server_message_get_uri(msg), server->dev_mode, refuse, ++server->next_serial,
      g_get_monotonic_time());
  g_hash_table_add(server->connections, conn);
  /* A handshake that completed while shutting down. */
  if (server->shutting_down)
    chorus_signaling_connection_shutdown(conn, "server shutting down");
}

static gboolean
on_drain(gpointer user_data)
{
  ChorusSignalingServer *server = user_data;
  guint budget = FRAMES_PER_DISPATCH;
  while (budget > 0 && !g_queue_is_empty(&server->ready)) {
    ChorusSignalingConnection *conn = g_queue_pop_head(&server->ready);
    guint turn = MIN(budget, FRAMES_PER_TURN);
    budget -= turn;
    /* Handling cannot free a connection (libsoup reports closes from its
     * own callbacks), so @conn stays valid through the call. */
    if (chorus_signaling_connection_process(conn, turn))
      g_queue_push_tail(&server->ready, conn);
    else
      conn->scheduled = FALSE;
  }
  if (!g_queue_is_empty(&server->ready))
    return G_SOURCE_CONTINUE;
  server->drain_id = 0;
  return G_SOURCE_REMOVE;
}

void
chorus_signaling_server_schedule(ChorusSignalingServer *server, ChorusSignalingConnection *conn)
{
  if (conn->scheduled)
    return;
  conn->scheduled = TRUE;
  g_queue_push_tail(&server->ready, conn);
  /* Default priority, like socket sources: an idle priority would never
   * run while sockets stay busy. */
  if (server->drain_id == 0)
    server->drain_id = g_idle_add_full(G_PRIORITY_DEFAULT, on_drain, server, NULL);
}

void
chorus_signaling_server_unschedule(ChorusSignalingServer *server, ChorusSignalingConnection *conn)
{
  if (!conn->scheduled)
    return;
  g_queue_remove(&server->ready, conn);
  conn->scheduled = FALSE;
}

void
chorus_signaling_server_connection_closed(ChorusSignalingServer *server,
                                          ChorusSignalingConnection *conn)
{
  g_hash_table_remove(server->connections, conn);
}

static void
respond_text(SoupServerMessage *msg, guint status, const char *content_type, char *body)
{
  soup_server_message_set_status(msg, status, NULL);
  soup_server_message_set_response(msg, content_type, SOUP_MEMORY_TAKE, body, strlen(body));
}

/* Static files of [signaling] web_root (the demo pages and web/chorus.js).
 * libsoup has no file handler; this one serves regular files under the
 * root only: no "..", no hidden files, a small fixed set of types. */
static gboolean
serve_static(ChorusSignalingServer *server, SoupServerMessage *msg, const char *path)
{
  static const struct {
    const char *ext, *type;
  } types[] = {
    { ".html", "text/html; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" }, { ".css", "text/css; charset=utf-8" },
    { ".json", "application/json" }, { ".svg", "image/svg+xml" }, { ".png", "image/png" },
    { ".ico", "image/x-icon" },
  };
  const char *root = server->config->web_root;
  if (root == NULL || path[0] != '/' || strstr(path, "/.") != NULL || strchr(path, '\\'))
    return FALSE;
  const char *rel = strcmp(path, "/") == 0 ? "index.html" : path + 1;
  const char *type = NULL;
  for (guint i = 0; i < G_N_ELEMENTS(types) && type == NULL; i++)
    if (g_str_has_suffix(rel, types[i].ext))
      type = types[i].type;
  if (type == NULL)
    return FALSE;
  g_autofree char *file = g_build_filename(root, rel, NULL);
  char *body = NULL;
  gsize len = 0;
  if (!g_file_test(file, G_FILE_TEST_IS_REGULAR) || !g_file_get_contents(file, &body, &len, NULL))
    return FALSE;
  soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control",
                               "no-cache");
  soup_server_message_set_response(msg, type, SOUP_MEMORY_TAKE, body, len);
  return TRUE;
}

static void
on_http(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
        gpointer user_data)
{
  ChorusSignalingServer *server = user_data;
  const char *method = soup_server_message_get_method(msg);
  gboolean health = g_strcmp0(path, "/health") == 0;
  gboolean metrics = g_strcmp0(path, "/metrics") == 0;
  if (!health && !metrics && (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD) &&
      serve_static(server, msg, path))
    return;
  if (!health && !metrics) {
    respond_text(msg, SOUP_STATUS_NOT_FOUND, "application/json",
                 g_strdup("{\"error\":\"not found\"}"));
    return;
  }
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow",
                                 "GET, HEAD");
    respond_text(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "application/json",
                 g_strdup("{\"error\":\"method not allowed\"}"));
    return;
  }
  if (health)
    respond_text(msg, SOUP_STATUS_OK, "application/json", g_strdup("{\"status\":\"ok\"}"));
  else
    respond_text(msg, SOUP_STATUS_OK, "text/plain; version=0.0.4", chorus_metrics_render());
}

/* GLib 2.74 has no g_hash_table_get_keys_as_ptr_array(). */
static GPtrArray *
snapshot_connections(ChorusSignalingServer *server)
{
  GPtrArray *out = g_ptr_array_sized_new(g_hash_table_size(server->connections));
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init(&iter, server->connections);
  while (g_hash_table_iter_next(&iter, &key, NULL))
    g_ptr_array_add(out, key);
  return out;
}

static gboolean
on_sweep(gpointer user_data)
{
  ChorusSignalingServer *server = user_data;
  gint64 now_us = g_get_monotonic_time();
  /* Checking may detach participants, which notifies other connections;
   * none of that frees a connection (libsoup reports closes later), but
   * iterate over a snapshot anyway. */
  g_autoptr(GPtrArray) snapshot = snapshot_connections(server);
  for (guint i = 0; i < snapshot->len; i++)
    chorus_signaling_connection_check_idle(g_ptr_array_index(snapshot, i), now_us);
  return G_SOURCE_CONTINUE;
}

static gboolean
listen_on(ChorusSignalingServer *server, GError **error)
{
  const ChorusConfig *config = server->config;
  g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(config->listen_address);
  if (addr == NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "[signaling] listen_address: not an IP address (got \"%s\")",
                config->listen_address);
    return FALSE;
  }
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new(addr, config->port);
  g_autoptr(GError) e = NULL;
  /* Our own socket for a deep accept backlog: soup_server_listen() keeps
   * GLib's default of 10, and bursts of joins (a live room's audience)
   * overflowed it (kernel "SYN flooding", connects timing out). */
  g_autoptr(GSocket) sock = g_socket_new(g_inet_address_get_family(addr), G_SOCKET_TYPE_STREAM,
                                         G_SOCKET_PROTOCOL_TCP, &e);
  if (sock) {
    g_socket_set_listen_backlog(sock, LISTEN_BACKLOG);
    g_socket_set_option(sock, SOL_SOCKET, SO_REUSEADDR, 1, NULL);
  }
  if (sock == NULL || !g_socket_bind(sock, sa, TRUE, &e) || !g_socket_listen(sock, &e) ||
      !soup_server_listen_socket(server->soup, sock, 0, &e)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "cannot listen on %s:%u: %s",
                config->listen_address, config->port, e->message);
    return FALSE;
  }
  return TRUE;
}

ChorusSignalingServer *
chorus_signaling_server_new(const ChorusConfig *config, ChorusRoomDirectory *dir, gboolean dev_mode,
                            GError **error)
{
  g_return_val_if_fail(config != NULL && dir != NULL, NULL);

  ChorusSignalingServer *server = g_new0(ChorusSignalingServer, 1);
  server->config = config;
  server->dir = dir;
  server->dev_mode = dev_mode;
  g_queue_init(&server->ready);
  server->connections = g_hash_table_new_full(
      g_direct_hash, g_direct_equal, (GDestroyNotify)chorus_signaling_connection_free, NULL);
  server->soup = soup_server_new("server-header", "chorus/" CHORUS_VERSION " ", NULL);

  /* permessage-deflate is off: libsoup applies its frame limit to the
   * compressed size, so a small compressed frame could inflate to many
   * megabytes in memory, and signaling frames are small anyway. */
  soup_server_remove_websocket_extension(server->soup, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  char *protocols[] = {"chorus.v1", NULL};
  /* Clients offering no subprotocol are accepted too (libsoup only refuses
   * a client that offers some but not ours). */
  soup_server_add_websocket_handler(server->soup, "/ws", NULL, protocols, on_websocket, server,
                                    NULL);
  soup_server_add_handler(server->soup, NULL, on_http, server, NULL);

  if (!listen_on(server, error)) {
    chorus_signaling_server_free(server);
    return NULL;
  }
  server->sweep_id = g_timeout_add_seconds(SWEEP_INTERVAL_S, on_sweep, server);
  return server;
}

guint
chorus_signaling_server_port(ChorusSignalingServer *server)
{
  g_return_val_if_fail(server != NULL, 0);
  GSList *listeners = soup_server_get_listeners(server->soup);
  guint port = 0;
  for (GSList *l = listeners; l && port == 0; l = l->next) {
    g_autoptr(GSocketAddress) sa = g_socket_get_local_address(G_SOCKET(l->data), NULL);
    if (G_IS_INET_SOCKET_ADDRESS(sa))
      port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(sa));
  }
  g_slist_free(listeners);
  return port;
}

void
chorus_signaling_server_shutdown(ChorusSignalingServer *server)
{
  g_return_if_fail(server != NULL);
  if (server->shutting_down)
    return;
  server->shutting_down = TRUE;
  g_info("signaling: closing %u connection(s) (1001)", g_hash_table_size(server->connections));
  g_autoptr(GPtrArray) snapshot = snapshot_connections(server);
  for (guint i = 0; i < snapshot->len; i++)
    chorus_signaling_connection_shutdown(g_ptr_array_index(snapshot, i), "server shutting down");
  /* Stop accepting. WebSocket connections were taken over from libsoup's
   * HTTP layer at the upgrade, so this does not cut them. */
  soup_server_disconnect(server->soup);
}

guint
chorus_signaling_server_connection_count(ChorusSignalingServer *server)
{
  g_return_val_if_fail(server != NULL, 0);
  return g_hash_table_size(server->connections);
}

void
chorus_signaling_server_free(ChorusSignalingServer *server)
{
  if (server == NULL)
    return;
  if (server->sweep_id)
    g_source_remove(server->sweep_id);
  if (server->drain_id)
    g_source_remove(server->drain_id);
  /* Connections still open (their close handshake did not finish) are
   * dropped here; each detaches what it still owns. */
  g_hash_table_destroy(server->connections);
  g_queue_clear(&server->ready);
  if (server->soup) {
    soup_server_disconnect(server->soup);
    g_object_unref(server->soup);
  }
  g_free(server);
}
