/* LoadRpc: one signaling connection of chorus-load, JSON-RPC 2.0 over a
 * libsoup-3 WebSocket client (subprotocol chorus.v1), as docs/protocol.md
 * describes it: requests matched to replies by id, notifications handed to
 * the owner, a deadline on the connection attempt and on every request.
 *
 * Threading: lives on the thread-default GMainContext of the thread that
 * created it (a chorus-load thread, whose SoupSession it uses); every call
 * and callback there. Error replies become GErrors in the CHORUS_ERROR
 * domain whose code is the JSON-RPC code and whose message is the server's;
 * a lost connection or a timeout is a G_IO_ERROR. */
#pragma once

#include <glib.h>
#include <jansson.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct _LoadRpc LoadRpc;

/* @result is borrowed (NULL on error). */
typedef void (*LoadRpcReplyFunc)(LoadRpc *rpc, json_t *result, const GError *error,
                                 gpointer user_data);

typedef struct {
  /* The connection attempt ended: @error NULL = open. */
  void (*connected)(LoadRpc *rpc, const GError *error, gpointer user_data);
  /* A notification (a message with a method and no id). @params borrowed. */
  void (*notification)(LoadRpc *rpc, const char *method, json_t *params, gpointer user_data);
  /* The connection closed after it was open. @by_us: load_rpc_close() began
   * it. @code 0 when no close frame came (connection lost). */
  void (*closed)(LoadRpc *rpc, gushort code, const char *reason, gboolean by_us,
                 gpointer user_data);
} LoadRpcCallbacks;

/* @session borrowed (must outlive the rpc). Nothing happens until
 * load_rpc_connect(). */
LoadRpc *load_rpc_new(SoupSession *session, const char *url, const LoadRpcCallbacks *callbacks,
                      gpointer user_data);
/* The same interface against a Janus server's VideoRoom plugin: the Chorus
 * requests chorus-load makes are translated to the Janus API (see
 * load-janus.h). */
LoadRpc *load_rpc_new_janus(SoupSession *session, const char *url,
                            const LoadRpcCallbacks *callbacks, gpointer user_data);
/* Frees at once; no callback runs after (pending replies are dropped). */
void load_rpc_free(LoadRpc *rpc);

/* Starts connecting; the connected callback reports the outcome, at the
 * latest @timeout_ms later (checked by load_rpc_check_deadlines()). */
void load_rpc_connect(LoadRpc *rpc, guint timeout_ms, gint64 now_us);

/* Sends a request; @params (transfer full, NULL = {}). @reply gets exactly
 * one call: the result, the error reply, a closed connection or a timeout
 * of @timeout_ms. */
void load_rpc_call(LoadRpc *rpc, const char *method, json_t *params, guint timeout_ms,
                   gint64 now_us, LoadRpcReplyFunc reply, gpointer user_data);

/* A notification (no reply). */
void load_rpc_notify(LoadRpc *rpc, const char *method, json_t *params);

/* Fails the requests and the connection attempt whose deadline passed.
 * Call about once a second. */
void load_rpc_check_deadlines(LoadRpc *rpc, gint64 now_us);

/* Sends a normal close frame (1000); the closed callback follows. */
void load_rpc_close(LoadRpc *rpc);

gboolean load_rpc_is_open(LoadRpc *rpc);
guint load_rpc_pending_count(LoadRpc *rpc);

G_END_DECLS
