#!/usr/bin/env bash
# Chorus against the Debian `janus` package (VideoRoom plugin), same load,
# same run (issue #8). chorus-load drives the same publishers and
# subscribers, with the same media code, against each server in turn
# (janus, chorus, janus, chorus, ...; a fresh server process per run),
# speaking Janus's API through its adapter (--target janus). Prints, per
# run and as medians with ratios Chorus / Janus:
#   - server CPU per forwarded packet: utime+stime of the server process
#     (/proc/PID/stat) over chorus-load's steady window, divided by the RTP
#     packets the subscribers received in that window (the same count for
#     both servers);
#   - subscriber loss in the window and over the run;
#   - join time: subscriber join request -> PeerConnection connected, first
#     packet and first keyframe (median, p95).
#
#   scripts/bench-janus.sh [--hosts P] [--viewers N] [--duration S] [--rounds R]
#                          [--threads T] [--janus-event-loops N] [--keep DIR] [--no-build]
#
# Defaults: live scenario, 1 publisher (Opus + VP8 500 kbit/s), 50 viewers,
# 20 s, 2 rounds. --janus-event-loops N: Janus's `event_loops` (default 0:
# Janus's own default, one thread per handle). --keep DIR: keep configs,
# logs and the JSON reports there. --no-build: use $CHORUS_BUILD_DIR (default
# build/) as it is (the same binaries for several invocations while the
# tree changes).
#
# Network: everything stays inside a private network namespace (needs
# root). Janus leaves loopback interfaces out of ICE, so the namespace gets
# a veth pair with 198.18.0.1 (RFC 2544 benchmarking range): both servers
# and chorus-load use that address for media, signaling stays on
# 127.0.0.1, and no packet can leave the namespace. Traffic to a local
# address goes through the kernel's loopback path either way.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
hosts=1 viewers=50 duration=20 rounds=2 threads=2 event_loops="" keep="" build_it=true
usage() {
  echo "usage: $0 [--hosts P] [--viewers N] [--duration S] [--rounds R] [--threads T]" \
    "[--janus-event-loops N] [--keep DIR] [--no-build]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) hosts="$2"; shift 2 ;;
    --viewers) viewers="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --janus-event-loops) event_loops="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    --no-build) build_it=false; shift ;;
    *) usage ;;
  esac
done
args=(--hosts "$hosts" --viewers "$viewers" --duration "$duration" --rounds "$rounds"
  --threads "$threads")
[ -n "$event_loops" ] && args+=(--janus-event-loops "$event_loops")
[ -n "$keep" ] && args+=(--keep "$(mkdir -p "$keep" && cd "$keep" && pwd)")

media_ip=198.18.0.1

if [ "${CHORUS_BENCH_IN_NETNS:-}" != 1 ]; then
  # Outside the namespace (it has no network): packages and the build.
  if [ "$(id -u)" != 0 ] || ! unshare --net true 2>/dev/null; then
    echo "bench-janus: needs root and network namespaces (unshare --net): Janus gathers no" \
      "ICE candidate on loopback, and its media must not go out on a real interface" >&2
    exit 1
  fi
  if ! command -v janus >/dev/null 2>&1; then
    echo "bench-janus: installing the Debian janus package" >&2
    # Keep the package's system service from starting with the system
    # config during the install (the standard policy-rc.d mechanism).
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      policy=/usr/sbin/policy-rc.d
      printf '#!/bin/sh\nexit 101\n' > "$policy"
      chmod 755 "$policy"
    fi
    installed=true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q janus >&2 ||
      { DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q janus >&2; } || installed=false
    if [ -n "$policy" ]; then rm -f "$policy"; fi
    [ "$installed" = true ] || { echo "bench-janus: cannot install janus" >&2; exit 1; }
  fi
  build="${CHORUS_BUILD_DIR:-$root/build}"
  if [ "$build_it" = true ]; then
    [ -f "$build/build.ninja" ] || { bash "$root/scripts/setup.sh"; meson setup "$build" "$root" >/dev/null; }
    ninja -C "$build" >/dev/null
  fi
  [ -x "$build/src/chorus" ] && [ -x "$build/tools/chorus-load/chorus-load" ] ||
    { echo "bench-janus: no $build/src/chorus or chorus-load (chorus-load needs libopus-dev," \
      "libvpx-dev)" >&2; exit 1; }
  exec unshare --net env CHORUS_BENCH_IN_NETNS=1 CHORUS_BUILD_DIR="$build" \
    sh -c 'ip link set lo up && exec "$@"' sh "$0" "${args[@]}"
