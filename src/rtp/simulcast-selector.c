#include "rtp/simulcast-selector.h"

void
chorus_simulcast_selector_init(ChorusSimulcastSelector *self, guint layer, gboolean video,
                               gboolean need_keyframe)
{
  g_return_if_fail(self != NULL);
  *self = (ChorusSimulcastSelector){
    .layer = layer,
    .target_layer = layer,
    .need_keyframe = need_keyframe,
    .video = video,
  };
}

ChorusSimulcastDecision
chorus_simulcast_selector_handle_packet(ChorusSimulcastSelector *self, guint layer,
                                        gboolean keyframe)
{
  g_return_val_if_fail(self != NULL, CHORUS_SIMULCAST_DROP);
  if (self->target_layer != self->layer && layer == self->target_layer &&
      (keyframe || !self->video)) {
    /* The target's keyframe: switch here. It is decodable on its own, so
     * a wait for a keyframe of the old layer ends too. */
    self->layer = self->target_layer;
    self->need_keyframe = FALSE;
    return CHORUS_SIMULCAST_SWITCH_AND_FORWARD;
  }
  if (layer != self->layer) {
    if (layer == self->target_layer && self->video)
      return CHORUS_SIMULCAST_DROP_REQUEST_KEYFRAME; /* throttled by the caller */
    return CHORUS_SIMULCAST_DROP;
  }
  if (self->need_keyframe) {
    if (!keyframe)
      return CHORUS_SIMULCAST_DROP_WAITING_KEYFRAME; /* a request may have been lost: ask again */
    self->need_keyframe = FALSE;
    return CHORUS_SIMULCAST_SWITCH_AND_FORWARD;
  }
  return CHORUS_SIMULCAST_FORWARD;
}

gboolean
chorus_simulcast_selector_set_target(ChorusSimulcastSelector *self, guint layer)
{
  g_return_val_if_fail(self != NULL, FALSE);
  self->target_layer = layer;
  return layer != self->layer;
}

void
chorus_simulcast_selector_wait_keyframe(ChorusSimulcastSelector *self)
{
  g_return_if_fail(self != NULL);
  self->need_keyframe = TRUE;
}

static gboolean
alive(const gint64 *last_packet_us, guint l, gint64 now_us)
{
  return last_packet_us[l] != 0 && now_us - last_packet_us[l] < CHORUS_SIMULCAST_LAYER_ALIVE_US;
}

int
chorus_simulcast_choose_layer(guint want, guint n_layers, const gint64 *last_packet_us,
                              gint64 now_us)
{
  g_return_val_if_fail(last_packet_us != NULL || n_layers == 0, -1);
  if (n_layers == 0)
    return -1;
  want = MIN(want, n_layers - 1);
  for (int l = (int)want; l >= 0; l--)
    if (alive(last_packet_us, (guint)l, now_us))
      return l;
  for (guint l = want + 1; l < n_layers; l++)
    if (alive(last_packet_us, l, now_us))
      return (int)l;
  return -1;
}

gboolean
chorus_simulcast_selector_check_layers(ChorusSimulcastSelector *self, guint want,
                                       guint n_layers, const gint64 *last_packet_us,
                                       gint64 now_us)
{
  g_return_val_if_fail(self != NULL, FALSE);
  int target = chorus_simulcast_choose_layer(want, n_layers, last_packet_us, now_us);
  if (target < 0 || (guint)target == self->target_layer)
    return FALSE;
  self->target_layer = (guint)target; /* switched on that layer's next keyframe */
  return TRUE;
}
