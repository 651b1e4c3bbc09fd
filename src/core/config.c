#include "core/config.h"

#include <stddef.h>
#include <string.h>

#include "core/error.h"

typedef enum { KEY_UINT, KEY_SIZE, KEY_BOOL, KEY_STRING, KEY_STRV } KeyType;

/* One row per configuration key. Defaults live here and nowhere else; the
 * documentation of each key is config/chorus.conf. */
typedef struct {
  const char *group;
  const char *key;
  KeyType type;
  gsize offset;
  guint64 min;
  guint64 max;
  guint64 default_uint;
  const char *default_string;
} KeyDef;

#define U(g, k, field, lo, hi, def) \
  { g, k, KEY_UINT, offsetof(ChorusConfig, field), lo, hi, def, NULL }
#define Z(g, k, field, lo, hi, def) \
  { g, k, KEY_SIZE, offsetof(ChorusConfig, field), lo, hi, def, NULL }
#define B(g, k, field, def) { g, k, KEY_BOOL, offsetof(ChorusConfig, field), 0, 1, def, NULL }
#define S(g, k, field, def) { g, k, KEY_STRING, offsetof(ChorusConfig, field), 0, 0, 0, def }
#define V(g, k, field) { g, k, KEY_STRV, offsetof(ChorusConfig, field), 0, 0, 0, NULL }

static const KeyDef keys[] = {
  S("signaling", "listen_address", listen_address, "127.0.0.1"),
  U("signaling", "port", port, 1, 65535, 7070),
  Z("signaling", "max_frame_bytes", max_frame_bytes, 1024, 16 * 1024 * 1024, 65536),
  U("signaling", "ping_interval_s", ping_interval_s, 1, 3600, 10),
  U("signaling", "idle_timeout_s", idle_timeout_s, 2, 3600, 30),
  U("signaling", "resume_grace_s", resume_grace_s, 0, 3600, 20),
  U("signaling", "request_rate", request_rate, 1, 1000000, 50),
  U("signaling", "request_burst", request_burst, 1, 1000000, 200),
  S("signaling", "web_root", web_root, NULL),

  S("auth", "api_secret", api_secret, NULL),
  U("auth", "token_leeway_s", token_leeway_s, 0, 3600, 5),

  U("media", "port_min", port_min, 1024, 65535, 20000),
  U("media", "port_max", port_max, 1024, 65535, 40000),
  S("media", "public_ip", public_ip, NULL),
  V("media", "interfaces", interfaces),
  B("media", "ice_lite", ice_lite, FALSE),
  B("media", "direct_send", direct_send, TRUE),
  B("media", "batch_send", batch_send, TRUE),
  S("media", "certificate_file", certificate_file, NULL),
  S("media", "private_key_file", private_key_file, NULL),

  U("workers", "count", worker_count, 0, 256, 0),

  U("limits", "max_rooms", max_rooms, 1, 10000000, 1000),
  U("limits", "max_connections", max_connections, 1, 10000000, 10000),
  U("limits", "default_max_participants", default_max_participants, 1, 10000000, 1000),
  U("limits", "max_participants_limit", max_participants_limit, 1, 10000000, 100000),
  Z("limits", "message_max_bytes", message_max_bytes, 16, 1024 * 1024, 4096),
  U("limits", "message_rate", message_rate, 1, 1000000, 10),
  U("limits", "message_burst", message_burst, 1, 1000000, 20),
  U("limits", "max_participants_per_connection", max_participants_per_connection, 1,
    10000000, 10000),

  S("plugins", "directory", plugin_dir, NULL),

  S("log", "level", log_level, "info"),
};

static void *
field_ptr(ChorusConfig *config, const KeyDef *def)
{
  return (char *)config + def->offset;
}

static void
set_defaults(ChorusConfig *config)
{
  for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
    const KeyDef *def = &keys[i];
    void *p = field_ptr(config, def);
    switch (def->type) {
    case KEY_UINT: *(guint *)p = (guint)def->default_uint; break;
    case KEY_SIZE: *(gsize *)p = (gsize)def->default_uint; break;
    case KEY_BOOL: *(gboolean *)p = (gboolean)def->default_uint; break;
    case KEY_STRING: *(char **)p = g_strdup(def->default_string); break;
    case KEY_STRV: *(char ***)p = NULL; break;
    }
  }
}

