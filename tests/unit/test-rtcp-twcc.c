/* Transport-wide CC feedback: hand-checked packets, chunk choice, malformed
 * input, and builder -> parser round trips (fixed cases and 1000 seeded
 * random ones). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rtp/rtcp-twcc.h"
#include "rtp/rtcp.h"
#include "rtcp-test-util.h"

#define W CHORUS_RTCP_TWCC_TIME_WRAP_US

static ChorusRtcpTwccStatus statuses[65536];

/* Check's ck_assert reports every passing check to the parent process;
 * the round trips check millions of statuses, so they only call it when
 * something fails. */
#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);                                        \
  } while (0)
#define CHECK_MSG(cond, ...)                                                                       \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      ck_abort_msg(__VA_ARGS__);                                                                   \
  } while (0)


/* @a - @b on the 24-bit reference clock, in (-W/2, W/2]. */
static gint64
wrap_diff(gint64 a, gint64 b)
{
  gint64 d = (a - b) % W;
  if (d <= -W / 2)
    d += W;
  if (d > W / 2)
    d -= W;
  return d;
}

START_TEST(test_twcc_bytes)
{
  /* seq 10 at 321.0 ms, 11 lost, 12 at 323.5 ms, 13 at 322.5 ms (reordered).
   * Reference 5 (320 ms); deltas +4, +10, -4 units: S N S L in one two-bit
   * vector 11 01 00 01 10 00 00 00 = 0xd180; deltas 04 0a fffc; padding. */
  static const guint8 expect[] = {
      0x8f, 205,  0x00, 0x06, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x00, 0x0a,
      0x00, 0x04, 0x00, 0x00, 0x05, 0x00, 0xd1, 0x80, 0x04, 0x0a, 0xff, 0xfc, 0x00, 0x00,
  };
  const ChorusRtcpTwccArrival in[] = {{10, 321000}, {12, 323500}, {13, 322500}};
  ChorusRtcpTwccBuilder b;
  chorus_rtcp_twcc_builder_init(&b, 0x01020304, 0x05060708, 1200);
  guint8 out[1200];
  gsize consumed;
  gsize n = chorus_rtcp_twcc_builder_write_packet(&b, in, 3, out, sizeof out, &consumed);
  ck_assert_uint_eq(consumed, 3);
  ck_assert_uint_eq(n, sizeof expect);
  ck_assert_mem_eq(out, expect, sizeof expect);
  ck_assert_uint_eq(b.fb_count, 1);
  ck_assert(b.has_next_seq);
  ck_assert_uint_eq(b.next_seq, 14);

  ChorusRtcpPacket p = single(expect, sizeof expect);
  ChorusRtcpTwcc fb;
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 4), CHORUS_RTP_OK);
  ck_assert_uint_eq(fb.sender_ssrc, 0x01020304);
  ck_assert_uint_eq(fb.media_ssrc, 0x05060708);
  ck_assert_uint_eq(fb.base_seq, 10);
  ck_assert_uint_eq(fb.status_count, 4);
  ck_assert_uint_eq(fb.reference_time_64ms, 5);
  ck_assert_uint_eq(fb.fb_count, 0);
  ck_assert_uint_eq(fb.n_received, 3);
  ck_assert_uint_eq(statuses[0].seq, 10);
  ck_assert_uint_eq(statuses[0].symbol, CHORUS_RTCP_TWCC_SMALL_DELTA);
  ck_assert_int_eq(statuses[0].delta_250us, 4);
  ck_assert_int_eq(statuses[0].arrival_us, 321000);
  ck_assert_uint_eq(statuses[1].symbol, CHORUS_RTCP_TWCC_NOT_RECEIVED);
  ck_assert_int_eq(statuses[2].arrival_us, 323500);
  ck_assert_uint_eq(statuses[3].symbol, CHORUS_RTCP_TWCC_LARGE_DELTA);
  ck_assert_int_eq(statuses[3].delta_250us, -4);
  ck_assert_int_eq(statuses[3].arrival_us, 322500);
  ck_assert_uint_eq(statuses[3].seq, 13);
}
END_TEST

