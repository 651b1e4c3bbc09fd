/* libFuzzer target for the RTCP parsers and writers (src/rtp/rtcp*.c).
 *
 * Input: one mode byte, then:
 *   mode % 4 == 0: bytes received as RTCP. Walked as a compound, every
 *                  parser is called on every packet; then every parser is
 *                  called on the whole input as one packet of each type
 *                  whatever its length field says (parsers must only trust
 *                  pkt->len). Every byte of every returned view is read.
 *   mode % 4 == 1: TWCC builder round trip: the bytes make arrivals and a
 *                  packet size; every packet written must parse back to the
 *                  same statuses and (to 125 us) the same times.
 *   mode % 4 == 2: NACK round trip: the bytes are seqs and a buffer size;
 *                  the packets written must name exactly the input's seqs.
 *   mode % 4 == 3: writers fed with arbitrary values (SR/RR, SDES, BYE,
 *                  REMB, XR) must produce packets that parse back to them.
 * A mismatch calls abort(), so libFuzzer reports it as a crash.
 *
 * Build and run: see tests/fuzz/build.sh (target fuzz-rtcp). Seeds are in
 * tests/fuzz/corpus-rtcp/ (one file per packet kind and mode). */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtp/rtcp-fb.h"
#include "rtp/rtcp-twcc.h"
#include "rtp/rtcp-xr.h"
#include "rtp/rtcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ChorusRtcpTwccStatus statuses[65536];
static guint8 out[CHORUS_RTCP_MAX_PACKET_LEN];
static volatile guint sink;

#define REQUIRE(cond)                                                                              \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      abort();                                                                                     \
  } while (0)

static void
touch(const guint8 *p, gsize len)
{
  guint s = 0;
  for (gsize i = 0; i < len; i++)
    s += p[i];
  sink += s;
}

static void
parse_all(const ChorusRtcpPacket *pkt)
{
  guint32 ssrc;
  gsize n;
  chorus_rtcp_packet_content_len(pkt, &n);
  chorus_rtcp_fb_media_ssrc(pkt, &ssrc);
  chorus_rtcp_is_keyframe_request(pkt, &ssrc);

  ChorusRtcpReport report;
  if (chorus_rtcp_report_parse(pkt, &report) == CHORUS_RTP_OK) {
    REQUIRE(report.n_blocks <= CHORUS_RTCP_MAX_COUNT);
    if (report.ext)
      touch(report.ext, report.ext_len);
  }

  ChorusRtcpSdesIter sdes;
  if (chorus_rtcp_sdes_iter_init(&sdes, pkt)) {
    ChorusRtcpSdesItem item;
    gboolean bad;
    while (chorus_rtcp_sdes_iter_next(&sdes, &ssrc, &item, &bad))
      touch(item.value, item.len);
  }
  const guint8 *cname;
  if (chorus_rtcp_sdes_find_cname(pkt, &ssrc, &cname, &n))
    touch(cname, n);

  ChorusRtcpBye bye;
  if (chorus_rtcp_bye_parse(pkt, &bye) == CHORUS_RTP_OK && bye.reason)
    touch(bye.reason, bye.reason_len);

  guint16 seqs[64];
  gsize total;
  if (chorus_rtcp_nack_parse(pkt, &ssrc, seqs, G_N_ELEMENTS(seqs), &total) == CHORUS_RTP_OK)
    REQUIRE(total > 0);

  guint64 bps;
  guint32 ssrcs[8];
  chorus_rtcp_is_remb(pkt);
  if (chorus_rtcp_remb_parse(pkt, &bps, ssrcs, G_N_ELEMENTS(ssrcs), &total) == CHORUS_RTP_OK)
    REQUIRE(total <= CHORUS_RTCP_REMB_MAX_SSRCS);

  ChorusRtcpTwcc fb;
  if (chorus_rtcp_twcc_parse(pkt, &fb, statuses, G_N_ELEMENTS(statuses)) == CHORUS_RTP_OK)
    REQUIRE(fb.status_count > 0 && fb.n_received <= fb.status_count);
  /* Too little room must be refused, not overrun. */
  chorus_rtcp_twcc_parse(pkt, &fb, statuses, pkt->len % 7);

  ChorusRtcpXrIter xr;
  if (chorus_rtcp_xr_iter_init(&xr, pkt, &ssrc)) {
    ChorusRtcpXrBlock block;
    gboolean bad;
    while (chorus_rtcp_xr_iter_next(&xr, &block, &bad)) {
      guint64 ntp;
      ChorusRtcpDlrrItem items[4];
      touch(block.body, block.body_len);
      chorus_rtcp_xr_rrtr_parse(&block, &ntp);
      chorus_rtcp_xr_dlrr_parse(&block, items, G_N_ELEMENTS(items), &total);
    }
  }
}

