/* Track: one published media stream in the room model (the media layer
 * keeps its own uptrack; this is what signaling lists and notifies). */
#define G_LOG_DOMAIN "chorus-rooms"

#include <string.h>

#include "core/error.h"
#include "rooms/rooms-private.h"

void
chorus_track_free(ChorusTrack *track)
{
  if (track == NULL)
    return;
  g_free(track->id);
  g_free(track->kind);
  g_strfreev(track->simulcast);
  g_free(track);
}

json_t *
chorus_track_json(ChorusTrack *track)
{
  g_return_val_if_fail(track != NULL, NULL);

  json_t *rids = json_array();
  for (char **r = track->simulcast; *r != NULL; r++)
    json_array_append_new(rids, json_string(*r));
  return json_pack("{s:s, s:s, s:s, s:b, s:o}", "track", track->id, "participant",
                   track->participant->id, "kind", track->kind, "muted", track->muted,
                   "simulcast", rids);
}

ChorusTrack *
chorus_room_track_add(ChorusParticipant *p, const char *kind, const char *const *simulcast_rids,
                      GError **error)
{
  return chorus_room_track_add_full(p, NULL, kind, simulcast_rids, error);
}

ChorusTrack *
chorus_room_track_add_full(ChorusParticipant *p, const char *id, const char *kind,
                           const char *const *simulcast_rids, GError **error)
{
  g_return_val_if_fail(p != NULL, NULL);

  if (g_strcmp0(kind, "audio") != 0 && g_strcmp0(kind, "video") != 0) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "track kind must be audio or video");
    return NULL;
  }
  if (!chorus_participant_may_publish(p, kind)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_FORBIDDEN,
                "role %s may not publish %s in this %s room", p->role, kind, p->room->plugin->kind);
    return NULL;
  }
  ChorusRoom *room = p->room;
  if (id != NULL && chorus_room_find_track(p->room, id) != NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_CONFLICT, "track %s exists", id);
    return NULL;
  }
  ChorusTrack *t = g_new0(ChorusTrack, 1);
  t->id = g_strdup(id);
  while (t->id == NULL) {
    g_autofree char *hex = chorus_rooms_random_hex(8);
    g_free(t->id);
    t->id = g_strconcat("t_", hex, NULL);
    if (chorus_room_find_track(room, t->id) != NULL)
      g_clear_pointer(&t->id, g_free);
  }
  t->participant = p;
  t->kind = g_strdup(kind);
  t->simulcast = g_strdupv((char **)simulcast_rids);
  if (t->simulcast == NULL)
    t->simulcast = g_new0(char *, 1);
  g_ptr_array_add(room->tracks, t);

  g_autoptr(json_t) params = chorus_track_json(t);
  json_object_del(params, "muted");
  json_object_set_new(params, "room", json_string(room->name));
  chorus_room_notify_all(room, "track.published", params, NULL);
  if (room->linked)
    chorus_room_media_relay(room->linked, t, TRUE);
  return t;
}

void
chorus_room_track_remove(ChorusTrack *track)
{
  g_return_if_fail(track != NULL);

  ChorusRoom *room = track->participant->room;
  if (room->linked)
    chorus_room_media_relay(room->linked, track, FALSE);
  g_ptr_array_remove(room->tracks, track);
  g_autoptr(json_t) params = json_pack("{s:s, s:s}", "room", room->name, "track", track->id);
  chorus_room_notify_all(room, "track.unpublished", params, NULL);
  chorus_track_free(track);
}

ChorusTrack *
chorus_room_find_track(ChorusRoom *room, const char *track_id)
{
  g_return_val_if_fail(room != NULL, NULL);
  for (guint i = 0; track_id != NULL && i < room->tracks->len; i++) {
    ChorusTrack *t = g_ptr_array_index(room->tracks, i);
    if (strcmp(t->id, track_id) == 0)
      return t;
  }
  return NULL;
}

GPtrArray *
chorus_room_tracks(ChorusRoom *room)
{
  g_return_val_if_fail(room != NULL, NULL);
  return room->tracks;
}

guint
chorus_participant_track_count(ChorusParticipant *p)
{
  g_return_val_if_fail(p != NULL, 0);
  guint n = 0;
  for (guint i = 0; i < p->room->tracks->len; i++)
    if (((ChorusTrack *)g_ptr_array_index(p->room->tracks, i))->participant == p)
      n++;
  return n;
}

const char *
chorus_track_id(ChorusTrack *track)
{
  g_return_val_if_fail(track != NULL, NULL);
  return track->id;
}

const char *
chorus_track_kind(ChorusTrack *track)
{
  g_return_val_if_fail(track != NULL, NULL);
  return track->kind;
}

ChorusParticipant *
chorus_track_participant(ChorusTrack *track)
{
  g_return_val_if_fail(track != NULL, NULL);
  return track->participant;
}

gboolean
chorus_track_muted(ChorusTrack *track)
{
  g_return_val_if_fail(track != NULL, FALSE);
  return track->muted;
}

void
chorus_track_set_muted(ChorusTrack *track, gboolean muted)
{
  g_return_if_fail(track != NULL);
  track->muted = muted;
}
