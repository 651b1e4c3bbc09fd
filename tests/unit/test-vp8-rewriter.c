#include <check.h>
#include <stdlib.h>

#include "rtp/vp8-rewriter.h"

/* X=1, S=1; I=1 L=1; 15-bit picture id; TL0PICIDX; then a frame byte. */
static void
make(guint8 *p, guint16 pid, guint8 tl0)
{
  p[0] = 0x90;
  p[1] = 0xC0;
  p[2] = (guint8)(0x80 | (pid >> 8));
  p[3] = (guint8)pid;
  p[4] = tl0;
  p[5] = 0x00;
}

static guint16
pid_of(const guint8 *p)
{
  return (guint16)(((p[2] & 0x7f) << 8) | p[3]);
}

START_TEST(test_passthrough_then_switch)
{
  ChorusVp8Rewriter rw;
  chorus_vp8_rewriter_init(&rw);
  guint8 p[6];
  /* Layer A: pictures 1000, 1001 (two packets), tl0 10. */
  make(p, 1000, 10);
  ck_assert(chorus_vp8_rewriter_rewrite(&rw, p, sizeof p));
  ck_assert_uint_eq(pid_of(p), 1000);
  ck_assert_uint_eq(p[4], 10);
  make(p, 1001, 10);
  chorus_vp8_rewriter_rewrite(&rw, p, sizeof p);
  make(p, 1001, 10);
  chorus_vp8_rewriter_rewrite(&rw, p, sizeof p);
  ck_assert_uint_eq(pid_of(p), 1001);
  /* Switch to layer B whose ids are lower: continues at 1002, tl0 11. */
  chorus_vp8_rewriter_rebase(&rw);
  make(p, 20, 3);
  chorus_vp8_rewriter_rewrite(&rw, p, sizeof p);
  ck_assert_uint_eq(pid_of(p), 1002);
  ck_assert_uint_eq(p[4], 11);
  ck_assert_uint_eq(p[2] & 0x80, 0x80); /* M bit kept */
  make(p, 21, 3);
  chorus_vp8_rewriter_rewrite(&rw, p, sizeof p);
  ck_assert_uint_eq(pid_of(p), 1003);
  ck_assert_uint_eq(p[4], 11);
  ck_assert_uint_eq(p[5], 0x00); /* payload untouched */
}
END_TEST

START_TEST(test_wrap)
{
  ChorusVp8Rewriter rw;
  chorus_vp8_rewriter_init(&rw);
  guint8 p[6];
  make(p, 0x7fff, 255);
  chorus_vp8_rewriter_rewrite(&rw, p, sizeof p);
  chorus_vp8_rewriter_rebase(&rw);
  make(p, 500, 7);
  chorus_vp8_rewriter_rewrite(&rw, p, sizeof p);
  ck_assert_uint_eq(pid_of(p), 0); /* 0x7fff + 1 wraps at 15 bits */
  ck_assert_uint_eq(p[4], 0);      /* 255 + 1 wraps at 8 bits */
}
END_TEST

START_TEST(test_short_and_plain)
{
  ChorusVp8Rewriter rw;
  chorus_vp8_rewriter_init(&rw);
  guint8 plain[2] = { 0x10, 0x00 }; /* no X: nothing to do */
  ck_assert(chorus_vp8_rewriter_rewrite(&rw, plain, sizeof plain));
  ck_assert_uint_eq(plain[0], 0x10);
  guint8 p[6];
  make(p, 1000, 10);
  for (gsize n = 1; n < 5; n++)
    ck_assert(!chorus_vp8_rewriter_rewrite(&rw, p, n)); /* truncated descriptors */
  ck_assert(!chorus_vp8_rewriter_rewrite(&rw, p, 0));
  /* 7-bit picture ids stay 7-bit and wrap at 128. */
  guint8 q[4] = { 0x90, 0x80, 0x7f, 0x00 };
  ck_assert(chorus_vp8_rewriter_rewrite(&rw, q, sizeof q));
  chorus_vp8_rewriter_rebase(&rw);
  guint8 r[4] = { 0x90, 0x80, 0x05, 0x00 };
  ck_assert(chorus_vp8_rewriter_rewrite(&rw, r, sizeof r));
  ck_assert_uint_eq(r[2] & 0x80, 0);
  ck_assert_uint_eq(r[2], 0x00); /* 0x7f + 1 wraps at 7 bits */
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("vp8-rewriter");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_passthrough_then_switch);
  tcase_add_test(tc, test_wrap);
  tcase_add_test(tc, test_short_and_plain);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
