#include "rtp/packet-history.h"

#include <string.h>

typedef struct {
  guint8 *data; /* slot_bytes, inside the history's one buffer */
  gsize len;    /* 0 = empty */
  guint16 seq;
  gint64 sent_us;
  gint64 last_resend_us;
  gboolean resent;
} Slot;

struct _ChorusRtpPacketHistory {
  guint capacity;
  guint mask;
  gsize slot_bytes;
  gint64 rtt_us;
  Slot *slots;
  guint8 *buffer; /* capacity * slot_bytes, allocated once */
  ChorusRtpHistoryCounters counters;
};

ChorusRtpPacketHistory *
chorus_rtp_packet_history_new(guint capacity, gsize max_packet_bytes)
{
  if (capacity == 0)
    capacity = CHORUS_RTP_HISTORY_DEFAULT_CAPACITY;
  if (max_packet_bytes == 0)
    max_packet_bytes = CHORUS_RTP_HISTORY_DEFAULT_PACKET_BYTES;
  g_return_val_if_fail((capacity & (capacity - 1)) == 0 && capacity <= 0x8000, NULL);

  ChorusRtpPacketHistory *self = g_new0(ChorusRtpPacketHistory, 1);
  self->capacity = capacity;
  self->mask = capacity - 1;
  self->slot_bytes = max_packet_bytes;
  self->rtt_us = CHORUS_RTP_HISTORY_DEFAULT_RTT_US;
  self->slots = g_new0(Slot, capacity);
  /* Not zeroed: untouched pages of a quiet stream cost no memory. */
  self->buffer = g_malloc_n(capacity, max_packet_bytes);
  for (guint i = 0; i < capacity; i++)
    self->slots[i].data = self->buffer + (gsize)i * max_packet_bytes;
  return self;
}

void
chorus_rtp_packet_history_free(ChorusRtpPacketHistory *self)
{
  if (self == NULL)
    return;
  g_free(self->buffer);
  g_free(self->slots);
  g_free(self);
}

void
chorus_rtp_packet_history_set_rtt_us(ChorusRtpPacketHistory *self, gint64 rtt_us)
{
  g_return_if_fail(self != NULL);

  self->rtt_us = MAX(0, rtt_us);
}

ChorusRtpResult
chorus_rtp_packet_history_handle_sent(ChorusRtpPacketHistory *self, const ChorusRtpPacket *pkt,
                                      gint64 now_us)
{
  g_return_val_if_fail(self != NULL && pkt != NULL, CHORUS_RTP_DROP_MALFORMED);

  Slot *s = &self->slots[pkt->seq & self->mask];
  if (pkt->len > self->slot_bytes || pkt->len == 0) {
    /* Forget the older packet too: a NACK for this seq must not find it. */
    s->len = 0;
    self->counters.too_big++;
    return CHORUS_RTP_DROP_TOO_BIG;
  }
  memcpy(s->data, pkt->data, pkt->len);
  s->len = pkt->len;
  s->seq = pkt->seq;
  s->sent_us = now_us;
  s->last_resend_us = 0;
  s->resent = FALSE;
  self->counters.stored++;
  return CHORUS_RTP_OK;
}

static Slot *
find(const ChorusRtpPacketHistory *self, guint16 seq)
{
  Slot *s = &self->slots[seq & self->mask];
  return s->len > 0 && s->seq == seq ? s : NULL;
}

gboolean
chorus_rtp_packet_history_lookup(const ChorusRtpPacketHistory *self, guint16 seq,
                                 const guint8 **data, gsize *len, gint64 *sent_us)
{
  g_return_val_if_fail(self != NULL, FALSE);

  const Slot *s = find(self, seq);
  if (s == NULL)
    return FALSE;
  if (data != NULL)
    *data = s->data;
  if (len != NULL)
    *len = s->len;
  if (sent_us != NULL)
    *sent_us = s->sent_us;
  return TRUE;
}

