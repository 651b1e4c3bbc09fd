/* Publisher side: Chorus answers a client's offer. One codec per m-line
 * (plus its RTX, and RED for audio) because an SFU forwards what it gets:
 * a publisher switching codecs mid-stream would break every subscriber. */
#include <string.h>

#include "core/error.h"
#include "webrtc/sdp-private.h"
#include "webrtc/sdp.h"

#define SUPPORTED_CODECS                                                                           \
  ((1u << CHORUS_SDP_CODEC_OPUS) | (1u << CHORUS_SDP_CODEC_RED) | (1u << CHORUS_SDP_CODEC_VP8) |   \
   (1u << CHORUS_SDP_CODEC_VP9) | (1u << CHORUS_SDP_CODEC_H264) | (1u << CHORUS_SDP_CODEC_AV1))

typedef struct {
  const ChorusSdpLocalParams *local;
  guint8 fingerprint[32];
  guint32 codecs; /* allowed codec bits */
  gboolean red;
  guint8 h264_max_level;
} AnswerContext;

static gboolean
codec_allowed(const AnswerContext *ctx, ChorusSdpCodecId id)
{
  return (ctx->codecs & (1u << id)) != 0;
}

static gboolean
fmtp_param_is(const ChorusSdpPayload *payload, const char *key, const char *expected,
              gboolean absent_ok)
{
  g_autofree char *value = chorus_sdp_payload_get_fmtp_param(payload, key);
  if (value == NULL)
    return absent_ok;
  return strcmp(value, expected) == 0;
}

/* Whether Chorus can receive and forward @payload as the media codec. */
static gboolean
video_payload_supported(const AnswerContext *ctx, const ChorusSdpPayload *payload)
{
  if (!codec_allowed(ctx, payload->id))
    return FALSE;
  switch (payload->id) {
  case CHORUS_SDP_CODEC_VP8:
    return TRUE;
  case CHORUS_SDP_CODEC_VP9:
    /* Profile 0 only: profile 2 (10-bit) is not decodable by every subscriber. */
    return fmtp_param_is(payload, "profile-id", "0", TRUE);
  case CHORUS_SDP_CODEC_H264: {
    if (!fmtp_param_is(payload, "packetization-mode", "1", FALSE))
      return FALSE;
    g_autofree char *answer = chorus_sdp_h264_answer_fmtp(payload->fmtp, ctx->h264_max_level);
    return answer != NULL;
  }
  case CHORUS_SDP_CODEC_AV1:
    return fmtp_param_is(payload, "profile", "0", TRUE);
  default:
    return FALSE;
  }
}

static const ChorusSdpPayload *
choose_codec(const AnswerContext *ctx, const ChorusSdpMedia *offer)
{
  for (guint i = 0; i < offer->payloads->len; i++) {
    const ChorusSdpPayload *payload = g_ptr_array_index(offer->payloads, i);
    if (offer->kind == CHORUS_SDP_KIND_AUDIO) {
      /* Opus is always stereo-signalled in SDP ("opus/48000/2"). */
      if (payload->id == CHORUS_SDP_CODEC_OPUS && payload->channels == 2 &&
          codec_allowed(ctx, CHORUS_SDP_CODEC_OPUS))
        return payload;
    } else if (video_payload_supported(ctx, payload)) {
      return payload;
    }
  }
  return NULL;
}

/* RED carrying only @codec ("111/111"). */
static const ChorusSdpPayload *
find_red(const ChorusSdpMedia *offer, const ChorusSdpPayload *codec)
{
  g_autofree char *expected = g_strdup_printf("%u/%u", codec->pt, codec->pt);
  for (guint i = 0; i < offer->payloads->len; i++) {
    const ChorusSdpPayload *payload = g_ptr_array_index(offer->payloads, i);
    if (payload->id == CHORUS_SDP_CODEC_RED && payload->channels == 2 &&
        g_strcmp0(payload->fmtp, expected) == 0)
      return payload;
  }
  return NULL;
}

static const ChorusSdpPayload *
find_rtx(const ChorusSdpMedia *offer, const ChorusSdpPayload *codec)
{
  g_autofree char *apt = g_strdup_printf("%u", codec->pt);
  for (guint i = 0; i < offer->payloads->len; i++) {
    const ChorusSdpPayload *payload = g_ptr_array_index(offer->payloads, i);
    if (payload->id == CHORUS_SDP_CODEC_RTX && payload->clock_rate == codec->clock_rate &&
        fmtp_param_is(payload, "apt", apt, FALSE))
      return payload;
  }
  return NULL;
}

