#include "rtp/speaker-detector.h"

#include <string.h>

#include "rtp/audio-level.h"

/* A packet's level stands for the time since the previous one, but for no
 * more than this (Opus frames are at most 60 ms in WebRTC): a longer gap
 * is loss, its level is not known. */
#define MAX_SAMPLE_US 60000
/* The first packet after silence (or ever) stands for one usual 20 ms
 * frame, not for the silence before it. */
#define FIRST_SAMPLE_US 20000
#define NOT_RANKED G_MAXUINT

typedef struct {
  guint32 id;
  gboolean muted;
  gboolean seen;  /* a packet since added, unmuted */
  gboolean stale; /* no packet for stale_us: silence applied up to last_update_us */
  gboolean active;
  gboolean below;   /* active, and below threshold since below_since_us */
  gboolean audible; /* a voiced packet within stop_hold_us (get_audible) */
  guint rank;       /* position in the last ranking, NOT_RANKED if not active then */
  double activity;  /* smoothed share of packets at speaking level, 0..1 */
  double linear;    /* smoothed linear amplitude, 0..1 */
  gint64 last_packet_us;
  gint64 last_update_us; /* the averages account for time up to here */
  gint64 credit_us;      /* leaky time above threshold, 0..start_hold_us */
  gint64 active_since_us;
  gint64 below_since_us;
  gint64 audible_since_us; /* the first voiced packet of this audible run */
  gint64 last_voiced_us;
} Source;

struct _ChorusSpeakerDetector {
  ChorusSpeakerDetectorConfig config;
  double margin_ratio; /* rank_margin_db as an amplitude ratio */
  Source sources[CHORUS_SPEAKER_MAX_SOURCES];
  guint n_sources;
  guint hint; /* index of the last source looked up: packets come in runs */
  /* Every active source, ranked, as of the last poll. */
  guint32 ranked[CHORUS_SPEAKER_MAX_SOURCES];
  guint n_ranked;
  /* ranked, then the voiced candidates (get_audible). */
  guint32 audible[CHORUS_SPEAKER_MAX_SOURCES];
  guint n_audible;
  /* What poll last returned TRUE with. */
  guint32 reported[CHORUS_SPEAKER_MAX_SOURCES];
  guint n_reported;
  gboolean reported_once;
  gint64 reported_us;
  /* A handle/remove/mute changed the active set after the last poll. */
  gboolean dirty;
  gint64 dirty_us;
  ChorusSpeakerDetectorCounters counters;
};

void
chorus_speaker_detector_config_init(ChorusSpeakerDetectorConfig *config)
{
  g_return_if_fail(config != NULL);

  config->threshold_dbov = CHORUS_SPEAKER_DETECTOR_DEFAULT_THRESHOLD_DBOV;
  config->smoothing_us = CHORUS_SPEAKER_DETECTOR_DEFAULT_SMOOTHING_US;
  config->start_hold_us = CHORUS_SPEAKER_DETECTOR_DEFAULT_START_HOLD_US;
  config->stop_hold_us = CHORUS_SPEAKER_DETECTOR_DEFAULT_STOP_HOLD_US;
  config->stale_us = CHORUS_SPEAKER_DETECTOR_DEFAULT_STALE_US;
  config->min_interval_us = CHORUS_SPEAKER_DETECTOR_DEFAULT_MIN_INTERVAL_US;
  config->rank_margin_db = CHORUS_SPEAKER_DETECTOR_DEFAULT_RANK_MARGIN_DB;
  config->max_active = CHORUS_SPEAKER_DETECTOR_DEFAULT_MAX_ACTIVE;
}

