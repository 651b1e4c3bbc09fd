/* Chorus plugin ABI: a room kind ("voice", "live", ...) as a shared object.
 *
 * A plugin is a GModule (lib<name>.so) exporting one symbol:
 *
 *   const ChorusPlugin *chorus_plugin_get(void);
 *
 * returning a static ChorusPlugin whose first field is abi_version. The host
 * refuses a plugin whose abi_version differs from CHORUS_PLUGIN_ABI_VERSION:
 * any change to the layout or meaning of ChorusPlugin or ChorusPluginHostApi
 * bumps the version (appending to the reserved slots does not).
 *
 * Dependencies: a plugin links only GLib and Jansson. It must NOT use
 * symbols of the chorus executable (they are not exported); everything it
 * may do to the server goes through the ChorusPluginHostApi table handed to
 * room_created(). The error domain is built from the same string as the
 * server's (chorus_plugin_error_quark() below), so a GError a plugin raises
 * becomes a JSON-RPC error reply with its code unchanged.
 *
 * Policy as data: a plugin decides *who may do what* (roles, seats, join
 * policy, who may publish, who receives which track). It owns no thread, no
 * lock, no socket and no crypto. Forwarding policy is asked through
 * may_publish()/may_receive() and will be compiled by the core into data
 * (per-track receiver sets, audio slots) pushed to the room's worker, so
 * these two must be pure functions of the plugin state: no side effects.
 *
 * Threading: every callback runs on the MAIN thread (where signaling and
 * the room model live), never concurrently. Host functions may be called
 * only from inside a callback or from a GLib source the plugin attached to
 * the main context (e.g. g_timeout_add), and never from another thread.
 *
 * Jansson ownership (the same rule everywhere in Chorus): json_t* parameters
 * are BORROWED (do not decref; json_incref to keep one); json_t* return
 * values are NEW references owned by the caller. Objects handed in to be
 * filled (participant_json) are borrowed: add fields with json_object_set_new.
 *
 * Lifetimes: ChorusRoom and ChorusParticipant are opaque host handles. A
 * participant handle is valid until participant_left() returns for it (or,
 * on room destruction, until room_destroyed() is called); a room handle
 * until room_destroyed() returns. Host calls that remove a participant
 * (kick) call participant_left() synchronously before they return. */
#pragma once

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

#define CHORUS_PLUGIN_ABI_VERSION 1

/* The symbol every plugin exports. */
#define CHORUS_PLUGIN_ENTRY_SYMBOL "chorus_plugin_get"

/* Opaque host handles (the same types as the server's; repeating a typedef
 * is valid C11). */
typedef struct _ChorusRoom ChorusRoom;
typedef struct _ChorusParticipant ChorusParticipant;

typedef struct _ChorusPlugin ChorusPlugin;
typedef struct _ChorusPluginHostApi ChorusPluginHostApi;

/* Error domain and codes (the JSON-RPC codes of PROTOCOL.md). Equal to
 * CHORUS_ERROR / ChorusErrorCode of the server by construction. */
static inline GQuark
chorus_plugin_error_quark(void)
{
  return g_quark_from_static_string("chorus-error-quark");
}
#define CHORUS_PLUGIN_ERROR (chorus_plugin_error_quark())

typedef enum {
  CHORUS_PLUGIN_ERROR_INVALID_PARAMS = -32602,
  CHORUS_PLUGIN_ERROR_INTERNAL = -32603,
  CHORUS_PLUGIN_ERROR_FORBIDDEN = -32002,
  CHORUS_PLUGIN_ERROR_NOT_FOUND = -32004,
  CHORUS_PLUGIN_ERROR_CONFLICT = -32009,
  CHORUS_PLUGIN_ERROR_ROOM_FULL = -32013,
} ChorusPluginErrorCode;

/* A published track as seen by forwarding policy (borrowed view, valid for
 * the duration of the call). The publisher may be in another room (PK
 * links between live rooms). */
typedef struct {
  const char *track_id;          /* "t_..." */
  const char *kind;              /* "audio" or "video" */
  ChorusParticipant *publisher;  /* borrowed */
  ChorusRoom *publisher_room;    /* borrowed; may differ from the subscriber's */
} ChorusPluginTrackInfo;

/* What the host lets a plugin do. Handed to room_created(); the pointer is
 * valid for the life of the process, so plugins keep it in their room
 * state. Strings returned are borrowed and valid while the handle is. */
struct _ChorusPluginHostApi {
  guint32 abi_version; /* CHORUS_PLUGIN_ABI_VERSION */

  /* --- Rooms --- */
  const char *(*room_name)(ChorusRoom *room);
  const char *(*room_kind)(ChorusRoom *room);
  /* The state room_created() returned for @room (NULL while room_created
   * runs). Another room may be of another kind: check room_kind() first. */
  gpointer (*room_state)(ChorusRoom *room);
  /* Another room of the same server by name, or NULL. */
  ChorusRoom *(*room_lookup)(ChorusRoom *from, const char *name);
  guint (*room_participant_count)(ChorusRoom *room);
  /* Participants in join order (transfer container: g_ptr_array_unref it;
   * the elements are borrowed). */
  GPtrArray *(*room_participants)(ChorusRoom *room);
  /* A participant of @room by id, or NULL. */
  ChorusParticipant *(*room_find_participant)(ChorusRoom *room, const char *participant_id);

