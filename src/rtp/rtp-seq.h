/* RTP sequence numbers: 16-bit serial-number comparisons, and unwrapping
 * to a 64-bit extended sequence number with the reordering and restart
 * tolerance of RFC 3550 appendix A.1. Sans-IO, no allocation: the
 * unwrapper is a plain struct the owner embeds. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* RFC 3550 A.1 defaults: a jump forward of up to 3000 is loss, a step back
 * of up to 100 is reordering; anything else waits for confirmation. */
#define CHORUS_RTP_SEQ_MAX_DROPOUT 3000
#define CHORUS_RTP_SEQ_MAX_MISORDER 100

/* Signed distance @a - @b in 16-bit serial arithmetic (RFC 1982), in
 * [-32768, 32767]: positive when @a is newer than @b. */
static inline gint
chorus_rtp_seq_diff(guint16 a, guint16 b)
{
  gint d = (gint)(guint16)(a - b);
  return d >= 0x8000 ? d - 0x10000 : d;
}

/* TRUE when @a is newer (later) than @b. Exactly half apart counts as older. */
static inline gboolean
chorus_rtp_seq_is_newer(guint16 a, guint16 b)
{
  return chorus_rtp_seq_diff(a, b) > 0;
}

/* The extended sequence number of @seq nearest to @ref_ext (within
 * -32768..+32767 of it). Stateless: for owners that keep their own highest
 * extended seq and have their own rules for jumps. */
static inline gint64
chorus_rtp_seq_unwrap_near(gint64 ref_ext, guint16 seq)
{
  return ref_ext + chorus_rtp_seq_diff(seq, (guint16)ref_ext);
}

typedef enum {
  CHORUS_RTP_SEQ_FIRST,   /* the first packet: the extended seq starts here */
  CHORUS_RTP_SEQ_NEWER,   /* newer than every packet so far (maybe after a gap) */
  CHORUS_RTP_SEQ_OLDER,   /* not newer than the highest: reordered, late or a duplicate */
  CHORUS_RTP_SEQ_JUMP,    /* too far from the highest: ignored, remembered in case the
                           * stream restarted there (*ext_seq is not set) */
  CHORUS_RTP_SEQ_RESTART, /* follows the previous JUMP packet: the sender restarted its
                           * sequence; the extended seq starts again from this packet */
} ChorusRtpSeqVerdict;

typedef struct {
  gint64 highest_ext; /* extended highest seq; cycles count from 0 at the first packet */
  guint32 bad_seq;    /* seq after an unconfirmed jump; > 0xffff when there is none */
  guint max_dropout;
  guint max_misorder;
  gboolean started;
} ChorusRtpSeqUnwrapper;

/* @max_dropout: a forward step of less than this is loss, not a jump.
 * @max_misorder: a backward step of less than this is reordering, not a
 * jump. Both in packets, 1..32768; 0 picks the RFC 3550 defaults. */
void chorus_rtp_seq_unwrapper_init(ChorusRtpSeqUnwrapper *self, guint max_dropout,
                                   guint max_misorder);

/* Forgets every packet: the next one is FIRST. */
void chorus_rtp_seq_unwrapper_reset(ChorusRtpSeqUnwrapper *self);

/* Classifies @seq and, unless it is a JUMP, writes its extended seq to
 * @ext_seq. The extended seq of an OLDER packet seen right after the first
 * one may be negative (it came before the first). A RESTART starts counting
 * cycles from 0 again at this packet, as RFC 3550 A.1 does. */
ChorusRtpSeqVerdict chorus_rtp_seq_unwrapper_update(ChorusRtpSeqUnwrapper *self, guint16 seq,
                                                    gint64 *ext_seq);

/* The extended highest seq (meaningless before the first packet). */
static inline gint64
chorus_rtp_seq_unwrapper_highest(const ChorusRtpSeqUnwrapper *self)
{
  return self->highest_ext;
}

G_END_DECLS
