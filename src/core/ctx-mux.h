#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sub-contexts: one small GMainContext per owner (one ICE agent: its
 * sockets and timers), all serviced from one parent context (a worker's)
 * through a single GSource per parent that waits on an epoll set and a
 * heap of the sub-contexts' next deadlines.
 *
 * Why: GLib's main loop prepares, polls and checks every source of a
 * context on every iteration. With one libnice agent per PeerConnection a
 * worker holding hundreds of them spent ~20 % of its CPU on that (poll()
 * over every socket, prepare/check over every source) while a packet
 * arrived on one or two of them. Here an iteration costs what is ready:
 * epoll reports the sockets with data, the heap the sub-contexts whose
 * timers are due, and only those are prepared, checked and dispatched
 * (with GLib's own g_main_context_prepare/query/check/dispatch, the API
 * GLib offers for running a context from another loop).
 *
 * Rules: create, sync and free a sub-context on the thread that runs the
 * parent context. After calling into code that may have attached sources
 * to a sub-context or changed its sockets from outside its dispatch (for
 * libnice: gathering, remote credentials and candidates, restarts), call
 * chorus_sub_context_sync(); what runs inside the sub-context's own
 * dispatch is picked up without it. Free the sub-context before the
 * sockets it watched are closed. */

typedef struct _ChorusSubContext ChorusSubContext;

/* NULL with @error when out of file descriptors (the sub-context needs an
 * eventfd, the first one of a parent an epoll set too). */
ChorusSubContext *chorus_sub_context_new(GMainContext *parent, GError **error);

/* The sub-context's GMainContext (owned by the sub-context; ref it to keep
 * it beyond chorus_sub_context_free()). */
GMainContext *chorus_sub_context_get_context(ChorusSubContext *sub);

/* At most @datagrams socket reads (recvmsg/recvmmsg, see
 * core/read-budget.h) per service of the sub-context; 0 (the default): no
 * limit. Code that reads a socket until it would block stops there and
 * gets the rest on a later service, after the other ready sub-contexts of
 * the parent. Only for sub-contexts whose sockets are non-blocking. */
void chorus_sub_context_set_read_budget(ChorusSubContext *sub, guint datagrams);
/* Re-reads the sub-context's file descriptors and next deadline. */
void chorus_sub_context_sync(ChorusSubContext *sub);

/* Stops servicing and drops the sub-context's reference to its context.
 * Safe from inside the sub-context's own dispatch. */
void chorus_sub_context_free(ChorusSubContext *sub);

typedef struct {
  guint64 services;     /* sub-contexts prepared/checked/dispatched */
  guint64 epoll_events; /* readiness reports taken from epoll */
  guint64 timer_wakeups; /* sub-contexts serviced because a deadline was due */
  guint64 read_yields;   /* services whose reads were cut short by the budget */
} ChorusSubContextStats;

/* Totals over every parent since start (relaxed atomics). */
void chorus_sub_context_get_totals(ChorusSubContextStats *out);

G_END_DECLS