START_TEST(test_twcc_parse_chunk_kinds)
{
  /* base 65534, 20 statuses, reference 0x800001 (top bit set: unsigned):
   *   run chunk 0x2003: 0 01 <3>: small x 3 (65534, 65535, 0)
   *   one-bit vector 0xa801: 1 0 10100000000001 (seqs 1..14)
   *   two-bit vector 0xe100: 1 1 10 00 01 00 00 00: L N S, 4 unused
   * deltas: 1, 2, 3 (run), 4, 5, 6 (the vector's 1s), -1 (L), 7 (S); one
   * byte of zero padding: 36 bytes, length 8. */
  static const guint8 pkt[] = {
      0x8f, 205,  0x00, 0x08, 0,    0,    0,    1,    0,    0,    0,    2,
      0xff, 0xfe, 0x00, 20,   0x80, 0x00, 0x01, 0x07, 0x20, 0x03, 0xa8, 0x01,
      0xe1, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0xff, 0xff, 0x07, 0x00,
  };
  ChorusRtcpPacket p = single(pkt, sizeof pkt);
  ChorusRtcpTwcc fb;
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 20), CHORUS_RTP_OK);
  ck_assert_uint_eq(fb.reference_time_64ms, 0x800001);
  ck_assert_uint_eq(fb.fb_count, 7);
  ck_assert_uint_eq(fb.n_received, 8);
  static const guint8 sym[20] = {1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 1};
  static const gint32 delta[20] = {1, 2, 3, 4, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, -1, 0, 7};
  gint64 t = (gint64)0x800001 * 64000;
  for (guint i = 0; i < 20; i++) {
    ck_assert_uint_eq(statuses[i].seq, (guint16)(65534 + i));
    ck_assert_uint_eq(statuses[i].symbol, sym[i]);
    ck_assert_int_eq(statuses[i].delta_250us, delta[i]);
    t += delta[i] * 250;
    ck_assert_int_eq(statuses[i].arrival_us, sym[i] ? t : 0);
  }
  /* One entry short of the count: the caller learns the count. */
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 19), CHORUS_RTP_DROP_TOO_BIG);
  ck_assert_uint_eq(fb.status_count, 20);
}
END_TEST

START_TEST(test_twcc_malformed)
{
  guint8 pkt[] = {
      0x8f, 205,  0x00, 0x05, 0,    0,    0,    1,    0,    0,    0,    2,
      0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x01, 0x00, 0x20, 0x02, 0x01, 0x02,
  };
  ChorusRtcpTwcc fb;
  ChorusRtcpPacket p = raw(pkt, sizeof pkt);
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 10), CHORUS_RTP_OK);
  ck_assert_uint_eq(fb.n_received, 2);

  /* Deltas cut: 1 of 2 present. */
  p = raw(pkt, sizeof pkt - 1);
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 10), CHORUS_RTP_DROP_MALFORMED);
  /* Chunks cut: count 30 needs more than the one run of 2. */
  pkt[15] = 30;
  p = raw(pkt, 22);
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 64), CHORUS_RTP_DROP_MALFORMED);
  p = raw(pkt, sizeof pkt);
  /* Zero statuses. */
  pkt[15] = 0;
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 64), CHORUS_RTP_DROP_MALFORMED);
  pkt[15] = 2;
  /* The reserved symbol in a run and in a two-bit vector. */
  pkt[20] = 0x60;
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 64), CHORUS_RTP_DROP_MALFORMED);
  pkt[20] = 0xf0; /* 11 11 00 ...: first symbol reserved */
  pkt[21] = 0x00;
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 64), CHORUS_RTP_DROP_MALFORMED);
  /* ...but not in the unused tail of the last vector: 01 01 11 11 ... */
  pkt[20] = 0xd7;
  pkt[21] = 0xff;
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 64), CHORUS_RTP_OK);
  /* Large deltas claimed but only 2 bytes: 10 10 = two large deltas. */
  pkt[20] = 0xe8;
  pkt[21] = 0x00;
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 64), CHORUS_RTP_DROP_MALFORMED);
  /* A run longer than the count is cut to it. */
  pkt[20] = 0x3f;
  pkt[21] = 0xff;
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 64), CHORUS_RTP_OK);
  ck_assert_uint_eq(fb.n_received, 2);
  /* Shorter than the fixed part; wrong FMT; wrong type; empty. */
  p = raw(pkt, 19);
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 64), CHORUS_RTP_DROP_MALFORMED);
  pkt[0] = 0x81;
  p = raw(pkt, sizeof pkt);
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 64), CHORUS_RTP_DROP_MALFORMED);
  pkt[0] = 0x8f;
  pkt[1] = CHORUS_RTCP_PSFB;
  p = raw(pkt, sizeof pkt);
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 64), CHORUS_RTP_DROP_MALFORMED);
  p = raw(pkt, 0);
  p.type = CHORUS_RTCP_RTPFB;
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 64), CHORUS_RTP_DROP_MALFORMED);
  /* RTCP padding (P bit) over the deltas: they are gone. */
  pkt[1] = CHORUS_RTCP_RTPFB;
  pkt[0] = 0xaf;
  pkt[20] = 0x20;
  pkt[21] = 0x02;
  pkt[23] = 4;
  p = raw(pkt, sizeof pkt);
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 64), CHORUS_RTP_DROP_MALFORMED);
}
END_TEST

