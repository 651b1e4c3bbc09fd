/* voiceroom: the "voice" room kind. Hosts and speakers talk, listeners
 * listen until they are invited to a seat.
 *
 * Seats are numbered 0..seats-1. A participant holds at most one seat.
 * Everyone may publish only if host, speaker or seated; everyone receives
 * every audio track (the loudest audio_slots of them, applied by the media
 * layer later).
 *
 * Links only GLib and Jansson: everything else goes through the host table
 * (include/chorus/plugin.h). */
#define G_LOG_DOMAIN "chorus-voice"

#include <string.h>

#include "chorus/plugin.h"

#define DEFAULT_SEATS 8
#define MAX_SEATS 100
#define DEFAULT_AUDIO_SLOTS 3
#define MAX_AUDIO_SLOTS 16

typedef struct {
  const ChorusPluginHostApi *host;
  ChorusRoom *room;
  guint seat_count;
  guint audio_slots;
  ChorusParticipant **seats; /* seat -> occupant (borrowed) or NULL */
} VoiceRoom;

/* Per-participant state (the host's participant data slot). */
typedef struct {
  gint seat;          /* -1: not seated */
  gboolean hand_raised;
  gboolean invited;   /* a host invited this participant to take a seat */
  gint invited_seat;  /* -1: any free seat */
  gboolean muted;     /* muted by a host */
} Voicer;

static const char *const roles[] = { "host", "speaker", "listener", NULL };
static const char *const methods[] = {
  "voice.seat.take", "voice.seat.leave", "voice.hand.raise", "voice.hand.lower",
  "voice.invite",    "voice.mute",       "voice.kick",       NULL,
};

static Voicer *
voicer_get(VoiceRoom *vr, ChorusParticipant *p)
{
  return vr->host->participant_get_data(p);
}

static gboolean
is_host(VoiceRoom *vr, ChorusParticipant *p)
{
  return g_strcmp0(vr->host->participant_role(p), "host") == 0;
}

static gboolean
is_speaker_or_host(VoiceRoom *vr, ChorusParticipant *p)
{
  const char *role = vr->host->participant_role(p);
  return g_strcmp0(role, "host") == 0 || g_strcmp0(role, "speaker") == 0;
}

static gboolean
read_uint_option(json_t *options, const char *name, guint min, guint max, guint *out,
                 GError **error)
{
  json_t *v = json_object_get(options, name);
  if (v == NULL)
    return TRUE;
  if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_INVALID_PARAMS,
                "options.%s must be an integer %u..%u", name, min, max);
    return FALSE;
  }
  *out = (guint)json_integer_value(v);
  return TRUE;
}

static gboolean
voice_room_created(const ChorusPluginHostApi *host, ChorusRoom *room, json_t *options,
                   gpointer *room_state_out, GError **error)
{
  guint seats = DEFAULT_SEATS, slots = DEFAULT_AUDIO_SLOTS;
  if (options != NULL) {
    const char *key;
    json_t *value;
    json_object_foreach(options, key, value) {
      if (strcmp(key, "seats") != 0 && strcmp(key, "audio_slots") != 0) {
        g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_INVALID_PARAMS,
                    "unknown option \"%s\" for voice rooms (options: seats, audio_slots)", key);
        return FALSE;
      }
    }
    if (!read_uint_option(options, "seats", 1, MAX_SEATS, &seats, error) ||
        !read_uint_option(options, "audio_slots", 1, MAX_AUDIO_SLOTS, &slots, error))
      return FALSE;
  }
  VoiceRoom *vr = g_new0(VoiceRoom, 1);
  vr->host = host;
  vr->room = room;
  vr->seat_count = seats;
  vr->audio_slots = slots;
  vr->seats = g_new0(ChorusParticipant *, seats);
  /* FALSE until the media layer applies it; the value is kept either way. */
  host->set_audio_slots(room, slots);
  *room_state_out = vr;
  return TRUE;
}

static void
voice_room_destroyed(gpointer room_state)
{
  VoiceRoom *vr = room_state;
  g_free(vr->seats);
  g_free(vr);
}

static void
voice_participant_joined(gpointer room_state, ChorusParticipant *p)
{
  VoiceRoom *vr = room_state;
  Voicer *v = g_new0(Voicer, 1);
  v->seat = -1;
  v->invited_seat = -1;
  vr->host->participant_set_data(p, v, g_free);
}

static void
voice_participant_left(gpointer room_state, ChorusParticipant *p, const char *reason)
{
  VoiceRoom *vr = room_state;
  Voicer *v = voicer_get(vr, p);
  if (v != NULL && v->seat >= 0)
    vr->seats[v->seat] = NULL;
}

