#define G_LOG_DOMAIN "chorus-load"

#include "load-publisher.h"

#include <string.h>

#include "core/error.h"
#include "load-rtp.h"
#include "rtp/rtcp.h"
#include "webrtc/sdp.h"

/* A frame due longer ago than this is skipped rather than sent late in a
 * burst: the thread fell behind (CPU), and a burst would be measured as
 * the server's jitter. Skipped video resumes at a keyframe. */
#define LATE_FRAME_US (200 * 1000)
#define SR_INTERVAL_US G_USEC_PER_SEC

#define OPUS_PT 111
#define VP8_PT 96

typedef struct {
  LoadKind kind;
  const char *rid; /* simulcast layer, else NULL */
  const LoadClip *clip;
  guint32 clock_rate;
  guint32 ssrc;
  guint8 pt;
  guint16 seq;
  guint32 ts_base;
  guint pos;        /* next frame of the clip */
  guint64 frame_no; /* frames since the start: schedule and timestamp */
  gint64 start_us;
  gint64 next_us;
  guint16 picture_id;
  guint32 packets;
  guint32 octets;
  gint64 next_sr_us;
  gboolean marker_next;     /* audio: first packet after a DTX pause */
  gboolean keyframe_wanted; /* video: a PLI/FIR came */
} TxStream;

struct _LoadPublisher {
  const LoadShared *shared;
  ChorusPeer *peer;
  ChorusSdpOfferer *offerer;
  LoadPublisherCallbacks cb;
  gpointer user_data;
  char *cname;
  gboolean offered;
  gboolean sending;
  gboolean stopped;
  char *mids[LOAD_KIND_N];
  guint8 ext_ids[LOAD_KIND_N][CHORUS_SDP_EXT_COUNT];
  TxStream streams[1 + LOAD_MAX_LAYERS];
  guint n_streams;
  guint16 twcc_seq; /* transport-wide: one counter for every stream */
  LoadTxTotals totals;
  guint8 buf[LOAD_RTP_BUF_BYTES];
};

static guint32
random_nonzero(void)
{
  guint32 v;
  do
    v = g_random_int();
  while (v == 0);
  return v;
}

static void
start_sending(LoadPublisher *pub, gint64 now_us)
{
  pub->sending = TRUE;
  for (guint i = 0; i < pub->n_streams; i++) {
    TxStream *s = &pub->streams[i];
    s->start_us = now_us;
    s->next_us = now_us;
    s->next_sr_us = now_us + SR_INTERVAL_US / 2;
    s->frame_no = 0;
    s->pos = 0; /* video: frame 0 is a keyframe */
    /* Audio anywhere in the clip: publishers that all started at frame 0
     * would talk and pause in unison (one shared clip), and a voice room's
     * speakers would never take turns in the slots. */
    if (s->kind == LOAD_KIND_AUDIO)
      s->pos = (guint)g_random_int_range(0, (gint32)s->clip->n_frames);
  }
}

static void
on_peer_state(ChorusPeer *peer, ChorusPeerState state, const char *reason, gpointer user_data)
{
  LoadPublisher *pub = user_data;
  if (state == CHORUS_PEER_STATE_CONNECTED && !pub->sending && !pub->stopped)
    start_sending(pub, g_get_monotonic_time());
  else if (state == CHORUS_PEER_STATE_FAILED || state == CHORUS_PEER_STATE_CLOSED)
    pub->sending = FALSE;
  if (pub->cb.state_changed)
    pub->cb.state_changed(pub, state, reason, pub->user_data);
}

static void
on_peer_candidate(ChorusPeer *peer, const char *candidate, gpointer user_data)
{
  LoadPublisher *pub = user_data;
  /* Before the offer is written, its candidates go into the SDP. */
  if (pub->offered && pub->cb.local_candidate) {
    const char *ufrag, *pwd, *fp;
    chorus_peer_get_local_params(peer, &ufrag, &pwd, &fp, NULL, NULL);
    pub->cb.local_candidate(pub, candidate, ufrag, pub->user_data);
  }
}

static void
on_peer_rtcp(ChorusPeer *peer, guint8 *buf, gsize len, gint64 now_us, gpointer user_data)
{
  LoadPublisher *pub = user_data;
  ChorusRtcpIter it;
  ChorusRtcpPacket pkt;
  gboolean malformed = FALSE;
  if (!chorus_rtcp_iter_init(&it, buf, len))
    return;
  while (chorus_rtcp_iter_next(&it, &pkt, &malformed)) {
    guint32 ssrc;
    if (!chorus_rtcp_is_keyframe_request(&pkt, &ssrc))
      continue;
    pub->totals.keyframe_requests++;
    for (guint i = 0; i < pub->n_streams; i++)
      if (pub->streams[i].kind == LOAD_KIND_VIDEO && pub->streams[i].ssrc == ssrc)
        pub->streams[i].keyframe_wanted = TRUE;
  }
}

