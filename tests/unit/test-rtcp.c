#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rtp/rtcp.h"
#include "rtcp-test-util.h"
#include "rtp/rtp-packet.h"

START_TEST(test_compound_rr_pli_fir)
{
  guint8 buf[128];
  gsize n = 0;
  /* Empty RR: V=2 RC=0 PT=201 length=1, sender ssrc 0x11111111 */
  const guint8 rr[] = {0x80, 201, 0x00, 0x01, 0x11, 0x11, 0x11, 0x11};
  memcpy(buf, rr, sizeof(rr));
  n += sizeof(rr);
  n += chorus_rtcp_write_pli(buf + n, sizeof(buf) - n, 0x11111111, 0x22222222);
  n += chorus_rtcp_write_fir(buf + n, sizeof(buf) - n, 0x11111111, 0x33333333, 5);
  ck_assert_uint_eq(n, 8 + 12 + 20);

  ChorusRtcpIter it;
  ChorusRtcpPacket p;
  gboolean bad;
  ck_assert(chorus_rtcp_iter_init(&it, buf, n));
  ck_assert(chorus_rtcp_iter_next(&it, &p, &bad));
  ck_assert_uint_eq(p.type, CHORUS_RTCP_RR);
  ck_assert_uint_eq(p.sender_ssrc, 0x11111111);
  guint32 ssrc = 0;
  ck_assert(!chorus_rtcp_is_keyframe_request(&p, &ssrc));

  ck_assert(chorus_rtcp_iter_next(&it, &p, &bad));
  ck_assert_uint_eq(p.type, CHORUS_RTCP_PSFB);
  ck_assert_uint_eq(p.count, CHORUS_RTCP_PSFB_PLI);
  ck_assert(chorus_rtcp_is_keyframe_request(&p, &ssrc));
  ck_assert_uint_eq(ssrc, 0x22222222);

  ck_assert(chorus_rtcp_iter_next(&it, &p, &bad));
  ck_assert_uint_eq(p.count, CHORUS_RTCP_PSFB_FIR);
  ck_assert(chorus_rtcp_is_keyframe_request(&p, &ssrc));
  ck_assert_uint_eq(ssrc, 0x33333333);
  ck_assert_uint_eq(p.data[16], 5);

  ck_assert(!chorus_rtcp_iter_next(&it, &p, &bad));
  ck_assert(!bad);
}
END_TEST

START_TEST(test_malformed)
{
  guint8 buf[32];
  gsize n = chorus_rtcp_write_pli(buf, sizeof(buf), 1, 2);
  ChorusRtcpIter it;
  ChorusRtcpPacket p;
  gboolean bad;

  ck_assert(!chorus_rtcp_iter_init(&it, buf, 3));

  /* Length field claims more words than there are. */
  buf[3] = 9;
  chorus_rtcp_iter_init(&it, buf, n);
  ck_assert(!chorus_rtcp_iter_next(&it, &p, &bad));
  ck_assert(bad);

  /* Wrong version. */
  chorus_rtcp_write_pli(buf, sizeof(buf), 1, 2);
  buf[0] = 0x41;
  chorus_rtcp_iter_init(&it, buf, n);
  ck_assert(!chorus_rtcp_iter_next(&it, &p, &bad));
  ck_assert(bad);

  /* Not an RTCP packet type. */
  chorus_rtcp_write_pli(buf, sizeof(buf), 1, 2);
  buf[1] = 96;
  chorus_rtcp_iter_init(&it, buf, n);
  ck_assert(!chorus_rtcp_iter_next(&it, &p, &bad));
  ck_assert(bad);

  /* Trailing bytes after a good packet. */
  chorus_rtcp_write_pli(buf, sizeof(buf), 1, 2);
  chorus_rtcp_iter_init(&it, buf, n + 2);
  ck_assert(chorus_rtcp_iter_next(&it, &p, &bad));
  ck_assert(!chorus_rtcp_iter_next(&it, &p, &bad));
  ck_assert(bad);

  /* Writers refuse small buffers. */
  ck_assert_uint_eq(chorus_rtcp_write_pli(buf, 11, 1, 2), 0);
  ck_assert_uint_eq(chorus_rtcp_write_fir(buf, 19, 1, 2, 0), 0);
}
END_TEST


