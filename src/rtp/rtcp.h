/* RTCP (RFC 3550, 4585, 5104, 5506): compound packet walking and building,
 * sender/receiver reports, SDES, BYE, and the keyframe requests (PLI, FIR).
 * Feedback messages live in rtcp-fb.h (NACK, REMB), rtcp-twcc.h
 * (transport-wide CC) and rtcp-xr.h (RRTR, DLRR).
 *
 * Sans-IO and allocation-free: parsers fill caller structs whose pointers are
 * borrowed views into the packet (valid while its buffer is), writers write
 * into caller buffers and return the bytes written, 0 when @cap is too small
 * (nothing useful is left in @out then). Parsers take a ChorusRtcpPacket from
 * the iterator and check every length against pkt->len; they return
 * CHORUS_RTP_OK or CHORUS_RTP_DROP_MALFORMED (also for a packet of another
 * type), never read past pkt->data + pkt->len. */
#pragma once

#include <glib.h>

#include "rtp/rtp-packet.h"

G_BEGIN_DECLS

enum {
  CHORUS_RTCP_SR = 200,
  CHORUS_RTCP_RR = 201,
  CHORUS_RTCP_SDES = 202,
  CHORUS_RTCP_BYE = 203,
  CHORUS_RTCP_APP = 204,
  CHORUS_RTCP_RTPFB = 205,
  CHORUS_RTCP_PSFB = 206,
  CHORUS_RTCP_XR = 207,
};

enum {
  CHORUS_RTCP_RTPFB_NACK = 1,
  CHORUS_RTCP_RTPFB_TWCC = 15,
  CHORUS_RTCP_PSFB_PLI = 1,
  CHORUS_RTCP_PSFB_FIR = 4,
  CHORUS_RTCP_PSFB_AFB = 15, /* REMB */
};

#define CHORUS_RTCP_HEADER_LEN 4
/* RC/SC is 5 bits. */
#define CHORUS_RTCP_MAX_COUNT 31
/* The length field counts 32-bit words minus one in 16 bits. */
#define CHORUS_RTCP_MAX_PACKET_LEN (4u * 65536u)

/* One packet of a compound (a view). */
typedef struct {
  guint8 type;         /* PT: 200..207 */
  guint8 count;        /* RC / SC / FMT (low 5 bits of the first byte) */
  const guint8 *data;  /* the whole packet, header included */
  gsize len;           /* bytes, header included */
  guint32 sender_ssrc; /* 0 when the packet is too short to carry one */
} ChorusRtcpPacket;

typedef struct {
  const guint8 *data;
  gsize len;
  gsize off;
} ChorusRtcpIter;

/* FALSE when @len cannot be RTCP at all (shorter than a header). */
gboolean chorus_rtcp_iter_init(ChorusRtcpIter *it, const guint8 *data, gsize len);
/* Next packet; FALSE at the end or when the rest is malformed (*malformed
 * then set). */
gboolean chorus_rtcp_iter_next(ChorusRtcpIter *it, ChorusRtcpPacket *pkt, gboolean *malformed);

/* Bytes of @pkt before its padding (RFC 3550 P bit: the last octet counts
 * the padding octets, itself included). FALSE when that count is 0 or
 * reaches into the 4-byte header. */
gboolean chorus_rtcp_packet_content_len(const ChorusRtcpPacket *pkt, gsize *len);

/* The media SSRC of a PSFB/RTPFB packet (FALSE if too short). */
gboolean chorus_rtcp_fb_media_ssrc(const ChorusRtcpPacket *pkt, guint32 *media_ssrc);

/* TRUE when @pkt asks for a keyframe of some SSRC: PLI, or FIR (each FIR
 * entry names its SSRC; the first is returned). */
gboolean chorus_rtcp_is_keyframe_request(const ChorusRtcpPacket *pkt, guint32 *media_ssrc);

gsize chorus_rtcp_write_pli(guint8 *out, gsize cap, guint32 sender_ssrc, guint32 media_ssrc);
gsize chorus_rtcp_write_fir(guint8 *out, gsize cap, guint32 sender_ssrc, guint32 media_ssrc,
                            guint8 seq_nr);

/* --- NTP time (RFC 3550 4) ---------------------------------------------- */

