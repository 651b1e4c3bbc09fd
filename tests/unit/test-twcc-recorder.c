#include <check.h>
#include <stdlib.h>

#include "rtp/twcc-recorder.h"

#define MS 1000
#define LOST CHORUS_TWCC_NOT_RECEIVED

static ChorusTwccRecorderCounters
counters_of(ChorusTwccRecorder *r)
{
  ChorusTwccRecorderCounters c;
  chorus_twcc_recorder_get_counters(r, &c);
  return c;
}

START_TEST(test_basic_interval)
{
  g_autoptr(ChorusTwccRecorder) r = chorus_twcc_recorder_new(0);
  ChorusTwccArrival out[16];
  guint8 fb = 99;
  ck_assert_int_eq(chorus_twcc_recorder_next_deadline_us(r), G_MAXINT64);
  for (guint i = 0; i < 5; i++)
    chorus_twcc_recorder_handle_packet(r, (guint16)(1 + i), 1000 * MS + i * 3 * MS);
  /* Default interval 50 ms from the first arrival. */
  ck_assert_int_eq(chorus_twcc_recorder_next_deadline_us(r), 1050 * MS);
  ck_assert_uint_eq(chorus_twcc_recorder_poll_feedback(r, 1050 * MS - 1, out, 16, &fb), 0);
  ck_assert_uint_eq(chorus_twcc_recorder_poll_feedback(r, 1050 * MS, out, 16, &fb), 5);
  ck_assert_uint_eq(fb, 0);
  for (guint i = 0; i < 5; i++) {
    ck_assert_uint_eq(out[i].seq, 1 + i);
    ck_assert_int_eq(out[i].arrival_us, 1000 * MS + i * 3 * MS);
  }
  ck_assert_int_eq(chorus_twcc_recorder_next_deadline_us(r), G_MAXINT64);
  ck_assert_uint_eq(chorus_twcc_recorder_poll_feedback(r, 2000 * MS, out, 16, &fb), 0);

  chorus_twcc_recorder_handle_packet(r, 6, 1060 * MS);
  ck_assert_int_eq(chorus_twcc_recorder_next_deadline_us(r), 1100 * MS);
  ck_assert_uint_eq(chorus_twcc_recorder_poll_feedback(r, 1100 * MS, out, 16, &fb), 1);
  ck_assert_uint_eq(fb, 1);
  ck_assert_uint_eq(out[0].seq, 6);
  ck_assert_uint_eq(counters_of(r).feedbacks, 2);
}
END_TEST

START_TEST(test_loss_and_wrap)
{
  g_autoptr(ChorusTwccRecorder) r = chorus_twcc_recorder_new(100 * MS);
  ChorusTwccArrival out[16];
  guint16 seqs[] = {65533, 65534, 0, 3};
  for (guint i = 0; i < G_N_ELEMENTS(seqs); i++)
    chorus_twcc_recorder_handle_packet(r, seqs[i], i * MS);
  ck_assert_int_eq(chorus_twcc_recorder_next_deadline_us(r), 100 * MS);
  ck_assert_uint_eq(chorus_twcc_recorder_poll_feedback(r, 100 * MS, out, 16, NULL), 7);
  const guint16 want_seq[] = {65533, 65534, 65535, 0, 1, 2, 3};
  const gint64 want_at[] = {0, 1 * MS, LOST, 2 * MS, LOST, LOST, 3 * MS};
  for (guint i = 0; i < 7; i++) {
    ck_assert_uint_eq(out[i].seq, want_seq[i]);
    ck_assert_int_eq(out[i].arrival_us, want_at[i]);
  }
  /* 1 shows up after the feedback that called it lost: too late. */
  chorus_twcc_recorder_handle_packet(r, 1, 110 * MS);
  chorus_twcc_recorder_handle_packet(r, 5, 120 * MS);
  ck_assert_uint_eq(chorus_twcc_recorder_poll_feedback(r, 200 * MS, out, 16, NULL), 2);
  ck_assert_uint_eq(out[0].seq, 4);
  ck_assert_int_eq(out[0].arrival_us, LOST);
  ck_assert_uint_eq(out[1].seq, 5);
  ck_assert_int_eq(out[1].arrival_us, 120 * MS);
  ck_assert_uint_eq(counters_of(r).late, 1);
}
END_TEST

