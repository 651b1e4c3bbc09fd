/* The packet path: publisher RTP -> uptrack -> every downtrack (rewrite,
 * protect, send); keyframe requests from subscribers -> publisher.
 * No allocation, no lock, no logging per packet: drops are counted. */
#include <string.h>

#include "media/media-private.h"
#include "rtp/keyframe-throttle.h"
#include "rtp/keyframe.h"
#include "rtp/packet-history.h"
#include "rtp/rtcp-fb.h"
#include "rtp/red.h"
#include "rtp/remb-controller.h"
#include "rtp/rtcp.h"
#include "rtp/twcc-recorder.h"
#include "rtp/rtp-packet.h"

/* A keyframe in the ring this recent starts a new subscriber at once: its
 * frames are replayed in a burst that the subscriber's jitter buffer
 * absorbs. Older ones would add their age to the subscriber's delay.
 *
 * At least the keyframe-request interval, because keyframe requests are
 * throttled strictly (no bypass for starting subscribers): a subscriber
 * that starts (media_downtrack_kickoff) within the interval after the
 * layer's last request R, so that its own request is deferred, finds R's
 * keyframe either already arrived (at R + RTT, so younger than the
 * interval now: replayed), or still on its way (the waiting downtrack takes
 * it live). Only when none comes (R lost, ignored by a publisher that just
 * sent one, a hole in the ring) does it wait for its deferred request,
 * which goes out when the interval since R ends: at most one interval
 * late. Equal to the interval: older would only add delay. */
#define KEYFRAME_REPLAY_MAX_AGE_US CHORUS_KEYFRAME_THROTTLE_INTERVAL_US
G_STATIC_ASSERT(KEYFRAME_REPLAY_MAX_AGE_US >= CHORUS_KEYFRAME_THROTTLE_INTERVAL_US);

static gboolean can_request_keyframe(const Uptrack *up, guint layer);
static void send_pli(Uptrack *up, guint layer);


/* One vDSO clock read per forwarded packet; the bucket search is a few
 * compares of a small constant table. */
static inline void
record_delay(MediaRoom *room, guint kind, gint64 delay_us)
{
  guint b = 0;
  while (b < MEDIA_DELAY_BUCKETS - 1 && delay_us > media_delay_bounds_us[b])
    b++;
  room->delay_buckets[kind][b]++;
  room->delay_sum_us[kind] += delay_us;
}

static gboolean
ext_equals(const ChorusRtpPacket *pkt, guint8 id, const char *value)
{
  const guint8 *v;
  gsize n;
  if (id == 0 || value == NULL || !chorus_rtp_packet_find_extension(pkt, id, &v, &n))
    return FALSE;
  return n == strlen(value) && memcmp(v, value, n) == 0;
}

static int
layer_of_rid(const Uptrack *up, const ChorusRtpPacket *pkt, guint8 id)
{
  const guint8 *v;
  gsize n;
  if (id == 0 || !chorus_rtp_packet_find_extension(pkt, id, &v, &n))
    return -1;
  for (guint l = 0; l < up->n_layers; l++)
    if (up->rids[l] && n == strlen(up->rids[l]) && memcmp(v, up->rids[l], n) == 0)
      return (int)l;
  return -1;
}

/* Finds the uptrack and layer of a packet by SSRC; for an SSRC not seen
 * before, learns it from the mid/rid header extensions (browsers signal no
 * SSRCs with rid simulcast), else from a payload type only one of the
 * publisher's tracks uses. *rtx is set for retransmission streams. */
static Uptrack *
classify(MediaPart *part, const ChorusRtpPacket *pkt, guint *layer, gboolean *rtx)
{
  GPtrArray *ups = part->uptracks;
  for (guint i = 0; i < ups->len; i++) {
    Uptrack *up = g_ptr_array_index(ups, i);
    for (guint l = 0; l < up->n_layers; l++) {
      if (up->ssrcs[l] == pkt->ssrc) {
        *layer = l;
        *rtx = FALSE;
        return up;
      }
      if (up->rtx_ssrcs[l] == pkt->ssrc) {
        *layer = l;
        *rtx = TRUE;
        return up;
      }
    }
  }
  Uptrack *match = NULL;
  for (guint i = 0; i < ups->len && match == NULL; i++) {
    Uptrack *up = g_ptr_array_index(ups, i);
    if (ext_equals(pkt, up->ext_ids[CHORUS_SDP_EXT_MID], up->mid))
      match = up;
  }
  if (match == NULL) {
    for (guint i = 0; i < ups->len; i++) {
      Uptrack *up = g_ptr_array_index(ups, i);
      if (up->codec->pt == pkt->payload_type || up->rtx_pt == pkt->payload_type) {
        if (match)
          return NULL; /* ambiguous */
        match = up;
      }
    }
  }
  if (match == NULL)
    return NULL;
  gboolean is_rtx = match->rtx_pt >= 0 && pkt->payload_type == match->rtx_pt;
  int l = 0;
  if (match->n_layers > 1) {
    l = layer_of_rid(match, pkt,
                     match->ext_ids[is_rtx ? CHORUS_SDP_EXT_REPAIRED_RID : CHORUS_SDP_EXT_RID]);
    if (l < 0)
      return NULL;
  }
  if (is_rtx)
    match->rtx_ssrcs[l] = pkt->ssrc;
  else
    match->ssrcs[l] = pkt->ssrc;
  *layer = (guint)l;
  *rtx = is_rtx;
  return match;
}

