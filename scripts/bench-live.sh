#!/usr/bin/env bash
# Live room benchmark (issue #7): one host publishing Opus + 3-layer VP8
# simulcast (q/h/f: 320x180@150, 640x360@500, 1280x720@1500 kbit/s) to V
# viewers, V = 100, 300, 1000 by default, one fresh Chorus per size,
# stopping at the first size that fails badly. Viewers subscribe with
# --quality (default auto: Chorus's choice, which is the middle layer until
# per-subscriber bandwidth allocation lands).
#
#   scripts/bench-live.sh [--sizes "100 300 1000"] [--hosts H] [--quality Q]
#                         [--window S] [--ramp R] [--threads T] [--max-loss PCT]
#                         [--max-failed PCT] [--keep DIR]
#
# Per size: chorus CPU in the steady window (sampled from /proc/PID/stat
# once every PeerConnection is up), CPU per viewer, packets/s forwarded,
# viewer loss, join -> first packet and first keyframe (p50/p95),
# joined/failed/connected, and whether chorus-load (same two cores) ran
# late. Needs root (a private network namespace). See scripts/bench-lib.sh.
set -euo pipefail
bench_name=bench-live
bench_usage_extra="[--hosts H] [--quality low|medium|high|auto]"
hosts=1 quality=auto
bench_extra_flag() {
  case "$1" in
    --hosts) hosts="$2"; bench_shift=2 ;;
    --quality) quality="$2"; bench_shift=2 ;;
  esac
}
# shellcheck source=scripts/bench-lib.sh disable=SC2034
source "$(dirname "$0")/bench-lib.sh"
bench_init "$0" "$@"

live_args() {
  printf '%s\n' --scenario live --simulcast --hosts "$hosts" --viewers "$1" --quality "$quality"
}
bench_run_sizes live_args
bench_print_table
