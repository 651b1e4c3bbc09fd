/* Batched UDP sends (sendmmsg) for the media path, one batch per thread.
 *
 * A packet to send is copied into the calling thread's batch; the batch is
 * flushed at the start of the thread's next main loop iteration (a GSource
 * whose prepare() runs before the loop polls again), when it is full, and
 * on demand. Packets for the same socket go out in one sendmmsg call, in
 * order. Under light load a batch holds a packet or two; under load a
 * worker handles several incoming packets per iteration and the batches
 * grow by themselves, which is when the syscalls per packet matter.
 *
 * Each entry names its destination by a pointer to the caller's
 * sockaddr: the owner of that address must flush (chorus_send_batch_flush)
 * before it frees it or changes it. No allocation per packet (the batch is
 * made once per thread). */
#pragma once

#include <glib.h>
#include <sys/socket.h>

G_BEGIN_DECLS

#define CHORUS_SEND_BATCH_ENTRIES 64
#define CHORUS_SEND_BATCH_PACKET_BYTES 1600

/* Called at flush for each packet the kernel refused (@owner as given). */
typedef void (*ChorusSendBatchFailed)(gpointer owner);

/* Queues a copy of @buf for @fd -> @addr (borrowed until the next flush).
 * FALSE when @len is too big or this thread runs no main context of its
 * own (g_main_context_push_thread_default): nothing queued, send it
 * yourself. */
gboolean chorus_send_batch_add(int fd, const struct sockaddr *addr, socklen_t addr_len,
                               const guint8 *buf, gsize len, ChorusSendBatchFailed failed,
                               gpointer owner);

/* Sends everything queued by this thread now. */
void chorus_send_batch_flush(void);

typedef struct {
  guint64 packets;  /* queued */
  guint64 syscalls; /* sendmmsg calls made */
  guint64 failed;   /* packets the kernel refused */
} ChorusSendBatchStats;

/* This thread's counters. */
void chorus_send_batch_get_stats(ChorusSendBatchStats *out);

G_END_DECLS
