/* RTCP Extended Reports (RFC 3611): the Receiver Reference Time (RRTR) and
 * DLRR blocks, which give a receive-only endpoint (a subscriber sending no
 * SR) a round-trip time: it sends RRTR with its NTP time, the other side
 * answers with DLRR (LRR = that time, compact; DLRR = delay since), and
 * chorus_rtcp_rtt_us() does the rest. Other block types are walked over
 * and returned as views. Same rules as rtcp.h. */
#pragma once

#include <glib.h>

#include "rtp/rtcp.h"

G_BEGIN_DECLS

enum {
  CHORUS_RTCP_XR_RRTR = 4,
  CHORUS_RTCP_XR_DLRR = 5,
};

typedef struct {
  guint8 type; /* BT */
  guint8 type_specific;
  const guint8 *body; /* after the 4-byte block header (borrowed) */
  gsize body_len;
} ChorusRtcpXrBlock;

typedef struct {
  const guint8 *data;
  gsize end;
  gsize off;
} ChorusRtcpXrIter;

/* FALSE when @pkt is not an XR packet with a sender SSRC (*ssrc then
 * untouched). @ssrc may be NULL. */
gboolean chorus_rtcp_xr_iter_init(ChorusRtcpXrIter *it, const ChorusRtcpPacket *pkt, guint32 *ssrc);
/* Next block; FALSE at the end or when a block's length runs past the
 * packet (*malformed then set). */
gboolean chorus_rtcp_xr_iter_next(ChorusRtcpXrIter *it, ChorusRtcpXrBlock *block,
                                  gboolean *malformed);

/* The NTP timestamp of an RRTR block (block length must be 2). */
ChorusRtpResult chorus_rtcp_xr_rrtr_parse(const ChorusRtcpXrBlock *block, guint64 *ntp);

typedef struct {
  guint32 ssrc;    /* the receiver whose RRTR this answers */
  guint32 last_rr; /* compact NTP of that RRTR */
  guint32 dlrr;    /* delay since, 1/65536 s */
} ChorusRtcpDlrrItem;

/* The sub-blocks of a DLRR block: the first MIN(@cap, *n_total) into
 * @items; *n_total = how many there are. A length not a multiple of 3
 * words is malformed. */
ChorusRtpResult chorus_rtcp_xr_dlrr_parse(const ChorusRtcpXrBlock *block, ChorusRtcpDlrrItem *items,
                                          gsize cap, gsize *n_total);

/* An XR packet with an RRTR block when @rrtr_ntp is not NULL, then a DLRR
 * block when @n_items > 0 (at most 21845 items). Neither is an empty XR. */
gsize chorus_rtcp_write_xr(guint8 *out, gsize cap, guint32 ssrc, const guint64 *rrtr_ntp,
                           const ChorusRtcpDlrrItem *items, gsize n_items);

G_END_DECLS
