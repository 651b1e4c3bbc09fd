#include "core/ratelimit.h"

void
chorus_token_bucket_init(ChorusTokenBucket *bucket, guint rate_per_s, guint burst, gint64 now_us)
{
  g_return_if_fail(bucket != NULL);

  bucket->rate_per_s = rate_per_s;
  bucket->burst = burst;
  bucket->tokens = burst;
  bucket->last_us = now_us;
}

gboolean
chorus_token_bucket_take(ChorusTokenBucket *bucket, gint64 now_us)
{
  g_return_val_if_fail(bucket != NULL, FALSE);

  if (now_us > bucket->last_us) {
    double elapsed_s = (double) (now_us - bucket->last_us) / G_USEC_PER_SEC;
    bucket->tokens = MIN(bucket->burst, bucket->tokens + elapsed_s * bucket->rate_per_s);
    bucket->last_us = now_us;
  }
  /* Small epsilon so that e.g. 10 refills of 0.1 count as one full token
   * despite floating-point rounding. */
  if (bucket->tokens >= 1.0 - 1e-9) {
    bucket->tokens = MAX(0.0, bucket->tokens - 1.0);
    return TRUE;
  }
  return FALSE;
}