fi

build="$CHORUS_BUILD_DIR"
{ ip link add bench0 type veth peer name bench1 && ip addr add "$media_ip/32" dev bench0 &&
  ip link set bench0 up && ip link set bench1 up; } ||
  { echo "bench-janus: cannot make the veth pair for $media_ip in the namespace" >&2; exit 1; }

tmp=$(mktemp -d)
out="${keep:-$tmp}"
server=""
stop_server() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=""
  fi
}
trap 'stop_server; rm -rf "$tmp"' EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() { # port: until something accepts TCP there (5 s)
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# ---- Janus: a private config with only the VideoRoom plugin and the
# WebSocket transport, bound to 127.0.0.1; ICE on the namespace's veth
# address only, no STUN/TURN, no event handlers or loggers.
janus_lib=/usr/lib/x86_64-linux-gnu/janus
[ -d "$janus_lib" ] || janus_lib=$(dirname "$(dpkg -L janus | grep '/plugins/libjanus_videoroom.so$' | head -1)")/..
list_except() { # dir keep: the other .so files of dir, comma separated
  (cd "$1" && ls *.so 2>/dev/null | grep -v "^$2\$" | paste -sd, -)
}
janus_port=$(free_port)
jconf="$out/janus-conf"
mkdir -p "$jconf"
cat > "$jconf/janus.jcfg" <<EOC
general: {
  configs_folder = "$jconf"
  plugins_folder = "$janus_lib/plugins"
  transports_folder = "$janus_lib/transports"
  events_folder = "$janus_lib/events"
  loggers_folder = "$janus_lib/loggers"
  debug_level = 3
  session_timeout = 60
  $([ -n "$event_loops" ] && echo "event_loops = $event_loops")
}
media: {
}
nat: {
  nice_debug = false
  ice_enforce_list = "$media_ip"
  ignore_mdns = true
}
plugins: {
  disable = "$(list_except "$janus_lib/plugins" libjanus_videoroom.so)"
}
transports: {
  disable = "$(list_except "$janus_lib/transports" libjanus_websockets.so)"
}
loggers: {
  disable = "$(list_except "$janus_lib/loggers" none)"
}
events: {
  broadcast = false
  disable = "$(list_except "$janus_lib/events" none)"
}
EOC
cat > "$jconf/janus.transport.websockets.jcfg" <<EOC
general: {
  json = "compact"
  ws = true
  ws_port = $janus_port
  ws_ip = "127.0.0.1"
  wss = false
}
admin: {
  admin_ws = false
  admin_wss = false
}
EOC
# No rooms in the config: chorus-load creates its room through the API.
printf 'general: {\n}\n' > "$jconf/janus.plugin.videoroom.jcfg"

start_janus() {
  janus -F "$jconf" -C "$jconf/janus.jcfg" -o > "$out/janus-$1.log" 2>&1 &
  server=$!
  wait_port "$janus_port" || { echo "bench-janus: janus did not start (see its log)" >&2; tail -20 "$out/janus-$1.log" >&2; exit 1; }
  url="ws://127.0.0.1:$janus_port"
}

# ---- Chorus: dev mode, signaling on 127.0.0.1, media on the same address
# as Janus's.
chorus_port=$(free_port)
cat > "$out/chorus.conf" <<EOC
[signaling]
listen_address = 127.0.0.1
port = $chorus_port
[media]
interfaces = $media_ip
[plugins]
directory = $build/plugins
[log]
level = warning
EOC
start_chorus() {
  "$build/src/chorus" --dev --config "$out/chorus.conf" 2> "$out/chorus-$1.log" &
  server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$chorus_port/health" >/dev/null && break; sleep 0.05; done
  curl -sf "http://127.0.0.1:$chorus_port/health" >/dev/null ||
    { echo "bench-janus: chorus did not start" >&2; tail -20 "$out/chorus-$1.log" >&2; exit 1; }
  url="ws://127.0.0.1:$chorus_port/ws"
}

# The whole machine's busy CPU (every process, from /proc/stat, which the
# namespace does not hide) and the time: the runs share the machine with
# whatever else runs on it, and this shows how much that was.
cpu_sample() {
  awk -v t="$(date +%s.%N)" '/^cpu /{print t, $2+$3+$4+$7+$8+$9}' /proc/stat
}

reports=()
for round in $(seq "$rounds"); do
  for target in janus chorus; do
    run="$target-$round"
    "start_$target" "$run"
    echo "bench-janus: run $run: $hosts publisher(s) -> $viewers viewers, ${duration} s" >&2
    cpu_sample > "$out/machine-$run"
    rc=0
    "$build/tools/chorus-load/chorus-load" --target "$target" --url "$url" \
      --local-address "$media_ip" --scenario live --hosts "$hosts" --viewers "$viewers" \
      --duration "$duration" --threads "$threads" --server-pid "$server" --quiet \
      > "$out/report-$run.json" 2> "$out/load-$run.log" || rc=$?
    [ "$rc" = 0 ] || { echo "bench-janus: run $run: chorus-load exit $rc:" >&2; tail -5 "$out/load-$run.log" >&2; }
    cpu_sample >> "$out/machine-$run"
    stop_server
    reports+=("$out/report-$run.json")
  done
done

# `janus --help` prints the version first (and exits 1: there is no --version).
janus_version=$( (janus --help 2>&1 || true) | sed -n 's/^Janus version: [0-9]* *(\(.*\))/\1/p' | head -1)
janus_version="${janus_version:-?} (Debian package $(dpkg-query -W -f='${Version}' janus 2>/dev/null || echo '?'))"
rev="tree $(git -C "$root" describe --always --dirty 2>/dev/null || echo "?"), binary built $(date -u -r "$build/src/chorus" +%FT%TZ)"
python3 - "$hosts" "$viewers" "$duration" "${janus_version:-?}" "${event_loops:-0}" "$rev" \
  "${reports[@]}" <<'EOP'
import json, os, platform, statistics, sys

hosts, viewers, duration, janus_version, event_loops, rev = sys.argv[1:7]
runs = []
for path in sys.argv[7:]:
    try:
        r = json.load(open(path))
    except (OSError, ValueError) as e:
        print("  %s: no report (%s)" % (os.path.basename(path), e))
        continue
    r["_name"] = os.path.basename(path)[len("report-"):-len(".json")]
    try:
        (t0, b0), (t1, b1) = [map(float, l.split()) for l in
                              open(os.path.join(os.path.dirname(path), "machine-" + r["_name"]))]
        r["_machine_pct"] = 100.0 * (b1 - b0) / os.sysconf("SC_CLK_TCK") / (t1 - t0)
    except (OSError, ValueError):
        pass
    runs.append(r)

def dist(r, key, q):
    d = r.get("roles", {}).get("viewer", {}).get(key) or {}
    return d.get(q)

def figures(r):
    cpu = (r.get("cpu") or {}).get("server") or {}
    st = r.get("steady") or {}
    pk = st.get("rx_packets") or 0
    total = r.get("roles", {}).get("viewer", {}).get("received") or {}
    return {
        "status": r.get("status"),
        "pps": pk / st["wall_s"] if st.get("wall_s") else float("nan"),
        "cpu_pct": cpu.get("percent", float("nan")),
        "us_per_pkt": cpu["cpu_s"] / pk * 1e6 if pk and "cpu_s" in cpu else float("nan"),
        "loss_win": st.get("rx_loss_pct", float("nan")),
        "loss_run": total.get("loss_pct", float("nan")),
        "conn50": dist(r, "subscribe_connected_ms", "p50"),
        "conn95": dist(r, "subscribe_connected_ms", "p95"),
        "pkt50": dist(r, "first_packet_ms", "p50"),
        "pkt95": dist(r, "first_packet_ms", "p95"),
        "kf50": dist(r, "first_keyframe_ms", "p50"),
        "kf95": dist(r, "first_keyframe_ms", "p95"),
        "overloaded": (r.get("chorus_load_health") or {}).get("overloaded"),
    "machine_pct": r.get("_machine_pct", float("nan")),
        "load_cpu": ((r.get("cpu") or {}).get("chorus_load") or {}).get("percent", float("nan")),
        "fwd_counter": (r.get("server_counters") or {}).get("chorus_media_rtp_forwarded_total"),
    }

def num(v, fmt):
    return fmt % v if isinstance(v, (int, float)) and v == v else "-"

try:
    cpu_model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except StopIteration:
    cpu_model = "?"
print("Chorus vs Janus (VideoRoom), live: %s publisher(s) (Opus + VP8) -> %s viewers, %s s steady"
      % (hosts, viewers, duration))
print("machine: %s cores (nproc), %s, kernel %s; janus %s (event_loops %s), chorus %s"
      % (os.cpu_count(), cpu_model, platform.release(), janus_version, event_loops, rev))
head = ("run", "status", "fwd pkt/s", "CPU %", "us/pkt", "loss % win", "loss % run",
        "conn p50/p95", "1st pkt p50/p95", "1st key p50/p95", "machine %", "load CPU %")
fmt = "  %-9s %-7s %9s %6s %7s %10s %10s %13s %15s %15s %9s %10s"
print(fmt % head)
per = {"janus": [], "chorus": []}
for r in runs:
    f = figures(r)
    per.setdefault(r.get("target", r["_name"].split("-")[0]), []).append(f)
    print(fmt % (r["_name"], f["status"], num(f["pps"], "%.0f"), num(f["cpu_pct"], "%.1f"),
                 num(f["us_per_pkt"], "%.2f"), num(f["loss_win"], "%.3f"), num(f["loss_run"], "%.3f"),
                 "%s/%s" % (num(f["conn50"], "%.0f"), num(f["conn95"], "%.0f")),
                 "%s/%s" % (num(f["pkt50"], "%.0f"), num(f["pkt95"], "%.0f")),
                 "%s/%s" % (num(f["kf50"], "%.0f"), num(f["kf95"], "%.0f")),
                 num(f["machine_pct"], "%.0f"), num(f["load_cpu"], "%.0f") + (" (overloaded)" if f["overloaded"] else "")))

def median(target, key):
    vals = [f[key] for f in per.get(target, []) if isinstance(f[key], (int, float)) and f[key] == f[key]]
    return statistics.median(vals) if vals else float("nan")

print("  (CPU %%: the server's, over the steady window; machine %%: every process on the machine"
      " over the whole run, 100 = one core of %s; load: chorus-load's)" % os.cpu_count())
print("medians over runs, and Chorus / Janus:")
rows = [("server CPU per forwarded packet (us)", "us_per_pkt", "%.2f"),
        ("server CPU (% of one core)", "cpu_pct", "%.1f"),
        ("forwarded packets/s (subscribers' count)", "pps", "%.0f"),
        ("subscriber loss in the window (%)", "loss_win", "%.3f"),
        ("join -> subscriber connected p50 (ms)", "conn50", "%.0f"),
        ("join -> subscriber connected p95 (ms)", "conn95", "%.0f"),
        ("join -> first packet p50 (ms)", "pkt50", "%.0f"),
        ("join -> first packet p95 (ms)", "pkt95", "%.0f"),
        ("join -> first keyframe p50 (ms)", "kf50", "%.0f"),
        ("join -> first keyframe p95 (ms)", "kf95", "%.0f")]
print("  %-42s %10s %10s %14s" % ("", "janus", "chorus", "chorus/janus"))
for label, key, f in rows:
    j, c = median("janus", key), median("chorus", key)
    ratio = c / j if j and j == j and c == c else float("nan")
    print("  %-42s %10s %10s %14s" % (label, num(j, f), num(c, f), num(ratio, "%.2f")))
# Cross-check of the common count against Chorus's own counter.
for r in runs:
    f, st = figures(r), r.get("steady") or {}
    if f["fwd_counter"] and st.get("rx_packets"):
        print("  %s: chorus_media_rtp_forwarded_total %.0f vs subscribers' count %d"
              % (r["_name"], f["fwd_counter"], st["rx_packets"]))
bad = [r["_name"] for r in runs if r.get("status") != "ok"]
if bad:
    print("runs not ok (figures partial): %s" % ", ".join(bad))
if any(figures(r)["overloaded"] for r in runs):
    print("chorus-load was overloaded in some runs: its timings include its own delays")
EOP
[ -n "$keep" ] && echo "bench-janus: configs, logs and reports kept in $keep" >&2
exit 0
