/* The room side of media (main thread): publish/subscribe requests checked
 * against the room model and the kind's policy, handed to the room's media
 * (src/media, on the worker), and its results folded back into the model
 * (tracks, notifications, every subscriber's track set). */
#define G_LOG_DOMAIN "chorus-rooms"

#include <string.h>

#include "core/error.h"
#include "rooms/rooms-private.h"
#include "webrtc/sdp.h"

/* ---- subscriptions ------------------------------------------------------ */

static gboolean
subscription_wants(ChorusParticipant *p, ChorusTrack *t, const char **quality)
{
  if (t->participant == p || !chorus_participant_may_receive(p, t))
    return FALSE;
  const char *q = p->subscriptions ? g_hash_table_lookup(p->subscriptions, t->id) : NULL;
  if (q == NULL && !p->subscribe_all)
    return FALSE;
  *quality = q ? q : p->subscribe_quality;
  return TRUE;
}

static void
add_wanted(ChorusParticipant *p, GPtrArray *tracks, gboolean relayed_only, GArray *subs)
{
  for (guint i = 0; i < tracks->len; i++) {
    ChorusTrack *t = g_ptr_array_index(tracks, i);
    const char *quality = NULL;
    if ((relayed_only && !t->relayed) || !subscription_wants(p, t, &quality))
      continue;
    ChorusMediaSubscription s = { .track = t->id, .quality = quality };
    g_array_append_val(subs, s);
  }
}

/* Sends @p's full wanted track set to the media layer: its room's tracks
 * and, during a PK, the linked room's tracks forwarded into this one. */
void
chorus_room_media_update_subscriber(ChorusParticipant *p)
{
  ChorusRoom *room = p->room;
  if (room->media == NULL || (!p->subscribe_all && p->subscriptions == NULL))
    return;
  g_autoptr(GArray) subs = g_array_new(FALSE, TRUE, sizeof(ChorusMediaSubscription));
  add_wanted(p, room->tracks, FALSE, subs);
  if (room->linked)
    add_wanted(p, room->linked->tracks, TRUE, subs);
  chorus_media_subscribe_set(room->media, p->id, (ChorusMediaSubscription *)(void *)subs->data,
                             subs->len);
}

void
chorus_room_media_update_all(ChorusRoom *room)
{
  for (guint i = 0; i < room->participants->len; i++)
    chorus_room_media_update_subscriber(g_ptr_array_index(room->participants, i));
}

void
chorus_room_media_drop_forbidden_tracks(ChorusParticipant *p)
{
  ChorusRoom *room = p->room;
  for (guint i = room->tracks->len; i-- > 0;) {
    ChorusTrack *t = g_ptr_array_index(room->tracks, i);
    if (t->participant != p || chorus_participant_may_publish(p, t->kind))
      continue;
    /* As chorus_room_unpublish: the model drops it now, the worker
     * renegotiates its subscribers (no subscription to re-send). */
    g_autofree char *id = g_strdup(t->id);
    chorus_room_track_remove(t);
    if (room->media)
      chorus_media_unpublish(room->media, p->id, id, NULL, NULL);
  }
}

/* ---- PK links: tracks forwarded between rooms ----------------------------- */

/* Whether anyone in @room may receive @t (of the linked room). */
static gboolean
may_relay(ChorusRoom *room, ChorusTrack *t)
{
  if (room->plugin->may_receive == NULL)
    return FALSE;
  ChorusPluginTrackInfo info = {
    .track_id = t->id,
    .kind = t->kind,
    .publisher = t->participant,
    .publisher_room = t->participant->room,
  };
  return room->plugin->may_receive(room->plugin_state, NULL, &info);
}

static void
relay_one(ChorusRoom *room, ChorusTrack *t, gboolean on)
{
  ChorusMediaRoom *src = t->participant->room->media;
  if (on && !t->relayed && may_relay(room, t) && room->media && src) {
    t->relayed = TRUE;
    chorus_media_relay_add(room->media, src, t->id, t->participant->id);
  } else if (!on && t->relayed) {
    t->relayed = FALSE;
    if (room->media && src)
      chorus_media_relay_remove(room->media, src, t->id);
  }
}

void
chorus_room_media_relay(ChorusRoom *room, ChorusTrack *t, gboolean on)
{
  relay_one(room, t, on);
  if (!room->closing)
    chorus_room_media_update_all(room);
}

