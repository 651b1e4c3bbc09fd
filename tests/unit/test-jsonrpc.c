/* JSON-RPC framing, builders, parameter helpers and the dispatch table. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "signaling/jsonrpc.h"

/* Parses @text expecting failure with @code; returns the echoed id encoded
 * compactly ("null", "7", "\"abc\""). */
static char *
parse_fail(const char *text, int code)
{
  g_autoptr(GError) error = NULL;
  json_t *id = NULL;
  ChorusJsonRpcRequest *req = chorus_jsonrpc_parse(text, strlen(text), &id, &error);
  ck_assert_msg(req == NULL, "parsed but should fail: %s", text);
  ck_assert_msg(error != NULL, "no error for %s", text);
  ck_assert_msg(g_error_matches(error, CHORUS_ERROR, code), "%s: got %d (%s), want %d", text,
                error->code, error->message, code);
  ck_assert_ptr_nonnull(id);
  char *out = chorus_jsonrpc_encode(id);
  json_decref(id);
  return out;
}

static char *encode_and_free(json_t *msg);

static ChorusJsonRpcRequest *
parse_ok(const char *text)
{
  g_autoptr(GError) error = NULL;
  json_t *id = NULL;
  ChorusJsonRpcRequest *req = chorus_jsonrpc_parse(text, strlen(text), &id, &error);
  ck_assert_msg(req != NULL, "%s: %s", text, error ? error->message : "");
  ck_assert_ptr_null(id);
  return req;
}

