#include <check.h>
#include <stdlib.h>

#include "rtp/receive-stats.h"

#define MS 1000

START_TEST(test_no_packet_no_report)
{
  g_autoptr(ChorusRtpReceiveStats) st = chorus_rtp_receive_stats_new(0x1234, 48000);
  ChorusRtpReportBlock b = {.ssrc = 77};
  ck_assert(!chorus_rtp_receive_stats_poll_report(st, 0, &b));
  ck_assert_uint_eq(b.ssrc, 77);
  ChorusRtpReceiveCounters c;
  chorus_rtp_receive_stats_get_counters(st, &c);
  ck_assert_int_eq(c.ext_highest_seq, -1);
  ck_assert_uint_eq(c.packets, 0);
}
END_TEST

START_TEST(test_loss_fraction_intervals)
{
  g_autoptr(ChorusRtpReceiveStats) st = chorus_rtp_receive_stats_new(0xabc, 48000);
  ChorusRtpReportBlock b;
  for (guint16 s = 0; s < 10; s++)
    if (s != 3 && s != 4)
      chorus_rtp_receive_stats_handle_packet(st, s, s * 960u, 100, s * 20 * MS);
  ck_assert(chorus_rtp_receive_stats_poll_report(st, 200 * MS, &b));
  ck_assert_uint_eq(b.ssrc, 0xabc);
  ck_assert_uint_eq(b.fraction_lost, 51); /* 2/10 * 256 */
  ck_assert_int_eq(b.cumulative_lost, 2);
  ck_assert_uint_eq(b.ext_highest_seq, 9);

  for (guint16 s = 10; s < 20; s++)
    chorus_rtp_receive_stats_handle_packet(st, s, s * 960u, 100, s * 20 * MS);
  ck_assert(chorus_rtp_receive_stats_poll_report(st, 400 * MS, &b));
  ck_assert_uint_eq(b.fraction_lost, 0);
  ck_assert_int_eq(b.cumulative_lost, 2);
  ck_assert_uint_eq(b.ext_highest_seq, 19);

  /* 3 arrives late: cumulative loss heals, the empty interval reports 0. */
  chorus_rtp_receive_stats_handle_packet(st, 3, 3 * 960u, 100, 410 * MS);
  ck_assert(chorus_rtp_receive_stats_poll_report(st, 420 * MS, &b));
  ck_assert_uint_eq(b.fraction_lost, 0);
  ck_assert_int_eq(b.cumulative_lost, 1);

  for (guint16 s = 20; s < 30; s++)
    if (s != 25)
      chorus_rtp_receive_stats_handle_packet(st, s, s * 960u, 100, s * 20 * MS);
  ck_assert(chorus_rtp_receive_stats_poll_report(st, 600 * MS, &b));
  ck_assert_uint_eq(b.fraction_lost, 25); /* 1/10 * 256 */
  ck_assert_int_eq(b.cumulative_lost, 2);

  ChorusRtpReceiveCounters c;
  chorus_rtp_receive_stats_get_counters(st, &c);
  ck_assert_uint_eq(c.packets, 8 + 10 + 1 + 9);
  ck_assert_uint_eq(c.bytes, 100 * c.packets);
  ck_assert_uint_eq(c.older, 1);
  ck_assert_int_eq(c.cumulative_lost, 2);
  ck_assert_int_eq(c.ext_highest_seq, 29);
}
END_TEST

START_TEST(test_wraparound)
{
  g_autoptr(ChorusRtpReceiveStats) st = chorus_rtp_receive_stats_new(1, 90000);
  guint16 s = 65530;
  for (guint i = 0; i < 12; i++, s++)
    if (s != 65533)
      chorus_rtp_receive_stats_handle_packet(st, s, i * 3000u, 1000, i * 33 * MS);
  ChorusRtpReportBlock b;
  ck_assert(chorus_rtp_receive_stats_poll_report(st, 400 * MS, &b));
  ck_assert_uint_eq(b.ext_highest_seq, 0x10005); /* one cycle, highest 5 */
  ck_assert_int_eq(b.cumulative_lost, 1);
  ck_assert_uint_eq(b.fraction_lost, 21); /* 256 / 12 */
}
END_TEST

