/* Reads a publisher offer on stdin and prints Chorus's answer on stdout, so
 * that capture.js / capture_aiortc.py can check that real clients accept
 * the answers Chorus writes (setRemoteDescription, directions, simulcast).
 * Built by capture.sh against the sources directly. Exit status 1 and the
 * error on stderr when Chorus refuses the offer. */
#include <stdio.h>

#include "webrtc/sdp.h"

int
main(void)
{
  GString *offer = g_string_new(NULL);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), stdin)) > 0)
    g_string_append_len(offer, buffer, (gssize)n);

  /* Credentials and fingerprint are never used for a connection here. */
  static const char *const candidates[] = {"candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host",
                                           NULL};
  ChorusSdpLocalParams local = {
      .ice_ufrag = "Chor",
      .ice_pwd = "chorusCaptureToolPassword",
      .fingerprint_sha256 = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                            "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
      .candidates = candidates,
      .end_of_candidates = TRUE,
      .session_id = 1,
      .session_version = 1,
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusSdpNegotiation) negotiation =
      chorus_sdp_negotiation_answer_offer(offer->str, &local, NULL, &error);
  g_string_free(offer, TRUE);
  if (negotiation == NULL) {
    fprintf(stderr, "%s\n", error->message);
    return 1;
  }
  fputs(negotiation->sdp, stdout);
  return 0;
}
