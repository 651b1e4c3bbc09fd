/* Unit tests of chorus-load's sans-IO parts: receive statistics (loss,
 * jitter, freezes), the packets it builds (read back with Chorus's own
 * parsers) and the encoded clips. */
#include <check.h>
#include <string.h>

#include "core/error.h"
#include "load-janus.h"
#include "load-media.h"
#include "load-rtp.h"
#include "load-stats.h"
#include "rtp/keyframe.h"
#include "rtp/rtcp.h"
#include "rtp/rtp-packet.h"

#define MS 1000

/* ---- statistics ----------------------------------------------------------------- */

START_TEST(test_loss_in_order)
{
  LoadRxStream s;
  load_rx_stream_init(&s, 48000, FALSE);
  for (guint i = 0; i < 100; i++)
    load_rx_stream_handle(&s, (guint16)(1000 + i), i * 960, FALSE, 100, (gint64)i * 20 * MS);
  ck_assert_uint_eq(s.received, 100);
  ck_assert_uint_eq(load_rx_stream_expected(&s), 100);
  ck_assert_uint_eq(load_rx_stream_lost(&s), 0);
  ck_assert_uint_eq(s.bytes, 10000);
}
END_TEST

START_TEST(test_loss_gaps_and_wrap)
{
  LoadRxStream s;
  load_rx_stream_init(&s, 48000, FALSE);
  /* 65530..65535, 0..9 with 65534, 2 and 3 missing: 16 expected, 3 lost. */
  guint16 seq = 65530;
  guint received = 0;
  for (guint i = 0; i < 16; i++, seq++) {
    if (seq == 65534 || seq == 2 || seq == 3)
      continue;
    load_rx_stream_handle(&s, seq, i * 960, FALSE, 50, (gint64)i * 20 * MS);
    received++;
  }
  ck_assert_uint_eq(s.cycles, 65536);
  ck_assert_uint_eq(load_rx_stream_expected(&s), 16);
  ck_assert_uint_eq(load_rx_stream_lost(&s), 3);
  ck_assert_uint_eq(s.received, received);
  /* A late packet fills a hole: loss goes down, the maximum stays. */
  load_rx_stream_handle(&s, 2, 0, FALSE, 50, 400 * MS);
  ck_assert_uint_eq(load_rx_stream_lost(&s), 2);
  ck_assert_uint_eq(s.max_seq, 9);
  /* A duplicate does not make the loss negative. */
  for (guint i = 0; i < 5; i++)
    load_rx_stream_handle(&s, 9, 0, FALSE, 50, 410 * MS);
  ck_assert_uint_eq(load_rx_stream_lost(&s), 0);
}
END_TEST

START_TEST(test_jitter)
{
  LoadRxStream s;
  load_rx_stream_init(&s, 90000, FALSE);
  /* Perfectly paced: no jitter. */
  for (guint i = 0; i < 50; i++)
    load_rx_stream_handle(&s, (guint16)i, i * 3000, FALSE, 10, (gint64)i * 33333 + 1);
  ck_assert(load_rx_stream_jitter_ms(&s) < 0.05);
  /* Every other packet 10 ms late: |D| is 10 ms each time, so the
   * estimate converges to 10 ms. */
  LoadRxStream t;
  load_rx_stream_init(&t, 90000, FALSE);
  for (guint i = 0; i < 400; i++)
    load_rx_stream_handle(&t, (guint16)i, i * 3000, FALSE, 10,
                          (gint64)i * 33333 + (i % 2 ? 10 * MS : 0));
  double j = load_rx_stream_jitter_ms(&t);
  ck_assert_msg(j > 9.5 && j < 10.5, "jitter %.3f ms", j);
  ck_assert(t.jitter_max * 1000.0 / 90000 >= j);
}
END_TEST

