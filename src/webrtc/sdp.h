/* SDP for WebRTC (Unified Plan, BUNDLE, rtcp-mux), sans-IO: strings in,
 * structs and strings out. Depends on GLib only.
 *
 * Three layers:
 *  - a model (ChorusSdpSession / ChorusSdpMedia) with a strict parser and a
 *    writer (sdp-parse.c, sdp-write.c);
 *  - the publisher side: Chorus answers a client's sendonly offer
 *    (chorus_sdp_negotiation_answer_offer, sdp-answer.c);
 *  - the subscriber side: Chorus offers tracks to a client and applies its
 *    answer, reusing m-lines across renegotiations (ChorusSdpOfferer,
 *    sdp-offer.c).
 *
 * Every error is CHORUS_ERROR_NEGOTIATION_FAILED with a message naming the
 * m-line and the problem ("m-line 1 (video): no a=fingerprint"), except
 * misuse by the caller (bad local parameters: CHORUS_ERROR_INTERNAL; an offer
 * already outstanding: CHORUS_ERROR_CONFLICT).
 *
 * Ownership: every struct returned is owned by the caller and freed with its
 * _free function (all have g_autoptr support); every field of a model struct
 * is owned by that struct. Parameters are borrowed for the call only. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Limits the parser enforces; input beyond them is an error, not truncated. */
#define CHORUS_SDP_MAX_BYTES (128 * 1024)
#define CHORUS_SDP_MAX_LINES 4096
#define CHORUS_SDP_MAX_LINE_BYTES 4096
#define CHORUS_SDP_MAX_MEDIA 64
#define CHORUS_SDP_MAX_CANDIDATES 64 /* per m-line */
#define CHORUS_SDP_MAX_SSRCS 32      /* distinct a=ssrc per m-line */
#define CHORUS_SDP_MAX_RIDS 8        /* a=rid lines per m-line */
#define CHORUS_SDP_MAX_SIMULCAST_LAYERS 3
#define CHORUS_SDP_MAX_ID_CHARS 64 /* mid, rid, msid ids, cname */

/* ---- enums ------------------------------------------------------------ */

typedef enum {
  CHORUS_SDP_KIND_AUDIO,
  CHORUS_SDP_KIND_VIDEO,
  CHORUS_SDP_KIND_APPLICATION,
  CHORUS_SDP_KIND_OTHER,
} ChorusSdpKind;

typedef enum {
  CHORUS_SDP_DIRECTION_SENDRECV = 0, /* the default when no attribute says */
  CHORUS_SDP_DIRECTION_SENDONLY,
  CHORUS_SDP_DIRECTION_RECVONLY,
  CHORUS_SDP_DIRECTION_INACTIVE,
} ChorusSdpDirection;

typedef enum {
  CHORUS_SDP_SETUP_UNSET = 0,
  CHORUS_SDP_SETUP_ACTPASS,
  CHORUS_SDP_SETUP_ACTIVE,
  CHORUS_SDP_SETUP_PASSIVE,
  CHORUS_SDP_SETUP_HOLDCONN,
} ChorusSdpSetup;

typedef enum {
  CHORUS_SDP_CODEC_UNKNOWN = 0,
  CHORUS_SDP_CODEC_OPUS,
  CHORUS_SDP_CODEC_RED, /* audio RED over Opus ("red/48000/2") */
  CHORUS_SDP_CODEC_VP8,
  CHORUS_SDP_CODEC_VP9,
  CHORUS_SDP_CODEC_H264,
  CHORUS_SDP_CODEC_AV1,
  CHORUS_SDP_CODEC_RTX,
} ChorusSdpCodecId;

/* RTCP feedback kinds Chorus knows (a=rtcp-fb); others are dropped. */
typedef enum {
  CHORUS_SDP_FB_NACK = 1 << 0,
  CHORUS_SDP_FB_NACK_PLI = 1 << 1,
  CHORUS_SDP_FB_CCM_FIR = 1 << 2,
  CHORUS_SDP_FB_GOOG_REMB = 1 << 3,
  CHORUS_SDP_FB_TRANSPORT_CC = 1 << 4,
} ChorusSdpFeedback;
#define CHORUS_SDP_FB_ALL 0x1fu

