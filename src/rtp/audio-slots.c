#include "rtp/audio-slots.h"

G_STATIC_ASSERT(CHORUS_AUDIO_SLOTS_MAX <= sizeof(guint) * 8);

void
chorus_audio_slots_init(ChorusAudioSlots *self, guint n_slots)
{
  g_return_if_fail(self != NULL);

  if (n_slots == 0)
    n_slots = CHORUS_AUDIO_SLOTS_DEFAULT;
  self->n_slots = MIN(n_slots, CHORUS_AUDIO_SLOTS_MAX);
  for (guint i = 0; i < CHORUS_AUDIO_SLOTS_MAX; i++)
    self->source[i] = 0;
}

static gboolean
contains(const guint32 *ids, guint n, guint32 id)
{
  for (guint i = 0; i < n; i++) {
    if (ids[i] == id)
      return TRUE;
  }
  return FALSE;
}

guint
chorus_audio_slots_assign(ChorusAudioSlots *self, const guint32 *ranked, gsize n,
                          guint32 exclude_id)
{
  g_return_val_if_fail(self != NULL, 0);
  g_return_val_if_fail(ranked != NULL || n == 0, 0);
  g_return_val_if_fail(self->n_slots >= 1 && self->n_slots <= CHORUS_AUDIO_SLOTS_MAX, 0);

  /* The first n_slots eligible ids: who should be heard. */
  guint32 top[CHORUS_AUDIO_SLOTS_MAX];
  guint n_top = 0;
  for (gsize i = 0; i < n && n_top < self->n_slots; i++) {
    guint32 id = ranked[i];
    if (id == 0 || id == exclude_id || contains(top, n_top, id))
      continue;
    top[n_top++] = id;
  }

  /* Slots whose speaker left the top: free for newcomers. */
  guint freed = 0;
  for (guint s = 0; s < self->n_slots; s++) {
    if (self->source[s] != 0 && !contains(top, n_top, self->source[s]))
      freed |= 1u << s;
  }

  guint changed = 0;
  for (guint i = 0; i < n_top; i++) {
    if (contains(self->source, self->n_slots, top[i]))
      continue;
    /* An idle m-line first: reusing a slot splices two voices into one
     * stream, which the listener's jitter buffer has to absorb. */
    guint slot = G_MAXUINT;
    for (guint s = 0; s < self->n_slots && slot == G_MAXUINT; s++) {
      if (self->source[s] == 0 && !(freed & (1u << s)))
        slot = s;
    }
    for (guint s = 0; s < self->n_slots && slot == G_MAXUINT; s++) {
      if (freed & (1u << s))
        slot = s;
    }
    /* n_top <= n_slots and every kept speaker holds one slot, so a newcomer
     * always finds one. */
    g_assert(slot != G_MAXUINT);
    freed &= ~(1u << slot);
    self->source[slot] = top[i];
    changed |= 1u << slot;
  }
  for (guint s = 0; s < self->n_slots; s++) {
    if (freed & (1u << s)) {
      self->source[s] = 0;
      changed |= 1u << s;
    }
  }
  return changed;
}

gint
chorus_audio_slots_find(const ChorusAudioSlots *self, guint32 id)
{
  g_return_val_if_fail(self != NULL, -1);

  if (id == 0)
    return -1;
  for (guint s = 0; s < self->n_slots && s < CHORUS_AUDIO_SLOTS_MAX; s++) {
    if (self->source[s] == id)
      return (gint)s;
  }
  return -1;
}

guint
chorus_audio_slots_clear(ChorusAudioSlots *self)
{
  g_return_val_if_fail(self != NULL, 0);

  guint changed = 0;
  for (guint s = 0; s < CHORUS_AUDIO_SLOTS_MAX; s++) {
    if (self->source[s] != 0) {
      if (s < self->n_slots)
        changed |= 1u << s;
      self->source[s] = 0;
    }
  }
  return changed;
}
