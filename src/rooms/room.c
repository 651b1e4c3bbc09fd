/* Room: its participants, joins, notifications, messages and the calls into
 * the room kind's plugin. */
#define G_LOG_DOMAIN "chorus-rooms"

#include <string.h>

#include "core/error.h"
#include "rooms/rooms-private.h"

ChorusRoom *
chorus_room_new(ChorusRoomDirectory *dir, const char *name, const ChorusPlugin *plugin,
                guint max_participants)
{
  ChorusRoom *room = g_new0(ChorusRoom, 1);
  room->dir = dir;
  room->name = g_strdup(name);
  room->plugin = plugin;
  room->max_participants = max_participants;
  room->participants = g_ptr_array_new();
  room->by_identity = g_hash_table_new(g_str_hash, g_str_equal);
  room->tracks = g_ptr_array_new();
  return room;
}

void
chorus_room_free(ChorusRoom *room, const char *reason)
{
  if (room == NULL)
    return;
  room->closing = TRUE;
  chorus_room_link(room, NULL); /* while both rooms' media exist */
  g_clear_pointer(&room->media, chorus_media_room_free);
  if (reason != NULL) {
    g_autoptr(json_t) params = json_pack("{s:s, s:s}", "room", room->name, "reason", reason);
    chorus_room_notify_all(room, "room.closed", params, NULL);
  }
  for (guint i = 0; i < room->tracks->len; i++)
    chorus_track_free(g_ptr_array_index(room->tracks, i));
  g_ptr_array_set_size(room->tracks, 0);
  for (guint i = 0; i < room->participants->len; i++) {
    ChorusParticipant *p = g_ptr_array_index(room->participants, i);
    g_hash_table_remove(room->dir->participants, p->id);
    chorus_participant_free(p);
  }
  g_ptr_array_set_size(room->participants, 0);
  g_hash_table_remove_all(room->by_identity);

  /* After the participants, so that the plugin's per-participant data is
   * freed while its room state still exists. */
  if (room->plugin_started)
    room->plugin->room_destroyed(room->plugin_state);
  if (room->worker != NULL)
    chorus_worker_release(room->worker);

  g_ptr_array_unref(room->participants);
  g_ptr_array_unref(room->tracks);
  if (room->speakers)
    json_decref(room->speakers);
  g_hash_table_unref(room->by_identity);
  g_free(room->name);
  g_free(room);
}

void
chorus_room_notify_one(ChorusParticipant *to, const char *method, json_t *params)
{
  if (!to->attached || to->room->dir->silent)
    return;
  /* Shallow copy: the nested values are shared (nobody mutates them), only
   * "to" differs per recipient. */
  g_autoptr(json_t) copy = json_copy(params);
  json_object_set_new(copy, "to", json_string(to->id));
  to->sink.notify(to->sink.sink_data, to, method, copy);
}

void
chorus_room_notify_all(ChorusRoom *room, const char *method, json_t *params,
                       ChorusParticipant *except)
{
  /* Sinks must not call back into the room model (documented in
   * directory.h), so the list cannot change while we walk it. */
  for (guint i = 0; i < room->participants->len; i++) {
    ChorusParticipant *p = g_ptr_array_index(room->participants, i);
    if (p != except)
      chorus_room_notify_one(p, method, params);
  }
}

void
chorus_room_notify_participant_updated(ChorusParticipant *p)
{
  ChorusRoom *room = p->room;
  g_autoptr(json_t) params = json_pack("{s:s, s:s, s:s}", "room", room->name, "participant",
                                       p->id, "role", p->role);
  if (room->plugin->participant_json != NULL)
    room->plugin->participant_json(room->plugin_state, p, params);
  chorus_room_notify_all(room, "participant.updated", params, NULL);
}

static const char *
static_role(const ChorusPlugin *plugin, const char *role)
{
  for (const char *const *r = plugin->roles; *r != NULL; r++)
    if (strcmp(*r, role) == 0)
      return *r;
  return NULL;
}

static gboolean
check_metadata(json_t *metadata, GError **error)
{
  if (metadata == NULL)
    return TRUE;
  if (!json_is_object(metadata)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS, "metadata must be an object");
    return FALSE;
  }
  gsize size = json_dumpb(metadata, NULL, 0, JSON_COMPACT);
  if (size > CHORUS_ROOM_METADATA_MAX_BYTES) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "metadata is too large (%" G_GSIZE_FORMAT " bytes, at most %d)", size,
                CHORUS_ROOM_METADATA_MAX_BYTES);
    return FALSE;
  }
  return TRUE;
}

