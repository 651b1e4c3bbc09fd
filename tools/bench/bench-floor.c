/* The forwarding floor on this machine: what the cheapest possible SFU
 * spends per forwarded packet — copy a 1200-byte packet, rewrite its
 * header, SRTP-protect it (AEAD_AES_128_GCM, Chorus's preferred profile)
 * with the destination's own SRTP session and send it with sendmmsg in
 * batches of 32 from one UDP socket to loopback destinations.
 * scripts/bench-forward.sh compares Chorus's CPU per forwarded packet with
 * this, measured in the same run.
 *
 * Two ways to end a packet's life, both printed:
 * - "drained": @sinks destination sockets (default 50, like 50
 *   subscribers) read by a reader thread, as real receivers do. On
 *   loopback the sender's syscall also runs the receive path and wakes the
 *   reader, as Chorus's sends do. Only the sending thread's CPU is counted.
 * - "dropped": one sink nobody reads; once its buffer is full the kernel
 *   drops at enqueue after the sender's work (no wake-up). This is the
 *   lower bound; it does not happen to a live subscriber.
 * - "paced" (when a rate is given): the same work in the shape of Chorus's
 *   traffic: one sending socket per destination (a PeerConnection's own
 *   port), each incoming packet fanned out to every sink, @burst packets
 *   per sendmmsg call, @rate incoming packets per second with the sender
 *   sleeping in between, and the reader asleep until data arrives (so each
 *   burst pays for waking it, as a real subscriber's does). bench-forward.sh
 *   passes the rate, batch and mean packet size it measured from Chorus.
 *   Still no receive path, no RTCP, no timers: the floor of the same work.
 *
 *   bench-floor [packets] [sinks] [rate burst bytes seconds]
 *   prints "floor_drained_ns_per_packet N", "floor_dropped_ns_per_packet N"
 *   and, with a rate, "floor_paced_ns_per_packet N" */
#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <poll.h>
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
#define MAX_SINKS 1024

typedef struct {
  int fd;
  struct sockaddr_in addr;
  ChorusSrtp *srtp;
} Sink;

static Sink sinks[MAX_SINKS];
static guint n_sinks;
static volatile gboolean draining = TRUE;

static double
thread_cpu_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static ChorusSrtp *
srtp_new_random(void)
{
  ChorusSrtpKeys keys = { .profile = CHORUS_SRTP_PROFILE_AEAD_AES_128_GCM };
  chorus_srtp_profile_get_key_lengths(keys.profile, &keys.key_len, &keys.salt_len);
  for (guint i = 0; i < keys.key_len; i++)
    keys.local_key[i] = keys.remote_key[i] = (guint8)g_random_int();
  for (guint i = 0; i < keys.salt_len; i++)
    keys.local_salt[i] = keys.remote_salt[i] = (guint8)g_random_int();
  g_autoptr(GError) error = NULL;
  ChorusSrtp *srtp = chorus_srtp_new(&keys, &error);
  if (srtp == NULL) {
    fprintf(stderr, "bench-floor: %s\n", error->message);
    exit(1);
  }
  return srtp;
}

static void
sink_open(Sink *s, gboolean big_buffer)
{
  s->fd = socket(AF_INET, SOCK_DGRAM, 0);
  s->addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t alen = sizeof(s->addr);
  int big = 8 << 20;
  if (big_buffer)
    setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  if (bind(s->fd, (struct sockaddr *)&s->addr, sizeof(s->addr)) != 0 ||
      getsockname(s->fd, (struct sockaddr *)&s->addr, &alen) != 0) {
    perror("bench-floor: bind");
    exit(1);
  }
  s->srtp = srtp_new_random();
}

