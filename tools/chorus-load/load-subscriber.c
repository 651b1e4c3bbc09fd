#define G_LOG_DOMAIN "chorus-load"

#include "load-subscriber.h"

#include <string.h>

#include "core/error.h"
#include "load-stats.h"
#include "rtp/keyframe.h"
#include "rtp/rtp-packet.h"
#include "webrtc/sdp.h"

typedef struct {
  guint32 ssrc;
  LoadKind kind;
  ChorusRtpCodec codec;
  LoadRxStream rx;
} RxStream;

/* What a payload type means in the current offer (unknown SSRCs). */
typedef struct {
  gboolean known;
  LoadKind kind;
  ChorusRtpCodec codec;
  guint32 clock_rate;
} PtInfo;

struct _LoadSubscriber {
  const LoadShared *shared;
  GMainContext *context;
  LoadSubscriberCallbacks cb;
  gpointer user_data;
  ChorusPeer *peer;
  gboolean answered;
  guint64 session_id;
  guint64 session_version;
  GHashTable *streams; /* ssrc -> RxStream * (owned) */
  RxStream *last;      /* most packets come in runs of one SSRC */
  PtInfo pts[128];
  gint64 first_us[LOAD_KIND_N + 1]; /* [LOAD_KIND_N]: any kind */
  gint64 first_keyframe_us;
  guint64 unknown;
  guint64 packets;
};

static ChorusRtpCodec
rtp_codec_of(const ChorusSdpPayload *codec)
{
  switch (codec ? codec->id : CHORUS_SDP_CODEC_UNKNOWN) {
  case CHORUS_SDP_CODEC_VP8:
    return CHORUS_RTP_CODEC_VP8;
  case CHORUS_SDP_CODEC_VP9:
    return CHORUS_RTP_CODEC_VP9;
  case CHORUS_SDP_CODEC_H264:
    return CHORUS_RTP_CODEC_H264;
  case CHORUS_SDP_CODEC_AV1:
    return CHORUS_RTP_CODEC_AV1;
  default:
    return CHORUS_RTP_CODEC_OTHER;
  }
}

static RxStream *
stream_add(LoadSubscriber *sub, guint32 ssrc, LoadKind kind, ChorusRtpCodec codec,
           guint32 clock_rate)
{
  RxStream *s = g_new0(RxStream, 1);
  s->ssrc = ssrc;
  s->kind = kind;
  s->codec = codec;
  load_rx_stream_init(&s->rx, clock_rate, kind == LOAD_KIND_VIDEO);
  g_hash_table_insert(sub->streams, GUINT_TO_POINTER(ssrc), s);
  return s;
}

static RxStream *
stream_lookup(LoadSubscriber *sub, const ChorusRtpPacket *pkt)
{
  if (sub->last && sub->last->ssrc == pkt->ssrc)
    return sub->last;
  RxStream *s = g_hash_table_lookup(sub->streams, GUINT_TO_POINTER(pkt->ssrc));
  if (s == NULL) {
    /* An SSRC the offers did not list: classify by payload type. */
    const PtInfo *info = &sub->pts[pkt->payload_type & 0x7f];
    if (!info->known)
      return NULL;
    s = stream_add(sub, pkt->ssrc, info->kind, info->codec, info->clock_rate);
  }
  sub->last = s;
  return s;
}

static void
on_rtp(ChorusPeer *peer, guint8 *buf, gsize len, gint64 now_us, gpointer user_data)
{
  LoadSubscriber *sub = user_data;
  ChorusRtpPacket pkt;
  if (chorus_rtp_packet_parse(&pkt, buf, len) != CHORUS_RTP_OK) {
    sub->unknown++;
    return;
  }
  RxStream *s = stream_lookup(sub, &pkt);
  if (s == NULL) {
    sub->unknown++;
    return;
  }
  gboolean keyframe =
      s->kind == LOAD_KIND_VIDEO && s->codec != CHORUS_RTP_CODEC_OTHER &&
      chorus_rtp_is_keyframe_start(s->codec, buf + pkt.payload_offset, pkt.payload_len);
  load_rx_stream_handle(&s->rx, pkt.seq, pkt.timestamp, keyframe, len, now_us);
  sub->packets++;
  if (sub->first_us[s->kind] == 0)
    sub->first_us[s->kind] = now_us;
  if (sub->first_us[LOAD_KIND_N] == 0)
    sub->first_us[LOAD_KIND_N] = now_us;
  if (keyframe && sub->first_keyframe_us == 0)
    sub->first_keyframe_us = now_us;
}