/* A RED (RFC 2198) packet of @d's publisher, rewritten into @out: passed
 * on as RED when the subscriber negotiated it (outer PT its RED pt, every
 * block's PT its Opus pt), else reduced to the primary Opus block. */
static gboolean
forward_red(Downtrack *d, const ChorusRtpPacket *pkt, guint8 *out, gsize *len)
{
  guint8 *payload = out + *len - (pkt->len - pkt->payload_offset);
  if (pkt->payload_len == 0)
    return TRUE; /* a padding-only probe: its seq must not go missing */
  if (d->red_pt >= 0) {
    out[1] = (guint8)((out[1] & 0x80) | d->red_pt);
    return chorus_rtp_red_set_block_pt(payload, pkt->payload_len, d->pt);
  }
  ChorusRtpRedInfo red;
  if (!chorus_rtp_red_parse(payload, pkt->payload_len, &red))
    return FALSE;
  memmove(payload, payload + red.primary_offset, red.primary_len);
  *len = (gsize)(payload - out) + red.primary_len;
  out[0] &= (guint8)~0x20; /* any padding is gone with the rest */
  return TRUE;
}

static void
forward_to(Downtrack *d, const ChorusRtpPacket *pkt, guint layer, gboolean keyframe,
           MediaRoom *room, gint64 now_us)
{
  switch (chorus_simulcast_selector_handle_packet(&d->sel, layer, keyframe)) {
  case CHORUS_SIMULCAST_FORWARD:
    break;
  case CHORUS_SIMULCAST_SWITCH_AND_FORWARD:
    /* A new layer, or a restart on a keyframe: the subscriber still sees
     * one continuous stream. */
    chorus_rtp_munger_rebase(&d->munger);
    break;
  case CHORUS_SIMULCAST_DROP:
    return;
  case CHORUS_SIMULCAST_DROP_REQUEST_KEYFRAME:
    /* The target layer flows but no keyframe yet: ask (throttled). */
    media_request_keyframe(d->up, layer, now_us);
    return;
  case CHORUS_SIMULCAST_DROP_WAITING_KEYFRAME:
    room->counters[MEDIA_COUNTER_WAITING_KEYFRAME]++;
    /* Asks again while waiting (a request may be lost); throttled. */
    media_request_keyframe(d->up, layer, now_us);
    return;
  }
  guint32 clock = d->up->codec->clock_rate ? d->up->codec->clock_rate : 90000;
  guint16 seq;
  guint32 ts;
  if (chorus_rtp_munger_map(&d->munger, pkt->ssrc, pkt->seq, pkt->timestamp, layer, clock, now_us,
                            &seq, &ts) != CHORUS_RTP_MUNGER_FORWARD)
    return; /* late, from before a switch: its seq went out from the old layer */
  ChorusRtpRewrite rw = {
    .ssrc = d->ssrc,
    .payload_type = d->pt,
    .seq = seq,
    .timestamp = ts,
    .ext_map = d->ext_map,
  };
  gsize len;
  guint8 *out = room->out;
  if (chorus_rtp_packet_rewrite(pkt, &rw, out, sizeof(room->out) - CHORUS_SRTP_MAX_RTP_OVERHEAD,
                                &len) != CHORUS_RTP_OK) {
    room->counters[MEDIA_COUNTER_SEND_FAILED]++;
    return;
  }
  if (d->up->rtp_codec == CHORUS_RTP_CODEC_VP8)
    chorus_rtp_munger_rewrite_vp8(&d->munger, out + len - (pkt->len - pkt->payload_offset),
                                  pkt->payload_len);
  gsize payload_len = pkt->payload_len;
  if (G_UNLIKELY(d->up->red_pt >= 0 && pkt->payload_type == d->up->red_pt)) {
    gsize before = len;
    if (!forward_red(d, pkt, out, &len)) {
      room->counters[MEDIA_COUNTER_RTP_MALFORMED]++;
      return;
    }
    payload_len -= MIN(payload_len, before - len); /* unwrapped: what is sent */
  }
  if (chorus_peer_send_rtp(d->sub->sub, out, len, sizeof(room->out)) == CHORUS_PEER_SEND_OK) {
    room->counters[MEDIA_COUNTER_RTP_FORWARDED]++;
    d->packets_sent++;
    chorus_resend_limiter_forwarded(&d->resends);
    d->octets_sent += (guint32)payload_len;
    record_delay(room, d->up->kind == CHORUS_SDP_KIND_AUDIO ? MEDIA_DELAY_AUDIO : MEDIA_DELAY_VIDEO,
                 g_get_monotonic_time() - (room->packet_arrival_us ? room->packet_arrival_us : now_us));
  }
}

