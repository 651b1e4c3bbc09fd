#include "rtp/remb-controller.h"

void
chorus_remb_controller_init(ChorusRembController *self, const ChorusRembControllerConfig *config)
{
  g_return_if_fail(self != NULL);
  ChorusRembControllerConfig c = {
    .start_bps = CHORUS_REMB_DEFAULT_START_BPS,
    .min_bps = CHORUS_REMB_DEFAULT_MIN_BPS,
    .max_bps = CHORUS_REMB_DEFAULT_MAX_BPS,
  };
  if (config != NULL) {
    if (config->start_bps)
      c.start_bps = config->start_bps;
    if (config->min_bps)
      c.min_bps = config->min_bps;
    if (config->max_bps)
      c.max_bps = config->max_bps;
  }
  c.max_bps = MAX(c.max_bps, c.min_bps);
  c.start_bps = CLAMP(c.start_bps, c.min_bps, c.max_bps);
  *self = (ChorusRembController){ .config = c, .estimate_bps = c.start_bps };
}

guint64
chorus_remb_controller_update(ChorusRembController *self, guint8 fraction_lost, guint64 received_bps)
{
  g_return_val_if_fail(self != NULL, 0);
  double loss = fraction_lost / 256.0;
  /* The first estimate starts from what the sender already sends (its own
   * start rate), not below it. */
  double est = (double)(self->updates == 0 ? MAX(self->estimate_bps, received_bps) : self->estimate_bps);
  if (loss > 0.10)
    est *= 1.0 - 0.5 * loss;
  else if (loss < 0.02)
    est = est * 1.08 + 1000;
  /* Not far above what arrives: a sender held back by its encoder or its
   * uplink must not be promised what nobody has seen get through. */
  double cap = 1.5 * (double)received_bps + CHORUS_REMB_HEADROOM_BPS;
  if (est > cap)
    est = MAX(cap, (double)self->config.start_bps);
  self->estimate_bps = CLAMP((guint64)est, self->config.min_bps, self->config.max_bps);
  self->updates++;
  return self->estimate_bps;
}

guint64
chorus_remb_controller_get_estimate(const ChorusRembController *self)
{
  g_return_val_if_fail(self != NULL, 0);
  return self->estimate_bps;
}
