#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rtp/rtp-packet.h"

/* V=2, X=1, CC=1, M=1 PT=96, seq 0x1234, ts 0x01020304, ssrc 0xAABBCCDD,
 * one CSRC, one-byte extensions: id 1 (mid "0"), id 3 (audio level 1 byte),
 * padding byte to a word, then 4 payload bytes. */
static const guint8 pkt_one_byte[] = {
  0x91, 0xE0, 0x12, 0x34, 0x01, 0x02, 0x03, 0x04, 0xAA, 0xBB, 0xCC, 0xDD,
  0x11, 0x22, 0x33, 0x44,                         /* CSRC */
  0xBE, 0xDE, 0x00, 0x01,                         /* ext header: 1 word */
  0x10, '0', 0x30, 0x85,                          /* id1 len1 "0", id3 len1 0x85 */
  0xde, 0xad, 0xbe, 0xef,                         /* payload */
};

START_TEST(test_parse_basic)
{
  ChorusRtpPacket p;
  ck_assert_int_eq(chorus_rtp_packet_parse(&p, pkt_one_byte, sizeof(pkt_one_byte)), CHORUS_RTP_OK);
  ck_assert(p.marker);
  ck_assert_uint_eq(p.payload_type, 96);
  ck_assert_uint_eq(p.seq, 0x1234);
  ck_assert_uint_eq(p.timestamp, 0x01020304);
  ck_assert_uint_eq(p.ssrc, 0xAABBCCDD);
  ck_assert_uint_eq(p.csrc_count, 1);
  ck_assert(p.has_extension);
  ck_assert_uint_eq(p.ext_profile, 0xBEDE);
  ck_assert_uint_eq(p.payload_offset, 24);
  ck_assert_uint_eq(p.payload_len, 4);

  const guint8 *v;
  gsize vlen;
  ck_assert(chorus_rtp_packet_find_extension(&p, 1, &v, &vlen));
  ck_assert_uint_eq(vlen, 1);
  ck_assert_uint_eq(v[0], '0');
  ck_assert(chorus_rtp_packet_find_extension(&p, 3, &v, &vlen));
  ck_assert_uint_eq(v[0], 0x85);
  ck_assert(!chorus_rtp_packet_find_extension(&p, 2, &v, &vlen));
}
END_TEST

START_TEST(test_parse_malformed)
{
  ChorusRtpPacket p;
  guint8 buf[64];
  ck_assert_int_eq(chorus_rtp_packet_parse(&p, pkt_one_byte, 11), CHORUS_RTP_DROP_MALFORMED);
  memcpy(buf, pkt_one_byte, sizeof(pkt_one_byte));
  buf[0] = 0x51; /* version 1 */
  ck_assert_int_eq(chorus_rtp_packet_parse(&p, buf, sizeof(pkt_one_byte)), CHORUS_RTP_DROP_MALFORMED);
  memcpy(buf, pkt_one_byte, sizeof(pkt_one_byte));
  buf[0] = 0x9F; /* 15 CSRCs: past the end */
  ck_assert_int_eq(chorus_rtp_packet_parse(&p, buf, sizeof(pkt_one_byte)), CHORUS_RTP_DROP_MALFORMED);
  memcpy(buf, pkt_one_byte, sizeof(pkt_one_byte));
  buf[19] = 0x09; /* extension of 9 words: past the end */
  ck_assert_int_eq(chorus_rtp_packet_parse(&p, buf, sizeof(pkt_one_byte)), CHORUS_RTP_DROP_MALFORMED);
  memcpy(buf, pkt_one_byte, sizeof(pkt_one_byte));
  buf[0] |= 0x20; /* padding: last byte 0xef = 239 > payload */
  ck_assert_int_eq(chorus_rtp_packet_parse(&p, buf, sizeof(pkt_one_byte)), CHORUS_RTP_DROP_MALFORMED);
  buf[sizeof(pkt_one_byte) - 1] = 0; /* padding length 0 is invalid */
  ck_assert_int_eq(chorus_rtp_packet_parse(&p, buf, sizeof(pkt_one_byte)), CHORUS_RTP_DROP_MALFORMED);
  buf[sizeof(pkt_one_byte) - 1] = 2;
  ck_assert_int_eq(chorus_rtp_packet_parse(&p, buf, sizeof(pkt_one_byte)), CHORUS_RTP_OK);
  ck_assert_uint_eq(p.payload_len, 2);
  ck_assert_uint_eq(p.padding_len, 2);
}
END_TEST

START_TEST(test_two_byte_extensions)
{
  /* Two-byte form: id 20 with 17 bytes, id 2 with 0 bytes, padded. */
  guint8 buf[12 + 4 + 24 + 2] = { 0x90, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3 };
  buf[12] = 0x10;
  buf[13] = 0x00;
  buf[14] = 0;
  buf[15] = 6; /* 24 bytes */
  buf[16] = 20;
  buf[17] = 17;
  for (int i = 0; i < 17; i++)
    buf[18 + i] = (guint8)i;
  buf[35] = 2;
  buf[36] = 0;
  buf[40] = 0x77;
  buf[41] = 0x88;
  ChorusRtpPacket p;
  ck_assert_int_eq(chorus_rtp_packet_parse(&p, buf, sizeof(buf)), CHORUS_RTP_OK);
  const guint8 *v;
  gsize vlen;
  ck_assert(chorus_rtp_packet_find_extension(&p, 20, &v, &vlen));
  ck_assert_uint_eq(vlen, 17);
  ck_assert_uint_eq(v[16], 16);
  ck_assert(chorus_rtp_packet_find_extension(&p, 2, &v, &vlen));
  ck_assert_uint_eq(vlen, 0);
  ck_assert_uint_eq(p.payload_len, 2);

  /* Rewriting it keeps two-byte form (a 17-byte value cannot be one-byte). */
  guint8 map[256] = { 0 };
  map[20] = 5;
  ChorusRtpRewrite rw = { .ssrc = 9, .payload_type = 100, .seq = 7, .timestamp = 8, .ext_map = map };
  guint8 out[128];
  gsize out_len;
  ck_assert_int_eq(chorus_rtp_packet_rewrite(&p, &rw, out, sizeof(out), &out_len), CHORUS_RTP_OK);
  ChorusRtpPacket q;
  ck_assert_int_eq(chorus_rtp_packet_parse(&q, out, out_len), CHORUS_RTP_OK);
  ck_assert_uint_eq(q.ext_profile & 0xfff0, 0x1000);
  ck_assert(chorus_rtp_packet_find_extension(&q, 5, &v, &vlen));
  ck_assert_uint_eq(vlen, 17);
  ck_assert(!chorus_rtp_packet_find_extension(&q, 2, &v, &vlen));
  ck_assert_uint_eq(q.payload_len, 2);
  ck_assert_uint_eq(out[out_len - 1], 0x88);
}
END_TEST

