/* RTCP (RFC 3550, 4585, 5104) compound packet walking and the feedback
 * messages the forwarding path needs now (PLI, FIR). Sans-IO, no allocation.
 * The forwarding-engine issue extends this with SR/RR/NACK/TWCC/REMB. */
#pragma once

#include <glib.h>

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

/* One packet of a compound (a view). */
typedef struct {
  guint8 type;       /* PT: 200..207 */
  guint8 count;      /* RC / SC / FMT (low 5 bits of the first byte) */
  const guint8 *data; /* the whole packet, header included */
  gsize len;         /* bytes, header included */
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

/* The media SSRC of a PSFB/RTPFB packet (FALSE if too short). */
gboolean chorus_rtcp_fb_media_ssrc(const ChorusRtcpPacket *pkt, guint32 *media_ssrc);

/* TRUE when @pkt asks for a keyframe of some SSRC: PLI, or FIR (each FIR
 * entry names its SSRC; the first is returned). */
gboolean chorus_rtcp_is_keyframe_request(const ChorusRtcpPacket *pkt, guint32 *media_ssrc);

/* Writers return bytes written, 0 when @cap is too small. */
gsize chorus_rtcp_write_pli(guint8 *out, gsize cap, guint32 sender_ssrc, guint32 media_ssrc);
gsize chorus_rtcp_write_fir(guint8 *out, gsize cap, guint32 sender_ssrc, guint32 media_ssrc,
                            guint8 seq_nr);

G_END_DECLS
