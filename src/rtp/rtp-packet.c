#include "rtp/rtp-packet.h"

#include <string.h>

ChorusRtpResult
chorus_rtp_packet_parse(ChorusRtpPacket *pkt, const guint8 *data, gsize len)
{
  memset(pkt, 0, sizeof(*pkt));
  if (len < CHORUS_RTP_HEADER_MIN || (data[0] >> 6) != 2)
    return CHORUS_RTP_DROP_MALFORMED;
  pkt->data = data;
  pkt->len = len;
  gboolean padding = (data[0] & 0x20) != 0;
  pkt->has_extension = (data[0] & 0x10) != 0;
  pkt->csrc_count = data[0] & 0x0f;
  pkt->marker = (data[1] & 0x80) != 0;
  pkt->payload_type = data[1] & 0x7f;
  pkt->seq = chorus_rtp_read16(data + 2);
  pkt->timestamp = chorus_rtp_read32(data + 4);
  pkt->ssrc = chorus_rtp_read32(data + 8);

  gsize off = CHORUS_RTP_HEADER_MIN + 4u * pkt->csrc_count;
  if (off > len)
    return CHORUS_RTP_DROP_MALFORMED;
  if (pkt->has_extension) {
    if (off + 4 > len)
      return CHORUS_RTP_DROP_MALFORMED;
    pkt->ext_profile = chorus_rtp_read16(data + off);
    pkt->ext_len = 4u * chorus_rtp_read16(data + off + 2);
    pkt->ext_offset = off + 4;
    off = pkt->ext_offset + pkt->ext_len;
    if (off > len)
      return CHORUS_RTP_DROP_MALFORMED;
  }
  gsize end = len;
  if (padding) {
    guint8 pad = data[len - 1];
    if (pad == 0 || pad > len - off)
      return CHORUS_RTP_DROP_MALFORMED;
    pkt->padding_len = pad;
    end -= pad;
  }
  pkt->payload_offset = off;
  pkt->payload_len = end - off;
  return CHORUS_RTP_OK;
}

/* Calls @fn for every element of a one-byte or two-byte extension block;
 * stops early when @fn returns FALSE. Returns FALSE on a malformed block. */
typedef gboolean (*ExtFn)(guint8 id, const guint8 *value, gsize len, gpointer user_data);

static gboolean
foreach_extension(const ChorusRtpPacket *pkt, ExtFn fn, gpointer user_data)
{
  const guint8 *p = pkt->data + pkt->ext_offset;
  gsize n = pkt->ext_len;
  gboolean one_byte = pkt->ext_profile == CHORUS_RTP_EXT_ONE_BYTE_PROFILE;
  gboolean two_byte = (pkt->ext_profile & 0xfff0) == CHORUS_RTP_EXT_TWO_BYTE_PROFILE;
  if (!pkt->has_extension || (!one_byte && !two_byte))
    return TRUE;
  gsize i = 0;
  while (i < n) {
    if (p[i] == 0) { /* padding */
      i++;
      continue;
    }
    guint8 id;
    gsize vlen;
    if (one_byte) {
      id = p[i] >> 4;
      vlen = (p[i] & 0x0f) + 1u;
      if (id == 15) /* reserved: stop processing (RFC 8285 4.2) */
        return TRUE;
      i += 1;
    } else {
      if (i + 2 > n)
        return FALSE;
      id = p[i];
      vlen = p[i + 1];
      i += 2;
    }
    if (i + vlen > n)
      return FALSE;
    if (!fn(id, p + i, vlen, user_data))
      return TRUE;
    i += vlen;
  }
  return TRUE;
}

typedef struct {
  guint8 id;
  const guint8 *value;
  gsize len;
  gboolean found;
} FindCtx;

static gboolean
find_one(guint8 id, const guint8 *value, gsize len, gpointer user_data)
{
  FindCtx *ctx = user_data;
  if (id != ctx->id)
    return TRUE;
  ctx->value = value;
  ctx->len = len;
  ctx->found = TRUE;
  return FALSE;
}

