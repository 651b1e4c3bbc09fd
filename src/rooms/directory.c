/* Room directory: room names -> rooms, participant ids -> participants,
 * room creation and destruction, and the directory's metrics. */
#define G_LOG_DOMAIN "chorus-rooms"

#include <string.h>

#include "core/error.h"
#include "core/metrics.h"
#include "rooms/rooms-private.h"

gboolean
chorus_room_name_is_valid(const char *name)
{
  if (name == NULL)
    return FALSE;
  gsize len = strlen(name);
  if (len == 0 || len > CHORUS_ROOM_NAME_MAX_BYTES)
    return FALSE;
  for (gsize i = 0; i < len; i++) {
    char c = name[i];
    if (!g_ascii_isalnum(c) && c != '_' && c != '.' && c != '-')
      return FALSE;
  }
  return TRUE;
}

gboolean
chorus_room_identity_is_valid(const char *identity)
{
  if (identity == NULL)
    return FALSE;
  gsize len = strlen(identity);
  if (len == 0 || len > CHORUS_ROOM_IDENTITY_MAX_BYTES)
    return FALSE;
  if (!g_utf8_validate(identity, (gssize)len, NULL))
    return FALSE;
  /* Identities end up in logs and UIs: no control characters (newlines,
   * escapes, C1 controls). */
  for (const char *s = identity; *s != '\0'; s = g_utf8_next_char(s))
    if (g_unichar_iscntrl(g_utf8_get_char(s)))
      return FALSE;
  return TRUE;
}

ChorusRoomDirectory *
chorus_room_directory_new(const ChorusConfig *config, ChorusWorkerPool *workers,
                          ChorusPluginHost *plugins)
{
  g_return_val_if_fail(config != NULL, NULL);
  g_return_val_if_fail(plugins != NULL, NULL);

  ChorusRoomDirectory *dir = g_new0(ChorusRoomDirectory, 1);
  dir->config = config;
  dir->workers = workers;
  dir->plugins = plugins;
  dir->rooms = g_hash_table_new(g_str_hash, g_str_equal);
  dir->participants = g_hash_table_new(g_str_hash, g_str_equal);
  return dir;
}

void
chorus_room_directory_set_media_engine(ChorusRoomDirectory *dir, ChorusMediaEngine *engine)
{
  dir->media = engine;
}

static void metrics_collect(GString *out, gpointer user_data);

void
chorus_room_directory_free(ChorusRoomDirectory *dir)
{
  if (dir == NULL)
    return;
  if (dir->metrics_registered)
    chorus_metrics_remove_collector(metrics_collect, dir);
  /* The signaling connections may be gone by now: free without sending. */
  dir->silent = TRUE;
  chorus_room_directory_close_all(dir, NULL);
  g_hash_table_unref(dir->rooms);
  g_hash_table_unref(dir->participants);
  g_free(dir);
}

ChorusRoom *
chorus_room_directory_create(ChorusRoomDirectory *dir, const char *name, const char *kind,
                             guint max_participants, json_t *options, GError **error)
{
  g_return_val_if_fail(dir != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (!chorus_room_name_is_valid(name)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "room must be 1..%d characters of A-Z a-z 0-9 _ . -", CHORUS_ROOM_NAME_MAX_BYTES);
    return NULL;
  }
  const ChorusPlugin *plugin = chorus_plugin_host_find(dir->plugins, kind);
  if (plugin == NULL) {
    g_autofree char *kinds = chorus_plugin_host_kinds_string(dir->plugins);
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "unknown kind \"%s\" (kinds: %s)", kind ? kind : "", kinds);
    return NULL;
  }
  const ChorusConfig *config = dir->config;
  if (max_participants == 0)
    max_participants = config->default_max_participants;
  if (max_participants > config->max_participants_limit) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "max_participants must be 1..%u (got %u)", config->max_participants_limit,
                max_participants);
    return NULL;
  }
  if (json_is_null(options))
    options = NULL;
  if (options != NULL && !json_is_object(options)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS, "options must be an object");
    return NULL;
  }
  if (g_hash_table_contains(dir->rooms, name)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_CONFLICT, "room %s already exists", name);
    return NULL;
  }
  if (g_hash_table_size(dir->rooms) >= config->max_rooms) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_ROOM_FULL, "too many rooms (max_rooms %u)",
                config->max_rooms);
    return NULL;
  }

  ChorusRoom *room = chorus_room_new(dir, name, plugin, max_participants);
  GError *local_error = NULL;
  if (!plugin->room_created(chorus_rooms_plugin_host_api(), room, options, &room->plugin_state,
                            &local_error)) {
    if (local_error == NULL)
      g_set_error(&local_error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL,
                  "plugin %s refused the room without saying why", plugin->kind);
    g_propagate_error(error, local_error);
    chorus_room_free(room, NULL);
    return NULL;
  }
  room->plugin_started = TRUE;
  if (dir->workers != NULL)
    room->worker = chorus_worker_pool_assign(dir->workers);
  chorus_room_media_start(room, dir->media);
  g_hash_table_insert(dir->rooms, room->name, room);
  g_info("room %s created (kind %s, max %u participants, worker %d)", name, plugin->kind,
         max_participants, room->worker ? (int)chorus_worker_index(room->worker) : -1);
  return room;
}

/* @reason NULL: nothing is sent (directory being freed). */
static void
destroy_room(ChorusRoomDirectory *dir, ChorusRoom *room, const char *reason)
{
  /* Out of the directory first: while the plugin ends links to other rooms
   * (room_destroyed), this room can no longer be found. */
  g_hash_table_remove(dir->rooms, room->name);
  g_info("room %s destroyed (%s)", room->name, reason ? reason : "freed");
  chorus_room_free(room, reason);
}