static gboolean
voice_may_publish(gpointer room_state, ChorusParticipant *p, const char *track_kind)
{
  VoiceRoom *vr = room_state;
  if (is_speaker_or_host(vr, p))
    return TRUE;
  Voicer *v = voicer_get(vr, p);
  return v != NULL && v->seat >= 0;
}

static gboolean
voice_may_receive(gpointer room_state, ChorusParticipant *subscriber,
                  const ChorusPluginTrackInfo *track)
{
  VoiceRoom *vr = room_state;
  return track->publisher_room == vr->room;
}

static void
voice_participant_json(gpointer room_state, ChorusParticipant *p, json_t *object)
{
  VoiceRoom *vr = room_state;
  Voicer *v = voicer_get(vr, p);
  if (v == NULL)
    return;
  json_object_set_new(object, "seat", v->seat >= 0 ? json_integer(v->seat) : json_null());
  json_object_set_new(object, "hand_raised", json_boolean(v->hand_raised));
  json_object_set_new(object, "muted", json_boolean(v->muted));
}

/* --- requests --- */

/* Reads optional "seat": -1 when absent. */
static gboolean
read_seat(VoiceRoom *vr, json_t *params, gint *seat_out, GError **error)
{
  json_t *v = json_object_get(params, "seat");
  *seat_out = -1;
  if (v == NULL || json_is_null(v))
    return TRUE;
  if (!json_is_integer(v) || json_integer_value(v) < 0 ||
      json_integer_value(v) >= (json_int_t)vr->seat_count) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_INVALID_PARAMS,
                "seat must be an integer 0..%u", vr->seat_count - 1);
    return FALSE;
  }
  *seat_out = (gint)json_integer_value(v);
  return TRUE;
}

static ChorusParticipant *
read_target(VoiceRoom *vr, json_t *params, GError **error)
{
  const char *id = json_string_value(json_object_get(params, "target"));
  if (id == NULL) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_INVALID_PARAMS,
                "target (participant id) is required");
    return NULL;
  }
  ChorusParticipant *target = vr->host->room_find_participant(vr->room, id);
  if (target == NULL)
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_NOT_FOUND,
                "no participant %s in room %s", id, vr->host->room_name(vr->room));
  return target;
}

static gboolean
require_host(VoiceRoom *vr, ChorusParticipant *p, const char *method, GError **error)
{
  if (is_host(vr, p))
    return TRUE;
  g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_FORBIDDEN,
              "%s is for hosts only (role %s)", method, vr->host->participant_role(p));
  return FALSE;
}

static gint
first_free_seat(VoiceRoom *vr)
{
  for (guint i = 0; i < vr->seat_count; i++)
    if (vr->seats[i] == NULL)
      return (gint)i;
  return -1;
}

static json_t *
seat_take(VoiceRoom *vr, ChorusParticipant *p, json_t *params, GError **error)
{
  Voicer *v = voicer_get(vr, p);
  gint seat;
  if (!read_seat(vr, params, &seat, error))
    return NULL;
  if (!is_speaker_or_host(vr, p) && !v->invited) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_FORBIDDEN,
                "listeners take a seat only when a host invites them (raise a hand)");
    return NULL;
  }
  if (seat < 0 && v->seat >= 0)
    return json_pack("{s:i}", "seat", v->seat); /* already seated: nothing to do */
  if (seat < 0 && v->invited_seat >= 0 && vr->seats[v->invited_seat] == NULL)
    seat = v->invited_seat;
  if (seat < 0) {
    seat = first_free_seat(vr);
    if (seat < 0) {
      g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_ROOM_FULL,
                  "no free seat (%u seats)", vr->seat_count);
      return NULL;
    }
  } else if (vr->seats[seat] != NULL && vr->seats[seat] != p) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_CONFLICT,
                "seat %d is taken by %s", seat, vr->host->participant_id(vr->seats[seat]));
    return NULL;
  }
  if (v->seat == seat)
    return json_pack("{s:i}", "seat", seat);
  if (v->seat >= 0)
    vr->seats[v->seat] = NULL;
  vr->seats[seat] = p;
  v->seat = seat;
  /* The invitation is used up; a seated participant's hand is answered. */
  v->invited = FALSE;
  v->invited_seat = -1;
  v->hand_raised = FALSE;
  vr->host->participant_updated(p);
  return json_pack("{s:i}", "seat", seat);
}

static json_t *
seat_leave(VoiceRoom *vr, ChorusParticipant *p)
{
  Voicer *v = voicer_get(vr, p);
  /* Idempotent: leaving when not seated is not an error. */
  if (v->seat >= 0) {
    vr->seats[v->seat] = NULL;
    v->seat = -1;
    vr->host->participant_updated(p);
    /* A listener without a seat is not heard any more. */
    vr->host->revoke_publishing(p);
  }
  return json_object();
}

