/* Plugin host: loading the built plugins, ABI refusal, duplicate kinds. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "rooms/plugin-host.h"

/* Every log message of the test process, to assert on refusals. Installed
 * once in main() (GLib allows one writer per process); forked test
 * processes inherit it. */
static GString *log_text;

static GLogWriterOutput
capture_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  for (gsize i = 0; i < n_fields; i++) {
    if (strcmp(fields[i].key, "MESSAGE") == 0) {
      const char *msg = fields[i].value;
      g_string_append_len(log_text, msg, fields[i].length < 0 ? (gssize)strlen(msg)
                                                               : fields[i].length);
      g_string_append_c(log_text, '\n');
    }
  }
  return g_log_writer_default(level, fields, n_fields, user_data);
}

static const char *
plugin_dir(void)
{
  const char *dir = g_getenv("CHORUS_PLUGIN_DIR");
  ck_assert_msg(dir != NULL, "CHORUS_PLUGIN_DIR is not set (run through meson test)");
  return dir;
}

static void
setup(void)
{
  g_string_truncate(log_text, 0);
}

START_TEST(test_load_built_plugins)
{
  g_autoptr(ChorusPluginHost) host = chorus_plugin_host_new();
  g_autoptr(GError) error = NULL;
  ck_assert_msg(chorus_plugin_host_load_dir(host, plugin_dir(), &error), "%s",
                error ? error->message : "");
  ck_assert_uint_eq(chorus_plugin_host_count(host), 2);
  g_autofree char *kinds = chorus_plugin_host_kinds_string(host);
  ck_assert_str_eq(kinds, "live, voice");

  const ChorusPlugin *voice = chorus_plugin_host_find(host, "voice");
  ck_assert_ptr_nonnull(voice);
  ck_assert_uint_eq(voice->abi_version, CHORUS_PLUGIN_ABI_VERSION);
  ck_assert_str_eq(voice->default_role, "listener");
  ck_assert(chorus_plugin_has_role(voice, "host"));
  ck_assert(chorus_plugin_has_role(voice, "speaker"));
  ck_assert(chorus_plugin_has_role(voice, "listener"));
  ck_assert(!chorus_plugin_has_role(voice, "audience"));
  ck_assert(chorus_plugin_has_method(voice, "voice.seat.take"));
  ck_assert(chorus_plugin_has_method(voice, "voice.kick"));
  ck_assert(!chorus_plugin_has_method(voice, "live.promote"));

  const ChorusPlugin *live = chorus_plugin_host_find(host, "live");
  ck_assert_ptr_nonnull(live);
  ck_assert_str_eq(live->default_role, "audience");
  ck_assert(chorus_plugin_has_role(live, "cohost"));
  ck_assert(chorus_plugin_has_method(live, "live.pk.start"));
  ck_assert(!chorus_plugin_has_method(live, "voice.seat.take"));

  /* Sorted by kind. */
  ck_assert_ptr_eq(chorus_plugin_host_get(host, 0), live);
  ck_assert_ptr_eq(chorus_plugin_host_get(host, 1), voice);

  ck_assert_ptr_null(chorus_plugin_host_find(host, "video"));
  ck_assert_ptr_null(chorus_plugin_host_find(host, NULL));
  ck_assert_ptr_null(chorus_plugin_host_find(host, ""));
}
END_TEST

START_TEST(test_wrong_abi_refused)
{
  const char *bad_dir = g_getenv("CHORUS_BAD_PLUGIN_DIR");
  ck_assert_msg(bad_dir != NULL, "CHORUS_BAD_PLUGIN_DIR is not set (run through meson test)");
  g_autoptr(ChorusPluginHost) host = chorus_plugin_host_new();
  g_autoptr(GError) error = NULL;
  ck_assert(!chorus_plugin_host_load_dir(host, bad_dir, &error));
  ck_assert_ptr_nonnull(error);
  ck_assert_msg(strstr(error->message, "no plugin loaded") != NULL, "%s", error->message);
  ck_assert_uint_eq(chorus_plugin_host_count(host), 0);
  ck_assert_ptr_null(chorus_plugin_host_find(host, "badabi"));

  /* The warning names the file, both versions and the fix. */
  g_autofree char *expect = g_strdup_printf("ABI version %u found, %u expected",
                                            CHORUS_PLUGIN_ABI_VERSION + 1,
                                            CHORUS_PLUGIN_ABI_VERSION);
  ck_assert_msg(strstr(log_text->str, "libbadabi.so") != NULL, "log: %s", log_text->str);
  ck_assert_msg(strstr(log_text->str, expect) != NULL, "log: %s", log_text->str);
  ck_assert_msg(strstr(log_text->str, "rebuild the plugin against include/chorus/plugin.h") !=
                  NULL,
                "log: %s", log_text->str);

  /* Good plugins load next to it afterwards. */
  ck_assert(chorus_plugin_host_load_dir(host, plugin_dir(), NULL));
  ck_assert_uint_eq(chorus_plugin_host_count(host), 2);
}
END_TEST

