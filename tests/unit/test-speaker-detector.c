/* Active speaker detection: hysteresis, DTX, muting, ranking, the
 * notification interval, capacity, and a steady state without allocation.
 * Deterministic: a simulated room sends one packet per source every 20 ms
 * and polls every 10 ms of virtual time. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rtp/audio-slots.h"
#include "rtp/speaker-detector.h"

#include "alloc-counter.h"

#define MS 1000
#define T0 (1000 * MS)
#define N_IDS 8
#define QUIET -1 /* sends nothing (DTX, or gone) */

/* Up to N_IDS sources, ids 1..N_IDS, each with the level it sends now. */
typedef struct {
  ChorusSpeakerDetector *d;
  gint64 now_us;
  gint level[N_IDS + 1];
  gint64 active_from[N_IDS + 1]; /* first tick seen active in this run of activity, 0 */
  gint64 inactive_from[N_IDS + 1];
  guint changes;
  guint32 reported[CHORUS_SPEAKER_MAX_SOURCES];
  gsize n_reported;
  gint64 last_change_us;
} Room;

static void
room_init(Room *r, const ChorusSpeakerDetectorConfig *config, guint n_sources)
{
  memset(r, 0, sizeof(*r));
  r->d = chorus_speaker_detector_new(config);
  r->now_us = T0;
  for (guint id = 1; id <= N_IDS; id++) {
    r->level[id] = QUIET;
    if (id <= n_sources)
      ck_assert(chorus_speaker_detector_add_source(r->d, id));
  }
}

static void
room_clear(Room *r)
{
  chorus_speaker_detector_free(r->d);
}

/* One 10 ms tick: packets (every other tick), then the poll. */
static void
room_tick(Room *r)
{
  if (r->now_us % (20 * MS) == 0) {
    for (guint id = 1; id <= N_IDS; id++) {
      if (r->level[id] != QUIET)
        chorus_speaker_detector_handle_level(r->d, id, (guint8)r->level[id], r->now_us);
    }
  }
  guint32 ids[CHORUS_SPEAKER_MAX_SOURCES];
  gsize n = 99;
  if (chorus_speaker_detector_poll(r->d, r->now_us, ids, G_N_ELEMENTS(ids), &n)) {
    r->changes++;
    r->last_change_us = r->now_us;
  }
  ck_assert_uint_le(n, G_N_ELEMENTS(ids));
  r->n_reported = n;
  memcpy(r->reported, ids, n * sizeof(guint32));
  for (guint id = 1; id <= N_IDS; id++) {
    if (chorus_speaker_detector_is_active(r->d, id)) {
      if (r->active_from[id] == 0)
        r->active_from[id] = r->now_us;
      r->inactive_from[id] = 0;
    } else {
      if (r->active_from[id] != 0 && r->inactive_from[id] == 0)
        r->inactive_from[id] = r->now_us;
      r->active_from[id] = 0;
    }
  }
  r->now_us += 10 * MS;
}

/* Ticks up to (not including) @until_us. */
static void
room_run(Room *r, gint64 until_us)
{
  while (r->now_us < until_us)
    room_tick(r);
}

static ChorusSpeakerDetectorCounters
counters_of(Room *r)
{
  ChorusSpeakerDetectorCounters c;
  chorus_speaker_detector_get_counters(r->d, &c);
  return c;
}

static gsize
active_of(Room *r, guint32 *ids)
{
  return chorus_speaker_detector_get_active(r->d, ids, CHORUS_SPEAKER_MAX_SOURCES);
}

START_TEST(test_defaults)
{
  ChorusSpeakerDetectorConfig c;
  chorus_speaker_detector_config_init(&c);
  ck_assert_uint_eq(c.threshold_dbov, 50);
  ck_assert_int_eq(c.smoothing_us, 150 * MS);
  ck_assert_int_eq(c.start_hold_us, 200 * MS);
  ck_assert_int_eq(c.stop_hold_us, 1000 * MS);
  ck_assert_int_eq(c.stale_us, 300 * MS);
  ck_assert_int_eq(c.min_interval_us, 200 * MS);
  ck_assert_uint_eq(c.rank_margin_db, 6);
  ck_assert_uint_eq(c.max_active, 4);

  g_autoptr(ChorusSpeakerDetector) d = chorus_speaker_detector_new(NULL);
  guint32 ids[4];
  gsize n = 99;
  ck_assert(!chorus_speaker_detector_poll(d, T0, ids, 4, &n));
  ck_assert_uint_eq(n, 0);
  ck_assert_int_eq(chorus_speaker_detector_next_deadline_us(d), G_MAXINT64);
  ck_assert_uint_eq(chorus_speaker_detector_get_level(d, 5), 127);
  ck_assert(!chorus_speaker_detector_is_active(d, 5));
}
END_TEST

