# shellcheck shell=bash disable=SC2154
# Shared plumbing of the room benchmarks (bench-voice.sh, bench-live.sh):
# sourced, not run. One fresh Chorus per size inside a loopback-only
# network namespace, chorus-load driving it, the server's CPU sampled from
# /proc/PID/stat over a steady window that starts once every participant's
# PeerConnections are up, /metrics counters over the same window, and a
# table of every size at the end.
#
# A script sets bench_name (for messages) and then calls, in order:
#   bench_init "$0" "$@"     parse the common flags (below), build, and
#                            re-exec inside a private network namespace
#   bench_run_sizes FUNC     every size in order (FUNC SIZE prints the
#                            chorus-load arguments for it, one per line):
#                            fresh server, chorus-load, steady window; stops
#                            after the first size that fails badly
#   bench_print_table        every size, and the largest that held
#
# Common flags (a script takes its own in bench_extra_flag FLAG VALUE: it
# sets its variables and bench_shift to the words it took, 0 if unknown):
#   --sizes "100 300 1000"  subscriber counts, in order; stops at the first
#                           size that fails badly
#   --window S              steady window in seconds (15)
#   --ramp R                joins per second (chorus-load's --ramp, 50)
#   --threads T             chorus-load threads (2)
#   --max-loss PCT          a size fails badly above this loss (5)
#   --max-failed PCT        ... or when more than this share of the
#                           subscribers failed or never connected (1)
#   --keep DIR              keep configs, logs and reports there
# Environment: CHORUS_BUILD_DIR (default build/), CHORUS_BENCH_LOG_LEVEL
# (the server's [log] level, default warning; `trace` with
# NICE_DEBUG=nice also logs libnice's ICE and consent checks).

bench_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench_sizes="100 300 1000"
bench_window_s=15
bench_ramp=50
bench_threads=2
bench_max_loss=5
bench_max_failed=1
bench_keep=""
# chorus-load's steady phase begins when the last participant is started;
# their PeerConnections come up after that, within this many seconds or the
# window starts anyway (and the table says so).
bench_settle_s=20

bench_usage() {
  echo "usage: $0 [--sizes \"N...\"] [--window S] [--ramp R] [--threads T] [--max-loss PCT]" \
    "[--max-failed PCT] [--keep DIR]${bench_usage_extra:+ $bench_usage_extra}" >&2
  exit 2
}

