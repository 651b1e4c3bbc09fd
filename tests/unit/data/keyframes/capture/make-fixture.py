#!/usr/bin/python3
"""Turns a raw capture (JSON lines: seq, ts, m, pt, payload hex; written by
recorder.py or udp-record.py) into a keyframe fixture for test-keyframe.c,
with the truth taken from a decoder, not from Chorus's detector:

  - packets are grouped into frames by RTP timestamp (VP9 with spatial
    layers: by timestamp and spatial layer id) in sequence order; a gap in
    sequence numbers is an error (loopback capture: there must be none);
  - each frame is depacketized here (RFC 7741, RFC 9628, RFC 6184, the AV1
    RTP specification) and decoded with libavcodec through PyAV (vp8, vp9,
    h264; libdav1d for AV1), each decoder packet carrying the frame index as
    its pts so that the decoder's output frames map back to input frames;
  - a frame is a keyframe when the decoder says so (AVFrame key_frame); for
    VP9 with spatial layers, when the base layer's frame decoded alone is.
    Every input frame must come out of the decoder (hidden VP9 frames are
    in superframes with a shown one), else this fails.

Output, one packet a line, in arrival (= sequence) order:
  <seq> <timestamp> <marker 0|1> <payload type> <K|k|.> <payload hex>
K: first packet of a keyframe; k: another packet of a keyframe; .: a packet
of a delta frame, or a padding-only packet (payload '-'). Lines starting with '#' are comments; '# codec: X' names
the codec (VP8, VP9, H264, AV1).

  make-fixture.py --codec VP8 --raw RAW.jsonl --frames 60 --out X.txt
                  [--note TEXT]... [--meta RAW.meta.json]
"""
import argparse
import json
import sys

import av


def leb128(data, off):
    value = 0
    for i in range(8):
        if off + i >= len(data):
            raise ValueError("truncated leb128")
        b = data[off + i]
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            return value, off + i + 1
    raise ValueError("leb128 too long")