START_TEST(test_silence_and_noise_are_not_speech)
{
  Room r;
  room_init(&r, NULL, 2);
  r.level[1] = 127; /* digital silence */
  r.level[2] = 55;  /* room noise just under the threshold, for ever */
  room_run(&r, T0 + 5000 * MS);
  ck_assert_uint_eq(counters_of(&r).activations, 0);
  ck_assert_uint_eq(counters_of(&r).packets, 2 * 250);
  ck_assert_uint_eq(r.changes, 0);
  ck_assert_uint_eq(chorus_speaker_detector_get_level(r.d, 1), 127);
  ck_assert_uint_eq(chorus_speaker_detector_get_level(r.d, 2), 55);
  guint32 ids[8];
  ck_assert_uint_eq(chorus_speaker_detector_get_audible(r.d, ids, 8), 0);
  room_clear(&r);
}
END_TEST

START_TEST(test_speech_starts_after_hold)
{
  Room r;
  room_init(&r, NULL, 1);
  r.level[1] = 30;
  room_run(&r, T0 + 1000 * MS);
  /* Not before start_hold_us, and within the smoothing rise + the hold. */
  ck_assert_int_ge(r.active_from[1], T0 + 200 * MS);
  ck_assert_int_le(r.active_from[1], T0 + 400 * MS);
  ck_assert_uint_eq(counters_of(&r).activations, 1);
  ck_assert_uint_eq(r.changes, 1);
  ck_assert_uint_eq(r.n_reported, 1);
  ck_assert_uint_eq(r.reported[0], 1);
  /* The change is reported on the first poll after activation. */
  ck_assert_int_eq(r.last_change_us, r.active_from[1]);
  guint8 level = chorus_speaker_detector_get_level(r.d, 1);
  ck_assert_uint_ge(level, 30);
  ck_assert_uint_le(level, 31);
  room_clear(&r);
}
END_TEST

START_TEST(test_cough_is_not_a_speaker)
{
  static const gint64 bursts_ms[] = {20, 100, 160, 200};
  for (guint i = 0; i < G_N_ELEMENTS(bursts_ms); i++) {
    Room r;
    room_init(&r, NULL, 1);
    r.level[1] = 90;
    room_run(&r, T0 + 500 * MS);
    r.level[1] = 10; /* loud */
    room_run(&r, T0 + 500 * MS + bursts_ms[i] * MS);
    r.level[1] = 90;
    room_run(&r, T0 + 3000 * MS);
    ck_assert_msg(counters_of(&r).activations == 0, "a %" G_GINT64_FORMAT " ms burst spoke",
                  bursts_ms[i]);
    ck_assert_uint_eq(r.changes, 0);
    room_clear(&r);
  }
  /* Two coughs 600 ms apart are still no speaker: the credit leaks. */
  Room r;
  room_init(&r, NULL, 1);
  r.level[1] = 90;
  for (guint k = 0; k < 5; k++) {
    gint64 at = T0 + k * 600 * MS;
    room_run(&r, at);
    r.level[1] = 10;
    room_run(&r, at + 160 * MS);
    r.level[1] = 90;
  }
  room_run(&r, T0 + 4000 * MS);
  ck_assert_uint_eq(counters_of(&r).activations, 0);
  /* Control: a 500 ms burst does make one (the test above can fail). */
  r.level[1] = 10;
  room_run(&r, T0 + 4500 * MS);
  ck_assert_uint_eq(counters_of(&r).activations, 1);
  room_clear(&r);
}
END_TEST

/* Speech with its gaps: 200 ms voiced, 100 ms at the noise floor. */
static void
talk(Room *r, guint id, gint64 until_us, gint level, gint floor_level)
{
  while (r->now_us < until_us) {
    gint64 phase = (r->now_us - T0) % (300 * MS);
    r->level[id] = phase < 200 * MS ? level : floor_level;
    room_tick(r);
  }
}

START_TEST(test_gaps_between_words_keep_speaker)
{
  /* The depth of the gaps does not matter: -60 or digital silence. */
  static const gint floors[] = {60, 90, 127};
  for (guint i = 0; i < G_N_ELEMENTS(floors); i++) {
    Room r;
    room_init(&r, NULL, 1);
    talk(&r, 1, T0 + 5000 * MS, 38, floors[i]);
    ck_assert_uint_eq(counters_of(&r).activations, 1);
    ck_assert_uint_eq(counters_of(&r).deactivations, 0);
    ck_assert(chorus_speaker_detector_is_active(r.d, 1));
    /* Loudness follows the voiced frames, not the gaps: within 4 dB. */
    ck_assert_uint_le(chorus_speaker_detector_get_level(r.d, 1), 42);
    room_clear(&r);
  }
}
END_TEST