ChorusSpeakerDetector *
chorus_speaker_detector_new(const ChorusSpeakerDetectorConfig *config)
{
  ChorusSpeakerDetector *self = g_new0(ChorusSpeakerDetector, 1);
  if (config != NULL)
    self->config = *config;
  else
    chorus_speaker_detector_config_init(&self->config);
  ChorusSpeakerDetectorConfig *c = &self->config;
  /* 127 is silence itself: a threshold there would make noise a speaker. */
  c->threshold_dbov = MIN(c->threshold_dbov, CHORUS_RTP_AUDIO_LEVEL_SILENT - 1);
  c->smoothing_us = MAX(1, c->smoothing_us);
  c->start_hold_us = MAX(0, c->start_hold_us);
  c->stop_hold_us = MAX(0, c->stop_hold_us);
  c->stale_us = MAX(1, c->stale_us);
  c->min_interval_us = MAX(0, c->min_interval_us);
  c->max_active = CLAMP(c->max_active, 1, CHORUS_SPEAKER_MAX_SOURCES);
  c->rank_margin_db = MIN(c->rank_margin_db, CHORUS_RTP_AUDIO_LEVEL_SILENT - 1);
  self->margin_ratio = 1.0 / chorus_rtp_audio_level_to_linear(c->rank_margin_db);
  return self;
}

void
chorus_speaker_detector_free(ChorusSpeakerDetector *self)
{
  g_free(self);
}

static Source *
find_source(ChorusSpeakerDetector *self, guint32 id)
{
  if (self->hint < self->n_sources && self->sources[self->hint].id == id)
    return &self->sources[self->hint];
  for (guint i = 0; i < self->n_sources; i++) {
    if (self->sources[i].id == id) {
      self->hint = i;
      return &self->sources[i];
    }
  }
  return NULL;
}

static const Source *
find_source_const(const ChorusSpeakerDetector *self, guint32 id)
{
  for (guint i = 0; i < self->n_sources; i++) {
    if (self->sources[i].id == id)
      return &self->sources[i];
  }
  return NULL;
}

static guint8
level_of(const Source *s)
{
  return chorus_rtp_audio_level_from_linear(s->linear);
}

/* Speaking: most of the recent time in voiced packets. Speech keeps well
 * over half of its frames voiced between its short gaps. */
#define SPEAKING_ACTIVITY 0.5

static gboolean
is_above(const Source *s)
{
  return s->activity >= SPEAKING_ACTIVITY;
}

/* Share of the old average left after @dt_us: e^(-dt/tc), approximated by
 * 1 / (1 + x + x^2/2 + x^3/6) (rtp/ does without libm): within 0.02 of it
 * where it matters, always in (0, 1], and long spans decay about as much
 * in one step as in many. */
static double
keep_fraction(gint64 dt_us, gint64 tc_us)
{
  double x = (double)dt_us / (double)tc_us;
  return 1.0 / (1.0 + x * (1.0 + x * (0.5 + x / 6.0)));
}

static void
mark_dirty(ChorusSpeakerDetector *self, gint64 now_us)
{
  if (!self->dirty || now_us < self->dirty_us)
    self->dirty_us = now_us;
  self->dirty = TRUE;
}

static void
deactivate(ChorusSpeakerDetector *self, Source *s, gint64 now_us)
{
  if (!s->active)
    return;
  s->active = FALSE;
  s->below = FALSE;
  s->credit_us = 0;
  self->counters.deactivations++;
  mark_dirty(self, now_us);
}

/* Moves the averages toward a sample (@voiced: at speaking level; @linear:
 * its amplitude) that stands for @dt_us from @start_us, and keeps the time
 * above/below threshold. */
static void
step(ChorusSpeakerDetector *self, Source *s, gboolean voiced, double linear, gint64 dt_us,
     gint64 start_us)
{
  if (dt_us <= 0)
    return;
  double keep = keep_fraction(dt_us, self->config.smoothing_us);
  s->activity = s->activity * keep + (voiced ? 1.0 - keep : 0.0);
  s->linear = s->linear * keep + linear * (1.0 - keep);
  gboolean above = is_above(s);
  if (s->active) {
    if (above) {
      s->below = FALSE;
    } else if (!s->below) {
      s->below = TRUE;
      s->below_since_us = start_us;
    }
  } else if (above) {
    s->credit_us = MIN(s->credit_us + dt_us, self->config.start_hold_us);
  } else {
    s->credit_us = MAX(s->credit_us - dt_us, 0);
  }
}