START_TEST(test_rewrite_remap_and_drop)
{
  ChorusRtpPacket p;
  ck_assert_int_eq(chorus_rtp_packet_parse(&p, pkt_one_byte, sizeof(pkt_one_byte)), CHORUS_RTP_OK);
  guint8 map[256] = { 0 };
  map[3] = 10; /* audio level 3 -> 10; mid (1) dropped */
  ChorusRtpRewrite rw = { .ssrc = 0x01020304, .payload_type = 111, .seq = 65535,
                          .timestamp = 0xFFFFFFFF, .ext_map = map };
  guint8 out[128];
  gsize out_len = 0;
  ck_assert_int_eq(chorus_rtp_packet_rewrite(&p, &rw, out, sizeof(out), &out_len), CHORUS_RTP_OK);
  ChorusRtpPacket q;
  ck_assert_int_eq(chorus_rtp_packet_parse(&q, out, out_len), CHORUS_RTP_OK);
  ck_assert_uint_eq(q.ssrc, 0x01020304);
  ck_assert_uint_eq(q.payload_type, 111);
  ck_assert(q.marker);
  ck_assert_uint_eq(q.seq, 65535);
  ck_assert_uint_eq(q.timestamp, 0xFFFFFFFF);
  ck_assert_uint_eq(q.csrc_count, 1);
  ck_assert_uint_eq(q.ext_profile, 0xBEDE);
  const guint8 *v;
  gsize vlen;
  ck_assert(chorus_rtp_packet_find_extension(&q, 10, &v, &vlen));
  ck_assert_uint_eq(v[0], 0x85);
  ck_assert(!chorus_rtp_packet_find_extension(&q, 1, &v, &vlen));
  ck_assert_uint_eq(q.payload_len, 4);
  ck_assert_int_eq(memcmp(out + q.payload_offset, "\xde\xad\xbe\xef", 4), 0);

  /* Without a map every extension goes, and the X bit with them. */
  rw.ext_map = NULL;
  ck_assert_int_eq(chorus_rtp_packet_rewrite(&p, &rw, out, sizeof(out), &out_len), CHORUS_RTP_OK);
  ck_assert_int_eq(chorus_rtp_packet_parse(&q, out, out_len), CHORUS_RTP_OK);
  ck_assert(!q.has_extension);
  ck_assert_uint_eq(out_len, 12 + 4 + 4);

  /* An id mapped above 14 forces the two-byte form. */
  rw.ext_map = map;
  map[3] = 200;
  ck_assert_int_eq(chorus_rtp_packet_rewrite(&p, &rw, out, sizeof(out), &out_len), CHORUS_RTP_OK);
  ck_assert_int_eq(chorus_rtp_packet_parse(&q, out, out_len), CHORUS_RTP_OK);
  ck_assert_uint_eq(q.ext_profile, 0x1000);
  ck_assert(chorus_rtp_packet_find_extension(&q, 200, &v, &vlen));
  ck_assert_uint_eq(v[0], 0x85);

  /* Too small an output buffer is refused, never overrun. */
  for (gsize cap = 0; cap < out_len; cap++)
    ck_assert_int_eq(chorus_rtp_packet_rewrite(&p, &rw, out, cap, &out_len), CHORUS_RTP_DROP_TOO_BIG);
}
END_TEST

START_TEST(test_malformed_extension_block)
{
  guint8 buf[sizeof(pkt_one_byte)];
  memcpy(buf, pkt_one_byte, sizeof(buf));
  buf[20] = 0x1F; /* id 1, 16 bytes: past the block */
  ChorusRtpPacket p;
  ck_assert_int_eq(chorus_rtp_packet_parse(&p, buf, sizeof(buf)), CHORUS_RTP_OK);
  const guint8 *v;
  gsize vlen;
  ck_assert(!chorus_rtp_packet_find_extension(&p, 1, &v, &vlen));
  guint8 map[256] = { 0 };
  map[1] = 1;
  ChorusRtpRewrite rw = { .ext_map = map };
  guint8 out[128];
  gsize out_len;
  ck_assert_int_eq(chorus_rtp_packet_rewrite(&p, &rw, out, sizeof(out), &out_len),
                   CHORUS_RTP_DROP_MALFORMED);
}
END_TEST

static Suite *
rtp_suite(void)
{
  Suite *s = suite_create("rtp-packet");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_parse_basic);
  tcase_add_test(tc, test_parse_malformed);
  tcase_add_test(tc, test_two_byte_extensions);
  tcase_add_test(tc, test_rewrite_remap_and_drop);
  tcase_add_test(tc, test_malformed_extension_block);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(rtp_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