START_TEST(test_short_pause_keeps_long_pause_drops)
{
  Room r;
  room_init(&r, NULL, 1);
  r.level[1] = 30;
  room_run(&r, T0 + 1000 * MS);
  ck_assert(chorus_speaker_detector_is_active(r.d, 1));
  /* A 700 ms breath, packets at the noise floor. */
  r.level[1] = 80;
  room_run(&r, T0 + 1700 * MS);
  r.level[1] = 30;
  room_run(&r, T0 + 2500 * MS);
  ck_assert_uint_eq(counters_of(&r).deactivations, 0);
  ck_assert_uint_eq(r.changes, 1);
  /* A real stop: dropped about stop_hold_us after the words end (the
   * average takes a few packets to fall). */
  r.level[1] = 80;
  room_run(&r, T0 + 5000 * MS);
  ck_assert_uint_eq(counters_of(&r).deactivations, 1);
  ck_assert_int_ge(r.inactive_from[1], T0 + 3500 * MS);
  ck_assert_int_le(r.inactive_from[1], T0 + 3700 * MS);
  ck_assert_uint_eq(r.changes, 2);
  ck_assert_uint_eq(r.n_reported, 0);
  room_clear(&r);
}
END_TEST

START_TEST(test_dtx_silence)
{
  Room r;
  room_init(&r, NULL, 1);
  r.level[1] = 30;
  room_run(&r, T0 + 1000 * MS);
  ck_assert(chorus_speaker_detector_is_active(r.d, 1));
  gint64 last_packet_us = T0 + 980 * MS;
  /* DTX: nothing at all. Silent from the last packet: stale after 300 ms,
   * dropped stop_hold_us after the last packet, to the tick. */
  r.level[1] = QUIET;
  ck_assert_int_eq(chorus_speaker_detector_next_deadline_us(r.d), last_packet_us + 300 * MS);
  room_run(&r, last_packet_us + 300 * MS);
  ck_assert(chorus_speaker_detector_is_active(r.d, 1));
  room_tick(&r); /* last_packet + 300 ms: stale */
  ck_assert(chorus_speaker_detector_is_active(r.d, 1));
  ck_assert_int_eq(chorus_speaker_detector_next_deadline_us(r.d), last_packet_us + 1000 * MS);
  room_run(&r, last_packet_us + 1000 * MS);
  ck_assert(chorus_speaker_detector_is_active(r.d, 1));
  room_tick(&r);
  ck_assert(!chorus_speaker_detector_is_active(r.d, 1));
  ck_assert_int_eq(r.inactive_from[1], last_packet_us + 1000 * MS);
  ck_assert_uint_eq(r.n_reported, 0);
  /* The level decays to far under the threshold. */
  ck_assert_uint_ge(chorus_speaker_detector_get_level(r.d, 1), 80);

  /* Opus DTX keep-alive frames (silent, every 400 ms) do not revive it and
   * are not speech. */
  for (gint64 t = r.now_us; t < r.now_us + 3000 * MS; t += 400 * MS)
    chorus_speaker_detector_handle_level(r.d, 1, 127, t);
  r.now_us += 3000 * MS;
  room_tick(&r);
  ck_assert(!chorus_speaker_detector_is_active(r.d, 1));
  ck_assert_uint_eq(counters_of(&r).activations, 1);

  /* Talking again after DTX: the first packet stands for one frame, not
   * for the silence before it, so it takes the usual hold again. */
  r.level[1] = 30;
  gint64 again_us = r.now_us + (r.now_us % (20 * MS) ? 10 * MS : 0);
  room_run(&r, again_us + 1000 * MS);
  ck_assert_int_ge(r.active_from[1], again_us + 200 * MS);
  ck_assert_int_le(r.active_from[1], again_us + 400 * MS);
  room_clear(&r);
}
END_TEST

START_TEST(test_pause_with_dtx_keeps_speaker)
{
  Room r;
  room_init(&r, NULL, 1);
  r.level[1] = 30;
  room_run(&r, T0 + 1000 * MS);
  r.level[1] = QUIET; /* 600 ms without packets */
  room_run(&r, T0 + 1600 * MS);
  r.level[1] = 30;
  room_run(&r, T0 + 3000 * MS);
  ck_assert_uint_eq(counters_of(&r).deactivations, 0);
  ck_assert_uint_eq(r.changes, 1);
  room_clear(&r);
}
END_TEST

