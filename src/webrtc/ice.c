#include "webrtc/ice.h"

#define CHORUS_ICE_PACING_MS 5u

#include <netinet/in.h>
#include <nice/agent.h>
#include <string.h>
#include <sys/socket.h>

#include "core/ctx-mux.h"
#include "core/error.h"

#define COMPONENT_ID 1

/* Datagrams sent before the first pair is selected: the DTLS server's reply
 * flight to an early ClientHello is a handful of records; anything bigger is
 * not a handshake and is dropped. */
#define PENDING_SEND_MAX_DATAGRAMS 32
#define PENDING_SEND_MAX_BYTES (64 * 1024)

/* Remote candidates held before their credentials: a browser trickles a
 * few per network interface; this bounds what a client can make us keep. */
#define PENDING_REMOTE_MAX 64

#define CANDIDATE_MAX_LEN 1024

/* libnice 0.1.21 ships no autoptr for its candidates. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NiceCandidate, nice_candidate_free)

typedef struct {
  NiceCandidate *candidate;
  char *ufrag; /* nullable: applies to whatever credentials are current */
} PendingCandidate;

/* Datagrams read per service of an agent's context (see chorus_ice_new). */
#define ICE_READ_BUDGET 64

struct _ChorusIce {
  GMainContext *context; /* borrowed */
  /* libnice's own context (its sockets and timers), serviced from @context:
   * see core/ctx-mux.h. Synced after every call that may start a timer or
   * open a socket outside libnice's own dispatch. */
  ChorusSubContext *nice_context;
  NiceAgent *agent;
  guint stream_id;

  ChorusIceCallbacks callbacks;
  gpointer user_data;

  gboolean lite;
  gboolean controlling;
  gboolean has_public_addr;
  NiceAddress public_addr; /* port unused */

  char *local_ufrag;
  char *local_pwd;
  char *remote_ufrag; /* NULL until set, and again after a restart */
  char *remote_pwd;

  gboolean gather_started;
  gboolean gathering_done;
  gboolean remote_gathering_done; /* for the current remote generation */
  ChorusIceState state;
  gboolean has_selected_pair;
  guint pair_generation; /* bumped whenever the selected pair changes or goes */

  GPtrArray *local_candidates; /* char*, as reported */
  GPtrArray *pending_remote;   /* PendingCandidate* */
  GQueue pending_send;         /* GBytes* */
  gsize pending_send_bytes;

  ChorusIceStats stats;

  /* chorus_ice_free() from inside one of our callbacks is deferred until
   * the outermost callback returns. */
  guint callback_depth;
  gboolean free_requested;
};

static void ice_destroy(ChorusIce *ice);

static void
pending_candidate_free(gpointer data)
{
  PendingCandidate *p = data;
  if (p == NULL)
    return;
  nice_candidate_free(p->candidate);
  g_free(p->ufrag);
  g_free(p);
}

const char *
chorus_ice_state_to_string(ChorusIceState state)
{
  switch (state) {
  case CHORUS_ICE_STATE_DISCONNECTED:
    return "disconnected";
  case CHORUS_ICE_STATE_GATHERING:
    return "gathering";
  case CHORUS_ICE_STATE_CONNECTING:
    return "connecting";
  case CHORUS_ICE_STATE_CONNECTED:
    return "connected";
  case CHORUS_ICE_STATE_READY:
    return "ready";
  case CHORUS_ICE_STATE_FAILED:
    return "failed";
  }
  return "unknown";
}

gboolean
chorus_ice_role_is_controlling(gboolean local_is_offerer, gboolean local_lite,
                               gboolean remote_lite)
{
  /* RFC 8445 section 6.1.1: a lite agent is controlled by a full one; between
   * equals the initiator (offerer) controls. */
  if (local_lite != remote_lite)
    return !local_lite;
  return local_is_offerer;
}

/* ---- callback plumbing ---- */

static void
callbacks_enter(ChorusIce *ice)
{
  ice->callback_depth++;
}

/* Returns FALSE when @ice has just been destroyed. */
static gboolean
callbacks_leave(ChorusIce *ice)
{
  g_assert(ice->callback_depth > 0);
  ice->callback_depth--;
  if (ice->callback_depth == 0 && ice->free_requested) {
    ice_destroy(ice);
    return FALSE;
  }
  return TRUE;
}

