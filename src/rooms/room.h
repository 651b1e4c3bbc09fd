/* Room model beyond the signaling contract of directory.h: tracks and the
 * plugin's forwarding policy, for the media layer. Main thread only; media
 * state reaches the room's worker as data (see ARCHITECTURE.md).
 * Jansson rule as in directory.h. */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "media/media.h"
#include "rooms/directory.h"

G_BEGIN_DECLS

typedef struct _ChorusTrack ChorusTrack;

/* Publishes a track of @p. @kind "audio" or "video" (-32602 else);
 * @simulcast_rids NULL-terminated, may be NULL. The kind's may_publish
 * decides (-32002). Everyone in the room, the publisher included, gets
 * track.published {room, track, participant, kind, simulcast}. Returns
 * borrowed; the track lives until removed or its participant leaves. */
ChorusTrack *chorus_room_track_add(ChorusParticipant *p, const char *kind,
                                   const char *const *simulcast_rids, GError **error);
/* Same with the id the media layer gave the track (NULL: a new one). */
ChorusTrack *chorus_room_track_add_full(ChorusParticipant *p, const char *id, const char *kind,
                                        const char *const *simulcast_rids, GError **error);
/* Removes @track; everyone in the room gets track.unpublished {room, track}.
 * @track is freed. */
void chorus_room_track_remove(ChorusTrack *track);
ChorusTrack *chorus_room_find_track(ChorusRoom *room, const char *track_id); /* borrowed */
/* The tracks of @room (borrowed array of borrowed ChorusTrack*). */
GPtrArray *chorus_room_tracks(ChorusRoom *room);
guint chorus_participant_track_count(ChorusParticipant *p);

const char *chorus_track_id(ChorusTrack *track);
const char *chorus_track_kind(ChorusTrack *track);
ChorusParticipant *chorus_track_participant(ChorusTrack *track);
gboolean chorus_track_muted(ChorusTrack *track);
void chorus_track_set_muted(ChorusTrack *track, gboolean muted);
/* Track object {track, participant, kind, muted, simulcast: [rid...]}. */
json_t *chorus_track_json(ChorusTrack *track);

/* Forwarding policy of the room's kind. */
gboolean chorus_participant_may_publish(ChorusParticipant *p, const char *track_kind);
/* May @subscriber receive @track (possibly a track of another room, PK)?
 * Never its own track. */
gboolean chorus_participant_may_receive(ChorusParticipant *subscriber, ChorusTrack *track);

/* The plugin's state of @room (for tests and the host API). */
gpointer chorus_room_plugin_state(ChorusRoom *room);
const ChorusPlugin *chorus_room_plugin(ChorusRoom *room);
guint chorus_room_participant_count(ChorusRoom *room);
/* Participants in join order (borrowed array of borrowed pointers). */
GPtrArray *chorus_room_participants(ChorusRoom *room);
/* A participant of @room by id, or NULL. */
ChorusParticipant *chorus_room_find_participant(ChorusRoom *room, const char *participant_id);
ChorusRoomDirectory *chorus_room_directory(ChorusRoom *room);

/* ---- media (room-media.c) -------------------------------------------------
 * Requests of PROTOCOL.md's media methods. The asynchronous ones complete
 * on the main thread through @done with a result (borrowed) or an error
 * (borrowed); exactly once. */
typedef void (*ChorusRoomDone)(gpointer user_data, json_t *result, const GError *error);

/* Rooms created after this get media on their worker. */
void chorus_room_directory_set_media_engine(ChorusRoomDirectory *dir, ChorusMediaEngine *engine);

/* `publish`: -32002 when the kind's policy refuses a kind of the offer,
 * -32010 for a bad offer. Result {sdp, tracks}; then track.published to the
 * room and a `trickle` end-of-candidates to the publisher. */
void chorus_room_publish(ChorusParticipant *p, const char *sdp, ChorusRoomDone done,
                         gpointer user_data);
void chorus_room_unpublish(ChorusParticipant *p, const char *track, ChorusRoomDone done,
                           gpointer user_data);
/* `subscribe`: @tracks is "all" or an array of track ids; @quality NULL =
 * auto. The subscriber PeerConnection's offer follows as a notification. */
gboolean chorus_room_subscribe(ChorusParticipant *p, json_t *tracks, const char *quality,
                               GError **error);
gboolean chorus_room_unsubscribe(ChorusParticipant *p, json_t *tracks, GError **error);
/* @paused: -1 unchanged, 0 resume, 1 pause. */
void chorus_room_subscription_update(ChorusParticipant *p, const char *track,
                                     const char *quality, int paused, ChorusRoomDone done,
                                     gpointer user_data);
void chorus_room_answer(ChorusParticipant *p, const char *sdp, guint64 version,
                        ChorusRoomDone done, gpointer user_data);
void chorus_room_trickle(ChorusParticipant *p, ChorusMediaTarget target, const char *candidate,
                         const char *ufrag, ChorusRoomDone done, gpointer user_data);
void chorus_room_ice_restart(ChorusParticipant *p, ChorusRoomDone done, gpointer user_data);
/* `track.mute` of one's own track: track.updated {room, track, participant,
 * muted} to the room; muted tracks are not forwarded. */
gboolean chorus_room_track_mute(ChorusParticipant *p, const char *track, gboolean muted,
                                GError **error);
void chorus_room_track_set_muted_and_notify(ChorusTrack *track, gboolean muted);

G_END_DECLS
