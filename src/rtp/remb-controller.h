/* Receiver-side bandwidth estimate for publishers that negotiated only
 * REMB (goog-remb) and not transport-wide CC, e.g. aiortc: without any
 * feedback their encoder stays at its start rate. Loss-based, the way the
 * loss half of Google congestion control works, driven by the loss Chorus
 * measures on what it receives (the fraction lost of its receiver reports):
 * above 10 % loss the estimate drops by half the loss; under 2 % it grows
 * 8 % per update; in between it holds. It never exceeds 1.5 times what
 * actually arrives plus a headroom, so it cannot run away from a sender
 * that is limited by something else (its encoder, its uplink); the first
 * update starts from what arrives if that is more than the start rate. Sans-IO:
 * the caller feeds loss and received bytes once per report interval. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint64 start_bps; /* default 300 kbps */
  guint64 min_bps;   /* default 50 kbps */
  guint64 max_bps;   /* default 2.5 Mbps */
} ChorusRembControllerConfig;

#define CHORUS_REMB_DEFAULT_START_BPS 300000
#define CHORUS_REMB_DEFAULT_MIN_BPS 50000
#define CHORUS_REMB_DEFAULT_MAX_BPS 2500000
#define CHORUS_REMB_HEADROOM_BPS 100000

/* Plain struct, embedded; fields private. */
typedef struct {
  ChorusRembControllerConfig config;
  guint64 estimate_bps;
  guint64 updates;
} ChorusRembController;

void chorus_remb_controller_init(ChorusRembController *self, const ChorusRembControllerConfig *config);

/* One report interval: @fraction_lost as in RFC 3550 report blocks (0..255
 * = 0..100 %), @received_bps what arrived over the interval. Returns the
 * new estimate, the value to send in REMB. */
guint64 chorus_remb_controller_update(ChorusRembController *self, guint8 fraction_lost,
                                      guint64 received_bps);

guint64 chorus_remb_controller_get_estimate(const ChorusRembController *self);

G_END_DECLS