bench_init() {
  local self="$1"
  shift
  local all=("$@")
  while [ $# -gt 0 ]; do
    case "$1" in
      --sizes | --window | --ramp | --threads | --max-loss | --max-failed | --keep)
        [ $# -ge 2 ] || bench_usage ;;&
      --sizes) bench_sizes="$2"; shift 2 ;;
      --window) bench_window_s="$2"; shift 2 ;;
      --ramp) bench_ramp="$2"; shift 2 ;;
      --threads) bench_threads="$2"; shift 2 ;;
      --max-loss) bench_max_loss="$2"; shift 2 ;;
      --max-failed) bench_max_failed="$2"; shift 2 ;;
      --keep) bench_keep="$2"; shift 2 ;;
      *)
        bench_shift=0
        declare -F bench_extra_flag >/dev/null && bench_extra_flag "$1" "${2:-}"
        [ "$bench_shift" -gt 0 ] || bench_usage
        [ $# -ge "$bench_shift" ] || bench_usage
        shift "$bench_shift"
        ;;
    esac
  done
  for s in $bench_sizes; do
    [ "$s" -gt 0 ] 2>/dev/null || { echo "$bench_name: --sizes wants positive counts" >&2; exit 2; }
  done

  if [ "${CHORUS_BENCH_IN_NETNS:-}" != 1 ]; then
    # Outside the namespace (it has no network): the build, then re-exec.
    if [ "$(id -u)" != 0 ] || ! unshare --net true 2>/dev/null; then
      echo "$bench_name: needs root and network namespaces (unshare --net): media stays on a" \
        "private loopback" >&2
      exit 1
    fi
    local build="${CHORUS_BUILD_DIR:-$bench_root/build}"
    [ -f "$build/build.ninja" ] ||
      { bash "$bench_root/scripts/setup.sh"; meson setup "$build" "$bench_root" >/dev/null; }
    ninja -C "$build" >/dev/null || { echo "$bench_name: the build failed" >&2; exit 1; }
    [ -x "$build/tools/chorus-load/chorus-load" ] ||
      { echo "$bench_name: chorus-load was not built (libopus-dev, libvpx-dev)" >&2; exit 1; }
    [ -n "$bench_keep" ] && bench_keep_abs="$(mkdir -p "$bench_keep" && cd "$bench_keep" && pwd)"
    # What was built, for the table (the tree may move during a long run).
    local rev
    rev=$(git -C "$bench_root" rev-parse --short HEAD 2>/dev/null || echo "?")
    git -C "$bench_root" diff --quiet HEAD 2>/dev/null || rev="$rev + uncommitted changes"
    exec unshare --net env CHORUS_BENCH_IN_NETNS=1 CHORUS_BUILD_DIR="$build" \
      CHORUS_BENCH_KEEP="${bench_keep_abs:-}" CHORUS_BENCH_REV="$rev" \
      sh -c 'ip link set lo up && exec "$@"' sh bash "$self" "${all[@]}"
  fi

  bench_build="$CHORUS_BUILD_DIR"
  bench_tmp=$(mktemp -d)
  bench_out="${CHORUS_BENCH_KEEP:-$bench_tmp}"
  bench_server=""
  bench_load=""
  bench_rows="$bench_tmp/rows.jsonl"
  : > "$bench_rows"
  trap 'bench_stop_load; bench_chorus_stop; rm -rf "$bench_tmp"' EXIT
  # One PeerConnection is a few sockets on each side: room for 1000+.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

bench_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

bench_chorus_start() { # run name
  bench_port=$(bench_free_port)
  cat > "$bench_out/chorus-$1.conf" <<EOC
[signaling]
listen_address = 127.0.0.1
port = $bench_port
[media]
interfaces = 127.0.0.1
[plugins]
directory = $bench_build/plugins
[log]
level = ${CHORUS_BENCH_LOG_LEVEL:-warning}
EOC
  "$bench_build/src/chorus" --dev --config "$bench_out/chorus-$1.conf" 2> "$bench_out/chorus-$1.log" &
  bench_server=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$bench_port/health" >/dev/null && break
    sleep 0.05
  done
  curl -sf "http://127.0.0.1:$bench_port/health" >/dev/null ||
    { echo "$bench_name: chorus did not start" >&2; tail -20 "$bench_out/chorus-$1.log" >&2; exit 1; }
  bench_url="ws://127.0.0.1:$bench_port/ws"
}

bench_chorus_stop() {
  if [ -n "${bench_server:-}" ]; then
    kill "$bench_server" 2>/dev/null || true
    wait "$bench_server" 2>/dev/null || true
    bench_server=""
  fi
}

bench_stop_load() {
  if [ -n "${bench_load:-}" ]; then
    kill "$bench_load" 2>/dev/null || true
    wait "$bench_load" 2>/dev/null || true
    bench_load=""
  fi
}

# utime + stime in clock ticks (fields 14 and 15, counted after the ')'
# that ends the command name).
bench_ticks() {
  sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

# Busy and total ticks of all CPUs (/proc/stat): what everybody on the
# machine used, to tell how much other work shared the cores.
bench_machine_ticks() {
  awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6; exit }' /proc/stat
}

# The last progress line of chorus-load ("[ 12.0 s] steady  joined 103/103
# failed 0 connected 103 ..."): phase, planned, failed, connected.
bench_progress() {
  grep -a '^\[ *[0-9.]* s\]' "$1" 2>/dev/null | tail -1 |
    sed -n 's/^\[ *[0-9.]* s\] *\([a-z]*\) *joined [0-9]*\/\([0-9]*\) failed \([0-9]*\) connected \([0-9]*\).*/\1 \2 \3 \4/p'
}

# UDP datagrams in, dropped at a full receive buffer, and send errors,
# for the whole namespace (/proc/net/snmp is per network namespace): loss
# that a reader too slow to drain its socket caused shows up here.
bench_udp() {
  awk '/^Udp:/ { n++; if (n == 1) for (i = 2; i <= NF; i++) col[$i] = i;
                 else print $col["InDatagrams"], $col["RcvbufErrors"], $col["SndbufErrors"] }' /proc/net/snmp
}

