/* Top-N audio slots: stability under reordering, exclusion of the
 * listener's own source, replacement order, change bitmask. */
#include <check.h>
#include <stdlib.h>

#include "rtp/audio-slots.h"

#define A 11
#define B 12
#define C 13
#define D 14
#define E 15
#define F 16

static guint
assign(ChorusAudioSlots *s, guint32 exclude_id, gsize n, const guint32 *ranked)
{
  return chorus_audio_slots_assign(s, ranked, n, exclude_id);
}

#define ASSIGN(s, exclude, ...)                                                                    \
  assign((s), (exclude), G_N_ELEMENTS(((const guint32[]){__VA_ARGS__})),                           \
         (const guint32[]){__VA_ARGS__})

static void
assert_slots(const ChorusAudioSlots *s, guint32 s0, guint32 s1, guint32 s2)
{
  ck_assert_uint_eq(s->source[0], s0);
  ck_assert_uint_eq(s->source[1], s1);
  ck_assert_uint_eq(s->source[2], s2);
}

START_TEST(test_init)
{
  ChorusAudioSlots s;
  chorus_audio_slots_init(&s, 0);
  ck_assert_uint_eq(s.n_slots, CHORUS_AUDIO_SLOTS_DEFAULT);
  ck_assert_uint_eq(s.n_slots, 3);
  chorus_audio_slots_init(&s, 40);
  ck_assert_uint_eq(s.n_slots, CHORUS_AUDIO_SLOTS_MAX);
  for (guint i = 0; i < CHORUS_AUDIO_SLOTS_MAX; i++)
    ck_assert_uint_eq(s.source[i], 0);
  chorus_audio_slots_init(&s, 1);
  ck_assert_uint_eq(s.n_slots, 1);
  ck_assert_int_eq(chorus_audio_slots_find(&s, A), -1);
  ck_assert_int_eq(chorus_audio_slots_find(&s, 0), -1);
}
END_TEST

START_TEST(test_fill_and_repeat)
{
  ChorusAudioSlots s;
  chorus_audio_slots_init(&s, 3);
  ck_assert_uint_eq(ASSIGN(&s, 0, A, B, C), 0x7);
  assert_slots(&s, A, B, C);
  ck_assert_int_eq(chorus_audio_slots_find(&s, A), 0);
  ck_assert_int_eq(chorus_audio_slots_find(&s, B), 1);
  ck_assert_int_eq(chorus_audio_slots_find(&s, C), 2);
  ck_assert_int_eq(chorus_audio_slots_find(&s, D), -1);
  /* The same ranking again: nothing moves. */
  ck_assert_uint_eq(ASSIGN(&s, 0, A, B, C), 0);
  assert_slots(&s, A, B, C);

  /* Fewer speakers than slots: the rest stays empty. */
  chorus_audio_slots_init(&s, 3);
  ck_assert_uint_eq(ASSIGN(&s, 0, B), 0x1);
  assert_slots(&s, B, 0, 0);
  ck_assert_uint_eq(ASSIGN(&s, 0, A, B), 0x2);
  assert_slots(&s, B, A, 0);
}
END_TEST

START_TEST(test_reordering_moves_nobody)
{
  ChorusAudioSlots s;
  chorus_audio_slots_init(&s, 3);
  ASSIGN(&s, 0, A, B, C);
  static const guint32 orders[][3] = {
      {C, A, B}, {B, C, A}, {C, B, A}, {A, C, B}, {B, A, C},
  };
  for (guint i = 0; i < G_N_ELEMENTS(orders); i++) {
    ck_assert_uint_eq(chorus_audio_slots_assign(&s, orders[i], 3, 0), 0);
    assert_slots(&s, A, B, C);
  }
  /* Below the top N the order does not matter either. */
  ck_assert_uint_eq(ASSIGN(&s, 0, C, B, A, D, E, F), 0);
  ck_assert_uint_eq(ASSIGN(&s, 0, B, A, C, F, E, D), 0);
  assert_slots(&s, A, B, C);
}
END_TEST

