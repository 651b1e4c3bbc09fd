/* The forwarding floor on this machine: what the cheapest possible SFU
 * spends per forwarded packet — copy a 1200-byte packet, rewrite its
 * header, SRTP-protect it (AEAD_AES_128_GCM, Chorus's preferred profile)
 * and send it with sendmmsg in batches of 32 to a loopback UDP socket.
 * scripts/bench-forward.sh compares Chorus's CPU per forwarded packet with
 * this, measured in the same run.
 *
 * Nothing reads the sink: once its buffer is full the kernel drops at
 * enqueue, after doing the sender's work (what the floor is about).
 *
 *   bench-floor [packets]      prints "floor_ns_per_packet N" (CPU time) */
#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rtp/rtp-packet.h"
#include "webrtc/srtp.h"

#define BATCH 32
#define PKT 1200

static double
cpu_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
  long n = argc > 1 ? atol(argv[1]) : 200000;
  ChorusSrtpKeys keys = { .profile = CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM };
  chorus_srtp_profile_get_key_lengths(keys.profile, &keys.key_len, &keys.salt_len);
  for (guint i = 0; i < keys.key_len; i++)
    keys.local_key[i] = keys.remote_key[i] = (guint8)g_random_int();
  for (guint i = 0; i < keys.salt_len; i++)
    keys.local_salt[i] = keys.remote_salt[i] = (guint8)g_random_int();
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusSrtp) srtp = chorus_srtp_new(&keys, &error);
  if (srtp == NULL) {
    fprintf(stderr, "bench-floor: %s\n", error->message);
    return 1;
  }

  int sink = socket(AF_INET, SOCK_DGRAM, 0), src = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t alen = sizeof(addr);
  int big = 8 << 20;
  setsockopt(sink, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  if (bind(sink, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
      getsockname(sink, (struct sockaddr *)&addr, &alen) != 0) {
    perror("bench-floor: bind");
    return 1;
  }

  guint8 template[PKT] = { 0x80, 96 };
  for (int i = 12; i < PKT; i++)
    template[i] = (guint8)i;
  static guint8 bufs[BATCH][PKT + CHORUS_SRTP_MAX_RTP_OVERHEAD];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];

  double t0 = cpu_s();
  for (long sent = 0; sent < n;) {
    int k = 0;
    for (; k < BATCH && sent + k < n; k++) {
      guint8 *b = bufs[k];
      memcpy(b, template, PKT);                                /* the rewrite's copy */
      chorus_rtp_write16(b + 2, (guint16)(sent + k));          /* seq */
      chorus_rtp_write32(b + 4, (guint32)((sent + k) * 3000)); /* timestamp */
      chorus_rtp_write32(b + 8, 0x12345678);                   /* ssrc */
      gsize len = PKT;
      if (chorus_srtp_protect_rtp(srtp, b, &len, sizeof(bufs[k])) != CHORUS_SRTP_OK) {
        fprintf(stderr, "bench-floor: protect failed\n");
        return 1;
      }
      iov[k] = (struct iovec){ b, len };
      msgs[k] = (struct mmsghdr){ .msg_hdr = { .msg_name = &addr, .msg_namelen = sizeof(addr),
                                               .msg_iov = &iov[k], .msg_iovlen = 1 } };
    }
    if (sendmmsg(src, msgs, k, 0) < 0) {
      perror("bench-floor: sendmmsg");
      return 1;
    }
    sent += k;
  }
  double per_ns = (cpu_s() - t0) / n * 1e9;
  printf("floor_ns_per_packet %.0f\n", per_ns);
  close(sink);
  close(src);
  return 0;
}
