#include "rtp/vp8-rewriter.h"

void
chorus_vp8_rewriter_init(ChorusVp8Rewriter *self)
{
  *self = (ChorusVp8Rewriter){ 0 };
}

void
chorus_vp8_rewriter_rebase(ChorusVp8Rewriter *self)
{
  self->rebase = self->started;
}

/* Where the picture ID (and its width) and TL0PICIDX are; FALSE when the
 * descriptor is truncated. */
static gboolean
locate(guint8 *p, gsize len, guint8 **pid_at, gboolean *wide, guint8 **tl0_at)
{
  *pid_at = *tl0_at = NULL;
  *wide = FALSE;
  if (len < 1)
    return FALSE;
  if (!(p[0] & 0x80)) /* no extension byte: nothing to rewrite */
    return TRUE;
  if (len < 2)
    return FALSE;
  guint8 ext = p[1];
  gsize off = 2;
  if (ext & 0x80) { /* I */
    if (off >= len)
      return FALSE;
    *wide = (p[off] & 0x80) != 0;
    if (off + (*wide ? 2 : 1) > len)
      return FALSE;
    *pid_at = p + off;
    off += *wide ? 2 : 1;
  }
  if (ext & 0x40) { /* L */
    if (off >= len)
      return FALSE;
    *tl0_at = p + off;
  }
  return TRUE;
}

static guint16
read_pid(const guint8 *at, gboolean wide)
{
  return wide ? (guint16)(((at[0] & 0x7f) << 8) | at[1]) : (guint16)(at[0] & 0x7f);
}

static void
write_fields(guint8 *pid_at, gboolean wide, guint8 *tl0_at, guint16 pid_offset, guint8 tl0_offset,
             guint16 *pid_out, guint8 *tl0_out)
{
  if (pid_at) {
    guint16 out = (guint16)((read_pid(pid_at, wide) + pid_offset) & (wide ? 0x7fff : 0x7f));
    if (wide) {
      pid_at[0] = (guint8)(0x80 | (out >> 8));
      pid_at[1] = (guint8)out;
    } else {
      pid_at[0] = (guint8)out;
    }
    *pid_out = out;
  }
  if (tl0_at) {
    *tl0_at = (guint8)(*tl0_at + tl0_offset);
    *tl0_out = *tl0_at;
  }
}

gboolean
chorus_vp8_apply_offsets(guint8 *payload, gsize len, guint16 pid_offset, guint8 tl0_offset)
{
  guint8 *pid_at, *tl0_at;
  gboolean wide;
  guint16 pid;
  guint8 tl0;
  if (!locate(payload, len, &pid_at, &wide, &tl0_at))
    return FALSE;
  write_fields(pid_at, wide, tl0_at, pid_offset, tl0_offset, &pid, &tl0);
  return TRUE;
}

gboolean
chorus_vp8_rewriter_rewrite(ChorusVp8Rewriter *self, guint8 *p, gsize len)
{
  guint8 *pid_at, *tl0_at;
  gboolean wide;
  if (!locate(p, len, &pid_at, &wide, &tl0_at))
    return FALSE;
  if (pid_at == NULL && tl0_at == NULL)
    return TRUE;
  if (!self->started || self->rebase) {
    if (self->started) {
      /* Continue one picture after the last written. Packets of the same
       * picture share its ID, so the first packet of the new sequence is
       * mapped to last + 1 and the rest follow by offset. */
      self->pid_offset = pid_at ? (guint16)((self->last_pid + 1 - read_pid(pid_at, wide)) & 0x7fff) : 0;
      self->tl0_offset = tl0_at ? (guint8)(self->last_tl0 + 1 - *tl0_at) : 0;
    } else {
      self->pid_offset = 0;
      self->tl0_offset = 0;
    }
    self->started = TRUE;
    self->rebase = FALSE;
  }
  write_fields(pid_at, wide, tl0_at, self->pid_offset, self->tl0_offset, &self->last_pid,
               &self->last_tl0);
  return TRUE;
}