/* Header extensions Chorus knows (a=extmap); others are dropped. */
typedef enum {
  CHORUS_SDP_EXT_MID = 0,           /* urn:ietf:params:rtp-hdrext:sdes:mid */
  CHORUS_SDP_EXT_RID,               /* ...:sdes:rtp-stream-id */
  CHORUS_SDP_EXT_REPAIRED_RID,      /* ...:sdes:repaired-rtp-stream-id */
  CHORUS_SDP_EXT_AUDIO_LEVEL,       /* urn:ietf:params:rtp-hdrext:ssrc-audio-level */
  CHORUS_SDP_EXT_ABS_SEND_TIME,     /* http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time */
  CHORUS_SDP_EXT_TRANSPORT_CC,      /* draft-holmer-rmcat-transport-wide-cc-extensions-01 */
  CHORUS_SDP_EXT_VIDEO_ORIENTATION, /* urn:3gpp:video-orientation */
  CHORUS_SDP_EXT_COUNT,
} ChorusSdpExtension;

const char *chorus_sdp_kind_to_string(ChorusSdpKind kind);
const char *chorus_sdp_direction_to_string(ChorusSdpDirection direction);
const char *chorus_sdp_setup_to_string(ChorusSdpSetup setup);
/* The URI written in a=extmap. */
const char *chorus_sdp_extension_uri(ChorusSdpExtension ext);
/* FALSE for URIs Chorus does not know. */
gboolean chorus_sdp_extension_from_uri(const char *uri, ChorusSdpExtension *out);
/* Codec from an a=rtpmap encoding name and clock rate (case-insensitive). */
ChorusSdpCodecId chorus_sdp_codec_id_from_name(const char *name, guint32 clock_rate);

/* ---- model ------------------------------------------------------------ */

/* One payload type of an m-line: a=rtpmap + a=fmtp + a=rtcp-fb. */
typedef struct {
  guint8 pt;
  ChorusSdpCodecId id;
  char *name; /* encoding name as written ("opus", "H264") */
  guint32 clock_rate;
  guint8 channels;  /* 0 when a=rtpmap gave none */
  char *fmtp;       /* a=fmtp parameters, or NULL */
  guint32 feedback; /* ChorusSdpFeedback flags */
} ChorusSdpPayload;

ChorusSdpPayload *chorus_sdp_payload_new(guint8 pt, const char *name, guint32 clock_rate,
                                         guint8 channels, const char *fmtp);
ChorusSdpPayload *chorus_sdp_payload_copy(const ChorusSdpPayload *payload);
void chorus_sdp_payload_free(ChorusSdpPayload *payload);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusSdpPayload, chorus_sdp_payload_free)

/* Value of one fmtp parameter ("apt", "profile-level-id"), matched without
 * case; NULL when absent. (transfer full) */
char *chorus_sdp_payload_get_fmtp_param(const ChorusSdpPayload *payload, const char *key);

typedef struct {
  guint8 id;                    /* 1..255 */
  ChorusSdpDirection direction; /* SENDRECV when the line gives none */
  char *uri;
} ChorusSdpExtmap;

typedef struct {
  char *id;
  ChorusSdpDirection direction; /* SENDONLY ("send") or RECVONLY ("recv") */
  char *params;                 /* restrictions after the direction, or NULL */
} ChorusSdpRid;

typedef struct {
  char *rid;
  gboolean paused; /* written "~rid" */
} ChorusSdpSimulcastLayer;

typedef struct {
  guint32 ssrc;
  char *cname;       /* NULL if no a=ssrc:X cname: */
  char *msid_stream; /* from a=ssrc:X msid:, or NULL */
  char *msid_track;
} ChorusSdpSsrc;

typedef struct {
  char *semantics; /* "FID", "SIM", ... */
  GArray *ssrcs;   /* guint32 */
} ChorusSdpSsrcGroup;

