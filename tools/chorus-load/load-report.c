#include "load-report.h"

#include <math.h>
#include <string.h>

#include "load-stats.h"

#define MAX_FAILURES_LISTED 20

const char *
load_kind_to_string(LoadKind kind)
{
  return kind == LOAD_KIND_AUDIO ? "audio" : kind == LOAD_KIND_VIDEO ? "video" : "any";
}

void
load_result_clear(LoadResult *result)
{
  g_clear_pointer(&result->identity, g_free);
  g_clear_pointer(&result->fail_stage, g_free);
  g_clear_pointer(&result->fail_reason, g_free);
}

static double
round2(double v)
{
  return round(v * 100.0) / 100.0;
}

static double
percent(guint64 part, guint64 whole)
{
  return whole ? round2(100.0 * (double)part / (double)whole) : 0.0;
}

/* {"n", "p50", "p95", "max"} of the values >= 0 (a negative one means the
 * event did not happen and is counted apart). */
static json_t *
distribution(GArray *values)
{
  guint n = values->len;
  double *v = (double *)values->data;
  double max = 0;
  for (guint i = 0; i < n; i++)
    max = MAX(max, v[i]);
  json_t *obj = json_pack("{s:I}", "n", (json_int_t)n);
  if (n > 0) {
    json_object_set_new(obj, "p50", json_real(round2(load_percentile(v, n, 50))));
    json_object_set_new(obj, "p95", json_real(round2(load_percentile(v, n, 95))));
    json_object_set_new(obj, "max", json_real(round2(max)));
  }
  return obj;
}

typedef struct {
  GArray *join_ms, *pub_ms, *sub_ms, *first_packet_ms, *first_audio_ms, *first_video_ms,
      *first_keyframe_ms;
} Distributions;

static void
dist_add(GArray *a, double v)
{
  if (v >= 0)
    g_array_append_val(a, v);
}

static json_t *
rx_kind_json(const LoadRxTotals *t, LoadKind kind, guint without)
{
  json_t *o = json_pack(
      "{s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:I}", "streams", (json_int_t)t->streams, "packets",
      (json_int_t)t->packets, "bytes", (json_int_t)t->bytes, "expected", (json_int_t)t->expected,
      "lost", (json_int_t)t->lost, "loss_pct", percent(t->lost, t->expected), "jitter_ms_mean",
      round2(t->streams ? t->jitter_ms_sum / t->streams : 0), "jitter_ms_max",
      round2(t->jitter_ms_max), "participants_without", (json_int_t)without);
  if (kind == LOAD_KIND_VIDEO) {
    json_object_set_new(o, "frames", json_integer((json_int_t)t->frames));
    json_object_set_new(o, "keyframes", json_integer((json_int_t)t->keyframes));
    json_object_set_new(o, "freezes", json_integer(t->freezes));
    json_object_set_new(o, "freeze_ms", json_integer(t->freeze_us / 1000));
  }
  return o;
}