static void
fuzz_parsers(const guint8 *data, gsize size)
{
  ChorusRtcpIter it;
  ChorusRtcpPacket pkt;
  gboolean malformed;
  if (chorus_rtcp_iter_init(&it, data, size)) {
    while (chorus_rtcp_iter_next(&it, &pkt, &malformed)) {
      REQUIRE(pkt.len >= 4 && pkt.data + pkt.len <= data + size);
      parse_all(&pkt);
    }
  }
  for (guint type = CHORUS_RTCP_SR; type <= CHORUS_RTCP_XR; type++) {
    pkt = (ChorusRtcpPacket){
        .type = (guint8)type,
        .count = size > 0 ? data[0] & 0x1f : 0,
        .data = data,
        .len = size,
    };
    parse_all(&pkt);
  }

  guint8 buf[256];
  ChorusRtcpCompound c;
  chorus_rtcp_compound_init(&c, buf, sizeof buf);
  chorus_rtcp_compound_append(&c, data, MIN(size, sizeof buf));
}

static gint64
wrap_diff(gint64 a, gint64 b)
{
  const gint64 w = CHORUS_RTCP_TWCC_TIME_WRAP_US;
  gint64 d = (a - b) % w;
  if (d <= -w / 2)
    d += w;
  if (d > w / 2)
    d -= w;
  return d;
}

/* Each 4 input bytes: seq step (0..255, at least 1 except for the first),
 * a signed 16-bit time step scaled by the flags, and flags (bit 0: lost;
 * bits 1-2: time scale 1, 250, 4000 or 250000 us). */
static void
fuzz_twcc(const guint8 *data, gsize size)
{
  if (size < 3)
    return;
  gsize max_len = 24 + 4 * (gsize)data[0] + 256 * (data[1] & 0x3);
  guint16 seq = (guint16)(data[2] * 257);
  data += 3;
  size -= 3;
  ChorusRtcpTwccArrival in[1024];
  gsize n = 0;
  gint64 t = 1000000000;
  for (gsize i = 0; i + 4 <= size && n < G_N_ELEMENTS(in); i += 4) {
    static const gint64 scale[] = {1, 250, 4000, 250000};
    if (n > 0)
      seq = (guint16)(seq + MAX(data[i], 1));
    t += (gint16)chorus_rtp_read16(data + i + 1) * scale[(data[i + 3] >> 1) & 3];
    in[n++] = (ChorusRtcpTwccArrival){seq, (data[i + 3] & 1) ? CHORUS_RTCP_TWCC_LOST : t};
  }
  if (n == 0)
    return;

  ChorusRtcpTwccBuilder b;
  chorus_rtcp_twcc_builder_init(&b, 1, 2, max_len);
  gsize done = 0;
  gsize in_idx = 0;
  guint packets = 0;
  guint16 expect = in[0].seq;
  while (done < n) {
    gsize consumed;
    gsize len =
        chorus_rtcp_twcc_builder_write_packet(&b, in + done, n - done, out, sizeof out, &consumed);
    REQUIRE(len > 0 && consumed > 0 && len <= max_len && len % 4 == 0);
    done += consumed;
    ChorusRtcpIter it;
    ChorusRtcpPacket pkt;
    gboolean malformed;
    REQUIRE(chorus_rtcp_iter_init(&it, out, len) && chorus_rtcp_iter_next(&it, &pkt, &malformed));
    ChorusRtcpTwcc fb;
    REQUIRE(chorus_rtcp_twcc_parse(&pkt, &fb, statuses, G_N_ELEMENTS(statuses)) == CHORUS_RTP_OK);
    /* Packets under 32 bytes may leave out the lost run before their first
     * entry (it would not fit with that entry); larger ones never do. */
    REQUIRE(fb.base_seq == expect || (max_len < 32 && in_idx < n && fb.base_seq == in[in_idx].seq));
    REQUIRE(fb.fb_count == (packets & 0xff));
    packets++;
    for (guint i = 0; i < fb.status_count; i++) {
      const ChorusRtcpTwccStatus *s = &statuses[i];
      REQUIRE(in_idx < n);
      if (s->seq != in[in_idx].seq) {
        REQUIRE(s->symbol == CHORUS_RTCP_TWCC_NOT_RECEIVED);
        continue;
      }
      if (in[in_idx].arrival_us == CHORUS_RTCP_TWCC_LOST) {
        REQUIRE(s->symbol == CHORUS_RTCP_TWCC_NOT_RECEIVED);
      } else {
        REQUIRE(s->symbol != CHORUS_RTCP_TWCC_NOT_RECEIVED);
        gint64 err = wrap_diff(s->arrival_us, in[in_idx].arrival_us);
        REQUIRE(err > -125 && err <= 125);
      }
      in_idx++;
    }
    expect = (guint16)(fb.base_seq + fb.status_count);
  }
  REQUIRE(in_idx == n);
}