LoadPublisher *
load_publisher_new(const LoadShared *shared, GMainContext *context, gboolean audio, gboolean video,
                   const char *cname, const LoadPublisherCallbacks *callbacks, gpointer user_data,
                   GError **error)
{
  g_return_val_if_fail(audio || video, NULL);
  g_autoptr(LoadPublisher) pub = g_new0(LoadPublisher, 1);
  pub->shared = shared;
  pub->cb = *callbacks;
  pub->user_data = user_data;
  pub->cname = g_strdup(cname);
  pub->offerer = chorus_sdp_offerer_new(g_random_int() & 0x7fffffff);
  if (audio) {
    TxStream *s = &pub->streams[pub->n_streams++];
    s->kind = LOAD_KIND_AUDIO;
    s->clip = shared->audio;
    s->clock_rate = 48000;
  }
  if (video) {
    for (guint l = 0; l < shared->n_video_layers; l++) {
      TxStream *s = &pub->streams[pub->n_streams++];
      s->kind = LOAD_KIND_VIDEO;
      s->clip = shared->video[l];
      s->clock_rate = 90000;
      s->rid = shared->simulcast ? shared->rids[l] : NULL;
    }
  }
  for (guint i = 0; i < pub->n_streams; i++) {
    TxStream *s = &pub->streams[i];
    gboolean unique;
    do {
      s->ssrc = random_nonzero();
      unique = TRUE;
      for (guint j = 0; j < i; j++)
        unique = unique && pub->streams[j].ssrc != s->ssrc;
    } while (!unique);
    s->seq = (guint16)g_random_int();
    s->ts_base = g_random_int();
    s->picture_id = (guint16)(g_random_int() & 0x7fff);
  }
  static const ChorusPeerCallbacks peer_cb = {
      .local_candidate = on_peer_candidate,
      .state_changed = on_peer_state,
      .rtcp = on_peer_rtcp,
  };
  /* We offer: ChorusPeer makes the offerer the controlling ICE agent; the
   * DTLS role follows Chorus's answer (passive: we are the client). */
  pub->peer = chorus_peer_new(context, &shared->peer_config, TRUE, &peer_cb, pub, error);
  if (pub->peer == NULL)
    return NULL;
  return g_steal_pointer(&pub);
}

void
load_publisher_free(LoadPublisher *pub)
{
  if (pub == NULL)
    return;
  g_clear_pointer(&pub->peer, chorus_peer_free);
  g_clear_pointer(&pub->offerer, chorus_sdp_offerer_free);
  for (guint k = 0; k < LOAD_KIND_N; k++)
    g_free(pub->mids[k]);
  g_free(pub->cname);
  g_free(pub);
}

static const TxStream *
first_stream(const LoadPublisher *pub, LoadKind kind)
{
  for (guint i = 0; i < pub->n_streams; i++)
    if (pub->streams[i].kind == kind)
      return &pub->streams[i];
  return NULL;
}

/* Simulcast as browsers send it: rids instead of SSRCs (Chorus learns the
 * SSRCs from the mid/rid header extensions). */
