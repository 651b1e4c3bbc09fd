#include "rtp/keyframe-throttle.h"

void
chorus_keyframe_throttle_init(ChorusKeyframeThrottle *self, gint64 interval_us)
{
  g_return_if_fail(self != NULL && interval_us >= 0);
  *self = (ChorusKeyframeThrottle){ .interval_us = interval_us };
}

static gboolean
due(const ChorusKeyframeThrottle *self, gint64 now_us)
{
  return !self->sent_any || now_us - self->last_sent_us >= self->interval_us;
}

static void
mark_sent(ChorusKeyframeThrottle *self, gint64 now_us)
{
  self->last_sent_us = now_us;
  self->sent_any = TRUE;
  self->pending = FALSE;
}

ChorusKeyframeRequestVerdict
chorus_keyframe_throttle_request(ChorusKeyframeThrottle *self, gint64 now_us)
{
  g_return_val_if_fail(self != NULL, CHORUS_KEYFRAME_REQUEST_DEFERRED);
  if (!due(self, now_us)) {
    self->pending = TRUE;
    return CHORUS_KEYFRAME_REQUEST_DEFERRED;
  }
  mark_sent(self, now_us);
  return CHORUS_KEYFRAME_REQUEST_SEND;
}

gboolean
chorus_keyframe_throttle_poll(ChorusKeyframeThrottle *self, gint64 now_us)
{
  g_return_val_if_fail(self != NULL, FALSE);
  if (!self->pending || !due(self, now_us))
    return FALSE;
  mark_sent(self, now_us);
  return TRUE;
}

gint64
chorus_keyframe_throttle_next_deadline_us(const ChorusKeyframeThrottle *self)
{
  g_return_val_if_fail(self != NULL, G_MAXINT64);
  if (!self->pending)
    return G_MAXINT64;
  /* pending implies sent_any: a first request is never deferred. */
  return self->last_sent_us + self->interval_us;
}

gboolean
chorus_keyframe_throttle_is_pending(const ChorusKeyframeThrottle *self)
{
  g_return_val_if_fail(self != NULL, FALSE);
  return self->pending;
}
