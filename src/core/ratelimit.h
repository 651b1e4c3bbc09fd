/* Token bucket: a pure function of its state and the time passed in, so the
 * same code limits per-connection requests (signaling) and per-participant
 * messages (rooms), and tests drive it with a fake clock. Not thread-safe:
 * each bucket belongs to one owner on one thread. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  double rate_per_s;   /* tokens added per second */
  double burst;        /* bucket depth (max tokens) */
  double tokens;       /* tokens available at last_us */
  gint64 last_us;      /* time of the last refill */
} ChorusTokenBucket;

/* Starts full (@burst tokens) at @now_us. @rate_per_s == 0 means nothing is
 * ever refilled; @burst == 0 refuses everything. */
void chorus_token_bucket_init(ChorusTokenBucket *bucket, guint rate_per_s, guint burst,
                              gint64 now_us);

/* Refills for the time since the last call, then takes one token if one is
 * available. TRUE when taken (the action is allowed). A clock going backwards
 * refills nothing. */
gboolean chorus_token_bucket_take(ChorusTokenBucket *bucket, gint64 now_us);

G_END_DECLS
