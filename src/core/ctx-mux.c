#include "core/ctx-mux.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/error.h"
#include "core/read-budget.h"

#define MAX_EVENTS 64
#define NO_HEAP G_MAXUINT

typedef struct _Mux Mux;

/* One file descriptor a sub-context polls, as registered with epoll
 * (epoll_event.data.ptr points here, so entries have stable addresses). */
typedef struct {
  ChorusSubContext *sub;
  gint fd;
  gushort events;  /* GIOCondition registered */
  gushort revents; /* reported by epoll, for the next service */
  gboolean seen;
} Reg;

struct _ChorusSubContext {
  Mux *mux;
  GMainContext *context;
  GPtrArray *regs; /* Reg* */
  GPollFD *fds;    /* query buffer */
  gint fds_cap;
  gint wakeup_fd;      /* the context's own wake-up eventfd: not watched */
  gint64 deadline_us; /* -1: none */
  guint heap_index;   /* in mux->heap, or NO_HEAP */
  gboolean queued;    /* on mux->service for the current dispatch */
  gboolean servicing;
  gboolean sync_requested; /* chorus_sub_context_sync() during its own service */
  gboolean dead;           /* freed during the mux's dispatch */
  guint read_budget;       /* datagrams per service (0: unlimited) */
};

struct _Mux {
  GSource source;
  GMainContext *parent;
  gint epfd;
  gpointer epfd_tag;
  guint n_subs;
  GPtrArray *heap;    /* ChorusSubContext* with a deadline: a binary min-heap */
  GPtrArray *service; /* sub-contexts to service in this dispatch */
  GPtrArray *dead;    /* freed while dispatching, released after */
  gboolean dispatching;
  ChorusSubContextStats stats;
};

/* Parent context -> its Mux. Touched when sub-contexts come and go only. */
static GMutex registry_lock;
static GHashTable *registry;

static ChorusSubContextStats totals;

/* ---- the deadline heap (GLib has no priority queue; GSequence would
 * allocate a node per rescheduled timer) ---- */

static gboolean
earlier(const GPtrArray *heap, guint a, guint b)
{
  const ChorusSubContext *x = g_ptr_array_index(heap, a), *y = g_ptr_array_index(heap, b);
  return x->deadline_us < y->deadline_us;
}

static void
heap_swap(GPtrArray *heap, guint a, guint b)
{
  ChorusSubContext *x = g_ptr_array_index(heap, a), *y = g_ptr_array_index(heap, b);
  heap->pdata[a] = y;
  heap->pdata[b] = x;
  y->heap_index = a;
  x->heap_index = b;
}

static void
heap_fix(GPtrArray *heap, guint i)
{
  while (i > 0 && earlier(heap, i, (i - 1) / 2)) {
    heap_swap(heap, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
  for (;;) {
    guint l = 2 * i + 1, r = l + 1, m = i;
    if (l < heap->len && earlier(heap, l, m))
      m = l;
    if (r < heap->len && earlier(heap, r, m))
      m = r;
    if (m == i)
      return;
    heap_swap(heap, i, m);
    i = m;
  }
}

static void
heap_remove(GPtrArray *heap, ChorusSubContext *sub)
{
  guint i = sub->heap_index;
  if (i == NO_HEAP)
    return;
  guint last = heap->len - 1;
  if (i != last)
    heap_swap(heap, i, last);
  g_ptr_array_set_size(heap, last);
  sub->heap_index = NO_HEAP;
  if (i < heap->len)
    heap_fix(heap, i);
}

static void
set_deadline(Mux *m, ChorusSubContext *sub, gint64 deadline_us)
{
  sub->deadline_us = deadline_us;
  if (deadline_us < 0) {
    heap_remove(m->heap, sub);
    return;
  }
  if (sub->heap_index == NO_HEAP) {
    sub->heap_index = m->heap->len;
    g_ptr_array_add(m->heap, sub);
  }
  heap_fix(m->heap, sub->heap_index);
}

/* ---- epoll registrations ---- */

static guint32
to_epoll(gushort events)
{
  guint32 e = 0;
  if (events & G_IO_IN)
    e |= EPOLLIN;
  if (events & G_IO_OUT)
    e |= EPOLLOUT;
  if (events & G_IO_PRI)
    e |= EPOLLPRI;
  return e; /* EPOLLERR and EPOLLHUP are always reported */
}

static gushort
from_epoll(guint32 e)
{
  gushort c = 0;
  if (e & EPOLLIN)
    c |= G_IO_IN;
  if (e & EPOLLOUT)
    c |= G_IO_OUT;
  if (e & EPOLLPRI)
    c |= G_IO_PRI;
  if (e & EPOLLERR)
    c |= G_IO_ERR;
  if (e & EPOLLHUP)
    c |= G_IO_HUP;
  return c;
}

static void
reg_apply(Mux *m, Reg *r, gboolean add)
{
  struct epoll_event ev = { .events = to_epoll(r->events), .data.ptr = r };
  if (!add && epoll_ctl(m->epfd, EPOLL_CTL_MOD, r->fd, &ev) == 0)
    return;
  /* New, or MOD found nothing: the descriptor was closed and its number
   * reused (epoll forgets closed descriptions). */
  if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, r->fd, &ev) != 0 && errno != EEXIST)
    g_warning("ctx-mux: cannot watch fd %d: %s", r->fd, g_strerror(errno));
}

