#!/usr/bin/python3
"""aiortc test client for Chorus: signaling, publish/subscribe, synthetic media
and the counters the interop tests assert on.

A library for tests/interop/*.py (run with /usr/bin/python3: Debian's aiortc
1.4, aioice 0.8, av 10 and websockets 10.4 are only importable from it).

    /usr/bin/python3 tests/interop/aiortc_client.py --selftest

checks the media half without a server: two aiortc PeerConnections connected
directly on loopback, the synthetic tracks flowing and decoded.

Pieces:
- ChorusClient: one WebSocket (subprotocol chorus.v1), JSON-RPC requests with
  ids and a timeout, notifications logged and dispatched by method and `to`.
- Participant: join, publish (client offers), subscribe (server offers),
  trickle in both directions, and per-track counters (RTP packets, decoded
  frames, time of the first decoded video frame).
- ToneTrack / PatternVideoTrack: real-time paced synthetic sources.
- Helpers shared by the tests: flow windows (sent vs received), SDP
  candidate parsing, /metrics scraping, server start-up.
"""
import argparse
import asyncio
import fractions
import itertools
import json
import logging
import math
import os
import re
import sys
import time
import urllib.request

import aioice.ice

# aioice leaves 127.0.0.1 out of its host candidates, and tests must only use
# loopback (INTEROP.md): patch before any RTCPeerConnection exists.
aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]

import av  # noqa: E402
import numpy  # noqa: E402
import websockets  # noqa: E402
from aiortc import (  # noqa: E402
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack  # noqa: E402
from aiortc.sdp import candidate_from_sdp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

log = logging.getLogger("aiortc_client")

SUBPROTOCOL = "chorus.v1"
DEFAULT_TIMEOUT_S = 10.0

# JSON-RPC / Chorus error codes (PROTOCOL.md).
ERR_INVALID_PARAMS = -32602
ERR_NOT_FOUND = -32004
ERR_CONFLICT = -32009
ERR_NEGOTIATION_FAILED = -32010

# fake_chorus.py decodes and re-encodes what it relays, so packets received
# there are not the packets sent: with --fake the ratio is only a sanity check.
FAKE_MIN_RATIO = 0.5


def rtc_configuration():
    # The default configuration contacts a public STUN server.
    return RTCConfiguration(iceServers=[])


def new_peer_connection():
    return RTCPeerConnection(rtc_configuration())


# --------------------------------------------------------------------------
# Signaling
# --------------------------------------------------------------------------


class RpcError(Exception):
    """A JSON-RPC error reply."""

    def __init__(self, method, code, message, data=None):
        super().__init__("%s: %s %s%s" % (method, code, message,
                                          " data=%s" % json.dumps(data) if data is not None else ""))
        self.method = method
        self.code = code
        self.message = message
        self.data = data


class ChorusClient:
    """One signaling connection.

    Replies are matched to requests by id. Every notification is appended to
    `notifications` (in arrival order) and handed to the callbacks registered
    for its method and its `to`; `wait_notification` finds past and future
    ones.
    """

    def __init__(self, url, token=None, name="client"):
        self.url = url
        if token:
            self.url += ("&" if "?" in url else "?") + "token=" + token
        self.name = name
        self.ws = None
        self.notifications = []
        self._ids = itertools.count(1)
        self._pending = {}
        self._handlers = {}
        self._changed = asyncio.Condition()
        self._reader = None
        self.closed = asyncio.Event()
        self.close_code = None
        self.protocol_errors = []   # frames from the server that break JSON-RPC 2.0

    async def connect(self, timeout_s=DEFAULT_TIMEOUT_S):
        self.ws = await asyncio.wait_for(
            websockets.connect(self.url, subprotocols=[SUBPROTOCOL], max_size=None,
                               open_timeout=timeout_s),
            timeout_s)
        if self.ws.subprotocol != SUBPROTOCOL:
            raise AssertionError("%s: server chose subprotocol %r, expected %r"
                                 % (self.name, self.ws.subprotocol, SUBPROTOCOL))
        self._reader = asyncio.ensure_future(self._read_loop())
        return self

    async def close(self):
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._reader.cancel()

    async def _read_loop(self):
        try:
            async for text in self.ws:
                try:
                    self._dispatch(text)
                except (AssertionError, ValueError) as exc:
                    # Recorded rather than raised: the reader must keep serving replies.
                    log.error("%s", exc)
                    self.protocol_errors.append(str(exc))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError(
                        "%s: connection closed (code %s)" % (self.name, self.ws.close_code)))
            self._pending.clear()
            async with self._changed:
                self._changed.notify_all()

    def _dispatch(self, text):
        if isinstance(text, bytes):
            raise AssertionError("%s: server sent a binary frame" % self.name)
        msg = json.loads(text)
        if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
            raise AssertionError("%s: not a JSON-RPC 2.0 object: %s" % (self.name, text[:200]))
        if "method" in msg:
            params = msg.get("params") or {}
            self.notifications.append((time.monotonic(), msg["method"], params))
            for key in ((msg["method"], params.get("to")), (msg["method"], None)):
                for callback in list(self._handlers.get(key, ())):
                    try:
                        callback(params)
                    except Exception:  # a test callback bug must not kill the reader
                        log.exception("%s: %s handler failed", self.name, msg["method"])
            asyncio.ensure_future(self._pulse())
            return
        fut = self._pending.pop(msg.get("id"), None)
        if fut is None:
            raise AssertionError("%s: reply to unknown id: %s" % (self.name, text[:200]))
        if not fut.done():
            fut.set_result(msg)

    async def _pulse(self):
        async with self._changed:
            self._changed.notify_all()

    def on(self, method, callback, to=None):
        """Calls callback(params) for each `method` notification (for `to`, or all if None)."""
        self._handlers.setdefault((method, to), []).append(callback)

    def off(self, method, callback, to=None):
        handlers = self._handlers.get((method, to), [])
        if callback in handlers:
            handlers.remove(callback)

    async def send_raw(self, text):
        await self.ws.send(text)

    async def call(self, method, params=None, timeout_s=DEFAULT_TIMEOUT_S):
        """Sends a request; returns the whole reply object (result or error)."""
        req_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "id": req_id, "method": method,
                                       "params": params if params is not None else {}}))
        try:
            reply = await asyncio.wait_for(fut, timeout_s)
        except asyncio.TimeoutError:
            self._pending.pop(req_id, None)
            raise AssertionError("%s: no reply to %s within %.1f s" % (self.name, method, timeout_s))
        if reply.get("id") != req_id:
            raise AssertionError("%s: reply id %r for request %r" % (self.name, reply.get("id"), req_id))
        if ("result" in reply) == ("error" in reply):
            raise AssertionError("%s: reply must have exactly one of result/error: %s" % (self.name, reply))
        return reply

    async def request(self, method, params=None, timeout_s=DEFAULT_TIMEOUT_S):
        """Sends a request; returns its result or raises RpcError."""
        reply = await self.call(method, params, timeout_s)
        if "error" in reply:
            err = reply["error"]
            raise RpcError(method, err.get("code"), err.get("message"), err.get("data"))
        return reply["result"]

    async def notify(self, method, params):
        """Sends a JSON-RPC notification (no id, no reply)."""
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "method": method, "params": params}))

    def mark(self):
        """A cursor for wait_notification(since=...): only later notifications match."""
        return len(self.notifications)

    def find_notifications(self, method=None, to=None, match=None, since=0):
        found = []
        for _, m, params in self.notifications[since:]:
            if method is not None and m != method:
                continue
            if to is not None and params.get("to") != to:
                continue
            if match is not None and not match(params):
                continue
            found.append((m, params))
        return found

    async def wait_notification(self, method=None, to=None, match=None, since=0,
                                timeout_s=DEFAULT_TIMEOUT_S):
        """Returns the params of the first matching notification received at or after `since`."""
        deadline = time.monotonic() + timeout_s
        async with self._changed:
            while True:
                found = self.find_notifications(method, to, match, since)
                if found:
                    return found[0][1]
                if self.closed.is_set():
                    raise AssertionError("%s: connection closed while waiting for %s" % (self.name, method))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("%s: no %s notification (to=%s) within %.1f s"
                                         % (self.name, method, to, timeout_s))
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except asyncio.TimeoutError:
                    pass


