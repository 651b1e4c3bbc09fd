#!/usr/bin/env bash
# Runs every Chorus test suite; exits non-zero on any failure.
#   scripts/test.sh            everything
#   CHORUS_SKIP_SLOW=1 ...     skip the slowest cases (e.g. 30 s ICE consent)
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

bash scripts/setup.sh || { echo "test: setup failed" >&2; exit 1; }

failed=()
step() {
  local name="$1"; shift
  echo "=== $name"
  local t0=$SECONDS
  if "$@"; then
    echo "=== $name: ok ($((SECONDS - t0)) s)"
  else
    echo "=== $name: FAILED ($((SECONDS - t0)) s)"
    failed+=("$name")
  fi
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
  echo "test: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "test: all suites passed"