START_TEST(test_parse_valid_request)
{
  g_autoptr(ChorusJsonRpcRequest) req =
      parse_ok("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":{\"a\":1}}");
  ck_assert_str_eq(req->method, "ping");
  ck_assert(json_is_integer(req->id));
  ck_assert_int_eq(json_integer_value(req->id), 7);
  ck_assert(json_is_object(req->params));
  ck_assert_int_eq(json_integer_value(json_object_get(req->params, "a")), 1);
  ck_assert(!chorus_jsonrpc_request_is_notification(req));
}
END_TEST

START_TEST(test_parse_string_id_and_absent_params)
{
  g_autoptr(ChorusJsonRpcRequest) req =
      parse_ok("{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"room.list\"}");
  ck_assert_str_eq(json_string_value(req->id), "abc");
  ck_assert(json_is_object(req->params));
  ck_assert_uint_eq(json_object_size(req->params), 0);
}
END_TEST

START_TEST(test_parse_null_and_float_ids)
{
  /* JSON-RPC 2.0 allows null and (discouraged) fractional ids: requests. */
  g_autoptr(ChorusJsonRpcRequest) a =
      parse_ok("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}");
  ck_assert_ptr_nonnull(a->id);
  ck_assert(json_is_null(a->id));
  ck_assert(!chorus_jsonrpc_request_is_notification(a));
  g_autoptr(ChorusJsonRpcRequest) b =
      parse_ok("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}");
  ck_assert(json_is_real(b->id));
  g_autofree char *r = encode_and_free(chorus_jsonrpc_result_new(b->id, NULL));
  ck_assert_str_eq(r, "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"result\":{}}");
}
END_TEST

START_TEST(test_parse_notification)
{
  g_autoptr(ChorusJsonRpcRequest) req =
      parse_ok("{\"jsonrpc\":\"2.0\",\"method\":\"trickle\",\"params\":{}}");
  ck_assert_ptr_null(req->id);
  ck_assert(chorus_jsonrpc_request_is_notification(req));
}
END_TEST

START_TEST(test_parse_not_nul_terminated)
{
  const char *text = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}GARBAGE";
  gsize len = strlen("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusJsonRpcRequest) req = chorus_jsonrpc_parse(text, len, NULL, &error);
  ck_assert_ptr_nonnull(req);
  ck_assert_str_eq(req->method, "ping");
}
END_TEST

/* Every framing error, with the id that must be echoed. */
static const struct {
  const char *text;
  int code;
  const char *echo;
} bad[] = {
    /* not JSON */
    {"", CHORUS_ERROR_PARSE, "null"},
    {"{", CHORUS_ERROR_PARSE, "null"},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"", CHORUS_ERROR_PARSE, "null"},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} trailing", CHORUS_ERROR_PARSE, "null"},
    {"nope", CHORUS_ERROR_PARSE, "null"},
    {"{'jsonrpc':'2.0'}", CHORUS_ERROR_PARSE, "null"},
    /* JSON but not an object */
    {"[]", CHORUS_ERROR_INVALID_REQUEST, "null"},
    {"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", CHORUS_ERROR_INVALID_REQUEST, "null"},
    {"42", CHORUS_ERROR_INVALID_REQUEST, "null"},
    {"\"ping\"", CHORUS_ERROR_INVALID_REQUEST, "null"},
    {"null", CHORUS_ERROR_INVALID_REQUEST, "null"},
    {"true", CHORUS_ERROR_INVALID_REQUEST, "null"},
    /* jsonrpc member */
    {"{\"id\":1,\"method\":\"ping\"}", CHORUS_ERROR_INVALID_REQUEST, "1"},
    {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", CHORUS_ERROR_INVALID_REQUEST, "1"},
    {"{\"jsonrpc\":2.0,\"id\":\"x\",\"method\":\"ping\"}", CHORUS_ERROR_INVALID_REQUEST, "\"x\""},
    /* method member */
    {"{\"jsonrpc\":\"2.0\",\"id\":2}", CHORUS_ERROR_INVALID_REQUEST, "2"},
    {"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":5}", CHORUS_ERROR_INVALID_REQUEST, "2"},
    {"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"\"}", CHORUS_ERROR_INVALID_REQUEST, "2"},
    {"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":null}", CHORUS_ERROR_INVALID_REQUEST, "2"},
    /* params member */
    {"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":[1]}",
     CHORUS_ERROR_INVALID_REQUEST, "3"},
    {"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":\"x\"}",
     CHORUS_ERROR_INVALID_REQUEST, "3"},
    {"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":null}",
     CHORUS_ERROR_INVALID_REQUEST, "3"},
    /* ill-typed ids are not echoed */
    {"{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"ping\"}", CHORUS_ERROR_INVALID_REQUEST,
     "null"},
    {"{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}", CHORUS_ERROR_INVALID_REQUEST, "null"},
    {"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", CHORUS_ERROR_INVALID_REQUEST, "null"},
    /* the id is echoed even when other members are wrong; ill-typed id wins */
    {"{\"jsonrpc\":\"1.0\",\"id\":false}", CHORUS_ERROR_INVALID_REQUEST, "null"},
    {"{\"jsonrpc\":\"1.0\",\"id\":2.5,\"method\":\"ping\"}", CHORUS_ERROR_INVALID_REQUEST, "2.5"},
    /* no id at all (a broken notification) still gets an error with id null */
    {"{\"jsonrpc\":\"2.0\",\"method\":7}", CHORUS_ERROR_INVALID_REQUEST, "null"},
};

START_TEST(test_parse_errors)
{
  g_autofree char *echo = parse_fail(bad[_i].text, bad[_i].code);
  ck_assert_msg(strcmp(echo, bad[_i].echo) == 0, "%s: echoed %s, want %s", bad[_i].text, echo,
                bad[_i].echo);
}
END_TEST

START_TEST(test_parse_error_messages)
{
  g_autoptr(GError) error = NULL;
  const char *text = "[1,2]";
  ck_assert_ptr_null(chorus_jsonrpc_parse(text, strlen(text), NULL, &error));
  ck_assert_msg(strstr(error->message, "batch") != NULL, "%s", error->message);
  g_clear_error(&error);
  text = "{\"jsonrpc\":\"2.0\",\"id\":1}";
  ck_assert_ptr_null(chorus_jsonrpc_parse(text, strlen(text), NULL, &error));
  ck_assert_msg(strstr(error->message, "method") != NULL, "%s", error->message);
  g_clear_error(&error);
  text = "{\"jsonrpc\":\"2.0\",";
  ck_assert_ptr_null(chorus_jsonrpc_parse(text, strlen(text), NULL, &error));
  ck_assert_msg(g_str_has_prefix(error->message, "parse error"), "%s", error->message);
}
END_TEST