/* After calls into libnice that may have started a timer or opened a
 * socket in its context (see core/ctx-mux.h). */
static void
nice_sync(ChorusIce *ice)
{
  chorus_sub_context_sync(ice->nice_context);
}

static ChorusIceState
state_from_nice(guint state)
{
  switch (state) {
  case NICE_COMPONENT_STATE_GATHERING:
    return CHORUS_ICE_STATE_GATHERING;
  case NICE_COMPONENT_STATE_CONNECTING:
    return CHORUS_ICE_STATE_CONNECTING;
  case NICE_COMPONENT_STATE_CONNECTED:
    return CHORUS_ICE_STATE_CONNECTED;
  case NICE_COMPONENT_STATE_READY:
    return CHORUS_ICE_STATE_READY;
  case NICE_COMPONENT_STATE_FAILED:
    return CHORUS_ICE_STATE_FAILED;
  default:
    return CHORUS_ICE_STATE_DISCONNECTED;
  }
}

/* ---- sending ---- */

static gboolean
send_now(ChorusIce *ice, const guint8 *data, gsize len)
{
  gint sent = nice_agent_send(ice->agent, ice->stream_id, COMPONENT_ID, (guint)len,
                              (const gchar *)data);
  if (sent < 0 || (gsize)sent != len)
    return FALSE;
  ice->stats.datagrams_out++;
  ice->stats.bytes_out += len;
  return TRUE;
}

static void
pending_send_clear(ChorusIce *ice, gboolean count_as_dropped)
{
  GBytes *b;
  while ((b = g_queue_pop_head(&ice->pending_send)) != NULL) {
    if (count_as_dropped)
      ice->stats.send_dropped++;
    g_bytes_unref(b);
  }
  ice->pending_send_bytes = 0;
}

static void
pending_send_flush(ChorusIce *ice)
{
  GBytes *b;
  while ((b = g_queue_pop_head(&ice->pending_send)) != NULL) {
    gsize len = 0;
    const guint8 *data = g_bytes_get_data(b, &len);
    if (!send_now(ice, data, len))
      ice->stats.send_dropped++;
    g_bytes_unref(b);
  }
  ice->pending_send_bytes = 0;
}

ChorusIceSendResult
chorus_ice_send(ChorusIce *ice, const guint8 *data, gsize len)
{
  g_return_val_if_fail(ice != NULL, CHORUS_ICE_SEND_DROPPED);
  g_return_val_if_fail(data != NULL && len > 0 && len <= G_MAXUINT16, CHORUS_ICE_SEND_DROPPED);

  if (ice->has_selected_pair) {
    if (send_now(ice, data, len))
      return CHORUS_ICE_SEND_OK;
    ice->stats.send_dropped++;
    return CHORUS_ICE_SEND_DROPPED;
  }
  if (ice->state == CHORUS_ICE_STATE_FAILED ||
      g_queue_get_length(&ice->pending_send) >= PENDING_SEND_MAX_DATAGRAMS ||
      ice->pending_send_bytes + len > PENDING_SEND_MAX_BYTES) {
    ice->stats.send_dropped++;
    return CHORUS_ICE_SEND_DROPPED;
  }
  g_queue_push_tail(&ice->pending_send, g_bytes_new(data, len));
  ice->pending_send_bytes += len;
  ice->stats.send_queued++;
  return CHORUS_ICE_SEND_QUEUED;
}

/* ---- libnice signal handlers (run on ice->context) ---- */

static char *
candidate_to_string(ChorusIce *ice, NiceCandidate *candidate)
{
  g_autoptr(NiceCandidate) copy = nice_candidate_copy(candidate);
  if (ice->has_public_addr &&
      nice_address_ip_version(&copy->addr) == nice_address_ip_version(&ice->public_addr)) {
    guint port = nice_address_get_port(&copy->addr);
    copy->addr = ice->public_addr;
    nice_address_set_port(&copy->addr, port);
    /* libnice writes "raddr/rport" when base and address differ: that
     * would publish the private address the NAT is there to hide. */
    copy->base_addr = copy->addr;
  }
  g_autofree char *sdp = nice_agent_generate_local_candidate_sdp(ice->agent, copy);
  if (sdp == NULL)
    return NULL;
  /* libnice writes the whole line "a=candidate:..."; callers want the value. */
  if (g_str_has_prefix(sdp, "a="))
    return g_strdup(sdp + 2);
  return g_steal_pointer(&sdp);
}

