#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan) against the sources
# directly; they are not part of the meson build.
#
#   tests/fuzz/build.sh [OUT_DIR]          (default: build-fuzz/)
#
# Run a target with its seed corpus (the first directory receives new
# inputs, so give it a scratch one):
#   build-fuzz/fuzz-sdp -dict=tests/fuzz/sdp.dict -max_total_time=300 \
#     /tmp/sdp-corpus tests/fuzz/corpus/sdp tests/unit/data/sdp
# Replay the committed corpus (and any crash file) without fuzzing:
#   build-fuzz/fuzz-sdp tests/fuzz/corpus/sdp/* tests/unit/data/sdp/*
#
# fuzz-rtcp (every RTCP parser, and writer -> parser round trips for TWCC,
# NACK, SR/RR, SDES, BYE, REMB, XR; the first input byte picks the mode):
#   build-fuzz/fuzz-rtcp -max_total_time=300 /tmp/rtcp-corpus tests/fuzz/corpus-rtcp
#   build-fuzz/fuzz-rtcp tests/fuzz/corpus-rtcp/*
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/build-fuzz}
mkdir -p "$out"

CC=${CC:-clang}
# shellcheck disable=SC2046
CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -DGLIB_VERSION_MIN_REQUIRED=GLIB_VERSION_2_74
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
  -I$root -I$root/src $(pkg-config --cflags glib-2.0)"
LIBS=$(pkg-config --libs glib-2.0)

build_target() {
  name=$1
  shift
  # shellcheck disable=SC2086
  $CC $CFLAGS "$root/tests/fuzz/$name.c" "$@" $LIBS -o "$out/$name"
  echo "built $out/$name"
}

build_target fuzz-sdp "$root"/src/webrtc/sdp.c "$root"/src/webrtc/sdp-parse.c "$root"/src/webrtc/sdp-write.c \
  "$root"/src/webrtc/sdp-answer.c "$root"/src/webrtc/sdp-offer.c "$root"/src/core/error.c

build_target fuzz-rtcp "$root"/src/rtp/rtcp.c "$root"/src/rtp/rtcp-fb.c "$root"/src/rtp/rtcp-twcc.c \
  "$root"/src/rtp/rtcp-xr.c