/* Builds feedback for @in with a fresh builder (packets of at most
 * @max_len), parses every packet back and checks: sizes, fb counts,
 * contiguous coverage from the first entry's seq, every seq between
 * entries reported lost, every entry's status, arrival times within half a
 * delta unit (modulo the reference wrap), and small deltas used whenever
 * they fit. Returns the number of packets. */
static guint
round_trip(const ChorusRtcpTwccArrival *in, gsize n, gsize max_len)
{
  ChorusRtcpTwccBuilder b;
  chorus_rtcp_twcc_builder_init(&b, 0xaaaa, 0xbbbb, max_len);
  static guint8 out[CHORUS_RTCP_MAX_PACKET_LEN];
  gsize done = 0;
  guint packets = 0;
  gsize in_idx = 0; /* next input entry to match */
  gboolean have_expect = FALSE;
  guint16 expect_seq = 0; /* next seq the flattened statuses must show */
  while (done < n) {
    gsize consumed;
    gsize len =
        chorus_rtcp_twcc_builder_write_packet(&b, in + done, n - done, out, sizeof out, &consumed);
    CHECK(len > 0);
    CHECK(consumed > 0);
    CHECK(len <= max_len);
    CHECK(len % 4 == 0);
    done += consumed;

    ChorusRtcpPacket p = single(out, len);
    ChorusRtcpTwcc fb;
    ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, G_N_ELEMENTS(statuses)),
                     CHORUS_RTP_OK);
    CHECK(fb.fb_count == (packets & 0xff));
    CHECK(fb.sender_ssrc == 0xaaaa);
    CHECK(fb.media_ssrc == 0xbbbb);
    if (!have_expect) {
      CHECK(fb.base_seq == in[0].seq);
      have_expect = TRUE;
    } else {
      CHECK(fb.base_seq == expect_seq);
    }
    packets++;
    for (guint i = 0; i < fb.status_count; i++) {
      const ChorusRtcpTwccStatus *s = &statuses[i];
      CHECK(s->seq == (guint16)(fb.base_seq + i));
      if (s->symbol == CHORUS_RTCP_TWCC_SMALL_DELTA)
        CHECK(s->delta_250us >= 0 && s->delta_250us <= 255);
      else if (s->symbol == CHORUS_RTCP_TWCC_LARGE_DELTA)
        CHECK(s->delta_250us < 0 || s->delta_250us > 255);
      CHECK(in_idx < n);
      if (s->seq != in[in_idx].seq) {
        CHECK(s->symbol == CHORUS_RTCP_TWCC_NOT_RECEIVED);
        continue;
      }
      if (in[in_idx].arrival_us == CHORUS_RTCP_TWCC_LOST) {
        CHECK(s->symbol == CHORUS_RTCP_TWCC_NOT_RECEIVED);
      } else {
        CHECK(s->symbol != CHORUS_RTCP_TWCC_NOT_RECEIVED);
        gint64 err = wrap_diff(s->arrival_us, in[in_idx].arrival_us);
        CHECK_MSG(err > -125 && err <= 125,
                  "seq %u arrival %" G_GINT64_FORMAT " parsed %" G_GINT64_FORMAT, s->seq,
                  in[in_idx].arrival_us, s->arrival_us);
      }
      in_idx++;
    }
    expect_seq = (guint16)(fb.base_seq + fb.status_count);
    /* The packet ends on an entry, never on implied losses. */
    CHECK(expect_seq == (guint16)(in[in_idx - 1].seq + 1));
  }
  CHECK(in_idx == n);
  CHECK(b.next_seq == (guint16)(in[n - 1].seq + 1));
  return packets;
}

