/* SDP module: parser, writer, publisher answers and subscriber offers.
 *
 * Most tests run on real SDP captured from Chromium and aiortc
 * (tests/unit/data/sdp/, see tests/interop/capture_offers/). The subscriber
 * sequences replay offers Chorus generated against the answers the real
 * clients gave to exactly those offers.
 *
 * With CHORUS_SDP_DUMP_DIR=DIR set, the binary writes the subscriber offer
 * sequences (chorus-sub-SEQ-N.sdp) into DIR instead of running the tests,
 * for capture.sh to replay in the clients. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "webrtc/sdp.h"

#include "sdp-test-util.h"

/* ---- parsing the real offers ----------------------------------------------------- */

START_TEST(test_parse_chromium_av)
{
  g_autofree char *text = load_fixture("chromium-av-sendonly.sdp");
  g_autoptr(ChorusSdpSession) session = parse_ok(text);
  g_autofree char *ufrag = first_value(text, "a=ice-ufrag:");
  g_autofree char *pwd = first_value(text, "a=ice-pwd:");

  ck_assert_uint_eq(session->media->len, 2);
  ck_assert_ptr_nonnull(session->bundle);
  ck_assert_str_eq(session->bundle[0], "0");
  ck_assert_str_eq(session->bundle[1], "1");
  ck_assert_ptr_null(session->bundle[2]);
  ck_assert(session->extmap_allow_mixed);
  ck_assert(!session->ice_lite);

  const ChorusSdpMedia *audio = media_at(session, 0);
  ck_assert_int_eq(audio->kind, CHORUS_SDP_KIND_AUDIO);
  ck_assert_str_eq(audio->mid, "0");
  ck_assert_str_eq(audio->proto, "UDP/TLS/RTP/SAVPF");
  ck_assert_int_eq(audio->direction, CHORUS_SDP_DIRECTION_SENDONLY);
  ck_assert(audio->rtcp_mux && audio->rtcp_rsize && audio->ice_trickle && audio->has_fingerprint);
  ck_assert_int_eq(audio->setup, CHORUS_SDP_SETUP_ACTPASS);
  ck_assert_str_eq(audio->ice_ufrag, ufrag);
  ck_assert_str_eq(audio->ice_pwd, pwd);
  ck_assert_uint_eq(audio->candidates->len, count_lines(text, "a=candidate:"));
  ck_assert_uint_eq(audio->payloads->len, 8);
  const ChorusSdpPayload *opus = chorus_sdp_media_find_payload(audio, 111);
  ck_assert_int_eq(opus->id, CHORUS_SDP_CODEC_OPUS);
  ck_assert_uint_eq(opus->clock_rate, 48000);
  ck_assert_uint_eq(opus->channels, 2);
  ck_assert_str_eq(opus->fmtp, "minptime=10;useinbandfec=1");
  ck_assert_uint_eq(opus->feedback, CHORUS_SDP_FB_TRANSPORT_CC);
  const ChorusSdpPayload *red = chorus_sdp_media_find_payload(audio, 63);
  ck_assert_int_eq(red->id, CHORUS_SDP_CODEC_RED);
  ck_assert_str_eq(red->fmtp, "111/111");
  ck_assert_int_eq(chorus_sdp_media_find_payload(audio, 9)->id,
                   CHORUS_SDP_CODEC_UNKNOWN); /* G722 */
  ck_assert_uint_eq(chorus_sdp_media_find_extmap(audio, CHORUS_SDP_EXT_AUDIO_LEVEL)->id, 1);
  ck_assert_uint_eq(chorus_sdp_media_find_extmap(audio, CHORUS_SDP_EXT_MID)->id, 4);
  ck_assert_uint_eq(audio->ssrcs->len, 1);
  const ChorusSdpSsrc *ssrc = g_ptr_array_index(audio->ssrcs, 0);
  ck_assert_ptr_nonnull(ssrc->cname);
  ck_assert_str_eq(ssrc->msid_stream, audio->msid_stream);

  const ChorusSdpMedia *video = media_at(session, 1);
  ck_assert_int_eq(video->kind, CHORUS_SDP_KIND_VIDEO);
  ck_assert_uint_eq(video->payloads->len, 23);
  const ChorusSdpPayload *vp8 = g_ptr_array_index(video->payloads, 0);
  ck_assert_uint_eq(vp8->pt, 96);
  ck_assert_int_eq(vp8->id, CHORUS_SDP_CODEC_VP8);
  ck_assert_uint_eq(vp8->feedback, CHORUS_SDP_FB_ALL);
  const ChorusSdpPayload *rtx = chorus_sdp_media_find_payload(video, 97);
  ck_assert_int_eq(rtx->id, CHORUS_SDP_CODEC_RTX);
  g_autofree char *apt = chorus_sdp_payload_get_fmtp_param(rtx, "apt");
  ck_assert_str_eq(apt, "96");
  ck_assert_int_eq(chorus_sdp_media_find_payload(video, 45)->id, CHORUS_SDP_CODEC_AV1);
  ck_assert_int_eq(chorus_sdp_media_find_payload(video, 98)->id, CHORUS_SDP_CODEC_VP9);
  ck_assert_int_eq(chorus_sdp_media_find_payload(video, 102)->id, CHORUS_SDP_CODEC_H264);
  ck_assert_uint_eq(chorus_sdp_media_find_extmap(video, CHORUS_SDP_EXT_RID)->id, 10);
  ck_assert_ptr_null(chorus_sdp_media_find_extmap(video, CHORUS_SDP_EXT_AUDIO_LEVEL));
  /* bundled m-lines share the transport */
  ck_assert_mem_eq(video->fingerprint_sha256, audio->fingerprint_sha256, 32);
  ck_assert_uint_eq(video->candidates->len, 0);
  ck_assert_uint_eq(video->ssrcs->len, 2);
  ck_assert_uint_eq(video->ssrc_groups->len, 1);
  const ChorusSdpSsrcGroup *fid = g_ptr_array_index(video->ssrc_groups, 0);
  ck_assert_str_eq(fid->semantics, "FID");
  ck_assert_uint_eq(fid->ssrcs->len, 2);

  /* the fingerprint bytes are the ones in the text */
  g_autofree char *fp_line = first_value(text, "a=fingerprint:sha-256 ");
  guint first_byte = (guint)strtoul(fp_line, NULL, 16);
  ck_assert_uint_eq(audio->fingerprint_sha256[0], first_byte);
}
END_TEST

START_TEST(test_parse_chromium_simulcast)
{
  g_autofree char *text = load_fixture("chromium-simulcast.sdp");
  g_autoptr(ChorusSdpSession) session = parse_ok(text);
  const ChorusSdpMedia *video = media_at(session, 1);
  ck_assert_uint_eq(video->rids->len, 3);
  ck_assert_uint_eq(video->simulcast->len, 3);
  ck_assert_int_eq(video->simulcast_direction, CHORUS_SDP_DIRECTION_SENDONLY);
  const char *expected[] = {"q", "h", "f"};
  for (guint i = 0; i < 3; i++) {
    const ChorusSdpRid *rid = g_ptr_array_index(video->rids, i);
    const ChorusSdpSimulcastLayer *layer = g_ptr_array_index(video->simulcast, i);
    ck_assert_str_eq(rid->id, expected[i]);
    ck_assert_int_eq(rid->direction, CHORUS_SDP_DIRECTION_SENDONLY);
    ck_assert_str_eq(layer->rid, expected[i]);
    ck_assert(!layer->paused);
  }
  /* rid-based simulcast comes without SSRCs */
  ck_assert_uint_eq(video->ssrcs->len, 0);
}
END_TEST

START_TEST(test_parse_aiortc_av)
{
  g_autofree char *text = load_fixture("aiortc-av-sendonly.sdp");
  g_autoptr(ChorusSdpSession) session = parse_ok(text);
  ck_assert_uint_eq(session->media->len, 2);
  const ChorusSdpMedia *audio = media_at(session, 0);
  const ChorusSdpMedia *video = media_at(session, 1);
  /* aiortc gives each m-line its own credentials and candidates ... */
  ck_assert_str_ne(audio->ice_ufrag, video->ice_ufrag);
  ck_assert_uint_eq(audio->candidates->len, 1);
  ck_assert_uint_eq(video->candidates->len, 1);
  ck_assert(audio->end_of_candidates && video->end_of_candidates);
  ck_assert(!audio->ice_trickle);
  /* ... and id 2 to two different extensions (INTEROP.md) */
  ck_assert_uint_eq(chorus_sdp_media_find_extmap(audio, CHORUS_SDP_EXT_AUDIO_LEVEL)->id, 2);
  ck_assert_uint_eq(chorus_sdp_media_find_extmap(video, CHORUS_SDP_EXT_ABS_SEND_TIME)->id, 2);
  ck_assert_int_eq(chorus_sdp_media_find_payload(audio, 96)->id, CHORUS_SDP_CODEC_OPUS);
  ck_assert_int_eq(chorus_sdp_media_find_payload(video, 97)->id, CHORUS_SDP_CODEC_VP8);
  ck_assert_ptr_nonnull(audio->msid_stream);
}
END_TEST

START_TEST(test_write_parse_idempotent)
{
  const char *fixtures[] = {"chromium-av-sendonly.sdp", "chromium-simulcast.sdp",
                            "chromium-audio-only.sdp", "chromium-av-datachannel.sdp",
                            "aiortc-av-sendonly.sdp"};
  for (guint f = 0; f < G_N_ELEMENTS(fixtures); f++) {
    g_autofree char *text = load_fixture(fixtures[f]);
    g_autoptr(ChorusSdpSession) first = parse_ok(text);
    g_autofree char *written = chorus_sdp_session_write(first);
    g_autoptr(ChorusSdpSession) second = parse_ok(written);
    g_autofree char *rewritten = chorus_sdp_session_write(second);
    ck_assert_str_eq(written, rewritten);
    ck_assert_uint_eq(second->media->len, first->media->len);
    for (guint i = 0; i < first->media->len; i++) {
      const ChorusSdpMedia *a = media_at(first, i), *b = media_at(second, i);
      ck_assert_uint_eq(a->payloads->len, b->payloads->len);
      ck_assert_uint_eq(a->extmaps->len, b->extmaps->len);
      ck_assert_uint_eq(a->ssrcs->len, b->ssrcs->len);
      ck_assert_uint_eq(a->candidates->len, b->candidates->len);
      ck_assert_uint_eq(a->simulcast->len, b->simulcast->len);
    }
  }
}
END_TEST

/* ---- publisher answers ------------------------------------------------------------- */