START_TEST(test_duplicates_and_early_reorder)
{
  g_autoptr(ChorusRtpReceiveStats) st = chorus_rtp_receive_stats_new(1, 48000);
  guint16 seqs[] = {0, 1, 2, 2, 3};
  for (guint i = 0; i < G_N_ELEMENTS(seqs); i++)
    chorus_rtp_receive_stats_handle_packet(st, seqs[i], seqs[i] * 960u, 50, i * 20 * MS);
  ChorusRtpReportBlock b;
  ck_assert(chorus_rtp_receive_stats_poll_report(st, 100 * MS, &b));
  ck_assert_int_eq(b.cumulative_lost, -1); /* RFC 3550: duplicates can make it negative */
  ck_assert_uint_eq(b.fraction_lost, 0);

  /* A packet older than the first one moves the base, not the loss. */
  g_autoptr(ChorusRtpReceiveStats) st2 = chorus_rtp_receive_stats_new(2, 48000);
  chorus_rtp_receive_stats_handle_packet(st2, 5, 0, 50, 0);
  chorus_rtp_receive_stats_handle_packet(st2, 4, 0, 50, 1 * MS);
  chorus_rtp_receive_stats_handle_packet(st2, 6, 0, 50, 2 * MS);
  ck_assert(chorus_rtp_receive_stats_poll_report(st2, 3 * MS, &b));
  ck_assert_int_eq(b.cumulative_lost, 0);
  ck_assert_uint_eq(b.fraction_lost, 0);
  ck_assert_uint_eq(b.ext_highest_seq, 6);
}
END_TEST

/* RFC 3550 A.8 by hand, 8 kHz clock, 20 ms packets (160 ticks):
 *   arrival ms   0   20   45   60   80
 *   arrival tick 0  160  360  480  640
 *   rtp ts       0  160  320  480  640   (plus a base that wraps 32 bits)
 *   transit      0    0   40    0    0
 *   |D|               0   40   40    0
 *   16*J: 0 -> 0 + 0 - (8>>4)=0 -> 0 + 40 - (8>>4)=40 -> 40 + 40 - (48>>4)=77
 *         -> 77 + 0 - (85>>4)=72;   J = 72 >> 4 = 4 ticks = 500 us.
 * (The float form J += (|D| - J)/16 gives 0, 2.5, 4.84, 4.54.) */
START_TEST(test_jitter_hand_computed)
{
  g_autoptr(ChorusRtpReceiveStats) st = chorus_rtp_receive_stats_new(9, 8000);
  const gint64 base_us = G_GINT64_CONSTANT(1000000000000); /* ~11.6 days of uptime */
  const guint32 base_ts = 0xffffff00u;
  const gint64 arrival_ms[] = {0, 20, 45, 60, 80};
  ChorusRtpReceiveCounters c;
  const guint32 expect_jitter[] = {0, 0, 2, 4, 4}; /* 16J >> 4 after each packet */
  for (guint i = 0; i < 5; i++) {
    chorus_rtp_receive_stats_handle_packet(st, (guint16)(100 + i), base_ts + 160u * i, 160,
                                           base_us + arrival_ms[i] * MS);
    chorus_rtp_receive_stats_get_counters(st, &c);
    ck_assert_uint_eq(c.jitter, expect_jitter[i]);
  }
  ck_assert_uint_eq(c.jitter_us, 500);
  ChorusRtpReportBlock b;
  ck_assert(chorus_rtp_receive_stats_poll_report(st, base_us + 100 * MS, &b));
  ck_assert_uint_eq(b.jitter, 4);

  /* A late (reordered or retransmitted) packet does not count its delay. */
  chorus_rtp_receive_stats_handle_packet(st, 102, base_ts + 320, 160, base_us + 900 * MS);
  chorus_rtp_receive_stats_get_counters(st, &c);
  ck_assert_uint_eq(c.jitter, 4);

  /* The next in-order packet is 100 ms (800 ticks) later than its
   * timestamp says, against the last in-order one: |D| = 800,
   * 72 + 800 - (80>>4 = 5) = 867 -> J = 54. */
  chorus_rtp_receive_stats_handle_packet(st, 105, base_ts + 800, 160, base_us + 200 * MS);
  chorus_rtp_receive_stats_get_counters(st, &c);
  ck_assert_uint_eq(c.jitter, 54);
}
END_TEST

