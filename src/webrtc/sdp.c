/* SDP model: enums, constructors, lookups, ICE candidate and H264
 * profile-level-id parsing, and the helpers the parser, writer and the two
 * negotiation sides share. */
#include "webrtc/sdp.h"

#include <stdarg.h>
#include <string.h>

#include "core/error.h"
#include "webrtc/sdp-private.h"

/* ---- errors and small validators -------------------------------------- */

void
sdp_set_error(GError **error, const char *format, ...)
{
  va_list args;
  va_start(args, format);
  g_autofree char *message = g_strdup_vprintf(format, args);
  va_end(args);
  g_set_error_literal(error, CHORUS_ERROR, CHORUS_ERROR_NEGOTIATION_FAILED, message);
}

char *
sdp_media_label(const ChorusSdpMedia *media, guint index)
{
  return g_strdup_printf("m-line %u (%s)", index, media->media ? media->media : "?");
}

gboolean
sdp_ice_chars_valid(const char *s, gsize min_len, gsize max_len)
{
  gsize len = 0;
  if (s == NULL)
    return FALSE;
  for (const char *p = s; *p; p++, len++) {
    if (!g_ascii_isalnum(*p) && *p != '+' && *p != '/')
      return FALSE;
    if (len >= max_len)
      return FALSE;
  }
  return len >= min_len;
}

gboolean
sdp_token_valid(const char *s, gsize max_len)
{
  /* RFC 4566 token-char: visible ASCII except the separators below. */
  static const char separators[] = "\"(),/:;<=>?@[\\]{}";
  gsize len = 0;
  if (s == NULL)
    return FALSE;
  for (const char *p = s; *p; p++, len++) {
    if (*p <= 0x20 || *p >= 0x7f || strchr(separators, *p) != NULL)
      return FALSE;
    if (len >= max_len)
      return FALSE;
  }
  return len > 0;
}

gboolean
sdp_visible_valid(const char *s, gsize max_len)
{
  gsize len = 0;
  if (s == NULL)
    return FALSE;
  for (const char *p = s; *p; p++, len++) {
    if (*p <= 0x20 || *p >= 0x7f)
      return FALSE;
    if (len >= max_len)
      return FALSE;
  }
  return len > 0;
}

gboolean
sdp_rid_valid(const char *s)
{
  gsize len = 0;
  if (s == NULL)
    return FALSE;
  for (const char *p = s; *p; p++, len++) {
    if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
      return FALSE;
    if (len >= 16)
      return FALSE;
  }
  return len > 0;
}

gboolean
sdp_fingerprint_parse(const char *text, guint8 out[32])
{
  /* Exactly 32 "XX" groups separated by ':' (95 characters). */
  if (text == NULL || strlen(text) != 95)
    return FALSE;
  for (guint i = 0; i < 32; i++) {
    const char *p = text + i * 3;
    if (!g_ascii_isxdigit(p[0]) || !g_ascii_isxdigit(p[1]))
      return FALSE;
    if (i < 31 && p[2] != ':')
      return FALSE;
    out[i] = (guint8)(g_ascii_xdigit_value(p[0]) << 4 | g_ascii_xdigit_value(p[1]));
  }
  return TRUE;
}

void
sdp_fingerprint_format(const guint8 in[32], char out[96])
{
  static const char hex[] = "0123456789ABCDEF";
  for (guint i = 0; i < 32; i++) {
    out[i * 3] = hex[in[i] >> 4];
    out[i * 3 + 1] = hex[in[i] & 0xf];
    out[i * 3 + 2] = i < 31 ? ':' : '\0';
  }
}

gboolean
sdp_parse_uint(const char *s, guint64 max, guint64 *out)
{
  guint64 value = 0;
  if (s == NULL || *s == '\0')
    return FALSE;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9')
      return FALSE;
    guint digit = (guint)(*p - '0');
    if (value > (max - digit) / 10)
      return FALSE;
    value = value * 10 + digit;
  }
  *out = value;
  return TRUE;
}

char **
sdp_split_ws(const char *s)
{
  GPtrArray *tokens = g_ptr_array_new();
  const char *p = s;
  while (*p) {
    while (*p == ' ' || *p == '\t')
      p++;
    if (*p == '\0')
      break;
    const char *start = p;
    while (*p && *p != ' ' && *p != '\t')
      p++;
    g_ptr_array_add(tokens, g_strndup(start, (gsize)(p - start)));
  }
  g_ptr_array_add(tokens, NULL);
  return (char **)g_ptr_array_free(tokens, FALSE);
}

/* ---- enums ------------------------------------------------------------- */