static json_t *
role_json(const LoadRolePlan *plan, GPtrArray *results, json_t *failures, guint *failures_listed)
{
  const LoadRole *role = plan->role;
  guint started = 0, joined = 0, failed = 0, connected = 0;
  guint without[LOAD_KIND_N] = {0};
  LoadRxTotals rx[LOAD_KIND_N];
  LoadTxTotals tx;
  memset(rx, 0, sizeof(rx));
  memset(&tx, 0, sizeof(tx));
  guint64 srtp_failed = 0, unknown = 0;
  Distributions d;
  GArray **all[] = {&d.join_ms,        &d.pub_ms,         &d.sub_ms,           &d.first_packet_ms,
                    &d.first_audio_ms, &d.first_video_ms, &d.first_keyframe_ms};
  for (guint i = 0; i < G_N_ELEMENTS(all); i++)
    *all[i] = g_array_new(FALSE, FALSE, sizeof(double));
  json_t *by_stage = json_object();
  json_t *pending_by_stage = json_object();
  guint pending = 0;

  for (guint i = 0; i < results->len; i++) {
    const LoadResult *r = g_ptr_array_index(results, i);
    if (r->role != role)
      continue;
    started++;
    joined += r->joined;
    gboolean up = r->joined && !r->failed && (!r->publishes || r->publish_connected) &&
                  (!r->subscribe_expected || r->subscribe_connected);
    connected += up;
    if (r->failed) {
      failed++;
      json_t *count = json_object_get(by_stage, r->fail_stage);
      json_object_set_new(by_stage, r->fail_stage,
                          json_integer(count ? json_integer_value(count) + 1 : 1));
      if (*failures_listed < MAX_FAILURES_LISTED) {
        (*failures_listed)++;
        json_array_append_new(failures,
                              json_pack("{s:s, s:s, s:s, s:s, s:f}", "identity", r->identity,
                                        "role", role->name, "stage", r->fail_stage, "reason",
                                        r->fail_reason, "at_ms", round2(r->fail_ms)));
      }
    }
    if (r->pending_stage) {
      pending++;
      json_t *count = json_object_get(pending_by_stage, r->pending_stage);
      json_object_set_new(pending_by_stage, r->pending_stage,
                          json_integer(count ? json_integer_value(count) + 1 : 1));
    }
    dist_add(d.join_ms, r->join_ms);
    dist_add(d.pub_ms, r->publish_connected_ms);
    dist_add(d.sub_ms, r->subscribe_connected_ms);
    dist_add(d.first_packet_ms, r->first_packet_ms);
    dist_add(d.first_audio_ms, r->first_audio_ms);
    dist_add(d.first_video_ms, r->first_video_ms);
    dist_add(d.first_keyframe_ms, r->first_keyframe_ms);
    for (guint k = 0; k < LOAD_KIND_N; k++) {
      const LoadRxTotals *t = &r->rx[k];
      rx[k].streams += t->streams;
      rx[k].packets += t->packets;
      rx[k].bytes += t->bytes;
      rx[k].expected += t->expected;
      rx[k].lost += t->lost;
      rx[k].jitter_ms_sum += t->jitter_ms_sum;
      rx[k].jitter_ms_max = MAX(rx[k].jitter_ms_max, t->jitter_ms_max);
      rx[k].frames += t->frames;
      rx[k].keyframes += t->keyframes;
      rx[k].freezes += t->freezes;
      rx[k].freeze_us += t->freeze_us;
      if (r->subscribes && t->packets == 0)
        without[k]++;
      tx.packets[k] += r->tx.packets[k];
      tx.bytes[k] += r->tx.bytes[k];
      tx.frames[k] += r->tx.frames[k];
    }
    tx.sender_reports += r->tx.sender_reports;
    tx.keyframe_requests += r->tx.keyframe_requests;
    tx.keyframes_sent += r->tx.keyframes_sent;
    tx.late_frames += r->tx.late_frames;
    tx.send_failed += r->tx.send_failed;
    tx.sending_us += r->tx.sending_us;
    srtp_failed += r->srtp_failed;
    unknown += r->rx_unknown;
  }

  json_t *o =
      json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:o, s:o}", "count", (json_int_t)plan->planned,
                "started", (json_int_t)started, "joined", (json_int_t)joined, "failed",
                (json_int_t)failed, "connected", (json_int_t)connected, "failed_by_stage", by_stage,
                "pending", (json_int_t)pending, "pending_by_stage", pending_by_stage, "join_ms",
                distribution(d.join_ms));
  if (role->publish_audio || role->publish_video) {
    json_object_set_new(o, "publish_connected_ms", distribution(d.pub_ms));
    json_t *sent = json_object();
    for (guint k = 0; k < LOAD_KIND_N; k++) {
      gboolean has = k == LOAD_KIND_AUDIO ? role->publish_audio : role->publish_video;
      if (!has)
        continue;
      /* RTP bytes (headers included) over the publishers' sending time. */
      double sending_s = (double)tx.sending_us / G_USEC_PER_SEC;
      double kbps = sending_s > 0 ? tx.bytes[k] * 8.0 / 1000.0 / sending_s : 0;
      json_object_set_new(sent, load_kind_to_string(k),
                          json_pack("{s:I, s:I, s:I, s:f}", "packets", (json_int_t)tx.packets[k],
                                    "bytes", (json_int_t)tx.bytes[k], "frames",
                                    (json_int_t)tx.frames[k], "kbps_per_publisher", round2(kbps)));
    }
    json_object_set_new(sent, "sender_reports", json_integer((json_int_t)tx.sender_reports));
    json_object_set_new(sent, "keyframe_requests", json_integer((json_int_t)tx.keyframe_requests));
    json_object_set_new(sent, "keyframes_sent", json_integer((json_int_t)tx.keyframes_sent));
    json_object_set_new(sent, "late_frames", json_integer((json_int_t)tx.late_frames));
    json_object_set_new(sent, "send_failed", json_integer((json_int_t)tx.send_failed));
    json_object_set_new(o, "sent", sent);
  }
  if (role->subscribe) {
    json_object_set_new(o, "subscribe_connected_ms", distribution(d.sub_ms));
    json_object_set_new(o, "first_packet_ms", distribution(d.first_packet_ms));
    json_object_set_new(o, "first_audio_ms", distribution(d.first_audio_ms));
    json_object_set_new(o, "first_video_ms", distribution(d.first_video_ms));
    json_object_set_new(o, "first_keyframe_ms", distribution(d.first_keyframe_ms));
    guint64 packets = rx[0].packets + rx[1].packets;
    guint64 expected = rx[0].expected + rx[1].expected;
    guint64 lost = rx[0].lost + rx[1].lost;
    json_t *received = json_pack(
        "{s:o, s:o, s:I, s:I, s:f, s:I, s:I}", "audio",
        rx_kind_json(&rx[LOAD_KIND_AUDIO], LOAD_KIND_AUDIO, without[LOAD_KIND_AUDIO]), "video",
        rx_kind_json(&rx[LOAD_KIND_VIDEO], LOAD_KIND_VIDEO, without[LOAD_KIND_VIDEO]), "packets",
        (json_int_t)packets, "lost", (json_int_t)lost, "loss_pct", percent(lost, expected),
        "srtp_failed", (json_int_t)srtp_failed, "unknown", (json_int_t)unknown);
    json_object_set_new(o, "received", received);
  }
  for (guint i = 0; i < G_N_ELEMENTS(all); i++)
    g_array_unref(*all[i]);
  return o;
}