static void forward_publisher_rtp(MediaPart *part, guint8 *buf, gsize len, gint64 now_us);

/* The forwarding delay of the packet (chorus_media_forward_delay_us) and
 * the publisher's transport-wide feedback count from the kernel's arrival
 * time (webrtc/rx-stamp.h), which includes the time the packet waited in
 * the socket while the worker was busy: latency Chorus added. */
void
media_forward_publisher_rtp(MediaPart *part, guint8 *buf, gsize len, gint64 now_us)
{
  MediaRoom *room = part->room;
  room->packet_arrival_us = part->pub ? chorus_peer_get_arrival_us(part->pub, now_us) : now_us;
  forward_publisher_rtp(part, buf, len, now_us);
  room->packet_arrival_us = 0;
}

static void
forward_publisher_rtp(MediaPart *part, guint8 *buf, gsize len, gint64 now_us)
{
  MediaRoom *room = part->room;
  ChorusRtpPacket pkt;
  if (chorus_rtp_packet_parse(&pkt, buf, len) != CHORUS_RTP_OK) {
    room->counters[MEDIA_COUNTER_RTP_MALFORMED]++;
    return;
  }
  room->counters[MEDIA_COUNTER_RTP_IN]++;
  part->remb_bytes += len;
  if (part->twcc) {
    /* Every packet of the transport counts, whatever it carries (padding
     * probes, RTX, streams not matched): one unrecorded would be reported
     * lost and pull the publisher's estimate down. At the kernel's arrival
     * time, not when the worker got to it (webrtc/rx-stamp.h). */
    const guint8 *v;
    gsize n;
    guint16 tseq;
    if (chorus_rtp_packet_find_extension(&pkt, part->twcc_ext_id, &v, &n) &&
        chorus_rtp_twcc_read_ext(v, n, &tseq))
      chorus_twcc_recorder_handle_packet(part->twcc, tseq, room->packet_arrival_us);
  }
  guint layer = 0;
  gboolean rtx = FALSE;
  Uptrack *up = classify(part, &pkt, &layer, &rtx);
  if (up == NULL) {
    room->counters[MEDIA_COUNTER_RTP_UNMATCHED]++;
    return;
  }
  if (rtx) {
    /* A retransmission we asked for: unwrap it (RFC 4588) and treat it as
     * the original packet. Probes (padding only) and RTX of tracks we do
     * not NACK are dropped. */
    gsize n;
    if (up->nacks[layer] == NULL || up->ssrcs[layer] == 0 ||
        chorus_rtp_rtx_decapsulate(&pkt, up->codec->pt, up->ssrcs[layer], room->unwrapped,
                                   sizeof(room->unwrapped), &n) != CHORUS_RTP_OK ||
        chorus_rtp_packet_parse(&pkt, room->unwrapped, n) != CHORUS_RTP_OK) {
      room->counters[MEDIA_COUNTER_RTX_DROPPED]++;
      return;
    }
    /* RECOVERED answers a NACK; NEW is a packet whose original has not
     * arrived (yet, or ever): libwebrtc also sends recent packets as RTX
     * when it probes bandwidth. Both are media we do not have. */
    ChorusNackPacketVerdict v = chorus_nack_generator_handle_packet(up->nacks[layer], pkt.seq, TRUE, now_us);
    if (v != CHORUS_NACK_PACKET_RECOVERED && v != CHORUS_NACK_PACKET_NEW) {
      room->counters[MEDIA_COUNTER_RTX_DROPPED]++; /* a duplicate, or given up */
      return;
    }
    room->counters[MEDIA_COUNTER_RTX_RECOVERED]++;
    buf = room->unwrapped;
    len = n;
  } else if (up->nacks[layer]) {
    chorus_nack_generator_handle_packet(up->nacks[layer], pkt.seq, FALSE, now_us);
  }
  if (G_UNLIKELY(up->rx[layer] == NULL)) /* once per stream, at its first packet */
    up->rx[layer] = chorus_rtp_receive_stats_new(pkt.ssrc, up->codec->clock_rate ? up->codec->clock_rate : 90000);
  chorus_rtp_receive_stats_handle_packet(up->rx[layer], pkt.seq, pkt.timestamp, len, now_us);
  media_uptrack_forward(up, &pkt, buf, len, layer, now_us);
}

