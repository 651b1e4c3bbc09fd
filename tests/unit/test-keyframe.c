#include <check.h>
#include <stdlib.h>

#include "rtp/keyframe.h"

#define KF(codec, ...)                                                                             \
  ({                                                                                               \
    static const guint8 b_[] = { __VA_ARGS__ };                                                    \
    chorus_rtp_is_keyframe_start(codec, b_, sizeof(b_));                                           \
  })

START_TEST(test_vp8)
{
  ChorusRtpCodec c = CHORUS_RTP_CODEC_VP8;
  ck_assert(KF(c, 0x10, 0x00, 0x9d, 0x01, 0x2a));  /* S, PID 0, frame tag P=0 */
  ck_assert(!KF(c, 0x10, 0x01, 0x00));             /* P=1: inter frame */
  ck_assert(!KF(c, 0x00, 0x00));                   /* not the start of partition 0 */
  ck_assert(!KF(c, 0x11, 0x00));                   /* PID 1 */
  ck_assert(KF(c, 0x90, 0x80, 0x81, 0x23, 0x00));  /* X, I with a 15-bit picture id */
  ck_assert(KF(c, 0x90, 0xE0, 0x05, 0x10, 0x20, 0x00)); /* I (7-bit), L, T */
  ck_assert(!KF(c, 0x90, 0xE0, 0x05, 0x10, 0x20, 0x01));
  ck_assert(!KF(c, 0x90, 0x80));                   /* truncated */
  ck_assert(!KF(c, 0x90, 0x80, 0x81, 0x23));       /* truncated before the frame tag */
  ck_assert(!chorus_rtp_is_keyframe_start(c, NULL, 0));
}
END_TEST

START_TEST(test_vp9)
{
  ChorusRtpCodec c = CHORUS_RTP_CODEC_VP9;
  ck_assert(KF(c, 0x08));                /* B, not P */
  ck_assert(!KF(c, 0x48));               /* P: inter-predicted */
  ck_assert(!KF(c, 0x00));               /* not the beginning of a frame */
  ck_assert(KF(c, 0xA8, 0x05, 0x00));    /* I, L: spatial layer 0 */
  ck_assert(!KF(c, 0xA8, 0x05, 0x02));   /* spatial layer 1 */
  ck_assert(KF(c, 0xA8, 0x85, 0x01, 0x00)); /* 15-bit picture id */
  ck_assert(!KF(c, 0xA8, 0x85));         /* truncated */
}
END_TEST

START_TEST(test_h264)
{
  ChorusRtpCodec c = CHORUS_RTP_CODEC_H264;
  ck_assert(KF(c, 0x65, 0x88));          /* IDR slice */
  ck_assert(KF(c, 0x67, 0x42));          /* SPS */
  ck_assert(!KF(c, 0x41, 0x9a));         /* non-IDR slice */
  ck_assert(KF(c, 0x18, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce)); /* STAP-A SPS+PPS */
  ck_assert(!KF(c, 0x18, 0x00, 0x01, 0x41));     /* STAP-A, non-IDR */
  ck_assert(!KF(c, 0x18, 0x00, 0x09, 0x67));     /* STAP-A size past the end */
  ck_assert(KF(c, 0x7c, 0x85, 0x88));            /* FU-A start of an IDR */
  ck_assert(!KF(c, 0x7c, 0x05, 0x88));           /* FU-A middle */
  ck_assert(!KF(c, 0x7c, 0x81, 0x88));           /* FU-A start of a non-IDR */
  ck_assert(!KF(c, 0x7c));                       /* truncated */
}
END_TEST

START_TEST(test_av1_other)
{
  ck_assert(KF(CHORUS_RTP_CODEC_AV1, 0x08, 0x0a));
  ck_assert(!KF(CHORUS_RTP_CODEC_AV1, 0x00, 0x0a));
  ck_assert(!KF(CHORUS_RTP_CODEC_AV1, 0x88, 0x0a)); /* continues an OBU: not a start */
  ck_assert(!KF(CHORUS_RTP_CODEC_OTHER, 0x10, 0x00));
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("keyframe");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_vp8);
  tcase_add_test(tc, test_vp9);
  tcase_add_test(tc, test_h264);
  tcase_add_test(tc, test_av1_other);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
