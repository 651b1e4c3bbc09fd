/* The client-to-mixer audio level header extension (RFC 6464): parse and
 * write, conversions between -dBov and a linear 0..1 amplitude, and a tiny
 * smoother. Policy (who is speaking) lives elsewhere. Sans-IO; no libm. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* 127 means -127 dBov or quieter: treated as silence (linear 0). */
#define CHORUS_RTP_AUDIO_LEVEL_SILENT 127

/* Reads the extension value: @voice is the V bit (the sender's voice
 * activity guess), @level_dbov the level in -dBov (0 loudest, 127 silent).
 * FALSE for an empty value. */
gboolean chorus_rtp_audio_level_parse(const guint8 *value, gsize len, gboolean *voice,
                                      guint8 *level_dbov);

/* Writes the 1-byte value (@level_dbov clamped to 127); 1, or 0 when @cap is 0. */
gsize chorus_rtp_audio_level_write(guint8 *out, gsize cap, gboolean voice, guint8 level_dbov);

/* -dBov to linear amplitude: 10^(-level/20), and 127 (or more) to 0.0. */
double chorus_rtp_audio_level_to_linear(guint8 level_dbov);

/* Linear amplitude to the nearest -dBov (0..127); <= 0 gives 127, >= 1
 * gives 0. */
guint8 chorus_rtp_audio_level_from_linear(double linear);

/* First-order smoothing of the linear level over time: each sample moves
 * the value by dt / (time_constant + dt) of the way, so the result does
 * not depend on the packet rate. A plain struct the owner embeds. */
typedef struct {
  double linear;
  gint64 last_us;
  gint64 time_constant_us;
  gboolean started;
} ChorusRtpAudioLevelSmoother;

void chorus_rtp_audio_level_smoother_init(ChorusRtpAudioLevelSmoother *self,
                                          gint64 time_constant_us);
/* A level sample (-dBov) taken at @now_us; the first one is taken as is. */
void chorus_rtp_audio_level_smoother_handle(ChorusRtpAudioLevelSmoother *self, guint8 level_dbov,
                                            gint64 now_us);
/* The smoothed linear level, 0..1 (0 before the first sample). */
double chorus_rtp_audio_level_smoother_get(const ChorusRtpAudioLevelSmoother *self);

G_END_DECLS
