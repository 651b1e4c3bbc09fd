#include "core/log.h"

#include <stdio.h>
#include <string.h>

static gint current_level = CHORUS_LOG_INFO; /* atomic: read by every thread */

gboolean
chorus_log_level_parse(const char *name, ChorusLogLevel *out)
{
  static const char *const names[] = { "error", "warning", "info", "debug", "trace" };
  for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
    if (name && g_ascii_strcasecmp(name, names[i]) == 0) {
      *out = (ChorusLogLevel)i;
      return TRUE;
    }
  }
  return FALSE;
}

ChorusLogLevel
chorus_log_get_level(void)
{
  return (ChorusLogLevel)g_atomic_int_get(&current_level);
}

static ChorusLogLevel
from_glib(GLogLevelFlags flags, const char **label)
{
  if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
    *label = (flags & G_LOG_LEVEL_ERROR) ? "FATAL" : "CRITICAL";
    return CHORUS_LOG_ERROR;
  }
  if (flags & G_LOG_LEVEL_WARNING) {
    *label = "WARN";
    return CHORUS_LOG_WARNING;
  }
  if (flags & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO)) {
    *label = "INFO";
    return CHORUS_LOG_INFO;
  }
  *label = "DEBUG";
  return CHORUS_LOG_DEBUG;
}

static GLogWriterOutput
writer(GLogLevelFlags flags, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  const char *label;
  ChorusLogLevel level = from_glib(flags, &label);
  const char *domain = NULL, *message = NULL;
  for (gsize i = 0; i < n_fields; i++) {
    if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0)
      domain = fields[i].value;
    else if (strcmp(fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;
  }
  /* Third-party libraries (libnice, libsoup) log at debug only when asked. */
  if (level > chorus_log_get_level())
    return G_LOG_WRITER_HANDLED;
  if (level == CHORUS_LOG_DEBUG && chorus_log_get_level() < CHORUS_LOG_TRACE && domain &&
      !g_str_has_prefix(domain, "chorus"))
    return G_LOG_WRITER_HANDLED;

  g_autoptr(GDateTime) now = g_date_time_new_now_utc();
  g_autofree char *ts = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S");
  fprintf(stderr, "%s.%03dZ %-5s %s: %s\n", ts, g_date_time_get_microsecond(now) / 1000, label,
          domain ? domain : "chorus", message ? message : "");
  fflush(stderr);
  return G_LOG_WRITER_HANDLED;
}

void
chorus_log_init(ChorusLogLevel level)
{
  static gsize installed = 0;
  g_atomic_int_set(&current_level, level);
  if (g_once_init_enter(&installed)) {
    g_log_set_writer_func(writer, NULL, NULL);
    g_once_init_leave(&installed, 1);
  }
}