static void
check_stop(ChorusSpeakerDetector *self, Source *s, gint64 now_us)
{
  if (s->active && s->below && now_us - s->below_since_us >= self->config.stop_hold_us)
    deactivate(self, s, now_us);
}

/* No packet for stale_us: silent since the last one. */
static void
apply_silence(ChorusSpeakerDetector *self, Source *s, gint64 now_us)
{
  if (!s->stale) {
    s->stale = TRUE;
    if (s->active && !s->below) {
      s->below = TRUE;
      s->below_since_us = s->last_packet_us;
    }
  }
  if (now_us > s->last_update_us) {
    step(self, s, FALSE, 0.0, now_us - s->last_update_us, s->last_update_us);
    s->last_update_us = now_us;
  }
}

static void
reset_source(Source *s, guint32 id, gboolean muted)
{
  memset(s, 0, sizeof(*s));
  s->id = id;
  s->muted = muted;
  s->rank = NOT_RANKED;
}

gboolean
chorus_speaker_detector_add_source(ChorusSpeakerDetector *self, guint32 id)
{
  g_return_val_if_fail(self != NULL, FALSE);
  g_return_val_if_fail(id != 0, FALSE);

  if (find_source(self, id) != NULL)
    return TRUE;
  if (self->n_sources == CHORUS_SPEAKER_MAX_SOURCES)
    return FALSE;
  reset_source(&self->sources[self->n_sources++], id, FALSE);
  return TRUE;
}

void
chorus_speaker_detector_remove_source(ChorusSpeakerDetector *self, guint32 id)
{
  g_return_if_fail(self != NULL);

  Source *s = find_source(self, id);
  if (s == NULL)
    return;
  if (s->active)
    deactivate(self, s, s->last_update_us);
  /* A candidate leaving changes get_audible too. */
  if (s->audible)
    mark_dirty(self, s->last_update_us);
  *s = self->sources[--self->n_sources];
  self->hint = 0;
}

void
chorus_speaker_detector_set_muted(ChorusSpeakerDetector *self, guint32 id, gboolean muted)
{
  g_return_if_fail(self != NULL);

  Source *s = find_source(self, id);
  if (s == NULL || s->muted == !!muted)
    return;
  if (s->active)
    deactivate(self, s, s->last_update_us);
  if (s->audible)
    mark_dirty(self, s->last_update_us);
  reset_source(s, id, muted);
}

void
chorus_speaker_detector_handle_level(ChorusSpeakerDetector *self, guint32 id, guint8 level_dbov,
                                     gint64 now_us)
{
  g_return_if_fail(self != NULL);

  Source *s = find_source(self, id);
  if (s == NULL) {
    self->counters.unknown_source++;
    return;
  }
  if (s->muted) {
    self->counters.muted++;
    return;
  }
  self->counters.packets++;
  const ChorusSpeakerDetectorConfig *c = &self->config;
  level_dbov = MIN(level_dbov, CHORUS_RTP_AUDIO_LEVEL_SILENT);

  gint64 dt_us;
  if (!s->seen) {
    s->seen = TRUE;
    s->last_update_us = now_us;
    dt_us = FIRST_SAMPLE_US;
  } else {
    /* Time only moves forward; a late caller does not rewind the average. */
    now_us = MAX(now_us, s->last_update_us);
    gint64 gap_us = now_us - s->last_update_us;
    if (s->stale || now_us - s->last_packet_us >= c->stale_us) {
      if (gap_us > FIRST_SAMPLE_US)
        apply_silence(self, s, now_us - FIRST_SAMPLE_US);
      dt_us = FIRST_SAMPLE_US;
    } else {
      dt_us = MIN(gap_us, MAX_SAMPLE_US);
    }
  }
  s->stale = FALSE;
  s->last_packet_us = now_us;
  s->last_update_us = now_us;
  gboolean voiced = level_dbov <= c->threshold_dbov;
  step(self, s, voiced, chorus_rtp_audio_level_to_linear(level_dbov), dt_us, now_us - dt_us);

  if (voiced) {
    if (!s->audible || now_us - s->last_voiced_us >= c->stop_hold_us) {
      s->audible_since_us = now_us;
      if (!s->active)
        mark_dirty(self, now_us);
    }
    s->audible = TRUE;
    s->last_voiced_us = now_us;
  }

  if (!s->active && s->credit_us >= c->start_hold_us && is_above(s)) {
    s->active = TRUE;
    s->below = FALSE;
    s->active_since_us = now_us;
    self->counters.activations++;
    mark_dirty(self, now_us);
  }
  check_stop(self, s, now_us);
}