static char *
offered_codec_names(const ChorusSdpMedia *offer)
{
  GString *names = g_string_new(NULL);
  for (guint i = 0; i < offer->payloads->len && i < 8; i++) {
    const ChorusSdpPayload *payload = g_ptr_array_index(offer->payloads, i);
    g_string_append_printf(names, "%s%s", i ? ", " : "", payload->name ? payload->name : "?");
  }
  if (names->len == 0)
    g_string_append(names, "none");
  return g_string_free(names, FALSE);
}

/* Extensions Chorus uses, per kind. */
static gboolean
extension_wanted(ChorusSdpExtension ext, ChorusSdpKind kind)
{
  switch (ext) {
  case CHORUS_SDP_EXT_MID:
  case CHORUS_SDP_EXT_ABS_SEND_TIME:
  case CHORUS_SDP_EXT_TRANSPORT_CC:
    return TRUE;
  case CHORUS_SDP_EXT_AUDIO_LEVEL:
    return kind == CHORUS_SDP_KIND_AUDIO;
  case CHORUS_SDP_EXT_RID:
  case CHORUS_SDP_EXT_REPAIRED_RID:
  case CHORUS_SDP_EXT_VIDEO_ORIENTATION:
    return kind == CHORUS_SDP_KIND_VIDEO;
  case CHORUS_SDP_EXT_COUNT:
    break;
  }
  return FALSE;
}

static void
answer_extensions(const ChorusSdpMedia *offer, ChorusSdpMedia *answer, ChorusSdpMediaResult *result)
{
  for (guint i = 0; i < offer->extmaps->len; i++) {
    const ChorusSdpExtmap *offered = g_ptr_array_index(offer->extmaps, i);
    ChorusSdpExtension ext;
    if (!chorus_sdp_extension_from_uri(offered->uri, &ext) || !extension_wanted(ext, offer->kind))
      continue;
    /* Chorus only receives here: an extension the client will not send is useless. */
    if (offered->direction == CHORUS_SDP_DIRECTION_RECVONLY ||
        offered->direction == CHORUS_SDP_DIRECTION_INACTIVE)
      continue;
    ChorusSdpExtmap *extmap = g_new0(ChorusSdpExtmap, 1);
    extmap->id = offered->id; /* the offered id: ids are per m-line */
    extmap->uri = g_strdup(offered->uri);
    extmap->direction = offered->direction == CHORUS_SDP_DIRECTION_SENDONLY
                            ? CHORUS_SDP_DIRECTION_RECVONLY
                            : CHORUS_SDP_DIRECTION_SENDRECV;
    g_ptr_array_add(answer->extmaps, extmap);
    result->ext_ids[ext] = offered->id;
  }
}

static void
answer_simulcast(const ChorusSdpMedia *offer, ChorusSdpMedia *answer, ChorusSdpMediaResult *result)
{
  if (offer->simulcast->len == 0 || offer->simulcast_direction != CHORUS_SDP_DIRECTION_SENDONLY)
    return;
  /* An answerer may drop streams (RFC 8853): Chorus takes the first three. */
  answer->simulcast_direction = CHORUS_SDP_DIRECTION_RECVONLY;
  for (guint i = 0; i < offer->simulcast->len && i < CHORUS_SDP_MAX_SIMULCAST_LAYERS; i++) {
    const ChorusSdpSimulcastLayer *offered = g_ptr_array_index(offer->simulcast, i);
    ChorusSdpRid *rid = g_new0(ChorusSdpRid, 1);
    rid->id = g_strdup(offered->rid);
    rid->direction = CHORUS_SDP_DIRECTION_RECVONLY;
    g_ptr_array_add(answer->rids, rid);
    for (guint copy = 0; copy < 2; copy++) {
      ChorusSdpSimulcastLayer *layer = g_new0(ChorusSdpSimulcastLayer, 1);
      layer->rid = g_strdup(offered->rid);
      layer->paused = offered->paused;
      g_ptr_array_add(copy ? result->rids : answer->simulcast, layer);
    }
  }
}