# Receive-buffer drops of one process's UDP sockets since they opened
# (/proc/net/udp "drops", matched to the process by socket inode): total,
# sockets with drops, the most on one socket. Tells a starved server
# (drops on its publisher sockets) from a starved chorus-load.
bench_udp_drops() { # pid
  python3 - "$1" <<'EOP' 2>/dev/null || echo "0 0 0"
import os, sys
pid = sys.argv[1]
drops = {}
for table in ("/proc/net/udp", "/proc/net/udp6"):
    try:
        lines = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for line in lines:
        f = line.split()
        drops[f[9]] = int(f[-1])
mine = []
for fd in os.listdir("/proc/%s/fd" % pid):
    try:
        link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
    except OSError:
        continue
    if link.startswith("socket:[") and link[8:-1] in drops:
        mine.append(drops[link[8:-1]])
hit = [d for d in mine if d > 0]
print(sum(hit), len(hit), max(hit) if hit else 0)
EOP
}

bench_sample() { # file: the window's edges
  {
    echo "udp $(bench_udp)"
    echo "drops_server $(bench_udp_drops "$bench_server")"
    echo "drops_load $(bench_udp_drops "$bench_load")"
    echo "time $(date +%s.%N)"
    echo "server $(bench_ticks "$bench_server")"
    echo "load $(bench_ticks "$bench_load")"
    echo "machine $(bench_machine_ticks)"
  } > "$1"
  curl -sf "http://127.0.0.1:$bench_port/metrics" > "$1.metrics" || : > "$1.metrics"
}

# One size: bench_size_run SIZE SCENARIO-ARGS... (chorus-load arguments
# without --url/--duration). Appends a row; returns 1 when the size failed
# badly (then the script stops increasing).
bench_size_run() {
  local size="$1"
  shift
  local run="$bench_name-$size"
  echo "udp $(bench_udp)" > "$bench_tmp/r0"
  bench_chorus_start "$run"
  local report="$bench_out/report-$run.json" log="$bench_out/load-$run.log"
  # chorus-load's --duration counts from its last participant's start: the
  # settling, the window and a margin fit in it.
  local duration=$((bench_settle_s + 2 + bench_window_s + 3))
  echo "$bench_name: size $size: chorus pid $bench_server, chorus-load $* --ramp $bench_ramp" \
    "--threads $bench_threads" >&2
  "$bench_build/tools/chorus-load/chorus-load" --url "$bench_url" --duration "$duration" \
    --ramp "$bench_ramp" --threads "$bench_threads" --server-pid "$bench_server" "$@" \
    > "$report" 2> "$log" &
  bench_load=$!

  # Settle: chorus-load in its steady phase (all started) and every
  # participant connected or failed; or bench_settle_s after that.
  local settled=false steady_since="" p phase planned failed connected now
  while kill -0 "$bench_load" 2>/dev/null; do
    p=$(bench_progress "$log")
    if [ -n "$p" ]; then
      read -r phase planned failed connected <<< "$p"
      if [ "$phase" = steady ]; then
        now=$(date +%s)
        steady_since=${steady_since:-$now}
        if [ $((failed + connected)) -ge "$planned" ]; then
          settled=true
          break
        fi
        [ $((now - steady_since)) -ge "$bench_settle_s" ] && break
      fi
    fi
    sleep 0.5
  done
  local in_window=false
  if kill -0 "$bench_load" 2>/dev/null; then
    sleep 2
    bench_sample "$bench_tmp/w0"
    sleep "$bench_window_s"
    bench_sample "$bench_tmp/w1"
    in_window=true
    p=$(bench_progress "$log")
    echo "$bench_name: size $size: window done (${p:-no progress line})" >&2
  fi
  local rc=0
  wait "$bench_load" || rc=$?
  bench_load=""
  bench_chorus_stop
  echo "udp $(bench_udp)" > "$bench_tmp/r1"
  [ "$rc" = 0 ] || { echo "$bench_name: size $size: chorus-load exit $rc:" >&2; grep -av '^\[' "$log" | tail -5 >&2; }
  bench_py row --name "$bench_name" --size "$size" \
    --report "$report" --w0 "$bench_tmp/w0" --w1 "$bench_tmp/w1" --r0 "$bench_tmp/r0" \
    --r1 "$bench_tmp/r1" --in-window "$in_window" \
    --settled "$settled" --exit "$rc" --max-loss "$bench_max_loss" --max-failed "$bench_max_failed" \
    --hz "$(getconf CLK_TCK)" --rows "$bench_rows"
}

