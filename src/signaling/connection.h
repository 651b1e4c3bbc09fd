/* One WebSocket client of the signaling server (private to src/signaling).
 *
 * A connection owns the participants it joined or resumed: their sink's
 * sink_data is the connection, so notifications for them are written to
 * this socket. It remembers them by id, not by pointer, and looks each one up
 * when used (a participant may be removed behind its back: kicked, room
 * destroyed), keeping only those whose sink still points here.
 *
 * Lifecycle: created on the WebSocket upgrade; freed by the server when
 * libsoup reports the socket closed. Main thread only. */
#pragma once

#include <glib.h>
#include <jansson.h>
#include <libsoup/soup.h>

#include "core/config.h"
#include "core/ratelimit.h"
#include "rooms/directory.h"
#include "signaling/auth.h"
#include "signaling/server.h"

G_BEGIN_DECLS

typedef enum {
  CHORUS_CONN_OPEN,      /* normal operation */
  CHORUS_CONN_REFUSED,   /* over max_connections: closed with 1013 on arrival */
  CHORUS_CONN_VIOLATION, /* we closed it for a frame-level violation (1003/1009) */
  CHORUS_CONN_LOST,      /* silent past idle_timeout_s: participants detached */
  CHORUS_CONN_SHUTDOWN,  /* server shutting down (1001) */
} ChorusConnState;

typedef struct _ChorusSignalingConnection ChorusSignalingConnection;

/* A request whose reply comes later (media requests complete on the room's
 * worker). While one is outstanding the connection handles no further
 * frame, so requests stay in order (a trickle right after its publish runs
 * after it). Refcounted: the completion may outlive the connection, which
 * clears `conn` when it goes. Main thread only. */
typedef struct {
  gint refcount;
  ChorusSignalingConnection *conn; /* NULL once the connection is gone */
  json_t *id;                      /* NULL for a notification: no reply */
  char *method;
} ChorusSignalingDeferred;

struct _ChorusSignalingConnection {
  ChorusSignalingServer *server; /* borrowed: the server outlives its connections */
  const ChorusConfig *config;    /* borrowed */
  ChorusRoomDirectory *dir;      /* borrowed */
  SoupWebsocketConnection *ws;   /* owned reference */
  gulong message_id, pong_id, error_id, closed_id;

  guint64 serial; /* for logs: "conn#12" */
  char *peer;     /* "127.0.0.1:54321" */
  gboolean loopback;
  ChorusConnState state;
  gboolean close_frame_sent; /* a close frame went out (ours or libsoup's) */
  gint64 created_us;
  gint64 last_rx_us; /* last frame or pong from the peer */

  /* Authentication: either a verified token (claims), or dev-mode admin. */
  gboolean authenticated;
  gboolean admin;
  ChorusAuthClaims *claims; /* owned; NULL when unauthenticated or dev admin */
  char *url_token_refusal;  /* why ?token= was refused, for -32001 messages */

  GPtrArray *participant_ids; /* char* (owned): participants joined/resumed here */
  ChorusParticipantSink sink; /* sink_data == this connection */

  ChorusTokenBucket requests;

  /* Frames received and not yet handled (ChorusSignalingFrame*). libsoup
   * hands us every frame it has buffered in one go; handling them later in
   * small round-robin batches (server.c) keeps one flooding connection from
   * stalling the others. Bounded by bytes (see connection.c). */
  GQueue inbox;
  gsize inbox_bytes;
  gboolean scheduled; /* in the server's ready queue */
  ChorusSignalingDeferred *deferred; /* outstanding request (owned ref), or NULL */
};

/* For handlers: the reply to the current request will come through
 * chorus_signaling_deferred_done(); the handler returns
 * CHORUS_SIGNALING_DEFERRED. Returns a new reference for the completion. */
ChorusSignalingDeferred *chorus_signaling_connection_defer(ChorusSignalingConnection *conn,
                                                           json_t *id, const char *method);
/* Matches ChorusRoomDone: replies (result or error; -32010 gets
 * data.reason), resumes the connection's frames, drops the reference. */
void chorus_signaling_deferred_done(gpointer deferred, json_t *result, const GError *error);

/* A handler's return value meaning "the reply comes later". */
extern json_t *const CHORUS_SIGNALING_DEFERRED;

/* Takes a reference on @ws and wires its signals. @remote and @uri come
 * from the upgrade request (token in ?token=). When @refuse is TRUE the
 * connection is closed at once with 1013 "try again later". */
ChorusSignalingConnection *
chorus_signaling_connection_new(ChorusSignalingServer *server, const ChorusConfig *config,
                                ChorusRoomDirectory *dir, SoupWebsocketConnection *ws,
                                GSocketAddress *remote, GUri *uri, gboolean dev_mode,
                                gboolean refuse, guint64 serial, gint64 now_us);

/* Disconnects from @ws (no more signals), detaches any participant still
 * owned (grace 0: they leave at once, "disconnected") and drops @ws. */
void chorus_signaling_connection_free(ChorusSignalingConnection *conn);

/* Periodic check from the server's sweep timer: a connection silent past
 * idle_timeout_s is lost (participants detached for the resume grace, socket
 * closed); a refused one that has not closed in 5 s is closed again. */
void chorus_signaling_connection_check_idle(ChorusSignalingConnection *conn, gint64 now_us);

/* Server shutdown: participants still owned leave ("disconnected"), then a
 * close frame 1001 with @reason. */
void chorus_signaling_connection_shutdown(ChorusSignalingConnection *conn, const char *reason);

/* Handles up to @max_frames queued frames, in order. TRUE when frames
 * remain (the caller schedules the connection again). */
gboolean chorus_signaling_connection_process(ChorusSignalingConnection *conn, guint max_frames);

/* Participants: the id list is pruned of those that left or were taken over
 * (sink no longer this connection). */
guint chorus_signaling_connection_participant_count(ChorusSignalingConnection *conn);
/* The single participant of a non-admin connection, or NULL. (borrowed) */
ChorusParticipant *chorus_signaling_connection_first_participant(ChorusSignalingConnection *conn);
gboolean chorus_signaling_connection_owns(ChorusSignalingConnection *conn, ChorusParticipant *p);
void chorus_signaling_connection_add_participant(ChorusSignalingConnection *conn,
                                                 ChorusParticipant *p);
void chorus_signaling_connection_remove_participant(ChorusSignalingConnection *conn,
                                                    const char *participant_id);

/* Authentication state changes (auth method, ?token=). */
void chorus_signaling_connection_set_claims(ChorusSignalingConnection *conn,
                                            ChorusAuthClaims *claims /* transfer full */);

/* Implemented by server.c: puts @conn on (or takes it off) the queue of
 * connections with frames to handle. */
void chorus_signaling_server_schedule(ChorusSignalingServer *server,
                                      ChorusSignalingConnection *conn);
void chorus_signaling_server_unschedule(ChorusSignalingServer *server,
                                        ChorusSignalingConnection *conn);

/* Implemented by server.c: called when @conn's socket has closed; the server
 * forgets and frees it. */
void chorus_signaling_server_connection_closed(ChorusSignalingServer *server,
                                               ChorusSignalingConnection *conn);

G_END_DECLS
