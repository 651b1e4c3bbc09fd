/* Helpers for test-sdp.c: fixtures, text surgery on SDP, synthetic offers,
 * invariant checks, and the subscriber sequences (tracks, steps, replay
 * against the real clients' answers, and the CHORUS_SDP_DUMP_DIR mode that
 * writes the offers for tests/interop/capture_offers/capture.sh). Included
 * by test-sdp.c only (the unit-test build takes one .c per suite), so
 * everything here is static. */
#pragma once

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "webrtc/sdp.h"

#define FIXTURE_DIR CHORUS_TEST_DATA_DIR "/sdp"
#define TEST_FP                                                                                    \
  "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:"  \
  "FF"

static char *
load_fixture(const char *name)
{
  g_autofree char *path = g_build_filename(FIXTURE_DIR, name, NULL);
  char *text = NULL;
  g_autoptr(GError) error = NULL;
  if (!g_file_get_contents(path, &text, NULL, &error))
    ck_abort_msg("fixture %s: %s", name, error->message);
  return text;
}

static gboolean
fixture_exists(const char *name)
{
  g_autofree char *path = g_build_filename(FIXTURE_DIR, name, NULL);
  return g_file_test(path, G_FILE_TEST_EXISTS);
}

/* The value after the first @prefix at the start of a line, to its end. */
static char *
first_value(const char *text, const char *prefix)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    if (g_str_has_prefix(lines[i], prefix)) {
      char *value = g_strdup(lines[i] + strlen(prefix));
      return g_strchomp(value);
    }
  }
  ck_abort_msg("no line starting with %s", prefix);
  return NULL;
}

static guint
count_lines(const char *text, const char *prefix)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  guint count = 0;
  for (guint i = 0; lines[i]; i++)
    if (g_str_has_prefix(lines[i], prefix))
      count++;
  return count;
}

static char *
without_lines(const char *text, const char *prefix)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  GString *out = g_string_new(NULL);
  for (guint i = 0; lines[i]; i++) {
    if (g_str_has_prefix(lines[i], prefix))
      continue;
    g_string_append(out, lines[i]);
    if (lines[i + 1] != NULL)
      g_string_append_c(out, '\n');
  }
  return g_string_free(out, FALSE);
}

static char *
replace_all(const char *text, const char *from, const char *to)
{
  g_auto(GStrv) parts = g_strsplit(text, from, -1);
  return g_strjoinv(to, parts);
}

/* The text of m-line @index: from its "m=" up to the next one. */
static char *
media_section(const char *text, guint index)
{
  const char *p = text;
  for (guint i = 0; i <= index; i++) {
    p = strstr(p, i == 0 && g_str_has_prefix(text, "m=") ? "m=" : "\nm=");
    ck_assert_ptr_nonnull(p);
    if (i < index)
      p++;
  }
  p++;
  const char *end = strstr(p, "\nm=");
  return end ? g_strndup(p, (gsize)(end - p + 1)) : g_strdup(p);
}

static void
assert_error(const GError *error, int code, const char *substring)
{
  ck_assert_ptr_nonnull(error);
  ck_assert_msg(error->domain == CHORUS_ERROR && error->code == code,
                "expected code %d, got %d (%s)", code, error->code, error->message);
  if (substring != NULL)
    ck_assert_msg(strstr(error->message, substring) != NULL, "'%s' not in '%s'", substring,
                  error->message);
}

static const char *const test_candidates[] = {
    "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host",
    "candidate:2 1 tcp 1518280447 127.0.0.1 40001 typ host tcptype passive",
    NULL,
};

static ChorusSdpLocalParams
local_params(void)
{
  ChorusSdpLocalParams local = {
      .ice_ufrag = "ChSv",
      .ice_pwd = "chorusServerPassword0123",
      .fingerprint_sha256 = TEST_FP,
      .candidates = test_candidates,
      .end_of_candidates = TRUE,
      .session_id = 4242,
      .session_version = 1,
  };
  return local;
}

static ChorusSdpSession *
parse_ok(const char *text)
{
  g_autoptr(GError) error = NULL;
  ChorusSdpSession *session = chorus_sdp_session_parse(text, &error);
  ck_assert_msg(session != NULL, "parse failed: %s", error ? error->message : "?");
  return session;
}