const char *
chorus_sdp_kind_to_string(ChorusSdpKind kind)
{
  switch (kind) {
  case CHORUS_SDP_KIND_AUDIO:
    return "audio";
  case CHORUS_SDP_KIND_VIDEO:
    return "video";
  case CHORUS_SDP_KIND_APPLICATION:
    return "application";
  case CHORUS_SDP_KIND_OTHER:
    break;
  }
  return "other";
}

const char *
chorus_sdp_direction_to_string(ChorusSdpDirection direction)
{
  switch (direction) {
  case CHORUS_SDP_DIRECTION_SENDRECV:
    return "sendrecv";
  case CHORUS_SDP_DIRECTION_SENDONLY:
    return "sendonly";
  case CHORUS_SDP_DIRECTION_RECVONLY:
    return "recvonly";
  case CHORUS_SDP_DIRECTION_INACTIVE:
    return "inactive";
  }
  return "inactive";
}

const char *
chorus_sdp_setup_to_string(ChorusSdpSetup setup)
{
  switch (setup) {
  case CHORUS_SDP_SETUP_ACTPASS:
    return "actpass";
  case CHORUS_SDP_SETUP_ACTIVE:
    return "active";
  case CHORUS_SDP_SETUP_PASSIVE:
    return "passive";
  case CHORUS_SDP_SETUP_HOLDCONN:
    return "holdconn";
  case CHORUS_SDP_SETUP_UNSET:
    break;
  }
  return NULL;
}

static const char *const extension_uris[CHORUS_SDP_EXT_COUNT] = {
    [CHORUS_SDP_EXT_MID] = "urn:ietf:params:rtp-hdrext:sdes:mid",
    [CHORUS_SDP_EXT_RID] = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    [CHORUS_SDP_EXT_REPAIRED_RID] = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
    [CHORUS_SDP_EXT_AUDIO_LEVEL] = "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    [CHORUS_SDP_EXT_ABS_SEND_TIME] = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    [CHORUS_SDP_EXT_TRANSPORT_CC] =
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    [CHORUS_SDP_EXT_VIDEO_ORIENTATION] = "urn:3gpp:video-orientation",
};

const char *
chorus_sdp_extension_uri(ChorusSdpExtension ext)
{
  g_return_val_if_fail(ext < CHORUS_SDP_EXT_COUNT, NULL);
  return extension_uris[ext];
}

gboolean
chorus_sdp_extension_from_uri(const char *uri, ChorusSdpExtension *out)
{
  for (guint i = 0; i < CHORUS_SDP_EXT_COUNT; i++) {
    if (g_strcmp0(uri, extension_uris[i]) == 0) {
      *out = (ChorusSdpExtension)i;
      return TRUE;
    }
  }
  return FALSE;
}

ChorusSdpCodecId
chorus_sdp_codec_id_from_name(const char *name, guint32 clock_rate)
{
  if (name == NULL)
    return CHORUS_SDP_CODEC_UNKNOWN;
  if (g_ascii_strcasecmp(name, "opus") == 0 && clock_rate == 48000)
    return CHORUS_SDP_CODEC_OPUS;
  if (g_ascii_strcasecmp(name, "red") == 0 && clock_rate == 48000)
    return CHORUS_SDP_CODEC_RED;
  if (g_ascii_strcasecmp(name, "rtx") == 0)
    return CHORUS_SDP_CODEC_RTX;
  if (clock_rate != 90000)
    return CHORUS_SDP_CODEC_UNKNOWN;
  if (g_ascii_strcasecmp(name, "VP8") == 0)
    return CHORUS_SDP_CODEC_VP8;
  if (g_ascii_strcasecmp(name, "VP9") == 0)
    return CHORUS_SDP_CODEC_VP9;
  if (g_ascii_strcasecmp(name, "H264") == 0)
    return CHORUS_SDP_CODEC_H264;
  if (g_ascii_strcasecmp(name, "AV1") == 0 || g_ascii_strcasecmp(name, "AV1X") == 0)
    return CHORUS_SDP_CODEC_AV1;
  return CHORUS_SDP_CODEC_UNKNOWN;
}

/* ---- payloads ------------------------------------------------------------ */

ChorusSdpPayload *
chorus_sdp_payload_new(guint8 pt, const char *name, guint32 clock_rate, guint8 channels,
                       const char *fmtp)
{
  ChorusSdpPayload *payload = g_new0(ChorusSdpPayload, 1);
  payload->pt = pt;
  payload->name = g_strdup(name);
  payload->clock_rate = clock_rate;
  payload->channels = channels;
  payload->fmtp = g_strdup(fmtp);
  payload->id = chorus_sdp_codec_id_from_name(name, clock_rate);
  return payload;
}

