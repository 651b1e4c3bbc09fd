/* ChorusIce: two agents in one process on 127.0.0.1, trickling candidates to
 * each other through the callbacks, on one private GMainContext. Waiting is
 * done by iterating that context until a condition holds (with a deadline),
 * never by sleeping. */
#include <check.h>
#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "webrtc/ice.h"

static const char *const loopback[] = { "127.0.0.1", NULL };

#define MAX_PAYLOADS 64

typedef struct Peer Peer;
struct Peer {
  const char *name;
  ChorusIce *ice;
  Peer *other;
  gboolean trickle_to_other; /* forward local candidates to the other */
  gboolean gathering_done;
  guint candidates;
  ChorusIceState states[32]; /* every state reported, in order */
  guint n_states;
  guint received;
  char *payloads[MAX_PAYLOADS];
  /* Our own state when the first datagram arrived. */
  ChorusIceState state_at_first_receive;
  /* Sends this once, from inside the callback that reports CONNECTED. */
  const char *send_on_connected;
  /* Replies this to the first datagram, from inside the receive callback. */
  const char *reply_on_first_receive;
  ChorusIceSendResult reply_result;
  gboolean free_self_on_connected;
  gboolean free_self_on_receive;
  gboolean free_self_on_candidate;
};

static GMainContext *ctx;

static void
setup(void)
{
  ctx = g_main_context_new();
  g_main_context_push_thread_default(ctx);
}

static void
teardown(void)
{
  while (g_main_context_iteration(ctx, FALSE))
    ;
  g_main_context_pop_thread_default(ctx);
  g_main_context_unref(ctx);
  ctx = NULL;
}

