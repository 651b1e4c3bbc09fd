#include <check.h>
#include <stdlib.h>

#include "chorus-build-config.h"
#include "core/config.h"
#include "core/error.h"

static ChorusConfig *
load(const char *text, GError **error)
{
  return chorus_config_load_data(text, "test.conf", error);
}

START_TEST(test_defaults)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusConfig) c = load("", &error);
  ck_assert_ptr_nonnull(c);
  ck_assert_str_eq(c->listen_address, "127.0.0.1");
  ck_assert_uint_eq(c->port, 7070);
  ck_assert_uint_eq(c->max_frame_bytes, 65536);
  ck_assert_uint_eq(c->resume_grace_s, 20);
  ck_assert_uint_eq(c->port_min, 20000);
  ck_assert_uint_eq(c->port_max, 40000);
  ck_assert_ptr_null(c->public_ip);
  ck_assert_ptr_null(c->interfaces);
  ck_assert(!c->ice_lite);
  ck_assert_uint_eq(c->message_max_bytes, 4096);
  ck_assert_str_eq(c->log_level, "info");
  ck_assert_ptr_null(c->api_secret);
}
END_TEST

START_TEST(test_values)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusConfig) c = load("[signaling]\nport = 8080\nlisten_address=127.0.0.1\n"
                                   "[media]\ninterfaces = 127.0.0.1, 10.0.0.1\nice_lite=true\n"
                                   "public_ip = 203.0.113.7\n"
                                   "[auth]\napi_secret = 0123456789abcdef\n[log]\nlevel=debug\n",
                                   &error);
  ck_assert_msg(c != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq(c->port, 8080);
  ck_assert_str_eq(c->listen_address, "127.0.0.1");
  ck_assert_str_eq(c->interfaces[0], "127.0.0.1");
  ck_assert_str_eq(c->interfaces[1], "10.0.0.1");
  ck_assert_ptr_null(c->interfaces[2]);
  ck_assert(c->ice_lite);
  ck_assert_str_eq(c->public_ip, "203.0.113.7");
  ck_assert_str_eq(c->api_secret, "0123456789abcdef");
  ck_assert_str_eq(c->log_level, "debug");
  ck_assert(chorus_config_validate(c, FALSE, NULL));
}
END_TEST

/* Each bad file must fail with a message naming file, [group] key and the problem. */
static const struct {
  const char *text;
  const char *expect;
} bad_cases[] = {
  { "[signaling]\nport = 70000\n", "test.conf: [signaling] port: must be between 1 and 65535 (got 70000)" },
  { "[signaling]\nport = abc\n", "test.conf: [signaling] port: not a non-negative integer (got \"abc\")" },
  { "[signaling]\nport = -1\n", "test.conf: [signaling] port: not a non-negative integer" },
  { "[signaling]\nprot = 1\n", "test.conf: [signaling] prot: unknown key" },
  { "[signalling]\nport = 1\n", "test.conf: [signalling]: unknown group" },
  { "[media]\nport_min = 50000\n", "test.conf: [media] port_min: must be <= port_max (got 50000 > 40000)" },
  { "[media]\nice_lite = yes\n", "test.conf: [media] ice_lite: must be true or false (got \"yes\")" },
  { "[media]\npublic_ip = example.com\n", "test.conf: [media] public_ip: not an IP address" },
  { "[media]\ninterfaces = 127.0.0.1, eth0\n", "test.conf: [media] interfaces: not an IP address (got \"eth0\")" },
  { "[media]\ncertificate_file = /x.pem\n", "test.conf: [media] private_key_file: certificate_file and private_key_file must be given together" },
  { "[log]\nlevel = loud\n", "test.conf: [log] level: must be one of" },
  { "[auth]\napi_secret = short\n", "test.conf: [auth] api_secret: must be at least 16 characters" },
  { "[signaling]\nping_interval_s = 30\nidle_timeout_s = 30\n", "test.conf: [signaling] idle_timeout_s: must be greater than ping_interval_s" },
  { "this is not a key file\n", "test.conf: " },
};

START_TEST(test_bad)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusConfig) c = load(bad_cases[_i].text, &error);
  ck_assert_ptr_null(c);
  ck_assert_ptr_nonnull(error);
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
  ck_assert_msg(g_str_has_prefix(error->message, bad_cases[_i].expect), "case %d: got \"%s\"", _i,
                error->message);
}
END_TEST

START_TEST(test_secret_required_outside_dev)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusConfig) c = load("", &error);
  ck_assert_ptr_nonnull(c);
  ck_assert(chorus_config_validate(c, TRUE, NULL));
  ck_assert(!chorus_config_validate(c, FALSE, &error));
  ck_assert_msg(strstr(error->message, "[auth] api_secret: required outside dev mode") != NULL,
                "%s", error->message);
}
END_TEST

START_TEST(test_shipped_config_is_valid)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename(CHORUS_SOURCE_DIR, "config", "chorus.conf", NULL);
  g_autoptr(ChorusConfig) c = chorus_config_load(path, &error);
  ck_assert_msg(c != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq(c->port, 7070);
  /* The shipped secret is the demo one: fine for --dev, refused otherwise. */
  ck_assert(chorus_config_validate(c, TRUE, NULL));
  ck_assert(!chorus_config_validate(c, FALSE, &error));
  ck_assert_msg(strstr(error->message, "example secret") != NULL, "%s", error->message);
}
END_TEST

START_TEST(test_missing_file)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusConfig) c = chorus_config_load("/nonexistent/chorus.conf", &error);
  ck_assert_ptr_null(c);
  ck_assert(g_str_has_prefix(error->message, "/nonexistent/chorus.conf: cannot read"));
}
END_TEST

static Suite *
config_suite(void)
{
  Suite *s = suite_create("config");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_defaults);
  tcase_add_test(tc, test_values);
  tcase_add_loop_test(tc, test_bad, 0, G_N_ELEMENTS(bad_cases));
  tcase_add_test(tc, test_secret_required_outside_dev);
  tcase_add_test(tc, test_shipped_config_is_valid);
  tcase_add_test(tc, test_missing_file);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(config_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