ChorusSdpPayload *
chorus_sdp_payload_copy(const ChorusSdpPayload *payload)
{
  g_return_val_if_fail(payload != NULL, NULL);
  ChorusSdpPayload *copy = chorus_sdp_payload_new(payload->pt, payload->name, payload->clock_rate,
                                                  payload->channels, payload->fmtp);
  copy->id = payload->id;
  copy->feedback = payload->feedback;
  return copy;
}

void
chorus_sdp_payload_free(ChorusSdpPayload *payload)
{
  if (payload == NULL)
    return;
  g_free(payload->name);
  g_free(payload->fmtp);
  g_free(payload);
}

static char *
fmtp_get_param(const char *fmtp, const char *key)
{
  if (fmtp == NULL)
    return NULL;
  g_auto(GStrv) params = g_strsplit(fmtp, ";", -1);
  for (guint i = 0; params[i]; i++) {
    char *param = g_strstrip(params[i]);
    const char *eq = strchr(param, '=');
    if (eq == NULL)
      continue;
    if ((gsize)(eq - param) == strlen(key) && g_ascii_strncasecmp(param, key, strlen(key)) == 0)
      return g_strdup(eq + 1);
  }
  return NULL;
}

char *
chorus_sdp_payload_get_fmtp_param(const ChorusSdpPayload *payload, const char *key)
{
  g_return_val_if_fail(payload != NULL && key != NULL, NULL);
  return fmtp_get_param(payload->fmtp, key);
}

/* ---- media and session --------------------------------------------------- */

static void
extmap_free(gpointer data)
{
  ChorusSdpExtmap *extmap = data;
  g_free(extmap->uri);
  g_free(extmap);
}

static void
rid_free(gpointer data)
{
  ChorusSdpRid *rid = data;
  g_free(rid->id);
  g_free(rid->params);
  g_free(rid);
}

static void
layer_free(gpointer data)
{
  ChorusSdpSimulcastLayer *layer = data;
  g_free(layer->rid);
  g_free(layer);
}

static void
ssrc_free(gpointer data)
{
  ChorusSdpSsrc *ssrc = data;
  g_free(ssrc->cname);
  g_free(ssrc->msid_stream);
  g_free(ssrc->msid_track);
  g_free(ssrc);
}

static void
ssrc_group_free(gpointer data)
{
  ChorusSdpSsrcGroup *group = data;
  g_free(group->semantics);
  g_array_unref(group->ssrcs);
  g_free(group);
}

ChorusSdpMedia *
chorus_sdp_media_new(ChorusSdpKind kind)
{
  ChorusSdpMedia *media = g_new0(ChorusSdpMedia, 1);
  media->kind = kind;
  media->media = g_strdup(chorus_sdp_kind_to_string(kind));
  media->candidates = g_ptr_array_new_with_free_func(g_free);
  media->payloads = g_ptr_array_new_with_free_func((GDestroyNotify)chorus_sdp_payload_free);
  media->extmaps = g_ptr_array_new_with_free_func(extmap_free);
  media->rids = g_ptr_array_new_with_free_func(rid_free);
  media->simulcast = g_ptr_array_new_with_free_func(layer_free);
  media->ssrcs = g_ptr_array_new_with_free_func(ssrc_free);
  media->ssrc_groups = g_ptr_array_new_with_free_func(ssrc_group_free);
  return media;
}

void
chorus_sdp_media_free(ChorusSdpMedia *media)
{
  if (media == NULL)
    return;
  g_free(media->media);
  g_free(media->proto);
  g_free(media->formats);
  g_free(media->mid);
  g_free(media->ice_ufrag);
  g_free(media->ice_pwd);
  g_free(media->msid_stream);
  g_free(media->msid_track);
  g_ptr_array_unref(media->candidates);
  g_ptr_array_unref(media->payloads);
  g_ptr_array_unref(media->extmaps);
  g_ptr_array_unref(media->rids);
  g_ptr_array_unref(media->simulcast);
  g_ptr_array_unref(media->ssrcs);
  g_ptr_array_unref(media->ssrc_groups);
  g_free(media);
}

const ChorusSdpPayload *
chorus_sdp_media_find_payload(const ChorusSdpMedia *media, guint pt)
{
  g_return_val_if_fail(media != NULL, NULL);
  for (guint i = 0; i < media->payloads->len; i++) {
    const ChorusSdpPayload *payload = g_ptr_array_index(media->payloads, i);
    if (payload->pt == pt)
      return payload;
  }
  return NULL;
}

const ChorusSdpExtmap *
chorus_sdp_media_find_extmap(const ChorusSdpMedia *media, ChorusSdpExtension ext)
{
  g_return_val_if_fail(media != NULL && ext < CHORUS_SDP_EXT_COUNT, NULL);
  for (guint i = 0; i < media->extmaps->len; i++) {
    const ChorusSdpExtmap *extmap = g_ptr_array_index(media->extmaps, i);
    if (g_strcmp0(extmap->uri, extension_uris[ext]) == 0)
      return extmap;
  }
  return NULL;
}

