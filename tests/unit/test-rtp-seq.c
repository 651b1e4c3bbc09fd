#include <check.h>
#include <stdlib.h>

#include "rtp/rtp-seq.h"

START_TEST(test_compare)
{
  ck_assert_int_eq(chorus_rtp_seq_diff(0, 65535), 1);
  ck_assert_int_eq(chorus_rtp_seq_diff(65535, 0), -1);
  ck_assert_int_eq(chorus_rtp_seq_diff(7, 7), 0);
  ck_assert_int_eq(chorus_rtp_seq_diff(0x7fff, 0), 32767);
  ck_assert_int_eq(chorus_rtp_seq_diff(0x8000, 0), -32768);
  ck_assert(chorus_rtp_seq_is_newer(0, 65535));
  ck_assert(chorus_rtp_seq_is_newer(10, 5));
  ck_assert(!chorus_rtp_seq_is_newer(65535, 0));
  ck_assert(!chorus_rtp_seq_is_newer(5, 5));
  ck_assert(!chorus_rtp_seq_is_newer(0x8000, 0)); /* exactly half: older */
}
END_TEST

START_TEST(test_unwrap_near)
{
  ck_assert_int_eq(chorus_rtp_seq_unwrap_near(65535, 0), 65536);
  ck_assert_int_eq(chorus_rtp_seq_unwrap_near(65536, 65535), 65535);
  ck_assert_int_eq(chorus_rtp_seq_unwrap_near(0, 65535), -1);
  ck_assert_int_eq(chorus_rtp_seq_unwrap_near(3 * 65536 + 10, 5), 3 * 65536 + 5);
  ck_assert_int_eq(chorus_rtp_seq_unwrap_near(3 * 65536 + 10, 40000), 2 * 65536 + 40000);
  ck_assert_int_eq(chorus_rtp_seq_unwrap_near(-1, 1), 1);
}
END_TEST

START_TEST(test_wraparound)
{
  ChorusRtpSeqUnwrapper u;
  chorus_rtp_seq_unwrapper_init(&u, 0, 0);
  gint64 ext = -100;
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 65533, &ext), CHORUS_RTP_SEQ_FIRST);
  ck_assert_int_eq(ext, 65533);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 65534, &ext), CHORUS_RTP_SEQ_NEWER);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 65535, &ext), CHORUS_RTP_SEQ_NEWER);
  ck_assert_int_eq(ext, 65535);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 0, &ext), CHORUS_RTP_SEQ_NEWER);
  ck_assert_int_eq(ext, 65536);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 2, &ext), CHORUS_RTP_SEQ_NEWER);
  ck_assert_int_eq(ext, 65538);
  /* 1 arrives late, after the wrap: still in the new cycle. */
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 1, &ext), CHORUS_RTP_SEQ_OLDER);
  ck_assert_int_eq(ext, 65537);
  /* 65535 arrives again, reordered across the wrap: previous cycle. */
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 65535, &ext), CHORUS_RTP_SEQ_OLDER);
  ck_assert_int_eq(ext, 65535);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_highest(&u), 65538);
}
END_TEST

START_TEST(test_many_cycles)
{
  ChorusRtpSeqUnwrapper u;
  chorus_rtp_seq_unwrapper_init(&u, 0, 0);
  gint64 ext = 0;
  guint16 seq = 1000;
  gint64 expect = 1000;
  guint wrong = 0; /* counted, not ck_assert'ed: 300,000 mark points are slow */
  for (guint i = 0; i < 300000; i++) {
    ChorusRtpSeqVerdict v = chorus_rtp_seq_unwrapper_update(&u, seq, &ext);
    if (v != (i == 0 ? CHORUS_RTP_SEQ_FIRST : CHORUS_RTP_SEQ_NEWER) || ext != expect)
      wrong++;
    guint step = (i % 7 == 3) ? 2 : 1; /* some loss on the way */
    seq = (guint16)(seq + step);
    expect += step;
  }
  ck_assert_uint_eq(wrong, 0);
  ck_assert_int_gt(expect, 5 * 65536);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_highest(&u), expect - 1);
}
END_TEST

