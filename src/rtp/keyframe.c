#include "rtp/keyframe.h"

static gboolean
vp8_keyframe(const guint8 *p, gsize len)
{
  if (len < 1)
    return FALSE;
  gboolean x = (p[0] & 0x80) != 0, s = (p[0] & 0x10) != 0;
  guint pid = p[0] & 0x07;
  if (!s || pid != 0)
    return FALSE;
  gsize off = 1;
  if (x) {
    if (len < 2)
      return FALSE;
    guint8 ext = p[1];
    off = 2;
    if (ext & 0x80) { /* I: picture id, 7 or 15 bits */
      if (off >= len)
        return FALSE;
      off += (p[off] & 0x80) ? 2 : 1;
    }
    if (ext & 0x40) /* L: TL0PICIDX */
      off += 1;
    if (ext & 0x30) /* T or K: TID/Y/KEYIDX */
      off += 1;
  }
  if (off >= len)
    return FALSE;
  return (p[off] & 0x01) == 0; /* P bit of the VP8 frame tag: 0 = key frame */
}

/* Skips the scalability structure (RFC 9628 section 4.2.1) at *@off. */
static gboolean
vp9_skip_ss(const guint8 *p, gsize len, gsize *off)
{
  if (*off >= len)
    return FALSE;
  guint8 ss = p[(*off)++];
  guint n_s = (ss >> 5) + 1;
  if (ss & 0x10) /* Y: a 16-bit width and height per spatial layer */
    *off += 4 * n_s;
  if (ss & 0x08) { /* G: picture group description */
    if (*off >= len)
      return FALSE;
    guint n_g = p[(*off)++];
    for (guint i = 0; i < n_g; i++) {
      if (*off >= len)
        return FALSE;
      *off += 1 + ((p[*off] >> 2) & 0x03); /* TID/U/R byte, then R P_DIFFs */
    }
  }
  return *off <= len;
}

/* The first byte of a VP9 uncompressed header (VP9 spec 6.2): frame_marker,
 * profile, [reserved_zero,] show_existing_frame, frame_type (0 = key). */
static gboolean
vp9_header_is_key(guint8 b)
{
  if ((b >> 6) != 2)
    return FALSE; /* not a frame marker */
  guint profile = ((b >> 5) & 1) | (((b >> 4) & 1) << 1);
  guint shift = profile == 3 ? 2 : 3; /* profile 3 has a reserved bit first */
  gboolean show_existing = (b >> shift) & 1;
  gboolean frame_type = (b >> (shift - 1)) & 1;
  return !show_existing && frame_type == 0;
}

static gboolean
vp9_keyframe(const guint8 *p, gsize len)
{
  if (len < 1)
    return FALSE;
  gboolean has_pid = (p[0] & 0x80) != 0, inter = (p[0] & 0x40) != 0, layer = (p[0] & 0x20) != 0,
           flexible = (p[0] & 0x10) != 0, begin = (p[0] & 0x08) != 0, ss = (p[0] & 0x02) != 0;
  if (!begin || inter)
    return FALSE;
  gsize off = 1;
  if (has_pid) {
    if (off >= len)
      return FALSE;
    off += (p[off] & 0x80) ? 2 : 1;
  }
  if (layer) {
    if (off >= len)
      return FALSE;
    if (((p[off] >> 1) & 0x07) != 0)
      return FALSE; /* SID > 0: an upper spatial layer, not where decoding starts */
    off += flexible ? 1 : 2; /* non-flexible mode adds TL0PICIDX */
  }
  /* P is clear, so flexible mode has no P_DIFF here. */
  if (ss && !vp9_skip_ss(p, len, &off))
    return FALSE;
  if (off >= len)
    return FALSE;
  return vp9_header_is_key(p[off]);
}

/* Where decoding of an H264 keyframe can start: its SPS (see keyframe.h). */
static gboolean
h264_nal_is_key(guint8 nal_type)
{
  return nal_type == 7;
}

static gboolean
h264_keyframe(const guint8 *p, gsize len)
{
  if (len < 1)
    return FALSE;
  guint8 type = p[0] & 0x1f;
  if (type >= 1 && type <= 23)
    return h264_nal_is_key(type);
  if (type == 24) { /* STAP-A: 16-bit sizes, then NAL units */
    gsize off = 1;
    while (off + 2 < len) {
      gsize n = ((gsize)p[off] << 8) | p[off + 1];
      off += 2;
      if (n == 0 || off + n > len)
        return FALSE;
      if (h264_nal_is_key(p[off] & 0x1f))
        return TRUE;
      off += n;
    }
    return FALSE;
  }
  if (type == 28) { /* FU-A: start bit and the fragmented NAL's type */
    if (len < 2)
      return FALSE;
    return (p[1] & 0x80) != 0 && h264_nal_is_key(p[1] & 0x1f);
  }
  return FALSE;
}

static gboolean
av1_keyframe(const guint8 *p, gsize len)
{
  /* Aggregation header: Z Y W W N - - -; N = new coded video sequence. */
  return len >= 1 && (p[0] & 0x08) != 0 && (p[0] & 0x80) == 0;
}

gboolean
chorus_rtp_is_keyframe_start(ChorusRtpCodec codec, const guint8 *payload, gsize len)
{
  switch (codec) {
  case CHORUS_RTP_CODEC_VP8: return vp8_keyframe(payload, len);
  case CHORUS_RTP_CODEC_VP9: return vp9_keyframe(payload, len);
  case CHORUS_RTP_CODEC_H264: return h264_keyframe(payload, len);
  case CHORUS_RTP_CODEC_AV1: return av1_keyframe(payload, len);
  case CHORUS_RTP_CODEC_OTHER: return FALSE;
  }
  return FALSE;
}

gboolean
chorus_rtp_keyframe_tracker_handle_packet(ChorusRtpKeyframeTracker *self, ChorusRtpCodec codec,
                                          guint32 timestamp, const guint8 *payload, gsize len)
{
  g_return_val_if_fail(self != NULL, FALSE);
  if (!chorus_rtp_is_keyframe_start(codec, payload, len))
    return FALSE;
  if (self->reported && self->timestamp == timestamp)
    return FALSE; /* this picture's start was already reported */
  self->reported = TRUE;
  self->timestamp = timestamp;
  return TRUE;
}