START_TEST(test_lsr_dlsr)
{
  g_autoptr(ChorusRtpReceiveStats) st = chorus_rtp_receive_stats_new(5, 90000);
  chorus_rtp_receive_stats_handle_packet(st, 1, 0, 1000, 0);
  ChorusRtpReportBlock b;
  ck_assert(chorus_rtp_receive_stats_poll_report(st, 10 * MS, &b));
  ck_assert_uint_eq(b.lsr, 0);
  ck_assert_uint_eq(b.dlsr, 0);

  chorus_rtp_receive_stats_handle_sr(st, G_GUINT64_CONSTANT(0x000123456789ABCD), 2000 * MS);
  ck_assert(chorus_rtp_receive_stats_poll_report(st, 2000 * MS, &b));
  ck_assert_uint_eq(b.lsr, 0x23456789);
  ck_assert_uint_eq(b.dlsr, 0);
  ck_assert(chorus_rtp_receive_stats_poll_report(st, 3500 * MS, &b));
  ck_assert_uint_eq(b.lsr, 0x23456789);
  ck_assert_uint_eq(b.dlsr, 98304); /* 1.5 s * 65536 */
  ck_assert(chorus_rtp_receive_stats_poll_report(st, 2000 * MS + 1, &b));
  ck_assert_uint_eq(b.dlsr, 0); /* 1 us rounds down */
}
END_TEST

START_TEST(test_restart_and_jump)
{
  g_autoptr(ChorusRtpReceiveStats) st = chorus_rtp_receive_stats_new(5, 90000);
  for (guint16 s = 1000; s <= 1010; s++)
    chorus_rtp_receive_stats_handle_packet(st, s, s * 3000u, 1000, s * MS);
  chorus_rtp_receive_stats_handle_packet(st, 40000, 0, 1000, 2000 * MS);
  ChorusRtpReceiveCounters c;
  chorus_rtp_receive_stats_get_counters(st, &c);
  ck_assert_uint_eq(c.jumps, 1);
  ck_assert_uint_eq(c.packets, 11);
  ck_assert_int_eq(c.ext_highest_seq, 1010);

  chorus_rtp_receive_stats_handle_packet(st, 40001, 3000, 1000, 2033 * MS);
  chorus_rtp_receive_stats_handle_packet(st, 40002, 6000, 1000, 2066 * MS);
  chorus_rtp_receive_stats_get_counters(st, &c);
  ck_assert_uint_eq(c.restarts, 1);
  ck_assert_uint_eq(c.packets, 13);
  ChorusRtpReportBlock b;
  ck_assert(chorus_rtp_receive_stats_poll_report(st, 2100 * MS, &b));
  ck_assert_uint_eq(b.ext_highest_seq, 40002);
  ck_assert_int_eq(b.cumulative_lost, 0);
  ck_assert_uint_eq(b.fraction_lost, 0);
}
END_TEST

START_TEST(test_cumulative_lost_clamped)
{
  g_autoptr(ChorusRtpReceiveStats) st = chorus_rtp_receive_stats_new(5, 90000);
  guint16 s = 0;
  for (guint i = 0; i < 2800; i++, s = (guint16)(s + 2999))
    chorus_rtp_receive_stats_handle_packet(st, s, i * 3000u, 1000, i * MS);
  ChorusRtpReceiveCounters c;
  chorus_rtp_receive_stats_get_counters(st, &c);
  ck_assert_int_eq(c.cumulative_lost, 2998 * 2799);
  ChorusRtpReportBlock b;
  ck_assert(chorus_rtp_receive_stats_poll_report(st, 3000 * MS, &b));
  ck_assert_int_eq(b.cumulative_lost, 0x7fffff);
  ck_assert_uint_eq(b.ext_highest_seq, 2999u * 2799u);
  ck_assert_uint_eq(b.fraction_lost, 255); /* 2998/2999 of every interval, rounded down */
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("receive-stats");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_no_packet_no_report);
  tcase_add_test(tc, test_loss_fraction_intervals);
  tcase_add_test(tc, test_wraparound);
  tcase_add_test(tc, test_duplicates_and_early_reorder);
  tcase_add_test(tc, test_jitter_hand_computed);
  tcase_add_test(tc, test_lsr_dlsr);
  tcase_add_test(tc, test_restart_and_jump);
  tcase_add_test(tc, test_cumulative_lost_clamped);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