static void
on_new_candidate(NiceAgent *agent, NiceCandidate *candidate, gpointer data)
{
  ChorusIce *ice = data;
  if (candidate->stream_id != ice->stream_id || candidate->component_id != COMPONENT_ID)
    return;
  char *str = candidate_to_string(ice, candidate);
  if (str == NULL)
    return;
  g_ptr_array_add(ice->local_candidates, str);
  if (ice->callbacks.local_candidate != NULL) {
    callbacks_enter(ice);
    ice->callbacks.local_candidate(ice, str, ice->user_data);
    callbacks_leave(ice);
  }
}

static void
on_gathering_done(NiceAgent *agent, guint stream_id, gpointer data)
{
  ChorusIce *ice = data;
  if (stream_id != ice->stream_id || ice->gathering_done)
    return;
  ice->gathering_done = TRUE;
  if (ice->callbacks.gathering_done != NULL) {
    callbacks_enter(ice);
    ice->callbacks.gathering_done(ice, ice->user_data);
    callbacks_leave(ice);
  }
}

static void
on_selected_pair(NiceAgent *agent, guint stream_id, guint component_id, NiceCandidate *local,
                 NiceCandidate *remote, gpointer data)
{
  ChorusIce *ice = data;
  if (stream_id != ice->stream_id || component_id != COMPONENT_ID)
    return;
  ice->has_selected_pair = TRUE;
  ice->pair_generation++;
  pending_send_flush(ice);
}

static void
on_state_changed(NiceAgent *agent, guint stream_id, guint component_id, guint nice_state,
                 gpointer data)
{
  ChorusIce *ice = data;
  if (stream_id != ice->stream_id || component_id != COMPONENT_ID)
    return;
  ChorusIceState state = state_from_nice(nice_state);
  if (state == ice->state)
    return;
  ice->state = state;
  if (state == CHORUS_ICE_STATE_FAILED) {
    /* libnice forgets the pair on failure (consent lost included). */
    ice->has_selected_pair = FALSE;
    ice->pair_generation++;
    pending_send_clear(ice, TRUE);
  } else if (ice->has_selected_pair) {
    /* Normally flushed by new-selected-pair already; never let the owner's
     * reaction to CONNECTED overtake what it queued before. */
    pending_send_flush(ice);
  }
  if (ice->callbacks.state_changed != NULL) {
    callbacks_enter(ice);
    ice->callbacks.state_changed(ice, state, ice->user_data);
    callbacks_leave(ice);
  }
}

static void
on_receive(NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf,
           gpointer data)
{
  ChorusIce *ice = data;
  ice->stats.datagrams_in++;
  ice->stats.bytes_in += len;
  if (ice->callbacks.receive != NULL && len > 0) {
    callbacks_enter(ice);
    ice->callbacks.receive(ice, (const guint8 *)buf, len, ice->user_data);
    callbacks_leave(ice);
  }
}

/* ---- creation ---- */

/* libnice goes through getaddrinfo(), which also takes the old inet_aton()
 * forms ("10.1" = 10.0.0.1); only the canonical notations are taken here. */
static gboolean
address_from_string(NiceAddress *out, const char *text)
{
  g_autoptr(GInetAddress) strict = g_inet_address_new_from_string(text);
  nice_address_init(out);
  return strict != NULL && nice_address_set_from_string(out, text);
}

static gboolean
parse_address(const char *text, NiceAddress *out, const char *what, GError **error)
{
  if (text == NULL || !address_from_string(out, text)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "%s: not an IP address: \"%s\"", what, text != NULL ? text : "(null)");
    return FALSE;
  }
  return TRUE;
}

