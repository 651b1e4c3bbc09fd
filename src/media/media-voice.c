/* Voice rooms on the worker: active speakers from the RFC 6464 audio level
 * of every audio packet (rtp/speaker-detector), and top-N audio slots: a
 * subscriber's audio arrives on a fixed number of audio m-lines ("slot"
 * downtracks, made at its first subscribe) onto which the loudest speakers
 * other than itself are mapped (rtp/audio-slots). A slot changing speaker
 * is a source change for its downtrack (SSRC, sequence and timestamp stay
 * continuous), so speakers changing never renegotiates. */
#include <string.h>

#include "media/media-private.h"
#include "rtp/audio-level.h"
#include "rtp/rtp-packet.h"

struct _MediaVoice {
  guint n_slots;
  ChorusSpeakerDetector *detector;
  Uptrack *sources[CHORUS_SPEAKER_MAX_SOURCES]; /* speaker id - 1 -> audio uptrack */
  ChorusSdpPayload *codec;                       /* what slot m-lines offer: Opus */
  guint32 active[CHORUS_SPEAKER_MAX_SOURCES];  /* as last reported (`speakers`) */
  gsize n_active;
  /* What the slots carry: the active speakers, then anyone who just started
   * (so that a free slot carries a new speaker from the first loud packet,
   * not after the ~400 ms it takes to count as active). */
  guint32 audible[CHORUS_SPEAKER_MAX_SOURCES];
  gsize n_audible;
};

static MediaVoice *
voice_new(guint n_slots)
{
  MediaVoice *v = g_new0(MediaVoice, 1);
  v->n_slots = n_slots;
  ChorusSpeakerDetectorConfig config;
  chorus_speaker_detector_config_init(&config);
  /* Report one more than the slots: a speaker among the loudest still
   * hears n_slots others. */
  config.max_active = MIN(n_slots + 1, CHORUS_SPEAKER_MAX_SOURCES);
  v->detector = chorus_speaker_detector_new(&config);
  v->codec = g_new0(ChorusSdpPayload, 1);
  v->codec->pt = 111;
  v->codec->id = CHORUS_SDP_CODEC_OPUS;
  v->codec->name = g_strdup("opus");
  v->codec->clock_rate = 48000;
  v->codec->channels = 2;
  v->codec->fmtp = g_strdup(MEDIA_OPUS_FMTP);
  return v;
}

void
media_voice_free(MediaVoice *v)
{
  if (v == NULL)
    return;
  chorus_speaker_detector_free(v->detector);
  chorus_sdp_payload_free(v->codec);
  g_free(v);
}

const ChorusSdpPayload *
media_voice_slot_codec(MediaRoom *room)
{
  return room->voice ? room->voice->codec : NULL;
}

static void
add_source(MediaVoice *v, Uptrack *up)
{
  if (up->kind != CHORUS_SDP_KIND_AUDIO || up->speaker_id != 0)
    return;
  for (guint i = 0; i < CHORUS_SPEAKER_MAX_SOURCES; i++) {
    if (v->sources[i] == NULL && chorus_speaker_detector_add_source(v->detector, i + 1)) {
      v->sources[i] = up;
      up->speaker_id = i + 1;
      chorus_speaker_detector_set_muted(v->detector, up->speaker_id, up->muted);
      return;
    }
  }
  g_warning("room %s: more than %d audio tracks: %s takes no part in speaker detection",
            up->owner->room->name, CHORUS_SPEAKER_MAX_SOURCES, up->id);
}

void
media_voice_set_slots(MediaRoom *room, guint n_slots)
{
  if (room->voice != NULL || n_slots == 0)
    return; /* set once, at room creation */
  room->voice = voice_new(MIN(n_slots, CHORUS_AUDIO_SLOTS_MAX));
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, room->tracks);
  while (g_hash_table_iter_next(&it, NULL, &value))
    add_source(room->voice, value);
}

void
media_voice_uptrack_added(MediaRoom *room, Uptrack *up)
{
  if (room->voice)
    add_source(room->voice, up);
}

/* Another source: continue the subscriber's sequence and timeline. */
static void
media_downtrack_source_changed(Downtrack *d)
{
  chorus_rtp_munger_rebase(&d->munger);
}

/* Points slot downtrack @d at @up (or at nobody). */
static void
slot_set_source(Downtrack *d, Uptrack *up)
{
  if (d->up == up)
    return;
  if (d->up)
    g_ptr_array_remove_fast(d->up->downtracks, d);
  d->up = up;
  g_free(d->publisher_id);
  d->publisher_id = up ? g_strdup(up->owner->id) : NULL;
  if (up == NULL)
    return;
  g_ptr_array_add(up->downtracks, d);
  media_downtrack_build_ext_map(d);
  media_downtrack_source_changed(d);
}

