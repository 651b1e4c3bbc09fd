/* Top-N audio slots of one listener in a voice room: the listener's
 * subscriber PeerConnection has n_slots fixed audio m-lines, and the
 * loudest speakers are mapped onto them (the media layer rewrites
 * SSRC/seq/ts per slot), so a change of speakers never renegotiates.
 * Sans-IO and heap-free: a plain struct the owner embeds, one per
 * listener; assign is called with the room's ranking (see
 * chorus_speaker_detector_get_audible) whenever it may have changed.
 *
 * Rules: a speaker already in a slot keeps that slot while it stays among
 * the first n_slots of the ranking (the order among them changing moves
 * nobody: a slot switching voices is audible, an order is not); the
 * listener's own source is skipped (nobody hears themselves); a newcomer
 * takes the lowest empty slot, and only when none is left the lowest slot
 * of a speaker who dropped out of the top n_slots; slots of speakers who
 * dropped out and were not reused are emptied. No linger: a speaker
 * already stays ranked for the detector's stop hold (1 s) after going
 * quiet, which keeps a trailing burst. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* m-lines per listener at most; voice rooms accept audio_slots 1..16. */
#define CHORUS_AUDIO_SLOTS_MAX 16
#define CHORUS_AUDIO_SLOTS_DEFAULT 3

typedef struct {
  guint n_slots;                          /* 1..CHORUS_AUDIO_SLOTS_MAX */
  guint32 source[CHORUS_AUDIO_SLOTS_MAX]; /* slot -> source id, 0 = empty */
} ChorusAudioSlots;

/* @n_slots clamped to 1..CHORUS_AUDIO_SLOTS_MAX (0 gives the default);
 * all slots empty. */
void chorus_audio_slots_init(ChorusAudioSlots *self, guint n_slots);

/* Maps @ranked (@n source ids, best first; borrowed; NULL when @n is 0) onto
 * the slots by the rules above. Ids 0, @exclude_id (the listener's own
 * source; 0 for a listener who does not publish) and repeats are skipped.
 * Returns a bitmask of the slots whose source changed (bit i = slot i;
 * filled, replaced or emptied); 0 when nothing moved. */
guint chorus_audio_slots_assign(ChorusAudioSlots *self, const guint32 *ranked, gsize n,
                                guint32 exclude_id);

/* The slot holding @id, or -1 (also for 0). */
gint chorus_audio_slots_find(const ChorusAudioSlots *self, guint32 id);

/* Empties every slot; returns the bitmask of slots that held a source. */
guint chorus_audio_slots_clear(ChorusAudioSlots *self);

G_END_DECLS
