/* The room model through directory.h (and room.h for tracks), with the
 * real voice and live plugins loaded from CHORUS_PLUGIN_DIR. Notifications
 * are captured by a test sink and checked recipient by recipient. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/ratelimit.h"
#include "core/worker.h"
#include "rooms/directory.h"
#include "rooms/room.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_t, json_decref)

/* --- fixture --- */

static ChorusConfig *config;
static ChorusWorkerPool *workers;
static ChorusPluginHost *plugins;
static ChorusRoomDirectory *dir;

typedef struct {
  char *to;       /* recipient id, from the sink's participant */
  char *method;
  json_t *params; /* owned */
} Event;

static GPtrArray *events;

static void
event_free(gpointer data)
{
  Event *e = data;
  g_free(e->to);
  g_free(e->method);
  json_decref(e->params);
  g_free(e);
}

static void
sink_notify(gpointer sink_data, ChorusParticipant *to, const char *method, json_t *params)
{
  Event *e = g_new0(Event, 1);
  e->to = g_strdup(chorus_participant_id(to));
  e->method = g_strdup(method);
  e->params = json_incref(params);
  /* Every notification names its recipient in "to". */
  ck_assert_str_eq(json_string_value(json_object_get(params, "to")), e->to);
  g_ptr_array_add(events, e);
}

static int sink_tag; /* its address is the sink data */
static const ChorusParticipantSink sink = { sink_notify, &sink_tag };

static void
setup(void)
{
  config = chorus_config_new_default();
  workers = chorus_worker_pool_new(2);
  plugins = chorus_plugin_host_new();
  const char *plugin_dir = g_getenv("CHORUS_PLUGIN_DIR");
  ck_assert_msg(plugin_dir != NULL, "CHORUS_PLUGIN_DIR is not set (run through meson test)");
  g_autoptr(GError) error = NULL;
  ck_assert_msg(chorus_plugin_host_load_dir(plugins, plugin_dir, &error), "%s",
                error ? error->message : "");
  dir = chorus_room_directory_new(config, workers, plugins);
  events = g_ptr_array_new_with_free_func(event_free);
}

static void
teardown(void)
{
  chorus_room_directory_free(dir);
  chorus_worker_pool_free(workers);
  chorus_plugin_host_free(plugins);
  chorus_config_free(config);
  g_ptr_array_unref(events);
}

/* --- helpers --- */

static guint
count_events(const char *method, const char *to)
{
  guint n = 0;
  for (guint i = 0; i < events->len; i++) {
    Event *e = g_ptr_array_index(events, i);
    if (g_strcmp0(e->method, method) == 0 && (to == NULL || g_strcmp0(e->to, to) == 0))
      n++;
  }
  return n;
}

/* The last @method event for @to (borrowed params), or NULL. */
static json_t *
last_event(const char *method, const char *to)
{
  for (guint i = events->len; i > 0; i--) {
    Event *e = g_ptr_array_index(events, i - 1);
    if (g_strcmp0(e->method, method) == 0 && g_strcmp0(e->to, to) == 0)
      return e->params;
  }
  return NULL;
}

static const char *
str_field(json_t *obj, const char *name)
{
  return json_string_value(json_object_get(obj, name));
}

static void
clear_events(void)
{
  g_ptr_array_set_size(events, 0);
}

static ChorusRoom *
create_room(const char *name, const char *kind, guint max, const char *options_json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(json_t) options = options_json ? json_loads(options_json, 0, NULL) : NULL;
  ChorusRoom *room = chorus_room_directory_create(dir, name, kind, max, options, &error);
  ck_assert_msg(room != NULL, "create %s: %s", name, error ? error->message : "");
  return room;
}

static int
create_error(const char *name, const char *kind, guint max, const char *options_json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(json_t) options = options_json ? json_loads(options_json, 0, NULL) : NULL;
  ChorusRoom *room = chorus_room_directory_create(dir, name, kind, max, options, &error);
  ck_assert_ptr_null(room);
  ck_assert_ptr_nonnull(error);
  ck_assert(error->domain == CHORUS_ERROR);
  return error->code;
}

static ChorusParticipant *
join(ChorusRoom *room, const char *identity, const char *role)
{
  g_autoptr(GError) error = NULL;
  ChorusParticipant *p = chorus_room_join(room, identity, role, NULL, &sink, &error);
  ck_assert_msg(p != NULL, "join %s: %s", identity, error ? error->message : "");
  return p;
}

static int
join_error(ChorusRoom *room, const char *identity, const char *role, json_t *metadata)
{
  g_autoptr(GError) error = NULL;
  ChorusParticipant *p = chorus_room_join(room, identity, role, metadata, &sink, &error);
  ck_assert_ptr_null(p);
  ck_assert_ptr_nonnull(error);
  return error->code;
}

/* Sends a plugin request; returns 0 on success (result in *@result if
 * given) or the error code. */
static int
request(ChorusParticipant *p, const char *method, const char *params_json, json_t **result)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(json_t) params = json_loads(params_json ? params_json : "{}", 0, NULL);
  ck_assert_ptr_nonnull(params);
  json_object_set_new(params, "participant", json_string(chorus_participant_id(p)));
  json_t *res = chorus_room_plugin_request(chorus_participant_room(p), p, method, params, &error);
  if (res == NULL) {
    ck_assert_ptr_nonnull(error);
    return error->code;
  }
  ck_assert(json_is_object(res));
  if (result != NULL)
    *result = res;
  else
    json_decref(res);
  return 0;
}

/* Same with a target participant. */
static int
request_target(ChorusParticipant *p, const char *method, ChorusParticipant *target)
{
  g_autofree char *params = g_strdup_printf("{\"target\": \"%s\"}", chorus_participant_id(target));
  return request(p, method, params, NULL);
}

static int
send_message(ChorusParticipant *from, json_t *to, json_t *data, gint64 now_us)
{
  g_autoptr(GError) error = NULL;
  if (chorus_room_message_send(chorus_participant_room(from), from, to, data, now_us, &error))
    return 0;
  ck_assert_ptr_nonnull(error);
  return error->code;
}

