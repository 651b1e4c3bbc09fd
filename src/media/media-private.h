/* Internal to src/media: the worker-side objects. Everything here is
 * confined to the room's worker thread, except ChorusMediaLink (atomic
 * refcount; `alive` read and written on the main thread only) and the
 * engine's counters (relaxed atomics, added once per second per room). */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "media/media.h"
#include "rtp/keyframe.h"
#include "rtp/keyframe-throttle.h"
#include "rtp/nack-generator.h"
#include "rtp/receive-stats.h"
#include "rtp/remb-controller.h"
#include "rtp/resend-limiter.h"
#include "rtp/rtp-packet.h"
#include "rtp/audio-slots.h"
#include "rtp/speaker-detector.h"
#include "rtp/rtp-munger.h"
#include "rtp/simulcast-selector.h"
#include "rtp/rtcp-twcc.h"
#include "rtp/twcc-recorder.h"
#include "webrtc/peer.h"
#include "webrtc/sdp.h"

G_BEGIN_DECLS

#define MEDIA_MAX_LAYERS 3
/* The Opus parameters every subscriber offer carries (see uptrack_apply). */
#define MEDIA_OPUS_FMTP "minptime=10;useinbandfec=1"
#define MEDIA_PKT_BYTES 1536

typedef enum {
  MEDIA_COUNTER_RTP_IN,
  MEDIA_COUNTER_RTP_FORWARDED,
  MEDIA_COUNTER_RTCP_IN,
  MEDIA_COUNTER_RTP_UNMATCHED,       /* RTP of no known track (dropped) */
  MEDIA_COUNTER_RTP_MALFORMED,
  MEDIA_COUNTER_RTX_DROPPED,         /* publisher RTX: no NACKs sent yet */
  MEDIA_COUNTER_SRTP_FAILED,         /* unprotect failures (auth, replay) */
  MEDIA_COUNTER_UNKNOWN_DATAGRAMS,   /* neither DTLS nor RTP/RTCP */
  MEDIA_COUNTER_DTLS_GARBAGE,
  MEDIA_COUNTER_SEND_FAILED,
  MEDIA_COUNTER_KEYFRAME_REQUESTS,   /* PLIs sent to publishers */
  MEDIA_COUNTER_WAITING_KEYFRAME,    /* video not forwarded while a downtrack waits for a keyframe */
  MEDIA_COUNTER_KEYFRAME_REPLAYS,    /* subscribers started from a ring's fresh keyframe */
  MEDIA_COUNTER_TWCC_FEEDBACK,       /* transport-wide CC feedback packets sent to publishers */
  MEDIA_COUNTER_NACKS_SENT,          /* seqs asked again from publishers */
  MEDIA_COUNTER_RTX_RECOVERED,       /* publisher retransmissions unwrapped and used */
  MEDIA_COUNTER_NACKS_RECEIVED,      /* seqs subscribers asked again */
  MEDIA_COUNTER_RETRANSMITTED,       /* answered from the ring (RTX or plain) */
  MEDIA_COUNTER_RETRANSMIT_MISSED,   /* asked for but no longer (or never) held */
  MEDIA_COUNTER_RETRANSMIT_LIMITED,  /* NACKed, not resent: repeated or over budget */
  MEDIA_COUNTER_PEERS_FAILED,
  MEDIA_COUNTER_REMB_SENT,           /* REMB estimates sent to publishers without transport-wide CC */
  MEDIA_COUNTER_RELAY_DROPPED,       /* PK: packets a full cross-room queue could not take */
  MEDIA_COUNTER_N_
} MediaCounter;

/* Forwarding delay (the kernel's receipt of a publisher's packet -> handed
 * to the kernel for one subscriber), by kind, histogram upper bounds in us;
 * the last bucket is +Inf. The time a packet waited in the socket counts. */
#define MEDIA_DELAY_BUCKETS 19
enum { MEDIA_DELAY_AUDIO, MEDIA_DELAY_VIDEO };
extern const gint64 media_delay_bounds_us[MEDIA_DELAY_BUCKETS - 1];

