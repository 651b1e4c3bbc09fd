/* JWT verification and minting (signaling/auth.h). */
#include <check.h>
#include <jwt.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "signaling/auth.h"

#define SECRET "0123456789abcdef-test-secret"
#define NOW_S ((gint64)1700000000)

/* Signs @claims_json (an object literal) with @alg and @key using libjwt
 * directly, so that tests can build tokens chorus_auth_mint never would. */
static char *
sign(const char *claims_json, jwt_alg_t alg, const char *key)
{
  jwt_t *jwt = NULL;
  ck_assert_int_eq(jwt_new(&jwt), 0);
  ck_assert_int_eq(jwt_add_grants_json(jwt, claims_json), 0);
  ck_assert_int_eq(jwt_set_alg(jwt, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0),
                   0);
  char *s = jwt_encode_str(jwt);
  ck_assert_ptr_nonnull(s);
  char *out = g_strdup(s);
  free(s);
  jwt_free(jwt);
  return out;
}

static char *
b64url(const char *text)
{
  g_autofree char *b = g_base64_encode((const guchar *)text, strlen(text));
  GString *s = g_string_new(NULL);
  for (const char *p = b; *p && *p != '='; p++)
    g_string_append_c(s, *p == '+' ? '-' : *p == '/' ? '_' : *p);
  return g_string_free(s, FALSE);
}

/* Verifies expecting -32001 with @fragment in the message. */
static void
expect_refused(const char *token, const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusAuthClaims) c = chorus_auth_verify(SECRET, token, NOW_S, 5, &error);
  ck_assert_msg(c == NULL, "token accepted, expected refusal with \"%s\"", fragment);
  ck_assert_ptr_nonnull(error);
  ck_assert_msg(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_UNAUTHORIZED), "code %d: %s",
                error->code, error->message);
  ck_assert_msg(strstr(error->message, fragment) != NULL, "message \"%s\" lacks \"%s\"",
                error->message, fragment);
}

START_TEST(test_valid_token)
{
  g_autofree char *t = sign("{\"sub\":\"alice\",\"room\":\"lobby\",\"role\":\"speaker\","
                            "\"admin\":false,\"exp\":1700000100}",
                            JWT_ALG_HS256, SECRET);
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusAuthClaims) c = chorus_auth_verify(SECRET, t, NOW_S, 5, &error);
  ck_assert_msg(c != NULL, "%s", error ? error->message : "");
  ck_assert_str_eq(c->identity, "alice");
  ck_assert_str_eq(c->room, "lobby");
  ck_assert_str_eq(c->role, "speaker");
  ck_assert(!c->admin);
  ck_assert_int_eq(c->exp, 1700000100);
}
END_TEST

START_TEST(test_admin_token_defaults)
{
  g_autofree char *t = sign("{\"admin\":true,\"exp\":1700000100}", JWT_ALG_HS256, SECRET);
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusAuthClaims) c = chorus_auth_verify(SECRET, t, NOW_S, 5, &error);
  ck_assert_msg(c != NULL, "%s", error ? error->message : "");
  ck_assert(c->admin);
  ck_assert_ptr_null(c->identity);
  ck_assert_ptr_null(c->role);
  ck_assert_str_eq(c->room, "*");
  ck_assert(chorus_auth_claims_allow_room(c, "anything"));
}
END_TEST

START_TEST(test_forged_signature)
{
  g_autofree char *other = sign("{\"sub\":\"alice\",\"room\":\"*\",\"exp\":1700000100}",
                                JWT_ALG_HS256, "another-secret-of-16+");
  expect_refused(other, "bad signature");

  /* Valid token whose payload is swapped for an admin one: signature no
   * longer matches. */
  g_autofree char *good =
      sign("{\"sub\":\"alice\",\"room\":\"*\",\"exp\":1700000100}", JWT_ALG_HS256, SECRET);
  g_auto(GStrv) parts = g_strsplit(good, ".", -1);
  ck_assert_uint_eq(g_strv_length(parts), 3);
  g_autofree char *payload = b64url("{\"sub\":\"alice\",\"room\":\"*\",\"admin\":true,"
                                    "\"exp\":1700000100}");
  g_autofree char *tampered = g_strjoin(".", parts[0], payload, parts[2], NULL);
  expect_refused(tampered, "bad signature");

  /* Flip one signature character. */
  g_autofree char *flipped = g_strdup(good);
  char *last = flipped + strlen(flipped) - 2;
  *last = *last == 'A' ? 'B' : 'A';
  expect_refused(flipped, "bad signature");
}
END_TEST

