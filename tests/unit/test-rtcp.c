#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rtp/rtcp.h"
#include "rtp/rtp-packet.h"

START_TEST(test_compound_rr_pli_fir)
{
  guint8 buf[128];
  gsize n = 0;
  /* Empty RR: V=2 RC=0 PT=201 length=1, sender ssrc 0x11111111 */
  const guint8 rr[] = { 0x80, 201, 0x00, 0x01, 0x11, 0x11, 0x11, 0x11 };
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

static Suite *
rtcp_suite(void)
{
  Suite *s = suite_create("rtcp");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_compound_rr_pli_fir);
  tcase_add_test(tc, test_malformed);
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
