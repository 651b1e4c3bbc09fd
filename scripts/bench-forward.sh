#!/usr/bin/env bash
# Forwarding benchmark: P publishers -> S subscribers through Chorus on
# loopback (chorus-load, live scenario), and, in the same run, the floor
# (copy + rewrite + SRTP-GCM protect + sendmmsg per packet, tools/bench).
# Prints forwarded packets/s, Chorus CPU per forwarded packet, the floor
# and their ratio. Numbers only; run it on a quiet machine, several times.
#
#   scripts/bench-forward.sh [--hosts P] [--viewers S] [--duration SECONDS] [--nice-send] [--no-batch] [--perf FILE]
#   (--nice-send: media through nice_agent_send instead of the selected
#   socket, to compare the two paths; --no-batch: one sendto per packet
#   instead of the per-worker sendmmsg batch; --perf FILE: after the
#   measured windows, 5 s of `perf record -g` on the server into FILE)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
hosts=2 viewers=100 duration=15 direct=true batch=true perf_out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) hosts="$2"; shift 2 ;;
    --viewers) viewers="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --nice-send) direct=false; shift ;;
    --no-batch) batch=false; shift ;;
    --perf) perf_out="$(realpath -m "$2")"; shift 2 ;;
    *) echo "usage: $0 [--hosts P] [--viewers S] [--duration SECONDS] [--nice-send] [--no-batch] [--perf FILE]" >&2; exit 2 ;;
  esac
done

# Loopback only: a private network namespace when we can make one.
if [ "${CHORUS_BENCH_IN_NETNS:-}" != 1 ] && [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null; then
  exec unshare --net env CHORUS_BENCH_IN_NETNS=1 sh -c 'ip link set lo up && exec "$@"' sh "$0" \
    --hosts "$hosts" --viewers "$viewers" --duration "$duration" $([ "$direct" = true ] || echo --nice-send) \
    $([ "$batch" = true ] || echo --no-batch) ${perf_out:+--perf "$perf_out"}
fi

build="${CHORUS_BUILD_DIR:-$root/build}"
[ -f "$build/build.ninja" ] || { bash "$root/scripts/setup.sh"; meson setup "$build" "$root" >/dev/null; }
ninja -C "$build" >/dev/null

tmp=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$tmp/chorus.conf" <<EOC
[signaling]
listen_address = 127.0.0.1
port = $port
[media]
interfaces = 127.0.0.1
direct_send = $direct
batch_send = $batch
[plugins]
directory = $build/plugins
[log]
level = warning
EOC
"$build/src/chorus" --dev --config "$tmp/chorus.conf" 2>"$tmp/chorus.log" &
server=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done

metric() { curl -sf "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server/stat"; }

extra=0; [ -z "$perf_out" ] || extra=6
# The steady window: after every PeerConnection is up, for $duration s.
# Joins (DTLS handshakes, offers) are outside it.
"$build/tools/chorus-load/chorus-load" --url "ws://127.0.0.1:$port/ws" --scenario live \
  --hosts "$hosts" --viewers "$viewers" --duration $((duration + 14 + extra)) --quiet > "$tmp/report.json" &
load=$!
want=$((hosts + viewers))
last=-1 still=0
for _ in $(seq 240); do
  up=$(metric chorus_media_peers_connected || echo 0)
  [ "$up" -ge "$want" ] 2>/dev/null && break
  # Not all of them (an overloaded machine): go on once the count stops moving.
  if [ "$up" = "$last" ]; then still=$((still + 1)); else still=0 last=$up; fi
  [ "$still" -ge 10 ] && { echo "bench-forward: only $up of $want PeerConnections up; measuring anyway" >&2; break; }
  sleep 0.5
done
sleep 2
curl -sf "http://127.0.0.1:$port/metrics" > "$tmp/m0"; c0=$(cpu_ticks); t0=$(date +%s.%N)
sleep "$duration"
curl -sf "http://127.0.0.1:$port/metrics" > "$tmp/m1"; c1=$(cpu_ticks); t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }' > "$tmp/wall"
# Then allocations of the worker threads over 3 s, where uprobes on libc's
# allocator can be set (root, perf): "no allocation per forwarded packet"
# is measured, not assumed. A separate window: each probe hit costs a trap.
allocs=""
libc=$(ldd "$build/src/chorus" | awk '/libc.so/ { print $3 }')
if command -v perf >/dev/null && [ "$(id -u)" = 0 ] &&
   { perf probe -l 2>/dev/null | grep -q probe_libc:malloc ||
     perf probe -q -x "$libc" --add malloc --add calloc --add realloc 2>/dev/null; }; then
  perf stat -x, --per-thread -e probe_libc:malloc,probe_libc:calloc,probe_libc:realloc -p "$server" \
    -o "$tmp/allocs" -- sleep 3 2>/dev/null && allocs="$tmp/allocs"
