/* chorus-load: synthetic publishers and subscribers speaking Chorus's real
 * signaling protocol and real ICE/DTLS/SRTP (Chorus's own webrtc/ code),
 * for load and quality measurement.
 *
 *   main.c              CLI, the admin connection (room create/destroy),
 *                       ramp, progress line, end of run, exit code
 *   load-thread.c       one thread (a ChorusWorker: own GMainContext) driving
 *                       many participants: SoupSession, send scheduler
 *   load-participant.c  one participant's signaling flow
 *   load-publisher.c    publisher PeerConnection: offer, Opus/VP8 sending,
 *                       SR, PLI -> keyframe
 *   load-subscriber.c   subscriber PeerConnection: answer, receive stats
 *   load-report.c       aggregation, JSON report, table
 *   load-media.c        Opus and VP8 clips, encoded once
 *   load-rtp.c / load-stats.c / load-rpc.c   packets, statistics, JSON-RPC
 *
 * Threading: LoadShared is made on the main thread before the threads start
 * and is read-only afterwards. Everything of a participant lives on its
 * thread. Threads talk to main only by posting LoadEvents; main reaches
 * threads with chorus_worker_invoke(_sync). */
#pragma once

#include <glib.h>

#include "load-media.h"
#include "webrtc/peer.h"

G_BEGIN_DECLS

#define LOAD_MAX_LAYERS 3

typedef enum {
  LOAD_SCENARIO_VOICE,
  LOAD_SCENARIO_LIVE,
  LOAD_SCENARIO_CONFERENCE,
} LoadScenario;

typedef enum {
  LOAD_KIND_AUDIO = 0,
  LOAD_KIND_VIDEO,
  LOAD_KIND_N,
} LoadKind;

/* One kind of participant of a scenario (a key of the report). */
typedef struct {
  const char *name; /* "speaker", "listener", "host", "viewer", "participant" */
  gboolean publish_audio;
  gboolean publish_video;
  gboolean subscribe;
} LoadRole;

/* The server chorus-load drives: Chorus's protocol, or Janus's VideoRoom
 * through the adapter of load-janus.h (for comparisons). */
typedef enum {
  LOAD_TARGET_CHORUS,
  LOAD_TARGET_JANUS,
} LoadTarget;

/* Read-only after start, shared by every thread. */
typedef struct {
  LoadTarget target;
  char *url;
  char *token; /* NULL: dev mode (loopback connections are admin) */
  char *room;
  char *quality; /* subscribe quality: low|medium|high|auto */
  gboolean simulcast;
  guint connect_timeout_ms;
  guint request_timeout_ms;
  /* media */
  ChorusDtlsContext *dtls;
  char **local_addresses;
  ChorusPeerConfig peer_config; /* borrows dtls and local_addresses */
  LoadClip *audio;
  LoadClip *video[LOAD_MAX_LAYERS];
  guint n_video_layers; /* 1, or 3 with simulcast */
  const char *rids[LOAD_MAX_LAYERS];
} LoadShared;

/* What one participant received, per kind. */
typedef struct {
  guint streams;
  guint64 packets;
  guint64 bytes;
  guint64 expected;
  guint64 lost;
  double jitter_ms_sum; /* sum over streams of each stream's final jitter */
  double jitter_ms_max; /* max over streams and time */
  guint64 frames;
  guint64 keyframes;
  guint freezes;
  gint64 freeze_us;
} LoadRxTotals;

/* What one publisher sent. */
typedef struct {
  guint64 packets[LOAD_KIND_N];
  guint64 bytes[LOAD_KIND_N];
  guint64 frames[LOAD_KIND_N];
  guint64 sender_reports;
  guint64 keyframe_requests; /* PLI/FIR received */
  guint64 keyframes_sent;
  guint64 late_frames; /* skipped because the thread fell behind */
  guint64 send_failed;
  gint64 sending_us; /* how long it sent (connected until the end) */
} LoadTxTotals;

/* The outcome of one participant, copied out at the end of the run. */
typedef struct {
  guint index;
  const LoadRole *role;
  char *identity;
  gboolean joined;
  gboolean failed;
  char *fail_stage; /* "connect", "auth", "join", "publish", "subscribe", "media", ... */
  char *fail_reason;
  /* milliseconds since the join request was sent; < 0: did not happen */
  double join_ms;
  double publish_connected_ms;
  double subscribe_connected_ms;
  double first_packet_ms;
  double first_audio_ms;
  double first_video_ms;
  double first_keyframe_ms;
  gboolean publishes;
  gboolean subscribes;
  gboolean publish_connected;
  gboolean subscribe_connected;
  gboolean subscribe_expected; /* a subscriber PC had to come up: an offer came, or the
                                * participant only subscribes */
  double fail_ms;              /* when it failed, since the join request (or start) */
  const char *pending_stage;   /* neither failed nor fully connected at the end: the
                                * step it was waiting for ("connect", "join", "offer",
                                * "subscriber ICE/DTLS", ...); NULL otherwise */
  LoadTxTotals tx;
  LoadRxTotals rx[LOAD_KIND_N];
  guint64 srtp_failed; /* received datagrams that failed SRTP authentication */
  guint64 rx_unknown;  /* RTP of an SSRC and payload type no offer announced */
} LoadResult;

void load_result_clear(LoadResult *result);

/* Live counters for the progress line (one snapshot per thread, summed). */
typedef struct {
  guint started;
  guint joined;
  guint failed;
  guint connected; /* participants whose every PeerConnection is connected */
  guint64 rx_packets;
  guint64 rx_expected;
  guint64 rx_lost;
  guint64 tx_packets;
} LoadSnapshot;

/* How late a thread's scheduled wakeups ran: chorus-load's own health. A
 * thread that runs late delays its receive timestamps too, so its jitter
 * and join figures then include chorus-load's delays, not only Chorus's. */
typedef struct {
  guint64 wakeups;
  gint64 late_sum_us;
  gint64 late_max_us;
  guint64 late_over_10ms;
} LoadLag;

/* Events posted from threads to the main thread. */
typedef enum {
  LOAD_EVENT_JOINED,
  LOAD_EVENT_PUBLISHING, /* the publisher PeerConnection is up: media flows */
  LOAD_EVENT_CONNECTED,  /* every PeerConnection of the participant is up */
  LOAD_EVENT_FAILED,
  LOAD_EVENT_SERVER_CLOSED, /* the server closed a signaling connection or the room */
} LoadEventKind;

typedef struct {
  guint index;
  LoadEventKind kind;
  char *detail;
} LoadEvent;

typedef void (*LoadEventFunc)(const LoadEvent *event, gpointer user_data);

const char *load_kind_to_string(LoadKind kind);

G_END_DECLS
