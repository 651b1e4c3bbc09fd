/* live: the "live" co-streaming room kind. Hosts and co-hosts publish
 * (audio + video, simulcast allowed), the audience only watches. A host may
 * link the room with another live room (PK): each side then also receives
 * the other room's host tracks.
 *
 * Links only GLib and Jansson: everything else goes through the host table
 * (include/chorus/plugin.h). */
#define G_LOG_DOMAIN "chorus-live"

#include <string.h>

#include "chorus/plugin.h"

#define DEFAULT_MAX_PUBLISHERS 16
#define MAX_MAX_PUBLISHERS 64
/* live.viewers goes out on change, at most this often (PROTOCOL.md). */
#define VIEWERS_MIN_INTERVAL_US (2 * G_USEC_PER_SEC)

typedef struct {
  const ChorusPluginHostApi *host;
  ChorusRoom *room;
  guint max_publishers;
  guint publishers;          /* hosts + co-hosts */
  guint audience;
  char *pk_peer;             /* name of the linked room, or NULL */
  guint viewers_last_sent;
  gint64 viewers_last_sent_us; /* G_MININT64: never sent */
  guint viewers_timer_id;
} LiveRoom;

static const char *const roles[] = { "host", "cohost", "audience", NULL };
static const char *const methods[] = {
  "live.promote", "live.demote", "live.pk.start", "live.pk.stop", NULL,
};

static gboolean
role_publishes(const char *role)
{
  return g_strcmp0(role, "host") == 0 || g_strcmp0(role, "cohost") == 0;
}

static gboolean
role_is_audience(const char *role)
{
  return g_strcmp0(role, "audience") == 0;
}

/* How long to wait before a live.viewers may go out: 0 = now. Pure, so the
 * throttle rule is plain arithmetic on the times given. */
static gint64
viewers_delay_us(gint64 last_sent_us, gint64 now_us)
{
  if (last_sent_us == G_MININT64)
    return 0;
  gint64 due_us = last_sent_us + VIEWERS_MIN_INTERVAL_US;
  return due_us > now_us ? due_us - now_us : 0;
}

static void
viewers_send(LiveRoom *lr, gint64 now_us)
{
  lr->viewers_last_sent = lr->audience;
  lr->viewers_last_sent_us = now_us;
  json_t *params = json_pack("{s:s, s:i}", "room", lr->host->room_name(lr->room), "count",
                             (int)lr->audience);
  lr->host->notify_room(lr->room, "live.viewers", params, NULL);
  json_decref(params);
}

static gboolean
on_viewers_timer(gpointer user_data)
{
  LiveRoom *lr = user_data;
  lr->viewers_timer_id = 0;
  if (lr->audience != lr->viewers_last_sent)
    viewers_send(lr, g_get_monotonic_time());
  return G_SOURCE_REMOVE;
}

/* The audience count may have changed: send now, or once the interval is
 * over (one pending timer at most; it sends the count of that moment). */
static void
viewers_changed(LiveRoom *lr, gint64 now_us)
{
  if (lr->viewers_timer_id != 0 || lr->audience == lr->viewers_last_sent)
    return;
  gint64 delay_us = viewers_delay_us(lr->viewers_last_sent_us, now_us);
  if (delay_us == 0) {
    viewers_send(lr, now_us);
    return;
  }
  guint delay_ms = (guint)((delay_us + 999) / 1000);
  lr->viewers_timer_id = g_timeout_add(delay_ms, on_viewers_timer, lr);
}

static void
count_role(LiveRoom *lr, const char *role, int delta)
{
  if (role_publishes(role))
    lr->publishers += delta;
  else if (role_is_audience(role))
    lr->audience += delta;
}

static gboolean
live_room_created(const ChorusPluginHostApi *host, ChorusRoom *room, json_t *options,
                  gpointer *room_state_out, GError **error)
{
  guint max_publishers = DEFAULT_MAX_PUBLISHERS;
  if (options != NULL) {
    const char *key;
    json_t *value;
    json_object_foreach(options, key, value) {
      if (strcmp(key, "max_publishers") != 0) {
        g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_INVALID_PARAMS,
                    "unknown option \"%s\" for live rooms (options: max_publishers)", key);
        return FALSE;
      }
      if (!json_is_integer(value) || json_integer_value(value) < 1 ||
          json_integer_value(value) > MAX_MAX_PUBLISHERS) {
        g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_INVALID_PARAMS,
                    "options.max_publishers must be an integer 1..%d", MAX_MAX_PUBLISHERS);
        return FALSE;
      }
      max_publishers = (guint)json_integer_value(value);
    }
  }
  LiveRoom *lr = g_new0(LiveRoom, 1);
  lr->host = host;
  lr->room = room;
  lr->max_publishers = max_publishers;
  lr->viewers_last_sent_us = G_MININT64;
  *room_state_out = lr;
  return TRUE;
}