fi
if [ -n "$perf_out" ]; then
  perf record -q -g -p "$server" -o "$perf_out" -- sleep 5 2>/dev/null ||
    echo "bench-forward: perf record failed (needs root)" >&2
fi
wait "$load" || true
# The paced floor repeats Chorus's traffic shape measured above: incoming
# packets per second (forwarded / subscribers), packets per sendmmsg call,
# mean forwarded packet size (from chorus-load's receivers).
shape=$(python3 - "$tmp" "$viewers" <<'EOP'
import json, sys
tmp, viewers = sys.argv[1], int(sys.argv[2])
def metrics(f):
    m = {}
    for line in open(f):
        if not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            m[k] = float(v)
    return m
m0, m1 = metrics(tmp + "/m0"), metrics(tmp + "/m1")
d = lambda k: m1.get(k, 0) - m0.get(k, 0)
wall = float(open(tmp + "/wall").read())
rate = d("chorus_media_rtp_forwarded_total") / wall / max(viewers, 1)
calls = d("chorus_media_batch_syscalls_total")
burst = max(1, round(d("chorus_media_batched_packets_total") / calls)) if calls > 0 else 1
rx = ((json.load(open(tmp + "/report.json")).get("roles") or {}).get("viewer") or {}).get("received", {})
pk = sum(rx.get(k, {}).get("packets", 0) for k in ("audio", "video"))
by = sum(rx.get(k, {}).get("bytes", 0) for k in ("audio", "video"))
size = round(by / pk) if pk else 1200
print("%.1f %d %d" % (rate, burst, size))
EOP
)
out=$("$build/tools/bench/bench-floor" 300000 "$viewers" $shape 5)
drained=$(echo "$out" | awk '/drained/ { print $2 }')
dropped=$(echo "$out" | awk '/dropped/ { print $2 }')
paced=$(echo "$out" | awk '/paced/ { print $2 }')

python3 - "$tmp" "$c0" "$c1" "$t0" "$t1" "$drained" "$dropped" "$paced" "$shape" "$hosts" "$viewers" "$(getconf CLK_TCK)" "${allocs:-none}" \
  "$([ "$direct" = true ] && echo "direct send" || echo "nice_agent_send")$([ "$batch" = true ] && [ "$direct" = true ] && echo ", sendmmsg batches" || true)" <<'EOP'
import json, re, sys
tmp, c0, c1, t0, t1, drained, dropped, paced, shape, hosts, viewers, hz, allocs, path = sys.argv[1:]
def metrics(f):
    m = {}
    for line in open(f):
        if line.startswith("#"):
            continue
        k, _, v = line.rpartition(" ")
        m[k] = float(v)
    return m
