#!/usr/bin/python3
"""Join latency for aiortc subscribers: from sending `join` to the first
decoded video frame, with a publisher already flowing.

    /usr/bin/python3 tests/interop/join_latency.py [--runs 20] [--max-p95-ms MS]
    /usr/bin/python3 tests/interop/join_latency.py --selftest   (no server)

A measurement script, not a test: it prints every run, then the median, p95
and max. It exits non-zero when a run gets no video frame within
--frame-timeout (default 5 s; the run is reported and the others go on), or,
with --max-p95-ms, when p95 is above it. The build directory comes from
CHORUS_BUILD_DIR (default /work/main/build).

Each run opens a new signaling connection first (not timed), then times:
join reply, subscriber offer received, subscriber PeerConnection connected
(ICE + DTLS) and first decoded video frame, all from sending `join`. A ~1 s
tail in the last column means a DTLS flight was dropped and retransmitted
(INTEROP.md, "Join latency lesson"); a tail in the one before means the
server waited for a keyframe too long (PLI handling).

--selftest measures the same last step for two aiortc PeerConnections
connected directly, as a floor for what aiortc itself costs.
"""
import argparse
import asyncio
import logging
import math
import statistics
import sys
import time

import aiortc_client as ac



def percentile(values, pct):
    """Nearest-rank percentile (p95 of 20 runs is the 19th smallest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def summarize(label, latencies_ms):
    print("%s: runs %d, median %.0f ms, p95 %.0f ms, max %.0f ms, min %.0f ms"
          % (label, len(latencies_ms), statistics.median(latencies_ms), percentile(latencies_ms, 95),
             max(latencies_ms), min(latencies_ms)))


def ms(t, t0):
    return (t - t0) * 1000 if t is not None else float("nan")


async def one_run(server, room, index, frame_timeout_s):
    client = await ac.new_client(server.ws_url, "viewer-%d" % index)
    viewer = ac.Participant(client, "viewer-%d" % index)
    try:
        await viewer.join(room, "viewer-%d" % index, "audience")
        t0 = viewer.join_sent_at
        t_joined = time.monotonic()
        await viewer.subscribe("all")
        try:
            t_frame = await viewer.wait_first_video_frame(frame_timeout_s)
        except asyncio.TimeoutError:
            t_frame = None
        row = {
            "failure": None if t_frame else "no video frame within %.0f s of join: %s" % (
                frame_timeout_s, viewer.describe()),
            "join": ms(t_joined, t0),
            "offer": ms(viewer.offer_received_at[0] if viewer.offer_received_at else None, t0),
            "connected": ms(viewer.state_reached_at("subscriber", "connected"), t0),
            "frame": ms(t_frame, t0),
        }
        await viewer.leave()
        return row
    finally:
        await viewer.close()
        await client.close()


async def run(args):
    server = await ac.start_server(dev=True, media_interfaces="127.0.0.1", fake=args.fake)
    clients, participants = [], []
    failed = True
    try:
        admin = await ac.new_client(server.ws_url, "admin")
        clients.append(admin)
        room = "join-latency"
        await admin.request("room.create", {"room": room, "kind": "live"})
        pub = ac.Participant(await ac.new_client(server.ws_url, "publisher"))
        clients.append(pub.client)
        participants.append(pub)
        await pub.join(room, "host", "host")
        await pub.publish([ac.ToneTrack(440.0), ac.PatternVideoTrack(320, 240, 30)])
        await pub.wait_state("publisher", ("connected",), 5.0)
        # Let the publisher reach steady state so the first run is not special.
        await asyncio.sleep(1.0)
        sent = await pub.packets_sent()
        assert sent["video"] > 0 and sent["audio"] > 0, "publisher is not sending: %s" % sent

        rows = []
        print("%4s %8s %8s %10s %12s" % ("run", "join", "offer", "connected", "first frame"))
        for i in range(args.runs):
            row = await one_run(server, room, i, args.frame_timeout)
            rows.append(row)
            print("%4d %6.1f ms %5.0f ms %7.0f ms %9.0f ms%s"
                  % (i, row["join"], row["offer"], row["connected"], row["frame"],
                     "  FAILED: " + row["failure"] if row["failure"] else ""), flush=True)
            await asyncio.sleep(args.pause)
        for key in ("join", "offer", "connected"):
            values = [r[key] for r in rows if not math.isnan(r[key])]
            if values:
                summarize("  %s" % key, values)
        frames = [r["frame"] for r in rows if not r["failure"]]
        failed_runs = [i for i, r in enumerate(rows) if r["failure"]]
        if frames:
            summarize("aiortc join -> first decoded video frame", frames)
        await pub.leave()
        await admin.request("room.destroy", {"room": room})
        if failed_runs:
            raise AssertionError("%d of %d runs decoded no video frame within %.0f s (runs %s)"
                                 % (len(failed_runs), len(rows), args.frame_timeout, failed_runs))
        if args.max_p95_ms is not None and percentile(frames, 95) > args.max_p95_ms:
            raise AssertionError("p95 %.0f ms > %.0f ms" % (percentile(frames, 95), args.max_p95_ms))
        failed = False
        metrics = await ac.fetch_metrics(server.http_url)
        for name in ("chorus_media_keyframe_requests_total", "chorus_media_keyframe_replays_total",
                     "chorus_media_waiting_keyframe_dropped_total"):
            print("  %s %s" % (name, metrics.get((name, ""))))
    finally:
        for p in participants:
            await p.close()
        for c in clients:
            await c.close()
        await ac.stop_server(server, failed)


async def selftest(args):
    """Offer -> first decoded frame for aiortc <-> aiortc, as a floor."""
    frames = []
    for i in range(args.runs):
        t0 = time.monotonic()
        pc_send, pc_recv, side = await ac.connect_direct([ac.ToneTrack(), ac.PatternVideoTrack()])
        try:
            t_frame = await side.wait_first_video_frame(args.frame_timeout)
            frames.append(ms(t_frame, t0))
            print("%4d %7.0f ms" % (i, frames[-1]), flush=True)
        finally:
            side.stop()
            await pc_send.close()
            await pc_recv.close()
    summarize("aiortc direct offer -> first decoded video frame", frames)


def main():
    parser = argparse.ArgumentParser(description="aiortc join latency through Chorus")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between runs")
    parser.add_argument("--max-p95-ms", type=float, default=None, help="fail if p95 is above this")
    parser.add_argument("--frame-timeout", type=float, default=5.0,
                        help="seconds a run may wait for its first video frame")
    parser.add_argument("--selftest", action="store_true", help="aiortc <-> aiortc directly, no server")
    parser.add_argument("--fake", action="store_true",
                        help="against fake_chorus.py (aiortc stand-in) to check this script, not Chorus")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be positive")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    ac.run_main(lambda: selftest(args) if args.selftest else run(args))


if __name__ == "__main__":
    sys.exit(main())
