/* LoadJanus: the Janus backend of LoadRpc (load_rpc_new_janus()), so that
 * chorus-load can drive the same participants, with the same media code,
 * against the VideoRoom plugin of a Janus server (issue #8: Chorus against
 * Janus, same load, same run).
 *
 * It speaks the Janus API over a WebSocket (subprotocol "janus-protocol"):
 * transactions, one session per connection, handles attached to
 * janus.plugin.videoroom, keepalives every 25 s. It takes the Chorus
 * requests that load-participant.c and main.c make and translates them:
 *
 *   room.create / room.destroy  -> an admin handle: videoroom "create" /
 *                                  "destroy" (the room name hashed to a
 *                                  numeric Janus room id)
 *   join       -> create the session, attach a handle; publishing roles
 *                 (everything but audience and listener) join as publisher
 *   publish    -> "publish" with our offer; the result carries Janus's answer
 *   subscribe  -> "listparticipants", then one multistream subscriber handle
 *                 joined to every publisher's feed; Janus's offer comes as an
 *                 "offer" notification (version 1, 2, ...), as with Chorus.
 *                 Publishers that appear later (the publisher handle's
 *                 "publishers" events) are added with "subscribe" and
 *                 another offer.
 *   answer     -> "start" with our answer
 *   trickle    -> "trickle" on the publisher or subscriber handle
 *
 * and Janus's events back: "hangup" -> peer.closed, the room's "destroyed"
 * -> room.closed, a session "timeout" -> peer.closed, "trickle" -> trickle.
 * Errors become GErrors in the CHORUS_ERROR domain (VideoRoom 426 "no such
 * room" -> NOT_FOUND, 427 "room exists" -> CONFLICT, ...).
 *
 * Times: as for Chorus, the join time starts at "join", which here includes
 * creating the Janus session (Chorus needs no such round trip).
 *
 * Threading: as LoadRpc (the thread-default context of its creator). */
#pragma once

#include <glib.h>
#include <jansson.h>
#include <libsoup/soup.h>

#include "load-rpc.h"

G_BEGIN_DECLS

typedef struct _LoadJanus LoadJanus;

/* @owner is the LoadRpc passed to every callback (borrowed; it owns us). */
LoadJanus *load_janus_new(SoupSession *session, const char *url, LoadRpc *owner,
                          const LoadRpcCallbacks *callbacks, gpointer user_data);
/* No callback runs after this; pending calls are dropped. */
void load_janus_free(LoadJanus *janus);

/* The LoadRpc interface (see load-rpc.h for the contract of each). */
void load_janus_connect(LoadJanus *janus, guint timeout_ms, gint64 now_us);
void load_janus_call(LoadJanus *janus, const char *method, json_t *params, guint timeout_ms,
                     gint64 now_us, LoadRpcReplyFunc reply, gpointer user_data);
void load_janus_notify(LoadJanus *janus, const char *method, json_t *params);
/* Also sends the session keepalive when it is due. */
void load_janus_check_deadlines(LoadJanus *janus, gint64 now_us);
void load_janus_close(LoadJanus *janus);
gboolean load_janus_is_open(LoadJanus *janus);
guint load_janus_pending_count(LoadJanus *janus);

/* ---- message building and parsing (pure; exposed for the unit tests) ---- */

/* The numeric VideoRoom id of a room name: every connection maps one name
 * to the same id (1 .. 2^30). */
guint64 load_janus_room_id(const char *name);

/* {"janus": VERB, "transaction": T, "session_id"?, "handle_id"?}: ids of 0
 * are left out. (transfer full) */
json_t *load_janus_request_new(const char *verb, const char *transaction, guint64 session_id,
                               guint64 handle_id);

/* The "candidate" member of a trickle request: {"candidate": "candidate:...",
 * "sdpMid": MID, "sdpMLineIndex": 0}, or {"completed": true} for a NULL
 * candidate (end of candidates). (transfer full) */
json_t *load_janus_trickle_candidate(const char *candidate, const char *mid);

/* The body of a VideoRoom "create" for Chorus's room.create params (room,
 * kind, options.max_publishers or options.seats). (transfer full) */
json_t *load_janus_room_create_body(json_t *chorus_params);

/* The error a Janus message carries: a core error ("janus": "error") or a
 * plugin error (plugindata.data.error_code); NULL when it is no error.
 * (transfer full) */
GError *load_janus_error_from_message(json_t *msg);

/* The CHORUS_ERROR code for a Janus (core or VideoRoom) error code. */
int load_janus_error_code_to_chorus(int janus_code);

G_END_DECLS
