#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rtp/keyframe.h"

#define KF(codec, ...)                                                                             \
  ({                                                                                               \
    static const guint8 b_[] = { __VA_ARGS__ };                                                    \
    chorus_rtp_is_keyframe_start(codec, b_, sizeof(b_));                                           \
  })

START_TEST(test_vp8)
{
  ChorusRtpCodec c = CHORUS_RTP_CODEC_VP8;
  ck_assert(KF(c, 0x10, 0x00, 0x9d, 0x01, 0x2a));  /* S, PID 0, frame tag P=0 */
  ck_assert(!KF(c, 0x10, 0x01, 0x00));             /* P=1: inter frame */
  ck_assert(!KF(c, 0x00, 0x00));                   /* not the start of partition 0 */
  ck_assert(!KF(c, 0x11, 0x00));                   /* PID 1 */
  ck_assert(KF(c, 0x90, 0x80, 0x81, 0x23, 0x00));  /* X, I with a 15-bit picture id */
  ck_assert(KF(c, 0x90, 0xE0, 0x05, 0x10, 0x20, 0x00)); /* I (7-bit), L, T */
  ck_assert(!KF(c, 0x90, 0xE0, 0x05, 0x10, 0x20, 0x01));
  ck_assert(!KF(c, 0x90, 0x80));                   /* truncated */
  ck_assert(!KF(c, 0x90, 0x80, 0x81, 0x23));       /* truncated before the frame tag */
  ck_assert(!chorus_rtp_is_keyframe_start(c, NULL, 0));
}
END_TEST

START_TEST(test_vp9)
{
  ChorusRtpCodec c = CHORUS_RTP_CODEC_VP9;
  /* VP9 frame header first bytes (profile 0): 0x82 key frame, 0x86 inter
   * frame, 0x88 show_existing_frame. */
  ck_assert(KF(c, 0x08, 0x82));          /* B, not P, key frame header */
  ck_assert(!KF(c, 0x08, 0x86));         /* B, P clear, but an inter frame (ffmpeg never sets P) */
  ck_assert(!KF(c, 0x08, 0x88));         /* shows an existing frame: decodes nothing */
  ck_assert(!KF(c, 0x08, 0x42));         /* no frame marker */
  ck_assert(!KF(c, 0x08));               /* header missing */
  ck_assert(!KF(c, 0x48, 0x82));         /* P: inter-predicted */
  ck_assert(!KF(c, 0x00, 0x82));         /* not the beginning of a frame */
  ck_assert(KF(c, 0xA8, 0x05, 0x00, 0x00, 0x82));   /* I, L non-flexible: SID 0, TL0PICIDX */
  ck_assert(KF(c, 0xB8, 0x05, 0x00, 0x82));         /* I, L flexible: no TL0PICIDX */
  ck_assert(!KF(c, 0xA8, 0x05, 0x02, 0x00, 0x82));  /* spatial layer 1 */
  ck_assert(KF(c, 0xA8, 0x85, 0x01, 0x00, 0x00, 0x82)); /* 15-bit picture id */
  ck_assert(!KF(c, 0xA8, 0x85));         /* truncated */
  /* V: scalability structure, N_S=2 (3 layers) with Y and G (one group
   * entry with R=1). */
  ck_assert(KF(c, 0x8A, 0x01, 0x58, 0, 80, 0, 60, 0, 160, 0, 120, 0, 64, 0, 48, 1, 0x04, 1, 0x82));
  ck_assert(!KF(c, 0x8A, 0x01, 0x58, 0, 80, 0, 60, 0, 160, 0, 120, 0, 64, 0, 48, 1, 0x04, 1));
  ck_assert(!KF(c, 0x8A, 0x01, 0x58, 0, 80));  /* structure truncated */
  /* Profile 3 has a reserved bit before show_existing_frame. */
  ck_assert(KF(c, 0x08, 0xB0));
  ck_assert(!KF(c, 0x08, 0xB2));
}
END_TEST

