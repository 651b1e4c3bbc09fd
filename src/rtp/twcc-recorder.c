#include "rtp/twcc-recorder.h"

#include "rtp/rtp-packet.h"
#include "rtp/rtp-seq.h"

#define WINDOW_MASK ((guint64)CHORUS_TWCC_RECORDER_WINDOW - 1)
#define NO_EXT G_MININT64

G_STATIC_ASSERT((CHORUS_TWCC_RECORDER_WINDOW & (CHORUS_TWCC_RECORDER_WINDOW - 1)) == 0);

typedef struct {
  gint64 ext; /* NO_EXT or the extended seq that arrived */
  gint64 arrival_us;
} Slot;

struct _ChorusTwccRecorder {
  gint64 interval_us;
  gboolean started;
  gint64 highest_ext;
  gint64 next_ext; /* first seq not yet reported */
  gboolean reported_any;
  gint64 last_feedback_us;
  guint8 feedback_count;
  Slot *slots; /* CHORUS_TWCC_RECORDER_WINDOW, indexed by ext % window */
  ChorusTwccRecorderCounters counters;
};

ChorusTwccRecorder *
chorus_twcc_recorder_new(gint64 feedback_interval_us)
{
  ChorusTwccRecorder *self = g_new0(ChorusTwccRecorder, 1);
  chorus_twcc_recorder_set_interval_us(self, feedback_interval_us);
  self->slots = g_new(Slot, CHORUS_TWCC_RECORDER_WINDOW);
  for (guint i = 0; i < CHORUS_TWCC_RECORDER_WINDOW; i++)
    self->slots[i].ext = NO_EXT;
  return self;
}

void
chorus_twcc_recorder_free(ChorusTwccRecorder *self)
{
  if (self == NULL)
    return;
  g_free(self->slots);
  g_free(self);
}

void
chorus_twcc_recorder_set_interval_us(ChorusTwccRecorder *self, gint64 feedback_interval_us)
{
  g_return_if_fail(self != NULL);

  self->interval_us =
      feedback_interval_us > 0 ? feedback_interval_us : CHORUS_TWCC_RECORDER_DEFAULT_INTERVAL_US;
}

static gboolean
pending(const ChorusTwccRecorder *self)
{
  return self->started && self->next_ext <= self->highest_ext;
}

static void
record(ChorusTwccRecorder *self, gint64 ext, gint64 now_us)
{
  Slot *s = &self->slots[(guint64)ext & WINDOW_MASK];
  if (s->ext == ext) {
    self->counters.duplicates++; /* the first arrival is the one that counts */
    return;
  }
  s->ext = ext;
  s->arrival_us = now_us;
}

void
chorus_twcc_recorder_handle_packet(ChorusTwccRecorder *self, guint16 seq, gint64 now_us)
{
  g_return_if_fail(self != NULL);

  self->counters.packets++;
  if (!self->started) {
    self->started = TRUE;
    self->highest_ext = seq;
    self->next_ext = seq;
    self->last_feedback_us = now_us; /* the first feedback comes one interval later */
    record(self, seq, now_us);
    return;
  }

  gint64 ext = chorus_rtp_seq_unwrap_near(self->highest_ext, seq);
  if (ext < self->next_ext) {
    /* Reordered before the first feedback: the range simply starts earlier.
     * After it, the sender has been told this one was lost. */
    if (self->reported_any || self->highest_ext - ext >= CHORUS_TWCC_RECORDER_WINDOW) {
      self->counters.late++;
      return;
    }
    self->next_ext = ext;
  }
  if (ext > self->highest_ext) {
    /* A batch after a quiet spell waits a full interval, so that a lone
     * packet does not cost a feedback packet of its own. */
    if (!pending(self) && self->last_feedback_us + self->interval_us < now_us)
      self->last_feedback_us = now_us;
    self->highest_ext = ext;
    gint64 oldest_kept = ext - CHORUS_TWCC_RECORDER_WINDOW + 1;
    if (self->next_ext < oldest_kept) {
      self->counters.skipped += (guint64)(oldest_kept - self->next_ext);
      self->next_ext = oldest_kept;
    }
  }
  record(self, ext, now_us);
}

gsize
chorus_twcc_recorder_poll_feedback(ChorusTwccRecorder *self, gint64 now_us, ChorusTwccArrival *out,
                                   gsize cap, guint8 *feedback_count)
{
  g_return_val_if_fail(self != NULL, 0);
  g_return_val_if_fail(out != NULL || cap == 0, 0);

  if (cap == 0 || !pending(self) || now_us < chorus_twcc_recorder_next_deadline_us(self))
    return 0;

  gsize n = (gsize)MIN((guint64)(self->highest_ext - self->next_ext + 1), (guint64)cap);
  for (gsize i = 0; i < n; i++) {
    gint64 ext = self->next_ext + (gint64)i;
    const Slot *s = &self->slots[(guint64)ext & WINDOW_MASK];
    out[i].seq = (guint16)ext;
    out[i].arrival_us = s->ext == ext ? s->arrival_us : CHORUS_TWCC_NOT_RECEIVED;
  }
  self->next_ext += (gint64)n;
  self->reported_any = TRUE;
  if (!pending(self))
    self->last_feedback_us = now_us;
  if (feedback_count != NULL)
    *feedback_count = self->feedback_count;
  self->feedback_count++;
  self->counters.feedbacks++;
  return n;
}

gint64
chorus_twcc_recorder_next_deadline_us(const ChorusTwccRecorder *self)
{
  g_return_val_if_fail(self != NULL, G_MAXINT64);

  return pending(self) ? self->last_feedback_us + self->interval_us : G_MAXINT64;
}

void
chorus_twcc_recorder_get_counters(const ChorusTwccRecorder *self,
                                  ChorusTwccRecorderCounters *counters)
{
  g_return_if_fail(self != NULL && counters != NULL);

  *counters = self->counters;
}

gboolean
chorus_rtp_twcc_read_ext(const guint8 *value, gsize len, guint16 *seq)
{
  g_return_val_if_fail(seq != NULL, FALSE);

  if (value == NULL || (len != 2 && len != 4))
    return FALSE;
  *seq = chorus_rtp_read16(value);
  return TRUE;
}

gsize
chorus_rtp_twcc_write_ext(guint8 *out, gsize cap, guint16 seq)
{
  if (out == NULL || cap < 2)
    return 0;
  chorus_rtp_write16(out, seq);
  return 2;
}