static ChorusRtcpReportBlock
block(guint32 ssrc, guint8 fraction, gint32 cum, guint32 ext, guint32 jitter, guint32 lsr,
      guint32 dlsr)
{
  return (ChorusRtcpReportBlock){ssrc, fraction, cum, ext, jitter, lsr, dlsr};
}

START_TEST(test_rr_bytes)
{
  /* Hand-checked RR: one block, cumulative lost -2 (duplicates) as 24-bit
   * two's complement 0xfffffe. */
  static const guint8 expect[] = {
      0x81, 201,  0x00, 0x07, 0x11, 0x22, 0x33, 0x44, /* RC=1, length 7 words */
      0xaa, 0xbb, 0xcc, 0xdd,                         /* reportee */
      0x40, 0xff, 0xff, 0xfe,                         /* 25 % lost, -2 cumulative */
      0x00, 0x01, 0x00, 0x05,                         /* cycle 1, seq 5 */
      0x00, 0x00, 0x00, 0x2a,                         /* jitter 42 */
      0x12, 0x34, 0x56, 0x78,                         /* LSR */
      0x00, 0x01, 0x80, 0x00,                         /* DLSR 1.5 s */
  };
  ChorusRtcpReportBlock b = block(0xaabbccdd, 64, -2, 0x00010005, 42, 0x12345678, 0x18000);
  guint8 out[64];
  gsize n = chorus_rtcp_write_rr(out, sizeof out, 0x11223344, &b, 1);
  ck_assert_uint_eq(n, sizeof expect);
  ck_assert_mem_eq(out, expect, sizeof expect);

  ChorusRtcpPacket p = single(expect, sizeof expect);
  ChorusRtcpReport r;
  ck_assert_int_eq(chorus_rtcp_report_parse(&p, &r), CHORUS_RTP_OK);
  ck_assert(!r.is_sr);
  ck_assert_uint_eq(r.ssrc, 0x11223344);
  ck_assert_uint_eq(r.n_blocks, 1);
  ck_assert_uint_eq(r.blocks[0].ssrc, 0xaabbccdd);
  ck_assert_uint_eq(r.blocks[0].fraction_lost, 64);
  ck_assert_int_eq(r.blocks[0].cumulative_lost, -2);
  ck_assert_uint_eq(r.blocks[0].ext_highest_seq, 0x00010005);
  ck_assert_uint_eq(r.blocks[0].jitter, 42);
  ck_assert_uint_eq(r.blocks[0].lsr, 0x12345678);
  ck_assert_uint_eq(r.blocks[0].dlsr, 0x18000);
  ck_assert_ptr_null(r.ext);
  ck_assert_uint_eq(r.ext_len, 0);
}
END_TEST

