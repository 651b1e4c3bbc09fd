#!/usr/bin/env bash
# Join latency: time from a subscriber's `join` to its first decoded video
# frame, with a publisher of the same client type already flowing, for
# Chromium (tests/interop/join_latency_browser.mjs) and for aiortc
# (tests/interop/join_latency.py). Prints every run, the Chromium breakdown
# (join -> offer -> answer -> ICE -> DTLS -> first packet -> first frame),
# and median / p95 / max per client type. The project's goal is p95 < 100 ms.
#
#   scripts/join-latency.sh [--runs 20] [--pause-ms 200] [--only chromium|aiortc] [--strip-twcc]
#
# --strip-twcc (diagnostic) makes the Chromium publisher drop transport-cc
# from the server's answer: Chorus negotiates it but sends no feedback yet,
# which collapses Chromium's bandwidth estimate (and slows keyframes).
#
# CHORUS_BUILD_DIR selects the build (default <repo>/build; configured and
# built if needed). As root, each measurement runs in a private network
# namespace with only loopback (INTEROP.md). Exits non-zero if a run got no
# frame or a measurement failed.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

runs=20
pause_ms=200
only=""
browser_extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --pause-ms) pause_ms="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --strip-twcc) browser_extra+=(--strip-twcc); shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "join-latency: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$runs$pause_ms" in *[!0-9]*) echo "join-latency: --runs and --pause-ms take integers" >&2; exit 2 ;; esac

build="${CHORUS_BUILD_DIR:-$root/build}"
export CHORUS_BUILD_DIR="$build"
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" >/dev/null || { echo "join-latency: meson setup failed" >&2; exit 1; }
fi
ninja -C "$build" >/dev/null || { echo "join-latency: build failed" >&2; exit 1; }

netns() {
  if [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null; then
    unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$@"
  else
    "$@"
  fi
}

logdir="$(mktemp -d /tmp/chorus-join-latency.XXXXXX)"
trap 'rm -rf "$logdir"' EXIT
status=0
pause_s="$(awk -v ms="$pause_ms" 'BEGIN { printf "%.3f", ms / 1000 }')"

if [ -z "$only" ] || [ "$only" = chromium ]; then
  echo "=== Chromium (publisher and subscriber pages, chorus.js)"
  netns node tests/interop/join_latency_browser.mjs --runs "$runs" --pause-ms "$pause_ms" ${browser_extra[@]+"${browser_extra[@]}"} |
    tee "$logdir/chromium.log"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi
if [ -z "$only" ] || [ "$only" = aiortc ]; then
  echo "=== aiortc (publisher and subscriber, aiortc 1.4)"
  netns /usr/bin/python3 tests/interop/join_latency.py --runs "$runs" --pause "$pause_s" 2>&1 |
    tee "$logdir/aiortc.log"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi

echo "=== join -> first decoded video frame ($runs runs per client, ${pause_ms} ms between runs; goal p95 < 100 ms)"
for client in chromium aiortc; do
  [ -f "$logdir/$client.log" ] || continue
  line="$(grep -E "^$client join -> first decoded video frame:" "$logdir/$client.log" | tail -n1)"
  printf '  %-9s %s\n' "$client" "${line:-no result (see the output above)}"
  [ -n "$line" ] || status=1
done
exit $status
