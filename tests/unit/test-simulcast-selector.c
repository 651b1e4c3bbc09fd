/* Simulcast selection: starts and switches on keyframes, keyframe requests
 * for the target layer, fallback when a layer stops and return when it
 * flows again. Virtual time only. */
#include <check.h>
#include <stdlib.h>

#include "rtp/keyframe-throttle.h"
#include "rtp/simulcast-selector.h"

#define MS 1000
#define T0 ((gint64)1000 * 1000 * 1000)

START_TEST(test_video_starts_on_keyframe)
{
  ChorusSimulcastSelector s;
  chorus_simulcast_selector_init(&s, 0, TRUE, TRUE);
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 0, FALSE),
                   CHORUS_SIMULCAST_DROP_WAITING_KEYFRAME);
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 1, TRUE), CHORUS_SIMULCAST_DROP);
  ck_assert(s.need_keyframe);
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 0, TRUE),
                   CHORUS_SIMULCAST_SWITCH_AND_FORWARD);
  ck_assert(!s.need_keyframe);
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 0, FALSE), CHORUS_SIMULCAST_FORWARD);
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 0, TRUE), CHORUS_SIMULCAST_FORWARD);
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 2, FALSE), CHORUS_SIMULCAST_DROP);
  ck_assert_uint_eq(s.layer, 0);
}
END_TEST

START_TEST(test_no_switch_before_target_keyframe)
{
  ChorusSimulcastSelector s;
  chorus_simulcast_selector_init(&s, 0, TRUE, TRUE);
  chorus_simulcast_selector_handle_packet(&s, 0, TRUE);
  ck_assert(chorus_simulcast_selector_set_target(&s, 2)); /* a switch: ask layer 2 for a keyframe */
  ck_assert_uint_eq(s.target_layer, 2);
  for (int i = 0; i < 50; i++) {
    /* Layer 0 keeps flowing (its keyframes change nothing), layer 1 is
     * ignored, layer 2's deltas ask for a keyframe. */
    ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 0, i % 10 == 0),
                     CHORUS_SIMULCAST_FORWARD);
    ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 1, i % 10 == 0),
                     CHORUS_SIMULCAST_DROP);
    ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 2, FALSE),
                     CHORUS_SIMULCAST_DROP_REQUEST_KEYFRAME);
  }
  ck_assert_uint_eq(s.layer, 0);
  /* Layer 2's keyframe: switch there. */
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 2, TRUE),
                   CHORUS_SIMULCAST_SWITCH_AND_FORWARD);
  ck_assert_uint_eq(s.layer, 2);
  ck_assert_uint_eq(s.target_layer, 2);
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 2, FALSE), CHORUS_SIMULCAST_FORWARD);
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 0, FALSE), CHORUS_SIMULCAST_DROP);
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 0, TRUE), CHORUS_SIMULCAST_DROP);
}
END_TEST

START_TEST(test_target_keyframe_ends_a_wait)
{
  /* Still waiting for the first keyframe of layer 0 when the subscriber
   * asks for layer 1: layer 1's keyframe starts it there. */
  ChorusSimulcastSelector s;
  chorus_simulcast_selector_init(&s, 0, TRUE, TRUE);
  ck_assert(chorus_simulcast_selector_set_target(&s, 1));
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 0, FALSE),
                   CHORUS_SIMULCAST_DROP_WAITING_KEYFRAME);
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 1, TRUE),
                   CHORUS_SIMULCAST_SWITCH_AND_FORWARD);
  ck_assert(!s.need_keyframe);
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 1, FALSE), CHORUS_SIMULCAST_FORWARD);
}
END_TEST

START_TEST(test_set_target_current_cancels)
{
  ChorusSimulcastSelector s;
  chorus_simulcast_selector_init(&s, 1, TRUE, FALSE);
  ck_assert(!chorus_simulcast_selector_set_target(&s, 1)); /* already there */
  ck_assert(chorus_simulcast_selector_set_target(&s, 2));
  ck_assert(!chorus_simulcast_selector_set_target(&s, 1)); /* changed its mind before the switch */
  ck_assert_uint_eq(s.target_layer, 1);
  /* A late keyframe of layer 2 no longer switches. */
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 2, TRUE), CHORUS_SIMULCAST_DROP);
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 1, FALSE), CHORUS_SIMULCAST_FORWARD);
}
END_TEST

