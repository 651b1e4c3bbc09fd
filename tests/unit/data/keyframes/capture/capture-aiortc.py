#!/usr/bin/python3
"""Packets from aiortc's own encoders and packetizers (aiortc.codecs:
Vp8Encoder = libvpx through cffi, H264Encoder = libx264 through PyAV), the
ones aiortc clients publish with, without any network: synthetic frames
(a moving zone plate) go in, RTP payloads come out; sequence numbers are
counted here from 1000, the marker is set on each frame's last payload.
Writes the raw JSON lines make-fixture.py reads.

  capture-aiortc.py VP8|H264 RAW.jsonl [--frames 30] [--keyframe-every 10]

The encoders run at their lowest bitrates (VP8 250 kbps, H264 500 kbps).
VP8 keyframes are forced every --keyframe-every frames (as PLIs would ask);
aiortc 1.4's H264Encoder ignores force_keyframe, so its x264 context gets
that GOP length instead (x264's own default is 250)."""
import argparse
import fractions
import json

import av
import numpy as np
import aiortc.codecs.h264 as aiortc_h264
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder

ap = argparse.ArgumentParser()
ap.add_argument("codec", choices=["VP8", "H264"])
ap.add_argument("out")
ap.add_argument("--frames", type=int, default=30)
ap.add_argument("--keyframe-every", type=int, default=10)
args = ap.parse_args()

def create_encoder_context(codec_name, width, height, bitrate):
    """aiortc 1.4's x264 settings (h264.py), plus a GOP length."""
    if codec_name != "libx264":
        raise ValueError("libx264 only")  # aiortc tries h264_omx first
    codec = av.CodecContext.create(codec_name, "w")
    codec.width = width
    codec.height = height
    codec.bit_rate = bitrate
    codec.pix_fmt = "yuv420p"
    codec.framerate = fractions.Fraction(aiortc_h264.MAX_FRAME_RATE, 1)
    codec.time_base = fractions.Fraction(1, aiortc_h264.MAX_FRAME_RATE)
    codec.gop_size = args.keyframe_every
    codec.options = {"profile": "baseline", "level": "31", "tune": "zerolatency"}
    codec.open()
    return codec, False


aiortc_h264.create_encoder_context = create_encoder_context

w, h = 320, 240
y, x = np.mgrid[0:h, 0:w].astype(np.float32)
r2 = (x - w / 2) ** 2 + (y - h / 2) ** 2
enc = Vp8Encoder() if args.codec == "VP8" else H264Encoder()
enc.target_bitrate = 0  # clamped to the encoder's minimum
seq = 1000
with open(args.out, "w") as f:
    for i in range(args.frames):
        lum = (128 + 100 * np.sin(r2 / 3000.0 + i * 0.4)).astype(np.uint8)
        rgb = np.stack([lum, np.roll(lum, i * 3, axis=1), 255 - lum], axis=2)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuv420p")
        frame.pts = i * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        payloads, ts = enc.encode(frame, force_keyframe=i > 0 and i % args.keyframe_every == 0)
        for j, p in enumerate(payloads):
            f.write(json.dumps({"seq": seq & 0xFFFF, "ts": ts & 0xFFFFFFFF, "m": int(j == len(payloads) - 1),
                                "pt": 96, "ssrc": 1, "t_ms": i * 1000 / 30, "padding": 0,
                                "payload": p.hex()}) + "\n")
            seq += 1
