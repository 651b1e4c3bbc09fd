/* Bounds Chorus's answers to one subscriber's NACKs (one downtrack).
 * Sans-IO: told about forwarded packets and asked about each NACKed
 * sequence number with `now_us`.
 *
 * Why: a NACK is small and each sequence number in it costs Chorus a
 * full-size resend. Unbounded, one ~1 KB RTCP packet from a subscriber
 * (several NACKs of up to 128 sequence numbers each, the same number
 * repeated as often as the sender likes) made Chorus send hundreds of
 * 1.2 KB packets and do the work for each: an amplifier any subscriber
 * could aim at the worker it shares with everyone else. Two limits:
 * - a sequence number resent less than CHORUS_RESEND_REPEAT_US ago is not
 *   resent again (a repeat within one NACK, or a re-request before the
 *   resend could have arrived: libwebrtc re-requests after an RTT, checked
 *   every 20 ms);
 * - resends cost a token each; a subscriber earns one token per two packets
 *   forwarded to it, up to CHORUS_RESEND_BURST (which it starts with). So
 *   resends stay within half of the stream's packets over time, far above
 *   what real loss asks for (10 % loss on the subscriber's path asks for
 *   about 11 %). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CHORUS_RESEND_REPEAT_US (15 * 1000)
#define CHORUS_RESEND_BURST 64
#define CHORUS_RESEND_RECENT 64 /* sequence numbers remembered (a power of 2) */

typedef enum {
  CHORUS_RESEND_OK,          /* resend it (counted) */
  CHORUS_RESEND_REPEATED,    /* resent less than CHORUS_RESEND_REPEAT_US ago */
  CHORUS_RESEND_OVER_BUDGET, /* no token left */
} ChorusResendVerdict;

/* Plain struct, embedded (no allocation); fields are private. */
typedef struct {
  gint32 half_tokens; /* tokens x 2 */
  struct {
    guint16 seq;
    gboolean used;
    gint64 at_us;
  } recent[CHORUS_RESEND_RECENT];
} ChorusResendLimiter;

void chorus_resend_limiter_init(ChorusResendLimiter *self);

/* A packet was forwarded to the subscriber on this downtrack. */
void chorus_resend_limiter_forwarded(ChorusResendLimiter *self);

/* The subscriber NACKed @seq (the downtrack's own numbering) at @now_us. */
ChorusResendVerdict chorus_resend_limiter_check(ChorusResendLimiter *self, guint16 seq,
                                                gint64 now_us);

G_END_DECLS