START_TEST(test_freezes)
{
  LoadRxStream s;
  load_rx_stream_init(&s, 90000, TRUE);
  gint64 t = 0;
  guint16 seq = 0;
  guint32 ts = 0;
  /* 30 frames of 2 packets at 33 ms, the first a keyframe. */
  for (guint f = 0; f < 30; f++, t += 33 * MS, ts += 3000) {
    load_rx_stream_handle(&s, seq++, ts, f == 0, 1000, t);
    load_rx_stream_handle(&s, seq++, ts, FALSE, 1000, t + 1 * MS);
  }
  ck_assert_uint_eq(s.frames, 30);
  ck_assert_uint_eq(s.keyframes, 1);
  ck_assert_int_eq(s.first_keyframe_us, 0 + 0); /* first keyframe at t = 0 ... */
  ck_assert_uint_eq(s.freezes, 0);
  /* A 600 ms gap: one freeze of 600 ms (from the last frame's arrival). */
  gint64 last_frame = t - 33 * MS;
  t = last_frame + 600 * MS;
  load_rx_stream_handle(&s, seq++, ts, TRUE, 1000, t);
  ck_assert_uint_eq(s.freezes, 1);
  ck_assert_int_eq(s.freeze_us, 600 * MS);
  ck_assert_uint_eq(s.keyframes, 2);
  /* A 400 ms gap is no freeze. */
  ts += 3000;
  t += 400 * MS;
  load_rx_stream_handle(&s, seq++, ts, FALSE, 1000, t);
  ck_assert_uint_eq(s.freezes, 1);
  ck_assert_int_eq(s.max_frame_gap_us, 600 * MS);
  /* A late packet of an older frame is not a new frame. */
  load_rx_stream_handle(&s, (guint16)(seq - 5), ts - 6000, FALSE, 1000, t + MS);
  ck_assert_uint_eq(s.frames, 32);
  /* The end of the run 700 ms after the last frame: a trailing freeze;
   * finishing twice counts it once. */
  load_rx_stream_finish(&s, t + 700 * MS);
  load_rx_stream_finish(&s, t + 900 * MS);
  ck_assert_uint_eq(s.freezes, 2);
  ck_assert_int_eq(s.freeze_us, 1300 * MS);
}
END_TEST

START_TEST(test_first_keyframe_time)
{
  LoadRxStream s;
  load_rx_stream_init(&s, 90000, TRUE);
  load_rx_stream_handle(&s, 1, 3000, FALSE, 10, 5 * MS);
  ck_assert_int_eq(s.first_keyframe_us, 0);
  load_rx_stream_handle(&s, 2, 6000, TRUE, 10, 40 * MS);
  load_rx_stream_handle(&s, 3, 9000, TRUE, 10, 80 * MS);
  ck_assert_int_eq(s.first_keyframe_us, 40 * MS);
  ck_assert_uint_eq(s.keyframes, 2);
}
END_TEST

START_TEST(test_percentile)
{
  double v[] = {5, 1, 4, 2, 3, 10, 9, 8, 7, 6};
  ck_assert(load_percentile(v, 10, 50) == 5);
  ck_assert(load_percentile(v, 10, 95) == 10);
  ck_assert(load_percentile(v, 10, 100) == 10);
  ck_assert(load_percentile(v, 10, 0) == 1);
  ck_assert(load_percentile(v, 0, 50) == 0);
  double one[] = {42};
  ck_assert(load_percentile(one, 1, 95) == 42);
}
END_TEST

/* ---- packets -------------------------------------------------------------------- */