static gboolean
refresh_local_credentials(ChorusIce *ice, GError **error)
{
  gchar *ufrag = NULL;
  gchar *pwd = NULL;
  if (!nice_agent_get_local_credentials(ice->agent, ice->stream_id, &ufrag, &pwd)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "ice: no local credentials");
    return FALSE;
  }
  g_free(ice->local_ufrag);
  g_free(ice->local_pwd);
  ice->local_ufrag = ufrag;
  ice->local_pwd = pwd;
  return TRUE;
}

ChorusIce *
chorus_ice_new(GMainContext *context, const ChorusIceConfig *config,
               const ChorusIceCallbacks *callbacks, gpointer user_data, GError **error)
{
  g_return_val_if_fail(context != NULL, NULL);
  g_return_val_if_fail(config != NULL, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  if (config->port_min != 0 || config->port_max != 0) {
    if (config->port_min == 0 || config->port_max > 65535 || config->port_min > config->port_max) {
      g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                  "ice: bad UDP port range %u-%u", config->port_min, config->port_max);
      return NULL;
    }
  }
  NiceAddress public_addr;
  if (config->public_ip != NULL && !parse_address(config->public_ip, &public_addr,
                                                  "ice: public_ip", error))
    return NULL;
  g_autoptr(GArray) locals = g_array_new(FALSE, FALSE, sizeof(NiceAddress));
  for (guint i = 0; config->local_addresses != NULL && config->local_addresses[i] != NULL; i++) {
    NiceAddress addr;
    if (!parse_address(config->local_addresses[i], &addr, "ice: local address", error))
      return NULL;
    g_array_append_val(locals, addr);
  }

  NiceAgentOption options = NICE_AGENT_OPTION_ICE_TRICKLE | NICE_AGENT_OPTION_CONSENT_FRESHNESS;
  if (config->lite)
    options |= NICE_AGENT_OPTION_LITE_MODE;

  ChorusIce *ice = g_new0(ChorusIce, 1);
  ice->context = context;
  if (callbacks != NULL)
    ice->callbacks = *callbacks;
  ice->user_data = user_data;
  ice->lite = config->lite;
  ice->controlling = config->lite ? FALSE : config->controlling;
  if (config->public_ip != NULL) {
    ice->has_public_addr = TRUE;
    ice->public_addr = public_addr;
  }
  ice->local_candidates = g_ptr_array_new_with_free_func(g_free);
  ice->pending_remote = g_ptr_array_new_with_free_func(pending_candidate_free);
  g_queue_init(&ice->pending_send);

  ice->nice_context = chorus_sub_context_new(context, error);
  if (ice->nice_context == NULL) {
    ice_destroy(ice);
    return NULL;
  }
  /* libnice reads a socket until it is empty in one dispatch: a flood on
   * this PeerConnection must not hold the whole worker (core/read-budget.h).
   * 64 datagrams cover a large keyframe's burst. */
  chorus_sub_context_set_read_budget(ice->nice_context, ICE_READ_BUDGET);
  GMainContext *nice_context = chorus_sub_context_get_context(ice->nice_context);
  ice->agent = nice_agent_new_full(nice_context, NICE_COMPATIBILITY_RFC5245, options);
  /* stun-pacing-timer: libnice paces its checks 20 ms apart by default, so
   * the nominating check (and with it the first DTLS flight, held until a
   * pair is selected) left 20 ms after the client's check: measured as
   * 20 ms of every join. A server has host candidates only, so a few
   * checks per PeerConnection; RFC 8445's 5 ms Ta is plenty. */
  g_object_set(ice->agent, "controlling-mode", ice->controlling, "ice-tcp", FALSE, "ice-udp",
               TRUE, "stun-pacing-timer", CHORUS_ICE_PACING_MS, NULL);
  if (g_object_class_find_property(G_OBJECT_GET_CLASS(ice->agent), "upnp") != NULL)
    g_object_set(ice->agent, "upnp", FALSE, NULL);
  for (guint i = 0; i < locals->len; i++)
    nice_agent_add_local_address(ice->agent, &g_array_index(locals, NiceAddress, i));

  ice->stream_id = nice_agent_add_stream(ice->agent, 1);
  if (ice->stream_id == 0) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "ice: cannot add a stream");
    ice_destroy(ice);
    return NULL;
  }
  if (config->port_min != 0)
    nice_agent_set_port_range(ice->agent, ice->stream_id, COMPONENT_ID, config->port_min,
                              config->port_max);

  g_signal_connect(ice->agent, "new-candidate-full", G_CALLBACK(on_new_candidate), ice);
  g_signal_connect(ice->agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), ice);
  g_signal_connect(ice->agent, "new-selected-pair-full", G_CALLBACK(on_selected_pair), ice);
  g_signal_connect(ice->agent, "component-state-changed", G_CALLBACK(on_state_changed), ice);
  /* Receive from the start: libnice delivers a datagram from any address
   * that has sent us an authenticated check, remote credentials or not. */
  nice_agent_attach_recv(ice->agent, ice->stream_id, COMPONENT_ID, nice_context, on_receive, ice);
  nice_sync(ice);

  if (!refresh_local_credentials(ice, error)) {
    ice_destroy(ice);
    return NULL;
  }
  return ice;
}