START_TEST(test_h264)
{
  ChorusRtpCodec c = CHORUS_RTP_CODEC_H264;
  ck_assert(KF(c, 0x67, 0x42));          /* SPS */
  ck_assert(!KF(c, 0x65, 0x88));         /* IDR slice: its SPS came first (keyframe.h) */
  ck_assert(!KF(c, 0x41, 0x9a));         /* non-IDR slice */
  ck_assert(!KF(c, 0x09, 0x10));         /* access unit delimiter */
  ck_assert(KF(c, 0x18, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce)); /* STAP-A SPS+PPS */
  ck_assert(KF(c, 0x18, 0x00, 0x02, 0x09, 0x10, 0x00, 0x02, 0x67, 0x42)); /* STAP-A AUD+SPS */
  ck_assert(!KF(c, 0x18, 0x00, 0x01, 0x41));     /* STAP-A, non-IDR */
  ck_assert(!KF(c, 0x18, 0x00, 0x09, 0x67));     /* STAP-A size past the end */
  ck_assert(KF(c, 0x7c, 0x87, 0x42));            /* FU-A start of an SPS */
  ck_assert(!KF(c, 0x7c, 0x85, 0x88));           /* FU-A start of an IDR */
  ck_assert(!KF(c, 0x7c, 0x07, 0x88));           /* FU-A middle */
  ck_assert(!KF(c, 0x7c, 0x81, 0x88));           /* FU-A start of a non-IDR */
  ck_assert(!KF(c, 0x7c));                       /* truncated */
}
END_TEST

START_TEST(test_av1_other)
{
  ck_assert(KF(CHORUS_RTP_CODEC_AV1, 0x08, 0x0a));
  ck_assert(!KF(CHORUS_RTP_CODEC_AV1, 0x00, 0x0a));
  ck_assert(!KF(CHORUS_RTP_CODEC_AV1, 0x88, 0x0a)); /* continues an OBU: not a start */
  ck_assert(!KF(CHORUS_RTP_CODEC_OTHER, 0x10, 0x00));
}
END_TEST

START_TEST(test_tracker)
{
  static const guint8 sps[] = { 0x67, 0x42 }, idr[] = { 0x65, 0x88 }, p[] = { 0x41, 0x9a };
  ChorusRtpKeyframeTracker t = { 0 };
  ChorusRtpCodec c = CHORUS_RTP_CODEC_H264;
  ck_assert(chorus_rtp_keyframe_tracker_handle_packet(&t, c, 1000, sps, sizeof(sps)));
  ck_assert(!chorus_rtp_keyframe_tracker_handle_packet(&t, c, 1000, idr, sizeof(idr)));
  ck_assert(!chorus_rtp_keyframe_tracker_handle_packet(&t, c, 1000, sps, sizeof(sps))); /* repeated */
  ck_assert(!chorus_rtp_keyframe_tracker_handle_packet(&t, c, 4000, p, sizeof(p)));
  ck_assert(chorus_rtp_keyframe_tracker_handle_packet(&t, c, 7000, sps, sizeof(sps)));
  /* Timestamp 0 is a timestamp like any other. */
  ChorusRtpKeyframeTracker z = { 0 };
  ck_assert(chorus_rtp_keyframe_tracker_handle_packet(&z, c, 0, sps, sizeof(sps)));
  ck_assert(!chorus_rtp_keyframe_tracker_handle_packet(&z, c, 0, sps, sizeof(sps)));
}
END_TEST

/* ---- Fixtures: packets captured from real encoders and packetizers ----
 *
 * tests/unit/data/keyframes/<name>.txt, one packet a line:
 *   <seq> <timestamp> <marker> <pt> <truth> <payload hex, '-' when empty>
 * truth (from a decoder, not from Chorus): K = first packet of a keyframe,
 * k = another packet of a keyframe, . = anything else. See the README. */

typedef struct {
  guint16 seq;
  guint32 ts;
  char truth;
  guint8 *payload;
  gsize len;
} FixPacket;

typedef struct {
  ChorusRtpCodec codec;
  GArray *packets; /* FixPacket */
} Fixture;

