#include <check.h>
#include <stdlib.h>

#include "rtp/nack-generator.h"

#define MS 1000

static ChorusNackCounters
counters_of(ChorusNackGenerator *g)
{
  ChorusNackCounters c;
  chorus_nack_generator_get_counters(g, &c);
  return c;
}

START_TEST(test_single_loss_and_retry)
{
  g_autoptr(ChorusNackGenerator) g = chorus_nack_generator_new(NULL);
  guint16 out[16];
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 1, FALSE, 0), CHORUS_NACK_PACKET_NEW);
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 2, FALSE, 0), CHORUS_NACK_PACKET_NEW);
  ck_assert_int_eq(chorus_nack_generator_next_deadline_us(g), G_MAXINT64);
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 4, FALSE, 1 * MS),
                   CHORUS_NACK_PACKET_NEW);
  ck_assert_uint_eq(chorus_nack_generator_missing_count(g), 1);
  /* Default reordering wait 5 ms. */
  ck_assert_int_eq(chorus_nack_generator_next_deadline_us(g), 6 * MS);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 6 * MS - 1, out, 16), 0);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 6 * MS, out, 16), 1);
  ck_assert_uint_eq(out[0], 3);
  /* Default RTT 100 ms: retry after 150 ms. */
  ck_assert_int_eq(chorus_nack_generator_next_deadline_us(g), 156 * MS);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 155 * MS, out, 16), 0);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 156 * MS, out, 16), 1);
  ck_assert_uint_eq(out[0], 3);
  ck_assert_uint_eq(counters_of(g).nacks, 2);
  ck_assert_uint_eq(counters_of(g).missing, 1);

  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 3, TRUE, 200 * MS),
                   CHORUS_NACK_PACKET_RECOVERED);
  ck_assert_uint_eq(chorus_nack_generator_missing_count(g), 0);
  ck_assert_int_eq(chorus_nack_generator_next_deadline_us(g), G_MAXINT64);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 1000 * MS, out, 16), 0);
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 3, TRUE, 201 * MS),
                   CHORUS_NACK_PACKET_DUPLICATE);
  ChorusNackCounters c = counters_of(g);
  ck_assert_uint_eq(c.recovered, 1);
  ck_assert_uint_eq(c.recovered_rtx, 1);
  ck_assert_uint_eq(c.duplicates, 1);
  ck_assert_uint_eq(c.reordered, 0);
  ck_assert(!chorus_nack_generator_poll_keyframe_request(g));
}
END_TEST

START_TEST(test_reordering_within_wait)
{
  g_autoptr(ChorusNackGenerator) g = chorus_nack_generator_new(NULL);
  guint16 out[4];
  chorus_nack_generator_handle_packet(g, 10, FALSE, 0);
  chorus_nack_generator_handle_packet(g, 12, FALSE, 1 * MS);
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 11, FALSE, 3 * MS),
                   CHORUS_NACK_PACKET_RECOVERED);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 100 * MS, out, 4), 0);
  ChorusNackCounters c = counters_of(g);
  ck_assert_uint_eq(c.reordered, 1);
  ck_assert_uint_eq(c.recovered, 0);
  ck_assert_uint_eq(c.nacks, 0);
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 10, FALSE, 4 * MS),
                   CHORUS_NACK_PACKET_DUPLICATE);
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 12, FALSE, 4 * MS),
                   CHORUS_NACK_PACKET_DUPLICATE);
  /* Older than anything seen: nothing to say about it. */
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 9, FALSE, 4 * MS),
                   CHORUS_NACK_PACKET_LATE);
}
END_TEST

