/* Proves that the steady-state receive and resend paths of rtp/ (seq
 * unwrapping, receive stats, NACK generation, packet history + RTX, TWCC
 * recording, audio level) do not allocate: every malloc/calloc/realloc of
 * the process is counted around 100,000 handle/poll rounds after warm-up.
 *
 * GLib 2.74 cannot swap g_malloc's allocator, so the count is taken below
 * it: in a plain build this binary defines malloc/calloc/realloc itself
 * (the executable's definitions interpose over libc's for libglib too) and
 * forwards to glibc's __libc_* entry points; under AddressSanitizer, which
 * owns malloc, the sanitizer's allocation hook counts instead. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rtp/audio-level.h"
#include "rtp/nack-generator.h"
#include "rtp/packet-history.h"
#include "rtp/receive-stats.h"
#include "rtp/rtp-packet.h"
#include "rtp/rtp-seq.h"
#include "rtp/twcc-recorder.h"

#include "alloc-counter.h"

#define AUDIO_LEVEL_ID 1
#define TWCC_ID 3

/* An RTP packet with a one-byte-header extension block carrying the audio
 * level and transport-wide seq, as a publisher would send it. */
static gsize
build_packet(guint8 *buf, guint16 seq, guint16 twcc_seq, guint32 ts, guint8 level)
{
  buf[0] = 0x90;
  buf[1] = 111;
  chorus_rtp_write16(buf + 2, seq);
  chorus_rtp_write32(buf + 4, ts);
  chorus_rtp_write32(buf + 8, 0x1234);
  chorus_rtp_write16(buf + 12, CHORUS_RTP_EXT_ONE_BYTE_PROFILE);
  chorus_rtp_write16(buf + 14, 2);
  buf[16] = (AUDIO_LEVEL_ID << 4) | 0;
  chorus_rtp_audio_level_write(buf + 17, 1, TRUE, level);
  buf[18] = (TWCC_ID << 4) | 1;
  chorus_rtp_twcc_write_ext(buf + 19, 2, twcc_seq);
  buf[21] = buf[22] = buf[23] = 0;
  memset(buf + 24, seq & 0xff, 160);
  return 24 + 160;
}

/* Check's ck_assert records a mark point on success, and that allocates:
 * the measured loop checks with this instead. */
#define REQUIRE(p, expr)                                                                           \
  do {                                                                                             \
    if (!(expr))                                                                                   \
      (p)->failures++;                                                                             \
  } while (0)

typedef struct {
  ChorusRtpReceiveStats *stats;
  ChorusNackGenerator *nack;
  ChorusTwccRecorder *twcc;
  ChorusRtpPacketHistory *history;
  ChorusRtpAudioLevelSmoother level;
  ChorusRtpSeqUnwrapper unwrapper;
  guint16 seq;
  guint16 twcc_seq;
  guint16 rtx_seq;
  gint64 now_us;
  guint64 nacked;
  guint64 resent;
  guint64 feedback_entries;
  guint64 reports;
  guint64 failures; /* REQUIRE misses, checked after the loop */
} Pipeline;

/* One packet interval: receive (dropping every 50th, which later comes back
 * as RTX when NACKed), record, poll whatever is due, answer NACKs from the
 * sender's history with RTX and feed the decapsulated packet back. */
