#!/usr/bin/python3
"""One aiortc participant as a command: for tests in other languages (the
mixed Chromium/aiortc tests) that need a real non-browser WebRTC peer.

    /usr/bin/python3 tests/interop/aiortc_peer.py subscribe --url WS --room R --identity I --seconds N
    /usr/bin/python3 tests/interop/aiortc_peer.py publish   --url WS --room R --identity I --seconds N

subscribe: joins (default role audience), subscribes to "all", receives for
  N seconds after `subscribe` and reports RTP packets and decoded frames per
  kind, and the times (from sending `join`) of the offer, of the subscriber
  PeerConnection's "connected" and of the first decoded video/audio frame.
publish: joins (default role host), publishes an Opus tone and a VP8 test
  pattern, sends for N seconds after "connected" and reports packets sent
  and frames produced per kind.

Both print ONE JSON object (the report) on stdout when they finish, also
after SIGTERM/SIGINT or end of stdin (which end the wait early). Progress
goes to stderr as lines "EVENT {json}" (joined, published, offer,
connected, first_frame, done) so that a driver knows when media flows;
anything else on stderr is log. Exit status: 0 when the session ran (the
driver judges the numbers), 1 when signaling or negotiation failed (the
report then has "error"), 2 for bad usage.
--create KIND creates the room first (dev mode or an admin token).
subscribe --analyze-audio adds "audio_analysis" to the report: per received
  audio track, the payload types, sequence-number span (gaps: packets lost
  or dropped on the way) and arrival span of its RTP packets and,
  per decoded frame, the dominant frequency, RMS and tone purity (what the
  audio is, not only how much of it came).
Run with /usr/bin/python3 (Debian's aiortc lives there).
"""
import argparse
import asyncio
import json
import logging
import math
import signal
import sys
import time

import numpy

import aiortc_client as ac

# Cleanup must not hang a driver that waits for the report.
CLOSE_TIMEOUT_S = 3.0


def emit(event, **fields):
    """A progress line on stderr for the driver."""
    fields["event"] = event
    print("EVENT " + json.dumps(fields), file=sys.stderr, flush=True)


def ms_after(t, t0):
    return round((t - t0) * 1000, 1) if t is not None and t0 is not None else None


