/* Simulcast layer selection for one downtrack: which of the publisher's
 * layers is forwarded, when a switch happens, and which layer to target
 * when the wanted one stops flowing. Sans-IO: fed with each packet's layer
 * and keyframe flag, and with per-layer last-packet times and `now_us`;
 * returns decisions that the caller applies (forward, rebase the rewrite,
 * ask the publisher for a keyframe).
 *
 * Rules:
 * - Video forwards nothing until a keyframe (a new downtrack, or one that
 *   must restart), so a subscriber never gets undecodable deltas.
 * - A switch happens on the first keyframe of the target layer (audio and
 *   other non-video: on its first packet); until then the current layer
 *   keeps flowing, and the target's packets ask for a keyframe.
 * - The target is the best layer that flows (a packet within
 *   CHORUS_SIMULCAST_LAYER_ALIVE_US) at or below the wanted one, else the
 *   lowest flowing one above it: a stopped layer falls back, a returning
 *   one is taken again. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A layer counts as flowing when its last packet came within this. */
#define CHORUS_SIMULCAST_LAYER_ALIVE_US (1500 * 1000)

typedef enum {
  CHORUS_SIMULCAST_FORWARD,               /* the current layer: forward */
  CHORUS_SIMULCAST_SWITCH_AND_FORWARD,    /* a new sequence starts here (switch done, or the
                                           * keyframe that ended a wait): rebase, forward */
  CHORUS_SIMULCAST_DROP,                  /* not forwarded (another layer) */
  CHORUS_SIMULCAST_DROP_REQUEST_KEYFRAME, /* the target layer flows, no keyframe yet: ask
                                           * for one on the packet's layer */
  CHORUS_SIMULCAST_DROP_WAITING_KEYFRAME, /* the current layer, but it waits for a keyframe:
                                           * ask (again) on the packet's layer */
} ChorusSimulcastDecision;

/* Plain struct, embedded in the downtrack (no allocation). Callers read
 * `layer` and `target_layer`; they change only through the functions. */
typedef struct {
  guint layer;            /* forwarded now */
  guint target_layer;     /* switch target; == layer when no switch is pending */
  gboolean need_keyframe; /* forward nothing until a keyframe of `layer` */
  gboolean video;         /* switches wait for a keyframe */
} ChorusSimulcastSelector;

/* Starts on @layer. @need_keyframe: wait for a keyframe before forwarding
 * (video whose keyframes the caller can detect). */
void chorus_simulcast_selector_init(ChorusSimulcastSelector *self, guint layer, gboolean video,
                                    gboolean need_keyframe);

/* A packet of @layer (@keyframe: it starts a keyframe) reached this
 * downtrack: what to do with it. */
ChorusSimulcastDecision chorus_simulcast_selector_handle_packet(ChorusSimulcastSelector *self,
                                                                guint layer, gboolean keyframe);

/* The subscriber asked for @layer. Returns TRUE when that starts a switch
 * (it is not the current layer): ask the publisher for a keyframe on it.
 * Asking for the current layer cancels a pending switch. */
gboolean chorus_simulcast_selector_set_target(ChorusSimulcastSelector *self, guint layer);

/* The forwarded stream must restart from a keyframe (video resumed after a
 * pause). Callers only use it where keyframes can be detected. */
void chorus_simulcast_selector_wait_keyframe(ChorusSimulcastSelector *self);

/* The layer to forward given the @want'ed one and each layer's last packet
 * time (@last_packet_us[0..n_layers), 0 = never): the best flowing layer at
 * or below @want, else the lowest flowing one above; -1 when none flows. */
int chorus_simulcast_choose_layer(guint want, guint n_layers, const gint64 *last_packet_us,
                                  gint64 now_us);

/* Retargets to chorus_simulcast_choose_layer(). Returns TRUE when the
 * target changed: ask the publisher for a keyframe on `target_layer`.
 * Nothing flowing leaves the target as it is. */
gboolean chorus_simulcast_selector_check_layers(ChorusSimulcastSelector *self, guint want,
                                                guint n_layers, const gint64 *last_packet_us,
                                                gint64 now_us);

G_END_DECLS