static void
reg_drop(Mux *m, Reg *r)
{
  /* ENOENT/EBADF: already closed, epoll dropped it then. */
  epoll_ctl(m->epfd, EPOLL_CTL_DEL, r->fd, NULL);
  g_free(r);
}

static Reg *
find_reg(ChorusSubContext *sub, gint fd)
{
  for (guint i = 0; i < sub->regs->len; i++) {
    Reg *r = g_ptr_array_index(sub->regs, i);
    if (r->fd == fd)
      return r;
  }
  return NULL;
}

/* Queries the acquired, prepared context into sub->fds; returns the count. */
static gint
query(ChorusSubContext *sub, gint priority, gint *timeout)
{
  for (;;) {
    gint n = g_main_context_query(sub->context, priority, timeout, sub->fds, sub->fds_cap);
    if (n <= sub->fds_cap)
      return n;
    sub->fds_cap = n;
    sub->fds = g_renew(GPollFD, sub->fds, sub->fds_cap);
  }
}

/* Brings the epoll set and the heap in line with what the context's query
 * returned. @full re-registers unchanged descriptors too (after calls that
 * may have closed a socket and opened another under the same number). */
static void
apply_query(ChorusSubContext *sub, gint n, gint timeout, gboolean full)
{
  Mux *m = sub->mux;
  for (guint i = 0; i < sub->regs->len; i++)
    ((Reg *)g_ptr_array_index(sub->regs, i))->seen = FALSE;
  for (gint i = 0; i < n; i++) {
    if (sub->fds[i].fd == sub->wakeup_fd)
      continue;
    Reg *r = find_reg(sub, sub->fds[i].fd);
    if (r == NULL) {
      r = g_new0(Reg, 1);
      r->sub = sub;
      r->fd = sub->fds[i].fd;
      r->events = sub->fds[i].events;
      g_ptr_array_add(sub->regs, r);
      reg_apply(m, r, TRUE);
    } else if (r->seen) {
      r->events |= sub->fds[i].events; /* the same fd twice: watch both */
      reg_apply(m, r, FALSE);
    } else if (full || r->events != sub->fds[i].events) {
      r->events = sub->fds[i].events;
      reg_apply(m, r, FALSE);
    }
    r->seen = TRUE;
  }
  for (guint i = sub->regs->len; i-- > 0;) {
    Reg *r = g_ptr_array_index(sub->regs, i);
    if (!r->seen) {
      g_ptr_array_remove_index_fast(sub->regs, i);
      reg_drop(m, r);
    }
  }
  set_deadline(m, sub, timeout < 0 ? -1 : g_get_monotonic_time() + (gint64)timeout * 1000);
}

