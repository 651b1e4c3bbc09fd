#!/usr/bin/python3
"""aiortc answerer that records the decrypted RTP of one received video
stream, for keyframe fixtures (tests/unit/data/keyframes/README.md).

Driven by capture-chromium.mjs over stdin/stdout, one JSON object a line:
  in:  {"offer": "<sdp>"}          out: {"answer": "<sdp>"}
  out: {"done": <packets recorded>} once the capture is written.
Options: --out RAW.jsonl --seconds S --pli-at T1,T2 (seconds after the first
packet: a PLI there makes the sender encode a keyframe).

aiortc 1.4 negotiates only VP8 and H264: VP9 and AV1 are added to its codec
table, and its decoder lookup answers a decoder that decodes nothing for
them, since only the packets matter here. Packets are recorded before aiortc
sees them (RTX left out; padding-only packets on the media SSRC kept)."""
import argparse
import asyncio
import json
import sys
import time

import aioice.ice

# Loopback only: aioice leaves 127.0.0.1 out by default (INTEROP.md).
aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]

import aiortc.codecs as acodecs  # noqa: E402
import aiortc.rtcrtpreceiver as areceiver  # noqa: E402
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.rtcrtpparameters import RTCRtcpFeedback, RTCRtpCodecParameters  # noqa: E402


def add_video_codec(mime, pt, params=None):
    fb = [RTCRtcpFeedback(type="nack"), RTCRtcpFeedback(type="nack", parameter="pli"),
          RTCRtcpFeedback(type="goog-remb")]
    acodecs.CODECS["video"] += [
        RTCRtpCodecParameters(mimeType=mime, clockRate=90000, payloadType=pt,
                              rtcpFeedback=fb, parameters=params or {}),
        RTCRtpCodecParameters(mimeType="video/rtx", clockRate=90000, payloadType=pt + 1,
                              parameters={"apt": pt}),
    ]


add_video_codec("video/VP9", 113, {"profile-id": "0"})
add_video_codec("video/AV1", 115)


class NullDecoder:
    def decode(self, encoded_frame):
        return []


_get_decoder = areceiver.get_decoder


def get_decoder(codec):
    if codec.mimeType.lower() in ("video/vp9", "video/av1"):
        return NullDecoder()
    return _get_decoder(codec)


areceiver.get_decoder = get_decoder


class Recorder:
    def __init__(self, args):
        self.args = args
        self.packets = []
        self.t0 = None
        self.ssrc = None
        self.receiver = None
        self.first = asyncio.get_event_loop().create_future()

    def on_packet(self, receiver, packet):
        codecs = receiver._RTCRtpReceiver__codecs
        codec = codecs.get(packet.payload_type)
        if codec is None or acodecs.is_rtx(codec) or not codec.mimeType.lower().startswith("video/"):
            return
        now = time.monotonic()
        if self.t0 is None:
            self.t0 = now
            self.ssrc = packet.ssrc
            self.receiver = receiver
            self.first.set_result(True)
        if packet.ssrc != self.ssrc or now - self.t0 > self.args.seconds:
            return
        self.packets.append({
            "seq": packet.sequence_number, "ts": packet.timestamp, "m": int(packet.marker),
            "pt": packet.payload_type, "codec": codec.mimeType, "ssrc": packet.ssrc,
            "t_ms": round((now - self.t0) * 1000, 3), "padding": packet.padding_size,
            "payload": packet.payload.hex(),
        })


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--pli-at", default="1.0")
    args = ap.parse_args()
    rec = Recorder(args)

    orig = areceiver.RTCRtpReceiver._handle_rtp_packet

    async def hooked(self, packet, arrival_time_ms):
        rec.on_packet(self, packet)
        await orig(self, packet, arrival_time_ms)

    areceiver.RTCRtpReceiver._handle_rtp_packet = hooked

    loop = asyncio.get_event_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    msg = json.loads(await reader.readline())
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    await pc.setRemoteDescription(RTCSessionDescription(sdp=msg["offer"], type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    print(json.dumps({"answer": pc.localDescription.sdp}), flush=True)

    await asyncio.wait_for(rec.first, 20)
    for at in sorted(float(x) for x in args.pli_at.split(",") if x):
        delay = rec.t0 + at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await rec.receiver._send_rtcp_pli(rec.ssrc)
        print(f"recorder: PLI at {time.monotonic() - rec.t0:.3f} s", file=sys.stderr, flush=True)
    delay = rec.t0 + args.seconds + 0.2 - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
    with open(args.out, "w") as f:
        for p in rec.packets:
            f.write(json.dumps(p) + "\n")
    print(json.dumps({"done": len(rec.packets)}), flush=True)
    await pc.close()


asyncio.run(main())
