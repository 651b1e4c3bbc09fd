#include "signaling/auth.h"

#include <jansson.h>
#include <jwt.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* libjwt 1.10 verifies the signature with whatever algorithm the token's
 * header names. So the header is read here first and anything but HS256 is
 * refused before libjwt sees the token: that closes the classic "alg: none"
 * and algorithm-confusion holes, and gives each refusal its own message. The
 * claims are then read back as JSON to check their types exactly (libjwt's
 * typed getters return 0 for both "absent" and "wrong type"). */

static gboolean refuse(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean
refuse(GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *why = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_UNAUTHORIZED, "token refused: %s", why);
  return FALSE;
}

void
chorus_auth_claims_free(ChorusAuthClaims *claims)
{
  if (claims == NULL)
    return;
  g_free(claims->identity);
  g_free(claims->room);
  g_free(claims->role);
  g_free(claims);
}

/* Decodes one base64url segment (no padding) into a JSON object. */
static json_t *
decode_segment(const char *seg, gsize len)
{
  if (len == 0 || len > 16384)
    return NULL;
  GString *b64 = g_string_sized_new(len + 4);
  for (gsize i = 0; i < len; i++) {
    char c = seg[i];
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
    else if (!g_ascii_isalnum(c)) {
      g_string_free(b64, TRUE);
      return NULL;
    }
    g_string_append_c(b64, c);
  }
  if (b64->len % 4 == 1) {
    g_string_free(b64, TRUE);
    return NULL;
  }
  while (b64->len % 4 != 0)
    g_string_append_c(b64, '=');
  gsize out_len = 0;
  g_autofree guchar *raw = g_base64_decode(b64->str, &out_len);
  g_string_free(b64, TRUE);
  json_t *obj = json_loadb((const char *)raw, out_len, 0, NULL);
  if (obj && !json_is_object(obj)) {
    json_decref(obj);
    return NULL;
  }
  return obj;
}

static gboolean
check_header(const char *token, GError **error)
{
  const char *dot1 = strchr(token, '.');
  const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
  if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
    return refuse(error,
                  "malformed: expected three dot-separated parts (header.payload.signature)");

  json_t *header = decode_segment(token, (gsize)(dot1 - token));
  if (header == NULL)
    return refuse(error, "malformed: the header is not base64url-encoded JSON");
  json_t *alg = json_object_get(header, "alg");
  g_autofree char *alg_name = json_is_string(alg) ? g_strdup(json_string_value(alg)) : NULL;
  json_decref(header);
  if (alg_name == NULL)
    return refuse(error, "malformed: the header has no alg");
  if (g_ascii_strcasecmp(alg_name, "none") == 0)
    return refuse(error, "alg \"none\" (unsigned token) is not accepted; sign with HS256");
  if (strcmp(alg_name, "HS256") != 0)
    return refuse(error, "alg \"%s\" is not accepted; only HS256 is", alg_name);

  json_t *payload = decode_segment(dot1 + 1, (gsize)(dot2 - dot1 - 1));
  if (payload == NULL)
    return refuse(error, "malformed: the payload is not base64url-encoded JSON object");
  json_decref(payload);
  if (dot2[1] == '\0')
    return refuse(error, "missing signature");
  return TRUE;
}

/* Optional string claim: absent is fine, any other type is not. */
static gboolean
claim_string(json_t *claims, const char *name, char **out, GError **error)
{
  json_t *v = json_object_get(claims, name);
  if (v == NULL)
    return TRUE;
  if (!json_is_string(v))
    return refuse(error, "claim %s: expected a string", name);
  *out = g_strdup(json_string_value(v));
  return TRUE;
}

/* Latest NumericDate accepted (year 9999): keeps the arithmetic below far
 * from overflow whatever a token says. */
#define NUMERIC_DATE_MAX_S G_GINT64_CONSTANT(253402300799)

/* A NumericDate claim: a number (a fraction is allowed and dropped) within
 * [0, NUMERIC_DATE_MAX_S]. */
static gboolean
numeric_date(json_t *v, const char *name, gint64 *out, GError **error)
{
  if (!json_is_number(v))
    return refuse(error, "claim %s: expected a number (seconds since the epoch)", name);
  double d = json_number_value(v);
  if (!(d >= 0 && d <= (double)NUMERIC_DATE_MAX_S))
    return refuse(error, "claim %s: out of range", name);
  *out = json_is_integer(v) ? json_integer_value(v) : (gint64)d;
  return TRUE;
}

