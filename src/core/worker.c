#include "core/worker.h"

typedef struct {
  guint id;
  ChorusWorkerTickFunc func;
  gpointer user_data;
} Ticker;

struct _ChorusWorker {
  guint index;
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  guint rooms; /* owned by the main thread */
  /* Owned by the worker thread: */
  GArray *tickers; /* Ticker */
  guint next_ticker_id;
  GSource *tick_source;
};

static GPrivate current_worker;

struct _ChorusWorkerPool {
  ChorusWorker **workers;
  guint count;
};

static gpointer
worker_main(gpointer data)
{
  ChorusWorker *w = data;
  g_private_set(&current_worker, w);
  g_main_context_push_thread_default(w->context);
  g_main_loop_run(w->loop);
  g_main_context_pop_thread_default(w->context);
  return NULL;
}

ChorusWorkerPool *
chorus_worker_pool_new(guint count)
{
  g_return_val_if_fail(count >= 1, NULL);
  ChorusWorkerPool *pool = g_new0(ChorusWorkerPool, 1);
  pool->count = count;
  pool->workers = g_new0(ChorusWorker *, count);
  for (guint i = 0; i < count; i++) {
    ChorusWorker *w = g_new0(ChorusWorker, 1);
    w->index = i;
    w->context = g_main_context_new();
    w->loop = g_main_loop_new(w->context, FALSE);
    w->tickers = g_array_new(FALSE, FALSE, sizeof(Ticker));
    g_autofree char *name = g_strdup_printf("chorus-w%u", i);
    w->thread = g_thread_new(name, worker_main, w);
    pool->workers[i] = w;
  }
  return pool;
}

static gboolean
quit_loop(gpointer data)
{
  g_main_loop_quit(data);
  return G_SOURCE_REMOVE;
}

void
chorus_worker_pool_free(ChorusWorkerPool *pool)
{
  if (pool == NULL)
    return;
  for (guint i = 0; i < pool->count; i++) {
    ChorusWorker *w = pool->workers[i];
    g_main_context_invoke(w->context, quit_loop, w->loop);
  }
  for (guint i = 0; i < pool->count; i++) {
    ChorusWorker *w = pool->workers[i];
    g_thread_join(w->thread);
    /* Run what is still queued so destroy notifies are not leaked. */
    while (g_main_context_iteration(w->context, FALSE))
      ;
    if (w->tick_source) {
      g_source_destroy(w->tick_source);
      g_source_unref(w->tick_source);
    }
    g_array_unref(w->tickers);
    g_main_loop_unref(w->loop);
    g_main_context_unref(w->context);
    g_free(w);
  }
  g_free(pool->workers);
  g_free(pool);
}

guint
chorus_worker_pool_size(ChorusWorkerPool *pool)
{
  return pool->count;
}

ChorusWorker *
chorus_worker_pool_get(ChorusWorkerPool *pool, guint index)
{
  g_return_val_if_fail(index < pool->count, NULL);
  return pool->workers[index];
}

ChorusWorker *
chorus_worker_pool_assign(ChorusWorkerPool *pool)
{
  ChorusWorker *best = pool->workers[0];
  for (guint i = 1; i < pool->count; i++)
    if (pool->workers[i]->rooms < best->rooms)
      best = pool->workers[i];
  best->rooms++;
  return best;
}

void
chorus_worker_release(ChorusWorker *worker)
{
  g_return_if_fail(worker->rooms > 0);
  worker->rooms--;
}

guint
chorus_worker_index(ChorusWorker *worker)
{
  return worker->index;
}

guint
chorus_worker_room_count(ChorusWorker *worker)
{
  return worker->rooms;
}

GMainContext *
chorus_worker_context(ChorusWorker *worker)
{
  return worker->context;
}

void
chorus_worker_invoke(ChorusWorker *worker, GSourceFunc func, gpointer data, GDestroyNotify destroy)
{
  GSource *source = g_idle_source_new();
  g_source_set_priority(source, G_PRIORITY_DEFAULT);
  g_source_set_callback(source, func, data, destroy);
  g_source_set_static_name(source, "chorus-worker-invoke");
  g_source_attach(source, worker->context);
  g_source_unref(source);
}

typedef struct {
  GSourceFunc func;
  gpointer data;
  GMutex lock;
  GCond cond;
  gboolean done;
} SyncCall;

static gboolean
run_sync(gpointer user_data)
{
  SyncCall *call = user_data;
  call->func(call->data);
  g_mutex_lock(&call->lock);
  call->done = TRUE;
  g_cond_signal(&call->cond);
  g_mutex_unlock(&call->lock);
  return G_SOURCE_REMOVE;
}

void
chorus_worker_invoke_sync(ChorusWorker *worker, GSourceFunc func, gpointer data)
{
  g_return_if_fail(!chorus_worker_is_current(worker));
  SyncCall call = { .func = func, .data = data };
  g_mutex_init(&call.lock);
  g_cond_init(&call.cond);
  chorus_worker_invoke(worker, run_sync, &call, NULL);
  g_mutex_lock(&call.lock);
  while (!call.done)
    g_cond_wait(&call.cond, &call.lock);
  g_mutex_unlock(&call.lock);
  g_mutex_clear(&call.lock);
  g_cond_clear(&call.cond);
}

gboolean
chorus_worker_is_current(ChorusWorker *worker)
{
  return g_main_context_is_owner(worker->context);
}

ChorusWorker *
chorus_worker_get_current(void)
{
  return g_private_get(&current_worker);
}

static gboolean
on_tick(gpointer user_data)
{
  ChorusWorker *w = user_data;
  gint64 now_us = g_get_monotonic_time();
  /* By index: a ticker may add or remove tickers. */
  for (guint i = 0; i < w->tickers->len; i++) {
    Ticker t = g_array_index(w->tickers, Ticker, i);
    t.func(t.user_data, now_us);
  }
  return G_SOURCE_CONTINUE;
}

guint
chorus_worker_add_ticker(ChorusWorker *worker, ChorusWorkerTickFunc func, gpointer user_data)
{
  g_return_val_if_fail(g_main_context_is_owner(worker->context), 0);
  Ticker t = { ++worker->next_ticker_id, func, user_data };
  g_array_append_val(worker->tickers, t);
  if (worker->tick_source == NULL) {
    worker->tick_source = g_timeout_source_new(CHORUS_WORKER_TICK_US / 1000);
    g_source_set_callback(worker->tick_source, on_tick, worker, NULL);
    g_source_set_static_name(worker->tick_source, "chorus-worker-tick");
    g_source_attach(worker->tick_source, worker->context);
  }
  return t.id;
}

void
chorus_worker_remove_ticker(ChorusWorker *worker, guint id)
{
  for (guint i = 0; i < worker->tickers->len; i++) {
    if (g_array_index(worker->tickers, Ticker, i).id == id) {
      g_array_remove_index(worker->tickers, i);
      break;
    }
  }
  if (worker->tickers->len == 0 && worker->tick_source) {
    g_source_destroy(worker->tick_source);
    g_clear_pointer(&worker->tick_source, g_source_unref);
  }
}
