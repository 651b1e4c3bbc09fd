#include "core/read-budget.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static __thread ChorusReadBudget current = { -1, FALSE };

ChorusReadBudget
chorus_read_budget_begin(guint datagrams)
{
  ChorusReadBudget saved = current;
  current.left = datagrams == 0 ? -1 : (gint64)datagrams;
  current.refused = FALSE;
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
  if (G_LIKELY(current.left < 0))
    return want;
  if (current.left == 0) {
    current.refused = TRUE;
    return 0;
  }
  return (unsigned int)MIN((gint64)want, current.left);
}

/* @n datagrams were read: taken from the open budget, if any. */
static void
spend(gint64 n)
{
  if (n > 0 && current.left > 0)
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