gboolean
chorus_room_directory_destroy(ChorusRoomDirectory *dir, const char *name, const char *reason,
                              GError **error)
{
  g_return_val_if_fail(dir != NULL, FALSE);

  ChorusRoom *room = chorus_room_directory_lookup(dir, name);
  if (room == NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_NOT_FOUND, "no room %s", name ? name : "");
    return FALSE;
  }
  destroy_room(dir, room, reason ? reason : "destroyed");
  return TRUE;
}

static gint
compare_rooms_by_name(gconstpointer a, gconstpointer b)
{
  const ChorusRoom *ra = *(ChorusRoom *const *)a;
  const ChorusRoom *rb = *(ChorusRoom *const *)b;
  return strcmp(ra->name, rb->name);
}

/* The rooms sorted by name (transfer container). */
static GPtrArray *
sorted_rooms(ChorusRoomDirectory *dir)
{
  GPtrArray *rooms = g_ptr_array_sized_new(g_hash_table_size(dir->rooms));
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init(&iter, dir->rooms);
  while (g_hash_table_iter_next(&iter, NULL, &value))
    g_ptr_array_add(rooms, value);
  g_ptr_array_sort(rooms, compare_rooms_by_name);
  return rooms;
}

void
chorus_room_directory_close_all(ChorusRoomDirectory *dir, const char *reason)
{
  g_return_if_fail(dir != NULL);

  /* One at a time by name: destroying one room may touch another (a PK
   * link ends), so never hold a pointer to a room across a destroy. */
  g_autoptr(GPtrArray) rooms = sorted_rooms(dir);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < rooms->len; i++)
    g_ptr_array_add(names, g_strdup(((ChorusRoom *)g_ptr_array_index(rooms, i))->name));
  for (guint i = 0; i < names->len; i++) {
    ChorusRoom *room = chorus_room_directory_lookup(dir, g_ptr_array_index(names, i));
    if (room != NULL)
      destroy_room(dir, room, reason);
  }
}

ChorusRoom *
chorus_room_directory_lookup(ChorusRoomDirectory *dir, const char *name)
{
  g_return_val_if_fail(dir != NULL, NULL);
  return name != NULL ? g_hash_table_lookup(dir->rooms, name) : NULL;
}

ChorusParticipant *
chorus_room_directory_find_participant(ChorusRoomDirectory *dir, const char *participant_id)
{
  g_return_val_if_fail(dir != NULL, NULL);
  return participant_id != NULL ? g_hash_table_lookup(dir->participants, participant_id) : NULL;
}

static guint
room_publisher_count(ChorusRoom *room)
{
  guint n = 0;
  for (guint i = 0; i < room->participants->len; i++)
    if (chorus_participant_track_count(g_ptr_array_index(room->participants, i)) > 0)
      n++;
  return n;
}

json_t *
chorus_room_directory_list_json(ChorusRoomDirectory *dir)
{
  g_return_val_if_fail(dir != NULL, NULL);

  g_autoptr(GPtrArray) rooms = sorted_rooms(dir);
  json_t *list = json_array();
  for (guint i = 0; i < rooms->len; i++) {
    ChorusRoom *room = g_ptr_array_index(rooms, i);
    json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:I}", "room", room->name, "kind",
                                          room->plugin->kind, "participants",
                                          (json_int_t)room->participants->len, "publishers",
                                          (json_int_t)room_publisher_count(room)));
  }
  return json_pack("{s:o}", "rooms", list);
}

guint
chorus_room_directory_room_count(ChorusRoomDirectory *dir)
{
  g_return_val_if_fail(dir != NULL, 0);
  return g_hash_table_size(dir->rooms);
}

guint
chorus_room_directory_participant_count(ChorusRoomDirectory *dir)
{
  g_return_val_if_fail(dir != NULL, 0);
  return g_hash_table_size(dir->participants);
}

static void
metrics_collect(GString *out, gpointer user_data)
{
  ChorusRoomDirectory *dir = user_data;
  guint n_kinds = chorus_plugin_host_count(dir->plugins);
  g_autofree guint *rooms = g_new0(guint, n_kinds);
  g_autofree guint *participants = g_new0(guint, n_kinds);

  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init(&iter, dir->rooms);
  while (g_hash_table_iter_next(&iter, NULL, &value)) {
    ChorusRoom *room = value;
    for (guint k = 0; k < n_kinds; k++) {
      if (chorus_plugin_host_get(dir->plugins, k) == room->plugin) {
        rooms[k]++;
        participants[k] += room->participants->len;
      }
    }
  }
  /* Every loaded kind appears, with 0 when it has no room, so that the
   * series do not vanish and reappear. */
  chorus_metrics_append_header(out, "chorus_rooms", "gauge", "Rooms open, by kind.");
  for (guint k = 0; k < n_kinds; k++)
    g_string_append_printf(out, "chorus_rooms{kind=\"%s\"} %u\n",
                           chorus_plugin_host_get(dir->plugins, k)->kind, rooms[k]);
  chorus_metrics_append_header(out, "chorus_participants", "gauge",
                               "Participants in rooms (attached or in their resume grace), by kind.");
  for (guint k = 0; k < n_kinds; k++)
    g_string_append_printf(out, "chorus_participants{kind=\"%s\"} %u\n",
                           chorus_plugin_host_get(dir->plugins, k)->kind, participants[k]);
}

void
chorus_room_directory_register_metrics(ChorusRoomDirectory *dir)
{
  g_return_if_fail(dir != NULL);
  if (dir->metrics_registered)
    return;
  chorus_metrics_add_collector(metrics_collect, dir);
  dir->metrics_registered = TRUE;
}