bench_print_table() {
  bench_py table --name "$bench_name" --rows "$bench_rows" \
    --window "$bench_window_s" --ramp "$bench_ramp" --threads "$bench_threads" \
    --max-loss "$bench_max_loss" --max-failed "$bench_max_failed"
  [ -n "${CHORUS_BENCH_KEEP:-}" ] && echo "$bench_name: configs, logs and reports kept in $CHORUS_BENCH_KEEP" >&2
  return 0
}

# The sizes in order, stopping after the first that failed badly.
bench_run_sizes() { # scenario-args-function: prints chorus-load args for a size, one per line
  local size args
  for size in $bench_sizes; do
    mapfile -t args < <("$1" "$size")
    if ! bench_size_run "$size" "${args[@]}"; then
      echo "$bench_name: size $size failed badly: not trying larger sizes" >&2
      break
    fi
    rm -f "$bench_tmp"/w0* "$bench_tmp"/w1* "$bench_tmp"/r0 "$bench_tmp"/r1
  done
}

# The figures: `row` reads one size's report and window samples, prints
# them, appends a row and exits 1 when the size failed badly; `table`
# prints every row.
bench_py() {
  python3 - "$@" <<'EOP'
import argparse, json, os, platform, sys

ap = argparse.ArgumentParser()
ap.add_argument("what")
for flag in ("name", "size", "report", "w0", "w1", "r0", "r1", "in-window", "settled", "exit", "max-loss",
             "max-failed", "hz", "rows", "window", "ramp", "threads"):
    ap.add_argument("--" + flag)
a = ap.parse_args()

def num(v, fmt="%.0f"):
    return fmt % v if isinstance(v, (int, float)) and v == v else "-"

def pair(d, key, fmt="%.0f"):
    dd = d.get(key) or {}
    return "%s/%s" % (num(dd.get("p50"), fmt), num(dd.get("p95"), fmt))

if a.what == "table":
    rows = [json.loads(l) for l in open(a.rows) if l.strip()]
    if not rows:
        print("%s: no size ran" % a.name)
        sys.exit(0)
    try:
        cpu_model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                         if l.startswith("model name"))
    except StopIteration:
        cpu_model = "?"
    rev = os.environ.get("CHORUS_BENCH_REV") or "?"
    r0 = rows[0]
    print()
    print("%s: %s" % (a.name, r0["what"]))
    print("machine: %d cores, %s, kernel %s; chorus %s; chorus-load %s threads, "
          "ramp %s joins/s; steady window %s s after every PeerConnection was up"
          % (os.cpu_count(), cpu_model, platform.release(), rev, a.threads, a.ramp, a.window))
    sub = r0["sub_label"]
    head = ("size", "joined/failed/conn", "chorus CPU %", "us/s per " + sub, "fwd pkt/s",
            "pkt/s per " + sub, "loss % win/run", r0["join_label"] + " p50/p95 ms",
            "load CPU %", "others CPU %", "UDP drop %", "verdict")
    fmt = "%6s %18s %12s %14s %10s %14s %14s %26s %16s %12s %10s  %s"
    print(fmt % head)
    for r in rows:
        load = num(r["load_cpu"])
        if r["overloaded"]:
            load += " (late)"
        print(fmt % (r["size"], "%d/%d/%d" % (r["joined"], r["failed"], r["connected"]),
                     num(r["server_cpu"]), num(r["us_per_sub"]), num(r["fwd_pps"]),
                     num(r["pps_per_sub"]), "%s/%s" % (num(r["loss_win"], "%.2f"), num(r["loss_run"], "%.2f")),
                     r["join"], load, num(r["others_cpu"]), num(r.get("udp_drop_pct_win"), "%.2f"),
                     r["verdict"]))
    held = [r["size"] for r in rows if r["bad"] is None]
    bad = [r for r in rows if r["bad"] is not None]
    if bad:
        print("%s; at %s: %s"
              % ("the machine held up to %s %ss" % (held[-1], sub) if held else "no size held",
                 bad[0]["size"], bad[0]["bad"]))
    else:
        print("every size held (%s)" % ", ".join(str(r["size"]) for r in rows))
    if any(r["overloaded"] or r["saturated"] for r in rows):
        print("chorus-load shares the 2 cores with chorus: where it ran late ('late': over 1 % of "
              "its wakeups >10 ms late) or both cores were busy, its loss, jitter and join times "
              "include its own delays, and chorus's CPU figures are those of a starved process")
    print("CPU in % of one core over the window; 'others': every other process on the machine "
          "(it is shared) in the same window")
    print("us/s per %s: chorus CPU microseconds per second per %s; fwd pkt/s: "
          "chorus_media_rtp_forwarded_total over the window; loss: subscribers' RTP loss in "
          "chorus-load's steady window / whole run; UDP drop: datagrams the kernel dropped at a "
          "full socket receive buffer in the window (a starved reader, chorus or chorus-load)"
          % (sub, sub))
    sys.exit(0)