START_TEST(test_rtp_header_roundtrip)
{
  LoadRtpHeader h = {.marker = TRUE,
                     .payload_type = 111,
                     .seq = 65535,
                     .timestamp = 0xdeadbeef,
                     .ssrc = 0x01020304};
  load_rtp_header_add_ext_string(&h, 1, "0");
  load_rtp_header_add_ext_string(&h, 10, "h");
  guint8 ast[3];
  load_rtp_abs_send_time(1500 * MS, ast);
  ck_assert_uint_eq(ast[0], 0x06);
  ck_assert_uint_eq(ast[1], 0x00);
  ck_assert_uint_eq(ast[2], 0x00);
  load_rtp_header_add_ext(&h, 2, ast, 3);
  guint8 lvl = load_rtp_audio_level_byte(30, TRUE);
  ck_assert_uint_eq(lvl, 0x80 | 30);
  load_rtp_header_add_ext(&h, 4, &lvl, 1);
  load_rtp_header_add_ext(&h, 0, &lvl, 1); /* not negotiated: ignored */
  ck_assert_uint_eq(h.n_exts, 4);
  guint8 buf[200];
  gsize n = load_rtp_write_header(&h, buf, sizeof(buf));
  ck_assert_uint_eq(n % 4, 0);
  memcpy(buf + n, "opus", 4);
  ChorusRtpPacket pkt;
  ck_assert_int_eq(chorus_rtp_packet_parse(&pkt, buf, n + 4), CHORUS_RTP_OK);
  ck_assert(pkt.marker);
  ck_assert_uint_eq(pkt.payload_type, 111);
  ck_assert_uint_eq(pkt.seq, 65535);
  ck_assert_uint_eq(pkt.timestamp, 0xdeadbeef);
  ck_assert_uint_eq(pkt.ssrc, 0x01020304);
  ck_assert_uint_eq(pkt.payload_offset, n);
  ck_assert_uint_eq(pkt.payload_len, 4);
  const guint8 *v;
  gsize vlen;
  ck_assert(chorus_rtp_packet_find_extension(&pkt, 1, &v, &vlen));
  ck_assert(vlen == 1 && v[0] == '0');
  ck_assert(chorus_rtp_packet_find_extension(&pkt, 10, &v, &vlen));
  ck_assert(vlen == 1 && v[0] == 'h');
  ck_assert(chorus_rtp_packet_find_extension(&pkt, 2, &v, &vlen));
  ck_assert(vlen == 3 && v[0] == 0x06);
  ck_assert(chorus_rtp_packet_find_extension(&pkt, 4, &v, &vlen));
  ck_assert(vlen == 1 && v[0] == (0x80 | 30));
  ck_assert(!chorus_rtp_packet_find_extension(&pkt, 3, &v, &vlen));
  /* Too small a buffer: nothing written. */
  ck_assert_uint_eq(load_rtp_write_header(&h, buf, 12), 0);
  /* No extensions: a bare 12-byte header without the X bit. */
  LoadRtpHeader bare = {.payload_type = 96, .seq = 7};
  ck_assert_uint_eq(load_rtp_write_header(&bare, buf, sizeof(buf)), 12);
  ck_assert_uint_eq(buf[0], 0x80);
}
END_TEST

START_TEST(test_vp8_packetizer)
{
  guint8 frame[2500];
  for (guint i = 0; i < sizeof(frame); i++)
    frame[i] = (guint8)(i * 7);
  frame[0] = 0x10; /* frame tag with P = 0: a keyframe */
  ck_assert_uint_eq(load_vp8_packetizer_count(sizeof(frame), 1100), 3);
  LoadVp8Packetizer pk;
  load_vp8_packetizer_init(&pk, frame, sizeof(frame), 0x7fff, 1100);
  guint8 out[1500], joined[3000];
  gsize total = 0, n;
  gboolean last;
  guint packets = 0;
  while (load_vp8_packetizer_next(&pk, out, sizeof(out), &n, &last)) {
    ck_assert_uint_le(n, 1100);
    ck_assert_uint_eq(out[0] & 0x80, 0x80);                     /* X */
    ck_assert_uint_eq(out[0] & 0x10, packets == 0 ? 0x10 : 0);  /* S on the first only */
    ck_assert_uint_eq(out[1], 0x80);                            /* I */
    ck_assert_uint_eq(((out[2] & 0x7f) << 8) | out[3], 0x7fff); /* 15-bit picture id */
    gboolean key = chorus_rtp_is_keyframe_start(CHORUS_RTP_CODEC_VP8, out, n);
    ck_assert(key == (packets == 0));
    memcpy(joined + total, out + 4, n - 4);
    total += n - 4;
    packets++;
    ck_assert(last == (packets == 3));
  }
  ck_assert_uint_eq(packets, 3);
  ck_assert_uint_eq(total, sizeof(frame));
  ck_assert_int_eq(memcmp(joined, frame, sizeof(frame)), 0);
  /* A delta frame (P = 1) is no keyframe. */
  frame[0] = 0x11;
  load_vp8_packetizer_init(&pk, frame, 300, 5, 1100);
  ck_assert(load_vp8_packetizer_next(&pk, out, sizeof(out), &n, &last));
  ck_assert(last);
  ck_assert_uint_eq(n, 304);
  ck_assert(!chorus_rtp_is_keyframe_start(CHORUS_RTP_CODEC_VP8, out, n));
  ck_assert(!load_vp8_packetizer_next(&pk, out, sizeof(out), &n, &last));
}
END_TEST

