#include "load-rtp.h"

#include <string.h>

#include "rtp/rtp-packet.h"

void
load_rtp_header_add_ext(LoadRtpHeader *h, guint8 id, const void *data, guint8 len)
{
  if (id == 0)
    return;
  g_return_if_fail(id <= 14 && len >= 1 && len <= 16 && h->n_exts < LOAD_RTP_MAX_EXTS);
  LoadRtpExt *e = &h->exts[h->n_exts++];
  e->id = id;
  e->len = len;
  memcpy(e->data, data, len);
}

void
load_rtp_header_add_ext_string(LoadRtpHeader *h, guint8 id, const char *value)
{
  gsize n = value ? strlen(value) : 0;
  if (n == 0 || n > 16)
    return;
  load_rtp_header_add_ext(h, id, value, (guint8)n);
}

gsize
load_rtp_write_header(const LoadRtpHeader *h, guint8 *out, gsize cap)
{
  gsize ext_bytes = 0;
  for (guint i = 0; i < h->n_exts; i++)
    ext_bytes += 1 + h->exts[i].len;
  gsize ext_words = (ext_bytes + 3) / 4;
  gsize total = CHORUS_RTP_HEADER_MIN + (h->n_exts ? 4 + ext_words * 4 : 0);
  if (cap < total)
    return 0;
  out[0] = 0x80 | (h->n_exts ? 0x10 : 0);
  out[1] = (guint8)((h->marker ? 0x80 : 0) | (h->payload_type & 0x7f));
  chorus_rtp_write16(out + 2, h->seq);
  chorus_rtp_write32(out + 4, h->timestamp);
  chorus_rtp_write32(out + 8, h->ssrc);
  if (h->n_exts == 0)
    return total;
  guint8 *p = out + CHORUS_RTP_HEADER_MIN;
  chorus_rtp_write16(p, CHORUS_RTP_EXT_ONE_BYTE_PROFILE);
  chorus_rtp_write16(p + 2, (guint16)ext_words);
  p += 4;
  for (guint i = 0; i < h->n_exts; i++) {
    const LoadRtpExt *e = &h->exts[i];
    *p++ = (guint8)((e->id << 4) | (e->len - 1));
    memcpy(p, e->data, e->len);
    p += e->len;
  }
  memset(p, 0, ext_words * 4 - ext_bytes); /* padding bytes are id 0 */
  return total;
}

void
load_rtp_abs_send_time(gint64 now_us, guint8 out[3])
{
  /* 6.18 fixed point: (seconds << 18), taken modulo 64 s. */
  guint64 v = ((guint64)now_us << 18) / G_USEC_PER_SEC;
  out[0] = (guint8)(v >> 16);
  out[1] = (guint8)(v >> 8);
  out[2] = (guint8)v;
}

guint8
load_rtp_audio_level_byte(guint8 level_dbov, gboolean voice)
{
  return (guint8)((voice ? 0x80 : 0) | MIN(level_dbov, 127));
}

guint
load_vp8_packetizer_count(gsize frame_len, gsize max_payload)
{
  gsize room = max_payload - 4;
  return (guint)MAX((frame_len + room - 1) / room, 1);
}

void
load_vp8_packetizer_init(LoadVp8Packetizer *p, const guint8 *frame, gsize len, guint16 picture_id,
                         gsize max_payload)
{
  g_return_if_fail(max_payload > 4);
  guint n = load_vp8_packetizer_count(len, max_payload);
  p->frame = frame;
  p->len = len;
  p->off = 0;
  p->picture_id = picture_id & 0x7fff;
  /* Equal chunks rather than full packets and a runt: fewer bytes wasted
   * per datagram and the same packet count. */
  p->chunk = MAX((len + n - 1) / n, 1);
}

gboolean
load_vp8_packetizer_next(LoadVp8Packetizer *p, guint8 *out, gsize cap, gsize *written,
                         gboolean *last)
{
  if (p->off >= p->len)
    return FALSE;
  gsize n = MIN(p->chunk, p->len - p->off);
  if (cap < 4 + n)
    return FALSE;
  /* X=1, S on the first packet, PID 0; I=1; M=1 and the 15-bit picture id. */
  out[0] = (guint8)(0x80 | (p->off == 0 ? 0x10 : 0));
  out[1] = 0x80;
  out[2] = (guint8)(0x80 | (p->picture_id >> 8));
  out[3] = (guint8)(p->picture_id & 0xff);
  memcpy(out + 4, p->frame + p->off, n);
  p->off += n;
  *written = 4 + n;
  *last = p->off >= p->len;
  return TRUE;
}

guint64
load_rtcp_ntp_from_unix_us(gint64 unix_us)
{
  /* 70 years (17 leap days) between 1900 and 1970. */
  const guint64 epoch_offset_s = 2208988800u;
  guint64 secs = (guint64)(unix_us / G_USEC_PER_SEC) + epoch_offset_s;
  guint64 frac = ((guint64)(unix_us % G_USEC_PER_SEC) << 32) / G_USEC_PER_SEC;
  return (secs << 32) | frac;
}

gsize
load_rtcp_write_sr(guint8 *out, gsize cap, guint32 ssrc, guint64 ntp, guint32 rtp_ts,
                   guint32 packets, guint32 octets, const char *cname)
{
  gsize cname_len = cname ? strlen(cname) : 0;
  if (cname_len == 0 || cname_len > 255)
    return 0;
  /* SDES chunk: SSRC, CNAME item (type, length, text), END, pad to 32 bits. */
  gsize chunk = 4 + 2 + cname_len + 1;
  chunk = (chunk + 3) & ~(gsize)3;
  gsize total = 28 + 4 + chunk;
  if (cap < total)
    return 0;
  memset(out, 0, total);
  out[0] = 0x80;
  out[1] = 200;
  chorus_rtp_write16(out + 2, 6);
  chorus_rtp_write32(out + 4, ssrc);
  chorus_rtp_write32(out + 8, (guint32)(ntp >> 32));
  chorus_rtp_write32(out + 12, (guint32)ntp);
  chorus_rtp_write32(out + 16, rtp_ts);
  chorus_rtp_write32(out + 20, packets);
  chorus_rtp_write32(out + 24, octets);
  guint8 *s = out + 28;
  s[0] = 0x81; /* one chunk */
  s[1] = 202;
  chorus_rtp_write16(s + 2, (guint16)((4 + chunk) / 4 - 1));
  chorus_rtp_write32(s + 4, ssrc);
  s[8] = 1; /* CNAME */
  s[9] = (guint8)cname_len;
  memcpy(s + 10, cname, cname_len);
  return total;
}