# ---- one size ------------------------------------------------------------------------
hz = float(a.hz)
size = int(a.size)
try:
    rep = json.load(open(a.report))
except (OSError, ValueError) as e:
    rep = {"status": "no report (%s)" % e}

def sample(path):
    out = {}
    try:
        for line in open(path):
            f = line.split()
            out[f[0]] = [float(x) for x in f[1:]]
    except OSError:
        pass
    m = {}
    try:
        for line in open(path + ".metrics"):
            if line.startswith("#") or not line.strip():
                continue
            k, _, v = line.rpartition(" ")
            m[k] = float(v)
    except OSError:
        pass
    return out, m

roles = rep.get("roles") or {}
scenario = rep.get("scenario", "?")
sub_role, pub_role = ("listener", "speaker") if scenario == "voice" else ("viewer", "host")
subr, pubr = roles.get(sub_role) or {}, roles.get(pub_role) or {}

w = {"server_cpu": float("nan"), "load_cpu": float("nan"), "others_cpu": float("nan"),
     "fwd_pps": float("nan"), "rx_pps": float("nan"), "wall": float("nan")}
counters = {}
if a.in_window == "true":
    (s0, m0), (s1, m1) = sample(a.w0), sample(a.w1)
    wall = s1["time"][0] - s0["time"][0]
    ncpu = os.cpu_count() or 1
    cpu = lambda k: 100.0 * (s1[k][0] - s0[k][0]) / hz / wall if k in s0 and k in s1 and s0[k] and s1[k] else float("nan")
    w["wall"] = wall
    w["server_cpu"], w["load_cpu"] = cpu("server"), cpu("load")
    if s0.get("machine") and s1.get("machine"):
        busy = s1["machine"][0] - s0["machine"][0]
        total = s1["machine"][1] - s0["machine"][1]
        machine = 100.0 * ncpu * busy / total if total > 0 else float("nan")
        w["machine_cpu"] = machine
        w["others_cpu"] = max(0.0, machine - w["server_cpu"] - w["load_cpu"])
    d = lambda k: m1.get(k, 0) - m0.get(k, 0)
    w["fwd_pps"] = d("chorus_media_rtp_forwarded_total") / wall
    w["rx_pps"] = d("chorus_media_rtp_received_total") / wall
    for k in ("chorus_media_send_failed_total", "chorus_media_peers_failed_total",
              "chorus_media_nacks_received_total", "chorus_media_retransmitted_total",
              "chorus_media_keyframe_requests_total"):
        counters[k.replace("chorus_media_", "").replace("_total", "")] = d(k)
    counters["peers_connected"] = m1.get("chorus_media_peers_connected", float("nan"))
    # Signaling since the server started (one fresh server per size): the
    # joins' notifications to everyone else in the room are most of it.
    w["messages_sent"] = m1.get("chorus_messages_sent_total", float("nan"))
    w["drops_server"], w["drops_load"] = s1.get("drops_server"), s1.get("drops_load")
    if s0.get("udp") and s1.get("udp"):
        w["udp_in"] = s1["udp"][0] - s0["udp"][0]
        w["udp_rcvbuf_drops"] = s1["udp"][1] - s0["udp"][1]
run_udp = None
r0, _ = sample(a.r0)
r1, _ = sample(a.r1)
if r0.get("udp") and r1.get("udp"):
    run_udp = [r1["udp"][i] - r0["udp"][i] for i in range(3)]