static void
fuzz_nack(const guint8 *data, gsize size)
{
  if (size < 1)
    return;
  gsize cap = 16 + 4 * (gsize)(data[0] % 8);
  guint16 seqs[512];
  gsize n = 0;
  static guint8 want[65536 / 8];
  static guint8 got[65536 / 8];
  memset(want, 0, sizeof want);
  memset(got, 0, sizeof got);
  for (gsize i = 1; i + 2 <= size && n < G_N_ELEMENTS(seqs); i += 2) {
    seqs[n] = chorus_rtp_read16(data + i);
    want[seqs[n] / 8] |= (guint8)(1u << (seqs[n] % 8));
    n++;
  }
  gsize done = 0;
  while (done < n) {
    gsize consumed;
    gsize len = chorus_rtcp_write_nack(out, cap, 1, 2, seqs + done, n - done, &consumed);
    REQUIRE(len >= 16 && len <= cap && consumed > 0);
    done += consumed;
    ChorusRtcpIter it;
    ChorusRtcpPacket pkt;
    gboolean malformed;
    REQUIRE(chorus_rtcp_iter_init(&it, out, len) && chorus_rtcp_iter_next(&it, &pkt, &malformed));
    guint16 parsed[CHORUS_RTCP_NACK_SEQS_PER_FCI * 8];
    gsize total;
    REQUIRE(chorus_rtcp_nack_parse(&pkt, NULL, parsed, G_N_ELEMENTS(parsed), &total) ==
            CHORUS_RTP_OK);
    REQUIRE(total <= G_N_ELEMENTS(parsed));
    for (gsize i = 0; i < total; i++)
      got[parsed[i] / 8] |= (guint8)(1u << (parsed[i] % 8));
  }
  REQUIRE(memcmp(want, got, sizeof want) == 0);
}

/* Input bytes in order; zeros once they run out. */
typedef struct {
  const guint8 *p;
  const guint8 *end;
} Reader;

static guint8
take8(Reader *r)
{
  return r->p < r->end ? *r->p++ : 0;
}

static guint32
take32(Reader *r)
{
  guint32 v = 0;
  for (guint i = 0; i < 4; i++)
    v = (v << 8) | take8(r);
  return v;
}

/* Up to @max bytes of the input as a view. */
static const guint8 *
take_bytes(Reader *r, gsize max, gsize *len)
{
  *len = MIN(max, (gsize)(r->end - r->p));
  const guint8 *v = r->p;
  r->p += *len;
  return v;
}