static gboolean
on_deadline(gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the test context until @cond(@data) or @timeout_ms passed. */
static gboolean
run_until(gboolean (*cond)(gpointer), gpointer data, guint timeout_ms)
{
  gboolean expired = FALSE;
  GSource *timer = g_timeout_source_new(timeout_ms);
  g_source_set_callback(timer, on_deadline, &expired, NULL);
  g_source_attach(timer, ctx);
  while (!cond(data) && !expired)
    g_main_context_iteration(ctx, TRUE);
  g_source_destroy(timer);
  g_source_unref(timer);
  return cond(data);
}

static gboolean
never(gpointer data)
{
  return FALSE;
}

/* Lets the loop run for @ms (time for checks to be sent and ignored). */
static void
run_for(guint ms)
{
  run_until(never, NULL, ms);
}

static gboolean
is_up(ChorusIceState s)
{
  return s == CHORUS_ICE_STATE_CONNECTED || s == CHORUS_ICE_STATE_READY;
}

static gboolean
peer_up(Peer *p)
{
  return p->ice != NULL && is_up(chorus_ice_get_state(p->ice));
}

static gboolean
both_up(gpointer data)
{
  Peer **pair = data;
  return peer_up(pair[0]) && peer_up(pair[1]);
}

static void
cb_local_candidate(ChorusIce *ice, const char *candidate, gpointer user_data)
{
  Peer *p = user_data;
  p->candidates++;
  ck_assert(g_str_has_prefix(candidate, "candidate:"));
  if (p->free_self_on_candidate) {
    chorus_ice_free(ice);
    p->ice = NULL;
    return;
  }
  if (p->trickle_to_other && p->other->ice != NULL) {
    g_autoptr(GError) error = NULL;
    ck_assert_msg(chorus_ice_add_remote_candidate(p->other->ice, candidate, NULL, &error), "%s",
                  error ? error->message : "");
  }
}

static void
cb_gathering_done(ChorusIce *ice, gpointer user_data)
{
  Peer *p = user_data;
  p->gathering_done = TRUE;
  if (p->trickle_to_other && p->other->ice != NULL)
    chorus_ice_set_remote_gathering_done(p->other->ice);
}

static void
cb_state_changed(ChorusIce *ice, ChorusIceState state, gpointer user_data)
{
  Peer *p = user_data;
  if (p->n_states < G_N_ELEMENTS(p->states))
    p->states[p->n_states++] = state;
  if (is_up(state) && p->send_on_connected != NULL) {
    const char *msg = p->send_on_connected;
    p->send_on_connected = NULL;
    ck_assert_int_eq(chorus_ice_send(ice, (const guint8 *)msg, strlen(msg)), CHORUS_ICE_SEND_OK);
  }
  if (is_up(state) && p->free_self_on_connected) {
    chorus_ice_free(ice);
    p->ice = NULL;
  }
}

static void
cb_receive(ChorusIce *ice, const guint8 *data, gsize len, gpointer user_data)
{
  Peer *p = user_data;
  if (p->received == 0) {
    p->state_at_first_receive = chorus_ice_get_state(ice);
    if (p->reply_on_first_receive != NULL)
      p->reply_result = chorus_ice_send(ice, (const guint8 *)p->reply_on_first_receive,
                                        strlen(p->reply_on_first_receive));
  }
  if (p->received < MAX_PAYLOADS)
    p->payloads[p->received] = g_strndup((const char *)data, len);
  p->received++;
  if (p->free_self_on_receive) {
    chorus_ice_free(ice);
    p->ice = NULL;
  }
}

static const ChorusIceCallbacks peer_callbacks = {
  .local_candidate = cb_local_candidate,
  .gathering_done = cb_gathering_done,
  .state_changed = cb_state_changed,
  .receive = cb_receive,
};

static void
peer_init(Peer *p, const char *name, Peer *other, const ChorusIceConfig *config)
{
  memset(p, 0, sizeof *p);
  p->name = name;
  p->other = other;
  p->trickle_to_other = TRUE;
  p->state_at_first_receive = CHORUS_ICE_STATE_DISCONNECTED;
  g_autoptr(GError) error = NULL;
  p->ice = chorus_ice_new(ctx, config, &peer_callbacks, p, &error);
  ck_assert_msg(p->ice != NULL, "%s", error ? error->message : "");
}

static void
peer_clear(Peer *p)
{
  g_clear_pointer(&p->ice, chorus_ice_free);
  for (guint i = 0; i < MAX_PAYLOADS; i++)
    g_clear_pointer(&p->payloads[i], g_free);
}

static void
gather(Peer *p)
{
  g_autoptr(GError) error = NULL;
  ck_assert_msg(chorus_ice_gather(p->ice, &error), "%s", error ? error->message : "");
}

/* @to learns @from's credentials (what an SDP carries). */
static void
give_credentials(Peer *from, Peer *to)
{
  g_autoptr(GError) error = NULL;
  ck_assert_msg(chorus_ice_set_remote_credentials(to->ice, chorus_ice_get_local_ufrag(from->ice),
                                                  chorus_ice_get_local_pwd(from->ice), &error),
                "%s", error ? error->message : "");
}

static ChorusIceConfig
loopback_config(gboolean controlling)
{
  ChorusIceConfig c = { 0 };
  c.controlling = controlling;
  c.local_addresses = loopback;
  return c;
}

/* The usual setup: both trickle everything, credentials both ways. */
static void
connect_pair(Peer *a, Peer *b, const ChorusIceConfig *ca, const ChorusIceConfig *cb)
{
  peer_init(a, "A", b, ca);
  peer_init(b, "B", a, cb);
  gather(a);
  gather(b);
  give_credentials(a, b);
  give_credentials(b, a);
  Peer *pair[2] = { a, b };
  ck_assert_msg(run_until(both_up, pair, 10000), "not connected: A %s, B %s",
                chorus_ice_state_to_string(chorus_ice_get_state(a->ice)),
                chorus_ice_state_to_string(chorus_ice_get_state(b->ice)));
}

typedef struct {
  Peer *p;
  guint count;
} ReceivedAtLeast;

static gboolean
received_at_least(gpointer data)
{
  ReceivedAtLeast *r = data;
  return r->p->received >= r->count;
}

static void
wait_received(Peer *p, guint count)
{
  ReceivedAtLeast r = { p, count };
  ck_assert_msg(run_until(received_at_least, &r, 5000), "%s received %u of %u", p->name,
                p->received, count);
}

static void
send_str(Peer *p, const char *s)
{
  ck_assert_int_eq(chorus_ice_send(p->ice, (const guint8 *)s, strlen(s)), CHORUS_ICE_SEND_OK);
}

/* ---- connection and data ---- */

START_TEST(test_connect_and_exchange)
{
  Peer a, b;
  ChorusIceConfig ca = loopback_config(TRUE);
  ChorusIceConfig cb = loopback_config(FALSE);
  connect_pair(&a, &b, &ca, &cb);

  ck_assert(a.gathering_done && b.gathering_done);
  ck_assert(chorus_ice_is_gathering_done(a.ice));
  ck_assert_uint_eq(a.candidates, 1); /* one UDP host candidate on 127.0.0.1, no TCP */
  ck_assert(chorus_ice_get_controlling(a.ice));
  ck_assert(!chorus_ice_get_controlling(b.ice));

  for (guint i = 0; i < 10; i++) {
    g_autofree char *msg = g_strdup_printf("a->b %u", i);
    send_str(&a, msg);
  }
  for (guint i = 0; i < 7; i++) {
    g_autofree char *msg = g_strdup_printf("b->a %u", i);
    send_str(&b, msg);
  }
  wait_received(&b, 10);
  wait_received(&a, 7);
  run_for(50); /* nothing more than was sent may arrive */
  ck_assert_uint_eq(b.received, 10);
  ck_assert_uint_eq(a.received, 7);
  ck_assert_str_eq(b.payloads[0], "a->b 0");
  ck_assert_str_eq(b.payloads[9], "a->b 9");
  ck_assert_str_eq(a.payloads[6], "b->a 6");

  ChorusIceStats sa, sb;
  chorus_ice_get_stats(a.ice, &sa);
  chorus_ice_get_stats(b.ice, &sb);
  ck_assert_uint_eq(sa.datagrams_out, 10);
  ck_assert_uint_eq(sa.datagrams_in, 7);
  ck_assert_uint_eq(sb.datagrams_out, 7);
  ck_assert_uint_eq(sb.datagrams_in, 10);
  ck_assert_uint_eq(sb.bytes_in, 10 * strlen("a->b 0"));
  ck_assert_uint_eq(sa.send_dropped, 0);
  ck_assert_uint_eq(sa.send_queued, 0);
  ck_assert_uint_eq(sa.remote_candidates_added, 1);
  ck_assert_uint_eq(sb.remote_candidates_added, 1);

  /* The selected pair's socket is A's candidate port, the remote is B's. */
  g_autoptr(GSocketAddress) remote = NULL;
  g_autoptr(GSocket) sock = chorus_ice_get_selected_socket(a.ice, &remote);
  ck_assert_ptr_nonnull(sock);
  ck_assert_ptr_nonnull(remote);
  g_autoptr(GSocketAddress) local = g_socket_get_local_address(sock, NULL);
  ck_assert_ptr_nonnull(local);
  guint local_port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
  guint remote_port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(remote));
  g_autofree char *remote_ip =
    g_inet_address_to_string(g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(remote)));
  ck_assert_str_eq(remote_ip, "127.0.0.1");
  g_autoptr(GPtrArray) ca_list = chorus_ice_get_local_candidates(a.ice);
  g_autoptr(GPtrArray) cb_list = chorus_ice_get_local_candidates(b.ice);
  g_autofree char *a_port = g_strdup_printf(" 127.0.0.1 %u typ host", local_port);
  g_autofree char *b_port = g_strdup_printf(" 127.0.0.1 %u typ host", remote_port);
  ck_assert_msg(strstr(g_ptr_array_index(ca_list, 0), a_port) != NULL, "%s",
                (char *)g_ptr_array_index(ca_list, 0));
  ck_assert_msg(strstr(g_ptr_array_index(cb_list, 0), b_port) != NULL, "%s",
                (char *)g_ptr_array_index(cb_list, 0));

  peer_clear(&a);
  peer_clear(&b);
}
END_TEST

