/* Media: the PeerConnections of a room's participants and the forwarding of
 * their RTP between them, as seen from the main thread.
 *
 * Threading: every function here is called on the MAIN thread. Each room's
 * media state lives on the room's worker: these functions post owned
 * messages to it (chorus_worker_invoke) and their results and events come
 * back to the main thread the same way. Nothing is shared between the two
 * sides but those messages and an atomically refcounted link.
 *
 * The forwarding here is the transport issue's relay: each published
 * stream (one simulcast layer per subscriber) goes to its subscribers with
 * SSRC, payload type and header-extension ids rewritten, keyframe requests
 * passed upstream (throttled). The forwarding engine (NACK/RTX, reports,
 * layer switching, BWE) builds on these objects. */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "core/config.h"
#include "core/worker.h"

G_BEGIN_DECLS

typedef struct _ChorusMediaEngine ChorusMediaEngine;
typedef struct _ChorusMediaRoom ChorusMediaRoom;

typedef enum {
  CHORUS_MEDIA_PUBLISHER = 0,
  CHORUS_MEDIA_SUBSCRIBER,
} ChorusMediaTarget;

const char *chorus_media_target_to_string(ChorusMediaTarget target);
gboolean chorus_media_target_from_string(const char *s, ChorusMediaTarget *out);

/* Process-wide: the DTLS certificate and context, the ICE settings. */
ChorusMediaEngine *chorus_media_engine_new(const ChorusConfig *config, /* borrowed, outlives */
                                           GError **error);
void chorus_media_engine_free(ChorusMediaEngine *engine);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusMediaEngine, chorus_media_engine_free)
const char *chorus_media_engine_get_fingerprint(ChorusMediaEngine *engine);

/* Adds packet-path counters (summed over rooms at scrape time) to /metrics. */
void chorus_media_engine_register_metrics(ChorusMediaEngine *engine);

typedef struct {
  /* A subscriber offer for @participant: {participant, sdp, version, tracks}
   * (the `offer` notification's params without "to"). Borrowed. */
  void (*offer)(gpointer user_data, const char *participant, json_t *params);
  /* A server ICE candidate for one of @participant's PeerConnections
   * (NULL = end of candidates). Comes after the SDP it belongs to. */
  void (*trickle)(gpointer user_data, const char *participant, ChorusMediaTarget target,
                  const char *candidate, const char *mid);
  /* A PeerConnection failed or was closed (@reason says why); its media
   * objects are gone (tracks of a failed publisher are unpublished through
   * track_gone). */
  void (*peer_closed)(gpointer user_data, const char *participant, ChorusMediaTarget target,
                      const char *reason);
  /* A published track went away without unpublish (its publisher PC
   * failed). */
  void (*track_gone)(gpointer user_data, const char *participant, const char *track);
  /* Voice rooms: the active speakers changed (at most every 200 ms):
   * [{participant, level 0..1}], loudest first. Borrowed. */
  void (*speakers)(gpointer user_data, json_t *speakers);
  /* Tracks became subscribable without a publish in this room (a PK
   * relay from a linked room is ready): re-send subscriptions. */
  void (*tracks_changed)(gpointer user_data);
} ChorusMediaRoomCallbacks;

/* @callbacks run on the main thread until chorus_media_room_free(). */
ChorusMediaRoom *chorus_media_room_new(ChorusMediaEngine *engine, ChorusWorker *worker,
                                       const char *room_name,
                                       const ChorusMediaRoomCallbacks *callbacks,
                                       gpointer user_data);
/* Tears the worker side down (PeerConnections closed). No callback after. */
void chorus_media_room_free(ChorusMediaRoom *room);

/* Voice rooms: every subscriber receives audio on @slots fixed audio
 * m-lines carrying the loudest speakers (never their own voice), and the
 * room reports active speakers. 0 turns it off (the default: one m-line
 * per audio track). Set it before anyone subscribes. */
#define CHORUS_MEDIA_MAX_AUDIO_SLOTS 16
/* PK: track @track of @src's room (published by @publisher) is forwarded
 * into @dst's room as well, where it can be subscribed to by its id.
 * Packets cross from @src's worker to @dst's through a bounded queue. */
void chorus_media_relay_add(ChorusMediaRoom *dst, ChorusMediaRoom *src, const char *track,
                            const char *publisher);
void chorus_media_relay_remove(ChorusMediaRoom *dst, ChorusMediaRoom *src, const char *track);
void chorus_media_room_set_audio_slots(ChorusMediaRoom *room, guint slots);

/* Completion of an asynchronous request, on the main thread: @result (a new
 * reference the callee may keep) on success, else @error (borrowed). */
typedef void (*ChorusMediaDone)(gpointer user_data, json_t *result, const GError *error);

/* `publish`: answers the offer of @participant's publisher PC (created on
 * the first call; a later offer renegotiates or restarts ICE). Result:
 * {sdp, tracks: [{track, mid, kind, simulcast: [rid...]}]} listing every
 * track now published by this PC; "new_tracks" lists those new with this
 * offer, "removed_tracks" the ids of m-lines the offer stopped. Errors:
 * -32010 with a reason. */
void chorus_media_publish(ChorusMediaRoom *room, const char *participant, const char *sdp,
                          ChorusMediaDone done, gpointer user_data);

/* `unpublish`: stops forwarding @track (its subscribers are renegotiated by
 * the caller through chorus_media_subscribe_set). -32004 unknown track. */
void chorus_media_unpublish(ChorusMediaRoom *room, const char *participant, const char *track,
                            ChorusMediaDone done, gpointer user_data);

/* `trickle` from the client. @candidate NULL = end of candidates. */
void chorus_media_trickle(ChorusMediaRoom *room, const char *participant, ChorusMediaTarget target,
                          const char *candidate, const char *ufrag, ChorusMediaDone done,
                          gpointer user_data);

/* The full set of tracks @participant should receive now, each with a
 * quality ("low"|"medium"|"high"|"auto"). Creates the subscriber PC on first
 * use and sends an offer (callbacks->offer) when the set changed and no
 * offer is outstanding; else the change goes into the next offer. */
typedef struct {
  const char *track;
  const char *quality; /* NULL = auto */
  gboolean paused;
} ChorusMediaSubscription;
void chorus_media_subscribe_set(ChorusMediaRoom *room, const char *participant,
                                const ChorusMediaSubscription *subs, guint n_subs);

/* `subscription.update` for one track. -32004 when not subscribed. */
void chorus_media_subscription_update(ChorusMediaRoom *room, const char *participant,
                                      const char *track, const char *quality, int paused,
                                      ChorusMediaDone done, gpointer user_data);

/* `answer` to the outstanding subscriber offer. @version 0 = not given.
 * -32009 when no offer is outstanding or the version differs; -32010 for a
 * bad answer. */
void chorus_media_answer(ChorusMediaRoom *room, const char *participant, const char *sdp,
                         guint64 version, ChorusMediaDone done, gpointer user_data);

/* `ice.restart`: new credentials on the subscriber PC and a new offer.
 * -32004 when there is no subscriber PC. */
void chorus_media_ice_restart(ChorusMediaRoom *room, const char *participant,
                              ChorusMediaDone done, gpointer user_data);

/* Muted tracks are not forwarded (track.mute, voice.mute). */
void chorus_media_track_set_muted(ChorusMediaRoom *room, const char *track, gboolean muted);

/* The participant left: close its PeerConnections, drop its tracks and
 * downtracks. */
void chorus_media_participant_remove(ChorusMediaRoom *room, const char *participant);

G_END_DECLS
