/* libFuzzer target for ChorusDtls: received datagrams in any state.
 *
 * Input: one mode byte, then datagrams as [u16 big-endian length][bytes].
 *   mode % 3 == 0: a fresh SERVER (the first datagram is what a ClientHello
 *                  would be);
 *   mode % 3 == 1: a CLIENT that has sent its ClientHello;
 *   mode % 3 == 2: a SERVER already CONNECTED to a ChorusDtls client (the
 *                  input arrives after the handshake).
 * After each datagram the output is drained and a timeout is handled, with
 * a clock that jumps by the datagram's first byte in 10 ms units.
 *
 * Build (no meson target yet; from the source root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/fuzz-dtls.c src/webrtc/certificate.c src/webrtc/dtls.c \
 *     src/webrtc/srtp.c src/core/error.c \
 *     $(pkg-config --cflags --libs glib-2.0 openssl libsrtp2) -o fuzz-dtls
 *   ./fuzz-dtls -max_total_time=300 tests/fuzz/corpus-dtls
 */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>

#include "webrtc/dtls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ChorusDtlsContext *server_ctx;
static ChorusDtlsContext *client_ctx;

static ChorusDtlsContext *
make_context(void)
{
  GError *error = NULL;
  ChorusCertificate *cert = chorus_certificate_new_generated(&error);
  if (cert == NULL)
    g_error("certificate: %s", error->message);
  ChorusDtlsContext *ctx = chorus_dtls_context_new(cert, &error);
  if (ctx == NULL)
    g_error("context: %s", error->message);
  chorus_certificate_unref(cert);
  return ctx;
}

static void
drain(ChorusDtls *from, ChorusDtls *to, gint64 now_us)
{
  guint8 out[CHORUS_DTLS_MTU];
  gsize len = 0;
  while (chorus_dtls_poll_datagram(from, out, sizeof out, &len)) {
    if (len == 0 || len > CHORUS_DTLS_MTU)
      abort();
    if (to != NULL)
      chorus_dtls_handle_datagram(to, out, len, now_us);
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (server_ctx == NULL) {
    server_ctx = make_context();
    client_ctx = make_context();
  }
  if (size < 1)
    return 0;
  guint mode = data[0] % 3;
  data++;
  size--;

  gint64 now_us = 1000000;
  ChorusDtls *peer = NULL;
  ChorusDtls *d = NULL;
  if (mode == 1) {
    d = chorus_dtls_new(client_ctx, CHORUS_DTLS_ROLE_CLIENT,
                        chorus_dtls_context_get_fingerprint(server_ctx), NULL);
    chorus_dtls_start(d, now_us);
    drain(d, NULL, now_us);
  } else {
    d = chorus_dtls_new(server_ctx, CHORUS_DTLS_ROLE_SERVER,
                        chorus_dtls_context_get_fingerprint(client_ctx), NULL);
    if (mode == 2) {
      peer = chorus_dtls_new(client_ctx, CHORUS_DTLS_ROLE_CLIENT,
                             chorus_dtls_context_get_fingerprint(server_ctx), NULL);
      chorus_dtls_start(peer, now_us);
      for (int i = 0; i < 4; i++) {
        drain(peer, d, now_us);
        drain(d, peer, now_us);
      }
      if (chorus_dtls_get_state(d) != CHORUS_DTLS_STATE_CONNECTED)
        abort();
    }
  }

  while (size >= 2) {
    gsize len = ((gsize)data[0] << 8) | data[1];
    data += 2;
    size -= 2;
    len = MIN(len, size);
    ChorusDtlsState before = chorus_dtls_get_state(d);
    ChorusDtlsState after = chorus_dtls_handle_datagram(d, data, len, now_us);
    /* Documented: once CONNECTED, only a peer's fatal alert (which needs the
     * keys) or close_notify can leave that state. */
    if (before == CHORUS_DTLS_STATE_CONNECTED && after != CHORUS_DTLS_STATE_CONNECTED)
      abort();
    if (after == CHORUS_DTLS_STATE_FAILED && chorus_dtls_get_failure_reason(d) == NULL)
      abort();
    drain(d, NULL, now_us);
    now_us += (len > 0 ? data[0] : 0) * 10000;
    chorus_dtls_handle_timeout(d, now_us);
    drain(d, NULL, now_us);
    data += len;
    size -= len;
  }
  chorus_dtls_free(d);
  chorus_dtls_free(peer);
  return 0;
}