START_TEST(test_reorder_and_duplicates)
{
  g_autoptr(ChorusTwccRecorder) r = chorus_twcc_recorder_new(50 * MS);
  ChorusTwccArrival out[16];
  chorus_twcc_recorder_handle_packet(r, 100, 0);
  /* Before the first feedback, earlier seqs extend the range back. */
  chorus_twcc_recorder_handle_packet(r, 98, 1 * MS);
  chorus_twcc_recorder_handle_packet(r, 102, 2 * MS);
  chorus_twcc_recorder_handle_packet(r, 101, 3 * MS);
  chorus_twcc_recorder_handle_packet(r, 101, 4 * MS); /* duplicate: first arrival kept */
  ck_assert_uint_eq(chorus_twcc_recorder_poll_feedback(r, 50 * MS, out, 16, NULL), 5);
  const gint64 want_at[] = {1 * MS, LOST, 0, 3 * MS, 2 * MS};
  for (guint i = 0; i < 5; i++) {
    ck_assert_uint_eq(out[i].seq, 98 + i);
    ck_assert_int_eq(out[i].arrival_us, want_at[i]);
  }
  ChorusTwccRecorderCounters c = counters_of(r);
  ck_assert_uint_eq(c.duplicates, 1);
  ck_assert_uint_eq(c.packets, 5);
  /* Reordering inside the next range is reported in seq order. */
  chorus_twcc_recorder_handle_packet(r, 105, 60 * MS);
  chorus_twcc_recorder_handle_packet(r, 103, 61 * MS);
  chorus_twcc_recorder_handle_packet(r, 104, 62 * MS);
  ck_assert_uint_eq(chorus_twcc_recorder_poll_feedback(r, 100 * MS, out, 16, NULL), 3);
  ck_assert_int_eq(out[0].arrival_us, 61 * MS);
  ck_assert_int_eq(out[1].arrival_us, 62 * MS);
  ck_assert_int_eq(out[2].arrival_us, 60 * MS);
}
END_TEST

START_TEST(test_cap_splits_feedback)
{
  g_autoptr(ChorusTwccRecorder) r = chorus_twcc_recorder_new(50 * MS);
  ChorusTwccArrival out[4];
  guint8 fb = 0;
  for (guint i = 0; i < 10; i++)
    chorus_twcc_recorder_handle_packet(r, (guint16)(200 + i), i * MS);
  const gsize want_n[] = {4, 4, 2};
  guint16 next = 200;
  for (guint k = 0; k < 3; k++) {
    ck_assert_int_le(chorus_twcc_recorder_next_deadline_us(r), 50 * MS);
    ck_assert_uint_eq(chorus_twcc_recorder_poll_feedback(r, 50 * MS, out, 4, &fb), want_n[k]);
    ck_assert_uint_eq(fb, k);
    for (gsize i = 0; i < want_n[k]; i++)
      ck_assert_uint_eq(out[i].seq, next++);
  }
  ck_assert_int_eq(chorus_twcc_recorder_next_deadline_us(r), G_MAXINT64);
}
END_TEST

START_TEST(test_window_bound)
{
  g_autoptr(ChorusTwccRecorder) r = chorus_twcc_recorder_new(50 * MS);
  static ChorusTwccArrival out[2 * CHORUS_TWCC_RECORDER_WINDOW];
  chorus_twcc_recorder_handle_packet(r, 0, 0);
  chorus_twcc_recorder_handle_packet(r, 5000, 1 * MS);
  gsize n = chorus_twcc_recorder_poll_feedback(r, 50 * MS, out, G_N_ELEMENTS(out), NULL);
  ck_assert_uint_eq(n, CHORUS_TWCC_RECORDER_WINDOW);
  ck_assert_uint_eq(out[0].seq, 5000 - CHORUS_TWCC_RECORDER_WINDOW + 1);
  ck_assert_int_eq(out[0].arrival_us, LOST);
  ck_assert_uint_eq(out[n - 1].seq, 5000);
  ck_assert_int_eq(out[n - 1].arrival_us, 1 * MS);
  ck_assert_uint_eq(counters_of(r).skipped, 5000 - CHORUS_TWCC_RECORDER_WINDOW + 1);
}
END_TEST