/* Orders for the ranking's first pass: incumbents in their order, then
 * newcomers by activation time (id for a stable result). */
static gboolean
ranks_before(const Source *a, const Source *b)
{
  if (a->rank != b->rank)
    return a->rank < b->rank;
  if (a->active_since_us != b->active_since_us)
    return a->active_since_us < b->active_since_us;
  return a->id < b->id;
}

static gboolean
candidate_before(const Source *a, const Source *b)
{
  if (a->audible_since_us != b->audible_since_us)
    return a->audible_since_us < b->audible_since_us;
  return a->id < b->id;
}

static void
insertion_sort(Source **v, guint n, gboolean (*before)(const Source *, const Source *))
{
  for (guint i = 1; i < n; i++) {
    Source *x = v[i];
    guint j = i;
    for (; j > 0 && before(x, v[j - 1]); j--)
      v[j] = v[j - 1];
    v[j] = x;
  }
}

static void
rank_sources(ChorusSpeakerDetector *self)
{
  Source *active[CHORUS_SPEAKER_MAX_SOURCES];
  Source *candidates[CHORUS_SPEAKER_MAX_SOURCES];
  guint n_active = 0, n_candidates = 0;
  for (guint i = 0; i < self->n_sources; i++) {
    Source *s = &self->sources[i];
    if (s->active)
      active[n_active++] = s;
    else if (s->audible)
      candidates[n_candidates++] = s;
    else
      s->rank = NOT_RANKED;
  }
  insertion_sort(active, n_active, ranks_before);
  /* Louder by more than the margin moves up past its neighbour; within it,
   * the order from the first pass holds, so noise does not swap two voices. */
  for (guint i = 1; i < n_active; i++) {
    for (guint j = i; j > 0 && active[j]->linear > active[j - 1]->linear * self->margin_ratio;
         j--) {
      Source *t = active[j];
      active[j] = active[j - 1];
      active[j - 1] = t;
    }
  }
  insertion_sort(candidates, n_candidates, candidate_before);

  self->n_ranked = n_active;
  self->n_audible = 0;
  for (guint i = 0; i < n_active; i++) {
    active[i]->rank = i;
    self->ranked[i] = active[i]->id;
    self->audible[self->n_audible++] = active[i]->id;
  }
  for (guint i = 0; i < n_candidates; i++) {
    candidates[i]->rank = NOT_RANKED;
    self->audible[self->n_audible++] = candidates[i]->id;
  }
}

static guint
current_count(const ChorusSpeakerDetector *self)
{
  return MIN(self->n_ranked, self->config.max_active);
}

static gboolean
differs_from_reported(const ChorusSpeakerDetector *self)
{
  guint n = current_count(self);
  return n != self->n_reported ||
         (n > 0 && memcmp(self->ranked, self->reported, n * sizeof(guint32)) != 0);
}

