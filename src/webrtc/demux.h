/* RFC 7983 demultiplexing of what arrives on one ICE component: the first
 * byte tells STUN, DTLS and RTP/RTCP apart; the second tells RTCP from RTP
 * (RFC 5761 section 4: RTCP packet types 192..223 are the RTP payload types
 * 64..95 once the marker bit is masked, which rtcp-mux forbids for RTP).
 * Pure, no state, no allocation: for the packet path. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  CHORUS_DEMUX_UNKNOWN = 0, /* other ranges (ZRTP, TURN channels, QUIC) or too short */
  CHORUS_DEMUX_STUN,        /* first byte 0..3 */
  CHORUS_DEMUX_DTLS,        /* 20..63 */
  CHORUS_DEMUX_RTP,         /* 128..191, payload type not RTCP's */
  CHORUS_DEMUX_RTCP,        /* 128..191, second byte & 0x7f in 64..95 */
} ChorusDemuxKind;

/* Smallest datagram of each kind: shorter ones are UNKNOWN, so that a
 * consumer can read the fixed header the kind implies. */
#define CHORUS_DEMUX_STUN_MIN_LEN 20 /* STUN header */
#define CHORUS_DEMUX_DTLS_MIN_LEN 13 /* DTLS record header */
#define CHORUS_DEMUX_RTP_MIN_LEN 12  /* fixed RTP header */
#define CHORUS_DEMUX_RTCP_MIN_LEN 8  /* RTCP header + sender SSRC */

ChorusDemuxKind chorus_demux_classify(const guint8 *buf, gsize len);

const char *chorus_demux_kind_to_string(ChorusDemuxKind kind);

G_END_DECLS
