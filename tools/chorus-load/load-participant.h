/* LoadParticipant: one synthetic participant's signaling flow on its own
 * WebSocket connection (as a real client would have):
 *
 *   connect -> [auth] -> join -> publish (offer; apply the answer)
 *                             -> subscribe "all" -> offer notifications ->
 *                                answer (each version)
 *
 * plus trickle both ways, peer.closed, room.closed and a lost connection.
 * Every step has a deadline; the first failure is kept (stage and reason)
 * for the report. Times are measured from the moment the join request is
 * sent.
 *
 * Threading: one chorus-load thread (see load-thread.h). */
#pragma once

#include <glib.h>

#include "load-thread.h"
#include "load.h"

G_BEGIN_DECLS

typedef struct _LoadParticipant LoadParticipant;

LoadParticipant *load_participant_new(LoadThread *thread, guint index, const LoadRole *role,
                                      const char *identity, const char *server_role);
void load_participant_free(LoadParticipant *p);

void load_participant_start(LoadParticipant *p, gint64 now_us);

/* Media: a publisher's sending schedule. */
void load_participant_run_media(LoadParticipant *p, gint64 now_us);
gint64 load_participant_next_media_deadline_us(LoadParticipant *p);

/* Housekeeping: request and connection deadlines. */
void load_participant_check_deadlines(LoadParticipant *p, gint64 now_us);

void load_participant_add_to_snapshot(LoadParticipant *p, LoadSnapshot *acc);

/* Stops sending and ends the measurement; fills @out (transfer: the
 * caller clears it with load_result_clear()). */
void load_participant_finish(LoadParticipant *p, gint64 now_us, LoadResult *out);

/* Closes the signaling connection (normal close frame). TRUE while the
 * close handshake is still under way. */
gboolean load_participant_close(LoadParticipant *p);

G_END_DECLS
