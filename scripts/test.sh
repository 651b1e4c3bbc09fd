#!/usr/bin/env bash
# Runs every Chorus test suite; exits non-zero on any failure.
#   scripts/test.sh            everything
#   CHORUS_SKIP_SLOW=1 ...     skip the slowest cases (e.g. 30 s ICE consent)
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

bash scripts/setup.sh || { echo "test: setup failed" >&2; exit 1; }

failed=()
# Each step's output also goes to a log; the end of a failed step's log is
# printed again after the summary, so that a CI page showing only the last
# lines still says what failed and why. The step writes to its log and
# `tail --pid` shows it live: unlike a pipe into tee, a stray child still
# holding the output cannot hold up the run.
logs="$(mktemp -d /tmp/chorus-test-logs.XXXXXX)"
step_pid=
trap '[ -n "$step_pid" ] && kill "$step_pid" 2>/dev/null; exit 130' INT TERM
step_log() { echo "$logs/$(echo "$1" | tr -c 'A-Za-z0-9_.-' '_').log"; }
step() {
  local name="$1"; shift
  echo "=== $name"
  local t0=$SECONDS log rc=0
  log="$(step_log "$name")"
  : > "$log"
  "$@" > "$log" 2>&1 < /dev/null &
  step_pid=$!
  tail -n +1 -s 0.2 -f --pid="$step_pid" "$log"
  wait "$step_pid" || rc=$?
  step_pid=
  if [ "$rc" = 0 ]; then
    echo "=== $name: ok ($((SECONDS - t0)) s)"
  else
    echo "=== $name: FAILED ($((SECONDS - t0)) s)"
    failed+=("$name")
  fi
}
report_failures() {
  local name log
  for name in "${failed[@]}"; do
    log="$(step_log "$name")"
    echo "=== end of the output of the failed step: $name"
    # Meson lists failed tests and their logs last; a test script's last
    # lines say which check failed.
    tail -n 80 "$log"
  done
}

build="$root/build"
asan="$root/build-asan"
configure() { # dir [meson args]
  local dir="$1"; shift
  if [ ! -f "$dir/build.ninja" ]; then meson setup "$dir" "$root" "$@"; fi
}

step "build" bash -c "$(declare -f configure); configure '$build' && ninja -C '$build'"
step "build (ASan+UBSan)" bash -c "$(declare -f configure); configure '$asan' -Db_sanitize=address,undefined -Db_lundef=false && ninja -C '$asan'"
if [ ${#failed[@]} -gt 0 ]; then
  report_failures
  echo "test: build failed: ${failed[*]}" >&2
  exit 1
fi

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
step "unit" meson test -C "$build" --suite unit --print-errorlogs
step "unit (ASan+UBSan)" meson test -C "$asan" --suite unit --print-errorlogs

# Interop suites drive a real chorus process with real clients. Where we can
# (root), each runs in a private network namespace that only has loopback, so
# no test traffic can leave the machine and no other interface is gathered.
netns() {
  if [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null; then
    unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$@"
  else
    "$@"
  fi
}
export CHORUS_BUILD_DIR="$build"
for t in tests/interop/test_*.py; do
  [ -e "$t" ] || continue
  step "interop $(basename "$t" .py)" netns /usr/bin/python3 "$t"
done
for t in tests/interop/test_*.mjs; do
  [ -e "$t" ] || continue
  step "interop $(basename "$t" .mjs)" netns node "$t"
done
# The browser media test again with 3-layer simulcast from the publisher.
step "interop test_browser_media (simulcast)" netns env CHORUS_SIMULCAST=1 node tests/interop/test_browser_media.mjs

if [ ${#failed[@]} -gt 0 ]; then
  report_failures
  echo "test: FAILED: ${failed[*]}" >&2
  exit 1
fi
rm -rf "$logs"
echo "test: all suites passed"