START_TEST(test_twcc_run_length_choice)
{
  /* 100 packets 1 ms apart: one run chunk (0x2064) and 100 small deltas. */
  ChorusRtcpTwccArrival in[100];
  for (guint i = 0; i < 100; i++)
    in[i] = (ChorusRtcpTwccArrival){(guint16)(1000 + i), 5000000 + 1000 * (gint64)i};
  ChorusRtcpTwccBuilder b;
  chorus_rtcp_twcc_builder_init(&b, 1, 2, 1500);
  guint8 out[1500];
  gsize consumed;
  gsize n = chorus_rtcp_twcc_builder_write_packet(&b, in, 100, out, sizeof out, &consumed);
  ck_assert_uint_eq(consumed, 100);
  ck_assert_uint_eq(n, 20 + 2 + 100 + 2);
  ck_assert_uint_eq(chorus_rtp_read16(out + 20), 0x2064);
  ck_assert_uint_eq(round_trip(in, 100, 1500), 1);

  /* Alternating received/lost: one-bit vectors of 14 (0xaaaa pattern). */
  for (guint i = 0; i < 50; i++)
    in[i] = (ChorusRtcpTwccArrival){(guint16)(2 * i), 1000 * (gint64)i};
  chorus_rtcp_twcc_builder_init(&b, 1, 2, 1500);
  n = chorus_rtcp_twcc_builder_write_packet(&b, in, 50, out, sizeof out, &consumed);
  ck_assert_uint_eq(consumed, 50);
  /* 99 statuses: 7 full one-bit vectors (98) + 1 status in a last chunk. */
  ck_assert_uint_eq(chorus_rtp_read16(out + 14), 99);
  for (guint c = 0; c < 7; c++)
    ck_assert_uint_eq(chorus_rtp_read16(out + 20 + 2 * c), 0xaaaa);
  ck_assert_uint_eq(chorus_rtp_read16(out + 20 + 14), 0x2001);
  ck_assert_uint_eq(n, 20 + 16 + 50 + 2);
  ck_assert_uint_eq(round_trip(in, 50, 1500), 1);
}
END_TEST