gboolean
chorus_rtp_packet_find_extension(const ChorusRtpPacket *pkt, guint8 id, const guint8 **value,
                                 gsize *value_len)
{
  if (id == 0 || !pkt->has_extension)
    return FALSE;
  FindCtx ctx = { .id = id };
  if (!foreach_extension(pkt, find_one, &ctx) || !ctx.found)
    return FALSE;
  *value = ctx.value;
  *value_len = ctx.len;
  return TRUE;
}

typedef struct {
  const guint8 *map;
  gboolean two_byte;
  guint8 *out;
  gsize cap;
  gsize len;
  gboolean overflow;
} WriteCtx;

static gboolean
need_two_byte(guint8 id, const guint8 *value, gsize len, gpointer user_data)
{
  WriteCtx *ctx = user_data;
  guint8 out_id = ctx->map[id];
  if (out_id != 0 && (out_id > 14 || len > 16 || len == 0))
    ctx->two_byte = TRUE;
  return TRUE;
}

static gboolean
write_one(guint8 id, const guint8 *value, gsize len, gpointer user_data)
{
  WriteCtx *ctx = user_data;
  guint8 out_id = ctx->map[id];
  if (out_id == 0)
    return TRUE;
  gsize need = len + (ctx->two_byte ? 2 : 1);
  if (ctx->len + need > ctx->cap) {
    ctx->overflow = TRUE;
    return FALSE;
  }
  if (ctx->two_byte) {
    ctx->out[ctx->len++] = out_id;
    ctx->out[ctx->len++] = (guint8)len;
  } else {
    ctx->out[ctx->len++] = (guint8)((out_id << 4) | (len - 1));
  }
  memcpy(ctx->out + ctx->len, value, len);
  ctx->len += len;
  return TRUE;
}

ChorusRtpResult
chorus_rtp_packet_rewrite(const ChorusRtpPacket *pkt, const ChorusRtpRewrite *rw, guint8 *out,
                          gsize cap, gsize *out_len)
{
  gsize fixed = CHORUS_RTP_HEADER_MIN + 4u * pkt->csrc_count;
  if (fixed > cap)
    return CHORUS_RTP_DROP_TOO_BIG;
  memcpy(out, pkt->data, fixed);
  out[0] &= (guint8)~0x10; /* extension bit set below if any survive */
  out[1] = (guint8)((pkt->marker ? 0x80 : 0) | (rw->payload_type & 0x7f));
  chorus_rtp_write16(out + 2, rw->seq);
  chorus_rtp_write32(out + 4, rw->timestamp);
  chorus_rtp_write32(out + 8, rw->ssrc);
  gsize off = fixed;

  if (pkt->has_extension && rw->ext_map) {
    WriteCtx ctx = { .map = rw->ext_map };
    foreach_extension(pkt, need_two_byte, &ctx);
    if (off + 4 > cap)
      return CHORUS_RTP_DROP_TOO_BIG;
    ctx.out = out + off + 4;
    ctx.cap = cap - off - 4;
    if (!foreach_extension(pkt, write_one, &ctx))
      return CHORUS_RTP_DROP_MALFORMED;
    if (ctx.overflow)
      return CHORUS_RTP_DROP_TOO_BIG;
    if (ctx.len > 0) {
      while (ctx.len % 4 != 0) {
        if (ctx.len >= ctx.cap)
          return CHORUS_RTP_DROP_TOO_BIG;
        ctx.out[ctx.len++] = 0;
      }
      chorus_rtp_write16(out + off, ctx.two_byte ? CHORUS_RTP_EXT_TWO_BYTE_PROFILE
                                                 : CHORUS_RTP_EXT_ONE_BYTE_PROFILE);
      chorus_rtp_write16(out + off + 2, (guint16)(ctx.len / 4));
      out[0] |= 0x10;
      off += 4 + ctx.len;
    }
  }

  gsize rest = pkt->len - pkt->payload_offset; /* payload + padding */
  if (off + rest > cap)
    return CHORUS_RTP_DROP_TOO_BIG;
  memcpy(out + off, pkt->data + pkt->payload_offset, rest);
  *out_len = off + rest;
  return CHORUS_RTP_OK;
}
