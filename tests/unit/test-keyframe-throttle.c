/* Keyframe-request throttle: at most one PLI per layer per 500 ms, deferred
 * requests delivered when the interval ends, layers independent. Virtual
 * time only. */
#include <check.h>
#include <stdlib.h>

#include "rtp/keyframe-throttle.h"

#define MS 1000
#define T0 (1000 * 1000 * 1000) /* arbitrary virtual start, not 0 */

START_TEST(test_interval_is_500ms)
{
  ck_assert_int_eq(CHORUS_KEYFRAME_THROTTLE_INTERVAL_US, 500 * MS);
}
END_TEST

START_TEST(test_first_request_sends)
{
  ChorusKeyframeThrottle t;
  chorus_keyframe_throttle_init(&t, CHORUS_KEYFRAME_THROTTLE_INTERVAL_US);
  ck_assert(!chorus_keyframe_throttle_poll(&t, T0)); /* nothing asked */
  ck_assert_int_eq(chorus_keyframe_throttle_next_deadline_us(&t), G_MAXINT64);
  ck_assert_int_eq(chorus_keyframe_throttle_request(&t, T0), CHORUS_KEYFRAME_REQUEST_SEND);
  ck_assert(!chorus_keyframe_throttle_is_pending(&t));
  ck_assert(!chorus_keyframe_throttle_poll(&t, T0 + 10 * 1000 * MS)); /* sent, nothing owed */
}
END_TEST

START_TEST(test_time_zero_is_a_time)
{
  /* now_us == 0 is a valid virtual time, not "never sent". */
  ChorusKeyframeThrottle t;
  chorus_keyframe_throttle_init(&t, CHORUS_KEYFRAME_THROTTLE_INTERVAL_US);
  ck_assert_int_eq(chorus_keyframe_throttle_request(&t, 0), CHORUS_KEYFRAME_REQUEST_SEND);
  ck_assert_int_eq(chorus_keyframe_throttle_request(&t, 1), CHORUS_KEYFRAME_REQUEST_DEFERRED);
  ck_assert(!chorus_keyframe_throttle_poll(&t, 500 * MS - 1));
  ck_assert(chorus_keyframe_throttle_poll(&t, 500 * MS));
}
END_TEST

/* Requests every 10 ms for 5 s: exactly one goes out per 500 ms, at 0, 500,
 * ... 4500 ms (the first directly, the rest by poll when due). */
START_TEST(test_one_per_interval)
{
  ChorusKeyframeThrottle t;
  chorus_keyframe_throttle_init(&t, CHORUS_KEYFRAME_THROTTLE_INTERVAL_US);
  gint64 sent[64];
  guint n = 0;
  for (gint64 now = T0; now < T0 + 5000 * MS; now += 10 * MS) {
    if (chorus_keyframe_throttle_poll(&t, now))
      sent[n++] = now;
    if (chorus_keyframe_throttle_request(&t, now) == CHORUS_KEYFRAME_REQUEST_SEND)
      sent[n++] = now;
    ck_assert_uint_lt(n, G_N_ELEMENTS(sent));
  }
  ck_assert_uint_eq(n, 10);
  for (guint i = 0; i < n; i++)
    ck_assert_int_eq(sent[i], T0 + (gint64)i * 500 * MS);
}
END_TEST