static void
fixture_free(Fixture *f)
{
  for (guint i = 0; i < f->packets->len; i++)
    g_free(g_array_index(f->packets, FixPacket, i).payload);
  g_array_unref(f->packets);
  g_free(f);
}

static ChorusRtpCodec
codec_from_name(const char *name)
{
  if (g_str_equal(name, "VP8"))
    return CHORUS_RTP_CODEC_VP8;
  if (g_str_equal(name, "VP9"))
    return CHORUS_RTP_CODEC_VP9;
  if (g_str_equal(name, "H264"))
    return CHORUS_RTP_CODEC_H264;
  if (g_str_equal(name, "AV1"))
    return CHORUS_RTP_CODEC_AV1;
  return CHORUS_RTP_CODEC_OTHER;
}

static Fixture *
fixture_load(const char *name)
{
  g_autofree char *path = g_strdup_printf("%s/keyframes/%s.txt", CHORUS_TEST_DATA_DIR, name);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  ck_assert_msg(g_file_get_contents(path, &text, NULL, &error), "%s: %s", path,
                error ? error->message : "?");
  Fixture *f = g_new0(Fixture, 1);
  f->packets = g_array_new(FALSE, TRUE, sizeof(FixPacket));
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (guint n = 0; lines[n]; n++) {
    const char *line = lines[n];
    if (line[0] == '\0')
      continue;
    if (line[0] == '#') {
      if (g_str_has_prefix(line, "# codec: "))
        f->codec = codec_from_name(line + strlen("# codec: "));
      continue;
    }
    g_auto(GStrv) col = g_strsplit(line, " ", -1);
    ck_assert_msg(g_strv_length(col) == 6, "%s:%u: 6 columns expected", name, n + 1);
    ck_assert_msg(strlen(col[4]) == 1 && strchr("Kk.", col[4][0]), "%s:%u: truth", name, n + 1);
    FixPacket p = { 0 };
    p.seq = (guint16)g_ascii_strtoull(col[0], NULL, 10);
    p.ts = (guint32)g_ascii_strtoull(col[1], NULL, 10);
    p.truth = col[4][0];
    const char *hex = col[5];
    if (!g_str_equal(hex, "-")) {
      gsize hl = strlen(hex);
      ck_assert_msg(hl % 2 == 0 && hl > 0, "%s:%u: odd hex", name, n + 1);
      p.len = hl / 2;
      p.payload = g_malloc(p.len);
      for (gsize i = 0; i < p.len; i++) {
        gint hi = g_ascii_xdigit_value(hex[2 * i]), lo = g_ascii_xdigit_value(hex[2 * i + 1]);
        ck_assert_msg(hi >= 0 && lo >= 0, "%s:%u: bad hex", name, n + 1);
        p.payload[i] = (guint8)(hi << 4 | lo);
      }
    }
    g_array_append_val(f->packets, p);
  }
  ck_assert_msg(f->codec != CHORUS_RTP_CODEC_OTHER, "%s: no '# codec:' line", name);
  return f;
}

static const FixPacket *
pkt_at(const Fixture *f, guint i)
{
  return &g_array_index(f->packets, FixPacket, i);
}

/* H264 NAL types in a packet that does not continue a fragment: bit (1 <<
 * type), or 0 for an FU-A continuation or anything unparsable. */
static guint32
h264_nal_types(const guint8 *p, gsize len)
{
  if (len < 1)
    return 0;
  guint t = p[0] & 0x1f;
  if (t >= 1 && t <= 23)
    return 1u << t;
  if (t == 24) {
    guint32 m = 0;
    for (gsize off = 1; off + 2 < len;) {
      gsize n = ((gsize)p[off] << 8) | p[off + 1];
      off += 2;
      if (n == 0 || off + n > len)
        return 0;
      m |= 1u << (p[off] & 0x1f);
      off += n;
    }
    return m;
  }
  if (t == 28 && len >= 2 && (p[1] & 0x80))
    return 1u << (p[1] & 0x1f);
  return 0;
}

