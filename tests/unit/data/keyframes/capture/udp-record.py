#!/usr/bin/python3
"""Records plain RTP sent to a loopback UDP port (by ffmpeg -f rtp or a
GStreamer udpsink) as JSON lines in the format recorder.py writes.

  udp-record.py --port 5004 --out RAW.jsonl [--idle 2.0] [--max 2000]

Stops after --idle seconds without a packet (once one has come). RTCP
(payload types 72..76 with the marker bit, RFC 5761) is ignored."""
import argparse
import json
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--idle", type=float, default=2.0)
ap.add_argument("--max", type=int, default=5000)
args = ap.parse_args()

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
sock.bind(("127.0.0.1", args.port))
sock.settimeout(30.0)
packets = []
t0 = None
while len(packets) < args.max:
    try:
        data = sock.recv(65536)
    except socket.timeout:
        break
    now = time.monotonic()
    if t0 is None:
        t0 = now
        sock.settimeout(args.idle)
    if len(data) < 12 or data[0] >> 6 != 2 or 72 <= (data[1] & 0x7F) <= 76:
        continue
    cc = data[0] & 0x0F
    off = 12 + 4 * cc
    if data[0] & 0x10:  # header extension
        off += 4 + 4 * int.from_bytes(data[off + 2:off + 4], "big")
    end = len(data)
    pad = 0
    if data[0] & 0x20:
        pad = data[-1]
        end -= pad
    packets.append({
        "seq": int.from_bytes(data[2:4], "big"), "ts": int.from_bytes(data[4:8], "big"),
        "m": data[1] >> 7, "pt": data[1] & 0x7F, "ssrc": int.from_bytes(data[8:12], "big"),
        "t_ms": round((now - t0) * 1000, 3), "padding": pad, "payload": data[off:end].hex(),
    })
with open(args.out, "w") as f:
    for p in packets:
        f.write(json.dumps(p) + "\n")
print(f"udp-record: {len(packets)} packets")
