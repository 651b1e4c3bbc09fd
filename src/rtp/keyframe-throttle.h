/* Keyframe-request (PLI) throttling for one publisher stream (one simulcast
 * layer): at most one request per interval. A request inside the interval
 * is deferred, never dropped: a viewer that joins right after another still
 * needs its keyframe, and some publishers send none unasked. Sans-IO: fed
 * with `now_us`; the caller sends the PLI when told to.
 *
 * Strict: no request ever goes out less than the interval after the
 * previous one, whoever asks (a subscriber's PLI, a starting subscriber, a
 * simulcast switch, a NACK give-up). A keyframe costs the publisher a burst
 * of bits, and libwebrtc ignores requests that come within ~300 ms of its
 * last keyframe anyway. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "At most one per layer per 500 ms" (issue #5). */
#define CHORUS_KEYFRAME_THROTTLE_INTERVAL_US (500 * 1000)

typedef enum {
  CHORUS_KEYFRAME_REQUEST_SEND,     /* send a PLI now (counted as sent at now_us) */
  CHORUS_KEYFRAME_REQUEST_DEFERRED, /* within the interval: poll says when it is due */
} ChorusKeyframeRequestVerdict;

/* Plain struct, embedded (no allocation); fields are private. */
typedef struct {
  gint64 interval_us;
  gint64 last_sent_us;
  gboolean sent_any;
  gboolean pending; /* asked within the interval: due when it ends */
} ChorusKeyframeThrottle;

void chorus_keyframe_throttle_init(ChorusKeyframeThrottle *self, gint64 interval_us);

/* Someone wants a keyframe at @now_us. SEND: the caller sends the request
 * now. DEFERRED: one went out less than the interval ago; this one is
 * remembered (several deferred requests make one). */
ChorusKeyframeRequestVerdict chorus_keyframe_throttle_request(ChorusKeyframeThrottle *self,
                                                              gint64 now_us);

/* TRUE when a deferred request is due at @now_us: the caller sends it now
 * (counted as sent at @now_us). FALSE otherwise. */
gboolean chorus_keyframe_throttle_poll(ChorusKeyframeThrottle *self, gint64 now_us);

/* When the deferred request becomes due; G_MAXINT64 when none is pending. */
gint64 chorus_keyframe_throttle_next_deadline_us(const ChorusKeyframeThrottle *self);

/* A request is waiting for the interval to end. */
gboolean chorus_keyframe_throttle_is_pending(const ChorusKeyframeThrottle *self);

G_END_DECLS
