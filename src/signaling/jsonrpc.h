/* JSON-RPC 2.0 framing, sans-IO: text in, request or error out; builders for
 * the messages the server sends; parameter validation; the dispatch table
 * type. No sockets, no loop, no clock: unit-tested by feeding strings.
 *
 * Framing rules (PROTOCOL.md "Connection"):
 *   - invalid JSON                                   -> -32700, id null
 *   - not an object (including batch arrays)         -> -32600, id null
 *   - "jsonrpc" not exactly "2.0", "method" missing or not a non-empty
 *     string, "params" neither absent nor an object, "id" present but not a
 *     string, a number or null                       -> -32600
 *   The id is echoed in a framing error whenever it is itself valid, else
 *   it is null. A frame that fails framing is always answered, even without
 *   an id (the peer cannot have meant a well-formed notification); a
 *   well-formed notification (no "id" member) is never answered, even on
 *   error. `"id": null` is a request (JSON-RPC 2.0 allows it, though a
 *   client cannot tell its reply from that to an unreadable frame).
 *
 * Jansson rule (everywhere in Chorus): parameters are borrowed unless the
 * comment says (transfer full); returned json_t* are new references. */
#pragma once

#include <glib.h>
#include <jansson.h>

G_BEGIN_DECLS

typedef struct {
  json_t *id;     /* string, number or null; NULL (no member) for a notification */
  char *method;   /* non-empty */
  json_t *params; /* always an object ({} when absent) */
} ChorusJsonRpcRequest;

void chorus_jsonrpc_request_free(ChorusJsonRpcRequest *req);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusJsonRpcRequest, chorus_jsonrpc_request_free)

static inline gboolean
chorus_jsonrpc_request_is_notification(const ChorusJsonRpcRequest *req)
{
  return req->id == NULL;
}

/* Parses one text frame of @len bytes (need not be NUL-terminated). On
 * failure returns NULL, sets @error (CHORUS_ERROR, -32700 or -32600, with a
 * message saying what is wrong) and sets *@error_id to the id to echo in
 * the error reply (new reference: the request's id when valid, else
 * json null). @error_id may be NULL when the caller does not need it. */
ChorusJsonRpcRequest *chorus_jsonrpc_parse(const char *data, gsize len, json_t **error_id,
                                           GError **error);

/* {"jsonrpc":"2.0","id":@id,"result":@result}. @result (transfer full);
 * NULL means {}. */
json_t *chorus_jsonrpc_result_new(json_t *id, json_t *result);

/* {"jsonrpc":"2.0","id":@id,"error":{"code","message"[,"data"]}}. @id NULL
 * means null; @data (transfer full) may be NULL. */
json_t *chorus_jsonrpc_error_new(json_t *id, int code, const char *message, json_t *data);

/* Same from a GError: CHORUS_ERROR codes are used as they are; any other
 * domain becomes -32603 (internal error) with the error's message. */
json_t *chorus_jsonrpc_error_new_from_gerror(json_t *id, const GError *error, json_t *data);

/* The code a GError maps to in a reply (see above). */
int chorus_jsonrpc_error_code(const GError *error);

/* {"jsonrpc":"2.0","method":@method,"params":@params}. @params borrowed
 * (NULL means {}). */
json_t *chorus_jsonrpc_notification_new(const char *method, json_t *params);

/* Compact UTF-8 encoding of @msg for a text frame (transfer full). */
char *chorus_jsonrpc_encode(json_t *msg);

/* Parameter validation. Each fails with -32602 and a message naming the
 * parameter and the problem ("params.room: expected a string", "params.room:
 * required"). Optional getters leave *@out at its default (NULL, or the
 * value given) when the parameter is absent or JSON null; a present value of
 * the wrong type is an error. Returned pointers are borrowed from @params. */
gboolean chorus_jsonrpc_get_string(json_t *params, const char *name, const char **out,
                                   GError **error);
gboolean chorus_jsonrpc_get_optional_string(json_t *params, const char *name, const char **out,
                                            GError **error);
gboolean chorus_jsonrpc_get_bool(json_t *params, const char *name, gboolean *out, GError **error);
gboolean chorus_jsonrpc_get_optional_bool(json_t *params, const char *name, gboolean *out,
                                          GError **error);
/* Integers must lie in [@min, @max] ("params.max_participants: expected an
 * integer between 1 and 100000 (got 0)"). */
gboolean chorus_jsonrpc_get_int(json_t *params, const char *name, gint64 min, gint64 max,
                                gint64 *out, GError **error);
gboolean chorus_jsonrpc_get_optional_int(json_t *params, const char *name, gint64 min, gint64 max,
                                         gint64 *out, GError **error);
gboolean chorus_jsonrpc_get_object(json_t *params, const char *name, json_t **out, GError **error);
gboolean chorus_jsonrpc_get_optional_object(json_t *params, const char *name, json_t **out,
                                            GError **error);
gboolean chorus_jsonrpc_get_array(json_t *params, const char *name, json_t **out, GError **error);
gboolean chorus_jsonrpc_get_optional_array(json_t *params, const char *name, json_t **out,
                                           GError **error);

/* Dispatch table. A row either names a method exactly, or (with
 * CHORUS_JSONRPC_PREFIX) a prefix such as "voice." that matches every
 * method starting with it. The other flag bits mean what the dispatcher
 * that owns the table says (see signaling/handlers.h). @handler gets the
 * dispatcher's per-call context and returns the result (new reference) or
 * NULL with @error set. */
typedef json_t *(*ChorusJsonRpcHandler)(gpointer call, GError **error);

enum { CHORUS_JSONRPC_PREFIX = 1u << 31 };

typedef struct {
  const char *method;
  ChorusJsonRpcHandler handler;
  guint32 flags;
} ChorusJsonRpcMethod;

/* The row for @method: an exact match first, else the longest prefix row.
 * NULL when none matches (the caller replies -32601). */
const ChorusJsonRpcMethod *chorus_jsonrpc_table_lookup(const ChorusJsonRpcMethod *table,
                                                       gsize n_rows, const char *method);

G_END_DECLS