static ChorusSdpPayload *
answer_payload(const AnswerContext *ctx, const ChorusSdpPayload *offered, guint32 feedback_mask)
{
  ChorusSdpPayload *payload = chorus_sdp_payload_copy(offered);
  payload->feedback &= feedback_mask;
  if (offered->id == CHORUS_SDP_CODEC_H264) {
    g_free(payload->fmtp);
    payload->fmtp = chorus_sdp_h264_answer_fmtp(offered->fmtp, ctx->h264_max_level);
  }
  return payload;
}

/* A rejected m-line: port 0, mid only. */
static ChorusSdpMedia *
reject_media(const ChorusSdpMedia *offer, ChorusSdpMediaResult *result, char *reason)
{
  ChorusSdpMedia *answer = chorus_sdp_media_new(offer->kind);
  g_free(answer->media);
  answer->media = g_strdup(offer->media);
  answer->proto = g_strdup(offer->proto);
  answer->formats = g_strdup(offer->formats);
  answer->mid = g_strdup(offer->mid);
  answer->port = 0;
  answer->direction = CHORUS_SDP_DIRECTION_INACTIVE;
  result->accepted = FALSE;
  result->direction = CHORUS_SDP_DIRECTION_INACTIVE;
  result->reject_reason = reason;
  return answer;
}

static gboolean
proto_supported(const char *proto)
{
  return strcmp(proto, "UDP/TLS/RTP/SAVPF") == 0 || strcmp(proto, "TCP/TLS/RTP/SAVPF") == 0;
}

static ChorusSdpMedia *
answer_media(const AnswerContext *ctx, const ChorusSdpMedia *offer, ChorusSdpMediaResult *result)
{
  if (!chorus_sdp_media_is_used(offer))
    return reject_media(offer, result, g_strdup("rejected in the offer (port 0)"));
  if (offer->kind != CHORUS_SDP_KIND_AUDIO && offer->kind != CHORUS_SDP_KIND_VIDEO)
    return reject_media(offer, result, g_strdup_printf("unsupported media '%s'", offer->media));
  if (!proto_supported(offer->proto))
    return reject_media(offer, result, g_strdup_printf("unsupported proto '%s'", offer->proto));
  if (offer->setup == CHORUS_SDP_SETUP_HOLDCONN)
    return reject_media(offer, result, g_strdup("a=setup:holdconn"));
  const ChorusSdpPayload *codec = choose_codec(ctx, offer);
  if (codec == NULL) {
    g_autofree char *names = offered_codec_names(offer);
    return reject_media(offer, result, g_strdup_printf("no supported codec (offered: %s)", names));
  }

  ChorusSdpMedia *answer = chorus_sdp_media_new(offer->kind);
  g_free(answer->media);
  answer->media = g_strdup(offer->media);
  answer->proto = g_strdup(offer->proto);
  answer->port = 9; /* the real addresses travel in candidates */
  answer->mid = g_strdup(offer->mid);
  answer->rtcp_rsize = offer->rtcp_rsize;
  sdp_media_set_local_transport(answer, ctx->local, ctx->fingerprint);
  /* Chorus is the DTLS server unless the client insists on being it. */
  answer->setup =
      offer->setup == CHORUS_SDP_SETUP_PASSIVE ? CHORUS_SDP_SETUP_ACTIVE : CHORUS_SDP_SETUP_PASSIVE;
  /* Publishers send; sendrecv is treated as sendonly (PROTOCOL.md). A
   * client that stopped sending keeps its m-line, inactive. */
  gboolean sending = offer->direction == CHORUS_SDP_DIRECTION_SENDONLY ||
                     offer->direction == CHORUS_SDP_DIRECTION_SENDRECV;
  answer->direction = sending ? CHORUS_SDP_DIRECTION_RECVONLY : CHORUS_SDP_DIRECTION_INACTIVE;

  const ChorusSdpPayload *red = NULL, *rtx = NULL;
  if (offer->kind == CHORUS_SDP_KIND_AUDIO && ctx->red)
    red = find_red(offer, codec);
  if (offer->kind == CHORUS_SDP_KIND_VIDEO)
    rtx = find_rtx(offer, codec);

  guint32 feedback_mask = offer->kind == CHORUS_SDP_KIND_AUDIO
                              ? CHORUS_SDP_FB_TRANSPORT_CC | CHORUS_SDP_FB_NACK
                              : CHORUS_SDP_FB_ALL;
  ChorusSdpPayload *main_payload = answer_payload(ctx, codec, feedback_mask);
  /* RED listed first: browsers send the first codec of the answer. */
  if (red != NULL)
    g_ptr_array_add(answer->payloads, answer_payload(ctx, red, 0));
  g_ptr_array_add(answer->payloads, main_payload);
  if (rtx != NULL)
    g_ptr_array_add(answer->payloads, answer_payload(ctx, rtx, 0));
  answer->formats = NULL;

  answer_extensions(offer, answer, result);
  answer_simulcast(offer, answer, result);

  result->accepted = TRUE;
  result->direction = answer->direction;
  result->codec = chorus_sdp_payload_copy(main_payload);
  result->rtx_pt = rtx ? rtx->pt : -1;
  result->red_pt = red ? red->pt : -1;
  result->rtcp_rsize = offer->rtcp_rsize;
  sdp_media_collect_ssrcs(offer, result->ssrcs, result->rtx_ssrcs);
  if (offer->msid_stream != NULL) {
    result->msid_stream = g_strdup(offer->msid_stream);
    result->msid_track = g_strdup(offer->msid_track);
  } else if (offer->ssrcs->len > 0) {
    const ChorusSdpSsrc *first = g_ptr_array_index(offer->ssrcs, 0);
    result->msid_stream = g_strdup(first->msid_stream);
    result->msid_track = g_strdup(first->msid_track);
  }
  return answer;
}

