/* Proves that the RTCP parsers and writers (rtcp*.h), the compound builder
 * and the TWCC feedback builder do not allocate: every malloc/calloc/realloc
 * of the process is counted around thousands of write + parse rounds.
 *
 * GLib 2.74 cannot swap g_malloc's allocator, so the count is taken below
 * it: in a plain build this binary defines malloc/calloc/realloc (the
 * executable's definitions interpose over libc's, libglib's calls
 * included) and forwards to glibc's __libc_* entry points; under
 * AddressSanitizer, which owns malloc, its allocation hook counts instead.
 * No Check call happens inside a counted window (Check allocates). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rtp/rtcp-fb.h"
#include "rtp/rtcp-twcc.h"
#include "rtp/rtcp-xr.h"
#include "rtp/rtcp.h"

#include "alloc-counter.h"

static ChorusRtcpTwccStatus statuses[4096];

/* One round: a compound of every kind written, walked and parsed. Returns a
 * checksum of what was parsed, so nothing is optimised away, and the number
 * of packets seen. */
static guint64
round_once(guint round, guint *n_packets)
{
  guint8 buf[1500];
  ChorusRtcpCompound c;
  gsize room;
  guint8 *p;
  chorus_rtcp_compound_init(&c, buf, sizeof buf);

  ChorusRtcpSenderInfo si = {(guint64)round << 32, round, round, round * 1200u};
  ChorusRtcpReportBlock blocks[4];
  for (guint i = 0; i < 4; i++)
    blocks[i] = (ChorusRtcpReportBlock){i, (guint8)i, -(gint32)i, round + i, i, i, i};
  p = chorus_rtcp_compound_reserve(&c, &room);
  chorus_rtcp_compound_commit(&c, chorus_rtcp_write_sr(p, room, 1, &si, blocks, 4));
  p = chorus_rtcp_compound_reserve(&c, &room);
  chorus_rtcp_compound_commit(&c, chorus_rtcp_write_sdes_cname(p, room, 1, "chorus", 6));
  guint16 seqs[40];
  for (guint i = 0; i < 40; i++)
    seqs[i] = (guint16)(round + 3 * i);
  gsize used;
  p = chorus_rtcp_compound_reserve(&c, &room);
  chorus_rtcp_compound_commit(&c, chorus_rtcp_write_nack(p, room, 1, 2, seqs, 40, &used));
  guint32 ssrcs[2] = {2, 3};
  p = chorus_rtcp_compound_reserve(&c, &room);
  chorus_rtcp_compound_commit(&c, chorus_rtcp_write_remb(p, room, 1, 1000000 + round, ssrcs, 2));
  guint64 ntp = si.ntp;
  ChorusRtcpDlrrItem dlrr = {2, 3, 4};
  p = chorus_rtcp_compound_reserve(&c, &room);
  chorus_rtcp_compound_commit(&c, chorus_rtcp_write_xr(p, room, 1, &ntp, &dlrr, 1));
  ChorusRtcpTwccArrival arrivals[200];
  for (guint i = 0; i < 200; i++)
    arrivals[i] = (ChorusRtcpTwccArrival){(guint16)(round * 200 + i + i / 7),
                                          (gint64)round * 100000 + 500 * i - (i % 5) * 900};
  ChorusRtcpTwccBuilder b;
  chorus_rtcp_twcc_builder_init(&b, 1, 2, 400);
  guint n_twcc;
  p = chorus_rtcp_compound_reserve(&c, &room);
  chorus_rtcp_compound_commit(
      &c, chorus_rtcp_twcc_builder_write(&b, arrivals, 200, p, room, &n_twcc, &used));
  p = chorus_rtcp_compound_reserve(&c, &room);
  chorus_rtcp_compound_commit(&c, chorus_rtcp_write_bye(p, room, ssrcs, 2, "bye", 3));
  gsize len;
  if (!chorus_rtcp_compound_finish(&c, FALSE, &len))
    return 0;

  guint64 sum = 0;
  ChorusRtcpIter it;
  ChorusRtcpPacket pkt;
  gboolean bad;
  chorus_rtcp_iter_init(&it, buf, len);
  *n_packets = 0;
  while (chorus_rtcp_iter_next(&it, &pkt, &bad)) {
    (*n_packets)++;
    ChorusRtcpReport report;
    if (chorus_rtcp_report_parse(&pkt, &report) == CHORUS_RTP_OK)
      sum += report.n_blocks + report.sender_info.octet_count;
    const guint8 *cname;
    gsize cname_len;
    guint32 ssrc;
    if (chorus_rtcp_sdes_find_cname(&pkt, &ssrc, &cname, &cname_len))
      sum += cname_len;
    guint16 got[64];
    gsize total;
    if (chorus_rtcp_nack_parse(&pkt, NULL, got, 64, &total) == CHORUS_RTP_OK)
      sum += total;
    guint64 bps;
    guint32 got_ssrcs[4];
    if (chorus_rtcp_remb_parse(&pkt, &bps, got_ssrcs, 4, &total) == CHORUS_RTP_OK)
      sum += bps;
    ChorusRtcpXrIter xr;
    if (chorus_rtcp_xr_iter_init(&xr, &pkt, NULL)) {
      ChorusRtcpXrBlock block;
      while (chorus_rtcp_xr_iter_next(&xr, &block, &bad)) {
        ChorusRtcpDlrrItem items[2];
        guint64 rrtr;
        if (chorus_rtcp_xr_rrtr_parse(&block, &rrtr) == CHORUS_RTP_OK)
          sum += rrtr;
        if (chorus_rtcp_xr_dlrr_parse(&block, items, 2, &total) == CHORUS_RTP_OK)
          sum += total;
      }
    }
    ChorusRtcpTwcc fb;
    if (chorus_rtcp_twcc_parse(&pkt, &fb, statuses, G_N_ELEMENTS(statuses)) == CHORUS_RTP_OK)
      sum += fb.n_received;
    ChorusRtcpBye bye;
    if (chorus_rtcp_bye_parse(&pkt, &bye) == CHORUS_RTP_OK)
      sum += bye.n_ssrcs;
  }
  return sum;
}

START_TEST(test_rtcp_does_not_allocate)
{
  guint n_packets = 0;
  ck_assert_uint_gt(round_once(0, &n_packets), 0);
  ck_assert_uint_ge(n_packets, 7); /* SR, SDES, NACK, REMB, XR, TWCC (1+), BYE */

  install_counter();
  guint64 before = allocation_count();
  guint64 sum = 0;
  guint min_packets = G_MAXUINT;
  for (guint round = 1; round <= 5000; round++) {
    sum += round_once(round, &n_packets);
    min_packets = MIN(min_packets, n_packets);
  }
  guint64 after = allocation_count();
  ck_assert_uint_gt(sum, 0);
  ck_assert_uint_ge(min_packets, 7);
  ck_assert_uint_eq(after - before, 0);

  /* The counter itself works: a GLib allocation is seen. */
  gpointer probe = g_malloc(64);
  ck_assert_uint_gt(allocation_count(), after);
  g_free(probe);
}
END_TEST

static Suite *
rtcp_no_alloc_suite(void)
{
  Suite *s = suite_create("rtcp-no-alloc");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_rtcp_does_not_allocate);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(rtcp_no_alloc_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