const ChorusSdpSsrc *
chorus_sdp_media_find_ssrc(const ChorusSdpMedia *media, guint32 ssrc)
{
  g_return_val_if_fail(media != NULL, NULL);
  for (guint i = 0; i < media->ssrcs->len; i++) {
    const ChorusSdpSsrc *entry = g_ptr_array_index(media->ssrcs, i);
    if (entry->ssrc == ssrc)
      return entry;
  }
  return NULL;
}

gboolean
chorus_sdp_media_is_used(const ChorusSdpMedia *media)
{
  g_return_val_if_fail(media != NULL, FALSE);
  return media->port != 0 || media->bundle_only;
}

ChorusSdpSession *
chorus_sdp_session_new(void)
{
  ChorusSdpSession *session = g_new0(ChorusSdpSession, 1);
  session->media = g_ptr_array_new_with_free_func((GDestroyNotify)chorus_sdp_media_free);
  return session;
}

void
chorus_sdp_session_free(ChorusSdpSession *session)
{
  if (session == NULL)
    return;
  g_strfreev(session->bundle);
  g_ptr_array_unref(session->media);
  g_free(session);
}

static gboolean
ssrc_in_group(const ChorusSdpMedia *media, const char *semantics, guint32 ssrc, guint position)
{
  for (guint i = 0; i < media->ssrc_groups->len; i++) {
    const ChorusSdpSsrcGroup *group = g_ptr_array_index(media->ssrc_groups, i);
    if (g_ascii_strcasecmp(group->semantics, semantics) == 0 && group->ssrcs->len > position &&
        g_array_index(group->ssrcs, guint32, position) == ssrc)
      return TRUE;
  }
  return FALSE;
}

static guint32
fid_partner(const ChorusSdpMedia *media, guint32 ssrc)
{
  for (guint i = 0; i < media->ssrc_groups->len; i++) {
    const ChorusSdpSsrcGroup *group = g_ptr_array_index(media->ssrc_groups, i);
    if (g_ascii_strcasecmp(group->semantics, "FID") == 0 && group->ssrcs->len >= 2 &&
        g_array_index(group->ssrcs, guint32, 0) == ssrc)
      return g_array_index(group->ssrcs, guint32, 1);
  }
  return 0;
}

void
sdp_media_collect_ssrcs(const ChorusSdpMedia *media, GArray *ssrcs, GArray *rtx_ssrcs)
{
  const ChorusSdpSsrcGroup *sim = NULL;
  for (guint i = 0; i < media->ssrc_groups->len && sim == NULL; i++) {
    const ChorusSdpSsrcGroup *group = g_ptr_array_index(media->ssrc_groups, i);
    if (g_ascii_strcasecmp(group->semantics, "SIM") == 0)
      sim = group;
  }
  if (sim != NULL) {
    for (guint i = 0; i < sim->ssrcs->len; i++) {
      guint32 ssrc = g_array_index(sim->ssrcs, guint32, i);
      guint32 rtx = fid_partner(media, ssrc);
      g_array_append_val(ssrcs, ssrc);
      g_array_append_val(rtx_ssrcs, rtx);
    }
    return;
  }
  for (guint i = 0; i < media->ssrcs->len; i++) {
    const ChorusSdpSsrc *entry = g_ptr_array_index(media->ssrcs, i);
    if (ssrc_in_group(media, "FID", entry->ssrc, 1))
      continue; /* an RTX SSRC: reported next to its media SSRC */
    guint32 rtx = fid_partner(media, entry->ssrc);
    g_array_append_val(ssrcs, entry->ssrc);
    g_array_append_val(rtx_ssrcs, rtx);
  }
}

/* ---- ICE candidates ----------------------------------------------------- */

static gboolean
candidate_address_valid(const char *s)
{
  gsize len = strlen(s);
  if (len == 0 || len > 255)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_isalnum(*p) && *p != '.' && *p != ':' && *p != '-')
      return FALSE;
  return TRUE;
}

