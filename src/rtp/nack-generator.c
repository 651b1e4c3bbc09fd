#include "rtp/nack-generator.h"

#include <string.h>

#include "rtp/rtp-seq.h"

#define WINDOW_MASK ((guint64)CHORUS_NACK_GENERATOR_WINDOW - 1)

G_STATIC_ASSERT((CHORUS_NACK_GENERATOR_WINDOW & (CHORUS_NACK_GENERATOR_WINDOW - 1)) == 0);

typedef enum {
  SLOT_EMPTY = 0,
  SLOT_RECEIVED,
  SLOT_MISSING,
  SLOT_GIVEN_UP,
} SlotState;

/* One extended seq of the window; valid only while ext matches. */
typedef struct {
  gint64 ext;
  gint64 detected_us;
  gint64 last_nack_us;
  guint nacks;
  SlotState state;
} Slot;

struct _ChorusNackGenerator {
  ChorusNackGeneratorConfig config;
  gint64 rtt_us;
  /* A jump of a window or more either way is loss we cannot repair, or a
   * restart: the unwrapper holds it until the next packet confirms it. */
  ChorusRtpSeqUnwrapper seq;
  Slot *slots; /* CHORUS_NACK_GENERATOR_WINDOW, indexed by ext % window */
  guint missing;
  gint64 scan_from_ext; /* no missing slot is older than this */
  gint64 deadline_us;   /* cached; recomputed when deadline_valid is FALSE */
  gboolean deadline_valid;
  gboolean keyframe_pending;
  ChorusNackCounters counters;
};

void
chorus_nack_generator_config_init(ChorusNackGeneratorConfig *config)
{
  g_return_if_fail(config != NULL);

  config->reorder_wait_us = CHORUS_NACK_GENERATOR_DEFAULT_REORDER_WAIT_US;
  config->min_retry_interval_us = CHORUS_NACK_GENERATOR_DEFAULT_MIN_RETRY_INTERVAL_US;
  config->initial_rtt_us = CHORUS_NACK_GENERATOR_DEFAULT_RTT_US;
  config->max_nacks = CHORUS_NACK_GENERATOR_DEFAULT_MAX_NACKS;
  config->rtt_from_retransmissions = FALSE;
}

ChorusNackGenerator *
chorus_nack_generator_new(const ChorusNackGeneratorConfig *config)
{
  ChorusNackGenerator *self = g_new0(ChorusNackGenerator, 1);
  if (config != NULL)
    self->config = *config;
  else
    chorus_nack_generator_config_init(&self->config);
  self->config.reorder_wait_us = MAX(0, self->config.reorder_wait_us);
  self->config.min_retry_interval_us = MAX(1, self->config.min_retry_interval_us);
  self->config.max_nacks = MAX(1, self->config.max_nacks);
  self->rtt_us = MAX(0, self->config.initial_rtt_us);
  chorus_rtp_seq_unwrapper_init(&self->seq, CHORUS_NACK_GENERATOR_WINDOW,
                                CHORUS_NACK_GENERATOR_WINDOW);
  self->slots = g_new0(Slot, CHORUS_NACK_GENERATOR_WINDOW);
  self->deadline_us = G_MAXINT64;
  self->deadline_valid = TRUE;
  return self;
}

void
chorus_nack_generator_free(ChorusNackGenerator *self)
{
  if (self == NULL)
    return;
  g_free(self->slots);
  g_free(self);
}

void
chorus_nack_generator_set_rtt_us(ChorusNackGenerator *self, gint64 rtt_us)
{
  g_return_if_fail(self != NULL);

  self->rtt_us = MAX(0, rtt_us);
  self->deadline_valid = FALSE;
}

static inline Slot *
slot_for(ChorusNackGenerator *self, gint64 ext)
{
  return &self->slots[(guint64)ext & WINDOW_MASK];
}

gint64
chorus_nack_generator_get_rtt_us(const ChorusNackGenerator *self)
{
  g_return_val_if_fail(self != NULL, 0);
  return self->rtt_us;
}

static gint64
retry_interval_us(const ChorusNackGenerator *self)
{
  return MAX(self->rtt_us * 3 / 2, self->config.min_retry_interval_us);
}

