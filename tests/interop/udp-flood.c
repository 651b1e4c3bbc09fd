/* UDP flood for tests/interop/test_media_bad_input.py: sends the given
 * datagrams round-robin, 64 per sendmmsg call, as fast as one core can for
 * a given time, to one address on this machine; prints "sent errors".
 *
 *   udp-flood IP PORT SECONDS HEX[,HEX...] [SPOOF_IP SPOOF_PORT]
 *
 * With SPOOF_*, the datagrams carry that source address (a raw socket with
 * hand-built IPv4/UDP headers: needs root, in the test's own network
 * namespace) so that they come from a peer's validated ICE address.
 * Python sends about a third of this rate: not enough to outrun Chorus. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 64
#define MAX_PAYLOAD 1400
#define HEADERS 28 /* IPv4 without options + UDP */

static double
now_s(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
parse_hex(const char *hex, size_t n, uint8_t *out)
{
  for (size_t i = 0; i < n; i++) {
    unsigned int b;
    if (sscanf(hex + 2 * i, "%2x", &b) != 1)
      return -1;
    out[i] = (uint8_t)b;
  }
  return 0;
}

static void
put16(uint8_t *p, unsigned int v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

int
main(int argc, char **argv)
{
  if (argc != 5 && argc != 7) {
    fprintf(stderr, "usage: %s IP PORT SECONDS HEX[,HEX...] [SPOOF_IP SPOOF_PORT]\n", argv[0]);
    return 2;
  }
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
  struct in_addr spoof_ip = { 0 };
  int spoof = argc == 7;
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 ||
      (spoof && inet_pton(AF_INET, argv[5], &spoof_ip) != 1)) {
    fprintf(stderr, "udp-flood: not an IPv4 address\n");
    return 2;
  }
  double seconds = atof(argv[3]);

  /* The payloads, each built once (with headers when spoofing). */
  static uint8_t packets[BATCH][HEADERS + MAX_PAYLOAD];
  size_t lengths[BATCH];
  int n_payloads = 0;
  for (char *save = NULL, *hex = strtok_r(argv[4], ",", &save); hex != NULL && n_payloads < BATCH;
       hex = strtok_r(NULL, ",", &save)) {
    size_t len = strlen(hex) / 2;
    uint8_t *p = packets[n_payloads];
    uint8_t *payload = spoof ? p + HEADERS : p;
    if (len > MAX_PAYLOAD || parse_hex(hex, len, payload) != 0) {
      fprintf(stderr, "udp-flood: bad payload %d\n", n_payloads);
      return 2;
    }
    if (spoof) {
      /* IPv4: version 4, 5 words, total length, TTL 64, UDP; the kernel
       * fills the id and the header checksum. UDP checksum 0: none. */
      memset(p, 0, HEADERS);
      p[0] = 0x45;
      put16(p + 2, (unsigned int)(HEADERS + len));
      p[8] = 64;
      p[9] = IPPROTO_UDP;
      memcpy(p + 12, &spoof_ip, 4);
      memcpy(p + 16, &to.sin_addr, 4);
      put16(p + 20, (unsigned int)atoi(argv[6]));
      memcpy(p + 22, &to.sin_port, 2);
      put16(p + 24, (unsigned int)(8 + len));
      len += HEADERS;
    }
    lengths[n_payloads++] = len;
  }
  if (n_payloads == 0) {
    fprintf(stderr, "udp-flood: no payload\n");
    return 2;
  }

  int fd = spoof ? socket(AF_INET, SOCK_RAW, IPPROTO_RAW) : socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("udp-flood: socket");
    return 1;
  }
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  for (int i = 0; i < BATCH; i++) {
    int k = i % n_payloads;
    iov[i] = (struct iovec){ packets[k], lengths[k] };
    msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &to, .msg_namelen = sizeof(to),
                                             .msg_iov = &iov[i], .msg_iovlen = 1 } };
  }
  long long sent = 0, errors = 0;
  double end = now_s() + seconds;
  while (now_s() < end) {
    int r = sendmmsg(fd, msgs, BATCH, 0);
    if (r > 0)
      sent += r;
    else
      errors++;
  }
  printf("%lld %lld\n", sent, errors);
  return 0;
}
