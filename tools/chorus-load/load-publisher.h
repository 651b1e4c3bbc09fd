/* LoadPublisher: the publisher PeerConnection of one synthetic participant.
 * It offers (sendonly Opus and/or VP8, optionally VP8 simulcast with rids
 * q/h/f), applies Chorus's answer (Chorus is passive: we are the DTLS
 * client and the controlling ICE agent) and, once connected, sends the
 * shared clips on schedule: RTP with mid, rid, abs-send-time,
 * transport-wide-cc and audio-level extensions, an RTCP sender report per
 * SSRC every second, and the next keyframe of the loop when asked (PLI/FIR).
 *
 * Sans-clock: the owner calls load_publisher_run() at or after
 * load_publisher_next_deadline_us() with the current time.
 * Threading: one chorus-load thread. */
#pragma once

#include <glib.h>

#include "load.h"

G_BEGIN_DECLS

typedef struct _LoadPublisher LoadPublisher;

typedef struct {
  void (*state_changed)(LoadPublisher *pub, ChorusPeerState state, const char *reason,
                        gpointer user_data);
  /* A local candidate found after the offer was made ("candidate:..."), or
   * NULL at the end of gathering: trickle it. */
  void (*local_candidate)(LoadPublisher *pub, const char *candidate, const char *ufrag,
                          gpointer user_data);
} LoadPublisherCallbacks;

LoadPublisher *load_publisher_new(const LoadShared *shared, GMainContext *context, gboolean audio,
                                  gboolean video, const char *cname,
                                  const LoadPublisherCallbacks *callbacks, gpointer user_data,
                                  GError **error);
void load_publisher_free(LoadPublisher *pub);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LoadPublisher, load_publisher_free)

/* Gathers and makes the offer. (transfer full) */
char *load_publisher_create_offer(LoadPublisher *pub, GError **error);

/* Applies Chorus's answer (from the publish result). */
gboolean load_publisher_apply_answer(LoadPublisher *pub, const char *answer, GError **error);

gboolean load_publisher_add_remote_candidate(LoadPublisher *pub, const char *candidate,
                                             const char *ufrag, GError **error);

/* Sends what is due at @now_us (media is sent only while CONNECTED). */
void load_publisher_run(LoadPublisher *pub, gint64 now_us);
/* When run() has work next; G_MAXINT64 when not sending. */
gint64 load_publisher_next_deadline_us(LoadPublisher *pub);
/* Stops sending (end of the run) at @now_us; the PeerConnection stays. */
void load_publisher_stop(LoadPublisher *pub, gint64 now_us);

ChorusPeerState load_publisher_get_state(LoadPublisher *pub);
void load_publisher_get_totals(LoadPublisher *pub, LoadTxTotals *out);

G_END_DECLS