START_TEST(test_muted)
{
  Room r;
  room_init(&r, NULL, 2);
  chorus_speaker_detector_set_muted(r.d, 2, TRUE);
  r.level[1] = 30;
  r.level[2] = 20; /* louder, but muted */
  room_run(&r, T0 + 2000 * MS);
  ck_assert(chorus_speaker_detector_is_active(r.d, 1));
  ck_assert(!chorus_speaker_detector_is_active(r.d, 2));
  ck_assert_uint_eq(chorus_speaker_detector_get_level(r.d, 2), 127);
  ck_assert_uint_eq(counters_of(&r).muted, 100);
  ck_assert_uint_eq(counters_of(&r).packets, 100);
  guint32 ids[8];
  ck_assert_uint_eq(chorus_speaker_detector_get_audible(r.d, ids, 8), 1);
  ck_assert_uint_eq(ids[0], 1);

  /* Unmuted: starts from silence, earns its place like anyone. */
  chorus_speaker_detector_set_muted(r.d, 2, FALSE);
  room_run(&r, T0 + 4000 * MS);
  ck_assert(chorus_speaker_detector_is_active(r.d, 2));
  ck_assert_int_ge(r.active_from[2], T0 + 2200 * MS);
  ck_assert_uint_eq(active_of(&r, ids), 2);

  /* Muting an active speaker drops it at once; the next poll reports it. */
  guint changes = r.changes;
  chorus_speaker_detector_set_muted(r.d, 1, TRUE);
  ck_assert(!chorus_speaker_detector_is_active(r.d, 1));
  ck_assert_int_le(chorus_speaker_detector_next_deadline_us(r.d), r.now_us);
  room_tick(&r);
  ck_assert_uint_eq(r.changes, changes + 1);
  ck_assert_uint_eq(r.n_reported, 1);
  ck_assert_uint_eq(r.reported[0], 2);
  /* Muting twice changes nothing. */
  chorus_speaker_detector_set_muted(r.d, 1, TRUE);
  ck_assert_uint_eq(counters_of(&r).deactivations, 1);
  room_clear(&r);
}
END_TEST

START_TEST(test_ties_earlier_start_first)
{
  /* Equal levels: 2 started 40 ms before 1 and ranks first, although its
   * id is larger and 1's packets are handled first each round. */
  Room r;
  room_init(&r, NULL, 2);
  r.level[2] = 30;
  room_run(&r, T0 + 40 * MS);
  r.level[1] = 30;
  room_run(&r, T0 + 2000 * MS);
  guint32 ids[8];
  ck_assert_uint_eq(active_of(&r, ids), 2);
  ck_assert_uint_eq(ids[0], 2);
  ck_assert_uint_eq(ids[1], 1);
  ck_assert_uint_eq(r.n_reported, 2);
  ck_assert_uint_eq(r.reported[0], 2);
  ck_assert_uint_eq(r.reported[1], 1);
  room_clear(&r);

  /* Same start, same level: the id decides, and keeps deciding. */
  room_init(&r, NULL, 2);
  r.level[1] = 30;
  r.level[2] = 30;
  room_run(&r, T0 + 2000 * MS);
  ck_assert_uint_eq(active_of(&r, ids), 2);
  ck_assert_uint_eq(ids[0], 1);
  ck_assert_uint_eq(ids[1], 2);
  ck_assert_uint_eq(r.changes, 1);
  room_clear(&r);
}
END_TEST

START_TEST(test_ties_between_polls)
{
  /* Both become active between two polls: 2, whose packets come 5 ms
   * ahead of 1's, was active first and ranks first. */
  g_autoptr(ChorusSpeakerDetector) d = chorus_speaker_detector_new(NULL);
  chorus_speaker_detector_add_source(d, 1);
  chorus_speaker_detector_add_source(d, 2);
  for (gint64 t = 0; t < 1000 * MS; t += 20 * MS) {
    chorus_speaker_detector_handle_level(d, 2, 30, t);
    chorus_speaker_detector_handle_level(d, 1, 30, t + 5 * MS);
  }
  guint32 ids[4];
  gsize n;
  ck_assert(chorus_speaker_detector_poll(d, 1000 * MS, ids, 4, &n));
  ck_assert_uint_eq(n, 2);
  ck_assert_uint_eq(ids[0], 2);
  ck_assert_uint_eq(ids[1], 1);
}
END_TEST

