#!/usr/bin/env bash
# Installs what Chorus needs to build and test on Debian 12. Idempotent:
# installs only missing packages (one apt-get update), and npm packages from
# the committed lockfile when node_modules is missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # build
  gcc meson ninja-build pkg-config
  libglib2.0-dev libsoup-3.0-dev libjansson-dev libnice-dev libssl-dev
  libsrtp2-dev libjwt-dev check
  # load tool media
  libopus-dev libvpx-dev
  # sanitizer runtime / fuzzing
  clang libclang-rt-14-dev
  # tests
  curl python3 python3-websockets python3-aiortc chromium iproute2
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm packages for the browser tests (playwright-core drives /usr/bin/chromium;
# it downloads no browser). Node 20 and npm come with the machine.
if [ -f package.json ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm not found; install Node.js 20 (not Debian's npm package)" >&2
    exit 1
  fi
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "setup: installing npm packages (npm ci)" >&2
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
