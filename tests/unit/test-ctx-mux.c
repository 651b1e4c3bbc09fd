/* Sub-contexts serviced from a parent context through epoll and a deadline
 * heap: socket readiness, timers, sources attached from inside and outside
 * a dispatch, freeing from inside a dispatch, descriptor reuse, and that a
 * parent iteration services only what is ready. Real sockets (socketpair)
 * and real timers of a few milliseconds. */
#include <check.h>
#include <glib-unix.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/ctx-mux.h"

typedef struct {
  gint fd;
  guint reads;
  guint fires;
  ChorusSubContext *free_me;
  ChorusSubContext *attach_to;
} Counter;

static gboolean
on_readable(gint fd, GIOCondition cond, gpointer data)
{
  (void)cond;
  Counter *c = data;
  char buf[64];
  while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
    c->reads++;
  if (c->free_me != NULL) {
    chorus_sub_context_free(c->free_me);
    c->free_me = NULL;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_timer(gpointer data)
{
  ((Counter *)data)->fires++;
  return G_SOURCE_REMOVE;
}

static GSource *
watch(ChorusSubContext *sub, gint fd, Counter *c)
{
  GSource *s = g_unix_fd_source_new(fd, G_IO_IN);
  g_source_set_callback(s, G_SOURCE_FUNC(on_readable), c, NULL);
  g_source_attach(s, chorus_sub_context_get_context(sub));
  return s;
}

static void
pair(gint fds[2])
{
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds), 0);
}