gboolean
chorus_speaker_detector_poll(ChorusSpeakerDetector *self, gint64 now_us, guint32 *ids, gsize cap,
                             gsize *n)
{
  g_return_val_if_fail(self != NULL, FALSE);
  g_return_val_if_fail(ids != NULL || cap == 0, FALSE);

  const ChorusSpeakerDetectorConfig *c = &self->config;
  for (guint i = 0; i < self->n_sources; i++) {
    Source *s = &self->sources[i];
    if (s->muted || !s->seen)
      continue;
    if (s->stale || now_us - s->last_packet_us >= c->stale_us)
      apply_silence(self, s, now_us);
    check_stop(self, s, now_us);
    if (s->audible && now_us - s->last_voiced_us >= c->stop_hold_us)
      s->audible = FALSE;
  }
  rank_sources(self);
  self->dirty = FALSE;

  gboolean changed = FALSE;
  if (differs_from_reported(self) &&
      (!self->reported_once || now_us - self->reported_us >= c->min_interval_us)) {
    self->n_reported = current_count(self);
    memcpy(self->reported, self->ranked, self->n_reported * sizeof(guint32));
    self->reported_once = TRUE;
    self->reported_us = now_us;
    self->counters.changes_reported++;
    changed = TRUE;
  }
  gsize k = MIN(cap, (gsize)self->n_reported);
  if (k > 0)
    memcpy(ids, self->reported, k * sizeof(guint32));
  if (n != NULL)
    *n = k;
  return changed;
}

gsize
chorus_speaker_detector_get_active(const ChorusSpeakerDetector *self, guint32 *ids, gsize cap)
{
  g_return_val_if_fail(self != NULL, 0);
  g_return_val_if_fail(ids != NULL || cap == 0, 0);

  gsize k = MIN(cap, (gsize)current_count(self));
  if (k > 0)
    memcpy(ids, self->ranked, k * sizeof(guint32));
  return k;
}

gsize
chorus_speaker_detector_get_audible(const ChorusSpeakerDetector *self, guint32 *ids, gsize cap)
{
  g_return_val_if_fail(self != NULL, 0);
  g_return_val_if_fail(ids != NULL || cap == 0, 0);

  gsize k = MIN(cap, (gsize)self->n_audible);
  if (k > 0)
    memcpy(ids, self->audible, k * sizeof(guint32));
  return k;
}

guint8
chorus_speaker_detector_get_level(const ChorusSpeakerDetector *self, guint32 id)
{
  g_return_val_if_fail(self != NULL, CHORUS_RTP_AUDIO_LEVEL_SILENT);

  const Source *s = find_source_const(self, id);
  if (s == NULL || s->muted)
    return CHORUS_RTP_AUDIO_LEVEL_SILENT;
  return level_of(s);
}

gboolean
chorus_speaker_detector_is_active(const ChorusSpeakerDetector *self, guint32 id)
{
  g_return_val_if_fail(self != NULL, FALSE);

  const Source *s = find_source_const(self, id);
  return s != NULL && s->active;
}

gint64
chorus_speaker_detector_next_deadline_us(const ChorusSpeakerDetector *self)
{
  g_return_val_if_fail(self != NULL, G_MAXINT64);

  const ChorusSpeakerDetectorConfig *c = &self->config;
  gint64 due_us = G_MAXINT64;
  if (self->dirty)
    due_us = self->dirty_us;
  if (self->reported_once && differs_from_reported(self))
    due_us = MIN(due_us, self->reported_us + c->min_interval_us);
  for (guint i = 0; i < self->n_sources; i++) {
    const Source *s = &self->sources[i];
    if (s->muted || !s->seen)
      continue;
    /* Going stale matters only to a source with something to lose. */
    if (!s->stale && (s->active || s->credit_us > 0 || s->activity > 0.0 || s->linear > 0.0))
      due_us = MIN(due_us, s->last_packet_us + c->stale_us);
    if (s->active && s->below)
      due_us = MIN(due_us, s->below_since_us + c->stop_hold_us);
    if (s->audible)
      due_us = MIN(due_us, s->last_voiced_us + c->stop_hold_us);
  }
  return due_us;
}

guint
chorus_speaker_detector_source_count(const ChorusSpeakerDetector *self)
{
  g_return_val_if_fail(self != NULL, 0);

  return self->n_sources;
}

void
chorus_speaker_detector_get_counters(const ChorusSpeakerDetector *self,
                                     ChorusSpeakerDetectorCounters *counters)
{
  g_return_if_fail(self != NULL && counters != NULL);

  *counters = self->counters;
}
