/* The REMB estimate for publishers without transport-wide CC: grows on a
 * clean link up to what arrives (x1.5 + headroom) and the maximum, backs
 * off under loss, holds in between, stays within min/max. */
#include <check.h>

#include "rtp/remb-controller.h"

START_TEST(test_grows_on_clean_link)
{
  ChorusRembController c;
  chorus_remb_controller_init(&c, NULL);
  ck_assert_uint_eq(chorus_remb_controller_get_estimate(&c), 300000);
  /* The sender follows the estimate: what arrives is the last estimate. */
  guint64 est = 300000;
  for (int i = 0; i < 30; i++)
    est = chorus_remb_controller_update(&c, 0, est);
  ck_assert_uint_eq(est, CHORUS_REMB_DEFAULT_MAX_BPS);
  /* One update: +8 % + 1 kbps. */
  chorus_remb_controller_init(&c, NULL);
  ck_assert_uint_eq(chorus_remb_controller_update(&c, 0, 300000), 325000);
}
END_TEST

START_TEST(test_capped_by_what_arrives)
{
  ChorusRembController c;
  chorus_remb_controller_init(&c, &(ChorusRembControllerConfig){ .start_bps = 1000000 });
  /* A sender stuck at 200 kbps: the estimate comes down to 1.5 x 200k +
   * 100k, but never below the start rate. */
  guint64 est = 0;
  for (int i = 0; i < 5; i++)
    est = chorus_remb_controller_update(&c, 0, 200000);
  ck_assert_uint_eq(est, 1000000);
  chorus_remb_controller_init(&c, &(ChorusRembControllerConfig){ .start_bps = 100000 });
  for (int i = 0; i < 50; i++)
    est = chorus_remb_controller_update(&c, 0, 200000);
  ck_assert_uint_eq(est, 400000);
}
END_TEST

START_TEST(test_backs_off_under_loss)
{
  ChorusRembController c;
  chorus_remb_controller_init(&c, &(ChorusRembControllerConfig){ .start_bps = 1000000 });
  /* 20 % loss (51/256): x (1 - 0.1) roughly. */
  guint64 est = chorus_remb_controller_update(&c, 51, 1000000);
  ck_assert_uint_lt(est, 910000);
  ck_assert_uint_gt(est, 890000);
  /* 5 % loss: holds. */
  ck_assert_uint_eq(chorus_remb_controller_update(&c, 13, 1000000), est);
  /* Heavy loss for long: down to the minimum, not below. */
  for (int i = 0; i < 100; i++)
    est = chorus_remb_controller_update(&c, 200, 1000000);
  ck_assert_uint_eq(est, CHORUS_REMB_DEFAULT_MIN_BPS);
}
END_TEST

START_TEST(test_config_clamped)
{
  ChorusRembController c;
  chorus_remb_controller_init(&c, &(ChorusRembControllerConfig){ .start_bps = 10, .min_bps = 80000,
                                                                 .max_bps = 40000 });
  ck_assert_uint_eq(chorus_remb_controller_get_estimate(&c), 80000);
  ck_assert_uint_eq(chorus_remb_controller_update(&c, 0, 10000000), 80000);
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("remb-controller");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_grows_on_clean_link);
  tcase_add_test(tc, test_capped_by_what_arrives);
  tcase_add_test(tc, test_backs_off_under_loss);
  tcase_add_test(tc, test_config_clamped);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
