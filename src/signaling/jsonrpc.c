#include "signaling/jsonrpc.h"

#include <string.h>

#include "core/error.h"

void
chorus_jsonrpc_request_free(ChorusJsonRpcRequest *req)
{
  if (req == NULL)
    return;
  if (req->id)
    json_decref(req->id);
  if (req->params)
    json_decref(req->params);
  g_free(req->method);
  g_free(req);
}

static gboolean
id_is_valid(json_t *id)
{
  return json_is_string(id) || json_is_number(id) || json_is_null(id);
}

static ChorusJsonRpcRequest *
invalid(json_t *id, json_t **error_id, GError **error, const char *message)
{
  if (error_id)
    *error_id = (id && id_is_valid(id)) ? json_incref(id) : json_null();
  g_set_error_literal(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_REQUEST, message);
  return NULL;
}

static ChorusJsonRpcRequest *
parse_root(json_t *root, json_t **error_id, GError **error)
{
  if (json_is_array(root))
    return invalid(NULL, error_id, error,
                   "batch requests are not supported: send one object per frame");
  if (!json_is_object(root))
    return invalid(NULL, error_id, error, "invalid request: expected a JSON object");

  json_t *id = json_object_get(root, "id");
  json_t *version = json_object_get(root, "jsonrpc");
  json_t *method = json_object_get(root, "method");
  json_t *params = json_object_get(root, "params");
  if (id && !id_is_valid(id))
    return invalid(id, error_id, error, "invalid request: id must be a string, a number or null");
  if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0)
    return invalid(id, error_id, error, "invalid request: jsonrpc must be \"2.0\"");
  if (method == NULL)
    return invalid(id, error_id, error, "invalid request: method is missing");
  if (!json_is_string(method) || json_string_length(method) == 0)
    return invalid(id, error_id, error, "invalid request: method must be a non-empty string");
  if (json_is_array(params))
    return invalid(id, error_id, error,
                   "invalid request: params must be an object (named parameters), not an array");
  if (params && !json_is_object(params))
    return invalid(id, error_id, error, "invalid request: params must be an object");

  ChorusJsonRpcRequest *req = g_new0(ChorusJsonRpcRequest, 1);
  req->id = id ? json_incref(id) : NULL;
  req->method = g_strdup(json_string_value(method));
  req->params = params ? json_incref(params) : json_object();
  return req;
}

ChorusJsonRpcRequest *
chorus_jsonrpc_parse(const char *data, gsize len, json_t **error_id, GError **error)
{
  g_return_val_if_fail(data != NULL || len == 0, NULL);

  if (error_id)
    *error_id = NULL;
  json_error_t jerr;
  /* JSON_DECODE_ANY: a bare scalar is valid JSON, so it is an invalid
   * request (-32600), not a parse error. */
  json_t *root = json_loadb(data ? data : "", len, JSON_DECODE_ANY, &jerr);
  if (root == NULL) {
    if (error_id)
      *error_id = json_null();
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_PARSE, "parse error: %s (line %d, column %d)",
                jerr.text, jerr.line, jerr.column);
    return NULL;
  }
  ChorusJsonRpcRequest *req = parse_root(root, error_id, error);
  json_decref(root);
  return req;
}

static json_t *
envelope(json_t *id)
{
  json_t *msg = json_object();
  json_object_set_new(msg, "jsonrpc", json_string("2.0"));
  json_object_set_new(msg, "id", id ? json_incref(id) : json_null());
  return msg;
}

json_t *
chorus_jsonrpc_result_new(json_t *id, json_t *result)
{
  json_t *msg = envelope(id);
  json_object_set_new(msg, "result", result ? result : json_object());
  return msg;
}

json_t *
chorus_jsonrpc_error_new(json_t *id, int code, const char *message, json_t *data)
{
  json_t *msg = envelope(id);
  json_t *err = json_object();
  json_object_set_new(err, "code", json_integer(code));
  json_object_set_new(err, "message", json_string(message ? message : ""));
  if (data)
    json_object_set_new(err, "data", data);
  json_object_set_new(msg, "error", err);
  return msg;
}

int
chorus_jsonrpc_error_code(const GError *error)
{
  g_return_val_if_fail(error != NULL, CHORUS_ERROR_INTERNAL);
  if (error->domain == CHORUS_ERROR)
    return error->code;
  return CHORUS_ERROR_INTERNAL;
}

json_t *
chorus_jsonrpc_error_new_from_gerror(json_t *id, const GError *error, json_t *data)
{
  g_return_val_if_fail(error != NULL, NULL);
  return chorus_jsonrpc_error_new(id, chorus_jsonrpc_error_code(error), error->message, data);
}

json_t *
chorus_jsonrpc_notification_new(const char *method, json_t *params)
{
  g_return_val_if_fail(method != NULL, NULL);
  json_t *msg = json_object();
  json_object_set_new(msg, "jsonrpc", json_string("2.0"));
  json_object_set_new(msg, "method", json_string(method));
  json_object_set_new(msg, "params", params ? json_incref(params) : json_object());
  return msg;
}

char *
chorus_jsonrpc_encode(json_t *msg)
{
  g_return_val_if_fail(msg != NULL, NULL);
  /* json_dumps allocates with Jansson's allocator (malloc); hand the caller
   * GLib memory so that g_free/g_autofree are right. */
  char *text = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
  if (text == NULL)
    return NULL;
  char *out = g_strdup(text);
  free(text);
  return out;
}

