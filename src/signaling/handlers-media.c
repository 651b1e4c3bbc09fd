/* Media methods of PROTOCOL.md. The policy and model checks run in rooms/;
 * the PeerConnection work runs on the room's worker, so most of these
 * answer later (CHORUS_SIGNALING_DEFERRED; the connection holds its next
 * frames until then, keeping requests in order). */
#define G_LOG_DOMAIN "chorus-signaling"

#include "core/error.h"
#include "rooms/room.h"
#include "signaling/handlers.h"

/* SDP blobs are bounded by the frame size already; this only refuses empty
 * ones with a clearer message than the SDP parser's. */
static gboolean
get_sdp(json_t *params, const char **sdp, GError **error)
{
  if (!chorus_jsonrpc_get_string(params, "sdp", sdp, error))
    return FALSE;
  if ((*sdp)[0] == '\0') {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS, "params.sdp: empty");
    return FALSE;
  }
  return TRUE;
}

static ChorusSignalingDeferred *
defer(ChorusSignalingCall *call)
{
  return chorus_signaling_connection_defer(call->conn, call->id, call->method);
}

json_t *
chorus_signaling_handle_publish(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  const char *sdp;
  if (!get_sdp(call->params, &sdp, error))
    return NULL;
  chorus_room_publish(call->participant, sdp, chorus_signaling_deferred_done, defer(call));
  return CHORUS_SIGNALING_DEFERRED;
}

json_t *
chorus_signaling_handle_unpublish(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  const char *track;
  if (!chorus_jsonrpc_get_string(call->params, "track", &track, error))
    return NULL;
  chorus_room_unpublish(call->participant, track, chorus_signaling_deferred_done, defer(call));
  return CHORUS_SIGNALING_DEFERRED;
}

json_t *
chorus_signaling_handle_subscribe(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  const char *quality = NULL;
  json_t *tracks = json_object_get(call->params, "tracks");
  if (tracks == NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "params.tracks: required (\"all\" or an array of track ids)");
    return NULL;
  }
  if (!chorus_jsonrpc_get_optional_string(call->params, "quality", &quality, error) ||
      !chorus_room_subscribe(call->participant, tracks, quality, error))
    return NULL;
  return json_object();
}

json_t *
chorus_signaling_handle_unsubscribe(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  json_t *tracks;
  if (!chorus_jsonrpc_get_array(call->params, "tracks", &tracks, error) ||
      !chorus_room_unsubscribe(call->participant, tracks, error))
    return NULL;
  return json_object();
}

json_t *
chorus_signaling_handle_subscription_update(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  const char *track, *quality = NULL;
  json_t *paused_json = json_object_get(call->params, "paused");
  if (!chorus_jsonrpc_get_string(call->params, "track", &track, error) ||
      !chorus_jsonrpc_get_optional_string(call->params, "quality", &quality, error))
    return NULL;
  if (paused_json && !json_is_boolean(paused_json)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "params.paused: expected a boolean");
    return NULL;
  }
  int paused = paused_json ? json_is_true(paused_json) : -1;
  chorus_room_subscription_update(call->participant, track, quality, paused,
                                  chorus_signaling_deferred_done, defer(call));
  return CHORUS_SIGNALING_DEFERRED;
}

json_t *
chorus_signaling_handle_answer(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  const char *sdp;
  gint64 version = 0;
  if (!get_sdp(call->params, &sdp, error) ||
      !chorus_jsonrpc_get_optional_int(call->params, "version", 1, G_MAXINT64, &version, error))
    return NULL;
  chorus_room_answer(call->participant, sdp, (guint64)version, chorus_signaling_deferred_done,
                     defer(call));
  return CHORUS_SIGNALING_DEFERRED;
}

json_t *
chorus_signaling_handle_trickle(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  const char *target_name;
  ChorusMediaTarget target;
  if (!chorus_jsonrpc_get_string(call->params, "target", &target_name, error))
    return NULL;
  if (!chorus_media_target_from_string(target_name, &target)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "params.target: must be \"publisher\" or \"subscriber\"");
    return NULL;
  }
  json_t *cand = json_object_get(call->params, "candidate");
  const char *text = NULL, *ufrag = NULL;
  if (cand == NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "params.candidate: required (an RTCIceCandidate init object, or null for the "
                "end of candidates)");
    return NULL;
  }
  if (!json_is_null(cand)) {
    if (!json_is_object(cand)) {
      g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                  "params.candidate: expected an object or null");
      return NULL;
    }
    if (!chorus_jsonrpc_get_string(cand, "candidate", &text, error) ||
        !chorus_jsonrpc_get_optional_string(cand, "usernameFragment", &ufrag, error)) {
      g_prefix_error(error, "params.candidate: ");
      return NULL;
    }
    if (text[0] == '\0') /* browsers signal the end with an empty candidate */
      text = NULL;
  }
  chorus_room_trickle(call->participant, target, text, ufrag, chorus_signaling_deferred_done,
                      defer(call));
  return CHORUS_SIGNALING_DEFERRED;
}

json_t *
chorus_signaling_handle_ice_restart(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  chorus_room_ice_restart(call->participant, chorus_signaling_deferred_done, defer(call));
  return CHORUS_SIGNALING_DEFERRED;
}

json_t *
chorus_signaling_handle_track_mute(gpointer data, GError **error)
{
  ChorusSignalingCall *call = data;
  const char *track;
  gboolean muted;
  if (!chorus_jsonrpc_get_string(call->params, "track", &track, error) ||
      !chorus_jsonrpc_get_bool(call->params, "muted", &muted, error) ||
      !chorus_room_track_mute(call->participant, track, muted, error))
    return NULL;
  return json_object();
}