struct _ChorusMediaEngine {
  const ChorusConfig *config;
  ChorusPeerConfig peer_config;
  guint test_publisher_loss_permille;  /* CHORUS_TEST_PUBLISHER_LOSS_PCT */
  guint test_subscriber_loss_permille; /* CHORUS_TEST_SUBSCRIBER_LOSS_PCT */
  char **local_addresses;
  gint64 counters[MEDIA_COUNTER_N_]; /* atomics */
  gint peers_connected;              /* atomic gauge */
  /* By kind (MEDIA_DELAY_AUDIO/_VIDEO). */
  gint64 delay_buckets[2][MEDIA_DELAY_BUCKETS]; /* atomics, not cumulative */
  gint64 delay_sum_us[2];                       /* atomic */
};

typedef struct {
  gint refcount; /* atomic */
  gboolean alive; /* main thread only */
  ChorusMediaRoomCallbacks cb;
  gpointer user_data;
} MediaLink;

MediaLink *media_link_ref(MediaLink *link);
void media_link_unref(MediaLink *link);

/* The last packets of one video layer as received (plaintext), indexed by
 * seq % MEDIA_RING_SLOTS. Two uses: a subscriber that connects starts at
 * once from a keyframe that arrived a moment earlier (requested when its
 * answer came); and subscribers' NACKs are answered from it, rewritten
 * again for that subscriber (the rewrite is deterministic: one copy per
 * publisher layer instead of one history per subscriber). */
#define MEDIA_RING_SLOTS 512
typedef struct {
  gint64 arrival_us; /* 0: empty */
  guint16 len;
  guint16 seq;
  gboolean keyframe;
  guint8 data[MEDIA_PKT_BYTES];
} MediaRingSlot;

typedef struct {
  MediaRingSlot slots[MEDIA_RING_SLOTS];
  gboolean any;
  guint16 newest; /* highest seq stored (wrap-aware) */
} MediaRing;

typedef struct _MediaRoom MediaRoom;
typedef struct _MediaPart MediaPart;
typedef struct _Uptrack Uptrack;
typedef struct _Downtrack Downtrack;
typedef struct _MediaVoice MediaVoice;
typedef struct _MediaRelay MediaRelay;

struct _Uptrack {
  char *id;
  MediaPart *owner;
  char *mid;
  ChorusSdpKind kind;
  ChorusSdpPayload *codec;
  ChorusRtpCodec rtp_codec;            /* for keyframe detection */
  /* One keyframe start per picture: an encoder that repeats SPS/PPS before
   * each slice of an H264 IDR would otherwise start a subscriber at its
   * second slice. */
  ChorusRtpKeyframeTracker kf[MEDIA_MAX_LAYERS];
  MediaRing *rings[MEDIA_MAX_LAYERS];  /* video layers only */
  gint rtx_pt;
  gint red_pt;
  guint8 ext_ids[CHORUS_SDP_EXT_COUNT];
  guint n_layers;                      /* 1 without simulcast */
  char *rids[MEDIA_MAX_LAYERS];        /* NULL without simulcast */
  guint32 ssrcs[MEDIA_MAX_LAYERS];     /* learned or signalled; 0 = unknown */
  guint32 rtx_ssrcs[MEDIA_MAX_LAYERS];
  ChorusKeyframeThrottle pli[MEDIA_MAX_LAYERS]; /* keyframe requests (PLI) per layer */
  ChorusNackGenerator *nacks[MEDIA_MAX_LAYERS]; /* video layers: NACKs to the publisher */
  /* RTCP termination: what Chorus reports to the publisher (RR), and the
   * publisher's last SR per layer, mapped for each subscriber's SR. */
  ChorusRtpReceiveStats *rx[MEDIA_MAX_LAYERS]; /* made at the layer's first packet */
  guint64 sr_ntp[MEDIA_MAX_LAYERS];
  guint32 sr_rtp[MEDIA_MAX_LAYERS];
  gint64 sr_arrival_us[MEDIA_MAX_LAYERS];     /* 0: no SR yet */
  gint64 last_packet_us[MEDIA_MAX_LAYERS];
  gboolean muted;
  GPtrArray *downtracks;               /* Downtrack * (borrowed; owned by subscribers) */
  guint32 speaker_id;                  /* voice rooms, audio: id in the speaker detector; 0: none */
  MediaRelay *relay;                   /* PK: this uptrack is another room's track, fed by a relay */
  GPtrArray *relays;                   /* PK: relays this track feeds into other rooms, or NULL */
};

