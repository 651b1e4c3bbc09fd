#include "webrtc/send-batch.h"

#include <string.h>

typedef struct {
  int fd;
  socklen_t addr_len;
  const struct sockaddr *addr;
  ChorusSendBatchFailed failed;
  gpointer owner;
  guint16 len;
  gboolean done;
  guint8 data[CHORUS_SEND_BATCH_PACKET_BYTES];
} Entry;

typedef struct {
  GSource source;
  Entry entries[CHORUS_SEND_BATCH_ENTRIES];
  guint n;
  ChorusSendBatchStats stats;
} Batch;

static void flush_batch(Batch *b);

/* Runs before each poll of the thread's main context: what the iteration
 * queued goes out before the thread sleeps. */
static gboolean
batch_prepare(GSource *source, gint *timeout)
{
  *timeout = -1;
  flush_batch((Batch *)source);
  return FALSE;
}

static GSourceFuncs batch_funcs = {
  .prepare = batch_prepare,
};

static void
batch_free(gpointer data)
{
  Batch *b = data;
  flush_batch(b);
  g_source_destroy(&b->source);
  g_source_unref(&b->source);
}

static GPrivate batch_key = G_PRIVATE_INIT(batch_free);

static Batch *
get_batch(void)
{
  Batch *b = g_private_get(&batch_key);
  if (G_LIKELY(b != NULL))
    return b;
  /* Only threads that run their own pushed main context (the workers):
   * the flush source must run on this thread. */
  GMainContext *context = g_main_context_get_thread_default();
  if (context == NULL)
    return NULL;
  b = (Batch *)g_source_new(&batch_funcs, sizeof(Batch));
  g_source_set_static_name(&b->source, "chorus-send-batch");
  /* Before everything else, so that it also runs when another source is
   * ready at once. */
  g_source_set_priority(&b->source, G_PRIORITY_HIGH);
  g_source_attach(&b->source, context);
  g_private_set(&batch_key, b);
  return b;
}

static void
flush_batch(Batch *b)
{
  struct mmsghdr msgs[CHORUS_SEND_BATCH_ENTRIES];
  struct iovec iov[CHORUS_SEND_BATCH_ENTRIES];
  Entry *group[CHORUS_SEND_BATCH_ENTRIES];
  for (guint i = 0; i < b->n; i++) {
    if (b->entries[i].done)
      continue;
    /* Every queued packet for this socket, in queue order. */
    guint k = 0;
    for (guint j = i; j < b->n; j++) {
      Entry *e = &b->entries[j];
      if (e->done || e->fd != b->entries[i].fd)
        continue;
      e->done = TRUE;
      group[k] = e;
      iov[k] = (struct iovec){ .iov_base = e->data, .iov_len = e->len };
      msgs[k] = (struct mmsghdr){ .msg_hdr = { .msg_name = (void *)e->addr, .msg_namelen = e->addr_len,
                                               .msg_iov = &iov[k], .msg_iovlen = 1 } };
      k++;
    }
    guint sent = 0;
    while (sent < k) {
      int r = sendmmsg(group[0]->fd, msgs + sent, k - sent, MSG_DONTWAIT);
      b->stats.syscalls++;
      if (r <= 0) {
        /* The first unsent one is refused (buffer full, unreachable):
         * drop it and carry on with the rest. */
        b->stats.failed++;
        if (group[sent]->failed)
          group[sent]->failed(group[sent]->owner);
        sent++;
        continue;
      }
      sent += (guint)r;
    }
  }
  b->n = 0;
}

gboolean
chorus_send_batch_add(int fd, const struct sockaddr *addr, socklen_t addr_len, const guint8 *buf,
                      gsize len, ChorusSendBatchFailed failed, gpointer owner)
{
  if (len > CHORUS_SEND_BATCH_PACKET_BYTES)
    return FALSE;
  Batch *b = get_batch();
  if (b == NULL)
    return FALSE;
  if (b->n == CHORUS_SEND_BATCH_ENTRIES)
    flush_batch(b);
  Entry *e = &b->entries[b->n++];
  e->fd = fd;
  e->addr = addr;
  e->addr_len = addr_len;
  e->failed = failed;
  e->owner = owner;
  e->len = (guint16)len;
  e->done = FALSE;
  memcpy(e->data, buf, len);
  b->stats.packets++;
  return TRUE;
}

void
chorus_send_batch_flush(void)
{
  Batch *b = g_private_get(&batch_key);
  if (b != NULL)
    flush_batch(b);
}

void
chorus_send_batch_get_stats(ChorusSendBatchStats *out)
{
  Batch *b = g_private_get(&batch_key);
  *out = b ? b->stats : (ChorusSendBatchStats){ 0 };
}