ChorusConfig *
chorus_config_new_default(void)
{
  ChorusConfig *config = g_new0(ChorusConfig, 1);
  set_defaults(config);
  config->source = g_strdup("(defaults)");
  return config;
}

static const KeyDef *
find_key(const char *group, const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS(keys); i++)
    if (strcmp(keys[i].group, group) == 0 && strcmp(keys[i].key, key) == 0)
      return &keys[i];
  return NULL;
}

static gboolean
group_known(const char *group)
{
  for (guint i = 0; i < G_N_ELEMENTS(keys); i++)
    if (strcmp(keys[i].group, group) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
fail(GError **error, const char *source, const char *group, const char *key, const char *fmt,
     ...) G_GNUC_PRINTF(5, 6);

static gboolean
fail(GError **error, const char *source, const char *group, const char *key, const char *fmt,
     ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *problem = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  if (key)
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS, "%s: [%s] %s: %s", source,
                group, key, problem);
  else
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS, "%s: [%s]: %s", source, group,
                problem);
  return FALSE;
}

static gboolean
load_key(ChorusConfig *config, GKeyFile *kf, const KeyDef *def, GError **error)
{
  const char *src = config->source;
  g_autofree char *raw = g_key_file_get_value(kf, def->group, def->key, NULL);
  if (raw == NULL)
    return TRUE;
  g_strstrip(raw);
  void *p = field_ptr(config, def);

  switch (def->type) {
  case KEY_UINT:
  case KEY_SIZE: {
    guint64 v = 0;
    g_autoptr(GError) e = NULL;
    if (!g_ascii_string_to_unsigned(raw, 10, 0, G_MAXUINT64, &v, &e))
      return fail(error, src, def->group, def->key, "not a non-negative integer (got \"%s\")",
                  raw);
    if (v < def->min || v > def->max)
      return fail(error, src, def->group, def->key,
                  "must be between %" G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT
                  " (got %" G_GUINT64_FORMAT ")",
                  def->min, def->max, v);
    if (def->type == KEY_UINT)
      *(guint *)p = (guint)v;
    else
      *(gsize *)p = (gsize)v;
    return TRUE;
  }
  case KEY_BOOL:
    if (g_ascii_strcasecmp(raw, "true") == 0 || strcmp(raw, "1") == 0)
      *(gboolean *)p = TRUE;
    else if (g_ascii_strcasecmp(raw, "false") == 0 || strcmp(raw, "0") == 0)
      *(gboolean *)p = FALSE;
    else
      return fail(error, src, def->group, def->key, "must be true or false (got \"%s\")", raw);
    return TRUE;
  case KEY_STRING: {
    char **field = p;
    g_free(*field);
    *field = raw[0] ? g_strdup(raw) : NULL;
    return TRUE;
  }
  case KEY_STRV: {
    char ***field = p;
    g_strfreev(*field);
    *field = NULL;
    g_auto(GStrv) parts = g_strsplit_set(raw, ",;", -1);
    GPtrArray *out = g_ptr_array_new();
    for (guint i = 0; parts[i]; i++) {
      char *s = g_strstrip(parts[i]);
      if (*s)
        g_ptr_array_add(out, g_strdup(s));
    }
    g_ptr_array_add(out, NULL);
    *field = (char **)g_ptr_array_free(out, FALSE);
    if ((*field)[0] == NULL)
      g_clear_pointer(field, g_strfreev);
    return TRUE;
  }
  }
  g_assert_not_reached();
}

static gboolean
check_address(const char *src, const char *group, const char *key, const char *addr,
              GError **error)
{
  if (addr == NULL)
    return TRUE;
  if (!g_hostname_is_ip_address(addr))
    return fail(error, src, group, key, "not an IP address (got \"%s\")", addr);
  return TRUE;
}