START_TEST(test_more_speakers_than_slots)
{
  ChorusAudioSlots s;
  chorus_audio_slots_init(&s, 3);
  ck_assert_uint_eq(ASSIGN(&s, 0, A, B, C, D, E, F), 0x7);
  assert_slots(&s, A, B, C);
  /* D moves into the top 3 past B: D takes B's slot, A and C stay. */
  ck_assert_uint_eq(ASSIGN(&s, 0, A, D, C, B, E, F), 0x2);
  assert_slots(&s, A, D, C);
  ck_assert_int_eq(chorus_audio_slots_find(&s, B), -1);
  /* Two newcomers at once: the better ranked takes the lowest freed slot. */
  ck_assert_uint_eq(ASSIGN(&s, 0, F, E, D, A, C), 0x5);
  assert_slots(&s, F, D, E);
}
END_TEST

START_TEST(test_exclude_self)
{
  ChorusAudioSlots s;
  chorus_audio_slots_init(&s, 3);
  /* The listener is B, the second loudest: it hears A, C and D. */
  ck_assert_uint_eq(ASSIGN(&s, B, A, B, C, D), 0x7);
  assert_slots(&s, A, C, D);
  ck_assert_int_eq(chorus_audio_slots_find(&s, B), -1);
  /* Nobody else: B alone never fills a slot of its own. */
  chorus_audio_slots_init(&s, 3);
  ck_assert_uint_eq(ASSIGN(&s, B, B), 0);
  assert_slots(&s, 0, 0, 0);
  /* A listener in a slot who becomes a speaker (exclude changes) leaves it. */
  chorus_audio_slots_init(&s, 3);
  ASSIGN(&s, 0, A, B, C);
  ck_assert_uint_eq(ASSIGN(&s, B, A, B, C), 0x2);
  assert_slots(&s, A, 0, C);
}
END_TEST

START_TEST(test_empty_slot_before_freed_slot)
{
  ChorusAudioSlots s;
  chorus_audio_slots_init(&s, 4);
  ASSIGN(&s, 0, A, B, C);
  ck_assert_uint_eq(s.source[3], 0);
  /* B drops out while D comes in: D takes the idle slot 3, B's slot 1 is
   * emptied; both changed. */
  ck_assert_uint_eq(ASSIGN(&s, 0, A, C, D), 0x2 | 0x8);
  ck_assert_uint_eq(s.source[0], A);
  ck_assert_uint_eq(s.source[1], 0);
  ck_assert_uint_eq(s.source[2], C);
  ck_assert_uint_eq(s.source[3], D);
  /* Now the lowest empty slot is 1. */
  ck_assert_uint_eq(ASSIGN(&s, 0, A, C, D, E), 0x2);
  ck_assert_uint_eq(s.source[1], E);
}
END_TEST

START_TEST(test_empty_input_clears)
{
  ChorusAudioSlots s;
  chorus_audio_slots_init(&s, 3);
  ASSIGN(&s, 0, A, B);
  ck_assert_uint_eq(chorus_audio_slots_assign(&s, NULL, 0, 0), 0x3);
  assert_slots(&s, 0, 0, 0);
  ck_assert_uint_eq(chorus_audio_slots_assign(&s, NULL, 0, 0), 0);
  /* A dropped speaker's slot is emptied even with nobody to replace it. */
  ASSIGN(&s, 0, A, B, C);
  ck_assert_uint_eq(ASSIGN(&s, 0, A, C), 0x2);
  assert_slots(&s, A, 0, C);
  ASSIGN(&s, 0, A, C, B);
  assert_slots(&s, A, B, C);
  ck_assert_uint_eq(chorus_audio_slots_clear(&s), 0x7);
  assert_slots(&s, 0, 0, 0);
  ck_assert_uint_eq(chorus_audio_slots_clear(&s), 0);
}
END_TEST

START_TEST(test_zeros_and_repeats_skipped)
{
  ChorusAudioSlots s;
  chorus_audio_slots_init(&s, 3);
  ck_assert_uint_eq(ASSIGN(&s, 0, 0, A, A, 0, B, A, C, D), 0x7);
  assert_slots(&s, A, B, C);
}
END_TEST

