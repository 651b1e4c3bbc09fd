/* Worker threads: each runs its own GMainContext + GMainLoop. A room is
 * pinned to one worker at creation; everything of that room's media path
 * (NiceAgents, DTLS, SRTP, timers) lives on that worker's context, so the
 * packet path takes no lock. Other threads reach a worker only by posting
 * (chorus_worker_invoke). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ChorusWorker ChorusWorker;
typedef struct _ChorusWorkerPool ChorusWorkerPool;

/* Starts @count threads (count >= 1). */
ChorusWorkerPool *chorus_worker_pool_new(guint count);
/* Stops every loop and joins the threads. Pending invocations are dropped
 * (their destroy notifies run). */
void chorus_worker_pool_free(ChorusWorkerPool *pool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusWorkerPool, chorus_worker_pool_free)

guint chorus_worker_pool_size(ChorusWorkerPool *pool);
ChorusWorker *chorus_worker_pool_get(ChorusWorkerPool *pool, guint index); /* borrowed */

/* The worker with the fewest rooms; its room count is incremented.
 * Call chorus_worker_release() when the room goes away. Main thread only. */
ChorusWorker *chorus_worker_pool_assign(ChorusWorkerPool *pool);
void chorus_worker_release(ChorusWorker *worker);

guint chorus_worker_index(ChorusWorker *worker);
guint chorus_worker_room_count(ChorusWorker *worker);
GMainContext *chorus_worker_context(ChorusWorker *worker); /* borrowed */

/* Runs @func(@data) on the worker thread (at default priority). @destroy is
 * called on @data afterwards, on the worker. Thread-safe. */
void chorus_worker_invoke(ChorusWorker *worker, GSourceFunc func, gpointer data,
                          GDestroyNotify destroy);

/* Runs @func on the worker and waits for it to return (control plane only:
 * start-up, shutdown, tests). Must not be called from that worker. */
void chorus_worker_invoke_sync(ChorusWorker *worker, GSourceFunc func, gpointer data);

/* The worker's one timer (STYLE.md: one timer per worker, not one per
 * feature and participant): every CHORUS_WORKER_TICK_US it calls each
 * registered ticker with the current time; tickers do their due work
 * (NACKs, feedback, reports) there. Worker thread only. Returns an id. */
#define CHORUS_WORKER_TICK_US (10 * 1000)
typedef void (*ChorusWorkerTickFunc)(gpointer user_data, gint64 now_us);
guint chorus_worker_add_ticker(ChorusWorker *worker, ChorusWorkerTickFunc func, gpointer user_data);
void chorus_worker_remove_ticker(ChorusWorker *worker, guint id);
/* The worker of the calling thread, or NULL on other threads. */
ChorusWorker *chorus_worker_get_current(void);

/* TRUE when called on @worker's thread. */
gboolean chorus_worker_is_current(ChorusWorker *worker);

G_END_DECLS