/* Answers @offer, checks that the answer parses again, returns the result. */
static ChorusSdpNegotiation *
answer_ok(const char *offer, const ChorusSdpAnswerOptions *options)
{
  ChorusSdpLocalParams local = local_params();
  g_autoptr(GError) error = NULL;
  ChorusSdpNegotiation *negotiation =
      chorus_sdp_negotiation_answer_offer(offer, &local, options, &error);
  ck_assert_msg(negotiation != NULL, "answer failed: %s", error ? error->message : "?");
  g_autoptr(ChorusSdpSession) reparsed = parse_ok(negotiation->sdp);
  ck_assert_uint_eq(reparsed->media->len, negotiation->media->len);
  return negotiation;
}

static GError *
answer_error(const char *offer)
{
  ChorusSdpLocalParams local = local_params();
  GError *error = NULL;
  ChorusSdpNegotiation *negotiation =
      chorus_sdp_negotiation_answer_offer(offer, &local, NULL, &error);
  ck_assert_msg(negotiation == NULL, "answer unexpectedly succeeded");
  ck_assert_ptr_nonnull(error);
  return error;
}

static const ChorusSdpMedia *
media_at(const ChorusSdpSession *session, guint index)
{
  ck_assert_uint_lt(index, session->media->len);
  return g_ptr_array_index(session->media, index);
}

static const ChorusSdpMediaResult *
result_at(const ChorusSdpNegotiation *negotiation, guint index)
{
  ck_assert_uint_lt(index, negotiation->media->len);
  return g_ptr_array_index(negotiation->media, index);
}

/* Every header-extension URI has one id across all m-lines and no id
 * means two URIs (aiortc, INTEROP.md). */
static void
assert_extension_ids_unique(const ChorusSdpSession *session)
{
  g_autoptr(GHashTable) by_uri = g_hash_table_new(g_str_hash, g_str_equal);
  g_autoptr(GHashTable) by_id = g_hash_table_new(g_direct_hash, g_direct_equal);
  for (guint i = 0; i < session->media->len; i++) {
    const ChorusSdpMedia *media = g_ptr_array_index(session->media, i);
    for (guint e = 0; e < media->extmaps->len; e++) {
      const ChorusSdpExtmap *extmap = g_ptr_array_index(media->extmaps, e);
      gpointer id = GUINT_TO_POINTER(extmap->id);
      const char *uri = g_hash_table_lookup(by_id, id);
      ck_assert_msg(uri == NULL || strcmp(uri, extmap->uri) == 0, "id %u means %s and %s",
                    extmap->id, uri, extmap->uri);
      gpointer other = g_hash_table_lookup(by_uri, extmap->uri);
      ck_assert_msg(other == NULL || other == id, "%s has two ids", extmap->uri);
      g_hash_table_insert(by_id, id, extmap->uri);
      g_hash_table_insert(by_uri, extmap->uri, id);
    }
  }
}

/* No payload type means two codec configurations inside the BUNDLE
 * (Chromium refuses such a description). */
static void
assert_bundle_pts_consistent(const ChorusSdpSession *session)
{
  g_autoptr(GHashTable) by_pt = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
  for (guint i = 0; i < session->media->len; i++) {
    const ChorusSdpMedia *media = g_ptr_array_index(session->media, i);
    if (!chorus_sdp_media_is_used(media))
      continue;
    for (guint p = 0; p < media->payloads->len; p++) {
      const ChorusSdpPayload *payload = g_ptr_array_index(media->payloads, p);
      g_autofree char *key = g_strdup_printf("%s/%u/%u;%s", payload->name, payload->clock_rate,
                                             payload->channels, payload->fmtp ? payload->fmtp : "");
      const char *seen = g_hash_table_lookup(by_pt, GUINT_TO_POINTER(payload->pt));
      ck_assert_msg(seen == NULL || strcmp(seen, key) == 0, "pt %u is %s and %s", payload->pt, seen,
                    key);
      g_hash_table_insert(by_pt, GUINT_TO_POINTER(payload->pt), g_steal_pointer(&key));
    }
  }
}

/* ---- synthetic offers ---------------------------------------------------------------- */

#define T_TRANSPORT                                                                                \
  "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 " TEST_FP       \
  "\r\na=setup:actpass\r\n"
#define OPUS_LINES "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"
#define VP8_LINES                                                                                  \
  "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"

static char *
synth_media(const char *kind, const char *mid, const char *pts, const char *lines)
{
  return g_strdup_printf("m=%s 9 UDP/TLS/RTP/SAVPF %s\r\nc=IN IP4 0.0.0.0\r\n" T_TRANSPORT
                         "a=mid:%s\r\na=sendonly\r\na=rtcp-mux\r\n%s",
                         kind, pts, mid, lines);
}