START_TEST(test_sr_round_trip)
{
  ChorusRtcpSenderInfo si = {
      .ntp = G_GUINT64_CONSTANT(0xe8a1b2c3d4e5f607),
      .rtp_ts = 0x01020304,
      .packet_count = 1000,
      .octet_count = 1200000,
  };
  ChorusRtcpReportBlock blocks[CHORUS_RTCP_MAX_COUNT];
  for (guint i = 0; i < CHORUS_RTCP_MAX_COUNT; i++)
    blocks[i] = block(0x1000 + i, (guint8)i, (gint32)i * 1000 - 15000, 70000 + i, i, i * 7, i * 9);
  /* Clamped to the 24-bit signed range. */
  blocks[0].cumulative_lost = 0x7fffff;
  blocks[1].cumulative_lost = -0x800000;
  blocks[2].cumulative_lost = 0x1000000;
  blocks[3].cumulative_lost = G_MININT32;

  guint8 out[1024];
  gsize n = chorus_rtcp_write_sr(out, sizeof out, 0xdeadbeef, &si, blocks, CHORUS_RTCP_MAX_COUNT);
  ck_assert_uint_eq(n, 8 + 20 + 31 * 24);
  ck_assert_uint_eq(out[0], 0x80 | 31);
  ck_assert_uint_eq(out[1], CHORUS_RTCP_SR);
  ck_assert_uint_eq(chorus_rtp_read16(out + 2), n / 4 - 1);
  ck_assert_uint_eq(chorus_rtp_read32(out + 8), 0xe8a1b2c3);
  ck_assert_uint_eq(chorus_rtp_read32(out + 12), 0xd4e5f607);

  ChorusRtcpPacket p = single(out, n);
  ChorusRtcpReport r;
  ck_assert_int_eq(chorus_rtcp_report_parse(&p, &r), CHORUS_RTP_OK);
  ck_assert(r.is_sr);
  ck_assert_uint_eq(r.ssrc, 0xdeadbeef);
  ck_assert(r.sender_info.ntp == si.ntp);
  ck_assert_uint_eq(r.sender_info.rtp_ts, si.rtp_ts);
  ck_assert_uint_eq(r.sender_info.packet_count, 1000);
  ck_assert_uint_eq(r.sender_info.octet_count, 1200000);
  ck_assert_uint_eq(r.n_blocks, 31);
  ck_assert_int_eq(r.blocks[0].cumulative_lost, 0x7fffff);
  ck_assert_int_eq(r.blocks[1].cumulative_lost, -0x800000);
  ck_assert_int_eq(r.blocks[2].cumulative_lost, 0x7fffff);
  ck_assert_int_eq(r.blocks[3].cumulative_lost, -0x800000);
  for (guint i = 4; i < CHORUS_RTCP_MAX_COUNT; i++) {
    ck_assert_uint_eq(r.blocks[i].ssrc, 0x1000 + i);
    ck_assert_uint_eq(r.blocks[i].fraction_lost, i);
    ck_assert_int_eq(r.blocks[i].cumulative_lost, (gint32)i * 1000 - 15000);
    ck_assert_uint_eq(r.blocks[i].ext_highest_seq, 70000 + i);
    ck_assert_uint_eq(r.blocks[i].jitter, i);
    ck_assert_uint_eq(r.blocks[i].lsr, i * 7);
    ck_assert_uint_eq(r.blocks[i].dlsr, i * 9);
  }

  /* SR without blocks; capacity one byte short fails, exact succeeds. */
  ck_assert_uint_eq(chorus_rtcp_write_sr(out, 27, 1, &si, NULL, 0), 0);
  ck_assert_uint_eq(chorus_rtcp_write_sr(out, 28, 1, &si, NULL, 0), 28);
  p = single(out, 28);
  ck_assert_int_eq(chorus_rtcp_report_parse(&p, &r), CHORUS_RTP_OK);
  ck_assert(r.is_sr);
  ck_assert_uint_eq(r.n_blocks, 0);
  ck_assert_uint_eq(chorus_rtcp_write_rr(out, 7, 1, NULL, 0), 0);
  ck_assert_uint_eq(chorus_rtcp_write_rr(out, 8, 1, NULL, 0), 8);
}
END_TEST