static void
relay_all(ChorusRoom *into, ChorusRoom *from, gboolean on)
{
  for (guint i = 0; i < from->tracks->len; i++)
    relay_one(into, g_ptr_array_index(from->tracks, i), on);
  if (!into->closing)
    chorus_room_media_update_all(into);
}

static void
unlink_room(ChorusRoom *room)
{
  ChorusRoom *other = room->linked;
  if (other == NULL)
    return;
  relay_all(room, other, FALSE);
  relay_all(other, room, FALSE);
  other->linked = NULL;
  room->linked = NULL;
}

void
chorus_room_link(ChorusRoom *room, ChorusRoom *other)
{
  if (room->linked == other && other != NULL)
    return;
  unlink_room(room);
  if (other == NULL)
    return;
  unlink_room(other);
  room->linked = other;
  other->linked = room;
  relay_all(room, other, TRUE);
  relay_all(other, room, TRUE);
}

static gboolean
check_quality(const char *quality, GError **error)
{
  static const char *const ok[] = { "low", "medium", "high", "auto", NULL };
  if (quality == NULL || g_strv_contains(ok, quality))
    return TRUE;
  g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
              "params.quality: must be low, medium, high or auto (got \"%s\")", quality);
  return FALSE;
}

static gboolean
need_media(ChorusRoom *room, GError **error)
{
  if (room->media != NULL)
    return TRUE;
  g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "media is not available on this server");
  return FALSE;
}

gboolean
chorus_room_subscribe(ChorusParticipant *p, json_t *tracks, const char *quality, GError **error)
{
  if (!need_media(p->room, error) || !check_quality(quality, error))
    return FALSE;
  if (json_is_string(tracks) && strcmp(json_string_value(tracks), "all") == 0) {
    p->subscribe_all = TRUE;
    g_free(p->subscribe_quality);
    p->subscribe_quality = g_strdup(quality ? quality : "auto");
  } else if (json_is_array(tracks)) {
    size_t i;
    json_t *v;
    json_array_foreach(tracks, i, v) {
      ChorusTrack *t = json_is_string(v) ? chorus_room_find_track(p->room, json_string_value(v)) : NULL;
      if (!json_is_string(v)) {
        g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                    "params.tracks: expected \"all\" or an array of track ids");
        return FALSE;
      }
      if (t == NULL) {
        g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_NOT_FOUND, "no track %s in room %s",
                    json_string_value(v), p->room->name);
        return FALSE;
      }
      if (t->participant == p || !chorus_participant_may_receive(p, t)) {
        g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_FORBIDDEN,
                    "%s may not receive track %s", p->id, t->id);
        return FALSE;
      }
    }
    if (p->subscriptions == NULL)
      p->subscriptions = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    json_array_foreach(tracks, i, v)
      g_hash_table_replace(p->subscriptions, g_strdup(json_string_value(v)),
                           g_strdup(quality ? quality : "auto"));
  } else {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "params.tracks: expected \"all\" or an array of track ids");
    return FALSE;
  }
  chorus_room_media_update_subscriber(p);
  return TRUE;
}

gboolean
chorus_room_unsubscribe(ChorusParticipant *p, json_t *tracks, GError **error)
{
  if (!need_media(p->room, error))
    return FALSE;
  if (!json_is_array(tracks)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "params.tracks: expected an array of track ids");
    return FALSE;
  }
  size_t i;
  json_t *v;
  json_array_foreach(tracks, i, v) {
    if (!json_is_string(v)) {
      g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                  "params.tracks[%zu]: expected a track id", i);
      return FALSE;
    }
  }
  /* Unsubscribing from one track also ends "all" for it: "all" becomes the
   * explicit list of the other tracks received now. */
  if (p->subscribe_all) {
    p->subscribe_all = FALSE;
    if (p->subscriptions == NULL)
      p->subscriptions = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint k = 0; k < p->room->tracks->len; k++) {
      ChorusTrack *t = g_ptr_array_index(p->room->tracks, k);
      if (t->participant != p && chorus_participant_may_receive(p, t) &&
          !g_hash_table_contains(p->subscriptions, t->id))
        g_hash_table_insert(p->subscriptions, g_strdup(t->id), g_strdup(p->subscribe_quality));
    }
  }
  json_array_foreach(tracks, i, v) {
    if (p->subscriptions)
      g_hash_table_remove(p->subscriptions, json_string_value(v));
  }
  chorus_room_media_update_subscriber(p);
  return TRUE;
}

/* ---- asynchronous requests ----------------------------------------------- */

/* Completes @done with an error at once when @p's room has no media. */
static gboolean
media_or_reply(ChorusParticipant *p, ChorusRoomDone done, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  if (need_media(p->room, &error))
    return TRUE;
  done(user_data, NULL, error);
  return FALSE;
}