gboolean
chorus_sdp_candidate_parse(const char *text, ChorusSdpCandidate *out, GError **error)
{
  g_return_val_if_fail(text != NULL && out != NULL, FALSE);
  memset(out, 0, sizeof(*out));
  if (g_str_has_prefix(text, "a="))
    text += 2;
  if (g_str_has_prefix(text, "candidate:"))
    text += strlen("candidate:");
  if (strlen(text) > 1024) {
    sdp_set_error(error, "candidate too long");
    return FALSE;
  }
  g_auto(GStrv) tok = sdp_split_ws(text);
  guint n = g_strv_length(tok);
  guint64 value;
  if (n < 8 || strcmp(tok[6], "typ") != 0) {
    sdp_set_error(error, "malformed candidate");
    return FALSE;
  }
  if (!sdp_ice_chars_valid(tok[0], 1, 32)) {
    sdp_set_error(error, "malformed candidate foundation");
    return FALSE;
  }
  g_strlcpy(out->foundation, tok[0], sizeof(out->foundation));
  if (!sdp_parse_uint(tok[1], 256, &value) || value < 1) {
    sdp_set_error(error, "malformed candidate component");
    return FALSE;
  }
  out->component = (guint)value;
  if (g_ascii_strcasecmp(tok[2], "udp") == 0)
    out->tcp = FALSE;
  else if (g_ascii_strcasecmp(tok[2], "tcp") == 0)
    out->tcp = TRUE;
  else {
    sdp_set_error(error, "unsupported candidate transport");
    return FALSE;
  }
  if (!sdp_parse_uint(tok[3], G_MAXUINT32, &value)) {
    sdp_set_error(error, "malformed candidate priority");
    return FALSE;
  }
  out->priority = (guint32)value;
  if (!candidate_address_valid(tok[4])) {
    sdp_set_error(error, "malformed candidate address");
    return FALSE;
  }
  g_strlcpy(out->address, tok[4], sizeof(out->address));
  if (!sdp_parse_uint(tok[5], 65535, &value)) {
    sdp_set_error(error, "malformed candidate port");
    return FALSE;
  }
  out->port = (guint16)value;
  if (strcmp(tok[7], "host") == 0)
    out->type = CHORUS_SDP_CANDIDATE_HOST;
  else if (strcmp(tok[7], "srflx") == 0)
    out->type = CHORUS_SDP_CANDIDATE_SRFLX;
  else if (strcmp(tok[7], "prflx") == 0)
    out->type = CHORUS_SDP_CANDIDATE_PRFLX;
  else if (strcmp(tok[7], "relay") == 0)
    out->type = CHORUS_SDP_CANDIDATE_RELAY;
  else {
    sdp_set_error(error, "unknown candidate type");
    return FALSE;
  }
  /* Extension attributes come in name/value pairs. */
  for (guint i = 8; i < n; i += 2) {
    if (i + 1 >= n) {
      sdp_set_error(error, "candidate attribute without value");
      return FALSE;
    }
    if (strcmp(tok[i], "raddr") == 0) {
      if (!candidate_address_valid(tok[i + 1])) {
        sdp_set_error(error, "malformed candidate raddr");
        return FALSE;
      }
      g_strlcpy(out->related_address, tok[i + 1], sizeof(out->related_address));
    } else if (strcmp(tok[i], "rport") == 0) {
      if (!sdp_parse_uint(tok[i + 1], 65535, &value)) {
        sdp_set_error(error, "malformed candidate rport");
        return FALSE;
      }
      out->related_port = (guint16)value;
    } else if (strcmp(tok[i], "tcptype") == 0) {
      if (strcmp(tok[i + 1], "active") != 0 && strcmp(tok[i + 1], "passive") != 0 &&
          strcmp(tok[i + 1], "so") != 0) {
        sdp_set_error(error, "unknown candidate tcptype");
        return FALSE;
      }
      g_strlcpy(out->tcptype, tok[i + 1], sizeof(out->tcptype));
    }
  }
  return TRUE;
}

/* ---- H264 profile-level-id ----------------------------------------------- */

typedef struct {
  guint8 profile_idc;
  guint8 iop_mask; /* bits that must match */
  guint8 iop_value;
  ChorusSdpH264Profile profile;
} H264Pattern;

/* libwebrtc's table (profile_level_id.cc): profile_idc plus a bit pattern
 * over profile-iop, 'x' bits being free. Browsers match profiles by it, so
 * Chorus does the same. */
static const H264Pattern h264_patterns[] = {
    {0x42, 0x4f, 0x40, CHORUS_SDP_H264_CONSTRAINED_BASELINE}, /* x1xx0000 */
    {0x4d, 0x8f, 0x80, CHORUS_SDP_H264_CONSTRAINED_BASELINE}, /* 1xxx0000 */
    {0x58, 0xcf, 0xc0, CHORUS_SDP_H264_CONSTRAINED_BASELINE}, /* 11xx0000 */
    {0x42, 0x4f, 0x00, CHORUS_SDP_H264_BASELINE},             /* x0xx0000 */
    {0x58, 0xcf, 0x80, CHORUS_SDP_H264_BASELINE},             /* 10xx0000 */
    {0x4d, 0xaf, 0x00, CHORUS_SDP_H264_MAIN},                 /* 0x0x0000 */
    {0x64, 0xff, 0x00, CHORUS_SDP_H264_HIGH},                 /* 00000000 */
    {0x64, 0xff, 0x0c, CHORUS_SDP_H264_CONSTRAINED_HIGH},     /* 00001100 */
    {0xf4, 0xff, 0x00, CHORUS_SDP_H264_PREDICTIVE_HIGH_444},  /* 00000000 */
};