/* The middle 32 bits of a 64-bit NTP timestamp (16.16 seconds): what LSR,
 * DLSR, XR LRR and DLRR carry. */
static inline guint32
chorus_rtcp_ntp_compact(guint64 ntp)
{
  return (guint32)(ntp >> 16);
}

/* Round-trip time from a report block (LSR/DLSR) or a DLRR sub-block
 * (LRR/DLRR), given the compact NTP time it was received at. -1 when @lsr
 * is 0 (the peer has no SR/RRTR of ours yet). A result a little below zero,
 * which the 1/65536 s rounding gives on loopback, is clamped to 0; one
 * further below (more than 1 s: clock or report garbage) is -1. */
gint64 chorus_rtcp_rtt_us(guint32 now_compact, guint32 lsr, guint32 dlsr);

/* --- Sender and receiver reports (RFC 3550 6.4) -------------------------- */

typedef struct {
  guint32 ssrc;            /* source this block reports on */
  guint8 fraction_lost;    /* lost since the last report, 8-bit fixed point /256 */
  gint32 cumulative_lost;  /* 24-bit signed (negative with duplicates) */
  guint32 ext_highest_seq; /* cycles << 16 | highest seq */
  guint32 jitter;          /* RTP timestamp units */
  guint32 lsr;             /* compact NTP of the last SR from that source, 0 = none */
  guint32 dlsr;            /* delay since that SR, 1/65536 s */
} ChorusRtcpReportBlock;

typedef struct {
  guint64 ntp;    /* 32.32 fixed point seconds since 1900 */
  guint32 rtp_ts; /* the same instant in the stream's RTP clock */
  guint32 packet_count;
  guint32 octet_count;
} ChorusRtcpSenderInfo;

/* An SR or RR. */
typedef struct {
  guint32 ssrc;   /* of the sender of the report */
  gboolean is_sr; /* sender_info valid */
  ChorusRtcpSenderInfo sender_info;
  guint n_blocks;
  ChorusRtcpReportBlock blocks[CHORUS_RTCP_MAX_COUNT];
  const guint8 *ext; /* profile-specific extension after the blocks (borrowed) */
  gsize ext_len;
} ChorusRtcpReport;

/* Parses an SR or RR (RC blocks must fit the packet). */
ChorusRtpResult chorus_rtcp_report_parse(const ChorusRtcpPacket *pkt, ChorusRtcpReport *report);

/* @n_blocks <= 31. Values out of their field width are truncated
 * (cumulative_lost clamped to the 24-bit signed range). */
gsize chorus_rtcp_write_sr(guint8 *out, gsize cap, guint32 ssrc, const ChorusRtcpSenderInfo *info,
                           const ChorusRtcpReportBlock *blocks, guint n_blocks);
gsize chorus_rtcp_write_rr(guint8 *out, gsize cap, guint32 ssrc,
                           const ChorusRtcpReportBlock *blocks, guint n_blocks);

/* --- SDES (RFC 3550 6.5) ------------------------------------------------- */

enum {
  CHORUS_RTCP_SDES_END = 0,
  CHORUS_RTCP_SDES_CNAME = 1,
  CHORUS_RTCP_SDES_NAME = 2,
  CHORUS_RTCP_SDES_EMAIL = 3,
  CHORUS_RTCP_SDES_PHONE = 4,
  CHORUS_RTCP_SDES_LOC = 5,
  CHORUS_RTCP_SDES_TOOL = 6,
  CHORUS_RTCP_SDES_NOTE = 7,
  CHORUS_RTCP_SDES_PRIV = 8,
};

typedef struct {
  guint8 type; /* CHORUS_RTCP_SDES_*, never END */
  guint8 len;
  const guint8 *value; /* borrowed, not NUL-terminated */
} ChorusRtcpSdesItem;

/* Walks the items of every chunk. A chunk without items yields nothing. */
typedef struct {
  const guint8 *data;
  gsize end; /* content length (padding excluded) */
  gsize off;
  guint chunks_left; /* chunks not yet started */
  gboolean in_chunk;
  guint32 ssrc; /* of the current chunk */
} ChorusRtcpSdesIter;

