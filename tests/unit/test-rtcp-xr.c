/* XR (RFC 3611) RRTR and DLRR: encodings, the RTT they give a receive-only
 * endpoint, malformed blocks. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rtp/rtcp-xr.h"
#include "rtp/rtcp.h"
#include "rtcp-test-util.h"


START_TEST(test_rrtr_bytes)
{
  static const guint8 expect[] = {
      0x80, 207,  0x00, 0x04, 0x11, 0x22, 0x33, 0x44, /* XR, 5 words */
      0x04, 0x00, 0x00, 0x02,                         /* BT=4, block length 2 */
      0xe8, 0x00, 0x00, 0x01, 0x80, 0x00, 0x00, 0x00, /* NTP */
  };
  guint64 ntp = G_GUINT64_CONSTANT(0xe800000180000000);
  guint8 out[64];
  gsize n = chorus_rtcp_write_xr(out, sizeof out, 0x11223344, &ntp, NULL, 0);
  ck_assert_uint_eq(n, sizeof expect);
  ck_assert_mem_eq(out, expect, sizeof expect);
  ck_assert_uint_eq(chorus_rtcp_write_xr(out, 19, 0x11223344, &ntp, NULL, 0), 0);

  ChorusRtcpPacket p = single(expect, sizeof expect);
  ChorusRtcpXrIter it;
  ChorusRtcpXrBlock b;
  gboolean bad;
  guint32 ssrc = 0;
  ck_assert(chorus_rtcp_xr_iter_init(&it, &p, &ssrc));
  ck_assert_uint_eq(ssrc, 0x11223344);
  ck_assert(chorus_rtcp_xr_iter_next(&it, &b, &bad));
  ck_assert_uint_eq(b.type, CHORUS_RTCP_XR_RRTR);
  guint64 got = 0;
  ck_assert_int_eq(chorus_rtcp_xr_rrtr_parse(&b, &got), CHORUS_RTP_OK);
  ck_assert(got == ntp);
  gsize total;
  ck_assert_int_eq(chorus_rtcp_xr_dlrr_parse(&b, NULL, 0, &total), CHORUS_RTP_DROP_MALFORMED);
  ck_assert(!chorus_rtcp_xr_iter_next(&it, &b, &bad));
  ck_assert(!bad);
}
END_TEST

START_TEST(test_dlrr_and_rtt)
{
  /* A subscriber sends RRTR at NTP 100.25 s; Chorus answers 0.5 s later
   * with DLRR; the subscriber gets it at 100.95 s: RTT 200 ms. */
  guint64 rrtr_ntp = (G_GUINT64_CONSTANT(100) << 32) | (G_GUINT64_CONSTANT(1) << 30);
  ChorusRtcpDlrrItem items[3] = {
      {0xaaaa, chorus_rtcp_ntp_compact(rrtr_ntp), 1u << 15},
      {0xbbbb, 0, 0},
      {0xcccc, 0x12345678, 0x9abcdef0},
  };
  guint8 out[128];
  guint64 own = 7;
  gsize n = chorus_rtcp_write_xr(out, sizeof out, 0x5555, &own, items, 3);
  ck_assert_uint_eq(n, 8 + 12 + 4 + 36);
  ck_assert_uint_eq(out[20], CHORUS_RTCP_XR_DLRR);
  ck_assert_uint_eq(chorus_rtp_read16(out + 22), 9);

  ChorusRtcpPacket p = single(out, n);
  ChorusRtcpXrIter it;
  ChorusRtcpXrBlock b;
  gboolean bad;
  ck_assert(chorus_rtcp_xr_iter_init(&it, &p, NULL));
  ck_assert(chorus_rtcp_xr_iter_next(&it, &b, &bad));
  ck_assert_uint_eq(b.type, CHORUS_RTCP_XR_RRTR);
  ck_assert(chorus_rtcp_xr_iter_next(&it, &b, &bad));
  ck_assert_uint_eq(b.type, CHORUS_RTCP_XR_DLRR);
  ChorusRtcpDlrrItem got[3];
  gsize total;
  ck_assert_int_eq(chorus_rtcp_xr_dlrr_parse(&b, got, 2, &total), CHORUS_RTP_OK);
  ck_assert_uint_eq(total, 3);
  ck_assert_uint_eq(got[0].ssrc, 0xaaaa);
  ck_assert_uint_eq(got[1].ssrc, 0xbbbb);
  ck_assert_int_eq(chorus_rtcp_xr_dlrr_parse(&b, got, 3, &total), CHORUS_RTP_OK);
  ck_assert_uint_eq(got[2].last_rr, 0x12345678);
  ck_assert_uint_eq(got[2].dlrr, 0x9abcdef0);
  ck_assert(!chorus_rtcp_xr_iter_next(&it, &b, &bad));
  ck_assert(!bad);

  guint64 now_ntp = (G_GUINT64_CONSTANT(100) << 32) + G_GUINT64_CONSTANT(0xf3333333);
  gint64 rtt = chorus_rtcp_rtt_us(chorus_rtcp_ntp_compact(now_ntp), got[0].last_rr, got[0].dlrr);
  ck_assert_int_ge(rtt, 199990);
  ck_assert_int_le(rtt, 200010);
  ck_assert_int_eq(chorus_rtcp_rtt_us(chorus_rtcp_ntp_compact(now_ntp), got[1].last_rr, 0), -1);

  /* DLRR alone. */
  n = chorus_rtcp_write_xr(out, sizeof out, 0x5555, NULL, items, 1);
  ck_assert_uint_eq(n, 8 + 4 + 12);
  ck_assert_uint_eq(out[8], CHORUS_RTCP_XR_DLRR);
  ck_assert_uint_eq(chorus_rtcp_write_xr(out, 23, 0x5555, NULL, items, 1), 0);
}
END_TEST