START_TEST(test_duplicate_and_reorder)
{
  ChorusRtpSeqUnwrapper u;
  chorus_rtp_seq_unwrapper_init(&u, 0, 0);
  gint64 ext = 0;
  chorus_rtp_seq_unwrapper_update(&u, 10, &ext);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 10, &ext), CHORUS_RTP_SEQ_OLDER);
  ck_assert_int_eq(ext, 10);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 12, &ext), CHORUS_RTP_SEQ_NEWER);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 11, &ext), CHORUS_RTP_SEQ_OLDER);
  ck_assert_int_eq(ext, 11);
  /* Before the first packet. */
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 9, &ext), CHORUS_RTP_SEQ_OLDER);
  ck_assert_int_eq(ext, 9);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_highest(&u), 12);
  /* 99 back: still reordering; 100 back: a jump (RFC 3550 MAX_MISORDER). */
  chorus_rtp_seq_unwrapper_update(&u, 200, &ext);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 101, &ext), CHORUS_RTP_SEQ_OLDER);
  ck_assert_int_eq(ext, 101);
  ext = -7;
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 100, &ext), CHORUS_RTP_SEQ_JUMP);
  ck_assert_int_eq(ext, -7); /* untouched */
}
END_TEST

START_TEST(test_first_then_earlier_across_zero)
{
  ChorusRtpSeqUnwrapper u;
  chorus_rtp_seq_unwrapper_init(&u, 0, 0);
  gint64 ext = 0;
  chorus_rtp_seq_unwrapper_update(&u, 0, &ext);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 65535, &ext), CHORUS_RTP_SEQ_OLDER);
  ck_assert_int_eq(ext, -1);
}
END_TEST

START_TEST(test_jump_and_restart)
{
  ChorusRtpSeqUnwrapper u;
  chorus_rtp_seq_unwrapper_init(&u, 0, 0);
  gint64 ext = 0;
  chorus_rtp_seq_unwrapper_update(&u, 100, &ext);
  /* 2999 ahead: loss, accepted. */
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 3099, &ext), CHORUS_RTP_SEQ_NEWER);
  ck_assert_int_eq(ext, 3099);
  /* 3000 ahead: a jump, ignored; the stream goes on where it was. */
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 6099, &ext), CHORUS_RTP_SEQ_JUMP);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 3100, &ext), CHORUS_RTP_SEQ_NEWER);
  ck_assert_int_eq(ext, 3100);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 6101, &ext), CHORUS_RTP_SEQ_JUMP);
  /* A non-follower after a jump does not confirm it. */
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 6103, &ext), CHORUS_RTP_SEQ_JUMP);
  /* The follower of the last jump does: a restart, cycles from 0 again. */
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 6104, &ext), CHORUS_RTP_SEQ_RESTART);
  ck_assert_int_eq(ext, 6104);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 6105, &ext), CHORUS_RTP_SEQ_NEWER);
  ck_assert_int_eq(ext, 6105);
  /* Backwards restart, across the 16-bit edge. */
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 65535, &ext), CHORUS_RTP_SEQ_JUMP);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 0, &ext), CHORUS_RTP_SEQ_RESTART);
  ck_assert_int_eq(ext, 0);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_highest(&u), 0);
}
END_TEST

START_TEST(test_custom_thresholds_and_reset)
{
  ChorusRtpSeqUnwrapper u;
  chorus_rtp_seq_unwrapper_init(&u, 512, 512);
  gint64 ext = 0;
  chorus_rtp_seq_unwrapper_update(&u, 1000, &ext);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 1511, &ext), CHORUS_RTP_SEQ_NEWER);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 2023, &ext), CHORUS_RTP_SEQ_JUMP);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 1000, &ext), CHORUS_RTP_SEQ_OLDER);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 999, &ext), CHORUS_RTP_SEQ_JUMP);
  chorus_rtp_seq_unwrapper_reset(&u);
  ck_assert_int_eq(chorus_rtp_seq_unwrapper_update(&u, 5, &ext), CHORUS_RTP_SEQ_FIRST);
  ck_assert_int_eq(ext, 5);
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("rtp-seq");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_compare);
  tcase_add_test(tc, test_unwrap_near);
  tcase_add_test(tc, test_wraparound);
  tcase_add_test(tc, test_many_cycles);
  tcase_add_test(tc, test_duplicate_and_reorder);
  tcase_add_test(tc, test_first_then_earlier_across_zero);
  tcase_add_test(tc, test_jump_and_restart);
  tcase_add_test(tc, test_custom_thresholds_and_reset);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