/* The INTEROP.md latency fact: the client (A, controlling) sends its first
 * datagram the moment its own check succeeds. B is the server: it knows A's
 * credentials but not A's candidates (A is learnt peer-reflexive, as when a
 * client does not trickle), so B's own check of that pair comes a Ta tick
 * later. Measured: libnice delivers A's datagram to B while B is still
 * CONNECTING, and B's immediate reply is queued and flushed when B selects
 * its pair. */
START_TEST(test_early_data_delivered)
{
  Peer a, b;
  ChorusIceConfig ca = loopback_config(TRUE);
  ChorusIceConfig cb = loopback_config(FALSE);
  peer_init(&a, "A", &b, &ca);
  peer_init(&b, "B", &a, &cb);
  a.trickle_to_other = FALSE;
  a.send_on_connected = "client-hello";
  b.reply_on_first_receive = "server-hello";
  gather(&a);
  gather(&b);
  give_credentials(&a, &b);
  give_credentials(&b, &a);

  wait_received(&b, 1);
  ck_assert_str_eq(b.payloads[0], "client-hello");
  ck_assert_msg(!is_up(b.state_at_first_receive), "B was already %s",
                chorus_ice_state_to_string(b.state_at_first_receive));
  ck_assert_int_eq(b.reply_result, CHORUS_ICE_SEND_QUEUED);
  wait_received(&a, 1);
  ck_assert_str_eq(a.payloads[0], "server-hello");
  ChorusIceStats sb;
  chorus_ice_get_stats(b.ice, &sb);
  ck_assert_uint_eq(sb.send_queued, 1);
  ck_assert_uint_eq(sb.datagrams_out, 1);
  ck_assert_uint_eq(sb.send_dropped, 0);
  peer_clear(&a);
  peer_clear(&b);
}
END_TEST

/* Chorus offered (subscriber PC) and the client's answer is late: the
 * client's checks arrive before B knows its credentials. Measured: libnice
 * answers them (it only needs its own password), the client connects, and
 * its first datagram is delivered to B at once, B still GATHERING. B cannot
 * answer before it has a pair of its own, which needs the credentials: its
 * reply is queued until then, not lost. */
START_TEST(test_early_data_before_remote_credentials)
{
  Peer a, b;
  ChorusIceConfig ca = loopback_config(TRUE);
  ChorusIceConfig cb = loopback_config(FALSE);
  peer_init(&a, "A", &b, &ca);
  peer_init(&b, "B", &a, &cb);
  a.send_on_connected = "client-hello";
  b.reply_on_first_receive = "server-hello";
  gather(&a);
  gather(&b);
  give_credentials(&b, &a); /* the client has the offer, B not the answer */

  wait_received(&b, 1);
  ck_assert_str_eq(b.payloads[0], "client-hello");
  ck_assert(peer_up(&a));
  /* (libnice reports GATHERING until the remote credentials are set) */
  ck_assert_msg(!is_up(b.state_at_first_receive), "B was %s",
                chorus_ice_state_to_string(b.state_at_first_receive));
  ck_assert_int_eq(b.reply_result, CHORUS_ICE_SEND_QUEUED);
  run_for(100);
  ck_assert_uint_eq(a.received, 0); /* B has no pair: still queued */

  give_credentials(&a, &b); /* the answer arrives */
  wait_received(&a, 1);
  ck_assert_str_eq(a.payloads[0], "server-hello");
  Peer *pair[2] = { &a, &b };
  ck_assert(run_until(both_up, pair, 5000));
  ChorusIceStats sb;
  chorus_ice_get_stats(b.ice, &sb);
  ck_assert_uint_eq(sb.send_queued, 1);
  ck_assert_uint_eq(sb.datagrams_out, 1);
  ck_assert_uint_eq(sb.send_dropped, 0);
  peer_clear(&a);
  peer_clear(&b);
}
END_TEST