/* An offer of up to two sections; @bundle may be NULL. */
static char *
synth_offer(const char *bundle, const char *first, const char *second)
{
  return g_strdup_printf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n%s%s%s%s%s",
                         bundle ? "a=group:BUNDLE " : "", bundle ? bundle : "",
                         bundle ? "\r\n" : "", first, second ? second : "");
}

static char *
synth_video_offer(const char *pts, const char *lines)
{
  g_autofree char *video = synth_media("video", "v", pts, lines);
  return synth_offer("v", video, NULL);
}

/* ---- subscriber sequences -------------------------------------------------------- */

static const ChorusSdpPayload opus_pub = {
    .pt = 111,
    .id = CHORUS_SDP_CODEC_OPUS,
    .name = "opus",
    .clock_rate = 48000,
    .channels = 2,
    .fmtp = "minptime=10;useinbandfec=1",
};
static const ChorusSdpPayload opus_pub_other_pt = {
    .pt = 109,
    .id = CHORUS_SDP_CODEC_OPUS,
    .name = "opus",
    .clock_rate = 48000,
    .channels = 2,
    .fmtp = "minptime=10;useinbandfec=1",
};
static const ChorusSdpPayload vp8_pub = {
    .pt = 96, .id = CHORUS_SDP_CODEC_VP8, .name = "VP8", .clock_rate = 90000};
static const ChorusSdpPayload h264_pub = {
    .pt = 102,
    .id = CHORUS_SDP_CODEC_H264,
    .name = "H264",
    .clock_rate = 90000,
    .fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
};
/* A codec neither Chromium nor aiortc receives (Chromium answers port 0;
 * VP9 profile 1/3 or H264 High it accepts). */
static const ChorusSdpPayload h265_pub = {.pt = 98, .name = "H265", .clock_rate = 90000};

/* The tracks of the subscriber sequences, by key. */
static const ChorusSdpTrack subscriber_tracks[] = {
    {.track_key = "A",
     .kind = CHORUS_SDP_KIND_AUDIO,
     .codec = &opus_pub,
     .red = TRUE,
     .ssrc = 1001,
     .stream_id = "streamA",
     .track_id = "trackA",
     .cname = "pubA"},
    {.track_key = "B",
     .kind = CHORUS_SDP_KIND_VIDEO,
     .codec = &vp8_pub,
     .rtx = TRUE,
     .ssrc = 2001,
     .rtx_ssrc = 2002,
     .stream_id = "streamA",
     .track_id = "trackB",
     .cname = "pubA"},
    {.track_key = "C",
     .kind = CHORUS_SDP_KIND_AUDIO,
     .codec = &opus_pub_other_pt,
     .ssrc = 3001,
     .stream_id = "streamC",
     .track_id = "trackC",
     .cname = "pubC"},
    {.track_key = "D",
     .kind = CHORUS_SDP_KIND_VIDEO,
     .codec = &h264_pub,
     .rtx = TRUE,
     .ssrc = 4001,
     .rtx_ssrc = 4002,
     .stream_id = "streamD",
     .track_id = "trackD",
     .cname = "pubD"},
    {.track_key = "X",
     .kind = CHORUS_SDP_KIND_VIDEO,
     .codec = &h265_pub,
     .ssrc = 5001,
     .stream_id = "streamX",
     .track_id = "trackX",
     .cname = "pubX"},
};

/* Each step is the full set of tracks wanted at that point. */
typedef struct {
  const char *name;
  const char *steps[3][5];
} Sequence;

static const Sequence sequences[] = {
    /* remove a video track, add audio (new m-line), then the removed track
     * comes back on its inactive m-line (same mid and SSRCs) and another
     * video track gets a new m-line */
    {"reuse", {{"A", "B", NULL}, {"A", "C", NULL}, {"A", "C", "B", "D", NULL}}},
    /* Chromium rejects H265 (port 0); the m-line stays rejected, then a new
     * track recycles it under a new mid */
    {"reject", {{"A", "X", NULL}, {"A", NULL}, {"A", "B", NULL}}},
};

static ChorusSdpLocalParams
subscriber_local(void)
{
  ChorusSdpLocalParams local = local_params();
  local.ice_ufrag = "ChSb";
  local.ice_pwd = "chorusSubscriberPassword";
  local.candidates = test_candidates;
  return local;
}

