/* RTP packet view (RFC 3550) with header extensions (RFC 8285 one-byte and
 * two-byte forms), and the rewrite a downtrack applies. Sans-IO: bytes in,
 * bytes out; no allocation. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Packet-path verdicts; each reason has its own counter where it is used. */
typedef enum {
  CHORUS_RTP_OK = 0,
  CHORUS_RTP_DROP_MALFORMED, /* too short, version != 2, lengths past the end */
  CHORUS_RTP_DROP_TOO_BIG,   /* does not fit the output buffer */
} ChorusRtpResult;

#define CHORUS_RTP_HEADER_MIN 12
#define CHORUS_RTP_MAX_CSRC 15
#define CHORUS_RTP_EXT_ONE_BYTE_PROFILE 0xBEDE
#define CHORUS_RTP_EXT_TWO_BYTE_PROFILE 0x1000 /* upper 12 bits; low 4 bits app bits */

/* A parsed view over a buffer (borrowed: valid while the buffer is). */
typedef struct {
  const guint8 *data;
  gsize len;
  gboolean marker;
  guint8 payload_type;
  guint16 seq;
  guint32 timestamp;
  guint32 ssrc;
  guint8 csrc_count;
  gboolean has_extension;
  guint16 ext_profile;    /* 0xBEDE, 0x100x or another profile */
  gsize ext_offset;       /* offset of the extension data (after its 4-byte header) */
  gsize ext_len;          /* bytes of extension data */
  gsize payload_offset;
  gsize payload_len;      /* excluding padding */
  guint8 padding_len;
} ChorusRtpPacket;

ChorusRtpResult chorus_rtp_packet_parse(ChorusRtpPacket *pkt, const guint8 *data, gsize len);

/* Finds extension @id (1..14 one-byte, 1..255 two-byte). @value borrowed. */
gboolean chorus_rtp_packet_find_extension(const ChorusRtpPacket *pkt, guint8 id,
                                          const guint8 **value, gsize *value_len);

/* How a downtrack rewrites a packet for one subscriber. */
typedef struct {
  guint32 ssrc;
  guint8 payload_type;
  guint16 seq;
  guint32 timestamp;
  /* ext_map[in_id] = out_id for the subscriber, 0 = drop. Extensions not
   * mapped are removed. NULL = remove every extension. */
  const guint8 *ext_map; /* 256 entries */
} ChorusRtpRewrite;

/* Writes the rewritten packet into @out (may not alias @pkt->data): new
 * SSRC, PT, seq, timestamp; extensions re-encoded with their new ids (one-byte
 * form when every id <= 14 and value <= 16 bytes, else two-byte); CSRCs,
 * marker, payload and padding kept. *out_len = bytes written. */
ChorusRtpResult chorus_rtp_packet_rewrite(const ChorusRtpPacket *pkt, const ChorusRtpRewrite *rw,
                                          guint8 *out, gsize cap, gsize *out_len);

static inline guint16
chorus_rtp_read16(const guint8 *p)
{
  return (guint16)((p[0] << 8) | p[1]);
}

static inline guint32
chorus_rtp_read32(const guint8 *p)
{
  return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}

static inline void
chorus_rtp_write16(guint8 *p, guint16 v)
{
  p[0] = (guint8)(v >> 8);
  p[1] = (guint8)v;
}

static inline void
chorus_rtp_write32(guint8 *p, guint32 v)
{
  p[0] = (guint8)(v >> 24);
  p[1] = (guint8)(v >> 16);
  p[2] = (guint8)(v >> 8);
  p[3] = (guint8)v;
}

G_END_DECLS