#define H264_AUD_SEI ((1u << 9) | (1u << 6))

/* The packet a keyframe-start detector must report for the keyframe whose
 * first packet is @k: that packet itself; for H264, the first packet after
 * any leading packets that carry only an access unit delimiter or SEI, which
 * a decoder does not need and which by themselves do not show that the
 * access unit is a keyframe (GStreamer sends the AUD alone). */
static guint
expected_start(const Fixture *f, guint k)
{
  if (f->codec != CHORUS_RTP_CODEC_H264)
    return k;
  guint i = k;
  while (i + 1 < f->packets->len && pkt_at(f, i + 1)->truth == 'k') {
    guint32 m = h264_nal_types(pkt_at(f, i)->payload, pkt_at(f, i)->len);
    if (m == 0 || (m & ~H264_AUD_SEI) != 0)
      break;
    i++;
  }
  return i;
}

/* What a fixture contains, so that the tests below are known to cover the
 * packetizations the detector must handle. */
enum {
  F_MULTI_PACKET_KEY = 1 << 0,   /* a keyframe of several packets */
  F_PADDING = 1 << 1,            /* padding-only packets (no payload) */
  F_VP8_TEMPORAL = 1 << 2,       /* VP8 descriptor with TL0PICIDX / TID */
  F_VP9_FLEXIBLE = 1 << 3,       /* VP9 F=1 */
  F_VP9_NONFLEXIBLE = 1 << 4,    /* VP9 F=0 */
  F_VP9_SS = 1 << 5,             /* VP9 keyframe with a scalability structure */
  F_VP9_NO_P_BIT = 1 << 6,       /* VP9 delta frame starts with P clear (ffmpeg) */
  F_VP9_UPPER_LAYER_KEY = 1 << 7, /* VP9 keyframe packet: B, P clear, SID > 0 */
  F_H264_START_STAPA = 1 << 8,   /* keyframe starts with a STAP-A holding the SPS */
  F_H264_START_SINGLE = 1 << 9,  /* keyframe starts with a single-NAL SPS (after AUD) */
  F_H264_STAPA_IDR = 1 << 10,    /* a STAP-A holding SPS, PPS and the IDR */
  F_H264_LATER_FUA_IDR = 1 << 11, /* FU-A start of an IDR, not the first packet */
  F_H264_LATER_SINGLE_IDR = 1 << 12, /* single-NAL IDR slice, not the first packet */
  F_H264_LATER_SPS = 1 << 13,    /* an SPS repeated within the keyframe */
  F_H264_AUD_FIRST = 1 << 14,    /* keyframe begins with an AUD-only packet */
  F_AV1_N = 1 << 15,             /* AV1 keyframe start with N */
  F_AV1_Z = 1 << 16,             /* AV1 packets continuing an OBU (Z) */
  F_AV1_Y = 1 << 17,             /* AV1 packets whose last OBU goes on (Y) */
  F_AV1_SEQ_HEADER = 1 << 18,    /* AV1 keyframe starts with a sequence header OBU */
};

static guint
vp9_sid(const guint8 *p, gsize len)
{
  gsize off = 1;
  if (!(p[0] & 0x20))
    return 0;
  if (p[0] & 0x80)
    off += (len > 1 && (p[1] & 0x80)) ? 2 : 1;
  return off < len ? (p[off] >> 1) & 7 : 0;
}

