#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Kernel receive timestamps for sockets libnice reads.
 *
 * Transport-wide CC feedback tells a publisher when each packet arrived.
 * Taking "now" when Chorus gets to a packet is wrong whenever the worker
 * was busy: packets that queued in the socket for a few milliseconds are
 * reported as a burst that arrived within microseconds, which the
 * publisher's estimator reads as a link far faster than its probe (and
 * drops the probe: Chromium then ramps from 300 kbps at ~8 % a second,
 * ~17 s to its top simulcast layer, where a good probe gets there in ~1 s).
 * The kernel stamps each datagram as it arrives; libnice hands us payloads
 * only (no control messages), so SIOCGSTAMP asks the socket for the stamp
 * of the datagram read from it last. */

/* Turns stamping on for @fd (the kernel stamps datagrams from then on). */
void chorus_rx_stamp_enable(int fd);

/* When the datagram read last from @fd arrived, on the monotonic clock
 * (@now_mono_us and @now_real_us: the monotonic and real clocks now), or -1
 * when unknown (stamping off, or a stamp older than a second or in the
 * future: the real clock was stepped). */
gint64 chorus_rx_stamp_arrival_us(int fd, gint64 now_mono_us, gint64 now_real_us);

G_END_DECLS