START_TEST(test_lite)
{
  Peer a, b;
  ChorusIceConfig ca = loopback_config(TRUE);
  ChorusIceConfig cb = loopback_config(TRUE); /* asks for controlling: lite overrides */
  cb.lite = TRUE;
  connect_pair(&a, &b, &ca, &cb);
  ck_assert(!chorus_ice_get_controlling(b.ice));
  chorus_ice_set_controlling(b.ice, TRUE);
  ck_assert(!chorus_ice_get_controlling(b.ice));
  send_str(&a, "to-lite");
  send_str(&b, "from-lite");
  wait_received(&b, 1);
  wait_received(&a, 1);
  ck_assert_str_eq(b.payloads[0], "to-lite");
  ck_assert_str_eq(a.payloads[0], "from-lite");
  peer_clear(&a);
  peer_clear(&b);
}
END_TEST

START_TEST(test_role_choice)
{
  /* answerer, full: controlled */
  ck_assert(!chorus_ice_role_is_controlling(FALSE, FALSE, FALSE));
  /* offerer, full, full peer: RFC 8445 makes the initiator control */
  ck_assert(chorus_ice_role_is_controlling(TRUE, FALSE, FALSE));
  /* lite: always controlled */
  ck_assert(!chorus_ice_role_is_controlling(TRUE, TRUE, FALSE));
  ck_assert(!chorus_ice_role_is_controlling(FALSE, TRUE, FALSE));
  /* full facing a lite peer: controls even as answerer */
  ck_assert(chorus_ice_role_is_controlling(FALSE, FALSE, TRUE));
}
END_TEST

/* ---- remote candidates ---- */

static const char *const bad_candidates[] = {
  "",
  "candidate:",
  "garbage",
  "a=candidate:garbage",
  "candidate:1 1 udp 2015363327 127.0.0.1 50000 typ",         /* 7 fields */
  "candidate:1 1 udp x 127.0.0.1 50000 typ host",             /* priority */
  "candidate:1 1 udp 99999999999 127.0.0.1 50000 typ host",   /* > 32 bits */
  "candidate:1 1 udp 2015363327 127.0.0.1 70000 typ host",    /* port */
  "candidate:1 1 udp 2015363327 127.0.0.1 0 typ host",        /* UDP port 0 */
  "candidate:1 1 udp 2015363327 127.0.0.1 -5 typ host",
  "candidate:1 0 udp 2015363327 127.0.0.1 50000 typ host",    /* component 0 */
  "candidate:1 1 udp 2015363327 not-an-ip 50000 typ host",
  "candidate:1 1 udp 2015363327 1.2.3.4.5 50000 typ host",
  "candidate:1 1 udp 2015363327 10.1 50000 typ host",         /* inet_aton form */
  "candidate:1 1 udp 2015363327 127.0.0.1 50000 type host",
  "candidate:1 1 udp 2015363327 127.0.0.1 50000 typ bogus",
  "candidate:1 1 udp 2015363327 127.0.0.1 50000 typ host generation", /* dangling */
  "candidate:f@o 1 udp 2015363327 127.0.0.1 50000 typ host",  /* foundation chars */
  "candidate:1 1 udp 2113937151 4e2f1b7e-1234-4c55-9f00-aaaaaaaaaaaa.local 54400 typ host",
};

START_TEST(test_bad_candidate)
{
  ChorusIceConfig c = loopback_config(FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusIce) ice = chorus_ice_new(ctx, &c, NULL, NULL, &error);
  ck_assert_ptr_nonnull(ice);
  const char *text = bad_candidates[_i];
  ck_assert_msg(!chorus_ice_add_remote_candidate(ice, text, NULL, &error), "accepted \"%s\"",
                text);
  ck_assert_ptr_nonnull(error);
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
  ck_assert(g_str_has_prefix(error->message, "ice: "));
}
END_TEST