START_TEST(test_one_packet_after_silence_is_one_frame)
{
  /* Without polls in between (the packet path alone), a loud packet after
   * a long silence stands for 20 ms, not for the gap before it: it does
   * not make a speaker, nor does it lift the level to its own. */
  g_autoptr(ChorusSpeakerDetector) d = chorus_speaker_detector_new(NULL);
  chorus_speaker_detector_add_source(d, 1);
  for (gint64 t = 0; t < 1000 * MS; t += 20 * MS)
    chorus_speaker_detector_handle_level(d, 1, 90, t);
  chorus_speaker_detector_handle_level(d, 1, 10, 3000 * MS);
  ck_assert(!chorus_speaker_detector_is_active(d, 1));
  ck_assert_uint_ge(chorus_speaker_detector_get_level(d, 1), 20);
  /* Steady speech from there does make one, in the usual time. */
  for (gint64 t = 3020 * MS; t < 3200 * MS; t += 20 * MS)
    chorus_speaker_detector_handle_level(d, 1, 10, t);
  ck_assert(!chorus_speaker_detector_is_active(d, 1));
  for (gint64 t = 3200 * MS; t < 3500 * MS; t += 20 * MS)
    chorus_speaker_detector_handle_level(d, 1, 10, t);
  ck_assert(chorus_speaker_detector_is_active(d, 1));

  /* The same after a speaker went quiet without polls: it is dropped by
   * the next packet's time, silent from its last packet. */
  chorus_speaker_detector_handle_level(d, 1, 90, 6000 * MS);
  ck_assert(!chorus_speaker_detector_is_active(d, 1));
  ChorusSpeakerDetectorCounters c;
  chorus_speaker_detector_get_counters(d, &c);
  ck_assert_uint_eq(c.activations, 1);
  ck_assert_uint_eq(c.deactivations, 1);
}
END_TEST

START_TEST(test_ranking_margin)
{
  Room r;
  room_init(&r, NULL, 2);
  r.level[2] = 30;
  room_run(&r, T0 + 40 * MS);
  r.level[1] = 30;
  room_run(&r, T0 + 1000 * MS);
  guint32 ids[8];
  active_of(&r, ids);
  ck_assert_uint_eq(ids[0], 2);
  guint changes = r.changes;

  /* 1 gets 3 dB louder, and the two wander by +-1 dB: within the 6 dB
   * margin, the order holds. */
  for (guint k = 0; k < 20; k++) {
    r.level[1] = 27 + (k % 2 ? 1 : -1);
    r.level[2] = 30 + (k % 3 ? -1 : 1);
    room_run(&r, r.now_us + 200 * MS);
    active_of(&r, ids);
    ck_assert_uint_eq(ids[0], 2);
  }
  ck_assert_uint_eq(r.changes, changes);

  /* 10 dB louder: 1 passes. */
  r.level[1] = 20;
  r.level[2] = 30;
  room_run(&r, r.now_us + 1000 * MS);
  active_of(&r, ids);
  ck_assert_uint_eq(ids[0], 1);
  ck_assert_uint_eq(ids[1], 2);
  ck_assert_uint_eq(r.changes, changes + 1);
  ck_assert_uint_eq(r.reported[0], 1);

  /* Equal again: the new incumbent order holds. */
  r.level[1] = 30;
  room_run(&r, r.now_us + 2000 * MS);
  active_of(&r, ids);
  ck_assert_uint_eq(ids[0], 1);
  ck_assert_uint_eq(r.changes, changes + 1);

  /* The quieter one still passes the louder only by more than the
   * margin: 7 dB louder does. */
  r.level[2] = 23;
  room_run(&r, r.now_us + 2000 * MS);
  active_of(&r, ids);
  ck_assert_uint_eq(ids[0], 2);
  room_clear(&r);
}
END_TEST

START_TEST(test_newcomer_louder_goes_first)
{
  Room r;
  room_init(&r, NULL, 3);
  r.level[1] = 40;
  room_run(&r, T0 + 1000 * MS);
  r.level[3] = 15; /* much louder newcomer */
  r.level[2] = 40; /* equal newcomer, same time */
  room_run(&r, T0 + 2000 * MS);
  guint32 ids[8];
  ck_assert_uint_eq(active_of(&r, ids), 3);
  ck_assert_uint_eq(ids[0], 3);
  ck_assert_uint_eq(ids[1], 1);
  ck_assert_uint_eq(ids[2], 2);
  room_clear(&r);
}
END_TEST

