/* chorus-load: synthetic publishers and subscribers against a Chorus
 * server. See load.h for the layout and README.md for usage and the
 * report. */
#define G_LOG_DOMAIN "chorus-load"

#include <glib-unix.h>
#include <jansson.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/worker.h"
#include "load-report.h"
#include "load-rpc.h"
#include "load-thread.h"
#include "load.h"
#include "webrtc/certificate.h"

#define EXIT_RUN_FAILED 1
#define EXIT_USAGE 2
#define EXIT_NOT_STARTED 3

#define RAMP_TICK_MS 10
#define PUBLISHERS_SETTLE_TIMEOUT_US (20 * G_USEC_PER_SEC)
#define CLOSE_WAIT_MS 500
#define ADMIN_TIMEOUT_MS 5000

/* ---- roles per scenario --------------------------------------------------------- */

static const LoadRole role_speaker = {"speaker", TRUE, FALSE, TRUE};
static const LoadRole role_listener = {"listener", FALSE, FALSE, TRUE};
static const LoadRole role_host = {"host", TRUE, TRUE, FALSE};
static const LoadRole role_viewer = {"viewer", FALSE, FALSE, TRUE};
static const LoadRole role_participant = {"participant", TRUE, TRUE, TRUE};

/* ---- options -------------------------------------------------------------------- */

typedef struct {
  char *target;
  char *url;
  char *token;
  char *room;
  char *scenario;
  char *quality;
  char *audio;
  char *video_size;
  char *local_address;
  char *log_level;
  int speakers, listeners, hosts, viewers, participants;
  gboolean simulcast, dtx, table, keep_room, quiet;
  double ramp, duration;
  int threads, video_kbps, fps, ptime;
  int server_pid;
} Options;

static void
options_clear(Options *o)
{
  g_free(o->target);
  g_free(o->url);
  g_free(o->token);
  g_free(o->room);
  g_free(o->scenario);
  g_free(o->quality);
  g_free(o->audio);
  g_free(o->video_size);
  g_free(o->local_address);
  g_free(o->log_level);
}

/* ---- the run -------------------------------------------------------------------- */

typedef struct {
  guint index;
  const LoadRole *role;
  char *identity;
  const char *server_role;
} Planned;

typedef enum {
  PHASE_CONNECTING, /* admin connection, auth, room.create */
  PHASE_PUBLISHERS, /* ramping up publishing participants, then waiting for them */
  PHASE_SUBSCRIBERS,
  PHASE_STEADY,
  PHASE_ENDING,
  PHASE_DONE,
} Phase;

typedef struct {
  Options opt;
  LoadScenario scenario;
  LoadShared shared;
  LoadRolePlan plans[2];
  guint n_plans;
  GPtrArray *planned; /* Planned *, publishers first */
  guint n_early;      /* planned[0..n_early) publish: started first */
  gboolean *settled;  /* per planned: connected or failed */
  guint n_early_settled;
  guint joined, failed, connected;

  GMainLoop *loop;
  SoupSession *session;
  LoadRpc *admin;
  gboolean room_created;
  ChorusWorkerPool *pool;
  LoadThread **threads;
  guint n_threads;

  Phase phase;
  guint launched;
  gint64 run_start_us;
  gint64 ramp_start_us;
  guint ramp_from;
  gint64 settle_deadline_us;
  gint64 steady_start_us;
  gint64 steady_end_us;
  guint ramp_timer;
  guint progress_timer;
  guint end_timer;
  guint signal_sources[2];

  GPtrArray *errors;
  const char *status;
  int exit_code;
  gboolean started; /* room created and media ready */
  GPtrArray *results;

  LoadSnapshot last_snapshot;
  gint64 last_snapshot_us;
  gboolean progress_line_open;
  double cpu_at_steady_s;
  double server_cpu_at_steady_s;
  gboolean server_cpu_from_proc;
  LoadSnapshot at_steady;       /* counts when the steady window began */
  LoadSnapshot steady_counts;   /* what the window added */
  GHashTable *server_at_steady; /* metric -> double (boxed) */
  LoadCpuWindow self_cpu;
  LoadCpuWindow server_cpu;
  LoadLag lag;
  json_t *server_counters;
} App;

static void begin_ending(App *app, const char *status, int exit_code);

/* The progress line on a terminal is rewritten in place (\r); anything
 * else printed must first end it. */
static void
end_progress_line(App *app)
{
  if (app->progress_line_open) {
    fputc('\n', stderr);
    app->progress_line_open = FALSE;
  }
}

static void add_error(App *app, const char *format, ...) G_GNUC_PRINTF(2, 3);

static void
add_error(App *app, const char *format, ...)
{
  va_list ap;
  va_start(ap, format);
  char *text = g_strdup_vprintf(format, ap);
  va_end(ap);
  /* Errors always reach stderr; --quiet only drops the progress line. */
  end_progress_line(app);
  fprintf(stderr, "chorus-load: %s\n", text);
  g_ptr_array_add(app->errors, text);
}

static double
process_cpu_s(void)
{
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of another process (--server-pid), from /proc/PID/stat;
 * < 0 when it cannot be read. Used for any server, so that a comparison
 * measures each the same way. */
static double
proc_cpu_s(int pid)
{
  g_autofree char *path = g_strdup_printf("/proc/%d/stat", pid);
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL))
    return -1;
  /* The command name (2nd field) may hold spaces: count from its ')'. */
  const char *p = strrchr(text, ')');
  if (p == NULL)
    return -1;
  g_auto(GStrv) fields = g_strsplit(p + 2, " ", 0);
  /* After the name: state is field 3, utime 14 and stime 15. */
  if (g_strv_length(fields) < 13)
    return -1;
  double ticks = (double)sysconf(_SC_CLK_TCK);
  return (g_ascii_strtod(fields[11], NULL) + g_ascii_strtod(fields[12], NULL)) / ticks;
}

