#define G_LOG_DOMAIN "chorus-load"

#include "load-thread.h"

#include "load-participant.h"

#define HOUSEKEEPING_US (250 * 1000)

struct _LoadThread {
  /* Set on main before the worker sees the thread; immutable after. */
  ChorusWorker *worker;
  const LoadShared *shared;
  LoadEventFunc event;
  gpointer event_user_data;
  /* Worker-confined. */
  SoupSession *session;
  GPtrArray *participants; /* LoadParticipant * (owned) */
  GPtrArray *publishers;   /* LoadParticipant * (borrowed): those with media to send */
  GSource *source;
  gint64 next_housekeeping_us;
  gboolean finished;
  LoadLag lag;
};

typedef struct {
  GSource base;
  LoadThread *thread;
} ThreadSource;

static gboolean
thread_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
  LoadThread *t = ((ThreadSource *)source)->thread;
  gint64 now_us = g_get_monotonic_time();
  gint64 next_us = G_MAXINT64;
  gint64 due_us = g_source_get_ready_time(source);
  if (due_us > 0) { /* 0: woken on purpose, not on schedule */
    gint64 late_us = MAX(now_us - due_us, 0);
    t->lag.wakeups++;
    t->lag.late_sum_us += late_us;
    t->lag.late_max_us = MAX(t->lag.late_max_us, late_us);
    t->lag.late_over_10ms += late_us > 10000;
  }
  if (!t->finished) {
    for (guint i = 0; i < t->publishers->len; i++) {
      LoadParticipant *p = g_ptr_array_index(t->publishers, i);
      load_participant_run_media(p, now_us);
      next_us = MIN(next_us, load_participant_next_media_deadline_us(p));
    }
  }
  if (now_us >= t->next_housekeeping_us) {
    for (guint i = 0; i < t->participants->len; i++)
      load_participant_check_deadlines(g_ptr_array_index(t->participants, i), now_us);
    t->next_housekeeping_us = now_us + HOUSEKEEPING_US;
  }
  g_source_set_ready_time(source, MIN(next_us, t->next_housekeeping_us));
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs thread_source_funcs = {
    .dispatch = thread_source_dispatch,
};

/* ---- worker side ---------------------------------------------------------------- */

static gboolean
setup_on_worker(gpointer data)
{
  LoadThread *t = data;
  /* Connections are made in bursts at ramp-up: no per-host limit. No
   * proxy: chorus-load talks to the server it is pointed at. */
  t->session = soup_session_new_with_options("max-conns", 1 << 20, "max-conns-per-host", 1 << 20,
                                             "user-agent", "chorus-load", NULL);
  soup_session_set_proxy_resolver(t->session, NULL);
  t->participants = g_ptr_array_new_with_free_func((GDestroyNotify)load_participant_free);
  t->publishers = g_ptr_array_new();
  t->source = g_source_new(&thread_source_funcs, sizeof(ThreadSource));
  ((ThreadSource *)t->source)->thread = t;
  g_source_set_static_name(t->source, "chorus-load-thread");
  g_source_set_priority(t->source, G_PRIORITY_HIGH);
  t->next_housekeeping_us = g_get_monotonic_time() + HOUSEKEEPING_US;
  g_source_set_ready_time(t->source, t->next_housekeeping_us);
  g_source_attach(t->source, chorus_worker_context(t->worker));
  return G_SOURCE_REMOVE;
}

GMainContext *
load_thread_get_context(LoadThread *thread)
{
  return chorus_worker_context(thread->worker);
}

SoupSession *
load_thread_get_session(LoadThread *thread)
{
  return thread->session;
}

const LoadShared *
load_thread_get_shared(LoadThread *thread)
{
  return thread->shared;
}

void
load_thread_media_changed(LoadThread *thread)
{
  g_source_set_ready_time(thread->source, 0);
}

/* Carries the handler itself, not the thread: an event may be delivered
 * after its thread is gone. */
typedef struct {
  LoadEventFunc func;
  gpointer user_data;
  LoadEvent event;
} PostedEvent;

static gboolean
deliver_event(gpointer data)
{
  PostedEvent *pe = data;
  pe->func(&pe->event, pe->user_data);
  return G_SOURCE_REMOVE;
}

static void
posted_event_free(gpointer data)
{
  PostedEvent *pe = data;
  g_free(pe->event.detail);
  g_free(pe);
}

void
load_thread_post_event(LoadThread *thread, guint index, LoadEventKind kind, const char *detail)
{
  PostedEvent *pe = g_new0(PostedEvent, 1);
  pe->func = thread->event;
  pe->user_data = thread->event_user_data;
  pe->event.index = index;
  pe->event.kind = kind;
  pe->event.detail = g_strdup(detail);
  g_main_context_invoke_full(g_main_context_default(), G_PRIORITY_DEFAULT, deliver_event, pe,
                             posted_event_free);
}

/* ---- main side ------------------------------------------------------------------ */