typedef struct {
  ChorusRoomDirectory *dir;
  char *participant;
  ChorusRoomDone done;
  gpointer user_data;
} Pending;

static Pending *
pending_new(ChorusParticipant *p, ChorusRoomDone done, gpointer user_data)
{
  Pending *pd = g_new0(Pending, 1);
  pd->dir = p->room->dir;
  pd->participant = g_strdup(p->id);
  pd->done = done;
  pd->user_data = user_data;
  return pd;
}

static void
pending_free(Pending *pd)
{
  g_free(pd->participant);
  g_free(pd);
}

/* Replies; returns the participant when it is still there. Completions
 * run on the main loop, which stops before the directory is freed (main.c),
 * so the directory outlives every pending request. */
static ChorusParticipant *
pending_finish(Pending *pd, json_t *result, const GError *error)
{
  ChorusParticipant *p = chorus_room_directory_find_participant(pd->dir, pd->participant);
  if (p == NULL && error == NULL) {
    g_autoptr(GError) gone = g_error_new(CHORUS_ERROR, CHORUS_ERROR_NOT_FOUND,
                                         "participant %s left meanwhile", pd->participant);
    pd->done(pd->user_data, NULL, gone);
    return NULL;
  }
  pd->done(pd->user_data, result, error);
  return error ? NULL : p;
}

static void
on_simple_done(gpointer user_data, json_t *result, const GError *error)
{
  Pending *pd = user_data;
  pending_finish(pd, error ? NULL : result, error);
  pending_free(pd);
}

static void
send_end_of_candidates(ChorusParticipant *p, const char *target)
{
  g_autoptr(json_t) params = json_pack("{s:s, s:s, s:n}", "participant", p->id, "target", target,
                                       "candidate");
  chorus_room_notify_one(p, "trickle", params);
}

static void
on_publish_done(gpointer user_data, json_t *result, const GError *error)
{
  Pending *pd = user_data;
  if (error) {
    pending_finish(pd, NULL, error);
    pending_free(pd);
    return;
  }
  /* The reply carries only the contract's fields; the rest is for us. */
  g_autoptr(json_t) reply = json_pack("{s:O, s:O}", "sdp", json_object_get(result, "sdp"),
                                      "tracks", json_object_get(result, "tracks"));
  ChorusParticipant *p = pending_finish(pd, reply, NULL);
  pending_free(pd);
  if (p == NULL)
    return;
  ChorusRoom *room = p->room;
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(result, "removed_tracks"), i, v) {
    ChorusTrack *t = chorus_room_find_track(room, json_string_value(v));
    if (t)
      chorus_room_track_remove(t);
  }
  json_array_foreach(json_object_get(result, "new_tracks"), i, v) {
    g_autoptr(GPtrArray) rids = g_ptr_array_new();
    size_t k;
    json_t *rid;
    json_array_foreach(json_object_get(v, "simulcast"), k, rid)
      g_ptr_array_add(rids, (gpointer)json_string_value(rid));
    g_ptr_array_add(rids, NULL);
    g_autoptr(GError) e = NULL;
    ChorusTrack *t = chorus_room_track_add_full(p, json_string_value(json_object_get(v, "track")),
                                                json_string_value(json_object_get(v, "kind")),
                                                (const char *const *)rids->pdata, &e);
    if (t == NULL)
      g_warning("room %s: track of %s not added: %s", room->name, p->id, e->message);
    else if (chorus_room_forwarding_muted(p, t->kind))
      chorus_media_track_set_muted(room->media, t->id, TRUE);
  }
  if (json_is_true(json_object_get(result, "end_of_candidates")))
    send_end_of_candidates(p, "publisher");
  chorus_room_media_update_all(room);
}

void
chorus_room_publish(ChorusParticipant *p, const char *sdp, ChorusRoomDone done, gpointer user_data)
{
  if (!media_or_reply(p, done, user_data))
    return;
  /* Policy first, on the main thread: which kinds does the offer send? */
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusSdpSession) offer = chorus_sdp_session_parse(sdp, &error);
  if (offer == NULL) {
    done(user_data, NULL, error);
    return;
  }
  for (guint i = 0; i < offer->media->len; i++) {
    const ChorusSdpMedia *m = g_ptr_array_index(offer->media, i);
    if (!chorus_sdp_media_is_used(m) ||
        (m->kind != CHORUS_SDP_KIND_AUDIO && m->kind != CHORUS_SDP_KIND_VIDEO))
      continue;
    const char *kind = chorus_sdp_kind_to_string(m->kind);
    if (!chorus_participant_may_publish(p, kind)) {
      g_autoptr(GError) e = g_error_new(CHORUS_ERROR, CHORUS_ERROR_FORBIDDEN,
                                        "role %s may not publish %s in this %s room", p->role,
                                        kind, p->room->plugin->kind);
      done(user_data, NULL, e);
      return;
    }
  }
  chorus_media_publish(p->room->media, p->id, sdp, on_publish_done,
                       pending_new(p, done, user_data));
}

