/* RTCP feedback messages a forwarder exchanges besides keyframe requests:
 * Generic NACK (RFC 4585 6.2.1) and REMB (draft-alvestrand-rmcat-remb-03).
 * Same rules as rtcp.h: allocation-free, views and caller storage, writers
 * return bytes written (0 when @cap is too small). */
#pragma once

#include <glib.h>

#include "rtp/rtcp.h"

G_BEGIN_DECLS

/* --- Generic NACK -------------------------------------------------------- */

/* One FCI entry (PID + BLP) names up to 17 sequence numbers. */
#define CHORUS_RTCP_NACK_SEQS_PER_FCI 17

/* The sequence numbers a Generic NACK asks for, in packet order (PID, then
 * the BLP bits from the lowest), duplicates kept. The first MIN(@cap,
 * *n_total) go into @seqs; *n_total = how many the packet names, so
 * *n_total > @cap means @seqs holds a truncated list. A NACK with no FCI
 * entry is malformed (RFC 4585 6.2.1 requires one). @media_ssrc may be NULL. */
ChorusRtpResult chorus_rtcp_nack_parse(const ChorusRtcpPacket *pkt, guint32 *media_ssrc,
                                       guint16 *seqs, gsize cap, gsize *n_total);

/* Writes one Generic NACK for as many of @seqs as fit in @cap (at most
 * 65533 FCI entries). @seqs should be ascending in RTP order (wrap-aware,
 * e.g. 65534, 65535, 0, 1) for the tightest packing; duplicates are merged
 * and out-of-order entries only start a new FCI entry. *n_consumed = how
 * many of @seqs the packet covers; call again with the rest to split a long
 * list across packets. Returns 0 (nothing consumed) when @n_seqs is 0 or
 * @cap < 16. */
gsize chorus_rtcp_write_nack(guint8 *out, gsize cap, guint32 sender_ssrc, guint32 media_ssrc,
                             const guint16 *seqs, gsize n_seqs, gsize *n_consumed);

/* --- REMB ---------------------------------------------------------------- */

#define CHORUS_RTCP_REMB_MAX_SSRCS 255

/* TRUE when @pkt is a PSFB AFB message carrying the "REMB" identifier
 * (other application layer feedback uses the same FMT). */
gboolean chorus_rtcp_is_remb(const ChorusRtcpPacket *pkt);

/* *bitrate_bps = mantissa << exponent (saturating at G_MAXUINT64). The first
 * MIN(@cap, *n_total) SSRCs go into @ssrcs (may be NULL when @cap is 0);
 * *n_total = how many the packet lists. */
ChorusRtpResult chorus_rtcp_remb_parse(const ChorusRtcpPacket *pkt, guint64 *bitrate_bps,
                                       guint32 *ssrcs, gsize cap, gsize *n_total);

/* @n_ssrcs <= 255. The bitrate is encoded with the smallest exponent that
 * fits the 18-bit mantissa, rounding down (a receiver never sees more than
 * was meant). */
gsize chorus_rtcp_write_remb(guint8 *out, gsize cap, guint32 sender_ssrc, guint64 bitrate_bps,
                             const guint32 *ssrcs, gsize n_ssrcs);

G_END_DECLS
