#include "rtp/receive-stats.h"

#include "rtp/rtp-seq.h"

#define CUMULATIVE_LOST_MAX 0x7fffff
#define CUMULATIVE_LOST_MIN (-0x800000)

struct _ChorusRtpReceiveStats {
  guint32 ssrc;
  guint32 clock_rate_hz;
  ChorusRtpSeqUnwrapper seq;

  /* RFC 3550 A.3, since the first packet or the last restart. */
  gint64 base_ext;
  guint64 received;
  gint64 expected_prior;
  guint64 received_prior;

  /* RFC 3550 A.8: jitter kept scaled by 16 so the integer update is exact. */
  gboolean have_transit;
  guint32 last_transit;
  gint64 jitter_q4;

  gboolean have_sr;
  guint32 last_sr_mid;
  gint64 last_sr_us;

  guint64 packets;
  guint64 bytes;
  guint64 older;
  guint64 jumps;
  guint64 restarts;
};

ChorusRtpReceiveStats *
chorus_rtp_receive_stats_new(guint32 ssrc, guint32 clock_rate_hz)
{
  g_return_val_if_fail(clock_rate_hz > 0, NULL);

  ChorusRtpReceiveStats *self = g_new0(ChorusRtpReceiveStats, 1);
  self->ssrc = ssrc;
  self->clock_rate_hz = clock_rate_hz;
  chorus_rtp_seq_unwrapper_init(&self->seq, 0, 0);
  return self;
}

void
chorus_rtp_receive_stats_free(ChorusRtpReceiveStats *self)
{
  g_free(self);
}

/* Arrival time in RTP clock units (mod 2^32, which is all A.8 needs);
 * split so that long uptimes at 90 kHz do not overflow 64 bits. */
static guint32
arrival_rtp_units(const ChorusRtpReceiveStats *self, gint64 now_us)
{
  guint64 t = (guint64)now_us;
  guint64 whole_s = t / G_USEC_PER_SEC, frac_us = t % G_USEC_PER_SEC;
  return (guint32)(whole_s * self->clock_rate_hz + frac_us * self->clock_rate_hz / G_USEC_PER_SEC);
}

static void
start_counting(ChorusRtpReceiveStats *self, gint64 ext)
{
  self->base_ext = ext;
  self->received = 0;
  self->expected_prior = 0;
  self->received_prior = 0;
  self->have_transit = FALSE;
  self->jitter_q4 = 0;
}

static void
update_jitter(ChorusRtpReceiveStats *self, guint32 rtp_timestamp, gint64 now_us)
{
  guint32 transit = arrival_rtp_units(self, now_us) - rtp_timestamp;
  if (self->have_transit) {
    gint64 d = (gint32)(transit - self->last_transit);
    if (d < 0)
      d = -d;
    self->jitter_q4 += d - ((self->jitter_q4 + 8) >> 4);
  }
  self->last_transit = transit;
  self->have_transit = TRUE;
}

void
chorus_rtp_receive_stats_handle_packet(ChorusRtpReceiveStats *self, guint16 seq,
                                       guint32 rtp_timestamp, gsize size_bytes, gint64 now_us)
{
  g_return_if_fail(self != NULL);

  gint64 ext = 0;
  switch (chorus_rtp_seq_unwrapper_update(&self->seq, seq, &ext)) {
  case CHORUS_RTP_SEQ_JUMP:
    self->jumps++;
    return;
  case CHORUS_RTP_SEQ_RESTART:
    self->restarts++;
    start_counting(self, ext);
    update_jitter(self, rtp_timestamp, now_us);
    break;
  case CHORUS_RTP_SEQ_FIRST:
    start_counting(self, ext);
    update_jitter(self, rtp_timestamp, now_us);
    break;
  case CHORUS_RTP_SEQ_NEWER:
    update_jitter(self, rtp_timestamp, now_us);
    break;
  case CHORUS_RTP_SEQ_OLDER:
    self->older++;
    /* Reordered before the first packet: the stream began earlier than we
     * thought, and counting it as received beyond "expected" would report
     * negative loss. */
    if (ext < self->base_ext)
      self->base_ext = ext;
    break;
  }
  self->received++;
  self->packets++;
  self->bytes += size_bytes;
}

void
chorus_rtp_receive_stats_handle_sr(ChorusRtpReceiveStats *self, guint64 ntp_time, gint64 now_us)
{
  g_return_if_fail(self != NULL);

  self->have_sr = TRUE;
  self->last_sr_mid = (guint32)(ntp_time >> 16);
  self->last_sr_us = now_us;
}

static gint64
expected_packets(const ChorusRtpReceiveStats *self)
{
  return chorus_rtp_seq_unwrapper_highest(&self->seq) - self->base_ext + 1;
}

static gint64
cumulative_lost(const ChorusRtpReceiveStats *self)
{
  return expected_packets(self) - (gint64)self->received;
}

gboolean
chorus_rtp_receive_stats_poll_report(ChorusRtpReceiveStats *self, gint64 now_us,
                                     ChorusRtpReportBlock *block)
{
  g_return_val_if_fail(self != NULL && block != NULL, FALSE);

  if (!self->seq.started)
    return FALSE;

  gint64 expected = expected_packets(self);
  gint64 expected_interval = expected - self->expected_prior;
  gint64 received_interval = (gint64)(self->received - self->received_prior);
  gint64 lost_interval = expected_interval - received_interval;
  self->expected_prior = expected;
  self->received_prior = self->received;

  block->ssrc = self->ssrc;
  block->fraction_lost = 0;
  if (expected_interval > 0 && lost_interval > 0)
    block->fraction_lost = (guint8)MIN(255, (lost_interval << 8) / expected_interval);
  block->cumulative_lost =
      (gint32)CLAMP(cumulative_lost(self), CUMULATIVE_LOST_MIN, CUMULATIVE_LOST_MAX);
  block->ext_highest_seq = (guint32)chorus_rtp_seq_unwrapper_highest(&self->seq);
  block->jitter = (guint32)(self->jitter_q4 >> 4);
  block->lsr = 0;
  block->dlsr = 0;
  if (self->have_sr) {
    block->lsr = self->last_sr_mid;
    gint64 delay_us = MAX(0, now_us - self->last_sr_us);
    /* 1/65536 s units; saturate rather than wrap after ~18 hours. */
    block->dlsr = (guint32)MIN((guint64)G_MAXUINT32, ((guint64)delay_us << 16) / G_USEC_PER_SEC);
  }
  return TRUE;
}

void
chorus_rtp_receive_stats_get_counters(const ChorusRtpReceiveStats *self,
                                      ChorusRtpReceiveCounters *counters)
{
  g_return_if_fail(self != NULL && counters != NULL);

  counters->packets = self->packets;
  counters->bytes = self->bytes;
  counters->older = self->older;
  counters->jumps = self->jumps;
  counters->restarts = self->restarts;
  counters->cumulative_lost = self->seq.started ? cumulative_lost(self) : 0;
  counters->ext_highest_seq = self->seq.started ? chorus_rtp_seq_unwrapper_highest(&self->seq) : -1;
  counters->jitter = (guint32)(self->jitter_q4 >> 4);
  counters->jitter_us = (guint64)(self->jitter_q4 >> 4) * G_USEC_PER_SEC / self->clock_rate_hz;
}