START_TEST(test_candidate_forms)
{
  ChorusIceConfig c = loopback_config(FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusIce) ice = chorus_ice_new(ctx, &c, NULL, NULL, &error);
  ck_assert_ptr_nonnull(ice);
  const char *good[] = {
    "a=candidate:1 1 udp 2015363327 127.0.0.1 50000 typ host",
    "candidate:2 1 udp 2015363327 127.0.0.1 50002 typ host",
    "3 1 UDP 2015363327 127.0.0.1 50003 typ host", /* aiortc: text after "candidate:" */
    "candidate:4 1 udp 1677729535 203.0.113.5 61234 typ srflx raddr 10.0.0.2 rport 61234 "
    "generation 0 ufrag AbCd network-cost 999\r\n",
    "candidate:5 1 udp 2015363327 ::1 50005 typ host",
  };
  for (guint i = 0; i < G_N_ELEMENTS(good); i++)
    ck_assert_msg(chorus_ice_add_remote_candidate(ice, good[i], NULL, &error), "%s: %s", good[i],
                  error ? error->message : "");
  /* Well-formed but not for us: accepted and ignored. */
  ck_assert(chorus_ice_add_remote_candidate(
    ice, "candidate:6 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active", NULL, &error));
  ck_assert(chorus_ice_add_remote_candidate(
    ice, "candidate:7 2 udp 2015363326 127.0.0.1 50007 typ host", NULL, &error));
  ck_assert(chorus_ice_add_remote_candidate(
    ice, "candidate:8 1 sctp 2015363326 127.0.0.1 50008 typ host", NULL, &error));
  ck_assert_ptr_null(error);

  ChorusIceStats s;
  chorus_ice_get_stats(ice, &s);
  ck_assert_uint_eq(s.remote_candidates_ignored, 3);
  ck_assert_uint_eq(s.remote_candidates_added, 0); /* held: no credentials yet */

  /* Credentials "AbCd": every held candidate without a ufrag, and the one
   * saying ufrag AbCd, is applied. */
  ck_assert(chorus_ice_set_remote_credentials(ice, "AbCd", "0123456789012345678901", &error));
  chorus_ice_get_stats(ice, &s);
  ck_assert_uint_eq(s.remote_candidates_added, G_N_ELEMENTS(good));
}
END_TEST

START_TEST(test_candidates_of_another_generation)
{
  ChorusIceConfig c = loopback_config(FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusIce) ice = chorus_ice_new(ctx, &c, NULL, NULL, &error);
  ck_assert_ptr_nonnull(ice);
  ck_assert(chorus_ice_set_remote_credentials(ice, "gen1", "0123456789012345678901", &error));
  ck_assert(chorus_ice_add_remote_candidate(
    ice, "candidate:1 1 udp 2015363327 127.0.0.1 50001 typ host", "gen1", &error));
  /* trickled ahead of the SDP that introduces "gen2": held */
  ck_assert(chorus_ice_add_remote_candidate(
    ice, "candidate:2 1 udp 2015363327 127.0.0.1 50002 typ host", "gen2", &error));
  ck_assert(chorus_ice_add_remote_candidate(
    ice, "candidate:3 1 udp 2015363327 127.0.0.1 50003 typ host ufrag gen2", NULL, &error));
  ChorusIceStats s;
  chorus_ice_get_stats(ice, &s);
  ck_assert_uint_eq(s.remote_candidates_added, 1);
  /* the same credentials again: a renegotiation, nothing changes */
  ck_assert(chorus_ice_set_remote_credentials(ice, "gen1", "0123456789012345678901", &error));
  chorus_ice_get_stats(ice, &s);
  ck_assert_uint_eq(s.remote_candidates_added, 1);

  const char *old_ufrag = chorus_ice_get_local_ufrag(ice);
  g_autofree char *old = g_strdup(old_ufrag);
  ck_assert(chorus_ice_restart(ice, &error));
  ck_assert_str_ne(chorus_ice_get_local_ufrag(ice), old);
  ck_assert(chorus_ice_set_remote_credentials(ice, "gen2", "abcdefghijklmnopqrstuv", &error));
  chorus_ice_get_stats(ice, &s);
  ck_assert_uint_eq(s.remote_candidates_added, 3);
  ck_assert_ptr_null(error);
}
END_TEST

START_TEST(test_bad_credentials)
{
  ChorusIceConfig c = loopback_config(FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusIce) ice = chorus_ice_new(ctx, &c, NULL, NULL, &error);
  ck_assert_ptr_nonnull(ice);
  const char *pwd = "0123456789012345678901";
  const struct {
    const char *ufrag, *pwd;
  } bad[] = {
    { "abc", pwd },                        /* ufrag < 4 */
    { "ab:c", pwd },                       /* ':' is not an ice-char */
    { "abcd", "0123456789" },              /* pwd < 22 */
    { "abcd", "0123456789 12345678901" },  /* space */
    { NULL, pwd },
  };
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    ck_assert(!chorus_ice_set_remote_credentials(ice, bad[i].ufrag, bad[i].pwd, &error));
    ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
    g_clear_error(&error);
  }
  ck_assert(chorus_ice_set_remote_credentials(ice, "ab+/", pwd, &error));
}
END_TEST

/* ---- configuration ---- */