START_TEST(test_twcc_wrap_gap_reorder)
{
  /* Seq wraps 65535 -> 0. */
  ChorusRtcpTwccArrival wrap[12];
  for (guint i = 0; i < 12; i++)
    wrap[i] = (ChorusRtcpTwccArrival){(guint16)(65530 + i), 777777 + 3000 * (gint64)i};
  ck_assert_uint_eq(round_trip(wrap, 12, 1200), 1);

  /* A gap of 19989 lost packets: run chunks of 8191 + 8191 + 3607. */
  const ChorusRtcpTwccArrival gap[] = {{10, 1000000}, {20000, 1001000}};
  ChorusRtcpTwccBuilder b;
  chorus_rtcp_twcc_builder_init(&b, 1, 2, 1200);
  guint8 out[1200];
  gsize consumed;
  gsize n = chorus_rtcp_twcc_builder_write_packet(&b, gap, 2, out, sizeof out, &consumed);
  ck_assert_uint_eq(consumed, 2);
  ck_assert_uint_eq(chorus_rtp_read16(out + 14), 19991);
  /* Chunks: a one-bit vector (S + 13 N), runs of 8191, 8191 and 3594 N,
   * a run of one S; two small deltas. */
  ck_assert_uint_eq(n, 20 + 2 * 5 + 2);
  ck_assert_uint_eq(chorus_rtp_read16(out + 20), 0xa000);
  ck_assert_uint_eq(chorus_rtp_read16(out + 22), 0x1fff);
  ck_assert_uint_eq(chorus_rtp_read16(out + 26), 3594);
  ck_assert_uint_eq(chorus_rtp_read16(out + 28), 0x2001);
  ck_assert_uint_eq(round_trip(gap, 2, 1200), 1);

  /* Reordering: negative deltas, large form. */
  const ChorusRtcpTwccArrival re[] = {
      {1, 2000000}, {2, 1990000}, {3, 2050000}, {4, 1980000}, {5, 1980001},
  };
  ck_assert_uint_eq(round_trip(re, 5, 1200), 1);

  /* Deltas beyond 8.2 s: a new packet with a new reference time. */
  const ChorusRtcpTwccArrival jump[] = {{1, 0}, {2, 9000000}, {3, 0}};
  ck_assert_uint_eq(round_trip(jump, 3, 1200), 3);

  /* Arrival times about the 24-bit reference wrap (12.4 days). */
  const ChorusRtcpTwccArrival late[] = {{7, W - 100000}, {8, W + 1000}, {9, 3 * W + 5}};
  ck_assert_uint_eq(round_trip(late, 3, 1200), 2);
}
END_TEST

START_TEST(test_twcc_split_packets)
{
  /* 1000 packets with small deltas; 100-byte packets hold 76 bytes of chunks
   * and deltas. */
  ChorusRtcpTwccArrival in[1000];
  for (guint i = 0; i < 1000; i++)
    in[i] = (ChorusRtcpTwccArrival){(guint16)(60000 + i + i / 10), 1000 * (gint64)i};
  guint packets = round_trip(in, 1000, 100);
  ck_assert_uint_ge(packets, 1000 / 76);
  ck_assert_uint_le(packets, 20);

  /* write() puts them back to back and stops where @cap ends. */
  ChorusRtcpTwccBuilder b;
  chorus_rtcp_twcc_builder_init(&b, 1, 2, 100);
  static guint8 out[4096];
  guint n_packets;
  gsize consumed;
  gsize n = chorus_rtcp_twcc_builder_write(&b, in, 1000, out, sizeof out, &n_packets, &consumed);
  ck_assert_uint_eq(consumed, 1000);
  ck_assert_uint_eq(n_packets, packets);
  ChorusRtcpIter it;
  ChorusRtcpPacket p;
  gboolean bad;
  guint walked = 0;
  chorus_rtcp_iter_init(&it, out, n);
  while (chorus_rtcp_iter_next(&it, &p, &bad)) {
    ChorusRtcpTwcc fb;
    ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 65536), CHORUS_RTP_OK);
    ck_assert_uint_eq(fb.fb_count, walked);
    walked++;
  }
  ck_assert(!bad);
  ck_assert_uint_eq(walked, packets);

  chorus_rtcp_twcc_builder_init(&b, 1, 2, 100);
  /* Two packets of up to 100 bytes, then a smaller one in what is left. */
  n = chorus_rtcp_twcc_builder_write(&b, in, 1000, out, 250, &n_packets, &consumed);
  ck_assert_uint_eq(n_packets, 3);
  ck_assert_uint_le(n, 250);
  ck_assert_uint_gt(n, 200);
  ck_assert_uint_lt(consumed, 1000);
  ck_assert_uint_eq(b.fb_count, 3);
  ck_assert_uint_eq(b.next_seq, (guint16)(in[consumed - 1].seq + 1));
}
END_TEST

