/* Bounds on answering a subscriber's NACKs: no repeat of a sequence number
 * within 15 ms, resends within half the forwarded packets plus a burst of
 * 64. Virtual time only. */
#include <check.h>
#include <stdlib.h>

#include "rtp/resend-limiter.h"

#define MS 1000
#define T0 ((gint64)1000 * 1000 * 1000)

static guint
answered(ChorusResendLimiter *l, guint16 first, guint count, gint64 now_us)
{
  guint ok = 0;
  for (guint i = 0; i < count; i++)
    ok += chorus_resend_limiter_check(l, (guint16)(first + i), now_us) == CHORUS_RESEND_OK;
  return ok;
}

START_TEST(test_burst_then_half_the_forwarded)
{
  ChorusResendLimiter l;
  chorus_resend_limiter_init(&l);
  /* A fresh subscriber can have a burst answered... */
  ck_assert_uint_eq(answered(&l, 1000, 200, T0), CHORUS_RESEND_BURST);
  ck_assert_int_eq(chorus_resend_limiter_check(&l, 5000, T0), CHORUS_RESEND_OVER_BUDGET);
  /* ...then one resend per two packets forwarded. */
  for (int i = 0; i < 100; i++)
    chorus_resend_limiter_forwarded(&l);
  ck_assert_uint_eq(answered(&l, 6000, 200, T0 + 100 * MS), 50);
  /* Tokens do not pile up beyond the burst. */
  for (int i = 0; i < 100000; i++)
    chorus_resend_limiter_forwarded(&l);
  ck_assert_uint_eq(answered(&l, 10000, 1000, T0 + 200 * MS), CHORUS_RESEND_BURST);
}
END_TEST

START_TEST(test_a_repeat_within_15ms_is_not_resent)
{
  ChorusResendLimiter l;
  chorus_resend_limiter_init(&l);
  ck_assert_int_eq(chorus_resend_limiter_check(&l, 42, T0), CHORUS_RESEND_OK);
  /* The same number 128 times in one NACK: one resend. */
  for (int i = 0; i < 128; i++)
    ck_assert_int_eq(chorus_resend_limiter_check(&l, 42, T0), CHORUS_RESEND_REPEATED);
  ck_assert_int_eq(chorus_resend_limiter_check(&l, 42, T0 + CHORUS_RESEND_REPEAT_US - 1),
                   CHORUS_RESEND_REPEATED);
  /* Asked again after the resend could have arrived and been lost: resent. */
  ck_assert_int_eq(chorus_resend_limiter_check(&l, 42, T0 + CHORUS_RESEND_REPEAT_US),
                   CHORUS_RESEND_OK);
  /* A repeat costs no token. */
  ChorusResendLimiter m;
  chorus_resend_limiter_init(&m);
  ck_assert_int_eq(chorus_resend_limiter_check(&m, 7, T0), CHORUS_RESEND_OK);
  for (int i = 0; i < 1000; i++)
    chorus_resend_limiter_check(&m, 7, T0);
  ck_assert_uint_eq(answered(&m, 100, CHORUS_RESEND_BURST, T0), CHORUS_RESEND_BURST - 1);
}
END_TEST

START_TEST(test_numbers_across_the_wrap_and_sharing_a_slot)
{
  ChorusResendLimiter l;
  chorus_resend_limiter_init(&l);
  ck_assert_int_eq(chorus_resend_limiter_check(&l, 65535, T0), CHORUS_RESEND_OK);
  ck_assert_int_eq(chorus_resend_limiter_check(&l, 0, T0), CHORUS_RESEND_OK);
  ck_assert_int_eq(chorus_resend_limiter_check(&l, 65535, T0), CHORUS_RESEND_REPEATED);
  /* 64 apart: same slot, different numbers; both answered. */
  ck_assert_int_eq(chorus_resend_limiter_check(&l, 100, T0), CHORUS_RESEND_OK);
  ck_assert_int_eq(chorus_resend_limiter_check(&l, 100 + CHORUS_RESEND_RECENT, T0), CHORUS_RESEND_OK);
}
END_TEST

START_TEST(test_real_loss_is_answered_in_full)
{
  /* 10 % loss on a 300 packets/s video stream, every loss NACKed once and
   * a fifth of them NACKed again 50 ms later: all answered. */
  ChorusResendLimiter l;
  chorus_resend_limiter_init(&l);
  guint asked = 0, ok = 0;
  for (guint seq = 0; seq < 3000; seq++) {
    gint64 now = T0 + (gint64)seq * 3333;
    chorus_resend_limiter_forwarded(&l);
    if (seq % 10 == 5) {
      asked++;
      ok += chorus_resend_limiter_check(&l, (guint16)seq, now) == CHORUS_RESEND_OK;
    }
    if (seq % 50 == 20) {
      asked++;
      ok += chorus_resend_limiter_check(&l, (guint16)(seq - 15), now) == CHORUS_RESEND_OK;
    }
  }
  ck_assert_uint_eq(ok, asked);
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("resend-limiter");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_burst_then_half_the_forwarded);
  tcase_add_test(tc, test_a_repeat_within_15ms_is_not_resent);
  tcase_add_test(tc, test_numbers_across_the_wrap_and_sharing_a_slot);
  tcase_add_test(tc, test_real_loss_is_answered_in_full);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