struct _Downtrack {
  Uptrack *up;                         /* NULL once the uptrack is gone */
  MediaPart *sub;
  char *track_id;
  char *publisher_id;
  char *mid;                           /* in the subscriber's SDP; NULL before an offer */
  guint32 ssrc;
  guint8 pt;
  gboolean negotiated;                 /* the answer accepted its m-line */
  gboolean paused;                     /* change with media_downtrack_set_paused */
  ChorusSimulcastSelector sel;         /* the layer forwarded, switches, keyframe waits */
  guint8 ext_map[256];
  ChorusRtpMunger munger;              /* seq/ts (and VP8 picture ID) continuity */
  guint32 packets_sent;                /* for SRs */
  guint32 octets_sent;
  guint32 rtx_ssrc;
  gint rtx_pt;                         /* negotiated with the subscriber; -1: plain resends */
  gint red_pt;                         /* audio RED negotiated with the subscriber; -1: none */
  guint16 rtx_seq;
  ChorusResendLimiter resends;         /* bounds answers to the subscriber's NACKs */
  char *quality;
  /* Voice rooms: the audio slot this downtrack is (-1: an ordinary
   * downtrack of one track); its `up` changes with the loudest speakers. */
  gint slot;
  guint8 sub_ext_ids[CHORUS_SDP_EXT_COUNT]; /* as negotiated in the subscriber's SDP */
};

typedef struct {
  char *track;
  char *quality;
  int paused;
} MediaSub;

struct _MediaPart {
  MediaRoom *room;
  char *id;
  ChorusPeer *pub;
  ChorusPeerStats pub_seen;            /* part of pub's stats already counted */
  gboolean pub_connected;              /* counted in engine->peers_connected */
  guint64 pub_session_id;
  /* Transport-wide CC feedback to the publisher (so that its send-side
   * estimator ramps up): arrivals recorded per packet, fed back by the
   * room's tick. NULL when the publisher did not negotiate it. */
  ChorusTwccRecorder *twcc;
  ChorusRtcpTwccBuilder twcc_builder;
  guint8 twcc_ext_id;                  /* one id for the whole BUNDLE (checked at publish) */
  /* REMB instead, for publishers that offered goog-remb and not
   * transport-wide CC (aiortc): a loss-based estimate once a second. */
  gboolean remb_enabled;
  ChorusRembController remb;
  guint64 remb_bytes;                  /* received since the last REMB */
  gint64 remb_last_us;
  guint64 pub_version;
  GPtrArray *uptracks;                 /* Uptrack * (owned) */
  ChorusPeer *sub;
  ChorusPeerStats sub_seen;
  gboolean sub_connected;
  ChorusSdpOfferer *offerer;
  GPtrArray *downtracks;               /* Downtrack * (owned), in offer order */
  gboolean offer_dirty;
  gboolean sub_restart_pending;
  gboolean relay_part;                 /* PK: stands for a participant of the linked room (no PCs) */
  /* Where downtracks that went left their SSRC's sequence: a later track
   * on the same (recycled) m-line keeps the SSRC and continues from here. */
  struct {
    guint32 ssrc;
    guint16 last_seq;
    guint32 last_ts;
    gint64 last_us;
    guint16 rtx_seq;
  } retired[8];
  guint retired_next;
  ChorusAudioSlots slots;              /* voice rooms: slot -> speaker id */
  Downtrack *slot_downtracks[CHORUS_AUDIO_SLOTS_MAX]; /* borrowed from downtracks */
};

