/* Rooms: the room directory, Room and Participant, as seen by signaling.
 *
 * Threading: the room model (directory, rooms, participants, plugin state)
 * lives on the MAIN thread, where signaling runs; every function here is
 * main-thread only. Each room is pinned to a worker (chorus_room_worker())
 * where its media objects will live; media state crosses to the worker only
 * by posted messages.
 *
 * Jansson rule (everywhere in Chorus): parameters are borrowed unless the
 * comment says (transfer full); returned json_t* are new references the
 * caller must json_decref(). */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "core/config.h"
#include "core/worker.h"
#include "rooms/plugin-host.h"

G_BEGIN_DECLS

typedef struct _ChorusRoomDirectory ChorusRoomDirectory;
typedef struct _ChorusRoom ChorusRoom;
typedef struct _ChorusParticipant ChorusParticipant;

/* Where a participant's notifications go (its signaling connection). The
 * room builds params (with "to" already set to the participant id) and calls
 * notify(); params are borrowed. A participant without a sink (connection
 * lost, inside the resume grace period) misses notifications. notify() must
 * not call back into the room model (no leave/detach/join from inside it):
 * rooms walk their participant list while notifying. */
typedef struct {
  void (*notify)(gpointer sink_data, ChorusParticipant *to, const char *method, json_t *params);
  gpointer sink_data;
} ChorusParticipantSink;

ChorusRoomDirectory *chorus_room_directory_new(const ChorusConfig *config, /* borrowed, outlives */
                                               ChorusWorkerPool *workers,  /* borrowed, outlives */
                                               ChorusPluginHost *plugins); /* borrowed, outlives */
void chorus_room_directory_free(ChorusRoomDirectory *dir);

/* Errors: -32602 (bad name: empty, > 64 bytes, or outside [A-Za-z0-9_.-];
 * unknown kind, listing the kinds available; bad max_participants or
 * options), -32009 (exists), -32013 (max_rooms reached). @max_participants 0
 * means the configured default. @options may be NULL. Returns borrowed. */
ChorusRoom *chorus_room_directory_create(ChorusRoomDirectory *dir, const char *name,
                                         const char *kind, guint max_participants,
                                         json_t *options, GError **error);

/* Every participant gets room.closed {room, reason} and is removed (reason
 * "room_closed" in participant.left is not sent: the room is gone).
 * -32004 when missing. */
gboolean chorus_room_directory_destroy(ChorusRoomDirectory *dir, const char *name,
                                       const char *reason, GError **error);

/* Destroys every room (shutdown: reason "shutdown"). */
void chorus_room_directory_close_all(ChorusRoomDirectory *dir, const char *reason);

ChorusRoom *chorus_room_directory_lookup(ChorusRoomDirectory *dir, const char *name); /* borrowed */
ChorusParticipant *chorus_room_directory_find_participant(ChorusRoomDirectory *dir,
                                                          const char *participant_id);
/* {"rooms": [{room, kind, participants, publishers}]} */
json_t *chorus_room_directory_list_json(ChorusRoomDirectory *dir);
guint chorus_room_directory_room_count(ChorusRoomDirectory *dir);
guint chorus_room_directory_participant_count(ChorusRoomDirectory *dir);

const char *chorus_room_name(ChorusRoom *room);
const char *chorus_room_kind(ChorusRoom *room);
ChorusWorker *chorus_room_worker(ChorusRoom *room);
/* {room, kind, participants: [Participant], tracks: [Track]} */
json_t *chorus_room_info_json(ChorusRoom *room);

/* Joins @identity. @role NULL = the kind's default role. Identity rule: an
 * identity is unique within a room; a second join with the same identity
 * gets -32009 (use `resume` to take a session back). Errors: -32602 (bad
 * identity/role/metadata), -32009, -32013 (room full), -32002 (the kind's
 * join policy refuses). Everyone else gets participant.joined. Returns
 * borrowed; the participant lives until it leaves. */
ChorusParticipant *chorus_room_join(ChorusRoom *room, const char *identity, const char *role,
                                    json_t *metadata, const ChorusParticipantSink *sink,
                                    GError **error);

/* The result of join/resume: {participant, room, role, resume_key,
 * ice_servers, participants (excluding self), tracks}. */
json_t *chorus_participant_join_result_json(ChorusParticipant *p);

/* Removes @p; everyone left gets participant.left {room, participant,
 * reason}. @p is freed. Reasons: "left", "disconnected", "timeout",
 * "kicked". */
void chorus_participant_leave(ChorusParticipant *p, const char *reason);

/* Connection lost without a close frame: the participant stays (media up)
 * without a sink for @grace_s seconds, then leaves with reason "timeout".
 * grace_s 0 leaves at once with reason "disconnected". */
void chorus_participant_detach(ChorusParticipant *p, guint grace_s);

/* `resume`: -32001 when @resume_key is wrong; -32009 when it is attached to
 * a connection. Cancels the grace timer and sets the new sink. */
gboolean chorus_participant_resume(ChorusParticipant *p, const char *resume_key,
                                   const ChorusParticipantSink *sink, GError **error);

const char *chorus_participant_id(ChorusParticipant *p);
const char *chorus_participant_identity(ChorusParticipant *p);
const char *chorus_participant_role(ChorusParticipant *p);
ChorusRoom *chorus_participant_room(ChorusParticipant *p);
gboolean chorus_participant_is_attached(ChorusParticipant *p);
/* The sink_data it was joined/resumed with (to check that a connection owns
 * it), or NULL when detached. */
gpointer chorus_participant_sink_data(ChorusParticipant *p);

/* message.send: @to NULL = everyone else in the room; else an array of
 * participant ids of this room (-32004 for an unknown one). @data any JSON
 * value whose compact encoding is at most message_max_bytes (-32602 else).
 * Per-participant token bucket (message_rate/message_burst): -32029. The
 * recipients get message {room, from, data}. */
gboolean chorus_room_message_send(ChorusRoom *room, ChorusParticipant *from, json_t *to,
                                  json_t *data, gint64 now_us, GError **error);

/* A kind-specific method ("voice.seat.take", "live.promote" ...): handed to
 * the room's plugin. -32601 if the room's kind has no such method. Returns
 * the result object (new reference) or NULL with @error set. */
json_t *chorus_room_plugin_request(ChorusRoom *room, ChorusParticipant *p, const char *method,
                                   json_t *params, GError **error);

/* Adds the directory's gauges (rooms, participants, by kind) to /metrics. */
void chorus_room_directory_register_metrics(ChorusRoomDirectory *dir);

G_END_DECLS