  /* --- Participants --- */
  const char *(*participant_id)(ChorusParticipant *p);
  const char *(*participant_identity)(ChorusParticipant *p);
  const char *(*participant_role)(ChorusParticipant *p);
  ChorusRoom *(*participant_room)(ChorusParticipant *p);
  /* Changes the role (must be one of the kind's roles, else -32602). Sends
   * nothing: call participant_updated() once all changes are made. */
  gboolean (*participant_set_role)(ChorusParticipant *p, const char *role, GError **error);
  /* One plugin data slot per participant. @destroy (may be NULL) runs when
   * the participant is freed, after participant_left(), or when the slot is
   * set again. */
  gpointer (*participant_get_data)(ChorusParticipant *p);
  void (*participant_set_data)(ChorusParticipant *p, gpointer data, GDestroyNotify destroy);

  /* --- Notifications (params borrowed; the host adds "to") --- */
  /* To every participant of @room except @except (may be NULL). */
  void (*notify_room)(ChorusRoom *room, const char *method, json_t *params,
                      ChorusParticipant *except);
  void (*notify_participant)(ChorusParticipant *p, const char *method, json_t *params);
  /* participant.updated {room, participant, role, + participant_json
   * fields} to everyone in the room, the subject included. */
  void (*participant_updated)(ChorusParticipant *p);
  /* Removes @p: participant_left() runs and everyone gets participant.left
   * with @reason ("kicked"). @p is invalid afterwards. */
  void (*kick)(ChorusParticipant *p, const char *reason);

  /* --- Media actions (reserved: no-ops returning FALSE until the media
   * layer lands; plugins must treat FALSE as "not applied") --- */
  /* Stop (or resume) forwarding @p's tracks of @track_kind (NULL = all). */
  gboolean (*mute_forwarding)(ChorusParticipant *p, const char *track_kind, gboolean muted);
  /* How many loudest audio sources each subscriber of @room receives. */
  gboolean (*set_audio_slots)(ChorusRoom *room, guint slots);
  /* Links @room with @other (NULL: unlinks @room) so that each room's
   * subscribers can receive the other's tracks that may_receive() lets
   * them (asked with subscriber NULL for "anyone in the room"): the media
   * crosses worker threads. A room has at most one link; linking replaces
   * the old ones of both rooms. Destroying a room unlinks it. */
  gboolean (*link_rooms)(ChorusRoom *room, ChorusRoom *other);
  /* Unpublishes @p's tracks that may_publish() refuses now (call after a
   * change that takes publishing away without a role change, e.g. leaving
   * a seat); its subscribers are renegotiated, its PeerConnections stay. */
  void (*revoke_publishing)(ChorusParticipant *p);

  gpointer reserved[6];
};

struct _ChorusPlugin {
  guint32 abi_version;        /* CHORUS_PLUGIN_ABI_VERSION */
  const char *kind;           /* "voice": the room.create kind; unique per server */
  const char *description;    /* one line, for logs */
  const char *const *methods; /* NULL-terminated plugin method names ("voice.seat.take") */
  const char *default_role;   /* role when join gives none; one of @roles */
  const char *const *roles;   /* NULL-terminated valid roles */

  /* A room of this kind is being created. @options is borrowed and may be
   * NULL (no options given). Store what you need in *@room_state_out.
   * Refuse bad options with -32602 naming the option. Required. */
  gboolean (*room_created)(const ChorusPluginHostApi *host, ChorusRoom *room, json_t *options,
                           gpointer *room_state_out, GError **error);
  /* The room is going away (room.closed was sent; participants are already
   * freed and participant_left() was NOT called for them). Free the state.
   * Other rooms may still be looked up (to end links to them). Required. */
  void (*room_destroyed)(gpointer room_state);

  /* Join policy, before the participant exists. *@role is the requested
   * role, already checked to be one of @roles; the plugin may replace it
   * with another valid role (static string). Refuse with -32002 (not
   * allowed) or -32013 (full for that role). Optional (NULL = accept). */
  gboolean (*join_check)(gpointer room_state, const char *identity, const char **role,
                         json_t *metadata, GError **error);
  /* After the participant was added, before participant.joined is sent.
   * Optional. */
  void (*participant_joined)(gpointer room_state, ChorusParticipant *p);
  /* After the participant was removed from the room's list (it is no
   * longer among room_participants()), before participant.left is sent.
   * @reason: "left", "disconnected", "timeout", "kicked". Optional. */
  void (*participant_left)(gpointer room_state, ChorusParticipant *p, const char *reason);

  /* Forwarding policy (pure; see above). @track_kind "audio"/"video".
   * Optional (NULL = allowed). */
  gboolean (*may_publish)(gpointer room_state, ChorusParticipant *p, const char *track_kind);
  /* May @subscriber (of this room) receive @track? The host never asks
   * about a participant's own tracks. Optional (NULL = only tracks of the
   * same room). */
  gboolean (*may_receive)(gpointer room_state, ChorusParticipant *subscriber,
                          const ChorusPluginTrackInfo *track);

  /* Adds kind-specific fields ("seat", "hand_raised") to the Participant
   * object @object (borrowed) used in participant.joined/updated,
   * room.info and join results. Optional. */
  void (*participant_json)(gpointer room_state, ChorusParticipant *p, json_t *object);

  /* A plugin method (one of @methods) called by @p. @params is borrowed
   * (the whole request params, "participant" included). Returns the result
   * object (new reference) or NULL with @error set. Required. */
  json_t *(*handle_request)(gpointer room_state, ChorusParticipant *p, const char *method,
                            json_t *params, GError **error);

  gpointer reserved[8];
};

/* The entry point each plugin defines (exported even when the plugin is
 * built with hidden visibility). */
typedef const ChorusPlugin *(*ChorusPluginGetFunc)(void);
__attribute__((visibility("default"))) const ChorusPlugin *chorus_plugin_get(void);

G_END_DECLS