static void
refresh(ChorusSubContext *sub, gboolean full)
{
  if (!g_main_context_acquire(sub->context)) {
    g_warning("ctx-mux: a sub-context is owned by another thread; not servicing it");
    return;
  }
  gint priority, timeout;
  g_main_context_prepare(sub->context, &priority);
  gint n = query(sub, priority, &timeout);
  g_main_context_release(sub->context);
  apply_query(sub, n, timeout, full);
}

/* One iteration of the sub-context with the readiness epoll reported. */
static void
service(ChorusSubContext *sub)
{
  if (!g_main_context_acquire(sub->context))
    return;
  sub->servicing = TRUE;
  gint priority, timeout;
  g_main_context_prepare(sub->context, &priority);
  gint n = query(sub, priority, &timeout);
  for (gint i = 0; i < n; i++) {
    Reg *r = find_reg(sub, sub->fds[i].fd);
    sub->fds[i].revents = 0;
    if (r != NULL)
      sub->fds[i].revents = r->revents & (sub->fds[i].events | G_IO_ERR | G_IO_HUP | G_IO_NVAL);
  }
  for (guint i = 0; i < sub->regs->len; i++)
    ((Reg *)g_ptr_array_index(sub->regs, i))->revents = 0;
  if (g_main_context_check(sub->context, priority, sub->fds, n)) {
    ChorusReadBudget saved = chorus_read_budget_begin(sub->read_budget);
    g_main_context_dispatch(sub->context);
    if (chorus_read_budget_end(saved))
      sub->mux->stats.read_yields++;
  }
  sub->servicing = FALSE;
  g_main_context_release(sub->context);
  if (!sub->dead) {
    /* What the dispatch attached or removed, and the next deadline. */
    gboolean full = sub->sync_requested;
    sub->sync_requested = FALSE;
    refresh(sub, full);
  }
}

/* ---- the parent's source ---- */

static gboolean
mux_due(Mux *m, gint64 now_us, gint *timeout)
{
  if (m->heap->len == 0) {
    *timeout = -1;
    return FALSE;
  }
  gint64 wait = ((ChorusSubContext *)g_ptr_array_index(m->heap, 0))->deadline_us - now_us;
  if (wait <= 0) {
    *timeout = 0;
    return TRUE;
  }
  *timeout = (gint)MIN((wait + 999) / 1000, G_MAXINT);
  return FALSE;
}

static gboolean
mux_prepare(GSource *source, gint *timeout)
{
  return mux_due((Mux *)source, g_get_monotonic_time(), timeout);
}

static gboolean
mux_check(GSource *source)
{
  Mux *m = (Mux *)source;
  gint timeout;
  return (g_source_query_unix_fd(source, m->epfd_tag) & G_IO_IN) ||
         mux_due(m, g_get_monotonic_time(), &timeout);
}

static void
queue(Mux *m, ChorusSubContext *sub)
{
  if (sub->queued)
    return;
  sub->queued = TRUE;
  g_ptr_array_add(m->service, sub);
}

static void sub_release(ChorusSubContext *sub);
static void mux_unregister(Mux *m);