/* ---- server metrics (optional: CPU and forwarding counters of chorus) ---------- */

static char *
metrics_url(const char *ws_url)
{
  g_autoptr(GUri) uri = g_uri_parse(ws_url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    return NULL;
  const char *scheme = g_strcmp0(g_uri_get_scheme(uri), "wss") == 0 ? "https" : "http";
  g_autoptr(GUri) m = g_uri_build(G_URI_FLAGS_NONE, scheme, NULL, g_uri_get_host(uri),
                                  g_uri_get_port(uri), "/metrics", NULL, NULL);
  return g_uri_to_string(m);
}

/* name -> value of every unlabelled sample; NULL when /metrics cannot be read. */
static GHashTable *
scrape_metrics(App *app)
{
  if (app->shared.target != LOAD_TARGET_CHORUS)
    return NULL;
  g_autofree char *url = metrics_url(app->opt.url);
  if (url == NULL)
    return NULL;
  g_autoptr(SoupSession) session = soup_session_new_with_options("timeout", 2, NULL);
  soup_session_set_proxy_resolver(session, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new(SOUP_METHOD_GET, url);
  if (msg == NULL)
    return NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read(session, msg, NULL, NULL);
  if (body == NULL || soup_message_get_status(msg) != SOUP_STATUS_OK)
    return NULL;
  g_autofree char *text = g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
  GHashTable *values = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    const char *line = lines[i];
    if (line[0] == '#' || line[0] == '\0' || strchr(line, '{'))
      continue;
    const char *space = strchr(line, ' ');
    if (space == NULL)
      continue;
    double *v = g_new(double, 1);
    *v = g_ascii_strtod(space + 1, NULL);
    g_hash_table_replace(values, g_strndup(line, (gsize)(space - line)), v);
  }
  return values;
}

static void take_snapshot(App *app, LoadSnapshot *out);

static void
steady_begin(App *app, gint64 now_us)
{
  app->phase = PHASE_STEADY;
  app->steady_start_us = now_us;
  app->cpu_at_steady_s = process_cpu_s();
  app->server_at_steady = scrape_metrics(app);
  if (app->opt.server_pid > 0)
    app->server_cpu_at_steady_s = proc_cpu_s(app->opt.server_pid);
  take_snapshot(app, &app->at_steady);
}

/* The server's CPU from /proc, when --server-pid named it (over /metrics). */
static void
steady_end_proc(App *app, double wall_s)
{
  LoadSnapshot s;
  take_snapshot(app, &s);
  app->steady_counts = (LoadSnapshot){
      .rx_packets = s.rx_packets - app->at_steady.rx_packets,
      .rx_expected = s.rx_expected - app->at_steady.rx_expected,
      .rx_lost = s.rx_lost >= app->at_steady.rx_lost ? s.rx_lost - app->at_steady.rx_lost : 0,
      .tx_packets = s.tx_packets - app->at_steady.tx_packets,
  };
  if (app->opt.server_pid <= 0 || app->server_cpu_at_steady_s < 0)
    return;
  double now_s = proc_cpu_s(app->opt.server_pid);
  if (now_s < 0)
    return;
  app->server_cpu = (LoadCpuWindow){now_s - app->server_cpu_at_steady_s, wall_s, TRUE};
  app->server_cpu_from_proc = TRUE;
}

static void
steady_end(App *app, gint64 now_us)
{
  if (app->steady_start_us == 0)
    return;
  double wall_s = (double)(now_us - app->steady_start_us) / G_USEC_PER_SEC;
  app->self_cpu = (LoadCpuWindow){process_cpu_s() - app->cpu_at_steady_s, wall_s, TRUE};
  steady_end_proc(app, wall_s);
  if (app->server_at_steady == NULL)
    return;
  g_autoptr(GHashTable) now = scrape_metrics(app);
  if (now == NULL)
    return;
  double *a = g_hash_table_lookup(app->server_at_steady, "process_cpu_seconds_total");
  double *b = g_hash_table_lookup(now, "process_cpu_seconds_total");
  if (a && b && !app->server_cpu_from_proc)
    app->server_cpu = (LoadCpuWindow){*b - *a, wall_s, TRUE};
  app->server_counters = json_object();
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init(&it, now);
  while (g_hash_table_iter_next(&it, &key, &value)) {
    if (!g_str_has_prefix(key, "chorus_media_"))
      continue;
    /* Counters as their increase over the window, gauges as they are. */
    double *before = g_hash_table_lookup(app->server_at_steady, key);
    double v = *(double *)value;
    if (g_str_has_suffix(key, "_total"))
      v -= before ? *before : 0;
    json_object_set_new(app->server_counters, key, json_real(v));
  }
}

/* ---- progress ------------------------------------------------------------------- */

static void
take_snapshot(App *app, LoadSnapshot *out)
{
  *out = (LoadSnapshot){0};
  for (guint i = 0; i < app->n_threads; i++) {
    LoadSnapshot s;
    load_thread_snapshot(app->threads[i], &s);
    out->started += s.started;
    out->joined += s.joined;
    out->failed += s.failed;
    out->connected += s.connected;
    out->rx_packets += s.rx_packets;
    out->rx_expected += s.rx_expected;
    out->rx_lost += s.rx_lost;
    out->tx_packets += s.tx_packets;
  }
}

static gboolean
on_progress(gpointer user_data)
{
  App *app = user_data;
  gint64 now_us = g_get_monotonic_time();
  LoadSnapshot s;
  take_snapshot(app, &s);
  double dt = (double)(now_us - app->last_snapshot_us) / G_USEC_PER_SEC;
  if (dt <= 0)
    dt = 1;
  double rx_rate = (double)(s.rx_packets - app->last_snapshot.rx_packets) / dt;
  double tx_rate = (double)(s.tx_packets - app->last_snapshot.tx_packets) / dt;
  guint64 d_expected = s.rx_expected - app->last_snapshot.rx_expected;
  guint64 d_lost =
      s.rx_lost >= app->last_snapshot.rx_lost ? s.rx_lost - app->last_snapshot.rx_lost : 0;
  double loss = d_expected ? 100.0 * (double)d_lost / (double)d_expected : 0;
  app->last_snapshot = s;
  app->last_snapshot_us = now_us;
  static const char *const phase_names[] = {"connecting", "publishers", "subscribers",
                                            "steady",     "ending",     "done"};
  if (!app->opt.quiet) {
    gboolean tty = isatty(STDERR_FILENO);
    app->progress_line_open = tty;
    fprintf(stderr,
            "%s[%6.1f s] %-11s joined %u/%u failed %u connected %u  rx %.0f pkt/s  tx %.0f "
            "pkt/s  loss %.2f %%%s",
            tty ? "\r" : "", (double)(now_us - app->run_start_us) / G_USEC_PER_SEC,
            phase_names[app->phase], s.joined, app->planned->len, s.failed, s.connected, rx_rate,
            tx_rate, loss, tty ? "\033[K" : "\n");
    fflush(stderr);
  }
  return G_SOURCE_CONTINUE;
}

/* ---- ramp ----------------------------------------------------------------------- */

static void
launch(App *app, guint index)
{
  Planned *p = g_ptr_array_index(app->planned, index);
  LoadThread *t = app->threads[index % app->n_threads];
  load_thread_start_participant(t, p->index, p->role, p->identity, p->server_role);
}

static void
start_ramp(App *app, guint from, gint64 now_us)
{
  app->ramp_start_us = now_us;
  app->ramp_from = from;
}

static gboolean
on_ramp(gpointer user_data)
{
  App *app = user_data;
  gint64 now_us = g_get_monotonic_time();
  if (app->phase == PHASE_PUBLISHERS || app->phase == PHASE_SUBSCRIBERS) {
    guint limit = app->phase == PHASE_PUBLISHERS ? app->n_early : app->planned->len;
    double elapsed_s = (double)(now_us - app->ramp_start_us) / G_USEC_PER_SEC;
    guint due = app->ramp_from + 1 + (guint)(elapsed_s * app->opt.ramp);
    while (app->launched < MIN(due, limit))
      launch(app, app->launched++);
    if (app->phase == PHASE_PUBLISHERS && app->launched == app->n_early) {
      /* Subscribers start once the publishers are up (or failed), so that
       * their join-to-first-packet times measure Chorus, not our ramp. */
      if (app->n_early_settled == app->n_early || now_us >= app->settle_deadline_us) {
        if (app->n_early_settled < app->n_early)
          add_error(app,
                    "%u of %u publishers not connected after %d s; starting subscribers anyway",
                    app->n_early - app->n_early_settled, app->n_early,
                    (int)(PUBLISHERS_SETTLE_TIMEOUT_US / G_USEC_PER_SEC));
        app->phase = PHASE_SUBSCRIBERS;
        start_ramp(app, app->launched, now_us);
      }
    } else if (app->phase == PHASE_PUBLISHERS && app->launched < app->n_early) {
      app->settle_deadline_us = now_us + PUBLISHERS_SETTLE_TIMEOUT_US;
    }
    if (app->phase == PHASE_SUBSCRIBERS && app->launched == app->planned->len) {
      steady_begin(app, now_us);
      app->steady_end_us = now_us + (gint64)(app->opt.duration * G_USEC_PER_SEC);
    }
  }
  if (app->phase == PHASE_STEADY && now_us >= app->steady_end_us) {
    app->ramp_timer = 0;
    begin_ending(app, NULL, 0);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

/* ---- events from threads -------------------------------------------------------- */

static void
on_event(const LoadEvent *ev, gpointer user_data)
{
  App *app = user_data;
  if (app->phase >= PHASE_ENDING)
    return;
  gboolean early = ev->index < app->n_early;
  switch (ev->kind) {
  case LOAD_EVENT_JOINED:
    app->joined++;
    break;
  case LOAD_EVENT_PUBLISHING:
    if (early && !app->settled[ev->index]) {
      app->settled[ev->index] = TRUE;
      app->n_early_settled++;
    }
    break;
  case LOAD_EVENT_CONNECTED:
    app->connected++;
    break;
  case LOAD_EVENT_FAILED:
    app->failed++;
    if (early && !app->settled[ev->index]) {
      app->settled[ev->index] = TRUE;
      app->n_early_settled++;
    }
    if (app->failed <= 5) {
      end_progress_line(app);
      fprintf(stderr, "chorus-load: participant failed: %s%s\n", ev->detail,
              app->failed == 5 ? " (further failures: see the report)" : "");
    }
    break;
  case LOAD_EVENT_SERVER_CLOSED:
    add_error(app, "the server ended the run: %s", ev->detail);
    begin_ending(app, "failed", EXIT_RUN_FAILED);
    break;
  }
}

/* ---- start: admin connection, room, media, threads ---------------------------- */

static void fail_start(App *app, const char *format, ...) G_GNUC_PRINTF(2, 3);

static void
fail_start(App *app, const char *format, ...)
{
  va_list ap;
  va_start(ap, format);
  g_autofree char *text = g_strdup_vprintf(format, ap);
  va_end(ap);
  add_error(app, "%s", text);
  begin_ending(app, "not started", EXIT_NOT_STARTED);
}

static gboolean
prepare_media(App *app, GError **error)
{
  LoadShared *sh = &app->shared;
  gboolean any_audio = FALSE, any_video = FALSE;
  for (guint i = 0; i < app->n_plans; i++) {
    any_audio = any_audio || app->plans[i].role->publish_audio;
    any_video = any_video || app->plans[i].role->publish_video;
  }
  gint64 t0 = g_get_monotonic_time();
  if (any_audio) {
    LoadAudioSource source =
        g_strcmp0(app->opt.audio, "tone") == 0 ? LOAD_AUDIO_TONE : LOAD_AUDIO_SPEECH;
    sh->audio = load_clip_new_opus(source, app->opt.dtx, (guint)app->opt.ptime, 12, error);
    if (sh->audio == NULL)
      return FALSE;
  }
  if (any_video) {
    guint fps = (guint)app->opt.fps;
    guint frames = fps * 10, kf = fps * 2; /* a 10 s loop, a keyframe every 2 s */
    if (app->opt.simulcast) {
      static const guint sizes[3][3] = {{320, 180, 150}, {640, 360, 500}, {1280, 720, 1500}};
      static const char *const rids[3] = {"q", "h", "f"};
      sh->n_video_layers = 3;
      for (guint l = 0; l < 3; l++) {
        sh->rids[l] = rids[l];
        sh->video[l] =
            load_clip_new_vp8(sizes[l][0], sizes[l][1], fps, sizes[l][2], frames, kf, error);
        if (sh->video[l] == NULL)
          return FALSE;
      }
    } else {
      guint w = 640, h = 360;
      if (sscanf(app->opt.video_size, "%ux%u", &w, &h) != 2 || w < 16 || h < 16 || w > 4096 ||
          h > 4096) {
        g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                    "--video-size: expected WIDTHxHEIGHT (16..4096), got \"%s\"",
                    app->opt.video_size);
        return FALSE;
      }
      sh->n_video_layers = 1;
      sh->video[0] = load_clip_new_vp8(w, h, fps, (guint)app->opt.video_kbps, frames, kf, error);
      if (sh->video[0] == NULL)
        return FALSE;
    }
  }
  g_autoptr(ChorusCertificate) cert = chorus_certificate_new_generated(error);
  if (cert == NULL)
    return FALSE;
  sh->dtls = chorus_dtls_context_new(cert, error);
  if (sh->dtls == NULL)
    return FALSE;
  sh->local_addresses = g_new0(char *, 2);
  sh->local_addresses[0] = g_strdup(app->opt.local_address);
  sh->peer_config.dtls = sh->dtls;
  sh->peer_config.ice = (ChorusIceConfig){
      .local_addresses = (const char *const *)sh->local_addresses,
  };
  if (!app->opt.quiet) {
    fprintf(stderr, "chorus-load: media encoded in %.1f s:",
            (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC);
    if (sh->audio)
      fprintf(stderr, " opus %.0f kbps", load_clip_kbps(sh->audio));
    for (guint l = 0; l < sh->n_video_layers; l++)
      fprintf(stderr, "%s vp8 %ux%u %.0f kbps", sh->audio || l ? "," : "", sh->video[l]->width,
              sh->video[l]->height, load_clip_kbps(sh->video[l]));
    fprintf(stderr, "\n");
  }
  return TRUE;
}

static void
start_run(App *app)
{
  g_autoptr(GError) error = NULL;
  if (!prepare_media(app, &error)) {
    fail_start(app, "cannot prepare media: %s", error->message);
    return;
  }
  app->pool = chorus_worker_pool_new((guint)app->opt.threads);
  app->n_threads = (guint)app->opt.threads;
  app->threads = g_new0(LoadThread *, app->n_threads);
  for (guint i = 0; i < app->n_threads; i++)
    app->threads[i] =
        load_thread_new(chorus_worker_pool_get(app->pool, i), &app->shared, on_event, app);
  app->started = TRUE;
  gint64 now_us = g_get_monotonic_time();
  app->last_snapshot_us = now_us;
  app->phase = app->n_early > 0 ? PHASE_PUBLISHERS : PHASE_SUBSCRIBERS;
  app->settle_deadline_us = now_us + PUBLISHERS_SETTLE_TIMEOUT_US;
  start_ramp(app, 0, now_us);
  app->ramp_timer = g_timeout_add(RAMP_TICK_MS, on_ramp, app);
  app->progress_timer = g_timeout_add_seconds(1, on_progress, app);
}

static json_t *
room_create_params(App *app)
{
  guint total = app->planned->len;
  json_t *options = json_object();
  const char *kind = "live";
  if (app->scenario == LOAD_SCENARIO_VOICE) {
    kind = "voice";
    guint speakers = (guint)MAX(app->opt.speakers, 1);
    json_object_set_new(options, "seats", json_integer(MIN(speakers, 100)));
    json_object_set_new(options, "audio_slots", json_integer(MIN(speakers, 16)));
  } else {
    guint publishers = app->n_early;
    json_object_set_new(options, "max_publishers", json_integer(MAX(publishers, 1)));
  }
  return json_pack("{s:s, s:s, s:I, s:o}", "room", app->shared.room, "kind", kind,
                   "max_participants", (json_int_t)(total + 16), "options", options);
}

static void
on_room_created(LoadRpc *rpc, json_t *result, const GError *error, gpointer user_data)
{
  App *app = user_data;
  if (app->phase != PHASE_CONNECTING)
    return;
  if (error && g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_CONFLICT) && app->opt.room) {
    /* The user named an existing room: use it as it is. */
    fprintf(stderr, "chorus-load: room \"%s\" exists; using it\n", app->shared.room);
  } else if (error && g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_UNAUTHORIZED)) {
    fail_start(app,
               "room.create refused (%d %s): the server requires a token; give an admin "
               "token with --token",
               error->code, error->message);
    return;
  } else if (error && g_error_matches(error, CHORUS_ERROR, CHORUS_ERROR_FORBIDDEN)) {
    fail_start(app, "room.create refused (%d %s): chorus-load needs an admin token", error->code,
               error->message);
    return;
  } else if (error) {
    fail_start(app, "room.create failed: %s (%d)", error->message, error->code);
    return;
  } else {
    app->room_created = TRUE;
  }
  start_run(app);
}

static void
create_room(App *app)
{
  load_rpc_call(app->admin, "room.create", room_create_params(app), ADMIN_TIMEOUT_MS,
                g_get_monotonic_time(), on_room_created, app);
}

static void
on_admin_auth(LoadRpc *rpc, json_t *result, const GError *error, gpointer user_data)
{
  App *app = user_data;
  if (error) {
    fail_start(app, "authentication refused: %s (%d)", error->message, error->code);
    return;
  }
  if (!json_is_true(json_object_get(result, "admin"))) {
    fail_start(app, "the token is not an admin token (chorus-load creates the room and joins "
                    "many participants; mint one with `chorus token --admin`)");
    return;
  }
  create_room(app);
}

static void
on_admin_connected(LoadRpc *rpc, const GError *error, gpointer user_data)
{
  App *app = user_data;
  if (error) {
    fail_start(app, "%s", error->message);
    return;
  }
  if (app->opt.token)
    load_rpc_call(rpc, "auth", json_pack("{s:s}", "token", app->opt.token), ADMIN_TIMEOUT_MS,
                  g_get_monotonic_time(), on_admin_auth, app);
  else
    create_room(app);
}

static void
on_admin_closed(LoadRpc *rpc, gushort code, const char *reason, gboolean by_us, gpointer user_data)
{
  App *app = user_data;
  if (by_us || app->phase >= PHASE_ENDING)
    return;
  if (app->phase == PHASE_CONNECTING) {
    fail_start(app, "the server closed the connection (code %u%s%s)", code,
               reason && *reason ? ": " : "", reason ? reason : "");
    return;
  }
  add_error(app, "the server closed the admin connection mid-run (code %u%s%s)", code,
            reason && *reason ? ": " : "", reason ? reason : "");
  begin_ending(app, "failed", EXIT_RUN_FAILED);
}

static gboolean
on_admin_deadlines(gpointer user_data)
{
  App *app = user_data;
  if (app->admin)
    load_rpc_check_deadlines(app->admin, g_get_monotonic_time());
  return G_SOURCE_CONTINUE;
}

/* ---- the end -------------------------------------------------------------------- */

static void
finish_done(App *app)
{
  app->phase = PHASE_DONE;
  if (app->admin)
    load_rpc_close(app->admin);
  g_main_loop_quit(app->loop);
}

static void
on_room_destroyed(LoadRpc *rpc, json_t *result, const GError *error, gpointer user_data)
{
  App *app = user_data;
  if (error) {
    end_progress_line(app);
    fprintf(stderr, "chorus-load: room.destroy: %s\n", error->message);
  }
  finish_done(app);
}

static gboolean
after_close_wait(gpointer user_data)
{
  App *app = user_data;
  if (app->room_created && !app->opt.keep_room && app->admin && load_rpc_is_open(app->admin)) {
    load_rpc_call(app->admin, "room.destroy", json_pack("{s:s}", "room", app->shared.room),
                  ADMIN_TIMEOUT_MS, g_get_monotonic_time(), on_room_destroyed, app);
    return G_SOURCE_REMOVE;
  }
  finish_done(app);
  return G_SOURCE_REMOVE;
}

static void
begin_ending(App *app, const char *status, int exit_code)
{
  if (app->phase >= PHASE_ENDING)
    return;
  gint64 now_us = g_get_monotonic_time();
  if (status) {
    app->status = status;
    app->exit_code = exit_code;
  }
  if (app->started) {
    on_progress(app);
    steady_end(app, now_us);
  }
  app->phase = PHASE_ENDING;
  if (app->ramp_timer)
    g_source_remove(app->ramp_timer);
  if (app->progress_timer)
    g_source_remove(app->progress_timer);
  app->ramp_timer = app->progress_timer = 0;
  guint open = 0;
  if (app->started) {
    for (guint i = 0; i < app->n_threads; i++) {
      load_thread_add_lag(app->threads[i], &app->lag);
      load_thread_finish(app->threads[i], app->results);
    }
    for (guint i = 0; i < app->n_threads; i++)
      open += load_thread_close(app->threads[i]);
  }
  /* Give the close handshakes a moment: a closed connection makes its
   * participants leave at once on the server. */
  g_timeout_add(open ? CLOSE_WAIT_MS : 0, after_close_wait, app);
}

static gboolean
on_signal(gpointer user_data)
{
  App *app = user_data;
  if (app->phase >= PHASE_ENDING) {
    fprintf(stderr, "chorus-load: interrupted again, exiting\n");
    _exit(130);
  }
  add_error(app, "interrupted");
  begin_ending(app, "aborted", EXIT_RUN_FAILED);
  return G_SOURCE_CONTINUE;
}

/* ---- planning ------------------------------------------------------------------- */

static void
planned_free(gpointer data)
{
  Planned *p = data;
  g_free(p->identity);
  g_free(p);
}

static void
plan_role(App *app, const LoadRole *role, guint count, const char *first_server_role,
          const char *server_role)
{
  app->plans[app->n_plans++] = (LoadRolePlan){role, count};
  for (guint i = 0; i < count; i++) {
    Planned *p = g_new0(Planned, 1);
    p->index = app->planned->len;
    p->role = role;
    p->identity = g_strdup_printf("%s-%04u", role->name, i + 1);
    p->server_role = i == 0 ? first_server_role : server_role;
    g_ptr_array_add(app->planned, p);
  }
}

static gboolean
plan(App *app, GError **error)
{
  const Options *o = &app->opt;
  if (g_strcmp0(o->scenario, "voice") == 0) {
    app->scenario = LOAD_SCENARIO_VOICE;
    if (o->speakers < 1 || o->listeners < 0) {
      g_set_error_literal(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                          "voice: --speakers must be >= 1 and --listeners >= 0");
      return FALSE;
    }
    plan_role(app, &role_speaker, (guint)o->speakers, "speaker", "speaker");
    app->n_early = app->planned->len;
    plan_role(app, &role_listener, (guint)o->listeners, "listener", "listener");
  } else if (g_strcmp0(o->scenario, "live") == 0) {
    app->scenario = LOAD_SCENARIO_LIVE;
    if (o->hosts < 1 || o->hosts > 64 || o->viewers < 0) {
      g_set_error_literal(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                          "live: --hosts must be 1..64 (a live room's publisher limit) and "
                          "--viewers >= 0");
      return FALSE;
    }
    plan_role(app, &role_host, (guint)o->hosts, "host", "cohost");
    app->n_early = app->planned->len;
    plan_role(app, &role_viewer, (guint)o->viewers, "audience", "audience");
  } else if (g_strcmp0(o->scenario, "conference") == 0) {
    app->scenario = LOAD_SCENARIO_CONFERENCE;
    if (o->participants < 1 || o->participants > 64) {
      g_set_error_literal(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                          "conference: --participants must be 1..64 (everyone publishes; a live "
                          "room takes at most 64 publishers)");
      return FALSE;
    }
    plan_role(app, &role_participant, (guint)o->participants, "host", "cohost");
    app->n_early = app->planned->len;
  } else {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS,
                "--scenario: expected voice, live or conference, got \"%s\"", o->scenario);
    return FALSE;
  }
  app->settled = g_new0(gboolean, app->planned->len + 1);
  return TRUE;
}

