/* Participant: identity, role, resume key and the connection sink. */
#define G_LOG_DOMAIN "chorus-rooms"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "core/error.h"
#include "rooms/rooms-private.h"

char *
chorus_rooms_random_hex(gsize n_bytes)
{
  g_autofree guchar *bytes = g_malloc(n_bytes);
  /* Ids and resume keys are capabilities (a resume key takes a session
   * back), so they come from the CSPRNG, not g_random. */
  if (RAND_bytes(bytes, (int)n_bytes) != 1)
    g_error("RAND_bytes failed: the OS random source is unavailable");
  char *hex = g_malloc(n_bytes * 2 + 1);
  static const char digits[] = "0123456789abcdef";
  for (gsize i = 0; i < n_bytes; i++) {
    hex[2 * i] = digits[bytes[i] >> 4];
    hex[2 * i + 1] = digits[bytes[i] & 0xf];
  }
  hex[n_bytes * 2] = '\0';
  return hex;
}

ChorusParticipant *
chorus_participant_new(ChorusRoom *room, const char *identity, const char *role, json_t *metadata,
                       const ChorusParticipantSink *sink)
{
  ChorusParticipant *p = g_new0(ChorusParticipant, 1);
  p->room = room;
  GHashTable *taken = room->dir->participants;
  do {
    g_autofree char *hex = chorus_rooms_random_hex(8);
    g_free(p->id);
    p->id = g_strconcat("p_", hex, NULL);
  } while (g_hash_table_contains(taken, p->id));
  p->identity = g_strdup(identity);
  p->role = role;
  p->metadata = metadata ? json_incref(metadata) : NULL;
  p->resume_key = chorus_rooms_random_hex(16);
  if (sink != NULL && sink->notify != NULL) {
    p->sink = *sink;
    p->attached = TRUE;
  }
  return p;
}

void
chorus_participant_free(ChorusParticipant *p)
{
  if (p == NULL)
    return;
  g_clear_handle_id(&p->grace_source_id, g_source_remove);
  if (p->plugin_data_destroy != NULL)
    p->plugin_data_destroy(p->plugin_data);
  if (p->metadata != NULL)
    json_decref(p->metadata);
  g_free(p->id);
  g_free(p->identity);
  g_free(p->resume_key);
  g_free(p->subscribe_quality);
  if (p->subscriptions != NULL)
    g_hash_table_unref(p->subscriptions);
  g_free(p);
}

json_t *
chorus_participant_json(ChorusParticipant *p)
{
  json_t *obj = json_pack("{s:s, s:s, s:s}", "participant", p->id, "identity", p->identity,
                          "role", p->role);
  if (p->metadata != NULL)
    json_object_set(obj, "metadata", p->metadata);
  ChorusRoom *room = p->room;
  if (room->plugin->participant_json != NULL)
    room->plugin->participant_json(room->plugin_state, p, obj);
  return obj;
}

json_t *
chorus_participant_join_result_json(ChorusParticipant *p)
{
  g_return_val_if_fail(p != NULL, NULL);

  ChorusRoom *room = p->room;
  json_t *others = json_array();
  for (guint i = 0; i < room->participants->len; i++) {
    ChorusParticipant *other = g_ptr_array_index(room->participants, i);
    if (other != p)
      json_array_append_new(others, chorus_participant_json(other));
  }
  json_t *tracks = json_array();
  for (guint i = 0; i < room->tracks->len; i++)
    json_array_append_new(tracks, chorus_track_json(g_ptr_array_index(room->tracks, i)));

  /* No STUN/TURN servers to hand out yet: the SFU's own candidates are in
   * its SDP, clients need no server to reach it. */
  json_t *result = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[], s:o, s:o}", "participant", p->id,
                             "room", room->name, "kind", room->plugin->kind, "role", p->role,
                             "resume_key", p->resume_key, "ice_servers", "participants", others,
                             "tracks", tracks);
  /* The participant's own kind-specific fields (seat, hand_raised ...). */
  g_autoptr(json_t) self = chorus_participant_json(p);
  json_object_set(result, "self", self);
  /* Voice rooms: who is speaking now (`speakers` only says when it changes). */
  if (room->speakers != NULL)
    json_object_set(result, "speakers", room->speakers);
  return result;
}

