/* Chorus configuration: a GKeyFile with documented defaults (config/chorus.conf
 * lists every key). Loaded once on the main thread at start and then
 * read-only, so workers may read it without locks. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The demo secret in config/chorus.conf: refused outside dev mode. */
#define CHORUS_CONFIG_EXAMPLE_SECRET "chorus-dev-secret-change-me"

typedef struct {
  /* [signaling] */
  char *listen_address;       /* "127.0.0.1" */
  guint port;                 /* 7070 */
  gsize max_frame_bytes;      /* 65536 */
  guint ping_interval_s;      /* 10: WebSocket pings to every connection */
  guint idle_timeout_s;       /* 30: silent this long despite pings = lost */
  guint resume_grace_s;       /* 20: lost connections keep participants this long */
  guint request_rate;         /* 50 requests/s per connection (token bucket rate) */
  guint request_burst;        /* 200 requests (token bucket depth) */
  char *web_root;             /* NULL: no static files; --dev: the source tree's web/ */
  gboolean allow_dev_unauthenticated; /* set by --dev, not from the file */

  /* [auth] */
  char *api_secret;           /* HS256 secret; required unless --dev */
  guint token_leeway_s;       /* 5: clock skew tolerated on exp */

  /* [media] */
  guint port_min;             /* 20000 */
  guint port_max;             /* 40000 */
  char *public_ip;            /* NULL: advertise host candidates only */
  char **interfaces;          /* NULL = all local addresses; dev: 127.0.0.1 */
  gboolean ice_lite;          /* FALSE: full ICE */
  gboolean direct_send;       /* TRUE: media on the selected socket, not nice_agent_send */
  gboolean batch_send;        /* TRUE: media queued per worker, sendmmsg per socket */
  char *certificate_file;     /* NULL: make an ECDSA P-256 cert at start */
  char *private_key_file;

  /* [workers] */
  guint worker_count;         /* 0 = one per core (resolved at load time) */

  /* [limits] */
  guint max_rooms;            /* 1000 */
  guint max_connections;      /* 10000 */
  guint default_max_participants; /* 1000: rooms created without max_participants */
  guint max_participants_limit;   /* 100000: ceiling for max_participants */
  gsize message_max_bytes;    /* 4096 */
  guint message_rate;         /* 10 messages/s per participant */
  guint message_burst;        /* 20 */
  guint max_participants_per_connection; /* 10000: admin proxy connections */

  /* [plugins] */
  char *plugin_dir;           /* NULL: the build tree's, then the installed one */

  /* [log] */
  char *log_level;            /* "info" */

  /* Where this configuration came from, for messages. */
  char *source;
} ChorusConfig;

/* Defaults only (what an empty file gives). */
ChorusConfig *chorus_config_new_default(void);

/* Loads and validates @path. On error the message names the file, the
 * [group] key and the problem, e.g. "chorus.conf: [media] port_min: must be
 * <= port_max (got 50000 > 40000)". */
ChorusConfig *chorus_config_load(const char *path, GError **error);

/* Same, from text (for tests); @source names it in messages. */
ChorusConfig *chorus_config_load_data(const char *data, const char *source, GError **error);

/* Checks cross-key rules that depend on the mode (e.g. api_secret required
 * unless dev mode). */
gboolean chorus_config_validate(const ChorusConfig *config, gboolean dev_mode, GError **error);

void chorus_config_free(ChorusConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusConfig, chorus_config_free)

G_END_DECLS