START_TEST(test_report_malformed)
{
  guint8 out[256];
  ChorusRtcpReport r;
  ChorusRtcpReportBlock b = block(1, 2, 3, 4, 5, 6, 7);
  ChorusRtcpSenderInfo si = {1, 2, 3, 4};
  gsize n = chorus_rtcp_write_rr(out, sizeof out, 9, &b, 1);
  ck_assert_uint_eq(n, 32);

  /* RC says 2 blocks, only 1 present. */
  out[0] = 0x82;
  ChorusRtcpPacket p = raw(out, n);
  ck_assert_int_eq(chorus_rtcp_report_parse(&p, &r), CHORUS_RTP_DROP_MALFORMED);
  /* RC 31 in an 8-byte packet. */
  out[0] = 0x9f;
  p = raw(out, 8);
  ck_assert_int_eq(chorus_rtcp_report_parse(&p, &r), CHORUS_RTP_DROP_MALFORMED);
  /* Header only, no SSRC. */
  out[0] = 0x80;
  p = raw(out, 4);
  ck_assert_int_eq(chorus_rtcp_report_parse(&p, &r), CHORUS_RTP_DROP_MALFORMED);
  /* The block cut by one byte. */
  out[0] = 0x81;
  p = raw(out, 31);
  ck_assert_int_eq(chorus_rtcp_report_parse(&p, &r), CHORUS_RTP_DROP_MALFORMED);
  /* SR too short for its sender info. */
  n = chorus_rtcp_write_sr(out, sizeof out, 9, &si, NULL, 0);
  p = raw(out, 27);
  ck_assert_int_eq(chorus_rtcp_report_parse(&p, &r), CHORUS_RTP_DROP_MALFORMED);
  /* Another packet type. */
  n = chorus_rtcp_write_pli(out, sizeof out, 1, 2);
  p = raw(out, n);
  ck_assert_int_eq(chorus_rtcp_report_parse(&p, &r), CHORUS_RTP_DROP_MALFORMED);
  /* Zero-length view. */
  p = raw(out, 0);
  p.type = CHORUS_RTCP_RR;
  ck_assert_int_eq(chorus_rtcp_report_parse(&p, &r), CHORUS_RTP_DROP_MALFORMED);
}
END_TEST

START_TEST(test_report_extension_and_padding)
{
  /* RR, no blocks, 4 bytes of profile extension: returned as a view. */
  guint8 rr_ext[] = {0x80, 201, 0x00, 0x02, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef};
  ChorusRtcpPacket p = single(rr_ext, sizeof rr_ext);
  ChorusRtcpReport r;
  ck_assert_int_eq(chorus_rtcp_report_parse(&p, &r), CHORUS_RTP_OK);
  ck_assert_uint_eq(r.ext_len, 4);
  ck_assert_ptr_eq(r.ext, rr_ext + 8);

  /* The same with the P bit: the last 4 bytes are padding (count 4). */
  guint8 padded[] = {0xa0, 201, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 4};
  p = single(padded, sizeof padded);
  ck_assert_int_eq(chorus_rtcp_report_parse(&p, &r), CHORUS_RTP_OK);
  ck_assert_uint_eq(r.ext_len, 0);
  gsize content;
  ck_assert(chorus_rtcp_packet_content_len(&p, &content));
  ck_assert_uint_eq(content, 8);

  /* Padding count 0, or reaching into the header: malformed. */
  padded[11] = 0;
  ck_assert(!chorus_rtcp_packet_content_len(&p, &content));
  ck_assert_int_eq(chorus_rtcp_report_parse(&p, &r), CHORUS_RTP_DROP_MALFORMED);
  padded[11] = 9;
  ck_assert(!chorus_rtcp_packet_content_len(&p, &content));
  padded[11] = 8;
  ck_assert(chorus_rtcp_packet_content_len(&p, &content));
  ck_assert_uint_eq(content, 4);
  /* ...which leaves no room for the SSRC. */
  ck_assert_int_eq(chorus_rtcp_report_parse(&p, &r), CHORUS_RTP_DROP_MALFORMED);
}
END_TEST

START_TEST(test_rtt)
{
  /* LSR 10.0 s, DLSR 0.5 s, received back at 10.75 s: 250 ms. */
  guint32 lsr = 10u << 16;
  guint32 dlsr = 1u << 15;
  guint32 now = (10u << 16) + (3u << 14);
  ck_assert_int_eq(chorus_rtcp_rtt_us(now, lsr, dlsr), 250000);
  ck_assert_int_eq(chorus_rtcp_rtt_us(now, 0, dlsr), -1);
  /* Across the wrap of the 32-bit compact clock. */
  ck_assert_int_eq(chorus_rtcp_rtt_us(0x00000100, 0xffffff00, 0x100), 1000000 * 0x100 / 65536);
  /* Slightly negative from rounding: 0; far negative: -1. */
  ck_assert_int_eq(chorus_rtcp_rtt_us(now, lsr, dlsr + (1u << 14) + 3), 0);
  ck_assert_int_eq(chorus_rtcp_rtt_us(now, lsr, dlsr + (5u << 16)), -1);
  ck_assert_uint_eq(chorus_rtcp_ntp_compact(G_GUINT64_CONSTANT(0x1122334455667788)), 0x33445566);
}
END_TEST