static guint
fixture_features(const Fixture *f)
{
  guint feat = 0;
  guint key_packets = 0;
  for (guint i = 0; i < f->packets->len; i++) {
    const FixPacket *p = pkt_at(f, i);
    const guint8 *b = p->payload;
    gboolean first = p->truth == 'K', in_key = p->truth != '.';
    key_packets = first ? 1 : (in_key ? key_packets + 1 : 0);
    if (key_packets == 2)
      feat |= F_MULTI_PACKET_KEY;
    if (p->len == 0) {
      feat |= F_PADDING;
      continue;
    }
    switch (f->codec) {
    case CHORUS_RTP_CODEC_VP8:
      if ((b[0] & 0x80) && p->len > 1 && (b[1] & 0x60))
        feat |= F_VP8_TEMPORAL;
      break;
    case CHORUS_RTP_CODEC_VP9:
      feat |= (b[0] & 0x10) ? F_VP9_FLEXIBLE : F_VP9_NONFLEXIBLE;
      if (first && (b[0] & 0x02))
        feat |= F_VP9_SS;
      if (!in_key && (b[0] & 0x48) == 0x08)
        feat |= F_VP9_NO_P_BIT;
      if (in_key && (b[0] & 0x48) == 0x08 && vp9_sid(b, p->len) > 0)
        feat |= F_VP9_UPPER_LAYER_KEY;
      break;
    case CHORUS_RTP_CODEC_H264: {
      guint32 m = h264_nal_types(b, p->len);
      guint t = b[0] & 0x1f;
      guint start = first ? expected_start(f, i) : G_MAXUINT;
      if (first && start != i)
        feat |= F_H264_AUD_FIRST;
      if (start != G_MAXUINT) {
        const FixPacket *s = pkt_at(f, start);
        guint st = s->len > 0 ? s->payload[0] & 0x1f : 0;
        if (st == 24)
          feat |= F_H264_START_STAPA;
        else if (st == 7)
          feat |= F_H264_START_SINGLE;
      }
      if (t == 24 && (m & (1u << 7)) && (m & (1u << 5)))
        feat |= F_H264_STAPA_IDR;
      if (in_key && !first && t == 28 && (m & (1u << 5)))
        feat |= F_H264_LATER_FUA_IDR;
      if (in_key && !first && t == 5)
        feat |= F_H264_LATER_SINGLE_IDR;
      /* An SPS in a packet after the one the detector must report. */
      if (in_key && !first && (m & (1u << 7))) {
        guint k = i;
        while (pkt_at(f, k)->truth != 'K')
          k--;
        if (i > expected_start(f, k))
          feat |= F_H264_LATER_SPS;
      }
      break;
    }
    case CHORUS_RTP_CODEC_AV1:
      if (first && (b[0] & 0x08))
        feat |= F_AV1_N;
      if (b[0] & 0x80)
        feat |= F_AV1_Z;
      if (b[0] & 0x40)
        feat |= F_AV1_Y;
      /* First OBU element: a length (W != 1) then the OBU header. */
      if (first && !(b[0] & 0x80)) {
        gsize off = 1;
        if (((b[0] >> 4) & 3) != 1)
          while (off < p->len && (b[off++] & 0x80))
            ;
        if (off < p->len && ((b[off] >> 3) & 0x0f) == 1)
          feat |= F_AV1_SEQ_HEADER;
      }
      break;
    case CHORUS_RTP_CODEC_OTHER:
      break;
    }
  }
  return feat;
}

typedef struct {
  const char *name;
  ChorusRtpCodec codec;
  guint min_keyframes;
  guint features;       /* all of these must be in the fixture */
  gboolean stateless_exact; /* chorus_rtp_is_keyframe_start exact on every packet */
} FixtureCase;