static char *
add_simulcast(const LoadPublisher *pub, const char *sdp, GError **error)
{
  g_autoptr(ChorusSdpSession) session = chorus_sdp_session_parse(sdp, error);
  if (session == NULL) {
    g_prefix_error(error, "our own offer does not parse: ");
    return NULL;
  }
  guint8 max_id = 0;
  for (guint i = 0; i < session->media->len; i++) {
    const ChorusSdpMedia *media = g_ptr_array_index(session->media, i);
    for (guint j = 0; j < media->extmaps->len; j++)
      max_id = MAX(max_id, ((const ChorusSdpExtmap *)g_ptr_array_index(media->extmaps, j))->id);
  }
  for (guint i = 0; i < session->media->len; i++) {
    ChorusSdpMedia *media = g_ptr_array_index(session->media, i);
    if (media->kind != CHORUS_SDP_KIND_VIDEO)
      continue;
    g_ptr_array_set_size(media->ssrcs, 0);
    g_ptr_array_set_size(media->ssrc_groups, 0);
    ChorusSdpExtmap *extmap = g_new0(ChorusSdpExtmap, 1);
    extmap->id = (guint8)(max_id + 1);
    extmap->uri = g_strdup(chorus_sdp_extension_uri(CHORUS_SDP_EXT_RID));
    g_ptr_array_add(media->extmaps, extmap);
    for (guint l = 0; l < pub->shared->n_video_layers; l++) {
      ChorusSdpRid *rid = g_new0(ChorusSdpRid, 1);
      rid->id = g_strdup(pub->shared->rids[l]);
      rid->direction = CHORUS_SDP_DIRECTION_SENDONLY;
      g_ptr_array_add(media->rids, rid);
      ChorusSdpSimulcastLayer *layer = g_new0(ChorusSdpSimulcastLayer, 1);
      layer->rid = g_strdup(pub->shared->rids[l]);
      g_ptr_array_add(media->simulcast, layer);
    }
    media->simulcast_direction = CHORUS_SDP_DIRECTION_SENDONLY;
  }
  return chorus_sdp_session_write(session);
}

char *
load_publisher_create_offer(LoadPublisher *pub, GError **error)
{
  if (!chorus_peer_gather(pub->peer, error))
    return NULL;
  const char *ufrag, *pwd, *fingerprint;
  GPtrArray *candidates = NULL;
  gboolean done = FALSE;
  chorus_peer_get_local_params(pub->peer, &ufrag, &pwd, &fingerprint, &candidates, &done);
  g_ptr_array_add(candidates, NULL);
  ChorusSdpLocalParams local = {
      .ice_ufrag = ufrag,
      .ice_pwd = pwd,
      .fingerprint_sha256 = fingerprint,
      .candidates = (const char *const *)candidates->pdata,
      .end_of_candidates = done,
  };

  g_autoptr(ChorusSdpPayload) opus =
      chorus_sdp_payload_new(OPUS_PT, "opus", 48000, 2, "minptime=10;useinbandfec=1");
  g_autoptr(ChorusSdpPayload) vp8 = chorus_sdp_payload_new(VP8_PT, "VP8", 90000, 0, NULL);
  ChorusSdpTrack tracks[LOAD_KIND_N];
  guint n = 0;
  const TxStream *audio = first_stream(pub, LOAD_KIND_AUDIO);
  const TxStream *video = first_stream(pub, LOAD_KIND_VIDEO);
  if (audio)
    tracks[n++] = (ChorusSdpTrack){.track_key = "audio",
                                   .kind = CHORUS_SDP_KIND_AUDIO,
                                   .codec = opus,
                                   .ssrc = audio->ssrc,
                                   .stream_id = pub->cname,
                                   .track_id = "audio",
                                   .cname = pub->cname};
  if (video)
    tracks[n++] = (ChorusSdpTrack){.track_key = "video",
                                   .kind = CHORUS_SDP_KIND_VIDEO,
                                   .codec = vp8,
                                   .ssrc = video->ssrc,
                                   .stream_id = pub->cname,
                                   .track_id = "video",
                                   .cname = pub->cname};
  g_autoptr(ChorusSdpNegotiation) offer =
      chorus_sdp_offerer_create_offer(pub->offerer, tracks, n, &local, error);
  g_ptr_array_unref(candidates);
  if (offer == NULL)
    return NULL;
  pub->offered = TRUE;
  if (pub->shared->simulcast && video)
    return add_simulcast(pub, offer->sdp, error);
  return g_steal_pointer(&offer->sdp);
}