static json_t *
cpu_json(const LoadCpuWindow *w)
{
  if (!w->valid || w->wall_s <= 0)
    return json_null();
  return json_pack("{s:f, s:f, s:f}", "cpu_s", round2(w->cpu_s), "wall_s", round2(w->wall_s),
                   "percent", round2(100.0 * w->cpu_s / w->wall_s));
}

static json_t *
media_json(const LoadShared *shared)
{
  if (shared == NULL)
    return json_null();
  json_t *o = json_object();
  if (shared->audio)
    json_object_set_new(o, "audio",
                        json_pack("{s:s, s:I, s:f, s:I, s:I}", "codec", "opus", "ptime_ms",
                                  (json_int_t)(shared->audio->frame_interval_us / 1000), "kbps",
                                  round2(load_clip_kbps(shared->audio)), "frames",
                                  (json_int_t)shared->audio->n_frames, "dtx_frames",
                                  (json_int_t)shared->audio->n_silent));
  json_t *layers = json_array();
  for (guint l = 0; l < shared->n_video_layers; l++) {
    const LoadClip *c = shared->video[l];
    if (c == NULL)
      continue;
    json_array_append_new(
        layers, json_pack("{s:s?, s:I, s:I, s:I, s:f, s:I, s:I}", "rid",
                          shared->simulcast ? shared->rids[l] : NULL, "width", (json_int_t)c->width,
                          "height", (json_int_t)c->height, "target_kbps", (json_int_t)c->kbps,
                          "kbps", round2(load_clip_kbps(c)), "frames", (json_int_t)c->n_frames,
                          "keyframes", (json_int_t)c->n_keyframes));
  }
  json_object_set_new(o, "video", layers);
  return o;
}

