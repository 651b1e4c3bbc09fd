/* What a synthetic subscriber measures per received stream (one SSRC):
 * packets, loss from sequence gaps (RFC 3550 A.1 extended sequence
 * numbers), interarrival jitter (RFC 3550 A.8), and for video frames,
 * freezes and keyframes. Sans-IO: fed with header fields and now_us, so
 * the unit tests replay exact timings.
 *
 * Definitions (also in the report):
 * - expected = highest extended seq - first seq + 1; lost = expected -
 *   received (not below 0: duplicates do not make negative loss).
 * - a video frame arrives with the first packet of a new RTP timestamp
 *   (robust to a lost marker packet); a freeze is a gap of more than
 *   LOAD_FREEZE_GAP_US between two frame arrivals, or from the last frame
 *   to the end of the measurement; its duration is the whole gap. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LOAD_FREEZE_GAP_US (500 * 1000)

typedef struct {
  guint32 clock_rate;
  gboolean video;

  gboolean started;
  guint16 max_seq;
  guint32 cycles;   /* multiples of 65536 */
  guint32 base_ext; /* extended seq of the first packet */
  guint64 received;
  guint64 bytes;
  gint64 first_us;
  gint64 last_us;

  /* Jitter (RFC 3550 A.8) in timestamp units. */
  gboolean have_transit;
  gint64 last_transit;
  double jitter;
  double jitter_max;

  /* Video frames. */
  gboolean have_frame;
  guint32 last_frame_ts;
  gint64 last_frame_us;
  guint64 frames;
  guint64 keyframes;
  gint64 first_keyframe_us; /* 0: none yet */
  guint freezes;
  gint64 freeze_us;
  gint64 max_frame_gap_us;
  gboolean finished;
} LoadRxStream;

void load_rx_stream_init(LoadRxStream *s, guint32 clock_rate, gboolean video);

/* One authenticated RTP packet of the stream. @keyframe_start: the packet
 * starts a keyframe (chorus_rtp_is_keyframe_start). */
void load_rx_stream_handle(LoadRxStream *s, guint16 seq, guint32 timestamp, gboolean keyframe_start,
                           gsize len, gint64 now_us);

/* Ends the measurement at @now_us: a video stream silent for longer than
 * the freeze gap counts that last gap as a freeze. Idempotent. */
void load_rx_stream_finish(LoadRxStream *s, gint64 now_us);

guint64 load_rx_stream_expected(const LoadRxStream *s);
guint64 load_rx_stream_lost(const LoadRxStream *s);
/* Current jitter in milliseconds. */
double load_rx_stream_jitter_ms(const LoadRxStream *s);

/* The @p-th percentile (0..100, nearest rank) of @values; sorts @values in
 * place. 0 when @n is 0. */
double load_percentile(double *values, guint n, double p);

G_END_DECLS