void
chorus_room_unpublish(ChorusParticipant *p, const char *track_id, ChorusRoomDone done,
                      gpointer user_data)
{
  GError *error = NULL;
  ChorusTrack *t = chorus_room_find_track(p->room, track_id);
  if (t == NULL || t->participant != p) {
    error = g_error_new(CHORUS_ERROR, CHORUS_ERROR_NOT_FOUND, "%s has no track %s", p->id,
                        track_id);
  } else if (need_media(p->room, &error)) {
    /* The model drops it now (track.unpublished); the worker renegotiates
     * its subscribers. */
    chorus_room_track_remove(t);
    chorus_media_unpublish(p->room->media, p->id, track_id, on_simple_done,
                           pending_new(p, done, user_data));
    return;
  }
  done(user_data, NULL, error);
  g_error_free(error);
}

void
chorus_room_answer(ChorusParticipant *p, const char *sdp, guint64 version, ChorusRoomDone done,
                   gpointer user_data)
{
  if (!media_or_reply(p, done, user_data))
    return;
  chorus_media_answer(p->room->media, p->id, sdp, version, on_simple_done,
                      pending_new(p, done, user_data));
}

void
chorus_room_trickle(ChorusParticipant *p, ChorusMediaTarget target, const char *candidate,
                    const char *ufrag, ChorusRoomDone done, gpointer user_data)
{
  if (!media_or_reply(p, done, user_data))
    return;
  chorus_media_trickle(p->room->media, p->id, target, candidate, ufrag, on_simple_done,
                       pending_new(p, done, user_data));
}

void
chorus_room_ice_restart(ChorusParticipant *p, ChorusRoomDone done, gpointer user_data)
{
  if (!media_or_reply(p, done, user_data))
    return;
  chorus_media_ice_restart(p->room->media, p->id, on_simple_done, pending_new(p, done, user_data));
}

void
chorus_room_subscription_update(ChorusParticipant *p, const char *track, const char *quality,
                                int paused, ChorusRoomDone done, gpointer user_data)
{
  GError *error = NULL;
  if (!need_media(p->room, &error) || !check_quality(quality, &error)) {
    done(user_data, NULL, error);
    g_error_free(error);
    return;
  }
  if (quality && p->subscriptions && g_hash_table_contains(p->subscriptions, track))
    g_hash_table_replace(p->subscriptions, g_strdup(track), g_strdup(quality));
  chorus_media_subscription_update(p->room->media, p->id, track, quality, paused, on_simple_done,
                                   pending_new(p, done, user_data));
}

gboolean
chorus_room_track_mute(ChorusParticipant *p, const char *track_id, gboolean muted, GError **error)
{
  ChorusTrack *t = chorus_room_find_track(p->room, track_id);
  if (t == NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_NOT_FOUND, "no track %s in room %s", track_id,
                p->room->name);
    return FALSE;
  }
  if (t->participant != p) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_FORBIDDEN, "track %s is not %s's", track_id,
                p->id);
    return FALSE;
  }
  chorus_room_track_set_muted_and_notify(t, muted);
  return TRUE;
}

void
chorus_room_track_set_muted_and_notify(ChorusTrack *t, gboolean muted)
{
  if (t->muted == muted)
    return;
  t->muted = muted;
  ChorusRoom *room = t->participant->room;
  if (room->media)
    chorus_media_track_set_muted(room->media, t->id,
                                 muted || chorus_room_forwarding_muted(t->participant, t->kind));
  g_autoptr(json_t) params = json_pack("{s:s, s:s, s:s, s:b}", "room", room->name, "track", t->id,
                                       "participant", t->participant->id, "muted", muted);
  chorus_room_notify_all(room, "track.updated", params, NULL);
}

/* ---- forwarding mute (voice.mute): the host stops forwarding a
 * participant's tracks of a kind, now and for tracks published later. ---- */

