/* Sub-contexts serviced from a parent context through epoll and a deadline
 * heap: socket readiness, timers, sources attached from inside and outside
 * a dispatch, freeing from inside a dispatch, descriptor reuse, and that a
 * parent iteration services only what is ready. Real sockets (socketpair)
 * and real timers of a few milliseconds. */
#include <check.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/ctx-mux.h"

typedef struct {
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

/* A socket pair whose first end a sub-context watches. */
typedef struct {
  gint fds[2];
  GSource *source;
  Counter c;
} Watched;

static void
watched_open(Watched *w, ChorusSubContext *sub)
{
  pair(w->fds);
  w->source = watch(sub, w->fds[0], &w->c);
  chorus_sub_context_sync(sub);
}

static void
poke(Watched *w)
{
  ck_assert_int_eq(send(w->fds[1], "x", 1, 0), 1);
}

static void
watched_close(Watched *w)
{
  g_source_destroy(w->source);
  g_source_unref(w->source);
  close(w->fds[0]);
  close(w->fds[1]);
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
  ChorusSubContext *sub = chorus_sub_context_new(parent, NULL);
  Watched w = { 0 };
  watched_open(&w, sub);
  poke(&w);
  run_until(parent, &w.c.reads, 1);
  poke(&w);
  run_until(parent, &w.c.reads, 2);
  /* The sub-context is not left owned by anyone. */
  ck_assert(g_main_context_acquire(chorus_sub_context_get_context(sub)));
  g_main_context_release(chorus_sub_context_get_context(sub));
  watched_close(&w);
  chorus_sub_context_free(sub);
  g_main_context_unref(parent);
}
END_TEST

START_TEST(test_timer_fires_on_time)
{
  GMainContext *parent = g_main_context_new();
  ChorusSubContext *sub = chorus_sub_context_new(parent, NULL);
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
  ChorusSubContext *sub = chorus_sub_context_new(parent, NULL);
  Watched w = { .c.attach_to = sub };
  watched_open(&w, sub);
  g_source_set_callback(w.source, G_SOURCE_FUNC(on_readable_attach_timer), &w.c, NULL);
  poke(&w);
  run_until(parent, &w.c.reads, 1);
  run_until(parent, &w.c.fires, 1); /* the timer attached by the callback */
  watched_close(&w);
  chorus_sub_context_free(sub);
  g_main_context_unref(parent);
}
END_TEST

START_TEST(test_free_from_own_dispatch)
{
  GMainContext *parent = g_main_context_new();
  ChorusSubContext *keep = chorus_sub_context_new(parent, NULL);
  ChorusSubContext *sub = chorus_sub_context_new(parent, NULL);
  Watched a = { .c.free_me = sub }, b = { 0 };
  watched_open(&a, sub);
  watched_open(&b, keep);
  poke(&a);
  poke(&b);
  run_until(parent, &a.c.reads, 1);
  run_until(parent, &b.c.reads, 1);
  ck_assert_ptr_null(a.c.free_me);
  /* The freed one is gone, the other still serviced. */
  poke(&a);
  poke(&b);
  run_until(parent, &b.c.reads, 2);
  drain(parent);
  ck_assert_uint_eq(a.c.reads, 1);
  watched_close(&a);
  watched_close(&b);
  chorus_sub_context_free(keep);
  g_main_context_unref(parent);
}
END_TEST

START_TEST(test_descriptor_number_reused)
{
  /* A socket closed and another opened under the same number (libnice
   * does this on restarts): epoll forgot the old one; a sync watches the
   * new one. */
  GMainContext *parent = g_main_context_new();
  ChorusSubContext *sub = chorus_sub_context_new(parent, NULL);
  Watched w = { 0 };
  watched_open(&w, sub);
  gint old = w.fds[0];
  watched_close(&w);
  pair(w.fds);
  if (w.fds[0] != old) { /* make it land on the old number */
    ck_assert_int_eq(dup2(w.fds[0], old), old);
    close(w.fds[0]);
    w.fds[0] = old;
  }
  w.source = watch(sub, w.fds[0], &w.c);
  chorus_sub_context_sync(sub);
  poke(&w);
  run_until(parent, &w.c.reads, 1);
  watched_close(&w);
  chorus_sub_context_free(sub);
  g_main_context_unref(parent);
}
END_TEST

START_TEST(test_only_ready_ones_serviced)
{
  enum { N = 200 };
  GMainContext *parent = g_main_context_new();
  ChorusSubContext *subs[N];
  Watched *w = g_new0(Watched, N);
  for (int i = 0; i < N; i++) {
    subs[i] = chorus_sub_context_new(parent, NULL);
    watched_open(&w[i], subs[i]);
  }
  drain(parent);
  guint64 before = services();
  poke(&w[137]);
  run_until(parent, &w[137].c.reads, 1);
  drain(parent);
  /* One packet, one sub-context iteration: not one per sub-context, and
   * not a second one for GLib's own wake-up writes around the dispatch. */
  ck_assert_uint_eq(services() - before, 1);
  for (int i = 0; i < N; i++) {
    if (i != 137)
      ck_assert_uint_eq(w[i].c.reads, 0);
    watched_close(&w[i]);
    chorus_sub_context_free(subs[i]);
  }
  g_free(w);
  g_main_context_unref(parent);
}
END_TEST

START_TEST(test_parent_source_goes_with_last_sub)
{
  GMainContext *parent = g_main_context_new();
  ChorusSubContext *sub = chorus_sub_context_new(parent, NULL);
  chorus_sub_context_free(sub);
  /* Nothing left attached to the parent. */
  ck_assert(!g_main_context_pending(parent));
  ck_assert(!g_main_context_iteration(parent, FALSE));
  /* And a new one works again. */
  sub = chorus_sub_context_new(parent, NULL);
  Watched w = { 0 };
  watched_open(&w, sub);
  poke(&w);
  run_until(parent, &w.c.reads, 1);
  watched_close(&w);
  chorus_sub_context_free(sub);
  g_main_context_unref(parent);
}
END_TEST

START_TEST(test_out_of_descriptors_is_an_error)
{
  /* GLib aborts when a context cannot get its eventfd; a sub-context
   * reports it instead. (Check forks each test: the limit stays here.) */
  GMainContext *parent = g_main_context_new();
  /* Room for exactly 16 more descriptors, whatever this process already
   * has open (a test harness may hand down any number of them, anywhere):
   * fill the free numbers below the highest open one, then cap above it. */
  int highest = -1;
  for (int fd = 0; fd < 4096; fd++)
    if (fcntl(fd, F_GETFD) != -1)
      highest = fd;
  int filler;
  while ((filler = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && filler < highest)
    ;
  ck_assert_int_ge(filler, 0);
  close(filler);
  struct rlimit rl;
  ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
  rl.rlim_cur = (rlim_t)highest + 1 + 16;
  ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
  ChorusSubContext *subs[64];
  GError *error = NULL;
  guint n = 0;
  while (n < G_N_ELEMENTS(subs) && (subs[n] = chorus_sub_context_new(parent, &error)) != NULL)
    n++;
  ck_assert_uint_lt(n, G_N_ELEMENTS(subs));
  ck_assert_ptr_nonnull(error);
  ck_assert_msg(strstr(error->message, "open files limit") != NULL, "%s", error->message);
  g_error_free(error);
  for (guint i = 0; i < n; i++)
    chorus_sub_context_free(subs[i]);
  g_main_context_unref(parent);
}
END_TEST

/* Reads like libnice's: recvmsg() (through GIO) until the socket would
 * block. */
typedef struct {
  GSocket *socket;
  guint reads;
} Drainer;

static gboolean
on_drain(GSocket *socket, GIOCondition cond, gpointer data)
{
  (void)cond;
  Drainer *d = data;
  for (;;) {
    char buf[64];
    GInputVector v = { buf, sizeof buf };
    GError *error = NULL;
    gssize r = g_socket_receive_message(socket, NULL, &v, 1, NULL, NULL, NULL, NULL, &error);
    if (r < 0) {
      ck_assert(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK));
      g_error_free(error);
      return G_SOURCE_CONTINUE;
    }
    d->reads++;
  }
}

static void
drainer_open(Drainer *d, Watched *w, ChorusSubContext *sub)
{
  pair(w->fds);
  d->socket = g_socket_new_from_fd(w->fds[0], NULL);
  ck_assert_ptr_nonnull(d->socket);
  g_socket_set_blocking(d->socket, FALSE);
  w->source = g_socket_create_source(d->socket, G_IO_IN, NULL);
  g_source_set_callback(w->source, G_SOURCE_FUNC(on_drain), d, NULL);
  g_source_attach(w->source, chorus_sub_context_get_context(sub));
  chorus_sub_context_sync(sub);
}

static void
drainer_close(Drainer *d, Watched *w)
{
  g_source_destroy(w->source);
  g_source_unref(w->source);
  g_object_unref(d->socket); /* closes fds[0] */
  close(w->fds[1]);
}

static guint64
read_yields(void)
{
  ChorusSubContextStats s;
  chorus_sub_context_get_totals(&s);
  return s.read_yields;
}

START_TEST(test_read_budget_bounds_a_read_loop)
{
  GMainContext *parent = g_main_context_new();
  ChorusSubContext *flooded = chorus_sub_context_new(parent, NULL);
  ChorusSubContext *quiet = chorus_sub_context_new(parent, NULL);
  ChorusSubContext *unbounded = chorus_sub_context_new(parent, NULL);
  chorus_sub_context_set_read_budget(flooded, 16);
  chorus_sub_context_set_read_budget(quiet, 16);
  Watched wf = { 0 }, wq = { 0 }, wu = { 0 };
  Drainer f = { 0 }, q = { 0 }, u = { 0 };
  drainer_open(&f, &wf, flooded);
  drainer_open(&q, &wq, quiet);
  drainer_open(&u, &wu, unbounded);
  drain(parent);
  for (int i = 0; i < 50; i++) {
    poke(&wf);
    poke(&wu);
  }
  poke(&wq);
  guint64 yields = read_yields();

  /* One dispatch of the parent: every ready sub-context gets its turn, the
   * flooded one only 16 reads of its 50. */
  ck_assert(g_main_context_iteration(parent, TRUE));
  ck_assert_uint_eq(f.reads, 16);
  ck_assert_uint_eq(q.reads, 1);
  ck_assert_uint_eq(u.reads, 50);
  ck_assert_uint_eq(read_yields() - yields, 1);
  /* The rest on the next turns; reads outside a service are not counted. */
  run_until(parent, &f.reads, 50);
  ck_assert_uint_eq(read_yields() - yields, 3); /* 16 + 16 + 16 + 2 */
  poke(&wf);
  char buf[8];
  GInputVector v = { buf, sizeof buf };
  for (int i = 0; i < 3; i++) /* more than once: no budget is left open here */
    ck_assert_int_eq(g_socket_receive_message(f.socket, NULL, &v, 1, NULL, NULL, NULL, NULL, NULL),
                     i == 0 ? 1 : -1);

  drainer_close(&f, &wf);
  drainer_close(&q, &wq);
  drainer_close(&u, &wu);
  chorus_sub_context_free(flooded);
  chorus_sub_context_free(quiet);
  chorus_sub_context_free(unbounded);
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
  tcase_add_test(tc, test_out_of_descriptors_is_an_error);
  tcase_add_test(tc, test_read_budget_bounds_a_read_loop);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
