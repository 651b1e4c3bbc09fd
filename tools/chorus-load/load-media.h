/* Media a synthetic publisher sends, encoded ONCE at start and looped:
 * thousands of publishers cost no encoder time, and every run sends the
 * same bytes.
 *
 * - Audio: Opus, 48 kHz mono (signalled opus/48000/2 as WebRTC does), 20 ms
 *   frames (or 10/40/60), in-band FEC; a tone or speech-like noise (voiced buzz plus
 *   noise in syllables and talk spurts with pauses, so that DTX and audio
 *   levels have something to do). Each frame carries its RFC 6464 level.
 * - Video: VP8 (libvpx, one-pass CBR, realtime), a moving pattern with
 *   fresh noise so that the encoder spends its bit budget. Keyframes only
 *   at known indices (every keyframe_interval frames), so that a PLI is
 *   answered by jumping to the next one.
 *
 * A clip is immutable once made and shared by every publisher on every
 * thread without a lock. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  LOAD_AUDIO_SPEECH,
  LOAD_AUDIO_TONE,
} LoadAudioSource;

typedef struct {
  guint8 *data;
  guint32 len;
  guint8 level_dbov; /* audio: RFC 6464 level, 0 (loud) .. 127 (silence) */
  gboolean voice;    /* audio: voice activity */
  gboolean keyframe; /* video */
} LoadFrame;

typedef struct {
  LoadFrame *frames;
  guint n_frames;
  gint64 frame_interval_us;
  guint32 timestamp_step; /* RTP clock ticks per frame */
  /* video */
  guint width, height, kbps;
  guint keyframe_interval;
  /* statistics of the encoded clip */
  guint64 total_bytes;
  guint n_keyframes;
  guint n_silent; /* audio: DTX frames not to be sent (<= 2 bytes) */
} LoadClip;

/* @seconds of audio in frames of @ptime_ms (10, 20, 40 or 60); @dtx: Opus
 * DTX (silent frames become <= 2 bytes and are not sent). Errors come from
 * libopus. (transfer full) */
LoadClip *load_clip_new_opus(LoadAudioSource source, gboolean dtx, guint ptime_ms, guint seconds,
                             GError **error);

/* @n_frames frames at @fps. (transfer full) */
LoadClip *load_clip_new_vp8(guint width, guint height, guint fps, guint kbps, guint n_frames,
                            guint keyframe_interval, GError **error);

void load_clip_free(LoadClip *clip);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LoadClip, load_clip_free)

/* Index of the first keyframe at or after @from, wrapping around; @from
 * itself if the clip has none (cannot happen: frame 0 is one). */
guint load_clip_next_keyframe(const LoadClip *clip, guint from);

/* Average bitrate of the clip in kbit/s. */
double load_clip_kbps(const LoadClip *clip);

G_END_DECLS
