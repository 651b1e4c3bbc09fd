/* SDP parser: text -> ChorusSdpSession. Trusts nothing: every limit of
 * sdp.h is checked before use, every number is range-checked, and the
 * structure WebRTC needs (mids, BUNDLE, rtcp-mux, ICE and DTLS parameters)
 * is validated after the lines are read. */
#include <string.h>

#include "core/error.h"
#include "webrtc/sdp-private.h"
#include "webrtc/sdp.h"

/* Session-level values that m-lines inherit. */
typedef struct {
  char *ice_ufrag;
  char *ice_pwd;
  gboolean ice_trickle;
  gboolean has_fingerprint;
  gboolean other_fingerprint; /* a fingerprint with another hash was seen */
  guint8 fingerprint[32];
  ChorusSdpSetup setup;
} TransportDefaults;

typedef struct {
  ChorusSdpSession *session;
  TransportDefaults defaults;
  ChorusSdpMedia *media; /* current m-line, borrowed from session */
  guint media_index;
  guint line_no;
  gboolean saw_version;
  gboolean saw_origin;
  /* Per m-line: which attributes the m-line itself set, for inheritance. */
  GArray *own_fingerprint;   /* gboolean per m-line */
  GArray *other_fingerprint; /* gboolean per m-line */
  GArray *own_setup;
  GArray *own_trickle;
  GArray *wildcard_feedback; /* guint32 per m-line, from a=rtcp-fb:* */
} Parser;

static void
parser_clear(Parser *parser)
{
  g_free(parser->defaults.ice_ufrag);
  g_free(parser->defaults.ice_pwd);
  chorus_sdp_session_free(parser->session);
  g_array_unref(parser->own_fingerprint);
  g_array_unref(parser->other_fingerprint);
  g_array_unref(parser->own_setup);
  g_array_unref(parser->own_trickle);
  g_array_unref(parser->wildcard_feedback);
}

/* "line 12: malformed a=rtpmap ("111 opus")": quotes at most 40 bytes of
 * the offending value, escaped, so that garbage stays readable. */
static void
line_error(Parser *parser, GError **error, const char *what, const char *value)
{
  if (value == NULL) {
    sdp_set_error(error, "line %u: %s", parser->line_no, what);
    return;
  }
  g_autofree char *cut = g_strndup(value, 40);
  g_autofree char *escaped = g_strescape(cut, NULL);
  sdp_set_error(error, "line %u: %s (\"%s%s\")", parser->line_no, what, escaped,
                strlen(value) > 40 ? "..." : "");
}

/* ---- attributes valid at both levels ---------------------------------------- */

static gboolean
parse_fingerprint(Parser *parser, const char *value, gboolean *has, gboolean *other, guint8 out[32],
                  GError **error)
{
  g_auto(GStrv) tok = sdp_split_ws(value);
  if (g_strv_length(tok) != 2) {
    line_error(parser, error, "malformed a=fingerprint", value);
    return FALSE;
  }
  if (g_ascii_strcasecmp(tok[0], "sha-256") != 0) {
    *other = TRUE; /* sha-1 etc.: allowed next to a sha-256 one, never used */
    return TRUE;
  }
  if (!sdp_fingerprint_parse(tok[1], out)) {
    line_error(parser, error, "malformed sha-256 a=fingerprint", value);
    return FALSE;
  }
  *has = TRUE;
  return TRUE;
}

static gboolean
parse_setup(Parser *parser, const char *value, ChorusSdpSetup *out, GError **error)
{
  static const char *const names[] = {NULL, "actpass", "active", "passive", "holdconn"};
  for (guint i = 1; i < G_N_ELEMENTS(names); i++) {
    if (strcmp(value, names[i]) == 0) {
      *out = (ChorusSdpSetup)i;
      return TRUE;
    }
  }
  line_error(parser, error, "unknown a=setup", value);
  return FALSE;
}

static gboolean
parse_ice_options(const char *value)
{
  g_auto(GStrv) tok = sdp_split_ws(value);
  for (guint i = 0; tok[i]; i++)
    if (strcmp(tok[i], "trickle") == 0)
      return TRUE;
  return FALSE;
}

static gboolean
parse_ice_credential(Parser *parser, const char *name, const char *value, char **out,
                     GError **error)
{
  gboolean ufrag = strcmp(name, "ice-ufrag") == 0;
  if (!sdp_ice_chars_valid(value, ufrag ? 4 : 22, 256)) {
    g_autofree char *what = g_strdup_printf("malformed a=%s", name);
    line_error(parser, error, what, value);
    return FALSE;
  }
  if (*out != NULL && strcmp(*out, value) != 0) {
    g_autofree char *what = g_strdup_printf("conflicting a=%s", name);
    line_error(parser, error, what, value);
    return FALSE;
  }
  g_free(*out);
  *out = g_strdup(value);
  return TRUE;
}

/* ---- session level ---------------------------------------------------------- */

static gboolean
parse_origin(Parser *parser, const char *value, GError **error)
{
  g_auto(GStrv) tok = sdp_split_ws(value);
  guint64 id, version;
  if (g_strv_length(tok) != 6 || !sdp_parse_uint(tok[1], G_MAXUINT64, &id) ||
      !sdp_parse_uint(tok[2], G_MAXUINT64, &version) || strcmp(tok[3], "IN") != 0) {
    line_error(parser, error, "malformed o= line", value);
    return FALSE;
  }
  parser->session->session_id = id;
  parser->session->session_version = version;
  parser->saw_origin = TRUE;
  return TRUE;
}