typedef enum {
  CHORUS_SDP_CANDIDATE_HOST,
  CHORUS_SDP_CANDIDATE_SRFLX,
  CHORUS_SDP_CANDIDATE_PRFLX,
  CHORUS_SDP_CANDIDATE_RELAY,
} ChorusSdpCandidateType;

/* One ICE candidate, parsed from the text of a=candidate (also the
 * RTCIceCandidate.candidate string of a trickle). */
typedef struct {
  char foundation[33];
  guint component;
  gboolean tcp; /* FALSE: udp */
  guint32 priority;
  char address[256]; /* IP literal or mDNS host name */
  guint16 port;
  ChorusSdpCandidateType type;
  char tcptype[8];           /* "active"/"passive"/"so" or "" */
  char related_address[256]; /* "" when absent */
  guint16 related_port;
} ChorusSdpCandidate;

/* Parses "candidate:..." (the "a=" may be present; the "candidate:" prefix
 * is optional). Unknown extension pairs ("generation 0") are skipped. */
gboolean chorus_sdp_candidate_parse(const char *text, ChorusSdpCandidate *out, GError **error);

typedef struct {
  ChorusSdpKind kind;
  char *media;   /* "audio", "video", "application", ... */
  guint16 port;  /* 0: rejected (unless bundle_only) */
  char *proto;   /* "UDP/TLS/RTP/SAVPF" */
  char *formats; /* the m= line's format list, as written */
  char *mid;     /* NULL if none */
  ChorusSdpDirection direction;
  gboolean rtcp_mux;
  gboolean rtcp_rsize;
  gboolean bundle_only;

  /* Transport. The parser fills these with the effective values: media
   * level, else session level, else (for a bundled m-line) the BUNDLE-tagged
   * m-line's. */
  char *ice_ufrag;
  char *ice_pwd;
  gboolean ice_trickle;     /* a=ice-options:trickle */
  gboolean has_fingerprint; /* a sha-256 fingerprint was given */
  guint8 fingerprint_sha256[32];
  ChorusSdpSetup setup;
  GPtrArray *candidates; /* char *: "candidate:..." (no "a=") */
  gboolean end_of_candidates;

  char *msid_stream; /* a=msid, or NULL */
  char *msid_track;
  GPtrArray *payloads;                    /* ChorusSdpPayload *, in m= line order */
  GPtrArray *extmaps;                     /* ChorusSdpExtmap * */
  GPtrArray *rids;                        /* ChorusSdpRid * */
  ChorusSdpDirection simulcast_direction; /* SENDONLY/RECVONLY when simulcast is set */
  GPtrArray *simulcast;                   /* ChorusSdpSimulcastLayer *; empty when none */
  GPtrArray *ssrcs;                       /* ChorusSdpSsrc *, in order of first appearance */
  GPtrArray *ssrc_groups;                 /* ChorusSdpSsrcGroup * */
  guint sctp_port;                        /* application: a=sctp-port, 0 if none */
} ChorusSdpMedia;

typedef struct {
  guint64 session_id; /* o= line */
  guint64 session_version;
  gboolean ice_lite;
  gboolean extmap_allow_mixed;
  char **bundle;    /* mids of the first a=group:BUNDLE, NULL-terminated; NULL if none */
  GPtrArray *media; /* ChorusSdpMedia * */
} ChorusSdpSession;

ChorusSdpMedia *chorus_sdp_media_new(ChorusSdpKind kind);
void chorus_sdp_media_free(ChorusSdpMedia *media);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusSdpMedia, chorus_sdp_media_free)

/* Borrowed views into @media; NULL when absent. */
const ChorusSdpPayload *chorus_sdp_media_find_payload(const ChorusSdpMedia *media, guint pt);
const ChorusSdpExtmap *chorus_sdp_media_find_extmap(const ChorusSdpMedia *media,
                                                    ChorusSdpExtension ext);
const ChorusSdpSsrc *chorus_sdp_media_find_ssrc(const ChorusSdpMedia *media, guint32 ssrc);
/* TRUE when the m-line takes part in the session: a non-zero port, or
 * a=bundle-only. */