static void
on_peer_state(ChorusPeer *peer, ChorusPeerState state, const char *reason, gpointer user_data)
{
  LoadSubscriber *sub = user_data;
  if (sub->cb.state_changed)
    sub->cb.state_changed(sub, state, reason, sub->user_data);
}

static void
on_peer_candidate(ChorusPeer *peer, const char *candidate, gpointer user_data)
{
  LoadSubscriber *sub = user_data;
  if (sub->answered && sub->cb.local_candidate) {
    const char *ufrag, *pwd, *fp;
    chorus_peer_get_local_params(peer, &ufrag, &pwd, &fp, NULL, NULL);
    sub->cb.local_candidate(sub, candidate, ufrag, sub->user_data);
  }
}

LoadSubscriber *
load_subscriber_new(const LoadShared *shared, GMainContext *context,
                    const LoadSubscriberCallbacks *callbacks, gpointer user_data)
{
  LoadSubscriber *sub = g_new0(LoadSubscriber, 1);
  sub->shared = shared;
  sub->context = context;
  sub->cb = *callbacks;
  sub->user_data = user_data;
  sub->session_id = g_random_int() & 0x7fffffff;
  sub->streams = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
  return sub;
}

void
load_subscriber_free(LoadSubscriber *sub)
{
  if (sub == NULL)
    return;
  g_clear_pointer(&sub->peer, chorus_peer_free);
  g_hash_table_unref(sub->streams);
  g_free(sub);
}

static gboolean
ensure_peer(LoadSubscriber *sub, GError **error)
{
  if (sub->peer != NULL)
    return TRUE;
  static const ChorusPeerCallbacks peer_cb = {
      .local_candidate = on_peer_candidate,
      .state_changed = on_peer_state,
      .rtp = on_rtp,
  };
  /* Chorus offers, so ChorusPeer makes us the controlled ICE agent. */
  sub->peer = chorus_peer_new(sub->context, &sub->shared->peer_config, FALSE, &peer_cb, sub, error);
  if (sub->peer == NULL)
    return FALSE;
  return chorus_peer_gather(sub->peer, error);
}

/* Chorus's answerer writes a=setup:passive to an actpass offer (it is the
 * server's side); a client answers active, as browsers do, and becomes the
 * DTLS client. */
static char *
make_active(const char *answer, GError **error)
{
  g_autoptr(ChorusSdpSession) session = chorus_sdp_session_parse(answer, error);
  if (session == NULL)
    return NULL;
  for (guint i = 0; i < session->media->len; i++) {
    ChorusSdpMedia *media = g_ptr_array_index(session->media, i);
    if (media->setup != CHORUS_SDP_SETUP_UNSET)
      media->setup = CHORUS_SDP_SETUP_ACTIVE;
  }
  return chorus_sdp_session_write(session);
}

static void
learn_streams(LoadSubscriber *sub, const ChorusSdpNegotiation *neg)
{
  for (guint i = 0; i < neg->media->len; i++) {
    const ChorusSdpMediaResult *m = g_ptr_array_index(neg->media, i);
    if (!m->accepted || m->codec == NULL ||
        (m->kind != CHORUS_SDP_KIND_AUDIO && m->kind != CHORUS_SDP_KIND_VIDEO))
      continue;
    LoadKind kind = m->kind == CHORUS_SDP_KIND_AUDIO ? LOAD_KIND_AUDIO : LOAD_KIND_VIDEO;
    ChorusRtpCodec codec = rtp_codec_of(m->codec);
    guint32 clock = m->codec->clock_rate;
    PtInfo info = {TRUE, kind, codec, clock};
    sub->pts[m->codec->pt & 0x7f] = info;
    if (m->red_pt >= 0)
      sub->pts[m->red_pt & 0x7f] = info;
    for (guint j = 0; j < m->ssrcs->len; j++) {
      guint32 ssrc = g_array_index(m->ssrcs, guint32, j);
      if (!g_hash_table_contains(sub->streams, GUINT_TO_POINTER(ssrc)))
        stream_add(sub, ssrc, kind, codec, clock);
    }
  }
}

