#include "webrtc/send-batch.h"

#include <string.h>

#define MAX_MSGS_PER_CALL 64

typedef struct {
  guint16 len;
  gint next; /* next entry of the same destination, -1: none */
  guint8 data[CHORUS_SEND_BATCH_PACKET_BYTES];
} Entry;

typedef struct {
  ChorusSendBatchDest *dest;
  gint head, tail;
} Group;

typedef struct {
  GSource source;
  Entry *entries;   /* CHORUS_SEND_BATCH_ENTRIES */
  Group *groups;    /* at most one per entry */
  guint n_entries;
  guint n_groups;
  guint64 generation; /* a new one per flush: stale dest->group values are ignored */
  ChorusSendBatchStats stats;
} Batch;

static void flush_batch(Batch *b);

/* Every thread's totals, added once per flush (relaxed atomics). */
static ChorusSendBatchStats totals;

/* Runs before each poll of the thread's main context: what the iteration
 * queued goes out before the thread sleeps. */
static gboolean
batch_prepare(GSource *source, gint *timeout)
{
  *timeout = -1;
  flush_batch((Batch *)source);
  return FALSE;
}

static void
batch_finalize(GSource *source)
{
  Batch *b = (Batch *)source;
  g_free(b->entries);
  g_free(b->groups);
}

static GSourceFuncs batch_funcs = {
  .prepare = batch_prepare,
  .finalize = batch_finalize,
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
  b->entries = g_new(Entry, CHORUS_SEND_BATCH_ENTRIES);
  b->groups = g_new(Group, CHORUS_SEND_BATCH_ENTRIES);
  b->generation = 1;
  g_source_set_static_name(&b->source, "chorus-send-batch");
  /* Before everything else, so that it also runs when another source is
   * ready at once. */
  g_source_set_priority(&b->source, G_PRIORITY_HIGH);
  g_source_attach(&b->source, context);
  g_private_set(&batch_key, b);
  return b;
}

static void
send_group(Batch *b, const Group *g)
{
  struct mmsghdr msgs[MAX_MSGS_PER_CALL];
  struct iovec iov[MAX_MSGS_PER_CALL];
  ChorusSendBatchDest *dest = g->dest;
  gint e = g->head;
  while (e >= 0) {
    guint k = 0;
    for (; e >= 0 && k < MAX_MSGS_PER_CALL; e = b->entries[e].next, k++) {
      iov[k] = (struct iovec){ .iov_base = b->entries[e].data, .iov_len = b->entries[e].len };
      msgs[k] = (struct mmsghdr){ .msg_hdr = { .msg_name = (void *)dest->addr, .msg_namelen = dest->addr_len,
                                               .msg_iov = &iov[k], .msg_iovlen = 1 } };
    }
    guint sent = 0;
    while (sent < k) {
      int r = sendmmsg(dest->fd, msgs + sent, k - sent, MSG_DONTWAIT);
      b->stats.syscalls++;
      if (r <= 0) {
        /* The first unsent one is refused (buffer full, unreachable):
         * drop it and carry on with the rest. */
        b->stats.failed++;
        if (dest->failed)
          dest->failed(dest->owner);
        sent++;
        continue;
      }
      sent += (guint)r;
    }
  }
}

static void
flush_batch(Batch *b)
{
  if (b->n_entries == 0)
    return;
  ChorusSendBatchStats before = b->stats;
  for (guint i = 0; i < b->n_groups; i++)
    send_group(b, &b->groups[i]);
  __atomic_add_fetch(&totals.packets, b->n_entries, __ATOMIC_RELAXED);
  __atomic_add_fetch(&totals.syscalls, b->stats.syscalls - before.syscalls, __ATOMIC_RELAXED);
  __atomic_add_fetch(&totals.failed, b->stats.failed - before.failed, __ATOMIC_RELAXED);
  b->n_entries = 0;
  b->n_groups = 0;
  b->generation++;
}

gboolean
chorus_send_batch_add(ChorusSendBatchDest *dest, const guint8 *buf, gsize len)
{
  if (len > CHORUS_SEND_BATCH_PACKET_BYTES)
    return FALSE;
  Batch *b = get_batch();
  if (b == NULL)
    return FALSE;
  if (b->n_entries == CHORUS_SEND_BATCH_ENTRIES)
    flush_batch(b);
  guint e = b->n_entries++;
  Entry *entry = &b->entries[e];
  entry->len = (guint16)len;
  entry->next = -1;
  memcpy(entry->data, buf, len);
  if (dest->batch_generation == b->generation) {
    Group *g = &b->groups[dest->group];
    b->entries[g->tail].next = (gint)e;
    g->tail = (gint)e;
  } else {
    dest->batch_generation = b->generation;
    dest->group = b->n_groups++;
    b->groups[dest->group] = (Group){ .dest = dest, .head = (gint)e, .tail = (gint)e };
  }
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
chorus_send_batch_get_totals(ChorusSendBatchStats *out)
{
  out->packets = __atomic_load_n(&totals.packets, __ATOMIC_RELAXED);
  out->syscalls = __atomic_load_n(&totals.syscalls, __ATOMIC_RELAXED);
  out->failed = __atomic_load_n(&totals.failed, __ATOMIC_RELAXED);
}

void
chorus_send_batch_get_stats(ChorusSendBatchStats *out)
{
  Batch *b = g_private_get(&batch_key);
  *out = b ? b->stats : (ChorusSendBatchStats){ 0 };
}