gboolean chorus_sdp_media_is_used(const ChorusSdpMedia *media);

ChorusSdpSession *chorus_sdp_session_new(void);
void chorus_sdp_session_free(ChorusSdpSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusSdpSession, chorus_sdp_session_free)

/* Parses an offer or an answer. Besides syntax and limits it checks what
 * WebRTC needs of every used RTP m-line: a mid, rtcp-mux, ice-ufrag/pwd and
 * a sha-256 fingerprint (inherited from the BUNDLE-tagged m-line by the
 * other bundled ones), unique mids, and that BUNDLE names existing mids.
 * (transfer full) */
ChorusSdpSession *chorus_sdp_session_parse(const char *text, GError **error);

/* Writes @session as SDP text with CRLF line ends. A rejected m-line (port 0,
 * not bundle-only) is written with its mid only. (transfer full) */
char *chorus_sdp_session_write(const ChorusSdpSession *session);

/* ---- H264 profile-level-id (RFC 6184, matched the way libwebrtc does) --- */

typedef enum {
  CHORUS_SDP_H264_CONSTRAINED_BASELINE,
  CHORUS_SDP_H264_BASELINE,
  CHORUS_SDP_H264_MAIN,
  CHORUS_SDP_H264_CONSTRAINED_HIGH,
  CHORUS_SDP_H264_HIGH,
  CHORUS_SDP_H264_PREDICTIVE_HIGH_444,
} ChorusSdpH264Profile;

/* The level is level_idc (31 = 3.1), with level 1b as 0 (sorts below 1.0). */
typedef struct {
  ChorusSdpH264Profile profile;
  guint8 level;
} ChorusSdpH264ProfileLevel;

/* Parses a 6-hex-digit profile-level-id; FALSE for unknown profiles. */
gboolean chorus_sdp_h264_profile_level_parse(const char *hex, ChorusSdpH264ProfileLevel *out);
/* From an H264 fmtp; a missing profile-level-id means constrained baseline
 * 3.1 (what libwebrtc assumes). */
gboolean chorus_sdp_h264_profile_level_from_fmtp(const char *fmtp, ChorusSdpH264ProfileLevel *out);
/* Canonical 6-hex-digit form ("42e01f"). (transfer full) */
char *chorus_sdp_h264_profile_level_to_string(const ChorusSdpH264ProfileLevel *pl);
/* Same profile and same packetization-mode: the two payloads are the same
 * codec for negotiation; levels may differ. */
gboolean chorus_sdp_h264_fmtp_match(const char *fmtp_a, const char *fmtp_b);
/* The fmtp an answerer writes for an offered H264 fmtp, given the highest
 * level it supports: the offered profile; with level-asymmetry-allowed=1 on
 * both sides the local level, else the lower of the two. NULL if the profile
 * is not one Chorus takes. (transfer full) */
char *chorus_sdp_h264_answer_fmtp(const char *offer_fmtp, guint8 local_max_level);

/* ---- negotiation results ---------------------------------------------- */

/* The remote side of the one (bundled) transport. */
typedef struct {
  guint mline; /* index of the BUNDLE-tagged m-line it comes from */
  char *mid;
  char *ice_ufrag;
  char *ice_pwd;
  gboolean ice_lite;
  gboolean ice_trickle;
  guint8 fingerprint_sha256[32];
  ChorusSdpSetup setup; /* the remote's a=setup */
  gboolean dtls_server; /* TRUE when Chorus is the DTLS server */
  char **candidates;    /* "candidate:..." strings, NULL-terminated: those of every
                         * bundled m-line with the tag's ice-ufrag (Chromium lists
                         * them in m-line 0 only, which Chorus may have rejected) */
  gboolean end_of_candidates;
} ChorusSdpTransport;

