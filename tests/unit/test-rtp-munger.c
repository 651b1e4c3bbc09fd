/* The downtrack rewrite: one continuous output stream across the 16-bit
 * wrap, layer switches, pauses, source changes and late packets; resend
 * lookup across segments; VP8 picture IDs; no allocation. Virtual time. */
#include <check.h>
#include <stdlib.h>

#include "rtp/rtp-munger.h"

#include "alloc-counter.h"

#define MS 1000
#define T0 ((gint64)1000 * 1000 * 1000)
#define VIDEO_CLOCK 90000
#define AUDIO_CLOCK 48000
#define SSRC_A 0x1111
#define SSRC_B 0x2222
#define SSRC_C 0x3333

/* Output of one mapped packet. */
typedef struct {
  guint16 seq;
  guint32 ts;
} Out;

static Out
map_ok(ChorusRtpMunger *m, guint32 ssrc, guint16 seq, guint32 ts, guint layer, guint32 clock,
       gint64 now)
{
  Out o = { 0, 0 };
  ck_assert_int_eq(chorus_rtp_munger_map(m, ssrc, seq, ts, layer, clock, now, &o.seq, &o.ts),
                   CHORUS_RTP_MUNGER_FORWARD);
  return o;
}

/* @n packets of one source from (@seq, @ts) at @step_ms apart (@ts_step per
 * packet), starting at *@now; checks that the output seq has no gap and
 * the timestamp moves forward; returns the last output. */
static Out
run(ChorusRtpMunger *m, guint32 ssrc, guint16 seq, guint32 ts, guint layer, guint32 clock,
    guint n, gint64 step_ms, guint32 ts_step, gint64 *now, const Out *prev)
{
  Out last = prev ? *prev : (Out){ 0, 0 };
  for (guint i = 0; i < n; i++) {
    Out o = map_ok(m, ssrc, (guint16)(seq + i), ts + i * ts_step, layer, clock, *now);
    if (prev || i > 0) {
      ck_assert_uint_eq(o.seq, (guint16)(last.seq + 1));
      ck_assert_int_gt((gint32)(o.ts - last.ts), 0);
    }
    last = o;
    *now += step_ms * MS;
  }
  return last;
}

START_TEST(test_start_is_passthrough)
{
  ChorusRtpMunger m;
  chorus_rtp_munger_init(&m);
  ck_assert(!chorus_rtp_munger_is_started(&m));
  ChorusRtpMungerOrigin from;
  ck_assert(!chorus_rtp_munger_lookup(&m, 0, &from));
  gint64 now = T0;
  Out o = map_ok(&m, SSRC_A, 4321, 999999, 0, VIDEO_CLOCK, now);
  ck_assert_uint_eq(o.seq, 4321);
  ck_assert_uint_eq(o.ts, 999999);
  ck_assert(chorus_rtp_munger_is_started(&m));
  ck_assert_uint_eq(chorus_rtp_munger_get_ts_offset(&m), 0);
  /* A rebase after the first packet is the only thing that moves it. */
  chorus_rtp_munger_init(&m);
  chorus_rtp_munger_rebase(&m); /* before start: nothing to do */
  o = map_ok(&m, SSRC_A, 10, 20, 0, VIDEO_CLOCK, now);
  ck_assert_uint_eq(o.seq, 10);
  ck_assert_uint_eq(o.ts, 20);
}
END_TEST

