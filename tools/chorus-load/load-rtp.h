/* What a synthetic publisher puts on the wire: RTP headers with one-byte
 * header extensions (RFC 8285), the VP8 payload descriptor (RFC 7741),
 * abs-send-time, RFC 6464 audio levels, and RTCP sender reports with a
 * CNAME. Sans-IO: bytes in caller storage, no clock, no allocation; the
 * reading side (parsing, keyframe detection) is Chorus's own src/rtp/. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The RTP payload a video packet may carry (the SRTP tag, the RTP header
 * and extensions fit around it within a 1200-byte datagram). */
#define LOAD_RTP_MAX_PAYLOAD 1100
/* Room for one RTP/RTCP packet plus what SRTP adds. */
#define LOAD_RTP_BUF_BYTES 1500

#define LOAD_RTP_MAX_EXTS 6

/* One header extension element; one-byte form: id 1..14, 1..16 bytes. */
typedef struct {
  guint8 id;
  guint8 len;
  guint8 data[16];
} LoadRtpExt;

typedef struct {
  gboolean marker;
  guint8 payload_type;
  guint16 seq;
  guint32 timestamp;
  guint32 ssrc;
  LoadRtpExt exts[LOAD_RTP_MAX_EXTS];
  guint n_exts;
} LoadRtpHeader;

/* Adds an extension to @h (ignored when id is 0, the extension was not
 * negotiated). */
void load_rtp_header_add_ext(LoadRtpHeader *h, guint8 id, const void *data, guint8 len);
/* Same with a string value (mid, rid). */
void load_rtp_header_add_ext_string(LoadRtpHeader *h, guint8 id, const char *value);

/* Writes the header (with its extension block, padded to 32 bits) into
 * @out; returns bytes written, 0 if @cap is too small. */
gsize load_rtp_write_header(const LoadRtpHeader *h, guint8 *out, gsize cap);

/* abs-send-time: 24-bit 6.18 fixed-point seconds of @now_us, big endian. */
void load_rtp_abs_send_time(gint64 now_us, guint8 out[3]);

/* RFC 6464 (ssrc-audio-level) byte: V bit, then -dBov 0..127. */
guint8 load_rtp_audio_level_byte(guint8 level_dbov, gboolean voice);

/* Splits one VP8 frame into RTP payloads of at most @max_payload bytes
 * (descriptor included), of nearly equal size. The descriptor carries a
 * 15-bit picture id; S is set on the first packet (partition 0 start).
 * An empty frame yields no packet. */
typedef struct {
  const guint8 *frame;
  gsize len;
  gsize off;
  guint16 picture_id;
  gsize chunk;
} LoadVp8Packetizer;

void load_vp8_packetizer_init(LoadVp8Packetizer *p, const guint8 *frame, gsize len,
                              guint16 picture_id, gsize max_payload);
/* Writes the next payload into @out; FALSE when the frame is done. *@last
 * is TRUE for the frame's last packet (the RTP marker). */
gboolean load_vp8_packetizer_next(LoadVp8Packetizer *p, guint8 *out, gsize cap, gsize *written,
                                  gboolean *last);
/* Packets the frame will take. */
guint load_vp8_packetizer_count(gsize frame_len, gsize max_payload);

/* NTP timestamp (RFC 3550: seconds since 1900 . 32-bit fraction) of a wall
 * clock time in microseconds since the Unix epoch. */
guint64 load_rtcp_ntp_from_unix_us(gint64 unix_us);

/* A compound RTCP packet: SR (no report blocks) + SDES with CNAME.
 * Returns bytes written, 0 when @cap is too small or @cname too long. */
gsize load_rtcp_write_sr(guint8 *out, gsize cap, guint32 ssrc, guint64 ntp, guint32 rtp_ts,
                         guint32 packets, guint32 octets, const char *cname);

G_END_DECLS