START_TEST(test_quiet_spell)
{
  g_autoptr(ChorusTwccRecorder) r = chorus_twcc_recorder_new(50 * MS);
  ChorusTwccArrival out[4];
  chorus_twcc_recorder_handle_packet(r, 1, 0);
  ck_assert_uint_eq(chorus_twcc_recorder_poll_feedback(r, 50 * MS, out, 4, NULL), 1);
  /* Nothing for a while: the next batch waits an interval from its first
   * packet rather than going out alone at once. */
  chorus_twcc_recorder_handle_packet(r, 2, 500 * MS);
  ck_assert_int_eq(chorus_twcc_recorder_next_deadline_us(r), 550 * MS);
  chorus_twcc_recorder_handle_packet(r, 3, 510 * MS);
  ck_assert_uint_eq(chorus_twcc_recorder_poll_feedback(r, 549 * MS, out, 4, NULL), 0);
  ck_assert_uint_eq(chorus_twcc_recorder_poll_feedback(r, 550 * MS, out, 4, NULL), 2);
}
END_TEST

/* Many wraps of the 16-bit seq with 1 % loss: every seq is reported exactly
 * once, in order, and the losses match. */
START_TEST(test_long_run)
{
  g_autoptr(ChorusTwccRecorder) r = chorus_twcc_recorder_new(50 * MS);
  g_autoptr(GRand) rand = g_rand_new_with_seed(7);
  ChorusTwccArrival out[256];
  guint16 seq = 60000, expect = 60000;
  guint64 lost_sent = 0, lost_reported = 0, reported = 0;
  gint64 now_us = 0;
  for (guint i = 0; i < 200000; i++, seq++, now_us += 500) {
    /* The first and last always arrive, so they bound the reported range. */
    gboolean lost = g_rand_int_range(rand, 0, 100) == 0 && i > 0 && i + 1 < 200000;
    if (lost)
      lost_sent++;
    else
      chorus_twcc_recorder_handle_packet(r, seq, now_us);
    gsize n;
    while ((n = chorus_twcc_recorder_poll_feedback(r, now_us, out, G_N_ELEMENTS(out), NULL)) > 0) {
      for (gsize k = 0; k < n; k++) {
        ck_assert_uint_eq(out[k].seq, expect);
        expect++;
        if (out[k].arrival_us == LOST)
          lost_reported++;
      }
      reported += n;
    }
  }
  gsize n =
      chorus_twcc_recorder_poll_feedback(r, now_us + G_USEC_PER_SEC, out, G_N_ELEMENTS(out), NULL);
  for (gsize k = 0; k < n; k++)
    if (out[k].arrival_us == LOST)
      lost_reported++;
  reported += n;
  ck_assert_uint_eq(reported, 200000);
  ck_assert_uint_eq(lost_reported, lost_sent);
  ck_assert_uint_gt(lost_sent, 1000);
}
END_TEST

START_TEST(test_ext_codec)
{
  guint8 buf[4] = {0};
  guint16 seq = 0;
  ck_assert_uint_eq(chorus_rtp_twcc_write_ext(buf, sizeof(buf), 0xabcd), 2);
  ck_assert_uint_eq(buf[0], 0xab);
  ck_assert_uint_eq(buf[1], 0xcd);
  ck_assert_uint_eq(chorus_rtp_twcc_write_ext(buf, 1, 1), 0);
  ck_assert(chorus_rtp_twcc_read_ext(buf, 2, &seq));
  ck_assert_uint_eq(seq, 0xabcd);
  ck_assert(chorus_rtp_twcc_read_ext(buf, 4, &seq)); /* -02 form with a request */
  ck_assert(!chorus_rtp_twcc_read_ext(buf, 1, &seq));
  ck_assert(!chorus_rtp_twcc_read_ext(buf, 3, &seq));
  ck_assert(!chorus_rtp_twcc_read_ext(NULL, 2, &seq));
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("twcc-recorder");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_basic_interval);
  tcase_add_test(tc, test_loss_and_wrap);
  tcase_add_test(tc, test_reorder_and_duplicates);
  tcase_add_test(tc, test_cap_splits_feedback);
  tcase_add_test(tc, test_window_bound);
  tcase_add_test(tc, test_quiet_spell);
  tcase_add_test(tc, test_long_run);
  tcase_add_test(tc, test_ext_codec);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