static void
step(Pipeline *p, guint i)
{
  guint8 buf[256], rtx[300], back[300];
  gsize len = build_packet(buf, p->seq, p->twcc_seq, p->seq * 960u, (guint8)(i % 100));
  ChorusRtpPacket pkt;
  REQUIRE(p, chorus_rtp_packet_parse(&pkt, buf, len) == CHORUS_RTP_OK);
  /* Sender side: every packet sent goes to the history. */
  REQUIRE(p, chorus_rtp_packet_history_handle_sent(p->history, &pkt, p->now_us) == CHORUS_RTP_OK);

  if (i % 50 != 7) {
    gint64 ext;
    chorus_rtp_seq_unwrapper_update(&p->unwrapper, pkt.seq, &ext);
    chorus_rtp_receive_stats_handle_packet(p->stats, pkt.seq, pkt.timestamp, len, p->now_us);
    chorus_nack_generator_handle_packet(p->nack, pkt.seq, FALSE, p->now_us);
    const guint8 *v;
    gsize vlen;
    guint16 tseq;
    if (chorus_rtp_packet_find_extension(&pkt, TWCC_ID, &v, &vlen) &&
        chorus_rtp_twcc_read_ext(v, vlen, &tseq))
      chorus_twcc_recorder_handle_packet(p->twcc, tseq, p->now_us);
    gboolean voice;
    guint8 level;
    if (chorus_rtp_packet_find_extension(&pkt, AUDIO_LEVEL_ID, &v, &vlen) &&
        chorus_rtp_audio_level_parse(v, vlen, &voice, &level))
      chorus_rtp_audio_level_smoother_handle(&p->level, level, p->now_us);
  }

  if (chorus_nack_generator_next_deadline_us(p->nack) <= p->now_us) {
    guint16 seqs[32];
    gsize n = chorus_nack_generator_poll_nacks(p->nack, p->now_us, seqs, G_N_ELEMENTS(seqs));
    for (gsize k = 0; k < n; k++) {
      const guint8 *data;
      gsize data_len;
      if (chorus_rtp_packet_history_take_for_resend(p->history, seqs[k], p->now_us, &data,
                                                    &data_len) != CHORUS_RTP_HISTORY_FOUND)
        continue;
      ChorusRtpPacket orig, rp;
      gsize rtx_len = 0, back_len = 0;
      REQUIRE(p, chorus_rtp_packet_parse(&orig, data, data_len) == CHORUS_RTP_OK);
      REQUIRE(p, chorus_rtp_rtx_encapsulate(&orig, 0x5678, 97, p->rtx_seq++, rtx, sizeof(rtx),
                                            &rtx_len) == CHORUS_RTP_OK);
      REQUIRE(p, chorus_rtp_packet_parse(&rp, rtx, rtx_len) == CHORUS_RTP_OK);
      REQUIRE(p, chorus_rtp_rtx_decapsulate(&rp, 111, 0x1234, back, sizeof(back), &back_len) ==
                     CHORUS_RTP_OK);
      ChorusRtpPacket rec;
      REQUIRE(p, chorus_rtp_packet_parse(&rec, back, back_len) == CHORUS_RTP_OK);
      chorus_nack_generator_handle_packet(p->nack, rec.seq, TRUE, p->now_us);
      p->resent++;
    }
    p->nacked += n;
  }
  chorus_nack_generator_poll_keyframe_request(p->nack);

  if (chorus_twcc_recorder_next_deadline_us(p->twcc) <= p->now_us) {
    ChorusTwccArrival arrivals[128];
    guint8 fb;
    p->feedback_entries += chorus_twcc_recorder_poll_feedback(p->twcc, p->now_us, arrivals,
                                                              G_N_ELEMENTS(arrivals), &fb);
  }
  if (i % 250 == 0) {
    ChorusRtpReportBlock block;
    chorus_rtp_receive_stats_handle_sr(p->stats, (guint64)p->now_us << 12, p->now_us);
    if (chorus_rtp_receive_stats_poll_report(p->stats, p->now_us, &block))
      p->reports++;
  }
  p->seq++;
  p->twcc_seq++;
  p->now_us += 20000;
}

START_TEST(test_steady_state_does_not_allocate)
{
  install_counter();
  /* The counter sees allocations at all (else the test could not fail). */
  guint64 before = allocation_count();
  gpointer probe = g_malloc(64);
  ck_assert_uint_eq(allocation_count(), before + 1);
  g_free(probe);

  Pipeline p = {
      .stats = chorus_rtp_receive_stats_new(0x1234, 48000),
      .nack = chorus_nack_generator_new(NULL),
      .twcc = chorus_twcc_recorder_new(0),
      .history = chorus_rtp_packet_history_new(512, 1200),
      .seq = 65000,
      .twcc_seq = 100,
      .now_us = 1000000,
  };
  chorus_rtp_audio_level_smoother_init(&p.level, 100000);
  chorus_rtp_seq_unwrapper_init(&p.unwrapper, 0, 0);
  chorus_nack_generator_set_rtt_us(p.nack, 40000);
  chorus_rtp_packet_history_set_rtt_us(p.history, 40000);

  for (guint i = 0; i < 2000; i++) /* warm-up */
    step(&p, i);
  before = allocation_count();
  for (guint i = 2000; i < 102000; i++)
    step(&p, i);
  guint64 during = allocation_count() - before;
  ck_assert_uint_eq(p.failures, 0);

  /* The rounds did real work: NACKs, resends, feedback and reports. */
  ck_assert_uint_ge(p.nacked, 100000 / 50);
  ck_assert_uint_ge(p.resent, 100000 / 50);
  ck_assert_uint_ge(p.feedback_entries, 100000);
  ck_assert_uint_ge(p.reports, 400);
  ChorusNackCounters nc;
  chorus_nack_generator_get_counters(p.nack, &nc);
  ck_assert_uint_eq(nc.recovered_rtx, nc.missing - chorus_nack_generator_missing_count(p.nack));
  ck_assert_uint_eq(during, 0);

  chorus_rtp_receive_stats_free(p.stats);
  chorus_nack_generator_free(p.nack);
  chorus_twcc_recorder_free(p.twcc);
  chorus_rtp_packet_history_free(p.history);
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("rtp-no-alloc");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_steady_state_does_not_allocate);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
