#include "rtp/rtp-munger.h"

/* The smallest wall time a new sequence's timestamp advances by, so that
 * it moves forward even when two sequences meet within a microsecond. */
#define MIN_ELAPSED_US 1000

void
chorus_rtp_munger_init(ChorusRtpMunger *self)
{
  g_return_if_fail(self != NULL);
  *self = (ChorusRtpMunger){ 0 };
  chorus_vp8_rewriter_init(&self->vp8);
}

void
chorus_rtp_munger_rebase(ChorusRtpMunger *self)
{
  g_return_if_fail(self != NULL);
  self->rebase = self->started;
}

void
chorus_rtp_munger_continue_from(ChorusRtpMunger *self, guint16 last_seq, guint32 last_ts,
                                gint64 last_us)
{
  g_return_if_fail(self != NULL);
  chorus_rtp_munger_init(self);
  self->started = TRUE;
  self->rebase = TRUE;
  self->last_seq = last_seq;
  self->last_ts = last_ts;
  self->last_us = last_us;
}

static ChorusRtpMungerSegment *
newest(ChorusRtpMunger *self)
{
  return &self->segments[(self->segment_next + CHORUS_RTP_MUNGER_SEGMENTS - 1) %
                         CHORUS_RTP_MUNGER_SEGMENTS];
}

static void
open_segment(ChorusRtpMunger *self, guint32 in_ssrc, guint16 in_seq, guint32 in_ts, guint layer,
             guint32 clock_rate, gint64 now_us)
{
  if (self->started) {
    /* Continue the sequence without a gap; advance the timestamp by the
     * time that passed, so playout timing stays right. */
    gint64 elapsed_us = MAX(now_us - self->last_us, MIN_ELAPSED_US);
    self->seq_offset = (guint16)(self->last_seq + 1 - in_seq);
    self->ts_offset =
      self->last_ts + (guint32)(elapsed_us * (gint64)clock_rate / G_USEC_PER_SEC) - in_ts;
    chorus_vp8_rewriter_rebase(&self->vp8);
  } else {
    self->seq_offset = 0;
    self->ts_offset = 0;
  }
  self->started = TRUE;
  self->rebase = FALSE;
  ChorusRtpMungerSegment *seg = &self->segments[self->segment_next];
  self->segment_next = (self->segment_next + 1) % CHORUS_RTP_MUNGER_SEGMENTS;
  /* The VP8 offsets are filled in by the segment's packets (the rewriter
   * rebases lazily, at the first packet that carries a picture ID). */
  *seg = (ChorusRtpMungerSegment){ .out_start = (guint16)(in_seq + self->seq_offset),
                                   .seq_offset = self->seq_offset,
                                   .ts_offset = self->ts_offset,
                                   .ssrc = in_ssrc,
                                   .layer = (guint8)layer,
                                   .used = TRUE };
}

ChorusRtpMungerResult
chorus_rtp_munger_map(ChorusRtpMunger *self, guint32 in_ssrc, guint16 in_seq, guint32 in_ts,
                      guint layer, guint32 clock_rate, gint64 now_us, guint16 *out_seq,
                      guint32 *out_ts)
{
  g_return_val_if_fail(self != NULL && out_seq != NULL && out_ts != NULL && clock_rate > 0,
                       CHORUS_RTP_MUNGER_DROP_LATE);
  const ChorusRtpMungerSegment *cur = newest(self);
  gboolean opened = FALSE;
  if (!self->started || self->rebase || cur->ssrc != in_ssrc || cur->layer != layer) {
    open_segment(self, in_ssrc, in_seq, in_ts, layer, clock_rate, now_us);
    cur = newest(self);
    opened = TRUE;
  }
  guint16 seq = (guint16)(in_seq + self->seq_offset);
  guint32 ts = in_ts + self->ts_offset;
  /* A late (reordered or recovered) packet must not move the continuity
   * point back: the next sequence continues after the newest seq sent. */
  self->late = !opened && (guint16)(seq - self->last_seq) >= 0x8000;
  if (self->late) {
    /* From before the segment's first packet: the previous sequence sent
     * that output seq already (a receiver would take one for the other).
     * In the first segment nothing was sent before: let it through. */
    const ChorusRtpMungerSegment *prev =
      &self->segments[(self->segment_next + CHORUS_RTP_MUNGER_SEGMENTS - 2) %
                      CHORUS_RTP_MUNGER_SEGMENTS];
    if ((guint16)(seq - cur->out_start) >= 0x8000 && prev->used)
      return CHORUS_RTP_MUNGER_DROP_LATE;
  } else {
    self->last_seq = seq;
    self->last_ts = ts;
    self->last_us = now_us;
  }
  *out_seq = seq;
  *out_ts = ts;
  return CHORUS_RTP_MUNGER_FORWARD;
}