ChorusParticipant *
chorus_room_join(ChorusRoom *room, const char *identity, const char *role, json_t *metadata,
                 const ChorusParticipantSink *sink, GError **error)
{
  g_return_val_if_fail(room != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (!chorus_room_identity_is_valid(identity)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "identity must be 1..%d bytes of UTF-8 without control characters",
                CHORUS_ROOM_IDENTITY_MAX_BYTES);
    return NULL;
  }
  const ChorusPlugin *plugin = room->plugin;
  const char *the_role = static_role(plugin, role ? role : plugin->default_role);
  if (the_role == NULL) {
    g_autofree char *roles = g_strjoinv(", ", (char **)plugin->roles);
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "role \"%s\" is not a role of %s rooms (roles: %s)", role, plugin->kind, roles);
    return NULL;
  }
  if (json_is_null(metadata))
    metadata = NULL;
  if (!check_metadata(metadata, error))
    return NULL;
  if (room->closing) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_NOT_FOUND, "room %s is closing", room->name);
    return NULL;
  }
  if (g_hash_table_contains(room->by_identity, identity)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_CONFLICT,
                "identity \"%s\" is already in room %s (use resume to take the session back)",
                identity, room->name);
    return NULL;
  }
  if (room->participants->len >= room->max_participants) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_ROOM_FULL, "room %s is full (%u participants)",
                room->name, room->max_participants);
    return NULL;
  }
  if (plugin->join_check != NULL) {
    const char *picked = the_role;
    if (!plugin->join_check(room->plugin_state, identity, &picked, metadata, error))
      return NULL;
    the_role = picked ? static_role(plugin, picked) : NULL;
    if (the_role == NULL) {
      g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL,
                  "plugin %s picked an invalid role", plugin->kind);
      return NULL;
    }
  }

  ChorusParticipant *p = chorus_participant_new(room, identity, the_role, metadata, sink);
  g_ptr_array_add(room->participants, p);
  g_hash_table_insert(room->by_identity, p->identity, p);
  g_hash_table_insert(room->dir->participants, p->id, p);
  if (plugin->participant_joined != NULL)
    plugin->participant_joined(room->plugin_state, p);

  g_autoptr(json_t) params = chorus_participant_json(p);
  json_object_set_new(params, "room", json_string(room->name));
  chorus_room_notify_all(room, "participant.joined", params, p);
  g_debug("room %s: %s (%s) joined as %s", room->name, p->id, p->identity, p->role);
  return p;
}

/* Resolves message.send's @to into recipients (deduplicated, in the order
 * given). */
static GPtrArray *
resolve_recipients(ChorusRoom *room, ChorusParticipant *from, json_t *to, GError **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new();
  if (to == NULL || json_is_null(to)) {
    for (guint i = 0; i < room->participants->len; i++) {
      ChorusParticipant *p = g_ptr_array_index(room->participants, i);
      if (p != from)
        g_ptr_array_add(out, p);
    }
    return g_steal_pointer(&out);
  }
  if (!json_is_array(to) || json_array_size(to) == 0) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "to must be a non-empty array of participant ids");
    return NULL;
  }
  gsize i;
  json_t *v;
  json_array_foreach(to, i, v) {
    if (!json_is_string(v)) {
      g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                  "to[%" G_GSIZE_FORMAT "] must be a participant id (string)", i);
      return NULL;
    }
    ChorusParticipant *p = chorus_room_find_participant(room, json_string_value(v));
    if (p == NULL) {
      g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_NOT_FOUND, "no participant %s in room %s",
                  json_string_value(v), room->name);
      return NULL;
    }
    if (!g_ptr_array_find(out, p, NULL))
      g_ptr_array_add(out, p);
  }
  return g_steal_pointer(&out);
}