START_TEST(test_bad_config)
{
  g_autoptr(GError) error = NULL;
  ChorusIceConfig c = loopback_config(FALSE);
  c.public_ip = "203.0.113";
  ck_assert_ptr_null(chorus_ice_new(ctx, &c, NULL, NULL, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
  g_clear_error(&error);

  const char *const bad_local[] = { "127.0.0.1", "eth0", NULL };
  c = loopback_config(FALSE);
  c.local_addresses = bad_local;
  ck_assert_ptr_null(chorus_ice_new(ctx, &c, NULL, NULL, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
  g_clear_error(&error);

  c = loopback_config(FALSE);
  c.port_min = 40010;
  c.port_max = 40000;
  ck_assert_ptr_null(chorus_ice_new(ctx, &c, NULL, NULL, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
  g_clear_error(&error);

  c.port_min = 0;
  c.port_max = 40000;
  ck_assert_ptr_null(chorus_ice_new(ctx, &c, NULL, NULL, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS));
}
END_TEST

/* public_ip: the reported candidates carry it, with the real port; the
 * agent itself still listens on the local address. */
START_TEST(test_public_ip)
{
  Peer a, b;
  ChorusIceConfig ca = loopback_config(TRUE);
  ChorusIceConfig cb = loopback_config(FALSE);
  cb.public_ip = "203.0.113.7";
  peer_init(&a, "A", &b, &ca);
  peer_init(&b, "B", &a, &cb);
  b.trickle_to_other = FALSE;
  gather(&a);
  gather(&b);
  g_autoptr(GPtrArray) list = chorus_ice_get_local_candidates(b.ice);
  ck_assert_uint_eq(list->len, 1);
  const char *cand = g_ptr_array_index(list, 0);
  ck_assert_msg(strstr(cand, " 203.0.113.7 ") != NULL, "%s", cand);
  ck_assert_msg(strstr(cand, "127.0.0.1") == NULL, "%s", cand);
  ck_assert(g_str_has_prefix(cand, "candidate:"));
  ck_assert_msg(g_str_has_suffix(cand, " typ host"), "%s", cand); /* no raddr: it would leak */

  /* Undo the NAT by hand: the port in the string must be the bound one,
   * or A cannot reach B. */
  g_autofree char *natted = g_strdup(cand);
  char *at = strstr(natted, "203.0.113.7");
  g_autofree char *through_nat =
    g_strdup_printf("%.*s127.0.0.1%s", (int)(at - natted), natted, at + strlen("203.0.113.7"));
  g_autoptr(GError) error = NULL;
  ck_assert(chorus_ice_add_remote_candidate(a.ice, through_nat, NULL, &error));
  give_credentials(&a, &b);
  give_credentials(&b, &a);
  Peer *pair[2] = { &a, &b };
  ck_assert(run_until(both_up, pair, 10000));
  send_str(&a, "via-nat");
  wait_received(&b, 1);
  peer_clear(&a);
  peer_clear(&b);
}
END_TEST

START_TEST(test_public_ip_keeps_other_family)
{
  const char *const both[] = { "127.0.0.1", "::1", NULL };
  ChorusIceConfig c = loopback_config(FALSE);
  c.local_addresses = both;
  c.public_ip = "203.0.113.7";
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusIce) ice = chorus_ice_new(ctx, &c, NULL, NULL, &error);
  ck_assert_ptr_nonnull(ice);
  ck_assert(chorus_ice_gather(ice, &error));
  g_autoptr(GPtrArray) list = chorus_ice_get_local_candidates(ice);
  ck_assert_uint_ge(list->len, 1);
  guint v4 = 0;
  for (guint i = 0; i < list->len; i++) {
    const char *cand = g_ptr_array_index(list, i);
    ck_assert_msg(strstr(cand, "127.0.0.1") == NULL, "%s", cand);
    if (strstr(cand, " 203.0.113.7 ") != NULL)
      v4++;
    else
      ck_assert_msg(strstr(cand, " ::1 ") != NULL, "%s", cand);
  }
  ck_assert_uint_eq(v4, 1);
}
END_TEST

/* A port nobody uses right now (bound then released). */
static guint
free_udp_port(void)
{
  g_autoptr(GSocket) s =
    g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_from_string("127.0.0.1");
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
  ck_assert(g_socket_bind(s, any, FALSE, NULL));
  g_autoptr(GSocketAddress) bound = g_socket_get_local_address(s, NULL);
  return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

START_TEST(test_port_range)
{
  guint port = free_udp_port();
  ChorusIceConfig c = loopback_config(FALSE);
  c.port_min = port;
  c.port_max = port;
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusIce) first = chorus_ice_new(ctx, &c, NULL, NULL, &error);
  ck_assert_ptr_nonnull(first);
  ck_assert(chorus_ice_gather(first, &error));
  g_autoptr(GPtrArray) list = chorus_ice_get_local_candidates(first);
  ck_assert_uint_eq(list->len, 1);
  g_autofree char *expect = g_strdup_printf(" 127.0.0.1 %u typ host", port);
  ck_assert_msg(g_str_has_suffix(g_ptr_array_index(list, 0), expect), "%s",
                (char *)g_ptr_array_index(list, 0));

  /* The range's only port is taken: the second agent may not go elsewhere. */
  g_autoptr(ChorusIce) second = chorus_ice_new(ctx, &c, NULL, NULL, &error);
  ck_assert_ptr_nonnull(second);
  ck_assert(!chorus_ice_gather(second, &error));
  ck_assert(g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL));
  g_autoptr(GPtrArray) none = chorus_ice_get_local_candidates(second);
  ck_assert_uint_eq(none->len, 0);
}
END_TEST

/* ---- sending before a pair ---- */

START_TEST(test_send_queue_bounds)
{
  ChorusIceConfig c = loopback_config(FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(ChorusIce) ice = chorus_ice_new(ctx, &c, NULL, NULL, &error);
  ck_assert_ptr_nonnull(ice);
  guint8 buf[100] = { 22 };
  guint queued = 0, dropped = 0;
  for (guint i = 0; i < 40; i++) {
    ChorusIceSendResult r = chorus_ice_send(ice, buf, sizeof buf);
    if (r == CHORUS_ICE_SEND_QUEUED)
      queued++;
    else if (r == CHORUS_ICE_SEND_DROPPED)
      dropped++;
  }
  ck_assert_uint_eq(queued, 32);
  ck_assert_uint_eq(dropped, 8);
  ChorusIceStats s;
  chorus_ice_get_stats(ice, &s);
  ck_assert_uint_eq(s.send_queued, 32);
  ck_assert_uint_eq(s.send_dropped, 8);
  ck_assert_uint_eq(s.datagrams_out, 0);
  g_autoptr(GSocketAddress) remote = NULL;
  g_autoptr(GSocket) sock = chorus_ice_get_selected_socket(ice, &remote);
  ck_assert_ptr_null(sock);
  ck_assert_ptr_null(remote);
}
END_TEST

/* ---- lifetime ---- */

/* The owner frees its ChorusIce from inside a callback: _i = 0 from
 * state_changed (CONNECTED), 1 from receive, 2 from local_candidate (inside
 * chorus_ice_gather()). ASan watches libnice unwind afterwards. */
START_TEST(test_free_inside_callback)
{
  Peer a, b;
  ChorusIceConfig ca = loopback_config(TRUE);
  ChorusIceConfig cb = loopback_config(FALSE);
  peer_init(&a, "A", &b, &ca);
  peer_init(&b, "B", &a, &cb);
  if (_i == 2) {
    b.free_self_on_candidate = TRUE;
    g_autoptr(GError) error = NULL;
    ck_assert(chorus_ice_gather(b.ice, &error));
    ck_assert_ptr_null(b.ice);
    ck_assert_uint_eq(b.candidates, 1);
    ck_assert(!b.gathering_done); /* nothing after the free */
    run_for(50);
    peer_clear(&a);
    return;
  }
  a.free_self_on_connected = _i == 0;
  b.free_self_on_receive = _i == 1;
  gather(&a);
  gather(&b);
  give_credentials(&a, &b);
  give_credentials(&b, &a);
  if (_i == 0) {
    Peer *pair[2] = { &a, &b };
    run_until(both_up, pair, 3000);
    ck_assert_ptr_null(a.ice); /* freed from its own state callback */
    ck_assert_uint_ge(a.n_states, 1);
  } else {
    Peer *pair[2] = { &a, &a };
    ck_assert(run_until(both_up, pair, 3000));
    send_str(&a, "one");
    send_str(&a, "two");
    wait_received(&b, 1);
    ck_assert_ptr_null(b.ice);
    run_for(50);
    ck_assert_uint_eq(b.received, 1); /* no callback after the free */
  }
  run_for(100);
  peer_clear(&a);
  peer_clear(&b);
}
END_TEST

/* ---- restart ---- */

static gboolean
got_connecting_then_up(gpointer data)
{
  Peer *p = data;
  for (guint i = 0; i < p->n_states; i++) {
    if (p->states[i] == CHORUS_ICE_STATE_CONNECTING) {
      for (guint j = i + 1; j < p->n_states; j++)
        if (is_up(p->states[j]))
          return TRUE;
    }
  }
  return FALSE;
}

START_TEST(test_restart)
{
  Peer a, b;
  ChorusIceConfig ca = loopback_config(TRUE);
  ChorusIceConfig cb = loopback_config(FALSE);
  connect_pair(&a, &b, &ca, &cb);
  send_str(&a, "before");
  wait_received(&b, 1);

  g_autofree char *a_ufrag = g_strdup(chorus_ice_get_local_ufrag(a.ice));
  g_autofree char *b_ufrag = g_strdup(chorus_ice_get_local_ufrag(b.ice));
  g_autofree char *b_pwd = g_strdup(chorus_ice_get_local_pwd(b.ice));
  g_autoptr(GError) error = NULL;
  ck_assert(chorus_ice_restart(a.ice, &error));
  ck_assert(chorus_ice_restart(b.ice, &error));
  ck_assert_str_ne(chorus_ice_get_local_ufrag(a.ice), a_ufrag);
  ck_assert_str_ne(chorus_ice_get_local_ufrag(b.ice), b_ufrag);
  ck_assert_str_ne(chorus_ice_get_local_pwd(b.ice), b_pwd);

  /* Until the new generation connects, the old pair still carries data. */
  send_str(&a, "during");
  wait_received(&b, 2);
  ck_assert_str_eq(b.payloads[1], "during");

  a.n_states = 0;
  b.n_states = 0;
  /* Candidates of the new generation, trickled with their ufrag before the
   * SDP carrying the credentials is applied. */
  g_autoptr(GPtrArray) la = chorus_ice_get_local_candidates(a.ice);
  g_autoptr(GPtrArray) lb = chorus_ice_get_local_candidates(b.ice);
  for (guint i = 0; i < la->len; i++)
    ck_assert(chorus_ice_add_remote_candidate(b.ice, g_ptr_array_index(la, i),
                                              chorus_ice_get_local_ufrag(a.ice), &error));
  for (guint i = 0; i < lb->len; i++)
    ck_assert(chorus_ice_add_remote_candidate(a.ice, g_ptr_array_index(lb, i),
                                              chorus_ice_get_local_ufrag(b.ice), &error));
  give_credentials(&a, &b);
  give_credentials(&b, &a);
  chorus_ice_set_remote_gathering_done(a.ice);
  chorus_ice_set_remote_gathering_done(b.ice);

  ck_assert_msg(run_until(got_connecting_then_up, &a, 10000), "A did not reconnect (%u states)",
                a.n_states);
  ck_assert_msg(run_until(got_connecting_then_up, &b, 10000), "B did not reconnect (%u states)",
                b.n_states);
  send_str(&a, "after");
  send_str(&b, "back");
  wait_received(&b, 3);
  wait_received(&a, 1);
  ck_assert_str_eq(b.payloads[2], "after");
  ck_assert_str_eq(a.payloads[0], "back");
  peer_clear(&a);
  peer_clear(&b);
}
END_TEST

/* ---- consent freshness (slow: 5-10 s of libnice's consent timers) ---- */

static gboolean
peer_failed(gpointer data)
{
  Peer *p = data;
  return chorus_ice_get_state(p->ice) == CHORUS_ICE_STATE_FAILED;
}

/* _i = 0: full ICE; 1: A is ICE-lite (it sends no consent checks of its
 * own but still notices that B's stopped). */
START_TEST(test_consent_lost)
{
  Peer a, b;
  ChorusIceConfig ca = loopback_config(_i == 0);
  ChorusIceConfig cb = loopback_config(_i != 0);
  ca.lite = _i == 1;
  connect_pair(&a, &b, &ca, &cb);
  send_str(&a, "alive");
  wait_received(&b, 1);

  peer_clear(&b); /* the peer vanishes: its socket is closed */
  gint64 start_us = g_get_monotonic_time();
  ck_assert_msg(run_until(peer_failed, &a, 40000), "still %s after 40 s",
                chorus_ice_state_to_string(chorus_ice_get_state(a.ice)));
  gint64 took_ms = (g_get_monotonic_time() - start_us) / 1000;
  /* Measured with libnice 0.1.21: FAILED 5-10 s after the peer goes silent
   * (the first consent check that gets no answer times out), sooner than
   * RFC 7675's 30 s. Not at once (closing the socket is no signal on UDP),
   * and never later than the RFC's 30 s. */
  ck_assert_msg(took_ms >= 2000 && took_ms <= 32000, "FAILED after %" G_GINT64_FORMAT " ms",
                took_ms);
  ck_assert_int_eq(a.states[a.n_states - 1], CHORUS_ICE_STATE_FAILED);
  guint8 x[4] = { 23, 0, 0, 0 };
  ck_assert_int_eq(chorus_ice_send(a.ice, x, sizeof x), CHORUS_ICE_SEND_DROPPED);
  peer_clear(&a);
}
END_TEST

static Suite *
ice_suite(void)
{
  Suite *s = suite_create("ice");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_connect_and_exchange);
  tcase_add_test(tc, test_early_data_delivered);
  tcase_add_test(tc, test_early_data_before_remote_credentials);
  tcase_add_test(tc, test_lite);
  tcase_add_test(tc, test_role_choice);
  tcase_add_loop_test(tc, test_bad_candidate, 0, G_N_ELEMENTS(bad_candidates));
  tcase_add_test(tc, test_candidate_forms);
  tcase_add_test(tc, test_candidates_of_another_generation);
  tcase_add_test(tc, test_bad_credentials);
  tcase_add_test(tc, test_bad_config);
  tcase_add_test(tc, test_public_ip);
  tcase_add_test(tc, test_public_ip_keeps_other_family);
  tcase_add_test(tc, test_port_range);
  tcase_add_test(tc, test_send_queue_bounds);
  tcase_add_loop_test(tc, test_free_inside_callback, 0, 3);
  tcase_add_test(tc, test_restart);
  suite_add_tcase(s, tc);

  /* Up to ~10 s each measured (30 s allowed by RFC 7675): skipped with
   * CHORUS_SKIP_SLOW=1. */
  if (g_strcmp0(g_getenv("CHORUS_SKIP_SLOW"), "1") != 0) {
    TCase *slow = tcase_create("slow-consent");
    tcase_add_checked_fixture(slow, setup, teardown);
    tcase_set_timeout(slow, 60);
    tcase_add_loop_test(slow, test_consent_lost, 0, 2);
    suite_add_tcase(s, slow);
  }
  return s;
}

int
main(void)
{
  SRunner *sr = srunner_create(ice_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
