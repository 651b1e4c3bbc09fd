#include "webrtc/demux.h"

ChorusDemuxKind
chorus_demux_classify(const guint8 *buf, gsize len)
{
  if (buf == NULL || len == 0)
    return CHORUS_DEMUX_UNKNOWN;
  guint8 b0 = buf[0];
  if (b0 <= 3)
    return len >= CHORUS_DEMUX_STUN_MIN_LEN ? CHORUS_DEMUX_STUN : CHORUS_DEMUX_UNKNOWN;
  if (b0 >= 20 && b0 <= 63)
    return len >= CHORUS_DEMUX_DTLS_MIN_LEN ? CHORUS_DEMUX_DTLS : CHORUS_DEMUX_UNKNOWN;
  if (b0 >= 128 && b0 <= 191) {
    if (len < 2)
      return CHORUS_DEMUX_UNKNOWN;
    guint8 pt = buf[1] & 0x7f;
    if (pt >= 64 && pt <= 95)
      return len >= CHORUS_DEMUX_RTCP_MIN_LEN ? CHORUS_DEMUX_RTCP : CHORUS_DEMUX_UNKNOWN;
    return len >= CHORUS_DEMUX_RTP_MIN_LEN ? CHORUS_DEMUX_RTP : CHORUS_DEMUX_UNKNOWN;
  }
  return CHORUS_DEMUX_UNKNOWN;
}

const char *
chorus_demux_kind_to_string(ChorusDemuxKind kind)
{
  switch (kind) {
  case CHORUS_DEMUX_STUN:
    return "stun";
  case CHORUS_DEMUX_DTLS:
    return "dtls";
  case CHORUS_DEMUX_RTP:
    return "rtp";
  case CHORUS_DEMUX_RTCP:
    return "rtcp";
  case CHORUS_DEMUX_UNKNOWN:
    break;
  }
  return "unknown";
}