START_TEST(test_answer_chromium_av)
{
  g_autofree char *text = load_fixture("chromium-av-sendonly.sdp");
  g_autoptr(ChorusSdpNegotiation) n = answer_ok(text, NULL);
  ck_assert_uint_eq(chorus_sdp_negotiation_count_accepted(n), 2);

  const ChorusSdpMediaResult *audio = result_at(n, 0);
  ck_assert(audio->accepted);
  ck_assert_str_eq(audio->mid, "0");
  ck_assert_int_eq(audio->direction, CHORUS_SDP_DIRECTION_RECVONLY);
  ck_assert_str_eq(audio->codec->name, "opus");
  ck_assert_uint_eq(audio->codec->pt, 111);
  ck_assert_uint_eq(audio->codec->clock_rate, 48000);
  ck_assert_uint_eq(audio->codec->channels, 2);
  ck_assert_str_eq(audio->codec->fmtp, "minptime=10;useinbandfec=1");
  ck_assert_uint_eq(audio->codec->feedback, CHORUS_SDP_FB_TRANSPORT_CC);
  ck_assert_int_eq(audio->red_pt, 63);
  ck_assert_int_eq(audio->rtx_pt, -1);
  ck_assert_uint_eq(audio->ext_ids[CHORUS_SDP_EXT_AUDIO_LEVEL], 1);
  ck_assert_uint_eq(audio->ext_ids[CHORUS_SDP_EXT_ABS_SEND_TIME], 2);
  ck_assert_uint_eq(audio->ext_ids[CHORUS_SDP_EXT_TRANSPORT_CC], 3);
  ck_assert_uint_eq(audio->ext_ids[CHORUS_SDP_EXT_MID], 4);
  ck_assert_uint_eq(audio->ext_ids[CHORUS_SDP_EXT_RID], 0);
  ck_assert(audio->rtcp_rsize);
  ck_assert_uint_eq(audio->ssrcs->len, 1);
  g_autofree char *audio_ssrc = first_value(text, "a=ssrc:");
  ck_assert_uint_eq(g_array_index(audio->ssrcs, guint32, 0),
                    (guint32)strtoul(audio_ssrc, NULL, 10));
  g_autofree char *msid = first_value(text, "a=msid:");
  ck_assert(g_str_has_prefix(msid, audio->msid_stream));

  const ChorusSdpMediaResult *video = result_at(n, 1);
  ck_assert(video->accepted);
  ck_assert_str_eq(video->codec->name, "VP8");
  ck_assert_uint_eq(video->codec->pt, 96);
  ck_assert_uint_eq(video->codec->feedback, CHORUS_SDP_FB_ALL);
  ck_assert_int_eq(video->rtx_pt, 97);
  ck_assert_int_eq(video->red_pt, -1);
  ck_assert_uint_eq(video->ext_ids[CHORUS_SDP_EXT_MID], 4);
  ck_assert_uint_eq(video->ext_ids[CHORUS_SDP_EXT_RID], 10);
  ck_assert_uint_eq(video->ext_ids[CHORUS_SDP_EXT_REPAIRED_RID], 11);
  ck_assert_uint_eq(video->ext_ids[CHORUS_SDP_EXT_VIDEO_ORIENTATION], 13);
  ck_assert_uint_eq(video->ext_ids[CHORUS_SDP_EXT_AUDIO_LEVEL], 0);
  g_autofree char *fid = first_value(text, "a=ssrc-group:FID ");
  g_auto(GStrv) fid_ssrcs = g_strsplit(fid, " ", -1);
  ck_assert_uint_eq(video->ssrcs->len, 1);
  ck_assert_uint_eq(g_array_index(video->ssrcs, guint32, 0),
                    (guint32)strtoul(fid_ssrcs[0], NULL, 10));
  ck_assert_uint_eq(g_array_index(video->rtx_ssrcs, guint32, 0),
                    (guint32)strtoul(fid_ssrcs[1], NULL, 10));

  /* the client's transport */
  g_autofree char *ufrag = first_value(text, "a=ice-ufrag:");
  ck_assert_str_eq(n->transport.ice_ufrag, ufrag);
  ck_assert_str_eq(n->transport.mid, "0");
  ck_assert(n->transport.dtls_server);
  ck_assert_int_eq(n->transport.setup, CHORUS_SDP_SETUP_ACTPASS);
  ck_assert_uint_eq(g_strv_length(n->transport.candidates), count_lines(text, "a=candidate:"));
  ck_assert(n->extmap_allow_mixed);

  /* what Chorus wrote */
  g_autoptr(ChorusSdpSession) answer = parse_ok(n->sdp);
  ck_assert_str_eq(answer->bundle[0], "0");
  ck_assert_str_eq(answer->bundle[1], "1");
  ck_assert_uint_eq(answer->session_id, 4242);
  const ChorusSdpMedia *a0 = media_at(answer, 0), *a1 = media_at(answer, 1);
  ck_assert_int_eq(a0->direction, CHORUS_SDP_DIRECTION_RECVONLY);
  ck_assert_int_eq(a0->setup, CHORUS_SDP_SETUP_PASSIVE);
  ck_assert_str_eq(a0->ice_ufrag, "ChSv");
  ck_assert(a0->rtcp_mux && a0->rtcp_rsize);
  ck_assert_uint_eq(a0->payloads->len, 2);
  /* RED first: Chromium sends the first codec of the answer */
  ck_assert_uint_eq(((ChorusSdpPayload *)g_ptr_array_index(a0->payloads, 0))->pt, 63);
  ck_assert_uint_eq(((ChorusSdpPayload *)g_ptr_array_index(a0->payloads, 1))->pt, 111);
  ck_assert_uint_eq(a0->candidates->len, 2);
  ck_assert(a0->end_of_candidates);
  ck_assert_uint_eq(a1->candidates->len, 0); /* only in the BUNDLE tag */
  ck_assert_uint_eq(a1->payloads->len, 2);
  ck_assert_uint_eq(a1->extmaps->len, 6); /* of 11 offered */
  ck_assert_ptr_null(a1->msid_stream);
  ck_assert_uint_eq(count_lines(n->sdp, "a=ice-lite"), 0);
  ck_assert_uint_eq(count_lines(n->sdp, "a=ssrc"), 0);
}
END_TEST

START_TEST(test_answer_chromium_simulcast)
{
  g_autofree char *text = load_fixture("chromium-simulcast.sdp");
  g_autoptr(ChorusSdpNegotiation) n = answer_ok(text, NULL);
  const ChorusSdpMediaResult *video = result_at(n, 1);
  ck_assert(video->accepted);
  ck_assert_uint_eq(video->rids->len, 3);
  ck_assert_str_eq(((ChorusSdpSimulcastLayer *)g_ptr_array_index(video->rids, 0))->rid, "q");
  ck_assert_str_eq(((ChorusSdpSimulcastLayer *)g_ptr_array_index(video->rids, 2))->rid, "f");
  ck_assert_uint_eq(video->ext_ids[CHORUS_SDP_EXT_RID], 10);
  ck_assert_uint_eq(video->ssrcs->len, 0);
  ck_assert_uint_eq(result_at(n, 0)->rids->len, 0);

  g_autoptr(ChorusSdpSession) answer = parse_ok(n->sdp);
  const ChorusSdpMedia *a1 = media_at(answer, 1);
  ck_assert_int_eq(a1->simulcast_direction, CHORUS_SDP_DIRECTION_RECVONLY);
  ck_assert_uint_eq(a1->simulcast->len, 3);
  ck_assert_uint_eq(a1->rids->len, 3);
  ck_assert_int_eq(((ChorusSdpRid *)g_ptr_array_index(a1->rids, 1))->direction,
                   CHORUS_SDP_DIRECTION_RECVONLY);
  g_autofree char *simulcast = first_value(n->sdp, "a=simulcast:");
  ck_assert_str_eq(simulcast, "recv q;h;f");
  ck_assert_uint_eq(count_lines(n->sdp, "a=rid:"), 3);
}
END_TEST

START_TEST(test_answer_chromium_audio_only)
{
  g_autofree char *text = load_fixture("chromium-audio-only.sdp");
  g_autoptr(ChorusSdpNegotiation) n = answer_ok(text, NULL);
  ck_assert_uint_eq(n->media->len, 1);
  ck_assert(result_at(n, 0)->accepted);
  ck_assert_str_eq(result_at(n, 0)->codec->name, "opus");

  /* Without RED the answer keeps Opus alone. */
  ChorusSdpAnswerOptions options = {.no_red = TRUE};
  g_autoptr(ChorusSdpNegotiation) plain = answer_ok(text, &options);
  ck_assert_int_eq(result_at(plain, 0)->red_pt, -1);
  ck_assert_uint_eq(count_lines(plain->sdp, "a=rtpmap:"), 1);
  /* A codec mask without RED means no RED either. */
  ChorusSdpAnswerOptions mask = {.codecs = 1u << CHORUS_SDP_CODEC_OPUS};
  g_autoptr(ChorusSdpNegotiation) masked = answer_ok(text, &mask);
  ck_assert_int_eq(result_at(masked, 0)->red_pt, -1);
  mask.codecs |= 1u << CHORUS_SDP_CODEC_RED;
  g_autoptr(ChorusSdpNegotiation) with_red = answer_ok(text, &mask);
  ck_assert_int_eq(result_at(with_red, 0)->red_pt, 63);
}
END_TEST

START_TEST(test_answer_rejects_datachannel)
{
  g_autofree char *text = load_fixture("chromium-av-datachannel.sdp");
  g_autoptr(ChorusSdpNegotiation) n = answer_ok(text, NULL);
  ck_assert_uint_eq(n->media->len, 3);
  ck_assert_uint_eq(chorus_sdp_negotiation_count_accepted(n), 2);
  const ChorusSdpMediaResult *data = result_at(n, 2);
  ck_assert(!data->accepted);
  ck_assert_str_eq(data->mid, "2");
  ck_assert_int_eq(data->kind, CHORUS_SDP_KIND_APPLICATION);
  ck_assert_str_eq(data->reject_reason, "unsupported media 'application'");
  ck_assert_ptr_null(data->codec);

  g_autoptr(ChorusSdpSession) answer = parse_ok(n->sdp);
  const ChorusSdpMedia *a2 = media_at(answer, 2);
  ck_assert_uint_eq(a2->port, 0);
  ck_assert_str_eq(a2->mid, "2");
  ck_assert_ptr_null(answer->bundle[2]); /* left out of BUNDLE */
  g_autofree char *section = media_section(n->sdp, 2);
  ck_assert_str_eq(
      section,
      "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\n");
}
END_TEST