static char *
encode_and_free(json_t *msg)
{
  char *s = chorus_jsonrpc_encode(msg);
  json_decref(msg);
  return s;
}

START_TEST(test_builders)
{
  json_t *id = json_integer(5);
  json_t *result = json_pack("{s:i}", "time_ms", 12);
  g_autofree char *r = encode_and_free(chorus_jsonrpc_result_new(id, result));
  ck_assert_str_eq(r, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"time_ms\":12}}");

  g_autofree char *empty = encode_and_free(chorus_jsonrpc_result_new(id, NULL));
  ck_assert_str_eq(empty, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}");

  g_autofree char *e =
      encode_and_free(chorus_jsonrpc_error_new(id, -32601, "no such method", NULL));
  ck_assert_str_eq(e, "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32601,\"message\":"
                      "\"no such method\"}}");

  g_autofree char *ed = encode_and_free(
      chorus_jsonrpc_error_new(NULL, -32010, "bad sdp", json_pack("{s:s}", "reason", "no ice")));
  ck_assert_str_eq(ed, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32010,\"message\":"
                       "\"bad sdp\",\"data\":{\"reason\":\"no ice\"}}}");

  json_t *params = json_pack("{s:s,s:s}", "room", "r1", "to", "p_1");
  g_autofree char *n =
      encode_and_free(chorus_jsonrpc_notification_new("participant.joined", params));
  ck_assert_str_eq(n, "{\"jsonrpc\":\"2.0\",\"method\":\"participant.joined\",\"params\":{\"room\":"
                      "\"r1\",\"to\":\"p_1\"}}");
  /* params were borrowed */
  ck_assert_int_eq(params->refcount, 1);
  json_decref(params);
  ck_assert_int_eq(id->refcount, 1);
  json_decref(id);
}
END_TEST

START_TEST(test_error_from_gerror)
{
  g_autoptr(GError) mine = g_error_new(CHORUS_ERROR, CHORUS_ERROR_FORBIDDEN, "not yours");
  json_t *id = json_string("q");
  g_autofree char *a = encode_and_free(chorus_jsonrpc_error_new_from_gerror(id, mine, NULL));
  ck_assert_str_eq(a, "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"error\":{\"code\":-32002,\"message\":"
                      "\"not yours\"}}");
  g_autoptr(GError) other = g_error_new(G_FILE_ERROR, G_FILE_ERROR_IO, "disk on fire");
  ck_assert_int_eq(chorus_jsonrpc_error_code(other), -32603);
  g_autofree char *b = encode_and_free(chorus_jsonrpc_error_new_from_gerror(id, other, NULL));
  ck_assert_str_eq(b, "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"error\":{\"code\":-32603,\"message\":"
                      "\"disk on fire\"}}");
  json_decref(id);
}
END_TEST

static void
assert_param_error(GError *error, const char *message)
{
  ck_assert_ptr_nonnull(error);
  ck_assert_msg(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS), "code %d",
                error->code);
  ck_assert_str_eq(error->message, message);
}