START_TEST(test_wraparound)
{
  g_autoptr(ChorusNackGenerator) g = chorus_nack_generator_new(NULL);
  guint16 out[4];
  chorus_nack_generator_handle_packet(g, 65533, FALSE, 0);
  chorus_nack_generator_handle_packet(g, 65535, FALSE, 0);
  chorus_nack_generator_handle_packet(g, 2, FALSE, 0);
  ck_assert_uint_eq(chorus_nack_generator_missing_count(g), 3);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 5 * MS, out, 4), 3);
  ck_assert_uint_eq(out[0], 65534);
  ck_assert_uint_eq(out[1], 0);
  ck_assert_uint_eq(out[2], 1);
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 0, TRUE, 6 * MS),
                   CHORUS_NACK_PACKET_RECOVERED);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 155 * MS, out, 4), 2);
  ck_assert_uint_eq(out[0], 65534);
  ck_assert_uint_eq(out[1], 1);
}
END_TEST

START_TEST(test_burst_and_cap)
{
  g_autoptr(ChorusNackGenerator) g = chorus_nack_generator_new(NULL);
  guint16 out[8];
  chorus_nack_generator_handle_packet(g, 10, FALSE, 0);
  chorus_nack_generator_handle_packet(g, 30, FALSE, 0);
  ck_assert_uint_eq(chorus_nack_generator_missing_count(g), 19);
  guint16 expect = 11;
  gsize total = 0;
  for (guint round = 0; round < 3; round++) {
    gsize n = chorus_nack_generator_poll_nacks(g, 5 * MS, out, 8);
    ck_assert_uint_eq(n, round < 2 ? 8 : 3);
    for (gsize i = 0; i < n; i++)
      ck_assert_uint_eq(out[i], expect++);
    total += n;
    /* While some are left, they are due now. */
    ck_assert_int_eq(chorus_nack_generator_next_deadline_us(g), round < 2 ? 5 * MS : 155 * MS);
  }
  ck_assert_uint_eq(total, 19);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 5 * MS, out, 8), 0);
  /* Half come back; the retry asks only for the rest. */
  for (guint16 s = 11; s < 30; s += 2)
    chorus_nack_generator_handle_packet(g, s, TRUE, 50 * MS);
  ck_assert_uint_eq(chorus_nack_generator_missing_count(g), 9);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 155 * MS, out, 8), 8);
  ck_assert_uint_eq(out[0], 12);
  ck_assert_uint_eq(out[7], 26);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 155 * MS, out, 8), 1);
  ck_assert_uint_eq(out[0], 28);
  ck_assert_uint_eq(counters_of(g).recovered, 10);
}
END_TEST

START_TEST(test_rtt_changes)
{
  g_autoptr(ChorusNackGenerator) g = chorus_nack_generator_new(NULL);
  guint16 out[4];
  chorus_nack_generator_set_rtt_us(g, 20 * MS);
  chorus_nack_generator_handle_packet(g, 1, FALSE, 0);
  chorus_nack_generator_handle_packet(g, 3, FALSE, 0);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 5 * MS, out, 4), 1);
  ck_assert_int_eq(chorus_nack_generator_next_deadline_us(g), 35 * MS); /* 1.5 * 20 ms */
  /* A smaller RTT applies to the pending retry at once; 10 ms floor. */
  chorus_nack_generator_set_rtt_us(g, 2 * MS);
  ck_assert_int_eq(chorus_nack_generator_next_deadline_us(g), 15 * MS);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 14 * MS, out, 4), 0);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 15 * MS, out, 4), 1);
  chorus_nack_generator_set_rtt_us(g, 400 * MS);
  ck_assert_int_eq(chorus_nack_generator_next_deadline_us(g), 615 * MS);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 600 * MS, out, 4), 0);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 615 * MS, out, 4), 1);
  ck_assert_uint_eq(out[0], 2);
}
END_TEST

/* With rtt_from_retransmissions the retry interval follows the NACK ->
 * RTX time of seqs NACKed once; retried seqs (ambiguous) and reordered
 * originals teach nothing; without it the RTT stays put. */
