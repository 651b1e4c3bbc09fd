#include "rtp/rtcp.h"

#include <string.h>

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
chorus_rtcp_packet_content_len(const ChorusRtcpPacket *pkt, gsize *len)
{
  if (pkt->len < CHORUS_RTCP_HEADER_LEN)
    return FALSE;
  if ((pkt->data[0] & 0x20) == 0) {
    *len = pkt->len;
    return TRUE;
  }
  guint8 pad = pkt->data[pkt->len - 1];
  if (pad == 0 || pad > pkt->len - CHORUS_RTCP_HEADER_LEN)
    return FALSE;
  *len = pkt->len - pad;
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
write_header(guint8 *out, guint8 count, guint8 type, gsize len)
{
  g_assert(len % 4 == 0 && len >= 4 && len <= CHORUS_RTCP_MAX_PACKET_LEN);
  out[0] = (guint8)(0x80 | count);
  out[1] = type;
  chorus_rtp_write16(out + 2, (guint16)(len / 4 - 1));
}

static void
write_fb_header(guint8 *out, guint8 fmt, guint8 type, guint16 words, guint32 sender, guint32 media)
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

gint64
chorus_rtcp_rtt_us(guint32 now_compact, guint32 lsr, guint32 dlsr)
{
  if (lsr == 0)
    return -1;
  /* Modular: the compact NTP clock wraps every 18 hours. */
  gint32 rtt = (gint32)(now_compact - lsr - dlsr);
  if (rtt < 0)
    return rtt >= -65536 ? 0 : -1;
  return ((gint64)rtt * G_USEC_PER_SEC) >> 16;
}

/* --- SR / RR ------------------------------------------------------------- */

#define REPORT_BLOCK_LEN 24
#define SENDER_INFO_LEN 20

static void
read_report_block(const guint8 *p, ChorusRtcpReportBlock *b)
{
  b->ssrc = chorus_rtp_read32(p);
  b->fraction_lost = p[4];
  guint32 lost = ((guint32)p[5] << 16) | ((guint32)p[6] << 8) | p[7];
  /* Sign-extend the 24-bit field. */
  b->cumulative_lost = (gint32)(lost ^ 0x800000u) - 0x800000;
  b->ext_highest_seq = chorus_rtp_read32(p + 8);
  b->jitter = chorus_rtp_read32(p + 12);
  b->lsr = chorus_rtp_read32(p + 16);
  b->dlsr = chorus_rtp_read32(p + 20);
}

static void
write_report_block(guint8 *p, const ChorusRtcpReportBlock *b)
{
  gint32 lost = CLAMP(b->cumulative_lost, -0x800000, 0x7fffff);
  guint32 lost24 = (guint32)lost & 0xffffffu;
  chorus_rtp_write32(p, b->ssrc);
  p[4] = b->fraction_lost;
  p[5] = (guint8)(lost24 >> 16);
  p[6] = (guint8)(lost24 >> 8);
  p[7] = (guint8)lost24;
  chorus_rtp_write32(p + 8, b->ext_highest_seq);
  chorus_rtp_write32(p + 12, b->jitter);
  chorus_rtp_write32(p + 16, b->lsr);
  chorus_rtp_write32(p + 20, b->dlsr);
}

ChorusRtpResult
chorus_rtcp_report_parse(const ChorusRtcpPacket *pkt, ChorusRtcpReport *report)
{
  memset(report, 0, sizeof(*report));
  gsize end;
  if ((pkt->type != CHORUS_RTCP_SR && pkt->type != CHORUS_RTCP_RR) ||
      !chorus_rtcp_packet_content_len(pkt, &end) || end < 8)
    return CHORUS_RTP_DROP_MALFORMED;
  const guint8 *p = pkt->data;
  report->ssrc = chorus_rtp_read32(p + 4);
  gsize off = 8;
  if (pkt->type == CHORUS_RTCP_SR) {
    if (end - off < SENDER_INFO_LEN)
      return CHORUS_RTP_DROP_MALFORMED;
    report->is_sr = TRUE;
    report->sender_info.ntp = ((guint64)chorus_rtp_read32(p + 8) << 32) | chorus_rtp_read32(p + 12);
    report->sender_info.rtp_ts = chorus_rtp_read32(p + 16);
    report->sender_info.packet_count = chorus_rtp_read32(p + 20);
    report->sender_info.octet_count = chorus_rtp_read32(p + 24);
    off += SENDER_INFO_LEN;
  }
  guint n = p[0] & 0x1f;
  if ((end - off) / REPORT_BLOCK_LEN < n)
    return CHORUS_RTP_DROP_MALFORMED;
  for (guint i = 0; i < n; i++) {
    read_report_block(p + off, &report->blocks[i]);
    off += REPORT_BLOCK_LEN;
  }
  report->n_blocks = n;
  if (off < end) {
    report->ext = p + off;
    report->ext_len = end - off;
  }
  return CHORUS_RTP_OK;
}

static gsize
write_report(guint8 *out, gsize cap, guint8 type, guint32 ssrc, const ChorusRtcpSenderInfo *info,
             const ChorusRtcpReportBlock *blocks, guint n_blocks)
{
  g_return_val_if_fail(n_blocks <= CHORUS_RTCP_MAX_COUNT, 0);
  g_return_val_if_fail(n_blocks == 0 || blocks != NULL, 0);
  gsize len = 8 + (info ? SENDER_INFO_LEN : 0) + (gsize)n_blocks * REPORT_BLOCK_LEN;
  if (cap < len)
    return 0;
  write_header(out, (guint8)n_blocks, type, len);
  chorus_rtp_write32(out + 4, ssrc);
  gsize off = 8;
  if (info) {
    chorus_rtp_write32(out + 8, (guint32)(info->ntp >> 32));
    chorus_rtp_write32(out + 12, (guint32)info->ntp);
    chorus_rtp_write32(out + 16, info->rtp_ts);
    chorus_rtp_write32(out + 20, info->packet_count);
    chorus_rtp_write32(out + 24, info->octet_count);
    off += SENDER_INFO_LEN;
  }
  for (guint i = 0; i < n_blocks; i++) {
    write_report_block(out + off, &blocks[i]);
    off += REPORT_BLOCK_LEN;
  }
  return len;
}

gsize
chorus_rtcp_write_sr(guint8 *out, gsize cap, guint32 ssrc, const ChorusRtcpSenderInfo *info,
                     const ChorusRtcpReportBlock *blocks, guint n_blocks)
{
  g_return_val_if_fail(info != NULL, 0);
  return write_report(out, cap, CHORUS_RTCP_SR, ssrc, info, blocks, n_blocks);
}

gsize
chorus_rtcp_write_rr(guint8 *out, gsize cap, guint32 ssrc, const ChorusRtcpReportBlock *blocks,
                     guint n_blocks)
{
  return write_report(out, cap, CHORUS_RTCP_RR, ssrc, NULL, blocks, n_blocks);
}

/* --- SDES ---------------------------------------------------------------- */

gboolean
chorus_rtcp_sdes_iter_init(ChorusRtcpSdesIter *it, const ChorusRtcpPacket *pkt)
{
  memset(it, 0, sizeof(*it));
  gsize end;
  if (pkt->type != CHORUS_RTCP_SDES || !chorus_rtcp_packet_content_len(pkt, &end))
    return FALSE;
  it->data = pkt->data;
  it->end = end;
  it->off = CHORUS_RTCP_HEADER_LEN;
  it->chunks_left = pkt->data[0] & 0x1f;
  return TRUE;
}

gboolean
chorus_rtcp_sdes_iter_next(ChorusRtcpSdesIter *it, guint32 *ssrc, ChorusRtcpSdesItem *item,
                           gboolean *malformed)
{
  *malformed = FALSE;
  for (;;) {
    if (!it->in_chunk) {
      if (it->chunks_left == 0)
        return FALSE;
      /* Chunks start on a 32-bit boundary (the end of the previous one is
       * padded); an SSRC and at least the terminating null octet. */
      if (it->end - it->off < 5) {
        *malformed = TRUE;
        it->chunks_left = 0;
        return FALSE;
      }
      it->ssrc = chorus_rtp_read32(it->data + it->off);
      it->off += 4;
      it->chunks_left--;
      it->in_chunk = TRUE;
    }
    if (it->off >= it->end)
      goto bad; /* no terminating null octet */
    guint8 type = it->data[it->off];
    if (type == CHORUS_RTCP_SDES_END) {
      /* One or more null octets up to the next 32-bit boundary. */
      gsize next = (it->off + 4) & ~(gsize)3;
      if (next > it->end)
        goto bad;
      it->off = next;
      it->in_chunk = FALSE;
      continue;
    }
    if (it->end - it->off < 2 || it->end - it->off - 2 < it->data[it->off + 1])
      goto bad;
    item->type = type;
    item->len = it->data[it->off + 1];
    item->value = it->data + it->off + 2;
    it->off += 2u + item->len;
    *ssrc = it->ssrc;
    return TRUE;
  }
bad:
  *malformed = TRUE;
  it->chunks_left = 0;
  it->in_chunk = FALSE;
  return FALSE;
}

gboolean
chorus_rtcp_sdes_find_cname(const ChorusRtcpPacket *pkt, guint32 *ssrc, const guint8 **cname,
                            gsize *cname_len)
{
  ChorusRtcpSdesIter it;
  ChorusRtcpSdesItem item;
  gboolean malformed;
  if (!chorus_rtcp_sdes_iter_init(&it, pkt))
    return FALSE;
  while (chorus_rtcp_sdes_iter_next(&it, ssrc, &item, &malformed)) {
    if (item.type == CHORUS_RTCP_SDES_CNAME) {
      *cname = item.value;
      *cname_len = item.len;
      return TRUE;
    }
  }
  return FALSE;
}

gsize
chorus_rtcp_write_sdes(guint8 *out, gsize cap, const ChorusRtcpSdesChunk *chunks, guint n_chunks)
{
  g_return_val_if_fail(n_chunks <= CHORUS_RTCP_MAX_COUNT, 0);
  g_return_val_if_fail(n_chunks == 0 || chunks != NULL, 0);
  if (cap < CHORUS_RTCP_HEADER_LEN)
    return 0;
  gsize off = CHORUS_RTCP_HEADER_LEN;
  for (guint c = 0; c < n_chunks; c++) {
    const ChorusRtcpSdesChunk *chunk = &chunks[c];
    g_return_val_if_fail(chunk->n_items == 0 || chunk->items != NULL, 0);
    if (cap - off < 4)
      return 0;
    chorus_rtp_write32(out + off, chunk->ssrc);
    off += 4;
    for (guint i = 0; i < chunk->n_items; i++) {
      const ChorusRtcpSdesItem *item = &chunk->items[i];
      g_return_val_if_fail(item->type != CHORUS_RTCP_SDES_END, 0);
      if (cap - off < 2u + item->len)
        return 0;
      out[off] = item->type;
      out[off + 1] = item->len;
      if (item->len > 0)
        memcpy(out + off + 2, item->value, item->len);
      off += 2u + item->len;
    }
    /* The null item, then null octets to the 32-bit boundary. */
    gsize next = (off + 4) & ~(gsize)3;
    if (next > cap)
      return 0;
    memset(out + off, 0, next - off);
    off = next;
  }
  if (off > CHORUS_RTCP_MAX_PACKET_LEN)
    return 0;
  write_header(out, (guint8)n_chunks, CHORUS_RTCP_SDES, off);
  return off;
}

gsize
chorus_rtcp_write_sdes_cname(guint8 *out, gsize cap, guint32 ssrc, const char *cname,
                             gsize cname_len)
{
  g_return_val_if_fail(cname != NULL || cname_len == 0, 0);
  g_return_val_if_fail(cname_len <= 255, 0);
  ChorusRtcpSdesItem item = {
      .type = CHORUS_RTCP_SDES_CNAME,
      .len = (guint8)cname_len,
      .value = (const guint8 *)cname,
  };
  ChorusRtcpSdesChunk chunk = {.ssrc = ssrc, .items = &item, .n_items = 1};
  return chorus_rtcp_write_sdes(out, cap, &chunk, 1);
}

/* --- BYE ----------------------------------------------------------------- */

ChorusRtpResult
chorus_rtcp_bye_parse(const ChorusRtcpPacket *pkt, ChorusRtcpBye *bye)
{
  memset(bye, 0, sizeof(*bye));
  gsize end;
  if (pkt->type != CHORUS_RTCP_BYE || !chorus_rtcp_packet_content_len(pkt, &end))
    return CHORUS_RTP_DROP_MALFORMED;
  guint n = pkt->data[0] & 0x1f;
  gsize off = CHORUS_RTCP_HEADER_LEN;
  if ((end - off) / 4 < n)
    return CHORUS_RTP_DROP_MALFORMED;
  for (guint i = 0; i < n; i++) {
    bye->ssrcs[i] = chorus_rtp_read32(pkt->data + off);
    off += 4;
  }
  bye->n_ssrcs = n;
  if (off < end) {
    guint8 rlen = pkt->data[off];
    if (end - off - 1 < rlen)
      return CHORUS_RTP_DROP_MALFORMED;
    bye->reason = pkt->data + off + 1;
    bye->reason_len = rlen;
  }
  return CHORUS_RTP_OK;
}

gsize
chorus_rtcp_write_bye(guint8 *out, gsize cap, const guint32 *ssrcs, guint n_ssrcs,
                      const char *reason, gsize reason_len)
{
  g_return_val_if_fail(n_ssrcs <= CHORUS_RTCP_MAX_COUNT, 0);
  g_return_val_if_fail(n_ssrcs == 0 || ssrcs != NULL, 0);
  g_return_val_if_fail(reason_len <= 255, 0);
  gsize len = CHORUS_RTCP_HEADER_LEN + 4u * n_ssrcs;
  if (reason != NULL)
    len = (len + 1 + reason_len + 3) & ~(gsize)3;
  if (cap < len)
    return 0;
  write_header(out, (guint8)n_ssrcs, CHORUS_RTCP_BYE, len);
  gsize off = CHORUS_RTCP_HEADER_LEN;
  for (guint i = 0; i < n_ssrcs; i++) {
    chorus_rtp_write32(out + off, ssrcs[i]);
    off += 4;
  }
  if (reason != NULL) {
    out[off] = (guint8)reason_len;
    if (reason_len > 0)
      memcpy(out + off + 1, reason, reason_len);
    off += 1 + reason_len;
    memset(out + off, 0, len - off);
  }
  return len;
}

/* --- Compound ------------------------------------------------------------ */

void
chorus_rtcp_compound_init(ChorusRtcpCompound *c, guint8 *buf, gsize cap)
{
  c->data = buf;
  c->cap = cap;
  c->len = 0;
  c->n_packets = 0;
}

guint8 *
chorus_rtcp_compound_reserve(ChorusRtcpCompound *c, gsize *room)
{
  *room = c->cap - c->len;
  return c->data + c->len;
}

/* How many whole RTCP packets @data holds; FALSE when it is not a sequence
 * of them. */
static gboolean
count_packets(const guint8 *data, gsize len, guint *count)
{
  ChorusRtcpIter it;
  ChorusRtcpPacket pkt;
  gboolean malformed;
  *count = 0;
  if (!chorus_rtcp_iter_init(&it, data, len))
    return FALSE;
  while (chorus_rtcp_iter_next(&it, &pkt, &malformed))
    (*count)++;
  return !malformed;
}

gboolean
chorus_rtcp_compound_commit(ChorusRtcpCompound *c, gsize n)
{
  guint added;
  if (n == 0 || n > c->cap - c->len || !count_packets(c->data + c->len, n, &added))
    return FALSE;
  c->len += n;
  c->n_packets += added;
  return TRUE;
}

gboolean
chorus_rtcp_compound_append(ChorusRtcpCompound *c, const guint8 *pkt, gsize len)
{
  if (len == 0 || len > c->cap - c->len)
    return FALSE;
  memmove(c->data + c->len, pkt, len);
  return chorus_rtcp_compound_commit(c, len);
}

gboolean
chorus_rtcp_compound_finish(const ChorusRtcpCompound *c, gboolean reduced_size, gsize *len)
{
  if (c->n_packets == 0)
    return FALSE;
  if (!reduced_size && c->data[1] != CHORUS_RTCP_SR && c->data[1] != CHORUS_RTCP_RR)
    return FALSE;
  *len = c->len;
  return TRUE;
}
