/* Signaling methods.
 *
 * Error choices where PROTOCOL.md leaves room:
 *   - a valid non-admin token used for a room its `room` claim does not
 *     cover: -32002 (forbidden), not -32001: the token is fine, it just does
 *     not reach that room (and it is counted as an auth failure). This
 *     holds for admin tokens too: `chorus token --admin --room x` manages
 *     room x only (without --room an admin token says "*");
 *   - `identity`/`role` params that differ from the token's claims: -32002;
 *     a `role` param on a token without a role claim: -32002 (the kind's
 *     default role applies; a client cannot choose its own role);
 *   - a second join (or resume) on a non-admin connection: -32009;
 *   - an admin connection past limits.max_participants_per_connection:
 *     -32013 (full), like a full room;
 *   - `auth` on a connection that already carries participants: -32009;
 *   - acting for a participant of another connection: -32002; for an
 *     unknown participant id: -32004. */
#define G_LOG_DOMAIN "chorus-signaling"

#include "signaling/handlers.h"

#include <string.h>

#include "core/error.h"
#include "core/metrics.h"

/* User-supplied names are echoed in messages cut to this length. */
#define ECHO_MAX "64"

static gboolean fail(GError **error, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static gboolean
fail(GError **error, int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error_literal(error, CHORUS_ERROR, code, msg);
  return FALSE;
}

/* A token's room claim binds admins too (an admin token minted for one
 * room manages that room only); dev-mode admin connections have no claims. */
static gboolean
check_room_allowed(ChorusSignalingConnection *conn, const char *name, GError **error)
{
  if (conn->claims == NULL || chorus_auth_claims_allow_room(conn->claims, name))
    return TRUE;
  chorus_metrics_inc(CHORUS_METRIC_AUTH_FAILURES);
  return fail(error, CHORUS_ERROR_FORBIDDEN,
              "the token does not allow room \"%." ECHO_MAX "s\" (it is for \"%." ECHO_MAX "s\")",
              name, conn->claims->room);
}

static ChorusRoom *
find_room(ChorusSignalingConnection *conn, const char *name, GError **error)
{
  ChorusRoom *room = chorus_room_directory_lookup(conn->dir, name);
  if (room == NULL)
    fail(error, CHORUS_ERROR_NOT_FOUND, "room \"%." ECHO_MAX "s\" not found", name);
  return room;
}

/* auth {token} -> {identity, admin} */
static json_t *
handle_auth(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  ChorusSignalingConnection *conn = call->conn;
  const char *token = NULL;
  if (!chorus_jsonrpc_get_string(call->params, "token", &token, error))
    return NULL;
  /* Swapping identities under joined participants would let one token act
   * with another's rights: a new identity needs a new connection. */
  if (conn->authenticated && chorus_signaling_connection_participant_count(conn) > 0) {
    fail(error, CHORUS_ERROR_CONFLICT,
         "already authenticated with participants joined: open a new connection for another "
         "token");
    return NULL;
  }
  ChorusAuthClaims *claims = chorus_auth_verify(conn->config->api_secret, token, call->wall_s,
                                                conn->config->token_leeway_s, error);
  if (claims == NULL) {
    chorus_metrics_inc(CHORUS_METRIC_AUTH_FAILURES);
    return NULL;
  }
  json_t *result = json_object();
  json_object_set_new(result, "identity",
                      claims->identity ? json_string(claims->identity) : json_null());
  json_object_set_new(result, "admin", json_boolean(claims->admin));
  chorus_signaling_connection_set_claims(conn, claims);
  g_debug("conn#%" G_GUINT64_FORMAT ": authenticated (%s%s)", conn->serial,
          claims->admin ? "admin " : "", claims->identity ? claims->identity : "");
  return result;
}

/* ping {} -> {time_ms} (server wall clock) */
static json_t *
handle_ping(gpointer data, GError **error)
{
  return json_pack("{s:I}", "time_ms", (json_int_t)(g_get_real_time() / 1000));
}

/* room.create {room, kind, max_participants?, options?} -> {room, kind} */
static json_t *
handle_room_create(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  ChorusSignalingConnection *conn = call->conn;
  const char *name = NULL, *kind = NULL;
  gint64 max_participants = 0;
  json_t *options = NULL;
  if (!chorus_jsonrpc_get_string(call->params, "room", &name, error) ||
      !chorus_jsonrpc_get_string(call->params, "kind", &kind, error) ||
      !chorus_jsonrpc_get_optional_int(call->params, "max_participants", 1,
                                       conn->config->max_participants_limit, &max_participants,
                                       error) ||
      !chorus_jsonrpc_get_optional_object(call->params, "options", &options, error) ||
      !check_room_allowed(conn, name, error))
    return NULL;
  ChorusRoom *room =
      chorus_room_directory_create(conn->dir, name, kind, (guint)max_participants, options, error);
  if (room == NULL)
    return NULL;
  g_info("room %s (%s) created by conn#%" G_GUINT64_FORMAT, chorus_room_name(room),
         chorus_room_kind(room), conn->serial);
  return json_pack("{s:s,s:s}", "room", chorus_room_name(room), "kind", chorus_room_kind(room));
}

/* room.destroy {room} -> {} */
static json_t *
handle_room_destroy(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  const char *name = NULL;
  if (!chorus_jsonrpc_get_string(call->params, "room", &name, error) ||
      !check_room_allowed(call->conn, name, error))
    return NULL;
  if (!chorus_room_directory_destroy(call->conn->dir, name, "destroyed", error))
    return NULL;
  g_info("room %s destroyed by conn#%" G_GUINT64_FORMAT, name, call->conn->serial);
  return json_object();
}

/* room.list {} -> {rooms: [...]} */
static json_t *
handle_room_list(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  return chorus_room_directory_list_json(call->conn->dir);
}

/* room.info {room} -> {room, kind, participants, tracks}. Admins, or a
 * connection with a participant in that room. */
static json_t *
handle_room_info(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  ChorusSignalingConnection *conn = call->conn;
  const char *name = NULL;
  if (!chorus_jsonrpc_get_string(call->params, "room", &name, error))
    return NULL;
  if (conn->admin) {
    if (!check_room_allowed(conn, name, error))
      return NULL;
  } else {
    ChorusParticipant *mine = chorus_signaling_connection_first_participant(conn);
    if (mine == NULL || g_strcmp0(chorus_room_name(chorus_participant_room(mine)), name) != 0) {
      fail(error, CHORUS_ERROR_FORBIDDEN,
           "room.info needs an admin token or a participant in room \"%." ECHO_MAX "s\"", name);
      return NULL;
    }
  }
  ChorusRoom *room = find_room(conn, name, error);
  return room ? chorus_room_info_json(room) : NULL;
}

static gboolean
check_admin_capacity(ChorusSignalingConnection *conn, GError **error)
{
  guint n = chorus_signaling_connection_participant_count(conn);
  if (n >= conn->config->max_participants_per_connection)
    return fail(error, CHORUS_ERROR_ROOM_FULL,
                "this connection already carries %u participants "
                "(limits.max_participants_per_connection)",
                n);
  return TRUE;
}

static gboolean
check_non_admin_free(ChorusSignalingConnection *conn, GError **error)
{
  ChorusParticipant *mine = chorus_signaling_connection_first_participant(conn);
  if (mine)
    return fail(error, CHORUS_ERROR_CONFLICT,
                "this connection already carries participant %s: a non-admin connection "
                "carries one participant",
                chorus_participant_id(mine));
  return TRUE;
}

/* The identity, room and role a non-admin connection may join with: from
 * its token's claims; params may only repeat them. A room outside the
 * token's room claim is -32002 (forbidden: the token is valid, it just does
 * not cover that room). */
static gboolean
resolve_non_admin_join(ChorusSignalingConnection *conn, const char **room, const char **identity,
                       const char **role, GError **error)
{
  const ChorusAuthClaims *claims = conn->claims;
  g_assert(claims != NULL);
  if (*room == NULL) {
    if (g_strcmp0(claims->room, "*") == 0)
      return fail(error, CHORUS_ERROR_INVALID_PARAMS,
                  "params.room: required (the token allows any room)");
    *room = claims->room;
  }
  if (!check_room_allowed(conn, *room, error))
    return FALSE;
  if (*identity && g_strcmp0(*identity, claims->identity) != 0)
    return fail(error, CHORUS_ERROR_FORBIDDEN,
                "params.identity: the token is for identity \"%." ECHO_MAX "s\"", claims->identity);
  *identity = claims->identity;
  if (*role && g_strcmp0(*role, claims->role) != 0) {
    if (claims->role)
      return fail(error, CHORUS_ERROR_FORBIDDEN,
                  "params.role: the token grants role \"%." ECHO_MAX "s\"", claims->role);
    /* The token grants no role: the room kind's default role applies, and
     * a client cannot pick a role for itself. */
    return fail(error, CHORUS_ERROR_FORBIDDEN,
                "params.role: the token grants no role (the room's default role applies)");
  }
  *role = claims->role;
  return TRUE;
}

/* join {room, identity?, role?, metadata?} -> join result */
static json_t *
handle_join(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  ChorusSignalingConnection *conn = call->conn;
  const char *room_name = NULL, *identity = NULL, *role = NULL;
  json_t *metadata = NULL;
  if (!chorus_jsonrpc_get_optional_string(call->params, "room", &room_name, error) ||
      !chorus_jsonrpc_get_optional_string(call->params, "identity", &identity, error) ||
      !chorus_jsonrpc_get_optional_string(call->params, "role", &role, error) ||
      !chorus_jsonrpc_get_optional_object(call->params, "metadata", &metadata, error))
    return NULL;

  if (conn->admin) {
    if (room_name == NULL) {
      fail(error, CHORUS_ERROR_INVALID_PARAMS, "params.room: required");
      return NULL;
    }
    if (identity == NULL && conn->claims)
      identity = conn->claims->identity;
    if (identity == NULL) {
      fail(error, CHORUS_ERROR_INVALID_PARAMS,
           "params.identity: required (an admin connection joins on behalf of a user)");
      return NULL;
    }
    if (!check_room_allowed(conn, room_name, error) || !check_admin_capacity(conn, error))
      return NULL;
  } else if (!check_non_admin_free(conn, error) ||
             !resolve_non_admin_join(conn, &room_name, &identity, &role, error)) {
    return NULL;
  }

  ChorusRoom *room = find_room(conn, room_name, error);
  if (room == NULL)
    return NULL;
  ChorusParticipant *p = chorus_room_join(room, identity, role, metadata, &conn->sink, error);
  if (p == NULL)
    return NULL;
  chorus_signaling_connection_add_participant(conn, p);
  g_debug("conn#%" G_GUINT64_FORMAT ": %s joined %s as %s (%s)", conn->serial, identity,
          chorus_room_name(room), chorus_participant_id(p), chorus_participant_role(p));
  return chorus_participant_join_result_json(p);
}

/* resume {participant, resume_key} -> join result */
static json_t *
handle_resume(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  ChorusSignalingConnection *conn = call->conn;
  const char *id = NULL, *key = NULL;
  if (!chorus_jsonrpc_get_string(call->params, "participant", &id, error) ||
      !chorus_jsonrpc_get_string(call->params, "resume_key", &key, error))
    return NULL;
  ChorusParticipant *p = chorus_room_directory_find_participant(conn->dir, id);
  if (p == NULL) {
    fail(error, CHORUS_ERROR_NOT_FOUND,
         "participant \"%." ECHO_MAX "s\" not found (left, or its grace period expired)", id);
    return NULL;
  }
  if (conn->admin) {
    if (!check_room_allowed(conn, chorus_room_name(chorus_participant_room(p)), error) ||
        !check_admin_capacity(conn, error))
      return NULL;
  } else {
    if (!check_non_admin_free(conn, error))
      return NULL;
    /* The resume key proves possession; the token must still be for this
     * identity and room. */
    if (g_strcmp0(chorus_participant_identity(p), conn->claims->identity) != 0 ||
        !chorus_auth_claims_allow_room(conn->claims,
                                       chorus_room_name(chorus_participant_room(p)))) {
      fail(error, CHORUS_ERROR_FORBIDDEN, "the token is not for participant %s",
           chorus_participant_id(p));
      return NULL;
    }
  }
  if (!chorus_participant_resume(p, key, &conn->sink, error))
    return NULL;
  chorus_signaling_connection_add_participant(conn, p);
  g_debug("conn#%" G_GUINT64_FORMAT ": %s resumed", conn->serial, chorus_participant_id(p));
  return chorus_participant_join_result_json(p);
}

/* leave {participant} -> {} */
static json_t *
handle_leave(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  g_autofree char *id = g_strdup(chorus_participant_id(call->participant));
  chorus_participant_leave(call->participant, "left");
  chorus_signaling_connection_remove_participant(call->conn, id);
  return json_object();
}

/* message.send {participant, to?, data} -> {} */
static json_t *
handle_message_send(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  json_t *to = NULL;
  if (!chorus_jsonrpc_get_optional_array(call->params, "to", &to, error))
    return NULL;
  json_t *payload = json_object_get(call->params, "data");
  if (payload == NULL) {
    fail(error, CHORUS_ERROR_INVALID_PARAMS, "params.data: required");
    return NULL;
  }
  ChorusParticipant *p = call->participant;
  if (!chorus_room_message_send(chorus_participant_room(p), p, to, payload, call->now_us, error))
    return NULL;
  return json_object();
}

/* voice.* / live.*: the room's plugin decides. */
static json_t *
handle_plugin(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  ChorusParticipant *p = call->participant;
  return chorus_room_plugin_request(chorus_participant_room(p), p, call->method, call->params,
                                    error);
}

/* The method table. */
static const ChorusJsonRpcMethod methods[] = {
    {"auth", handle_auth, CHORUS_METHOD_PUBLIC},
    {"ping", handle_ping, CHORUS_METHOD_PUBLIC},
    {"room.create", handle_room_create, CHORUS_METHOD_ADMIN},
    {"room.destroy", handle_room_destroy, CHORUS_METHOD_ADMIN},
    {"room.list", handle_room_list, CHORUS_METHOD_ADMIN},
    {"room.info", handle_room_info, 0},
    {"join", handle_join, 0},
    {"resume", handle_resume, 0},
    {"leave", handle_leave, CHORUS_METHOD_PARTICIPANT},
    {"message.send", handle_message_send, CHORUS_METHOD_PARTICIPANT},
    {"publish", chorus_signaling_handle_publish, CHORUS_METHOD_PARTICIPANT},
    {"unpublish", chorus_signaling_handle_unpublish, CHORUS_METHOD_PARTICIPANT},
    {"subscribe", chorus_signaling_handle_subscribe, CHORUS_METHOD_PARTICIPANT},
    {"unsubscribe", chorus_signaling_handle_unsubscribe, CHORUS_METHOD_PARTICIPANT},
    {"subscription.update", chorus_signaling_handle_subscription_update,
     CHORUS_METHOD_PARTICIPANT},
    {"answer", chorus_signaling_handle_answer, CHORUS_METHOD_PARTICIPANT},
    {"trickle", chorus_signaling_handle_trickle, CHORUS_METHOD_PARTICIPANT},
    {"ice.restart", chorus_signaling_handle_ice_restart, CHORUS_METHOD_PARTICIPANT},
    {"track.mute", chorus_signaling_handle_track_mute, CHORUS_METHOD_PARTICIPANT},
    {"voice.", handle_plugin, CHORUS_METHOD_PARTICIPANT | CHORUS_JSONRPC_PREFIX},
    {"live.", handle_plugin, CHORUS_METHOD_PARTICIPANT | CHORUS_JSONRPC_PREFIX},
};

/* params.participant -> a participant this connection owns. */
static gboolean
resolve_participant(ChorusSignalingCall *call, GError **error)
{
  ChorusSignalingConnection *conn = call->conn;
  const char *id = NULL;
  if (!chorus_jsonrpc_get_optional_string(call->params, "participant", &id, error))
    return FALSE;
  if (id == NULL) {
    if (conn->admin)
      return fail(error, CHORUS_ERROR_INVALID_PARAMS,
                  "params.participant: required (an admin connection names the participant it "
                  "acts for)");
    call->participant = chorus_signaling_connection_first_participant(conn);
    if (call->participant == NULL)
      return fail(error, CHORUS_ERROR_NOT_FOUND, "this connection has no participant: join first");
    return TRUE;
  }
  ChorusParticipant *p = chorus_room_directory_find_participant(conn->dir, id);
  if (p == NULL)
    return fail(error, CHORUS_ERROR_NOT_FOUND, "participant \"%." ECHO_MAX "s\" not found", id);
  if (!chorus_signaling_connection_owns(conn, p))
    return fail(error, CHORUS_ERROR_FORBIDDEN, "participant %s does not belong to this connection",
                chorus_participant_id(p));
  call->participant = p;
  return TRUE;
}

static void
unauthorized(ChorusSignalingConnection *conn, GError **error)
{
  if (conn->url_token_refusal)
    fail(error, CHORUS_ERROR_UNAUTHORIZED,
         "unauthorized: the ?token= of this connection was refused (%s); send auth {token}",
         conn->url_token_refusal);
  else
    fail(error, CHORUS_ERROR_UNAUTHORIZED,
         "unauthorized: authenticate first (auth {token}, or ?token= on the URL)");
}

json_t *
chorus_signaling_dispatch(ChorusSignalingConnection *conn, const ChorusJsonRpcRequest *req,
                          gint64 now_us, gint64 wall_s, json_t **error_data, GError **error)
{
  g_return_val_if_fail(conn != NULL && req != NULL, NULL);
  *error_data = NULL;

  const ChorusJsonRpcMethod *row =
      chorus_jsonrpc_table_lookup(methods, G_N_ELEMENTS(methods), req->method);
  if (row == NULL) {
    fail(error, CHORUS_ERROR_METHOD_NOT_FOUND, "method \"%." ECHO_MAX "s\" not found", req->method);
    return NULL;
  }
  if (!(row->flags & CHORUS_METHOD_PUBLIC) && !conn->authenticated) {
    unauthorized(conn, error);
    return NULL;
  }
  if ((row->flags & CHORUS_METHOD_ADMIN) && !conn->admin) {
    fail(error, CHORUS_ERROR_FORBIDDEN, "%s needs an admin token", row->method);
    return NULL;
  }

  ChorusSignalingCall call = {
      .conn = conn,
      .method = req->method,
      .id = req->id,
      .params = req->params,
      .now_us = now_us,
      .wall_s = wall_s,
  };
  if ((row->flags & CHORUS_METHOD_PARTICIPANT) && !resolve_participant(&call, error))
    return NULL;
  json_t *result = row->handler(&call, error);
  if (result == NULL)
    *error_data = call.error_data;
  else if (call.error_data)
    json_decref(call.error_data);
  return result;
}