START_TEST(test_min_interval)
{
  Room r;
  room_init(&r, NULL, 3);
  r.level[1] = 30;
  room_run(&r, T0 + 1000 * MS);
  ck_assert_uint_eq(r.changes, 1);
  ck_assert_int_eq(r.last_change_us, r.active_from[1]);
  room_clear(&r);

  /* 2 starts 100 ms after 1, so becomes active 100 ms after 1's report:
   * its report waits until 200 ms after the first. */
  room_init(&r, NULL, 3);
  r.level[1] = 30;
  room_run(&r, T0 + 100 * MS);
  r.level[2] = 30; /* 100 ms behind 1 */
  room_run(&r, T0 + 1000 * MS);
  ck_assert_uint_eq(r.changes, 2);
  gint64 first_us = r.active_from[1];
  gint64 second_active_us = r.active_from[2];
  ck_assert_int_eq(second_active_us, first_us + 100 * MS);
  /* Reported 200 ms after the first report, not at activation. */
  ck_assert_int_eq(r.last_change_us, first_us + 200 * MS);
  ck_assert_uint_eq(r.n_reported, 2);
  room_clear(&r);

  /* Held back: poll says FALSE and hands out the old set, get_active
   * already has the new one, the deadline is the end of the interval. */
  room_init(&r, NULL, 3);
  r.level[1] = 30;
  room_run(&r, T0 + 100 * MS);
  r.level[2] = 30;
  room_run(&r, T0 + 100 * MS + 1);
  while (r.active_from[2] == 0)
    room_tick(&r);
  first_us = r.active_from[1];
  ck_assert_uint_eq(r.changes, 1);
  ck_assert_uint_eq(r.n_reported, 1);
  guint32 ids[8];
  ck_assert_uint_eq(active_of(&r, ids), 2);
  ck_assert_int_eq(chorus_speaker_detector_next_deadline_us(r.d), first_us + 200 * MS);
  room_run(&r, first_us + 200 * MS);
  ck_assert_uint_eq(r.changes, 1);
  room_tick(&r);
  ck_assert_uint_eq(r.changes, 2);
  ck_assert_uint_eq(r.n_reported, 2);

  /* Flapping faster than the interval yields one report per 200 ms at
   * most: 3 goes in and out (mute/unmute) every 10 ms. */
  r.level[3] = 30;
  room_run(&r, r.now_us + 1000 * MS);
  guint changes = r.changes;
  gint64 last_us = r.last_change_us;
  for (guint k = 0; k < 100; k++) {
    chorus_speaker_detector_set_muted(r.d, 3, k % 2 == 0);
    room_tick(&r);
    if (r.changes != changes) {
      ck_assert_int_ge(r.last_change_us - last_us, 200 * MS);
      changes = r.changes;
      last_us = r.last_change_us;
    }
  }
  ck_assert_uint_le(r.changes, 2 + 1 + 1000 / 200);
  room_clear(&r);
}
END_TEST

START_TEST(test_remove_active_source)
{
  Room r;
  room_init(&r, NULL, 2);
  r.level[1] = 30;
  r.level[2] = 20;
  room_run(&r, T0 + 2000 * MS);
  ck_assert_uint_eq(r.n_reported, 2);
  ck_assert_uint_eq(r.reported[0], 2);
  chorus_speaker_detector_remove_source(r.d, 2);
  ck_assert_uint_eq(chorus_speaker_detector_source_count(r.d), 1);
  ck_assert(!chorus_speaker_detector_is_active(r.d, 2));
  ck_assert_uint_eq(counters_of(&r).deactivations, 1);
  guint changes = r.changes;
  room_tick(&r); /* 2's packets now count as unknown */
  ck_assert_uint_eq(r.changes, changes + 1);
  ck_assert_uint_eq(r.n_reported, 1);
  ck_assert_uint_eq(r.reported[0], 1);
  ck_assert_uint_eq(counters_of(&r).unknown_source, 1);
  ck_assert_uint_eq(chorus_speaker_detector_get_level(r.d, 2), 127);
  /* Removing an unknown id is harmless; re-adding starts from silence. */
  chorus_speaker_detector_remove_source(r.d, 2);
  chorus_speaker_detector_remove_source(r.d, 77);
  ck_assert(chorus_speaker_detector_add_source(r.d, 2));
  room_tick(&r);
  room_tick(&r);
  ck_assert(!chorus_speaker_detector_is_active(r.d, 2));
  room_run(&r, r.now_us + 1000 * MS);
  ck_assert(chorus_speaker_detector_is_active(r.d, 2));
  room_clear(&r);
}
END_TEST