gboolean
load_publisher_apply_answer(LoadPublisher *pub, const char *answer, GError **error)
{
  g_autoptr(ChorusSdpNegotiation) neg =
      chorus_sdp_offerer_apply_answer(pub->offerer, answer, error);
  if (neg == NULL)
    return FALSE;
  for (guint i = 0; i < neg->media->len; i++) {
    const ChorusSdpMediaResult *m = g_ptr_array_index(neg->media, i);
    const ChorusSdpMedia *remote = g_ptr_array_index(neg->remote->media, i);
    LoadKind kind = m->kind == CHORUS_SDP_KIND_AUDIO ? LOAD_KIND_AUDIO : LOAD_KIND_VIDEO;
    if (!m->accepted) {
      g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_NEGOTIATION_FAILED,
                  "Chorus did not accept our %s m-line: %s", load_kind_to_string(kind),
                  m->reject_reason ? m->reject_reason : "no reason given");
      return FALSE;
    }
    if (kind == LOAD_KIND_VIDEO && pub->shared->simulcast &&
        remote->simulcast->len != pub->shared->n_video_layers) {
      g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_NEGOTIATION_FAILED,
                  "Chorus's answer has %u simulcast layers, we offered %u", remote->simulcast->len,
                  pub->shared->n_video_layers);
      return FALSE;
    }
    g_free(pub->mids[kind]);
    pub->mids[kind] = g_strdup(m->mid);
    /* Ids from the answer's own extmap lines: they include rid, which the
     * offerer (made for Chorus's subscriber side) does not track. */
    memset(pub->ext_ids[kind], 0, sizeof(pub->ext_ids[kind]));
    for (guint j = 0; j < remote->extmaps->len; j++) {
      const ChorusSdpExtmap *extmap = g_ptr_array_index(remote->extmaps, j);
      ChorusSdpExtension ext;
      if (extmap->id <= 14 && chorus_sdp_extension_from_uri(extmap->uri, &ext))
        pub->ext_ids[kind][ext] = extmap->id;
    }
    for (guint s = 0; s < pub->n_streams; s++)
      if (pub->streams[s].kind == kind)
        pub->streams[s].pt = m->codec->pt;
  }
  return chorus_peer_set_remote(pub->peer, &neg->transport, error);
}

gboolean
load_publisher_add_remote_candidate(LoadPublisher *pub, const char *candidate, const char *ufrag,
                                    GError **error)
{
  return chorus_peer_add_remote_candidate(pub->peer, candidate, ufrag, error);
}

/* ---- sending ------------------------------------------------------------------- */

static void
send_rtp(LoadPublisher *pub, TxStream *s, gsize len, gsize payload_len)
{
  if (chorus_peer_send_rtp(pub->peer, pub->buf, len, sizeof(pub->buf)) != CHORUS_PEER_SEND_OK) {
    pub->totals.send_failed++;
    return;
  }
  s->packets++;
  s->octets += (guint32)payload_len;
  pub->totals.packets[s->kind]++;
  pub->totals.bytes[s->kind] += len;
}

static void
header_init(LoadPublisher *pub, TxStream *s, LoadRtpHeader *h, guint32 ts, gint64 now_us)
{
  const guint8 *ids = pub->ext_ids[s->kind];
  *h = (LoadRtpHeader){.payload_type = s->pt, .seq = s->seq++, .timestamp = ts, .ssrc = s->ssrc};
  load_rtp_header_add_ext_string(h, ids[CHORUS_SDP_EXT_MID], pub->mids[s->kind]);
  if (s->rid)
    load_rtp_header_add_ext_string(h, ids[CHORUS_SDP_EXT_RID], s->rid);
  guint8 ast[3];
  load_rtp_abs_send_time(now_us, ast);
  load_rtp_header_add_ext(h, ids[CHORUS_SDP_EXT_ABS_SEND_TIME], ast, 3);
  if (ids[CHORUS_SDP_EXT_TRANSPORT_CC]) {
    guint8 twcc[2] = {(guint8)(pub->twcc_seq >> 8), (guint8)pub->twcc_seq};
    pub->twcc_seq++;
    load_rtp_header_add_ext(h, ids[CHORUS_SDP_EXT_TRANSPORT_CC], twcc, 2);
  }
}

static void
send_audio_frame(LoadPublisher *pub, TxStream *s, guint32 ts, gint64 now_us)
{
  const LoadFrame *f = &s->clip->frames[s->pos];
  if (f->len <= 2) {
    /* DTX: nothing to send; the next packet starts a talk spurt. */
    s->marker_next = TRUE;
    return;
  }
  LoadRtpHeader h;
  header_init(pub, s, &h, ts, now_us);
  h.marker = s->marker_next;
  s->marker_next = FALSE;
  guint8 level = load_rtp_audio_level_byte(f->level_dbov, f->voice);
  load_rtp_header_add_ext(&h, pub->ext_ids[LOAD_KIND_AUDIO][CHORUS_SDP_EXT_AUDIO_LEVEL], &level, 1);
  gsize n = load_rtp_write_header(&h, pub->buf, sizeof(pub->buf));
  if (n == 0 || n + f->len + CHORUS_SRTP_MAX_RTP_OVERHEAD > sizeof(pub->buf)) {
    pub->totals.send_failed++;
    return;
  }
  memcpy(pub->buf + n, f->data, f->len);
  send_rtp(pub, s, n + f->len, f->len);
}