gboolean
chorus_rtp_munger_rewrite_vp8(ChorusRtpMunger *self, guint8 *payload, gsize len)
{
  g_return_val_if_fail(self != NULL && self->started, FALSE);
  ChorusRtpMungerSegment *seg = newest(self);
  if (self->late) {
    /* The rewriter continues pictures after the last one it wrote: a late
     * packet gets the offsets in force without becoming that point. */
    return chorus_vp8_apply_offsets(payload, len, seg->vp8_pid_offset, seg->vp8_tl0_offset);
  }
  gboolean ok = chorus_vp8_rewriter_rewrite(&self->vp8, payload, len);
  seg->vp8_pid_offset = self->vp8.pid_offset;
  seg->vp8_tl0_offset = self->vp8.tl0_offset;
  return ok;
}

gboolean
chorus_rtp_munger_lookup(const ChorusRtpMunger *self, guint16 out_seq,
                         ChorusRtpMungerOrigin *origin)
{
  g_return_val_if_fail(self != NULL && origin != NULL, FALSE);
  if (!self->started)
    return FALSE;
  /* Distances back from the newest seq sent, rather than comparisons
   * between seqs: a segment longer than half the seq space (a minute or
   * so of one layer at a high rate) still answers for its recent seqs. */
  guint16 back = (guint16)(self->last_seq - out_seq);
  if (back >= 0x8000)
    return FALSE; /* after the newest seq sent: never sent */
  guint prev_back = 0;
  for (guint k = 1; k <= CHORUS_RTP_MUNGER_SEGMENTS; k++) {
    const ChorusRtpMungerSegment *s =
      &self->segments[(self->segment_next + CHORUS_RTP_MUNGER_SEGMENTS - k) %
                      CHORUS_RTP_MUNGER_SEGMENTS];
    if (!s->used)
      return FALSE;
    guint16 seg_back = (guint16)(self->last_seq - s->out_start);
    /* Older segments start further back; one that does not started more
     * than the seq space ago (its distance wrapped). */
    if (k > 1 && seg_back <= prev_back)
      return FALSE;
    if (back <= seg_back) {
      *origin = (ChorusRtpMungerOrigin){ .layer = s->layer,
                                         .ssrc = s->ssrc,
                                         .in_seq = (guint16)(out_seq - s->seq_offset),
                                         .ts_offset = s->ts_offset,
                                         .vp8_pid_offset = s->vp8_pid_offset,
                                         .vp8_tl0_offset = s->vp8_tl0_offset };
      return TRUE;
    }
    prev_back = seg_back;
  }
  return FALSE; /* older than the oldest segment kept */
}

gboolean
chorus_rtp_munger_is_started(const ChorusRtpMunger *self)
{
  g_return_val_if_fail(self != NULL, FALSE);
  return self->started;
}

guint32
chorus_rtp_munger_get_ts_offset(const ChorusRtpMunger *self)
{
  g_return_val_if_fail(self != NULL, 0);
  return self->ts_offset;
}

guint16
chorus_rtp_munger_get_last_seq(const ChorusRtpMunger *self)
{
  g_return_val_if_fail(self != NULL, 0);
  return self->last_seq;
}

guint32
chorus_rtp_munger_get_last_ts(const ChorusRtpMunger *self)
{
  g_return_val_if_fail(self != NULL, 0);
  return self->last_ts;
}
