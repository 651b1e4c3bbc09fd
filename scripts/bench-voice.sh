#!/usr/bin/env bash
# Voice room benchmark (issue #6): S speakers (default 3) and L listeners,
# L = 100, 300, 1000 by default, one fresh Chorus per size, stopping at the
# first size that fails badly. chorus-load's voice scenario: speakers send
# Opus with RFC 6464 levels (speech-like talk spurts, so they become active
# and inactive), listeners subscribe and get the room's top-N audio slots
# (audio_slots = the speaker count, at most 16).
#
#   scripts/bench-voice.sh [--sizes "100 300 1000"] [--speakers S] [--ptime MS]
#                          [--window S] [--ramp R] [--threads T] [--max-loss PCT]
#                          [--max-failed PCT] [--keep DIR]
#
# Per size: chorus CPU in the steady window (sampled from /proc/PID/stat
# once every PeerConnection is up), CPU per listener, packets/s forwarded,
# listener loss, join -> first audio (p50/p95), joined/failed/connected,
# and whether chorus-load (same two cores) ran late. Needs root (a private
# network namespace). See scripts/bench-lib.sh.
set -euo pipefail
bench_name=bench-voice
bench_usage_extra="[--speakers S] [--ptime MS]"
speakers=3 ptime=20
bench_extra_flag() {
  case "$1" in
    --speakers) speakers="$2"; bench_shift=2 ;;
    --ptime) ptime="$2"; bench_shift=2 ;;
  esac
}
# shellcheck source=scripts/bench-lib.sh disable=SC2034
source "$(dirname "$0")/bench-lib.sh"
bench_init "$0" "$@"

voice_args() {
  printf '%s\n' --scenario voice --speakers "$speakers" --listeners "$1" --ptime "$ptime"
}
bench_run_sizes voice_args
bench_print_table