char *
load_subscriber_handle_offer(LoadSubscriber *sub, const char *offer, GError **error)
{
  if (!ensure_peer(sub, error))
    return NULL;
  const char *ufrag, *pwd, *fingerprint;
  GPtrArray *candidates = NULL;
  gboolean done = FALSE;
  chorus_peer_get_local_params(sub->peer, &ufrag, &pwd, &fingerprint, &candidates, &done);
  g_ptr_array_add(candidates, NULL);
  ChorusSdpLocalParams local = {
      .ice_ufrag = ufrag,
      .ice_pwd = pwd,
      .fingerprint_sha256 = fingerprint,
      .candidates = (const char *const *)candidates->pdata,
      .end_of_candidates = done,
      .session_id = sub->session_id,
      .session_version = ++sub->session_version,
  };
  g_autoptr(ChorusSdpNegotiation) neg =
      chorus_sdp_negotiation_answer_offer(offer, &local, NULL, error);
  g_ptr_array_unref(candidates);
  if (neg == NULL)
    return NULL;
  g_autofree char *answer = make_active(neg->sdp, error);
  if (answer == NULL)
    return NULL;
  ChorusSdpTransport transport = neg->transport;
  transport.dtls_server = FALSE;
  if (!chorus_peer_set_remote(sub->peer, &transport, error))
    return NULL;
  learn_streams(sub, neg);
  sub->answered = TRUE;
  return g_steal_pointer(&answer);
}

gboolean
load_subscriber_add_remote_candidate(LoadSubscriber *sub, const char *candidate, const char *ufrag,
                                     GError **error)
{
  if (sub->peer == NULL) {
    g_set_error_literal(error, CHORUS_ERROR, CHORUS_ERROR_NOT_FOUND,
                        "a subscriber candidate before any offer");
    return FALSE;
  }
  return chorus_peer_add_remote_candidate(sub->peer, candidate, ufrag, error);
}

void
load_subscriber_finish(LoadSubscriber *sub, gint64 now_us)
{
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, sub->streams);
  while (g_hash_table_iter_next(&it, NULL, &value))
    load_rx_stream_finish(&((RxStream *)value)->rx, now_us);
}

ChorusPeerState
load_subscriber_get_state(LoadSubscriber *sub)
{
  return sub->peer ? chorus_peer_get_state(sub->peer) : CHORUS_PEER_STATE_NEW;
}

gint64
load_subscriber_first_packet_us(LoadSubscriber *sub, LoadKind kind)
{
  return sub->first_us[MIN(kind, LOAD_KIND_N)];
}

gint64
load_subscriber_first_keyframe_us(LoadSubscriber *sub)
{
  return sub->first_keyframe_us;
}

void
load_subscriber_get_totals(LoadSubscriber *sub, LoadRxTotals out[LOAD_KIND_N], guint64 *srtp_failed,
                           guint64 *unknown)
{
  memset(out, 0, sizeof(LoadRxTotals) * LOAD_KIND_N);
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, sub->streams);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    const RxStream *s = value;
    if (!s->rx.started)
      continue;
    LoadRxTotals *t = &out[s->kind];
    t->streams++;
    t->packets += s->rx.received;
    t->bytes += s->rx.bytes;
    t->expected += load_rx_stream_expected(&s->rx);
    t->lost += load_rx_stream_lost(&s->rx);
    t->jitter_ms_sum += load_rx_stream_jitter_ms(&s->rx);
    t->jitter_ms_max = MAX(t->jitter_ms_max, s->rx.jitter_max * 1000.0 / s->rx.clock_rate);
    t->frames += s->rx.frames;
    t->keyframes += s->rx.keyframes;
    t->freezes += s->rx.freezes;
    t->freeze_us += s->rx.freeze_us;
  }
  ChorusPeerStats stats = {0};
  if (sub->peer)
    chorus_peer_get_stats(sub->peer, &stats);
  *srtp_failed = stats.srtp_unprotect_failed;
  *unknown = sub->unknown;
}

void
load_subscriber_get_counts(LoadSubscriber *sub, guint64 *packets, guint64 *expected, guint64 *lost)
{
  *packets = sub->packets;
  *expected = 0;
  *lost = 0;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, sub->streams);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    const RxStream *s = value;
    *expected += load_rx_stream_expected(&s->rx);
    *lost += load_rx_stream_lost(&s->rx);
  }
}