START_TEST(test_wrap)
{
  ChorusRtpMunger m;
  chorus_rtp_munger_init(&m);
  gint64 now = T0;
  /* Through the 65535 -> 0 wrap on one layer (out = in). */
  Out o = run(&m, SSRC_A, 65500, 0xfffff000u, 0, VIDEO_CLOCK, 100, 10, 900, &now, NULL);
  ck_assert_uint_eq(o.seq, (guint16)(65500 + 99));
  ck_assert_uint_eq(chorus_rtp_munger_get_last_seq(&m), 63);
  /* A switch whose output wraps: continue from 65535 to 0. */
  chorus_rtp_munger_init(&m);
  now = T0;
  o = run(&m, SSRC_A, 65526, 1000, 0, VIDEO_CLOCK, 10, 10, 900, &now, NULL);
  ck_assert_uint_eq(o.seq, 65535);
  chorus_rtp_munger_rebase(&m);
  o = run(&m, SSRC_B, 300, 5, 1, VIDEO_CLOCK, 10, 10, 900, &now, &o);
  ck_assert_uint_eq(o.seq, 9);
  /* Both sides of the wrap resolve to their own segment. */
  ChorusRtpMungerOrigin from;
  ck_assert(chorus_rtp_munger_lookup(&m, 65535, &from));
  ck_assert_uint_eq(from.layer, 0);
  ck_assert_uint_eq(from.in_seq, 65535);
  ck_assert(chorus_rtp_munger_lookup(&m, 0, &from));
  ck_assert_uint_eq(from.layer, 1);
  ck_assert_uint_eq(from.in_seq, 300);
  ck_assert_uint_eq(from.ssrc, SSRC_B);
}
END_TEST

START_TEST(test_layer_switch_continuous)
{
  ChorusRtpMunger m;
  chorus_rtp_munger_init(&m);
  gint64 now = T0;
  /* Layer 0: 50 packets, 20 ms apart. */
  Out o = run(&m, SSRC_A, 100, 5000, 0, VIDEO_CLOCK, 50, 20, 1800, &now, NULL);
  ck_assert_uint_eq(o.seq, 149);
  ck_assert_uint_eq(o.ts, 5000 + 49 * 1800);
  /* 40 ms later, layer 1's keyframe with unrelated seq/ts: the sequence
   * continues at 150 and the timestamp advances by the 60 ms that passed
   * since the last packet (90 kHz: 5400). */
  now += 40 * MS;
  chorus_rtp_munger_rebase(&m);
  Out s = map_ok(&m, SSRC_B, 40000, 123456789, 1, VIDEO_CLOCK, now);
  ck_assert_uint_eq(s.seq, 150);
  ck_assert_uint_eq(s.ts, o.ts + 5400);
  now += 20 * MS;
  o = run(&m, SSRC_B, 40001, 123456789 + 1800, 1, VIDEO_CLOCK, 50, 20, 1800, &now, &s);
  ck_assert_uint_eq(o.seq, 200);
  ck_assert_uint_eq(o.ts, s.ts + 50 * 1800);
  /* A switch to another layer opens a new sequence by itself (no rebase
   * call): a packet of layer 2 can never be read as layer 1's. */
  now += 20 * MS;
  s = map_ok(&m, SSRC_C, 7, 42, 2, VIDEO_CLOCK, now);
  ck_assert_uint_eq(s.seq, 201);
  ck_assert_uint_eq(s.ts, o.ts + 40 * 90);
  /* A switch in the same millisecond still moves the timestamp forward. */
  chorus_rtp_munger_rebase(&m);
  Out t = map_ok(&m, SSRC_A, 555, 0, 0, VIDEO_CLOCK, now);
  ck_assert_uint_eq(t.seq, 202);
  ck_assert_int_gt((gint32)(t.ts - s.ts), 0);
}
END_TEST

START_TEST(test_pause_resume_continuous)
{
  ChorusRtpMunger m;
  chorus_rtp_munger_init(&m);
  gint64 now = T0;
  /* Audio, 20 ms packets (960 at 48 kHz). */
  Out o = run(&m, SSRC_A, 1000, 0, 0, AUDIO_CLOCK, 100, 20, 960, &now, NULL);
  ck_assert_uint_eq(o.seq, 1099);
  /* Paused for 3 s: the publisher's 150 packets are not forwarded. */
  guint16 in_seq = 1100 + 150;
  guint32 in_ts = (100 + 150) * 960;
  now += 3000 * MS;
  /* Resumed: without the rebase the subscriber would see a 150-seq gap. */
  ChorusRtpMunger no_rebase = m;
  Out gap = map_ok(&no_rebase, SSRC_A, in_seq, in_ts, 0, AUDIO_CLOCK, now);
  ck_assert_uint_eq(gap.seq, 1099 + 151);
  chorus_rtp_munger_rebase(&m);
  Out r = map_ok(&m, SSRC_A, in_seq, in_ts, 0, AUDIO_CLOCK, now);
  ck_assert_uint_eq(r.seq, 1100);
  /* The last packet was 20 ms + 3 s ago: 3.02 s at 48 kHz. */
  ck_assert_uint_eq(r.ts, o.ts + 3020 * 48);
  now += 20 * MS;
  run(&m, SSRC_A, in_seq + 1, in_ts + 960, 0, AUDIO_CLOCK, 50, 20, 960, &now, &r);
}
END_TEST