void
media_uptrack_forward(Uptrack *up, const ChorusRtpPacket *pkt, const guint8 *buf, gsize len,
                      guint layer, gint64 now_us)
{
  MediaRoom *room = up->owner->room;
  up->last_packet_us[layer] = now_us;
  if (G_UNLIKELY(up->ssrcs[layer] == 0))
    up->ssrcs[layer] = pkt->ssrc; /* PK relays learn it here */
  gboolean keyframe =
    up->rtp_codec != CHORUS_RTP_CODEC_OTHER &&
    chorus_rtp_keyframe_tracker_handle_packet(&up->kf[layer], up->rtp_codec, pkt->timestamp,
                                              buf + pkt->payload_offset, pkt->payload_len);
  MediaRing *ring = up->rings[layer];
  if (ring && len <= MEDIA_PKT_BYTES) {
    MediaRingSlot *slot = &ring->slots[pkt->seq % MEDIA_RING_SLOTS];
    memcpy(slot->data, buf, len);
    slot->len = (guint16)len;
    slot->seq = pkt->seq;
    slot->arrival_us = now_us;
    slot->keyframe = keyframe;
    if (!ring->any || (guint16)(pkt->seq - ring->newest) < 0x8000)
      ring->newest = pkt->seq;
    ring->any = TRUE;
  }
  /* A keyframe request deferred by the throttle goes out with the layer's
   * first packet after the interval. */
  if (G_UNLIKELY(chorus_keyframe_throttle_is_pending(&up->pli[layer])) &&
      can_request_keyframe(up, layer) && chorus_keyframe_throttle_poll(&up->pli[layer], now_us))
    send_pli(up, layer);
  if (up->speaker_id != 0) /* voice rooms: the speaker detector hears every packet */
    media_voice_handle_packet(up, pkt, now_us);
  if (up->muted)
    return;
  for (guint i = 0; i < up->downtracks->len; i++) {
    Downtrack *d = g_ptr_array_index(up->downtracks, i);
    if (!d->negotiated || d->paused || d->sub->sub == NULL ||
        chorus_peer_get_state(d->sub->sub) != CHORUS_PEER_STATE_CONNECTED)
      continue;
    forward_to(d, pkt, layer, keyframe, room, now_us);
  }
  if (up->relays) /* PK: into the linked room, on its worker */
    media_relay_push(up, buf, len, layer);
}

/* The ring slot holding @seq, or NULL. */
static const MediaRingSlot *
ring_get(const MediaRing *ring, guint16 seq)
{
  const MediaRingSlot *s = &ring->slots[seq % MEDIA_RING_SLOTS];
  return s->arrival_us != 0 && s->seq == seq ? s : NULL;
}

/* Replays the ring of @d's layer from its newest keyframe, if that keyframe
 * is fresh and every packet since is there. */
static gboolean
replay_ring(Downtrack *d, gint64 now_us)
{
  Uptrack *up = d->up;
  MediaRing *ring = up->rings[d->sel.layer];
  if (ring == NULL || !ring->any)
    return FALSE;
  guint16 start = ring->newest;
  guint n = 1;
  for (;;) {
    const MediaRingSlot *s = ring_get(ring, start);
    if (s == NULL || now_us - s->arrival_us > KEYFRAME_REPLAY_MAX_AGE_US)
      return FALSE; /* a hole (loss) or too old: not decodable from here */
    if (s->keyframe)
      break;
    if (n == MEDIA_RING_SLOTS)
      return FALSE;
    start--;
    n++;
  }
  MediaRoom *room = up->owner->room;
  for (guint i = 0; i < n; i++) {
    const MediaRingSlot *s = ring_get(ring, (guint16)(start + i));
    ChorusRtpPacket pkt;
    if (s == NULL || chorus_rtp_packet_parse(&pkt, s->data, s->len) != CHORUS_RTP_OK)
      return FALSE;
    forward_to(d, &pkt, d->sel.layer, s->keyframe, room, now_us);
  }
  room->counters[MEDIA_COUNTER_KEYFRAME_REPLAYS]++;
  return !d->sel.need_keyframe;
}

/* Answers a subscriber's NACK for @out_seq of @d from the publisher layer's
 * ring: the packet is rewritten again exactly as it was sent (same segment
 * offsets) and sent as RTX when negotiated, else as is. */