static gboolean
in_offer_bundle(const ChorusSdpSession *offer, const char *mid)
{
  return offer->bundle != NULL && mid != NULL &&
         g_strv_contains((const char *const *)offer->bundle, mid);
}

/* Accepted m-lines must share one transport: all in the offer's BUNDLE
 * group, or a single one when the offer has no group. Returns the BUNDLE
 * group of the answer (accepted mids in the offer's group order). */
static char **
answer_bundle(const ChorusSdpSession *offer, ChorusSdpSession *answer,
              ChorusSdpNegotiation *negotiation, GError **error)
{
  GPtrArray *mids = g_ptr_array_new();
  guint accepted = chorus_sdp_negotiation_count_accepted(negotiation);
  if (offer->bundle == NULL) {
    if (accepted > 1) {
      g_ptr_array_free(mids, TRUE);
      sdp_set_error(error, "BUNDLE required: the offer has %u usable m-lines and no a=group:BUNDLE",
                    accepted);
      return NULL;
    }
    g_ptr_array_add(mids, NULL);
    return (char **)g_ptr_array_free(mids, FALSE);
  }
  for (guint i = 0; i < negotiation->media->len; i++) {
    ChorusSdpMediaResult *result = g_ptr_array_index(negotiation->media, i);
    if (result->accepted && !in_offer_bundle(offer, result->mid)) {
      ChorusSdpMedia *media = g_ptr_array_index(answer->media, i);
      const ChorusSdpMedia *offered = g_ptr_array_index(offer->media, i);
      g_ptr_array_index(answer->media, i) = NULL;
      chorus_sdp_media_free(media);
      ChorusSdpMediaResult *rejected = sdp_media_result_new(i, result->mid, result->kind);
      media = reject_media(offered, rejected, g_strdup("not in a=group:BUNDLE"));
      g_ptr_array_index(answer->media, i) = media;
      g_ptr_array_index(negotiation->media, i) = rejected;
      chorus_sdp_media_result_free(result);
    }
  }
  for (guint b = 0; offer->bundle[b]; b++) {
    const ChorusSdpMediaResult *result =
        chorus_sdp_negotiation_find_mid(negotiation, offer->bundle[b]);
    if (result != NULL && result->accepted)
      g_ptr_array_add(mids, g_strdup(result->mid));
  }
  g_ptr_array_add(mids, NULL);
  return (char **)g_ptr_array_free(mids, FALSE);
}