async def expect_rpc_error(coro, code, what):
    """Awaits a request coroutine that must fail with `code`; returns the RpcError."""
    try:
        result = await coro
    except RpcError as err:
        if err.code != code:
            raise AssertionError("%s: expected error %d, got %d (%s, data=%s)"
                                 % (what, code, err.code, err.message, err.data))
        return err
    raise AssertionError("%s: expected error %d, got result %s" % (what, code, json.dumps(result)[:300]))


# --------------------------------------------------------------------------
# Synthetic sources
# --------------------------------------------------------------------------


class ToneTrack(MediaStreamTrack):
    """A sine tone, 20 ms s16 frames at 48 kHz, paced in real time."""

    kind = "audio"
    SAMPLE_RATE = 48000
    PTIME_S = 0.020

    def __init__(self, freq_hz=440.0, layout="mono", amplitude=0.3):
        super().__init__()
        if layout not in ("mono", "stereo"):
            raise ValueError("layout must be mono or stereo")
        self.freq_hz = freq_hz
        self.layout = layout
        self.channels = 1 if layout == "mono" else 2
        self.amplitude = amplitude
        self.samples_per_frame = int(self.SAMPLE_RATE * self.PTIME_S)
        self.time_base = fractions.Fraction(1, self.SAMPLE_RATE)
        self.frames_produced = 0
        self._next_sample = 0
        self._start = None

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            # Pace on the absolute schedule so that sleep jitter does not accumulate.
            wait_s = self._start + self._next_sample / self.SAMPLE_RATE - now
            if wait_s > 0:
                await asyncio.sleep(wait_s)
        n = numpy.arange(self._next_sample, self._next_sample + self.samples_per_frame)
        # Phase from the absolute sample index keeps the tone continuous across frames.
        wave = numpy.sin(2 * math.pi * self.freq_hz * n / self.SAMPLE_RATE)
        pcm = (wave * self.amplitude * 32767).astype(numpy.int16)
        if self.channels == 2:
            pcm = numpy.repeat(pcm, 2)  # packed s16: L R L R ...
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout=self.layout)
        frame.sample_rate = self.SAMPLE_RATE
        frame.pts = self._next_sample
        frame.time_base = self.time_base
        self._next_sample += self.samples_per_frame
        self.frames_produced += 1
        return frame