START_TEST(test_expired)
{
  g_autofree char *t =
      sign("{\"sub\":\"alice\",\"room\":\"*\",\"exp\":1699999958}", JWT_ALG_HS256, SECRET);
  expect_refused(t, "expired 42 s ago");
  /* Within the leeway it passes. */
  g_autofree char *t2 =
      sign("{\"sub\":\"alice\",\"room\":\"*\",\"exp\":1699999997}", JWT_ALG_HS256, SECRET);
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusAuthClaims) c = chorus_auth_verify(SECRET, t2, NOW_S, 5, &error);
  ck_assert_msg(c != NULL, "%s", error ? error->message : "");
  g_autoptr(ChorusAuthClaims) c0 = chorus_auth_verify(SECRET, t2, NOW_S, 0, &error);
  ck_assert_ptr_null(c0);
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_UNAUTHORIZED));
}
END_TEST

START_TEST(test_fractional_exp)
{
  g_autofree char *t =
      sign("{\"sub\":\"a\",\"room\":\"*\",\"exp\":1700000100.75}", JWT_ALG_HS256, SECRET);
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusAuthClaims) c = chorus_auth_verify(SECRET, t, NOW_S, 5, &error);
  ck_assert_msg(c != NULL, "%s", error ? error->message : "");
  ck_assert_int_eq(c->exp, 1700000100);
}
END_TEST

START_TEST(test_missing_exp)
{
  g_autofree char *t = sign("{\"sub\":\"alice\",\"room\":\"*\"}", JWT_ALG_HS256, SECRET);
  expect_refused(t, "no exp claim");
}
END_TEST

START_TEST(test_alg_none)
{
  g_autofree char *h = b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}");
  g_autofree char *p = b64url("{\"sub\":\"mallory\",\"room\":\"*\",\"admin\":true,"
                              "\"exp\":1700000100}");
  g_autofree char *t = g_strconcat(h, ".", p, ".", NULL);
  expect_refused(t, "alg \"none\"");
  /* Case games do not help. */
  g_autofree char *h2 = b64url("{\"alg\":\"None\"}");
  g_autofree char *t2 = g_strconcat(h2, ".", p, ".", NULL);
  expect_refused(t2, "alg \"none\"");
  /* libjwt's own unsigned token. */
  g_autofree char *t3 =
      sign("{\"sub\":\"m\",\"room\":\"*\",\"exp\":1700000100}", JWT_ALG_NONE, NULL);
  expect_refused(t3, "alg \"none\"");
}
END_TEST

START_TEST(test_wrong_alg)
{
  /* Same secret, correctly signed, but HS384/HS512: refused. */
  g_autofree char *t =
      sign("{\"sub\":\"alice\",\"room\":\"*\",\"exp\":1700000100}", JWT_ALG_HS384, SECRET);
  expect_refused(t, "alg \"HS384\" is not accepted");
  g_autofree char *t2 =
      sign("{\"sub\":\"alice\",\"room\":\"*\",\"exp\":1700000100}", JWT_ALG_HS512, SECRET);
  expect_refused(t2, "alg \"HS512\" is not accepted");
  g_autofree char *h = b64url("{\"typ\":\"JWT\"}");
  g_autofree char *p = b64url("{\"exp\":1700000100}");
  g_autofree char *t3 = g_strconcat(h, ".", p, ".c2ln", NULL);
  expect_refused(t3, "no alg");
}
END_TEST

START_TEST(test_malformed)
{
  expect_refused("", "empty token");
  expect_refused("abc", "three dot-separated parts");
  expect_refused("a.b.c.d", "three dot-separated parts");
  expect_refused("!!!.e30.sig", "header is not base64url");
  g_autofree char *h = b64url("{\"alg\":\"HS256\"}");
  g_autofree char *t = g_strconcat(h, ".bm90IGpzb24.c2ln", NULL);
  expect_refused(t, "payload is not");
  g_autofree char *p = b64url("{\"exp\":1700000100}");
  g_autofree char *t2 = g_strconcat(h, ".", p, ".", NULL);
  expect_refused(t2, "missing signature");
}
END_TEST

