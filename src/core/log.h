/* Logging: GLib structured logging with one writer that filters by level and
 * prints "TIME LEVEL domain: message" to stderr. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  CHORUS_LOG_ERROR = 0,
  CHORUS_LOG_WARNING,
  CHORUS_LOG_INFO,
  CHORUS_LOG_DEBUG,
  CHORUS_LOG_TRACE,
} ChorusLogLevel;

/* Parses "error|warning|info|debug|trace". */
gboolean chorus_log_level_parse(const char *name, ChorusLogLevel *out);

/* Installs the writer; may be called again to change the level. */
void chorus_log_init(ChorusLogLevel level);

ChorusLogLevel chorus_log_get_level(void);

G_END_DECLS
