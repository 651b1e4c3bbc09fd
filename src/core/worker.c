#include "core/worker.h"

struct _ChorusWorker {
  guint index;
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  guint rooms; /* owned by the main thread */
};

struct _ChorusWorkerPool {
  ChorusWorker **workers;
  guint count;
};

static gpointer
worker_main(gpointer data)
{
  ChorusWorker *w = data;
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