START_TEST(test_answer_aiortc_extension_ids_per_mline)
{
  g_autofree char *text = load_fixture("aiortc-av-sendonly.sdp");
  g_autoptr(ChorusSdpNegotiation) n = answer_ok(text, NULL);
  const ChorusSdpMediaResult *audio = result_at(n, 0), *video = result_at(n, 1);
  /* id 2 is audio-level in the audio m-line and abs-send-time in video */
  ck_assert_uint_eq(audio->ext_ids[CHORUS_SDP_EXT_AUDIO_LEVEL], 2);
  ck_assert_uint_eq(audio->ext_ids[CHORUS_SDP_EXT_ABS_SEND_TIME], 0);
  ck_assert_uint_eq(video->ext_ids[CHORUS_SDP_EXT_ABS_SEND_TIME], 2);
  ck_assert_uint_eq(video->ext_ids[CHORUS_SDP_EXT_AUDIO_LEVEL], 0);
  ck_assert_uint_eq(audio->ext_ids[CHORUS_SDP_EXT_MID], 1);
  ck_assert_uint_eq(video->ext_ids[CHORUS_SDP_EXT_MID], 1);

  ck_assert_uint_eq(audio->codec->pt, 96);
  ck_assert_int_eq(audio->red_pt, -1);
  ck_assert_uint_eq(video->codec->pt, 97);
  ck_assert_int_eq(video->rtx_pt, 98);
  ck_assert_uint_eq(video->codec->feedback,
                    CHORUS_SDP_FB_NACK | CHORUS_SDP_FB_NACK_PLI | CHORUS_SDP_FB_GOOG_REMB);

  /* The transport is the audio m-line's (the BUNDLE tag), not the video's. */
  g_autoptr(ChorusSdpSession) offer = parse_ok(text);
  ck_assert_str_eq(n->transport.ice_ufrag, media_at(offer, 0)->ice_ufrag);
  ck_assert_str_eq(n->transport.ice_pwd, media_at(offer, 0)->ice_pwd);
  ck_assert_uint_eq(g_strv_length(n->transport.candidates), 1);
  ck_assert_str_eq(n->transport.candidates[0],
                   g_ptr_array_index(media_at(offer, 0)->candidates, 0));
  ck_assert(n->transport.end_of_candidates);
  ck_assert(!n->extmap_allow_mixed);

  /* The answer keeps the offered ids per m-line. */
  g_autoptr(ChorusSdpSession) answer = parse_ok(n->sdp);
  ck_assert_uint_eq(
      chorus_sdp_media_find_extmap(media_at(answer, 0), CHORUS_SDP_EXT_AUDIO_LEVEL)->id, 2);
  ck_assert_uint_eq(
      chorus_sdp_media_find_extmap(media_at(answer, 1), CHORUS_SDP_EXT_ABS_SEND_TIME)->id, 2);
}
END_TEST

/* Chromium lists its candidates in m-line 0 only; when Chorus rejects that
 * m-line the transport (same ufrag) still has them. */
START_TEST(test_answer_tag_moves_candidates_follow)
{
  g_autofree char *text = load_fixture("chromium-av-sendonly.sdp");
  g_autofree char *no_opus = replace_all(text, "opus/48000/2", "opux/48000/2");
  g_autoptr(ChorusSdpNegotiation) n = answer_ok(no_opus, NULL);
  ck_assert(!result_at(n, 0)->accepted);
  ck_assert_str_eq(result_at(n, 0)->reject_reason,
                   "no supported codec (offered: opux, red, G722, PCMU, PCMA, CN, telephone-event, "
                   "telephone-event)");
  ck_assert_str_eq(n->transport.mid, "1");
  ck_assert_uint_eq(n->transport.mline, 1);
  ck_assert_uint_eq(g_strv_length(n->transport.candidates), count_lines(text, "a=candidate:"));
  g_autofree char *candidate = first_value(text, "a=candidate:");
  ck_assert_str_eq(n->transport.candidates[0] + strlen("candidate:"), candidate);
  g_autoptr(ChorusSdpSession) answer = parse_ok(n->sdp);
  ck_assert_str_eq(answer->bundle[0], "1");
  ck_assert_ptr_null(answer->bundle[1]);
  ck_assert_uint_eq(media_at(answer, 1)->candidates->len, 2); /* Chorus's, in the new tag */
}
END_TEST

START_TEST(test_answer_ice_lite_and_setup)
{
  g_autofree char *text = load_fixture("chromium-av-sendonly.sdp");
  ChorusSdpLocalParams local = local_params();
  local.ice_lite = TRUE;
  local.candidates = NULL;
  local.end_of_candidates = FALSE;
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusSdpNegotiation) n =
      chorus_sdp_negotiation_answer_offer(text, &local, NULL, &error);
  ck_assert_ptr_nonnull(n);
  g_autoptr(ChorusSdpSession) answer = parse_ok(n->sdp);
  ck_assert(answer->ice_lite);
  ck_assert_uint_eq(media_at(answer, 0)->candidates->len, 0);
  ck_assert_uint_eq(count_lines(n->sdp, "a=end-of-candidates"), 0);

  /* A client insisting on being the DTLS server makes Chorus the client. */
  g_autofree char *passive = replace_all(text, "a=setup:actpass", "a=setup:passive");
  g_autoptr(ChorusSdpNegotiation) p = answer_ok(passive, NULL);
  ck_assert(!p->transport.dtls_server);
  g_autoptr(ChorusSdpSession) p_answer = parse_ok(p->sdp);
  ck_assert_int_eq(media_at(p_answer, 0)->setup, CHORUS_SDP_SETUP_ACTIVE);
  g_autofree char *holdconn = replace_all(text, "a=setup:actpass", "a=setup:holdconn");
  g_autoptr(GError) hold_error = answer_error(holdconn);
  assert_error(hold_error, CHORUS_ERROR_NEGOTIATION_FAILED, "holdconn");

  /* Two ice-lite agents would never connect. */
  g_autofree char *lite = replace_all(text, "a=extmap-allow-mixed", "a=ice-lite");
  g_autoptr(GError) lite_error = NULL;
  g_autoptr(ChorusSdpNegotiation) none =
      chorus_sdp_negotiation_answer_offer(lite, &local, NULL, &lite_error);
  ck_assert_ptr_null(none);
  assert_error(lite_error, CHORUS_ERROR_NEGOTIATION_FAILED, "ice-lite");
}
END_TEST

START_TEST(test_answer_sendrecv_and_inactive)
{
  g_autofree char *text = load_fixture("chromium-av-sendonly.sdp");
  /* sendrecv is treated as sendonly, an inactive m-line stays inactive */
  g_autofree char *a = replace_all(text, "a=sendonly\r\na=msid", "a=sendrecv\r\na=msid");
  g_autofree char *b = g_strdup(a);
  char *second = strstr(strstr(b, "a=sendrecv"), "m=video");
  char *video_dir = strstr(second, "a=sendrecv");
  memcpy(video_dir, "a=inactive", 10);
  g_autoptr(ChorusSdpNegotiation) n = answer_ok(b, NULL);
  ck_assert_int_eq(result_at(n, 0)->direction, CHORUS_SDP_DIRECTION_RECVONLY);
  ck_assert_int_eq(result_at(n, 1)->direction, CHORUS_SDP_DIRECTION_INACTIVE);
  ck_assert(result_at(n, 1)->accepted);
  g_autoptr(ChorusSdpSession) answer = parse_ok(n->sdp);
  ck_assert_int_eq(media_at(answer, 1)->direction, CHORUS_SDP_DIRECTION_INACTIVE);
  ck_assert_uint_ne(media_at(answer, 1)->port, 0);
}
END_TEST

/* ---- synthetic offers ---------------------------------------------------------------- */

START_TEST(test_answer_unsupported_audio_gets_port_0)
{
  /* G722/PCMU-only audio is rejected, the video still accepted */
  g_autofree char *audio =
      synth_media("audio", "a", "9 0", "a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n");
  g_autofree char *video = synth_media("video", "v", "96 97", VP8_LINES);
  g_autofree char *offer = synth_offer("a v", audio, video);
  g_autoptr(ChorusSdpNegotiation) n = answer_ok(offer, NULL);
  ck_assert(!result_at(n, 0)->accepted);
  ck_assert_str_eq(result_at(n, 0)->reject_reason, "no supported codec (offered: G722, PCMU)");
  ck_assert(result_at(n, 1)->accepted);
  g_autoptr(ChorusSdpSession) answer = parse_ok(n->sdp);
  ck_assert_uint_eq(media_at(answer, 0)->port, 0);
  ck_assert_str_eq(answer->bundle[0], "v");
  ck_assert_ptr_null(answer->bundle[1]);
  g_autofree char *section = media_section(n->sdp, 0);
  ck_assert_str_eq(section, "m=audio 0 UDP/TLS/RTP/SAVPF 9 0\r\nc=IN IP4 0.0.0.0\r\na=mid:a\r\n");
  /* the transport follows the new BUNDLE tag */
  ck_assert_str_eq(n->transport.mid, "v");
  ck_assert_uint_eq(n->transport.mline, 1);
  ck_assert_uint_eq(media_at(answer, 1)->candidates->len, 2);
}
END_TEST

START_TEST(test_answer_only_unsupported_is_error)
{
  g_autofree char *audio =
      synth_media("audio", "a", "9 0", "a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n");
  g_autofree char *offer = synth_offer("a", audio, NULL);
  g_autoptr(GError) error = answer_error(offer);
  assert_error(error, CHORUS_ERROR_NEGOTIATION_FAILED,
               "no usable m-line: m-line 0 (audio): no supported codec (offered: G722, PCMU)");

  /* a data channel alone is no better */
  g_autofree char *data = g_strdup(
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n" T_TRANSPORT
      "a=mid:d\r\na=sctp-port:5000\r\n");
  g_autofree char *offer2 = synth_offer("d", data, NULL);
  g_autoptr(GError) error2 = answer_error(offer2);
  assert_error(error2, CHORUS_ERROR_NEGOTIATION_FAILED,
               "m-line 0 (application): unsupported media 'application'");

  /* codecs can be restricted: VP8 only, offered H264 only */
  g_autofree char *h264 = synth_video_offer(
      "102",
      "a=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=1;profile-level-id=42e01f\r\n");
  ChorusSdpLocalParams local = local_params();
  ChorusSdpAnswerOptions options = {.codecs = 1u << CHORUS_SDP_CODEC_VP8};
  g_autoptr(GError) error3 = NULL;
  g_autoptr(ChorusSdpNegotiation) none =
      chorus_sdp_negotiation_answer_offer(h264, &local, &options, &error3);
  ck_assert_ptr_null(none);
  assert_error(error3, CHORUS_ERROR_NEGOTIATION_FAILED, "no supported codec (offered: H264)");
}
END_TEST