/* FALSE when @pkt is not an SDES packet or its padding is malformed. */
gboolean chorus_rtcp_sdes_iter_init(ChorusRtcpSdesIter *it, const ChorusRtcpPacket *pkt);
/* Next item and the SSRC of its chunk; FALSE at the end or on a malformed
 * chunk (*malformed then set; items already returned stay valid). Bytes
 * after the last of SC chunks are ignored. */
gboolean chorus_rtcp_sdes_iter_next(ChorusRtcpSdesIter *it, guint32 *ssrc, ChorusRtcpSdesItem *item,
                                    gboolean *malformed);

/* The first CNAME of the packet (a view). FALSE when there is none or the
 * packet is malformed before one is found. */
gboolean chorus_rtcp_sdes_find_cname(const ChorusRtcpPacket *pkt, guint32 *ssrc,
                                     const guint8 **cname, gsize *cname_len);

typedef struct {
  guint32 ssrc;
  const ChorusRtcpSdesItem *items;
  guint n_items;
} ChorusRtcpSdesChunk;

/* @n_chunks <= 31; item types 1..255. */
gsize chorus_rtcp_write_sdes(guint8 *out, gsize cap, const ChorusRtcpSdesChunk *chunks,
                             guint n_chunks);
/* One chunk with one CNAME item. @cname_len <= 255. */
gsize chorus_rtcp_write_sdes_cname(guint8 *out, gsize cap, guint32 ssrc, const char *cname,
                                   gsize cname_len);

/* --- BYE (RFC 3550 6.6) -------------------------------------------------- */

typedef struct {
  guint n_ssrcs;
  guint32 ssrcs[CHORUS_RTCP_MAX_COUNT];
  const guint8 *reason; /* borrowed, NULL when absent; not NUL-terminated */
  guint8 reason_len;
} ChorusRtcpBye;

ChorusRtpResult chorus_rtcp_bye_parse(const ChorusRtcpPacket *pkt, ChorusRtcpBye *bye);
/* @n_ssrcs <= 31; @reason may be NULL; @reason_len <= 255. */
gsize chorus_rtcp_write_bye(guint8 *out, gsize cap, const guint32 *ssrcs, guint n_ssrcs,
                            const char *reason, gsize reason_len);

/* --- Building a compound ------------------------------------------------- */

/* Appends packets into a caller buffer:
 *
 *   ChorusRtcpCompound c;
 *   chorus_rtcp_compound_init(&c, buf, sizeof buf);
 *   gsize room;
 *   guint8 *p = chorus_rtcp_compound_reserve(&c, &room);
 *   chorus_rtcp_compound_commit(&c, chorus_rtcp_write_rr(p, room, ...));
 *   ...
 *   if (chorus_rtcp_compound_finish(&c, FALSE, &len)) send(buf, len);
 *
 * A packet that does not fit is not committed and leaves what is already
 * there intact, so the caller can send that and start another. */
typedef struct {
  guint8 *data;
  gsize cap;
  gsize len;
  guint n_packets;
} ChorusRtcpCompound;

void chorus_rtcp_compound_init(ChorusRtcpCompound *c, guint8 *buf, gsize cap);
/* Where the next packet goes, and *room = the bytes left for it. */
guint8 *chorus_rtcp_compound_reserve(ChorusRtcpCompound *c, gsize *room);
/* Takes @n bytes written at the reserved position as one or more packets.
 * FALSE (and nothing taken) when @n is 0, e.g. a writer that ran out of room,
 * larger than the room, or not whole RTCP packets. */
gboolean chorus_rtcp_compound_commit(ChorusRtcpCompound *c, gsize n);
/* Copies whole packets in (e.g. one received). FALSE when they do not fit
 * or are not whole RTCP packets. */
gboolean chorus_rtcp_compound_append(ChorusRtcpCompound *c, const guint8 *pkt, gsize len);
/* *len = the compound's bytes. FALSE when it is empty, or when
 * @reduced_size is FALSE and it does not start with an SR or RR (RFC 3550
 * 6.1); with @reduced_size (RFC 5506, negotiated by a=rtcp-rsize) any
 * packets, e.g. a lone feedback message, are allowed. */
gboolean chorus_rtcp_compound_finish(const ChorusRtcpCompound *c, gboolean reduced_size,
                                     gsize *len);

G_END_DECLS