static const struct {
  const char *claims;
  const char *fragment;
} bad_claims[] = {
    {"{\"sub\":5,\"room\":\"*\",\"exp\":1700000100}", "claim sub: expected a string"},
    {"{\"sub\":\"a\",\"room\":[\"x\"],\"exp\":1700000100}", "claim room: expected a string"},
    {"{\"sub\":\"a\",\"room\":\"*\",\"role\":1,\"exp\":1700000100}",
     "claim role: expected a string"},
    {"{\"sub\":\"a\",\"room\":\"*\",\"admin\":\"yes\",\"exp\":1700000100}",
     "claim admin: expected true or false"},
    {"{\"sub\":\"a\",\"room\":\"*\",\"admin\":1,\"exp\":1700000100}",
     "claim admin: expected true or false"},
    {"{\"sub\":\"a\",\"room\":\"*\",\"exp\":\"tomorrow\"}", "claim exp: expected a number"},
    {"{\"room\":\"*\",\"exp\":1700000100}", "claim sub: a non-empty identity is required"},
    {"{\"sub\":\"\",\"room\":\"*\",\"exp\":1700000100}", "claim sub: a non-empty identity"},
    {"{\"sub\":\"a\",\"exp\":1700000100}", "claim room: required for non-admin tokens"},
    {"{\"sub\":\"a\",\"room\":\"\",\"exp\":1700000100}", "claim room: must be a room name"},
    {"{\"sub\":\"a\",\"room\":\"*\",\"exp\":1700000100,\"nbf\":1700001000}", "not valid before"},
    {"{\"sub\":\"a\",\"room\":\"*\",\"exp\":1e300}", "claim exp: out of range"},
    {"{\"sub\":\"a\",\"room\":\"*\",\"exp\":9223372036854775807}", "claim exp: out of range"},
    {"{\"sub\":\"a\",\"room\":\"*\",\"exp\":-5}", "claim exp: out of range"},
    {"{\"sub\":\"a\",\"room\":\"*\",\"exp\":1700000100,\"nbf\":\"soon\"}",
     "claim nbf: expected a number"},
};

START_TEST(test_claim_types)
{
  g_autofree char *t = sign(bad_claims[_i].claims, JWT_ALG_HS256, SECRET);
  expect_refused(t, bad_claims[_i].fragment);
}
END_TEST

START_TEST(test_no_secret)
{
  g_autofree char *t =
      sign("{\"sub\":\"a\",\"room\":\"*\",\"exp\":1700000100}", JWT_ALG_HS256, SECRET);
  g_autoptr(GError) error = NULL;
  ck_assert_ptr_null(chorus_auth_verify(NULL, t, NOW_S, 5, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_UNAUTHORIZED));
  ck_assert_ptr_nonnull(strstr(error->message, "no api_secret configured"));
}
END_TEST

START_TEST(test_room_rules)
{
  ChorusAuthClaims only = {.identity = "a", .room = "lobby"};
  ck_assert(chorus_auth_claims_allow_room(&only, "lobby"));
  ck_assert(!chorus_auth_claims_allow_room(&only, "lobby2"));
  ck_assert(!chorus_auth_claims_allow_room(&only, "Lobby"));
  ck_assert(!chorus_auth_claims_allow_room(&only, "lob"));
  ck_assert(!chorus_auth_claims_allow_room(&only, NULL));
  ChorusAuthClaims any = {.identity = "a", .room = "*"};
  ck_assert(chorus_auth_claims_allow_room(&any, "lobby"));
  ck_assert(chorus_auth_claims_allow_room(&any, "x"));
  ChorusAuthClaims none = {.identity = "a", .room = NULL, .admin = FALSE};
  ck_assert(!chorus_auth_claims_allow_room(&none, "x"));
  ChorusAuthClaims admin = {.room = NULL, .admin = TRUE};
  ck_assert(chorus_auth_claims_allow_room(&admin, "x"));
}
END_TEST

