/* LoadThread: one chorus-load thread (a ChorusWorker with its own
 * GMainContext) driving many participants: their signaling connections
 * (one SoupSession per thread), PeerConnections and media.
 *
 * One GSource per thread drives everything time-based: it wakes at the
 * earliest media deadline of the thread's publishers, and every 250 ms
 * for housekeeping (request deadlines). No timer per participant.
 *
 * The load_thread_* functions below the line "main thread" are called on
 * the main thread and reach the worker by posting (or by a synchronous
 * call for start-up and the end of the run); the others are for the
 * participants, on the worker. */
#pragma once

#include <glib.h>
#include <libsoup/soup.h>

#include "core/worker.h"
#include "load.h"

G_BEGIN_DECLS

typedef struct _LoadThread LoadThread;

/* ---- main thread ---- */

/* @shared must outlive the thread object. @event runs on the main
 * context. */
LoadThread *load_thread_new(ChorusWorker *worker, const LoadShared *shared, LoadEventFunc event,
                            gpointer event_user_data);
/* Starts one participant at the thread's next turn. */
void load_thread_start_participant(LoadThread *thread, guint index, const LoadRole *role,
                                   const char *identity, const char *server_role);
void load_thread_snapshot(LoadThread *thread, LoadSnapshot *out);
/* Stops sending, ends the measurement and appends one LoadResult * per
 * participant (transfer full) to @results. */
void load_thread_finish(LoadThread *thread, GPtrArray *results);
/* Adds the thread's wakeup lateness since it started to @acc. */
void load_thread_add_lag(LoadThread *thread, LoadLag *acc);
/* Closes every signaling connection (close frames: the server makes the
 * participants leave at once). Returns how many are still open. */
guint load_thread_close(LoadThread *thread);
/* Frees the participants and the thread state (on the worker), then the
 * handle. The worker pool is freed by the caller afterwards. */
void load_thread_free(LoadThread *thread);

/* ---- worker thread ---- */

GMainContext *load_thread_get_context(LoadThread *thread);
SoupSession *load_thread_get_session(LoadThread *thread);
const LoadShared *load_thread_get_shared(LoadThread *thread);
/* Posts an event to the main thread. */
void load_thread_post_event(LoadThread *thread, guint index, LoadEventKind kind,
                            const char *detail);
/* A publisher's media deadline may have moved earlier (it just connected). */
void load_thread_media_changed(LoadThread *thread);

G_END_DECLS