void
media_voice_uptrack_removed(MediaRoom *room, Uptrack *up)
{
  /* Slot downtracks are the subscriber's, not the track's: they stay,
   * empty until the next assignment. */
  for (guint i = up->downtracks->len; i-- > 0;) {
    Downtrack *d = g_ptr_array_index(up->downtracks, i);
    if (d->slot >= 0) {
      slot_set_source(d, NULL);
      d->sub->slots.source[d->slot] = 0;
    }
  }
  MediaVoice *v = room->voice;
  if (v && up->speaker_id != 0) {
    chorus_speaker_detector_remove_source(v->detector, up->speaker_id);
    v->sources[up->speaker_id - 1] = NULL;
    up->speaker_id = 0;
  }
}

void
media_voice_set_muted(MediaRoom *room, Uptrack *up)
{
  if (room->voice && up->speaker_id != 0)
    chorus_speaker_detector_set_muted(room->voice->detector, up->speaker_id, up->muted);
}

void
media_voice_handle_packet(Uptrack *up, const ChorusRtpPacket *pkt, gint64 now_us)
{
  MediaVoice *v = up->owner->room->voice;
  const guint8 *value;
  gsize n;
  gboolean voice;
  guint8 level;
  if (v == NULL || up->speaker_id == 0 ||
      !chorus_rtp_packet_find_extension(pkt, up->ext_ids[CHORUS_SDP_EXT_AUDIO_LEVEL], &value, &n) ||
      !chorus_rtp_audio_level_parse(value, n, &voice, &level))
    return;
  chorus_speaker_detector_handle_level(v->detector, up->speaker_id, level, now_us);
}

/* The speaker id a subscriber must not hear: its own voice. */
static guint32
own_speaker_id(MediaPart *part)
{
  for (guint i = 0; i < part->uptracks->len; i++) {
    Uptrack *up = g_ptr_array_index(part->uptracks, i);
    if (up->speaker_id != 0)
      return up->speaker_id;
  }
  return 0;
}

static void
assign_slots(MediaVoice *v, MediaPart *part)
{
  if (part->slot_downtracks[0] == NULL)
    return;
  guint changed = chorus_audio_slots_assign(&part->slots, v->audible, v->n_audible, own_speaker_id(part));
  for (guint s = 0; s < v->n_slots; s++) {
    if (!(changed & (1u << s)))
      continue;
    guint32 id = part->slots.source[s];
    slot_set_source(part->slot_downtracks[s], id ? v->sources[id - 1] : NULL);
  }
}

gboolean
media_voice_subscribe(MediaPart *part)
{
  MediaRoom *room = part->room;
  MediaVoice *v = room->voice;
  if (v == NULL || part->slot_downtracks[0] != NULL)
    return FALSE;
  chorus_audio_slots_init(&part->slots, v->n_slots);
  for (guint s = 0; s < v->n_slots; s++) {
    Downtrack *d = media_downtrack_new(part, NULL, NULL);
    d->slot = (gint)s;
    d->track_id = g_strdup_printf("slot-%u", s);
    d->pt = v->codec->pt;
    part->slot_downtracks[s] = d;
    g_ptr_array_add(part->downtracks, d);
  }
  assign_slots(v, part);
  return TRUE;
}

static json_t *
speakers_json(MediaVoice *v)
{
  json_t *list = json_array();
  for (gsize i = 0; i < v->n_active; i++) {
    Uptrack *up = v->sources[v->active[i] - 1];
    if (up == NULL)
      continue;
    /* 0 at -90 dBov (silence), 1 at 0 dBov, linear in dB: what a
     * "speaking" indicator wants. */
    guint8 dbov = chorus_speaker_detector_get_level(v->detector, v->active[i]);
    double level = CLAMP((90.0 - dbov) / 90.0, 0.0, 1.0);
    json_array_append_new(list, json_pack("{s:s, s:f}", "participant", up->owner->id, "level",
                                          (double)((int)(level * 100 + 0.5)) / 100));
  }
  return list;
}

void
media_voice_tick(MediaRoom *room, gint64 now_us)
{
  MediaVoice *v = room->voice;
  if (v == NULL)
    return;
  gsize n = 0;
  if (chorus_speaker_detector_poll(v->detector, now_us, v->active, G_N_ELEMENTS(v->active), &n)) {
    v->n_active = n;
    media_emit_speakers(room, speakers_json(v));
  }
  guint32 audible[CHORUS_SPEAKER_MAX_SOURCES];
  n = chorus_speaker_detector_get_audible(v->detector, audible, G_N_ELEMENTS(audible));
  if (n == v->n_audible && memcmp(audible, v->audible, n * sizeof(audible[0])) == 0)
    return;
  memcpy(v->audible, audible, n * sizeof(audible[0]));
  v->n_audible = n;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, room->parts);
  while (g_hash_table_iter_next(&it, NULL, &value))
    assign_slots(v, value);
}