static gboolean
parse_group(Parser *parser, const char *value, GError **error)
{
  g_auto(GStrv) tok = sdp_split_ws(value);
  if (tok[0] == NULL) {
    line_error(parser, error, "malformed a=group", value);
    return FALSE;
  }
  if (strcmp(tok[0], "BUNDLE") != 0 || parser->session->bundle != NULL)
    return TRUE; /* other semantics (LS) and further BUNDLE groups are not used */
  guint n = g_strv_length(tok) - 1;
  if (n > CHORUS_SDP_MAX_MEDIA) {
    line_error(parser, error, "a=group:BUNDLE names too many mids", NULL);
    return FALSE;
  }
  char **mids = g_new0(char *, n + 1);
  for (guint i = 0; i < n; i++) {
    mids[i] = g_strdup(tok[i + 1]);
    if (!sdp_token_valid(mids[i], CHORUS_SDP_MAX_ID_CHARS)) {
      g_strfreev(mids);
      line_error(parser, error, "malformed mid in a=group:BUNDLE", tok[i + 1]);
      return FALSE;
    }
  }
  parser->session->bundle = mids;
  return TRUE;
}

static gboolean
parse_session_attribute(Parser *parser, const char *name, const char *value, GError **error)
{
  TransportDefaults *defaults = &parser->defaults;
  if (strcmp(name, "group") == 0)
    return value ? parse_group(parser, value, error) : TRUE;
  if (strcmp(name, "ice-lite") == 0) {
    parser->session->ice_lite = TRUE;
    return TRUE;
  }
  if (strcmp(name, "extmap-allow-mixed") == 0) {
    parser->session->extmap_allow_mixed = TRUE;
    return TRUE;
  }
  if (value == NULL)
    return TRUE;
  if (strcmp(name, "ice-ufrag") == 0)
    return parse_ice_credential(parser, name, value, &defaults->ice_ufrag, error);
  if (strcmp(name, "ice-pwd") == 0)
    return parse_ice_credential(parser, name, value, &defaults->ice_pwd, error);
  if (strcmp(name, "ice-options") == 0) {
    defaults->ice_trickle = parse_ice_options(value);
    return TRUE;
  }
  if (strcmp(name, "fingerprint") == 0)
    return parse_fingerprint(parser, value, &defaults->has_fingerprint,
                             &defaults->other_fingerprint, defaults->fingerprint, error);
  if (strcmp(name, "setup") == 0)
    return parse_setup(parser, value, &defaults->setup, error);
  return TRUE;
}

/* ---- m= line ------------------------------------------------------------------ */

static ChorusSdpKind
kind_from_media(const char *media)
{
  if (strcmp(media, "audio") == 0)
    return CHORUS_SDP_KIND_AUDIO;
  if (strcmp(media, "video") == 0)
    return CHORUS_SDP_KIND_VIDEO;
  if (strcmp(media, "application") == 0)
    return CHORUS_SDP_KIND_APPLICATION;
  return CHORUS_SDP_KIND_OTHER;
}

static gboolean
proto_is_rtp(const char *proto)
{
  return strstr(proto, "RTP/") != NULL;
}

static gboolean
parse_media_line(Parser *parser, const char *value, GError **error)
{
  if (parser->session->media->len >= CHORUS_SDP_MAX_MEDIA) {
    sdp_set_error(error, "more than %d m-lines", CHORUS_SDP_MAX_MEDIA);
    return FALSE;
  }
  g_auto(GStrv) tok = sdp_split_ws(value);
  guint n = g_strv_length(tok);
  if (n < 4 || !sdp_token_valid(tok[0], 32) || !sdp_visible_valid(tok[2], 64)) {
    line_error(parser, error, "malformed m= line", value);
    return FALSE;
  }
  /* "<port>" or "<port>/<count>" */
  char *slash = strchr(tok[1], '/');
  if (slash != NULL)
    *slash = '\0';
  guint64 port;
  if (!sdp_parse_uint(tok[1], 65535, &port)) {
    line_error(parser, error, "malformed port in m= line", value);
    return FALSE;
  }

  ChorusSdpMedia *media = chorus_sdp_media_new(kind_from_media(tok[0]));
  g_free(media->media);
  media->media = g_strdup(tok[0]);
  media->port = (guint16)port;
  media->proto = g_strdup(tok[2]);
  media->formats = g_strjoinv(" ", tok + 3);
  g_ptr_array_add(parser->session->media, media);
  parser->media = media;
  parser->media_index = parser->session->media->len - 1;

  gboolean f = FALSE;
  guint32 zero = 0;
  g_array_append_val(parser->own_fingerprint, f);
  g_array_append_val(parser->other_fingerprint, f);
  g_array_append_val(parser->own_setup, f);
  g_array_append_val(parser->own_trickle, f);
  g_array_append_val(parser->wildcard_feedback, zero);

  if (!proto_is_rtp(media->proto))
    return TRUE;
  for (guint i = 3; i < n; i++) {
    guint64 pt;
    if (!sdp_parse_uint(tok[i], 127, &pt)) {
      line_error(parser, error, "malformed payload type in m= line", tok[i]);
      return FALSE;
    }
    if (chorus_sdp_media_find_payload(media, (guint)pt) != NULL) {
      line_error(parser, error, "payload type listed twice in m= line", tok[i]);
      return FALSE;
    }
    g_ptr_array_add(media->payloads, chorus_sdp_payload_new((guint8)pt, NULL, 0, 0, NULL));
  }
  return TRUE;
}