START_TEST(test_param_strings)
{
  json_t *p = json_pack("{s:s,s:i,s:n}", "room", "lobby", "num", 3, "nul");
  const char *s = NULL;
  g_autoptr(GError) error = NULL;

  ck_assert(chorus_jsonrpc_get_string(p, "room", &s, &error));
  ck_assert_str_eq(s, "lobby");

  ck_assert(!chorus_jsonrpc_get_string(p, "num", &s, &error));
  assert_param_error(error, "params.num: expected a string");
  g_clear_error(&error);

  ck_assert(!chorus_jsonrpc_get_string(p, "missing", &s, &error));
  assert_param_error(error, "params.missing: required");
  g_clear_error(&error);

  /* required + JSON null: present but not a string */
  ck_assert(!chorus_jsonrpc_get_string(p, "nul", &s, &error));
  assert_param_error(error, "params.nul: expected a string");
  g_clear_error(&error);

  s = "default";
  ck_assert(chorus_jsonrpc_get_optional_string(p, "missing", &s, &error));
  ck_assert_str_eq(s, "default");
  ck_assert(chorus_jsonrpc_get_optional_string(p, "nul", &s, &error));
  ck_assert_str_eq(s, "default");
  ck_assert(!chorus_jsonrpc_get_optional_string(p, "num", &s, &error));
  assert_param_error(error, "params.num: expected a string");
  json_decref(p);
}
END_TEST

START_TEST(test_param_bool_int)
{
  json_t *p = json_pack("{s:b,s:i,s:s,s:f,s:I}", "muted", 1, "n", 5, "str", "5", "real", 2.5, "big",
                        (json_int_t)1 << 40);
  g_autoptr(GError) error = NULL;
  gboolean b = FALSE;
  ck_assert(chorus_jsonrpc_get_bool(p, "muted", &b, &error));
  ck_assert(b);
  ck_assert(!chorus_jsonrpc_get_bool(p, "n", &b, &error));
  assert_param_error(error, "params.n: expected true or false");
  g_clear_error(&error);
  b = TRUE;
  ck_assert(chorus_jsonrpc_get_optional_bool(p, "absent", &b, &error));
  ck_assert(b);
  ck_assert(!chorus_jsonrpc_get_bool(p, "absent", &b, &error));
  assert_param_error(error, "params.absent: required");
  g_clear_error(&error);

  gint64 n = 0;
  ck_assert(chorus_jsonrpc_get_int(p, "n", 1, 10, &n, &error));
  ck_assert_int_eq(n, 5);
  ck_assert(!chorus_jsonrpc_get_int(p, "n", 6, 10, &n, &error));
  assert_param_error(error, "params.n: expected an integer between 6 and 10 (got 5)");
  g_clear_error(&error);
  ck_assert(!chorus_jsonrpc_get_int(p, "str", 1, 10, &n, &error));
  assert_param_error(error, "params.str: expected an integer between 1 and 10");
  g_clear_error(&error);
  ck_assert(!chorus_jsonrpc_get_int(p, "real", 1, 10, &n, &error));
  assert_param_error(error, "params.real: expected an integer between 1 and 10");
  g_clear_error(&error);
  ck_assert(!chorus_jsonrpc_get_optional_int(p, "big", 0, G_MAXUINT32, &n, &error));
  assert_param_error(error, "params.big: expected an integer between 0 and 4294967295 (got "
                            "1099511627776)");
  g_clear_error(&error);
  n = 42;
  ck_assert(chorus_jsonrpc_get_optional_int(p, "absent", 0, 10, &n, &error));
  ck_assert_int_eq(n, 42);
  json_decref(p);
}
END_TEST

START_TEST(test_param_object_array)
{
  json_t *p = json_pack("{s:{},s:[i],s:s}", "options", "to", 1, "s", "x");
  g_autoptr(GError) error = NULL;
  json_t *o = NULL, *a = NULL;
  ck_assert(chorus_jsonrpc_get_object(p, "options", &o, &error));
  ck_assert(json_is_object(o));
  ck_assert(!chorus_jsonrpc_get_object(p, "to", &o, &error));
  assert_param_error(error, "params.to: expected an object");
  g_clear_error(&error);
  ck_assert(chorus_jsonrpc_get_array(p, "to", &a, &error));
  ck_assert_uint_eq(json_array_size(a), 1);
  ck_assert(!chorus_jsonrpc_get_array(p, "s", &a, &error));
  assert_param_error(error, "params.s: expected an array");
  g_clear_error(&error);
  a = NULL;
  o = NULL;
  ck_assert(chorus_jsonrpc_get_optional_array(p, "absent", &a, &error));
  ck_assert_ptr_null(a);
  ck_assert(chorus_jsonrpc_get_optional_object(p, "absent", &o, &error));
  ck_assert_ptr_null(o);
  ck_assert(!chorus_jsonrpc_get_optional_object(p, "s", &o, &error));
  assert_param_error(error, "params.s: expected an object");
  g_clear_error(&error);
  ck_assert(!chorus_jsonrpc_get_array(p, "absent", &a, &error));
  assert_param_error(error, "params.absent: required");
  json_decref(p);
}
END_TEST