static gboolean
on_give_up(gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates @parent (blocking) until *@value reaches @want or 2 s pass. */
static void
run_until(GMainContext *parent, const guint *value, guint want)
{
  gboolean gave_up = FALSE;
  GSource *t = g_timeout_source_new(2000);
  g_source_set_callback(t, on_give_up, &gave_up, NULL);
  g_source_attach(t, parent);
  while (*value < want && !gave_up)
    g_main_context_iteration(parent, TRUE);
  g_source_destroy(t);
  g_source_unref(t);
  ck_assert_uint_eq(*value, want);
}

static guint64
services(void)
{
  ChorusSubContextStats s;
  chorus_sub_context_get_totals(&s);
  return s.services;
}

/* Nothing pending in @parent: a non-blocking iteration finds nothing. */
static void
drain(GMainContext *parent)
{
  for (int i = 0; i < 100 && g_main_context_iteration(parent, FALSE); i++)
    ;
}

START_TEST(test_socket_readiness_dispatched_from_parent)
{
  GMainContext *parent = g_main_context_new();
  ChorusSubContext *sub = chorus_sub_context_new(parent);
  gint fds[2];
  pair(fds);
  Counter c = { 0 };
  GSource *s = watch(sub, fds[0], &c);
  chorus_sub_context_sync(sub);
  ck_assert_int_eq(send(fds[1], "x", 1, 0), 1);
  run_until(parent, &c.reads, 1);
  ck_assert_int_eq(send(fds[1], "y", 1, 0), 1);
  run_until(parent, &c.reads, 2);
  /* The sub-context is not left owned by anyone. */
  ck_assert(g_main_context_acquire(chorus_sub_context_get_context(sub)));
  g_main_context_release(chorus_sub_context_get_context(sub));
  g_source_destroy(s);
  g_source_unref(s);
  chorus_sub_context_free(sub);
  close(fds[0]);
  close(fds[1]);
  g_main_context_unref(parent);
}
END_TEST

START_TEST(test_timer_fires_on_time)
{
  GMainContext *parent = g_main_context_new();
  ChorusSubContext *sub = chorus_sub_context_new(parent);
  Counter c = { 0 };
  GSource *t = g_timeout_source_new(30);
  g_source_set_callback(t, on_timer, &c, NULL);
  gint64 start = g_get_monotonic_time();
  g_source_attach(t, chorus_sub_context_get_context(sub));
  g_source_unref(t);
  chorus_sub_context_sync(sub);
  run_until(parent, &c.fires, 1);
  gint64 took = g_get_monotonic_time() - start;
  ck_assert_int_ge(took, 30 * 1000);
  ck_assert_int_lt(took, 1000 * 1000);
  chorus_sub_context_free(sub);
  g_main_context_unref(parent);
}
END_TEST

static gboolean
on_readable_attach_timer(gint fd, GIOCondition cond, gpointer data)
{
  Counter *c = data;
  on_readable(fd, cond, data);
  GSource *t = g_timeout_source_new(5);
  g_source_set_callback(t, on_timer, c, NULL);
  g_source_attach(t, chorus_sub_context_get_context(c->attach_to));
  g_source_unref(t);
  return G_SOURCE_REMOVE;
}

START_TEST(test_source_attached_inside_dispatch_needs_no_sync)
{
  GMainContext *parent = g_main_context_new();
  ChorusSubContext *sub = chorus_sub_context_new(parent);
  gint fds[2];
  pair(fds);
  Counter c = { .attach_to = sub };
  GSource *s = g_unix_fd_source_new(fds[0], G_IO_IN);
  g_source_set_callback(s, G_SOURCE_FUNC(on_readable_attach_timer), &c, NULL);
  g_source_attach(s, chorus_sub_context_get_context(sub));
  g_source_unref(s);
  chorus_sub_context_sync(sub);
  ck_assert_int_eq(send(fds[1], "x", 1, 0), 1);
  run_until(parent, &c.reads, 1);
  run_until(parent, &c.fires, 1); /* the timer attached by the callback */
  chorus_sub_context_free(sub);
  close(fds[0]);
  close(fds[1]);
  g_main_context_unref(parent);
}
END_TEST

START_TEST(test_free_from_own_dispatch)
{
  GMainContext *parent = g_main_context_new();
  ChorusSubContext *keep = chorus_sub_context_new(parent);
  ChorusSubContext *sub = chorus_sub_context_new(parent);
  gint a[2], b[2];
  pair(a);
  pair(b);
  Counter ca = { 0 }, cb = { 0 };
  ca.free_me = sub;
  GSource *sa = watch(sub, a[0], &ca);
  GSource *sb = watch(keep, b[0], &cb);
  chorus_sub_context_sync(sub);
  chorus_sub_context_sync(keep);
  ck_assert_int_eq(send(a[1], "x", 1, 0), 1);
  ck_assert_int_eq(send(b[1], "x", 1, 0), 1);
  run_until(parent, &ca.reads, 1);
  run_until(parent, &cb.reads, 1);
  ck_assert_ptr_null(ca.free_me);
  /* The freed one is gone, the other still serviced. */
  ck_assert_int_eq(send(a[1], "x", 1, 0), 1);
  ck_assert_int_eq(send(b[1], "x", 1, 0), 1);
  run_until(parent, &cb.reads, 2);
  drain(parent);
  ck_assert_uint_eq(ca.reads, 1);
  g_source_unref(sa);
  g_source_destroy(sb);
  g_source_unref(sb);
  chorus_sub_context_free(keep);
  close(a[0]);
  close(a[1]);
  close(b[0]);
  close(b[1]);
  g_main_context_unref(parent);
}
END_TEST

START_TEST(test_descriptor_number_reused)
{
  /* A socket closed and another opened under the same number (libnice
   * does this on restarts): epoll forgot the old one; a sync watches the
   * new one. */
  GMainContext *parent = g_main_context_new();
  ChorusSubContext *sub = chorus_sub_context_new(parent);
  gint fds[2];
  pair(fds);
  Counter c = { 0 };
  GSource *s = watch(sub, fds[0], &c);
  chorus_sub_context_sync(sub);
  gint old = fds[0];
  g_source_destroy(s);
  g_source_unref(s);
  close(fds[0]);
  close(fds[1]);
  pair(fds);
  if (fds[0] != old) { /* make it land on the old number */
    ck_assert_int_eq(dup2(fds[0], old), old);
    close(fds[0]);
    fds[0] = old;
  }
  s = watch(sub, fds[0], &c);
  chorus_sub_context_sync(sub);
  ck_assert_int_eq(send(fds[1], "x", 1, 0), 1);
  run_until(parent, &c.reads, 1);
  g_source_destroy(s);
  g_source_unref(s);
  chorus_sub_context_free(sub);
  close(fds[0]);
  close(fds[1]);
  g_main_context_unref(parent);
}
END_TEST

START_TEST(test_only_ready_ones_serviced)
{
  enum { N = 200 };
  GMainContext *parent = g_main_context_new();
  ChorusSubContext *subs[N];
  gint fds[N][2];
  Counter c[N];
  GSource *src[N];
  for (int i = 0; i < N; i++) {
    subs[i] = chorus_sub_context_new(parent);
    pair(fds[i]);
    c[i] = (Counter){ 0 };
    src[i] = watch(subs[i], fds[i][0], &c[i]);
    chorus_sub_context_sync(subs[i]);
  }
  drain(parent);
  guint64 before = services();
  ck_assert_int_eq(send(fds[137][1], "x", 1, 0), 1);
  run_until(parent, &c[137].reads, 1);
  drain(parent);
  /* One packet, one sub-context iteration: not one per sub-context, and
   * not a second one for GLib's own wake-up writes around the dispatch. */
  ck_assert_uint_eq(services() - before, 1);
  for (int i = 0; i < N; i++) {
    if (i != 137)
      ck_assert_uint_eq(c[i].reads, 0);
    g_source_destroy(src[i]);
    g_source_unref(src[i]);
    chorus_sub_context_free(subs[i]);
    close(fds[i][0]);
    close(fds[i][1]);
  }
  g_main_context_unref(parent);
}
END_TEST

START_TEST(test_parent_source_goes_with_last_sub)
{
  GMainContext *parent = g_main_context_new();
  ChorusSubContext *sub = chorus_sub_context_new(parent);
  chorus_sub_context_free(sub);
  /* Nothing left attached to the parent. */
  ck_assert(!g_main_context_pending(parent));
  ck_assert(!g_main_context_iteration(parent, FALSE));
  /* And a new one works again. */
  sub = chorus_sub_context_new(parent);
  gint fds[2];
  pair(fds);
  Counter c = { 0 };
  GSource *s = watch(sub, fds[0], &c);
  chorus_sub_context_sync(sub);
  ck_assert_int_eq(send(fds[1], "x", 1, 0), 1);
  run_until(parent, &c.reads, 1);
  g_source_destroy(s);
  g_source_unref(s);
  chorus_sub_context_free(sub);
  close(fds[0]);
  close(fds[1]);
  g_main_context_unref(parent);
}
END_TEST

int
main(void)
{
  Suite *s = suite_create("ctx-mux");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_socket_readiness_dispatched_from_parent);
  tcase_add_test(tc, test_timer_fires_on_time);
  tcase_add_test(tc, test_source_attached_inside_dispatch_needs_no_sync);
  tcase_add_test(tc, test_free_from_own_dispatch);
  tcase_add_test(tc, test_descriptor_number_reused);
  tcase_add_test(tc, test_only_ready_ones_serviced);
  tcase_add_test(tc, test_parent_source_goes_with_last_sub);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