LoadThread *
load_thread_new(ChorusWorker *worker, const LoadShared *shared, LoadEventFunc event,
                gpointer event_user_data)
{
  LoadThread *t = g_new0(LoadThread, 1);
  t->worker = worker;
  t->shared = shared;
  t->event = event;
  t->event_user_data = event_user_data;
  chorus_worker_invoke_sync(worker, setup_on_worker, t);
  return t;
}

typedef struct {
  LoadThread *thread;
  guint index;
  const LoadRole *role;
  char *identity;
  char *server_role;
} StartMsg;

static void
start_msg_free(gpointer data)
{
  StartMsg *m = data;
  g_free(m->identity);
  g_free(m->server_role);
  g_free(m);
}

static gboolean
start_on_worker(gpointer data)
{
  StartMsg *m = data;
  LoadThread *t = m->thread;
  if (t->finished)
    return G_SOURCE_REMOVE;
  LoadParticipant *p = load_participant_new(t, m->index, m->role, m->identity, m->server_role);
  g_ptr_array_add(t->participants, p);
  if (m->role->publish_audio || m->role->publish_video)
    g_ptr_array_add(t->publishers, p);
  load_participant_start(p, g_get_monotonic_time());
  return G_SOURCE_REMOVE;
}

void
load_thread_start_participant(LoadThread *thread, guint index, const LoadRole *role,
                              const char *identity, const char *server_role)
{
  StartMsg *m = g_new0(StartMsg, 1);
  m->thread = thread;
  m->index = index;
  m->role = role;
  m->identity = g_strdup(identity);
  m->server_role = g_strdup(server_role);
  chorus_worker_invoke(thread->worker, start_on_worker, m, start_msg_free);
}

typedef struct {
  LoadThread *thread;
  LoadSnapshot *out;
  GPtrArray *results;
  guint count;
} SyncMsg;

static gboolean
snapshot_on_worker(gpointer data)
{
  SyncMsg *m = data;
  *m->out = (LoadSnapshot){0};
  for (guint i = 0; i < m->thread->participants->len; i++)
    load_participant_add_to_snapshot(g_ptr_array_index(m->thread->participants, i), m->out);
  return G_SOURCE_REMOVE;
}

void
load_thread_snapshot(LoadThread *thread, LoadSnapshot *out)
{
  SyncMsg m = {.thread = thread, .out = out};
  chorus_worker_invoke_sync(thread->worker, snapshot_on_worker, &m);
}

static gboolean
finish_on_worker(gpointer data)
{
  SyncMsg *m = data;
  LoadThread *t = m->thread;
  t->finished = TRUE;
  gint64 now_us = g_get_monotonic_time();
  for (guint i = 0; i < t->participants->len; i++) {
    LoadResult *r = g_new0(LoadResult, 1);
    load_participant_finish(g_ptr_array_index(t->participants, i), now_us, r);
    g_ptr_array_add(m->results, r);
  }
  return G_SOURCE_REMOVE;
}

void
load_thread_finish(LoadThread *thread, GPtrArray *results)
{
  /* The main thread waits: the worker may append to its array. */
  SyncMsg m = {.thread = thread, .results = results};
  chorus_worker_invoke_sync(thread->worker, finish_on_worker, &m);
}

typedef struct {
  LoadThread *thread;
  LoadLag *acc;
} LagMsg;

static gboolean
lag_on_worker(gpointer data)
{
  LagMsg *m = data;
  const LoadLag *l = &m->thread->lag;
  m->acc->wakeups += l->wakeups;
  m->acc->late_sum_us += l->late_sum_us;
  m->acc->late_max_us = MAX(m->acc->late_max_us, l->late_max_us);
  m->acc->late_over_10ms += l->late_over_10ms;
  return G_SOURCE_REMOVE;
}

void
load_thread_add_lag(LoadThread *thread, LoadLag *acc)
{
  LagMsg m = {thread, acc};
  chorus_worker_invoke_sync(thread->worker, lag_on_worker, &m);
}

static gboolean
close_on_worker(gpointer data)
{
  SyncMsg *m = data;
  m->count = 0;
  for (guint i = 0; i < m->thread->participants->len; i++)
    if (load_participant_close(g_ptr_array_index(m->thread->participants, i)))
      m->count++;
  return G_SOURCE_REMOVE;
}

guint
load_thread_close(LoadThread *thread)
{
  SyncMsg m = {.thread = thread};
  chorus_worker_invoke_sync(thread->worker, close_on_worker, &m);
  return m.count;
}

static gboolean
free_on_worker(gpointer data)
{
  LoadThread *t = data;
  g_ptr_array_unref(t->publishers);
  g_ptr_array_unref(t->participants);
  g_source_destroy(t->source);
  g_source_unref(t->source);
  g_object_unref(t->session);
  return G_SOURCE_REMOVE;
}

void
load_thread_free(LoadThread *thread)
{
  if (thread == NULL)
    return;
  chorus_worker_invoke_sync(thread->worker, free_on_worker, thread);
  g_free(thread);
}
