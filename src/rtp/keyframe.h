/* Keyframe detection from RTP payloads (sans-IO): does this packet start a
 * frame a decoder can start from? Used to start a subscriber's video, and
 * to switch simulcast layers, exactly on a keyframe. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  CHORUS_RTP_CODEC_OTHER = 0, /* audio, or nothing to detect */
  CHORUS_RTP_CODEC_VP8,
  CHORUS_RTP_CODEC_VP9,
  CHORUS_RTP_CODEC_H264,
  CHORUS_RTP_CODEC_AV1,
} ChorusRtpCodec;

/* TRUE when @payload (the RTP payload, after header and extensions) is the
 * first packet of a keyframe:
 * - VP8 (RFC 7741): start of partition 0 (S=1, PID=0) with the frame
 *   header's P bit clear.
 * - VP9 (RFC 9628): B (start of frame) set and P (inter-picture predicted)
 *   clear, for the first spatial layer.
 * - H264 (RFC 6184): an SPS or IDR NAL unit, alone, in a STAP-A, or the
 *   start fragment of an FU-A.
 * - AV1 (AV1 RTP spec): the N bit (first packet of a coded video sequence).
 * Truncated payloads are FALSE. */
gboolean chorus_rtp_is_keyframe_start(ChorusRtpCodec codec, const guint8 *payload, gsize len);

G_END_DECLS
