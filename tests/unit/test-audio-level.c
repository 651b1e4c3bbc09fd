#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "rtp/audio-level.h"

#define MS 1000

START_TEST(test_parse_write)
{
  gboolean voice = FALSE;
  guint8 level = 0;
  const guint8 loud_voice[] = {0x80 | 30};
  ck_assert(chorus_rtp_audio_level_parse(loud_voice, 1, &voice, &level));
  ck_assert(voice);
  ck_assert_uint_eq(level, 30);
  const guint8 silent[] = {0x7f, 0, 0, 0};
  ck_assert(chorus_rtp_audio_level_parse(silent, 4, &voice, &level)); /* padded form */
  ck_assert(!voice);
  ck_assert_uint_eq(level, 127);
  ck_assert(!chorus_rtp_audio_level_parse(silent, 0, &voice, &level));
  ck_assert(!chorus_rtp_audio_level_parse(NULL, 1, &voice, &level));

  guint8 out[2] = {0};
  ck_assert_uint_eq(chorus_rtp_audio_level_write(out, 2, TRUE, 42), 1);
  ck_assert_uint_eq(out[0], 0x80 | 42);
  ck_assert_uint_eq(chorus_rtp_audio_level_write(out, 2, FALSE, 200), 1);
  ck_assert_uint_eq(out[0], 127);
  ck_assert_uint_eq(chorus_rtp_audio_level_write(out, 0, FALSE, 1), 0);
  for (guint l = 0; l < 128; l++)
    for (guint v = 0; v < 2; v++) {
      ck_assert_uint_eq(chorus_rtp_audio_level_write(out, 1, v, (guint8)l), 1);
      ck_assert(chorus_rtp_audio_level_parse(out, 1, &voice, &level));
      ck_assert_uint_eq(level, l);
      ck_assert_int_eq(voice, v);
    }
}
END_TEST

START_TEST(test_linear)
{
  ck_assert_double_eq(chorus_rtp_audio_level_to_linear(0), 1.0);
  ck_assert_double_eq_tol(chorus_rtp_audio_level_to_linear(20), 0.1, 1e-12);
  ck_assert_double_eq_tol(chorus_rtp_audio_level_to_linear(40), 0.01, 1e-12);
  ck_assert_double_eq_tol(chorus_rtp_audio_level_to_linear(6), 0.501187, 1e-6);
  ck_assert_double_eq(chorus_rtp_audio_level_to_linear(127), 0.0);
  ck_assert_double_eq(chorus_rtp_audio_level_to_linear(255), 0.0);
  for (guint l = 0; l < 127; l++) {
    double lin = chorus_rtp_audio_level_to_linear((guint8)l);
    ck_assert_double_eq_tol(lin, pow(10.0, -(double)l / 20.0), 1e-15);
    ck_assert_uint_eq(chorus_rtp_audio_level_from_linear(lin), l);
    /* A quarter dB either way rounds back to the same level. */
    ck_assert_uint_eq(chorus_rtp_audio_level_from_linear(lin * pow(10.0, 0.25 / 20)), l);
    ck_assert_uint_eq(chorus_rtp_audio_level_from_linear(lin * pow(10.0, -0.25 / 20)), l);
  }
  ck_assert_uint_eq(chorus_rtp_audio_level_from_linear(pow(10.0, -0.6 / 20)), 1);
  ck_assert_uint_eq(chorus_rtp_audio_level_from_linear(pow(10.0, -0.4 / 20)), 0);
  ck_assert_uint_eq(chorus_rtp_audio_level_from_linear(0.0), 127);
  ck_assert_uint_eq(chorus_rtp_audio_level_from_linear(-1.0), 127);
  ck_assert_uint_eq(chorus_rtp_audio_level_from_linear(NAN), 127);
  ck_assert_uint_eq(chorus_rtp_audio_level_from_linear(1e-9), 127);
  ck_assert_uint_eq(chorus_rtp_audio_level_from_linear(2.0), 0);
}
END_TEST

START_TEST(test_smoother)
{
  ChorusRtpAudioLevelSmoother sm;
  chorus_rtp_audio_level_smoother_init(&sm, 100 * MS);
  ck_assert_double_eq(chorus_rtp_audio_level_smoother_get(&sm), 0.0);
  chorus_rtp_audio_level_smoother_handle(&sm, 0, 1000 * MS);
  ck_assert_double_eq(chorus_rtp_audio_level_smoother_get(&sm), 1.0);
  /* dt = tau: half way. */
  chorus_rtp_audio_level_smoother_handle(&sm, 127, 1100 * MS);
  ck_assert_double_eq_tol(chorus_rtp_audio_level_smoother_get(&sm), 0.5, 1e-12);
  /* dt = 0 changes nothing; dt = 3 tau goes 3/4 of the way. */
  chorus_rtp_audio_level_smoother_handle(&sm, 0, 1100 * MS);
  ck_assert_double_eq_tol(chorus_rtp_audio_level_smoother_get(&sm), 0.5, 1e-12);
  chorus_rtp_audio_level_smoother_handle(&sm, 20, 1400 * MS);
  ck_assert_double_eq_tol(chorus_rtp_audio_level_smoother_get(&sm), 0.5 + (0.1 - 0.5) * 0.75,
                          1e-12);
  /* The same time span gives about the same result at any packet rate. */
  ChorusRtpAudioLevelSmoother a, b;
  chorus_rtp_audio_level_smoother_init(&a, 200 * MS);
  chorus_rtp_audio_level_smoother_init(&b, 200 * MS);
  chorus_rtp_audio_level_smoother_handle(&a, 127, 0);
  chorus_rtp_audio_level_smoother_handle(&b, 127, 0);
  for (gint64 t = 10 * MS; t <= 400 * MS; t += 10 * MS)
    chorus_rtp_audio_level_smoother_handle(&a, 0, t);
  for (gint64 t = 40 * MS; t <= 400 * MS; t += 40 * MS)
    chorus_rtp_audio_level_smoother_handle(&b, 0, t);
  ck_assert_double_eq_tol(chorus_rtp_audio_level_smoother_get(&a),
                          chorus_rtp_audio_level_smoother_get(&b), 0.03);
  ck_assert_double_gt(chorus_rtp_audio_level_smoother_get(&a), 0.8);
  ck_assert_double_lt(chorus_rtp_audio_level_smoother_get(&a), 0.9);
  /* Time constant 0: follows each sample. */
  chorus_rtp_audio_level_smoother_init(&sm, 0);
  chorus_rtp_audio_level_smoother_handle(&sm, 0, 0);
  chorus_rtp_audio_level_smoother_handle(&sm, 20, 1);
  ck_assert_double_eq_tol(chorus_rtp_audio_level_smoother_get(&sm), 0.1, 1e-12);
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("audio-level");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_parse_write);
  tcase_add_test(tc, test_linear);
  tcase_add_test(tc, test_smoother);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
