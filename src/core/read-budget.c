#include "core/read-budget.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static __thread ChorusReadBudget current = { FALSE, -1, 0, 0, FALSE };

ChorusReadBudget
chorus_read_budget_begin(guint datagrams, gint64 max_us)
{
  ChorusReadBudget saved = current;
  current = (ChorusReadBudget){
    .open = datagrams != 0 || max_us > 0,
    .left = datagrams == 0 ? -1 : (gint64)datagrams,
    .until_us = max_us > 0 ? g_get_monotonic_time() + max_us : 0,
  };
  return saved;
}

gboolean
chorus_read_budget_end(ChorusReadBudget saved)
{
  gboolean refused = current.refused;
  current = saved;
  return refused;
}

/* The open budget allows how many of @want datagrams (0: refuse). */
static unsigned int
allowed(unsigned int want)
{
  if (G_LIKELY(!current.open))
    return want;
  if (current.left == 0 ||
      (current.until_us != 0 && current.reads > 0 && g_get_monotonic_time() >= current.until_us)) {
    current.refused = TRUE;
    return 0;
  }
  return current.left < 0 ? want : (unsigned int)MIN((gint64)want, current.left);
}

/* @n datagrams were read under the open budget. */
static void
spend(gint64 n)
{
  if (!current.open || n <= 0)
    return;
  current.reads += (guint64)n;
  if (current.left > 0)
    current.left -= MIN(n, current.left);
}

ssize_t
recvmsg(int fd, struct msghdr *msg, int flags)
{
  if (allowed(1) == 0) {
    errno = EAGAIN;
    return -1;
  }
  ssize_t r = syscall(SYS_recvmsg, fd, msg, flags);
  if (r >= 0)
    spend(1);
  return r;
}

int
recvmmsg(int fd, struct mmsghdr *msgs, unsigned int vlen, int flags, struct timespec *timeout)
{
  unsigned int n = vlen == 0 ? 0 : allowed(vlen);
  if (vlen != 0 && n == 0) {
    errno = EAGAIN;
    return -1;
  }
  int r = (int)syscall(SYS_recvmmsg, fd, msgs, n, flags, timeout);
  spend(r);
  return r;
}
