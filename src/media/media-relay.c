/* PK relays: a track of one room forwarded into another room, whose worker
 * thread may be another. The source worker copies each packet the track
 * forwards into a bounded single-producer/single-consumer ring and wakes
 * the destination worker through an eventfd only when the ring was empty;
 * the destination drains the ring into a local "relay uptrack" that its
 * subscribers' downtracks use like any other (keyframe ring, NACK answers,
 * layer switching). No lock and no allocation per packet; a full ring
 * drops (counted), it never blocks the source.
 *
 * Control messages (the track's description, keyframe requests back to
 * the source) go through g_main_context_invoke: rare, and allowed to
 * allocate. */
#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "media/media-private.h"
#include "rtp/rtp-packet.h"

#define RELAY_SLOTS 512 /* ~0.5 s of a 1.5 Mbps layer plus audio */

typedef struct {
  guint16 len;
  guint8 layer;
  guint8 data[MEDIA_PKT_BYTES];
} RelaySlot;

struct _MediaRelay {
  gint refcount; /* atomic */
  char *track_id;
  char *publisher_id;
  gpointer dst_handle; /* identifies the destination room (ChorusMediaRoom *) */
  GMainContext *src_context;
  GMainContext *dst_context;
  int efd;
  /* The track's description: written by the source worker before it
   * invokes the destination with it. */
  ChorusSdpPayload *codec;
  ChorusSdpKind kind;
  ChorusRtpCodec rtp_codec;
  guint n_layers;
  gint red_pt;
  guint8 ext_ids[CHORUS_SDP_EXT_COUNT];
  /* Source worker only. */
  Uptrack *src_up;
  /* Destination worker only. */
  MediaRoom *dst_room;
  Uptrack *dst_up;
  GSource *drain;
  /* The ring: head written by the consumer, tail by the producer. */
  RelaySlot *slots;
  guint head;
  guint tail;
};

MediaRelay *
media_relay_new(const char *track_id, const char *publisher_id, gpointer dst_handle,
                GMainContext *src_context, GMainContext *dst_context)
{
  MediaRelay *r = g_new0(MediaRelay, 1);
  r->refcount = 1;
  r->track_id = g_strdup(track_id);
  r->publisher_id = g_strdup(publisher_id);
  r->dst_handle = dst_handle;
  r->src_context = g_main_context_ref(src_context);
  r->dst_context = g_main_context_ref(dst_context);
  r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  r->slots = g_new(RelaySlot, RELAY_SLOTS);
  return r;
}

MediaRelay *
media_relay_ref(MediaRelay *r)
{
  g_atomic_int_inc(&r->refcount);
  return r;
}

void
media_relay_unref(MediaRelay *r)
{
  if (!g_atomic_int_dec_and_test(&r->refcount))
    return;
  if (r->efd >= 0)
    close(r->efd);
  g_main_context_unref(r->src_context);
  g_main_context_unref(r->dst_context);
  chorus_sdp_payload_free(r->codec);
  g_free(r->slots);
  g_free(r->track_id);
  g_free(r->publisher_id);
  g_free(r);
}

/* ---- source side ---------------------------------------------------------- */