/* ---- media level ------------------------------------------------------------ */

/* Splits "<pt> <rest>" and finds the payload; *payload is NULL (and TRUE is
 * returned) for a payload type the m= line does not list, which is ignored. */
static gboolean
split_pt(Parser *parser, const char *value, const char *what, ChorusSdpPayload **payload,
         const char **rest, GError **error)
{
  const char *space = strchr(value, ' ');
  if (space == NULL) {
    line_error(parser, error, what, value);
    return FALSE;
  }
  g_autofree char *pt_text = g_strndup(value, (gsize)(space - value));
  guint64 pt;
  if (!sdp_parse_uint(pt_text, 127, &pt)) {
    line_error(parser, error, what, value);
    return FALSE;
  }
  *payload = (ChorusSdpPayload *)chorus_sdp_media_find_payload(parser->media, (guint)pt);
  while (*space == ' ')
    space++;
  *rest = space;
  return TRUE;
}

static gboolean
parse_rtpmap(Parser *parser, const char *value, GError **error)
{
  ChorusSdpPayload *payload;
  const char *rest;
  if (!split_pt(parser, value, "malformed a=rtpmap", &payload, &rest, error))
    return FALSE;
  g_auto(GStrv) parts = g_strsplit(rest, "/", -1);
  guint n = g_strv_length(parts);
  guint64 clock, channels = 0;
  if (n < 2 || n > 3 || !sdp_token_valid(parts[0], 32) ||
      !sdp_parse_uint(parts[1], G_MAXUINT32, &clock) || clock == 0 ||
      (n == 3 && (!sdp_parse_uint(parts[2], 255, &channels) || channels == 0))) {
    line_error(parser, error, "malformed a=rtpmap", value);
    return FALSE;
  }
  if (payload == NULL)
    return TRUE;
  if (payload->name != NULL) {
    line_error(parser, error, "second a=rtpmap for a payload type", value);
    return FALSE;
  }
  payload->name = g_strdup(parts[0]);
  payload->clock_rate = (guint32)clock;
  payload->channels = (guint8)channels;
  payload->id = chorus_sdp_codec_id_from_name(payload->name, payload->clock_rate);
  return TRUE;
}

static gboolean
parse_fmtp(Parser *parser, const char *value, GError **error)
{
  ChorusSdpPayload *payload;
  const char *rest;
  if (!split_pt(parser, value, "malformed a=fmtp", &payload, &rest, error))
    return FALSE;
  if (*rest == '\0' || strlen(rest) > 512) {
    line_error(parser, error, "malformed a=fmtp", value);
    return FALSE;
  }
  if (payload == NULL)
    return TRUE;
  if (payload->fmtp != NULL) {
    line_error(parser, error, "second a=fmtp for a payload type", value);
    return FALSE;
  }
  payload->fmtp = g_strstrip(g_strdup(rest));
  return TRUE;
}

static guint32
feedback_from_text(const char *type, const char *param)
{
  if (strcmp(type, "nack") == 0 && param == NULL)
    return CHORUS_SDP_FB_NACK;
  if (strcmp(type, "nack") == 0 && strcmp(param, "pli") == 0)
    return CHORUS_SDP_FB_NACK_PLI;
  if (strcmp(type, "ccm") == 0 && param != NULL && strcmp(param, "fir") == 0)
    return CHORUS_SDP_FB_CCM_FIR;
  if (strcmp(type, "goog-remb") == 0 && param == NULL)
    return CHORUS_SDP_FB_GOOG_REMB;
  if (strcmp(type, "transport-cc") == 0 && param == NULL)
    return CHORUS_SDP_FB_TRANSPORT_CC;
  return 0;
}

static gboolean
parse_rtcp_fb(Parser *parser, const char *value, GError **error)
{
  g_auto(GStrv) tok = sdp_split_ws(value);
  guint n = g_strv_length(tok);
  if (n < 2) {
    line_error(parser, error, "malformed a=rtcp-fb", value);
    return FALSE;
  }
  /* "ccm tmmbr smaxpr=120" and the like: known kinds have at most a param. */
  guint32 flag = n <= 3 ? feedback_from_text(tok[1], n == 3 ? tok[2] : NULL) : 0;
  if (strcmp(tok[0], "*") == 0) {
    g_array_index(parser->wildcard_feedback, guint32, parser->media_index) |= flag;
    return TRUE;
  }
  guint64 pt;
  if (!sdp_parse_uint(tok[0], 127, &pt)) {
    line_error(parser, error, "malformed a=rtcp-fb", value);
    return FALSE;
  }
  ChorusSdpPayload *payload =
      (ChorusSdpPayload *)chorus_sdp_media_find_payload(parser->media, (guint)pt);
  if (payload != NULL)
    payload->feedback |= flag;
  return TRUE;
}

