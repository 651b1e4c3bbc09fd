/* Active speaker detection for voice rooms, from the RFC 6464 audio level
 * each publisher puts on its Opus packets. Sans-IO: fed levels and `now_us`
 * on the packet path, polled once per worker tick for decisions.
 *
 * Model, per source (a speaker's audio track, keyed by a caller-chosen
 * non-zero id):
 * - A packet is voiced when its level is threshold_dbov or louder. The
 *   activity is the time-weighted share of voiced packets, averaged
 *   exponentially (time constant smoothing_us); the source is "above
 *   threshold" while the activity is at least one half. A share, not an
 *   average level, so that how deep the gaps between words fall (noise
 *   suppression puts them anywhere from -60 to -127 dBov) does not
 *   decide whether someone speaks; a click or a noise spike is one or two
 *   voiced packets.
 * - Start: a source becomes active once it has been above threshold for
 *   start_hold_us, counted with a leaky credit (time above adds, time below
 *   takes away), so the short dips between words do not restart the count
 *   while a cough is forgotten as fast as it came. With the defaults, a
 *   burst under ~250 ms never makes a speaker and speech makes one in
 *   ~350-400 ms.
 * - Stop: an active source is dropped after being below threshold for
 *   stop_hold_us without interruption; pauses between phrases keep it.
 * - DTX: a source that sent nothing for stale_us is silent from its last
 *   packet on (Opus DTX sends nothing, or a frame every 400 ms, in silence;
 *   a source gone from the network is silent too).
 * - Loudness (ranking, get_level): the linear amplitude of the packets,
 *   averaged the same way, in -dBov; it follows how loud someone speaks
 *   rather than the gaps between words.
 * - Ranking: active sources by loudness, but one passes the one ranked
 *   above it only when louder by more than rank_margin_db; otherwise the
 *   incumbent order stays, and new ones come after the incumbents, earlier
 *   activation first.
 * - Muted sources (set_muted) are never active nor audible; their packets
 *   are ignored.
 *
 * Cost: handle_level is O(number of sources) for the lookup, allocates
 * nothing and logs nothing; all storage is taken at creation. Poll is
 * O(sources) plus an insertion sort of at most CHORUS_SPEAKER_MAX_SOURCES
 * entries that is already in order almost always. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sources per detector (a voice room's seats fit many times over). */
#define CHORUS_SPEAKER_MAX_SOURCES 64

typedef struct {
  /* A packet is voiced at this level or louder (-dBov, lower is louder).
   * Browsers' AGC brings speech frames to about -20..-40 dBov and their
   * noise suppression leaves silence under -60: 50 keeps quiet
   * microphones and the softer frames of speech, and stays above
   * suppressed room noise. Default 50. */
  guint8 threshold_dbov;
  /* Time constant of the activity and loudness averages (they cover about
   * twice this); default 150 ms. */
  gint64 smoothing_us;
  /* Above threshold this long (leaky count) to become active; default
   * 200 ms. */
  gint64 start_hold_us;
  /* Below threshold this long without interruption to stop being active;
   * default 1 s: a pause for breath or between phrases (up to ~0.9 s)
   * keeps the speaker, and a trailing word is not cut from the slots. */
  gint64 stop_hold_us;
  /* No packet for this long: silent since the last one; default 300 ms
   * (Opus packets come every 20..60 ms while there is sound). */
  gint64 stale_us;
  /* poll reports a change at most this often (the `speakers`
   * notification); default 200 ms. */
  gint64 min_interval_us;
  /* A source passes the one ranked above it only when its loudness is
   * louder by more than this; default 6 dB (twice the amplitude): two
   * voices' averages wander by less in a conversation. */
  guint8 rank_margin_db;
  /* Active sources reported by poll/get_active, loudest first; default 4
   * (the default 3 audio slots + 1, so a speaker who is among the loudest
   * still has 3 others to hear), 1..CHORUS_SPEAKER_MAX_SOURCES. */
  guint max_active;
} ChorusSpeakerDetectorConfig;

#define CHORUS_SPEAKER_DETECTOR_DEFAULT_THRESHOLD_DBOV 50
#define CHORUS_SPEAKER_DETECTOR_DEFAULT_SMOOTHING_US 150000
#define CHORUS_SPEAKER_DETECTOR_DEFAULT_START_HOLD_US 200000
#define CHORUS_SPEAKER_DETECTOR_DEFAULT_STOP_HOLD_US 1000000
#define CHORUS_SPEAKER_DETECTOR_DEFAULT_STALE_US 300000
#define CHORUS_SPEAKER_DETECTOR_DEFAULT_MIN_INTERVAL_US 200000
#define CHORUS_SPEAKER_DETECTOR_DEFAULT_RANK_MARGIN_DB 6
#define CHORUS_SPEAKER_DETECTOR_DEFAULT_MAX_ACTIVE 4

