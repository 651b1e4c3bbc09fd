/* RED (RFC 2198) parsing and block PT rewriting, on payloads shaped like
 * Chromium's (one redundant Opus block + the primary) and edge cases. */
#include <check.h>
#include <string.h>

#include "rtp/red.h"

/* [F=1 pt 111, ts offset 960, len 5][F=0 pt 111] red(5) primary(7) */
static const guint8 chromium_like[] = {
  0x80 | 111, (960 >> 6) & 0xff, ((960 & 0x3f) << 2) | 0, 5, 111,
  1, 2, 3, 4, 5,
  10, 11, 12, 13, 14, 15, 16,
};

START_TEST(test_parse_one_redundant)
{
  ChorusRtpRedInfo info;
  ck_assert(chorus_rtp_red_parse(chromium_like, sizeof chromium_like, &info));
  ck_assert_uint_eq(info.header_len, 5);
  ck_assert_uint_eq(info.n_redundant, 1);
  ck_assert_uint_eq(info.primary_offset, 10);
  ck_assert_uint_eq(info.primary_len, 7);
  ck_assert_uint_eq(info.primary_pt, 111);
  ck_assert_uint_eq(chromium_like[info.primary_offset], 10);
}
END_TEST

START_TEST(test_parse_primary_only_and_empty_primary)
{
  const guint8 only[] = { 111, 9, 9, 9 };
  ChorusRtpRedInfo info;
  ck_assert(chorus_rtp_red_parse(only, sizeof only, &info));
  ck_assert_uint_eq(info.n_redundant, 0);
  ck_assert_uint_eq(info.primary_offset, 1);
  ck_assert_uint_eq(info.primary_len, 3);
  /* DTX: a primary of 0 bytes after a redundant block. */
  const guint8 empty[] = { 0x80 | 111, 0, 0, 2, 111, 7, 7 };
  ck_assert(chorus_rtp_red_parse(empty, sizeof empty, &info));
  ck_assert_uint_eq(info.primary_len, 0);
}
END_TEST

START_TEST(test_parse_rejects_truncated)
{
  ChorusRtpRedInfo info;
  ck_assert(!chorus_rtp_red_parse(chromium_like, 0, &info));
  ck_assert(!chorus_rtp_red_parse(chromium_like, 3, &info));   /* inside a 4-byte header */
  ck_assert(!chorus_rtp_red_parse(chromium_like, 4, &info));   /* no primary header */
  ck_assert(!chorus_rtp_red_parse(chromium_like, 9, &info));   /* redundant data cut */
  const guint8 forever[] = { 0x80, 0, 0, 0, 0x80, 0, 0, 0 };  /* never a final header */
  ck_assert(!chorus_rtp_red_parse(forever, sizeof forever, &info));
  const guint8 too_long[] = { 0x80 | 111, 0, 0x03, 0xff, 111, 1 }; /* claims 1023 bytes */
  ck_assert(!chorus_rtp_red_parse(too_long, sizeof too_long, &info));
}
END_TEST

START_TEST(test_set_block_pt)
{
  guint8 p[sizeof chromium_like];
  memcpy(p, chromium_like, sizeof p);
  ck_assert(chorus_rtp_red_set_block_pt(p, sizeof p, 100));
  ck_assert_uint_eq(p[0], 0x80 | 100);
  ck_assert_uint_eq(p[4], 100);
  /* Offsets, lengths and data untouched. */
  ck_assert_mem_eq(p + 1, chromium_like + 1, 3);
  ck_assert_mem_eq(p + 5, chromium_like + 5, sizeof p - 5);
  ck_assert(!chorus_rtp_red_set_block_pt(p, 4, 100));
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("red");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_parse_one_redundant);
  tcase_add_test(tc, test_parse_primary_only_and_empty_primary);
  tcase_add_test(tc, test_parse_rejects_truncated);
  tcase_add_test(tc, test_set_block_pt);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