START_TEST(test_answer_video_codec_choice)
{
  struct {
    const char *pts;
    const char *lines;
    guint expected_pt;
    const char *expected_fmtp;
  } cases[] = {
      /* offer order wins among supported codecs */
      {"102 96",
       "a=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=1;profile-level-id=42e01f\r\n"
       "a=rtpmap:96 VP8/90000\r\n",
       102, "packetization-mode=1;profile-level-id=42e01f"},
      /* packetization-mode=0 is not supported */
      {"102 96",
       "a=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=0;profile-level-id=42e01f\r\n"
       "a=rtpmap:96 VP8/90000\r\n",
       96, NULL},
      /* VP9 profile 2 skipped for profile 0 */
      {"100 98",
       "a=rtpmap:100 VP9/90000\r\na=fmtp:100 profile-id=2\r\na=rtpmap:98 VP9/90000\r\na=fmtp:98 "
       "profile-id=0\r\n",
       98, "profile-id=0"},
      /* AV1 */
      {"45", "a=rtpmap:45 AV1/90000\r\na=fmtp:45 level-idx=5;profile=0;tier=0\r\n", 45,
       "level-idx=5;profile=0;tier=0"},
      /* an unknown codec first, then VP8 */
      {"127 96", "a=rtpmap:127 H265/90000\r\na=rtpmap:96 VP8/90000\r\n", 96, NULL},
      /* level asymmetry: Chorus answers its own level */
      {"108",
       "a=rtpmap:108 H264/90000\r\na=fmtp:108 "
       "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n",
       108, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e034"},
      /* High profile without asymmetry keeps the lower (offered) level */
      {"122",
       "a=rtpmap:122 H264/90000\r\na=fmtp:122 packetization-mode=1;profile-level-id=64001f\r\n",
       122, "packetization-mode=1;profile-level-id=64001f"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *offer = synth_video_offer(cases[i].pts, cases[i].lines);
    g_autoptr(ChorusSdpNegotiation) n = answer_ok(offer, NULL);
    const ChorusSdpMediaResult *video = result_at(n, 0);
    ck_assert_msg(video->codec->pt == cases[i].expected_pt, "case %u: pt %u", i, video->codec->pt);
    ck_assert_pstr_eq(video->codec->fmtp, cases[i].expected_fmtp);
    g_autoptr(ChorusSdpSession) answer = parse_ok(n->sdp);
    const ChorusSdpPayload *written =
        chorus_sdp_media_find_payload(media_at(answer, 0), cases[i].expected_pt);
    ck_assert_pstr_eq(written->fmtp, cases[i].expected_fmtp);
  }

  /* the local level caps the answer without asymmetry */
  g_autofree char *offer = synth_video_offer(
      "102",
      "a=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=1;profile-level-id=42e034\r\n");
  ChorusSdpAnswerOptions options = {.h264_max_level = 31};
  g_autoptr(ChorusSdpNegotiation) capped = answer_ok(offer, &options);
  ck_assert_str_eq(result_at(capped, 0)->codec->fmtp,
                   "packetization-mode=1;profile-level-id=42e01f");

  /* predictive high 4:4:4 is not taken */
  g_autofree char *p444 = synth_video_offer(
      "102",
      "a=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=1;profile-level-id=f4001f\r\n");
  g_autoptr(GError) error = answer_error(p444);
  assert_error(error, CHORUS_ERROR_NEGOTIATION_FAILED, "no supported codec");
}
END_TEST

START_TEST(test_simulcast_rids)
{
  const char *rids =
      "a=rtpmap:96 VP8/90000\r\n"
      "a=rid:a send\r\na=rid:b send max-width=640\r\na=rid:c send\r\na=rid:d send\r\n"
      "a=simulcast:send a;~b;c,x;d\r\n";
  g_autofree char *offer = synth_video_offer("96", rids);
  g_autoptr(ChorusSdpSession) session = parse_ok(offer);
  const ChorusSdpMedia *video = media_at(session, 0);
  ck_assert_uint_eq(video->simulcast->len, 4);
  const ChorusSdpSimulcastLayer *b = g_ptr_array_index(video->simulcast, 1);
  const ChorusSdpSimulcastLayer *c = g_ptr_array_index(video->simulcast, 2);
  ck_assert_str_eq(b->rid, "b");
  ck_assert(b->paused);
  ck_assert_str_eq(c->rid, "c"); /* first alternative */
  ck_assert(!c->paused);
  ck_assert_str_eq(((ChorusSdpRid *)g_ptr_array_index(video->rids, 1))->params, "max-width=640");

  /* Chorus takes three layers, paused marks kept */
  g_autoptr(ChorusSdpNegotiation) n = answer_ok(offer, NULL);
  ck_assert_uint_eq(result_at(n, 0)->rids->len, 3);
  ck_assert(((ChorusSdpSimulcastLayer *)g_ptr_array_index(result_at(n, 0)->rids, 1))->paused);
  g_autofree char *simulcast = first_value(n->sdp, "a=simulcast:");
  ck_assert_str_eq(simulcast, "recv a;~b;c");
  ck_assert_uint_eq(count_lines(n->sdp, "a=rid:"), 3);

  /* unknown rtcp-fb kinds, even with several parameters, are skipped */
  g_autofree char *fb =
      synth_video_offer("96", "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 ccm tmmbr "
                              "smaxpr=120\r\na=rtcp-fb:* nack\r\na=rtcp-fb:96 nack sli\r\n");
  g_autoptr(ChorusSdpSession) fb_session = parse_ok(fb);
  ck_assert_uint_eq(chorus_sdp_media_find_payload(media_at(fb_session, 0), 96)->feedback,
                    CHORUS_SDP_FB_NACK);

  /* the old draft's "rid=" prefix */
  g_autofree char *old = synth_video_offer(
      "96", "a=rtpmap:96 VP8/90000\r\na=rid:x send\r\na=simulcast:send rid=x\r\n");
  g_autoptr(ChorusSdpSession) old_session = parse_ok(old);
  ck_assert_uint_eq(media_at(old_session, 0)->simulcast->len, 1);

  /* errors */
  const char *bad[] = {
      "a=rtpmap:96 VP8/90000\r\na=rid:a send\r\na=simulcast:send a;z\r\n", /* z undeclared */
      "a=rtpmap:96 VP8/90000\r\na=rid:a recv\r\na=simulcast:send a\r\n",   /* wrong direction */
      "a=rtpmap:96 VP8/90000\r\na=rid:a send\r\na=rid:a send\r\n",         /* twice */
      "a=rtpmap:96 VP8/90000\r\na=rid:toolongtoolongtoolong send\r\n",     /* > 16 chars */
      "a=rtpmap:96 VP8/90000\r\na=rid:a sideways\r\n",
      "a=rtpmap:96 VP8/90000\r\na=rid:a send\r\na=simulcast:both a\r\n",
      "a=rtpmap:96 VP8/90000\r\na=rid:a send\r\na=simulcast:send\r\n",
      "a=rtpmap:96 VP8/90000\r\na=rid:a send\r\na=simulcast:send a;;a\r\n",
      "a=rtpmap:96 VP8/90000\r\na=rid:a send\r\na=rid:b send\r\na=simulcast:send a;~b;a\r\n",
  };
  const char *messages[] = {"names rid 'z' without a matching a=rid",
                            "names rid 'a' without",
                            "a=rid defined twice",
                            "malformed a=rid",
                            "malformed a=rid",
                            "malformed a=simulcast",
                            "a=simulcast without streams",
                            "malformed rid in a=simulcast",
                            "rid named twice in a=simulcast"};
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autofree char *text = synth_video_offer("96", bad[i]);
    g_autoptr(GError) error = NULL;
    g_autoptr(ChorusSdpSession) none = chorus_sdp_session_parse(text, &error);
    ck_assert_msg(none == NULL, "case %u parsed", i);
    assert_error(error, CHORUS_ERROR_NEGOTIATION_FAILED, messages[i]);
  }
}
END_TEST

START_TEST(test_bundle_inheritance_and_session_level)
{
  /* Transport attributes at session level (Firefox style) */
  g_autofree char *session_level = g_strdup_printf(
      "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-1 "
      "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33\r\na=fingerprint:sha-256 %s\r\n"
      "a=ice-ufrag:sess\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\na=group:"
      "BUNDLE a\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 "
      "0.0.0.0\r\na=mid:a\r\na=sendonly\r\na=rtcp-mux\r\n" OPUS_LINES,
      TEST_FP);
  g_autoptr(ChorusSdpSession) s1 = parse_ok(session_level);
  ck_assert_str_eq(media_at(s1, 0)->ice_ufrag, "sess");
  ck_assert(media_at(s1, 0)->has_fingerprint && media_at(s1, 0)->ice_trickle);
  ck_assert_uint_eq(media_at(s1, 0)->fingerprint_sha256[31], 0xff);

  /* RFC 8843: the second bundled m-line may omit transport and rtcp-mux */
  g_autofree char *audio = synth_media("audio", "a", "111", OPUS_LINES);
  g_autofree char *bare = g_strdup("m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 "
                                   "0.0.0.0\r\na=mid:v\r\na=sendonly\r\n" VP8_LINES);
  g_autofree char *offer = synth_offer("a v", audio, bare);
  g_autoptr(ChorusSdpSession) s2 = parse_ok(offer);
  ck_assert_str_eq(media_at(s2, 1)->ice_ufrag, "abcd");
  ck_assert(media_at(s2, 1)->rtcp_mux && media_at(s2, 1)->has_fingerprint);
  ck_assert_int_eq(media_at(s2, 1)->setup, CHORUS_SDP_SETUP_ACTPASS);

  /* ... but not outside a BUNDLE group */
  g_autofree char *unbundled = synth_offer("a", audio, bare);
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusSdpSession) none = chorus_sdp_session_parse(unbundled, &error);
  ck_assert_ptr_null(none);
  assert_error(error, CHORUS_ERROR_NEGOTIATION_FAILED, "m-line 1 (video): rtcp-mux required");
}
END_TEST

START_TEST(test_bundle_required)
{
  g_autofree char *audio = synth_media("audio", "a", "111", OPUS_LINES);
  g_autofree char *video = synth_media("video", "v", "96 97", VP8_LINES);
  /* two usable m-lines without a group */
  g_autofree char *offer = synth_offer(NULL, audio, video);
  g_autoptr(GError) error = answer_error(offer);
  assert_error(error, CHORUS_ERROR_NEGOTIATION_FAILED, "BUNDLE required");
  /* one usable m-line needs none, and the answer adds none */
  g_autofree char *single = synth_offer(NULL, audio, NULL);
  g_autoptr(ChorusSdpNegotiation) n = answer_ok(single, NULL);
  ck_assert_uint_eq(count_lines(n->sdp, "a=group:"), 0);
  ck_assert_str_eq(n->transport.mid, "a");
  /* an m-line outside the group is rejected */
  g_autofree char *partial = synth_offer("a", audio, video);
  g_autoptr(ChorusSdpNegotiation) p = answer_ok(partial, NULL);
  ck_assert(!result_at(p, 1)->accepted);
  ck_assert_str_eq(result_at(p, 1)->reject_reason, "not in a=group:BUNDLE");
  g_autoptr(ChorusSdpSession) p_answer = parse_ok(p->sdp);
  ck_assert_uint_eq(media_at(p_answer, 1)->port, 0);
  /* a group naming an unknown mid */
  g_autofree char *unknown = synth_offer("a zz", audio, NULL);
  g_autoptr(GError) error2 = answer_error(unknown);
  assert_error(error2, CHORUS_ERROR_NEGOTIATION_FAILED, "a=group:BUNDLE names unknown mid 'zz'");
}
END_TEST

/* ---- required attributes on real offers ------------------------------------------------ */

START_TEST(test_missing_fingerprint)
{
  g_autofree char *text = load_fixture("chromium-av-sendonly.sdp");
  g_autofree char *no_fp = without_lines(text, "a=fingerprint:");
  g_autoptr(GError) error = answer_error(no_fp);
  assert_error(error, CHORUS_ERROR_NEGOTIATION_FAILED, "m-line 0 (audio): no a=fingerprint");

  g_autofree char *sha1 = replace_all(text, "a=fingerprint:sha-256 ", "a=fingerprint:sha-1 ");
  g_autoptr(GError) error2 = answer_error(sha1);
  assert_error(error2, CHORUS_ERROR_NEGOTIATION_FAILED,
               "m-line 0 (audio): no sha-256 a=fingerprint");

  /* only the video m-line loses it: inherited inside the BUNDLE */
  g_autoptr(ChorusSdpSession) session = parse_ok(text);
  g_autofree char *fp = first_value(text, "a=fingerprint:");
  g_autofree char *fp_line = g_strdup_printf("a=fingerprint:%s\r\n", fp);
  g_autofree char *video_without = g_strdup(text);
  char *video = strstr(video_without, "m=video");
  char *line = strstr(video, fp_line);
  memmove(line, line + strlen(fp_line), strlen(line + strlen(fp_line)) + 1);
  g_autoptr(ChorusSdpSession) inherited = parse_ok(video_without);
  ck_assert_mem_eq(media_at(inherited, 1)->fingerprint_sha256,
                   media_at(session, 1)->fingerprint_sha256, 32);

  g_autofree char *malformed = replace_all(text, fp, "sha-256 AB:CD");
  g_autoptr(GError) error3 = answer_error(malformed);
  assert_error(error3, CHORUS_ERROR_NEGOTIATION_FAILED, "malformed sha-256 a=fingerprint");
}
END_TEST