m0, m1 = metrics(tmp + "/m0"), metrics(tmp + "/m1")
d = lambda k: m1.get(k, 0) - m0.get(k, 0)
wall = float(t1) - float(t0)
cpu_s = (int(c1) - int(c0)) / int(hz)
fwd = d("chorus_media_rtp_forwarded_total")
per_ns = cpu_s / fwd * 1e9 if fwd else float("nan")
# Percentiles from the histogram's window delta (linear inside a bucket),
# per kind and over both.
by_kind = {}
for k in m1:
    mm = re.match(r'chorus_media_forward_delay_us_bucket\{kind="([^"]+)",le="([^"]+)"\}', k)
    if mm:
        le = float("inf") if mm.group(2) == "+Inf" else float(mm.group(2))
        by_kind.setdefault(mm.group(1), {})[le] = d(k)
all_le = sorted({le for h in by_kind.values() for le in h})
def pct(p, kinds=None):
    buckets = [(le, sum(h.get(le, 0) for kind, h in by_kind.items() if kinds is None or kind in kinds))
               for le in all_le]
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return "nan"
    want, lo, prev = total * p, 0.0, 0.0
    for le, c in buckets:
        if c >= want:
            if le == float("inf"):
                return "> %.0f" % lo
            return "%.0f" % (lo + (le - lo) * (want - prev) / max(c - prev, 1))
        lo, prev = le, c
    return "%.0f" % lo
report = json.load(open(tmp + "/report.json"))
loss = ((report.get("roles") or {}).get("viewer") or {}).get("received", {}).get("loss_pct")
print("forwarding benchmark: %s publishers -> %s subscribers, %.1f s steady window, %s" % (hosts, viewers, wall, path))
print("  %-52s %12.0f" % ("forwarded packets/s", fwd / wall))
print("  %-52s %12.0f %%" % ("chorus CPU (of one core)", 100 * cpu_s / wall))
print("  %-52s %12.0f ns" % ("chorus CPU per forwarded packet", per_ns))
print("  %-52s %12.0f ns" % ("floor, %s receivers reading (copy+rewrite+SRTP-GCM+sendmmsg)" % viewers, float(drained)))
print("  %-52s %12.0f ns" % ("floor, packets dropped at a full socket", float(dropped)))
print("  %-52s %12.2f x" % ("chorus / floor (receivers reading)", per_ns / float(drained)))
print("  %-52s %12.2f x" % ("chorus / floor (dropped)", per_ns / float(dropped)))
rate, burst, size = shape.split()
print("  %-52s %12.0f ns" % ("floor, Chorus's traffic shape (%s/s x %s, %s per call, %s B)" % (rate, viewers, burst, size), float(paced)))
print("  %-52s %12.2f x" % ("chorus / floor (same traffic shape)", per_ns / float(paced)))
print("  %-52s %6s / %s us" % ("forwarding delay p50 / p99 (arrival -> sent)", pct(0.5), pct(0.99)))
for kind in sorted(by_kind):
    print("  %-52s %6s / %s us" % ("  %s" % kind, pct(0.5, (kind,)), pct(0.99, (kind,))))
calls = d("chorus_media_batch_syscalls_total")
if calls > 0:
    print("  %-52s %12.2f" % ("packets per sendmmsg call (mean)", d("chorus_media_batched_packets_total") / calls))
if allocs != "none":
    per_thread = {}
    for line in open(allocs):
        f = line.strip().split(",")
        if len(f) >= 4 and f[1].replace(".", "").isdigit():
            per_thread[f[0]] = per_thread.get(f[0], 0) + float(f[1])
    w = sum(v for k, v in per_thread.items() if "chorus-w" in k)
    afwd = 3.0 * fwd / wall  # at the steady window's rate
    arx = 3.0 * d("chorus_media_rtp_received_total") / wall
    print("  %-52s %12.0f" % ("allocations on worker threads, 3 s", w))
    print("  %-52s %12.3f / %.1f" % ("  per forwarded packet / per received packet", w / afwd if afwd > 0 else float("nan"),
                                     w / arx if arx > 0 else float("nan")))
else:
    print("  %-52s %12s" % ("allocations on worker threads", "not measured (needs root + perf uprobes)"))
print("  %-52s %12s" % ("subscriber loss (whole run) %", loss))
EOP
