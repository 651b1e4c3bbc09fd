#include "rtp/rtcp-twcc.h"

#include <string.h>

#define TWCC_FIXED_LEN 20 /* RTCP + feedback header, base seq .. fb pkt count */
#define MAX_STATUS_COUNT 65535u
#define RUN_MAX 8191u   /* 13-bit run length */
#define ONE_BIT_CAP 14u /* symbols in a one-bit status vector */
#define TWO_BIT_CAP 7u  /* symbols in a two-bit status vector */
#define SYMBOL_RESERVED 3u

/* --- Parsing ------------------------------------------------------------- */

ChorusRtpResult
chorus_rtcp_twcc_parse(const ChorusRtcpPacket *pkt, ChorusRtcpTwcc *fb,
                       ChorusRtcpTwccStatus *statuses, gsize cap)
{
  memset(fb, 0, sizeof(*fb));
  gsize end;
  if (pkt->type != CHORUS_RTCP_RTPFB || pkt->len < TWCC_FIXED_LEN ||
      (pkt->data[0] & 0x1f) != CHORUS_RTCP_RTPFB_TWCC ||
      !chorus_rtcp_packet_content_len(pkt, &end) || end < TWCC_FIXED_LEN)
    return CHORUS_RTP_DROP_MALFORMED;
  const guint8 *p = pkt->data;
  fb->sender_ssrc = chorus_rtp_read32(p + 4);
  fb->media_ssrc = chorus_rtp_read32(p + 8);
  fb->base_seq = chorus_rtp_read16(p + 12);
  fb->status_count = chorus_rtp_read16(p + 14);
  fb->reference_time_64ms = ((guint32)p[16] << 16) | ((guint32)p[17] << 8) | p[18];
  fb->fb_count = p[19];
  guint count = fb->status_count;
  if (count == 0)
    return CHORUS_RTP_DROP_MALFORMED;
  if (count > cap)
    return CHORUS_RTP_DROP_TOO_BIG;

  gsize off = TWCC_FIXED_LEN;
  guint filled = 0;
  while (filled < count) {
    if (end - off < 2)
      return CHORUS_RTP_DROP_MALFORMED;
    guint16 chunk = chorus_rtp_read16(p + off);
    off += 2;
    if ((chunk & 0x8000) == 0) {
      guint8 symbol = (chunk >> 13) & 0x3;
      if (symbol == SYMBOL_RESERVED)
        return CHORUS_RTP_DROP_MALFORMED;
      guint run = MIN(chunk & 0x1fffu, count - filled);
      for (guint i = 0; i < run; i++)
        statuses[filled++].symbol = symbol;
    } else if ((chunk & 0x4000) == 0) {
      for (guint i = 0; i < ONE_BIT_CAP && filled < count; i++)
        statuses[filled++].symbol = (chunk >> (13 - i)) & 0x1;
    } else {
      for (guint i = 0; i < TWO_BIT_CAP && filled < count; i++) {
        guint8 symbol = (chunk >> (12 - 2 * i)) & 0x3;
        if (symbol == SYMBOL_RESERVED)
          return CHORUS_RTP_DROP_MALFORMED;
        statuses[filled++].symbol = symbol;
      }
    }
  }

  gint64 t_us = (gint64)fb->reference_time_64ms * CHORUS_RTCP_TWCC_REFERENCE_US;
  for (guint i = 0; i < count; i++) {
    ChorusRtcpTwccStatus *s = &statuses[i];
    s->seq = (guint16)(fb->base_seq + i);
    s->delta_250us = 0;
    s->arrival_us = 0;
    if (s->symbol == CHORUS_RTCP_TWCC_NOT_RECEIVED)
      continue;
    if (s->symbol == CHORUS_RTCP_TWCC_SMALL_DELTA) {
      if (end - off < 1)
        return CHORUS_RTP_DROP_MALFORMED;
      s->delta_250us = p[off];
      off += 1;
    } else {
      if (end - off < 2)
        return CHORUS_RTP_DROP_MALFORMED;
      s->delta_250us = (gint16)chorus_rtp_read16(p + off);
      off += 2;
    }
    t_us += (gint64)s->delta_250us * CHORUS_RTCP_TWCC_DELTA_US;
    s->arrival_us = t_us;
    fb->n_received++;
  }
  /* What follows is zero padding to the 32-bit boundary. */
  return CHORUS_RTP_OK;
}