START_TEST(test_missing_ice_credentials)
{
  g_autofree char *text = load_fixture("chromium-av-sendonly.sdp");
  g_autofree char *no_ufrag = without_lines(text, "a=ice-ufrag:");
  g_autoptr(GError) error = answer_error(no_ufrag);
  assert_error(error, CHORUS_ERROR_NEGOTIATION_FAILED, "m-line 0 (audio): no ice-ufrag");

  g_autofree char *no_pwd = without_lines(text, "a=ice-pwd:");
  g_autoptr(GError) error2 = answer_error(no_pwd);
  assert_error(error2, CHORUS_ERROR_NEGOTIATION_FAILED, "m-line 0 (audio): no ice-pwd");

  g_autofree char *ufrag = first_value(text, "a=ice-ufrag:");
  g_autofree char *old = g_strdup_printf("a=ice-ufrag:%s", ufrag);
  g_autofree char *short_ufrag = replace_all(text, old, "a=ice-ufrag:ab");
  g_autoptr(GError) error3 = answer_error(short_ufrag);
  assert_error(error3, CHORUS_ERROR_NEGOTIATION_FAILED, "malformed a=ice-ufrag");
}
END_TEST

START_TEST(test_missing_rtcp_mux_and_mid)
{
  g_autofree char *text = load_fixture("aiortc-av-sendonly.sdp");
  g_autofree char *no_mux = without_lines(text, "a=rtcp-mux");
  g_autoptr(GError) error = answer_error(no_mux);
  assert_error(error, CHORUS_ERROR_NEGOTIATION_FAILED, "m-line 0 (audio): rtcp-mux required");

  g_autofree char *no_mid = without_lines(text, "a=mid:");
  g_autoptr(GError) error2 = answer_error(no_mid);
  /* the BUNDLE group now names mids that do not exist */
  assert_error(error2, CHORUS_ERROR_NEGOTIATION_FAILED, "a=group:BUNDLE names unknown mid '0'");
  g_autofree char *no_mid_no_group = without_lines(no_mid, "a=group:");
  g_autoptr(GError) error3 = answer_error(no_mid_no_group);
  assert_error(error3, CHORUS_ERROR_NEGOTIATION_FAILED, "m-line 0 (audio): no a=mid");

  g_autofree char *dup_mid_grouped = replace_all(text, "a=mid:1", "a=mid:0");
  g_autofree char *dup_mid = replace_all(dup_mid_grouped, "a=group:BUNDLE 0 1", "a=group:BUNDLE 0");
  g_autoptr(GError) error4 = answer_error(dup_mid);
  assert_error(error4, CHORUS_ERROR_NEGOTIATION_FAILED,
               "m-line 1 (video): a=mid:0 also used by m-line 0");
}
END_TEST

/* ---- garbage and limits ----------------------------------------------------------------- */

/* Heads of the garbage cases below. */
#define G_HEAD "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"
#define G_AUDIO G_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 96\r\n"