static gboolean
check_cross_keys(const ChorusConfig *c, GError **error)
{
  const char *src = c->source;
  if (c->port_min > c->port_max)
    return fail(error, src, "media", "port_min", "must be <= port_max (got %u > %u)", c->port_min,
                c->port_max);
  if (c->idle_timeout_s <= c->ping_interval_s)
    return fail(error, src, "signaling", "idle_timeout_s",
                "must be greater than ping_interval_s (got %u <= %u)", c->idle_timeout_s,
                c->ping_interval_s);
  if (c->default_max_participants > c->max_participants_limit)
    return fail(error, src, "limits", "default_max_participants",
                "must be <= max_participants_limit (got %u > %u)", c->default_max_participants,
                c->max_participants_limit);
  if (!check_address(src, "signaling", "listen_address", c->listen_address, error) ||
      !check_address(src, "media", "public_ip", c->public_ip, error))
    return FALSE;
  for (guint i = 0; c->interfaces && c->interfaces[i]; i++)
    if (!check_address(src, "media", "interfaces", c->interfaces[i], error))
      return FALSE;
  if (c->web_root && !g_file_test(c->web_root, G_FILE_TEST_IS_DIR))
    return fail(error, src, "signaling", "web_root", "not a directory (got \"%s\")", c->web_root);
  if ((c->certificate_file == NULL) != (c->private_key_file == NULL))
    return fail(error, src, "media", c->certificate_file ? "private_key_file" : "certificate_file",
                "certificate_file and private_key_file must be given together");
  static const char *const levels[] = { "error", "warning", "info", "debug", "trace", NULL };
  if (!g_strv_contains(levels, c->log_level))
    return fail(error, src, "log", "level",
                "must be one of error, warning, info, debug, trace (got \"%s\")", c->log_level);
  if (c->api_secret && strlen(c->api_secret) < 16)
    return fail(error, src, "auth", "api_secret", "must be at least 16 characters long");
  return TRUE;
}

ChorusConfig *
chorus_config_load_data(const char *data, const char *source, GError **error)
{
  g_autoptr(ChorusConfig) config = chorus_config_new_default();
  g_free(config->source);
  config->source = g_strdup(source);

  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autoptr(GError) e = NULL;
  if (!g_key_file_load_from_data(kf, data, (gsize)-1, G_KEY_FILE_NONE, &e)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS, "%s: %s", source, e->message);
    return NULL;
  }

  g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
  for (guint g = 0; groups[g]; g++) {
    if (!group_known(groups[g])) {
      fail(error, source, groups[g], NULL, "unknown group");
      return NULL;
    }
    g_auto(GStrv) names = g_key_file_get_keys(kf, groups[g], NULL, NULL);
    for (guint k = 0; names && names[k]; k++) {
      const KeyDef *def = find_key(groups[g], names[k]);
      if (def == NULL) {
        fail(error, source, groups[g], names[k], "unknown key");
        return NULL;
      }
      if (!load_key(config, kf, def, error))
        return NULL;
    }
  }
  if (!check_cross_keys(config, error))
    return NULL;
  return g_steal_pointer(&config);
}

ChorusConfig *
chorus_config_load(const char *path, GError **error)
{
  g_autofree char *data = NULL;
  g_autoptr(GError) e = NULL;
  if (!g_file_get_contents(path, &data, NULL, &e)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INVALID_PARAMS, "%s: cannot read: %s", path,
                e->message);
    return NULL;
  }
  return chorus_config_load_data(data, path, error);
}

gboolean
chorus_config_validate(const ChorusConfig *config, gboolean dev_mode, GError **error)
{
  if (!dev_mode && config->api_secret == NULL)
    return fail(error, config->source, "auth", "api_secret",
                "required outside dev mode (set a secret of 16+ characters, or run with --dev)");
  if (!dev_mode && g_strcmp0(config->api_secret, CHORUS_CONFIG_EXAMPLE_SECRET) == 0)
    return fail(error, config->source, "auth", "api_secret",
                "is the example secret shipped in config/chorus.conf; set your own outside dev mode");
  return TRUE;
}

void
chorus_config_free(ChorusConfig *config)
{
  if (config == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
    void *p = field_ptr(config, &keys[i]);
    if (keys[i].type == KEY_STRING)
      g_free(*(char **)p);
    else if (keys[i].type == KEY_STRV)
      g_strfreev(*(char ***)p);
  }
  g_free(config->source);
  g_free(config);
}