/* When @s next needs attention: its first NACK, its next retry, or (after
 * the last retry) the moment it is given up. */
static gint64
slot_due_us(const ChorusNackGenerator *self, const Slot *s)
{
  if (s->nacks == 0)
    return s->detected_us + self->config.reorder_wait_us;
  return s->last_nack_us + retry_interval_us(self);
}

static void
raise_keyframe_request(ChorusNackGenerator *self)
{
  if (!self->keyframe_pending)
    self->counters.keyframe_requests++;
  self->keyframe_pending = TRUE;
}

static void
give_up(ChorusNackGenerator *self, Slot *s, guint64 *counter)
{
  s->state = SLOT_GIVEN_UP;
  self->missing--;
  (*counter)++;
  self->deadline_valid = FALSE;
  raise_keyframe_request(self);
}

/* Forgets every slot: after a restart old extended seqs mean nothing. */
static void
start_over(ChorusNackGenerator *self, gint64 ext)
{
  memset(self->slots, 0, sizeof(Slot) * CHORUS_NACK_GENERATOR_WINDOW);
  self->missing = 0;
  self->scan_from_ext = ext + 1;
  self->deadline_us = G_MAXINT64;
  self->deadline_valid = TRUE;
  Slot *s = slot_for(self, ext);
  s->ext = ext;
  s->state = SLOT_RECEIVED;
}

static void
advance_to(ChorusNackGenerator *self, gint64 from_ext, gint64 to_ext, gint64 now_us)
{
  for (gint64 e = from_ext; e <= to_ext; e++) {
    Slot *s = slot_for(self, e);
    if (s->state == SLOT_MISSING) /* e - window: now out of reach */
      give_up(self, s, &self->counters.given_up_window);
    s->ext = e;
    s->nacks = 0;
    s->last_nack_us = 0;
    if (e < to_ext) {
      s->state = SLOT_MISSING;
      s->detected_us = now_us;
      self->missing++;
      self->counters.missing++;
      if (self->deadline_valid)
        self->deadline_us = MIN(self->deadline_us, slot_due_us(self, s));
    } else {
      s->state = SLOT_RECEIVED;
    }
  }
}

#define RTT_MIN_US 5000
#define RTT_MAX_US G_USEC_PER_SEC

static ChorusNackPacketVerdict
handle_older(ChorusNackGenerator *self, gint64 ext, gboolean retransmitted, gint64 now_us)
{
  Slot *s = slot_for(self, ext);
  if (s->ext != ext || s->state == SLOT_EMPTY) {
    self->counters.late++;
    return CHORUS_NACK_PACKET_LATE;
  }
  switch (s->state) {
  case SLOT_RECEIVED:
    self->counters.duplicates++;
    return CHORUS_NACK_PACKET_DUPLICATE;
  case SLOT_GIVEN_UP:
    self->counters.late++;
    return CHORUS_NACK_PACKET_LATE;
  case SLOT_MISSING:
    break;
  case SLOT_EMPTY:
    g_assert_not_reached();
  }
  if (s->nacks == 0) {
    self->counters.reordered++;
  } else {
    self->counters.recovered++;
    if (retransmitted)
      self->counters.recovered_rtx++;
    if (retransmitted && s->nacks == 1 && self->config.rtt_from_retransmissions &&
        now_us > s->last_nack_us) {
      gint64 sample = CLAMP(now_us - s->last_nack_us, RTT_MIN_US, RTT_MAX_US);
      self->rtt_us = self->counters.rtt_samples == 0 ? sample : (7 * self->rtt_us + sample) / 8;
      self->counters.rtt_samples++;
    }
  }
  s->state = SLOT_RECEIVED;
  self->missing--;
  self->deadline_valid = FALSE;
  return CHORUS_NACK_PACKET_RECOVERED;
}