START_TEST(test_rtt_learnt_from_retransmissions)
{
  ChorusNackGeneratorConfig config;
  chorus_nack_generator_config_init(&config);
  ck_assert(!config.rtt_from_retransmissions);
  config.rtt_from_retransmissions = TRUE;
  g_autoptr(ChorusNackGenerator) g = chorus_nack_generator_new(&config);
  g_autoptr(ChorusNackGenerator) fixed = chorus_nack_generator_new(NULL);
  ChorusNackGenerator *both[] = { g, fixed };
  guint16 out[16];
  for (int k = 0; k < 2; k++) {
    ChorusNackGenerator *x = both[k];
    chorus_nack_generator_handle_packet(x, 10, FALSE, 0);
    chorus_nack_generator_handle_packet(x, 12, FALSE, 0);          /* 11 missing */
    ck_assert_uint_eq(chorus_nack_generator_poll_nacks(x, 5 * MS, out, 16), 1);
    /* Answered 40 ms after the NACK. */
    ck_assert_int_eq(chorus_nack_generator_handle_packet(x, 11, TRUE, 45 * MS),
                     CHORUS_NACK_PACKET_RECOVERED);
  }
  ck_assert_int_eq(chorus_nack_generator_get_rtt_us(g), 40 * MS);
  ck_assert_int_eq(chorus_nack_generator_get_rtt_us(fixed), 100 * MS);
  ck_assert_uint_eq(counters_of(g).rtt_samples, 1);
  /* The next loss is retried 1.5 x 40 ms after its first NACK. */
  chorus_nack_generator_handle_packet(g, 14, FALSE, 100 * MS);     /* 13 missing */
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 105 * MS, out, 16), 1);
  ck_assert_int_eq(chorus_nack_generator_next_deadline_us(g), 165 * MS);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 165 * MS, out, 16), 1);
  /* Answered after the retry: ambiguous, no sample. */
  chorus_nack_generator_handle_packet(g, 13, TRUE, 170 * MS);
  ck_assert_uint_eq(counters_of(g).rtt_samples, 1);
  /* A second clean sample of 120 ms is smoothed 1/8: 40 + (120 - 40) / 8 = 50. */
  chorus_nack_generator_handle_packet(g, 16, FALSE, 200 * MS);     /* 15 missing */
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 205 * MS, out, 16), 1);
  chorus_nack_generator_handle_packet(g, 15, TRUE, 325 * MS);
  ck_assert_uint_eq(counters_of(g).rtt_samples, 2);
  ck_assert_int_eq(chorus_nack_generator_get_rtt_us(g), 50 * MS);
  /* A reordered original (not RTX) teaches nothing. */
  chorus_nack_generator_handle_packet(g, 18, FALSE, 400 * MS);     /* 17 missing */
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 405 * MS, out, 16), 1);
  chorus_nack_generator_handle_packet(g, 17, FALSE, 406 * MS);
  ck_assert_uint_eq(counters_of(g).rtt_samples, 2);
}
END_TEST

START_TEST(test_give_up_after_retries)
{
  ChorusNackGeneratorConfig cfg;
  chorus_nack_generator_config_init(&cfg);
  cfg.max_nacks = 3;
  cfg.reorder_wait_us = 10 * MS;
  g_autoptr(ChorusNackGenerator) g = chorus_nack_generator_new(&cfg);
  chorus_nack_generator_set_rtt_us(g, 40 * MS); /* retry every 60 ms */
  guint16 out[4];
  chorus_nack_generator_handle_packet(g, 100, FALSE, 0);
  chorus_nack_generator_handle_packet(g, 102, FALSE, 0);
  gint64 expect_at[] = {10 * MS, 70 * MS, 130 * MS};
  for (guint i = 0; i < 3; i++) {
    ck_assert_int_eq(chorus_nack_generator_next_deadline_us(g), expect_at[i]);
    ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, expect_at[i], out, 4), 1);
    ck_assert_uint_eq(out[0], 101);
  }
  ck_assert(!chorus_nack_generator_poll_keyframe_request(g));
  /* One more interval for the last answer, then it is given up. */
  ck_assert_int_eq(chorus_nack_generator_next_deadline_us(g), 190 * MS);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 190 * MS, out, 4), 0);
  ck_assert_uint_eq(chorus_nack_generator_missing_count(g), 0);
  ck_assert_int_eq(chorus_nack_generator_next_deadline_us(g), G_MAXINT64);
  ck_assert(chorus_nack_generator_poll_keyframe_request(g));
  ck_assert(!chorus_nack_generator_poll_keyframe_request(g));
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 101, TRUE, 200 * MS),
                   CHORUS_NACK_PACKET_LATE);
  ChorusNackCounters c = counters_of(g);
  ck_assert_uint_eq(c.given_up_retries, 1);
  ck_assert_uint_eq(c.nacks, 3);
  ck_assert_uint_eq(c.late, 1);
  ck_assert_uint_eq(c.keyframe_requests, 1);
}
END_TEST