static gboolean
on_deadline(gpointer user_data)
{
  *(gboolean *)user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main context until @pred(@data) or @timeout_ms passed. */
static gboolean
iterate_until(gboolean (*pred)(gpointer), gpointer data, guint timeout_ms)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add(timeout_ms, on_deadline, &expired);
  while (!pred(data) && !expired)
    g_main_context_iteration(NULL, TRUE);
  if (!expired)
    g_source_remove(id);
  return pred(data);
}

static gboolean
participant_gone(gpointer data)
{
  return chorus_room_directory_find_participant(dir, data) == NULL;
}

static gboolean
never(gpointer data)
{
  return FALSE;
}

/* --- token bucket (core/ratelimit) --- */

START_TEST(test_token_bucket)
{
  ChorusTokenBucket b;
  chorus_token_bucket_init(&b, 10, 3, 1000);
  ck_assert(chorus_token_bucket_take(&b, 1000));
  ck_assert(chorus_token_bucket_take(&b, 1000));
  ck_assert(chorus_token_bucket_take(&b, 1000));
  ck_assert(!chorus_token_bucket_take(&b, 1000));
  /* 10/s: one token per 100 ms. */
  ck_assert(!chorus_token_bucket_take(&b, 1000 + 99 * 1000));
  ck_assert(chorus_token_bucket_take(&b, 1000 + 100 * 1000));
  ck_assert(!chorus_token_bucket_take(&b, 1000 + 100 * 1000));
  /* A long pause refills to the burst, not beyond. */
  gint64 t = 1000 + 100 * G_USEC_PER_SEC;
  for (int i = 0; i < 3; i++)
    ck_assert(chorus_token_bucket_take(&b, t));
  ck_assert(!chorus_token_bucket_take(&b, t));
  /* A clock going backwards refills nothing. */
  ck_assert(!chorus_token_bucket_take(&b, t - G_USEC_PER_SEC));
  ck_assert(!chorus_token_bucket_take(&b, t));

  ChorusTokenBucket none;
  chorus_token_bucket_init(&none, 100, 0, 0);
  ck_assert(!chorus_token_bucket_take(&none, 0));
  ck_assert(!chorus_token_bucket_take(&none, 10 * G_USEC_PER_SEC));
}
END_TEST

/* --- rooms --- */

START_TEST(test_create_destroy_list_info)
{
  ChorusRoom *room = create_room("room-1", "voice", 0, NULL);
  ck_assert_str_eq(chorus_room_name(room), "room-1");
  ck_assert_str_eq(chorus_room_kind(room), "voice");
  ck_assert_ptr_nonnull(chorus_room_worker(room));
  ck_assert_ptr_eq(chorus_room_directory_lookup(dir, "room-1"), room);
  ck_assert_uint_eq(chorus_room_directory_room_count(dir), 1);
  ck_assert_int_eq(create_error("room-1", "live", 0, NULL), CHORUS_ERROR_CONFLICT);

  /* Rooms spread over the workers (fewest rooms first). */
  ChorusRoom *b = create_room("b.room_2", "live", 10, NULL);
  ck_assert_ptr_ne(chorus_room_worker(b), chorus_room_worker(room));

  g_autoptr(json_t) list = chorus_room_directory_list_json(dir);
  json_t *rooms = json_object_get(list, "rooms");
  ck_assert_uint_eq(json_array_size(rooms), 2);
  /* Sorted by name. */
  ck_assert_str_eq(str_field(json_array_get(rooms, 0), "room"), "b.room_2");
  ck_assert_str_eq(str_field(json_array_get(rooms, 0), "kind"), "live");
  ck_assert_str_eq(str_field(json_array_get(rooms, 1), "room"), "room-1");
  ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(rooms, 1), "participants")), 0);
  ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(rooms, 1), "publishers")), 0);

  join(room, "alice", NULL);
  g_autoptr(json_t) info = chorus_room_info_json(room);
  ck_assert_str_eq(str_field(info, "room"), "room-1");
  ck_assert_str_eq(str_field(info, "kind"), "voice");
  ck_assert_int_eq(json_integer_value(json_object_get(info, "max_participants")),
                   config->default_max_participants);
  ck_assert_uint_eq(json_array_size(json_object_get(info, "participants")), 1);
  json_t *alice = json_array_get(json_object_get(info, "participants"), 0);
  ck_assert_str_eq(str_field(alice, "identity"), "alice");
  ck_assert_str_eq(str_field(alice, "role"), "listener");
  ck_assert(json_is_null(json_object_get(alice, "seat")));
  ck_assert(json_is_false(json_object_get(alice, "hand_raised")));
  ck_assert(json_is_array(json_object_get(info, "tracks")));
  ck_assert_uint_eq(json_array_size(json_object_get(info, "tracks")), 0);

  ChorusWorker *w = chorus_room_worker(room);
  guint before = chorus_worker_room_count(w);
  g_autoptr(GError) error = NULL;
  ck_assert(chorus_room_directory_destroy(dir, "room-1", "destroyed", &error));
  ck_assert_uint_eq(chorus_worker_room_count(w), before - 1);
  ck_assert_ptr_null(chorus_room_directory_lookup(dir, "room-1"));
  ck_assert_uint_eq(chorus_room_directory_room_count(dir), 1);
  ck_assert_uint_eq(chorus_room_directory_participant_count(dir), 0);
  ck_assert(!chorus_room_directory_destroy(dir, "room-1", "destroyed", &error));
  ck_assert_int_eq(error->code, CHORUS_ERROR_NOT_FOUND);
}
END_TEST