count = subr.get("count", size)
joined, failed, connected = subr.get("joined", 0), subr.get("failed", 0), subr.get("connected", 0)
pub_bad = pubr.get("count", 0) - pubr.get("connected", 0)  # connected excludes the failed
received = subr.get("received") or {}
steady = rep.get("steady") or {}
loss_win = steady.get("rx_loss_pct", float("nan"))
loss_run = received.get("loss_pct", float("nan"))
health = rep.get("chorus_load_health") or {}
overloaded = bool(health.get("overloaded"))
# Both cores busy (whoever used them): every process waited for a core.
saturated = w.get("machine_cpu", 0) >= 90.0 * (os.cpu_count() or 1)
if scenario == "voice":
    join_key, join_label = "first_audio_ms", "join->1st audio"
    join = pair(subr, "first_audio_ms")
else:
    join_key, join_label = "first_keyframe_ms", "join->1st pkt / keyframe"
    join = "%s  %s" % (pair(subr, "first_packet_ms"), pair(subr, "first_keyframe_ms"))

not_up = count - connected
bad = None
if a.in_window != "true":
    bad = "chorus-load ended before the steady window (exit %s, %s)" % (a.exit, rep.get("status"))
elif "roles" not in rep:
    bad = "no report (%s)" % rep.get("status")
elif 100.0 * not_up / max(count, 1) > float(a.max_failed):
    bad = "%d of %d %ss failed or never connected (%s; pending: %s)" % (
        not_up, count, sub_role, json.dumps(subr.get("failed_by_stage") or {}),
        json.dumps(subr.get("pending_by_stage") or {}))
elif pub_bad > 0:
    bad = "%d %s(s) failed or never connected" % (pub_bad, pub_role)
elif loss_win == loss_win and loss_win > float(a.max_loss):
    bad = "%.1f %% loss in the steady window" % loss_win
verdict = "ok" if bad is None else "FAILED"
if bad is None and overloaded:
    verdict = "ok, chorus-load late"
elif bad is None and saturated:
    verdict = "ok, cores saturated"

us_per_sub = w["server_cpu"] / 100.0 * 1e6 / size if size else float("nan")
row = {
    "size": size, "status": rep.get("status"), "joined": joined, "failed": failed,
    "connected": connected, "server_cpu": w["server_cpu"], "us_per_sub": us_per_sub,
    "fwd_pps": w["fwd_pps"], "pps_per_sub": w["fwd_pps"] / size if size else float("nan"),
    "loss_win": loss_win, "loss_run": loss_run, "join": join, "join_label": join_label,
    "load_cpu": w["load_cpu"], "others_cpu": w["others_cpu"], "overloaded": overloaded,
    "saturated": saturated, "bad": bad,
    "udp_drops_win": w.get("udp_rcvbuf_drops", float("nan")),
    "udp_drop_pct_win": 100.0 * w["udp_rcvbuf_drops"] / max(w["udp_in"], 1) if "udp_in" in w else float("nan"), "verdict": verdict, "sub_label": sub_role,
    "what": "",
}
if scenario == "voice":
    row["what"] = ("voice room, %s speakers (Opus 20 ms, speech with talk spurts, RFC 6464 levels) "
                   "-> N listeners, each on %s audio slots (chorus-load: one per speaker, up to 16)"
                   % (pubr.get("count", "?"), min(pubr.get("count", 3), 16)))
else:
    row["what"] = ("live room, %s host (Opus + VP8%s) -> N viewers, quality %s"
                   % (pubr.get("count", "?"), " simulcast q/h/f" if rep.get("simulcast") else "",
                      rep.get("quality", "?")))
with open(a.rows, "a") as f:
    f.write(json.dumps(row) + "\n")

print("%s, size %d: %s (chorus-load status %s, exit %s)" % (a.name, size, verdict, rep.get("status"), a.exit))
print("  %-46s %s/%s/%s of %s (pending %s)" % (sub_role + "s joined/failed/connected", joined, failed,
                                                connected, count, subr.get("pending", "?")))
if subr.get("failed_by_stage") or subr.get("pending_by_stage"):
    print("  %-46s %s %s" % ("  failed / pending by stage", json.dumps(subr.get("failed_by_stage")),
                             json.dumps(subr.get("pending_by_stage"))))
print("  %-46s %s/%s" % (pub_role + "s joined/connected", pubr.get("joined", "?"), pubr.get("connected", "?")))
print("  %-46s %s s%s" % ("steady window", num(w["wall"], "%.1f"),
                           "" if a.settled == "true" else " (started before every PeerConnection was up)"))
