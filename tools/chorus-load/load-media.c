#include "load-media.h"

#include <math.h>
#include <opus.h>
#include <string.h>
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

#include "core/error.h"

#define OPUS_RATE 48000
#define OPUS_MAX_FRAME_SAMPLES 2880 /* 60 ms */
#define OPUS_MAX_PACKET 1500

void
load_clip_free(LoadClip *clip)
{
  if (clip == NULL)
    return;
  for (guint i = 0; i < clip->n_frames; i++)
    g_free(clip->frames[i].data);
  g_free(clip->frames);
  g_free(clip);
}

guint
load_clip_next_keyframe(const LoadClip *clip, guint from)
{
  for (guint k = 0; k < clip->n_frames; k++) {
    guint i = (from + k) % clip->n_frames;
    if (clip->frames[i].keyframe)
      return i;
  }
  return from;
}

double
load_clip_kbps(const LoadClip *clip)
{
  if (clip->n_frames == 0)
    return 0;
  double seconds = (double)clip->n_frames * clip->frame_interval_us / G_USEC_PER_SEC;
  return clip->total_bytes * 8.0 / 1000.0 / seconds;
}

/* ---- audio ---------------------------------------------------------------------- */

/* Deterministic: every run sends the same clip. */
static guint32
xorshift(guint32 *state)
{
  guint32 x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *state = x;
}

static double
noise_unit(guint32 *state)
{
  return (double)xorshift(state) / 2147483648.0 - 1.0;
}

/* Talk spurts of 1.2..2.7 s separated by pauses of 0.4..1.4 s; inside a
 * spurt, syllables at ~4 Hz. Returns the envelope 0..1 for sample @n. */
typedef struct {
  guint32 rng;
  gint64 spurt_end; /* sample where the current spurt or pause ends */
  gboolean talking;
} SpeechState;

static double
speech_envelope(SpeechState *st, gint64 n)
{
  if (n >= st->spurt_end) {
    st->talking = !st->talking;
    double len_s = st->talking ? 1.2 + 1.5 * (xorshift(&st->rng) % 1000) / 1000.0
                               : 0.4 + 1.0 * (xorshift(&st->rng) % 1000) / 1000.0;
    st->spurt_end = n + (gint64)(len_s * OPUS_RATE);
  }
  if (!st->talking)
    return 0;
  double syllable = 0.5 + 0.5 * sin(2 * G_PI * 4.0 * n / OPUS_RATE);
  return 0.15 + 0.85 * syllable * syllable;
}

static void
render_audio(LoadAudioSource source, SpeechState *st, gint64 first, opus_int16 *pcm, guint samples,
             double *lowpass, gboolean *voice)
{
  *voice = FALSE;
  for (guint i = 0; i < samples; i++) {
    gint64 n = first + i;
    double t = (double)n / OPUS_RATE;
    double v;
    if (source == LOAD_AUDIO_TONE) {
      v = 0.3 * sin(2 * G_PI * 440.0 * t);
      *voice = TRUE;
    } else {
      double env = speech_envelope(st, n);
      /* A voiced buzz (f0 ~120 Hz with vibrato, decaying harmonics) plus
       * low-passed noise: a speech-like spectrum for the encoder. */
      double f0 = 120.0 + 8.0 * sin(2 * G_PI * 0.7 * t);
      double buzz = 0;
      for (int h = 1; h <= 8; h++)
        buzz += sin(2 * G_PI * f0 * h * t) / h;
      *lowpass += 0.2 * (noise_unit(&st->rng) - *lowpass);
      v = env * (0.12 * buzz + 0.5 * *lowpass);
      if (env > 0)
        *voice = TRUE;
    }
    v = CLAMP(v, -1.0, 1.0);
    pcm[i] = (opus_int16)(v * 32767);
  }
}

static guint8
level_dbov(const opus_int16 *pcm, guint samples)
{
  double sum = 0;
  for (guint i = 0; i < samples; i++) {
    double v = pcm[i] / 32768.0;
    sum += v * v;
  }
  double rms = sqrt(sum / samples);
  if (rms <= 0)
    return 127;
  double db = 20 * log10(rms);
  return (guint8)CLAMP((int)lround(-db), 0, 127);
}