static void
ice_destroy(ChorusIce *ice)
{
  /* Before the agent closes its sockets (see core/ctx-mux.h). */
  GMainContext *nice_context = NULL;
  if (ice->nice_context != NULL) {
    nice_context = g_main_context_ref(chorus_sub_context_get_context(ice->nice_context));
    chorus_sub_context_free(ice->nice_context);
  }
  if (ice->agent != NULL) {
    g_signal_handlers_disconnect_by_data(ice->agent, ice);
    if (ice->stream_id != 0)
      nice_agent_attach_recv(ice->agent, ice->stream_id, COMPONENT_ID, nice_context, NULL, NULL);
    g_object_unref(ice->agent);
  }
  if (nice_context != NULL)
    g_main_context_unref(nice_context);
  pending_send_clear(ice, FALSE);
  g_ptr_array_unref(ice->local_candidates);
  g_ptr_array_unref(ice->pending_remote);
  g_free(ice->local_ufrag);
  g_free(ice->local_pwd);
  g_free(ice->remote_ufrag);
  g_free(ice->remote_pwd);
  g_free(ice);
}

void
chorus_ice_free(ChorusIce *ice)
{
  if (ice == NULL)
    return;
  if (ice->callback_depth > 0) {
    /* Inside one of our callbacks: silence everything now, free on the way
     * out of the outermost one. */
    ice->free_requested = TRUE;
    memset(&ice->callbacks, 0, sizeof ice->callbacks);
    return;
  }
  ice_destroy(ice);
}

gboolean
chorus_ice_gather(ChorusIce *ice, GError **error)
{
  g_return_val_if_fail(ice != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  if (ice->gather_started) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "ice: already gathering");
    return FALSE;
  }
  ice->gather_started = TRUE;
  /* Callbacks may fire in here (libnice emits once it drops its lock); an
   * owner freeing us from one of them is honoured after we return. */
  callbacks_enter(ice);
  gboolean ok = nice_agent_gather_candidates(ice->agent, ice->stream_id);
  if (!callbacks_leave(ice)) {
    /* Freed by a callback: report what happened, touch nothing. */
    if (!ok)
      g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "ice: gathering failed");
    return ok;
  }
  nice_sync(ice);
  if (!ok) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL,
                "ice: cannot gather candidates (no usable local address or port)");
    return FALSE;
  }
  return TRUE;
}

gboolean
chorus_ice_is_gathering_done(ChorusIce *ice)
{
  g_return_val_if_fail(ice != NULL, FALSE);
  return ice->gathering_done;
}

GPtrArray *
chorus_ice_get_local_candidates(ChorusIce *ice)
{
  g_return_val_if_fail(ice != NULL, NULL);
  GPtrArray *out = g_ptr_array_sized_new(ice->local_candidates->len);
  for (guint i = 0; i < ice->local_candidates->len; i++)
    g_ptr_array_add(out, g_ptr_array_index(ice->local_candidates, i));
  return out;
}

const char *
chorus_ice_get_local_ufrag(ChorusIce *ice)
{
  g_return_val_if_fail(ice != NULL, NULL);
  return ice->local_ufrag;
}