print("  %-46s %s %%" % ("chorus CPU (of one core)", num(w["server_cpu"], "%.1f")))
print("  %-46s %s us" % ("chorus CPU per %s per second" % sub_role, num(us_per_sub)))
print("  %-46s %s" % ("forwarded packets/s (received by chorus)", "%s (%s)" % (num(w["fwd_pps"]), num(w["rx_pps"]))))
if w["fwd_pps"] == w["fwd_pps"] and w["fwd_pps"] > 0:
    print("  %-46s %s us" % ("chorus CPU per forwarded packet", num(w["server_cpu"] / 100.0 * 1e6 / w["fwd_pps"], "%.1f")))
print("  %-46s %s / %s" % ("%s loss %% (steady window / run)" % sub_role, num(loss_win, "%.2f"), num(loss_run, "%.2f")))
for kind in ("audio", "video"):
    k = received.get(kind) or {}
    if k.get("packets"):
        extra = ""
        if kind == "video":
            extra = ", %s freezes (%s ms)" % (k.get("freezes"), k.get("freeze_ms"))
        print("  %-46s %s pkts, %s streams, jitter mean/max %s/%s ms, %s without%s" % (
            "  " + kind, k.get("packets"), k.get("streams"), k.get("jitter_ms_mean"),
            k.get("jitter_ms_max"), k.get("participants_without"), extra))
for key in ("join_ms", "subscribe_connected_ms", "first_packet_ms", "first_audio_ms", "first_keyframe_ms"):
    dd = subr.get(key) or {}
    if dd.get("n"):
        print("  %-46s %s/%s/%s (n %s)" % ("join -> " + ("reply" if key == "join_ms" else key[:-3].replace("_", " ")) + " p50/p95/max ms",
                                          num(dd.get("p50")), num(dd.get("p95")), num(dd.get("max")), dd.get("n")))
print("  %-46s %s %% (whole run: %s %%), %s %% of wakeups >10 ms late%s" % (
    "chorus-load CPU in the window", num(w["load_cpu"], "%.1f"),
    num(((rep.get("cpu") or {}).get("chorus_load") or {}).get("percent"), "%.1f"),
    health.get("late_over_10ms_pct", "?"), ": OVERLOADED" if overloaded else ""))
print("  %-46s %s %% (whole machine %s %% of %d cores)" % (
    "other processes' CPU in the window", num(w["others_cpu"], "%.1f"), num(w.get("machine_cpu"), "%.1f"),
    os.cpu_count() or 1))
if "udp_in" in w or run_udp:
    print("  %-46s window %s of %s in (%s %%), run %s of %s (%s %%); send errors %s" % (
        "UDP dropped at full receive buffers", num(w.get("udp_rcvbuf_drops")), num(w.get("udp_in")),
        num(100.0 * w["udp_rcvbuf_drops"] / max(w["udp_in"], 1), "%.2f") if "udp_in" in w else "-",
        num(run_udp[1]) if run_udp else "-", num(run_udp[0]) if run_udp else "-",
        num(100.0 * run_udp[1] / max(run_udp[0], 1), "%.2f") if run_udp else "-",
        num(run_udp[2]) if run_udp else "-"))
if w.get("drops_server") or w.get("drops_load"):
    ds, dl = w.get("drops_server") or [0, 0, 0], w.get("drops_load") or [0, 0, 0]
    print("  %-46s chorus %s on %s sockets (most on one: %s), chorus-load %s on %s sockets" % (
        "  by process, since start (at the window's end)", num(ds[0]), num(ds[1]), num(ds[2]),
        num(dl[0]), num(dl[1])))
if w.get("messages_sent") == w.get("messages_sent") and "messages_sent" in w:
    print("  %-46s %s (%s per %s)" % ("signaling messages sent by chorus, run so far",
                                      num(w["messages_sent"]), num(w["messages_sent"] / size), sub_role))
if counters:
    print("  %-46s %s" % ("chorus counters in the window", ", ".join("%s %s" % (k, num(v)) for k, v in counters.items())))
for e in (rep.get("errors") or [])[:3]:
    print("  error: %s" % e)
for fl in (rep.get("failures") or [])[:3]:
    print("  failure: %s %s at %s ms: %s" % (fl.get("identity"), fl.get("stage"), fl.get("at_ms"), fl.get("reason")))
if bad:
    print("  FAILED BADLY: %s" % bad)
sys.exit(1 if bad else 0)
EOP
}