static char *
rejection_summary(const ChorusSdpNegotiation *negotiation)
{
  GString *summary = g_string_new(NULL);
  for (guint i = 0; i < negotiation->media->len && i < 4; i++) {
    const ChorusSdpMediaResult *result = g_ptr_array_index(negotiation->media, i);
    const ChorusSdpMedia *media = g_ptr_array_index(negotiation->remote->media, i);
    g_autofree char *label = sdp_media_label(media, i);
    g_string_append_printf(summary, "%s%s: %s", i ? "; " : "", label, result->reject_reason);
  }
  if (negotiation->media->len > 4)
    g_string_append(summary, "; ...");
  if (negotiation->media->len == 0)
    g_string_append(summary, "the offer has no m-line");
  return g_string_free(summary, FALSE);
}

ChorusSdpNegotiation *
chorus_sdp_negotiation_answer_offer(const char *offer_text, const ChorusSdpLocalParams *local,
                                    const ChorusSdpAnswerOptions *options, GError **error)
{
  g_return_val_if_fail(offer_text != NULL && local != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  AnswerContext ctx = {
      .local = local, .codecs = SUPPORTED_CODECS, .red = TRUE, .h264_max_level = 52};
  if (options != NULL) {
    if (options->codecs != 0)
      ctx.codecs = options->codecs & SUPPORTED_CODECS;
    ctx.red = !options->no_red && codec_allowed(&ctx, CHORUS_SDP_CODEC_RED);
    if (options->h264_max_level != 0)
      ctx.h264_max_level = options->h264_max_level;
  }
  if (!sdp_local_params_validate(local, ctx.fingerprint, error))
    return NULL;

  g_autoptr(ChorusSdpNegotiation) negotiation = sdp_negotiation_new();
  negotiation->remote = chorus_sdp_session_parse(offer_text, error);
  if (negotiation->remote == NULL)
    return NULL;
  const ChorusSdpSession *offer = negotiation->remote;
  if (offer->ice_lite && local->ice_lite) {
    sdp_set_error(error, "both sides are ice-lite: no one would run connectivity checks");
    return NULL;
  }

  g_autoptr(ChorusSdpSession) answer = chorus_sdp_session_new();
  answer->session_id = local->session_id;
  answer->session_version = local->session_version;
  answer->ice_lite = local->ice_lite;
  answer->extmap_allow_mixed = offer->extmap_allow_mixed;
  for (guint i = 0; i < offer->media->len; i++) {
    const ChorusSdpMedia *offered = g_ptr_array_index(offer->media, i);
    ChorusSdpMediaResult *result = sdp_media_result_new(i, offered->mid, offered->kind);
    g_ptr_array_add(answer->media, answer_media(&ctx, offered, result));
    g_ptr_array_add(negotiation->media, result);
  }
  if (chorus_sdp_negotiation_count_accepted(negotiation) == 0) {
    g_autofree char *summary = rejection_summary(negotiation);
    sdp_set_error(error, "no usable m-line: %s", summary);
    return NULL;
  }
  answer->bundle = answer_bundle(offer, answer, negotiation, error);
  if (answer->bundle == NULL)
    return NULL;
  if (chorus_sdp_negotiation_count_accepted(negotiation) == 0) {
    sdp_set_error(error, "no usable m-line in a=group:BUNDLE");
    return NULL;
  }

  /* The transport is the one of the first accepted m-line: the answerer's
   * BUNDLE tag, which is what aiortc uses (its m-lines differ in ICE
   * credentials); browsers use one set for all. */
  guint tag = 0;
  for (guint i = 0; i < negotiation->media->len; i++) {
    const ChorusSdpMediaResult *result = g_ptr_array_index(negotiation->media, i);
    if (result->accepted &&
        (answer->bundle[0] == NULL || g_strcmp0(result->mid, answer->bundle[0]) == 0)) {
      tag = i;
      break;
    }
  }
  if (!sdp_transport_fill(&negotiation->transport, offer, tag, FALSE, error))
    return NULL;
  ChorusSdpMedia *tag_media = g_ptr_array_index(answer->media, tag);
  for (guint i = 0; local->candidates && local->candidates[i]; i++)
    g_ptr_array_add(tag_media->candidates, g_strdup(local->candidates[i]));
  tag_media->end_of_candidates = local->end_of_candidates;

  negotiation->extmap_allow_mixed = answer->extmap_allow_mixed;
  negotiation->sdp = chorus_sdp_session_write(answer);
  return g_steal_pointer(&negotiation);
}
