/* Metrics for GET /metrics (Prometheus text format).
 *
 * Control-plane counters are process-wide atomics (cheap, rare). Subsystems
 * with their own state (room directory, workers' packet counters) register a
 * collector that appends its lines when /metrics is scraped, on the main
 * thread. Hot-path counters stay per worker and are summed by a collector,
 * never incremented through this module per packet. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  CHORUS_METRIC_CONNECTIONS_TOTAL,
  CHORUS_METRIC_CONNECTIONS_OPEN, /* gauge: inc on open, dec on close */
  CHORUS_METRIC_MESSAGES_RECEIVED,
  CHORUS_METRIC_MESSAGES_SENT,
  CHORUS_METRIC_REQUESTS_RATE_LIMITED,
  CHORUS_METRIC_AUTH_FAILURES,
  CHORUS_METRIC_N_
} ChorusMetric;

void chorus_metrics_add(ChorusMetric metric, gint64 delta);
static inline void chorus_metrics_inc(ChorusMetric metric) { chorus_metrics_add(metric, 1); }
gint64 chorus_metrics_get(ChorusMetric metric);

/* Counts one JSON-RPC error reply with @code. */
void chorus_metrics_count_error(int code);
gint64 chorus_metrics_get_error_count(int code);

typedef void (*ChorusMetricsCollector)(GString *out, gpointer user_data);
/* Main thread, at start-up. */
void chorus_metrics_add_collector(ChorusMetricsCollector collector, gpointer user_data);
void chorus_metrics_remove_collector(ChorusMetricsCollector collector, gpointer user_data);

/* The whole exposition text (transfer full). Main thread. */
char *chorus_metrics_render(void);

/* Helpers for collectors: "# HELP", "# TYPE" and one sample. */
void chorus_metrics_append_header(GString *out, const char *name, const char *type,
                                  const char *help);
void chorus_metrics_append_sample(GString *out, const char *name, const char *type,
                                  const char *help, gint64 value);

G_END_DECLS