START_TEST(test_duplicate_kind_refused)
{
  g_autoptr(ChorusPluginHost) host = chorus_plugin_host_new();
  ck_assert(chorus_plugin_host_load_dir(host, plugin_dir(), NULL));
  ck_assert_uint_eq(chorus_plugin_host_count(host), 2);
  g_string_truncate(log_text, 0);

  /* The same kinds again: both refused, so nothing was loaded this time. */
  g_autoptr(GError) error = NULL;
  ck_assert(!chorus_plugin_host_load_dir(host, plugin_dir(), &error));
  ck_assert_uint_eq(chorus_plugin_host_count(host), 2);
  ck_assert_msg(strstr(log_text->str, "kind \"voice\" is already loaded") != NULL, "log: %s",
                log_text->str);
  ck_assert_msg(strstr(log_text->str, "kind \"live\" is already loaded") != NULL, "log: %s",
                log_text->str);
  g_autofree char *kinds = chorus_plugin_host_kinds_string(host);
  ck_assert_str_eq(kinds, "live, voice");
}
END_TEST

/* A minimal in-process plugin for register(). */
static gboolean
stub_room_created(const ChorusPluginHostApi *api, ChorusRoom *room, json_t *options,
                  gpointer *state, GError **error)
{
  return TRUE;
}

static void
stub_room_destroyed(gpointer state)
{
}

static json_t *
stub_handle_request(gpointer state, ChorusParticipant *p, const char *method, json_t *params,
                    GError **error)
{
  return json_object();
}

static const char *const stub_roles[] = { "member", NULL };

START_TEST(test_register)
{
  g_autoptr(ChorusPluginHost) host = chorus_plugin_host_new();
  ck_assert(chorus_plugin_host_load_dir(host, plugin_dir(), NULL));

  ChorusPlugin plugin = {
    .abi_version = CHORUS_PLUGIN_ABI_VERSION,
    .kind = "voice",
    .default_role = "member",
    .roles = stub_roles,
    .room_created = stub_room_created,
    .room_destroyed = stub_room_destroyed,
    .handle_request = stub_handle_request,
  };
  g_autoptr(GError) error = NULL;
  ck_assert(!chorus_plugin_host_register(host, &plugin, &error));
  ck_assert_int_eq(error->code, CHORUS_ERROR_CONFLICT);
  g_clear_error(&error);

  plugin.kind = "meeting";
  plugin.abi_version = CHORUS_PLUGIN_ABI_VERSION + 7;
  ck_assert(!chorus_plugin_host_register(host, &plugin, &error));
  ck_assert_msg(strstr(error->message, "rebuild the plugin") != NULL, "%s", error->message);
  g_clear_error(&error);

  plugin.abi_version = CHORUS_PLUGIN_ABI_VERSION;
  plugin.default_role = "boss"; /* not one of its roles */
  ck_assert(!chorus_plugin_host_register(host, &plugin, &error));
  g_clear_error(&error);

  plugin.default_role = "member";
  plugin.handle_request = NULL; /* required */
  ck_assert(!chorus_plugin_host_register(host, &plugin, &error));
  g_clear_error(&error);

  plugin.handle_request = stub_handle_request;
  ck_assert_msg(chorus_plugin_host_register(host, &plugin, &error), "%s",
                error ? error->message : "");
  ck_assert_uint_eq(chorus_plugin_host_count(host), 3);
  g_autofree char *kinds = chorus_plugin_host_kinds_string(host);
  ck_assert_str_eq(kinds, "live, meeting, voice");
  ck_assert_ptr_eq(chorus_plugin_host_find(host, "meeting"), &plugin);
}
END_TEST

START_TEST(test_missing_dir)
{
  g_autoptr(ChorusPluginHost) host = chorus_plugin_host_new();
  g_autoptr(GError) error = NULL;
  ck_assert(!chorus_plugin_host_load_dir(host, "/nonexistent/chorus-plugins", &error));
  ck_assert_ptr_nonnull(error);
  ck_assert_msg(strstr(error->message, "cannot read plugin directory") != NULL, "%s",
                error->message);
  ck_assert_uint_eq(chorus_plugin_host_count(host), 0);
  g_autofree char *kinds = chorus_plugin_host_kinds_string(host);
  ck_assert_str_eq(kinds, "");
}
END_TEST

static Suite *
plugin_host_suite(void)
{
  Suite *s = suite_create("plugin-host");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, NULL);
  tcase_add_test(tc, test_load_built_plugins);
  tcase_add_test(tc, test_wrong_abi_refused);
  tcase_add_test(tc, test_duplicate_kind_refused);
  tcase_add_test(tc, test_register);
  tcase_add_test(tc, test_missing_dir);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  log_text = g_string_new(NULL);
  g_log_set_writer_func(capture_writer, NULL, NULL);
  SRunner *sr = srunner_create(plugin_host_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