void
media_relay_push(Uptrack *up, const guint8 *buf, gsize len, guint layer)
{
  if (len > MEDIA_PKT_BYTES)
    return;
  for (guint i = 0; i < up->relays->len; i++) {
    MediaRelay *r = g_ptr_array_index(up->relays, i);
    guint tail = r->tail; /* only this thread writes it */
    guint head = __atomic_load_n(&r->head, __ATOMIC_SEQ_CST);
    if (tail - head >= RELAY_SLOTS) {
      up->owner->room->counters[MEDIA_COUNTER_RELAY_DROPPED]++; /* this worker's room */
      continue;
    }
    RelaySlot *s = &r->slots[tail % RELAY_SLOTS];
    memcpy(s->data, buf, len);
    s->len = (guint16)len;
    s->layer = (guint8)layer;
    __atomic_store_n(&r->tail, tail + 1, __ATOMIC_SEQ_CST);
    /* Wake the consumer only when it may be asleep: the ring was empty
     * when it last looked (it re-checks the tail after publishing its
     * head, so one of the two sees the other's write). */
    if (__atomic_load_n(&r->head, __ATOMIC_SEQ_CST) == tail) {
      guint64 one = 1;
      if (write(r->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        g_warning("relay %s: eventfd write failed: %s", r->track_id, g_strerror(errno));
    }
  }
}

static gboolean
deliver_description(gpointer data)
{
  MediaRelay *r = data;
  Uptrack *up = r->dst_up;
  if (up == NULL || up->codec != NULL)
    return G_SOURCE_REMOVE; /* removed meanwhile, or described already */
  up->codec = chorus_sdp_payload_copy(r->codec);
  up->kind = r->kind;
  up->rtp_codec = r->rtp_codec;
  up->n_layers = MAX(r->n_layers, 1);
  memcpy(up->ext_ids, r->ext_ids, sizeof(up->ext_ids));
  up->rtx_pt = -1;
  up->red_pt = r->red_pt; /* RED packets cross as they came */
  if (up->kind == CHORUS_SDP_KIND_VIDEO)
    for (guint l = 0; l < up->n_layers; l++)
      up->rings[l] = g_new0(MediaRing, 1);
  media_emit_tracks_changed(r->dst_room);
  return G_SOURCE_REMOVE;
}

void
media_relay_attach_source(MediaRoom *room, MediaRelay *r)
{
  Uptrack *up = g_hash_table_lookup(room->tracks, r->track_id);
  if (up == NULL || up->relay != NULL || up->codec == NULL) {
    media_relay_unref(r); /* the track went away meanwhile */
    return;
  }
  r->codec = chorus_sdp_payload_copy(up->codec);
  r->kind = up->kind;
  r->rtp_codec = up->rtp_codec;
  r->n_layers = up->n_layers;
  r->red_pt = up->red_pt;
  memcpy(r->ext_ids, up->ext_ids, sizeof(r->ext_ids));
  r->src_up = up;
  if (up->relays == NULL)
    up->relays = g_ptr_array_new();
  g_ptr_array_add(up->relays, r); /* keeps the op's reference */
  g_main_context_invoke_full(r->dst_context, G_PRIORITY_DEFAULT, deliver_description,
                             media_relay_ref(r), (GDestroyNotify)media_relay_unref);
  /* Subscribers over there start on a keyframe. */
  for (guint l = 0; l < up->n_layers; l++)
    media_request_keyframe(up, l, g_get_monotonic_time());
}

void
media_relay_detach_source(MediaRoom *room, const char *track_id, gpointer dst_handle)
{
  Uptrack *up = g_hash_table_lookup(room->tracks, track_id);
  if (up == NULL || up->relays == NULL)
    return;
  for (guint i = up->relays->len; i-- > 0;) {
    MediaRelay *r = g_ptr_array_index(up->relays, i);
    if (r->dst_handle != dst_handle)
      continue;
    g_ptr_array_remove_index_fast(up->relays, i);
    r->src_up = NULL;
    media_relay_unref(r);
  }
}

void
media_relay_source_gone(Uptrack *up)
{
  if (up->relays == NULL)
    return;
  for (guint i = 0; i < up->relays->len; i++) {
    MediaRelay *r = g_ptr_array_index(up->relays, i);
    r->src_up = NULL;
    media_relay_unref(r);
  }
  g_clear_pointer(&up->relays, g_ptr_array_unref);
}

typedef struct {
  MediaRelay *relay;
  guint layer;
} KeyframeAsk;

static gboolean
ask_keyframe(gpointer data)
{
  KeyframeAsk *k = data;
  if (k->relay->src_up)
    media_request_keyframe(k->relay->src_up, k->layer, g_get_monotonic_time());
  return G_SOURCE_REMOVE;
}

static void
keyframe_ask_free(gpointer data)
{
  KeyframeAsk *k = data;
  media_relay_unref(k->relay);
  g_free(k);
}

void
media_relay_request_keyframe(MediaRelay *r, guint layer)
{
  /* Already throttled per layer on this side (the relay uptrack's own
   * throttle), and throttled again at the source. */
  KeyframeAsk *k = g_new(KeyframeAsk, 1);
  k->relay = media_relay_ref(r);
  k->layer = layer;
  g_main_context_invoke_full(r->src_context, G_PRIORITY_DEFAULT, ask_keyframe, k, keyframe_ask_free);
}

/* ---- destination side ------------------------------------------------------ */

static gboolean
drain(gint fd, GIOCondition condition, gpointer data)
{
  MediaRelay *r = data;
  guint64 n;
  while (read(fd, &n, sizeof(n)) > 0)
    ;
  guint head = r->head; /* only this thread writes it */
  for (;;) {
    guint tail = __atomic_load_n(&r->tail, __ATOMIC_SEQ_CST);
    if (head == tail)
      break;
    gint64 now_us = g_get_monotonic_time();
    while (head != tail) {
      RelaySlot *s = &r->slots[head % RELAY_SLOTS];
      ChorusRtpPacket pkt;
      if (r->dst_up && r->dst_up->codec &&
          chorus_rtp_packet_parse(&pkt, s->data, s->len) == CHORUS_RTP_OK)
        media_uptrack_forward(r->dst_up, &pkt, s->data, s->len, MIN(s->layer, r->dst_up->n_layers - 1),
                              now_us);
      head++;
    }
    __atomic_store_n(&r->head, head, __ATOMIC_SEQ_CST);
  }
  return G_SOURCE_CONTINUE;
}

void
media_relay_attach_destination(MediaRoom *room, MediaRelay *r)
{
  if (g_hash_table_contains(room->tracks, r->track_id)) {
    media_relay_unref(r);
    return;
  }
  MediaPart *part = media_part_get(room, r->publisher_id, TRUE);
  part->relay_part = TRUE;
  Uptrack *up = g_new0(Uptrack, 1);
  up->id = g_strdup(r->track_id);
  up->owner = part;
  up->mid = NULL;
  up->kind = CHORUS_SDP_KIND_AUDIO; /* until described */
  up->downtracks = g_ptr_array_new();
  for (guint l = 0; l < MEDIA_MAX_LAYERS; l++)
    chorus_keyframe_throttle_init(&up->pli[l], CHORUS_KEYFRAME_THROTTLE_INTERVAL_US);
  up->relay = r; /* keeps the op's reference */
  g_ptr_array_add(part->uptracks, up);
  g_hash_table_insert(room->tracks, up->id, up);
  r->dst_room = room;
  r->dst_up = up;
  r->drain = g_unix_fd_source_new(r->efd, G_IO_IN);
  g_source_set_callback(r->drain, G_SOURCE_FUNC(drain), r, NULL);
  g_source_set_static_name(r->drain, "chorus-relay");
  g_source_attach(r->drain, room->context);
}

/* The relay uptrack @up is being freed (uptrack_free). */
void
media_relay_destination_gone(Uptrack *up)
{
  MediaRelay *r = up->relay;
  if (r == NULL)
    return;
  up->relay = NULL;
  r->dst_up = NULL;
  r->dst_room = NULL;
  if (r->drain) {
    g_source_destroy(r->drain);
    g_clear_pointer(&r->drain, g_source_unref);
  }
  media_relay_unref(r);
}

void
media_relay_remove_destination(MediaRoom *room, const char *track_id)
{
  Uptrack *up = g_hash_table_lookup(room->tracks, track_id);
  if (up == NULL || up->relay == NULL)
    return;
  MediaPart *part = up->owner;
  g_ptr_array_remove(part->uptracks, up); /* uptrack_free: subscribers renegotiated */
  if (part->uptracks->len == 0)
    g_hash_table_remove(room->parts, part->id);
}
