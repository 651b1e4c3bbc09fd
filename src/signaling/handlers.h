/* Signaling methods: the dispatch table and its handlers (private to
 * src/signaling). The connection does framing and rate limiting; this file
 * decides what a well-formed request means. */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "signaling/connection.h"
#include "signaling/jsonrpc.h"

G_BEGIN_DECLS

/* Row flags of the method table (besides CHORUS_JSONRPC_PREFIX). */
enum {
  /* Allowed before authentication (auth, ping). Every other method gets
   * -32001 on an unauthenticated connection. */
  CHORUS_METHOD_PUBLIC = 1u << 0,
  /* Admin connections only; others get -32002. */
  CHORUS_METHOD_ADMIN = 1u << 1,
  /* Acts for a participant: params.participant is resolved to one this
   * connection owns (-32004 unknown, -32002 not ours) before the handler
   * runs. Non-admin connections may omit it (their one participant). */
  CHORUS_METHOD_PARTICIPANT = 1u << 2,
};

/* Per-request context handed to handlers (ChorusJsonRpcHandler's `call`). */
typedef struct {
  ChorusSignalingConnection *conn;
  const char *method;
  json_t *id;                     /* borrowed: the request id, NULL for a notification */
  json_t *params;                 /* borrowed: always an object */
  ChorusParticipant *participant; /* resolved for CHORUS_METHOD_PARTICIPANT rows */
  gint64 now_us;                  /* monotonic, when the frame arrived */
  gint64 wall_s;                  /* wall clock (token expiry), same moment */
  json_t *error_data;             /* a handler may set error.data (owned) */
} ChorusSignalingCall;

/* Media methods (handlers-media.c), rows of the table in handlers.c. */
json_t *chorus_signaling_handle_publish(gpointer call, GError **error);
json_t *chorus_signaling_handle_unpublish(gpointer call, GError **error);
json_t *chorus_signaling_handle_subscribe(gpointer call, GError **error);
json_t *chorus_signaling_handle_unsubscribe(gpointer call, GError **error);
json_t *chorus_signaling_handle_subscription_update(gpointer call, GError **error);
json_t *chorus_signaling_handle_answer(gpointer call, GError **error);
json_t *chorus_signaling_handle_trickle(gpointer call, GError **error);
json_t *chorus_signaling_handle_ice_restart(gpointer call, GError **error);
json_t *chorus_signaling_handle_track_mute(gpointer call, GError **error);

/* Runs @req (already parsed and admitted by the rate limiter). Returns the
 * result (new reference) or NULL with @error set; *@error_data may receive
 * error.data for the reply (new reference). */
json_t *chorus_signaling_dispatch(ChorusSignalingConnection *conn, const ChorusJsonRpcRequest *req,
                                  gint64 now_us, gint64 wall_s, json_t **error_data,
                                  GError **error);

G_END_DECLS
