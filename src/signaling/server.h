/* Signaling server (libsoup-3): /ws (JSON-RPC 2.0, subprotocol chorus.v1),
 * GET /health, GET /metrics. Main thread only. */
#pragma once

#include <glib.h>

#include "core/config.h"
#include "rooms/directory.h"

G_BEGIN_DECLS

typedef struct _ChorusSignalingServer ChorusSignalingServer;

/* Starts listening on config->listen_address:port. In @dev_mode,
 * unauthenticated connections from loopback are accepted as admin (and the
 * log says so); others still need a token. */
ChorusSignalingServer *chorus_signaling_server_new(const ChorusConfig *config,
                                                   ChorusRoomDirectory *dir, gboolean dev_mode,
                                                   GError **error);

/* Port actually bound (config port 0 is not allowed, but tests may ask). */
guint chorus_signaling_server_port(ChorusSignalingServer *server);

/* Closes every WebSocket with 1001 (going away) and stops listening. Call
 * after chorus_room_directory_close_all() so clients got room.closed. */
void chorus_signaling_server_shutdown(ChorusSignalingServer *server);
guint chorus_signaling_server_connection_count(ChorusSignalingServer *server);

void chorus_signaling_server_free(ChorusSignalingServer *server);

G_END_DECLS
