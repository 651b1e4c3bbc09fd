/* Transport-wide congestion control feedback (RTCP RTPFB FMT 15,
 * draft-holmer-rmcat-transport-wide-cc-extensions-01 section 3.1): a parser
 * into caller storage, and a builder that turns the arrival times of
 * received packets into one or more feedback packets.
 *
 * Times: the reference time counts 64 ms units in 24 bits, so it wraps every
 * 2^24 * 64 ms (about 12.4 days); receive deltas count 250 us units. Parsed
 * arrival times are therefore on the feedback sender's clock modulo
 * CHORUS_RTCP_TWCC_TIME_WRAP_US; a consumer compares consecutive feedbacks
 * with that wrap in mind. Allocation-free, like the rest of rtp/. */
#pragma once

#include <glib.h>

#include "rtp/rtcp.h"

G_BEGIN_DECLS

#define CHORUS_RTCP_TWCC_DELTA_US 250
#define CHORUS_RTCP_TWCC_REFERENCE_US 64000
#define CHORUS_RTCP_TWCC_TIME_WRAP_US ((gint64)CHORUS_RTCP_TWCC_REFERENCE_US << 24)
/* The header, the FCI's fixed part (base seq .. fb pkt count), one chunk and
 * one large delta, padded. */
#define CHORUS_RTCP_TWCC_MIN_PACKET_LEN 24

typedef enum {
  CHORUS_RTCP_TWCC_NOT_RECEIVED = 0,
  CHORUS_RTCP_TWCC_SMALL_DELTA = 1, /* received, delta 0..255 units (1 byte) */
  CHORUS_RTCP_TWCC_LARGE_DELTA = 2, /* received, delta -32768..32767 units (2 bytes) */
} ChorusRtcpTwccSymbol;

typedef struct {
  guint16 seq;        /* transport-wide sequence number */
  guint8 symbol;      /* ChorusRtcpTwccSymbol */
  gint32 delta_250us; /* from the previous received packet (the first: from the
                       * reference time); 0 when not received */
  gint64 arrival_us;  /* reference time + deltas so far; 0 when not received */
} ChorusRtcpTwccStatus;

typedef struct {
  guint32 sender_ssrc;
  guint32 media_ssrc;
  guint16 base_seq;
  guint16 status_count;        /* packets the feedback reports on, >= 1 */
  guint32 reference_time_64ms; /* 24 bits, unsigned (see above) */
  guint8 fb_count;             /* feedback packet count, wraps */
  guint16 n_received;
} ChorusRtcpTwcc;

/* Parses the header into @fb and one status per reported packet (base_seq,
 * base_seq + 1, ...) into @statuses. Run-length chunks longer than the
 * remaining count, and unused symbols of the last status vector, are
 * ignored (as libwebrtc does); a reserved symbol (3), a zero status count
 * or deltas past the end are malformed. When status_count > @cap, returns
 * CHORUS_RTP_DROP_TOO_BIG with only @fb filled, so the caller can retry with
 * more room (65535 entries always suffice). */
ChorusRtpResult chorus_rtcp_twcc_parse(const ChorusRtcpPacket *pkt, ChorusRtcpTwcc *fb,
                                       ChorusRtcpTwccStatus *statuses, gsize cap);

/* A packet as the feedback sender saw it: received at @arrival_us, or
 * known lost (CHORUS_RTCP_TWCC_LOST), e.g. from a recorder that lists every
 * seq of its feedback window. */
typedef struct {
  guint16 seq;
  gint64 arrival_us;
} ChorusRtcpTwccArrival;

#define CHORUS_RTCP_TWCC_LOST G_MININT64

/* Builds consecutive feedback packets for one media source. Plain data:
 * initialise with chorus_rtcp_twcc_builder_init(); the fields are readable. */
typedef struct {
  guint32 sender_ssrc;
  guint32 media_ssrc;
  gsize max_packet_len; /* each packet's size limit in bytes */
  guint8 fb_count;      /* feedback packet count of the next packet */
  gboolean has_next_seq;
  guint16 next_seq; /* the first seq not reported yet */
  /* The last reference time written, reused by a packet that reports only
   * losses so that a consumer's time base does not jump. */
  gboolean has_reference;
  gint64 reference_64ms; /* unwrapped */
} ChorusRtcpTwccBuilder;

/* @max_packet_len >= CHORUS_RTCP_TWCC_MIN_PACKET_LEN; rounded down to a
 * multiple of 4. */
void chorus_rtcp_twcc_builder_init(ChorusRtcpTwccBuilder *b, guint32 sender_ssrc,
                                   guint32 media_ssrc, gsize max_packet_len);

/* Writes ONE feedback packet (at most MIN(@cap, max_packet_len) bytes) for
 * the longest prefix of @arrivals that fits, and returns its length;
 * *n_consumed = the arrivals it covers. Call again with the rest (the next
 * packet continues where this one ended).
 *
 * @arrivals must ascend in RTP order of seq (wrap-aware: 65535 comes before
 * 0); an entry not after its predecessor (a duplicate or reordered one) is
 * consumed and skipped. Entries may be received ones only (the missing seqs
 * are implied) or also CHORUS_RTCP_TWCC_LOST ones. Sequence numbers between
 * entries, and between the builder's next_seq and the first entry, are
 * reported as not received; an entry before next_seq (a late packet already
 * reported lost) starts the packet at its own seq instead, so the caller
 * must then pass every arrival it knows from there on (the packet says
 * "lost" for any seq it is not given). The reference time is the first
 * received packet's arrival, rounded down to 64 ms; deltas are rounded to
 * the nearest 250 us without accumulating error. A delta beyond the 16-bit
 * range (8.2 s) or 65535 statuses end the packet. Each chunk is a run
 * length when a run of one symbol is long enough, else a one-bit vector of
 * 14 when no large delta is in it, else a two-bit vector of 7.
 *
 * fb_count is the builder's and wraps; a caller that numbers feedbacks
 * itself sets b->fb_count before each call.
 *
 * Returns 0 (nothing consumed) when @n is 0, @cap < 24, or not even the
 * first arrival fits. */
gsize chorus_rtcp_twcc_builder_write_packet(ChorusRtcpTwccBuilder *b,
                                            const ChorusRtcpTwccArrival *arrivals, gsize n,
                                            guint8 *out, gsize cap, gsize *n_consumed);

/* As many packets as needed (and as @cap holds), back to back in @out: a
 * reduced-size compound. Returns bytes written; *n_packets and *n_consumed
 * say how many packets and arrivals (fewer than @n when @cap ran out). */
gsize chorus_rtcp_twcc_builder_write(ChorusRtcpTwccBuilder *b,
                                     const ChorusRtcpTwccArrival *arrivals, gsize n, guint8 *out,
                                     gsize cap, guint *n_packets, gsize *n_consumed);

G_END_DECLS
