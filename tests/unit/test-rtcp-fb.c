/* Generic NACK and REMB: hand-checked encodings, round trips, malformed
 * input. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rtp/rtcp-fb.h"
#include "rtp/rtcp.h"
#include "rtcp-test-util.h"


START_TEST(test_nack_bytes)
{
  /* 100, 101, 116 -> PID 100, BLP bit 0 (101) and bit 15 (116). */
  static const guint8 expect[] = {
      0x81, 205, 0x00, 0x03, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x00, 0x64, 0x80, 0x01,
  };
  const guint16 seqs[] = {100, 101, 116};
  guint8 out[64];
  gsize consumed = 0;
  gsize n = chorus_rtcp_write_nack(out, sizeof out, 0x01020304, 0x05060708, seqs, 3, &consumed);
  ck_assert_uint_eq(n, sizeof expect);
  ck_assert_uint_eq(consumed, 3);
  ck_assert_mem_eq(out, expect, sizeof expect);

  ChorusRtcpPacket p = single(expect, sizeof expect);
  guint16 got[32];
  gsize total = 0;
  guint32 media = 0;
  ck_assert_int_eq(chorus_rtcp_nack_parse(&p, &media, got, G_N_ELEMENTS(got), &total),
                   CHORUS_RTP_OK);
  ck_assert_uint_eq(media, 0x05060708);
  ck_assert_uint_eq(total, 3);
  ck_assert_uint_eq(got[0], 100);
  ck_assert_uint_eq(got[1], 101);
  ck_assert_uint_eq(got[2], 116);

  /* 117 no longer fits the bitmask of PID 100: a second FCI entry. */
  const guint16 seqs2[] = {100, 117};
  n = chorus_rtcp_write_nack(out, sizeof out, 1, 2, seqs2, 2, &consumed);
  ck_assert_uint_eq(n, 20);
  ck_assert_uint_eq(chorus_rtp_read16(out + 12), 100);
  ck_assert_uint_eq(chorus_rtp_read16(out + 14), 0);
  ck_assert_uint_eq(chorus_rtp_read16(out + 16), 117);
  ck_assert_uint_eq(chorus_rtp_read16(out + 18), 0);
}
END_TEST

START_TEST(test_nack_wrap_and_duplicates)
{
  /* Across 65535 -> 0 in one FCI entry; a duplicate merged; an entry out of
   * order only starts another FCI entry. */
  const guint16 seqs[] = {65534, 65535, 65535, 0, 14, 3};
  guint8 out[64];
  gsize consumed;
  gsize n = chorus_rtcp_write_nack(out, sizeof out, 1, 2, seqs, G_N_ELEMENTS(seqs), &consumed);
  ck_assert_uint_eq(consumed, G_N_ELEMENTS(seqs));
  ck_assert_uint_eq(n, 12 + 4); /* 3 is within 65534 + 16 too */
  ck_assert_uint_eq(chorus_rtp_read16(out + 12), 65534);
  /* 65535 -> bit 0, 0 -> bit 1, 14 -> bit 15, 3 -> bit 4 */
  ck_assert_uint_eq(chorus_rtp_read16(out + 14), 0x8013);

  const guint16 back[] = {500, 400};
  n = chorus_rtcp_write_nack(out, sizeof out, 1, 2, back, 2, &consumed);
  ck_assert_uint_eq(n, 20);
  ck_assert_uint_eq(chorus_rtp_read16(out + 16), 400);

  ChorusRtcpPacket p = single(out, n);
  guint16 got[4];
  gsize total;
  ck_assert_int_eq(chorus_rtcp_nack_parse(&p, NULL, got, 4, &total), CHORUS_RTP_OK);
  ck_assert_uint_eq(total, 2);
  ck_assert_uint_eq(got[0], 500);
  ck_assert_uint_eq(got[1], 400);
}
END_TEST

START_TEST(test_nack_split)
{
  /* 200 seqs, every other one: 9 per FCI entry (PID + 8 bits of 16), so 23
   * entries. Only 5 entries fit in 32 bytes: split across packets. */
  guint16 seqs[200];
  for (guint i = 0; i < 200; i++)
    seqs[i] = (guint16)(65000 + 2 * i); /* wraps past 65535 */
  guint16 got[256];
  gsize n_got = 0;
  gsize done = 0;
  guint packets = 0;
  while (done < 200) {
    guint8 out[32];
    gsize consumed;
    gsize n = chorus_rtcp_write_nack(out, sizeof out, 1, 2, seqs + done, 200 - done, &consumed);
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_le(n, 32);
    ck_assert_uint_gt(consumed, 0);
    done += consumed;
    packets++;
    ChorusRtcpPacket p = single(out, n);
    gsize total;
    ck_assert_int_eq(
        chorus_rtcp_nack_parse(&p, NULL, got + n_got, G_N_ELEMENTS(got) - n_got, &total),
        CHORUS_RTP_OK);
    n_got += total;
  }
  ck_assert_uint_eq(packets, 5); /* 23 entries, 5 per packet */
  ck_assert_uint_eq(n_got, 200);
  for (guint i = 0; i < 200; i++)
    ck_assert_uint_eq(got[i], seqs[i]);

  /* Too small a buffer, or nothing to say. */
  guint8 out[16];
  gsize consumed = 99;
  ck_assert_uint_eq(chorus_rtcp_write_nack(out, 15, 1, 2, seqs, 1, &consumed), 0);
  ck_assert_uint_eq(consumed, 0);
  ck_assert_uint_eq(chorus_rtcp_write_nack(out, 16, 1, 2, seqs, 0, &consumed), 0);
  ck_assert_uint_eq(chorus_rtcp_write_nack(out, 16, 1, 2, seqs, 200, &consumed), 16);
  ck_assert_uint_eq(consumed, 9);
}
END_TEST