START_TEST(test_sender_report)
{
  guint64 ntp = load_rtcp_ntp_from_unix_us(G_USEC_PER_SEC / 2);
  ck_assert_uint_eq(ntp >> 32, 2208988800u);
  ck_assert_uint_eq((guint32)ntp, 0x80000000u);
  guint8 buf[200];
  gsize n = load_rtcp_write_sr(buf, sizeof(buf), 0xabcdef01, ntp, 12345, 10, 2000, "viewer-0001");
  ck_assert_uint_gt(n, 0);
  ck_assert_uint_eq(n % 4, 0);
  ChorusRtcpIter it;
  ChorusRtcpPacket pkt;
  gboolean malformed = FALSE;
  ck_assert(chorus_rtcp_iter_init(&it, buf, n));
  ck_assert(chorus_rtcp_iter_next(&it, &pkt, &malformed));
  ck_assert_uint_eq(pkt.type, CHORUS_RTCP_SR);
  ck_assert_uint_eq(pkt.len, 28);
  ck_assert_uint_eq(pkt.sender_ssrc, 0xabcdef01);
  ck_assert_uint_eq(chorus_rtp_read32(pkt.data + 16), 12345);
  ck_assert_uint_eq(chorus_rtp_read32(pkt.data + 20), 10);
  ck_assert_uint_eq(chorus_rtp_read32(pkt.data + 24), 2000);
  ck_assert(chorus_rtcp_iter_next(&it, &pkt, &malformed));
  ck_assert_uint_eq(pkt.type, CHORUS_RTCP_SDES);
  ck_assert_uint_eq(pkt.data[8], 1); /* CNAME */
  ck_assert_uint_eq(pkt.data[9], strlen("viewer-0001"));
  ck_assert_int_eq(memcmp(pkt.data + 10, "viewer-0001", 11), 0);
  ck_assert(!chorus_rtcp_iter_next(&it, &pkt, &malformed));
  ck_assert(!malformed);
  ck_assert_uint_eq(load_rtcp_write_sr(buf, 40, 1, ntp, 0, 0, 0, "x"), 40); /* 28 + 4 + 8 */
  ck_assert_uint_eq(load_rtcp_write_sr(buf, 39, 1, ntp, 0, 0, 0, "x"), 0);
  ck_assert_uint_eq(load_rtcp_write_sr(buf, sizeof(buf), 1, ntp, 0, 0, 0, ""), 0);
}
END_TEST

/* ---- clips ---------------------------------------------------------------------- */

START_TEST(test_vp8_clip_keyframes)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LoadClip) clip = load_clip_new_vp8(64, 48, 30, 200, 12, 5, &error);
  ck_assert_msg(clip != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq(clip->n_frames, 12);
  for (guint i = 0; i < clip->n_frames; i++) {
    ck_assert_msg(clip->frames[i].keyframe == (i % 5 == 0), "frame %u", i);
    ck_assert_uint_gt(clip->frames[i].len, 0);
    /* The frame tag's P bit agrees with libvpx's flag. */
    ck_assert_uint_eq(clip->frames[i].data[0] & 1, clip->frames[i].keyframe ? 0 : 1);
  }
  ck_assert_uint_eq(clip->n_keyframes, 3);
  ck_assert_uint_eq(load_clip_next_keyframe(clip, 0), 0);
  ck_assert_uint_eq(load_clip_next_keyframe(clip, 1), 5);
  ck_assert_uint_eq(load_clip_next_keyframe(clip, 6), 10);
  ck_assert_uint_eq(load_clip_next_keyframe(clip, 11), 0); /* wraps */
  ck_assert_uint_eq(clip->timestamp_step, 3000);
}
END_TEST