static gboolean
mux_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
  (void)callback;
  (void)user_data;
  Mux *m = (Mux *)source;
  struct epoll_event evs[MAX_EVENTS];
  if (m->dispatching)
    return G_SOURCE_CONTINUE; /* a nested iteration of the parent */
  m->dispatching = TRUE;
  gint n = epoll_wait(m->epfd, evs, MAX_EVENTS, 0);
  for (gint i = 0; i < n; i++) {
    Reg *r = evs[i].data.ptr;
    r->revents |= from_epoll(evs[i].events);
    queue(m, r->sub);
  }
  ChorusSubContextStats before = m->stats;
  m->stats.epoll_events += (guint64)MAX(n, 0);
  /* A deadline is the context's next ready time rounded up to the
   * millisecond GLib reports it in: one that falls within the next
   * millisecond may already be due. Servicing it now (GLib's check tells)
   * keeps timers that GLib would have run in one iteration together. */
  gint64 now = g_get_monotonic_time();
  while (m->heap->len > 0) {
    ChorusSubContext *sub = g_ptr_array_index(m->heap, 0);
    if (sub->deadline_us > now + 1000)
      break;
    set_deadline(m, sub, -1);
    if (!sub->queued)
      m->stats.timer_wakeups++;
    queue(m, sub);
  }
  /* Sub-contexts created while servicing wait for the next dispatch. */
  guint len = m->service->len;
  for (guint i = 0; i < len; i++) {
    ChorusSubContext *sub = g_ptr_array_index(m->service, i);
    sub->queued = FALSE;
    if (!sub->dead) {
      m->stats.services++;
      service(sub);
    }
  }
  g_ptr_array_remove_range(m->service, 0, len);
  m->dispatching = FALSE;
  for (guint i = 0; i < m->dead->len; i++)
    sub_release(g_ptr_array_index(m->dead, i));
  g_ptr_array_set_size(m->dead, 0);
  __atomic_add_fetch(&totals.services, m->stats.services - before.services, __ATOMIC_RELAXED);
  __atomic_add_fetch(&totals.epoll_events, m->stats.epoll_events - before.epoll_events,
                     __ATOMIC_RELAXED);
  __atomic_add_fetch(&totals.timer_wakeups, m->stats.timer_wakeups - before.timer_wakeups,
                     __ATOMIC_RELAXED);
  __atomic_add_fetch(&totals.read_yields, m->stats.read_yields - before.read_yields,
                     __ATOMIC_RELAXED);
  if (m->n_subs == 0)
    mux_unregister(m);
  return G_SOURCE_CONTINUE;
}

static void
mux_finalize(GSource *source)
{
  Mux *m = (Mux *)source;
  /* Normally unregistered already; not if the parent context went away
   * with sub-contexts still alive (their owner's bug, but a new context at
   * the same address must not find this one). */
  g_mutex_lock(&registry_lock);
  if (registry != NULL && g_hash_table_lookup(registry, m->parent) == m)
    g_hash_table_remove(registry, m->parent);
  g_mutex_unlock(&registry_lock);
  close(m->epfd);
  g_ptr_array_unref(m->heap);
  g_ptr_array_unref(m->service);
  g_ptr_array_unref(m->dead);
}

static GSourceFuncs mux_funcs = {
  .prepare = mux_prepare,
  .check = mux_check,
  .dispatch = mux_dispatch,
  .finalize = mux_finalize,
};

static void
set_fd_error(GError **error, const char *what, int err)
{
  g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL,
              "%s: %s%s", what, g_strerror(err),
              err == EMFILE || err == ENFILE ? " (raise the open files limit: ulimit -n, LimitNOFILE=)" : "");
}

static Mux *
mux_get(GMainContext *parent, GError **error)
{
  g_mutex_lock(&registry_lock);
  if (registry == NULL)
    registry = g_hash_table_new(NULL, NULL);
  Mux *m = g_hash_table_lookup(registry, parent);
  if (m == NULL) {
    gint epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
      set_fd_error(error, "cannot create an epoll set", errno);
      g_mutex_unlock(&registry_lock);
      return NULL;
    }
    m = (Mux *)g_source_new(&mux_funcs, sizeof(Mux));
    m->parent = parent;
    m->epfd = epfd;
    m->heap = g_ptr_array_new();
    m->service = g_ptr_array_new();
    m->dead = g_ptr_array_new();
    m->epfd_tag = g_source_add_unix_fd(&m->source, epfd, G_IO_IN);
    g_source_set_static_name(&m->source, "chorus-ctx-mux");
    /* GLib removes and re-adds the poll records of a source that cannot
     * recurse around each dispatch, and each of those writes the context's
     * wake-up eventfd: two syscalls and one more loop iteration per
     * dispatch. Nesting is handled in mux_dispatch. */
    g_source_set_can_recurse(&m->source, TRUE);
    g_source_attach(&m->source, parent);
    g_hash_table_insert(registry, parent, m);
  }
  m->n_subs++;
  g_mutex_unlock(&registry_lock);
  return m;
}

/* The last sub-context is gone: the parent's source goes too (outside a
 * dispatch; a dispatch in progress does this on its way out). */