START_TEST(test_window_eviction)
{
  g_autoptr(ChorusNackGenerator) g = chorus_nack_generator_new(NULL);
  guint16 out[4];
  chorus_nack_generator_handle_packet(g, 0, FALSE, 0);
  chorus_nack_generator_handle_packet(g, 2, FALSE, 0);
  for (guint s = 3; s < 1 + CHORUS_NACK_GENERATOR_WINDOW; s++)
    chorus_nack_generator_handle_packet(g, (guint16)s, FALSE, 1 * MS);
  ck_assert_uint_eq(chorus_nack_generator_missing_count(g), 1);
  ck_assert(!chorus_nack_generator_poll_keyframe_request(g));
  /* seq 1 + window shares seq 1's slot: 1 is out of reach now. */
  chorus_nack_generator_handle_packet(g, 1 + CHORUS_NACK_GENERATOR_WINDOW, FALSE, 2 * MS);
  ck_assert_uint_eq(chorus_nack_generator_missing_count(g), 0);
  ck_assert_uint_eq(counters_of(g).given_up_window, 1);
  ck_assert(chorus_nack_generator_poll_keyframe_request(g));
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 1000 * MS, out, 4), 0);
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 1, TRUE, 3 * MS),
                   CHORUS_NACK_PACKET_JUMP); /* a window behind: not ours any more */
}
END_TEST

START_TEST(test_big_jump_resets)
{
  g_autoptr(ChorusNackGenerator) g = chorus_nack_generator_new(NULL);
  guint16 out[4];
  chorus_nack_generator_handle_packet(g, 100, FALSE, 0);
  chorus_nack_generator_handle_packet(g, 103, FALSE, 0);
  ck_assert_uint_eq(chorus_nack_generator_missing_count(g), 2);
  /* A lone far packet is ignored... */
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 5000, FALSE, 1 * MS),
                   CHORUS_NACK_PACKET_JUMP);
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 104, FALSE, 1 * MS),
                   CHORUS_NACK_PACKET_NEW);
  ck_assert_uint_eq(chorus_nack_generator_missing_count(g), 2);
  /* ...until the next one follows it: everything starts over there. */
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 700, FALSE, 2 * MS),
                   CHORUS_NACK_PACKET_JUMP);
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 701, FALSE, 2 * MS),
                   CHORUS_NACK_PACKET_RESET);
  ck_assert_uint_eq(chorus_nack_generator_missing_count(g), 0);
  ck_assert_int_eq(chorus_nack_generator_next_deadline_us(g), G_MAXINT64);
  ck_assert(chorus_nack_generator_poll_keyframe_request(g));
  chorus_nack_generator_handle_packet(g, 703, FALSE, 3 * MS);
  ck_assert_uint_eq(chorus_nack_generator_poll_nacks(g, 8 * MS, out, 4), 1);
  ck_assert_uint_eq(out[0], 702);
  /* Before the restart point: nothing known about it. */
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 701, FALSE, 9 * MS),
                   CHORUS_NACK_PACKET_DUPLICATE);
  ck_assert_int_eq(chorus_nack_generator_handle_packet(g, 699, FALSE, 9 * MS),
                   CHORUS_NACK_PACKET_LATE);
  ChorusNackCounters c = counters_of(g);
  ck_assert_uint_eq(c.resets, 1);
  ck_assert_uint_eq(c.given_up_retries + c.given_up_window, 0);
}
END_TEST