static void
fuzz_writers(const guint8 *data, gsize size)
{
  Reader rd = {data, data + size};
  ChorusRtcpIter it;
  ChorusRtcpPacket pkt;
  gboolean malformed;
  gsize cap = take32(&rd) % 1200;

  /* SR/RR */
  guint n_blocks = take8(&rd) % 32;
  ChorusRtcpReportBlock blocks[31];
  for (guint i = 0; i < n_blocks; i++) {
    ChorusRtcpReportBlock *b = &blocks[i];
    b->ssrc = take32(&rd);
    b->fraction_lost = take8(&rd);
    b->cumulative_lost = (gint32)take32(&rd);
    b->ext_highest_seq = take32(&rd);
    b->jitter = take32(&rd);
    b->lsr = take32(&rd);
    b->dlsr = take32(&rd);
  }
  ChorusRtcpSenderInfo si;
  si.ntp = (guint64)take32(&rd) << 32;
  si.ntp |= take32(&rd);
  si.rtp_ts = take32(&rd);
  si.packet_count = take32(&rd);
  si.octet_count = take32(&rd);
  gboolean sr = n_blocks % 2 == 0;
  gsize len = sr ? chorus_rtcp_write_sr(out, cap, 7, &si, blocks, n_blocks)
                 : chorus_rtcp_write_rr(out, cap, 7, blocks, n_blocks);
  if (len > 0) {
    REQUIRE(len <= cap);
    REQUIRE(chorus_rtcp_iter_init(&it, out, len) && chorus_rtcp_iter_next(&it, &pkt, &malformed));
    ChorusRtcpReport r;
    REQUIRE(chorus_rtcp_report_parse(&pkt, &r) == CHORUS_RTP_OK);
    REQUIRE(r.is_sr == sr && r.n_blocks == n_blocks && r.ext_len == 0);
    REQUIRE(!sr || (r.sender_info.ntp == si.ntp && r.sender_info.rtp_ts == si.rtp_ts &&
                    r.sender_info.packet_count == si.packet_count &&
                    r.sender_info.octet_count == si.octet_count));
    for (guint i = 0; i < n_blocks; i++) {
      const ChorusRtcpReportBlock *a = &r.blocks[i], *b = &blocks[i];
      REQUIRE(a->ssrc == b->ssrc && a->fraction_lost == b->fraction_lost &&
              a->ext_highest_seq == b->ext_highest_seq && a->jitter == b->jitter &&
              a->lsr == b->lsr && a->dlsr == b->dlsr);
      REQUIRE(a->cumulative_lost == CLAMP(b->cumulative_lost, -0x800000, 0x7fffff));
    }
  }

  /* SDES: up to 4 chunks of up to 4 items from the input. */
  ChorusRtcpSdesItem items[16];
  ChorusRtcpSdesChunk chunks[4];
  guint n_chunks = take8(&rd) % 5;
  for (guint c = 0; c < n_chunks; c++) {
    chunks[c].ssrc = take32(&rd);
    chunks[c].items = items + 4 * c;
    chunks[c].n_items = take8(&rd) % 5;
    for (guint i = 0; i < chunks[c].n_items; i++) {
      ChorusRtcpSdesItem *item = &items[4 * c + i];
      guint8 type = take8(&rd);
      item->type = type == CHORUS_RTCP_SDES_END ? CHORUS_RTCP_SDES_CNAME : type;
      gsize len;
      item->value = take_bytes(&rd, take8(&rd), &len);
      item->len = (guint8)len;
    }
  }
  len = chorus_rtcp_write_sdes(out, cap, chunks, n_chunks);
  if (len > 0) {
    REQUIRE(chorus_rtcp_iter_init(&it, out, len) && chorus_rtcp_iter_next(&it, &pkt, &malformed));
    ChorusRtcpSdesIter sdes;
    REQUIRE(chorus_rtcp_sdes_iter_init(&sdes, &pkt));
    for (guint c = 0; c < n_chunks; c++) {
      for (guint i = 0; i < chunks[c].n_items; i++) {
        ChorusRtcpSdesItem item;
        guint32 ssrc;
        REQUIRE(chorus_rtcp_sdes_iter_next(&sdes, &ssrc, &item, &malformed));
        REQUIRE(ssrc == chunks[c].ssrc && item.type == chunks[c].items[i].type);
        REQUIRE(item.len == chunks[c].items[i].len);
        REQUIRE(item.len == 0 || memcmp(item.value, chunks[c].items[i].value, item.len) == 0);
      }
    }
    ChorusRtcpSdesItem item;
    guint32 ssrc;
    REQUIRE(!chorus_rtcp_sdes_iter_next(&sdes, &ssrc, &item, &malformed) && !malformed);
  }

  /* BYE */
  guint32 ssrcs[31];
  guint n_ssrcs = take8(&rd) % 32;
  for (guint i = 0; i < n_ssrcs; i++)
    ssrcs[i] = take32(&rd);
  gsize reason_len;
  const char *reason = (const char *)take_bytes(&rd, take8(&rd), &reason_len);
  if (reason_len % 3 == 1)
    reason = NULL;
  len = chorus_rtcp_write_bye(out, cap, ssrcs, n_ssrcs, reason, reason ? reason_len : 0);
  if (len > 0) {
    REQUIRE(chorus_rtcp_iter_init(&it, out, len) && chorus_rtcp_iter_next(&it, &pkt, &malformed));
    ChorusRtcpBye bye;
    REQUIRE(chorus_rtcp_bye_parse(&pkt, &bye) == CHORUS_RTP_OK);
    REQUIRE(bye.n_ssrcs == n_ssrcs && memcmp(bye.ssrcs, ssrcs, 4 * n_ssrcs) == 0);
    REQUIRE((bye.reason != NULL) == (reason != NULL));
    REQUIRE(!reason ||
            (bye.reason_len == reason_len && memcmp(bye.reason, reason, reason_len) == 0));
  }

  /* REMB */
  guint64 bps = (guint64)take32(&rd) << 32;
  bps |= take32(&rd);
  bps >>= take8(&rd) % 64;
  len = chorus_rtcp_write_remb(out, cap, 7, bps, ssrcs, n_ssrcs);
  if (len > 0) {
    REQUIRE(chorus_rtcp_iter_init(&it, out, len) && chorus_rtcp_iter_next(&it, &pkt, &malformed));
    guint64 got;
    guint32 got_ssrcs[31];
    gsize total;
    REQUIRE(chorus_rtcp_remb_parse(&pkt, &got, got_ssrcs, 31, &total) == CHORUS_RTP_OK);
    REQUIRE(total == n_ssrcs && memcmp(got_ssrcs, ssrcs, 4 * n_ssrcs) == 0);
    REQUIRE(got <= bps && bps - got <= (bps >> 17));
  }

  /* XR */
  ChorusRtcpDlrrItem dlrr[8];
  gsize n_dlrr = take8(&rd) % 9;
  for (gsize i = 0; i < n_dlrr; i++) {
    dlrr[i].ssrc = take32(&rd);
    dlrr[i].last_rr = take32(&rd);
    dlrr[i].dlrr = take32(&rd);
  }
  guint64 ntp = si.ntp;
  gboolean with_rrtr = n_dlrr % 2 == 0;
  len = chorus_rtcp_write_xr(out, cap, 7, with_rrtr ? &ntp : NULL, dlrr, n_dlrr);
  if (len > 0) {
    REQUIRE(chorus_rtcp_iter_init(&it, out, len) && chorus_rtcp_iter_next(&it, &pkt, &malformed));
    ChorusRtcpXrIter xr;
    ChorusRtcpXrBlock block;
    REQUIRE(chorus_rtcp_xr_iter_init(&xr, &pkt, NULL));
    if (with_rrtr) {
      guint64 got;
      REQUIRE(chorus_rtcp_xr_iter_next(&xr, &block, &malformed));
      REQUIRE(chorus_rtcp_xr_rrtr_parse(&block, &got) == CHORUS_RTP_OK && got == ntp);
    }
    if (n_dlrr > 0) {
      ChorusRtcpDlrrItem got[8];
      gsize total;
      REQUIRE(chorus_rtcp_xr_iter_next(&xr, &block, &malformed));
      REQUIRE(chorus_rtcp_xr_dlrr_parse(&block, got, 8, &total) == CHORUS_RTP_OK);
      REQUIRE(total == n_dlrr && memcmp(got, dlrr, sizeof(dlrr[0]) * n_dlrr) == 0);
    }
    REQUIRE(!chorus_rtcp_xr_iter_next(&xr, &block, &malformed) && !malformed);
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* A g_return_val_if_fail tripping means the harness broke a writer's
   * contract (or a writer's own check is wrong): stop there too. */
  static gboolean fatal_set;
  if (!fatal_set) {
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
    fatal_set = TRUE;
  }
  if (size < 1)
    return 0;
  switch (data[0] % 4) {
  case 0:
    fuzz_parsers(data + 1, size - 1);
    break;
  case 1:
    fuzz_twcc(data + 1, size - 1);
    break;
  case 2:
    fuzz_nack(data + 1, size - 1);
    break;
  default:
    fuzz_writers(data + 1, size - 1);
    break;
  }
  return 0;
}
