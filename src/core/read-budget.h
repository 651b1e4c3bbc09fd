#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A budget on socket reads made by library code that reads until a socket
 * is empty.
 *
 * libnice reads an agent's socket in one dispatch until the socket would
 * block. A peer that sends faster than the worker can handle what it sends
 * (a flood of valid STUN checks from its own validated address, answered
 * one by one, or of SRTP garbage) kept the worker inside that loop for as
 * long as the flood lasted and starved every other PeerConnection on it
 * (measured: another pair on the same worker got 0-1 % of its packets).
 * libnice has no option to bound the loop and no way to hand it datagrams
 * read elsewhere, and its STUN handling never reaches our callbacks. So
 * Chorus bounds it where it reads: while a budget is open on a thread,
 * recvmsg()/recvmmsg() on that thread count the datagrams they return and,
 * once the budget is spent, fail with EAGAIN as an empty non-blocking
 * socket would. libnice then ends its loop; the socket is still readable,
 * so the worker comes back to it on its next iteration, after every other
 * ready socket had its turn. Outside an open budget both calls behave
 * exactly as libc's.
 *
 * The calls are interposed by defining recvmsg() and recvmmsg() in the
 * executable (GIO, which libnice reads through, resolves them there). Use
 * only around non-blocking sockets: a blocking read refused here would
 * make GIO poll and retry. */

typedef struct {
  gint64 left; /* -1: no budget open */
  gboolean refused;
} ChorusReadBudget;

/* Opens a budget of @datagrams on this thread (0: unlimited) and returns
 * the state it replaced, for chorus_read_budget_end() to restore. */
ChorusReadBudget chorus_read_budget_begin(guint datagrams);
/* Closes the budget; TRUE if a read was refused because it was spent. */
gboolean chorus_read_budget_end(ChorusReadBudget saved);

G_END_DECLS