class PatternVideoTrack(MediaStreamTrack):
    """A moving test pattern (yuv420p), paced at `fps` in real time."""

    kind = "video"
    CLOCK_RATE = 90000

    def __init__(self, width=320, height=240, fps=30):
        super().__init__()
        if width % 2 or height % 2:
            raise ValueError("yuv420p needs even width and height")
        self.width = width
        self.height = height
        self.fps = fps
        self.time_base = fractions.Fraction(1, self.CLOCK_RATE)
        self.frames_produced = 0
        self._start = None
        xs = numpy.arange(width, dtype=numpy.int32)
        ys = numpy.arange(height, dtype=numpy.int32)
        self._ramp = (xs[None, :] + ys[:, None]) % 256  # diagonal luma ramp
        self._box = max(8, height // 6)

    def _draw(self, index):
        w, h = self.width, self.height
        luma = ((self._ramp + 3 * index) % 256).astype(numpy.uint8)
        # A white box bouncing horizontally: motion the encoder has to code.
        span = max(1, w - self._box)
        x = index * 4 % (2 * span)
        x = x if x < span else 2 * span - x
        y = (h - self._box) // 2
        luma[y:y + self._box, x:x + self._box] = 235
        cb = numpy.full((h // 2, w // 2), (64 + index) % 256, dtype=numpy.uint8)
        cr = numpy.full((h // 2, w // 2), (192 - index) % 256, dtype=numpy.uint8)
        yuv = numpy.concatenate([luma.reshape(-1), cb.reshape(-1), cr.reshape(-1)])
        return av.VideoFrame.from_ndarray(yuv.reshape(h * 3 // 2, w), format="yuv420p")

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        index = self.frames_produced
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            wait_s = self._start + index / self.fps - now
            if wait_s > 0:
                await asyncio.sleep(wait_s)
        frame = self._draw(index)
        frame.pts = index * self.CLOCK_RATE // self.fps
        frame.time_base = self.time_base
        self.frames_produced += 1
        return frame


# --------------------------------------------------------------------------
# Counters
# --------------------------------------------------------------------------


async def sender_packets_sent(sender):
    """RTP packets sent by an RTCRtpSender (outbound-rtp packetsSent; RTX not included)."""
    stats = await sender.getStats()
    return sum(s.packetsSent for s in stats.values() if s.type == "outbound-rtp")


def receiver_packet_counts(receiver):
    """(media, rtx) RTP packets received by an RTCRtpReceiver.

    aiortc 1.4's getStats() gives every SSRC's inbound-rtp entry the same id,
    so with RTX the entry of whichever SSRC comes last wins. Reading the
    per-SSRC statistics behind getStats() keeps media and RTX apart; RTX is
    not counted as media (the server may also send probes on it).
    """
    streams = getattr(receiver, "_RTCRtpReceiver__remote_streams", None)
    rtx_map = getattr(receiver, "_RTCRtpReceiver__rtx_ssrc", None)
    if streams is None or rtx_map is None:  # not aiortc 1.4's layout
        raise RuntimeError("unexpected aiortc RTCRtpReceiver internals")
    media = sum(s.packets_received for ssrc, s in streams.items() if ssrc not in rtx_map)
    rtx = sum(s.packets_received for ssrc, s in streams.items() if ssrc in rtx_map)
    return media, rtx


async def receiver_packets_received(receiver):
    """inbound-rtp packetsReceived as getStats() reports it (see receiver_packet_counts)."""
    stats = await receiver.getStats()
    return sum(s.packetsReceived for s in stats.values() if s.type == "inbound-rtp")


class ReceivedTrack:
    """One received track: frames decoded (consumed from track.recv()) and RTP counters."""

    def __init__(self, track, receiver, mid, on_first_frame=None):
        self.track = track
        self.receiver = receiver
        self.kind = track.kind
        self.mid = mid
        self.chorus_track = None      # Chorus track id, from the offer's mapping
        self.publisher = None         # Chorus participant id of the publisher
        self.frames = 0
        self.first_frame_at = None    # time.monotonic() of the first decoded frame
        self.last_frame_at = None
        self.frame_size = None        # (width, height) of the last video frame
        self.ended = False
        self._on_first_frame = on_first_frame
        self._first = asyncio.Event()
        self._task = asyncio.ensure_future(self._consume())

    async def _consume(self):
        while True:
            try:
                frame = await self.track.recv()
            except MediaStreamError:
                self.ended = True
                return
            now = time.monotonic()
            self.frames += 1
            self.last_frame_at = now
            if isinstance(frame, av.VideoFrame):
                self.frame_size = (frame.width, frame.height)
            if self.first_frame_at is None:
                self.first_frame_at = now
                self._first.set()
                if self._on_first_frame is not None:
                    self._on_first_frame(self)

    async def wait_first_frame(self, timeout_s):
        await asyncio.wait_for(self._first.wait(), timeout_s)
        return self.first_frame_at

    def packets(self):
        return receiver_packet_counts(self.receiver)[0]

    def rtx_packets(self):
        return receiver_packet_counts(self.receiver)[1]

    def stop(self):
        self._task.cancel()


class ReceiveSide:
    """Collects the tracks of one receiving PeerConnection and their counters."""

    def __init__(self, pc, name):
        self.pc = pc
        self.name = name
        self.tracks = []
        self._video = asyncio.Event()
        pc.on("track", self._on_track)

    def _on_track(self, track):
        for tr in self.pc.getTransceivers():
            if tr.receiver.track is track:
                self.tracks.append(ReceivedTrack(track, tr.receiver, tr.mid, self._first_frame))
                return
        log.warning("%s: track event for an unknown transceiver", self.name)

    def _first_frame(self, rt):
        if rt.kind == "video":
            self._video.set()

    def first_video_frame_at(self):
        times = [t.first_frame_at for t in self.tracks if t.kind == "video" and t.first_frame_at]
        return min(times) if times else None

    async def wait_first_video_frame(self, timeout_s):
        """Returns time.monotonic() of the first decoded video frame on any track."""
        await asyncio.wait_for(self._video.wait(), timeout_s)
        return self.first_video_frame_at()

    def frames(self, kind):
        return sum(t.frames for t in self.tracks if t.kind == kind)

    def packets(self, kind):
        return sum(t.packets() for t in self.tracks if t.kind == kind)

    def by_chorus_track(self, track_id):
        for t in self.tracks:
            if t.chorus_track == track_id:
                return t
        return None

    def stop(self):
        for t in self.tracks:
            t.stop()


async def sent_by_kind(pc):
    counts = {"audio": 0, "video": 0}
    for tr in pc.getTransceivers():
        if tr.sender.track is not None:
            counts[tr.sender.track.kind] += await sender_packets_sent(tr.sender)
    return counts


def received_by_kind(side, only=None):
    """Packets received per kind; `only` restricts to tracks for which only(t) is true."""
    counts = {"audio": 0, "video": 0}
    for t in side.tracks:
        if only is None or only(t):
            counts[t.kind] += t.packets()
    return counts


async def measure_flow(pc_send, side_recv, window_s, only=None):
    """Packets sent and received per kind over the same window.

    Returns {kind: (sent, received, ratio)}. Sampling both ends at the same
    instants makes the packets in flight (well under a millisecond on
    loopback) the only error.
    """
    s0 = await sent_by_kind(pc_send)
    r0 = received_by_kind(side_recv, only)
    await asyncio.sleep(window_s)
    s1 = await sent_by_kind(pc_send)
    r1 = received_by_kind(side_recv, only)
    out = {}
    for kind in ("audio", "video"):
        sent = s1[kind] - s0[kind]
        recv = r1[kind] - r0[kind]
        out[kind] = (sent, recv, recv / sent if sent else 0.0)
    return out


def format_flow(flow):
    return ", ".join("%s sent %d received %d (%.1f %%)" % (k, s, r, 100 * ratio)
                     for k, (s, r, ratio) in flow.items())


def check_flow(flow, min_ratio=0.9, what="flow"):
    for kind, (sent, recv, ratio) in flow.items():
        if sent <= 0:
            raise AssertionError("%s: no %s packets sent in the window (%d)" % (what, kind, sent))
        if ratio < min_ratio:
            raise AssertionError("%s: %s received %d of %d packets sent (%.1f %% < %.0f %%)"
                                 % (what, kind, recv, sent, 100 * ratio, 100 * min_ratio))


# --------------------------------------------------------------------------
# SDP and ICE helpers
# --------------------------------------------------------------------------

CANDIDATE_RE = re.compile(r"^(?:a=)?candidate:(\S+) (\d+) (\S+) (\d+) (\S+) (\d+) typ (\S+)(.*)$")


def parse_candidate(text):
    """Parses 'candidate:...' (with or without a=); returns a dict or None."""
    m = CANDIDATE_RE.match(text.strip())
    if not m:
        return None
    return {"foundation": m.group(1), "component": int(m.group(2)), "protocol": m.group(3).lower(),
            "priority": int(m.group(4)), "ip": m.group(5), "port": int(m.group(6)),
            "type": m.group(7), "extra": m.group(8).strip()}


def sdp_candidates(sdp):
    return [c for c in (parse_candidate(line) for line in sdp.splitlines()
                        if line.startswith("a=candidate:")) if c]


def sdp_mids(sdp):
    """The a=mid of each m-section, in order (None where absent)."""
    mids = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            mids.append(None)
        elif line.startswith("a=mid:") and mids:
            mids[-1] = line[len("a=mid:"):].strip()
    return mids


def sdp_ice_ufrag(sdp):
    for line in sdp.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line[len("a=ice-ufrag:"):].strip()
    return None


def sdp_m_lines(sdp):
    return [line for line in sdp.splitlines() if line.startswith("m=")]


def sdp_unique_extmap_ids(sdp):
    """Renumbers a=extmap so that each extension URI has one id across all m-lines.

    aiortc 1.4 keeps one header-extension map per (BUNDLE) transport, so it
    mis-parses packets when its own offer uses id 2 for audio-level in audio
    and for abs-send-time in video (INTEROP.md). Only the aiortc<->aiortc
    self-test needs this; Chorus must cope with the original offer.
    """
    ids = {}
    used = set()
    lines = sdp.split("\r\n")
    for i, line in enumerate(lines):
        m = re.match(r"^a=extmap:(\d+)(/\S+)? (\S+)(.*)$", line)
        if not m:
            continue
        uri = m.group(3)
        if uri not in ids:
            ext_id = int(m.group(1))
            while ext_id in used:
                ext_id = ext_id + 1 if ext_id < 14 else 1
            ids[uri] = ext_id
            used.add(ext_id)
        lines[i] = "a=extmap:%d%s %s%s" % (ids[uri], m.group(2) or "", uri, m.group(4))
    return "\r\n".join(lines)


def selected_pair(pc):
    """aioice's nominated CandidatePair of a PC (BUNDLE: one), or None.

    pair.protocol.transport is the local UDP socket of the validated path and
    pair.remote_addr the remote end: tests send from it to act as the peer.
    """
    for tr in pc.getTransceivers():
        transport = tr.sender.transport or tr.receiver.transport
        if transport is None:
            continue
        conn = getattr(transport.transport, "_connection", None)
        nominated = getattr(conn, "_nominated", None) or {}
        for pair in nominated.values():
            return pair
    return None


def selected_remote_address(pc):
    """(ip, port) of the remote side of the nominated ICE pair, or None."""
    pair = selected_pair(pc)
    return tuple(pair.remote_addr) if pair is not None else None


# --------------------------------------------------------------------------
# Participant
# --------------------------------------------------------------------------


class PeerSide:
    """State of one of a participant's two PeerConnections."""

    def __init__(self, target):
        self.target = target            # "publisher" or "subscriber"
        self.pc = None
        self.ready = False              # remote description applied: candidates can be added
        self.pending = []               # trickled candidates that arrived before that
        self.server_candidates = []     # parsed server candidates (SDP and trickle)
        self.end_of_candidates = False  # the server sent candidate: null
        self.candidates_added = 0
        self.candidate_errors = []
        self.mid_rewrites = 0
        self.ufrag = None               # server ICE ufrag of the applied description
        self.states = []                # (time.monotonic(), connectionState)

    def reset(self):
        self.__init__(self.target)


class Participant:
    """A Chorus participant driven through a ChorusClient (its own or a shared admin one)."""

    def __init__(self, client, name=None):
        self.client = client
        self.name = name or client.name
        self.id = None
        self.join_result = None
        self.join_sent_at = None
        self.publisher = PeerSide("publisher")
        self.subscriber = PeerSide("subscriber")
        self.published = []             # [{track, mid, kind, simulcast}] from the publish result
        self.recv = None                # ReceiveSide of the subscriber PC
        self.offers = []                # offer notification params, in order
        self.offer_received_at = []     # time.monotonic() of each offer notification
        self.answers_sent = 0
        self.errors = []                # exceptions raised while handling server offers
        self._offer_queue = asyncio.Queue()
        self._offer_task = None
        self._sub_mapping = {}          # mid -> {track, participant, kind}

    # -- membership ---------------------------------------------------------

    async def join(self, room, identity, role=None, metadata=None):
        params = {"room": room, "identity": identity}
        if role is not None:
            params["role"] = role
        if metadata is not None:
            params["metadata"] = metadata
        self.join_sent_at = time.monotonic()
        result = await self.client.request("join", params)
        self.id = result["participant"]
        self.join_result = result
        self.client.on("trickle", self._on_trickle, to=self.id)
        self.client.on("offer", self._on_offer, to=self.id)
        return result

    async def leave(self):
        await self.client.request("leave", {"participant": self.id})

    async def close(self):
        if self._offer_task is not None:
            self._offer_task.cancel()
        if self.recv is not None:
            self.recv.stop()
        for side in (self.publisher, self.subscriber):
            if side.pc is not None:
                await side.pc.close()

    # -- publishing -----------------------------------------------------------

    def _watch_state(self, side):
        pc = side.pc

        @pc.on("connectionstatechange")
        def _changed():
            side.states.append((time.monotonic(), pc.connectionState))

    async def create_publish_offer(self, tracks):
        """Creates the publisher PC with one sendonly transceiver per track; returns the offer SDP."""
        if self.publisher.pc is not None:
            raise AssertionError("%s: already has a publisher PeerConnection" % self.name)
        pc = new_peer_connection()
        self.publisher.pc = pc
        self._watch_state(self.publisher)
        for track in tracks:
            pc.addTransceiver(track, direction="sendonly")
        # aiortc gathers every candidate before setLocalDescription returns.
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp

    async def publish(self, tracks, sdp_filter=None, timeout_s=DEFAULT_TIMEOUT_S):
        """Publishes `tracks`; returns the publish result.

        sdp_filter(sdp) -> sdp lets a test alter what is sent (the local
        description keeps aiortc's real one).
        """
        sdp = await self.create_publish_offer(tracks)
        if sdp_filter is not None:
            sdp = sdp_filter(sdp)
        try:
            result = await self.client.request("publish", {"participant": self.id, "sdp": sdp},
                                               timeout_s=timeout_s)
        except RpcError:
            # Refused: nothing was negotiated, so a later publish starts afresh.
            await self.publisher.pc.close()
            self.publisher.reset()
            raise
        answer = result["sdp"]
        self.publisher.server_candidates += sdp_candidates(answer)
        self.publisher.ufrag = sdp_ice_ufrag(answer)
        await self.publisher.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        self.published = result.get("tracks", [])
        self._flush_candidates(self.publisher)
        return result

    async def packets_sent(self):
        return await sent_by_kind(self.publisher.pc)

    # -- subscribing ----------------------------------------------------------

    async def subscribe(self, tracks="all", quality=None):
        if self._offer_task is None:
            self._offer_task = asyncio.ensure_future(self._offer_loop())
        params = {"participant": self.id, "tracks": tracks}
        if quality is not None:
            params["quality"] = quality
        return await self.client.request("subscribe", params)

    def _on_offer(self, params):
        self.offer_received_at.append(time.monotonic())
        if self._offer_task is None:
            self._offer_task = asyncio.ensure_future(self._offer_loop())
        self._offer_queue.put_nowait(params)

    async def _offer_loop(self):
        # Offers are handled one at a time, in the order they arrived.
        while True:
            params = await self._offer_queue.get()
            try:
                await self._handle_offer(params)
            except Exception as exc:
                log.exception("%s: handling offer version %s failed", self.name, params.get("version"))
                self.errors.append(exc)

    async def _handle_offer(self, params):
        side = self.subscriber
        self.offers.append(params)
        sdp = params["sdp"]
        if side.pc is None:
            side.pc = new_peer_connection()
            self._watch_state(side)
            self.recv = ReceiveSide(side.pc, self.name)
        for t in params.get("tracks", []):
            self._sub_mapping[t.get("mid")] = t
        side.server_candidates += sdp_candidates(sdp)
        await side.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        self._label_tracks()
        side.ufrag = sdp_ice_ufrag(sdp)
        self._flush_candidates(side)
        await side.pc.setLocalDescription(await side.pc.createAnswer())
        await self.client.request("answer", {"participant": self.id, "sdp": side.pc.localDescription.sdp,
                                             "version": params["version"]})
        self.answers_sent += 1

    def _label_tracks(self):
        for t in self.recv.tracks if self.recv else ():
            info = self._sub_mapping.get(t.mid)
            if info:
                t.chorus_track = info.get("track")
                t.publisher = info.get("participant")

    # -- trickle --------------------------------------------------------------

    def _on_trickle(self, params):
        target = params.get("target")
        side = {"publisher": self.publisher, "subscriber": self.subscriber}.get(target)
        if side is None:
            self.errors.append(AssertionError("trickle with bad target %r" % target))
            return
        cand = params.get("candidate")
        if cand is None:
            # aiortc cannot take end-of-candidates; note it only.
            side.end_of_candidates = True
            return
        parsed = parse_candidate(cand.get("candidate", ""))
        if parsed is None:
            self.errors.append(AssertionError("%s trickle: unparsable candidate %r" % (target, cand)))
            return
        side.server_candidates.append(parsed)
        ufrag = cand.get("usernameFragment")
        # Until the description the candidate belongs to is applied (and, after
        # an ICE restart, until the new credentials are), aiortc would drop it.
        if side.ready and (ufrag is None or side.ufrag is None or ufrag == side.ufrag):
            asyncio.ensure_future(self._add_candidate(side, cand))
        else:
            side.pending.append(cand)

    def _flush_candidates(self, side):
        side.ready = True
        pending, side.pending = side.pending, []
        for cand in pending:
            asyncio.ensure_future(self._add_candidate(side, cand))

    def _bundle_mid(self, pc, cand):
        """The mid aiortc accepts the candidate on.

        aiortc matches candidates only to the transceiver that owns the BUNDLE
        transport (browsers accept any mid of the group), and ignores
        sdpMLineIndex, so both are mapped here.
        """
        transceivers = pc.getTransceivers()
        mid = cand.get("sdpMid")
        if mid is None and cand.get("sdpMLineIndex") is not None and pc.remoteDescription:
            mids = sdp_mids(pc.remoteDescription.sdp)
            idx = cand["sdpMLineIndex"]
            if 0 <= idx < len(mids):
                mid = mids[idx]
        target = next((t for t in transceivers if t.mid == mid), None)
        if target is None:
            return mid
        if not target._bundled:
            return mid
        master = next((t for t in transceivers
                       if not t._bundled and t.sender.transport is target.sender.transport), None)
        return master.mid if master else mid

    async def _add_candidate(self, side, cand):
        text = cand["candidate"]
        if text.startswith("candidate:"):
            text = text[len("candidate:"):]
        try:
            ice = candidate_from_sdp(text)
            mid = self._bundle_mid(side.pc, cand)
            if mid != cand.get("sdpMid"):
                side.mid_rewrites += 1
            ice.sdpMid = mid
            ice.sdpMLineIndex = cand.get("sdpMLineIndex")
            await side.pc.addIceCandidate(ice)
            side.candidates_added += 1
        except Exception as exc:
            side.candidate_errors.append((cand, exc))
            log.warning("%s: %s candidate %r not added: %s", self.name, side.target, cand, exc)

    # -- waiting --------------------------------------------------------------

    async def wait_first_video_frame(self, timeout_s):
        """time.monotonic() of the first decoded video frame on the subscriber PC."""
        deadline = time.monotonic() + timeout_s
        while self.recv is None:
            if time.monotonic() > deadline:
                raise asyncio.TimeoutError()
            await asyncio.sleep(0.005)
        return await self.recv.wait_first_video_frame(max(0.0, deadline - time.monotonic()))

    async def wait_state(self, target, states=("connected",), timeout_s=DEFAULT_TIMEOUT_S):
        """Waits until the target PC's connectionState is one of `states`; returns it."""
        side = self.publisher if target == "publisher" else self.subscriber
        deadline = time.monotonic() + timeout_s
        while True:
            if side.pc is not None and side.pc.connectionState in states:
                return side.pc.connectionState
            if time.monotonic() > deadline:
                raise AssertionError("%s: %s PeerConnection is %s, not %s after %.1f s" % (
                    self.name, target, side.pc.connectionState if side.pc else "absent",
                    "/".join(states), timeout_s))
            await asyncio.sleep(0.01)

    def state_reached_at(self, target, state):
        side = self.publisher if target == "publisher" else self.subscriber
        return next((t for t, s in side.states if s == state), None)

    def describe(self):
        parts = ["%s (%s)" % (self.name, self.id)]
        for side in (self.publisher, self.subscriber):
            if side.pc is not None:
                parts.append("%s: state=%s candidates=%d added=%d (mid remapped %d) eoc=%s errors=%d" % (
                    side.target, side.pc.connectionState, len(side.server_candidates),
                    side.candidates_added, side.mid_rewrites, side.end_of_candidates,
                    len(side.candidate_errors)))
        if self.recv is not None:
            parts.append("received: audio %d pkts/%d frames, video %d pkts/%d frames" % (
                self.recv.packets("audio"), self.recv.frames("audio"),
                self.recv.packets("video"), self.recv.frames("video")))
        if self.errors:
            parts.append("errors: %s" % "; ".join(str(e) for e in self.errors))
        return "; ".join(parts)


# --------------------------------------------------------------------------
# Server and metrics
# --------------------------------------------------------------------------


def http_get(url, timeout_s=5.0):
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return resp.status, resp.read().decode("utf-8", "replace")


async def fetch_metrics(http_base):
    """Parses /metrics into {(name, labels): value}."""
    loop = asyncio.get_running_loop()
    status, body = await loop.run_in_executor(None, http_get, http_base.rstrip("/") + "/metrics")
    if status != 200:
        raise AssertionError("/metrics answered %d" % status)
    metrics = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if m:
            try:
                metrics[(m.group(1), m.group(2) or "")] = float(m.group(3))
            except ValueError:
                pass
    return metrics


class ServerHandle:
    """A running server for the tests: ws_url, http_url, `await stop()`, log_tail()."""

    def __init__(self, server, fake):
        self.server = server
        self.fake = fake
        self.ws_url = server.ws_url
        self.http_url = server.http_url

    async def stop(self):
        """Stops the server; for Chorus, asserts a clean exit (SIGTERM -> 0)."""
        if self.fake:
            await self.server.stop()
        else:
            await asyncio.get_running_loop().run_in_executor(None, self.server.stop)

    def log_tail(self, max_chars=6000):
        if self.fake:
            return "(fake server: no log)"
        return self.server.log_text()[-max_chars:]


async def start_server(dev=True, media_interfaces="127.0.0.1", fake=False):
    """Starts Chorus through tests/interop/chorus_server.py (temp config, free
    port, waits for /health), or with fake=True the in-process aiortc stand-in
    of fake_chorus.py, which only checks these clients."""
    if fake:
        import fake_chorus
        return ServerHandle(await fake_chorus.start(), True)
    import chorus_server  # tests/interop/chorus_server.py
    server = await asyncio.get_running_loop().run_in_executor(
        None, lambda: chorus_server.start_server(dev=dev, media_interfaces=media_interfaces))
    return ServerHandle(server, False)


async def stop_server(server, failed):
    """Stops the server; after a failure, prints its log tail and kills it
    rather than masking the failure with a shutdown assertion."""
    if failed:
        print("---- server log (tail) ----\n%s\n---- end of server log ----" % server.log_tail(),
              file=sys.stderr)
        if not server.fake:
            server.server.kill()
            return
    await server.stop()


async def new_client(ws_url, name, token=None):
    return await ChorusClient(ws_url, token=token, name=name).connect()


# --------------------------------------------------------------------------
# Self-test: two aiortc PeerConnections on loopback, no server
# --------------------------------------------------------------------------


async def connect_direct(tracks):
    """A sending and a receiving aiortc PC connected directly; returns (pc_send, pc_recv, ReceiveSide)."""
    pc_send = new_peer_connection()
    pc_recv = new_peer_connection()
    side = ReceiveSide(pc_recv, "selftest-receiver")
    for track in tracks:
        pc_send.addTransceiver(track, direction="sendonly")
    await pc_send.setLocalDescription(await pc_send.createOffer())
    offer = sdp_unique_extmap_ids(pc_send.localDescription.sdp)
    await pc_recv.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    await pc_recv.setLocalDescription(await pc_recv.createAnswer())
    await pc_send.setRemoteDescription(pc_recv.localDescription)
    return pc_send, pc_recv, side


async def selftest(window_s=3.0):
    """Checks the tracks and counters with two directly connected aiortc PCs."""
    tone = ToneTrack(440.0)
    tone_stereo = ToneTrack(660.0, layout="stereo")
    video = PatternVideoTrack(320, 240, 30)
    t0 = time.monotonic()
    pc_send, pc_recv, side = await connect_direct([tone, tone_stereo, video])
    try:
        first_video = await side.wait_first_video_frame(5.0)
        print("selftest: first decoded video frame %.0f ms after the offer" % ((first_video - t0) * 1000))
        if len(side.tracks) != 3:
            raise AssertionError("selftest: %d tracks received, expected 3" % len(side.tracks))
        flow = await measure_flow(pc_send, side, window_s)
        print("selftest: over %.1f s: %s" % (window_s, format_flow(flow)))
        check_flow(flow, 0.9, "selftest")
        # 2 audio tracks x 50 packets/s; VP8 at 320x240 is a few packets per frame.
        if flow["audio"][0] < 2 * 50 * window_s * 0.8:
            raise AssertionError("selftest: audio pacing: %d packets in %.1f s"
                                 % (flow["audio"][0], window_s))
        vframes = side.frames("video")
        aframes = side.frames("audio")
        elapsed = time.monotonic() - first_video
        print("selftest: decoded %d video frames (%.1f fps), %d audio frames; video size %s"
              % (vframes, vframes / elapsed, aframes,
                 [t.frame_size for t in side.tracks if t.kind == "video"]))
        if vframes < 30 * elapsed * 0.7:
            raise AssertionError("selftest: only %d video frames decoded in %.1f s" % (vframes, elapsed))
        if aframes < 2 * 50 * elapsed * 0.7:
            raise AssertionError("selftest: only %d audio frames decoded in %.1f s" % (aframes, elapsed))
        sizes = {t.frame_size for t in side.tracks if t.kind == "video"}
        if sizes != {(320, 240)}:
            raise AssertionError("selftest: decoded video size %s, expected 320x240" % sizes)
        # getStats() agrees with the per-SSRC counters when there is no RTX.
        for t in side.tracks:
            via_stats = await receiver_packets_received(t.receiver)
            if abs(via_stats - t.packets()) > 5:
                raise AssertionError("selftest: getStats %d vs counters %d" % (via_stats, t.packets()))
        print("selftest: ok")
        return pc_send, pc_recv, side
    except BaseException:
        side.stop()
        await pc_send.close()
        await pc_recv.close()
        raise


async def _selftest_main():
    pc_send, pc_recv, side = await selftest()
    side.stop()
    await pc_send.close()
    await pc_recv.close()


def run_main(coro_fn):
    """Runs an async main; prints the failure and exits non-zero on any error."""
    try:
        asyncio.run(coro_fn())
    except (AssertionError, RpcError) as exc:
        print("FAIL: %s" % exc, file=sys.stderr)
        sys.exit(1)
    except Exception:
        import traceback
        traceback.print_exc()
        print("FAIL: unexpected exception", file=sys.stderr)
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--selftest", action="store_true",
                        help="connect two aiortc PCs directly (no server) and check media and counters")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    if not args.selftest:
        parser.print_help()
        return
    run_main(_selftest_main)


if __name__ == "__main__":
    main()
