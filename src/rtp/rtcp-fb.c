#include "rtp/rtcp-fb.h"

#include <string.h>

#define FB_HEADER_LEN 12
#define NACK_MAX_FCI 65533u /* (65535 + 1) words minus the 3 of the header */
#define REMB_FIXED_LEN 20
#define REMB_MANTISSA_MAX 0x3ffffu

/* Checks the type and FMT of a feedback packet and returns its content
 * length (padding excluded). */
static gboolean
fb_content(const ChorusRtcpPacket *pkt, guint8 type, guint8 fmt, gsize min_len, gsize *end)
{
  return pkt->type == type && pkt->len >= CHORUS_RTCP_HEADER_LEN && (pkt->data[0] & 0x1f) == fmt &&
         chorus_rtcp_packet_content_len(pkt, end) && *end >= min_len;
}

static void
write_fb_header(guint8 *out, guint8 fmt, guint8 type, gsize len, guint32 sender, guint32 media)
{
  g_assert(len % 4 == 0 && len <= CHORUS_RTCP_MAX_PACKET_LEN);
  out[0] = (guint8)(0x80 | fmt);
  out[1] = type;
  chorus_rtp_write16(out + 2, (guint16)(len / 4 - 1));
  chorus_rtp_write32(out + 4, sender);
  chorus_rtp_write32(out + 8, media);
}

/* --- Generic NACK -------------------------------------------------------- */

ChorusRtpResult
chorus_rtcp_nack_parse(const ChorusRtcpPacket *pkt, guint32 *media_ssrc, guint16 *seqs, gsize cap,
                       gsize *n_total)
{
  *n_total = 0;
  gsize end;
  if (!fb_content(pkt, CHORUS_RTCP_RTPFB, CHORUS_RTCP_RTPFB_NACK, FB_HEADER_LEN + 4, &end))
    return CHORUS_RTP_DROP_MALFORMED;
  if (media_ssrc)
    *media_ssrc = chorus_rtp_read32(pkt->data + 8);
  gsize n = 0;
  for (gsize off = FB_HEADER_LEN; end - off >= 4; off += 4) {
    guint16 pid = chorus_rtp_read16(pkt->data + off);
    guint16 blp = chorus_rtp_read16(pkt->data + off + 2);
    if (n < cap)
      seqs[n] = pid;
    n++;
    for (guint bit = 0; bit < 16; bit++) {
      if ((blp & (1u << bit)) == 0)
        continue;
      if (n < cap)
        seqs[n] = (guint16)(pid + bit + 1);
      n++;
    }
  }
  *n_total = n;
  return CHORUS_RTP_OK;
}

gsize
chorus_rtcp_write_nack(guint8 *out, gsize cap, guint32 sender_ssrc, guint32 media_ssrc,
                       const guint16 *seqs, gsize n_seqs, gsize *n_consumed)
{
  *n_consumed = 0;
  g_return_val_if_fail(n_seqs == 0 || seqs != NULL, 0);
  if (n_seqs == 0 || cap < FB_HEADER_LEN + 4)
    return 0;
  gsize max_fci = MIN((cap - FB_HEADER_LEN) / 4, NACK_MAX_FCI);
  gsize off = FB_HEADER_LEN;
  gsize i = 0;
  while (i < n_seqs && (off - FB_HEADER_LEN) / 4 < max_fci) {
    guint16 pid = seqs[i++];
    guint16 blp = 0;
    for (; i < n_seqs; i++) {
      guint16 d = (guint16)(seqs[i] - pid);
      if (d > 16) /* beyond the bitmask, or behind the PID */
        break;
      if (d > 0)
        blp |= (guint16)(1u << (d - 1));
    }
    chorus_rtp_write16(out + off, pid);
    chorus_rtp_write16(out + off + 2, blp);
    off += 4;
  }
  write_fb_header(out, CHORUS_RTCP_RTPFB_NACK, CHORUS_RTCP_RTPFB, off, sender_ssrc, media_ssrc);
  *n_consumed = i;
  return off;
}

/* --- REMB ---------------------------------------------------------------- */

gboolean
chorus_rtcp_is_remb(const ChorusRtcpPacket *pkt)
{
  gsize end;
  return fb_content(pkt, CHORUS_RTCP_PSFB, CHORUS_RTCP_PSFB_AFB, REMB_FIXED_LEN, &end) &&
         memcmp(pkt->data + FB_HEADER_LEN, "REMB", 4) == 0;
}

ChorusRtpResult
chorus_rtcp_remb_parse(const ChorusRtcpPacket *pkt, guint64 *bitrate_bps, guint32 *ssrcs, gsize cap,
                       gsize *n_total)
{
  *bitrate_bps = 0;
  *n_total = 0;
  gsize end;
  if (!fb_content(pkt, CHORUS_RTCP_PSFB, CHORUS_RTCP_PSFB_AFB, REMB_FIXED_LEN, &end) ||
      memcmp(pkt->data + FB_HEADER_LEN, "REMB", 4) != 0)
    return CHORUS_RTP_DROP_MALFORMED;
  const guint8 *p = pkt->data + 16;
  guint n = p[0];
  if ((end - REMB_FIXED_LEN) / 4 < n)
    return CHORUS_RTP_DROP_MALFORMED;
  guint exp = p[1] >> 2;
  guint64 mantissa = ((guint64)(p[1] & 0x03) << 16) | chorus_rtp_read16(p + 2);
  if (exp > 0 && mantissa > (G_MAXUINT64 >> exp))
    *bitrate_bps = G_MAXUINT64;
  else
    *bitrate_bps = mantissa << exp;
  for (guint i = 0; i < n && i < cap; i++)
    ssrcs[i] = chorus_rtp_read32(pkt->data + REMB_FIXED_LEN + 4u * i);
  *n_total = n;
  return CHORUS_RTP_OK;
}

gsize
chorus_rtcp_write_remb(guint8 *out, gsize cap, guint32 sender_ssrc, guint64 bitrate_bps,
                       const guint32 *ssrcs, gsize n_ssrcs)
{
  g_return_val_if_fail(n_ssrcs <= CHORUS_RTCP_REMB_MAX_SSRCS, 0);
  g_return_val_if_fail(n_ssrcs == 0 || ssrcs != NULL, 0);
  gsize len = REMB_FIXED_LEN + 4 * n_ssrcs;
  if (cap < len)
    return 0;
  guint exp = 0;
  while ((bitrate_bps >> exp) > REMB_MANTISSA_MAX)
    exp++;
  guint32 mantissa = (guint32)(bitrate_bps >> exp);
  /* The media SSRC is unused in REMB and MUST be 0. */
  write_fb_header(out, CHORUS_RTCP_PSFB_AFB, CHORUS_RTCP_PSFB, len, sender_ssrc, 0);
  memcpy(out + FB_HEADER_LEN, "REMB", 4);
  out[16] = (guint8)n_ssrcs;
  out[17] = (guint8)((exp << 2) | (mantissa >> 16));
  chorus_rtp_write16(out + 18, (guint16)mantissa);
  for (gsize i = 0; i < n_ssrcs; i++)
    chorus_rtp_write32(out + REMB_FIXED_LEN + 4 * i, ssrcs[i]);
  return len;
}
