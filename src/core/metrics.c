#include "core/metrics.h"

#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/error.h"

static gint64 counters[CHORUS_METRIC_N_];
static gint64 error_counts[16]; /* indexed like chorus_error_codes */

typedef struct {
  ChorusMetricsCollector fn;
  gpointer data;
} Collector;

static GArray *collectors; /* main thread only */

void
chorus_metrics_add(ChorusMetric metric, gint64 delta)
{
  g_return_if_fail(metric < CHORUS_METRIC_N_);
  __atomic_add_fetch(&counters[metric], delta, __ATOMIC_RELAXED);
}

gint64
chorus_metrics_get(ChorusMetric metric)
{
  g_return_val_if_fail(metric < CHORUS_METRIC_N_, 0);
  return __atomic_load_n(&counters[metric], __ATOMIC_RELAXED);
}

static int
error_index(int code)
{
  for (guint i = 0; i < chorus_error_codes_len && i < G_N_ELEMENTS(error_counts); i++)
    if ((int)chorus_error_codes[i] == code)
      return (int)i;
  return -1;
}

void
chorus_metrics_count_error(int code)
{
  int i = error_index(code);
  if (i >= 0)
    __atomic_add_fetch(&error_counts[i], 1, __ATOMIC_RELAXED);
}

gint64
chorus_metrics_get_error_count(int code)
{
  int i = error_index(code);
  return i >= 0 ? __atomic_load_n(&error_counts[i], __ATOMIC_RELAXED) : 0;
}

void
chorus_metrics_add_collector(ChorusMetricsCollector collector, gpointer user_data)
{
  if (collectors == NULL)
    collectors = g_array_new(FALSE, FALSE, sizeof(Collector));
  Collector c = { collector, user_data };
  g_array_append_val(collectors, c);
}

void
chorus_metrics_remove_collector(ChorusMetricsCollector collector, gpointer user_data)
{
  for (guint i = 0; collectors && i < collectors->len; i++) {
    Collector *c = &g_array_index(collectors, Collector, i);
    if (c->fn == collector && c->data == user_data) {
      g_array_remove_index(collectors, i);
      return;
    }
  }
}

void
chorus_metrics_append_header(GString *out, const char *name, const char *type, const char *help)
{
  g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
chorus_metrics_append_sample(GString *out, const char *name, const char *type, const char *help,
                             gint64 v)
{
  chorus_metrics_append_header(out, name, type, help);
  g_string_append_printf(out, "%s %" G_GINT64_FORMAT "\n", name, v);
}

static void
append_process(GString *out)
{
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    chorus_metrics_append_header(out, "process_cpu_seconds_total", "counter",
                                 "User and system CPU time spent, in seconds.");
    g_string_append_printf(out, "process_cpu_seconds_total %.3f\n", cpu);
  }
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) == 2) {
      chorus_metrics_append_header(out, "process_resident_memory_bytes", "gauge",
                                   "Resident memory size in bytes.");
      g_string_append_printf(out, "process_resident_memory_bytes %ld\n",
                             resident * sysconf(_SC_PAGESIZE));
    }
    fclose(f);
  }
}

char *
chorus_metrics_render(void)
{
  GString *out = g_string_new(NULL);
  chorus_metrics_append_sample(out, "chorus_connections_total", "counter",
                 "WebSocket connections accepted since start.",
                 chorus_metrics_get(CHORUS_METRIC_CONNECTIONS_TOTAL));
  chorus_metrics_append_sample(out, "chorus_connections", "gauge", "WebSocket connections open now.",
                 chorus_metrics_get(CHORUS_METRIC_CONNECTIONS_OPEN));
  chorus_metrics_append_sample(out, "chorus_messages_received_total", "counter",
                 "Signaling frames received.", chorus_metrics_get(CHORUS_METRIC_MESSAGES_RECEIVED));
  chorus_metrics_append_sample(out, "chorus_messages_sent_total", "counter",
                 "Signaling frames sent (replies and notifications).",
                 chorus_metrics_get(CHORUS_METRIC_MESSAGES_SENT));
  chorus_metrics_append_sample(out, "chorus_requests_rate_limited_total", "counter",
                 "Requests refused by a rate limit.",
                 chorus_metrics_get(CHORUS_METRIC_REQUESTS_RATE_LIMITED));
  chorus_metrics_append_sample(out, "chorus_auth_failures_total", "counter",
                 "Rejected tokens (forged, expired, wrong room).",
                 chorus_metrics_get(CHORUS_METRIC_AUTH_FAILURES));

  chorus_metrics_append_header(out, "chorus_errors_total", "counter",
                               "JSON-RPC error replies by code.");
  for (guint i = 0; i < chorus_error_codes_len; i++) {
    int code = chorus_error_codes[i];
    g_string_append_printf(out, "chorus_errors_total{code=\"%d\",name=\"%s\"} %" G_GINT64_FORMAT
                           "\n",
                           code, chorus_error_code_name(code), chorus_metrics_get_error_count(code));
  }
  append_process(out);
  for (guint i = 0; collectors && i < collectors->len; i++) {
    Collector *c = &g_array_index(collectors, Collector, i);
    c->fn(out, c->data);
  }
  return g_string_free(out, FALSE);
}