/* What was agreed for one m-line. */
typedef struct {
  guint mline; /* index in the SDP */
  char *mid;
  ChorusSdpKind kind;
  gboolean accepted;            /* FALSE: rejected (port 0) or not negotiable */
  char *reject_reason;          /* why not accepted, else NULL */
  ChorusSdpDirection direction; /* Chorus's side: RECVONLY/SENDONLY/INACTIVE */
  ChorusSdpPayload *
      codec; /* the media codec (pt, name, clock, channels, fmtp, feedback); NULL if not accepted */
  gint rtx_pt; /* -1: none */
  gint red_pt; /* -1: none (audio RED over codec->pt) */
  guint8
      ext_ids[CHORUS_SDP_EXT_COUNT]; /* id per known extension of THIS m-line; 0: not negotiated */
  gboolean rtcp_rsize;
  GPtrArray *rids;   /* ChorusSdpSimulcastLayer *, the simulcast layers in order; empty: none */
  GArray *ssrcs;     /* guint32 media SSRCs (SIM order when given) */
  GArray *rtx_ssrcs; /* guint32, parallel to ssrcs; 0 when no FID pair */
  char *msid_stream;
  char *msid_track;
  char *track_key; /* subscriber side: the caller's key of the track; else NULL */
} ChorusSdpMediaResult;

void chorus_sdp_media_result_free(ChorusSdpMediaResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusSdpMediaResult, chorus_sdp_media_result_free)

/* The outcome of one negotiation step. Which fields are set depends on the
 * step:
 *  - publisher answer: sdp = Chorus's answer, remote = the client's offer,
 *    transport = the client's, media = per offered m-line;
 *  - subscriber offer: sdp = Chorus's offer, remote = NULL, transport
 *    zeroed, media = what Chorus offers per m-line;
 *  - subscriber answer applied: sdp = NULL, remote = the client's answer,
 *    transport = the client's, media = what was agreed. */
typedef struct {
  char *sdp;
  ChorusSdpSession *remote;
  ChorusSdpTransport transport;
  gboolean extmap_allow_mixed; /* the remote allows two-byte header extensions */
  GPtrArray *media;            /* ChorusSdpMediaResult *, one per m-line, in order */
} ChorusSdpNegotiation;

void chorus_sdp_negotiation_free(ChorusSdpNegotiation *negotiation);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusSdpNegotiation, chorus_sdp_negotiation_free)

/* Number of accepted m-lines. */
guint chorus_sdp_negotiation_count_accepted(const ChorusSdpNegotiation *negotiation);
/* Borrowed; NULL if @mid is not an m-line of the negotiation. */
const ChorusSdpMediaResult *chorus_sdp_negotiation_find_mid(const ChorusSdpNegotiation *negotiation,
                                                            const char *mid);

/* ---- publisher side: answer a client's offer ---------------------------- */

/* Chorus's own transport parameters, written into what it sends. */
typedef struct {
  const char *ice_ufrag;          /* required: 4..256 ice-chars */
  const char *ice_pwd;            /* required: 22..256 ice-chars */
  const char *fingerprint_sha256; /* required: "AB:CD:..." (32 bytes) */
  const char *const *candidates;  /* NULL-terminated "candidate:..." strings, or NULL */
  gboolean end_of_candidates;
  gboolean ice_lite;
  guint64 session_id;      /* o= line */
  guint64 session_version; /* o= line (publisher answers; the offerer counts its own) */
} ChorusSdpLocalParams;

typedef struct {
  guint32 codecs;        /* allowed codecs as bits (1 << ChorusSdpCodecId), RED
                          * included; 0: all Chorus supports */
  gboolean no_red;       /* TRUE: do not accept audio RED */
  guint8 h264_max_level; /* 0: 52 (level 5.2) */
} ChorusSdpAnswerOptions;

/* Answers a publisher's offer. Per m-line ONE media codec, because an SFU
 * forwards what it receives (audio: Opus, with RED listed first when offered
 * so that browsers send it; video: the first of VP8, VP9 profile 0, H264
 * packetization-mode 1, AV1 profile 0 in the offer's order) with its RTX,
 * the offered payload types, the supported rtcp-fb and header extensions
 * (offered ids, per m-line), recvonly (inactive for an inactive m-line),
 * a=setup:passive (active if the offer is passive), simulcast recv with the
 * first three offered rids, rtcp-rsize if offered, BUNDLE of the accepted
 * mids, and @local's transport; its candidates go into the BUNDLE tag.
 * Unsupported m-lines get port 0 and only their mid; it is an error only if
 * no m-line can be accepted. @options may be NULL. (transfer full) */