static const FixtureCase fixture_cases[] = {
  /* Chromium 156 (libwebrtc) */
  { "vp8-chromium", CHORUS_RTP_CODEC_VP8, 3, F_MULTI_PACKET_KEY, TRUE },
  { "vp8-chromium-l1t3", CHORUS_RTP_CODEC_VP8, 3, F_MULTI_PACKET_KEY | F_VP8_TEMPORAL, TRUE },
  { "vp9-chromium", CHORUS_RTP_CODEC_VP9, 3, F_MULTI_PACKET_KEY | F_VP9_FLEXIBLE | F_VP9_SS, TRUE },
  { "vp9-chromium-l2t3-key", CHORUS_RTP_CODEC_VP9, 2,
    F_MULTI_PACKET_KEY | F_VP9_FLEXIBLE | F_VP9_SS | F_VP9_UPPER_LAYER_KEY, TRUE },
  { "h264-chromium", CHORUS_RTP_CODEC_H264, 3,
    F_MULTI_PACKET_KEY | F_H264_START_STAPA | F_H264_LATER_FUA_IDR, TRUE },
  { "h264-chromium-small", CHORUS_RTP_CODEC_H264, 3, F_H264_START_STAPA | F_H264_STAPA_IDR, TRUE },
  { "av1-chromium", CHORUS_RTP_CODEC_AV1, 3,
    F_MULTI_PACKET_KEY | F_PADDING | F_AV1_N | F_AV1_Z | F_AV1_Y | F_AV1_SEQ_HEADER, TRUE },
  { "av1-chromium-l1t3", CHORUS_RTP_CODEC_AV1, 3,
    F_MULTI_PACKET_KEY | F_AV1_N | F_AV1_Z | F_AV1_Y | F_AV1_SEQ_HEADER, TRUE },
  /* aiortc 1.4 (what aiortc clients publish) */
  { "vp8-aiortc", CHORUS_RTP_CODEC_VP8, 3, F_MULTI_PACKET_KEY, TRUE },
  { "h264-aiortc", CHORUS_RTP_CODEC_H264, 3,
    F_MULTI_PACKET_KEY | F_H264_START_STAPA | F_H264_LATER_FUA_IDR, TRUE },
  /* ffmpeg 5.1 RTP muxer */
  { "vp8-ffmpeg", CHORUS_RTP_CODEC_VP8, 3, F_MULTI_PACKET_KEY, TRUE },
  { "vp9-ffmpeg", CHORUS_RTP_CODEC_VP9, 3, F_MULTI_PACKET_KEY | F_VP9_NONFLEXIBLE | F_VP9_NO_P_BIT, TRUE },
  { "h264-ffmpeg", CHORUS_RTP_CODEC_H264, 3,
    F_MULTI_PACKET_KEY | F_H264_START_STAPA | F_H264_LATER_FUA_IDR | F_H264_LATER_SINGLE_IDR, TRUE },
  /* GStreamer 1.22 payloaders */
  { "vp8-gstreamer", CHORUS_RTP_CODEC_VP8, 3, F_MULTI_PACKET_KEY, TRUE },
  { "vp9-gstreamer", CHORUS_RTP_CODEC_VP9, 3, F_MULTI_PACKET_KEY | F_VP9_NONFLEXIBLE | F_VP9_SS, TRUE },
  /* The SPS comes again in front of the second slice: only the tracker is
   * exact (keyframe.h). */
  { "h264-gstreamer", CHORUS_RTP_CODEC_H264, 3,
    F_MULTI_PACKET_KEY | F_H264_AUD_FIRST | F_H264_START_SINGLE | F_H264_LATER_SPS |
      F_H264_LATER_FUA_IDR, FALSE },
  { "h264-gstreamer-zl", CHORUS_RTP_CODEC_H264, 3,
    F_MULTI_PACKET_KEY | F_H264_START_STAPA | F_H264_LATER_SPS | F_H264_LATER_FUA_IDR, FALSE },
};

/* Compares @got (one verdict per packet) with the expected starts and
 * fails listing the first differences. In @safety_only mode, TRUE is also
 * accepted on packets of a keyframe after its expected start. */
static void
check_verdicts(const char *what, const Fixture *f, const gboolean *got, const gboolean *want,
               gboolean safety_only)
{
  g_autoptr(GString) diff = g_string_new(NULL);
  guint bad = 0;
  for (guint i = 0; i < f->packets->len; i++) {
    const FixPacket *p = pkt_at(f, i);
    gboolean ok = got[i] == want[i];
    if (!ok && safety_only && got[i] && p->truth == 'k') {
      guint k = i;
      while (pkt_at(f, k)->truth != 'K')
        k--;
      ok = i > expected_start(f, k); /* after a reported start, in the same keyframe */
    }
    if (ok)
      continue;
    if (bad++ < 8)
      g_string_append_printf(diff, "\n  packet %u seq %u ts %u truth %c: got %s, want %s", i,
                             p->seq, p->ts, p->truth, got[i] ? "TRUE" : "FALSE",
                             want[i] ? "TRUE" : "FALSE");
  }
  ck_assert_msg(bad == 0, "%s: %u of %u packets wrong:%s", what, bad, f->packets->len, diff->str);
}