gboolean
chorus_room_message_send(ChorusRoom *room, ChorusParticipant *from, json_t *to, json_t *data,
                         gint64 now_us, GError **error)
{
  g_return_val_if_fail(room != NULL, FALSE);
  g_return_val_if_fail(from != NULL && from->room == room, FALSE);

  if (data == NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS, "data is required");
    return FALSE;
  }
  gsize max_bytes = room->dir->config->message_max_bytes;
  gsize size = json_dumpb(data, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
  if (size > max_bytes) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "data is too large (%" G_GSIZE_FORMAT " bytes, at most %" G_GSIZE_FORMAT ")", size,
                max_bytes);
    return FALSE;
  }
  g_autoptr(GPtrArray) recipients = resolve_recipients(room, from, to, error);
  if (recipients == NULL)
    return FALSE;
  /* Only well-formed messages spend a token: a client bug does not lock
   * the participant out of sending valid ones. */
  if (!from->message_bucket_ready) {
    chorus_token_bucket_init(&from->message_bucket, room->dir->config->message_rate,
                             room->dir->config->message_burst, now_us);
    from->message_bucket_ready = TRUE;
  }
  if (!chorus_token_bucket_take(&from->message_bucket, now_us)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_RATE_LIMITED,
                "too many messages (at most %u/s, bursts of %u)", room->dir->config->message_rate,
                room->dir->config->message_burst);
    return FALSE;
  }
  g_autoptr(json_t) params = json_pack("{s:s, s:s, s:O}", "room", room->name, "from", from->id,
                                       "data", data);
  for (guint i = 0; i < recipients->len; i++)
    chorus_room_notify_one(g_ptr_array_index(recipients, i), "message", params);
  return TRUE;
}

json_t *
chorus_room_plugin_request(ChorusRoom *room, ChorusParticipant *p, const char *method,
                           json_t *params, GError **error)
{
  g_return_val_if_fail(room != NULL, NULL);
  g_return_val_if_fail(p != NULL && p->room == room, NULL);
  g_return_val_if_fail(method != NULL, NULL);

  if (!chorus_plugin_has_method(room->plugin, method)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_METHOD_NOT_FOUND,
                "%s is not a method of %s rooms", method, room->plugin->kind);
    return NULL;
  }
  g_autoptr(json_t) empty = NULL;
  if (params == NULL)
    params = empty = json_object();
  GError *local_error = NULL;
  json_t *result = room->plugin->handle_request(room->plugin_state, p, method, params,
                                                &local_error);
  if (result == NULL) {
    if (local_error == NULL)
      g_set_error(&local_error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL,
                  "plugin %s failed on %s without saying why", room->plugin->kind, method);
    g_propagate_error(error, local_error);
    return NULL;
  }
  g_clear_error(&local_error);
  return result;
}

json_t *
chorus_room_info_json(ChorusRoom *room)
{
  g_return_val_if_fail(room != NULL, NULL);

  json_t *participants = json_array();
  for (guint i = 0; i < room->participants->len; i++)
    json_array_append_new(participants,
                          chorus_participant_json(g_ptr_array_index(room->participants, i)));
  json_t *tracks = json_array();
  for (guint i = 0; i < room->tracks->len; i++)
    json_array_append_new(tracks, chorus_track_json(g_ptr_array_index(room->tracks, i)));
  return json_pack("{s:s, s:s, s:I, s:o, s:o}", "room", room->name, "kind", room->plugin->kind,
                   "max_participants", (json_int_t)room->max_participants, "participants",
                   participants, "tracks", tracks);
}

const char *
chorus_room_name(ChorusRoom *room)
{
  g_return_val_if_fail(room != NULL, NULL);
  return room->name;
}

const char *
chorus_room_kind(ChorusRoom *room)
{
  g_return_val_if_fail(room != NULL, NULL);
  return room->plugin->kind;
}

ChorusWorker *
chorus_room_worker(ChorusRoom *room)
{
  g_return_val_if_fail(room != NULL, NULL);
  return room->worker;
}

gpointer
chorus_room_plugin_state(ChorusRoom *room)
{
  g_return_val_if_fail(room != NULL, NULL);
  return room->plugin_state;
}

const ChorusPlugin *
chorus_room_plugin(ChorusRoom *room)
{
  g_return_val_if_fail(room != NULL, NULL);
  return room->plugin;
}

guint
chorus_room_participant_count(ChorusRoom *room)
{
  g_return_val_if_fail(room != NULL, 0);
  return room->participants->len;
}

GPtrArray *
chorus_room_participants(ChorusRoom *room)
{
  g_return_val_if_fail(room != NULL, NULL);
  return room->participants;
}

ChorusParticipant *
chorus_room_find_participant(ChorusRoom *room, const char *participant_id)
{
  g_return_val_if_fail(room != NULL, NULL);
  if (participant_id == NULL)
    return NULL;
  ChorusParticipant *p = g_hash_table_lookup(room->dir->participants, participant_id);
  return p != NULL && p->room == room ? p : NULL;
}

ChorusRoomDirectory *
chorus_room_directory(ChorusRoom *room)
{
  g_return_val_if_fail(room != NULL, NULL);
  return room->dir;
}