START_TEST(test_single_slot)
{
  ChorusAudioSlots s;
  chorus_audio_slots_init(&s, 1);
  ck_assert_uint_eq(ASSIGN(&s, 0, A, B), 0x1);
  ck_assert_uint_eq(s.source[0], A);
  ck_assert_uint_eq(ASSIGN(&s, 0, A, B), 0);
  ck_assert_uint_eq(ASSIGN(&s, A, A, B), 0x1);
  ck_assert_uint_eq(s.source[0], B);
  ck_assert_uint_eq(s.source[1], 0); /* beyond n_slots: untouched */
}
END_TEST

START_TEST(test_sixteen_slots)
{
  ChorusAudioSlots s;
  chorus_audio_slots_init(&s, 16);
  guint32 ranked[20];
  for (guint i = 0; i < 20; i++)
    ranked[i] = 100 + i;
  ck_assert_uint_eq(chorus_audio_slots_assign(&s, ranked, 20, 0), 0xffff);
  ck_assert_int_eq(chorus_audio_slots_find(&s, 115), 15);
  ck_assert_int_eq(chorus_audio_slots_find(&s, 116), -1);
  /* Excluding one of the top 16 lets the 17th in, into its slot. */
  ck_assert_uint_eq(chorus_audio_slots_assign(&s, ranked, 20, 103), 1u << 3);
  ck_assert_int_eq(chorus_audio_slots_find(&s, 116), 3);
}
END_TEST

/* Random rankings, checked against the rules: the slots hold exactly the
 * top N eligible ids, each once; whoever stays in the top keeps its slot;
 * the bitmask is exactly the slots whose content changed. */
START_TEST(test_random_rankings_keep_invariants)
{
  GRand *rng = g_rand_new_with_seed(6464);
  for (guint n_slots = 1; n_slots <= 5; n_slots++) {
    ChorusAudioSlots s;
    chorus_audio_slots_init(&s, n_slots);
    for (guint round = 0; round < 5000; round++) {
      guint32 ranked[10];
      gsize n = (gsize)g_rand_int_range(rng, 0, 11);
      for (gsize i = 0; i < n; i++)
        ranked[i] = (guint32)g_rand_int_range(rng, 0, 9); /* repeats and 0 too */
      guint32 exclude = (guint32)g_rand_int_range(rng, 0, 9);

      guint32 top[16];
      guint n_top = 0;
      for (gsize i = 0; i < n && n_top < n_slots; i++) {
        gboolean seen = ranked[i] == 0 || ranked[i] == exclude;
        for (guint k = 0; k < n_top && !seen; k++)
          seen = top[k] == ranked[i];
        if (!seen)
          top[n_top++] = ranked[i];
      }
      ChorusAudioSlots before = s;
      guint changed = chorus_audio_slots_assign(&s, ranked, n, exclude);

      guint filled = 0;
      for (guint k = 0; k < n_slots; k++) {
        ck_assert_uint_eq((changed >> k) & 1, s.source[k] != before.source[k]);
        if (s.source[k] == 0)
          continue;
        filled++;
        ck_assert_int_eq(chorus_audio_slots_find(&s, s.source[k]), (gint)k);
        gboolean in_top = FALSE;
        for (guint t = 0; t < n_top; t++)
          in_top |= top[t] == s.source[k];
        ck_assert(in_top);
      }
      ck_assert_uint_eq(filled, n_top);
      ck_assert_uint_eq(changed >> n_slots, 0);
      for (guint t = 0; t < n_top; t++) {
        gint was = chorus_audio_slots_find(&before, top[t]);
        if (was >= 0)
          ck_assert_int_eq(chorus_audio_slots_find(&s, top[t]), was);
      }
    }
  }
  g_rand_free(rng);
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("audio-slots");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_init);
  tcase_add_test(tc, test_fill_and_repeat);
  tcase_add_test(tc, test_reordering_moves_nobody);
  tcase_add_test(tc, test_more_speakers_than_slots);
  tcase_add_test(tc, test_exclude_self);
  tcase_add_test(tc, test_empty_slot_before_freed_slot);
  tcase_add_test(tc, test_empty_input_clears);
  tcase_add_test(tc, test_zeros_and_repeats_skipped);
  tcase_add_test(tc, test_single_slot);
  tcase_add_test(tc, test_sixteen_slots);
  tcase_add_test(tc, test_random_rankings_keep_invariants);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