START_TEST(test_audio_switches_at_once)
{
  ChorusSimulcastSelector s;
  chorus_simulcast_selector_init(&s, 0, FALSE, FALSE);
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 0, FALSE), CHORUS_SIMULCAST_FORWARD);
  ck_assert(chorus_simulcast_selector_set_target(&s, 1));
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 1, FALSE),
                   CHORUS_SIMULCAST_SWITCH_AND_FORWARD); /* no keyframes to wait for */
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 0, FALSE), CHORUS_SIMULCAST_DROP);
}
END_TEST

START_TEST(test_wait_keyframe_restarts)
{
  ChorusSimulcastSelector s;
  chorus_simulcast_selector_init(&s, 1, TRUE, TRUE);
  chorus_simulcast_selector_handle_packet(&s, 1, TRUE);
  chorus_simulcast_selector_wait_keyframe(&s); /* e.g. resumed after a pause */
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 1, FALSE),
                   CHORUS_SIMULCAST_DROP_WAITING_KEYFRAME);
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 1, TRUE),
                   CHORUS_SIMULCAST_SWITCH_AND_FORWARD);
  ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&s, 1, FALSE), CHORUS_SIMULCAST_FORWARD);
}
END_TEST

START_TEST(test_choose_layer)
{
  gint64 now = T0;
  gint64 all[3] = { now - 10 * MS, now - 10 * MS, now - 10 * MS };
  ck_assert_int_eq(chorus_simulcast_choose_layer(2, 3, all, now), 2);
  ck_assert_int_eq(chorus_simulcast_choose_layer(1, 3, all, now), 1);
  ck_assert_int_eq(chorus_simulcast_choose_layer(0, 3, all, now), 0);
  ck_assert_int_eq(chorus_simulcast_choose_layer(7, 3, all, now), 2); /* clamped */
  /* The top stopped: exactly 1.5 s ago is stopped, just under is alive. */
  gint64 top_stopped[3] = { now, now, now - CHORUS_SIMULCAST_LAYER_ALIVE_US };
  ck_assert_int_eq(chorus_simulcast_choose_layer(2, 3, top_stopped, now), 1);
  top_stopped[2] = now - CHORUS_SIMULCAST_LAYER_ALIVE_US + 1;
  ck_assert_int_eq(chorus_simulcast_choose_layer(2, 3, top_stopped, now), 2);
  /* Best at or below the wanted one. */
  gint64 only_low[3] = { now, 0, now - 5000 * MS };
  ck_assert_int_eq(chorus_simulcast_choose_layer(2, 3, only_low, now), 0);
  /* Nothing at or below: the lowest flowing above. */
  gint64 no_low[3] = { 0, now, now };
  ck_assert_int_eq(chorus_simulcast_choose_layer(0, 3, no_low, now), 1);
  gint64 none[3] = { 0, now - 2000 * MS, 0 };
  ck_assert_int_eq(chorus_simulcast_choose_layer(1, 3, none, now), -1);
  ck_assert_int_eq(chorus_simulcast_choose_layer(0, 0, NULL, now), -1);
}
END_TEST

/* A publisher with 3 layers (a frame of one packet every 33 ms each) that
 * answers a PLI with a keyframe on the layer's next frame; a subscriber
 * that wants the top layer; a keyframe-request throttle per layer. */
typedef struct {
  ChorusSimulcastSelector sel;
  ChorusKeyframeThrottle pli[3];
  gint64 last_packet_us[3];
  gboolean layer_on[3];
  gboolean keyframe_due[3]; /* the publisher answers a PLI with its next frame */
  guint plis[3];
  guint forwarded[3];
  guint switches;
  gint64 now;
} Sim;

