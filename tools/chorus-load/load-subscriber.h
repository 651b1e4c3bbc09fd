/* LoadSubscriber: the subscriber PeerConnection of one synthetic
 * participant. Chorus offers (actpass, controlling ICE); we answer recvonly
 * with a=setup:active (the DTLS client, as browsers do) using Chorus's own
 * answerer, and measure every authenticated RTP packet per SSRC
 * (load-stats.h): packets, loss, jitter, video frames, freezes, keyframes.
 *
 * Threading: one chorus-load thread. */
#pragma once

#include <glib.h>

#include "load.h"

G_BEGIN_DECLS

typedef struct _LoadSubscriber LoadSubscriber;

typedef struct {
  void (*state_changed)(LoadSubscriber *sub, ChorusPeerState state, const char *reason,
                        gpointer user_data);
  /* A local candidate found after the first answer ("candidate:..."), or
   * NULL at the end of gathering: trickle it. */
  void (*local_candidate)(LoadSubscriber *sub, const char *candidate, const char *ufrag,
                          gpointer user_data);
} LoadSubscriberCallbacks;

LoadSubscriber *load_subscriber_new(const LoadShared *shared, GMainContext *context,
                                    const LoadSubscriberCallbacks *callbacks, gpointer user_data);
void load_subscriber_free(LoadSubscriber *sub);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LoadSubscriber, load_subscriber_free)

/* Answers one offer of Chorus (the first creates the PeerConnection).
 * Returns the answer SDP. (transfer full) */
char *load_subscriber_handle_offer(LoadSubscriber *sub, const char *offer, GError **error);

gboolean load_subscriber_add_remote_candidate(LoadSubscriber *sub, const char *candidate,
                                              const char *ufrag, GError **error);

/* Ends the measurement (trailing freezes); later packets still count. */
void load_subscriber_finish(LoadSubscriber *sub, gint64 now_us);

/* CHORUS_PEER_STATE_NEW before the first offer. */
ChorusPeerState load_subscriber_get_state(LoadSubscriber *sub);

/* Monotonic time of the first packet of @kind, of any kind with
 * LOAD_KIND_N, of the first video keyframe start; 0 when none yet. */
gint64 load_subscriber_first_packet_us(LoadSubscriber *sub, LoadKind kind);
gint64 load_subscriber_first_keyframe_us(LoadSubscriber *sub);

void load_subscriber_get_totals(LoadSubscriber *sub, LoadRxTotals out[LOAD_KIND_N],
                                guint64 *srtp_failed, guint64 *unknown);
/* Cheap running totals for the progress line. */
void load_subscriber_get_counts(LoadSubscriber *sub, guint64 *packets, guint64 *expected,
                                guint64 *lost);

G_END_DECLS