void
chorus_participant_leave(ChorusParticipant *p, const char *reason)
{
  g_return_if_fail(p != NULL);
  g_return_if_fail(reason != NULL);

  ChorusRoom *room = p->room;
  ChorusRoomDirectory *dir = room->dir;

  /* Out of every index first, so that nothing sent below (plugin events,
   * participant.left) reaches or lists the participant. */
  g_hash_table_remove(dir->participants, p->id);
  g_hash_table_remove(room->by_identity, p->identity);
  g_ptr_array_remove(room->participants, p); /* no free func: freed below */

  /* Its PeerConnections close on the worker, which also drops the other
   * subscribers' downtracks of its tracks and renegotiates them. */
  if (room->media != NULL)
    chorus_media_participant_remove(room->media, p->id);
  for (guint i = room->tracks->len; i > 0; i--) {
    ChorusTrack *t = g_ptr_array_index(room->tracks, i - 1);
    if (t->participant == p)
      chorus_room_track_remove(t);
  }

  if (room->plugin->participant_left != NULL)
    room->plugin->participant_left(room->plugin_state, p, reason);

  g_autoptr(json_t) params = json_pack("{s:s, s:s, s:s}", "room", room->name, "participant",
                                       p->id, "reason", reason);
  chorus_room_notify_all(room, "participant.left", params, NULL);
  /* A kicked participant is told too, so its client knows why it is out. */
  if (g_strcmp0(reason, "kicked") == 0)
    chorus_room_notify_one(p, "participant.left", params);

  g_debug("room %s: %s (%s) left: %s", room->name, p->id, p->identity, reason);
  chorus_participant_free(p);
}

static gboolean
on_grace_expired(gpointer user_data)
{
  ChorusParticipant *p = user_data;
  p->grace_source_id = 0;
  chorus_participant_leave(p, "timeout");
  return G_SOURCE_REMOVE;
}

void
chorus_participant_detach(ChorusParticipant *p, guint grace_s)
{
  g_return_if_fail(p != NULL);

  if (grace_s == 0) {
    chorus_participant_leave(p, "disconnected");
    return;
  }
  p->attached = FALSE;
  memset(&p->sink, 0, sizeof p->sink);
  /* Main context: the room model lives on the main thread. */
  g_clear_handle_id(&p->grace_source_id, g_source_remove);
  p->grace_source_id = g_timeout_add_seconds(grace_s, on_grace_expired, p);
}

gboolean
chorus_participant_resume(ChorusParticipant *p, const char *resume_key,
                          const ChorusParticipantSink *sink, GError **error)
{
  g_return_val_if_fail(p != NULL, FALSE);
  g_return_val_if_fail(sink != NULL && sink->notify != NULL, FALSE);

  /* Key first: without it, nobody learns whether the session is attached. */
  gsize key_len = resume_key ? strlen(resume_key) : 0;
  if (key_len != strlen(p->resume_key) ||
      CRYPTO_memcmp(resume_key, p->resume_key, key_len) != 0) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_UNAUTHORIZED, "wrong resume_key");
    return FALSE;
  }
  if (p->attached) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_CONFLICT,
                "participant %s is attached to a connection", p->id);
    return FALSE;
  }
  g_clear_handle_id(&p->grace_source_id, g_source_remove);
  p->sink = *sink;
  p->attached = TRUE;
  return TRUE;
}

const char *
chorus_participant_id(ChorusParticipant *p)
{
  g_return_val_if_fail(p != NULL, NULL);
  return p->id;
}

const char *
chorus_participant_identity(ChorusParticipant *p)
{
  g_return_val_if_fail(p != NULL, NULL);
  return p->identity;
}

const char *
chorus_participant_role(ChorusParticipant *p)
{
  g_return_val_if_fail(p != NULL, NULL);
  return p->role;
}

ChorusRoom *
chorus_participant_room(ChorusParticipant *p)
{
  g_return_val_if_fail(p != NULL, NULL);
  return p->room;
}

gboolean
chorus_participant_is_attached(ChorusParticipant *p)
{
  g_return_val_if_fail(p != NULL, FALSE);
  return p->attached;
}

gpointer
chorus_participant_sink_data(ChorusParticipant *p)
{
  g_return_val_if_fail(p != NULL, NULL);
  return p->attached ? p->sink.sink_data : NULL;
}

gboolean
chorus_participant_may_publish(ChorusParticipant *p, const char *track_kind)
{
  g_return_val_if_fail(p != NULL, FALSE);
  ChorusRoom *room = p->room;
  if (room->plugin->may_publish == NULL)
    return TRUE;
  return room->plugin->may_publish(room->plugin_state, p, track_kind);
}

gboolean
chorus_participant_may_receive(ChorusParticipant *subscriber, ChorusTrack *track)
{
  g_return_val_if_fail(subscriber != NULL, FALSE);
  g_return_val_if_fail(track != NULL, FALSE);

  if (track->participant == subscriber)
    return FALSE;
  ChorusRoom *room = subscriber->room;
  ChorusPluginTrackInfo info = {
    .track_id = track->id,
    .kind = track->kind,
    .publisher = track->participant,
    .publisher_room = track->participant->room,
  };
  if (room->plugin->may_receive == NULL)
    return info.publisher_room == room;
  return room->plugin->may_receive(room->plugin_state, subscriber, &info);
}