static void
resend(Downtrack *d, guint16 out_seq, gint64 now_us)
{
  MediaRoom *room = d->sub->room;
  ChorusRtpMungerOrigin from;
  MediaRing *ring = NULL;
  if (d->up && chorus_rtp_munger_lookup(&d->munger, out_seq, &from) && from.layer < MEDIA_MAX_LAYERS)
    ring = d->up->rings[from.layer];
  const MediaRingSlot *slot = ring ? ring_get(ring, from.in_seq) : NULL;
  ChorusRtpPacket pkt;
  /* The SSRC check: after a source change the ring may still hold the old
   * source's packet under that seq. */
  if (slot == NULL || chorus_rtp_packet_parse(&pkt, slot->data, slot->len) != CHORUS_RTP_OK ||
      pkt.ssrc != from.ssrc) {
    room->counters[MEDIA_COUNTER_RETRANSMIT_MISSED]++;
    return;
  }
  ChorusRtpRewrite rw = {
    .ssrc = d->ssrc,
    .payload_type = d->pt,
    .seq = out_seq,
    .timestamp = pkt.timestamp + from.ts_offset,
    .ext_map = d->ext_map,
  };
  gsize len;
  guint8 *out = room->out;
  if (chorus_rtp_packet_rewrite(&pkt, &rw, out, sizeof(room->out) - CHORUS_SRTP_MAX_RTP_OVERHEAD,
                                &len) != CHORUS_RTP_OK) {
    room->counters[MEDIA_COUNTER_SEND_FAILED]++;
    return;
  }
  if (d->up->rtp_codec == CHORUS_RTP_CODEC_VP8)
    chorus_vp8_apply_offsets(out + len - (pkt.len - pkt.payload_offset), pkt.payload_len,
                             from.vp8_pid_offset, from.vp8_tl0_offset);
  if (d->rtx_pt >= 0) {
    ChorusRtpPacket orig;
    gsize rtx_len;
    if (chorus_rtp_packet_parse(&orig, out, len) != CHORUS_RTP_OK ||
        chorus_rtp_rtx_encapsulate(&orig, d->rtx_ssrc, (guint8)d->rtx_pt, d->rtx_seq++, room->out2,
                                   sizeof(room->out2) - CHORUS_SRTP_MAX_RTP_OVERHEAD,
                                   &rtx_len) != CHORUS_RTP_OK) {
      room->counters[MEDIA_COUNTER_SEND_FAILED]++;
      return;
    }
    out = room->out2;
    len = rtx_len;
  }
  if (chorus_peer_send_rtp(d->sub->sub, out, len, MEDIA_PKT_BYTES) == CHORUS_PEER_SEND_OK)
    room->counters[MEDIA_COUNTER_RETRANSMITTED]++;
}

void
media_downtrack_kickoff(Downtrack *d, gint64 now_us)
{
  if (d->up == NULL || !d->sel.need_keyframe)
    return;
  MediaPart *sub = d->sub;
  gboolean connected = sub->sub && chorus_peer_get_state(sub->sub) == CHORUS_PEER_STATE_CONNECTED;
  if (connected && !d->paused && !d->up->muted && replay_ring(d, now_us))
    return;
  /* Throttled like every request: see KEYFRAME_REPLAY_MAX_AGE_US. */
  media_request_keyframe(d->up, d->sel.layer, now_us);
}

void
media_downtrack_set_paused(Downtrack *d, gboolean paused, gint64 now_us)
{
  if (d->paused == paused)
    return;
  d->paused = paused;
  if (paused || d->up == NULL || !chorus_rtp_munger_is_started(&d->munger))
    return;
  /* Resumed: what was skipped while paused is no loss to report or NACK,
   * so the sequence continues without a gap; video restarts from a
   * keyframe, since its deltas refer to frames the subscriber never got. */
  chorus_rtp_munger_rebase(&d->munger);
  if (d->up->kind == CHORUS_SDP_KIND_VIDEO && d->up->rtp_codec != CHORUS_RTP_CODEC_OTHER) {
    chorus_simulcast_selector_wait_keyframe(&d->sel);
    if (d->negotiated)
      media_downtrack_kickoff(d, now_us);
  }
}

