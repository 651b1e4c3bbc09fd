#include "rtp/rtp-seq.h"

#define NO_BAD_SEQ 0x10000u

void
chorus_rtp_seq_unwrapper_init(ChorusRtpSeqUnwrapper *self, guint max_dropout, guint max_misorder)
{
  g_return_if_fail(self != NULL);
  g_return_if_fail(max_dropout <= 0x8000 && max_misorder <= 0x8000);

  self->max_dropout = max_dropout != 0 ? max_dropout : CHORUS_RTP_SEQ_MAX_DROPOUT;
  self->max_misorder = max_misorder != 0 ? max_misorder : CHORUS_RTP_SEQ_MAX_MISORDER;
  chorus_rtp_seq_unwrapper_reset(self);
}

void
chorus_rtp_seq_unwrapper_reset(ChorusRtpSeqUnwrapper *self)
{
  g_return_if_fail(self != NULL);

  self->highest_ext = 0;
  self->bad_seq = NO_BAD_SEQ;
  self->started = FALSE;
}

static ChorusRtpSeqVerdict
start_at(ChorusRtpSeqUnwrapper *self, guint16 seq, gint64 *ext_seq, ChorusRtpSeqVerdict verdict)
{
  self->highest_ext = seq;
  self->bad_seq = NO_BAD_SEQ;
  self->started = TRUE;
  *ext_seq = seq;
  return verdict;
}

ChorusRtpSeqVerdict
chorus_rtp_seq_unwrapper_update(ChorusRtpSeqUnwrapper *self, guint16 seq, gint64 *ext_seq)
{
  g_return_val_if_fail(self != NULL && ext_seq != NULL, CHORUS_RTP_SEQ_JUMP);

  if (!self->started)
    return start_at(self, seq, ext_seq, CHORUS_RTP_SEQ_FIRST);

  guint16 max_seq = (guint16)self->highest_ext;
  guint udelta = (guint16)(seq - max_seq);
  if (udelta == 0) {
    *ext_seq = self->highest_ext;
    return CHORUS_RTP_SEQ_OLDER; /* a duplicate of the highest */
  }
  if (udelta < self->max_dropout) {
    self->highest_ext += udelta;
    self->bad_seq = NO_BAD_SEQ;
    *ext_seq = self->highest_ext;
    return CHORUS_RTP_SEQ_NEWER;
  }
  if (udelta <= 0x10000u - self->max_misorder) {
    /* Too far either way. A.1: if the sender really restarted, the next
     * packet follows this one; until then this one is not counted. */
    if (seq == self->bad_seq)
      return start_at(self, seq, ext_seq, CHORUS_RTP_SEQ_RESTART);
    self->bad_seq = (guint16)(seq + 1);
    return CHORUS_RTP_SEQ_JUMP;
  }
  *ext_seq = self->highest_ext - (gint64)(0x10000u - udelta);
  return CHORUS_RTP_SEQ_OLDER;
}