ChorusSdpNegotiation *chorus_sdp_negotiation_answer_offer(const char *offer,
                                                          const ChorusSdpLocalParams *local,
                                                          const ChorusSdpAnswerOptions *options,
                                                          GError **error);

/* ---- subscriber side: offer tracks, apply the answer -------------------- */

/* One track to send to a subscriber. All pointers borrowed for the call. */
typedef struct {
  const char *track_key;         /* the caller's unique id of the track (e.g. track id) */
  ChorusSdpKind kind;            /* AUDIO or VIDEO */
  const ChorusSdpPayload *codec; /* the publisher's codec; its pt is kept when free */
  gboolean rtx;                  /* offer RTX (needs rtx_ssrc) */
  gboolean red;                  /* audio: offer RED over Opus, preferred */
  guint32 ssrc;
  guint32 rtx_ssrc;      /* 0: none */
  const char *stream_id; /* a=msid stream id */
  const char *track_id;  /* a=msid track id */
  const char *cname;     /* NULL: "chorus" */
} ChorusSdpTrack;

/* Per-PeerConnection state of the subscriber side: the m-line slots, the
 * payload types, the o= version. Not thread-safe; lives on the room worker. */
typedef struct _ChorusSdpOfferer ChorusSdpOfferer;

ChorusSdpOfferer *chorus_sdp_offerer_new(guint64 session_id);
void chorus_sdp_offerer_free(ChorusSdpOfferer *offerer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusSdpOfferer, chorus_sdp_offerer_free)

/* Builds the next offer for exactly @tracks (the full wanted set). A track
 * kept from the last offer keeps its m-line, mid and payload types. A track
 * no longer wanted leaves its m-line inactive (full attributes, no SSRCs), a
 * slot that the same track, should it come back, takes again with the same
 * mid and SSRCs (other tracks get new m-lines). An m-line
 * the answer rejected is written with port 0 and may be recycled by any new
 * track under a new mid. Header extensions get one id per extension across
 * all m-lines. Returns the offer; the result's media entries map each m-line
 * to its track_key (NULL for inactive/rejected slots) and give the SSRCs
 * used: a track back on its old inactive m-line keeps that m-line's last
 * SSRC (and RTX SSRC) instead of the one given in @tracks, so the caller
 * must send with the result's ssrcs (and continue that SSRC's sequence).
 * Fails with CHORUS_ERROR_CONFLICT while an offer is outstanding.
 * (transfer full) */
ChorusSdpNegotiation *chorus_sdp_offerer_create_offer(ChorusSdpOfferer *offerer,
                                                      const ChorusSdpTrack *tracks, guint n_tracks,
                                                      const ChorusSdpLocalParams *local,
                                                      GError **error);

/* Applies the subscriber's answer to the outstanding offer: which m-lines,
 * codecs (RTX, RED), rtcp-fb and header extensions it accepted, and its
 * transport (whose dtls_server says Chorus's DTLS role). An m-line whose
 * codec the answer dropped comes back with accepted = FALSE and a reason.
 * On error the offer stays outstanding. (transfer full) */
ChorusSdpNegotiation *chorus_sdp_offerer_apply_answer(ChorusSdpOfferer *offerer, const char *answer,
                                                      GError **error);

/* Forgets the outstanding offer (e.g. the subscriber never answered). */
void chorus_sdp_offerer_rollback(ChorusSdpOfferer *offerer);

gboolean chorus_sdp_offerer_has_pending_offer(const ChorusSdpOfferer *offerer);
/* The o= version of the last offer made (0 before the first). */
guint64 chorus_sdp_offerer_get_version(const ChorusSdpOfferer *offerer);

G_END_DECLS
