#include "load-stats.h"

#include <math.h>
#include <stdlib.h>

void
load_rx_stream_init(LoadRxStream *s, guint32 clock_rate, gboolean video)
{
  *s = (LoadRxStream){0};
  s->clock_rate = clock_rate ? clock_rate : 90000;
  s->video = video;
}

static void
update_jitter(LoadRxStream *s, guint32 timestamp, gint64 now_us)
{
  /* Transit in timestamp units; only differences matter, so the arrival
   * clock's origin does not. */
  gint64 arrival = (gint64)((double)now_us * s->clock_rate / G_USEC_PER_SEC);
  gint64 transit = arrival - (gint64)timestamp;
  if (s->have_transit) {
    /* The RTP timestamp wraps at 2^32: take the difference modulo it. */
    gint64 d = (gint64)(gint32)(guint32)(transit - s->last_transit);
    s->jitter += (fabs((double)d) - s->jitter) / 16.0;
    s->jitter_max = MAX(s->jitter_max, s->jitter);
  }
  s->last_transit = transit;
  s->have_transit = TRUE;
}

static void
update_frames(LoadRxStream *s, guint32 timestamp, gboolean keyframe_start, gint64 now_us)
{
  if (keyframe_start) {
    s->keyframes++;
    if (s->first_keyframe_us == 0)
      s->first_keyframe_us = now_us;
  }
  if (s->have_frame) {
    gint32 ahead = (gint32)(timestamp - s->last_frame_ts);
    if (ahead <= 0)
      return; /* same frame, or a late packet of an older one */
    gint64 gap = now_us - s->last_frame_us;
    s->max_frame_gap_us = MAX(s->max_frame_gap_us, gap);
    if (gap > LOAD_FREEZE_GAP_US) {
      s->freezes++;
      s->freeze_us += gap;
    }
  }
  s->have_frame = TRUE;
  s->last_frame_ts = timestamp;
  s->last_frame_us = now_us;
  s->frames++;
}

void
load_rx_stream_handle(LoadRxStream *s, guint16 seq, guint32 timestamp, gboolean keyframe_start,
                      gsize len, gint64 now_us)
{
  if (!s->started) {
    s->started = TRUE;
    s->max_seq = seq;
    s->cycles = 0;
    s->base_ext = seq;
    s->first_us = now_us;
  } else {
    guint16 delta = (guint16)(seq - s->max_seq);
    if (delta != 0 && delta < 0x8000) {
      if (seq < s->max_seq)
        s->cycles += 65536;
      s->max_seq = seq;
    }
    /* else: duplicate or reordered (older) packet: counted, no new max */
  }
  s->received++;
  s->bytes += len;
  s->last_us = now_us;
  update_jitter(s, timestamp, now_us);
  if (s->video)
    update_frames(s, timestamp, keyframe_start, now_us);
}

void
load_rx_stream_finish(LoadRxStream *s, gint64 now_us)
{
  if (s->finished)
    return;
  s->finished = TRUE;
  if (!s->video || !s->have_frame)
    return;
  gint64 gap = now_us - s->last_frame_us;
  if (gap > LOAD_FREEZE_GAP_US) {
    s->freezes++;
    s->freeze_us += gap;
    s->max_frame_gap_us = MAX(s->max_frame_gap_us, gap);
  }
}

guint64
load_rx_stream_expected(const LoadRxStream *s)
{
  if (!s->started)
    return 0;
  guint64 max_ext = (guint64)s->cycles + s->max_seq;
  return max_ext - s->base_ext + 1;
}

guint64
load_rx_stream_lost(const LoadRxStream *s)
{
  guint64 expected = load_rx_stream_expected(s);
  return expected > s->received ? expected - s->received : 0;
}

double
load_rx_stream_jitter_ms(const LoadRxStream *s)
{
  return s->jitter * 1000.0 / s->clock_rate;
}

static int
compare_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y ? 1 : 0;
}

double
load_percentile(double *values, guint n, double p)
{
  if (n == 0)
    return 0;
  qsort(values, n, sizeof(double), compare_double);
  /* Nearest rank: the smallest value with at least p % of values <= it. */
  double rank = ceil(p / 100.0 * n);
  guint index = rank < 1 ? 0 : (guint)rank - 1;
  return values[MIN(index, n - 1)];
}