static void
send_video_frame(LoadPublisher *pub, TxStream *s, guint32 ts, gint64 now_us)
{
  if (s->keyframe_wanted) {
    s->pos = load_clip_next_keyframe(s->clip, s->pos);
    s->keyframe_wanted = FALSE;
  }
  const LoadFrame *f = &s->clip->frames[s->pos];
  if (f->keyframe)
    pub->totals.keyframes_sent++;
  LoadVp8Packetizer pk;
  load_vp8_packetizer_init(&pk, f->data, f->len, s->picture_id, LOAD_RTP_MAX_PAYLOAD);
  s->picture_id = (s->picture_id + 1) & 0x7fff;
  gboolean last = FALSE;
  while (!last) {
    LoadRtpHeader h;
    header_init(pub, s, &h, ts, now_us);
    gsize hn = load_rtp_write_header(&h, pub->buf, sizeof(pub->buf));
    gsize pn = 0;
    gsize cap = sizeof(pub->buf) - CHORUS_SRTP_MAX_RTP_OVERHEAD;
    if (hn == 0 || !load_vp8_packetizer_next(&pk, pub->buf + hn, cap - hn, &pn, &last)) {
      pub->totals.send_failed++;
      break;
    }
    if (last)
      pub->buf[1] |= 0x80; /* marker: the frame's last packet */
    send_rtp(pub, s, hn + pn, pn);
  }
}

static void
send_sender_report(LoadPublisher *pub, TxStream *s, gint64 now_us)
{
  s->next_sr_us = now_us + SR_INTERVAL_US;
  if (s->packets == 0)
    return;
  guint32 rtp_ts =
      s->ts_base + (guint32)((guint64)(now_us - s->start_us) * s->clock_rate / G_USEC_PER_SEC);
  guint64 ntp = load_rtcp_ntp_from_unix_us(g_get_real_time());
  gsize n = load_rtcp_write_sr(pub->buf, sizeof(pub->buf) - CHORUS_SRTP_MAX_RTCP_OVERHEAD, s->ssrc,
                               ntp, rtp_ts, s->packets, s->octets, pub->cname);
  if (n == 0)
    return;
  if (chorus_peer_send_rtcp(pub->peer, pub->buf, n, sizeof(pub->buf)) == CHORUS_PEER_SEND_OK)
    pub->totals.sender_reports++;
  else
    pub->totals.send_failed++;
}

void
load_publisher_run(LoadPublisher *pub, gint64 now_us)
{
  if (!pub->sending || pub->stopped)
    return;
  for (guint i = 0; i < pub->n_streams; i++) {
    TxStream *s = &pub->streams[i];
    while (s->next_us <= now_us) {
      guint32 ts = s->ts_base + (guint32)(s->frame_no * s->clip->timestamp_step);
      if (now_us - s->next_us > LATE_FRAME_US) {
        pub->totals.late_frames++;
        if (s->kind == LOAD_KIND_VIDEO)
          s->keyframe_wanted = TRUE; /* the skipped frames break the decoding chain */
      } else if (s->kind == LOAD_KIND_AUDIO) {
        send_audio_frame(pub, s, ts, now_us);
        pub->totals.frames[LOAD_KIND_AUDIO]++;
      } else {
        send_video_frame(pub, s, ts, now_us);
        pub->totals.frames[LOAD_KIND_VIDEO]++;
      }
      s->pos = (s->pos + 1) % s->clip->n_frames;
      s->frame_no++;
      s->next_us = s->start_us + (gint64)s->frame_no * s->clip->frame_interval_us;
    }
    if (now_us >= s->next_sr_us)
      send_sender_report(pub, s, now_us);
  }
}

gint64
load_publisher_next_deadline_us(LoadPublisher *pub)
{
  if (!pub->sending || pub->stopped)
    return G_MAXINT64;
  gint64 next = G_MAXINT64;
  for (guint i = 0; i < pub->n_streams; i++)
    next = MIN(next, MIN(pub->streams[i].next_us, pub->streams[i].next_sr_us));
  return next;
}

void
load_publisher_stop(LoadPublisher *pub, gint64 now_us)
{
  if (pub->sending && !pub->stopped && pub->n_streams > 0)
    pub->totals.sending_us = now_us - pub->streams[0].start_us;
  pub->stopped = TRUE;
}

ChorusPeerState
load_publisher_get_state(LoadPublisher *pub)
{
  return chorus_peer_get_state(pub->peer);
}

void
load_publisher_get_totals(LoadPublisher *pub, LoadTxTotals *out)
{
  *out = pub->totals;
}