LoadClip *
load_clip_new_opus(LoadAudioSource source, gboolean dtx, guint ptime_ms, guint seconds,
                   GError **error)
{
  if (ptime_ms != 10 && ptime_ms != 20 && ptime_ms != 40 && ptime_ms != 60) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "Opus frames of %u ms: expected 10, 20, 40 or 60", ptime_ms);
    return NULL;
  }
  guint samples = OPUS_RATE / 1000 * ptime_ms;
  int err = 0;
  OpusEncoder *enc = opus_encoder_create(OPUS_RATE, 1, OPUS_APPLICATION_VOIP, &err);
  if (enc == NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "opus_encoder_create: %s",
                opus_strerror(err));
    return NULL;
  }
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(32000));
  opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1));
  opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(5));
  opus_encoder_ctl(enc, OPUS_SET_DTX(dtx ? 1 : 0));
  opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(5));

  g_autoptr(LoadClip) clip = g_new0(LoadClip, 1);
  clip->n_frames = MAX(seconds, 1) * 1000 / ptime_ms;
  clip->frames = g_new0(LoadFrame, clip->n_frames);
  clip->frame_interval_us = (gint64)ptime_ms * 1000;
  clip->timestamp_step = samples;
  SpeechState st = {.rng = 0x9e3779b9u, .spurt_end = 0, .talking = FALSE};
  double lowpass = 0;
  opus_int16 pcm[OPUS_MAX_FRAME_SAMPLES];
  guint8 out[OPUS_MAX_PACKET];
  for (guint f = 0; f < clip->n_frames; f++) {
    gboolean voice;
    render_audio(source, &st, (gint64)f * samples, pcm, samples, &lowpass, &voice);
    opus_int32 n = opus_encode(enc, pcm, (int)samples, out, sizeof(out));
    if (n < 0) {
      g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "opus_encode: %s", opus_strerror(n));
      opus_encoder_destroy(enc);
      return NULL;
    }
    LoadFrame *frame = &clip->frames[f];
    frame->data = g_memdup2(out, (gsize)n);
    frame->len = (guint32)n;
    frame->level_dbov = level_dbov(pcm, samples);
    frame->voice = voice;
    clip->total_bytes += (guint64)n;
    if (n <= 2)
      clip->n_silent++;
  }
  opus_encoder_destroy(enc);
  return g_steal_pointer(&clip);
}

/* ---- video ---------------------------------------------------------------------- */

static void
render_video(vpx_image_t *img, guint index, guint32 *rng)
{
  guint w = img->d_w, h = img->d_h;
  /* Diagonal bars drifting right, a box bouncing across, and fresh noise
   * on every frame (a pattern alone compresses to almost nothing, and a
   * load test should carry the bitrate it claims). */
  guint box = MAX(h / 4, 8);
  guint span_x = w > box ? w - box : 1, span_y = h > box ? h - box : 1;
  guint bx = (index * 7) % (2 * span_x), by = (index * 5) % (2 * span_y);
  if (bx >= span_x)
    bx = 2 * span_x - bx;
  if (by >= span_y)
    by = 2 * span_y - by;
  for (guint y = 0; y < h; y++) {
    guint8 *row = img->planes[VPX_PLANE_Y] + (gsize)y * img->stride[VPX_PLANE_Y];
    for (guint x = 0; x < w; x++) {
      guint v = ((x + y + index * 4) / 24) % 2 ? 170 : 80;
      if (x >= bx && x < bx + box && y >= by && y < by + box)
        v = 235;
      v += xorshift(rng) % 24;
      row[x] = (guint8)MIN(v, 255u);
    }
  }
  guint cw = (w + 1) / 2, ch = (h + 1) / 2;
  g_autofree guint8 *line = g_malloc(cw);
  for (guint p = VPX_PLANE_U; p <= VPX_PLANE_V; p++) {
    for (guint x = 0; x < cw; x++)
      line[x] =
          (guint8)(128 + (p == VPX_PLANE_U ? 40 : -40) * sin(2 * G_PI * (x + index) / (double)cw));
    for (guint y = 0; y < ch; y++)
      memcpy(img->planes[p] + (gsize)y * img->stride[p], line, cw);
  }
}