static void
mux_unregister(Mux *m)
{
  g_mutex_lock(&registry_lock);
  gboolean last = m->n_subs == 0 && g_hash_table_lookup(registry, m->parent) == m;
  if (last)
    g_hash_table_remove(registry, m->parent);
  g_mutex_unlock(&registry_lock);
  if (last) {
    g_source_destroy(&m->source);
    g_source_unref(&m->source);
  }
}

/* ---- public ---- */

ChorusSubContext *
chorus_sub_context_new(GMainContext *parent, GError **error)
{
  g_return_val_if_fail(parent != NULL, NULL);
  /* GLib aborts the process when a new context cannot get its wake-up
   * eventfd: make sure one is there (a descriptor taken by another thread
   * between the probe and GLib's own is the remaining window). */
  gint probe = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (probe < 0) {
    set_fd_error(error, "cannot create an ICE agent's context", errno);
    return NULL;
  }
  Mux *m = mux_get(parent, error);
  if (m == NULL) {
    close(probe);
    return NULL;
  }
  ChorusSubContext *sub = g_new0(ChorusSubContext, 1);
  sub->mux = m;
  close(probe);
  sub->context = g_main_context_new();
  sub->regs = g_ptr_array_new();
  sub->deadline_us = -1;
  sub->heap_index = NO_HEAP;
  /* A new context polls one descriptor: its wake-up eventfd. GLib writes
   * it whenever a source's descriptors are added or removed, which it does
   * around every dispatch of a source that cannot recurse (libnice's
   * sockets): watching it would service every sub-context twice per
   * packet. Nothing wakes a sub-context from another thread (see the rules
   * in the header), so it is left out; GLib's check does not need it. */
  sub->wakeup_fd = -1;
  if (g_main_context_acquire(sub->context)) {
    gint priority, timeout;
    g_main_context_prepare(sub->context, &priority);
    if (query(sub, priority, &timeout) == 1)
      sub->wakeup_fd = sub->fds[0].fd;
    g_main_context_release(sub->context);
  }
  refresh(sub, FALSE);
  return sub;
}

GMainContext *
chorus_sub_context_get_context(ChorusSubContext *sub)
{
  g_return_val_if_fail(sub != NULL, NULL);
  return sub->context;
}

void
chorus_sub_context_set_read_budget(ChorusSubContext *sub, guint datagrams)
{
  g_return_if_fail(sub != NULL);
  sub->read_budget = datagrams;
}

void
chorus_sub_context_sync(ChorusSubContext *sub)
{
  g_return_if_fail(sub != NULL && !sub->dead);
  if (sub->servicing) {
    sub->sync_requested = TRUE; /* done on the way out of the dispatch */
    return;
  }
  refresh(sub, TRUE);
}

static void
sub_release(ChorusSubContext *sub)
{
  g_ptr_array_unref(sub->regs);
  g_main_context_unref(sub->context);
  g_free(sub->fds);
  g_free(sub);
}

void
chorus_sub_context_free(ChorusSubContext *sub)
{
  if (sub == NULL)
    return;
  g_return_if_fail(!sub->dead);
  Mux *m = sub->mux;
  for (guint i = 0; i < sub->regs->len; i++)
    reg_drop(m, g_ptr_array_index(sub->regs, i));
  g_ptr_array_set_size(sub->regs, 0);
  heap_remove(m->heap, sub);
  sub->dead = TRUE;
  m->n_subs--;
  if (m->dispatching) {
    /* It may be on the service list, or be the one dispatching now. */
    g_ptr_array_add(m->dead, sub);
    return;
  }
  sub_release(sub);
  if (m->n_subs == 0)
    mux_unregister(m);
}

void
chorus_sub_context_get_totals(ChorusSubContextStats *out)
{
  out->services = __atomic_load_n(&totals.services, __ATOMIC_RELAXED);
  out->epoll_events = __atomic_load_n(&totals.epoll_events, __ATOMIC_RELAXED);
  out->timer_wakeups = __atomic_load_n(&totals.timer_wakeups, __ATOMIC_RELAXED);
  out->read_yields = __atomic_load_n(&totals.read_yields, __ATOMIC_RELAXED);
}