struct _MediaRoom {
  ChorusMediaEngine *engine;
  GMainContext *context;
  MediaLink *link;
  char *name;
  GHashTable *parts;                   /* id -> MediaPart * (owned) */
  GHashTable *tracks;                  /* id -> Uptrack * (borrowed from parts) */
  guint32 rtcp_ssrc;
  gint64 counters[MEDIA_COUNTER_N_];   /* since the last flush to the engine */
  gint64 delay_buckets[2][MEDIA_DELAY_BUCKETS]; /* ... and the forwarding delays */
  gint64 delay_sum_us[2];
  /* While a publisher's packet is being handled: when the kernel received
   * it (0 otherwise: delays count from the forwarding call's now_us). */
  gint64 packet_arrival_us;
  ChorusWorker *worker;
  MediaVoice *voice;                   /* voice rooms (audio slots set); NULL otherwise */
  gint64 last_reports_us;
  GPtrArray *teardowns;                /* pending teardown sources (destroyed with the room) */
  guint ticker_id;                     /* the worker's timer calls media_room_tick */
  gint64 last_flush_us;
  guint8 out[MEDIA_PKT_BYTES];         /* per-room scratch for rewritten packets */
  guint8 out2[MEDIA_PKT_BYTES];        /* ... for RTX-wrapped resends */
  guint8 unwrapped[MEDIA_PKT_BYTES];   /* ... for publisher RTX unwrapped */
};

/* media-worker.c */
MediaRoom *media_room_new(ChorusMediaEngine *engine, GMainContext *context, MediaLink *link,
                          const char *name);
void media_room_free(MediaRoom *room);
json_t *media_publish(MediaRoom *room, const char *participant, const char *sdp, GError **error);
gboolean media_unpublish(MediaRoom *room, const char *participant, const char *track,
                         GError **error);
gboolean media_trickle(MediaRoom *room, const char *participant, ChorusMediaTarget target,
                       const char *candidate, const char *ufrag, GError **error);
void media_subscribe_set(MediaRoom *room, const char *participant, GArray *subs /* MediaSub */);
gboolean media_subscription_update(MediaRoom *room, const char *participant, const char *track,
                                   const char *quality, int paused, GError **error);
gboolean media_answer(MediaRoom *room, const char *participant, const char *sdp,
                      guint64 version, GError **error);
gboolean media_ice_restart(MediaRoom *room, const char *participant, GError **error);
void media_track_set_muted(MediaRoom *room, const char *track, gboolean muted);
void media_participant_remove(MediaRoom *room, const char *participant);

/* Events to the main thread (media-room.c). */
void media_emit_offer(MediaRoom *room, const char *participant, json_t *params /* transfer full */);
void media_emit_trickle(MediaRoom *room, const char *participant, ChorusMediaTarget target,
                        const char *candidate, const char *mid);
void media_emit_peer_closed(MediaRoom *room, const char *participant, ChorusMediaTarget target,
                            const char *reason);
void media_emit_track_gone(MediaRoom *room, const char *participant, const char *track);
void media_emit_speakers(MediaRoom *room, json_t *speakers /* transfer full */);
/* The room's set of subscribable tracks changed without a publish (a PK
 * relay got its description): the main thread re-sends subscriptions. */
void media_emit_tracks_changed(MediaRoom *room);

/* media-worker.c */
MediaPart *media_part_get(MediaRoom *room, const char *id, gboolean create);
Downtrack *media_downtrack_new(MediaPart *sub, Uptrack *up, const char *quality);
/* The header extensions passed from @d's uptrack, mapped to the ids the
 * subscriber negotiated (d->sub_ext_ids). */
void media_downtrack_build_ext_map(Downtrack *d);