class StopSignal:
    """Set by SIGTERM/SIGINT or end of stdin: ends the media window early."""

    def __init__(self, watch_stdin):
        self.event = asyncio.Event()
        self.reason = None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._set, signal.Signals(sig).name)
        if watch_stdin and not sys.stdin.isatty():
            loop.add_reader(sys.stdin.fileno(), self._on_stdin)

    def _on_stdin(self):
        if not sys.stdin.buffer.raw.read(4096):  # EOF: the driver is done with us
            asyncio.get_running_loop().remove_reader(sys.stdin.fileno())
            self._set("stdin closed")

    def _set(self, reason):
        if self.reason is None:
            self.reason = reason
        self.event.set()

    async def wait(self, timeout_s):
        """True if stopped early, False when timeout_s passed."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout_s)
            return True
        except asyncio.TimeoutError:
            return False


async def with_timeout(coro):
    try:
        await asyncio.wait_for(coro, CLOSE_TIMEOUT_S)
    except (asyncio.TimeoutError, Exception) as exc:  # best effort: the report matters more
        logging.getLogger("aiortc_peer").warning("cleanup: %r", exc)


# --analyze-audio: zero-padded FFT length (2.9 Hz bins at 48 kHz, for the
# peak's position; a 20 ms frame's real resolution is its Hann main lobe).
PROBE_FFT_N = 16384
# Energy within this distance of the peak counts as the tone's (the main
# lobe of a 960-sample Hann window is +-100 Hz).
PROBE_PURITY_HZ = 120.0


class AudioProbeTrack(ac.ReceivedTrack):
    """A received track that, when audio, logs every RTP packet's payload
    type, sequence number and arrival and analyses every decoded frame
    (first channel):
    [dominant Hz, RMS (full scale 1.0), purity (share of the windowed
    energy within PROBE_PURITY_HZ of the peak)]. Installed as
    aiortc_client.ReceivedTrack by --analyze-audio."""

    def __init__(self, track, receiver, mid, on_first_frame=None):
        self.rtp_pts = {}
        self.rtp_first_at = None
        self.rtp_last_at = None
        self.rtp_count = 0
        self.rtp_seqs = set()     # unwrapped sequence numbers: gaps are packets lost or dropped
        self._seq_last = None
        self._seq_unwrapped = 0
        self.frame_log = []
        if track.kind == "audio":
            handle = receiver._handle_rtp_packet

            async def logged(packet, arrival_time_ms):
                now = time.monotonic()
                pt = str(packet.payload_type)
                self.rtp_pts[pt] = self.rtp_pts.get(pt, 0) + 1
                self.rtp_count += 1
                if self.rtp_first_at is None:
                    self.rtp_first_at = now
                self.rtp_last_at = now
                if self._seq_last is not None:
                    step = (packet.sequence_number - self._seq_last) & 0xFFFF
                    self._seq_unwrapped += step - 0x10000 if step >= 0x8000 else step
                self._seq_last = packet.sequence_number
                self.rtp_seqs.add(self._seq_unwrapped)
                await handle(packet, arrival_time_ms=arrival_time_ms)
            receiver._handle_rtp_packet = logged
            recv = track.recv

            async def analysed():
                frame = await recv()
                self.frame_log.append(analyse_audio_frame(frame))
                return frame
            track.recv = analysed
        super().__init__(track, receiver, mid, on_first_frame)

    def analysis(self, t0):
        return {"track": self.chorus_track, "participant": self.publisher, "mid": self.mid,
                "packets": self.rtp_count, "payload_types": self.rtp_pts,
                # What the answer negotiated, PT -> MIME type (aiortc keeps it private).
                "codecs": {str(pt): c.mimeType for pt, c in
                           getattr(self.receiver, "_RTCRtpReceiver__codecs", {}).items()},
                "seq_span": max(self.rtp_seqs) - min(self.rtp_seqs) + 1 if self.rtp_seqs else 0,
                "seq_unique": len(self.rtp_seqs),
                "first_packet_ms": ms_after(self.rtp_first_at, t0),
                "last_packet_ms": ms_after(self.rtp_last_at, t0),
                "frames": self.frame_log}


def analyse_audio_frame(frame):
    pcm = frame.to_ndarray()
    if frame.format.is_planar:
        x = pcm[0]
    else:  # packed: L R L R ...
        x = pcm.reshape(-1)[::len(frame.layout.channels)]
    x = x.astype(numpy.float64) / 32768.0
    if not len(x):
        return [None, 0.0, 0.0]
    rms = math.sqrt(float(numpy.dot(x, x)) / len(x))
    power = numpy.abs(numpy.fft.rfft(x * numpy.hanning(len(x)), PROBE_FFT_N)) ** 2
    total = float(numpy.sum(power))
    if total <= 0.0:
        return [None, 0.0, 0.0]
    peak = int(numpy.argmax(power))
    bin_hz = frame.sample_rate / PROBE_FFT_N
    half = int(PROBE_PURITY_HZ / bin_hz)
    near = float(numpy.sum(power[max(0, peak - half):peak + half + 1]))
    return [round(peak * bin_hz, 1), round(rms, 5), round(near / total, 4)]


async def open_session(args, report):
    client = await ac.new_client(args.url, args.identity, token=args.token)
    if args.create:
        await client.request("room.create", {"room": args.room, "kind": args.create})
    part = ac.Participant(client, args.identity)
    await part.join(args.room, args.identity, args.role)
    report["participant"] = part.id
    report["join_reply_ms"] = ms_after(time.monotonic(), part.join_sent_at)
    emit("joined", participant=part.id, room=args.room)
    return client, part


async def close_session(client, part, leave):
    if part is not None:
        if leave and part.id is not None and not client.closed.is_set():
            await with_timeout(part.leave())
        await with_timeout(part.close())
    if client is not None:
        await with_timeout(client.close())


async def run_subscribe(args, stop):
    report = {"mode": "subscribe", "room": args.room, "identity": args.identity, "error": None}
    client = part = None
    try:
        client, part = await open_session(args, report)
        t0 = part.join_sent_at
        first_seen = {"video": None, "audio": None}

        t_subscribe = time.monotonic()
        await part.subscribe("all")
        report["subscribe_reply_ms"] = ms_after(time.monotonic(), t0)
        deadline = t_subscribe + args.seconds
        reported = set()
        stopped = False
        # Poll rather than wait on one event: progress lines for offer,
        # connected and each kind's first frame, in the order they happen.
        while time.monotonic() < deadline and not stopped:
            if part.offer_received_at and "offer" not in reported:
                reported.add("offer")
                emit("offer", ms=ms_after(part.offer_received_at[0], t0))
            connected_at = part.state_reached_at("subscriber", "connected")
            if connected_at is not None and "connected" not in reported:
                reported.add("connected")
                emit("connected", ms=ms_after(connected_at, t0))
            if part.recv is not None:
                for kind in ("video", "audio"):
                    times = [t.first_frame_at for t in part.recv.tracks
                             if t.kind == kind and t.first_frame_at is not None]
                    if times and first_seen[kind] is None:
                        first_seen[kind] = min(times)
                        emit("first_frame", kind=kind, ms=ms_after(first_seen[kind], t0))
            stopped = await stop.wait(min(0.01, max(0.0, deadline - time.monotonic())))
        report["stopped_by"] = stop.reason
        report["window_s"] = round(time.monotonic() - t_subscribe, 3)
        report.update(subscriber_numbers(part, t0))
        if args.analyze_audio and part.recv is not None:
            report["audio_analysis"] = [t.analysis(t0) for t in part.recv.tracks if t.kind == "audio"]
        if part.errors:
            report["error"] = "; ".join(str(e) for e in part.errors)
    except (AssertionError, ac.RpcError, OSError, asyncio.TimeoutError) as exc:
        report["error"] = "%s: %s" % (type(exc).__name__, exc)
    finally:
        await close_session(client, part, leave=client is not None and not client.closed.is_set())
    return report


def subscriber_numbers(part, t0):
    recv = part.recv
    out = {
        "offer_ms": ms_after(part.offer_received_at[0], t0) if part.offer_received_at else None,
        "connected_ms": ms_after(part.state_reached_at("subscriber", "connected"), t0),
        "state": part.subscriber.pc.connectionState if part.subscriber.pc else None,
        "offers": len(part.offers),
        "answers": part.answers_sent,
        "packets": {"audio": 0, "video": 0},
        "rtx_packets": 0,
        "frames": {"audio": 0, "video": 0},
        "first_frame_ms": {"audio": None, "video": None},
        "tracks": [],
    }
    if recv is None:
        return out
    for kind in ("audio", "video"):
        out["packets"][kind] = recv.packets(kind)
        out["frames"][kind] = recv.frames(kind)
        times = [t.first_frame_at for t in recv.tracks if t.kind == kind and t.first_frame_at is not None]
        out["first_frame_ms"][kind] = ms_after(min(times), t0) if times else None
    out["rtx_packets"] = sum(t.rtx_packets() for t in recv.tracks)
    for t in recv.tracks:
        out["tracks"].append({"track": t.chorus_track, "participant": t.publisher, "kind": t.kind,
                              "mid": t.mid, "packets": t.packets(), "frames": t.frames,
                              "frame_size": list(t.frame_size) if t.frame_size else None})
    return out


async def run_publish(args, stop):
    report = {"mode": "publish", "room": args.room, "identity": args.identity, "error": None}
    client = part = None
    try:
        client, part = await open_session(args, report)
        t0 = part.join_sent_at
        tone = ac.ToneTrack(440.0)
        video = ac.PatternVideoTrack(args.width, args.height, args.fps)
        result = await part.publish([tone, video])
        report["tracks"] = result.get("tracks", [])
        report["publish_reply_ms"] = ms_after(time.monotonic(), t0)
        emit("published", tracks=report["tracks"])
        stopped = False
        try:
            await part.wait_state("publisher", ("connected",), args.connect_timeout)
        except AssertionError:
            stopped = stop.event.is_set()
            if not stopped:
                raise
        connected_at = part.state_reached_at("publisher", "connected")
        report["connected_ms"] = ms_after(connected_at, t0)
        if connected_at is not None:
            emit("connected", ms=report["connected_ms"])
        t_flow = time.monotonic()
        if not stopped:
            await stop.wait(args.seconds)
        report["stopped_by"] = stop.reason
        report["window_s"] = round(time.monotonic() - t_flow, 3)
        report["state"] = part.publisher.pc.connectionState
        report["packets_sent"] = await part.packets_sent()
        report["frames_produced"] = {"audio": tone.frames_produced, "video": video.frames_produced}
        if part.errors:
            report["error"] = "; ".join(str(e) for e in part.errors)
    except (AssertionError, ac.RpcError, OSError, asyncio.TimeoutError) as exc:
        report["error"] = "%s: %s" % (type(exc).__name__, exc)
    finally:
        await close_session(client, part, leave=client is not None and not client.closed.is_set())
    return report


async def main_async(args):
    stop = StopSignal(watch_stdin=args.stdin_stops)
    if args.mode == "subscribe":
        if args.analyze_audio:
            ac.ReceivedTrack = AudioProbeTrack
        report = await run_subscribe(args, stop)
    else:
        report = await run_publish(args, stop)
    emit("done", error=report["error"])
    print(json.dumps(report), flush=True)
    return 1 if report["error"] else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode, role in (("subscribe", "audience"), ("publish", "host")):
        p = sub.add_parser(mode)
        p.add_argument("--url", required=True, help="ws://127.0.0.1:PORT/ws")
        p.add_argument("--room", required=True)
        p.add_argument("--identity", required=True)
        p.add_argument("--role", default=role, help="default %s" % role)
        p.add_argument("--seconds", type=float, default=5.0,
                       help="media window: after subscribe (subscribe), after connected (publish)")
        p.add_argument("--token", default=None, help="JWT (not needed in dev mode)")
        p.add_argument("--create", choices=("live", "voice"), default=None, help="create the room first")
        p.add_argument("--stdin-stops", action="store_true",
                       help="end the window early at end of stdin (a driver closing our stdin)")
        p.add_argument("--verbose", action="store_true")
        if mode == "subscribe":
            p.add_argument("--analyze-audio", action="store_true",
                           help="report RTP payload types and per-frame frequency analysis of audio")
        if mode == "publish":
            p.add_argument("--width", type=int, default=320)
            p.add_argument("--height", type=int, default=240)
            p.add_argument("--fps", type=int, default=30)
            p.add_argument("--connect-timeout", type=float, default=10.0,
                           help="seconds to wait for the publisher PeerConnection")
    args = parser.parse_args()
    if args.seconds < 0:
        parser.error("--seconds must not be negative")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