START_TEST(test_sdes_bytes)
{
  static const guint8 expect[] = {
      0x81, 202, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, 0x01, 0x03, 'a', 'b', 'c', 0, 0, 0,
  };
  guint8 out[64];
  gsize n = chorus_rtcp_write_sdes_cname(out, sizeof out, 0x11223344, "abc", 3);
  ck_assert_uint_eq(n, sizeof expect);
  ck_assert_mem_eq(out, expect, sizeof expect);
  ck_assert_uint_eq(chorus_rtcp_write_sdes_cname(out, 15, 0x11223344, "abc", 3), 0);

  /* At least one null octet ends the item list, then nulls up to the
   * 32-bit boundary: "a" ends at 11 (one null), "ab" at 12 (a whole null
   * word), "abcdef" at 16 (likewise). */
  n = chorus_rtcp_write_sdes_cname(out, sizeof out, 1, "a", 1);
  ck_assert_uint_eq(n, 12);
  ck_assert_uint_eq(out[11], 0);
  ck_assert_uint_eq(chorus_rtcp_write_sdes_cname(out, sizeof out, 1, "ab", 2), 16);
  ck_assert_uint_eq(chorus_rtcp_write_sdes_cname(out, sizeof out, 1, "abcdef", 6), 20);

  ChorusRtcpPacket p = single(expect, sizeof expect);
  guint32 ssrc = 0;
  const guint8 *cname = NULL;
  gsize cname_len = 0;
  ck_assert(chorus_rtcp_sdes_find_cname(&p, &ssrc, &cname, &cname_len));
  ck_assert_uint_eq(ssrc, 0x11223344);
  ck_assert_uint_eq(cname_len, 3);
  ck_assert_mem_eq(cname, "abc", 3);
}
END_TEST