static gpointer
drain_thread(gpointer data)
{
  (void)data;
  struct pollfd *fds = g_new0(struct pollfd, n_sinks);
  for (guint i = 0; i < n_sinks; i++)
    fds[i] = (struct pollfd){ .fd = sinks[i].fd, .events = POLLIN };
  static guint8 buf[2048];
  while (draining) {
    if (poll(fds, n_sinks, 50) <= 0)
      continue;
    for (guint i = 0; i < n_sinks; i++)
      if (fds[i].revents & POLLIN)
        while (recv(fds[i].fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
          ;
  }
  g_free(fds);
  return NULL;
}

/* What a forwarder does to one packet for one destination: copy it (the
 * rewrite's copy), rewrite seq/timestamp/SSRC, SRTP-protect it with the
 * destination's session; fills the iovec and mmsghdr that send it. */
static void
prepare_packet(Sink *s, guint8 *buf, gsize cap, gsize size, guint16 seq, guint32 ts,
               struct iovec *iov, struct mmsghdr *msg)
{
  static guint8 template[PKT];
  if (template[0] == 0) {
    template[0] = 0x80;
    template[1] = 96;
    for (int i = 12; i < PKT; i++)
      template[i] = (guint8)i;
  }
  memcpy(buf, template, size);
  chorus_rtp_write16(buf + 2, seq);
  chorus_rtp_write32(buf + 4, ts);
  chorus_rtp_write32(buf + 8, 0x12345678);
  gsize len = size;
  if (chorus_srtp_protect_rtp(s->srtp, buf, &len, cap) != CHORUS_SRTP_OK) {
    fprintf(stderr, "bench-floor: protect failed\n");
    exit(1);
  }
  *iov = (struct iovec){ buf, len };
  *msg = (struct mmsghdr){ .msg_hdr = { .msg_name = &s->addr, .msg_namelen = sizeof(s->addr),
                                        .msg_iov = iov, .msg_iovlen = 1 } };
}

/* Sends @n packets round-robin over @sinks[0..count), returns CPU ns per packet. */
static double
run(int src, Sink *to, guint count, long n)
{
  static guint8 bufs[BATCH][PKT + CHORUS_SRTP_MAX_RTP_OVERHEAD];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  double t0 = thread_cpu_s();
  for (long sent = 0; sent < n;) {
    int k = 0;
    for (; k < BATCH && sent + k < n; k++)
      prepare_packet(&to[(sent + k) % count], bufs[k], sizeof(bufs[k]), PKT,
                     (guint16)((sent + k) / count), (guint32)((sent + k) * 3000), &iov[k], &msgs[k]);
    if (sendmmsg(src, msgs, k, 0) < 0) {
      perror("bench-floor: sendmmsg");
      exit(1);
    }
    sent += k;
  }
  return (thread_cpu_s() - t0) / n * 1e9;
}

/* Chorus's traffic shape (see the top): returns CPU ns per packet sent. */
static double
run_paced(Sink *to, guint count, double rate, guint burst, guint size, double seconds)
{
  burst = CLAMP(burst, 1, BATCH);
  size = CLAMP(size, 12, PKT);
  int *src = g_new(int, count);
  for (guint i = 0; i < count; i++) {
    src[i] = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (src[i] < 0 || bind(src[i], (struct sockaddr *)&a, sizeof(a)) != 0) {
      perror("bench-floor: source socket");
      exit(1);
    }
  }
  static guint8 bufs[BATCH][PKT + CHORUS_SRTP_MAX_RTP_OVERHEAD];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  long period_ns = (long)(burst / rate * 1e9);
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  long sent = 0, bursts = (long)(seconds * rate / burst);
  double t0 = thread_cpu_s();
  for (long k = 0; k < bursts; k++) {
    for (guint i = 0; i < count; i++) {
      for (guint b = 0; b < burst; b++)
        prepare_packet(&to[i], bufs[b], sizeof(bufs[b]), size, (guint16)(k * burst + b),
                       (guint32)(k * 3000), &iov[b], &msgs[b]);
      if (sendmmsg(src[i], msgs, burst, 0) < 0) {
        perror("bench-floor: sendmmsg");
        exit(1);
      }
      sent += burst;
    }
    next.tv_nsec += period_ns;
    while (next.tv_nsec >= 1000000000L) {
      next.tv_nsec -= 1000000000L;
      next.tv_sec++;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
  }
  double ns = sent > 0 ? (thread_cpu_s() - t0) / sent * 1e9 : 0;
  for (guint i = 0; i < count; i++)
    close(src[i]);
  g_free(src);
  return ns;
}

int
main(int argc, char **argv)
{
  long n = argc > 1 ? atol(argv[1]) : 200000;
  n_sinks = argc > 2 ? (guint)CLAMP(atoi(argv[2]), 1, MAX_SINKS) : 50;
  int src = socket(AF_INET, SOCK_DGRAM, 0);

  for (guint i = 0; i < n_sinks; i++)
    sink_open(&sinks[i], FALSE);
  GThread *drainer = g_thread_new("drain", drain_thread, NULL);
  double drained = run(src, sinks, n_sinks, n);
  double paced = -1;
  if (argc > 3 && atof(argv[3]) > 0)
    paced = run_paced(sinks, n_sinks, atof(argv[3]), argc > 4 ? (guint)atoi(argv[4]) : 1,
                      argc > 5 ? (guint)atoi(argv[5]) : PKT, argc > 6 ? atof(argv[6]) : 5.0);
  draining = FALSE;
  g_thread_join(drainer);

  Sink full;
  sink_open(&full, TRUE);
  double dropped = run(src, &full, 1, n);

  printf("floor_drained_ns_per_packet %.0f\n", drained);
  printf("floor_dropped_ns_per_packet %.0f\n", dropped);
  if (paced >= 0)
    printf("floor_paced_ns_per_packet %.0f\n", paced);
  return 0;
}