static gboolean
validate(App *app, GError **error)
{
  Options *o = &app->opt;
  g_autoptr(GUri) uri = g_uri_parse(o->url, G_URI_FLAGS_NONE, NULL);
  const char *scheme = uri ? g_uri_get_scheme(uri) : NULL;
  const char *problem = NULL;
  if (uri == NULL || (g_strcmp0(scheme, "ws") != 0 && g_strcmp0(scheme, "wss") != 0))
    problem = "--url: expected ws://HOST:PORT/ws";
  else if (g_strcmp0(o->target, "chorus") != 0 && g_strcmp0(o->target, "janus") != 0)
    problem = "--target: expected chorus or janus";
  else if (g_strcmp0(o->target, "janus") == 0 && o->token)
    problem = "--token: not used with --target janus (its VideoRoom API needs none here)";
  else if (o->server_pid < 0)
    problem = "--server-pid must be a process id";
  else if (o->ramp <= 0)
    problem = "--ramp must be > 0 (joins per second)";
  else if (o->duration <= 0)
    problem = "--duration must be > 0 (seconds)";
  else if (o->threads < 1 || o->threads > 64)
    problem = "--threads must be 1..64";
  else if (o->video_kbps < 10 || o->video_kbps > 20000)
    problem = "--video-kbps must be 10..20000";
  else if (o->fps < 1 || o->fps > 60)
    problem = "--fps must be 1..60";
  else if (o->ptime != 10 && o->ptime != 20 && o->ptime != 40 && o->ptime != 60)
    problem = "--ptime: expected 10, 20, 40 or 60";
  else if (g_strcmp0(o->audio, "speech") != 0 && g_strcmp0(o->audio, "tone") != 0)
    problem = "--audio: expected speech or tone";
  else if (!g_strv_contains((const char *const[]){"low", "medium", "high", "auto", NULL},
                            o->quality))
    problem = "--quality: expected low, medium, high or auto";
  if (problem) {
    g_set_error_literal(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS, problem);
    return FALSE;
  }
  return plan(app, error);
}