static void
sim_request(Sim *sim, guint layer)
{
  if (chorus_keyframe_throttle_request(&sim->pli[layer], sim->now) == CHORUS_KEYFRAME_REQUEST_SEND) {
    sim->plis[layer]++;
    sim->keyframe_due[layer] = TRUE;
  }
}

/* Runs @ms of virtual time: a frame per layer every 33 ms, a layer check
 * every second (the room tick). */
static void
sim_run(Sim *sim, gint64 ms)
{
  gint64 end = sim->now + ms * MS;
  for (; sim->now < end; sim->now += MS) {
    if ((sim->now / MS) % 1000 == 0 &&
        chorus_simulcast_selector_check_layers(&sim->sel, 2, 3, sim->last_packet_us, sim->now))
      sim_request(sim, sim->sel.target_layer);
    if ((sim->now / MS) % 33 != 0)
      continue;
    for (guint l = 0; l < 3; l++) {
      if (!sim->layer_on[l])
        continue;
      sim->last_packet_us[l] = sim->now;
      if (chorus_keyframe_throttle_poll(&sim->pli[l], sim->now)) {
        sim->plis[l]++;
        sim->keyframe_due[l] = TRUE;
      }
      gboolean key = sim->keyframe_due[l];
      sim->keyframe_due[l] = FALSE;
      switch (chorus_simulcast_selector_handle_packet(&sim->sel, l, key)) {
      case CHORUS_SIMULCAST_SWITCH_AND_FORWARD:
        sim->switches++;
        sim->forwarded[l]++;
        break;
      case CHORUS_SIMULCAST_FORWARD:
        sim->forwarded[l]++;
        break;
      case CHORUS_SIMULCAST_DROP_REQUEST_KEYFRAME:
      case CHORUS_SIMULCAST_DROP_WAITING_KEYFRAME:
        sim_request(sim, l);
        break;
      case CHORUS_SIMULCAST_DROP:
        break;
      }
    }
  }
}

static void
sim_init(Sim *sim)
{
  *sim = (Sim){ .now = T0 };
  chorus_simulcast_selector_init(&sim->sel, 2, TRUE, TRUE);
  for (guint l = 0; l < 3; l++) {
    chorus_keyframe_throttle_init(&sim->pli[l], CHORUS_KEYFRAME_THROTTLE_INTERVAL_US);
    sim->layer_on[l] = TRUE;
  }
}

START_TEST(test_fallback_and_return)
{
  Sim sim;
  sim_init(&sim);
  sim_run(&sim, 3000);
  /* Started on the top layer after one keyframe request. */
  ck_assert_uint_eq(sim.sel.layer, 2);
  ck_assert_uint_eq(sim.switches, 1);
  ck_assert_uint_eq(sim.plis[2], 1);
  ck_assert_uint_eq(sim.plis[0] + sim.plis[1], 0);
  ck_assert_uint_eq(sim.forwarded[0] + sim.forwarded[1], 0);

  /* The top layer stops: within the alive window plus one tick the
   * subscriber targets the middle layer, asks it for a keyframe (one),
   * and switches on it. */
  sim.layer_on[2] = FALSE;
  guint fwd1 = sim.forwarded[1];
  sim_run(&sim, 1000);
  ck_assert_uint_eq(sim.sel.target_layer, 2); /* 1 s: not yet stopped */
  sim_run(&sim, 2000);
  ck_assert_uint_eq(sim.sel.layer, 1);
  ck_assert_uint_eq(sim.sel.target_layer, 1);
  ck_assert_uint_eq(sim.switches, 2);
  ck_assert_uint_eq(sim.plis[1], 1);
  ck_assert_uint_gt(sim.forwarded[1], fwd1);

  /* It flows again: back to the top on its keyframe. */
  sim.layer_on[2] = TRUE;
  guint fwd2 = sim.forwarded[2];
  sim_run(&sim, 2000);
  ck_assert_uint_eq(sim.sel.layer, 2);
  ck_assert_uint_eq(sim.switches, 3);
  ck_assert_uint_eq(sim.plis[2], 2);
  ck_assert_uint_gt(sim.forwarded[2], fwd2);
  ck_assert_uint_eq(sim.plis[0], 0);
  /* The middle layer is no longer forwarded. */
  guint fwd1_after = sim.forwarded[1];
  sim_run(&sim, 1000);
  ck_assert_uint_eq(sim.forwarded[1], fwd1_after);
}
END_TEST

