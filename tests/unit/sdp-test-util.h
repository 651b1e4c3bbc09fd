/* Helpers for test-sdp.c: fixtures, text surgery on SDP, synthetic offers,
 * invariant checks. Included by test-sdp.c only (the unit-test build takes
 * one .c per suite), so everything here is static. */
#pragma once

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "webrtc/sdp.h"

#define FIXTURE_DIR CHORUS_TEST_DATA_DIR "/sdp"
#define TEST_FP                                                                                  \
  "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"

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
  ck_assert_msg(error->domain == CHORUS_ERROR && error->code == code, "expected code %d, got %d (%s)", code,
                error->code, error->message);
  if (substring != NULL)
    ck_assert_msg(strstr(error->message, substring) != NULL, "'%s' not in '%s'", substring, error->message);
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
  ChorusSdpNegotiation *negotiation = chorus_sdp_negotiation_answer_offer(offer, &local, options, &error);
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
  ChorusSdpNegotiation *negotiation = chorus_sdp_negotiation_answer_offer(offer, &local, NULL, &error);
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
      ck_assert_msg(uri == NULL || strcmp(uri, extmap->uri) == 0, "id %u means %s and %s", extmap->id, uri,
                    extmap->uri);
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
      g_autofree char *key = g_strdup_printf("%s/%u/%u;%s", payload->name, payload->clock_rate, payload->channels,
                                             payload->fmtp ? payload->fmtp : "");
      const char *seen = g_hash_table_lookup(by_pt, GUINT_TO_POINTER(payload->pt));
      ck_assert_msg(seen == NULL || strcmp(seen, key) == 0, "pt %u is %s and %s", payload->pt, seen, key);
      g_hash_table_insert(by_pt, GUINT_TO_POINTER(payload->pt), g_steal_pointer(&key));
    }
  }
}

/* ---- synthetic offers ---------------------------------------------------------------- */

#define T_TRANSPORT                                                                     \
  "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 " TEST_FP \
  "\r\na=setup:actpass\r\n"
#define OPUS_LINES "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"
#define VP8_LINES "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"

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
  return g_strdup_printf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n%s%s%s%s%s", bundle ? "a=group:BUNDLE " : "",
                         bundle ? bundle : "", bundle ? "\r\n" : "", first, second ? second : "");
}

static char *
synth_video_offer(const char *pts, const char *lines)
{
  g_autofree char *video = synth_media("video", "v", pts, lines);
  return synth_offer("v", video, NULL);
}