gboolean
load_lag_overloaded(const LoadLag *lag)
{
  /* More than 1 % of wakeups over 10 ms late: receive timestamps are off
   * by as much, which is the size of the jitter we measure. */
  return lag->wakeups > 0 && lag->late_over_10ms * 100 > lag->wakeups;
}

json_t *
load_report_build(const LoadReportInput *in)
{
  json_t *errors = json_array();
  for (guint i = 0; in->errors && i < in->errors->len; i++)
    json_array_append_new(errors, json_string(g_ptr_array_index(in->errors, i)));
  json_t *roles = json_object();
  json_t *failures = json_array();
  guint listed = 0;
  guint planned = 0;
  for (guint i = 0; i < in->n_plans; i++) {
    planned += in->plans[i].planned;
    json_object_set_new(roles, in->plans[i].role->name,
                        role_json(&in->plans[i], in->results, failures, &listed));
  }
  guint joined = 0, failed = 0;
  for (guint i = 0; in->results && i < in->results->len; i++) {
    const LoadResult *r = g_ptr_array_index(in->results, i);
    joined += r->joined;
    failed += r->failed;
  }
  json_t *report = json_pack(
      "{s:s, s:s, s:s, s:s, s:I, s:f, s:b, s:b, s:s, s:f, s:o, s:{s:I, s:I, s:I}, s:o, s:o}",
      "tool", "chorus-load", "status", in->status, "scenario", in->scenario, "url", in->url,
      "threads", (json_int_t)in->threads, "duration_s", in->duration_s, "simulcast", in->simulcast,
      "dtx", in->dtx, "quality", in->quality, "elapsed_s", round2(in->elapsed_s), "errors", errors,
      "participants", "planned", (json_int_t)planned, "joined", (json_int_t)joined, "failed",
      (json_int_t)failed, "roles", roles, "failures", failures);
  json_object_set_new(report, "room", in->room ? json_string(in->room) : json_null());
  json_object_set_new(report, "media", media_json(in->shared));
  json_object_set_new(report, "cpu",
                      json_pack("{s:o, s:o}", "chorus_load", cpu_json(&in->self_cpu), "server",
                                cpu_json(&in->server_cpu)));
  double late_mean_ms =
      in->lag.wakeups ? (double)in->lag.late_sum_us / in->lag.wakeups / 1000.0 : 0;
  json_object_set_new(report, "chorus_load_health",
                      json_pack("{s:I, s:f, s:f, s:f, s:b}", "wakeups", (json_int_t)in->lag.wakeups,
                                "late_ms_mean", round2(late_mean_ms), "late_ms_max",
                                round2(in->lag.late_max_us / 1000.0), "late_over_10ms_pct",
                                percent(in->lag.late_over_10ms, in->lag.wakeups), "overloaded",
                                load_lag_overloaded(&in->lag)));
  json_object_set_new(report, "server_counters",
                      in->server_counters ? json_incref(in->server_counters) : json_null());
  return report;
}

/* ---- table ---------------------------------------------------------------------- */

static double
dist_get(json_t *role, const char *key, const char *stat)
{
  json_t *v = json_object_get(json_object_get(role, key), stat);
  return v ? json_number_value(v) : -1;
}

static void
print_dist(FILE *out, json_t *role, const char *key)
{
  double p50 = dist_get(role, key, "p50"), p95 = dist_get(role, key, "p95"),
         max = dist_get(role, key, "max");
  if (p50 < 0) {
    fprintf(out, " %20s", "-");
    return;
  }
  char buf[64];
  g_snprintf(buf, sizeof(buf), "%.0f/%.0f/%.0f", p50, p95, max);
  fprintf(out, " %20s", buf);
}