void
media_forward_publisher_rtcp(MediaPart *part, guint8 *buf, gsize len, gint64 now_us)
{
  /* Terminated here: sender reports feed our receiver reports (LSR/DLSR)
   * and each subscriber's sender reports (NTP/RTP mapping); nothing is
   * relayed. */
  MediaRoom *room = part->room;
  room->counters[MEDIA_COUNTER_RTCP_IN]++;
  ChorusRtcpIter it;
  ChorusRtcpPacket pkt;
  gboolean malformed = FALSE;
  if (!chorus_rtcp_iter_init(&it, buf, len))
    return;
  while (chorus_rtcp_iter_next(&it, &pkt, &malformed)) {
    ChorusRtcpReport report;
    if (pkt.type != CHORUS_RTCP_SR || chorus_rtcp_report_parse(&pkt, &report) != CHORUS_RTP_OK)
      continue;
    for (guint i = 0; i < part->uptracks->len; i++) {
      Uptrack *up = g_ptr_array_index(part->uptracks, i);
      for (guint l = 0; l < up->n_layers; l++) {
        if (up->ssrcs[l] != report.ssrc)
          continue;
        up->sr_ntp[l] = report.sender_info.ntp;
        up->sr_rtp[l] = report.sender_info.rtp_ts;
        up->sr_arrival_us[l] = now_us;
        if (up->rx[l])
          chorus_rtp_receive_stats_handle_sr(up->rx[l], report.sender_info.ntp, now_us);
      }
    }
  }
  if (malformed)
    room->counters[MEDIA_COUNTER_RTP_MALFORMED]++;
}

/* Whether a keyframe request for @layer can go to @up's publisher now. */
static gboolean
can_request_keyframe(const Uptrack *up, guint layer)
{
  const MediaPart *owner = up->owner;
  if (up->relay) /* PK: asked of the source room's worker */
    return layer < up->n_layers && up->kind == CHORUS_SDP_KIND_VIDEO && up->ssrcs[layer] != 0;
  /* ssrcs[layer] == 0: nothing received on that layer yet, nothing to
   * refresh. */
  return layer < up->n_layers && up->kind == CHORUS_SDP_KIND_VIDEO && owner->pub != NULL &&
         chorus_peer_get_state(owner->pub) == CHORUS_PEER_STATE_CONNECTED &&
         up->ssrcs[layer] != 0;
}

static void
send_pli(Uptrack *up, guint layer)
{
  MediaPart *owner = up->owner;
  MediaRoom *room = owner->room;
  if (up->relay) {
    media_relay_request_keyframe(up->relay, layer);
    return;
  }
  guint8 pli[12 + CHORUS_SRTP_MAX_RTCP_OVERHEAD];
  gsize n = chorus_rtcp_write_pli(pli, sizeof(pli), room->rtcp_ssrc, up->ssrcs[layer]);
  if (chorus_peer_send_rtcp(owner->pub, pli, n, sizeof(pli)) == CHORUS_PEER_SEND_OK)
    room->counters[MEDIA_COUNTER_KEYFRAME_REQUESTS]++;
}

void
media_request_keyframe(Uptrack *up, guint layer, gint64 now_us)
{
  if (!can_request_keyframe(up, layer))
    return;
  /* Deferred, not dropped, inside the interval: a viewer joining right
   * after another still needs its keyframe (some publishers send none
   * unasked). The layer's next packet after the interval sends it. */
  if (chorus_keyframe_throttle_request(&up->pli[layer], now_us) == CHORUS_KEYFRAME_REQUEST_SEND)
    send_pli(up, layer);
}

void
media_forward_subscriber_rtcp(MediaPart *part, guint8 *buf, gsize len, gint64 now_us)
{
  MediaRoom *room = part->room;
  room->counters[MEDIA_COUNTER_RTCP_IN]++;
  ChorusRtcpIter it;
  ChorusRtcpPacket pkt;
  gboolean malformed = FALSE;
  if (!chorus_rtcp_iter_init(&it, buf, len)) {
    room->counters[MEDIA_COUNTER_RTP_MALFORMED]++;
    return;
  }
  while (chorus_rtcp_iter_next(&it, &pkt, &malformed)) {
    guint32 ssrc;
    if (pkt.type == CHORUS_RTCP_RTPFB && pkt.count == CHORUS_RTCP_RTPFB_NACK) {
      guint16 seqs[128];
      gsize n = 0, total = 0;
      if (chorus_rtcp_nack_parse(&pkt, &ssrc, seqs, G_N_ELEMENTS(seqs), &total) != CHORUS_RTP_OK)
        continue;
      n = MIN(total, G_N_ELEMENTS(seqs));
      room->counters[MEDIA_COUNTER_NACKS_RECEIVED] += n;
      for (guint i = 0; i < part->downtracks->len; i++) {
        Downtrack *d = g_ptr_array_index(part->downtracks, i);
        if (d->ssrc != ssrc)
          continue;
        for (gsize k = 0; k < n; k++) {
          if (chorus_resend_limiter_check(&d->resends, seqs[k], now_us) == CHORUS_RESEND_OK)
            resend(d, seqs[k], now_us);
          else
            room->counters[MEDIA_COUNTER_RETRANSMIT_LIMITED]++;
        }
      }
      continue;
    }
    if (!chorus_rtcp_is_keyframe_request(&pkt, &ssrc))
      continue;
    for (guint i = 0; i < part->downtracks->len; i++) {
      Downtrack *d = g_ptr_array_index(part->downtracks, i);
      if (d->ssrc == ssrc && d->up)
        media_request_keyframe(d->up, d->sel.layer, now_us);
    }
  }
  if (malformed)
    room->counters[MEDIA_COUNTER_RTP_MALFORMED]++;
}

