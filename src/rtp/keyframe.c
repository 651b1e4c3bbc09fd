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

static gboolean
vp9_keyframe(const guint8 *p, gsize len)
{
  if (len < 1)
    return FALSE;
  gboolean inter = (p[0] & 0x40) != 0, layer = (p[0] & 0x20) != 0, begin = (p[0] & 0x08) != 0;
  if (!begin || inter)
    return FALSE;
  if (!layer)
    return TRUE;
  /* Layer indices follow the picture id (if I) : need SID == 0. */
  gsize off = 1;
  if (p[0] & 0x80) {
    if (off >= len)
      return FALSE;
    off += (p[off] & 0x80) ? 2 : 1;
  }
  if (off >= len)
    return FALSE;
  guint sid = (p[off] >> 1) & 0x07;
  return sid == 0;
}

static gboolean
h264_nal_is_key(guint8 nal_type)
{
  return nal_type == 5 || nal_type == 7; /* IDR slice, SPS */
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