typedef struct {
  guint64 packets;          /* levels handled for a known, unmuted source */
  guint64 unknown_source;   /* levels for an id that was never added (or removed) */
  guint64 muted;            /* levels ignored because the source is muted */
  guint64 activations;      /* a source became active */
  guint64 deactivations;    /* an active source stopped (silence, mute or removal) */
  guint64 changes_reported; /* poll returned TRUE */
} ChorusSpeakerDetectorCounters;

typedef struct _ChorusSpeakerDetector ChorusSpeakerDetector;

/* Fills @config with the defaults above. */
void chorus_speaker_detector_config_init(ChorusSpeakerDetectorConfig *config);

/* @config: borrowed, NULL for the defaults. Out-of-range values are
 * clamped: times to >= 0 (smoothing_us and stale_us to >= 1 us),
 * max_active to 1..CHORUS_SPEAKER_MAX_SOURCES, threshold_dbov and
 * rank_margin_db to <= 126. */
ChorusSpeakerDetector *chorus_speaker_detector_new(const ChorusSpeakerDetectorConfig *config);
void chorus_speaker_detector_free(ChorusSpeakerDetector *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusSpeakerDetector, chorus_speaker_detector_free)

/* Starts tracking @id (non-zero), silent and unmuted. TRUE when tracked
 * (already tracked: TRUE, state kept), FALSE when the detector holds
 * CHORUS_SPEAKER_MAX_SOURCES already. */
gboolean chorus_speaker_detector_add_source(ChorusSpeakerDetector *self, guint32 id);

/* Stops tracking @id (unknown ids are ignored). An active source leaves
 * the active set at once; the next poll reports it (min_interval_us
 * permitting). */
void chorus_speaker_detector_remove_source(ChorusSpeakerDetector *self, guint32 id);

/* A muted source is silent, never active nor audible, and its levels are
 * ignored until unmuted; unmuting starts it from silence. */
void chorus_speaker_detector_set_muted(ChorusSpeakerDetector *self, guint32 id, gboolean muted);

/* Packet path: the audio level of one packet of @id (RFC 6464, 0..127
 * -dBov; the V bit is not used: senders set it inconsistently). Levels of
 * unknown or muted sources are counted and ignored. No allocation. */
void chorus_speaker_detector_handle_level(ChorusSpeakerDetector *self, guint32 id,
                                          guint8 level_dbov, gint64 now_us);

/* Once per tick: applies silence to sources past stale_us, drops sources
 * past stop_hold_us, and recomputes the ranked active set (at most
 * max_active, loudest first). Returns TRUE when that set (membership or
 * order) differs from the one last reported and min_interval_us has passed
 * since that report: the new set is then the reported one. Writes into
 * @ids (caller storage, @cap entries; may be NULL when @cap is 0) the
 * reported set, changed or not, and its length into @n (<= @cap). */
gboolean chorus_speaker_detector_poll(ChorusSpeakerDetector *self, gint64 now_us, guint32 *ids,
                                      gsize cap, gsize *n);

/* The ranked active set as of the last poll, not rate limited (may be
 * ahead of what poll reported). Returns how many were written (<= @cap). */
gsize chorus_speaker_detector_get_active(const ChorusSpeakerDetector *self, guint32 *ids,
                                         gsize cap);

/* What to put in audio slots (ChorusAudioSlots), as of the last poll, best
 * first: every active source in ranked order (not capped by max_active),
 * then the sources not (yet) active that sent a packet at speaking level
 * within the last stop_hold_us, earliest-started first. Free slots thus
 * carry a speaker's first words at once instead of after start_hold_us
 * and the smoothing; only active speakers push others out. Returns how
 * many were written (<= @cap). */
gsize chorus_speaker_detector_get_audible(const ChorusSpeakerDetector *self, guint32 *ids,
                                          gsize cap);

/* Smoothed level of @id in -dBov (0 loudest, 127 silent) as of the last
 * handle_level/poll, for "speaking" indicators; 127 for unknown or muted
 * sources. */
guint8 chorus_speaker_detector_get_level(const ChorusSpeakerDetector *self, guint32 id);

/* Whether @id is active as of the last handle_level/poll. */
gboolean chorus_speaker_detector_is_active(const ChorusSpeakerDetector *self, guint32 id);

/* When poll next has something to decide (a source going stale, an active
 * one reaching stop_hold_us, a candidate expiring, a held-back report
 * becoming due); G_MAXINT64 when nothing is pending. Polling every tick
 * anyway is fine. */
gint64 chorus_speaker_detector_next_deadline_us(const ChorusSpeakerDetector *self);

/* Sources tracked. */
guint chorus_speaker_detector_source_count(const ChorusSpeakerDetector *self);

void chorus_speaker_detector_get_counters(const ChorusSpeakerDetector *self,
                                          ChorusSpeakerDetectorCounters *counters);

G_END_DECLS