START_TEST(test_source_change)
{
  ChorusRtpMunger m;
  chorus_rtp_munger_init(&m);
  gint64 now = T0;
  Out o = run(&m, SSRC_A, 2000, 70000, 0, AUDIO_CLOCK, 20, 20, 960, &now, NULL);
  /* Another publisher (a voice slot's new speaker), or the same one
   * restarted with a new SSRC, on the same layer: a new sequence by itself,
   * continuous, timestamp advanced by the 20 ms since the last packet. */
  Out s = map_ok(&m, SSRC_B, 60000, 3000000000u, 0, AUDIO_CLOCK, now);
  ck_assert_uint_eq(s.seq, (guint16)(o.seq + 1));
  ck_assert_uint_eq(s.ts, o.ts + 20 * 48);
  now += 20 * MS;
  /* Its seq wraps right away: still continuous. */
  o = run(&m, SSRC_B, 60001, 3000000960u, 0, AUDIO_CLOCK, 10000, 20, 960, &now, &s);
  ChorusRtpMungerOrigin from;
  ck_assert(chorus_rtp_munger_lookup(&m, s.seq, &from));
  ck_assert_uint_eq(from.ssrc, SSRC_B);
  ck_assert_uint_eq(from.in_seq, 60000);
  ck_assert(chorus_rtp_munger_lookup(&m, (guint16)(s.seq - 1), &from));
  ck_assert_uint_eq(from.ssrc, SSRC_A);
  ck_assert_uint_eq(from.in_seq, 2019);
}
END_TEST

START_TEST(test_late_packets)
{
  ChorusRtpMunger m;
  chorus_rtp_munger_init(&m);
  gint64 now = T0;
  Out o = run(&m, SSRC_A, 100, 9000, 0, VIDEO_CLOCK, 11, 10, 900, &now, NULL);
  ck_assert_uint_eq(o.seq, 110);
  /* 105 arrives again, late (recovered by RTX): rewritten as the first
   * time, and the continuity point stays at 110. */
  Out late = map_ok(&m, SSRC_A, 105, 9000 + 5 * 900, 0, VIDEO_CLOCK, now);
  ck_assert_uint_eq(late.seq, 105);
  ck_assert_uint_eq(late.ts, 9000 + 5 * 900);
  ck_assert_uint_eq(chorus_rtp_munger_get_last_seq(&m), 110);
  ck_assert_uint_eq(chorus_rtp_munger_get_last_ts(&m), o.ts);
  /* ... so that the next packet continues, and so does a switch. */
  Out n = map_ok(&m, SSRC_A, 111, 9000 + 11 * 900, 0, VIDEO_CLOCK, now);
  ck_assert_uint_eq(n.seq, 111);
  now += 10 * MS;
  Out s = map_ok(&m, SSRC_B, 5000, 1, 1, VIDEO_CLOCK, now);
  ck_assert_uint_eq(s.seq, 112);
  ck_assert_uint_eq(s.ts, n.ts + 900);
  /* A late packet of the new layer from before its first one would reuse
   * an output seq layer 0 sent: dropped. */
  Out untouched = { 77, 77 };
  ck_assert_int_eq(chorus_rtp_munger_map(&m, SSRC_B, 4999, 0, 1, VIDEO_CLOCK, now, &untouched.seq,
                                         &untouched.ts),
                   CHORUS_RTP_MUNGER_DROP_LATE);
  ck_assert_uint_eq(untouched.seq, 77);
  ck_assert_uint_eq(chorus_rtp_munger_get_last_seq(&m), 112);
  /* One of the new layer after its first one, reordered: forwarded. */
  Out a = map_ok(&m, SSRC_B, 5002, 1801, 1, VIDEO_CLOCK, now);
  Out b = map_ok(&m, SSRC_B, 5001, 901, 1, VIDEO_CLOCK, now);
  ck_assert_uint_eq(a.seq, 114);
  ck_assert_uint_eq(b.seq, 113);
  ck_assert_uint_eq(chorus_rtp_munger_get_last_seq(&m), 114);
  /* In the first sequence nothing came before: a packet older than the
   * first one is let through (no seq of it was sent). */
  ChorusRtpMunger f;
  chorus_rtp_munger_init(&f);
  map_ok(&f, SSRC_A, 500, 0, 0, VIDEO_CLOCK, T0);
  Out early = map_ok(&f, SSRC_A, 499, 0, 0, VIDEO_CLOCK, T0);
  ck_assert_uint_eq(early.seq, 499);
  ck_assert_uint_eq(chorus_rtp_munger_get_last_seq(&f), 500);
}
END_TEST