/* Parameter helpers. */

static gboolean
param_error(GError **error, const char *name, const char *problem)
{
  g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS, "params.%s: %s", name, problem);
  return FALSE;
}

static json_t *
lookup(json_t *params, const char *name, gboolean required, gboolean *absent, GError **error)
{
  json_t *v = json_is_object(params) ? json_object_get(params, name) : NULL;
  *absent = (v == NULL || (!required && json_is_null(v)));
  if (v == NULL && required)
    param_error(error, name, "required");
  return v;
}

static gboolean
get_string(json_t *params, const char *name, gboolean required, const char **out, GError **error)
{
  gboolean absent;
  json_t *v = lookup(params, name, required, &absent, error);
  if (absent)
    return !required;
  if (!json_is_string(v))
    return param_error(error, name, "expected a string");
  *out = json_string_value(v);
  return TRUE;
}

gboolean
chorus_jsonrpc_get_string(json_t *params, const char *name, const char **out, GError **error)
{
  return get_string(params, name, TRUE, out, error);
}

gboolean
chorus_jsonrpc_get_optional_string(json_t *params, const char *name, const char **out,
                                   GError **error)
{
  return get_string(params, name, FALSE, out, error);
}

static gboolean
get_bool(json_t *params, const char *name, gboolean required, gboolean *out, GError **error)
{
  gboolean absent;
  json_t *v = lookup(params, name, required, &absent, error);
  if (absent)
    return !required;
  if (!json_is_boolean(v))
    return param_error(error, name, "expected true or false");
  *out = json_is_true(v);
  return TRUE;
}

gboolean
chorus_jsonrpc_get_bool(json_t *params, const char *name, gboolean *out, GError **error)
{
  return get_bool(params, name, TRUE, out, error);
}

gboolean
chorus_jsonrpc_get_optional_bool(json_t *params, const char *name, gboolean *out, GError **error)
{
  return get_bool(params, name, FALSE, out, error);
}

static gboolean
get_int(json_t *params, const char *name, gboolean required, gint64 min, gint64 max, gint64 *out,
        GError **error)
{
  gboolean absent;
  json_t *v = lookup(params, name, required, &absent, error);
  if (absent)
    return !required;
  if (!json_is_integer(v)) {
    g_autofree char *problem = g_strdup_printf(
        "expected an integer between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT, min, max);
    return param_error(error, name, problem);
  }
  gint64 x = json_integer_value(v);
  if (x < min || x > max) {
    g_autofree char *problem =
        g_strdup_printf("expected an integer between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT
                        " (got %" G_GINT64_FORMAT ")",
                        min, max, x);
    return param_error(error, name, problem);
  }
  *out = x;
  return TRUE;
}

gboolean
chorus_jsonrpc_get_int(json_t *params, const char *name, gint64 min, gint64 max, gint64 *out,
                       GError **error)
{
  return get_int(params, name, TRUE, min, max, out, error);
}

gboolean
chorus_jsonrpc_get_optional_int(json_t *params, const char *name, gint64 min, gint64 max,
                                gint64 *out, GError **error)
{
  return get_int(params, name, FALSE, min, max, out, error);
}

static gboolean
get_typed(json_t *params, const char *name, gboolean required, json_type type, const char *problem,
          json_t **out, GError **error)
{
  gboolean absent;
  json_t *v = lookup(params, name, required, &absent, error);
  if (absent)
    return !required;
  if (json_typeof(v) != type)
    return param_error(error, name, problem);
  *out = v;
  return TRUE;
}

gboolean
chorus_jsonrpc_get_object(json_t *params, const char *name, json_t **out, GError **error)
{
  return get_typed(params, name, TRUE, JSON_OBJECT, "expected an object", out, error);
}

gboolean
chorus_jsonrpc_get_optional_object(json_t *params, const char *name, json_t **out, GError **error)
{
  return get_typed(params, name, FALSE, JSON_OBJECT, "expected an object", out, error);
}

gboolean
chorus_jsonrpc_get_array(json_t *params, const char *name, json_t **out, GError **error)
{
  return get_typed(params, name, TRUE, JSON_ARRAY, "expected an array", out, error);
}

gboolean
chorus_jsonrpc_get_optional_array(json_t *params, const char *name, json_t **out, GError **error)
{
  return get_typed(params, name, FALSE, JSON_ARRAY, "expected an array", out, error);
}

const ChorusJsonRpcMethod *
chorus_jsonrpc_table_lookup(const ChorusJsonRpcMethod *table, gsize n_rows, const char *method)
{
  g_return_val_if_fail(table != NULL || n_rows == 0, NULL);
  if (method == NULL)
    return NULL;
  const ChorusJsonRpcMethod *best = NULL;
  gsize best_len = 0;
  for (gsize i = 0; i < n_rows; i++) {
    const ChorusJsonRpcMethod *row = &table[i];
    if (row->flags & CHORUS_JSONRPC_PREFIX) {
      gsize plen = strlen(row->method);
      /* A prefix row needs something after the prefix: "voice." alone is
       * not a method. */
      if (plen > best_len && strncmp(method, row->method, plen) == 0 && method[plen] != '\0') {
        best = row;
        best_len = plen;
      }
    } else if (strcmp(method, row->method) == 0) {
      return row;
    }
  }
  return best;
}