#define H264_LEVEL_1B 0
#define H264_CONSTRAINT_SET3 0x10

static gboolean
h264_level_known(guint8 level)
{
  static const guint8 levels[] = {10, 11, 12, 13, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 52};
  for (guint i = 0; i < G_N_ELEMENTS(levels); i++)
    if (levels[i] == level)
      return TRUE;
  return FALSE;
}

/* Level 1b sits between 1.0 and 1.1. */
static guint
h264_level_rank(guint8 level)
{
  return level == H264_LEVEL_1B ? 21 : (guint)level * 2;
}

gboolean
chorus_sdp_h264_profile_level_parse(const char *hex, ChorusSdpH264ProfileLevel *out)
{
  g_return_val_if_fail(out != NULL, FALSE);
  if (hex == NULL || strlen(hex) != 6)
    return FALSE;
  guint8 bytes[3];
  for (guint i = 0; i < 3; i++) {
    if (!g_ascii_isxdigit(hex[i * 2]) || !g_ascii_isxdigit(hex[i * 2 + 1]))
      return FALSE;
    bytes[i] =
        (guint8)(g_ascii_xdigit_value(hex[i * 2]) << 4 | g_ascii_xdigit_value(hex[i * 2 + 1]));
  }
  guint8 profile_idc = bytes[0], profile_iop = bytes[1], level_idc = bytes[2];
  guint8 level;
  if (level_idc == 11)
    level = (profile_iop & H264_CONSTRAINT_SET3) ? H264_LEVEL_1B : 11;
  else if (h264_level_known(level_idc))
    level = level_idc;
  else
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS(h264_patterns); i++) {
    const H264Pattern *pattern = &h264_patterns[i];
    if (pattern->profile_idc == profile_idc &&
        (profile_iop & pattern->iop_mask) == pattern->iop_value) {
      out->profile = pattern->profile;
      out->level = level;
      return TRUE;
    }
  }
  return FALSE;
}

gboolean
chorus_sdp_h264_profile_level_from_fmtp(const char *fmtp, ChorusSdpH264ProfileLevel *out)
{
  g_autofree char *hex = fmtp_get_param(fmtp, "profile-level-id");
  if (hex == NULL) {
    out->profile = CHORUS_SDP_H264_CONSTRAINED_BASELINE;
    out->level = 31;
    return TRUE;
  }
  return chorus_sdp_h264_profile_level_parse(hex, out);
}

char *
chorus_sdp_h264_profile_level_to_string(const ChorusSdpH264ProfileLevel *pl)
{
  g_return_val_if_fail(pl != NULL, NULL);
  if (pl->level == H264_LEVEL_1B) {
    switch (pl->profile) {
    case CHORUS_SDP_H264_CONSTRAINED_BASELINE:
      return g_strdup("42f00b");
    case CHORUS_SDP_H264_BASELINE:
      return g_strdup("42100b");
    case CHORUS_SDP_H264_MAIN:
      return g_strdup("4d100b");
    default:
      return NULL; /* level 1b exists for these profiles only */
    }
  }
  const char *prefix = NULL;
  switch (pl->profile) {
  case CHORUS_SDP_H264_CONSTRAINED_BASELINE:
    prefix = "42e0";
    break;
  case CHORUS_SDP_H264_BASELINE:
    prefix = "4200";
    break;
  case CHORUS_SDP_H264_MAIN:
    prefix = "4d00";
    break;
  case CHORUS_SDP_H264_CONSTRAINED_HIGH:
    prefix = "640c";
    break;
  case CHORUS_SDP_H264_HIGH:
    prefix = "6400";
    break;
  case CHORUS_SDP_H264_PREDICTIVE_HIGH_444:
    prefix = "f400";
    break;
  }
  return g_strdup_printf("%s%02x", prefix, pl->level);
}

static char *
h264_packetization_mode(const char *fmtp)
{
  char *mode = fmtp_get_param(fmtp, "packetization-mode");
  return mode ? mode : g_strdup("0"); /* RFC 6184 default */
}

