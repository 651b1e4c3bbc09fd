/* Kernel receive stamps: the arrival of a datagram that waited in the
 * socket is its arrival, not the time it was read. Real loopback UDP; the
 * only wait is a 5 ms spin between sending and reading. */
#include <arpa/inet.h>
#include <check.h>
#include <glib.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "webrtc/rx-stamp.h"

static int
bound_udp(struct sockaddr_in *addr)
{
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(fd, 0);
  *addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof(*addr);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
  return fd;
}

static void
send_one(int from, const struct sockaddr_in *to)
{
  ck_assert_int_eq(sendto(from, "x", 1, 0, (const struct sockaddr *)to, sizeof(*to)), 1);
}

static void
read_one(int fd)
{
  char b[8];
  ck_assert_int_eq(recv(fd, b, sizeof b, 0), 1);
}

/* The arrival of the datagram just read, mapped through a pair of clock
 * reads taken together (a pair split by a preemption is read again). */
static gint64
arrival_of(int rx, gint64 *now_out)
{
  for (;;) {
    gint64 mono = g_get_monotonic_time(), real = g_get_real_time();
    if (g_get_monotonic_time() - mono > 200)
      continue;
    if (now_out)
      *now_out = mono;
    return chorus_rx_stamp_arrival_us(rx, mono, real);
  }
}

/* The kernel turns stamping on from a work queue when no socket on the
 * machine had it on yet: datagrams in between carry no stamp (the answer
 * then is "unknown"). Wait for the first stamped one (bounded). */
static void
stamping_on(int rx, int tx, const struct sockaddr_in *ra)
{
  chorus_rx_stamp_enable(rx);
  gint64 until = g_get_monotonic_time() + G_USEC_PER_SEC;
  for (;;) {
    send_one(tx, ra);
    read_one(rx);
    if (chorus_rx_stamp_arrival_us(rx, g_get_monotonic_time(), g_get_real_time()) >= 0)
      return;
    ck_assert_msg(g_get_monotonic_time() < until, "no receive stamps within 1 s of enabling them");
    g_thread_yield();
  }
}

START_TEST(test_queued_datagram_keeps_its_arrival)
{
  struct sockaddr_in ra, sa;
  int rx = bound_udp(&ra), tx = bound_udp(&sa);
  stamping_on(rx, tx, &ra);
  /* The datagram arrives between these two clock reads, however long the
   * (shared, loaded) machine keeps this process off the CPU in between. */
  gint64 before_send = g_get_monotonic_time();
  send_one(tx, &ra);
  gint64 after_send = g_get_monotonic_time();
  /* The worker is busy for 5 ms: the datagram waits in the socket. */
  while (g_get_monotonic_time() - after_send < 5000)
    ;
  read_one(rx);
  gint64 now;
  gint64 arrival = arrival_of(rx, &now);
  /* The stamp is on the real clock (1 ms slack either way for NTP). */
  ck_assert_int_ge(arrival, before_send - 1000);
  ck_assert_int_le(arrival, after_send + 1000);
  ck_assert_int_ge(now - arrival, 4000);
  close(rx);
  close(tx);
}
END_TEST

START_TEST(test_each_read_has_its_own_stamp)
{
  struct sockaddr_in ra, sa;
  int rx = bound_udp(&ra), tx = bound_udp(&sa);
  stamping_on(rx, tx, &ra);
  send_one(tx, &ra);
  gint64 mid = g_get_monotonic_time();
  while (g_get_monotonic_time() - mid < 3000)
    ;
  send_one(tx, &ra); /* at least 3 ms after the first */
  read_one(rx);
  gint64 first = arrival_of(rx, NULL);
  read_one(rx);
  gint64 second = arrival_of(rx, NULL);
  ck_assert_int_gt(first, 0);
  ck_assert_int_le(first, mid + 1000);
  ck_assert_int_ge(second - first, 2500);
  close(rx);
  close(tx);
}
END_TEST

START_TEST(test_stepped_clock_gives_unknown)
{
  struct sockaddr_in ra, sa;
  int rx = bound_udp(&ra), tx = bound_udp(&sa);
  stamping_on(rx, tx, &ra);
  send_one(tx, &ra);
  read_one(rx);
  gint64 mono = g_get_monotonic_time(), real = g_get_real_time();
  ck_assert_int_gt(chorus_rx_stamp_arrival_us(rx, mono, real), 0);
  /* The real clock stepped back an hour, or forward a minute. */
  ck_assert_int_eq(chorus_rx_stamp_arrival_us(rx, mono, real - (gint64)3600 * G_USEC_PER_SEC), -1);
  ck_assert_int_eq(chorus_rx_stamp_arrival_us(rx, mono, real + (gint64)60 * G_USEC_PER_SEC), -1);
  /* Not a socket. */
  ck_assert_int_eq(chorus_rx_stamp_arrival_us(-1, mono, real), -1);
  close(rx);
  close(tx);
}
END_TEST

int
main(void)
{
  /* Keep stamping switched on for the whole run: the kernel switches it
   * off again (from a work queue) when the last socket that wanted it
   * closes, and each test runs in a forked process whose sockets come and
   * go; an unstamped datagram in between would fail a check for nothing. */
  int keep_rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (keep_rx >= 0)
    chorus_rx_stamp_enable(keep_rx);

  Suite *s = suite_create("rx-stamp");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_queued_datagram_keeps_its_arrival);
  tcase_add_test(tc, test_each_read_has_its_own_stamp);
  tcase_add_test(tc, test_stepped_clock_gives_unknown);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  if (keep_rx >= 0)
    close(keep_rx);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