static json_t *
h_a(gpointer call, GError **error)
{
  return json_string("a");
}

static json_t *
h_b(gpointer call, GError **error)
{
  return json_string("b");
}

START_TEST(test_table_lookup)
{
  static const ChorusJsonRpcMethod table[] = {
      {"ping", h_a, 0},
      {"room.create", h_b, 3},
      {"voice.", h_a, CHORUS_JSONRPC_PREFIX},
      {"voice.special", h_b, 0},
      {"live.", h_b, CHORUS_JSONRPC_PREFIX},
      {"live.pk.", h_a, CHORUS_JSONRPC_PREFIX},
  };
  gsize n = G_N_ELEMENTS(table);
  ck_assert_ptr_eq(chorus_jsonrpc_table_lookup(table, n, "ping"), &table[0]);
  ck_assert_ptr_eq(chorus_jsonrpc_table_lookup(table, n, "room.create"), &table[1]);
  ck_assert_uint_eq(chorus_jsonrpc_table_lookup(table, n, "room.create")->flags, 3);
  ck_assert_ptr_null(chorus_jsonrpc_table_lookup(table, n, "room.createx"));
  ck_assert_ptr_null(chorus_jsonrpc_table_lookup(table, n, "pin"));
  ck_assert_ptr_null(chorus_jsonrpc_table_lookup(table, n, "publish"));
  ck_assert_ptr_eq(chorus_jsonrpc_table_lookup(table, n, "voice.seat.take"), &table[2]);
  /* exact beats prefix, longest prefix wins */
  ck_assert_ptr_eq(chorus_jsonrpc_table_lookup(table, n, "voice.special"), &table[3]);
  ck_assert_ptr_eq(chorus_jsonrpc_table_lookup(table, n, "live.promote"), &table[4]);
  ck_assert_ptr_eq(chorus_jsonrpc_table_lookup(table, n, "live.pk.start"), &table[5]);
  /* a bare prefix is not a method */
  ck_assert_ptr_null(chorus_jsonrpc_table_lookup(table, n, "voice."));
  ck_assert_ptr_null(chorus_jsonrpc_table_lookup(table, n, "voice"));
  ck_assert_ptr_null(chorus_jsonrpc_table_lookup(table, n, NULL));
}
END_TEST

static Suite *
jsonrpc_suite(void)
{
  Suite *s = suite_create("jsonrpc");
  TCase *tc = tcase_create("framing");
  tcase_add_test(tc, test_parse_valid_request);
  tcase_add_test(tc, test_parse_string_id_and_absent_params);
  tcase_add_test(tc, test_parse_notification);
  tcase_add_test(tc, test_parse_null_and_float_ids);
  tcase_add_test(tc, test_parse_not_nul_terminated);
  tcase_add_loop_test(tc, test_parse_errors, 0, G_N_ELEMENTS(bad));
  tcase_add_test(tc, test_parse_error_messages);
  suite_add_tcase(s, tc);
  tc = tcase_create("builders");
  tcase_add_test(tc, test_builders);
  tcase_add_test(tc, test_error_from_gerror);
  suite_add_tcase(s, tc);
  tc = tcase_create("params");
  tcase_add_test(tc, test_param_strings);
  tcase_add_test(tc, test_param_bool_int);
  tcase_add_test(tc, test_param_object_array);
  tcase_add_test(tc, test_table_lookup);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(jsonrpc_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
