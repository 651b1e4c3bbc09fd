/* SDP writer: ChorusSdpSession -> text, CRLF line ends, attributes in the
 * order browsers write them (transport, mid, extmaps, direction, msid, rtcp,
 * codecs, rids, SSRCs, candidates). */
#include <string.h>

#include "webrtc/sdp-private.h"
#include "webrtc/sdp.h"

static void
write_formats(GString *out, const ChorusSdpMedia *media)
{
  if (media->payloads->len == 0) {
    g_string_append_printf(out, " %s", media->formats && *media->formats ? media->formats : "0");
    return;
  }
  for (guint i = 0; i < media->payloads->len; i++) {
    const ChorusSdpPayload *payload = g_ptr_array_index(media->payloads, i);
    g_string_append_printf(out, " %u", payload->pt);
  }
}

static void
write_feedback(GString *out, guint pt, guint32 feedback)
{
  static const struct {
    guint32 flag;
    const char *text;
  } names[] = {
      {CHORUS_SDP_FB_GOOG_REMB, "goog-remb"}, {CHORUS_SDP_FB_TRANSPORT_CC, "transport-cc"},
      {CHORUS_SDP_FB_CCM_FIR, "ccm fir"},     {CHORUS_SDP_FB_NACK, "nack"},
      {CHORUS_SDP_FB_NACK_PLI, "nack pli"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(names); i++)
    if (feedback & names[i].flag)
      g_string_append_printf(out, "a=rtcp-fb:%u %s\r\n", pt, names[i].text);
}

static void
write_payload(GString *out, const ChorusSdpPayload *payload)
{
  if (payload->name != NULL) {
    g_string_append_printf(out, "a=rtpmap:%u %s/%u", payload->pt, payload->name,
                           payload->clock_rate);
    if (payload->channels > 0)
      g_string_append_printf(out, "/%u", payload->channels);
    g_string_append(out, "\r\n");
  }
  write_feedback(out, payload->pt, payload->feedback);
  if (payload->fmtp != NULL)
    g_string_append_printf(out, "a=fmtp:%u %s\r\n", payload->pt, payload->fmtp);
}

static void
write_simulcast(GString *out, const ChorusSdpMedia *media)
{
  const char *dir_word =
      media->simulcast_direction == CHORUS_SDP_DIRECTION_RECVONLY ? "recv" : "send";
  for (guint i = 0; i < media->rids->len; i++) {
    const ChorusSdpRid *rid = g_ptr_array_index(media->rids, i);
    g_string_append_printf(out, "a=rid:%s %s%s%s\r\n", rid->id,
                           rid->direction == CHORUS_SDP_DIRECTION_RECVONLY ? "recv" : "send",
                           rid->params ? " " : "", rid->params ? rid->params : "");
  }
  if (media->simulcast->len == 0)
    return;
  g_string_append_printf(out, "a=simulcast:%s ", dir_word);
  for (guint i = 0; i < media->simulcast->len; i++) {
    const ChorusSdpSimulcastLayer *layer = g_ptr_array_index(media->simulcast, i);
    g_string_append_printf(out, "%s%s%s", i ? ";" : "", layer->paused ? "~" : "", layer->rid);
  }
  g_string_append(out, "\r\n");
}

static void
write_ssrcs(GString *out, const ChorusSdpMedia *media)
{
  for (guint i = 0; i < media->ssrc_groups->len; i++) {
    const ChorusSdpSsrcGroup *group = g_ptr_array_index(media->ssrc_groups, i);
    g_string_append_printf(out, "a=ssrc-group:%s", group->semantics);
    for (guint j = 0; j < group->ssrcs->len; j++)
      g_string_append_printf(out, " %u", g_array_index(group->ssrcs, guint32, j));
    g_string_append(out, "\r\n");
  }
  for (guint i = 0; i < media->ssrcs->len; i++) {
    const ChorusSdpSsrc *ssrc = g_ptr_array_index(media->ssrcs, i);
    if (ssrc->cname != NULL)
      g_string_append_printf(out, "a=ssrc:%u cname:%s\r\n", ssrc->ssrc, ssrc->cname);
    if (ssrc->msid_stream != NULL)
      g_string_append_printf(out, "a=ssrc:%u msid:%s%s%s\r\n", ssrc->ssrc, ssrc->msid_stream,
                             ssrc->msid_track ? " " : "", ssrc->msid_track ? ssrc->msid_track : "");
    if (ssrc->cname == NULL && ssrc->msid_stream == NULL)
      g_string_append_printf(out, "a=ssrc:%u\r\n", ssrc->ssrc);
  }
}

static void
write_media(GString *out, const ChorusSdpMedia *media)
{
  g_string_append_printf(out, "m=%s %u %s", media->media, media->port, media->proto);
  write_formats(out, media);
  g_string_append(out, "\r\nc=IN IP4 0.0.0.0\r\n");

  /* A rejected m-line carries nothing but its mid (JSEP 5.3.1). */
  if (!chorus_sdp_media_is_used(media)) {
    if (media->mid != NULL)
      g_string_append_printf(out, "a=mid:%s\r\n", media->mid);
    return;
  }

  if (media->ice_ufrag != NULL)
    g_string_append_printf(out, "a=ice-ufrag:%s\r\n", media->ice_ufrag);
  if (media->ice_pwd != NULL)
    g_string_append_printf(out, "a=ice-pwd:%s\r\n", media->ice_pwd);
  if (media->ice_trickle)
    g_string_append(out, "a=ice-options:trickle\r\n");
  if (media->has_fingerprint) {
    char fingerprint[96];
    sdp_fingerprint_format(media->fingerprint_sha256, fingerprint);
    g_string_append_printf(out, "a=fingerprint:sha-256 %s\r\n", fingerprint);
  }
  if (media->setup != CHORUS_SDP_SETUP_UNSET)
    g_string_append_printf(out, "a=setup:%s\r\n", chorus_sdp_setup_to_string(media->setup));
  if (media->mid != NULL)
    g_string_append_printf(out, "a=mid:%s\r\n", media->mid);
  for (guint i = 0; i < media->extmaps->len; i++) {
    const ChorusSdpExtmap *extmap = g_ptr_array_index(media->extmaps, i);
    g_string_append_printf(out, "a=extmap:%u", extmap->id);
    if (extmap->direction != CHORUS_SDP_DIRECTION_SENDRECV)
      g_string_append_printf(out, "/%s", chorus_sdp_direction_to_string(extmap->direction));
    g_string_append_printf(out, " %s\r\n", extmap->uri);
  }
  g_string_append_printf(out, "a=%s\r\n", chorus_sdp_direction_to_string(media->direction));
  if (media->msid_stream != NULL)
    g_string_append_printf(out, "a=msid:%s%s%s\r\n", media->msid_stream,
                           media->msid_track ? " " : "",
                           media->msid_track ? media->msid_track : "");
  if (media->rtcp_mux)
    g_string_append(out, "a=rtcp-mux\r\n");
  if (media->rtcp_rsize)
    g_string_append(out, "a=rtcp-rsize\r\n");
  if (media->bundle_only)
    g_string_append(out, "a=bundle-only\r\n");
  for (guint i = 0; i < media->payloads->len; i++)
    write_payload(out, g_ptr_array_index(media->payloads, i));
  write_simulcast(out, media);
  write_ssrcs(out, media);
  if (media->sctp_port != 0)
    g_string_append_printf(out, "a=sctp-port:%u\r\n", media->sctp_port);
  for (guint i = 0; i < media->candidates->len; i++)
    g_string_append_printf(out, "a=%s\r\n", (const char *)g_ptr_array_index(media->candidates, i));
  if (media->end_of_candidates)
    g_string_append(out, "a=end-of-candidates\r\n");
}

char *
chorus_sdp_session_write(const ChorusSdpSession *session)
{
  g_return_val_if_fail(session != NULL, NULL);
  GString *out = g_string_sized_new(2048);
  g_string_append_printf(
      out, "v=0\r\no=- %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " IN IP4 127.0.0.1\r\n",
      session->session_id, session->session_version);
  g_string_append(out, "s=-\r\nt=0 0\r\n");
  if (session->ice_lite)
    g_string_append(out, "a=ice-lite\r\n");
  if (session->bundle != NULL && session->bundle[0] != NULL) {
    g_string_append(out, "a=group:BUNDLE");
    for (guint i = 0; session->bundle[i]; i++)
      g_string_append_printf(out, " %s", session->bundle[i]);
    g_string_append(out, "\r\n");
  }
  if (session->extmap_allow_mixed)
    g_string_append(out, "a=extmap-allow-mixed\r\n");
  gboolean any_msid = FALSE;
  for (guint i = 0; i < session->media->len && !any_msid; i++) {
    const ChorusSdpMedia *media = g_ptr_array_index(session->media, i);
    any_msid = media->msid_stream != NULL && chorus_sdp_media_is_used(media);
  }
  if (any_msid)
    g_string_append(out, "a=msid-semantic:WMS *\r\n");
  for (guint i = 0; i < session->media->len; i++)
    write_media(out, g_ptr_array_index(session->media, i));
  return g_string_free(out, FALSE);
}
