/* chorus: the Chorus SFU daemon, and `chorus token` to mint JWTs. */
#define G_LOG_DOMAIN "chorus"

#include <glib-unix.h>
#include <glib.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "chorus-build-config.h"
#include "core/config.h"
#include "core/log.h"
#include "core/worker.h"
#include "media/media.h"
#include "rooms/directory.h"
#include "rooms/plugin-host.h"
#include "rooms/room.h"
#include "signaling/auth.h"
#include "signaling/server.h"


enum { EXIT_BAD_CONFIG = 2 };

typedef struct {
  GMainLoop *loop;
  int signal_count;
} App;

static gboolean
on_signal(gpointer user_data)
{
  App *app = user_data;
  if (++app->signal_count > 1) {
    g_warning("second signal: exiting at once");
    exit(1);
  }
  g_message("signal received: shutting down (participants get room.closed)");
  g_main_loop_quit(app->loop);
  return G_SOURCE_CONTINUE;
}

static char *
default_config_path(void)
{
  return g_build_filename(CHORUS_SOURCE_DIR, "config", "chorus.conf", NULL);
}

static const char *
pick_plugin_dir(const ChorusConfig *config)
{
  if (config->plugin_dir)
    return config->plugin_dir;
  if (g_file_test(CHORUS_BUILD_PLUGIN_DIR, G_FILE_TEST_IS_DIR))
    return CHORUS_BUILD_PLUGIN_DIR;
  return CHORUS_PLUGIN_DIR;
}

static int
cmd_token(int argc, char **argv)
{
  g_autofree char *config_path = NULL;
  g_autofree char *identity = NULL, *room = NULL, *role = NULL, *secret = NULL;
  gboolean admin = FALSE;
  gint ttl_s = 3600;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      "Configuration file (its [auth] api_secret signs the token)", "FILE" },
    { "secret", 's', 0, G_OPTION_ARG_STRING, &secret, "Secret (overrides the config)", "SECRET" },
    { "identity", 'i', 0, G_OPTION_ARG_STRING, &identity, "Identity (sub claim)", "ID" },
    { "room", 'r', 0, G_OPTION_ARG_STRING, &room, "Room name or * (default *)", "ROOM" },
    { "role", 0, 0, G_OPTION_ARG_STRING, &role, "Role (host, speaker, listener, ...)", "ROLE" },
    { "admin", 'a', 0, G_OPTION_ARG_NONE, &admin, "Admin token", NULL },
    { "ttl", 't', 0, G_OPTION_ARG_INT, &ttl_s, "Lifetime in seconds (default 3600)", "S" },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new("- mint a Chorus access token (JWT HS256)");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    fprintf(stderr, "chorus token: %s\n", error->message);
    return EXIT_BAD_CONFIG;
  }
  if (secret == NULL) {
    if (config_path == NULL)
      config_path = default_config_path();
    g_autoptr(ChorusConfig) config = chorus_config_load(config_path, &error);
    if (config == NULL) {
      fprintf(stderr, "chorus token: %s\n", error->message);
      return EXIT_BAD_CONFIG;
    }
    secret = g_strdup(config->api_secret);
  }
  if (secret == NULL) {
    fprintf(stderr, "chorus token: no secret: set [auth] api_secret in the config or pass "
                    "--secret\n");
    return EXIT_BAD_CONFIG;
  }
  if (identity == NULL && !admin) {
    fprintf(stderr, "chorus token: --identity is required for non-admin tokens\n");
    return EXIT_BAD_CONFIG;
  }
  if (ttl_s <= 0) {
    fprintf(stderr, "chorus token: --ttl must be positive\n");
    return EXIT_BAD_CONFIG;
  }
  gint64 exp_s = g_get_real_time() / G_USEC_PER_SEC + ttl_s;
  g_autofree char *token = chorus_auth_mint(secret, identity, room, role, admin, exp_s, &error);
  if (token == NULL) {
    fprintf(stderr, "chorus token: %s\n", error->message);
    return 1;
  }
  printf("%s\n", token);
  return 0;
}

/* Each PeerConnection holds two descriptors (its UDP socket and its ICE
 * agent's context's eventfd), each WebSocket one: the usual soft limit of
 * 1024 stops a room near 500 listeners. Take what the hard limit allows. */
static void
raise_fd_limit(void)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return;
  rlim_t want = rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
  if (rl.rlim_cur < want) {
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      rl.rlim_cur = was;
  }
  if (rl.rlim_cur < 8192)
    g_warning("open files limit is %lu: about %lu PeerConnections at most; raise the hard limit "
              "(ulimit -Hn, LimitNOFILE= in a systemd unit)",
              (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_cur / 2);
  else
    g_info("open files limit: %lu", (unsigned long)rl.rlim_cur);
}

