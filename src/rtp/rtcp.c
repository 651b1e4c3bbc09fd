#include "rtp/rtcp.h"

#include "rtp/rtp-packet.h"

gboolean
chorus_rtcp_iter_init(ChorusRtcpIter *it, const guint8 *data, gsize len)
{
  it->data = data;
  it->len = len;
  it->off = 0;
  return len >= 4;
}

gboolean
chorus_rtcp_iter_next(ChorusRtcpIter *it, ChorusRtcpPacket *pkt, gboolean *malformed)
{
  *malformed = FALSE;
  if (it->off == it->len)
    return FALSE;
  if (it->len - it->off < 4) {
    *malformed = TRUE;
    return FALSE;
  }
  const guint8 *p = it->data + it->off;
  gsize plen = 4u * (chorus_rtp_read16(p + 2) + 1u);
  if ((p[0] >> 6) != 2 || plen > it->len - it->off || p[1] < CHORUS_RTCP_SR ||
      p[1] > CHORUS_RTCP_XR) {
    *malformed = TRUE;
    return FALSE;
  }
  pkt->type = p[1];
  pkt->count = p[0] & 0x1f;
  pkt->data = p;
  pkt->len = plen;
  pkt->sender_ssrc = plen >= 8 ? chorus_rtp_read32(p + 4) : 0;
  it->off += plen;
  return TRUE;
}

gboolean
chorus_rtcp_fb_media_ssrc(const ChorusRtcpPacket *pkt, guint32 *media_ssrc)
{
  if ((pkt->type != CHORUS_RTCP_PSFB && pkt->type != CHORUS_RTCP_RTPFB) || pkt->len < 12)
    return FALSE;
  *media_ssrc = chorus_rtp_read32(pkt->data + 8);
  return TRUE;
}

gboolean
chorus_rtcp_is_keyframe_request(const ChorusRtcpPacket *pkt, guint32 *media_ssrc)
{
  if (pkt->type != CHORUS_RTCP_PSFB)
    return FALSE;
  if (pkt->count == CHORUS_RTCP_PSFB_PLI)
    return chorus_rtcp_fb_media_ssrc(pkt, media_ssrc);
  if (pkt->count == CHORUS_RTCP_PSFB_FIR && pkt->len >= 20) {
    /* RFC 5104 4.3.1: the FCI entries carry the SSRC; media SSRC is unused. */
    *media_ssrc = chorus_rtp_read32(pkt->data + 12);
    return TRUE;
  }
  return FALSE;
}

static void
write_fb_header(guint8 *out, guint8 fmt, guint8 type, guint16 words, guint32 sender,
                guint32 media)
{
  out[0] = (guint8)(0x80 | fmt);
  out[1] = type;
  chorus_rtp_write16(out + 2, words);
  chorus_rtp_write32(out + 4, sender);
  chorus_rtp_write32(out + 8, media);
}

gsize
chorus_rtcp_write_pli(guint8 *out, gsize cap, guint32 sender_ssrc, guint32 media_ssrc)
{
  if (cap < 12)
    return 0;
  write_fb_header(out, CHORUS_RTCP_PSFB_PLI, CHORUS_RTCP_PSFB, 2, sender_ssrc, media_ssrc);
  return 12;
}

gsize
chorus_rtcp_write_fir(guint8 *out, gsize cap, guint32 sender_ssrc, guint32 media_ssrc,
                      guint8 seq_nr)
{
  if (cap < 20)
    return 0;
  write_fb_header(out, CHORUS_RTCP_PSFB_FIR, CHORUS_RTCP_PSFB, 4, sender_ssrc, 0);
  chorus_rtp_write32(out + 12, media_ssrc);
  out[16] = seq_nr;
  out[17] = out[18] = out[19] = 0;
  return 20;
}