START_TEST(test_opus_clip)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LoadClip) plain = load_clip_new_opus(LOAD_AUDIO_SPEECH, FALSE, 20, 4, &error);
  ck_assert(plain != NULL);
  ck_assert_uint_eq(plain->n_frames, 200);
  ck_assert_uint_eq(plain->timestamp_step, 960);
  ck_assert_uint_eq(plain->n_silent, 0);
  guint voiced = 0, quiet = 0;
  for (guint i = 0; i < plain->n_frames; i++) {
    voiced += plain->frames[i].voice;
    quiet += plain->frames[i].level_dbov == 127;
  }
  /* Talk spurts and pauses both happen within 4 s. */
  ck_assert_uint_gt(voiced, 50);
  ck_assert_uint_gt(quiet, 10);
  g_autoptr(LoadClip) dtx = load_clip_new_opus(LOAD_AUDIO_SPEECH, TRUE, 20, 4, &error);
  ck_assert(dtx != NULL);
  ck_assert_uint_gt(dtx->n_silent, 5);
  ck_assert_uint_lt(dtx->total_bytes, plain->total_bytes);
  g_autoptr(LoadClip) tone = load_clip_new_opus(LOAD_AUDIO_TONE, TRUE, 20, 1, &error);
  ck_assert(tone != NULL);
  ck_assert_uint_eq(tone->n_silent, 0);
  /* A 0.3 sine is -13.5 dBov (RMS 0.3/sqrt 2). */
  ck_assert_uint_ge(tone->frames[10].level_dbov, 13);
  ck_assert_uint_le(tone->frames[10].level_dbov, 14);
  g_autoptr(LoadClip) long_frames = load_clip_new_opus(LOAD_AUDIO_TONE, FALSE, 60, 3, &error);
  ck_assert(long_frames != NULL);
  ck_assert_uint_eq(long_frames->n_frames, 50);
  ck_assert_uint_eq(long_frames->timestamp_step, 2880);
  ck_assert_int_eq(long_frames->frame_interval_us, 60000);
  g_clear_error(&error);
  ck_assert(load_clip_new_opus(LOAD_AUDIO_TONE, FALSE, 30, 1, &error) == NULL);
  ck_assert(error != NULL);
}
END_TEST

/* ---- the Janus adapter's messages ------------------------------------------------- */

START_TEST(test_janus_room_id)
{
  /* FNV-1a of the name, folded to 1..2^30: the same in every process. */
  ck_assert_uint_eq(load_janus_room_id(""), 18652614);
  ck_assert_uint_eq(load_janus_room_id("a"), 604776749);
  ck_assert_uint_eq(load_janus_room_id("chorus-load-00000001"), 60847195);
  ck_assert_uint_ne(load_janus_room_id("chorus-load-00000002"),
                    load_janus_room_id("chorus-load-00000001"));
}
END_TEST

START_TEST(test_janus_requests)
{
  json_t *msg = load_janus_request_new("create", "t1", 0, 0);
  ck_assert_str_eq(json_string_value(json_object_get(msg, "janus")), "create");
  ck_assert_str_eq(json_string_value(json_object_get(msg, "transaction")), "t1");
  ck_assert_ptr_null(json_object_get(msg, "session_id"));
  ck_assert_ptr_null(json_object_get(msg, "handle_id"));
  json_decref(msg);
  /* Janus ids go beyond 32 bits. */
  msg = load_janus_request_new("message", "t2", 4262276506258123ULL, 7568903475486312ULL);
  ck_assert_int_eq(json_integer_value(json_object_get(msg, "session_id")), 4262276506258123LL);
  ck_assert_int_eq(json_integer_value(json_object_get(msg, "handle_id")), 7568903475486312LL);
  json_decref(msg);

  json_t *cand =
      load_janus_trickle_candidate("candidate:1 1 UDP 2015363327 198.18.0.1 5000 typ host", "1");
  ck_assert_str_eq(json_string_value(json_object_get(cand, "candidate")),
                   "candidate:1 1 UDP 2015363327 198.18.0.1 5000 typ host");
  ck_assert_str_eq(json_string_value(json_object_get(cand, "sdpMid")), "1");
  ck_assert_int_eq(json_integer_value(json_object_get(cand, "sdpMLineIndex")), 0);
  ck_assert_ptr_null(json_object_get(cand, "completed"));
  json_decref(cand);
  cand = load_janus_trickle_candidate(NULL, "0");
  ck_assert(json_is_true(json_object_get(cand, "completed")));
  ck_assert_ptr_null(json_object_get(cand, "candidate"));
  json_decref(cand);

  json_t *params =
      json_pack("{s:s, s:s, s:{s:i}}", "room", "a", "kind", "live", "options", "max_publishers", 3);
  json_t *body = load_janus_room_create_body(params);
  ck_assert_str_eq(json_string_value(json_object_get(body, "request")), "create");
  ck_assert_int_eq(json_integer_value(json_object_get(body, "room")), 604776749);
  ck_assert_int_eq(json_integer_value(json_object_get(body, "publishers")), 3);
  ck_assert_str_eq(json_string_value(json_object_get(body, "videocodec")), "vp8");
  json_decref(body);
  json_decref(params);
  params = json_pack("{s:s, s:s, s:{s:i}}", "room", "a", "kind", "voice", "options", "seats", 7);
  body = load_janus_room_create_body(params);
  ck_assert_int_eq(json_integer_value(json_object_get(body, "publishers")), 7);
  json_decref(body);
  json_decref(params);
}
END_TEST

