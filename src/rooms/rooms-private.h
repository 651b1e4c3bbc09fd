/* Internals shared by directory.c, room.c, participant.c, track.c and
 * plugin-api.c. Not for other layers: they use directory.h and room.h.
 * Everything here is main-thread only (see directory.h). */
#pragma once

#include "core/ratelimit.h"
#include "rooms/directory.h"
#include "rooms/room.h"

G_BEGIN_DECLS

/* Private to rooms/ so that it cannot clash with another layer's. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_t, json_decref)

/* Participant metadata: any JSON object up to this compact size. */
#define CHORUS_ROOM_METADATA_MAX_BYTES 4096
#define CHORUS_ROOM_NAME_MAX_BYTES 64
#define CHORUS_ROOM_IDENTITY_MAX_BYTES 128

struct _ChorusRoomDirectory {
  const ChorusConfig *config;   /* borrowed */
  ChorusWorkerPool *workers;    /* borrowed; NULL in tests that need no worker */
  ChorusPluginHost *plugins;    /* borrowed */
  GHashTable *rooms;            /* name -> ChorusRoom* (owned, freed by room_free) */
  GHashTable *participants;     /* id -> ChorusParticipant* (borrowed; rooms own them) */
  ChorusMediaEngine *media;     /* borrowed; NULL: rooms without media (tests) */
  gboolean metrics_registered;
  /* Set while the directory is being freed: connections may already be
   * gone, so nothing is sent any more. */
  gboolean silent;
};

struct _ChorusRoom {
  ChorusRoomDirectory *dir;     /* borrowed, outlives */
  char *name;
  const ChorusPlugin *plugin;   /* borrowed from the plugin host */
  gpointer plugin_state;        /* owned by the plugin (room_destroyed frees it) */
  gboolean plugin_started;      /* room_created succeeded: room_destroyed is owed */
  ChorusWorker *worker;         /* assigned at creation, released at free */
  guint max_participants;
  GPtrArray *participants;      /* ChorusParticipant*, join order (owned) */
  GHashTable *by_identity;      /* identity -> ChorusParticipant* (borrowed) */
  GPtrArray *tracks;            /* ChorusTrack*, publish order (owned) */
  ChorusMediaRoom *media;       /* the room's media on its worker; NULL without an engine */
  guint audio_slots;            /* voice rooms: loudest speakers per listener; 0: off */
  ChorusRoom *linked;           /* PK: the room whose tracks this one's subscribers may get */
  json_t *speakers;             /* voice rooms: the last `speakers` list, or NULL */
  gboolean closing;             /* being destroyed: no joins, no per-leave events */
};

struct _ChorusParticipant {
  ChorusRoom *room;             /* borrowed; the room owns the participant */
  char *id;                     /* "p_" + 16 hex */
  char *identity;
  const char *role;             /* one of room->plugin->roles (static) */
  json_t *metadata;             /* owned reference or NULL */
  char *resume_key;             /* 32 hex */
  ChorusParticipantSink sink;
  gboolean attached;            /* sink valid */
  guint grace_source_id;        /* resume grace timer while detached */
  ChorusTokenBucket message_bucket;
  gboolean message_bucket_ready; /* initialised at the first message (needs now_us) */
  gpointer plugin_data;
  GDestroyNotify plugin_data_destroy;
  /* Subscriptions: "all" (with one quality) and/or explicit tracks. */
  gboolean subscribe_all;
  char *subscribe_quality;
  GHashTable *subscriptions;    /* track id -> quality (owned strings); NULL if none */
  guint forwarding_muted;       /* kinds the host muted: 1 audio, 2 video */
};

struct _ChorusTrack {
  char *id;                     /* "t_" + 16 hex */
  ChorusParticipant *participant; /* borrowed: the publisher */
  char *kind;                   /* "audio" | "video" */
  gboolean muted;
  GStrv simulcast;              /* rids, maybe empty, never NULL */
  gboolean relayed;             /* also forwarded into the linked room */
};

/* --- participant.c --- */
ChorusParticipant *chorus_participant_new(ChorusRoom *room, const char *identity,
                                          const char *role, json_t *metadata,
                                          const ChorusParticipantSink *sink);
/* Frees without any notification (the caller removed it from the indexes). */
void chorus_participant_free(ChorusParticipant *p);
/* Participant object: {participant, identity, role, metadata?} + plugin fields. */
json_t *chorus_participant_json(ChorusParticipant *p);
/* Lower-case hex of @n_bytes random bytes from the OS CSPRNG (transfer full). */
char *chorus_rooms_random_hex(gsize n_bytes);

/* --- room.c --- */
ChorusRoom *chorus_room_new(ChorusRoomDirectory *dir, const char *name,
                            const ChorusPlugin *plugin, guint max_participants);
/* Ends the room: with @reason, every attached participant gets room.closed
 * first; then participants are freed and the plugin's room_destroyed runs.
 * The caller has already removed the room from the directory. */
void chorus_room_free(ChorusRoom *room, const char *reason);
/* Sends @method with a shallow copy of @params plus "to" = @to's id, if @to
 * is attached. @params borrowed. */
void chorus_room_notify_one(ChorusParticipant *to, const char *method, json_t *params);
/* To every participant of @room but @except (may be NULL). */
void chorus_room_notify_all(ChorusRoom *room, const char *method, json_t *params,
                            ChorusParticipant *except);
/* participant.updated for @p to everyone in its room. */
void chorus_room_notify_participant_updated(ChorusParticipant *p);

/* --- track.c --- */
void chorus_track_free(ChorusTrack *track);

/* --- room-media.c --- */
void chorus_room_media_start(ChorusRoom *room, ChorusMediaEngine *engine);
void chorus_room_media_update_subscriber(ChorusParticipant *p);
void chorus_room_media_update_all(ChorusRoom *room);
/* PK links (room-media.c): @t (a track of the room linked with @room)
 * starts (@on) or stops being forwarded into @room, when @room's policy
 * lets anyone there receive it; @room's subscribers are updated. */
void chorus_room_media_relay(ChorusRoom *room, ChorusTrack *t, gboolean on);
/* Links @room with @other (NULL: unlinks), replacing older links. */
void chorus_room_link(ChorusRoom *room, ChorusRoom *other);
/* After a role change: unpublishes @p's tracks its new role may not
 * publish (its subscribers are renegotiated). */
void chorus_room_media_drop_forbidden_tracks(ChorusParticipant *p);
gboolean chorus_room_forwarding_muted(ChorusParticipant *p, const char *kind);
gboolean chorus_room_set_forwarding_muted(ChorusParticipant *p, const char *kind, gboolean muted);

/* --- plugin-api.c --- */
const ChorusPluginHostApi *chorus_rooms_plugin_host_api(void);

/* --- validation (directory.c) --- */
gboolean chorus_room_name_is_valid(const char *name);
gboolean chorus_room_identity_is_valid(const char *identity);

G_END_DECLS