static gboolean
read_claims(json_t *grants, gint64 now_s, guint leeway_s, ChorusAuthClaims *c, GError **error)
{
  json_t *exp = json_object_get(grants, "exp");
  if (exp == NULL)
    return refuse(error, "no exp claim (every token must expire)");
  if (!numeric_date(exp, "exp", &c->exp, error))
    return FALSE;
  if (now_s - (gint64)leeway_s > c->exp)
    return refuse(error, "expired %" G_GINT64_FORMAT " s ago", now_s - c->exp);

  json_t *nbf_claim = json_object_get(grants, "nbf");
  gint64 nbf = 0;
  if (nbf_claim && !numeric_date(nbf_claim, "nbf", &nbf, error))
    return FALSE;
  if (nbf_claim && now_s + (gint64)leeway_s < nbf)
    return refuse(error, "not valid before %" G_GINT64_FORMAT " (%" G_GINT64_FORMAT " s from now)",
                  nbf, nbf - now_s);

  json_t *admin = json_object_get(grants, "admin");
  if (admin && !json_is_boolean(admin))
    return refuse(error, "claim admin: expected true or false");
  c->admin = json_is_true(admin);

  if (!claim_string(grants, "sub", &c->identity, error) ||
      !claim_string(grants, "room", &c->room, error) ||
      !claim_string(grants, "role", &c->role, error))
    return FALSE;

  if (!c->admin && (c->identity == NULL || c->identity[0] == '\0'))
    return refuse(error, "claim sub: a non-empty identity is required for non-admin tokens");
  if (c->room == NULL) {
    /* An unrestricted non-admin token must say so ("*"); silence is not
     * consent. */
    if (!c->admin)
      return refuse(error, "claim room: required for non-admin tokens (a room name or \"*\")");
    c->room = g_strdup("*");
  }
  if (c->room[0] == '\0')
    return refuse(error, "claim room: must be a room name or \"*\"");
  return TRUE;
}

ChorusAuthClaims *
chorus_auth_verify(const char *secret, const char *token, gint64 now_s, guint leeway_s,
                   GError **error)
{
  if (secret == NULL || secret[0] == '\0') {
    g_set_error_literal(error, CHORUS_ERROR, CHORUS_ERROR_UNAUTHORIZED,
                        "token refused: no api_secret configured");
    return NULL;
  }
  if (token == NULL || token[0] == '\0') {
    refuse(error, "empty token");
    return NULL;
  }
  if (strlen(token) > 8192) {
    refuse(error, "longer than 8192 bytes");
    return NULL;
  }
  if (!check_header(token, error))
    return NULL;

  jwt_t *jwt = NULL;
  if (jwt_decode(&jwt, token, (const unsigned char *)secret, (int)strlen(secret)) != 0 ||
      jwt == NULL) {
    refuse(error, "bad signature");
    return NULL;
  }
  if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
    jwt_free(jwt);
    refuse(error, "alg is not HS256");
    return NULL;
  }
  char *grants_text = jwt_get_grants_json(jwt, NULL);
  jwt_free(jwt);
  json_t *grants = grants_text ? json_loads(grants_text, 0, NULL) : NULL;
  free(grants_text);
  if (!json_is_object(grants)) {
    if (grants)
      json_decref(grants);
    refuse(error, "malformed: the claims are not a JSON object");
    return NULL;
  }

  g_autoptr(ChorusAuthClaims) claims = g_new0(ChorusAuthClaims, 1);
  gboolean ok = read_claims(grants, now_s, leeway_s, claims, error);
  json_decref(grants);
  return ok ? g_steal_pointer(&claims) : NULL;
}

gboolean
chorus_auth_claims_allow_room(const ChorusAuthClaims *claims, const char *room)
{
  g_return_val_if_fail(claims != NULL, FALSE);
  if (room == NULL)
    return FALSE;
  if (claims->room == NULL)
    return claims->admin;
  return strcmp(claims->room, "*") == 0 || strcmp(claims->room, room) == 0;
}

char *
chorus_auth_mint(const char *secret, const char *identity, const char *room, const char *role,
                 gboolean admin, gint64 exp_s, GError **error)
{
  if (secret == NULL || secret[0] == '\0') {
    g_set_error_literal(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                        "cannot mint a token: empty secret");
    return NULL;
  }
  if (!admin && (identity == NULL || identity[0] == '\0')) {
    g_set_error_literal(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                        "cannot mint a token: non-admin tokens need an identity");
    return NULL;
  }
  if (exp_s <= 0 || exp_s > G_MAXLONG) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "cannot mint a token: exp must be a positive time in seconds (got %" G_GINT64_FORMAT
                ")",
                exp_s);
    return NULL;
  }

  jwt_t *jwt = NULL;
  if (jwt_new(&jwt) != 0) {
    g_set_error_literal(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "jwt_new failed");
    return NULL;
  }
  int rc = 0;
  if (identity)
    rc |= jwt_add_grant(jwt, "sub", identity);
  rc |= jwt_add_grant(jwt, "room", room ? room : "*");
  if (role)
    rc |= jwt_add_grant(jwt, "role", role);
  rc |= jwt_add_grant_bool(jwt, "admin", admin ? 1 : 0);
  rc |= jwt_add_grant_int(jwt, "exp", (long)exp_s);
  rc |= jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret));
  char *encoded = rc == 0 ? jwt_encode_str(jwt) : NULL;
  jwt_free(jwt);
  if (encoded == NULL) {
    g_set_error_literal(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL,
                        "cannot mint a token: libjwt failed to encode it");
    return NULL;
  }
  char *out = g_strdup(encoded);
  free(encoded);
  return out;
}