static json_t *
hand_set(VoiceRoom *vr, ChorusParticipant *p, gboolean raised)
{
  Voicer *v = voicer_get(vr, p);
  if (v->hand_raised != raised) {
    v->hand_raised = raised;
    vr->host->participant_updated(p);
  }
  return json_object();
}

static json_t *
invite(VoiceRoom *vr, ChorusParticipant *p, json_t *params, GError **error)
{
  if (!require_host(vr, p, "voice.invite", error))
    return NULL;
  ChorusParticipant *target = read_target(vr, params, error);
  if (target == NULL)
    return NULL;
  gint seat;
  if (!read_seat(vr, params, &seat, error))
    return NULL;
  if (seat >= 0 && vr->seats[seat] != NULL && vr->seats[seat] != target) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_CONFLICT, "seat %d is taken",
                seat);
    return NULL;
  }
  Voicer *tv = voicer_get(vr, target);
  tv->invited = TRUE;
  tv->invited_seat = seat;
  /* Extension to PROTOCOL.md: the target learns it may now take a seat. */
  json_t *note = json_pack("{s:s, s:s, s:s}", "room", vr->host->room_name(vr->room),
                           "participant", vr->host->participant_id(target), "by",
                           vr->host->participant_id(p));
  json_object_set_new(note, "seat", seat >= 0 ? json_integer(seat) : json_null());
  vr->host->notify_participant(target, "voice.invited", note);
  json_decref(note);
  return json_object();
}

static json_t *
mute(VoiceRoom *vr, ChorusParticipant *p, json_t *params, GError **error)
{
  if (!require_host(vr, p, "voice.mute", error))
    return NULL;
  ChorusParticipant *target = read_target(vr, params, error);
  if (target == NULL)
    return NULL;
  /* Extension: {muted: false} unmutes; absent means mute. */
  json_t *m = json_object_get(params, "muted");
  if (m != NULL && !json_is_boolean(m)) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_INVALID_PARAMS,
                "muted must be a boolean");
    return NULL;
  }
  gboolean muted = m == NULL || json_is_true(m);
  Voicer *tv = voicer_get(vr, target);
  if (tv->muted != muted) {
    tv->muted = muted;
    /* Recorded now; the media layer makes it effective (FALSE until then). */
    vr->host->mute_forwarding(target, "audio", muted);
    vr->host->participant_updated(target);
  }
  return json_object();
}

static json_t *
kick(VoiceRoom *vr, ChorusParticipant *p, json_t *params, GError **error)
{
  if (!require_host(vr, p, "voice.kick", error))
    return NULL;
  ChorusParticipant *target = read_target(vr, params, error);
  if (target == NULL)
    return NULL;
  if (target == p) {
    g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_INVALID_PARAMS,
                "a host cannot kick itself (use leave)");
    return NULL;
  }
  vr->host->kick(target, "kicked");
  return json_object();
}

static json_t *
voice_handle_request(gpointer room_state, ChorusParticipant *p, const char *method,
                     json_t *params, GError **error)
{
  VoiceRoom *vr = room_state;
  if (strcmp(method, "voice.seat.take") == 0)
    return seat_take(vr, p, params, error);
  if (strcmp(method, "voice.seat.leave") == 0)
    return seat_leave(vr, p);
  if (strcmp(method, "voice.hand.raise") == 0)
    return hand_set(vr, p, TRUE);
  if (strcmp(method, "voice.hand.lower") == 0)
    return hand_set(vr, p, FALSE);
  if (strcmp(method, "voice.invite") == 0)
    return invite(vr, p, params, error);
  if (strcmp(method, "voice.mute") == 0)
    return mute(vr, p, params, error);
  if (strcmp(method, "voice.kick") == 0)
    return kick(vr, p, params, error);
  g_set_error(error, CHORUS_PLUGIN_ERROR, CHORUS_PLUGIN_ERROR_INTERNAL,
              "voice: unhandled method %s", method);
  return NULL;
}

static const ChorusPlugin voice_plugin = {
  .abi_version = CHORUS_PLUGIN_ABI_VERSION,
  .kind = "voice",
  .description = "voice rooms: hosts, speakers, listeners, seats and hands",
  .methods = methods,
  .default_role = "listener",
  .roles = roles,
  .room_created = voice_room_created,
  .room_destroyed = voice_room_destroyed,
  .join_check = NULL,
  .participant_joined = voice_participant_joined,
  .participant_left = voice_participant_left,
  .may_publish = voice_may_publish,
  .may_receive = voice_may_receive,
  .participant_json = voice_participant_json,
  .handle_request = voice_handle_request,
};

const ChorusPlugin *
chorus_plugin_get(void)
{
  return &voice_plugin;
}