static void
notify_pk(LiveRoom *lr, const char *peer_room, const char *state)
{
  json_t *params = json_pack("{s:s, s:s, s:s}", "room", lr->host->room_name(lr->room),
                             "peer_room", peer_room, "state", state);
  lr->host->notify_room(lr->room, "live.pk", params, NULL);
  json_decref(params);
}

/* Ends the link on both sides and tells both rooms. */
static void
pk_stop(LiveRoom *lr)
{
  g_autofree char *peer_name = g_steal_pointer(&lr->pk_peer);
  if (peer_name == NULL)
    return;
  lr->host->link_rooms(lr->room, NULL);
  LiveRoom *peer = NULL;
  ChorusRoom *peer_room = lr->host->room_lookup(lr->room, peer_name);
  if (peer_room != NULL && g_strcmp0(lr->host->room_kind(peer_room), "live") == 0)
    peer = lr->host->room_state(peer_room);
  const char *own_name = lr->host->room_name(lr->room);
  if (peer != NULL && g_strcmp0(peer->pk_peer, own_name) == 0) {
    g_clear_pointer(&peer->pk_peer, g_free);
    notify_pk(peer, own_name, "stopped");
  }
  notify_pk(lr, peer_name, "stopped");
}

static void
live_room_destroyed(gpointer room_state)
{
  LiveRoom *lr = room_state;
  /* The other side of a PK hears that it ended; this room's participants
   * are gone already. */
  pk_stop(lr);
  g_clear_handle_id(&lr->viewers_timer_id, g_source_remove);
  g_free(lr);
}

static gboolean
live_join_check(gpointer room_state, const char *identity, const char **role, json_t *metadata,
                GError **error)
{
  LiveRoom *lr = room_state;
  if (role_publishes(*role) && lr->publishers >= lr->max_publishers) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_ROOM_FULL,
                "room has its %u publishers (hosts and co-hosts); join as audience",
                lr->max_publishers);
    return FALSE;
  }
  return TRUE;
}

static void
live_participant_joined(gpointer room_state, ChorusParticipant *p)
{
  LiveRoom *lr = room_state;
  count_role(lr, lr->host->participant_role(p), +1);
  viewers_changed(lr, g_get_monotonic_time());
}

static void
live_participant_left(gpointer room_state, ChorusParticipant *p, const char *reason)
{
  LiveRoom *lr = room_state;
  count_role(lr, lr->host->participant_role(p), -1);
  viewers_changed(lr, g_get_monotonic_time());
}

static gboolean
live_may_publish(gpointer room_state, ChorusParticipant *p, const char *track_kind)
{
  LiveRoom *lr = room_state;
  return role_publishes(lr->host->participant_role(p));
}

static gboolean
live_may_receive(gpointer room_state, ChorusParticipant *subscriber,
                 const ChorusPluginTrackInfo *track)
{
  LiveRoom *lr = room_state;
  if (track->publisher_room == lr->room)
    return TRUE;
  /* PK: the linked room's hosts (not its co-hosts) are seen here too. */
  return lr->pk_peer != NULL &&
         g_strcmp0(lr->host->room_name(track->publisher_room), lr->pk_peer) == 0 &&
         g_strcmp0(lr->host->participant_role(track->publisher), "host") == 0;
}

/* --- requests --- */

static gboolean
require_host(LiveRoom *lr, ChorusParticipant *p, const char *method, GError **error)
{
  if (g_strcmp0(lr->host->participant_role(p), "host") == 0)
    return TRUE;
  g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_FORBIDDEN,
              "%s is for hosts only (role %s)", method, lr->host->participant_role(p));
  return FALSE;
}

static ChorusParticipant *
read_target(LiveRoom *lr, json_t *params, GError **error)
{
  const char *id = json_string_value(json_object_get(params, "target"));
  if (id == NULL) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_INVALID_PARAMS,
                "target (participant id) is required");
    return NULL;
  }
  ChorusParticipant *target = lr->host->room_find_participant(lr->room, id);
  if (target == NULL)
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_NOT_FOUND,
                "no participant %s in room %s", id, lr->host->room_name(lr->room));
  return target;
}

