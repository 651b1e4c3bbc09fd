/* Receive statistics of one incoming RTP stream (RFC 3550 6.4 and
 * appendices A.1, A.3, A.8): packets, extended highest seq, loss, jitter,
 * and what a receiver report block needs about the last SR. Sans-IO: fed
 * with packet fields and `now_us`; allocates only at creation. Report
 * timing belongs to the RTCP scheduler of the owner, so there is no
 * deadline here. */
#pragma once

#include <glib.h>

#include "rtp/rtcp.h"

G_BEGIN_DECLS

/* One receiver report block (RFC 3550 6.4.1): the RTCP writer's own type,
 * so a polled block goes to chorus_rtcp_write_rr() as is. */
typedef ChorusRtcpReportBlock ChorusRtpReportBlock;

typedef struct {
  guint64 packets;        /* counted packets (reordered and duplicates included) */
  guint64 bytes;          /* their sizes as given to handle_packet */
  guint64 older;          /* arrived not newer than the highest: reordered or duplicate */
  guint64 jumps;          /* ignored: too far from the stream, not (yet) a restart */
  guint64 restarts;       /* the sender restarted its sequence numbers */
  gint64 cumulative_lost; /* expected - received since the (re)start; may be < 0 */
  gint64 ext_highest_seq; /* -1 before the first packet */
  guint32 jitter;         /* RTP timestamp units */
  guint64 jitter_us;      /* the same in microseconds */
} ChorusRtpReceiveCounters;

typedef struct _ChorusRtpReceiveStats ChorusRtpReceiveStats;

/* @clock_rate_hz: the RTP clock of the payload (48000 Opus, 90000 video). */
ChorusRtpReceiveStats *chorus_rtp_receive_stats_new(guint32 ssrc, guint32 clock_rate_hz);
void chorus_rtp_receive_stats_free(ChorusRtpReceiveStats *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusRtpReceiveStats, chorus_rtp_receive_stats_free)

/* One received packet of the stream (not its RTX copies: those travel on
 * another SSRC and would hide loss). Jitter uses in-order packets only, so a
 * late or retransmitted packet does not count its delay as jitter. */
void chorus_rtp_receive_stats_handle_packet(ChorusRtpReceiveStats *self, guint16 seq,
                                            guint32 rtp_timestamp, gsize size_bytes, gint64 now_us);

/* A sender report about this stream arrived: @ntp_time is its 64-bit NTP
 * timestamp (seconds << 32 | fraction). */
void chorus_rtp_receive_stats_handle_sr(ChorusRtpReceiveStats *self, guint64 ntp_time,
                                        gint64 now_us);

/* Fills @block for a report sent at @now_us and starts the next "fraction
 * lost" interval. FALSE (and @block untouched) before the first packet. */
gboolean chorus_rtp_receive_stats_poll_report(ChorusRtpReceiveStats *self, gint64 now_us,
                                              ChorusRtpReportBlock *block);

void chorus_rtp_receive_stats_get_counters(const ChorusRtpReceiveStats *self,
                                           ChorusRtpReceiveCounters *counters);

G_END_DECLS