ChorusRtpHistoryResult
chorus_rtp_packet_history_take_for_resend(ChorusRtpPacketHistory *self, guint16 seq, gint64 now_us,
                                          const guint8 **data, gsize *len)
{
  g_return_val_if_fail(self != NULL && data != NULL && len != NULL, CHORUS_RTP_HISTORY_NOT_FOUND);

  Slot *s = find(self, seq);
  if (s == NULL) {
    self->counters.not_found++;
    return CHORUS_RTP_HISTORY_NOT_FOUND;
  }
  /* The first resend is always allowed: a NACK cannot come back sooner than
   * the original went out, so there is no copy in flight to wait for. */
  if (s->resent && now_us - s->last_resend_us < self->rtt_us) {
    self->counters.too_soon++;
    return CHORUS_RTP_HISTORY_TOO_SOON;
  }
  s->resent = TRUE;
  s->last_resend_us = now_us;
  self->counters.resent++;
  *data = s->data;
  *len = s->len;
  return CHORUS_RTP_HISTORY_FOUND;
}

void
chorus_rtp_packet_history_get_counters(const ChorusRtpPacketHistory *self,
                                       ChorusRtpHistoryCounters *counters)
{
  g_return_if_fail(self != NULL && counters != NULL);

  *counters = self->counters;
}

/* Copies the header of @pkt (fixed part, CSRCs, extension block) to @out
 * with a new PT, seq and SSRC and the padding bit cleared; then @prefix
 * (0 or 2 bytes) and @payload. */
static ChorusRtpResult
write_packet(const ChorusRtpPacket *pkt, guint8 pt, guint16 seq, guint32 ssrc, const guint8 *prefix,
             gsize prefix_len, const guint8 *payload, gsize payload_len, guint8 *out, gsize cap,
             gsize *out_len)
{
  gsize header = pkt->payload_offset;
  gsize total = header + prefix_len + payload_len;
  if (total > cap)
    return CHORUS_RTP_DROP_TOO_BIG;
  memcpy(out, pkt->data, header);
  out[0] &= (guint8)~0x20;
  out[1] = (guint8)((out[1] & 0x80) | (pt & 0x7f));
  chorus_rtp_write16(out + 2, seq);
  chorus_rtp_write32(out + 8, ssrc);
  if (prefix_len > 0)
    memcpy(out + header, prefix, prefix_len);
  memcpy(out + header + prefix_len, payload, payload_len);
  *out_len = total;
  return CHORUS_RTP_OK;
}

ChorusRtpResult
chorus_rtp_rtx_encapsulate(const ChorusRtpPacket *orig, guint32 rtx_ssrc, guint8 rtx_pt,
                           guint16 rtx_seq, guint8 *out, gsize cap, gsize *out_len)
{
  g_return_val_if_fail(orig != NULL && orig->data != NULL && out != NULL && out_len != NULL,
                       CHORUS_RTP_DROP_MALFORMED);

  guint8 osn[2];
  chorus_rtp_write16(osn, orig->seq);
  return write_packet(orig, rtx_pt, rtx_seq, rtx_ssrc, osn, sizeof(osn),
                      orig->data + orig->payload_offset, orig->payload_len, out, cap, out_len);
}

ChorusRtpResult
chorus_rtp_rtx_decapsulate(const ChorusRtpPacket *rtx, guint8 original_pt, guint32 original_ssrc,
                           guint8 *out, gsize cap, gsize *out_len)
{
  g_return_val_if_fail(rtx != NULL && rtx->data != NULL && out != NULL && out_len != NULL,
                       CHORUS_RTP_DROP_MALFORMED);

  if (rtx->payload_len < 2)
    return CHORUS_RTP_DROP_MALFORMED;
  const guint8 *payload = rtx->data + rtx->payload_offset;
  guint16 osn = chorus_rtp_read16(payload);
  return write_packet(rtx, original_pt, osn, original_ssrc, NULL, 0, payload + 2,
                      rtx->payload_len - 2, out, cap, out_len);
}