const char *
chorus_ice_get_local_pwd(ChorusIce *ice)
{
  g_return_val_if_fail(ice != NULL, NULL);
  return ice->local_pwd;
}

void
chorus_ice_set_controlling(ChorusIce *ice, gboolean controlling)
{
  g_return_if_fail(ice != NULL);
  if (ice->lite)
    controlling = FALSE;
  ice->controlling = controlling;
  g_object_set(ice->agent, "controlling-mode", controlling, NULL);
  nice_sync(ice);
}

gboolean
chorus_ice_get_controlling(ChorusIce *ice)
{
  g_return_val_if_fail(ice != NULL, FALSE);
  return ice->controlling;
}

ChorusIceState
chorus_ice_get_state(ChorusIce *ice)
{
  g_return_val_if_fail(ice != NULL, CHORUS_ICE_STATE_FAILED);
  return ice->state;
}

void
chorus_ice_get_stats(ChorusIce *ice, ChorusIceStats *out)
{
  g_return_if_fail(ice != NULL && out != NULL);
  *out = ice->stats;
}

/* ---- remote side ---- */

/* RFC 8839: ice-char = ALPHA / DIGIT / "+" / "/". */
static gboolean
is_ice_chars(const char *s, gsize min_len, gsize max_len)
{
  gsize n = 0;
  for (; s[n] != '\0'; n++) {
    char c = s[n];
    if (!g_ascii_isalnum(c) && c != '+' && c != '/')
      return FALSE;
    if (n >= max_len)
      return FALSE;
  }
  return n >= min_len;
}

static void
add_to_agent(ChorusIce *ice, NiceCandidate *candidate)
{
  GSList list = { candidate, NULL };
  if (nice_agent_set_remote_candidates(ice->agent, ice->stream_id, COMPONENT_ID, &list) > 0)
    ice->stats.remote_candidates_added++;
  else
    ice->stats.remote_candidates_ignored++;
  nice_sync(ice);
}

static gboolean
applies_now(ChorusIce *ice, const char *ufrag)
{
  return ice->remote_ufrag != NULL && (ufrag == NULL || strcmp(ufrag, ice->remote_ufrag) == 0);
}

gboolean
chorus_ice_set_remote_credentials(ChorusIce *ice, const char *ufrag, const char *pwd,
                                  GError **error)
{
  g_return_val_if_fail(ice != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  if (ufrag == NULL || !is_ice_chars(ufrag, 4, 256)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "ice: ice-ufrag must be 4 to 256 ice-chars");
    return FALSE;
  }
  if (pwd == NULL || !is_ice_chars(pwd, 22, 256)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "ice: ice-pwd must be 22 to 256 ice-chars");
    return FALSE;
  }
  if (g_strcmp0(ufrag, ice->remote_ufrag) == 0 && g_strcmp0(pwd, ice->remote_pwd) == 0)
    return TRUE; /* a renegotiation without restart */

  gboolean set = nice_agent_set_remote_credentials(ice->agent, ice->stream_id, ufrag, pwd);
  nice_sync(ice);
  if (!set) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "ice: libnice refused credentials");
    return FALSE;
  }
  g_free(ice->remote_ufrag);
  g_free(ice->remote_pwd);
  ice->remote_ufrag = g_strdup(ufrag);
  ice->remote_pwd = g_strdup(pwd);

  /* Apply what waited for these credentials; keep what names another ufrag
   * (a later generation) within the bound. */
  g_autoptr(GPtrArray) pending = g_steal_pointer(&ice->pending_remote);
  ice->pending_remote = g_ptr_array_new_with_free_func(pending_candidate_free);
  for (guint i = 0; i < pending->len; i++) {
    PendingCandidate *p = g_ptr_array_index(pending, i);
    if (applies_now(ice, p->ufrag))
      add_to_agent(ice, p->candidate);
    else
      g_ptr_array_add(ice->pending_remote, g_steal_pointer(&pending->pdata[i]));
  }
  if (ice->remote_gathering_done) {
    nice_agent_peer_candidate_gathering_done(ice->agent, ice->stream_id);
    nice_sync(ice);
  }
  return TRUE;
}