def leb128_bytes(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def vp8_depay(p):
    off = 1
    if p[0] & 0x80:
        x = p[1]
        off = 2
        if x & 0x80:
            off += 2 if p[off] & 0x80 else 1
        if x & 0x40:
            off += 1
        if x & 0x30:
            off += 1
    return p[off:], 0


def vp9_descriptor(p):
    """Returns (payload offset, spatial id, begin bit)."""
    b0 = p[0]
    i_, pbit, l_, f_, v_ = b0 & 0x80, b0 & 0x40, b0 & 0x20, b0 & 0x10, b0 & 0x02
    begin = bool(b0 & 0x08)
    off = 1
    sid = 0
    if i_:
        off += 2 if p[off] & 0x80 else 1
    if l_:
        sid = (p[off] >> 1) & 0x07
        off += 1
        if not f_:
            off += 1  # TL0PICIDX
    if f_ and pbit:
        while True:
            n = p[off] & 0x01
            off += 1
            if not n:
                break
    if v_:
        ss = p[off]
        off += 1
        n_s = (ss >> 5) + 1
        if ss & 0x10:
            off += 4 * n_s
        if ss & 0x08:
            n_g = p[off]
            off += 1
            for _ in range(n_g):
                r = (p[off] >> 2) & 0x03
                off += 1 + r
    return off, sid, begin


def vp9_depay(p):
    off, sid, _ = vp9_descriptor(p)
    return p[off:], sid


def h264_depay(p):
    t = p[0] & 0x1F
    sc = b"\x00\x00\x00\x01"
    if 1 <= t <= 23:
        return sc + p, 0
    if t == 24:
        out = bytearray()
        off = 1
        while off + 2 <= len(p):
            n = (p[off] << 8) | p[off + 1]
            off += 2
            out += sc + p[off:off + n]
            off += n
        return bytes(out), 0
    if t == 28:
        if p[1] & 0x80:
            return sc + bytes([(p[0] & 0xE0) | (p[1] & 0x1F)]) + p[2:], 0
        return p[2:], 0
    raise ValueError(f"H264 packet type {t} not handled")


def av1_frame(payloads):
    """OBUs of one temporal unit from its packets, as a low-overhead
    bitstream (every OBU with obu_size), with a temporal delimiter first."""
    obus = []
    partial = None
    for p in payloads:
        z, y, w = p[0] & 0x80, p[0] & 0x40, (p[0] >> 4) & 0x03
        off = 1
        elems = []
        while off < len(p):
            if w == 0 or len(elems) < w - 1:
                n, off = leb128(p, off)
            else:
                n = len(p) - off
            elems.append(p[off:off + n])
            off += n
        for i, e in enumerate(elems):
            if i == 0 and z:
                if partial is None:
                    raise ValueError("AV1 continuation without a start")
                partial += e
            else:
                if partial is not None:
                    raise ValueError("AV1 fragment not continued")
                partial = bytearray(e)
            if i == len(elems) - 1 and y:
                continue
            obus.append(bytes(partial))
            partial = None
    out = bytearray(b"\x12\x00")  # temporal delimiter
    for o in obus:
        hdr = o[0]
        hlen = 2 if hdr & 0x04 else 1
        if (hdr >> 3) & 0x0F == 2:
            continue  # temporal delimiters SHOULD not be sent; keep ours only
        if hdr & 0x02:
            out += o
        else:
            out += bytes([hdr | 0x02]) + o[1:hlen] + leb128_bytes(len(o) - hlen) + o[hlen:]
    return bytes(out)


DEPAY = {"VP8": vp8_depay, "VP9": vp9_depay, "H264": h264_depay}
DECODER = {"VP8": "vp8", "VP9": "vp9", "H264": "h264", "AV1": "libdav1d"}


def group_frames(codec, packets):
    """[(key, [packet indices])] in order; key = (ts, layer)."""
    frames = []
    index = {}
    for i, p in enumerate(packets):
        layer = 0
        if codec == "VP9":
            _, layer, _ = vp9_descriptor(bytes.fromhex(p["payload"]))
        key = (p["ts"], layer)
        if key not in index:
            index[key] = len(frames)
            frames.append((key, []))
        elif index[key] != len(frames) - 1:
            raise ValueError(f"frame {key} is not contiguous in sequence order")
        frames[index[key]][1].append(i)
    return frames


def decode_truth(codec, packets, frames, layers):
    """key_frame of each frame of the given layers (dict frame index -> bool)."""
    ctx = av.CodecContext.create(DECODER[codec], "r")
    if codec != "AV1":
        ctx.thread_count = 1
    sent = []
    out = {}

    def collect(decoded):
        for f in decoded:
            out[f.pts] = bool(f.key_frame)

    # Spatial layers of one picture go to the decoder together (a
    # superframe's worth) only for the base layer: each layer id decodes in
    # its own run.
    for fi, (key, idx) in enumerate(frames):
        if key[1] not in layers:
            continue
        payloads = [bytes.fromhex(packets[i]["payload"]) for i in idx]
        if codec == "AV1":
            data = av1_frame(payloads)
        else:
            data = b"".join(DEPAY[codec](p)[0] for p in payloads)
        pkt = av.Packet(data)
        pkt.pts = fi
        pkt.dts = fi
        sent.append(fi)
        collect(ctx.decode(pkt))
    collect(ctx.decode(None))
    missing = [fi for fi in sent if fi not in out]
    if missing:
        raise ValueError(f"decoder gave no picture for frames {missing[:10]} ({len(missing)} of {len(sent)})")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--codec", required=True, choices=["VP8", "VP9", "H264", "AV1"])
    ap.add_argument("--raw", required=True)
    ap.add_argument("--frames", type=int, default=60, help="keep the packets of the first N frames (pictures)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--start-ms", type=float, default=0.0,
                    help="drop what came before (t_ms); the fixture then starts at the next picture")
    ap.add_argument("--note", action="append", default=[])
    ap.add_argument("--meta")
    args = ap.parse_args()

    packets = [json.loads(l) for l in open(args.raw)]
    if args.start_ms > 0:
        # From the first picture at or after start_ms that the decoder,
        # given that picture alone, decodes as a keyframe.
        starts = [i for i, p in enumerate(packets)
                  if p["t_ms"] >= args.start_ms and p["payload"] and
                  all(q["ts"] != p["ts"] for q in packets[max(0, i - 50):i])]
        for i in starts[:60]:
            pic = [q for q in packets[i:i + 200] if q["payload"] and q["ts"] == packets[i]["ts"]]
            frames = group_frames(args.codec, pic)
            try:
                truth = decode_truth(args.codec, pic, frames, {min(k[1] for k, _ in frames)})
            except (ValueError, av.AVError):
                continue
            if truth.get(0):
                packets = packets[i:]
                break
        else:
            sys.exit(f"no keyframe after {args.start_ms} ms")
    if not packets:
        sys.exit("no packets")
    for a, b in zip(packets, packets[1:]):
        if (a["seq"] + 1) & 0xFFFF != b["seq"]:
            sys.exit(f"sequence gap or reorder between {a['seq']} and {b['seq']}")
    pts = {p["pt"] for p in packets}
    if len(pts) != 1:
        sys.exit(f"more than one payload type: {pts}")

    # Keep whole pictures: everything up to the last packet of the N-th
    # distinct timestamp. Padding-only packets (no payload: bandwidth
    # probes) stay where they came, flagged '.', and belong to no frame.
    seen = []
    last = 0
    for i, p in enumerate(packets):
        if not p["payload"]:
            continue
        if p["ts"] not in seen:
            if len(seen) == args.frames:
                break
            seen.append(p["ts"])
        last = i
    packets = packets[:last + 1]
    keep_ts = set(seen)
    media = [p for p in packets if p["payload"]]

    frames = group_frames(args.codec, media)
    layer_ids = sorted({k[1] for k, _ in frames})
    truth = decode_truth(args.codec, media, frames, {layer_ids[0]})
    # A picture is a keyframe when its base layer frame is.
    key_ts = {frames[fi][0][0] for fi, key in truth.items() if key}
    if frames[0][0][0] not in key_ts:
        sys.exit("the capture does not start with a keyframe")

    flags = []
    first_of_ts = {}
    for i, p in enumerate(packets):
        if not p["payload"]:
            flags.append(".")
            continue
        if p["ts"] in key_ts:
            flags.append("K" if p["ts"] not in first_of_ts else "k")
        else:
            flags.append(".")
        first_of_ts.setdefault(p["ts"], i)

    meta = json.load(open(args.meta)) if args.meta else None
    with open(args.out, "w") as f:
        f.write(f"# codec: {args.codec}\n")
        for n in args.note:
            f.write(f"# {n.strip()}\n")
        if meta:
            ob = next((s for s in meta["stats"] if s["type"] == "outbound-rtp"), {})
            f.write(f"# Chromium {meta['chromium']}: offered {meta['offeredCodec']['mimeType']} "
                    f"{meta['offeredCodec'].get('sdpFmtpLine', '')}; encoder {ob.get('encoderImplementation')}, "
                    f"{ob.get('frameWidth')}x{ob.get('frameHeight')}, scalability {ob.get('scalabilityMode')}; "
                    f"whole capture: {ob.get('framesEncoded')} frames encoded, "
                    f"{ob.get('keyFramesEncoded')} keyframes encoded (getStats)\n")
        npad = len(packets) - len(media)
        f.write(f"# {len(packets)} packets ({npad} padding-only, payload '-'), {len(keep_ts)} pictures, {len(key_ts)} keyframes "
                f"(truth: {DECODER[args.codec]} decoder key_frame via PyAV {av.__version__}"
                f"{', base spatial layer' if len(layer_ids) > 1 else ''}); spatial layers {layer_ids}\n")
        f.write("# seq timestamp marker pt truth(K first packet of a keyframe, k other keyframe packet, . other) payload\n")
        for p, fl in zip(packets, flags):
            f.write(f"{p['seq']} {p['ts']} {p['m']} {p['pt']} {fl} {p['payload'] or '-'}\n")
    print(f"{args.out}: {len(packets)} packets, {len(keep_ts)} pictures, keyframes at pictures "
          f"{[seen.index(t) for t in sorted(key_ts, key=seen.index)]}", file=sys.stderr)


main()