static void
send_nacks(MediaPart *part, gint64 now_us)
{
  MediaRoom *room = part->room;
  for (guint i = 0; i < part->uptracks->len; i++) {
    Uptrack *up = g_ptr_array_index(part->uptracks, i);
    for (guint l = 0; l < up->n_layers; l++) {
      ChorusNackGenerator *g = up->nacks[l];
      if (g == NULL || now_us < chorus_nack_generator_next_deadline_us(g))
        continue;
      guint16 seqs[64];
      gsize n = chorus_nack_generator_poll_nacks(g, now_us, seqs, G_N_ELEMENTS(seqs));
      if (n > 0) {
        guint8 buf[512];
        gsize consumed = 0;
        gsize len = chorus_rtcp_write_nack(buf, sizeof(buf) - CHORUS_SRTP_MAX_RTCP_OVERHEAD,
                                           room->rtcp_ssrc, up->ssrcs[l], seqs, n, &consumed);
        if (len > 0 && chorus_peer_send_rtcp(part->pub, buf, len, sizeof(buf)) == CHORUS_PEER_SEND_OK)
          room->counters[MEDIA_COUNTER_NACKS_SENT] += consumed;
      }
      if (chorus_nack_generator_poll_keyframe_request(g))
        media_request_keyframe(up, l, now_us);
    }
  }
}

void
media_publisher_feedback(MediaPart *part, gint64 now_us)
{
  if (part->pub && chorus_peer_get_state(part->pub) == CHORUS_PEER_STATE_CONNECTED)
    send_nacks(part, now_us);
  if (part->twcc == NULL || part->pub == NULL ||
      chorus_peer_get_state(part->pub) != CHORUS_PEER_STATE_CONNECTED ||
      now_us < chorus_twcc_recorder_next_deadline_us(part->twcc))
    return;
  /* libwebrtc takes transport feedback only when its media SSRC is one of
   * its own streams: name one the publisher sends. */
  if (part->twcc_builder.media_ssrc == 0) {
    for (guint i = 0; i < part->uptracks->len && part->twcc_builder.media_ssrc == 0; i++) {
      Uptrack *up = g_ptr_array_index(part->uptracks, i);
      part->twcc_builder.media_ssrc = up->ssrcs[0];
    }
  }
  ChorusTwccArrival arrivals[256];
  guint8 buf[MEDIA_PKT_BYTES];
  for (int round = 0; round < 4; round++) {
    guint8 fb_count; /* the builder numbers packets itself (one poll may need several) */
    gsize n = chorus_twcc_recorder_poll_feedback(part->twcc, now_us, arrivals,
                                                 G_N_ELEMENTS(arrivals), &fb_count);
    if (n == 0)
      return;
    const ChorusRtcpTwccArrival *a = arrivals;
    gsize done = 0;
    while (done < n) {
      gsize consumed = 0;
      gsize len = chorus_rtcp_twcc_builder_write_packet(&part->twcc_builder, a + done, n - done, buf,
                                                        sizeof(buf) - CHORUS_SRTP_MAX_RTCP_OVERHEAD,
                                                        &consumed);
      if (len == 0 || consumed == 0)
        return;
      if (chorus_peer_send_rtcp(part->pub, buf, len, sizeof(buf)) == CHORUS_PEER_SEND_OK)
        part->room->counters[MEDIA_COUNTER_TWCC_FEEDBACK]++;
      done += consumed;
    }
  }
}

/* Publishers with REMB and no transport-wide CC: a loss-based estimate
 * from this second's receiver report blocks and the bytes that arrived. */