START_TEST(test_create_validation)
{
  char name64[65], name65[66];
  memset(name64, 'a', 64);
  name64[64] = '\0';
  memset(name65, 'a', 65);
  name65[65] = '\0';
  ck_assert_int_eq(create_error("", "voice", 0, NULL), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(create_error(NULL, "voice", 0, NULL), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(create_error(name65, "voice", 0, NULL), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(create_error("a b", "voice", 0, NULL), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(create_error("a/b", "voice", 0, NULL), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(create_error("caf\xc3\xa9", "voice", 0, NULL), CHORUS_ERROR_INVALID_PARAMS);
  create_room(name64, "voice", 0, NULL);

  /* Unknown kind: the message lists the kinds. */
  g_autoptr(GError) error = NULL;
  ck_assert_ptr_null(chorus_room_directory_create(dir, "x", "video", 0, NULL, &error));
  ck_assert_int_eq(error->code, CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_msg(strstr(error->message, "live, voice") != NULL, "%s", error->message);

  ck_assert_int_eq(create_error("x", "voice", config->max_participants_limit + 1, NULL),
                   CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(create_error("x", "voice", 0, "[1]"), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(create_error("x", "voice", 0, "{\"seats\": 0}"), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(create_error("x", "voice", 0, "{\"seats\": 101}"),
                   CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(create_error("x", "voice", 0, "{\"seats\": \"8\"}"),
                   CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(create_error("x", "voice", 0, "{\"audio_slots\": 17}"),
                   CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(create_error("x", "voice", 0, "{\"colour\": \"red\"}"),
                   CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(create_error("x", "live", 0, "{\"max_publishers\": 0}"),
                   CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(create_error("x", "live", 0, "{\"seats\": 4}"), CHORUS_ERROR_INVALID_PARAMS);
  /* Nothing half-created by the refusals. */
  ck_assert_uint_eq(chorus_room_directory_room_count(dir), 1);
  create_room("x", "voice", 0, "{\"seats\": 4, \"audio_slots\": 2}");
  create_room("y", "live", 0, "{\"max_publishers\": 4}");

  config->max_rooms = 3;
  ck_assert_int_eq(create_error("z", "voice", 0, NULL), CHORUS_ERROR_ROOM_FULL);
}
END_TEST

START_TEST(test_join_validation)
{
  ChorusRoom *room = create_room("r", "voice", 0, NULL);
  char id128[129], id129[130];
  memset(id128, 'i', 128);
  id128[128] = '\0';
  memset(id129, 'i', 129);
  id129[129] = '\0';

  ck_assert_int_eq(join_error(room, "", NULL, NULL), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(join_error(room, NULL, NULL, NULL), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(join_error(room, id129, NULL, NULL), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(join_error(room, "bad\xff", NULL, NULL), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(join_error(room, "a\nb", NULL, NULL), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(join_error(room, "del\x7f", NULL, NULL), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(join_error(room, "c1\xc2\x85", NULL, NULL), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(join_error(room, "x", "audience", NULL), CHORUS_ERROR_INVALID_PARAMS);
  g_autoptr(json_t) not_object = json_array();
  ck_assert_int_eq(join_error(room, "x", NULL, not_object), CHORUS_ERROR_INVALID_PARAMS);
  g_autoptr(GString) big = g_string_new(NULL);
  for (int i = 0; i < 4100; i++)
    g_string_append_c(big, 'm');
  g_autoptr(json_t) big_meta = json_pack("{s:s}", "m", big->str);
  ck_assert_int_eq(join_error(room, "x", NULL, big_meta), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_uint_eq(chorus_room_participant_count(room), 0);

  join(room, id128, NULL);
  ChorusParticipant *zoe = join(room, "Zo\xc3\xab", "host");
  ck_assert_str_eq(chorus_participant_role(zoe), "host");
  g_autoptr(json_t) meta = json_pack("{s:s, s:i}", "avatar", "cat.png", "level", 3);
  g_autoptr(GError) error = NULL;
  ChorusParticipant *m = chorus_room_join(room, "meta", NULL, meta, &sink, &error);
  ck_assert_ptr_nonnull(m);
  ck_assert_str_eq(chorus_participant_role(m), "listener");

  /* One identity per room. */
  ck_assert_int_eq(join_error(room, "meta", NULL, NULL), CHORUS_ERROR_CONFLICT);
  ck_assert_uint_eq(chorus_room_participant_count(room), 3);

  g_autoptr(json_t) result = chorus_participant_join_result_json(m);
  const char *id = str_field(result, "participant");
  ck_assert_str_eq(id, chorus_participant_id(m));
  ck_assert_uint_eq(strlen(id), 18);
  ck_assert(g_str_has_prefix(id, "p_"));
  for (const char *c = id + 2; *c; c++)
    ck_assert(g_ascii_isxdigit(*c) && !g_ascii_isupper(*c));
  const char *key = str_field(result, "resume_key");
  ck_assert_uint_eq(strlen(key), 32);
  ck_assert_str_eq(str_field(result, "room"), "r");
  ck_assert_str_eq(str_field(result, "role"), "listener");
  ck_assert(json_is_array(json_object_get(result, "ice_servers")));
  ck_assert(json_is_array(json_object_get(result, "tracks")));
  /* Others only, with their metadata when they have some. */
  json_t *others = json_object_get(result, "participants");
  ck_assert_uint_eq(json_array_size(others), 2);
  for (gsize i = 0; i < 2; i++)
    ck_assert_str_ne(str_field(json_array_get(others, i), "participant"), id);
  g_autoptr(json_t) info = chorus_room_info_json(room);
  json_t *pm = json_array_get(json_object_get(info, "participants"), 2);
  ck_assert(json_equal(json_object_get(pm, "metadata"), meta));
  ck_assert_ptr_null(json_object_get(json_array_get(json_object_get(info, "participants"), 0),
                                     "metadata"));
  /* Another room: the same identity is fine. */
  ChorusRoom *other = create_room("r2", "voice", 0, NULL);
  join(other, "meta", NULL);
}
END_TEST

START_TEST(test_room_full)
{
  ChorusRoom *room = create_room("small", "voice", 2, NULL);
  join(room, "a", NULL);
  join(room, "b", NULL);
  ck_assert_int_eq(join_error(room, "c", NULL, NULL), CHORUS_ERROR_ROOM_FULL);
  ck_assert_uint_eq(chorus_room_participant_count(room), 2);
}
END_TEST

START_TEST(test_join_leave_notifications)
{
  ChorusRoom *room = create_room("r", "voice", 0, NULL);
  ChorusParticipant *a = join(room, "a", NULL);
  g_autofree char *a_id = g_strdup(chorus_participant_id(a));
  ck_assert_uint_eq(events->len, 0);
  ChorusParticipant *b = join(room, "b", "speaker");
  g_autofree char *b_id = g_strdup(chorus_participant_id(b));
  ck_assert_uint_eq(events->len, 1);
  json_t *ev = last_event("participant.joined", a_id);
  ck_assert_ptr_nonnull(ev);
  ck_assert_str_eq(str_field(ev, "room"), "r");
  ck_assert_str_eq(str_field(ev, "participant"), b_id);
  ck_assert_str_eq(str_field(ev, "identity"), "b");
  ck_assert_str_eq(str_field(ev, "role"), "speaker");
  ck_assert_ptr_null(json_object_get(ev, "metadata"));

  ChorusParticipant *c = join(room, "c", NULL);
  g_autofree char *c_id = g_strdup(chorus_participant_id(c));
  ck_assert_uint_eq(count_events("participant.joined", a_id), 2);
  ck_assert_uint_eq(count_events("participant.joined", b_id), 1);
  ck_assert_uint_eq(count_events("participant.joined", c_id), 0);
  ck_assert_uint_eq(events->len, 3);

  ck_assert_ptr_eq(chorus_room_directory_find_participant(dir, b_id), b);
  ck_assert_ptr_eq(chorus_participant_room(b), room);
  ck_assert(chorus_participant_is_attached(b));
  ck_assert_ptr_eq(chorus_participant_sink_data(b), &sink_tag);
  ck_assert_uint_eq(chorus_room_directory_participant_count(dir), 3);

  clear_events();
  chorus_participant_leave(b, "left");
  ck_assert_uint_eq(events->len, 2);
  ck_assert_uint_eq(count_events("participant.left", b_id), 0);
  ev = last_event("participant.left", a_id);
  ck_assert_str_eq(str_field(ev, "participant"), b_id);
  ck_assert_str_eq(str_field(ev, "reason"), "left");
  ck_assert_str_eq(str_field(ev, "room"), "r");
  ck_assert_ptr_nonnull(last_event("participant.left", c_id));
  ck_assert_ptr_null(chorus_room_directory_find_participant(dir, b_id));
  ck_assert_uint_eq(chorus_room_participant_count(room), 2);

  /* The identity is free again. */
  join(room, "b", NULL);
}
END_TEST

START_TEST(test_message_send)
{
  ChorusRoom *room = create_room("r", "voice", 0, NULL);
  ChorusParticipant *a = join(room, "a", NULL);
  ChorusParticipant *b = join(room, "b", NULL);
  ChorusParticipant *c = join(room, "c", NULL);
  const char *a_id = chorus_participant_id(a), *b_id = chorus_participant_id(b);
  const char *c_id = chorus_participant_id(c);
  clear_events();

  g_autoptr(json_t) data = json_pack("{s:s, s:[i,i]}", "text", "hi", "n", 1, 2);
  ck_assert_int_eq(send_message(a, NULL, data, 0), 0);
  ck_assert_uint_eq(events->len, 2);
  ck_assert_uint_eq(count_events("message", a_id), 0);
  json_t *ev = last_event("message", b_id);
  ck_assert_str_eq(str_field(ev, "from"), a_id);
  ck_assert_str_eq(str_field(ev, "room"), "r");
  ck_assert(json_equal(json_object_get(ev, "data"), data));
  ck_assert_ptr_nonnull(last_event("message", c_id));

  /* A subset (duplicates delivered once). */
  clear_events();
  g_autoptr(json_t) to_c = json_pack("[s,s]", c_id, c_id);
  ck_assert_int_eq(send_message(a, to_c, data, 0), 0);
  ck_assert_uint_eq(events->len, 1);
  ck_assert_uint_eq(count_events("message", c_id), 1);

  /* An unknown target: nobody gets it. */
  clear_events();
  g_autoptr(json_t) to_unknown = json_pack("[s,s]", b_id, "p_0000000000000000");
  ck_assert_int_eq(send_message(a, to_unknown, data, 0), CHORUS_ERROR_NOT_FOUND);
  /* A participant of another room is unknown here too. */
  ChorusRoom *other = create_room("other", "voice", 0, NULL);
  ChorusParticipant *x = join(other, "x", NULL);
  g_autoptr(json_t) to_x = json_pack("[s]", chorus_participant_id(x));
  ck_assert_int_eq(send_message(a, to_x, data, 0), CHORUS_ERROR_NOT_FOUND);
  g_autoptr(json_t) to_bad = json_pack("[i]", 5);
  ck_assert_int_eq(send_message(a, to_bad, data, 0), CHORUS_ERROR_INVALID_PARAMS);
  g_autoptr(json_t) to_str = json_string(b_id);
  ck_assert_int_eq(send_message(a, to_str, data, 0), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(send_message(a, NULL, NULL, 0), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_uint_eq(events->len, 0);

  /* Size limit on the compact encoding: a string of n chars is n + 2. */
  char *text = g_malloc(config->message_max_bytes);
  memset(text, 'x', config->message_max_bytes - 2);
  text[config->message_max_bytes - 2] = '\0';
  g_autoptr(json_t) fits = json_string(text);
  ck_assert_int_eq(send_message(a, NULL, fits, 0), 0);
  g_autofree char *longer = g_strconcat(text, "x", NULL);
  g_free(text);
  g_autoptr(json_t) too_big = json_string(longer);
  ck_assert_int_eq(send_message(a, NULL, too_big, 0), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_uint_eq(events->len, 2);
}
END_TEST

START_TEST(test_message_rate_limit)
{
  config->message_rate = 10;
  config->message_burst = 20;
  ChorusRoom *room = create_room("r", "voice", 0, NULL);
  ChorusParticipant *a = join(room, "a", NULL);
  ChorusParticipant *b = join(room, "b", NULL);
  g_autoptr(json_t) data = json_string("ping");
  gint64 t0 = 5 * G_USEC_PER_SEC;

  for (int i = 0; i < 20; i++)
    ck_assert_int_eq(send_message(a, NULL, data, t0), 0);
  ck_assert_int_eq(send_message(a, NULL, data, t0), CHORUS_ERROR_RATE_LIMITED);
  /* Per participant: b still has its burst. */
  ck_assert_int_eq(send_message(b, NULL, data, t0), 0);
  /* 10/s: one more every 100 ms. */
  ck_assert_int_eq(send_message(a, NULL, data, t0 + 50 * 1000), CHORUS_ERROR_RATE_LIMITED);
  ck_assert_int_eq(send_message(a, NULL, data, t0 + 100 * 1000), 0);
  ck_assert_int_eq(send_message(a, NULL, data, t0 + 100 * 1000), CHORUS_ERROR_RATE_LIMITED);
  /* One second later: ten more, not eleven. */
  gint64 t1 = t0 + 1100 * 1000;
  for (int i = 0; i < 10; i++)
    ck_assert_int_eq(send_message(a, NULL, data, t1), 0);
  ck_assert_int_eq(send_message(a, NULL, data, t1), CHORUS_ERROR_RATE_LIMITED);
  /* Refused messages reached nobody: b got exactly 20 + 1 + 10 from a. */
  ck_assert_uint_eq(count_events("message", chorus_participant_id(b)), 31);
}
END_TEST

START_TEST(test_detach_resume)
{
  ChorusRoom *room = create_room("r", "voice", 0, NULL);
  ChorusParticipant *a = join(room, "a", NULL);
  ChorusParticipant *b = join(room, "b", NULL);
  const char *a_id = chorus_participant_id(a);
  g_autofree char *b_id = g_strdup(chorus_participant_id(b));
  g_autoptr(json_t) result = chorus_participant_join_result_json(b);
  g_autofree char *key = g_strdup(str_field(result, "resume_key"));
  clear_events();

  chorus_participant_detach(b, 1);
  ck_assert(!chorus_participant_is_attached(b));
  ck_assert_ptr_null(chorus_participant_sink_data(b));
  ck_assert_uint_eq(events->len, 0); /* nobody is told: b may come back */
  g_autoptr(json_t) data = json_string("hello");
  ck_assert_int_eq(send_message(a, NULL, data, 0), 0);
  ck_assert_uint_eq(count_events("message", b_id), 0); /* missed while detached */

  g_autoptr(GError) error = NULL;
  int other_tag;
  ChorusParticipantSink sink2 = { sink_notify, &other_tag };
  ck_assert(!chorus_participant_resume(b, "0123456789abcdef0123456789abcdef", &sink2, &error));
  ck_assert_int_eq(error->code, CHORUS_ERROR_UNAUTHORIZED);
  g_clear_error(&error);
  ck_assert(!chorus_participant_resume(b, "", &sink2, &error));
  ck_assert_int_eq(error->code, CHORUS_ERROR_UNAUTHORIZED);
  g_clear_error(&error);
  ck_assert(chorus_participant_resume(b, key, &sink2, &error));
  ck_assert(chorus_participant_is_attached(b));
  ck_assert_ptr_eq(chorus_participant_sink_data(b), &other_tag);
  ck_assert(!chorus_participant_resume(b, key, &sink2, &error));
  ck_assert_int_eq(error->code, CHORUS_ERROR_CONFLICT);
  g_clear_error(&error);
  ck_assert_int_eq(send_message(a, NULL, data, 0), 0);
  ck_assert_uint_eq(count_events("message", b_id), 1);

  /* The resume cancelled the grace timer: b stays past it. */
  ck_assert(!iterate_until(never, NULL, 1600));
  ck_assert_ptr_eq(chorus_room_directory_find_participant(dir, b_id), b);

  /* Grace expiry: b leaves with "timeout". */
  clear_events();
  chorus_participant_detach(b, 1);
  ck_assert(iterate_until(participant_gone, b_id, 3000));
  ck_assert_uint_eq(events->len, 1);
  json_t *ev = last_event("participant.left", a_id);
  ck_assert_str_eq(str_field(ev, "participant"), b_id);
  ck_assert_str_eq(str_field(ev, "reason"), "timeout");

  /* No grace: leaves at once, "disconnected". */
  ChorusParticipant *c = join(room, "c", NULL);
  g_autofree char *c_id = g_strdup(chorus_participant_id(c));
  clear_events();
  chorus_participant_detach(c, 0);
  ck_assert_ptr_null(chorus_room_directory_find_participant(dir, c_id));
  ev = last_event("participant.left", a_id);
  ck_assert_str_eq(str_field(ev, "reason"), "disconnected");
  ck_assert_uint_eq(events->len, 1);

  /* A detached participant in its grace period when the room goes. */
  ChorusParticipant *d = join(room, "d", NULL);
  chorus_participant_detach(d, 30);
  ck_assert(chorus_room_directory_destroy(dir, "r", "destroyed", NULL));
  ck_assert_uint_eq(chorus_room_directory_participant_count(dir), 0);
}
END_TEST

START_TEST(test_room_closed)
{
  ChorusRoom *room = create_room("r", "live", 0, NULL);
  ChorusParticipant *a = join(room, "a", "host");
  ChorusParticipant *b = join(room, "b", NULL);
  g_autofree char *a_id = g_strdup(chorus_participant_id(a));
  g_autofree char *b_id = g_strdup(chorus_participant_id(b));
  clear_events();
  ck_assert(chorus_room_directory_destroy(dir, "r", "destroyed", NULL));
  ck_assert_uint_eq(count_events("room.closed", NULL), 2);
  ck_assert_uint_eq(count_events("participant.left", NULL), 0);
  json_t *ev = last_event("room.closed", a_id);
  ck_assert_str_eq(str_field(ev, "room"), "r");
  ck_assert_str_eq(str_field(ev, "reason"), "destroyed");
  ck_assert_ptr_nonnull(last_event("room.closed", b_id));
  ck_assert_ptr_null(chorus_room_directory_find_participant(dir, a_id));

  /* Shutdown closes every room. */
  ChorusRoom *r1 = create_room("r1", "voice", 0, NULL);
  ChorusRoom *r2 = create_room("r2", "live", 0, NULL);
  ChorusParticipant *c = join(r1, "c", NULL);
  ChorusParticipant *d = join(r2, "d", NULL);
  g_autofree char *c_id = g_strdup(chorus_participant_id(c));
  g_autofree char *d_id = g_strdup(chorus_participant_id(d));
  clear_events();
  chorus_room_directory_close_all(dir, "shutdown");
  ck_assert_uint_eq(chorus_room_directory_room_count(dir), 0);
  ck_assert_str_eq(str_field(last_event("room.closed", c_id), "reason"), "shutdown");
  ck_assert_str_eq(str_field(last_event("room.closed", d_id), "reason"), "shutdown");
}
END_TEST

/* --- voice plugin --- */

START_TEST(test_voice_plugin)
{
  ChorusRoom *room = create_room("v", "voice", 0, "{\"seats\": 2}");
  ChorusParticipant *h = join(room, "host", "host");
  ChorusParticipant *s = join(room, "speaker", "speaker");
  ChorusParticipant *l1 = join(room, "l1", NULL);
  ChorusParticipant *l2 = join(room, "l2", NULL);
  const char *h_id = chorus_participant_id(h), *l1_id = chorus_participant_id(l1);
  g_autofree char *l2_id = g_strdup(chorus_participant_id(l2));
  clear_events();

  /* Listeners have no power. */
  ck_assert_int_eq(request(l1, "voice.seat.take", NULL, NULL), CHORUS_ERROR_FORBIDDEN);
  ck_assert_int_eq(request_target(l1, "voice.invite", l2), CHORUS_ERROR_FORBIDDEN);
  ck_assert_int_eq(request_target(l1, "voice.mute", l2), CHORUS_ERROR_FORBIDDEN);
  ck_assert_int_eq(request_target(s, "voice.kick", l2), CHORUS_ERROR_FORBIDDEN);
  ck_assert_int_eq(request_target(s, "voice.invite", l2), CHORUS_ERROR_FORBIDDEN);
  ck_assert(!chorus_participant_may_publish(l1, "audio"));
  ck_assert(chorus_participant_may_publish(s, "audio"));
  ck_assert(chorus_participant_may_publish(h, "audio"));
  ck_assert_uint_eq(events->len, 0);

  /* Unknown methods, and the other kind's methods. */
  ck_assert_int_eq(request(h, "voice.fly", NULL, NULL), CHORUS_ERROR_METHOD_NOT_FOUND);
  ck_assert_int_eq(request(h, "live.promote", NULL, NULL), CHORUS_ERROR_METHOD_NOT_FOUND);

  /* Seats. */
  json_t *result = NULL;
  ck_assert_int_eq(request(s, "voice.seat.take", NULL, &result), 0);
  ck_assert_int_eq(json_integer_value(json_object_get(result, "seat")), 0);
  json_decref(result);
  ck_assert_uint_eq(count_events("participant.updated", NULL), 4); /* everyone, s included */
  json_t *ev = last_event("participant.updated", l1_id);
  ck_assert_str_eq(str_field(ev, "participant"), chorus_participant_id(s));
  ck_assert_str_eq(str_field(ev, "role"), "speaker");
  ck_assert_int_eq(json_integer_value(json_object_get(ev, "seat")), 0);
  ck_assert_int_eq(request(h, "voice.seat.take", "{\"seat\": 0}", NULL), CHORUS_ERROR_CONFLICT);
  ck_assert_int_eq(request(h, "voice.seat.take", "{\"seat\": 2}", NULL),
                   CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(request(h, "voice.seat.take", "{\"seat\": -1}", NULL),
                   CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(request(h, "voice.seat.take", "{\"seat\": 1}", NULL), 0);

  /* Invited listener: no free seat yet (-32013), then one frees up. */
  clear_events();
  ck_assert_int_eq(request_target(h, "voice.invite", l1), 0);
  ck_assert_uint_eq(events->len, 1);
  ev = last_event("voice.invited", l1_id);
  ck_assert_str_eq(str_field(ev, "by"), h_id);
  ck_assert_int_eq(request(l1, "voice.seat.take", NULL, NULL), CHORUS_ERROR_ROOM_FULL);
  ck_assert_int_eq(request(s, "voice.seat.leave", NULL, NULL), 0);
  ck_assert_int_eq(request(s, "voice.seat.leave", NULL, NULL), 0); /* idempotent */
  ck_assert_int_eq(request(l1, "voice.seat.take", NULL, &result), 0);
  ck_assert_int_eq(json_integer_value(json_object_get(result, "seat")), 0);
  json_decref(result);
  ck_assert(chorus_participant_may_publish(l1, "audio"));
  ck_assert(!chorus_participant_may_publish(l2, "audio"));
  /* The invitation was used up. */
  ck_assert_int_eq(request(l1, "voice.seat.leave", NULL, NULL), 0);
  ck_assert(!chorus_participant_may_publish(l1, "audio"));
  ck_assert_int_eq(request(l1, "voice.seat.take", NULL, NULL), CHORUS_ERROR_FORBIDDEN);

  /* Hands. */
  clear_events();
  ck_assert_int_eq(request(l2, "voice.hand.raise", NULL, NULL), 0);
  ck_assert_uint_eq(count_events("participant.updated", NULL), 4);
  ev = last_event("participant.updated", h_id);
  ck_assert_str_eq(str_field(ev, "participant"), l2_id);
  ck_assert(json_is_true(json_object_get(ev, "hand_raised")));
  ck_assert_int_eq(request(l2, "voice.hand.raise", NULL, NULL), 0); /* no change, no event */
  ck_assert_uint_eq(count_events("participant.updated", NULL), 4);
  g_autoptr(json_t) info = chorus_room_info_json(room);
  ck_assert(json_is_true(json_object_get(json_array_get(json_object_get(info, "participants"), 3),
                                         "hand_raised")));
  ck_assert_int_eq(request(l2, "voice.hand.lower", NULL, NULL), 0);
  ck_assert(json_is_false(json_object_get(last_event("participant.updated", h_id),
                                          "hand_raised")));

  /* Mute (recorded; media later). */
  clear_events();
  ck_assert_int_eq(request_target(h, "voice.mute", l2), 0);
  ev = last_event("participant.updated", l1_id);
  ck_assert_str_eq(str_field(ev, "participant"), l2_id);
  ck_assert(json_is_true(json_object_get(ev, "muted")));

  /* Targets must exist in this room. */
  ck_assert_int_eq(request(h, "voice.kick", "{\"target\": \"p_0000000000000000\"}", NULL),
                   CHORUS_ERROR_NOT_FOUND);
  ck_assert_int_eq(request(h, "voice.kick", "{}", NULL), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(request_target(h, "voice.kick", h), CHORUS_ERROR_INVALID_PARAMS);

  /* Kick: everyone is told, the kicked one included. */
  clear_events();
  ck_assert_int_eq(request_target(h, "voice.kick", l2), 0);
  ck_assert_ptr_null(chorus_room_directory_find_participant(dir, l2_id));
  ck_assert_uint_eq(count_events("participant.left", NULL), 4);
  ck_assert_str_eq(str_field(last_event("participant.left", l2_id), "reason"), "kicked");
  ck_assert_str_eq(str_field(last_event("participant.left", h_id), "participant"), l2_id);
  ck_assert_uint_eq(chorus_room_participant_count(room), 3);

  /* A seated participant leaving frees the seat. */
  ck_assert_int_eq(request(s, "voice.seat.take", "{\"seat\": 0}", NULL), 0);
  chorus_participant_leave(s, "left");
  ChorusParticipant *s2 = join(room, "speaker2", "speaker");
  ck_assert_int_eq(request(s2, "voice.seat.take", "{\"seat\": 0}", NULL), 0);
}
END_TEST

/* --- live plugin --- */

static gboolean
has_event_for(gpointer data)
{
  const char **what = data;
  return count_events(what[0], what[1]) > 0;
}

START_TEST(test_live_plugin)
{
  ChorusRoom *room = create_room("l1", "live", 0, "{\"max_publishers\": 2}");
  ChorusParticipant *h = join(room, "host", "host");
  ChorusParticipant *a = join(room, "a", NULL);
  const char *h_id = chorus_participant_id(h), *a_id = chorus_participant_id(a);
  ck_assert_str_eq(chorus_participant_role(a), "audience");
  ck_assert(chorus_participant_may_publish(h, "video"));
  ck_assert(!chorus_participant_may_publish(a, "video"));
  clear_events();

  ck_assert_int_eq(request_target(a, "live.promote", h), CHORUS_ERROR_FORBIDDEN);
  ck_assert_int_eq(request_target(h, "live.demote", a), CHORUS_ERROR_CONFLICT); /* not a cohost */
  ck_assert_int_eq(request_target(h, "live.promote", a), 0);
  ck_assert_str_eq(chorus_participant_role(a), "cohost");
  ck_assert(chorus_participant_may_publish(a, "video"));
  json_t *ev = last_event("participant.updated", h_id);
  ck_assert_str_eq(str_field(ev, "participant"), a_id);
  ck_assert_str_eq(str_field(ev, "role"), "cohost");
  ck_assert_uint_eq(count_events("participant.updated", NULL), 2);
  ck_assert_int_eq(request_target(h, "live.promote", a), CHORUS_ERROR_CONFLICT);

  /* max_publishers 2: a third publisher cannot join or be promoted. */
  ck_assert_int_eq(join_error(room, "c", "cohost", NULL), CHORUS_ERROR_ROOM_FULL);
  ChorusParticipant *b = join(room, "b", NULL);
  ck_assert_int_eq(request_target(h, "live.promote", b), CHORUS_ERROR_ROOM_FULL);
  ck_assert_int_eq(request_target(h, "live.demote", a), 0);
  ck_assert_str_eq(chorus_participant_role(a), "audience");
  ck_assert(!chorus_participant_may_publish(a, "audio"));
  ck_assert_int_eq(request_target(h, "live.promote", b), 0);

  /* PK. */
  ChorusRoom *room2 = create_room("l2", "live", 0, NULL);
  ChorusParticipant *h2 = join(room2, "host2", "host");
  ChorusParticipant *c2 = join(room2, "cohost2", "cohost");
  const char *h2_id = chorus_participant_id(h2);
  create_room("voice-room", "voice", 0, NULL);
  ck_assert_int_eq(request(a, "live.pk.start", "{\"room\": \"l2\"}", NULL),
                   CHORUS_ERROR_FORBIDDEN);
  ck_assert_int_eq(request(h, "live.pk.start", "{\"room\": \"l1\"}", NULL),
                   CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(request(h, "live.pk.start", "{\"room\": \"nope\"}", NULL),
                   CHORUS_ERROR_NOT_FOUND);
  ck_assert_int_eq(request(h, "live.pk.start", "{\"room\": \"voice-room\"}", NULL),
                   CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(request(h, "live.pk.start", "{}", NULL), CHORUS_ERROR_INVALID_PARAMS);
  ck_assert_int_eq(request(h, "live.pk.stop", NULL, NULL), CHORUS_ERROR_NOT_FOUND);

  /* Tracks: h2 (host) and c2 (cohost) publish in l2. */
  clear_events();
  g_autoptr(GError) error = NULL;
  const char *const rids[] = { "q", "h", "f", NULL };
  ChorusTrack *t_h2 = chorus_room_track_add(h2, "video", rids, &error);
  ck_assert_ptr_nonnull(t_h2);
  ck_assert_uint_eq(count_events("track.published", NULL), 2); /* l2: publisher included */
  ev = last_event("track.published", h2_id);
  ck_assert_str_eq(str_field(ev, "track"), chorus_track_id(t_h2));
  ck_assert_str_eq(str_field(ev, "kind"), "video");
  ck_assert_uint_eq(json_array_size(json_object_get(ev, "simulcast")), 3);
  ChorusTrack *t_c2 = chorus_room_track_add(c2, "audio", NULL, &error);
  ck_assert_ptr_nonnull(t_c2);
  ck_assert_ptr_null(chorus_room_track_add(a, "audio", NULL, &error));
  ck_assert_int_eq(error->code, CHORUS_ERROR_FORBIDDEN);
  g_clear_error(&error);
  g_autoptr(json_t) list = chorus_room_directory_list_json(dir);
  json_t *l2_entry = json_array_get(json_object_get(list, "rooms"), 1);
  ck_assert_str_eq(str_field(l2_entry, "room"), "l2");
  ck_assert_int_eq(json_integer_value(json_object_get(l2_entry, "publishers")), 2);

  ck_assert(!chorus_participant_may_receive(a, t_h2)); /* other room, no PK */
  ck_assert(chorus_participant_may_receive(c2, t_h2));
  ck_assert(!chorus_participant_may_receive(h2, t_h2)); /* never its own */

  clear_events();
  json_t *result = NULL;
  ck_assert_int_eq(request(h, "live.pk.start", "{\"room\": \"l2\"}", &result), 0);
  ck_assert_str_eq(str_field(result, "peer_room"), "l2");
  json_decref(result);
  ck_assert_uint_eq(count_events("live.pk", NULL), 5); /* l1: h, a, b; l2: h2, c2 */
  ev = last_event("live.pk", a_id);
  ck_assert_str_eq(str_field(ev, "room"), "l1");
  ck_assert_str_eq(str_field(ev, "peer_room"), "l2");
  ck_assert_str_eq(str_field(ev, "state"), "started");
  ev = last_event("live.pk", h2_id);
  ck_assert_str_eq(str_field(ev, "room"), "l2");
  ck_assert_str_eq(str_field(ev, "peer_room"), "l1");
  ck_assert_int_eq(request(h, "live.pk.start", "{\"room\": \"l2\"}", NULL),
                   CHORUS_ERROR_CONFLICT);
  ck_assert_int_eq(request(h2, "live.pk.start", "{\"room\": \"l1\"}", NULL),
                   CHORUS_ERROR_CONFLICT);
  /* The audience of l1 now sees l2's host, not its cohost. */
  ck_assert(chorus_participant_may_receive(a, t_h2));
  ck_assert(!chorus_participant_may_receive(a, t_c2));

  clear_events();
  ck_assert_int_eq(request(h2, "live.pk.stop", NULL, NULL), 0);
  ck_assert_uint_eq(count_events("live.pk", NULL), 5);
  ck_assert_str_eq(str_field(last_event("live.pk", a_id), "state"), "stopped");
  ck_assert(!chorus_participant_may_receive(a, t_h2));

  /* Destroying one side stops the PK for the other. */
  ck_assert_int_eq(request(h, "live.pk.start", "{\"room\": \"l2\"}", NULL), 0);
  clear_events();
  ck_assert(chorus_room_directory_destroy(dir, "l2", "destroyed", NULL));
  ck_assert_uint_eq(count_events("live.pk", NULL), 3);
  ev = last_event("live.pk", h_id);
  ck_assert_str_eq(str_field(ev, "peer_room"), "l2");
  ck_assert_str_eq(str_field(ev, "state"), "stopped");
  ck_assert_int_eq(request(h, "live.pk.stop", NULL, NULL), CHORUS_ERROR_NOT_FOUND);
}
END_TEST

START_TEST(test_live_viewers)
{
  ChorusRoom *room = create_room("l", "live", 0, NULL);
  ChorusParticipant *h = join(room, "host", "host");
  g_autofree char *h_id = g_strdup(chorus_participant_id(h));
  ck_assert_uint_eq(count_events("live.viewers", NULL), 0); /* hosts are not viewers */

  /* The first change goes out at once, to everyone. */
  join(room, "v1", NULL);
  ck_assert_uint_eq(count_events("live.viewers", NULL), 2);
  ck_assert_int_eq(json_integer_value(json_object_get(last_event("live.viewers", h_id), "count")),
                   1);
  /* Within 2 s: held back, then the count of that moment goes out once. */
  clear_events();
  join(room, "v2", NULL);
  join(room, "v3", NULL);
  ck_assert_uint_eq(count_events("live.viewers", NULL), 0);
  const char *what[] = { "live.viewers", h_id };
  ck_assert(iterate_until(has_event_for, what, 3000));
  ck_assert_uint_eq(count_events("live.viewers", h_id), 1);
  ck_assert_int_eq(json_integer_value(json_object_get(last_event("live.viewers", h_id), "count")),
                   3);
  ck_assert_uint_eq(count_events("live.viewers", NULL), 4);
}
END_TEST

static Suite *
rooms_suite(void)
{
  Suite *s = suite_create("rooms");
  TCase *tc = tcase_create("model");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_token_bucket);
  tcase_add_test(tc, test_create_destroy_list_info);
  tcase_add_test(tc, test_create_validation);
  tcase_add_test(tc, test_join_validation);
  tcase_add_test(tc, test_room_full);
  tcase_add_test(tc, test_join_leave_notifications);
  tcase_add_test(tc, test_message_send);
  tcase_add_test(tc, test_message_rate_limit);
  tcase_add_test(tc, test_detach_resume);
  tcase_add_test(tc, test_room_closed);
  suite_add_tcase(s, tc);

  TCase *tp = tcase_create("plugins");
  tcase_add_checked_fixture(tp, setup, teardown);
  tcase_add_test(tp, test_voice_plugin);
  tcase_add_test(tp, test_live_plugin);
  tcase_add_test(tp, test_live_viewers);
  suite_add_tcase(s, tp);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(rooms_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