START_TEST(test_resend_lookup_across_segments)
{
  ChorusRtpMunger m;
  chorus_rtp_munger_init(&m);
  gint64 now = T0;
  /* Segment 1: layer 0, in 1000.. -> out 1000..1019. Segment 2: layer 2,
   * in 30000.. -> out 1020..1039. Segment 3: layer 1 -> out 1040..1059. */
  Out o = run(&m, SSRC_A, 1000, 50000, 0, VIDEO_CLOCK, 20, 10, 900, &now, NULL);
  guint32 off1 = chorus_rtp_munger_get_ts_offset(&m);
  chorus_rtp_munger_rebase(&m);
  o = run(&m, SSRC_C, 30000, 7, 2, VIDEO_CLOCK, 20, 10, 900, &now, &o);
  guint32 off2 = chorus_rtp_munger_get_ts_offset(&m);
  o = run(&m, SSRC_B, 65530, 4000000000u, 1, VIDEO_CLOCK, 20, 10, 900, &now, &o);
  guint32 off3 = chorus_rtp_munger_get_ts_offset(&m);
  ck_assert_uint_eq(o.seq, 1059);
  ck_assert_uint_ne(off2, off1);
  ck_assert_uint_ne(off3, off2);

  ChorusRtpMungerOrigin from;
  struct {
    guint16 out;
    guint layer;
    guint32 ssrc;
    guint16 in;
    guint32 ts_offset;
  } want[] = {
    { 1000, 0, SSRC_A, 1000, off1 },  { 1019, 0, SSRC_A, 1019, off1 },
    { 1020, 2, SSRC_C, 30000, off2 }, { 1039, 2, SSRC_C, 30019, off2 },
    { 1040, 1, SSRC_B, 65530, off3 }, { 1045, 1, SSRC_B, 65535, off3 },
    { 1046, 1, SSRC_B, 0, off3 },     { 1059, 1, SSRC_B, 13, off3 },
  };
  for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
    ck_assert_msg(chorus_rtp_munger_lookup(&m, want[i].out, &from), "out %u", want[i].out);
    ck_assert_uint_eq(from.layer, want[i].layer);
    ck_assert_uint_eq(from.ssrc, want[i].ssrc);
    ck_assert_uint_eq(from.in_seq, want[i].in);
    ck_assert_uint_eq(from.ts_offset, want[i].ts_offset);
  }
  ck_assert(!chorus_rtp_munger_lookup(&m, 999, &from));  /* before the first segment */
  ck_assert(!chorus_rtp_munger_lookup(&m, 1060, &from)); /* not sent yet */
  ck_assert(!chorus_rtp_munger_lookup(&m, 1059 + 30000, &from));

  /* Six more switches (9 segments): the first one leaves the ring. */
  for (guint k = 0; k < 6; k++)
    o = run(&m, k % 2 ? SSRC_A : SSRC_C, (guint16)(k * 1000), 0, k % 2 ? 0 : 2, VIDEO_CLOCK, 5,
            10, 900, &now, &o);
  ck_assert(!chorus_rtp_munger_lookup(&m, 1000, &from));
  ck_assert(!chorus_rtp_munger_lookup(&m, 1019, &from));
  ck_assert(chorus_rtp_munger_lookup(&m, 1020, &from)); /* the oldest kept */
  ck_assert_uint_eq(from.layer, 2);
  ck_assert_uint_eq(from.in_seq, 30000);
  ck_assert(chorus_rtp_munger_lookup(&m, o.seq, &from));
  ck_assert_uint_eq(from.in_seq, 5004);
}
END_TEST

