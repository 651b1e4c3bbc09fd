/* History of the packets sent on one outgoing stream, for answering NACKs
 * (what the subscriber actually received: after rewrite), and RTX
 * encapsulation (RFC 4588). Sans-IO: a ring of preallocated slots indexed
 * by seq % capacity; storing copies bytes, nothing allocates after
 * creation. The ring has no timers, hence no deadline. */
#pragma once

#include <glib.h>

#include "rtp/rtp-packet.h"

G_BEGIN_DECLS

#define CHORUS_RTP_HISTORY_DEFAULT_CAPACITY 512
#define CHORUS_RTP_HISTORY_DEFAULT_PACKET_BYTES 1500
#define CHORUS_RTP_HISTORY_DEFAULT_RTT_US 100000

typedef enum {
  CHORUS_RTP_HISTORY_FOUND,     /* here it is; marked as resent at now_us */
  CHORUS_RTP_HISTORY_NOT_FOUND, /* never stored, or overwritten by newer packets */
  CHORUS_RTP_HISTORY_TOO_SOON,  /* resent less than one RTT ago: that copy may still
                                 * be on its way */
} ChorusRtpHistoryResult;

typedef struct {
  guint64 stored;
  guint64 too_big; /* not stored: larger than a slot */
  guint64 resent;  /* FOUND answers */
  guint64 not_found;
  guint64 too_soon;
} ChorusRtpHistoryCounters;

typedef struct _ChorusRtpPacketHistory ChorusRtpPacketHistory;

/* @capacity: packets kept, a power of two (0: default). @max_packet_bytes:
 * slot size (0: default). Both fixed for the life of the history. */
ChorusRtpPacketHistory *chorus_rtp_packet_history_new(guint capacity, gsize max_packet_bytes);
void chorus_rtp_packet_history_free(ChorusRtpPacketHistory *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusRtpPacketHistory, chorus_rtp_packet_history_free)

/* The round-trip time to the receiver, for the resend rate limit. */
void chorus_rtp_packet_history_set_rtt_us(ChorusRtpPacketHistory *self, gint64 rtt_us);

/* @pkt (borrowed) was sent at @now_us: copies its bytes into the slot of its
 * seq, replacing the packet capacity seqs older. DROP_TOO_BIG when it does
 * not fit a slot (then it is not stored, and an older packet with the same
 * slot is forgotten too). */
ChorusRtpResult chorus_rtp_packet_history_handle_sent(ChorusRtpPacketHistory *self,
                                                      const ChorusRtpPacket *pkt, gint64 now_us);

/* Looks @seq up without marking it. @data (borrowed: valid until the next
 * handle_sent), @len and @sent_us may be NULL. */
gboolean chorus_rtp_packet_history_lookup(const ChorusRtpPacketHistory *self, guint16 seq,
                                          const guint8 **data, gsize *len, gint64 *sent_us);

/* For a NACK of @seq at @now_us: FOUND with the stored bytes (borrowed, as
 * above) unless it is gone or was already resent less than one RTT ago. */
ChorusRtpHistoryResult chorus_rtp_packet_history_take_for_resend(ChorusRtpPacketHistory *self,
                                                                 guint16 seq, gint64 now_us,
                                                                 const guint8 **data, gsize *len);

void chorus_rtp_packet_history_get_counters(const ChorusRtpPacketHistory *self,
                                            ChorusRtpHistoryCounters *counters);

/* RFC 4588 RTX: writes to @out (may not alias @orig->data) a copy of @orig
 * with @rtx_ssrc, @rtx_pt and @rtx_seq, whose payload is the original seq
 * (OSN, 2 bytes) followed by the original payload. Marker, timestamp, CSRCs
 * and header extensions are kept; padding is dropped. */
ChorusRtpResult chorus_rtp_rtx_encapsulate(const ChorusRtpPacket *orig, guint32 rtx_ssrc,
                                           guint8 rtx_pt, guint16 rtx_seq, guint8 *out, gsize cap,
                                           gsize *out_len);

/* The reverse: restores the original packet from an RTX packet (seq from
 * the OSN, @original_pt, @original_ssrc; padding dropped). DROP_MALFORMED
 * when the payload is shorter than an OSN (e.g. padding-only probes). */
ChorusRtpResult chorus_rtp_rtx_decapsulate(const ChorusRtpPacket *rtx, guint8 original_pt,
                                           guint32 original_ssrc, guint8 *out, gsize cap,
                                           gsize *out_len);

G_END_DECLS