static void
send_remb(MediaPart *part, const ChorusRtcpReportBlock *blocks, guint n_blocks, gint64 now_us)
{
  guint32 ssrcs[MEDIA_MAX_LAYERS * 8];
  gsize n_ssrcs = 0;
  guint8 worst = 0;
  for (guint i = 0; i < part->uptracks->len; i++) {
    Uptrack *up = g_ptr_array_index(part->uptracks, i);
    for (guint l = 0; up->kind == CHORUS_SDP_KIND_VIDEO && l < up->n_layers; l++) {
      if (up->ssrcs[l] == 0 || n_ssrcs == G_N_ELEMENTS(ssrcs))
        continue;
      ssrcs[n_ssrcs++] = up->ssrcs[l];
      for (guint b = 0; b < n_blocks; b++)
        if (blocks[b].ssrc == up->ssrcs[l])
          worst = MAX(worst, blocks[b].fraction_lost);
    }
  }
  gint64 elapsed_us = part->remb_last_us ? now_us - part->remb_last_us : G_USEC_PER_SEC;
  guint64 received_bps = elapsed_us > 0 ? part->remb_bytes * 8 * G_USEC_PER_SEC / (guint64)elapsed_us : 0;
  part->remb_bytes = 0;
  part->remb_last_us = now_us;
  if (n_ssrcs == 0)
    return;
  guint64 bps = chorus_remb_controller_update(&part->remb, worst, received_bps);
  guint8 buf[64 + 4 * G_N_ELEMENTS(ssrcs) + CHORUS_SRTP_MAX_RTCP_OVERHEAD];
  gsize len = chorus_rtcp_write_remb(buf, sizeof(buf) - CHORUS_SRTP_MAX_RTCP_OVERHEAD,
                                     part->room->rtcp_ssrc, bps, ssrcs, n_ssrcs);
  if (len > 0 && chorus_peer_send_rtcp(part->pub, buf, len, sizeof(buf)) == CHORUS_PEER_SEND_OK)
    part->room->counters[MEDIA_COUNTER_REMB_SENT]++;
}

void
media_reports(MediaPart *part, gint64 now_us)
{
  MediaRoom *room = part->room;
  guint8 buf[1200];
  /* To the publisher: one RR with a block per stream received. */
  if (part->pub && chorus_peer_get_state(part->pub) == CHORUS_PEER_STATE_CONNECTED) {
    ChorusRtcpReportBlock blocks[31];
    guint n = 0;
    for (guint i = 0; i < part->uptracks->len && n < G_N_ELEMENTS(blocks); i++) {
      Uptrack *up = g_ptr_array_index(part->uptracks, i);
      for (guint l = 0; l < up->n_layers && n < G_N_ELEMENTS(blocks); l++)
        if (up->rx[l] && chorus_rtp_receive_stats_poll_report(up->rx[l], now_us, &blocks[n]))
          n++;
    }
    if (n > 0) {
      gsize len = chorus_rtcp_write_rr(buf, sizeof(buf) - CHORUS_SRTP_MAX_RTCP_OVERHEAD,
                                       room->rtcp_ssrc, blocks, n);
      if (len > 0)
        chorus_peer_send_rtcp(part->pub, buf, len, sizeof(buf));
    }
    if (part->remb_enabled)
      send_remb(part, blocks, n, now_us);
  }
  /* To the subscriber: an SR per downtrack whose source sent one, with the
   * publisher's NTP time and the RTP time as rewritten for this
   * subscriber, so that it keeps audio and video of a publisher in sync. */
  if (part->sub && chorus_peer_get_state(part->sub) == CHORUS_PEER_STATE_CONNECTED) {
    for (guint i = 0; i < part->downtracks->len; i++) {
      Downtrack *d = g_ptr_array_index(part->downtracks, i);
      Uptrack *up = d->up;
      guint l = d->sel.layer;
      if (up == NULL || !chorus_rtp_munger_is_started(&d->munger) || l >= MEDIA_MAX_LAYERS ||
          up->sr_arrival_us[l] == 0)
        continue;
      guint32 clock = up->codec->clock_rate ? up->codec->clock_rate : 90000;
      gint64 since_us = now_us - up->sr_arrival_us[l];
      /* Advance the publisher's SR instant to now in both clocks. */
      guint64 ntp = up->sr_ntp[l] + (guint64)(((gdouble)since_us / G_USEC_PER_SEC) * 4294967296.0);
      guint32 rtp = up->sr_rtp[l] + (guint32)(since_us * clock / G_USEC_PER_SEC) +
                    chorus_rtp_munger_get_ts_offset(&d->munger);
      ChorusRtcpSenderInfo info = { .ntp = ntp, .rtp_ts = rtp, .packet_count = d->packets_sent,
                                    .octet_count = d->octets_sent };
      gsize len = chorus_rtcp_write_sr(buf, sizeof(buf) - CHORUS_SRTP_MAX_RTCP_OVERHEAD, d->ssrc,
                                       &info, NULL, 0);
      if (len > 0)
        chorus_peer_send_rtcp(part->sub, buf, len, sizeof(buf));
    }
  }
}

void
media_downtrack_check_layers(Downtrack *d, gint64 now_us)
{
  Uptrack *up = d->up;
  if (up == NULL || up->n_layers <= 1 || !d->negotiated)
    return;
  guint want = media_quality_to_layer(d->quality, up->n_layers);
  if (chorus_simulcast_selector_check_layers(&d->sel, want, up->n_layers, up->last_packet_us,
                                             now_us))
    media_request_keyframe(up, d->sel.target_layer, now_us); /* switched on its next keyframe */
}