START_TEST(test_garbage)
{
  struct {
    const char *text;
    const char *message;
  } cases[] = {
      {"", "empty SDP"},
      {"\r\n\r\n", "empty SDP"},
      {"hello world", "not an SDP line"},
      {"v=1\r\n", "SDP must start with v=0"},
      {"o=- 1 1 IN IP4 0.0.0.0\r\nv=0\r\n", "SDP must start with v=0"},
      {"v=0\r\n", "no o= line"},
      {"v=0\r\no=- x 1 IN IP4 0.0.0.0\r\n", "malformed o= line"},
      {G_HEAD "m=audio\r\n", "malformed m= line"},
      {G_HEAD "m=audio 99999 UDP/TLS/RTP/SAVPF 111\r\n", "malformed port"},
      {G_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 128\r\n", "malformed payload type"},
      {G_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 1 1\r\n", "listed twice"},
      {G_AUDIO "a=rtpmap:96 opus\r\n", "malformed a=rtpmap"},
      {G_AUDIO "a=rtpmap:96 opus/0\r\n", "malformed a=rtpmap"},
      {G_AUDIO "a=rtpmap:96 opus/48000/2\r\na=rtpmap:96 opus/48000/2\r\n", "second a=rtpmap"},
      {G_AUDIO "a=extmap:0 urn:x\r\n", "a=extmap id out of range"},
      {G_AUDIO "a=extmap:256 urn:x\r\n", "a=extmap id out of range"},
      {G_AUDIO "a=extmap:1 urn:x\r\na=extmap:1 urn:y\r\n", "used twice"},
      {G_AUDIO "a=ssrc:4294967296 cname:x\r\n", "malformed a=ssrc"},
      {G_AUDIO "a=candidate:1 1 udp 1 1.2.3.4 70000 typ host\r\n", "malformed candidate port"},
      {G_AUDIO "a=setup:sometimes\r\n", "unknown a=setup"},
      {G_AUDIO "a=mid:a b\r\n", "malformed or repeated a=mid"},
      {G_AUDIO "a=:x\r\n", "empty attribute name"},
      {G_HEAD "s=\x01\r\n", "control character"},
      {G_HEAD "X=1\r\n", "not an SDP line"},
      {G_HEAD "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n" T_TRANSPORT
              "a=mid:v\r\na=rtcp-mux\r\n",
       "dynamic payload type 96 has no a=rtpmap"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(ChorusSdpSession) session = chorus_sdp_session_parse(cases[i].text, &error);
    ck_assert_msg(session == NULL, "case %u parsed", i);
    assert_error(error, CHORUS_ERROR_NEGOTIATION_FAILED, cases[i].message);
  }

  /* The error quotes the offending value, escaped and cut. */
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusSdpSession) none =
      chorus_sdp_session_parse(G_HEAD "m=audio 9 RTP/AVP 0\r\na=rtpmap:0 \"x\"\r\n", &error);
  ck_assert_ptr_null(none);
  ck_assert_str_eq(error->message, "line 4: malformed a=rtpmap (\"0 \\\"x\\\"\")");
}
END_TEST

START_TEST(test_limits)
{
  const char *head = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
  /* 64 m-lines are fine, 65 are not */
  GString *text = g_string_new(head);
  for (guint i = 0; i < 64; i++)
    g_string_append(text, "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\n");
  g_autoptr(ChorusSdpSession) ok = parse_ok(text->str);
  ck_assert_uint_eq(ok->media->len, 64);
  g_string_append(text, "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusSdpSession) none = chorus_sdp_session_parse(text->str, &error);
  ck_assert_ptr_null(none);
  assert_error(error, CHORUS_ERROR_NEGOTIATION_FAILED, "more than 64 m-lines");
  g_string_free(text, TRUE);

  /* a line over 4096 bytes */
  GString *long_line = g_string_new(head);
  g_string_append(long_line, "a=x:");
  for (guint i = 0; i < 5000; i++)
    g_string_append_c(long_line, 'y');
  g_autoptr(GError) error2 = NULL;
  g_autoptr(ChorusSdpSession) none2 = chorus_sdp_session_parse(long_line->str, &error2);
  ck_assert_ptr_null(none2);
  assert_error(error2, CHORUS_ERROR_NEGOTIATION_FAILED, "line 5: line too long");
  g_string_free(long_line, TRUE);

  /* more than 4096 lines */
  GString *many = g_string_new(head);
  for (guint i = 0; i < 4100; i++)
    g_string_append(many, "a=x\r\n");
  g_autoptr(GError) error3 = NULL;
  g_autoptr(ChorusSdpSession) none3 = chorus_sdp_session_parse(many->str, &error3);
  ck_assert_ptr_null(none3);
  assert_error(error3, CHORUS_ERROR_NEGOTIATION_FAILED, "more than 4096 lines");
  g_string_free(many, TRUE);

  /* over 128 KiB */
  GString *big = g_string_new(head);
  while (big->len <= CHORUS_SDP_MAX_BYTES)
    g_string_append(
        big,
        "a=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n");
  g_autoptr(GError) error4 = NULL;
  g_autoptr(ChorusSdpSession) none4 = chorus_sdp_session_parse(big->str, &error4);
  ck_assert_ptr_null(none4);
  assert_error(error4, CHORUS_ERROR_NEGOTIATION_FAILED, "SDP longer than");
  g_string_free(big, TRUE);

  /* 65 candidates in one m-line */
  GString *cands = g_string_new(head);
  g_string_append(cands, "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n");
  for (guint i = 0; i < 65; i++)
    g_string_append_printf(cands, "a=candidate:%u 1 udp 1 127.0.0.1 %u typ host\r\n", i, 1000 + i);
  g_autoptr(GError) error5 = NULL;
  g_autoptr(ChorusSdpSession) none5 = chorus_sdp_session_parse(cands->str, &error5);
  ck_assert_ptr_null(none5);
  assert_error(error5, CHORUS_ERROR_NEGOTIATION_FAILED, "too many a=candidate lines");
  g_string_free(cands, TRUE);
}
END_TEST

/* Seeded mutations of the real offers: every outcome is either a parse
 * with a valid answer or a clean NEGOTIATION_FAILED (ASan watches the rest). */
START_TEST(test_mutated_fixtures)
{
  const char *fixtures[] = {"chromium-av-sendonly.sdp", "chromium-simulcast.sdp",
                            "aiortc-av-sendonly.sdp"};
  g_autoptr(GRand) rand = g_rand_new_with_seed(20240601);
  ChorusSdpLocalParams local = local_params();
  guint parsed = 0, failed = 0;
  for (guint f = 0; f < G_N_ELEMENTS(fixtures); f++) {
    g_autofree char *text = load_fixture(fixtures[f]);
    gsize len = strlen(text);
    for (guint round = 0; round < 300; round++) {
      g_autofree char *copy = g_strdup(text);
      guint edits = (guint)g_rand_int_range(rand, 1, 4);
      for (guint e = 0; e < edits; e++) {
        gsize pos = (gsize)g_rand_int_range(rand, 0, (gint32)len);
        switch (g_rand_int_range(rand, 0, 4)) {
        case 0:
          copy[pos] = (char)g_rand_int_range(rand, 1, 256);
          break;
        case 1:
          copy[pos] = ' ';
          break;
        case 2:
          copy[pos] = '\n';
          break;
        default:
          copy[pos] = (char)('0' + g_rand_int_range(rand, 0, 10));
          break;
        }
      }
      if (round % 10 == 0)
        copy[g_rand_int_range(rand, 1, (gint32)len)] = '\0';
      g_autoptr(GError) error = NULL;
      g_autoptr(ChorusSdpNegotiation) n =
          chorus_sdp_negotiation_answer_offer(copy, &local, NULL, &error);
      if (n == NULL) {
        assert_error(error, CHORUS_ERROR_NEGOTIATION_FAILED, NULL);
        failed++;
      } else {
        g_autoptr(ChorusSdpSession) reparsed = parse_ok(n->sdp);
        parsed++;
      }
    }
  }
  /* both outcomes happen: the mutations are neither all fatal nor all harmless */
  ck_assert_uint_gt(parsed, 50);
  ck_assert_uint_gt(failed, 50);
}
END_TEST

/* ---- H264 profile-level-id ------------------------------------------------------------------ */

START_TEST(test_h264_profile_level)
{
  struct {
    const char *hex;
    gboolean ok;
    ChorusSdpH264Profile profile;
    guint8 level;
    const char *canonical;
  } cases[] = {
      {"42e01f", TRUE, CHORUS_SDP_H264_CONSTRAINED_BASELINE, 31, "42e01f"},
      {"42c01f", TRUE, CHORUS_SDP_H264_CONSTRAINED_BASELINE, 31, "42e01f"},
      {"4de01f", TRUE, CHORUS_SDP_H264_CONSTRAINED_BASELINE, 31, "42e01f"},
      {"58c01f", TRUE, CHORUS_SDP_H264_CONSTRAINED_BASELINE, 31, "42e01f"},
      {"42001f", TRUE, CHORUS_SDP_H264_BASELINE, 31, "42001f"},
      {"58801f", TRUE, CHORUS_SDP_H264_BASELINE, 31, "42001f"},
      {"4d001f", TRUE, CHORUS_SDP_H264_MAIN, 31, "4d001f"},
      {"4d401f", TRUE, CHORUS_SDP_H264_MAIN, 31, "4d001f"}, /* constraint_set1 is free for Main */
      {"4d201f", FALSE, 0, 0, NULL},                        /* constraint_set2 is not */
      {"64001f", TRUE, CHORUS_SDP_H264_HIGH, 31, "64001f"},
      {"640c34", TRUE, CHORUS_SDP_H264_CONSTRAINED_HIGH, 52, "640c34"},
      {"f4001f", TRUE, CHORUS_SDP_H264_PREDICTIVE_HIGH_444, 31, "f4001f"},
      {"42f00b", TRUE, CHORUS_SDP_H264_CONSTRAINED_BASELINE, 0, "42f00b"}, /* level 1b */
      {"42100b", TRUE, CHORUS_SDP_H264_BASELINE, 0, "42100b"},
      {"42000b", TRUE, CHORUS_SDP_H264_BASELINE, 11, "42000b"},
      {"4d100b", TRUE, CHORUS_SDP_H264_MAIN, 0, "4d100b"},
      {"42E01F", TRUE, CHORUS_SDP_H264_CONSTRAINED_BASELINE, 31, "42e01f"},
      {"42e0ff", FALSE, 0, 0, NULL}, /* unknown level */
      {"ffffff", FALSE, 0, 0, NULL},
      {"640d1f", FALSE, 0, 0, NULL}, /* high with stray constraint bits */
      {"42e0", FALSE, 0, 0, NULL},
      {"42e01f0", FALSE, 0, 0, NULL},
      {"42e0zz", FALSE, 0, 0, NULL},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    ChorusSdpH264ProfileLevel pl;
    gboolean ok = chorus_sdp_h264_profile_level_parse(cases[i].hex, &pl);
    ck_assert_msg(ok == cases[i].ok, "%s: parse %d", cases[i].hex, ok);
    if (!ok)
      continue;
    ck_assert_msg(pl.profile == cases[i].profile && pl.level == cases[i].level,
                  "%s: profile %d level %u", cases[i].hex, pl.profile, pl.level);
    g_autofree char *canonical = chorus_sdp_h264_profile_level_to_string(&pl);
    ck_assert_str_eq(canonical, cases[i].canonical);
  }
}
END_TEST

START_TEST(test_h264_matching)
{
  struct {
    const char *a;
    const char *b;
    gboolean match;
  } cases[] = {
      /* the level may differ */
      {"packetization-mode=1;profile-level-id=42e01f",
       "packetization-mode=1;profile-level-id=42e034", TRUE},
      /* constrained baseline written two ways */
      {"packetization-mode=1;profile-level-id=42e01f",
       "packetization-mode=1;profile-level-id=4de01f", TRUE},
      {"packetization-mode=1;profile-level-id=42e01f",
       "packetization-mode=1;profile-level-id=42001f", FALSE},
      {"packetization-mode=1;profile-level-id=640c1f",
       "packetization-mode=1;profile-level-id=64001f", FALSE},
      /* packetization-mode must match; absent means 0 */
      {"packetization-mode=1;profile-level-id=42e01f", "profile-level-id=42e01f", FALSE},
      {"packetization-mode=0;profile-level-id=42e01f", "profile-level-id=42e01f", TRUE},
      /* no profile-level-id means constrained baseline */
      {"packetization-mode=1", "packetization-mode=1;profile-level-id=42e01f", TRUE},
      {"level-asymmetry-allowed=1; packetization-mode=1; profile-level-id=4d0032",
       "packetization-mode=1;profile-level-id=4d001f", TRUE},
      {"packetization-mode=1;profile-level-id=zzzzzz",
       "packetization-mode=1;profile-level-id=42e01f", FALSE},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    ck_assert_msg(chorus_sdp_h264_fmtp_match(cases[i].a, cases[i].b) == cases[i].match, "case %u",
                  i);
    ck_assert_msg(chorus_sdp_h264_fmtp_match(cases[i].b, cases[i].a) == cases[i].match,
                  "case %u reversed", i);
  }

  struct {
    const char *offer;
    guint8 local_level;
    const char *answer;
  } answers[] = {
      {"packetization-mode=1;profile-level-id=42e01f", 52,
       "packetization-mode=1;profile-level-id=42e01f"},
      {"packetization-mode=1;profile-level-id=42e034", 31,
       "packetization-mode=1;profile-level-id=42e01f"},
      {"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", 52,
       "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e034"},
      {"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e034", 31,
       "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
      /* level 1b is below 1.1 */
      {"packetization-mode=1;profile-level-id=42f00b", 11,
       "packetization-mode=1;profile-level-id=42f00b"},
      {"packetization-mode=1;profile-level-id=42e00a", 0,
       "packetization-mode=1;profile-level-id=42e00a"},
      {"packetization-mode=1;profile-level-id=4de01f", 52,
       "packetization-mode=1;profile-level-id=42e01f"},
      {"packetization-mode=1;profile-level-id=f4001f", 52, NULL},
  };
  for (guint i = 0; i < G_N_ELEMENTS(answers); i++) {
    g_autofree char *answer = chorus_sdp_h264_answer_fmtp(answers[i].offer, answers[i].local_level);
    ck_assert_pstr_eq(answer, answers[i].answer);
  }
}
END_TEST

START_TEST(test_candidate_parse)
{
  ChorusSdpCandidate c;
  g_autoptr(GError) error = NULL;
  ck_assert(chorus_sdp_candidate_parse("candidate:2110054702 1 udp 2122260223 127.0.0.1 37841 typ "
                                       "host generation 0 network-id 1 network-cost 50",
                                       &c, &error));
  ck_assert_str_eq(c.foundation, "2110054702");
  ck_assert_uint_eq(c.component, 1);
  ck_assert(!c.tcp);
  ck_assert_uint_eq(c.priority, 2122260223u);
  ck_assert_str_eq(c.address, "127.0.0.1");
  ck_assert_uint_eq(c.port, 37841);
  ck_assert_int_eq(c.type, CHORUS_SDP_CANDIDATE_HOST);

  ck_assert(chorus_sdp_candidate_parse(
      "a=candidate:1 1 TCP 1518280447 ::1 9 typ host tcptype active", &c, NULL));
  ck_assert(c.tcp);
  ck_assert_str_eq(c.tcptype, "active");
  ck_assert_str_eq(c.address, "::1");

  ck_assert(chorus_sdp_candidate_parse(
      "3 1 udp 1686052607 203.0.113.7 50000 typ srflx raddr 10.0.0.2 rport 50001", &c, NULL));
  ck_assert_int_eq(c.type, CHORUS_SDP_CANDIDATE_SRFLX);
  ck_assert_str_eq(c.related_address, "10.0.0.2");
  ck_assert_uint_eq(c.related_port, 50001);

  ck_assert(chorus_sdp_candidate_parse(
      "candidate:4 1 udp 1 4f3c2a10-8d3e-4ab1-9b0c-1f2e3d4c5b6a.local 5000 typ host", &c, NULL));
  ck_assert_str_eq(c.address, "4f3c2a10-8d3e-4ab1-9b0c-1f2e3d4c5b6a.local");

  const char *bad[] = {
      "candidate:1 1 udp 1 127.0.0.1 5000 typ",
      "candidate:1 1 sctp 1 127.0.0.1 5000 typ host",
      "candidate:1 0 udp 1 127.0.0.1 5000 typ host",
      "candidate:1 1 udp 4294967296 127.0.0.1 5000 typ host",
      "candidate:1 1 udp 1 127.0.0.1 5000 type host",
      "candidate:1 1 udp 1 127.0.0.1 5000 typ nat",
      "candidate:1 1 udp 1 127.0.0.1/8 5000 typ host",
      "candidate:1 1 udp 1 127.0.0.1 5000 typ host raddr",
      "candidate:1 1 tcp 1 127.0.0.1 5000 typ host tcptype sideways",
      "candidate:f\xc3\xa9 1 udp 1 127.0.0.1 5000 typ host",
      "",
  };
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) bad_error = NULL;
    ck_assert_msg(!chorus_sdp_candidate_parse(bad[i], &c, &bad_error), "case %u parsed", i);
    assert_error(bad_error, CHORUS_ERROR_NEGOTIATION_FAILED, NULL);
  }
}
END_TEST

START_TEST(test_local_params_checked)
{
  g_autofree char *text = load_fixture("chromium-audio-only.sdp");
  ChorusSdpLocalParams local = local_params();
  local.ice_pwd = "short";
  g_autoptr(GError) error = NULL;
  ck_assert_ptr_null(chorus_sdp_negotiation_answer_offer(text, &local, NULL, &error));
  assert_error(error, CHORUS_ERROR_INTERNAL, "local ICE credentials");

  local = local_params();
  local.fingerprint_sha256 = "AB:CD";
  g_autoptr(GError) error2 = NULL;
  ck_assert_ptr_null(chorus_sdp_negotiation_answer_offer(text, &local, NULL, &error2));
  assert_error(error2, CHORUS_ERROR_INTERNAL, "local fingerprint");

  static const char *const bad_candidates[] = {"candidate:1 1 udp 1 127.0.0.1 5000 typ host",
                                               "garbage", NULL};
  local = local_params();
  local.candidates = bad_candidates;
  g_autoptr(GError) error3 = NULL;
  ck_assert_ptr_null(chorus_sdp_negotiation_answer_offer(text, &local, NULL, &error3));
  assert_error(error3, CHORUS_ERROR_INTERNAL, "local candidate 1");
}
END_TEST

/* ---- subscriber offers ----------------------------------------------------------------------- */

START_TEST(test_subscriber_reuse_sequence)
{
  const char *clients[] = {"chromium", "aiortc"};
  const Sequence *seq = &sequences[0];
  for (guint c = 0; c < G_N_ELEMENTS(clients); c++) {
    gboolean chromium = c == 0;
    g_autoptr(ChorusSdpOfferer) offerer = chorus_sdp_offerer_new(777);
    g_autoptr(ChorusSdpNegotiation) o1 = NULL, a1 = NULL, o2 = NULL, a2 = NULL, o3 = NULL,
                                    a3 = NULL;

    /* step 1: A (audio, RED) + B (VP8 + RTX) */
    replay_step(offerer, seq, 0, clients[c], &o1, &a1);
    assert_offer_well_formed(o1->sdp);
    ck_assert_uint_eq(o1->media->len, 2);
    ck_assert_str_eq(result_at(o1, 0)->track_key, "A");
    ck_assert_str_eq(result_at(o1, 0)->mid, "0");
    ck_assert_uint_eq(result_at(o1, 0)->codec->pt, 111); /* the publisher's pt, free */
    ck_assert_int_eq(result_at(o1, 0)->red_pt, 97);
    ck_assert_uint_eq(result_at(o1, 1)->codec->pt, 96);
    ck_assert_int_eq(result_at(o1, 1)->rtx_pt, 98);
    ck_assert_uint_eq(result_at(o1, 1)->ext_ids[CHORUS_SDP_EXT_MID],
                      result_at(o1, 0)->ext_ids[CHORUS_SDP_EXT_MID]);
    ck_assert_uint_eq(count_lines(o1->sdp, "a=ssrc-group:FID 2001 2002"), 1);
    ck_assert_uint_eq(count_lines(o1->sdp, "a=msid:streamA trackB"), 1);
    ck_assert_uint_eq(chorus_sdp_offerer_get_version(offerer), 1);

    ck_assert_uint_eq(chorus_sdp_negotiation_count_accepted(a1), 2);
    const ChorusSdpMediaResult *audio = result_at(a1, 0), *video = result_at(a1, 1);
    ck_assert_str_eq(audio->track_key, "A");
    ck_assert_int_eq(audio->direction, CHORUS_SDP_DIRECTION_SENDONLY);
    ck_assert_uint_eq(g_array_index(audio->ssrcs, guint32, 0), 1001);
    ck_assert_uint_eq(g_array_index(video->rtx_ssrcs, guint32, 0), 2002);
    ck_assert_int_eq(video->rtx_pt, 98);
    ck_assert_uint_eq(audio->ext_ids[CHORUS_SDP_EXT_MID], 1);
    ck_assert_uint_eq(audio->ext_ids[CHORUS_SDP_EXT_AUDIO_LEVEL], 4);
    ck_assert_uint_eq(video->ext_ids[CHORUS_SDP_EXT_ABS_SEND_TIME], 2);
    ck_assert_uint_eq(video->codec->feedback & (CHORUS_SDP_FB_NACK | CHORUS_SDP_FB_NACK_PLI),
                      CHORUS_SDP_FB_NACK | CHORUS_SDP_FB_NACK_PLI);
    ck_assert(a1->transport.dtls_server); /* both answer a=setup:active */
    ck_assert_str_eq(a1->transport.mid, "0");
    if (chromium) {
      ck_assert_int_eq(audio->red_pt, 97);
      ck_assert_uint_eq(audio->ext_ids[CHORUS_SDP_EXT_TRANSPORT_CC], 3);
      ck_assert_uint_eq(video->codec->feedback, CHORUS_SDP_FB_ALL);
      ck_assert_int_eq(a1->transport.setup, CHORUS_SDP_SETUP_ACTIVE);
    } else {
      /* aiortc has no RED, no transport-cc, no FIR */
      ck_assert_int_eq(audio->red_pt, -1);
      ck_assert_uint_eq(audio->ext_ids[CHORUS_SDP_EXT_TRANSPORT_CC], 0);
      ck_assert_uint_eq(video->codec->feedback,
                        CHORUS_SDP_FB_NACK | CHORUS_SDP_FB_NACK_PLI | CHORUS_SDP_FB_GOOG_REMB);
    }

    /* step 2: B removed (its m-line inactive), C added as a new m-line */
    replay_step(offerer, seq, 1, clients[c], &o2, &a2);
    assert_offer_well_formed(o2->sdp);
    ck_assert_uint_eq(o2->media->len, 3);
    ck_assert_int_eq(result_at(o2, 1)->direction, CHORUS_SDP_DIRECTION_INACTIVE);
    ck_assert_ptr_null(result_at(o2, 1)->track_key);
    ck_assert_str_eq(result_at(o2, 2)->track_key, "C");
    ck_assert_str_eq(result_at(o2, 2)->mid, "2");
    /* C's Opus has the same configuration as A's: same pt in the BUNDLE */
    ck_assert_uint_eq(result_at(o2, 2)->codec->pt, 111);
    ck_assert_int_eq(result_at(o2, 2)->red_pt, -1);
    g_autofree char *inactive = media_section(o2->sdp, 1);
    ck_assert(strstr(inactive, "a=inactive\r\n") != NULL);
    ck_assert(strstr(inactive, "a=ssrc") == NULL && strstr(inactive, "a=msid") == NULL);
    ck_assert(strstr(inactive, "a=rtpmap:96 VP8/90000") != NULL);
    ck_assert_int_eq(result_at(a2, 1)->direction, CHORUS_SDP_DIRECTION_INACTIVE);
    ck_assert(result_at(a2, 2)->accepted);
    ck_assert_str_eq(result_at(a2, 2)->track_key, "C");

    /* step 3: B comes back on its inactive m-line (same mid, same SSRCs);
     * D (another track) gets a new m-line */
    replay_step(offerer, seq, 2, clients[c], &o3, &a3);
    assert_offer_well_formed(o3->sdp);
    ck_assert_uint_eq(o3->media->len, 4);
    ck_assert_str_eq(result_at(o3, 1)->mid, "1");
    ck_assert_str_eq(result_at(o3, 1)->track_key, "B");
    ck_assert_uint_eq(g_array_index(result_at(o3, 1)->ssrcs, guint32, 0), 2001);
    ck_assert_uint_eq(g_array_index(result_at(o3, 1)->rtx_ssrcs, guint32, 0), 2002);
    ck_assert_uint_eq(result_at(o3, 1)->codec->pt, 96);
    ck_assert_str_eq(result_at(o3, 3)->mid, "3");
    ck_assert_str_eq(result_at(o3, 3)->track_key, "D");
    ck_assert_str_eq(result_at(o3, 3)->codec->name, "H264");
    ck_assert_uint_eq(result_at(o3, 3)->codec->pt, 102);
    /* A kept its pts throughout */
    ck_assert_uint_eq(result_at(o3, 0)->codec->pt, 111);
    ck_assert_int_eq(result_at(o3, 0)->red_pt, 97);
    ck_assert_uint_eq(chorus_sdp_negotiation_count_accepted(a3), 4);
    ck_assert_int_eq(result_at(a3, 1)->direction, CHORUS_SDP_DIRECTION_SENDONLY);
    const ChorusSdpMediaResult *h264 = result_at(a3, 3);
    ck_assert_int_eq(h264->direction, CHORUS_SDP_DIRECTION_SENDONLY);
    ck_assert(chorus_sdp_h264_fmtp_match(h264->codec->fmtp, h264_pub.fmtp));
    ck_assert_int_ge(h264->rtx_pt, 0);
    ck_assert_uint_eq(chorus_sdp_offerer_get_version(offerer), 3);
    ck_assert(!chorus_sdp_offerer_has_pending_offer(offerer));
  }
}
END_TEST

START_TEST(test_subscriber_reject_sequence)
{
  const Sequence *seq = &sequences[1];
  g_autoptr(ChorusSdpOfferer) offerer = chorus_sdp_offerer_new(777);
  g_autoptr(ChorusSdpNegotiation) o1 = NULL, a1 = NULL, o2 = NULL, a2 = NULL, o3 = NULL, a3 = NULL;

  replay_step(offerer, seq, 0, "chromium", &o1, &a1);
  ck_assert(result_at(a1, 0)->accepted);
  ck_assert(!result_at(a1, 1)->accepted);
  ck_assert_str_eq(result_at(a1, 1)->reject_reason, "rejected by the answer (port 0)");
  ck_assert_uint_eq(a1->transport.mline, 0);

  /* the rejected m-line stays, port 0 with its mid only, out of BUNDLE */
  replay_step(offerer, seq, 1, "chromium", &o2, &a2);
  g_autofree char *rejected = media_section(o2->sdp, 1);
  ck_assert_str_eq(rejected, "m=video 0 UDP/TLS/RTP/SAVPF 98\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n");
  g_autoptr(ChorusSdpSession) offer2 = parse_ok(o2->sdp);
  ck_assert_str_eq(offer2->bundle[0], "0");
  ck_assert_ptr_null(offer2->bundle[1]);
  ck_assert(!result_at(a2, 1)->accepted);

  /* then a new track recycles it under a new mid */
  replay_step(offerer, seq, 2, "chromium", &o3, &a3);
  ck_assert_uint_eq(o3->media->len, 2);
  ck_assert_str_eq(result_at(o3, 1)->mid, "2");
  ck_assert_str_eq(result_at(o3, 1)->track_key, "B");
  ck_assert(result_at(a3, 1)->accepted);
  ck_assert_str_eq(result_at(a3, 1)->codec->name, "VP8");
}
END_TEST

/* Chorus answering its own subscriber offer as if it were the client. */
START_TEST(test_subscriber_roundtrip_with_own_answer)
{
  g_autoptr(ChorusSdpOfferer) offerer = chorus_sdp_offerer_new(1);
  const char *keys[] = {"A", "B", "D", NULL};
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusSdpNegotiation) offer = sequence_offer(offerer, keys, &error);
  ck_assert_ptr_nonnull(offer);
  ck_assert(chorus_sdp_offerer_has_pending_offer(offerer));
  assert_offer_well_formed(offer->sdp);

  g_autoptr(ChorusSdpNegotiation) client = answer_ok(offer->sdp, NULL);
  ck_assert_uint_eq(chorus_sdp_negotiation_count_accepted(client), 3);
  /* the client side sees the offerer's ids and SSRCs */
  ck_assert_uint_eq(result_at(client, 0)->ext_ids[CHORUS_SDP_EXT_AUDIO_LEVEL], 4);
  ck_assert_uint_eq(g_array_index(result_at(client, 1)->ssrcs, guint32, 0), 2001);
  ck_assert_uint_eq(g_array_index(result_at(client, 1)->rtx_ssrcs, guint32, 0), 2002);
  ck_assert_str_eq(result_at(client, 2)->msid_track, "trackD");
  ck_assert_str_eq(client->transport.ice_ufrag, "ChSb");
  ck_assert(client->transport.dtls_server);

  g_autoptr(ChorusSdpNegotiation) n = chorus_sdp_offerer_apply_answer(offerer, client->sdp, &error);
  ck_assert_msg(n != NULL, "%s", error ? error->message : "?");
  ck_assert_uint_eq(chorus_sdp_negotiation_count_accepted(n), 3);
  ck_assert_str_eq(n->transport.ice_ufrag, "ChSv");
  ck_assert(!n->transport.dtls_server); /* the answerer was passive */
  ck_assert_uint_eq(g_strv_length(n->transport.candidates), 2);
  ck_assert_int_eq(result_at(n, 0)->red_pt, 97);
  ck_assert_uint_eq(result_at(n, 0)->ext_ids[CHORUS_SDP_EXT_TRANSPORT_CC], 3);
  ck_assert_uint_eq(result_at(n, 1)->codec->feedback, CHORUS_SDP_FB_ALL);
  ck_assert_str_eq(result_at(n, 2)->codec->fmtp,
                   "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e034");
}
END_TEST

static char *
add_payload_100(const char *sdp)
{
  g_autofree char *m_line = replace_all(sdp, "m=video 9 UDP/TLS/RTP/SAVPF 96 98",
                                        "m=video 9 UDP/TLS/RTP/SAVPF 96 98 100");
  return replace_all(m_line, "a=rtpmap:96 VP8/90000",
                     "a=rtpmap:96 VP8/90000\r\na=rtpmap:100 VP8/90000");
}

START_TEST(test_subscriber_offer_state_errors)
{
  g_autoptr(ChorusSdpOfferer) offerer = chorus_sdp_offerer_new(1);
  g_autoptr(GError) error = NULL;

  g_autoptr(ChorusSdpNegotiation) early =
      chorus_sdp_offerer_apply_answer(offerer, "v=0\r\n", &error);
  ck_assert_ptr_null(early);
  assert_error(error, CHORUS_ERROR_CONFLICT, "no offer outstanding");
  g_clear_error(&error);

  const char *keys[] = {"A", "B", NULL};
  g_autoptr(ChorusSdpNegotiation) offer = sequence_offer(offerer, keys, &error);
  ck_assert_ptr_nonnull(offer);
  g_autoptr(ChorusSdpNegotiation) second = sequence_offer(offerer, keys, &error);
  ck_assert_ptr_null(second);
  assert_error(error, CHORUS_ERROR_CONFLICT, "outstanding");
  g_clear_error(&error);

  /* answers that do not fit the offer leave it outstanding */
  g_autoptr(ChorusSdpNegotiation) client = answer_ok(offer->sdp, NULL);
  g_autofree char *mid_renamed = replace_all(client->sdp, "a=mid:1", "a=mid:7");
  struct {
    char *text;
    const char *message;
  } bad[] = {
      {replace_all(client->sdp, "a=recvonly", "a=sendonly"), "answer direction sendonly"},
      {replace_all(client->sdp, "a=setup:passive", "a=setup:actpass"),
       "a=setup:actpass is not allowed in an answer"},
      {replace_all(client->sdp, "a=rtpmap:96 VP8/90000", "a=rtpmap:96 VP9/90000"),
       "payload type 96 is VP9/90000"},
      {add_payload_100(client->sdp), "payload type 100 was not offered"},
      {replace_all(mid_renamed, "a=group:BUNDLE 0 1", "a=group:BUNDLE 0 7"),
       "answer has mid '7' (video), the offer '1'"},
      {replace_all(client->sdp, "a=mid:1", "a=mid:7"), "a=group:BUNDLE names unknown mid '1'"},
      {replace_all(client->sdp, "a=group:BUNDLE 0 1", "a=group:BUNDLE 0"),
       "not in the answer's a=group:BUNDLE"},
      {media_section(client->sdp, 0), "SDP must start with v=0"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) bad_error = NULL;
    g_autoptr(ChorusSdpNegotiation) none =
        chorus_sdp_offerer_apply_answer(offerer, bad[i].text, &bad_error);
    ck_assert_msg(none == NULL, "case %u accepted", i);
    assert_error(bad_error, CHORUS_ERROR_NEGOTIATION_FAILED, bad[i].message);
    ck_assert(chorus_sdp_offerer_has_pending_offer(offerer));
    g_free(bad[i].text);
  }
  /* an answer with one m-line less */
  g_autofree char *audio_only =
      g_strndup(client->sdp, (gsize)(strstr(client->sdp, "m=video") - client->sdp));
  g_autofree char *audio_only_fixed =
      replace_all(audio_only, "a=group:BUNDLE 0 1", "a=group:BUNDLE 0");
  g_autoptr(ChorusSdpNegotiation) short_answer =
      chorus_sdp_offerer_apply_answer(offerer, audio_only_fixed, &error);
  ck_assert_ptr_null(short_answer);
  assert_error(error, CHORUS_ERROR_NEGOTIATION_FAILED, "answer has 1 m-lines, the offer 2");
  g_clear_error(&error);

  /* rollback forgets the offer; the next one counts on */
  chorus_sdp_offerer_rollback(offerer);
  ck_assert(!chorus_sdp_offerer_has_pending_offer(offerer));
  g_autoptr(ChorusSdpNegotiation) again = sequence_offer(offerer, keys, &error);
  ck_assert_ptr_nonnull(again);
  ck_assert_uint_eq(chorus_sdp_offerer_get_version(offerer), 2);
  g_autoptr(ChorusSdpSession) parsed = parse_ok(again->sdp);
  ck_assert_uint_eq(parsed->session_version, 2);
  ck_assert_uint_eq(parsed->session_id, 1);
}
END_TEST

START_TEST(test_subscriber_track_checks)
{
  g_autoptr(ChorusSdpOfferer) offerer = chorus_sdp_offerer_new(1);
  ChorusSdpLocalParams local = subscriber_local();
  ChorusSdpTrack track = subscriber_tracks[1];
  track.rtx_ssrc = 0;
  g_autoptr(GError) error = NULL;
  ck_assert_ptr_null(chorus_sdp_offerer_create_offer(offerer, &track, 1, &local, &error));
  assert_error(error, CHORUS_ERROR_INTERNAL, "track 'B': rtx without a distinct rtx_ssrc");
  g_clear_error(&error);

  track = subscriber_tracks[1];
  track.kind = CHORUS_SDP_KIND_APPLICATION;
  ck_assert_ptr_null(chorus_sdp_offerer_create_offer(offerer, &track, 1, &local, &error));
  assert_error(error, CHORUS_ERROR_INTERNAL, "kind is neither audio nor video");
  g_clear_error(&error);

  ChorusSdpTrack twice[2] = {subscriber_tracks[0], subscriber_tracks[0]};
  ck_assert_ptr_null(chorus_sdp_offerer_create_offer(offerer, twice, 2, &local, &error));
  assert_error(error, CHORUS_ERROR_INTERNAL, "given twice");
  g_clear_error(&error);

  track = subscriber_tracks[0];
  track.stream_id = "has space";
  ck_assert_ptr_null(chorus_sdp_offerer_create_offer(offerer, &track, 1, &local, &error));
  assert_error(error, CHORUS_ERROR_INTERNAL, "not visible ASCII");
  g_clear_error(&error);

  /* 64 m-lines at most; distinct codecs until the payload types run out */
  ChorusSdpTrack many[65];
  g_autofree char *keys = g_malloc0(65 * 8);
  for (guint i = 0; i < 65; i++) {
    many[i] = subscriber_tracks[0];
    g_snprintf(keys + i * 8, 8, "t%u", i);
    many[i].track_key = keys + i * 8;
    many[i].red = FALSE;
    many[i].ssrc = 100 + i;
  }
  g_autoptr(ChorusSdpNegotiation) full =
      chorus_sdp_offerer_create_offer(offerer, many, 64, &local, &error);
  ck_assert_ptr_nonnull(full);
  ck_assert_uint_eq(full->media->len, 64);
  assert_offer_well_formed(full->sdp);
  chorus_sdp_offerer_rollback(offerer);
  ck_assert_ptr_null(chorus_sdp_offerer_create_offer(offerer, many, 65, &local, &error));
  assert_error(error, CHORUS_ERROR_INTERNAL, "more than 64 m-lines");
  g_clear_error(&error);

  ChorusSdpPayload codecs[64];
  char fmtps[64][32];
  for (guint i = 0; i < 64; i++) {
    g_snprintf(fmtps[i], sizeof(fmtps[i]), "x=%u", i);
    codecs[i] = vp8_pub;
    codecs[i].fmtp = fmtps[i];
    many[i] = subscriber_tracks[1];
    many[i].track_key = keys + i * 8;
    many[i].codec = &codecs[i];
    many[i].ssrc = 100 + i * 2;
    many[i].rtx_ssrc = 101 + i * 2;
  }
  /* 64 codecs + 64 RTX need 128 pts: only 61 dynamic ones exist */
  ck_assert_ptr_null(chorus_sdp_offerer_create_offer(offerer, many, 64, &local, &error));
  assert_error(error, CHORUS_ERROR_INTERNAL, "no payload type left");
}
END_TEST

static Suite *
sdp_suite(void)
{
  Suite *suite = suite_create("sdp");
  TCase *parse = tcase_create("parse");
  tcase_add_test(parse, test_parse_chromium_av);
  tcase_add_test(parse, test_parse_chromium_simulcast);
  tcase_add_test(parse, test_parse_aiortc_av);
  tcase_add_test(parse, test_write_parse_idempotent);
  tcase_add_test(parse, test_bundle_inheritance_and_session_level);
  tcase_add_test(parse, test_missing_fingerprint);
  tcase_add_test(parse, test_missing_ice_credentials);
  tcase_add_test(parse, test_missing_rtcp_mux_and_mid);
  tcase_add_test(parse, test_garbage);
  tcase_add_test(parse, test_limits);
  tcase_add_test(parse, test_mutated_fixtures);
  tcase_add_test(parse, test_candidate_parse);
  suite_add_tcase(suite, parse);

  TCase *answer = tcase_create("publisher-answer");
  tcase_add_test(answer, test_answer_chromium_av);
  tcase_add_test(answer, test_answer_chromium_simulcast);
  tcase_add_test(answer, test_answer_chromium_audio_only);
  tcase_add_test(answer, test_answer_rejects_datachannel);
  tcase_add_test(answer, test_answer_aiortc_extension_ids_per_mline);
  tcase_add_test(answer, test_answer_ice_lite_and_setup);
  tcase_add_test(answer, test_answer_tag_moves_candidates_follow);
  tcase_add_test(answer, test_answer_sendrecv_and_inactive);
  tcase_add_test(answer, test_answer_unsupported_audio_gets_port_0);
  tcase_add_test(answer, test_answer_only_unsupported_is_error);
  tcase_add_test(answer, test_answer_video_codec_choice);
  tcase_add_test(answer, test_simulcast_rids);
  tcase_add_test(answer, test_bundle_required);
  tcase_add_test(answer, test_local_params_checked);
  suite_add_tcase(suite, answer);

  TCase *h264 = tcase_create("h264");
  tcase_add_test(h264, test_h264_profile_level);
  tcase_add_test(h264, test_h264_matching);
  suite_add_tcase(suite, h264);

  TCase *offer = tcase_create("subscriber-offer");
  tcase_add_test(offer, test_subscriber_reuse_sequence);
  tcase_add_test(offer, test_subscriber_reject_sequence);
  tcase_add_test(offer, test_subscriber_roundtrip_with_own_answer);
  tcase_add_test(offer, test_subscriber_offer_state_errors);
  tcase_add_test(offer, test_subscriber_track_checks);
  suite_add_tcase(suite, offer);
  return suite;
}

int
main(void)
{
  const char *dump_dir = g_getenv("CHORUS_SDP_DUMP_DIR");
  if (dump_dir != NULL)
    return dump_subscriber_offers(dump_dir);

  SRunner *runner = srunner_create(sdp_suite());
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
