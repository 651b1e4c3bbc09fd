#include "rtp/resend-limiter.h"

#include <string.h>

#define FULL (2 * CHORUS_RESEND_BURST)

void
chorus_resend_limiter_init(ChorusResendLimiter *self)
{
  memset(self, 0, sizeof(*self));
  self->half_tokens = FULL;
}

void
chorus_resend_limiter_forwarded(ChorusResendLimiter *self)
{
  if (self->half_tokens < FULL)
    self->half_tokens++;
}

ChorusResendVerdict
chorus_resend_limiter_check(ChorusResendLimiter *self, guint16 seq, gint64 now_us)
{
  /* Direct-mapped by sequence number: NACKs ask for recent, nearby
   * numbers, so a collision means the older entry is long done with. */
  guint i = seq & (CHORUS_RESEND_RECENT - 1);
  if (self->recent[i].used && self->recent[i].seq == seq &&
      now_us - self->recent[i].at_us < CHORUS_RESEND_REPEAT_US)
    return CHORUS_RESEND_REPEATED;
  if (self->half_tokens < 2)
    return CHORUS_RESEND_OVER_BUDGET;
  self->half_tokens -= 2;
  self->recent[i].seq = seq;
  self->recent[i].used = TRUE;
  self->recent[i].at_us = now_us;
  return CHORUS_RESEND_OK;
}