/* Splits on runs of spaces and tabs. */
static char **
split_tokens(const char *s)
{
  g_auto(GStrv) raw = g_strsplit_set(s, " \t", -1);
  GPtrArray *out = g_ptr_array_new();
  for (guint i = 0; raw[i] != NULL; i++) {
    if (raw[i][0] != '\0')
      g_ptr_array_add(out, g_strdup(raw[i]));
  }
  g_ptr_array_add(out, NULL);
  return (char **)g_ptr_array_free(out, FALSE);
}

static gboolean
parse_uint(const char *s, guint max_digits, guint64 max, guint64 *out)
{
  gsize n = strlen(s);
  if (n == 0 || n > max_digits)
    return FALSE;
  guint64 v = 0;
  for (gsize i = 0; i < n; i++) {
    if (!g_ascii_isdigit(s[i]))
      return FALSE;
    v = v * 10 + (guint64)(s[i] - '0');
  }
  if (v > max)
    return FALSE;
  *out = v;
  return TRUE;
}

typedef enum { CAND_OK, CAND_IGNORE, CAND_ERROR } CandCheck;

/* Checks each field before libnice sees it: libnice's parser is lenient
 * (priority "x" becomes 0, port 70000 wraps to 4464). Fills @normalized
 * with the "a=candidate:" line libnice expects and @ufrag_ext with the
 * "ufrag" extension if any. */
static CandCheck
check_candidate(const char *input, char **normalized, char **ufrag_ext, GError **error)
{
#define BAD(...)                                                                          \
  do {                                                                                    \
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS, "ice: bad candidate: " \
                __VA_ARGS__);                                                             \
    return CAND_ERROR;                                                                    \
  } while (0)

  if (strlen(input) > CANDIDATE_MAX_LEN)
    BAD("longer than %d bytes", CANDIDATE_MAX_LEN);
  g_autofree char *copy = g_strstrip(g_strdup(input));
  const char *s = copy;
  if (g_str_has_prefix(s, "a="))
    s += 2;
  if (g_str_has_prefix(s, "candidate:"))
    s += strlen("candidate:");
  g_auto(GStrv) t = split_tokens(s);
  guint n = g_strv_length(t);
  if (n < 8)
    BAD("expected at least 8 fields, got %u", n);
  if (!is_ice_chars(t[0], 1, 32))
    BAD("foundation \"%s\"", t[0]);
  guint64 component = 0, priority = 0, port = 0;
  if (!parse_uint(t[1], 3, 256, &component) || component == 0)
    BAD("component-id \"%s\"", t[1]);
  gboolean udp = g_ascii_strcasecmp(t[2], "udp") == 0;
  gboolean tcp = g_ascii_strcasecmp(t[2], "tcp") == 0;
  if (!parse_uint(t[3], 10, G_MAXUINT32, &priority))
    BAD("priority \"%s\"", t[3]);
  if (g_str_has_suffix(t[4], ".local"))
    BAD("mDNS name \"%s\" (not resolved by the server)", t[4]);
  NiceAddress addr;
  if (!address_from_string(&addr, t[4]))
    BAD("connection-address \"%s\" is not an IP address", t[4]);
  if (!parse_uint(t[5], 5, 65535, &port) || (udp && port == 0))
    BAD("port \"%s\"", t[5]);
  if (strcmp(t[6], "typ") != 0)
    BAD("expected \"typ\", got \"%s\"", t[6]);
  if (strcmp(t[7], "host") != 0 && strcmp(t[7], "srflx") != 0 && strcmp(t[7], "prflx") != 0 &&
      strcmp(t[7], "relay") != 0)
    BAD("candidate type \"%s\"", t[7]);
  /* Extensions come in name/value pairs. */
  if ((n - 8) % 2 != 0)
    BAD("dangling extension \"%s\"", t[n - 1]);
  for (guint i = 8; i + 1 < n; i += 2) {
    if (strcmp(t[i], "ufrag") == 0 && *ufrag_ext == NULL)
      *ufrag_ext = g_strdup(t[i + 1]);
  }
  if (!udp && !tcp)
    return CAND_IGNORE; /* a transport we do not speak: not an error */
  if (tcp || component != COMPONENT_ID)
    return CAND_IGNORE; /* ICE-TCP is off; rtcp-mux means one component */
  g_autofree char *joined = g_strjoinv(" ", t);
  *normalized = g_strconcat("a=candidate:", joined, NULL);
  return CAND_OK;