START_TEST(test_capacity_and_max_active)
{
  g_autoptr(ChorusSpeakerDetector) d = chorus_speaker_detector_new(NULL);
  for (guint32 id = 1; id <= CHORUS_SPEAKER_MAX_SOURCES; id++)
    ck_assert(chorus_speaker_detector_add_source(d, id * 100));
  ck_assert(!chorus_speaker_detector_add_source(d, 1));
  ck_assert(chorus_speaker_detector_add_source(d, 500)); /* already there */
  ck_assert_uint_eq(chorus_speaker_detector_source_count(d), CHORUS_SPEAKER_MAX_SOURCES);

  /* Everyone speaks, 100 the loudest and 6400 the quietest, 1 dB apart. */
  guint32 ids[CHORUS_SPEAKER_MAX_SOURCES];
  gsize n = 0;
  for (gint64 t = 0; t < 2000 * MS; t += 20 * MS) {
    for (guint32 id = 1; id <= CHORUS_SPEAKER_MAX_SOURCES; id++)
      chorus_speaker_detector_handle_level(d, id * 100, (guint8)(id - 1 + 11 * (id > 40)), t);
    chorus_speaker_detector_poll(d, t, ids, G_N_ELEMENTS(ids), &n);
  }
  /* Sources quieter than -50 dBov (41..64 send -51 and under) never
   * speak; the 40 others all do, 4 of them reported. */
  ck_assert_uint_eq(n, 4);
  ck_assert_uint_eq(chorus_speaker_detector_get_active(d, ids, G_N_ELEMENTS(ids)), 4);
  gsize audible = chorus_speaker_detector_get_audible(d, ids, G_N_ELEMENTS(ids));
  ck_assert_uint_eq(audible, 40);
  /* A full list in caller storage: truncated, never overrun. */
  guint32 small[3] = {0, 0, 0xdead};
  ck_assert_uint_eq(chorus_speaker_detector_get_audible(d, small, 2), 2);
  ck_assert_uint_eq(small[2], 0xdead);
  ck_assert(!chorus_speaker_detector_poll(d, 2000 * MS, small, 2, &n));
  ck_assert_uint_eq(n, 2);
  ck_assert_uint_eq(small[2], 0xdead);

  chorus_speaker_detector_remove_source(d, 3300);
  ck_assert(chorus_speaker_detector_add_source(d, 1));
  ck_assert(!chorus_speaker_detector_add_source(d, 2));

  /* max_active from the config, clamped. */
  ChorusSpeakerDetectorConfig c;
  chorus_speaker_detector_config_init(&c);
  c.max_active = 0;
  g_autoptr(ChorusSpeakerDetector) one = chorus_speaker_detector_new(&c);
  chorus_speaker_detector_add_source(one, 1);
  chorus_speaker_detector_add_source(one, 2);
  for (gint64 t = 0; t < 2000 * MS; t += 20 * MS) {
    chorus_speaker_detector_handle_level(one, 1, 30, t);
    chorus_speaker_detector_handle_level(one, 2, 20, t);
    chorus_speaker_detector_poll(one, t, ids, G_N_ELEMENTS(ids), &n);
  }
  ck_assert_uint_eq(n, 1);
  ck_assert_uint_eq(ids[0], 2);
  ck_assert_uint_eq(chorus_speaker_detector_get_audible(one, ids, 8), 2);
}
END_TEST

START_TEST(test_audible_before_active)
{
  Room r;
  room_init(&r, NULL, 3);
  r.level[1] = 30;
  room_run(&r, T0 + 1000 * MS);
  /* 2 starts: in get_audible from its first voiced packet, after the
   * active ones, long before it is active itself. */
  r.level[2] = 35;
  room_tick(&r);
  guint32 ids[8];
  ck_assert_uint_eq(chorus_speaker_detector_get_audible(r.d, ids, 8), 2);
  ck_assert_uint_eq(ids[0], 1);
  ck_assert_uint_eq(ids[1], 2);
  ck_assert(!chorus_speaker_detector_is_active(r.d, 2));

  /* A cough from 3: audible (after 2, who started earlier) for the stop
   * hold after its last loud packet, never active. */
  ck_assert_int_eq(r.now_us, T0 + 1010 * MS);
  r.level[3] = 10;
  room_run(&r, T0 + 1030 * MS); /* one loud packet, at 1020 ms */
  gint64 cough_end_us = T0 + 1020 * MS;
  r.level[3] = 90;
  room_tick(&r);
  ck_assert_uint_eq(chorus_speaker_detector_get_audible(r.d, ids, 8), 3);
  ck_assert_uint_eq(ids[2], 3);
  ck_assert_int_le(chorus_speaker_detector_next_deadline_us(r.d), cough_end_us + 1000 * MS);
  room_run(&r, cough_end_us + 1000 * MS);
  ck_assert_uint_eq(chorus_speaker_detector_get_audible(r.d, ids, 8), 3);
  room_tick(&r);
  ck_assert_uint_eq(chorus_speaker_detector_get_audible(r.d, ids, 8), 2);
  ck_assert(!chorus_speaker_detector_is_active(r.d, 3));
  /* 2 is active by now and ranked by level behind 1 (5 dB: no pass). */
  ck_assert(chorus_speaker_detector_is_active(r.d, 2));
  ck_assert_uint_eq(ids[0], 1);
  ck_assert_uint_eq(ids[1], 2);
  room_clear(&r);
}
END_TEST