gboolean
chorus_sdp_h264_fmtp_match(const char *fmtp_a, const char *fmtp_b)
{
  ChorusSdpH264ProfileLevel a, b;
  if (!chorus_sdp_h264_profile_level_from_fmtp(fmtp_a, &a) ||
      !chorus_sdp_h264_profile_level_from_fmtp(fmtp_b, &b))
    return FALSE;
  g_autofree char *mode_a = h264_packetization_mode(fmtp_a);
  g_autofree char *mode_b = h264_packetization_mode(fmtp_b);
  return a.profile == b.profile && strcmp(mode_a, mode_b) == 0;
}

char *
chorus_sdp_h264_answer_fmtp(const char *offer_fmtp, guint8 local_max_level)
{
  ChorusSdpH264ProfileLevel offered;
  if (!chorus_sdp_h264_profile_level_from_fmtp(offer_fmtp, &offered))
    return NULL;
  if (offered.profile == CHORUS_SDP_H264_PREDICTIVE_HIGH_444)
    return NULL;
  if (local_max_level == 0 || !h264_level_known(local_max_level))
    local_max_level = 52;
  g_autofree char *mode = h264_packetization_mode(offer_fmtp);
  g_autofree char *asym = fmtp_get_param(offer_fmtp, "level-asymmetry-allowed");
  gboolean asymmetry = asym != NULL && strcmp(asym, "1") == 0;

  ChorusSdpH264ProfileLevel answer = {offered.profile, local_max_level};
  /* Without level asymmetry both directions use one level: the lower. */
  if (!asymmetry && h264_level_rank(offered.level) < h264_level_rank(local_max_level))
    answer.level = offered.level;
  g_autofree char *plid = chorus_sdp_h264_profile_level_to_string(&answer);
  if (plid == NULL)
    return NULL;
  return g_strdup_printf("%spacketization-mode=%s;profile-level-id=%s",
                         asymmetry ? "level-asymmetry-allowed=1;" : "", mode, plid);
}

/* ---- negotiation results -------------------------------------------------- */

ChorusSdpMediaResult *
sdp_media_result_new(guint mline, const char *mid, ChorusSdpKind kind)
{
  ChorusSdpMediaResult *result = g_new0(ChorusSdpMediaResult, 1);
  result->mline = mline;
  result->mid = g_strdup(mid);
  result->kind = kind;
  result->direction = CHORUS_SDP_DIRECTION_INACTIVE;
  result->rtx_pt = -1;
  result->red_pt = -1;
  result->rids = g_ptr_array_new_with_free_func(layer_free);
  result->ssrcs = g_array_new(FALSE, FALSE, sizeof(guint32));
  result->rtx_ssrcs = g_array_new(FALSE, FALSE, sizeof(guint32));
  return result;
}

void
chorus_sdp_media_result_free(ChorusSdpMediaResult *result)
{
  if (result == NULL)
    return;
  g_free(result->mid);
  g_free(result->reject_reason);
  chorus_sdp_payload_free(result->codec);
  g_ptr_array_unref(result->rids);
  g_array_unref(result->ssrcs);
  g_array_unref(result->rtx_ssrcs);
  g_free(result->msid_stream);
  g_free(result->msid_track);
  g_free(result->track_key);
  g_free(result);
}

ChorusSdpNegotiation *
sdp_negotiation_new(void)
{
  ChorusSdpNegotiation *negotiation = g_new0(ChorusSdpNegotiation, 1);
  negotiation->media = g_ptr_array_new_with_free_func((GDestroyNotify)chorus_sdp_media_result_free);
  return negotiation;
}

void
chorus_sdp_negotiation_free(ChorusSdpNegotiation *negotiation)
{
  if (negotiation == NULL)
    return;
  g_free(negotiation->sdp);
  chorus_sdp_session_free(negotiation->remote);
  g_free(negotiation->transport.mid);
  g_free(negotiation->transport.ice_ufrag);
  g_free(negotiation->transport.ice_pwd);
  g_strfreev(negotiation->transport.candidates);
  g_ptr_array_unref(negotiation->media);
  g_free(negotiation);
}

guint
chorus_sdp_negotiation_count_accepted(const ChorusSdpNegotiation *negotiation)
{
  g_return_val_if_fail(negotiation != NULL, 0);
  guint count = 0;
  for (guint i = 0; i < negotiation->media->len; i++) {
    const ChorusSdpMediaResult *result = g_ptr_array_index(negotiation->media, i);
    if (result->accepted)
      count++;
  }
  return count;
}

const ChorusSdpMediaResult *
chorus_sdp_negotiation_find_mid(const ChorusSdpNegotiation *negotiation, const char *mid)
{
  g_return_val_if_fail(negotiation != NULL && mid != NULL, NULL);
  for (guint i = 0; i < negotiation->media->len; i++) {
    const ChorusSdpMediaResult *result = g_ptr_array_index(negotiation->media, i);
    if (g_strcmp0(result->mid, mid) == 0)
      return result;
  }
  return NULL;
}

