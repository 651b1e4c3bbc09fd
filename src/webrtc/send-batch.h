/* Batched UDP sends (sendmmsg) for the media path, one batch per thread.
 *
 * A packet to send is copied into the calling thread's batch; the batch is
 * flushed at the start of the thread's next main loop iteration (a GSource
 * whose prepare() runs before the loop polls again), when it is full, and
 * on demand. Packets for the same destination go out in one sendmmsg call,
 * in order. A burst that a worker reads in one iteration (a video frame's
 * packets) then leaves as one call per subscriber instead of one per
 * packet and subscriber.
 *
 * Each destination is a ChorusSendBatchDest owned by the caller (one per
 * PeerConnection): it names the socket and address (borrowed until the
 * next flush: flush before freeing or changing them) and finds its queue
 * in O(1). No allocation per packet (the batch is made once per thread). */
#pragma once

#include <glib.h>
#include <sys/socket.h>

G_BEGIN_DECLS

#define CHORUS_SEND_BATCH_ENTRIES 1024
#define CHORUS_SEND_BATCH_PACKET_BYTES 1600

/* Called at flush for each packet the kernel refused (@owner as given). */
typedef void (*ChorusSendBatchFailed)(gpointer owner);

typedef struct {
  int fd;
  const struct sockaddr *addr;
  socklen_t addr_len;
  ChorusSendBatchFailed failed;
  gpointer owner;
  /* Private: where this destination's queue is in the current batch. */
  guint64 batch_generation;
  guint group;
} ChorusSendBatchDest;

/* Queues a copy of @buf for @dest. FALSE when @len is too big or this
 * thread runs no main context of its own (g_main_context_push_thread_default):
 * nothing queued, send it yourself. */
gboolean chorus_send_batch_add(ChorusSendBatchDest *dest, const guint8 *buf, gsize len);

/* Sends everything queued by this thread now. */
void chorus_send_batch_flush(void);

typedef struct {
  guint64 packets;  /* queued */
  guint64 syscalls; /* sendmmsg calls made */
  guint64 failed;   /* packets the kernel refused */
} ChorusSendBatchStats;

/* This thread's counters. */
void chorus_send_batch_get_stats(ChorusSendBatchStats *out);
/* All threads' (updated at each flush). */
void chorus_send_batch_get_totals(ChorusSendBatchStats *out);

G_END_DECLS
