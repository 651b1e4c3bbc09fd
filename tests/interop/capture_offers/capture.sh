#!/bin/sh
# Re-captures the real-client SDP fixtures of tests/unit/data/sdp/ and checks
# that Chromium and aiortc accept the SDP Chorus writes. Runs both clients in
# a private network namespace that has only `lo` (root), so fixtures carry
# loopback candidates only (INTEROP.md).
#
#   tests/interop/capture_offers/capture.sh [OUT_DIR] [SUBSCRIBER_OFFERS_DIR]
#
# 1. Builds answer-tool (Chorus's publisher answer, from the sources).
# 2. Captures the clients' offers, answers each with Chorus and applies the
#    answer in the client (prints "accepted" or the problem).
# 3. With SUBSCRIBER_OFFERS_DIR (written by test-sdp with
#    CHORUS_SDP_DUMP_DIR=DIR), replays Chorus's subscriber offer sequences
#    chorus-sub-SEQ-N.sdp in both clients and stores their answers.
#
# Subscriber offers depend on the previous answers, so regenerate them in
# rounds until nothing changes:
#   CHORUS_SDP_DUMP_DIR=/tmp/sub build/tests/unit/test-sdp
#   tests/interop/capture_offers/capture.sh tests/unit/data/sdp /tmp/sub
#   (repeat; then copy /tmp/sub/chorus-sub-*.sdp next to the answers)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$root/tests/unit/data/sdp}
subs=${2:-}
mkdir -p "$out"
out=$(cd "$out" && pwd)

tool_dir=$(mktemp -d)
trap 'rm -rf "$tool_dir"' EXIT
# shellcheck disable=SC2046
gcc -std=c11 -O1 -D_GNU_SOURCE -I"$root" -I"$root/src" $(pkg-config --cflags glib-2.0) \
  "$here/answer-tool.c" "$root"/src/webrtc/sdp*.c "$root/src/core/error.c" \
  $(pkg-config --libs glib-2.0) -o "$tool_dir/answer-tool"

extra="--answer-tool $tool_dir/answer-tool"
if [ -n "$subs" ]; then extra="$extra --subscriber-offers $(cd "$subs" && pwd)"; fi

netns() { unshare --net sh -c 'ip link set lo up; exec "$@"' sh "$@"; }

status=0
# shellcheck disable=SC2086
netns node "$here/capture.js" "$out" $extra || status=1
# shellcheck disable=SC2086
netns /usr/bin/python3 "$here/capture_aiortc.py" "$out" $extra || status=1
exit $status