/* --- Building ------------------------------------------------------------ */

/* One packet being encoded. Measured first (chunk_out NULL) to find how many
 * arrivals fit, then replayed with the same input to write it: the chunks go
 * before the deltas, so their count must be known before the first delta is
 * written, and this keeps the packet path free of scratch buffers. */
typedef struct {
  guint8 *chunk_out; /* NULL while measuring */
  guint8 *delta_out;
  gsize n_chunks; /* emitted so far */
  /* Symbols not yet in a chunk. Only the first ONE_BIT_CAP are kept: more
   * can only be pending while they are all the same (a run). */
  guint8 pending[ONE_BIT_CAP];
  guint n_pending;
  gboolean all_same;
  gboolean has_large;
  guint n_status;
  gsize delta_bytes;
  gboolean has_ref;
  gint64 ref_units; /* reference time in 64 ms units, unwrapped */
  gint64 last_us;   /* the last received packet's time as the receiver will compute it */
} Encoder;

static gint64
floor_div(gint64 a, gint64 b)
{
  gint64 q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

static void
emit_chunk(Encoder *e, guint16 chunk)
{
  if (e->chunk_out != NULL)
    chorus_rtp_write16(e->chunk_out + 2 * e->n_chunks, chunk);
  e->n_chunks++;
}

static guint16
vector_chunk(const guint8 *symbols, guint n, gboolean two_bit)
{
  guint16 chunk = two_bit ? 0xc000 : 0x8000;
  for (guint i = 0; i < n; i++) {
    if (two_bit)
      chunk |= (guint16)(symbols[i] << (12 - 2 * i));
    else
      chunk |= (guint16)((symbols[i] & 0x1) << (13 - i));
  }
  return chunk;
}

static void
recount(Encoder *e)
{
  e->all_same = TRUE;
  e->has_large = FALSE;
  for (guint i = 0; i < e->n_pending; i++) {
    e->all_same = e->all_same && e->pending[i] == e->pending[0];
    e->has_large = e->has_large || e->pending[i] == CHORUS_RTCP_TWCC_LARGE_DELTA;
  }
}

/* Whether @symbol can join the pending ones and still leave them encodable
 * as ONE chunk: any mix of up to 7 (two-bit vector), up to 14 without large
 * deltas (one-bit vector), or a run of one symbol. */
static gboolean
can_add(const Encoder *e, guint8 symbol)
{
  if (e->n_pending < TWO_BIT_CAP)
    return TRUE;
  if (e->n_pending < ONE_BIT_CAP && !e->has_large && symbol != CHORUS_RTCP_TWCC_LARGE_DELTA)
    return TRUE;
  return e->all_same && symbol == e->pending[0] && e->n_pending < RUN_MAX;
}

/* Makes room for a symbol that cannot join: a run goes out whole, a full
 * one-bit vector too; otherwise (a large delta among 7..13 mixed symbols)
 * the first 7 go out as a two-bit vector and the rest stay pending. */
static void
emit_full(Encoder *e)
{
  if (e->all_same) {
    emit_chunk(e, (guint16)((e->pending[0] << 13) | e->n_pending));
    e->n_pending = 0;
  } else if (e->n_pending == ONE_BIT_CAP) {
    emit_chunk(e, vector_chunk(e->pending, ONE_BIT_CAP, FALSE));
    e->n_pending = 0;
  } else {
    g_assert(e->n_pending >= TWO_BIT_CAP);
    emit_chunk(e, vector_chunk(e->pending, TWO_BIT_CAP, TRUE));
    e->n_pending -= TWO_BIT_CAP;
    memmove(e->pending, e->pending + TWO_BIT_CAP, e->n_pending);
  }
  recount(e);
}

static void
add_symbol(Encoder *e, guint8 symbol)
{
  if (!can_add(e, symbol)) {
    emit_full(e);
    g_assert(can_add(e, symbol));
  }
  if (e->n_pending < ONE_BIT_CAP)
    e->pending[e->n_pending] = symbol;
  e->all_same = e->n_pending == 0 || (e->all_same && symbol == e->pending[0]);
  e->has_large = e->has_large || symbol == CHORUS_RTCP_TWCC_LARGE_DELTA;
  e->n_pending++;
  e->n_status++;
}

static void
emit_last(Encoder *e)
{
  if (e->n_pending == 0)
    return;
  if (e->all_same)
    emit_chunk(e, (guint16)((e->pending[0] << 13) | e->n_pending));
  else
    emit_chunk(e, vector_chunk(e->pending, e->n_pending, e->n_pending <= TWO_BIT_CAP));
  e->n_pending = 0;
}

static gsize
encoded_len(const Encoder *e)
{
  gsize len = TWCC_FIXED_LEN + 2 * (e->n_chunks + (e->n_pending > 0 ? 1 : 0)) + e->delta_bytes;
  return (len + 3) & ~(gsize)3;
}

/* Adds arrivals from @base_seq on while the packet stays within @limit
 * bytes; returns how many were consumed (accepted or skipped). */
static gsize
encode(Encoder *e, const ChorusRtcpTwccArrival *arrivals, gsize n, guint16 base_seq, gsize limit,
       guint16 *last_seq)
{
  gsize consumed = 0;
  guint16 expect = base_seq;
  for (gsize i = 0; i < n; i++) {
    const ChorusRtcpTwccArrival *a = &arrivals[i];
    guint16 gap = (guint16)(a->seq - expect);
    if (gap >= 0x8000) {
      /* A duplicate or a reordered entry: not after what is reported. */
      g_assert(i > 0);
      consumed = i + 1;
      continue;
    }
    if (e->n_status + gap + 1u > MAX_STATUS_COUNT)
      break;
    Encoder t = *e;
    for (guint k = 0; k < gap; k++)
      add_symbol(&t, CHORUS_RTCP_TWCC_NOT_RECEIVED);
    if (a->arrival_us == CHORUS_RTCP_TWCC_LOST) {
      add_symbol(&t, CHORUS_RTCP_TWCC_NOT_RECEIVED);
      if (encoded_len(&t) > limit)
        break;
      *e = t;
      consumed = i + 1;
      *last_seq = a->seq;
      expect = (guint16)(a->seq + 1);
      continue;
    }
    if (!t.has_ref) {
      t.has_ref = TRUE;
      t.ref_units = floor_div(a->arrival_us, CHORUS_RTCP_TWCC_REFERENCE_US);
      t.last_us = t.ref_units * CHORUS_RTCP_TWCC_REFERENCE_US;
    }
    /* Rounded to the nearest unit from where the receiver of the feedback
     * will place the previous packet, so errors do not add up. */
    gint64 diff_us;
    if (__builtin_sub_overflow(a->arrival_us, t.last_us, &diff_us) || diff_us < -G_MAXINT32 ||
        diff_us > G_MAXINT32)
      break; /* the next packet gets a new reference time */
    gint64 delta = floor_div(diff_us + CHORUS_RTCP_TWCC_DELTA_US / 2, CHORUS_RTCP_TWCC_DELTA_US);
    if (delta < G_MININT16 || delta > G_MAXINT16)
      break;
    gboolean small = delta >= 0 && delta <= G_MAXUINT8;
    add_symbol(&t, small ? CHORUS_RTCP_TWCC_SMALL_DELTA : CHORUS_RTCP_TWCC_LARGE_DELTA);
    if (t.delta_out != NULL) {
      if (small)
        t.delta_out[t.delta_bytes] = (guint8)delta;
      else
        chorus_rtp_write16(t.delta_out + t.delta_bytes, (guint16)(gint16)delta);
    }
    t.delta_bytes += small ? 1 : 2;
    t.last_us += delta * CHORUS_RTCP_TWCC_DELTA_US;
    if (encoded_len(&t) > limit)
      break;
    *e = t;
    consumed = i + 1;
    *last_seq = a->seq;
    expect = (guint16)(a->seq + 1);
  }
  return consumed;
}

void
chorus_rtcp_twcc_builder_init(ChorusRtcpTwccBuilder *b, guint32 sender_ssrc, guint32 media_ssrc,
                              gsize max_packet_len)
{
  g_return_if_fail(max_packet_len >= CHORUS_RTCP_TWCC_MIN_PACKET_LEN);
  memset(b, 0, sizeof(*b));
  b->sender_ssrc = sender_ssrc;
  b->media_ssrc = media_ssrc;
  b->max_packet_len = MIN(max_packet_len, CHORUS_RTCP_MAX_PACKET_LEN) & ~(gsize)3;
}

gsize
chorus_rtcp_twcc_builder_write_packet(ChorusRtcpTwccBuilder *b,
                                      const ChorusRtcpTwccArrival *arrivals, gsize n, guint8 *out,
                                      gsize cap, gsize *n_consumed)
{
  *n_consumed = 0;
  g_return_val_if_fail(n == 0 || arrivals != NULL, 0);
  gsize limit = MIN(cap, b->max_packet_len) & ~(gsize)3;
  if (n == 0 || limit < CHORUS_RTCP_TWCC_MIN_PACKET_LEN)
    return 0;

  /* Late: the first entry was already covered by an earlier feedback. */
  gboolean late = b->has_next_seq && (guint16)(arrivals[0].seq - b->next_seq) >= 0x8000;
  guint16 base_seq = arrivals[0].seq;
  if (b->has_next_seq && !late)
    base_seq = b->next_seq;
  Encoder e = {.all_same = TRUE};
  guint16 last_seq = 0;
  gsize consumed = encode(&e, arrivals, n, base_seq, limit, &last_seq);
  if (consumed == 0 && base_seq != arrivals[0].seq) {
    /* Not even the not-received run before the first arrival fits: leave
     * those out rather than make no progress. */
    base_seq = arrivals[0].seq;
    e = (Encoder){.all_same = TRUE};
    consumed = encode(&e, arrivals, n, base_seq, limit, &last_seq);
  }
  if (consumed == 0)
    return 0;

  gsize len = encoded_len(&e);
  gsize n_chunks = e.n_chunks + (e.n_pending > 0 ? 1 : 0);
  Encoder w = {
      .all_same = TRUE,
      .chunk_out = out + TWCC_FIXED_LEN,
      .delta_out = out + TWCC_FIXED_LEN + 2 * n_chunks,
  };
  gsize replayed = encode(&w, arrivals, consumed, base_seq, limit, &last_seq);
  g_assert(replayed == consumed);
  emit_last(&w);
  g_assert(w.n_chunks == n_chunks && encoded_len(&w) == len);
  gsize used = TWCC_FIXED_LEN + 2 * n_chunks + w.delta_bytes;
  memset(out + used, 0, len - used);

  out[0] = 0x80 | CHORUS_RTCP_RTPFB_TWCC;
  out[1] = CHORUS_RTCP_RTPFB;
  chorus_rtp_write16(out + 2, (guint16)(len / 4 - 1));
  chorus_rtp_write32(out + 4, b->sender_ssrc);
  chorus_rtp_write32(out + 8, b->media_ssrc);
  chorus_rtp_write16(out + 12, base_seq);
  chorus_rtp_write16(out + 14, (guint16)w.n_status);
  if (w.has_ref) {
    b->has_reference = TRUE;
    b->reference_64ms = w.ref_units;
  }
  guint32 ref = (guint32)((b->has_reference ? b->reference_64ms : 0) & 0xffffff);
  out[16] = (guint8)(ref >> 16);
  out[17] = (guint8)(ref >> 8);
  out[18] = (guint8)ref;
  out[19] = b->fb_count++;

  /* A packet that re-reported late arrivals does not move next_seq back.
   * Compared as distances from the base: a packet may span more than half
   * the seq space, where serial-number comparison would be wrong. */
  if (!late || w.n_status > (guint16)(b->next_seq - base_seq))
    b->next_seq = (guint16)(last_seq + 1);
  b->has_next_seq = TRUE;
  *n_consumed = consumed;
  return len;
}

gsize
chorus_rtcp_twcc_builder_write(ChorusRtcpTwccBuilder *b, const ChorusRtcpTwccArrival *arrivals,
                               gsize n, guint8 *out, gsize cap, guint *n_packets, gsize *n_consumed)
{
  gsize written = 0;
  *n_packets = 0;
  *n_consumed = 0;
  while (*n_consumed < n) {
    gsize used;
    gsize len = chorus_rtcp_twcc_builder_write_packet(b, arrivals + *n_consumed, n - *n_consumed,
                                                      out + written, cap - written, &used);
    if (len == 0)
      break;
    written += len;
    *n_consumed += used;
    (*n_packets)++;
  }
  return written;
}
