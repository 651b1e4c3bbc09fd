#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "webrtc/demux.h"

/* A 64-byte datagram whose first two bytes are @b0 and @b1. */
static ChorusDemuxKind
classify2(guint8 b0, guint8 b1, gsize len)
{
  guint8 buf[64];
  memset(buf, 0, sizeof buf);
  buf[0] = b0;
  buf[1] = b1;
  return chorus_demux_classify(buf, len);
}

/* Every first byte, with a second byte that is a plain RTP payload type. */
START_TEST(test_first_byte_ranges)
{
  for (guint b = 0; b <= 255; b++) {
    ChorusDemuxKind expect;
    if (b <= 3)
      expect = CHORUS_DEMUX_STUN;
    else if (b >= 20 && b <= 63)
      expect = CHORUS_DEMUX_DTLS;
    else if (b >= 128 && b <= 191)
      expect = CHORUS_DEMUX_RTP;
    else
      expect = CHORUS_DEMUX_UNKNOWN; /* 4..19 (ZRTP 16..19), 64..79 (TURN), 80..127, 192.. */
    ck_assert_msg(classify2((guint8)b, 111, 64) == expect, "first byte %u: got %s, want %s", b,
                  chorus_demux_kind_to_string(classify2((guint8)b, 111, 64)),
                  chorus_demux_kind_to_string(expect));
  }
}
END_TEST

START_TEST(test_range_edges)
{
  ck_assert_int_eq(classify2(0, 1, 64), CHORUS_DEMUX_STUN);
  ck_assert_int_eq(classify2(3, 1, 64), CHORUS_DEMUX_STUN);
  ck_assert_int_eq(classify2(4, 1, 64), CHORUS_DEMUX_UNKNOWN);
  ck_assert_int_eq(classify2(19, 1, 64), CHORUS_DEMUX_UNKNOWN);
  ck_assert_int_eq(classify2(20, 1, 64), CHORUS_DEMUX_DTLS);
  ck_assert_int_eq(classify2(22, 0xfe, 64), CHORUS_DEMUX_DTLS); /* handshake, DTLS 1.2 */
  ck_assert_int_eq(classify2(63, 1, 64), CHORUS_DEMUX_DTLS);
  ck_assert_int_eq(classify2(64, 1, 64), CHORUS_DEMUX_UNKNOWN);
  ck_assert_int_eq(classify2(127, 1, 64), CHORUS_DEMUX_UNKNOWN);
  ck_assert_int_eq(classify2(128, 0, 64), CHORUS_DEMUX_RTP);
  ck_assert_int_eq(classify2(191, 0, 64), CHORUS_DEMUX_RTP);
  ck_assert_int_eq(classify2(192, 0, 64), CHORUS_DEMUX_UNKNOWN);
  ck_assert_int_eq(classify2(255, 200, 64), CHORUS_DEMUX_UNKNOWN);
}
END_TEST

/* RTCP: second byte 192..223 (packet types SR 200, RR 201, SDES 202, BYE
 * 203, APP 204, RTPFB 205, PSFB 206, XR 207); with the marker bit masked,
 * RTP payload types 64..95 look the same and are therefore RTCP too. */
START_TEST(test_rtp_vs_rtcp)
{
  for (guint b1 = 0; b1 <= 255; b1++) {
    guint pt = b1 & 0x7f;
    ChorusDemuxKind expect = (pt >= 64 && pt <= 95) ? CHORUS_DEMUX_RTCP : CHORUS_DEMUX_RTP;
    ck_assert_msg(classify2(0x80, (guint8)b1, 64) == expect, "second byte %u", b1);
  }
  ck_assert_int_eq(classify2(0x80, 200, 64), CHORUS_DEMUX_RTCP); /* SR */
  ck_assert_int_eq(classify2(0x81, 201, 64), CHORUS_DEMUX_RTCP); /* RR, 1 report */
  ck_assert_int_eq(classify2(0x8f, 206, 64), CHORUS_DEMUX_RTCP); /* PSFB FMT 15 (REMB) */
  ck_assert_int_eq(classify2(0x80, 223, 64), CHORUS_DEMUX_RTCP);
  ck_assert_int_eq(classify2(0x80, 191, 64), CHORUS_DEMUX_RTP); /* marker + PT 63 */
  ck_assert_int_eq(classify2(0x80, 224, 64), CHORUS_DEMUX_RTP); /* marker + PT 96 */
  ck_assert_int_eq(classify2(0x80, 96, 64), CHORUS_DEMUX_RTP);  /* VP8 */
  ck_assert_int_eq(classify2(0x80, 111 | 0x80, 64), CHORUS_DEMUX_RTP); /* Opus, marker */
  ck_assert_int_eq(classify2(0x90, 96, 64), CHORUS_DEMUX_RTP); /* with extension bit */
}
END_TEST

/* Too short for the header its kind implies: UNKNOWN. */
START_TEST(test_lengths)
{
  ck_assert_int_eq(chorus_demux_classify(NULL, 0), CHORUS_DEMUX_UNKNOWN);
  guint8 one = 0x80;
  ck_assert_int_eq(chorus_demux_classify(&one, 0), CHORUS_DEMUX_UNKNOWN);
  ck_assert_int_eq(chorus_demux_classify(&one, 1), CHORUS_DEMUX_UNKNOWN);
  ck_assert_int_eq(classify2(0, 1, 19), CHORUS_DEMUX_UNKNOWN);
  ck_assert_int_eq(classify2(0, 1, 20), CHORUS_DEMUX_STUN);
  ck_assert_int_eq(classify2(22, 0xfe, 12), CHORUS_DEMUX_UNKNOWN);
  ck_assert_int_eq(classify2(22, 0xfe, 13), CHORUS_DEMUX_DTLS);
  ck_assert_int_eq(classify2(0x80, 96, 11), CHORUS_DEMUX_UNKNOWN);
  ck_assert_int_eq(classify2(0x80, 96, 12), CHORUS_DEMUX_RTP);
  ck_assert_int_eq(classify2(0x80, 200, 7), CHORUS_DEMUX_UNKNOWN);
  ck_assert_int_eq(classify2(0x80, 200, 8), CHORUS_DEMUX_RTCP);
}
END_TEST

START_TEST(test_names)
{
  ck_assert_str_eq(chorus_demux_kind_to_string(CHORUS_DEMUX_STUN), "stun");
  ck_assert_str_eq(chorus_demux_kind_to_string(CHORUS_DEMUX_DTLS), "dtls");
  ck_assert_str_eq(chorus_demux_kind_to_string(CHORUS_DEMUX_RTP), "rtp");
  ck_assert_str_eq(chorus_demux_kind_to_string(CHORUS_DEMUX_RTCP), "rtcp");
  ck_assert_str_eq(chorus_demux_kind_to_string(CHORUS_DEMUX_UNKNOWN), "unknown");
}
END_TEST

static Suite *
demux_suite(void)
{
  Suite *s = suite_create("demux");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_first_byte_ranges);
  tcase_add_test(tc, test_range_edges);
  tcase_add_test(tc, test_rtp_vs_rtcp);
  tcase_add_test(tc, test_lengths);
  tcase_add_test(tc, test_names);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(demux_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