#undef BAD
}

gboolean
chorus_ice_add_remote_candidate(ChorusIce *ice, const char *candidate, const char *ufrag,
                                GError **error)
{
  g_return_val_if_fail(ice != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  if (candidate == NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS, "ice: no candidate");
    return FALSE;
  }
  g_autofree char *normalized = NULL;
  g_autofree char *ufrag_ext = NULL;
  switch (check_candidate(candidate, &normalized, &ufrag_ext, error)) {
  case CAND_ERROR:
    return FALSE;
  case CAND_IGNORE:
    ice->stats.remote_candidates_ignored++;
    return TRUE;
  case CAND_OK:
    break;
  }
  NiceCandidate *parsed =
    nice_agent_parse_remote_candidate_sdp(ice->agent, ice->stream_id, normalized);
  if (parsed == NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "ice: bad candidate: not understood: \"%s\"", candidate);
    return FALSE;
  }
  g_autoptr(NiceCandidate) cand = parsed;
  const char *gen_ufrag = ufrag != NULL ? ufrag : ufrag_ext;

  if (applies_now(ice, gen_ufrag)) {
    add_to_agent(ice, cand);
    return TRUE;
  }
  if (ice->pending_remote->len >= PENDING_REMOTE_MAX) {
    g_ptr_array_remove_index(ice->pending_remote, 0);
    ice->stats.remote_candidates_ignored++;
  }
  PendingCandidate *p = g_new0(PendingCandidate, 1);
  p->candidate = g_steal_pointer(&cand);
  p->ufrag = g_strdup(gen_ufrag);
  g_ptr_array_add(ice->pending_remote, p);
  return TRUE;
}

void
chorus_ice_set_remote_gathering_done(ChorusIce *ice)
{
  g_return_if_fail(ice != NULL);
  ice->remote_gathering_done = TRUE;
  if (ice->remote_ufrag != NULL) {
    nice_agent_peer_candidate_gathering_done(ice->agent, ice->stream_id);
    nice_sync(ice);
  }
}

gboolean
chorus_ice_restart(ChorusIce *ice, GError **error)
{
  g_return_val_if_fail(ice != NULL, FALSE);
  g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
  gboolean restarted = nice_agent_restart_stream(ice->agent, ice->stream_id);
  nice_sync(ice);
  if (!restarted) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "ice: restart failed");
    return FALSE;
  }
  /* The peer's new credentials and candidates come with the next SDP. */
  g_clear_pointer(&ice->remote_ufrag, g_free);
  g_clear_pointer(&ice->remote_pwd, g_free);
  ice->remote_gathering_done = FALSE;
  return refresh_local_credentials(ice, error);
}

GSocket *
chorus_ice_get_selected_socket(ChorusIce *ice, GSocketAddress **remote_address)
{
  g_return_val_if_fail(ice != NULL, NULL);
  if (remote_address != NULL)
    *remote_address = NULL;
  if (!ice->has_selected_pair)
    return NULL;
  NiceCandidate *local = NULL;
  NiceCandidate *remote = NULL;
  if (!nice_agent_get_selected_pair(ice->agent, ice->stream_id, COMPONENT_ID, &local, &remote))
    return NULL;
  GSocket *socket = nice_agent_get_selected_socket(ice->agent, ice->stream_id, COMPONENT_ID);
  if (socket == NULL)
    return NULL;
  if (remote_address != NULL) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    nice_address_copy_to_sockaddr(&remote->addr, (struct sockaddr *)&ss);
    gsize ss_len = nice_address_ip_version(&remote->addr) == 6 ? sizeof(struct sockaddr_in6)
                                                               : sizeof(struct sockaddr_in);
    *remote_address = g_socket_address_new_from_native(&ss, ss_len);
  }
  return socket;
}

guint
chorus_ice_get_pair_generation(ChorusIce *ice)
{
  return ice->pair_generation;
}