START_TEST(test_lookup_long_segment)
{
  /* A segment that outlives half the seq space (a long stretch of one
   * layer) still answers for its recent seqs, with its own offsets. */
  ChorusRtpMunger m;
  chorus_rtp_munger_init(&m);
  gint64 now = T0;
  Out o = run(&m, SSRC_A, 0, 0, 0, VIDEO_CLOCK, 100, 10, 900, &now, NULL);
  chorus_rtp_munger_rebase(&m);
  o = run(&m, SSRC_B, 20000, 0, 1, VIDEO_CLOCK, 40000, 1, 90, &now, &o);
  ck_assert_uint_eq(o.seq, 40099);
  ChorusRtpMungerOrigin from;
  ck_assert(chorus_rtp_munger_lookup(&m, 40094, &from));
  ck_assert_uint_eq(from.layer, 1);
  ck_assert_uint_eq(from.in_seq, (guint16)(20000 + 39994));
  ck_assert(chorus_rtp_munger_lookup(&m, 40099 - 32767, &from));
  ck_assert_uint_eq(from.layer, 1);
  /* More than half the space back: ambiguous, not answered. */
  ck_assert(!chorus_rtp_munger_lookup(&m, 40099 - 32768, &from));
  ck_assert(!chorus_rtp_munger_lookup(&m, 50, &from));
}
END_TEST

/* VP8 payload descriptor: X=1, S=1; I=1 (15-bit picture ID) L=1
 * (TL0PICIDX); one payload byte. */
static void
vp8(guint8 *p, guint16 pid, guint8 tl0)
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

START_TEST(test_vp8_offsets_per_segment)
{
  ChorusRtpMunger m;
  chorus_rtp_munger_init(&m);
  guint8 p[6];
  Out o;
  /* Layer 0: pictures 500..509, one packet each, TL0PICIDX 30. */
  for (guint i = 0; i < 10; i++) {
    o = map_ok(&m, SSRC_A, (guint16)(100 + i), i * 3000, 0, VIDEO_CLOCK, T0 + i * 33 * MS);
    vp8(p, (guint16)(500 + i), 30);
    ck_assert(chorus_rtp_munger_rewrite_vp8(&m, p, sizeof p));
    ck_assert_uint_eq(pid_of(p), 500 + i);
  }
  /* A late packet of picture 505: same offsets, and it does not become the
   * point where the next sequence's pictures continue from. */
  map_ok(&m, SSRC_A, 105, 5 * 3000, 0, VIDEO_CLOCK, T0 + 330 * MS);
  vp8(p, 505, 30);
  ck_assert(chorus_rtp_munger_rewrite_vp8(&m, p, sizeof p));
  ck_assert_uint_eq(pid_of(p), 505);
  /* Layer 1 (pictures from 9000, TL0PICIDX 3): continues at 510, tl0 31. */
  chorus_rtp_munger_rebase(&m);
  Out s = map_ok(&m, SSRC_B, 7000, 0, 1, VIDEO_CLOCK, T0 + 363 * MS);
  ck_assert_uint_eq(s.seq, (guint16)(o.seq + 1));
  vp8(p, 9000, 3);
  ck_assert(chorus_rtp_munger_rewrite_vp8(&m, p, sizeof p));
  ck_assert_uint_eq(pid_of(p), 510);
  ck_assert_uint_eq(p[4], 31);
  map_ok(&m, SSRC_B, 7001, 3000, 1, VIDEO_CLOCK, T0 + 396 * MS);
  vp8(p, 9001, 3);
  chorus_rtp_munger_rewrite_vp8(&m, p, sizeof p);
  ck_assert_uint_eq(pid_of(p), 511);
  /* Resends get the offsets their segment was sent with. */
  ChorusRtpMungerOrigin from;
  ck_assert(chorus_rtp_munger_lookup(&m, o.seq, &from));
  ck_assert_uint_eq(from.vp8_pid_offset, 0);
  ck_assert_uint_eq(from.vp8_tl0_offset, 0);
  ck_assert(chorus_rtp_munger_lookup(&m, s.seq, &from));
  ck_assert_uint_eq(from.vp8_pid_offset, (guint16)((510 - 9000) & 0x7fff));
  ck_assert_uint_eq(from.vp8_tl0_offset, (guint8)(31 - 3));
  vp8(p, 9001, 3);
  ck_assert(chorus_vp8_apply_offsets(p, sizeof p, from.vp8_pid_offset, from.vp8_tl0_offset));
  ck_assert_uint_eq(pid_of(p), 511);
}
END_TEST

