#include "rtp/rtcp-xr.h"

#include <string.h>

#define XR_FIXED_LEN 8 /* RTCP header + sender SSRC */
#define BLOCK_HEADER_LEN 4
#define RRTR_BODY_LEN 8
#define DLRR_ITEM_LEN 12
#define DLRR_MAX_ITEMS 21845u /* 16-bit block length, 3 words per item */

gboolean
chorus_rtcp_xr_iter_init(ChorusRtcpXrIter *it, const ChorusRtcpPacket *pkt, guint32 *ssrc)
{
  memset(it, 0, sizeof(*it));
  gsize end;
  if (pkt->type != CHORUS_RTCP_XR || !chorus_rtcp_packet_content_len(pkt, &end) ||
      end < XR_FIXED_LEN)
    return FALSE;
  it->data = pkt->data;
  it->end = end;
  it->off = XR_FIXED_LEN;
  if (ssrc)
    *ssrc = chorus_rtp_read32(pkt->data + 4);
  return TRUE;
}

gboolean
chorus_rtcp_xr_iter_next(ChorusRtcpXrIter *it, ChorusRtcpXrBlock *block, gboolean *malformed)
{
  *malformed = FALSE;
  if (it->off >= it->end)
    return FALSE;
  const guint8 *p = it->data + it->off;
  gsize left = it->end - it->off;
  if (left < BLOCK_HEADER_LEN || (left - BLOCK_HEADER_LEN) / 4 < chorus_rtp_read16(p + 2)) {
    *malformed = TRUE;
    it->off = it->end;
    return FALSE;
  }
  block->type = p[0];
  block->type_specific = p[1];
  block->body = p + BLOCK_HEADER_LEN;
  block->body_len = 4u * chorus_rtp_read16(p + 2);
  it->off += BLOCK_HEADER_LEN + block->body_len;
  return TRUE;
}

ChorusRtpResult
chorus_rtcp_xr_rrtr_parse(const ChorusRtcpXrBlock *block, guint64 *ntp)
{
  if (block->type != CHORUS_RTCP_XR_RRTR || block->body_len != RRTR_BODY_LEN)
    return CHORUS_RTP_DROP_MALFORMED;
  *ntp = ((guint64)chorus_rtp_read32(block->body) << 32) | chorus_rtp_read32(block->body + 4);
  return CHORUS_RTP_OK;
}

ChorusRtpResult
chorus_rtcp_xr_dlrr_parse(const ChorusRtcpXrBlock *block, ChorusRtcpDlrrItem *items, gsize cap,
                          gsize *n_total)
{
  *n_total = 0;
  if (block->type != CHORUS_RTCP_XR_DLRR || block->body_len % DLRR_ITEM_LEN != 0)
    return CHORUS_RTP_DROP_MALFORMED;
  gsize n = block->body_len / DLRR_ITEM_LEN;
  for (gsize i = 0; i < n && i < cap; i++) {
    const guint8 *p = block->body + DLRR_ITEM_LEN * i;
    items[i].ssrc = chorus_rtp_read32(p);
    items[i].last_rr = chorus_rtp_read32(p + 4);
    items[i].dlrr = chorus_rtp_read32(p + 8);
  }
  *n_total = n;
  return CHORUS_RTP_OK;
}

gsize
chorus_rtcp_write_xr(guint8 *out, gsize cap, guint32 ssrc, const guint64 *rrtr_ntp,
                     const ChorusRtcpDlrrItem *items, gsize n_items)
{
  g_return_val_if_fail(n_items <= DLRR_MAX_ITEMS, 0);
  g_return_val_if_fail(n_items == 0 || items != NULL, 0);
  gsize len = XR_FIXED_LEN;
  if (rrtr_ntp)
    len += BLOCK_HEADER_LEN + RRTR_BODY_LEN;
  if (n_items > 0)
    len += BLOCK_HEADER_LEN + DLRR_ITEM_LEN * n_items;
  if (cap < len || len > CHORUS_RTCP_MAX_PACKET_LEN)
    return 0;
  out[0] = 0x80; /* the 5 bits after P are reserved in XR */
  out[1] = CHORUS_RTCP_XR;
  chorus_rtp_write16(out + 2, (guint16)(len / 4 - 1));
  chorus_rtp_write32(out + 4, ssrc);
  gsize off = XR_FIXED_LEN;
  if (rrtr_ntp) {
    out[off] = CHORUS_RTCP_XR_RRTR;
    out[off + 1] = 0;
    chorus_rtp_write16(out + off + 2, RRTR_BODY_LEN / 4);
    chorus_rtp_write32(out + off + 4, (guint32)(*rrtr_ntp >> 32));
    chorus_rtp_write32(out + off + 8, (guint32)*rrtr_ntp);
    off += BLOCK_HEADER_LEN + RRTR_BODY_LEN;
  }
  if (n_items > 0) {
    out[off] = CHORUS_RTCP_XR_DLRR;
    out[off + 1] = 0;
    chorus_rtp_write16(out + off + 2, (guint16)(DLRR_ITEM_LEN * n_items / 4));
    off += BLOCK_HEADER_LEN;
    for (gsize i = 0; i < n_items; i++) {
      chorus_rtp_write32(out + off, items[i].ssrc);
      chorus_rtp_write32(out + off + 4, items[i].last_rr);
      chorus_rtp_write32(out + off + 8, items[i].dlrr);
      off += DLRR_ITEM_LEN;
    }
  }
  return len;
}