void
load_report_print_table(FILE *out, json_t *report)
{
  fprintf(out, "\nchorus-load %s: %s, %s, %.1f s\n",
          json_string_value(json_object_get(report, "scenario")),
          json_string_value(json_object_get(report, "status")),
          json_string_value(json_object_get(report, "url")),
          json_number_value(json_object_get(report, "elapsed_s")));
  fprintf(out, "%-12s %6s %6s %6s %6s %6s %20s %20s %20s\n", "role", "count", "joined", "failed",
          "pend", "conn", "join ms p50/95/max", "connect ms", "1st keyframe ms");
  const char *name;
  json_t *role;
  json_object_foreach(json_object_get(report, "roles"), name, role)
  {
    fprintf(out, "%-12s %6lld %6lld %6lld %6lld %6lld", name,
            (long long)json_integer_value(json_object_get(role, "count")),
            (long long)json_integer_value(json_object_get(role, "joined")),
            (long long)json_integer_value(json_object_get(role, "failed")),
            (long long)json_integer_value(json_object_get(role, "pending")),
            (long long)json_integer_value(json_object_get(role, "connected")));
    print_dist(out, role, "join_ms");
    print_dist(out, role,
               json_object_get(role, "subscribe_connected_ms") ? "subscribe_connected_ms"
                                                               : "publish_connected_ms");
    print_dist(out, role, "first_keyframe_ms");
    fprintf(out, "\n");
  }
  fprintf(out, "%-12s %5s %10s %8s %8s %8s %8s %9s\n", "role", "kind", "packets", "loss %",
          "jit ms", "jit max", "freezes", "sent pkts");
  json_object_foreach(json_object_get(report, "roles"), name, role)
  {
    for (guint k = 0; k < LOAD_KIND_N; k++) {
      const char *kind = load_kind_to_string(k);
      json_t *rx = json_object_get(json_object_get(role, "received"), kind);
      json_t *tx = json_object_get(json_object_get(role, "sent"), kind);
      if (rx == NULL && tx == NULL)
        continue;
      fprintf(out, "%-12s %5s", name, kind);
      if (rx)
        fprintf(out, " %10lld %8.2f %8.2f %8.2f %8lld",
                (long long)json_integer_value(json_object_get(rx, "packets")),
                json_number_value(json_object_get(rx, "loss_pct")),
                json_number_value(json_object_get(rx, "jitter_ms_mean")),
                json_number_value(json_object_get(rx, "jitter_ms_max")),
                (long long)json_integer_value(json_object_get(rx, "freezes")));
      else
        fprintf(out, " %10s %8s %8s %8s %8s", "-", "-", "-", "-", "-");
      if (tx)
        fprintf(out, " %9lld", (long long)json_integer_value(json_object_get(tx, "packets")));
      fprintf(out, "\n");
    }
  }
  json_t *cpu = json_object_get(report, "cpu");
  json_t *self = json_object_get(cpu, "chorus_load"), *server = json_object_get(cpu, "server");
  if (json_is_object(self))
    fprintf(out, "CPU (steady window): chorus-load %.1f %%",
            json_number_value(json_object_get(self, "percent")));
  const char *target = json_string_value(json_object_get(report, "target"));
  if (json_is_object(server))
    fprintf(out, ", %s %.1f %%", target ? target : "chorus",
            json_number_value(json_object_get(server, "percent")));
  if (json_is_object(self))
    fprintf(out, " (100 %% = one core)\n");
  if (json_is_true(json_object_get(json_object_get(report, "chorus_load_health"), "overloaded")))
    fprintf(out, "warning: chorus-load itself ran late (see chorus_load_health): its jitter and "
                 "join times include its own delays; use more --threads or another machine\n");
  json_t *errors = json_object_get(report, "errors");
  size_t i;
  json_t *e;
  json_array_foreach(errors, i, e) fprintf(out, "error: %s\n", json_string_value(e));
}