START_TEST(test_xr_unknown_and_malformed)
{
  /* An unknown block (BT 42, 1 word) is returned as a view and skipped. */
  guint8 pkt[] = {
      0x80, 207,  0x00, 0x05, 0,    0,    0,    9, 42, 7, 0x00, 0x01, 0xde,
      0xad, 0xbe, 0xef, 0x05, 0x00, 0x00, 0x03, 0, 0,  0, 1, /* DLRR claiming 3 words, 1 present */
  };
  ChorusRtcpPacket p = raw(pkt, sizeof pkt);
  ChorusRtcpXrIter it;
  ChorusRtcpXrBlock b;
  gboolean bad;
  ck_assert(chorus_rtcp_xr_iter_init(&it, &p, NULL));
  ck_assert(chorus_rtcp_xr_iter_next(&it, &b, &bad));
  ck_assert_uint_eq(b.type, 42);
  ck_assert_uint_eq(b.type_specific, 7);
  ck_assert_uint_eq(b.body_len, 4);
  ck_assert_ptr_eq(b.body, pkt + 12);
  ck_assert(!chorus_rtcp_xr_iter_next(&it, &b, &bad));
  ck_assert(bad);
  ck_assert(!chorus_rtcp_xr_iter_next(&it, &b, &bad)); /* stays at the end */
  ck_assert(!bad);

  /* DLRR of a length not a multiple of 3 words. */
  pkt[19] = 1;
  p = raw(pkt, sizeof pkt);
  ck_assert(chorus_rtcp_xr_iter_init(&it, &p, NULL));
  ck_assert(chorus_rtcp_xr_iter_next(&it, &b, &bad));
  ck_assert(chorus_rtcp_xr_iter_next(&it, &b, &bad));
  gsize total;
  ck_assert_int_eq(chorus_rtcp_xr_dlrr_parse(&b, NULL, 0, &total), CHORUS_RTP_DROP_MALFORMED);
  /* RRTR of the wrong length. */
  b.type = CHORUS_RTCP_XR_RRTR;
  guint64 ntp;
  ck_assert_int_eq(chorus_rtcp_xr_rrtr_parse(&b, &ntp), CHORUS_RTP_DROP_MALFORMED);

  /* A block header cut short; no SSRC; not XR; empty. */
  p = raw(pkt, 10);
  ck_assert(chorus_rtcp_xr_iter_init(&it, &p, NULL));
  ck_assert(!chorus_rtcp_xr_iter_next(&it, &b, &bad));
  ck_assert(bad);
  p = raw(pkt, 7);
  ck_assert(!chorus_rtcp_xr_iter_init(&it, &p, NULL));
  p = raw(pkt, 0);
  p.type = CHORUS_RTCP_XR;
  ck_assert(!chorus_rtcp_xr_iter_init(&it, &p, NULL));
  guint8 pli[12];
  chorus_rtcp_write_pli(pli, sizeof pli, 1, 2);
  p = raw(pli, sizeof pli);
  ck_assert(!chorus_rtcp_xr_iter_init(&it, &p, NULL));
  /* An XR with no blocks is empty, not malformed. */
  p = raw(pkt, 8);
  ck_assert(chorus_rtcp_xr_iter_init(&it, &p, NULL));
  ck_assert(!chorus_rtcp_xr_iter_next(&it, &b, &bad));
  ck_assert(!bad);
}
END_TEST

static Suite *
rtcp_xr_suite(void)
{
  Suite *s = suite_create("rtcp-xr");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_rrtr_bytes);
  tcase_add_test(tc, test_dlrr_and_rtt);
  tcase_add_test(tc, test_xr_unknown_and_malformed);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(rtcp_xr_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