static guint
kind_bit(const char *kind)
{
  if (kind == NULL)
    return 3;
  return g_strcmp0(kind, "audio") == 0 ? 1 : g_strcmp0(kind, "video") == 0 ? 2 : 0;
}

gboolean
chorus_room_forwarding_muted(ChorusParticipant *p, const char *kind)
{
  return (p->forwarding_muted & kind_bit(kind)) != 0;
}

gboolean
chorus_room_set_forwarding_muted(ChorusParticipant *p, const char *kind, gboolean muted)
{
  guint bit = kind_bit(kind);
  if (bit == 0)
    return FALSE;
  p->forwarding_muted = muted ? (p->forwarding_muted | bit) : (p->forwarding_muted & ~bit);
  ChorusRoom *room = p->room;
  for (guint i = 0; room->media && i < room->tracks->len; i++) {
    ChorusTrack *t = g_ptr_array_index(room->tracks, i);
    if (t->participant == p && (kind_bit(t->kind) & bit))
      chorus_media_track_set_muted(room->media, t->id,
                                   t->muted || chorus_room_forwarding_muted(p, t->kind));
  }
  return room->media != NULL;
}

/* ---- events from the media layer ---------------------------------------- */

static void
on_media_offer(gpointer user_data, const char *participant, json_t *params)
{
  ChorusRoom *room = user_data;
  ChorusParticipant *p = chorus_room_find_participant(room, participant);
  if (p)
    chorus_room_notify_one(p, "offer", params);
}

static void
on_media_trickle(gpointer user_data, const char *participant, ChorusMediaTarget target,
                 const char *candidate, const char *mid)
{
  ChorusRoom *room = user_data;
  ChorusParticipant *p = chorus_room_find_participant(room, participant);
  if (p == NULL)
    return;
  if (candidate == NULL) {
    send_end_of_candidates(p, chorus_media_target_to_string(target));
    return;
  }
  g_autoptr(json_t) params = json_pack("{s:s, s:s, s:{s:s, s:s?}}", "participant", p->id,
                                       "target", chorus_media_target_to_string(target),
                                       "candidate", "candidate", candidate, "sdpMid", mid);
  chorus_room_notify_one(p, "trickle", params);
}

static void
on_media_peer_closed(gpointer user_data, const char *participant, ChorusMediaTarget target,
                     const char *reason)
{
  ChorusRoom *room = user_data;
  ChorusParticipant *p = chorus_room_find_participant(room, participant);
  if (p == NULL)
    return;
  g_autoptr(json_t) params = json_pack("{s:s, s:s, s:s}", "participant", p->id, "target",
                                       chorus_media_target_to_string(target), "reason", reason);
  chorus_room_notify_one(p, "peer.closed", params);
  if (target == CHORUS_MEDIA_SUBSCRIBER) {
    /* A new subscribe makes a new subscriber PeerConnection. */
    p->subscribe_all = FALSE;
    g_clear_pointer(&p->subscriptions, g_hash_table_unref);
  }
  /* Without signaling and without media, nothing keeps the participant. */
  if (!p->attached)
    chorus_participant_leave(p, "timeout");
}

static void
on_media_track_gone(gpointer user_data, const char *participant, const char *track)
{
  ChorusRoom *room = user_data;
  ChorusTrack *t = chorus_room_find_track(room, track);
  if (t)
    chorus_room_track_remove(t);
}

static void
on_media_tracks_changed(gpointer user_data)
{
  chorus_room_media_update_all(user_data);
}

static void
on_media_speakers(gpointer user_data, json_t *speakers)
{
  ChorusRoom *room = user_data;
  if (room->speakers)
    json_decref(room->speakers);
  room->speakers = json_incref(speakers);
  g_autoptr(json_t) params = json_pack("{s:s, s:O}", "room", room->name, "speakers", speakers);
  chorus_room_notify_all(room, "speakers", params, NULL);
}

void
chorus_room_media_start(ChorusRoom *room, ChorusMediaEngine *engine)
{
  static const ChorusMediaRoomCallbacks callbacks = {
    .offer = on_media_offer,
    .trickle = on_media_trickle,
    .peer_closed = on_media_peer_closed,
    .track_gone = on_media_track_gone,
    .speakers = on_media_speakers,
    .tracks_changed = on_media_tracks_changed,
  };
  if (engine && room->worker)
    room->media = chorus_media_room_new(engine, room->worker, room->name, &callbacks, room);
  if (room->media && room->audio_slots > 0)
    chorus_media_room_set_audio_slots(room->media, room->audio_slots);
}
