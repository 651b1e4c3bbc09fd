/* Keyframe detection from RTP payloads (sans-IO): does this packet start a
 * frame a decoder can start from? Used to start a subscriber's video, and
 * to switch simulcast layers, exactly on a keyframe.
 *
 * Checked against packets captured from real encoders and packetizers
 * (Chromium's libwebrtc, ffmpeg, GStreamer), with a decoder's verdict as
 * the truth: tests/unit/data/keyframes/README.md. */
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
 * - VP9 (RFC 9628): B (start of a layer frame) set, P (inter-picture
 *   predicted) clear, spatial layer 0, and the VP9 frame header that
 *   follows the descriptor says KEY_FRAME. The header is read because
 *   ffmpeg's packetizer never sets P: the descriptor alone would make every
 *   frame a keyframe.
 * - H264 (RFC 6184): a packet carrying an SPS: alone, in a STAP-A, or the
 *   start fragment of an FU-A. Not an IDR slice by itself: encoders send
 *   SPS+PPS in front of each IDR, so the IDR's packet is never the first
 *   one of the keyframe (libwebrtc: STAP-A(SPS, PPS) then FU-A(IDR)), and a
 *   subscriber started at the IDR would lack the parameter sets. Limits,
 *   seen on real streams: an access unit delimiter sent alone in front of
 *   the SPS (x264 + GStreamer) is not recognised, so the keyframe is found
 *   one packet late, which still decodes (the AUD can be dropped); an
 *   encoder that repeats the SPS in front of every slice (GStreamer with
 *   config-interval=-1 and a multi-slice x264) makes several packets of one
 *   keyframe TRUE: ChorusRtpKeyframeTracker reports only the first; an IDR
 *   whose parameter sets are only out of band (SDP sprop-parameter-sets) is
 *   never found.
 * - AV1 (AV1 RTP spec): the N bit (first packet of a coded video sequence)
 *   with Z clear.
 * Truncated payloads are FALSE. Stateless: see the tracker below for one
 * verdict per picture. */
gboolean chorus_rtp_is_keyframe_start(ChorusRtpCodec codec, const guint8 *payload, gsize len);

/* Per-stream keyframe detection that reports at most one packet per picture
 * (RTP timestamp): the first packet, in arrival order, for which
 * chorus_rtp_is_keyframe_start() is TRUE. Later ones of the same picture
 * (an H264 SPS repeated in front of each slice) are FALSE, so that a
 * subscriber or a layer switch never starts in the middle of a keyframe.
 * A zeroed struct is a new tracker; embed one per received stream. */
typedef struct {
  guint32 timestamp; /* of the picture whose start was last reported */
  gboolean reported; /* FALSE until the first report */
} ChorusRtpKeyframeTracker;

gboolean chorus_rtp_keyframe_tracker_handle_packet(ChorusRtpKeyframeTracker *self,
                                                   ChorusRtpCodec codec, guint32 timestamp,
                                                   const guint8 *payload, gsize len);

G_END_DECLS
