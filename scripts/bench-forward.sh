#!/usr/bin/env bash
# Forwarding benchmark: P publishers -> S subscribers through Chorus on
# loopback (chorus-load, live scenario), and, in the same run, the floor
# (copy + rewrite + SRTP-GCM protect + sendmmsg per packet, tools/bench).
# Prints forwarded packets/s, Chorus CPU per forwarded packet, the floor
# and their ratio. Numbers only; run it on a quiet machine, several times.
#
#   scripts/bench-forward.sh [--hosts P] [--viewers S] [--duration SECONDS] [--nice-send]
#   (--nice-send: media through nice_agent_send instead of the selected
#   socket, to compare the two paths)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
hosts=2 viewers=100 duration=15 direct=true
while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) hosts="$2"; shift 2 ;;
    --viewers) viewers="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --nice-send) direct=false; shift ;;
    *) echo "usage: $0 [--hosts P] [--viewers S] [--duration SECONDS] [--nice-send]" >&2; exit 2 ;;
  esac
done

# Loopback only: a private network namespace when we can make one.
if [ "${CHORUS_BENCH_IN_NETNS:-}" != 1 ] && [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null; then
  exec unshare --net env CHORUS_BENCH_IN_NETNS=1 sh -c 'ip link set lo up && exec "$@"' sh "$0" \
    --hosts "$hosts" --viewers "$viewers" --duration "$duration" $([ "$direct" = true ] || echo --nice-send)
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
[plugins]
directory = $build/plugins
[log]
level = warning
EOC
"$build/src/chorus" --dev --config "$tmp/chorus.conf" 2>"$tmp/chorus.log" &
server=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done

"$build/tools/chorus-load/chorus-load" --url "ws://127.0.0.1:$port/ws" --scenario live \
  --hosts "$hosts" --viewers "$viewers" --duration "$duration" --quiet > "$tmp/report.json"
floor=$("$build/tools/bench/bench-floor" 300000 | awk '{print $2}')

python3 - "$tmp/report.json" "$floor" "$hosts" "$viewers" "$([ "$direct" = true ] && echo "direct send" || echo "nice_agent_send")" <<'EOP'
import json, sys
report, floor_ns, hosts, viewers = json.load(open(sys.argv[1])), float(sys.argv[2]), sys.argv[3], sys.argv[4]
cpu = report["cpu"]["server"]
fwd = report["server_counters"].get("chorus_media_rtp_forwarded_total", 0)
per_ns = cpu["cpu_s"] / fwd * 1e9 if fwd else float("nan")
print("forwarding benchmark: %s publishers -> %s subscribers, %.0f s steady, %s" % (hosts, viewers, cpu["wall_s"], sys.argv[5]))
print("  %-44s %12.0f" % ("forwarded packets/s", fwd / cpu["wall_s"]))
print("  %-44s %12.0f %%" % ("chorus CPU (of one core)", cpu["percent"]))
print("  %-44s %12.0f ns" % ("chorus CPU per forwarded packet", per_ns))
print("  %-44s %12.0f ns" % ("floor: copy+rewrite+SRTP-GCM+sendmmsg", floor_ns))
print("  %-44s %12.2f x" % ("chorus / floor", per_ns / floor_ns))
print("  %-44s %12s" % ("added forwarding latency p50/p99", "not measured yet"))
print("  %-44s %12s" % ("chorus-load overloaded (figures are bounds)", report.get("chorus_load_health", {}).get("overloaded")))
EOP
