#include "webrtc/rx-stamp.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/time.h>

void
chorus_rx_stamp_enable(int fd)
{
  /* The first SIOCGSTAMP on a socket enables stamping (its answer is
   * meaningless: nothing was stamped yet). */
  struct timeval tv;
  (void)ioctl(fd, SIOCGSTAMP, &tv);
}

gint64
chorus_rx_stamp_arrival_us(int fd, gint64 now_mono_us, gint64 now_real_us)
{
  struct timeval tv;
  if (ioctl(fd, SIOCGSTAMP, &tv) != 0)
    return -1;
  gint64 age = now_real_us - ((gint64)tv.tv_sec * G_USEC_PER_SEC + tv.tv_usec);
  if (age < 0 || age > G_USEC_PER_SEC)
    return -1;
  return now_mono_us - age;
}