/* ---- shared by both negotiation sides ------------------------------------- */

gboolean
sdp_local_params_validate(const ChorusSdpLocalParams *local, guint8 fingerprint[32], GError **error)
{
  if (!sdp_ice_chars_valid(local->ice_ufrag, 4, 256) ||
      !sdp_ice_chars_valid(local->ice_pwd, 22, 256)) {
    g_set_error_literal(
        error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL,
        "local ICE credentials are not valid ice-chars (ufrag 4..256, pwd 22..256)");
    return FALSE;
  }
  if (!sdp_fingerprint_parse(local->fingerprint_sha256, fingerprint)) {
    g_set_error_literal(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL,
                        "local fingerprint is not 32 colon-separated hex bytes");
    return FALSE;
  }
  for (guint i = 0; local->candidates && local->candidates[i]; i++) {
    ChorusSdpCandidate candidate;
    g_autoptr(GError) local_error = NULL;
    if (!g_str_has_prefix(local->candidates[i], "candidate:") ||
        !chorus_sdp_candidate_parse(local->candidates[i], &candidate, &local_error)) {
      g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "local candidate %u: %s", i,
                  local_error ? local_error->message : "no candidate: prefix");
      return FALSE;
    }
  }
  return TRUE;
}

void
sdp_media_set_local_transport(ChorusSdpMedia *media, const ChorusSdpLocalParams *local,
                              const guint8 fingerprint[32])
{
  g_free(media->ice_ufrag);
  g_free(media->ice_pwd);
  media->ice_ufrag = g_strdup(local->ice_ufrag);
  media->ice_pwd = g_strdup(local->ice_pwd);
  /* Chorus trickles its candidates after the description (PROTOCOL.md). */
  media->ice_trickle = TRUE;
  media->has_fingerprint = TRUE;
  memcpy(media->fingerprint_sha256, fingerprint, 32);
  media->rtcp_mux = TRUE;
}

gboolean
sdp_transport_fill(ChorusSdpTransport *transport, const ChorusSdpSession *remote, guint index,
                   gboolean chorus_offered, GError **error)
{
  const ChorusSdpMedia *media = g_ptr_array_index(remote->media, index);
  transport->mline = index;
  transport->mid = g_strdup(media->mid);
  transport->ice_ufrag = g_strdup(media->ice_ufrag);
  transport->ice_pwd = g_strdup(media->ice_pwd);
  transport->ice_lite = remote->ice_lite;
  transport->ice_trickle = media->ice_trickle;
  memcpy(transport->fingerprint_sha256, media->fingerprint_sha256, 32);
  transport->setup = media->setup;
  transport->end_of_candidates = FALSE;
  /* Candidates belong to an ICE session (ufrag), not to an m-line. */
  GPtrArray *candidates = g_ptr_array_new();
  for (guint m = 0; m < remote->media->len; m++) {
    const ChorusSdpMedia *other = g_ptr_array_index(remote->media, m);
    gboolean bundled = remote->bundle != NULL && other->mid != NULL &&
                       g_strv_contains((const char *const *)remote->bundle, other->mid);
    if (m != index && (!bundled || g_strcmp0(other->ice_ufrag, media->ice_ufrag) != 0))
      continue;
    transport->end_of_candidates |= other->end_of_candidates;
    for (guint i = 0; i < other->candidates->len; i++) {
      const char *candidate = g_ptr_array_index(other->candidates, i);
      gboolean seen = FALSE;
      for (guint j = 0; j < candidates->len && !seen; j++)
        seen = strcmp(g_ptr_array_index(candidates, j), candidate) == 0;
      if (!seen)
        g_ptr_array_add(candidates, g_strdup(candidate));
    }
  }
  g_ptr_array_add(candidates, NULL);
  transport->candidates = (char **)g_ptr_array_free(candidates, FALSE);

  /* A missing a=setup means "active" (RFC 4145), so Chorus is the server. */
  switch (media->setup) {
  case CHORUS_SDP_SETUP_UNSET:
  case CHORUS_SDP_SETUP_ACTIVE:
    transport->dtls_server = TRUE;
    return TRUE;
  case CHORUS_SDP_SETUP_ACTPASS:
    if (chorus_offered) {
      sdp_set_error(error, "m-line %u: a=setup:actpass is not allowed in an answer", index);
      return FALSE;
    }
    transport->dtls_server = TRUE;
    return TRUE;
  case CHORUS_SDP_SETUP_PASSIVE:
    transport->dtls_server = FALSE;
    return TRUE;
  case CHORUS_SDP_SETUP_HOLDCONN:
    break;
  }
  sdp_set_error(error, "m-line %u: a=setup:holdconn is not supported", index);
  return FALSE;
}