START_TEST(test_keyframe_requests_for_target_throttled)
{
  /* A publisher that ignores PLIs on the top layer: the waiting target
   * asks on every packet, but at most one PLI per 500 ms goes out, for the
   * target layer only. */
  Sim sim;
  sim_init(&sim);
  sim_run(&sim, 100); /* starts on layer 2 */
  ck_assert_uint_eq(sim.sel.layer, 2);
  ck_assert(!chorus_simulcast_selector_set_target(&sim.sel, 2));
  ck_assert(chorus_simulcast_selector_set_target(&sim.sel, 0));
  sim_request(&sim, 0);
  sim.keyframe_due[0] = FALSE; /* ... that keyframe was lost */
  ChorusKeyframeThrottle *t = &sim.pli[0];
  /* Run with keyframes of layer 0 suppressed: 2 s of asking. */
  for (gint64 end = sim.now + 2000 * MS; sim.now < end; sim.now += 33 * MS) {
    sim.last_packet_us[0] = sim.last_packet_us[1] = sim.last_packet_us[2] = sim.now;
    if (chorus_keyframe_throttle_poll(t, sim.now))
      sim.plis[0]++;
    ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&sim.sel, 0, FALSE),
                     CHORUS_SIMULCAST_DROP_REQUEST_KEYFRAME);
    if (chorus_keyframe_throttle_request(t, sim.now) == CHORUS_KEYFRAME_REQUEST_SEND)
      sim.plis[0]++;
    ck_assert_int_eq(chorus_simulcast_selector_handle_packet(&sim.sel, 2, FALSE),
                     CHORUS_SIMULCAST_FORWARD);
  }
  /* 2 s of asking, at most one per 500 ms: at 0, 528, 1056 and 1584 ms
   * (the first deferred ones go with the first packet after 500 ms). */
  ck_assert_uint_eq(sim.plis[0], 4);
  ck_assert_uint_eq(sim.plis[1], 0);
  ck_assert_uint_eq(sim.sel.layer, 2);
}
END_TEST

START_TEST(test_check_layers_nothing_flowing)
{
  ChorusSimulcastSelector s;
  chorus_simulcast_selector_init(&s, 1, TRUE, FALSE);
  gint64 none[3] = { 0, 0, 0 };
  ck_assert(!chorus_simulcast_selector_check_layers(&s, 1, 3, none, T0));
  ck_assert_uint_eq(s.target_layer, 1);
  gint64 same[3] = { T0, T0, T0 };
  ck_assert(!chorus_simulcast_selector_check_layers(&s, 1, 3, same, T0)); /* already the target */
  ck_assert(chorus_simulcast_selector_check_layers(&s, 0, 3, same, T0));
  ck_assert_uint_eq(s.target_layer, 0);
  ck_assert_uint_eq(s.layer, 1); /* until layer 0's keyframe */
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("simulcast-selector");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_video_starts_on_keyframe);
  tcase_add_test(tc, test_no_switch_before_target_keyframe);
  tcase_add_test(tc, test_target_keyframe_ends_a_wait);
  tcase_add_test(tc, test_set_target_current_cancels);
  tcase_add_test(tc, test_audio_switches_at_once);
  tcase_add_test(tc, test_wait_keyframe_restarts);
  tcase_add_test(tc, test_choose_layer);
  tcase_add_test(tc, test_fallback_and_return);
  tcase_add_test(tc, test_keyframe_requests_for_target_throttled);
  tcase_add_test(tc, test_check_layers_nothing_flowing);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