LoadClip *
load_clip_new_vp8(guint width, guint height, guint fps, guint kbps, guint n_frames,
                  guint keyframe_interval, GError **error)
{
  g_return_val_if_fail(width >= 16 && height >= 16 && fps > 0 && n_frames > 0, NULL);
  vpx_codec_iface_t *iface = vpx_codec_vp8_cx();
  vpx_codec_enc_cfg_t cfg;
  if (vpx_codec_enc_config_default(iface, &cfg, 0) != VPX_CODEC_OK) {
    g_set_error_literal(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL,
                        "vpx_codec_enc_config_default failed");
    return NULL;
  }
  cfg.g_w = width;
  cfg.g_h = height;
  cfg.g_timebase.num = 1;
  cfg.g_timebase.den = (int)fps;
  cfg.rc_target_bitrate = kbps;
  cfg.rc_end_usage = VPX_CBR;
  cfg.rc_dropframe_thresh = 0; /* one encoded frame per input: indices stay known */
  cfg.rc_min_quantizer = 4;
  cfg.rc_max_quantizer = 56;
  cfg.rc_buf_sz = 1000;
  cfg.rc_buf_initial_sz = 500;
  cfg.rc_buf_optimal_sz = 600;
  cfg.g_lag_in_frames = 0;
  cfg.g_threads = 1;
  cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
  cfg.kf_mode = VPX_KF_DISABLED; /* keyframes only where we force them */

  vpx_codec_ctx_t codec;
  if (vpx_codec_enc_init(&codec, iface, &cfg, 0) != VPX_CODEC_OK) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "vpx_codec_enc_init: %s",
                vpx_codec_error_detail(&codec) ? vpx_codec_error_detail(&codec)
                                               : vpx_codec_error(&codec));
    return NULL;
  }
  vpx_codec_control(&codec, VP8E_SET_CPUUSED, 12);
  vpx_codec_control(&codec, VP8E_SET_STATIC_THRESHOLD, 1);
  vpx_image_t *img = vpx_img_alloc(NULL, VPX_IMG_FMT_I420, width, height, 16);

  g_autoptr(LoadClip) clip = g_new0(LoadClip, 1);
  clip->frames = g_new0(LoadFrame, n_frames);
  clip->frame_interval_us = G_USEC_PER_SEC / fps;
  clip->timestamp_step = 90000 / fps;
  clip->width = width;
  clip->height = height;
  clip->kbps = kbps;
  clip->keyframe_interval = keyframe_interval;
  guint32 rng = 0x2545f491u ^ (width * 31 + height);
  gboolean ok = TRUE;
  for (guint i = 0; i < n_frames && ok; i++) {
    render_video(img, i, &rng);
    vpx_enc_frame_flags_t flags =
        (keyframe_interval == 0 ? i == 0 : i % keyframe_interval == 0) ? VPX_EFLAG_FORCE_KF : 0;
    if (vpx_codec_encode(&codec, img, i, 1, flags, VPX_DL_REALTIME) != VPX_CODEC_OK) {
      g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "vpx_codec_encode: %s",
                  vpx_codec_error(&codec));
      ok = FALSE;
      break;
    }
    vpx_codec_iter_t iter = NULL;
    const vpx_codec_cx_pkt_t *pkt;
    while ((pkt = vpx_codec_get_cx_data(&codec, &iter)) != NULL) {
      if (pkt->kind != VPX_CODEC_CX_FRAME_PKT || clip->n_frames >= n_frames)
        continue;
      LoadFrame *frame = &clip->frames[clip->n_frames++];
      frame->data = g_memdup2(pkt->data.frame.buf, pkt->data.frame.sz);
      frame->len = (guint32)pkt->data.frame.sz;
      frame->keyframe = (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
      clip->total_bytes += frame->len;
      if (frame->keyframe)
        clip->n_keyframes++;
    }
  }
  vpx_img_free(img);
  vpx_codec_destroy(&codec);
  if (!ok)
    return NULL;
  if (clip->n_frames == 0 || !clip->frames[0].keyframe) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL,
                "libvpx produced %u frames for %u inputs, the first not a keyframe", clip->n_frames,
                n_frames);
    return NULL;
  }
  return g_steal_pointer(&clip);
}