START_TEST(test_twcc_builder_state)
{
  ChorusRtcpTwccBuilder b;
  chorus_rtcp_twcc_builder_init(&b, 1, 2, 1200);
  guint8 out[1200];
  gsize consumed;
  ChorusRtcpTwcc fb;

  const ChorusRtcpTwccArrival first[] = {{100, 64000}, {101, 65000}};
  ck_assert_uint_gt(chorus_rtcp_twcc_builder_write_packet(&b, first, 2, out, sizeof out, &consumed),
                    0);
  ck_assert_uint_eq(b.next_seq, 102);

  /* The next feedback starts at 102: 102..104 are reported lost. */
  const ChorusRtcpTwccArrival second[] = {{105, 70000}};
  gsize n = chorus_rtcp_twcc_builder_write_packet(&b, second, 1, out, sizeof out, &consumed);
  ChorusRtcpPacket p = single(out, n);
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 100), CHORUS_RTP_OK);
  ck_assert_uint_eq(fb.base_seq, 102);
  ck_assert_uint_eq(fb.status_count, 4);
  ck_assert_uint_eq(fb.n_received, 1);
  ck_assert_uint_eq(fb.fb_count, 1);
  ck_assert_uint_eq(statuses[3].symbol, CHORUS_RTCP_TWCC_SMALL_DELTA);
  ck_assert_uint_eq(b.next_seq, 106);

  /* A late packet (103, reported lost above) starts its own feedback and
   * does not move next_seq back. */
  const ChorusRtcpTwccArrival late[] = {{103, 71000}};
  n = chorus_rtcp_twcc_builder_write_packet(&b, late, 1, out, sizeof out, &consumed);
  p = single(out, n);
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 100), CHORUS_RTP_OK);
  ck_assert_uint_eq(fb.base_seq, 103);
  ck_assert_uint_eq(fb.status_count, 1);
  ck_assert_uint_eq(b.next_seq, 106);

  /* Duplicates and reordered entries are consumed and skipped. */
  const ChorusRtcpTwccArrival dup[] = {{106, 80000}, {106, 80001}, {104, 80002}, {107, 80003}};
  n = chorus_rtcp_twcc_builder_write_packet(&b, dup, 4, out, sizeof out, &consumed);
  ck_assert_uint_eq(consumed, 4);
  p = single(out, n);
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 100), CHORUS_RTP_OK);
  ck_assert_uint_eq(fb.base_seq, 106);
  ck_assert_uint_eq(fb.status_count, 2);
  ck_assert_int_eq(statuses[0].arrival_us, 80000);

  /* Explicitly lost entries; a feedback of losses only keeps the previous
   * reference time. */
  const ChorusRtcpTwccArrival lost[] = {{108, CHORUS_RTCP_TWCC_LOST}, {109, CHORUS_RTCP_TWCC_LOST}};
  n = chorus_rtcp_twcc_builder_write_packet(&b, lost, 2, out, sizeof out, &consumed);
  ck_assert_uint_eq(consumed, 2);
  p = single(out, n);
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 100), CHORUS_RTP_OK);
  ck_assert_uint_eq(fb.base_seq, 108);
  ck_assert_uint_eq(fb.status_count, 2);
  ck_assert_uint_eq(fb.n_received, 0);
  ck_assert_uint_eq(fb.reference_time_64ms, 1); /* 80000 us -> 1 */
  ck_assert_uint_eq(n, 24);

  /* A packet too small for the lost run before the first arrival leaves the
   * run out rather than make no progress. */
  chorus_rtcp_twcc_builder_init(&b, 1, 2, 24);
  const ChorusRtcpTwccArrival a[] = {{1, 0}};
  const ChorusRtcpTwccArrival c[] = {{30000, 1000}};
  ck_assert_uint_eq(chorus_rtcp_twcc_builder_write_packet(&b, a, 1, out, sizeof out, &consumed),
                    24);
  n = chorus_rtcp_twcc_builder_write_packet(&b, c, 1, out, sizeof out, &consumed);
  ck_assert_uint_eq(n, 24);
  p = single(out, n);
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 100), CHORUS_RTP_OK);
  ck_assert_uint_eq(fb.base_seq, 30000);
  /* ...while a larger one reports 2..29999 lost. */
  chorus_rtcp_twcc_builder_init(&b, 1, 2, 64);
  chorus_rtcp_twcc_builder_write_packet(&b, a, 1, out, sizeof out, &consumed);
  n = chorus_rtcp_twcc_builder_write_packet(&b, c, 1, out, sizeof out, &consumed);
  p = single(out, n);
  ck_assert_int_eq(chorus_rtcp_twcc_parse(&p, &fb, statuses, 65536), CHORUS_RTP_OK);
  ck_assert_uint_eq(fb.base_seq, 2);
  ck_assert_uint_eq(fb.status_count, 29999);

  /* Nothing to write, or no room. */
  ck_assert_uint_eq(chorus_rtcp_twcc_builder_write_packet(&b, a, 0, out, sizeof out, &consumed), 0);
  ck_assert_uint_eq(chorus_rtcp_twcc_builder_write_packet(&b, a, 1, out, 23, &consumed), 0);
  ck_assert_uint_eq(consumed, 0);
}
END_TEST