/* A seeded lossy link: the sender answers each NACK after one RTT, both
 * media and RTX lose 10 %. Every missing seq ends up exactly once as
 * reordered, recovered or given up, and NACKs stay within max_nacks. */
START_TEST(test_lossy_link_accounting)
{
  g_autoptr(ChorusNackGenerator) g = chorus_nack_generator_new(NULL);
  const gint64 rtt_us = 30 * MS;
  chorus_nack_generator_set_rtt_us(g, rtt_us);
  g_autoptr(GRand) rand = g_rand_new_with_seed(4242);
  /* Pending retransmissions: (seq, arrival time). */
  guint16 rtx_seq[4096];
  gint64 rtx_at[4096];
  guint rtx_n = 0;
  guint16 out[64];
  gint64 now_us = 0;
  guint16 seq = 65000; /* wraps during the run */
  for (guint i = 0; i < 20000; i++, seq++, now_us += 2 * MS) {
    /* Deliver due retransmissions first. */
    for (guint k = 0; k < rtx_n;) {
      if (rtx_at[k] <= now_us) {
        chorus_nack_generator_handle_packet(g, rtx_seq[k], TRUE, rtx_at[k]);
        rtx_seq[k] = rtx_seq[rtx_n - 1];
        rtx_at[k] = rtx_at[rtx_n - 1];
        rtx_n--;
      } else {
        k++;
      }
    }
    if (g_rand_double(rand) >= 0.10)
      chorus_nack_generator_handle_packet(g, seq, FALSE, now_us);
    while (chorus_nack_generator_next_deadline_us(g) <= now_us) {
      gsize n = chorus_nack_generator_poll_nacks(g, now_us, out, G_N_ELEMENTS(out));
      for (gsize j = 0; j < n; j++) {
        if (g_rand_double(rand) < 0.10 || rtx_n == G_N_ELEMENTS(rtx_seq))
          continue;
        rtx_seq[rtx_n] = out[j];
        rtx_at[rtx_n] = now_us + rtt_us;
        rtx_n++;
      }
      if (n == 0)
        break;
    }
  }
  ChorusNackCounters c = counters_of(g);
  ck_assert_uint_gt(c.missing, 1500);
  ck_assert_uint_eq(c.missing, c.reordered + c.recovered + c.given_up_retries + c.given_up_window +
                                   chorus_nack_generator_missing_count(g));
  ck_assert_uint_eq(c.recovered, c.recovered_rtx);
  /* 10 % RTX loss: a seq needs 2+ NACKs 10 % of the time, 3+ 1 %... */
  ck_assert_uint_le(c.nacks, c.missing * 12 / 10);
  ck_assert_uint_eq(c.given_up_retries, 0); /* 10 losses in a row: ~1e-10 */
  ck_assert_uint_eq(c.duplicates, 0);       /* nothing was asked twice needlessly */
  ck_assert_uint_eq(c.resets, 0);
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("nack-generator");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_single_loss_and_retry);
  tcase_add_test(tc, test_reordering_within_wait);
  tcase_add_test(tc, test_wraparound);
  tcase_add_test(tc, test_burst_and_cap);
  tcase_add_test(tc, test_rtt_changes);
  tcase_add_test(tc, test_give_up_after_retries);
  tcase_add_test(tc, test_rtt_learnt_from_retransmissions);
  tcase_add_test(tc, test_window_eviction);
  tcase_add_test(tc, test_big_jump_resets);
  tcase_add_test(tc, test_lossy_link_accounting);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