START_TEST(test_sdes_items)
{
  ChorusRtcpSdesItem a_items[] = {
      {CHORUS_RTCP_SDES_CNAME, 5, (const guint8 *)"alice"},
      {CHORUS_RTCP_SDES_TOOL, 6, (const guint8 *)"chorus"},
      {CHORUS_RTCP_SDES_PRIV, 0, NULL},
  };
  ChorusRtcpSdesItem b_items[] = {
      {CHORUS_RTCP_SDES_NOTE, 3, (const guint8 *)"hi!"},
      {CHORUS_RTCP_SDES_CNAME, 3, (const guint8 *)"bob"},
  };
  ChorusRtcpSdesChunk chunks[] = {
      {0xa, a_items, 3},
      {0xb, NULL, 0},
      {0xc, b_items, 2},
  };
  guint8 out[128];
  gsize n = chorus_rtcp_write_sdes(out, sizeof out, chunks, 3);
  /* 4 + (4 + 7 + 8 + 2 + 1 -> 24) + (4 + 1 -> 8) + (4 + 5 + 5 + 1 -> 16) */
  ck_assert_uint_eq(n, 4 + 24 + 8 + 16);
  ck_assert_uint_eq(out[0], 0x83);

  ChorusRtcpPacket p = single(out, n);
  ChorusRtcpSdesIter it;
  ChorusRtcpSdesItem item;
  guint32 ssrc;
  gboolean bad;
  ck_assert(chorus_rtcp_sdes_iter_init(&it, &p));
  static const struct {
    guint32 ssrc;
    guint8 type;
    const char *value;
  } want[] = {
      {0xa, CHORUS_RTCP_SDES_CNAME, "alice"}, {0xa, CHORUS_RTCP_SDES_TOOL, "chorus"},
      {0xa, CHORUS_RTCP_SDES_PRIV, ""},       {0xc, CHORUS_RTCP_SDES_NOTE, "hi!"},
      {0xc, CHORUS_RTCP_SDES_CNAME, "bob"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
    ck_assert(chorus_rtcp_sdes_iter_next(&it, &ssrc, &item, &bad));
    ck_assert_uint_eq(ssrc, want[i].ssrc);
    ck_assert_uint_eq(item.type, want[i].type);
    ck_assert_uint_eq(item.len, strlen(want[i].value));
    ck_assert_mem_eq(item.value, want[i].value, item.len);
  }
  ck_assert(!chorus_rtcp_sdes_iter_next(&it, &ssrc, &item, &bad));
  ck_assert(!bad);

  const guint8 *cname;
  gsize cname_len;
  ck_assert(chorus_rtcp_sdes_find_cname(&p, &ssrc, &cname, &cname_len));
  ck_assert_uint_eq(ssrc, 0xa);
  ck_assert_uint_eq(cname_len, 5);

  /* Zero chunks: a 4-byte SDES with nothing in it. */
  n = chorus_rtcp_write_sdes(out, sizeof out, NULL, 0);
  ck_assert_uint_eq(n, 4);
  p = single(out, n);
  ck_assert(chorus_rtcp_sdes_iter_init(&it, &p));
  ck_assert(!chorus_rtcp_sdes_iter_next(&it, &ssrc, &item, &bad));
  ck_assert(!bad);
  ck_assert(!chorus_rtcp_sdes_find_cname(&p, &ssrc, &cname, &cname_len));
}
END_TEST

static gboolean
sdes_walk(const guint8 *buf, gsize len, guint *n_items)
{
  ChorusRtcpPacket p = raw(buf, len);
  ChorusRtcpSdesIter it;
  ChorusRtcpSdesItem item;
  guint32 ssrc;
  gboolean bad = FALSE;
  *n_items = 0;
  if (!chorus_rtcp_sdes_iter_init(&it, &p))
    return FALSE;
  while (chorus_rtcp_sdes_iter_next(&it, &ssrc, &item, &bad))
    (*n_items)++;
  return !bad;
}

START_TEST(test_sdes_malformed)
{
  guint n_items;
  /* Item length past the end. */
  const guint8 long_item[] = {0x81, 202, 0, 2, 0, 0, 0, 1, 0x01, 0x09, 'x', 0};
  ck_assert(!sdes_walk(long_item, sizeof long_item, &n_items));
  ck_assert_uint_eq(n_items, 0);
  /* No terminating null octet. */
  const guint8 no_end[] = {0x81, 202, 0, 2, 0, 0, 0, 1, 0x01, 0x02, 'x', 'y'};
  ck_assert(!sdes_walk(no_end, sizeof no_end, &n_items));
  ck_assert_uint_eq(n_items, 1);
  /* SC 2, one chunk present. */
  const guint8 few[] = {0x82, 202, 0, 2, 0, 0, 0, 1, 0x01, 0x01, 'x', 0};
  ck_assert(!sdes_walk(few, sizeof few, &n_items));
  ck_assert_uint_eq(n_items, 1);
  /* Chunk with SSRC only (no null octet); the null octet not padded out. */
  const guint8 bare[] = {0x81, 202, 0, 1, 0, 0, 0, 1};
  ck_assert(!sdes_walk(bare, sizeof bare, &n_items));
  const guint8 short_pad[] = {0x81, 202, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0};
  ck_assert(!sdes_walk(short_pad, 11, &n_items));
  /* An item header cut after its type byte. */
  const guint8 cut2[] = {0x81, 202, 0, 2, 0, 0, 0, 1, 0x01};
  ck_assert(!sdes_walk(cut2, sizeof cut2, &n_items));
  /* Not SDES, and a zero-length view. */
  ck_assert(!sdes_walk(long_item, 0, &n_items));
  guint8 pli[12];
  chorus_rtcp_write_pli(pli, sizeof pli, 1, 2);
  ck_assert(!sdes_walk(pli, sizeof pli, &n_items));
  /* An empty chunk (SSRC then 4 null octets) is fine. */
  const guint8 empty[] = {0x81, 202, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0};
  ck_assert(sdes_walk(empty, sizeof empty, &n_items));
  ck_assert_uint_eq(n_items, 0);
}
END_TEST

START_TEST(test_bye)
{
  static const guint8 expect[] = {0x81, 203, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 3, 'b', 'y', 'e'};
  guint32 one = 0x11223344;
  guint8 out[256];
  gsize n = chorus_rtcp_write_bye(out, sizeof out, &one, 1, "bye", 3);
  ck_assert_uint_eq(n, sizeof expect);
  ck_assert_mem_eq(out, expect, sizeof expect);
  ck_assert_uint_eq(chorus_rtcp_write_bye(out, 11, &one, 1, "bye", 3), 0);

  ChorusRtcpBye bye;
  ChorusRtcpPacket p = single(expect, sizeof expect);
  ck_assert_int_eq(chorus_rtcp_bye_parse(&p, &bye), CHORUS_RTP_OK);
  ck_assert_uint_eq(bye.n_ssrcs, 1);
  ck_assert_uint_eq(bye.ssrcs[0], 0x11223344);
  ck_assert_uint_eq(bye.reason_len, 3);
  ck_assert_mem_eq(bye.reason, "bye", 3);

  /* 31 SSRCs, no reason; a reason padded with zeros. */
  guint32 ssrcs[CHORUS_RTCP_MAX_COUNT];
  for (guint i = 0; i < CHORUS_RTCP_MAX_COUNT; i++)
    ssrcs[i] = 1000 + i;
  n = chorus_rtcp_write_bye(out, sizeof out, ssrcs, 31, NULL, 0);
  ck_assert_uint_eq(n, 4 + 31 * 4);
  p = single(out, n);
  ck_assert_int_eq(chorus_rtcp_bye_parse(&p, &bye), CHORUS_RTP_OK);
  ck_assert_uint_eq(bye.n_ssrcs, 31);
  ck_assert_uint_eq(bye.ssrcs[30], 1030);
  ck_assert_ptr_null(bye.reason);
  n = chorus_rtcp_write_bye(out, sizeof out, ssrcs, 2, "leaving", 7);
  ck_assert_uint_eq(n, 4 + 8 + 8);
  p = single(out, n);
  ck_assert_int_eq(chorus_rtcp_bye_parse(&p, &bye), CHORUS_RTP_OK);
  ck_assert_uint_eq(bye.n_ssrcs, 2);
  ck_assert_uint_eq(bye.reason_len, 7);
  ck_assert_mem_eq(bye.reason, "leaving", 7);

  /* Malformed: count past the end; reason length past the end. */
  guint8 bad[] = {0x83, 203, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2};
  p = raw(bad, sizeof bad);
  ck_assert_int_eq(chorus_rtcp_bye_parse(&p, &bye), CHORUS_RTP_DROP_MALFORMED);
  bad[0] = 0x81;
  bad[8] = 4;
  p = raw(bad, sizeof bad);
  ck_assert_int_eq(chorus_rtcp_bye_parse(&p, &bye), CHORUS_RTP_DROP_MALFORMED);
  bad[8] = 3;
  ck_assert_int_eq(chorus_rtcp_bye_parse(&p, &bye), CHORUS_RTP_OK);
  p = raw(bad, 0);
  p.type = CHORUS_RTCP_BYE;
  ck_assert_int_eq(chorus_rtcp_bye_parse(&p, &bye), CHORUS_RTP_DROP_MALFORMED);
}
END_TEST

START_TEST(test_compound_builder)
{
  guint8 buf[80];
  ChorusRtcpCompound c;
  gsize room, len;
  chorus_rtcp_compound_init(&c, buf, sizeof buf);
  ck_assert(!chorus_rtcp_compound_finish(&c, TRUE, &len)); /* empty */

  guint8 *p = chorus_rtcp_compound_reserve(&c, &room);
  ck_assert_uint_eq(room, 80);
  ck_assert(chorus_rtcp_compound_commit(&c, chorus_rtcp_write_rr(p, room, 7, NULL, 0)));
  p = chorus_rtcp_compound_reserve(&c, &room);
  ck_assert(chorus_rtcp_compound_commit(&c, chorus_rtcp_write_sdes_cname(p, room, 7, "x", 1)));
  p = chorus_rtcp_compound_reserve(&c, &room);
  ck_assert(chorus_rtcp_compound_commit(&c, chorus_rtcp_write_pli(p, room, 7, 9)));
  ck_assert_uint_eq(c.len, 8 + 12 + 12);
  ck_assert_uint_eq(c.n_packets, 3);

  /* A FIR needs 20 bytes; 48 are left: two fit, the third does not and
   * leaves the compound as it was. */
  for (guint i = 0; i < 2; i++) {
    p = chorus_rtcp_compound_reserve(&c, &room);
    ck_assert(chorus_rtcp_compound_commit(&c, chorus_rtcp_write_fir(p, room, 7, 9, (guint8)i)));
  }
  p = chorus_rtcp_compound_reserve(&c, &room);
  ck_assert_uint_eq(room, 8);
  ck_assert(!chorus_rtcp_compound_commit(&c, chorus_rtcp_write_fir(p, room, 7, 9, 2)));
  ck_assert(!chorus_rtcp_compound_commit(&c, 12)); /* more than the room */
  ck_assert_uint_eq(c.len, 72);
  ck_assert(chorus_rtcp_compound_finish(&c, FALSE, &len));
  ck_assert_uint_eq(len, 72);

  /* It walks back as 5 packets. */
  ChorusRtcpIter it;
  ChorusRtcpPacket pkt;
  gboolean bad;
  guint count = 0;
  chorus_rtcp_iter_init(&it, buf, len);
  while (chorus_rtcp_iter_next(&it, &pkt, &bad))
    count++;
  ck_assert(!bad);
  ck_assert_uint_eq(count, 5);

  /* Reduced size: a lone PLI is fine only when allowed. */
  guint8 pli[12];
  chorus_rtcp_write_pli(pli, sizeof pli, 1, 2);
  chorus_rtcp_compound_init(&c, buf, sizeof buf);
  ck_assert(chorus_rtcp_compound_append(&c, pli, sizeof pli));
  ck_assert(!chorus_rtcp_compound_finish(&c, FALSE, &len));
  ck_assert(chorus_rtcp_compound_finish(&c, TRUE, &len));
  ck_assert_uint_eq(len, 12);
  ck_assert_mem_eq(buf, pli, 12);

  /* Bytes that are not whole RTCP packets are refused. */
  ck_assert(!chorus_rtcp_compound_append(&c, pli, 8));
  guint8 junk[8] = {0x80, 96, 0, 1, 0, 0, 0, 0};
  ck_assert(!chorus_rtcp_compound_append(&c, junk, sizeof junk));
  ck_assert_uint_eq(c.len, 12);
  ck_assert_uint_eq(c.n_packets, 1);
  /* Full buffer. */
  chorus_rtcp_compound_init(&c, buf, 16);
  ck_assert(chorus_rtcp_compound_append(&c, pli, sizeof pli));
  ck_assert(!chorus_rtcp_compound_append(&c, pli, sizeof pli));
}
END_TEST

static Suite *
rtcp_suite(void)
{
  Suite *s = suite_create("rtcp");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_compound_rr_pli_fir);
  tcase_add_test(tc, test_malformed);
  tcase_add_test(tc, test_rr_bytes);
  tcase_add_test(tc, test_sr_round_trip);
  tcase_add_test(tc, test_report_malformed);
  tcase_add_test(tc, test_report_extension_and_padding);
  tcase_add_test(tc, test_rtt);
  tcase_add_test(tc, test_sdes_bytes);
  tcase_add_test(tc, test_sdes_items);
  tcase_add_test(tc, test_sdes_malformed);
  tcase_add_test(tc, test_bye);
  tcase_add_test(tc, test_compound_builder);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(rtcp_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