static gboolean
parse_direction_word(const char *word, ChorusSdpDirection *out)
{
  static const char *const names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
  for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
    if (strcmp(word, names[i]) == 0) {
      *out = (ChorusSdpDirection)i;
      return TRUE;
    }
  }
  return FALSE;
}

static gboolean
parse_extmap(Parser *parser, const char *value, GError **error)
{
  g_auto(GStrv) tok = sdp_split_ws(value);
  if (g_strv_length(tok) < 2 || strlen(tok[1]) > 256 || !sdp_visible_valid(tok[1], 256)) {
    line_error(parser, error, "malformed a=extmap", value);
    return FALSE;
  }
  ChorusSdpDirection direction = CHORUS_SDP_DIRECTION_SENDRECV;
  char *slash = strchr(tok[0], '/');
  if (slash != NULL) {
    *slash = '\0';
    if (!parse_direction_word(slash + 1, &direction)) {
      line_error(parser, error, "malformed a=extmap direction", value);
      return FALSE;
    }
  }
  guint64 id;
  if (!sdp_parse_uint(tok[0], 255, &id) || id == 0) {
    line_error(parser, error, "a=extmap id out of range 1..255", value);
    return FALSE;
  }
  GPtrArray *extmaps = parser->media->extmaps;
  if (extmaps->len >= 64) {
    line_error(parser, error, "too many a=extmap lines", NULL);
    return FALSE;
  }
  for (guint i = 0; i < extmaps->len; i++) {
    const ChorusSdpExtmap *other = g_ptr_array_index(extmaps, i);
    if (other->id == id || strcmp(other->uri, tok[1]) == 0) {
      line_error(parser, error, "a=extmap id or URI used twice in one m-line", value);
      return FALSE;
    }
  }
  ChorusSdpExtmap *extmap = g_new0(ChorusSdpExtmap, 1);
  extmap->id = (guint8)id;
  extmap->direction = direction;
  extmap->uri = g_strdup(tok[1]);
  g_ptr_array_add(extmaps, extmap);
  return TRUE;
}

static gboolean
parse_msid(Parser *parser, const char *value, GError **error)
{
  g_auto(GStrv) tok = sdp_split_ws(value);
  guint n = g_strv_length(tok);
  if (n < 1 || n > 2 || !sdp_visible_valid(tok[0], CHORUS_SDP_MAX_ID_CHARS) ||
      (n == 2 && !sdp_visible_valid(tok[1], CHORUS_SDP_MAX_ID_CHARS))) {
    line_error(parser, error, "malformed a=msid", value);
    return FALSE;
  }
  if (parser->media->msid_stream != NULL)
    return TRUE; /* several streams per track: the first one names it */
  parser->media->msid_stream = g_strdup(tok[0]);
  parser->media->msid_track = g_strdup(tok[1]);
  return TRUE;
}

static gboolean
parse_candidate(Parser *parser, const char *value, GError **error)
{
  ChorusSdpCandidate candidate;
  g_autoptr(GError) local_error = NULL;
  if (!chorus_sdp_candidate_parse(value, &candidate, &local_error)) {
    line_error(parser, error, local_error->message, value);
    return FALSE;
  }
  if (parser->media->candidates->len >= CHORUS_SDP_MAX_CANDIDATES) {
    line_error(parser, error, "too many a=candidate lines", NULL);
    return FALSE;
  }
  g_ptr_array_add(parser->media->candidates, g_strconcat("candidate:", value, NULL));
  return TRUE;
}

static gboolean
parse_rid(Parser *parser, const char *value, GError **error)
{
  g_auto(GStrv) tok = sdp_split_ws(value);
  guint n = g_strv_length(tok);
  if (n < 2 || n > 3 || !sdp_rid_valid(tok[0]) ||
      (strcmp(tok[1], "send") != 0 && strcmp(tok[1], "recv") != 0)) {
    line_error(parser, error, "malformed a=rid", value);
    return FALSE;
  }
  GPtrArray *rids = parser->media->rids;
  if (rids->len >= CHORUS_SDP_MAX_RIDS) {
    line_error(parser, error, "too many a=rid lines", NULL);
    return FALSE;
  }
  for (guint i = 0; i < rids->len; i++) {
    const ChorusSdpRid *other = g_ptr_array_index(rids, i);
    if (strcmp(other->id, tok[0]) == 0) {
      line_error(parser, error, "a=rid defined twice", value);
      return FALSE;
    }
  }
  ChorusSdpRid *rid = g_new0(ChorusSdpRid, 1);
  rid->id = g_strdup(tok[0]);
  rid->direction =
      strcmp(tok[1], "send") == 0 ? CHORUS_SDP_DIRECTION_SENDONLY : CHORUS_SDP_DIRECTION_RECVONLY;
  rid->params = g_strdup(tok[2]);
  g_ptr_array_add(rids, rid);
  return TRUE;
}

/* a=simulcast:send q;~h;f recv x  - streams separated by ';', alternatives
 * by ',' (the first is kept), '~' marks a paused stream. The old draft's
 * "rid=" prefix is tolerated. Only the first direction given is kept. */