START_TEST(test_unknown_and_bad_input)
{
  g_autoptr(ChorusSpeakerDetector) d = chorus_speaker_detector_new(NULL);
  chorus_speaker_detector_handle_level(d, 9, 30, 0);
  chorus_speaker_detector_set_muted(d, 9, TRUE);
  ChorusSpeakerDetectorCounters c;
  chorus_speaker_detector_get_counters(d, &c);
  ck_assert_uint_eq(c.unknown_source, 1);
  ck_assert_uint_eq(c.packets, 0);
  /* Levels over 127 are silence; time going backwards does not rewind. */
  ck_assert(chorus_speaker_detector_add_source(d, 9));
  chorus_speaker_detector_handle_level(d, 9, 200, 1000 * MS);
  chorus_speaker_detector_handle_level(d, 9, 10, 500 * MS);
  ck_assert_uint_eq(chorus_speaker_detector_get_level(d, 9), 127);
  ck_assert(!chorus_speaker_detector_is_active(d, 9));
}
END_TEST

/* Check's ck_assert records a mark point on success, and that allocates:
 * the measured loop checks with this instead. */
#define REQUIRE(failures, expr)                                                                    \
  do {                                                                                             \
    if (!(expr))                                                                                   \
      (failures)++;                                                                                \
  } while (0)

START_TEST(test_steady_state_does_not_allocate)
{
  install_counter();
  guint64 before = allocation_count();
  gpointer probe = g_malloc(64);
  ck_assert_uint_eq(allocation_count(), before + 1);
  g_free(probe);

  g_autoptr(ChorusSpeakerDetector) d = chorus_speaker_detector_new(NULL);
  ChorusAudioSlots slots[4];
  for (guint i = 0; i < G_N_ELEMENTS(slots); i++)
    chorus_audio_slots_init(&slots[i], 3);
  for (guint32 id = 1; id <= 8; id++)
    chorus_speaker_detector_add_source(d, id);

  guint64 failures = 0, reports = 0, slot_changes = 0;
  gint64 now_us = 0;
  for (guint round = 0; round < 2; round++) {
    if (round == 1)
      before = allocation_count();
    for (guint i = 0; i < 50000; i++) {
      /* Every 10 ms; 20 ms packets from 8 sources, speakers taking turns
       * in groups every 2 s, some with gaps, one in DTX. */
      if (i % 2 == 0) {
        guint turn = (i / 200) % 8;
        for (guint32 id = 1; id <= 8; id++) {
          if (id == 8 && (i / 100) % 2)
            continue;
          gboolean speaking = (id + turn) % 3 == 0 && (i % 30) < 22;
          chorus_speaker_detector_handle_level(d, id, speaking ? (guint8)(20 + id) : 90, now_us);
        }
      }
      guint32 ids[CHORUS_SPEAKER_MAX_SOURCES];
      gsize n;
      if (chorus_speaker_detector_poll(d, now_us, ids, G_N_ELEMENTS(ids), &n))
        reports++;
      REQUIRE(failures, n <= 4);
      n = chorus_speaker_detector_get_audible(d, ids, G_N_ELEMENTS(ids));
      for (guint l = 0; l < G_N_ELEMENTS(slots); l++)
        slot_changes += chorus_audio_slots_assign(&slots[l], ids, n, l + 1) != 0;
      REQUIRE(failures, chorus_speaker_detector_next_deadline_us(d) > now_us);
      now_us += 10 * MS;
    }
  }
  guint64 during = allocation_count() - before;
  ChorusSpeakerDetectorCounters c;
  chorus_speaker_detector_get_counters(d, &c);
  ck_assert_uint_eq(failures, 0);
  /* The rounds did real work: speakers came and went, slots moved. */
  ck_assert_uint_ge(c.activations, 100);
  ck_assert_uint_ge(reports, 100);
  ck_assert_uint_ge(slot_changes, 100);
  ck_assert_uint_eq(during, 0);
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("speaker-detector");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_defaults);
  tcase_add_test(tc, test_silence_and_noise_are_not_speech);
  tcase_add_test(tc, test_speech_starts_after_hold);
  tcase_add_test(tc, test_cough_is_not_a_speaker);
  tcase_add_test(tc, test_gaps_between_words_keep_speaker);
  tcase_add_test(tc, test_short_pause_keeps_long_pause_drops);
  tcase_add_test(tc, test_dtx_silence);
  tcase_add_test(tc, test_pause_with_dtx_keeps_speaker);
  tcase_add_test(tc, test_muted);
  tcase_add_test(tc, test_ties_earlier_start_first);
  tcase_add_test(tc, test_ties_between_polls);
  tcase_add_test(tc, test_one_packet_after_silence_is_one_frame);
  tcase_add_test(tc, test_ranking_margin);
  tcase_add_test(tc, test_newcomer_louder_goes_first);
  tcase_add_test(tc, test_min_interval);
  tcase_add_test(tc, test_remove_active_source);
  tcase_add_test(tc, test_capacity_and_max_active);
  tcase_add_test(tc, test_audible_before_active);
  tcase_add_test(tc, test_unknown_and_bad_input);
  tcase_add_test(tc, test_steady_state_does_not_allocate);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