static json_t *
change_role(LiveRoom *lr, ChorusParticipant *p, json_t *params, gboolean promote,
            GError **error)
{
  const char *method = promote ? "live.promote" : "live.demote";
  if (!require_host(lr, p, method, error))
    return NULL;
  ChorusParticipant *target = read_target(lr, params, error);
  if (target == NULL)
    return NULL;
  const char *from = promote ? "audience" : "cohost";
  const char *to = promote ? "cohost" : "audience";
  const char *role = lr->host->participant_role(target);
  if (g_strcmp0(role, from) != 0) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_CONFLICT,
                "%s: target is %s, not %s", method, role, from);
    return NULL;
  }
  if (promote && lr->publishers >= lr->max_publishers) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_ROOM_FULL,
                "room has its %u publishers (hosts and co-hosts)", lr->max_publishers);
    return NULL;
  }
  if (!lr->host->participant_set_role(target, to, error))
    return NULL;
  count_role(lr, from, -1);
  count_role(lr, to, +1);
  lr->host->participant_updated(target);
  viewers_changed(lr, g_get_monotonic_time());
  return json_object();
}

static json_t *
pk_start(LiveRoom *lr, ChorusParticipant *p, json_t *params, GError **error)
{
  if (!require_host(lr, p, "live.pk.start", error))
    return NULL;
  const char *other = json_string_value(json_object_get(params, "room"));
  if (other == NULL) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_INVALID_PARAMS,
                "room (the other live room) is required");
    return NULL;
  }
  const char *own_name = lr->host->room_name(lr->room);
  if (strcmp(other, own_name) == 0) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_INVALID_PARAMS,
                "a room cannot PK with itself");
    return NULL;
  }
  ChorusRoom *other_room = lr->host->room_lookup(lr->room, other);
  if (other_room == NULL) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_NOT_FOUND, "no room %s", other);
    return NULL;
  }
  if (g_strcmp0(lr->host->room_kind(other_room), "live") != 0) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_INVALID_PARAMS,
                "room %s is not a live room", other);
    return NULL;
  }
  LiveRoom *peer = lr->host->room_state(other_room);
  if (lr->pk_peer != NULL || peer->pk_peer != NULL) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_CONFLICT,
                "%s is already in a PK (with %s)", lr->pk_peer ? own_name : other,
                lr->pk_peer ? lr->pk_peer : peer->pk_peer);
    return NULL;
  }
  lr->pk_peer = g_strdup(other);
  peer->pk_peer = g_strdup(own_name);
  /* After pk_peer is set: may_receive decides which tracks cross. */
  lr->host->link_rooms(lr->room, other_room);
  notify_pk(lr, other, "started");
  notify_pk(peer, own_name, "started");
  return json_pack("{s:s, s:s}", "room", own_name, "peer_room", other);
}

static json_t *
pk_stop_request(LiveRoom *lr, ChorusParticipant *p, GError **error)
{
  if (!require_host(lr, p, "live.pk.stop", error))
    return NULL;
  if (lr->pk_peer == NULL) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_NOT_FOUND, "no PK running");
    return NULL;
  }
  pk_stop(lr);
  return json_object();
}

static json_t *
live_handle_request(gpointer room_state, ChorusParticipant *p, const char *method,
                    json_t *params, GError **error)
{
  LiveRoom *lr = room_state;
  if (strcmp(method, "live.promote") == 0)
    return change_role(lr, p, params, TRUE, error);
  if (strcmp(method, "live.demote") == 0)
    return change_role(lr, p, params, FALSE, error);
  if (strcmp(method, "live.pk.start") == 0)
    return pk_start(lr, p, params, error);
  if (strcmp(method, "live.pk.stop") == 0)
    return pk_stop_request(lr, p, error);
  g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_INTERNAL,
              "live: unhandled method %s", method);
  return NULL;
}

static const ChorusPlugin live_plugin = {
  .abi_version = CHORUS_PLUGIN_ABI_VERSION,
  .kind = "live",
  .description = "live co-streaming: hosts, co-hosts, audience, PK between rooms",
  .methods = methods,
  .default_role = "audience",
  .roles = roles,
  .room_created = live_room_created,
  .room_destroyed = live_room_destroyed,
  .join_check = live_join_check,
  .participant_joined = live_participant_joined,
  .participant_left = live_participant_left,
  .may_publish = live_may_publish,
  .may_receive = live_may_receive,
  .participant_json = NULL,
  .handle_request = live_handle_request,
};

const ChorusPlugin *
chorus_plugin_get(void)
{
  return &live_plugin;
}
