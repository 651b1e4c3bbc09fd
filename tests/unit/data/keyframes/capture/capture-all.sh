#!/bin/sh
# Recaptures every keyframe fixture in tests/unit/data/keyframes/ (see the
# README there). Needs root (a private network namespace with only lo, so
# that nothing leaves loopback), Debian's chromium, playwright-core in
# <repo>/node_modules, python3-aiortc and python3-av, and for the ffmpeg and
# GStreamer sources: apt-get install ffmpeg gstreamer1.0-tools
# gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly
#
#   sh tests/unit/data/keyframes/capture/capture-all.sh [NAME...]
#
# With names (e.g. vp9-ffmpeg), only those fixtures. Captures are live
# encodes: packet counts and keyframe positions change from run to run.
set -eu
CAP=$(cd "$(dirname "$0")" && pwd)
DATA=$(dirname "$CAP")
if [ "$(ip -o link show | wc -l)" -gt 1 ] && [ -z "${CHORUS_CAPTURE_NETNS:-}" ]; then
  exec unshare --net env CHORUS_CAPTURE_NETNS=1 sh -c 'ip link set lo up; exec sh "$0" "$@"' "$0" "$@"
fi
ip link set lo up
RAW=$(mktemp -d /tmp/chorus-keyframes.XXXXXX)
trap 'rm -rf "$RAW"' EXIT
PY=/usr/bin/python3

ONLY="$*"
want() { [ -z "$ONLY" ] || case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# chromium NAME CODEC [make-fixture options --] capture options...
chromium() {
  name=$1 codec=$2
  shift 2
  mf=""
  if [ "${1:-}" = "--mf" ]; then mf=$2; shift 2; fi
  want "$name" || return 0
  echo "== $name"
  node "$CAP/capture-chromium.mjs" --codec "$codec" --out "$RAW/$name.jsonl" "$@" 2>&1 |
    grep -v 'unexpected operator' >&2
  # shellcheck disable=SC2086
  $PY "$CAP/make-fixture.py" --codec "$codec" --raw "$RAW/$name.jsonl" --meta "$RAW/$name.meta.json" \
    --out "$DATA/$name.txt" --frames 45 $mf \
    --note "source: headless Chromium (libwebrtc packetizer), fake camera, sent to aiortc (recorder.py)" \
    --note "made by: capture-chromium.mjs --codec $codec $* ${mf:+; make-fixture.py $mf}"
}

describe() {
  case $1 in
  ffmpeg) echo "ffmpeg $(dpkg-query -W -f '${Version}' ffmpeg) (libavformat RTP muxer), plain RTP to udp-record.py" ;;
  *) echo "GStreamer $(dpkg-query -W -f '${Version}' gstreamer1.0-plugins-good) (gst-plugins-good RTP payloaders), plain RTP to udp-record.py" ;;
  esac
}

# udp NAME CODEC PORT command... (plain RTP to 127.0.0.1:PORT)
udp() {
  name=$1 codec=$2 port=$3
  shift 3
  want "$name" || return 0
  echo "== $name"
  $PY "$CAP/udp-record.py" --port "$port" --out "$RAW/$name.jsonl" &
  rec=$!
  sleep 0.5
  "$@" > "$RAW/$name.log" 2>&1 || { cat "$RAW/$name.log" >&2; exit 1; }
  wait $rec
  $PY "$CAP/make-fixture.py" --codec "$codec" --raw "$RAW/$name.jsonl" --out "$DATA/$name.txt" --frames 45 \
    --note "source: $(describe "$1")" \
    --note "made by: $*"
}

# aiortc NAME CODEC: aiortc's encoder and packetizer, no network.
aiortc() {
  name=$1 codec=$2
  want "$name" || return 0
  echo "== $name"
  $PY "$CAP/capture-aiortc.py" "$codec" "$RAW/$name.jsonl" 2>/dev/null
  $PY "$CAP/make-fixture.py" --codec "$codec" --raw "$RAW/$name.jsonl" --out "$DATA/$name.txt" --frames 30 \
    --note "source: aiortc $(dpkg-query -W -f '${Version}' python3-aiortc) encoder + packetizer (aiortc.codecs), PyAV $(dpkg-query -W -f '${Version}' python3-av)" \
    --note "made by: capture-aiortc.py $codec"
}

