/* The end-of-run report: a JSON object on stdout (the interface scripts
 * and tests read) and, on request, a human table on stderr. Built from the
 * per-participant LoadResults; see tools/chorus-load/README.md for every
 * field. */
#pragma once

#include <glib.h>
#include <jansson.h>
#include <stdio.h>

#include "load.h"

G_BEGIN_DECLS

typedef struct {
  const LoadRole *role;
  guint planned; /* participants of this role the scenario asked for */
} LoadRolePlan;

typedef struct {
  double cpu_s;  /* user + system CPU seconds in the window */
  double wall_s; /* window length */
  gboolean valid;
} LoadCpuWindow;

typedef struct {
  const char *scenario;
  const char *url;
  const char *room;
  guint threads;
  double duration_s;
  gboolean simulcast;
  gboolean dtx;
  const char *quality;
  const char *status; /* "ok", "failed", "aborted", "not started" */
  GPtrArray *errors;  /* char *: run-level errors, in order */
  double elapsed_s;
  const LoadRolePlan *plans;
  guint n_plans;
  GPtrArray *results;       /* LoadResult * */
  const LoadShared *shared; /* clips (may be NULL before they exist) */
  LoadCpuWindow self_cpu;   /* chorus-load during the steady window */
  LoadCpuWindow server_cpu; /* chorus (from /metrics), if scraped */
  json_t *server_counters;  /* chorus_media_* deltas in the window, or NULL (borrowed) */
  LoadLag lag;              /* chorus-load's threads over the whole run */
} LoadReportInput;

/* (transfer full) */
json_t *load_report_build(const LoadReportInput *in);

/* TRUE when chorus-load's own threads ran too late for its timing figures
 * to be trusted. */
gboolean load_lag_overloaded(const LoadLag *lag);

/* The table for humans, from a report made by load_report_build(). */
void load_report_print_table(FILE *out, json_t *report);

G_END_DECLS