START_TEST(test_no_allocation)
{
  ChorusRtpMunger m;
  chorus_rtp_munger_init(&m);
  install_counter();
  guint8 p[6];
  ChorusRtpMungerOrigin from;
  guint64 found = 0, before = allocation_count();
  for (guint i = 0; i < 100000; i++) {
    guint16 seq, out = 0;
    guint32 ts = 0;
    if (i % 5000 == 0)
      chorus_rtp_munger_rebase(&m);
    if (chorus_rtp_munger_map(&m, SSRC_A + i / 5000, (guint16)i, i * 3000, (i / 5000) % 3,
                              VIDEO_CLOCK, T0 + (gint64)i * MS, &out, &ts) == CHORUS_RTP_MUNGER_FORWARD) {
      vp8(p, (guint16)(i & 0x7fff), (guint8)i);
      chorus_rtp_munger_rewrite_vp8(&m, p, sizeof p);
    }
    seq = (guint16)(out - 10);
    found += chorus_rtp_munger_lookup(&m, seq, &from);
  }
  guint64 allocs = allocation_count() - before;
  ck_assert_uint_eq(allocs, 0);
  ck_assert_uint_eq(found, 100000 - 10); /* the first 10 look before the start */
}
END_TEST

/* A new source taking over another munger's outgoing SSRC (a recycled
 * m-line) continues its sequence and timeline. */
START_TEST(test_continue_from)
{
  ChorusRtpMunger m;
  chorus_rtp_munger_continue_from(&m, 65535, 1000000, 10 * G_USEC_PER_SEC);
  guint16 seq;
  guint32 ts;
  ck_assert_int_eq(chorus_rtp_munger_map(&m, 0xabc, 500, 777, 0, 90000, 10 * G_USEC_PER_SEC + 100000,
                                         &seq, &ts), CHORUS_RTP_MUNGER_FORWARD);
  ck_assert_uint_eq(seq, 0);                    /* 65535 + 1, wrapped */
  ck_assert_uint_eq(ts, 1000000 + 9000);        /* + 100 ms at 90 kHz */
  ck_assert_int_eq(chorus_rtp_munger_map(&m, 0xabc, 501, 3777, 0, 90000, 10 * G_USEC_PER_SEC + 133000,
                                         &seq, &ts), CHORUS_RTP_MUNGER_FORWARD);
  ck_assert_uint_eq(seq, 1);
  ck_assert_uint_eq(ts, 1000000 + 9000 + 3000);
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("rtp-munger");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_start_is_passthrough);
  tcase_add_test(tc, test_wrap);
  tcase_add_test(tc, test_layer_switch_continuous);
  tcase_add_test(tc, test_pause_resume_continuous);
  tcase_add_test(tc, test_source_change);
  tcase_add_test(tc, test_late_packets);
  tcase_add_test(tc, test_resend_lookup_across_segments);
  tcase_add_test(tc, test_lookup_long_segment);
  tcase_add_test(tc, test_vp8_offsets_per_segment);
  tcase_add_test(tc, test_no_allocation);
  tcase_add_test(tc, test_continue_from);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