static void
raise_fd_limit(void)
{
  /* Each participant holds a TCP connection and a UDP socket per
   * PeerConnection: a thousand subscribers need more than the usual 1024. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* What the comparison scripts need beyond the common report: the target,
 * where the server CPU came from, and the subscribers' counts over the
 * steady window alone (the window the CPU figures cover). */
static void
add_steady_to_report(App *app, json_t *report)
{
  json_object_set_new(report, "target",
                      json_string(app->shared.target == LOAD_TARGET_JANUS ? "janus" : "chorus"));
  json_t *cpu = json_object_get(report, "cpu");
  if (json_is_object(cpu))
    json_object_set_new(cpu, "server_source",
                        !app->server_cpu.valid      ? json_null()
                        : app->server_cpu_from_proc ? json_string("proc")
                                                    : json_string("metrics"));
  if (app->steady_start_us == 0 || !app->self_cpu.valid) {
    json_object_set_new(report, "steady", json_null());
    return;
  }
  const LoadSnapshot *c = &app->steady_counts;
  double loss_pct = c->rx_expected ? 100.0 * (double)c->rx_lost / (double)c->rx_expected : 0;
  json_object_set_new(report, "steady",
                      json_pack("{s:f, s:I, s:I, s:I, s:f, s:I}", "wall_s", app->self_cpu.wall_s,
                                "rx_packets", (json_int_t)c->rx_packets, "rx_expected",
                                (json_int_t)c->rx_expected, "rx_lost", (json_int_t)c->rx_lost,
                                "rx_loss_pct", loss_pct, "tx_packets", (json_int_t)c->tx_packets));
}

static int
print_report(App *app, double elapsed_s)
{
  if (app->status == NULL) {
    guint failed = 0, pending = 0;
    for (guint i = 0; i < app->results->len; i++) {
      const LoadResult *r = g_ptr_array_index(app->results, i);
      failed += r->failed;
      pending += r->pending_stage != NULL;
    }
    guint not_started = app->planned->len - app->results->len;
    gboolean all_ok = failed == 0 && pending == 0 && not_started == 0;
    app->status = all_ok ? "ok" : "failed";
    app->exit_code = all_ok ? 0 : EXIT_RUN_FAILED;
    if (!all_ok)
      add_error(app,
                "not every participant joined and connected: %u failed, %u still pending at the "
                "end, %u not started (see roles.*.failed_by_stage, pending_by_stage, failures)",
                failed, pending, not_started);
  }
  LoadReportInput in = {
      .scenario = app->opt.scenario,
      .url = app->opt.url,
      .room = app->shared.room,
      .threads = (guint)app->opt.threads,
      .duration_s = app->opt.duration,
      .simulcast = app->opt.simulcast,
      .dtx = app->opt.dtx,
      .quality = app->opt.quality,
      .status = app->status,
      .errors = app->errors,
      .elapsed_s = elapsed_s,
      .plans = app->plans,
      .n_plans = app->n_plans,
      .results = app->results,
      .shared = app->started ? &app->shared : NULL,
      .self_cpu = app->self_cpu,
      .server_cpu = app->server_cpu,
      .server_counters = app->server_counters,
      .lag = app->lag,
  };
  json_t *report = load_report_build(&in);
  add_steady_to_report(app, report);
  json_dumpf(report, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
  fputc('\n', stdout);
  fflush(stdout);
  if (app->opt.table) {
    end_progress_line(app);
    load_report_print_table(stderr, report);
  }
  json_decref(report);
  return app->exit_code;
}

static void
app_clear(App *app)
{
  for (guint i = 0; i < app->n_threads; i++)
    load_thread_free(app->threads[i]);
  g_free(app->threads);
  g_clear_pointer(&app->pool, chorus_worker_pool_free);
  /* Events posted by the threads before they stopped. */
  while (g_main_context_iteration(NULL, FALSE))
    ;
  g_clear_pointer(&app->admin, load_rpc_free);
  g_clear_object(&app->session);
  LoadShared *sh = &app->shared;
  g_clear_pointer(&sh->audio, load_clip_free);
  for (guint l = 0; l < LOAD_MAX_LAYERS; l++)
    g_clear_pointer(&sh->video[l], load_clip_free);
  g_clear_pointer(&sh->dtls, chorus_dtls_context_unref);
  g_strfreev(sh->local_addresses);
  g_free(sh->room);
  for (guint i = 0; app->results && i < app->results->len; i++)
    load_result_clear(g_ptr_array_index(app->results, i));
  g_clear_pointer(&app->results, g_ptr_array_unref);
  g_clear_pointer(&app->planned, g_ptr_array_unref);
  g_clear_pointer(&app->errors, g_ptr_array_unref);
  g_clear_pointer(&app->server_at_steady, g_hash_table_unref);
  json_decref(app->server_counters);
  g_free(app->settled);
  g_clear_pointer(&app->loop, g_main_loop_unref);
  options_clear(&app->opt);
}

int
main(int argc, char **argv)
{
  App app = {0};
  Options *o = &app.opt;
  o->speakers = 1;
  o->listeners = 10;
  o->hosts = 1;
  o->viewers = 10;
  o->participants = 4;
  o->ramp = 50;
  o->duration = 30;
  o->threads = 2;
  o->video_kbps = 500;
  o->fps = 30;
  o->ptime = 20;
  GOptionEntry entries[] = {
      {"url", 0, 0, G_OPTION_ARG_STRING, &o->url, "Chorus WebSocket URL (ws://127.0.0.1:7070/ws)",
       "URL"},
      {"target", 0, 0, G_OPTION_ARG_STRING, &o->target,
       "chorus (default), or janus: a Janus VideoRoom at --url (ws://127.0.0.1:8188)", "SERVER"},
      {"server-pid", 0, 0, G_OPTION_ARG_INT, &o->server_pid,
       "Measure the server's CPU from /proc/PID/stat (any server; else from Chorus's /metrics)",
       "PID"},
      {"token", 0, 0, G_OPTION_ARG_STRING, &o->token,
       "Admin token (default: none, for a --dev server)", "JWT"},
      {"scenario", 0, 0, G_OPTION_ARG_STRING, &o->scenario, "voice, live (default) or conference",
       "NAME"},
      {"speakers", 0, 0, G_OPTION_ARG_INT, &o->speakers, "voice: audio publishers (1)", "N"},
      {"listeners", 0, 0, G_OPTION_ARG_INT, &o->listeners, "voice: subscribers (10)", "N"},
      {"hosts", 0, 0, G_OPTION_ARG_INT, &o->hosts, "live: audio+video publishers (1)", "N"},
      {"viewers", 0, 0, G_OPTION_ARG_INT, &o->viewers, "live: subscribers (10)", "N"},
      {"participants", 0, 0, G_OPTION_ARG_INT, &o->participants,
       "conference: everyone publishes and subscribes (4)", "N"},
      {"simulcast", 0, 0, G_OPTION_ARG_NONE, &o->simulcast,
       "VP8 simulcast q/h/f (320x180@150, 640x360@500, 1280x720@1500 kbps)", NULL},
      {"quality", 0, 0, G_OPTION_ARG_STRING, &o->quality,
       "Subscribers' quality: low, medium, high, auto (default)", "Q"},
      {"dtx", 0, 0, G_OPTION_ARG_NONE, &o->dtx, "Opus DTX (silence is not sent)", NULL},
      {"audio", 0, 0, G_OPTION_ARG_STRING, &o->audio, "speech (default: speech-like noise) or tone",
       "SRC"},
      {"ptime", 0, 0, G_OPTION_ARG_INT, &o->ptime,
       "Opus frame length: 10, 20 (default), 40 or 60 ms", "MS"},
      {"video-kbps", 0, 0, G_OPTION_ARG_INT, &o->video_kbps,
       "Video bitrate without simulcast (500)", "KBPS"},
      {"video-size", 0, 0, G_OPTION_ARG_STRING, &o->video_size,
       "Video size without simulcast (640x360)", "WxH"},
      {"fps", 0, 0, G_OPTION_ARG_INT, &o->fps, "Video frame rate (30)", "N"},
      {"ramp", 0, 0, G_OPTION_ARG_DOUBLE, &o->ramp, "Joins per second (50)", "R"},
      {"duration", 0, 0, G_OPTION_ARG_DOUBLE, &o->duration,
       "Seconds to run once everyone has joined (30)", "S"},
      {"threads", 0, 0, G_OPTION_ARG_INT, &o->threads,
       "Threads, each with its own main context (2)", "N"},
      {"room", 0, 0, G_OPTION_ARG_STRING, &o->room,
       "Room name (default: chorus-load-RANDOM); an existing one is used as is", "NAME"},
      {"keep-room", 0, 0, G_OPTION_ARG_NONE, &o->keep_room, "Do not destroy the room at the end",
       NULL},
      {"local-address", 0, 0, G_OPTION_ARG_STRING, &o->local_address,
       "Address for our ICE candidates (127.0.0.1)", "IP"},
      {"table", 0, 0, G_OPTION_ARG_NONE, &o->table, "Also print a table for humans on stderr",
       NULL},
      {"quiet", 'q', 0, G_OPTION_ARG_NONE, &o->quiet, "No progress line", NULL},
      {"log-level", 0, 0, G_OPTION_ARG_STRING, &o->log_level,
       "error, warning (default), info, debug", "LEVEL"},
      {NULL},
  };
  g_autoptr(GOptionContext) ctx =
      g_option_context_new("- synthetic Chorus publishers and subscribers");
  g_option_context_set_summary(
      ctx,
      "Drives many participants (real ICE/DTLS/SRTP) against a Chorus server and prints a JSON\n"
      "report on stdout. Exit status: 0 all joined and connected, 1 the run had failures, 2 bad\n"
      "usage, 3 could not start (server unreachable, token refused, room not created).");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    fprintf(stderr, "chorus-load: %s (see --help)\n", error->message);
    options_clear(o);
    return EXIT_USAGE;
  }
  /* String defaults after parsing: GOption does not free a default it
   * replaces. */
  static const struct {
    size_t offset;
    const char *value;
  } defaults[] = {
      {G_STRUCT_OFFSET(Options, target), "chorus"},
      {G_STRUCT_OFFSET(Options, url), "ws://127.0.0.1:7070/ws"},
      {G_STRUCT_OFFSET(Options, scenario), "live"},
      {G_STRUCT_OFFSET(Options, quality), "auto"},
      {G_STRUCT_OFFSET(Options, audio), "speech"},
      {G_STRUCT_OFFSET(Options, video_size), "640x360"},
      {G_STRUCT_OFFSET(Options, local_address), "127.0.0.1"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(defaults); i++) {
    char **field = G_STRUCT_MEMBER_P(o, defaults[i].offset);
    if (*field == NULL)
      *field = g_strdup(defaults[i].value);
  }
  ChorusLogLevel level = CHORUS_LOG_WARNING;
  if (o->log_level && !chorus_log_level_parse(o->log_level, &level)) {
    fprintf(stderr, "chorus-load: --log-level: unknown level \"%s\"\n", o->log_level);
    options_clear(o);
    return EXIT_USAGE;
  }
  chorus_log_init(level);
  app.planned = g_ptr_array_new_with_free_func(planned_free);
  app.errors = g_ptr_array_new_with_free_func(g_free);
  app.results = g_ptr_array_new_with_free_func(g_free);
  if (!validate(&app, &error)) {
    fprintf(stderr, "chorus-load: %s\n", error->message);
    app_clear(&app);
    return EXIT_USAGE;
  }
  signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();

  app.shared.target = g_strcmp0(o->target, "janus") == 0 ? LOAD_TARGET_JANUS : LOAD_TARGET_CHORUS;
  app.shared.url = o->url;
  app.shared.token = o->token;
  app.shared.room =
      o->room ? g_strdup(o->room) : g_strdup_printf("chorus-load-%08x", g_random_int());
  app.shared.quality = o->quality;
  app.shared.simulcast = o->simulcast;
  app.shared.connect_timeout_ms = 10000;
  app.shared.request_timeout_ms = 15000;

  app.loop = g_main_loop_new(NULL, FALSE);
  app.session = soup_session_new_with_options("user-agent", "chorus-load", NULL);
  soup_session_set_proxy_resolver(app.session, NULL);
  static const LoadRpcCallbacks admin_cb = {
      .connected = on_admin_connected,
      .closed = on_admin_closed,
  };
  app.admin = app.shared.target == LOAD_TARGET_JANUS
                  ? load_rpc_new_janus(app.session, o->url, &admin_cb, &app)
                  : load_rpc_new(app.session, o->url, &admin_cb, &app);
  app.run_start_us = g_get_monotonic_time();
  guint deadlines = g_timeout_add(250, on_admin_deadlines, &app);
  app.signal_sources[0] = g_unix_signal_add(SIGINT, on_signal, &app);
  app.signal_sources[1] = g_unix_signal_add(SIGTERM, on_signal, &app);
  load_rpc_connect(app.admin, ADMIN_TIMEOUT_MS, g_get_monotonic_time());
  if (app.phase != PHASE_DONE)
    g_main_loop_run(app.loop);
  g_source_remove(deadlines);
  g_source_remove(app.signal_sources[0]);
  g_source_remove(app.signal_sources[1]);
  double elapsed_s = (double)(g_get_monotonic_time() - app.run_start_us) / G_USEC_PER_SEC;
  end_progress_line(&app);
  int code = print_report(&app, elapsed_s);
  app_clear(&app);
  return code;
}