/* media-voice.c: voice rooms (active speakers, audio slots). */
void media_voice_set_slots(MediaRoom *room, guint n_slots);
void media_voice_free(MediaVoice *voice);
void media_voice_uptrack_added(MediaRoom *room, Uptrack *up);
void media_voice_uptrack_removed(MediaRoom *room, Uptrack *up);
void media_voice_set_muted(MediaRoom *room, Uptrack *up);
void media_voice_handle_packet(Uptrack *up, const ChorusRtpPacket *pkt, gint64 now_us);
/* Gives @part its slot downtracks at its first subscribe; TRUE if made. */
gboolean media_voice_subscribe(MediaPart *part);
void media_voice_tick(MediaRoom *room, gint64 now_us);
const ChorusSdpPayload *media_voice_slot_codec(MediaRoom *room);

/* media-relay.c: PK relays between rooms (and worker threads). */
MediaRelay *media_relay_new(const char *track_id, const char *publisher_id, gpointer dst_handle,
                            GMainContext *src_context, GMainContext *dst_context);
MediaRelay *media_relay_ref(MediaRelay *relay);
void media_relay_unref(MediaRelay *relay);
void media_relay_attach_source(MediaRoom *room, MediaRelay *relay /* transfer full */);
void media_relay_detach_source(MediaRoom *room, const char *track_id, gpointer dst_handle);
void media_relay_attach_destination(MediaRoom *room, MediaRelay *relay /* transfer full */);
void media_relay_remove_destination(MediaRoom *room, const char *track_id);
void media_relay_source_gone(Uptrack *up);
void media_relay_destination_gone(Uptrack *up);
void media_relay_push(Uptrack *up, const guint8 *buf, gsize len, guint layer);
void media_relay_request_keyframe(MediaRelay *relay, guint layer);

/* media-forward.c: the packet path. */
/* A packet of @up (already matched, unwrapped) to its ring, its
 * subscribers and its relays. */
void media_uptrack_forward(Uptrack *up, const ChorusRtpPacket *pkt, const guint8 *buf, gsize len,
                           guint layer, gint64 now_us);
void media_forward_publisher_rtp(MediaPart *part, guint8 *buf, gsize len, gint64 now_us);
void media_forward_publisher_rtcp(MediaPart *part, guint8 *buf, gsize len, gint64 now_us);
void media_forward_subscriber_rtcp(MediaPart *part, guint8 *buf, gsize len, gint64 now_us);
/* Due feedback (transport-wide CC, NACKs) to @part's publisher
 * PeerConnection (room tick). */
void media_publisher_feedback(MediaPart *part, gint64 now_us);
/* Receiver reports to @part's publisher and sender reports to its
 * subscriber PeerConnection (room tick, about once a second). */
void media_reports(MediaPart *part, gint64 now_us);
/* Asks @up's publisher for a keyframe on @layer (PLI), at most one per
 * layer per CHORUS_KEYFRAME_THROTTLE_INTERVAL_US; a request inside the
 * interval is sent when it ends. */
void media_request_keyframe(Uptrack *up, guint layer, gint64 now_us);
/* A video downtrack that needs a keyframe to start (new, or its subscriber
 * just connected): replays a fresh keyframe from the layer's ring when
 * there is one and the subscriber is connected, else asks the publisher. */
void media_downtrack_kickoff(Downtrack *d, gint64 now_us);
/* Simulcast: falls back to the best layer that still flows when the
 * subscriber's layer stops, and returns to it when it flows again (room
 * tick, once a second). */
void media_downtrack_check_layers(Downtrack *d, gint64 now_us);
/* Pauses or resumes @d (subscription.update, subscribe set). A resumed
 * downtrack continues its seq/timestamps without a gap, video from a
 * keyframe (replayed or requested). */
void media_downtrack_set_paused(Downtrack *d, gboolean paused, gint64 now_us);
guint media_quality_to_layer(const char *quality, guint n_layers);

G_END_DECLS