LOW="--seconds 2.6 --pli-at 0.8,1.6"
chromium vp8-chromium VP8 $LOW
chromium vp8-chromium-l1t3 VP8 $LOW --scalability-mode L1T3
chromium vp9-chromium VP9 $LOW
# Two spatial layers only once the bandwidth estimate has grown (~4.6 s).
chromium vp9-chromium-l2t3-key VP9 --mf "--start-ms 5000 --frames 30" --width 640 --height 480 \
  --max-bitrate 500000 --scalability-mode L2T3_KEY --seconds 7 --pli-at 4,5,5.8
chromium h264-chromium H264 $LOW --fmtp packetization-mode=1
chromium h264-chromium-small H264 $LOW --fmtp packetization-mode=1 --width 160 --height 120 --max-bitrate 100000
chromium av1-chromium AV1 $LOW
chromium av1-chromium-l1t3 AV1 $LOW --scalability-mode L1T3

aiortc vp8-aiortc VP8
aiortc h264-aiortc H264

FF="ffmpeg -hide_banner -nostats -re -f lavfi -i testsrc2=size=320x240:rate=30 -t 1.5"
udp vp8-ffmpeg VP8 5004 $FF -c:v libvpx -deadline realtime -cpu-used 8 -lag-in-frames 0 -auto-alt-ref 0 \
  -b:v 300k -g 15 -f rtp -payload_type 96 rtp://127.0.0.1:5004
udp vp9-ffmpeg VP9 5006 $FF -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -lag-in-frames 0 \
  -b:v 300k -g 15 -strict experimental -f rtp -payload_type 96 rtp://127.0.0.1:5006
udp h264-ffmpeg H264 5008 $FF -c:v libx264 -preset veryfast -tune zerolatency -b:v 300k -g 15 \
  -f rtp -payload_type 96 rtp://127.0.0.1:5008

GST="videotestsrc is-live=true num-buffers=45 pattern=zone-plate kx2=10 ky2=10 kt=1 ! video/x-raw,width=320,height=240,framerate=30/1"
# shellcheck disable=SC2086
udp vp8-gstreamer VP8 5010 gst-launch-1.0 -q $GST ! vp8enc deadline=1 cpu-used=8 lag-in-frames=0 \
  target-bitrate=300000 keyframe-max-dist=15 ! rtpvp8pay pt=96 mtu=1200 picture-id-mode=15-bit ! \
  udpsink host=127.0.0.1 port=5010
# shellcheck disable=SC2086
udp vp9-gstreamer VP9 5012 gst-launch-1.0 -q $GST ! vp9enc deadline=1 cpu-used=8 lag-in-frames=0 \
  target-bitrate=300000 keyframe-max-dist=15 ! rtpvp9pay pt=96 mtu=1200 picture-id-mode=15-bit ! \
  udpsink host=127.0.0.1 port=5012
# shellcheck disable=SC2086
udp h264-gstreamer H264 5014 gst-launch-1.0 -q $GST ! x264enc tune=zerolatency speed-preset=veryfast \
  bitrate=300 key-int-max=15 ! rtph264pay config-interval=-1 pt=96 mtu=1200 ! udpsink host=127.0.0.1 port=5014
# shellcheck disable=SC2086
udp h264-gstreamer-zl H264 5016 gst-launch-1.0 -q $GST ! x264enc tune=zerolatency speed-preset=veryfast \
  bitrate=300 key-int-max=15 ! rtph264pay config-interval=-1 aggregate-mode=zero-latency pt=96 mtu=1200 ! \
  udpsink host=127.0.0.1 port=5016
ls -l "$DATA"/*.txt