static gboolean
parse_simulcast(Parser *parser, const char *value, GError **error)
{
  g_auto(GStrv) tok = sdp_split_ws(value);
  guint n = g_strv_length(tok);
  guint i = 0;
  if (n == 0 || parser->media->simulcast->len > 0) {
    line_error(parser, error, "malformed or repeated a=simulcast", value);
    return FALSE;
  }
  if (strcmp(tok[0], "send") != 0 && strcmp(tok[0], "recv") != 0) {
    line_error(parser, error, "malformed a=simulcast", value);
    return FALSE;
  }
  if (n < 2) {
    line_error(parser, error, "a=simulcast without streams", value);
    return FALSE;
  }
  parser->media->simulcast_direction =
      strcmp(tok[i], "send") == 0 ? CHORUS_SDP_DIRECTION_SENDONLY : CHORUS_SDP_DIRECTION_RECVONLY;
  const char *list = tok[i + 1];
  if (g_str_has_prefix(list, "rid="))
    list += 4;
  g_auto(GStrv) streams = g_strsplit(list, ";", -1);
  for (guint s = 0; streams[s]; s++) {
    g_auto(GStrv) alternatives = g_strsplit(streams[s], ",", -1);
    const char *rid = alternatives[0];
    gboolean paused = FALSE;
    if (rid != NULL && rid[0] == '~') {
      paused = TRUE;
      rid++;
    }
    if (rid == NULL || !sdp_rid_valid(rid)) {
      line_error(parser, error, "malformed rid in a=simulcast", value);
      return FALSE;
    }
    if (parser->media->simulcast->len >= CHORUS_SDP_MAX_RIDS) {
      line_error(parser, error, "too many streams in a=simulcast", NULL);
      return FALSE;
    }
    for (guint l = 0; l < parser->media->simulcast->len; l++) {
      const ChorusSdpSimulcastLayer *other = g_ptr_array_index(parser->media->simulcast, l);
      if (strcmp(other->rid, rid) == 0) {
        line_error(parser, error, "rid named twice in a=simulcast", value);
        return FALSE;
      }
    }
    ChorusSdpSimulcastLayer *layer = g_new0(ChorusSdpSimulcastLayer, 1);
    layer->rid = g_strdup(rid);
    layer->paused = paused;
    g_ptr_array_add(parser->media->simulcast, layer);
  }
  return TRUE;
}

static ChorusSdpSsrc *
ssrc_get(Parser *parser, guint32 ssrc_value, GError **error)
{
  ChorusSdpSsrc *ssrc = (ChorusSdpSsrc *)chorus_sdp_media_find_ssrc(parser->media, ssrc_value);
  if (ssrc != NULL)
    return ssrc;
  if (parser->media->ssrcs->len >= CHORUS_SDP_MAX_SSRCS) {
    line_error(parser, error, "too many SSRCs in one m-line", NULL);
    return NULL;
  }
  ssrc = g_new0(ChorusSdpSsrc, 1);
  ssrc->ssrc = ssrc_value;
  g_ptr_array_add(parser->media->ssrcs, ssrc);
  return ssrc;
}

static gboolean
parse_ssrc(Parser *parser, const char *value, GError **error)
{
  const char *space = strchr(value, ' ');
  g_autofree char *number = space ? g_strndup(value, (gsize)(space - value)) : g_strdup(value);
  guint64 ssrc_value;
  if (!sdp_parse_uint(number, G_MAXUINT32, &ssrc_value)) {
    line_error(parser, error, "malformed a=ssrc", value);
    return FALSE;
  }
  ChorusSdpSsrc *ssrc = ssrc_get(parser, (guint32)ssrc_value, error);
  if (ssrc == NULL)
    return FALSE;
  if (space == NULL)
    return TRUE;
  const char *attribute = space + 1;
  if (g_str_has_prefix(attribute, "cname:")) {
    const char *cname = attribute + strlen("cname:");
    if (!sdp_visible_valid(cname, 255)) {
      line_error(parser, error, "malformed a=ssrc cname", value);
      return FALSE;
    }
    g_free(ssrc->cname);
    ssrc->cname = g_strdup(cname);
  } else if (g_str_has_prefix(attribute, "msid:")) {
    g_auto(GStrv) tok = sdp_split_ws(attribute + strlen("msid:"));
    guint n = g_strv_length(tok);
    if (n < 1 || n > 2 || !sdp_visible_valid(tok[0], CHORUS_SDP_MAX_ID_CHARS) ||
        (n == 2 && !sdp_visible_valid(tok[1], CHORUS_SDP_MAX_ID_CHARS))) {
      line_error(parser, error, "malformed a=ssrc msid", value);
      return FALSE;
    }
    g_free(ssrc->msid_stream);
    g_free(ssrc->msid_track);
    ssrc->msid_stream = g_strdup(tok[0]);
    ssrc->msid_track = g_strdup(tok[1]);
  }
  return TRUE;
}

