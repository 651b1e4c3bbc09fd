/* The host function table handed to plugins (include/chorus/plugin.h): thin
 * wrappers over the room model, so plugins need no symbol of the server. */
#define G_LOG_DOMAIN "chorus-rooms"

#include "core/error.h"
#include "rooms/rooms-private.h"

static const char *
api_room_name(ChorusRoom *room)
{
  return chorus_room_name(room);
}

static const char *
api_room_kind(ChorusRoom *room)
{
  return chorus_room_kind(room);
}

static gpointer
api_room_state(ChorusRoom *room)
{
  return chorus_room_plugin_state(room);
}

static ChorusRoom *
api_room_lookup(ChorusRoom *from, const char *name)
{
  g_return_val_if_fail(from != NULL, NULL);
  return chorus_room_directory_lookup(from->dir, name);
}

static guint
api_room_participant_count(ChorusRoom *room)
{
  return chorus_room_participant_count(room);
}

static GPtrArray *
api_room_participants(ChorusRoom *room)
{
  g_return_val_if_fail(room != NULL, NULL);
  /* A copy: the plugin may kick while walking it. */
  return g_ptr_array_copy(room->participants, NULL, NULL);
}

static ChorusParticipant *
api_room_find_participant(ChorusRoom *room, const char *participant_id)
{
  return chorus_room_find_participant(room, participant_id);
}

static const char *
api_participant_id(ChorusParticipant *p)
{
  return chorus_participant_id(p);
}

static const char *
api_participant_identity(ChorusParticipant *p)
{
  return chorus_participant_identity(p);
}

static const char *
api_participant_role(ChorusParticipant *p)
{
  return chorus_participant_role(p);
}

static ChorusRoom *
api_participant_room(ChorusParticipant *p)
{
  return chorus_participant_room(p);
}

static gboolean
api_participant_set_role(ChorusParticipant *p, const char *role, GError **error)
{
  g_return_val_if_fail(p != NULL, FALSE);
  const ChorusPlugin *plugin = p->room->plugin;
  for (const char *const *r = plugin->roles; *r != NULL; r++) {
    if (g_strcmp0(*r, role) == 0) {
      p->role = *r;
      /* A role that may no longer publish loses its tracks (live.demote):
       * the participant keeps its connection and PeerConnections. */
      chorus_room_media_drop_forbidden_tracks(p);
      return TRUE;
    }
  }
  g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
              "role \"%s\" is not a role of %s rooms", role ? role : "", plugin->kind);
  return FALSE;
}

static gpointer
api_participant_get_data(ChorusParticipant *p)
{
  g_return_val_if_fail(p != NULL, NULL);
  return p->plugin_data;
}

static void
api_participant_set_data(ChorusParticipant *p, gpointer data, GDestroyNotify destroy)
{
  g_return_if_fail(p != NULL);
  gpointer old = p->plugin_data;
  GDestroyNotify old_destroy = p->plugin_data_destroy;
  p->plugin_data = data;
  p->plugin_data_destroy = destroy;
  if (old_destroy != NULL && old != data)
    old_destroy(old);
}

static void
api_notify_room(ChorusRoom *room, const char *method, json_t *params, ChorusParticipant *except)
{
  g_return_if_fail(room != NULL && method != NULL && json_is_object(params));
  chorus_room_notify_all(room, method, params, except);
}

static void
api_notify_participant(ChorusParticipant *p, const char *method, json_t *params)
{
  g_return_if_fail(p != NULL && method != NULL && json_is_object(params));
  chorus_room_notify_one(p, method, params);
}

static void
api_participant_updated(ChorusParticipant *p)
{
  g_return_if_fail(p != NULL);
  chorus_room_notify_participant_updated(p);
}

static void
api_kick(ChorusParticipant *p, const char *reason)
{
  g_return_if_fail(p != NULL);
  chorus_participant_leave(p, reason ? reason : "kicked");
}

static gboolean
api_mute_forwarding(ChorusParticipant *p, const char *track_kind, gboolean muted)
{
  return chorus_room_set_forwarding_muted(p, track_kind, muted);
}

static gboolean
api_set_audio_slots(ChorusRoom *room, guint slots)
{
  if (slots > CHORUS_MEDIA_MAX_AUDIO_SLOTS)
    return FALSE;
  room->audio_slots = slots;
  if (room->media)
    chorus_media_room_set_audio_slots(room->media, slots);
  return TRUE;
}

static gboolean
api_link_rooms(ChorusRoom *room, ChorusRoom *other)
{
  g_return_val_if_fail(room != NULL && room != other, FALSE);
  chorus_room_link(room, other);
  return TRUE;
}

static void
api_revoke_publishing(ChorusParticipant *p)
{
  g_return_if_fail(p != NULL);
  chorus_room_media_drop_forbidden_tracks(p);
}

static const ChorusPluginHostApi host_api = {
  .abi_version = CHORUS_PLUGIN_ABI_VERSION,
  .room_name = api_room_name,
  .room_kind = api_room_kind,
  .room_state = api_room_state,
  .room_lookup = api_room_lookup,
  .room_participant_count = api_room_participant_count,
  .room_participants = api_room_participants,
  .room_find_participant = api_room_find_participant,
  .participant_id = api_participant_id,
  .participant_identity = api_participant_identity,
  .participant_role = api_participant_role,
  .participant_room = api_participant_room,
  .participant_set_role = api_participant_set_role,
  .participant_get_data = api_participant_get_data,
  .participant_set_data = api_participant_set_data,
  .notify_room = api_notify_room,
  .notify_participant = api_notify_participant,
  .participant_updated = api_participant_updated,
  .kick = api_kick,
  .mute_forwarding = api_mute_forwarding,
  .set_audio_slots = api_set_audio_slots,
  .link_rooms = api_link_rooms,
  .revoke_publishing = api_revoke_publishing,
};

const ChorusPluginHostApi *
chorus_rooms_plugin_host_api(void)
{
  return &host_api;
}