START_TEST(test_deferred_delivered_after_interval)
{
  ChorusKeyframeThrottle t;
  chorus_keyframe_throttle_init(&t, CHORUS_KEYFRAME_THROTTLE_INTERVAL_US);
  ck_assert_int_eq(chorus_keyframe_throttle_request(&t, T0), CHORUS_KEYFRAME_REQUEST_SEND);
  /* Strict: even 1 us before the end is too early; several requests in
   * the interval make one. */
  ck_assert_int_eq(chorus_keyframe_throttle_request(&t, T0 + 100 * MS),
                   CHORUS_KEYFRAME_REQUEST_DEFERRED);
  ck_assert_int_eq(chorus_keyframe_throttle_request(&t, T0 + 499 * MS),
                   CHORUS_KEYFRAME_REQUEST_DEFERRED);
  ck_assert(chorus_keyframe_throttle_is_pending(&t));
  ck_assert_int_eq(chorus_keyframe_throttle_next_deadline_us(&t), T0 + 500 * MS);
  ck_assert(!chorus_keyframe_throttle_poll(&t, T0 + 200 * MS));
  ck_assert(!chorus_keyframe_throttle_poll(&t, T0 + 500 * MS - 1));
  ck_assert(chorus_keyframe_throttle_poll(&t, T0 + 500 * MS));
  ck_assert(!chorus_keyframe_throttle_poll(&t, T0 + 500 * MS)); /* delivered once */
  ck_assert(!chorus_keyframe_throttle_is_pending(&t));
  ck_assert_int_eq(chorus_keyframe_throttle_next_deadline_us(&t), G_MAXINT64);
  /* The delivered one starts the next interval. */
  ck_assert_int_eq(chorus_keyframe_throttle_request(&t, T0 + 999 * MS),
                   CHORUS_KEYFRAME_REQUEST_DEFERRED);
  ck_assert_int_eq(chorus_keyframe_throttle_next_deadline_us(&t), T0 + 1000 * MS);
  ck_assert_int_eq(chorus_keyframe_throttle_request(&t, T0 + 1000 * MS),
                   CHORUS_KEYFRAME_REQUEST_SEND); /* a request at the deadline sends itself */
  ck_assert(!chorus_keyframe_throttle_poll(&t, T0 + 1000 * MS));
}
END_TEST

START_TEST(test_late_poll_sends_once)
{
  /* No packet (no poll) for a long while: the deferred request goes with
   * the first poll after, and only once. */
  ChorusKeyframeThrottle t;
  chorus_keyframe_throttle_init(&t, CHORUS_KEYFRAME_THROTTLE_INTERVAL_US);
  chorus_keyframe_throttle_request(&t, T0);
  chorus_keyframe_throttle_request(&t, T0 + 1 * MS);
  ck_assert(chorus_keyframe_throttle_poll(&t, T0 + 3000 * MS));
  ck_assert(!chorus_keyframe_throttle_poll(&t, T0 + 3001 * MS));
  ck_assert_int_eq(chorus_keyframe_throttle_request(&t, T0 + 3400 * MS),
                   CHORUS_KEYFRAME_REQUEST_DEFERRED);
}
END_TEST

START_TEST(test_layers_independent)
{
  ChorusKeyframeThrottle layer[3];
  for (guint l = 0; l < 3; l++)
    chorus_keyframe_throttle_init(&layer[l], CHORUS_KEYFRAME_THROTTLE_INTERVAL_US);
  ck_assert_int_eq(chorus_keyframe_throttle_request(&layer[0], T0), CHORUS_KEYFRAME_REQUEST_SEND);
  /* Layer 0's request does not hold back layers 1 and 2. */
  ck_assert_int_eq(chorus_keyframe_throttle_request(&layer[1], T0 + 1 * MS),
                   CHORUS_KEYFRAME_REQUEST_SEND);
  ck_assert_int_eq(chorus_keyframe_throttle_request(&layer[2], T0 + 2 * MS),
                   CHORUS_KEYFRAME_REQUEST_SEND);
  ck_assert_int_eq(chorus_keyframe_throttle_request(&layer[0], T0 + 100 * MS),
                   CHORUS_KEYFRAME_REQUEST_DEFERRED);
  ck_assert(!chorus_keyframe_throttle_is_pending(&layer[1]));
  ck_assert(!chorus_keyframe_throttle_is_pending(&layer[2]));
  /* Each layer's deferred request is due at its own interval's end. */
  ck_assert_int_eq(chorus_keyframe_throttle_request(&layer[2], T0 + 300 * MS),
                   CHORUS_KEYFRAME_REQUEST_DEFERRED);
  ck_assert(!chorus_keyframe_throttle_poll(&layer[2], T0 + 500 * MS));
  ck_assert(chorus_keyframe_throttle_poll(&layer[0], T0 + 500 * MS));
  ck_assert(!chorus_keyframe_throttle_poll(&layer[1], T0 + 500 * MS));
  ck_assert(chorus_keyframe_throttle_poll(&layer[2], T0 + 502 * MS));
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("keyframe-throttle");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_interval_is_500ms);
  tcase_add_test(tc, test_first_request_sends);
  tcase_add_test(tc, test_time_zero_is_a_time);
  tcase_add_test(tc, test_one_per_interval);
  tcase_add_test(tc, test_deferred_delivered_after_interval);
  tcase_add_test(tc, test_late_poll_sends_once);
  tcase_add_test(tc, test_layers_independent);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