ChorusNackPacketVerdict
chorus_nack_generator_handle_packet(ChorusNackGenerator *self, guint16 seq, gboolean retransmitted,
                                    gint64 now_us)
{
  g_return_val_if_fail(self != NULL, CHORUS_NACK_PACKET_LATE);

  self->counters.packets++;
  gint64 old_highest = chorus_rtp_seq_unwrapper_highest(&self->seq);
  gint64 ext = 0;
  switch (chorus_rtp_seq_unwrapper_update(&self->seq, seq, &ext)) {
  case CHORUS_RTP_SEQ_FIRST:
    start_over(self, ext);
    return CHORUS_NACK_PACKET_NEW;
  case CHORUS_RTP_SEQ_RESTART:
    /* Whatever was missing before the jump is beyond repair. */
    start_over(self, ext);
    self->counters.resets++;
    raise_keyframe_request(self);
    return CHORUS_NACK_PACKET_RESET;
  case CHORUS_RTP_SEQ_JUMP:
    return CHORUS_NACK_PACKET_JUMP;
  case CHORUS_RTP_SEQ_NEWER:
    advance_to(self, old_highest + 1, ext, now_us);
    return CHORUS_NACK_PACKET_NEW;
  case CHORUS_RTP_SEQ_OLDER:
    return handle_older(self, ext, retransmitted, now_us);
  }
  g_assert_not_reached();
}

/* Walks the missing slots oldest first. With @act, NACKs what is due at
 * @now_us (at most @cap into @seqs) and gives up what is exhausted; either
 * way refreshes the cached deadline and the scan start. Returns seqs written. */
static gsize
scan(ChorusNackGenerator *self, gboolean act, gint64 now_us, guint16 *seqs, gsize cap)
{
  gint64 highest = chorus_rtp_seq_unwrapper_highest(&self->seq);
  gint64 first_missing = highest + 1;
  gint64 deadline_us = G_MAXINT64;
  gsize n = 0;
  guint seen = 0; /* still missing after this visit; stop once all are seen */
  gint64 lo = MAX(self->scan_from_ext, highest - CHORUS_NACK_GENERATOR_WINDOW + 1);
  for (gint64 e = lo; e < highest && seen < self->missing; e++) {
    Slot *s = slot_for(self, e);
    if (s->ext != e || s->state != SLOT_MISSING)
      continue;
    gint64 due_us = slot_due_us(self, s);
    if (act && due_us <= now_us) {
      if (s->nacks >= self->config.max_nacks) {
        give_up(self, s, &self->counters.given_up_retries);
        continue;
      }
      if (n == cap) { /* still due: the caller polls again */
        first_missing = MIN(first_missing, e);
        deadline_us = now_us;
        break;
      }
      seqs[n++] = (guint16)e;
      s->nacks++;
      s->last_nack_us = now_us;
      self->counters.nacks++;
      due_us = slot_due_us(self, s);
    }
    first_missing = MIN(first_missing, e);
    deadline_us = MIN(deadline_us, due_us);
    seen++;
  }
  self->scan_from_ext = first_missing;
  self->deadline_us = self->missing > 0 ? deadline_us : G_MAXINT64;
  self->deadline_valid = TRUE;
  return n;
}

gsize
chorus_nack_generator_poll_nacks(ChorusNackGenerator *self, gint64 now_us, guint16 *seqs, gsize cap)
{
  g_return_val_if_fail(self != NULL, 0);
  g_return_val_if_fail(seqs != NULL || cap == 0, 0);

  if (self->missing == 0)
    return 0;
  if (self->deadline_valid && self->deadline_us > now_us)
    return 0;
  return scan(self, TRUE, now_us, seqs, cap);
}

gboolean
chorus_nack_generator_poll_keyframe_request(ChorusNackGenerator *self)
{
  g_return_val_if_fail(self != NULL, FALSE);

  gboolean pending = self->keyframe_pending;
  self->keyframe_pending = FALSE;
  return pending;
}

gint64
chorus_nack_generator_next_deadline_us(ChorusNackGenerator *self)
{
  g_return_val_if_fail(self != NULL, G_MAXINT64);

  if (self->missing == 0)
    return G_MAXINT64;
  if (!self->deadline_valid)
    scan(self, FALSE, 0, NULL, 0);
  return self->deadline_us;
}

guint
chorus_nack_generator_missing_count(const ChorusNackGenerator *self)
{
  g_return_val_if_fail(self != NULL, 0);

  return self->missing;
}

void
chorus_nack_generator_get_counters(const ChorusNackGenerator *self, ChorusNackCounters *counters)
{
  g_return_if_fail(self != NULL && counters != NULL);

  *counters = self->counters;
}