START_TEST(test_janus_errors)
{
  json_t *msg = json_loads("{\"janus\":\"error\",\"transaction\":\"t5\",\"error\":"
                           "{\"code\":458,\"reason\":\"No such session 42\"}}",
                           0, NULL);
  GError *error = load_janus_error_from_message(msg);
  ck_assert_ptr_nonnull(error);
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_NOT_FOUND));
  ck_assert_str_eq(error->message, "Janus error 458: No such session 42");
  g_clear_error(&error);
  json_decref(msg);

  msg = json_loads("{\"janus\":\"success\",\"plugindata\":{\"plugin\":\"janus.plugin."
                   "videoroom\",\"data\":{\"videoroom\":\"event\",\"error_code\":427,"
                   "\"error\":\"Room 42 already exists\"}}}",
                   0, NULL);
  error = load_janus_error_from_message(msg);
  ck_assert_ptr_nonnull(error);
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_CONFLICT));
  ck_assert_str_eq(error->message, "Janus VideoRoom error 427: Room 42 already exists");
  g_clear_error(&error);
  json_decref(msg);

  msg = json_loads("{\"janus\":\"event\",\"plugindata\":{\"plugin\":\"janus.plugin."
                   "videoroom\",\"data\":{\"videoroom\":\"joined\",\"id\":7}}}",
                   0, NULL);
  ck_assert_ptr_null(load_janus_error_from_message(msg));
  json_decref(msg);

  ck_assert_int_eq(load_janus_error_code_to_chorus(426), CHORUS_ERROR_NOT_FOUND);
  ck_assert_int_eq(load_janus_error_code_to_chorus(432), CHORUS_ERROR_ROOM_FULL);
  ck_assert_int_eq(load_janus_error_code_to_chorus(437), CHORUS_ERROR_NEGOTIATION_FAILED);
  ck_assert_int_eq(load_janus_error_code_to_chorus(499), CHORUS_ERROR_INTERNAL);
}
END_TEST

static Suite *
load_suite(void)
{
  Suite *s = suite_create("chorus-load");
  TCase *stats = tcase_create("stats");
  tcase_add_test(stats, test_loss_in_order);
  tcase_add_test(stats, test_loss_gaps_and_wrap);
  tcase_add_test(stats, test_jitter);
  tcase_add_test(stats, test_freezes);
  tcase_add_test(stats, test_first_keyframe_time);
  tcase_add_test(stats, test_percentile);
  suite_add_tcase(s, stats);
  TCase *packets = tcase_create("packets");
  tcase_add_test(packets, test_rtp_header_roundtrip);
  tcase_add_test(packets, test_vp8_packetizer);
  tcase_add_test(packets, test_sender_report);
  suite_add_tcase(s, packets);
  TCase *clips = tcase_create("clips");
  tcase_add_test(clips, test_vp8_clip_keyframes);
  tcase_add_test(clips, test_opus_clip);
  suite_add_tcase(s, clips);
  TCase *janus = tcase_create("janus");
  tcase_add_test(janus, test_janus_room_id);
  tcase_add_test(janus, test_janus_requests);
  tcase_add_test(janus, test_janus_errors);
  suite_add_tcase(s, janus);
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(load_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