START_TEST(test_twcc_random_round_trips)
{
  static const gsize sizes[] = {32, 40, 64, 100, 200, 576, 1200, 1500, 65532};
  GRand *rand = g_rand_new_with_seed(20240611);
  ChorusRtcpTwccArrival *in = g_new(ChorusRtcpTwccArrival, 3000);
  guint64 total_packets = 0;
  for (guint c = 0; c < 1000; c++) {
    gsize n = (gsize)g_rand_int_range(rand, 1, c % 10 == 0 ? 3000 : 300);
    guint16 seq = (guint16)g_rand_int_range(rand, 0, 65536);
    if (c % 4 == 0)
      seq = (guint16)(65535 - g_rand_int_range(rand, 0, (gint32)n + 1)); /* wraps */
    gint64 t = (gint64)g_rand_int_range(rand, 0, 1 << 30) * g_rand_int_range(rand, 1, 1 << 14);
    gboolean with_lost = c % 2 == 1;
    for (gsize i = 0; i < n; i++) {
      guint32 g = g_rand_int_range(rand, 0, 1000);
      if (i > 0)
        seq += g < 800   ? 1
               : g < 950 ? g_rand_int_range(rand, 2, 21)
               : g < 990 ? g_rand_int_range(rand, 21, 2001)
                         : g_rand_int_range(rand, 2001, 30001);
      guint32 d = g_rand_int_range(rand, 0, 1000);
      if (d < 850)
        t += g_rand_int_range(rand, 0, 20001);
      else if (d < 930)
        t -= g_rand_int_range(rand, 0, 30001);
      else if (d < 980)
        t += g_rand_int_range(rand, 20000, 2000001);
      else
        t += g_rand_int_range(rand, 8200000, 20000001);
      gboolean lost = with_lost && g_rand_int_range(rand, 0, 100) < 3;
      in[i] = (ChorusRtcpTwccArrival){seq, lost ? CHORUS_RTCP_TWCC_LOST : t};
    }
    total_packets += round_trip(in, n, sizes[g_rand_int_range(rand, 0, G_N_ELEMENTS(sizes))]);
  }
  ck_assert_uint_gt(total_packets, 1000);
  g_free(in);
  g_rand_free(rand);
}
END_TEST

static Suite *
rtcp_twcc_suite(void)
{
  Suite *s = suite_create("rtcp-twcc");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_twcc_bytes);
  tcase_add_test(tc, test_twcc_parse_chunk_kinds);
  tcase_add_test(tc, test_twcc_malformed);
  tcase_add_test(tc, test_twcc_run_length_choice);
  tcase_add_test(tc, test_twcc_wrap_gap_reorder);
  tcase_add_test(tc, test_twcc_split_packets);
  tcase_add_test(tc, test_twcc_builder_state);
  tcase_add_test(tc, test_twcc_random_round_trips);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(rtcp_twcc_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