int
main(int argc, char **argv)
{
  setlocale(LC_ALL, "");
  if (argc > 1 && g_strcmp0(argv[1], "token") == 0)
    return cmd_token(argc - 1, argv + 1);

  g_autofree char *config_path = NULL;
  g_autofree char *log_level = NULL;
  gboolean dev = FALSE, version = FALSE, check_config = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      "Configuration file (default: config/chorus.conf of the source tree)", "FILE" },
    { "dev", 'd', 0, G_OPTION_ARG_NONE, &dev,
      "Dev mode: unauthenticated loopback connections are admin; media on 127.0.0.1", NULL },
    { "log-level", 'l', 0, G_OPTION_ARG_STRING, &log_level,
      "error, warning, info, debug or trace (overrides [log] level)", "LEVEL" },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &check_config,
      "Check the configuration and exit (0 if valid, 2 if not)", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new("- Chorus WebRTC SFU");
  g_option_context_set_description(ctx, "Subcommands:\n  chorus token --help   mint an access token\n");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    fprintf(stderr, "chorus: %s (see chorus --help)\n", error->message);
    return EXIT_BAD_CONFIG;
  }
  if (version) {
    printf("chorus %s\n", CHORUS_VERSION);
    return 0;
  }

  if (config_path == NULL)
    config_path = default_config_path();
  g_autoptr(ChorusConfig) config = chorus_config_load(config_path, &error);
  if (config == NULL || !chorus_config_validate(config, dev, &error)) {
    fprintf(stderr, "chorus: bad configuration: %s\n", error->message);
    return EXIT_BAD_CONFIG;
  }
  ChorusLogLevel level;
  const char *level_name = log_level ? log_level : config->log_level;
  if (!chorus_log_level_parse(level_name, &level)) {
    fprintf(stderr, "chorus: --log-level: must be error, warning, info, debug or trace (got "
                    "\"%s\")\n", level_name);
    return EXIT_BAD_CONFIG;
  }
  if (check_config) {
    printf("%s: OK\n", config_path);
    return 0;
  }
  chorus_log_init(level);
  raise_fd_limit();

  if (dev) {
    config->allow_dev_unauthenticated = TRUE;
    if (config->interfaces == NULL) {
      config->interfaces = g_new0(char *, 2);
      config->interfaces[0] = g_strdup("127.0.0.1");
    }
    if (config->web_root == NULL)
      config->web_root = g_build_filename(CHORUS_SOURCE_DIR, "web", NULL);
    g_warning("DEV MODE: unauthenticated loopback connections are treated as ADMIN; media "
              "candidates on %s only. Never run --dev in production.", config->interfaces[0]);
  }
  if (config->worker_count == 0)
    config->worker_count = MAX(1, g_get_num_processors());

  g_autoptr(ChorusPluginHost) plugins = chorus_plugin_host_new();
  const char *plugin_dir = pick_plugin_dir(config);
  if (!chorus_plugin_host_load_dir(plugins, plugin_dir, &error)) {
    g_critical("plugins: %s", error->message);
    return EXIT_BAD_CONFIG;
  }

  ChorusMediaEngine *media = chorus_media_engine_new(config, &error);
  if (media == NULL) {
    g_critical("media: %s", error->message);
    return EXIT_BAD_CONFIG;
  }
  chorus_media_engine_register_metrics(media);
  ChorusWorkerPool *workers = chorus_worker_pool_new(config->worker_count);
  ChorusRoomDirectory *dir = chorus_room_directory_new(config, workers, plugins);
  chorus_room_directory_set_media_engine(dir, media);
  chorus_room_directory_register_metrics(dir);

  ChorusSignalingServer *server = chorus_signaling_server_new(config, dir, dev, &error);
  if (server == NULL) {
    g_critical("signaling: %s", error->message);
    chorus_room_directory_free(dir);
    chorus_worker_pool_free(workers);
    chorus_media_engine_free(media);
    return 1;
  }
  g_message("chorus %s listening on ws://%s:%u/ws (%u workers, plugins: %s)", CHORUS_VERSION,
            config->listen_address, chorus_signaling_server_port(server), config->worker_count,
            plugin_dir);

  App app = { .loop = g_main_loop_new(NULL, FALSE) };
  guint sigint = g_unix_signal_add(SIGINT, on_signal, &app);
  guint sigterm = g_unix_signal_add(SIGTERM, on_signal, &app);
  g_main_loop_run(app.loop);

  /* Clean shutdown: tell participants, close connections with a close
   * frame, give the close handshakes a moment, then stop. */
  chorus_room_directory_close_all(dir, "shutdown");
  chorus_signaling_server_shutdown(server);
  gint64 deadline_us = g_get_monotonic_time() + G_USEC_PER_SEC;
  while (chorus_signaling_server_connection_count(server) > 0 &&
         g_get_monotonic_time() < deadline_us) {
    if (!g_main_context_iteration(NULL, FALSE))
      g_usleep(1000);
  }
  g_source_remove(sigint);
  g_source_remove(sigterm);
  chorus_signaling_server_free(server);
  /* Rooms post their media teardown to the workers, which run it before
   * they stop; the engine (certificate, counters) goes last. */
  chorus_room_directory_free(dir);
  chorus_worker_pool_free(workers);
  chorus_media_engine_free(media);
  g_main_loop_unref(app.loop);
  g_message("stopped");
  return 0;
}