static gboolean
parse_ssrc_group(Parser *parser, const char *value, GError **error)
{
  g_auto(GStrv) tok = sdp_split_ws(value);
  guint n = g_strv_length(tok);
  if (n < 2 || n > 9 || !sdp_token_valid(tok[0], 16)) {
    line_error(parser, error, "malformed a=ssrc-group", value);
    return FALSE;
  }
  if (parser->media->ssrc_groups->len >= 16) {
    line_error(parser, error, "too many a=ssrc-group lines", NULL);
    return FALSE;
  }
  GArray *ssrcs = g_array_new(FALSE, FALSE, sizeof(guint32));
  for (guint i = 1; i < n; i++) {
    guint64 ssrc;
    if (!sdp_parse_uint(tok[i], G_MAXUINT32, &ssrc)) {
      g_array_unref(ssrcs);
      line_error(parser, error, "malformed a=ssrc-group", value);
      return FALSE;
    }
    guint32 ssrc32 = (guint32)ssrc;
    g_array_append_val(ssrcs, ssrc32);
  }
  ChorusSdpSsrcGroup *group = g_new0(ChorusSdpSsrcGroup, 1);
  group->semantics = g_strdup(tok[0]);
  group->ssrcs = ssrcs;
  g_ptr_array_add(parser->media->ssrc_groups, group);
  return TRUE;
}

static gboolean
parse_media_attribute(Parser *parser, const char *name, const char *value, GError **error)
{
  ChorusSdpMedia *media = parser->media;
  guint index = parser->media_index;
  ChorusSdpDirection direction;

  if (parse_direction_word(name, &direction)) {
    media->direction = direction;
    return TRUE;
  }
  if (strcmp(name, "rtcp-mux") == 0) {
    media->rtcp_mux = TRUE;
    return TRUE;
  }
  if (strcmp(name, "rtcp-rsize") == 0) {
    media->rtcp_rsize = TRUE;
    return TRUE;
  }
  if (strcmp(name, "bundle-only") == 0) {
    media->bundle_only = TRUE;
    return TRUE;
  }
  if (strcmp(name, "end-of-candidates") == 0) {
    media->end_of_candidates = TRUE;
    return TRUE;
  }
  if (strcmp(name, "extmap-allow-mixed") == 0) {
    parser->session->extmap_allow_mixed = TRUE;
    return TRUE;
  }
  if (value == NULL)
    return TRUE; /* unknown flag attribute */

  if (strcmp(name, "mid") == 0) {
    if (!sdp_token_valid(value, CHORUS_SDP_MAX_ID_CHARS) || media->mid != NULL) {
      line_error(parser, error, "malformed or repeated a=mid", value);
      return FALSE;
    }
    media->mid = g_strdup(value);
    return TRUE;
  }
  if (strcmp(name, "ice-ufrag") == 0)
    return parse_ice_credential(parser, name, value, &media->ice_ufrag, error);
  if (strcmp(name, "ice-pwd") == 0)
    return parse_ice_credential(parser, name, value, &media->ice_pwd, error);
  if (strcmp(name, "ice-options") == 0) {
    media->ice_trickle = parse_ice_options(value);
    g_array_index(parser->own_trickle, gboolean, index) = TRUE;
    return TRUE;
  }
  if (strcmp(name, "fingerprint") == 0)
    return parse_fingerprint(parser, value,
                             &g_array_index(parser->own_fingerprint, gboolean, index),
                             &g_array_index(parser->other_fingerprint, gboolean, index),
                             media->fingerprint_sha256, error);
  if (strcmp(name, "setup") == 0) {
    g_array_index(parser->own_setup, gboolean, index) = TRUE;
    return parse_setup(parser, value, &media->setup, error);
  }
  if (strcmp(name, "candidate") == 0)
    return parse_candidate(parser, value, error);
  if (strcmp(name, "msid") == 0)
    return parse_msid(parser, value, error);
  if (strcmp(name, "rtpmap") == 0)
    return parse_rtpmap(parser, value, error);
  if (strcmp(name, "fmtp") == 0)
    return parse_fmtp(parser, value, error);
  if (strcmp(name, "rtcp-fb") == 0)
    return parse_rtcp_fb(parser, value, error);
  if (strcmp(name, "extmap") == 0)
    return parse_extmap(parser, value, error);
  if (strcmp(name, "rid") == 0)
    return parse_rid(parser, value, error);
  if (strcmp(name, "simulcast") == 0)
    return parse_simulcast(parser, value, error);
  if (strcmp(name, "ssrc") == 0)
    return parse_ssrc(parser, value, error);
  if (strcmp(name, "ssrc-group") == 0)
    return parse_ssrc_group(parser, value, error);
  if (strcmp(name, "sctp-port") == 0) {
    guint64 port;
    if (!sdp_parse_uint(value, 65535, &port)) {
      line_error(parser, error, "malformed a=sctp-port", value);
      return FALSE;
    }
    media->sctp_port = (guint)port;
    return TRUE;
  }
  return TRUE; /* unknown attributes are ignored (RFC 4566) */
}

/* ---- lines ---------------------------------------------------------------------- */