static ChorusSdpNegotiation *
sequence_offer(ChorusSdpOfferer *offerer, const char *const *keys, GError **error)
{
  ChorusSdpTrack tracks[4];
  guint n = 0;
  for (; keys[n]; n++) {
    const ChorusSdpTrack *found = NULL;
    for (guint t = 0; t < G_N_ELEMENTS(subscriber_tracks); t++)
      if (strcmp(subscriber_tracks[t].track_key, keys[n]) == 0)
        found = &subscriber_tracks[t];
    g_assert(found != NULL);
    tracks[n] = *found;
  }
  ChorusSdpLocalParams local = subscriber_local();
  return chorus_sdp_offerer_create_offer(offerer, tracks, n, &local, error);
}

/* Offer step @step (0-based) of @seq, checking it is byte-identical to the
 * offer the client answered, then apply that client's answer. */
static void
replay_step(ChorusSdpOfferer *offerer, const Sequence *seq, guint step, const char *client,
            ChorusSdpNegotiation **offer_out, ChorusSdpNegotiation **answer_out)
{
  g_autoptr(GError) error = NULL;
  ChorusSdpNegotiation *offer = sequence_offer(offerer, seq->steps[step], &error);
  ck_assert_msg(offer != NULL, "offer %s-%u: %s", seq->name, step + 1,
                error ? error->message : "?");
  g_autofree char *offer_name = g_strdup_printf("chorus-sub-%s-%u.sdp", seq->name, step + 1);
  g_autofree char *expected = load_fixture(offer_name);
  ck_assert_msg(strcmp(offer->sdp, expected) == 0, "%s changed: re-run capture.sh (see test-sdp.c)",
                offer_name);

  g_autofree char *answer_name =
      g_strdup_printf("%s-answer-%s-%u.sdp", client, seq->name, step + 1);
  g_autofree char *answer_text = load_fixture(answer_name);
  ChorusSdpNegotiation *answer = chorus_sdp_offerer_apply_answer(offerer, answer_text, &error);
  ck_assert_msg(answer != NULL, "%s: %s", answer_name, error ? error->message : "?");
  *offer_out = offer;
  *answer_out = answer;
}

static void
assert_offer_well_formed(const char *sdp)
{
  g_autoptr(ChorusSdpSession) offer = parse_ok(sdp);
  assert_extension_ids_unique(offer);
  assert_bundle_pts_consistent(offer);
  for (guint i = 0; i < offer->media->len; i++) {
    const ChorusSdpMedia *media = media_at(offer, i);
    if (!chorus_sdp_media_is_used(media))
      continue;
    ck_assert_int_eq(media->setup, CHORUS_SDP_SETUP_ACTPASS);
    ck_assert(media->rtcp_mux && media->rtcp_rsize);
    ck_assert_str_eq(media->ice_ufrag, "ChSb");
  }
}

/* ---- dump mode ------------------------------------------------------------------------------- */

/* Writes the subscriber offer sequences for capture.sh: each step's offer,
 * applying the committed Chromium answer of the previous step when there is
 * one (sequences stop at the first missing answer). */
static int
dump_subscriber_offers(const char *dir)
{
  for (guint s = 0; s < G_N_ELEMENTS(sequences); s++) {
    const Sequence *seq = &sequences[s];
    g_autoptr(ChorusSdpOfferer) offerer = chorus_sdp_offerer_new(777);
    for (guint step = 0; step < 3 && seq->steps[step][0] != NULL; step++) {
      g_autoptr(GError) error = NULL;
      g_autoptr(ChorusSdpNegotiation) offer = sequence_offer(offerer, seq->steps[step], &error);
      if (offer == NULL) {
        g_printerr("%s-%u: %s\n", seq->name, step + 1, error->message);
        return 1;
      }
      g_autofree char *name = g_strdup_printf("chorus-sub-%s-%u.sdp", seq->name, step + 1);
      g_autofree char *path = g_build_filename(dir, name, NULL);
      if (!g_file_set_contents(path, offer->sdp, -1, &error)) {
        g_printerr("%s\n", error->message);
        return 1;
      }
      g_print("wrote %s\n", path);
      gboolean last = step == 2 || seq->steps[step + 1][0] == NULL;
      g_autofree char *answer_name =
          g_strdup_printf("chromium-answer-%s-%u.sdp", seq->name, step + 1);
      if (last || !fixture_exists(answer_name))
        break;
      /* A stale answer (the offer changed) ends the sequence for this round. */
      g_autofree char *answer = load_fixture(answer_name);
      g_autoptr(ChorusSdpNegotiation) applied =
          chorus_sdp_offerer_apply_answer(offerer, answer, &error);
      if (applied == NULL) {
        g_print("%s no longer fits (%s): capture again\n", answer_name, error->message);
        break;
      }
    }
  }
  return 0;
}
