/* The downtrack rewrite: RTP sequence numbers and timestamps (and VP8
 * picture ID / TL0PICIDX) so that a subscriber sees one continuous stream
 * while what is forwarded to it starts, switches simulcast layers, pauses
 * and resumes, or changes source (the publisher's SSRC).
 *
 * out = in + offset. A new sequence (the first packet; after a rebase; a
 * packet of another layer or SSRC than the last) continues at the last
 * seq sent + 1, with a timestamp advanced from the last one by the wall
 * time that passed, so playout timing stays right. Each new sequence opens
 * a segment in a ring of CHORUS_RTP_MUNGER_SEGMENTS recording the offsets
 * in force from its first output seq on, so a retransmission (NACK) is
 * rewritten again exactly as first sent. A late packet (reordered, or
 * recovered by RTX) is rewritten but never moves the continuity point back.
 *
 * Sans-IO, no allocation: a plain struct embedded in the downtrack; values
 * and `now_us` in, rewritten values out. */
#pragma once

#include <glib.h>

#include "rtp/vp8-rewriter.h"

G_BEGIN_DECLS

#define CHORUS_RTP_MUNGER_SEGMENTS 8

/* From out_start on (until the next segment), out = in + seq_offset. */
typedef struct {
  guint16 out_start;
  guint16 seq_offset;
  guint32 ts_offset;
  guint32 ssrc;           /* the source's SSRC */
  guint16 vp8_pid_offset; /* VP8 picture ID / TL0PICIDX offsets in force */
  guint8 vp8_tl0_offset;
  guint8 layer;
  gboolean used;
} ChorusRtpMungerSegment;

/* Where an output seq came from, and how it was rewritten. */
typedef struct {
  guint layer;
  guint32 ssrc;
  guint16 in_seq;
  guint32 ts_offset; /* out ts = in ts + ts_offset */
  guint16 vp8_pid_offset;
  guint8 vp8_tl0_offset;
} ChorusRtpMungerOrigin;

typedef enum {
  CHORUS_RTP_MUNGER_FORWARD,
  /* A late packet from before the current segment's first one: its output
   * seq was already sent from the previous sequence. Not forwarded. */
  CHORUS_RTP_MUNGER_DROP_LATE,
} ChorusRtpMungerResult;

/* Fields are private: use the functions. */
typedef struct {
  gboolean started;
  gboolean rebase;      /* the next packet starts a new sequence */
  gboolean late;        /* the last packet mapped was late */
  guint16 seq_offset;
  guint32 ts_offset;
  guint16 last_seq;     /* the continuity point: newest output seq ... */
  guint32 last_ts;      /* ... its timestamp ... */
  gint64 last_us;       /* ... and when it was mapped */
  ChorusRtpMungerSegment segments[CHORUS_RTP_MUNGER_SEGMENTS]; /* newest at next - 1 */
  guint segment_next;
  ChorusVp8Rewriter vp8;
} ChorusRtpMunger;

void chorus_rtp_munger_init(ChorusRtpMunger *self);

/* The next packet starts a new sequence (a simulcast switch, a resume, a
 * restart on a keyframe). Before the first packet: nothing to do. */
void chorus_rtp_munger_rebase(ChorusRtpMunger *self);

/* Starts @self as the continuation of another munger's output (a new
 * source on the same outgoing SSRC): the first packet mapped gets
 * @last_seq + 1 and a timestamp advanced by the time since @last_us. */
void chorus_rtp_munger_continue_from(ChorusRtpMunger *self, guint16 last_seq, guint32 last_ts,
                                     gint64 last_us);

/* Maps one packet of @in_ssrc on @layer (@clock_rate: the codec's RTP
 * clock, > 0) forwarded at @now_us to its output seq and timestamp. A
 * change of @layer or @in_ssrc from the last packet starts a new sequence
 * by itself. DROP_LATE: do not send it (outputs untouched). */
ChorusRtpMungerResult chorus_rtp_munger_map(ChorusRtpMunger *self, guint32 in_ssrc,
                                            guint16 in_seq, guint32 in_ts, guint layer,
                                            guint32 clock_rate, gint64 now_us,
                                            guint16 *out_seq, guint32 *out_ts);

/* VP8: rewrites the payload (descriptor) of the packet just mapped, in
 * place, and records the offsets in its segment. FALSE for a truncated
 * descriptor (left untouched). */
gboolean chorus_rtp_munger_rewrite_vp8(ChorusRtpMunger *self, guint8 *payload, gsize len);

/* For a retransmission of @out_seq: where it came from and the offsets it
 * was sent with. FALSE when it was not sent by this munger as far as the
 * segment ring remembers (newer than the last seq sent, or older than the
 * oldest segment kept, or more than 32767 seqs back). */
gboolean chorus_rtp_munger_lookup(const ChorusRtpMunger *self, guint16 out_seq,
                                  ChorusRtpMungerOrigin *origin);

/* For sender reports: a packet was sent; the current timestamp offset
 * (out = in + offset, for the current source); the continuity point. */
gboolean chorus_rtp_munger_is_started(const ChorusRtpMunger *self);
guint32 chorus_rtp_munger_get_ts_offset(const ChorusRtpMunger *self);
guint16 chorus_rtp_munger_get_last_seq(const ChorusRtpMunger *self);
guint32 chorus_rtp_munger_get_last_ts(const ChorusRtpMunger *self);

G_END_DECLS