START_TEST(test_nack_parse_bounds)
{
  /* Two FCI entries naming 17 + 1 seqs; the caller has room for 5. */
  static const guint8 pkt[] = {
      0x81, 205, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x0a, 0xff, 0xff, 0x10, 0x00, 0x00, 0x00,
  };
  ChorusRtcpPacket p = single(pkt, sizeof pkt);
  guint16 got[5];
  gsize total;
  ck_assert_int_eq(chorus_rtcp_nack_parse(&p, NULL, got, 5, &total), CHORUS_RTP_OK);
  ck_assert_uint_eq(total, 18);
  ck_assert_uint_eq(got[0], 10);
  ck_assert_uint_eq(got[4], 14);
  ck_assert_int_eq(chorus_rtcp_nack_parse(&p, NULL, NULL, 0, &total), CHORUS_RTP_OK);
  ck_assert_uint_eq(total, 18);

  /* No FCI entry; a cut view; wrong FMT; wrong type; empty. */
  p = raw(pkt, 12);
  ck_assert_int_eq(chorus_rtcp_nack_parse(&p, NULL, got, 5, &total), CHORUS_RTP_DROP_MALFORMED);
  ck_assert_uint_eq(total, 0);
  p = raw(pkt, 15);
  ck_assert_int_eq(chorus_rtcp_nack_parse(&p, NULL, got, 5, &total), CHORUS_RTP_DROP_MALFORMED);
  guint8 copy[sizeof pkt];
  memcpy(copy, pkt, sizeof pkt);
  copy[0] = 0x83;
  p = raw(copy, sizeof copy);
  ck_assert_int_eq(chorus_rtcp_nack_parse(&p, NULL, got, 5, &total), CHORUS_RTP_DROP_MALFORMED);
  copy[0] = 0x81;
  copy[1] = CHORUS_RTCP_PSFB;
  p = raw(copy, sizeof copy);
  ck_assert_int_eq(chorus_rtcp_nack_parse(&p, NULL, got, 5, &total), CHORUS_RTP_DROP_MALFORMED);
  p = raw(pkt, 0);
  p.type = CHORUS_RTCP_RTPFB;
  ck_assert_int_eq(chorus_rtcp_nack_parse(&p, NULL, got, 5, &total), CHORUS_RTP_DROP_MALFORMED);
  /* Padding covering the only FCI entry. */
  copy[1] = CHORUS_RTCP_RTPFB;
  copy[0] = 0xa1;
  copy[19] = 4;
  p = raw(copy, sizeof copy);
  ck_assert_int_eq(chorus_rtcp_nack_parse(&p, NULL, got, 5, &total), CHORUS_RTP_OK);
  ck_assert_uint_eq(total, 17);
  copy[19] = 8;
  ck_assert_int_eq(chorus_rtcp_nack_parse(&p, NULL, got, 5, &total), CHORUS_RTP_DROP_MALFORMED);
}
END_TEST

START_TEST(test_remb_bytes)
{
  /* 1,000,000 bps: 1e6 >> 2 = 250000 < 2^18, so exp 2, mantissa 0x3d090. */
  static const guint8 expect[] = {
      0x8f, 206, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04, 0,    0,    0,    0,
      'R',  'E', 'M',  'B',  0x01, 0x0b, 0xd0, 0x90, 0x11, 0x22, 0x33, 0x44,
  };
  guint32 ssrc = 0x11223344;
  guint8 out[64];
  gsize n = chorus_rtcp_write_remb(out, sizeof out, 0x01020304, 1000000, &ssrc, 1);
  ck_assert_uint_eq(n, sizeof expect);
  ck_assert_mem_eq(out, expect, sizeof expect);
  ck_assert_uint_eq(chorus_rtcp_write_remb(out, 23, 0x01020304, 1000000, &ssrc, 1), 0);

  ChorusRtcpPacket p = single(expect, sizeof expect);
  ck_assert(chorus_rtcp_is_remb(&p));
  guint64 bps = 0;
  guint32 got[4];
  gsize total;
  ck_assert_int_eq(chorus_rtcp_remb_parse(&p, &bps, got, 4, &total), CHORUS_RTP_OK);
  ck_assert_uint_eq(bps, 1000000);
  ck_assert_uint_eq(total, 1);
  ck_assert_uint_eq(got[0], 0x11223344);
  /* Not a keyframe request, though it is PSFB. */
  guint32 media;
  ck_assert(!chorus_rtcp_is_keyframe_request(&p, &media));
}
END_TEST