static gboolean
line_chars_valid(const char *line, gsize len)
{
  for (gsize i = 0; i < len; i++) {
    guchar c = (guchar)line[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return FALSE;
  }
  return TRUE;
}

static gboolean
parse_line(Parser *parser, char *line, GError **error)
{
  char type = line[0];
  char *value = line + 2;
  if (type == 'm')
    return parse_media_line(parser, value, error);
  if (type == 'o' && parser->media == NULL)
    return parse_origin(parser, value, error);
  if (type != 'a')
    return TRUE; /* s=, t=, c=, b=, i=, ... carry nothing Chorus uses */

  char *colon = strchr(value, ':');
  if (colon != NULL)
    *colon = '\0';
  const char *name = value;
  const char *attr_value = colon ? colon + 1 : NULL;
  if (*name == '\0') {
    line_error(parser, error, "empty attribute name", NULL);
    return FALSE;
  }
  if (parser->media == NULL)
    return parse_session_attribute(parser, name, attr_value, error);
  return parse_media_attribute(parser, name, attr_value, error);
}

/* ---- validation after all lines are read -------------------------------------- */

static ChorusSdpMedia *
find_mid(ChorusSdpSession *session, const char *mid, guint *index)
{
  for (guint i = 0; i < session->media->len; i++) {
    ChorusSdpMedia *media = g_ptr_array_index(session->media, i);
    if (g_strcmp0(media->mid, mid) == 0) {
      if (index)
        *index = i;
      return media;
    }
  }
  return NULL;
}

static gboolean
in_bundle(const ChorusSdpSession *session, const char *mid)
{
  return mid != NULL && session->bundle != NULL &&
         g_strv_contains((const char *const *)session->bundle, mid);
}

static void
apply_session_defaults(Parser *parser)
{
  TransportDefaults *defaults = &parser->defaults;
  for (guint i = 0; i < parser->session->media->len; i++) {
    ChorusSdpMedia *media = g_ptr_array_index(parser->session->media, i);
    if (media->ice_ufrag == NULL)
      media->ice_ufrag = g_strdup(defaults->ice_ufrag);
    if (media->ice_pwd == NULL)
      media->ice_pwd = g_strdup(defaults->ice_pwd);
    if (!g_array_index(parser->own_trickle, gboolean, i))
      media->ice_trickle = defaults->ice_trickle;
    if (!g_array_index(parser->own_setup, gboolean, i))
      media->setup = defaults->setup;
    if (g_array_index(parser->own_fingerprint, gboolean, i)) {
      media->has_fingerprint = TRUE;
    } else if (defaults->has_fingerprint) {
      media->has_fingerprint = TRUE;
      memcpy(media->fingerprint_sha256, defaults->fingerprint, 32);
    }
    if (defaults->other_fingerprint)
      g_array_index(parser->other_fingerprint, gboolean, i) = TRUE;
    guint32 wildcard = g_array_index(parser->wildcard_feedback, guint32, i);
    for (guint p = 0; p < media->payloads->len && wildcard != 0; p++) {
      ChorusSdpPayload *payload = g_ptr_array_index(media->payloads, p);
      payload->feedback |= wildcard;
    }
  }
}

/* RFC 8843: bundled m-lines other than the tagged one may leave out the
 * transport attributes (and rtcp-mux); they share the tagged m-line's. */
static void
apply_bundle_inheritance(Parser *parser)
{
  ChorusSdpSession *session = parser->session;
  if (session->bundle == NULL || session->bundle[0] == NULL)
    return;
  ChorusSdpMedia *tag = find_mid(session, session->bundle[0], NULL);
  if (tag == NULL)
    return;
  for (guint i = 0; i < session->media->len; i++) {
    ChorusSdpMedia *media = g_ptr_array_index(session->media, i);
    if (media == tag || !in_bundle(session, media->mid))
      continue;
    if (media->ice_ufrag == NULL)
      media->ice_ufrag = g_strdup(tag->ice_ufrag);
    if (media->ice_pwd == NULL)
      media->ice_pwd = g_strdup(tag->ice_pwd);
    if (!media->has_fingerprint && tag->has_fingerprint) {
      media->has_fingerprint = TRUE;
      memcpy(media->fingerprint_sha256, tag->fingerprint_sha256, 32);
    }
    if (media->setup == CHORUS_SDP_SETUP_UNSET)
      media->setup = tag->setup;
    if (!media->rtcp_mux)
      media->rtcp_mux = tag->rtcp_mux;
  }
}

static gboolean
validate_media(Parser *parser, guint index, GError **error)
{
  ChorusSdpSession *session = parser->session;
  ChorusSdpMedia *media = g_ptr_array_index(session->media, index);
  g_autofree char *label = sdp_media_label(media, index);

  if (!chorus_sdp_media_is_used(media))
    return TRUE;
  if (media->mid == NULL) {
    sdp_set_error(error, "%s: no a=mid (Unified Plan needs one per m-line)", label);
    return FALSE;
  }
  guint first = index;
  find_mid(session, media->mid, &first);
  if (first != index) {
    sdp_set_error(error, "%s: a=mid:%s also used by m-line %u", label, media->mid, first);
    return FALSE;
  }
  /* Simulcast streams must be declared by a=rid in the same direction. */
  for (guint i = 0; i < media->simulcast->len; i++) {
    const ChorusSdpSimulcastLayer *layer = g_ptr_array_index(media->simulcast, i);
    gboolean found = FALSE;
    for (guint r = 0; r < media->rids->len && !found; r++) {
      const ChorusSdpRid *rid = g_ptr_array_index(media->rids, r);
      found = strcmp(rid->id, layer->rid) == 0 && rid->direction == media->simulcast_direction;
    }
    if (!found) {
      sdp_set_error(error, "%s: a=simulcast names rid '%s' without a matching a=rid", label,
                    layer->rid);
      return FALSE;
    }
  }
  if (media->kind != CHORUS_SDP_KIND_AUDIO && media->kind != CHORUS_SDP_KIND_VIDEO)
    return TRUE; /* never accepted, so its transport does not matter */
  if (!proto_is_rtp(media->proto))
    return TRUE;
  for (guint i = 0; i < media->payloads->len; i++) {
    const ChorusSdpPayload *payload = g_ptr_array_index(media->payloads, i);
    /* 0..34 are static (RFC 3551); browsers use 35..63 and 96..127 dynamically. */
    if (payload->name == NULL && payload->pt >= 35) {
      sdp_set_error(error, "%s: dynamic payload type %u has no a=rtpmap", label, payload->pt);
      return FALSE;
    }
  }
  if (!media->rtcp_mux) {
    sdp_set_error(error, "%s: rtcp-mux required", label);
    return FALSE;
  }
  if (media->ice_ufrag == NULL) {
    sdp_set_error(error, "%s: no ice-ufrag", label);
    return FALSE;
  }
  if (media->ice_pwd == NULL) {
    sdp_set_error(error, "%s: no ice-pwd", label);
    return FALSE;
  }
  if (!media->has_fingerprint) {
    if (g_array_index(parser->other_fingerprint, gboolean, index))
      sdp_set_error(error, "%s: no sha-256 a=fingerprint", label);
    else
      sdp_set_error(error, "%s: no a=fingerprint", label);
    return FALSE;
  }
  return TRUE;
}

static gboolean
validate_session(Parser *parser, GError **error)
{
  ChorusSdpSession *session = parser->session;
  if (!parser->saw_origin) {
    sdp_set_error(error, "no o= line");
    return FALSE;
  }
  for (guint i = 0; session->bundle && session->bundle[i]; i++) {
    if (find_mid(session, session->bundle[i], NULL) == NULL) {
      sdp_set_error(error, "a=group:BUNDLE names unknown mid '%s'", session->bundle[i]);
      return FALSE;
    }
    for (guint j = 0; j < i; j++) {
      if (strcmp(session->bundle[i], session->bundle[j]) == 0) {
        sdp_set_error(error, "a=group:BUNDLE names mid '%s' twice", session->bundle[i]);
        return FALSE;
      }
    }
  }
  apply_session_defaults(parser);
  apply_bundle_inheritance(parser);
  for (guint i = 0; i < session->media->len; i++)
    if (!validate_media(parser, i, error))
      return FALSE;
  return TRUE;
}

ChorusSdpSession *
chorus_sdp_session_parse(const char *text, GError **error)
{
  g_return_val_if_fail(text != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  gsize len = strnlen(text, CHORUS_SDP_MAX_BYTES + 1);
  if (len > CHORUS_SDP_MAX_BYTES) {
    sdp_set_error(error, "SDP longer than %d bytes", CHORUS_SDP_MAX_BYTES);
    return NULL;
  }
  if (len == 0) {
    sdp_set_error(error, "empty SDP");
    return NULL;
  }

  Parser parser = {0};
  parser.session = chorus_sdp_session_new();
  parser.own_fingerprint = g_array_new(FALSE, FALSE, sizeof(gboolean));
  parser.other_fingerprint = g_array_new(FALSE, FALSE, sizeof(gboolean));
  parser.own_setup = g_array_new(FALSE, FALSE, sizeof(gboolean));
  parser.own_trickle = g_array_new(FALSE, FALSE, sizeof(gboolean));
  parser.wildcard_feedback = g_array_new(FALSE, FALSE, sizeof(guint32));

  gboolean ok = TRUE;
  const char *p = text;
  const char *end = text + len;
  while (p < end && ok) {
    const char *nl = memchr(p, '\n', (gsize)(end - p));
    const char *line_end = nl ? nl : end;
    gsize line_len = (gsize)(line_end - p);
    if (line_len > 0 && p[line_len - 1] == '\r')
      line_len--;
    parser.line_no++;

    if (parser.line_no > CHORUS_SDP_MAX_LINES) {
      sdp_set_error(error, "more than %d lines", CHORUS_SDP_MAX_LINES);
      ok = FALSE;
    } else if (line_len > CHORUS_SDP_MAX_LINE_BYTES) {
      line_error(&parser, error, "line too long", NULL);
      ok = FALSE;
    } else if (line_len == 0) {
      /* Tolerate empty lines (a trailing newline, CRLF CRLF). */
    } else if (!line_chars_valid(p, line_len)) {
      line_error(&parser, error, "control character in line", NULL);
      ok = FALSE;
    } else if (line_len < 2 || p[1] != '=' || !g_ascii_islower(p[0])) {
      g_autofree char *copy = g_strndup(p, line_len);
      line_error(&parser, error, "not an SDP line", copy);
      ok = FALSE;
    } else if (!parser.saw_version) {
      if (line_len == 3 && memcmp(p, "v=0", 3) == 0) {
        parser.saw_version = TRUE;
      } else {
        line_error(&parser, error, "SDP must start with v=0", NULL);
        ok = FALSE;
      }
    } else {
      g_autofree char *line = g_strndup(p, line_len);
      ok = parse_line(&parser, line, error);
    }
    p = nl ? nl + 1 : end;
  }
  if (ok && !parser.saw_version) {
    sdp_set_error(error, "empty SDP");
    ok = FALSE;
  }
  if (ok)
    ok = validate_session(&parser, error);

  ChorusSdpSession *session = NULL;
  if (ok)
    session = g_steal_pointer(&parser.session);
  parser_clear(&parser);
  return session;
}
