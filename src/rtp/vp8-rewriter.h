/* VP8 payload-descriptor rewriting (RFC 7741) for a downtrack: picture ID
 * and TL0PICIDX continue without jumps when the forwarded stream changes
 * (simulcast layer switch, publisher restart), because receivers
 * (libwebrtc's frame reference finder) use them to order frames and to
 * find references, and treat a picture ID that goes backwards as old.
 * Sans-IO: the payload is rewritten in place. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gboolean started;
  gboolean rebase;        /* the next packet starts a new source sequence */
  guint16 pid_offset;     /* out = in + offset, mod 2^15 (or 2^7) */
  guint8 tl0_offset;
  guint16 last_pid;       /* last written, 15-bit */
  guint8 last_tl0;
} ChorusVp8Rewriter;

void chorus_vp8_rewriter_init(ChorusVp8Rewriter *self);

/* The next packet comes from another source sequence (call at a layer
 * switch / rebase): its picture continues from the last one written. */
void chorus_vp8_rewriter_rebase(ChorusVp8Rewriter *self);

/* Rewrites the picture ID and TL0PICIDX of @payload (an RTP payload with a
 * VP8 descriptor) in place. FALSE for a payload too short to hold what its
 * descriptor announces (left untouched). Payloads without the fields pass
 * unchanged. */
gboolean chorus_vp8_rewriter_rewrite(ChorusVp8Rewriter *self, guint8 *payload, gsize len);

/* Stateless: adds @pid_offset / @tl0_offset to the descriptor's fields (a
 * retransmission rewritten with the offsets it was first sent with). */
gboolean chorus_vp8_apply_offsets(guint8 *payload, gsize len, guint16 pid_offset,
                                  guint8 tl0_offset);

G_END_DECLS
