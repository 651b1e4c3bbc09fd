/* libFuzzer target for the SDP module (built by tests/fuzz/build.sh, clang
 * only). Besides "no crash, no leak, no UB" it checks invariants:
 *  - whatever parses, written back, parses again and writes identically;
 *  - a publisher answer Chorus produces always parses;
 *  - the input as a subscriber's answer fails cleanly or negotiates;
 *  - every error is CHORUS_ERROR_NEGOTIATION_FAILED. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "webrtc/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_error(const GError *error)
{
  if (error == NULL || error->domain != CHORUS_ERROR ||
      error->code != CHORUS_ERROR_NEGOTIATION_FAILED)
    abort();
}

static const char *const candidates[] = {"candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host",
                                         NULL};
static const ChorusSdpLocalParams local = {
    .ice_ufrag = "Fuzz",
    .ice_pwd = "fuzzFuzzFuzzFuzzFuzzFuzz",
    .fingerprint_sha256 = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                          "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
    .candidates = candidates,
    .end_of_candidates = TRUE,
    .session_id = 1,
    .session_version = 1,
};

static void
fuzz_parse_write(const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusSdpSession) session = chorus_sdp_session_parse(text, &error);
  if (session == NULL) {
    check_error(error);
    return;
  }
  g_autofree char *written = chorus_sdp_session_write(session);
  g_autoptr(ChorusSdpSession) again = chorus_sdp_session_parse(written, &error);
  if (again == NULL)
    abort();
  g_autofree char *rewritten = chorus_sdp_session_write(again);
  if (strcmp(written, rewritten) != 0)
    abort();
}

static void
fuzz_answer(const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusSdpNegotiation) negotiation =
      chorus_sdp_negotiation_answer_offer(text, &local, NULL, &error);
  if (negotiation == NULL) {
    check_error(error);
    return;
  }
  if (chorus_sdp_negotiation_count_accepted(negotiation) == 0)
    abort();
  g_autoptr(ChorusSdpSession) answer = chorus_sdp_session_parse(negotiation->sdp, &error);
  if (answer == NULL)
    abort();
}

static void
fuzz_subscriber_answer(const char *text)
{
  static const ChorusSdpPayload opus = {
      .pt = 111, .name = "opus", .clock_rate = 48000, .channels = 2};
  static const ChorusSdpPayload vp8 = {.pt = 96, .name = "VP8", .clock_rate = 90000};
  const ChorusSdpTrack tracks[] = {
      {.track_key = "a", .kind = CHORUS_SDP_KIND_AUDIO, .codec = &opus, .red = TRUE, .ssrc = 1},
      {.track_key = "v",
       .kind = CHORUS_SDP_KIND_VIDEO,
       .codec = &vp8,
       .rtx = TRUE,
       .ssrc = 2,
       .rtx_ssrc = 3},
  };
  g_autoptr(ChorusSdpOfferer) offerer = chorus_sdp_offerer_new(1);
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusSdpNegotiation) offer =
      chorus_sdp_offerer_create_offer(offerer, tracks, 2, &local, &error);
  if (offer == NULL)
    abort();
  g_autoptr(ChorusSdpNegotiation) negotiation =
      chorus_sdp_offerer_apply_answer(offerer, text, &error);
  if (negotiation == NULL) {
    check_error(error);
    if (!chorus_sdp_offerer_has_pending_offer(offerer))
      abort();
    return;
  }
  /* a second offer after any accepted answer must work */
  g_autoptr(ChorusSdpNegotiation) next =
      chorus_sdp_offerer_create_offer(offerer, tracks, 1, &local, &error);
  if (next == NULL)
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > CHORUS_SDP_MAX_BYTES + 64)
    return 0;
  /* The API takes C strings: the input ends at its first NUL. */
  g_autofree char *text = g_strndup((const char *)data, size);
  fuzz_parse_write(text);
  fuzz_answer(text);
  fuzz_subscriber_answer(text);
  ChorusSdpCandidate candidate;
  g_autoptr(GError) error = NULL;
  if (!chorus_sdp_candidate_parse(text, &candidate, &error))
    check_error(error);
  return 0;
}