START_TEST(test_fixture)
{
  const FixtureCase *fc = &fixture_cases[_i];
  Fixture *f = fixture_load(fc->name);
  ck_assert_msg(f->codec == fc->codec, "%s: codec %d", fc->name, f->codec);
  guint n = f->packets->len;
  ck_assert_msg(n >= 30, "%s: only %u packets", fc->name, n);
  ck_assert_msg(pkt_at(f, 0)->truth == 'K', "%s: does not start with a keyframe", fc->name);

  g_autofree gboolean *want = g_new0(gboolean, n);
  guint keyframes = 0, delta_packets = 0;
  gboolean in_key = FALSE;
  for (guint i = 0; i < n; i++) {
    const FixPacket *p = pkt_at(f, i);
    if (p->truth == 'K') {
      keyframes++;
      in_key = TRUE;
      want[expected_start(f, i)] = TRUE;
    } else if (p->truth == 'k') {
      ck_assert_msg(in_key, "%s: packet %u: 'k' outside a keyframe", fc->name, i);
    } else if (p->len > 0) {
      in_key = FALSE;
      delta_packets++;
    }
  }
  ck_assert_msg(keyframes >= fc->min_keyframes, "%s: %u keyframes, want >= %u", fc->name, keyframes,
                fc->min_keyframes);
  ck_assert_msg(delta_packets >= 20, "%s: %u delta packets", fc->name, delta_packets);
  guint feat = fixture_features(f);
  ck_assert_msg((feat & fc->features) == fc->features,
                "%s: fixture lacks features 0x%x (has 0x%x)", fc->name, fc->features & ~feat, feat);

  /* Stateless, packet by packet. */
  g_autofree gboolean *got = g_new0(gboolean, n);
  for (guint i = 0; i < n; i++)
    got[i] = chorus_rtp_is_keyframe_start(fc->codec, pkt_at(f, i)->payload, pkt_at(f, i)->len);
  g_autofree char *what = g_strdup_printf("%s: chorus_rtp_is_keyframe_start", fc->name);
  check_verdicts(what, f, got, want, !fc->stateless_exact);

  /* The tracker, fed in arrival order, is exact on every fixture. */
  ChorusRtpKeyframeTracker tracker = { 0 };
  for (guint i = 0; i < n; i++)
    got[i] = chorus_rtp_keyframe_tracker_handle_packet(&tracker, fc->codec, pkt_at(f, i)->ts,
                                                       pkt_at(f, i)->payload, pkt_at(f, i)->len);
  g_free(what);
  what = g_strdup_printf("%s: ChorusRtpKeyframeTracker", fc->name);
  check_verdicts(what, f, got, want, FALSE);

  /* Truncated copies of each keyframe's first packet, in buffers of their
   * exact size: the detector must not read past the end (ASan build). */
  for (guint i = 0; i < n; i++) {
    const FixPacket *p = pkt_at(f, i);
    if (!want[i])
      continue;
    for (gsize cut = 0; cut < MIN(p->len, 64); cut++) {
      guint8 *copy = g_memdup2(p->payload, cut);
      (void)chorus_rtp_is_keyframe_start(fc->codec, copy, cut);
      g_free(copy);
    }
  }
  fixture_free(f);
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("keyframe");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_vp8);
  tcase_add_test(tc, test_vp9);
  tcase_add_test(tc, test_h264);
  tcase_add_test(tc, test_av1_other);
  tcase_add_test(tc, test_tracker);
  suite_add_tcase(s, tc);
  TCase *fx = tcase_create("fixtures");
  tcase_add_loop_test(fx, test_fixture, 0, G_N_ELEMENTS(fixture_cases));
  suite_add_tcase(s, fx);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
