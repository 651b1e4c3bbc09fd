#!/usr/bin/env bash
# Starts Chorus in dev mode: installs missing dependencies, builds, runs.
#   scripts/run.sh [extra chorus args...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

bash scripts/setup.sh
build="${CHORUS_BUILD_DIR:-$root/build}"
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" >/dev/null
fi
ninja -C "$build" >/dev/null

config="${CHORUS_CONFIG:-$root/config/chorus.conf}"
port=$(sed -n 's/^[[:space:]]*port[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$config" | head -n1)
port="${port:-7070}"
cat <<EOT
Chorus (dev mode: unauthenticated loopback clients are admin)
  signaling  ws://127.0.0.1:$port/ws
  health     http://127.0.0.1:$port/health
  metrics    http://127.0.0.1:$port/metrics
  demo pages http://127.0.0.1:$port/ (voice: /voice.html, live: /live.html)
Ctrl-C stops it.
EOT
exec "$build/src/chorus" --dev --config "$config" "$@"