START_TEST(test_remb_round_trip)
{
  static const guint64 rates[] = {
      0,           1,         262143,
      262144,      262145,    30000,
      2500000,     123456789, G_GUINT64_CONSTANT(1) << 40,
      G_MAXUINT64,
  };
  guint32 ssrcs[CHORUS_RTCP_REMB_MAX_SSRCS];
  for (guint i = 0; i < G_N_ELEMENTS(ssrcs); i++)
    ssrcs[i] = 0xabc00000 + i;
  for (guint r = 0; r < G_N_ELEMENTS(rates); r++) {
    guint8 out[20 + 4 * 255];
    gsize n_ssrcs = r % 2 == 0 ? 255 : r;
    gsize n = chorus_rtcp_write_remb(out, sizeof out, 7, rates[r], ssrcs, n_ssrcs);
    ck_assert_uint_eq(n, 20 + 4 * n_ssrcs);
    ChorusRtcpPacket p = single(out, n);
    guint64 bps;
    guint32 got[255];
    gsize total;
    ck_assert_int_eq(chorus_rtcp_remb_parse(&p, &bps, got, 255, &total), CHORUS_RTP_OK);
    /* Rounded down, by less than one part in 2^17. */
    ck_assert_uint_le(bps, rates[r]);
    ck_assert_uint_le(rates[r] - bps, rates[r] >> 17);
    ck_assert_uint_eq(total, n_ssrcs);
    ck_assert_mem_eq(got, ssrcs, 4 * n_ssrcs);
  }
  guint8 out[32];
  gsize n = chorus_rtcp_write_remb(out, sizeof out, 7, 262143, NULL, 0);
  ck_assert_uint_eq(n, 20);
  ck_assert_uint_eq(out[17], 0x03); /* exp 0, mantissa 0x3ffff */
  ck_assert_uint_eq(chorus_rtp_read16(out + 18), 0xffff);
}
END_TEST

START_TEST(test_remb_malformed)
{
  guint8 pkt[] = {
      0x8f, 206, 0x00, 0x05, 0,    0,    0,    1,    0, 0, 0, 0,
      'R',  'E', 'M',  'B',  0x02, 0x0b, 0xd0, 0x90, 0, 0, 0, 1,
  };
  guint64 bps;
  guint32 got[4];
  gsize total;
  /* Count 2, one SSRC present. */
  ChorusRtcpPacket p = raw(pkt, sizeof pkt);
  ck_assert_int_eq(chorus_rtcp_remb_parse(&p, &bps, got, 4, &total), CHORUS_RTP_DROP_MALFORMED);
  /* Count 1 but only room for the caller's 0 entries: fine, total says 1. */
  pkt[16] = 1;
  ck_assert_int_eq(chorus_rtcp_remb_parse(&p, &bps, NULL, 0, &total), CHORUS_RTP_OK);
  ck_assert_uint_eq(total, 1);
  /* Another identifier: not REMB. */
  pkt[12] = 'X';
  ck_assert(!chorus_rtcp_is_remb(&p));
  ck_assert_int_eq(chorus_rtcp_remb_parse(&p, &bps, got, 4, &total), CHORUS_RTP_DROP_MALFORMED);
  pkt[12] = 'R';
  /* Cut before the bitrate. */
  p = raw(pkt, 19);
  ck_assert(!chorus_rtcp_is_remb(&p));
  ck_assert_int_eq(chorus_rtcp_remb_parse(&p, &bps, got, 4, &total), CHORUS_RTP_DROP_MALFORMED);
  p = raw(pkt, 0);
  p.type = CHORUS_RTCP_PSFB;
  ck_assert(!chorus_rtcp_is_remb(&p));
  ck_assert_int_eq(chorus_rtcp_remb_parse(&p, &bps, got, 4, &total), CHORUS_RTP_DROP_MALFORMED);
  /* Exponent 63 with a full mantissa saturates instead of overflowing. */
  pkt[16] = 0;
  pkt[17] = 0xff;
  pkt[18] = pkt[19] = 0xff;
  p = raw(pkt, 20);
  ck_assert_int_eq(chorus_rtcp_remb_parse(&p, &bps, got, 4, &total), CHORUS_RTP_OK);
  ck_assert(bps == G_MAXUINT64);
}
END_TEST

static Suite *
rtcp_fb_suite(void)
{
  Suite *s = suite_create("rtcp-fb");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_nack_bytes);
  tcase_add_test(tc, test_nack_wrap_and_duplicates);
  tcase_add_test(tc, test_nack_split);
  tcase_add_test(tc, test_nack_parse_bounds);
  tcase_add_test(tc, test_remb_bytes);
  tcase_add_test(tc, test_remb_round_trip);
  tcase_add_test(tc, test_remb_malformed);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(rtcp_fb_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