START_TEST(test_mint_round_trip)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *t = chorus_auth_mint(SECRET, "bob", "stage", "host", FALSE, NOW_S + 60, &error);
  ck_assert_msg(t != NULL, "%s", error ? error->message : "");
  g_autoptr(ChorusAuthClaims) c = chorus_auth_verify(SECRET, t, NOW_S, 5, &error);
  ck_assert_msg(c != NULL, "%s", error ? error->message : "");
  ck_assert_str_eq(c->identity, "bob");
  ck_assert_str_eq(c->room, "stage");
  ck_assert_str_eq(c->role, "host");
  ck_assert(!c->admin);
  ck_assert_int_eq(c->exp, NOW_S + 60);
  ck_assert(chorus_auth_claims_allow_room(c, "stage"));
  ck_assert(!chorus_auth_claims_allow_room(c, "other"));

  /* Admin, no identity, room NULL = "*". */
  g_autofree char *a = chorus_auth_mint(SECRET, NULL, NULL, NULL, TRUE, NOW_S + 60, &error);
  ck_assert_ptr_nonnull(a);
  g_autoptr(ChorusAuthClaims) ac = chorus_auth_verify(SECRET, a, NOW_S, 5, &error);
  ck_assert_msg(ac != NULL, "%s", error ? error->message : "");
  ck_assert(ac->admin);
  ck_assert_str_eq(ac->room, "*");
  ck_assert_ptr_null(ac->role);

  /* The header says HS256. */
  g_auto(GStrv) parts = g_strsplit(t, ".", -1);
  gsize n = strlen(parts[0]);
  g_autofree char *padded = g_strnfill(n + (4 - n % 4) % 4, '=');
  memcpy(padded, parts[0], n);
  for (char *q = padded; *q; q++)
    *q = *q == '-' ? '+' : *q == '_' ? '/' : *q;
  gsize hl = 0;
  g_autofree guchar *header = g_base64_decode(padded, &hl);
  g_autofree char *htext = g_strndup((const char *)header, hl);
  ck_assert_msg(strstr(htext, "\"HS256\"") != NULL, "%s", htext);

  /* Verifying with another secret fails; minted tokens expire. */
  ck_assert_ptr_null(chorus_auth_verify("a-different-secret!", t, NOW_S, 5, &error));
  g_clear_error(&error);
  ck_assert_ptr_null(chorus_auth_verify(SECRET, t, NOW_S + 66, 5, &error));
  ck_assert_ptr_nonnull(strstr(error->message, "expired 6 s ago"));
}
END_TEST

START_TEST(test_mint_refusals)
{
  g_autoptr(GError) error = NULL;
  ck_assert_ptr_null(chorus_auth_mint("", "a", NULL, NULL, FALSE, NOW_S, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
  g_clear_error(&error);
  ck_assert_ptr_null(chorus_auth_mint(SECRET, NULL, NULL, NULL, FALSE, NOW_S, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
  g_clear_error(&error);
  ck_assert_ptr_null(chorus_auth_mint(SECRET, "a", NULL, NULL, FALSE, 0, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
}
END_TEST

static Suite *
auth_suite(void)
{
  Suite *s = suite_create("auth");
  TCase *tc = tcase_create("verify");
  tcase_add_test(tc, test_valid_token);
  tcase_add_test(tc, test_admin_token_defaults);
  tcase_add_test(tc, test_forged_signature);
  tcase_add_test(tc, test_expired);
  tcase_add_test(tc, test_missing_exp);
  tcase_add_test(tc, test_fractional_exp);
  tcase_add_test(tc, test_alg_none);
  tcase_add_test(tc, test_wrong_alg);
  tcase_add_test(tc, test_malformed);
  tcase_add_loop_test(tc, test_claim_types, 0, G_N_ELEMENTS(bad_claims));
  tcase_add_test(tc, test_no_secret);
  tcase_add_test(tc, test_room_rules);
  suite_add_tcase(s, tc);
  tc = tcase_create("mint");
  tcase_add_test(tc, test_mint_round_trip);
  tcase_add_test(tc, test_mint_refusals);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(auth_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
