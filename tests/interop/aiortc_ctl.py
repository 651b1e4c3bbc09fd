#!/usr/bin/python3
"""Several aiortc participants in one process, driven step by step by another
program (a Node test that also drives Chromium) over stdin/stdout.

    /usr/bin/python3 tests/interop/aiortc_ctl.py        (see aiortc_ctl.mjs)

aiortc_peer.py runs one participant for a fixed window and reports at the
end; a test that changes the room while media flows (PK, promote/demote)
needs to act on participants in between and to read per-track counters at
any moment. Here each request is one JSON object per line on stdin:

    {"id": 1, "op": "join", "name": "va1", "url": WS, "room": R, "identity": I, "role": "audience"}

and each reply one line on stdout: {"id": 1, "ok": true, "result": ...} or
{"id": 1, "ok": false, "error": "...", "code": JSON-RPC code or null}.
Requests run concurrently (a slow publish does not hold a status).

ops (each participant has its own WebSocket, made by join):
  join {name, url, room, identity, role?}     -> {participant}
  subscribe {name, tracks?="all", quality?}   -> the result
  publish {name, width?, height?, fps?}       Opus tone + VP8 pattern on a new
                                              publisher PC -> {tracks}
  wait_state {name, target, states?, timeout_s?}
  call {name, method, params?}                any request; `participant` added
  status {name, since?}                       see Watch.status()
  close {name, leave?=true}
  quit                                        closes everyone, then exits 0

Per-track counters ("segments"): the subscriber offer maps each m-line (mid)
to a Chorus track, and a mid freed by one track is recycled for a later
track of the same kind (sdp-offer.c) while aiortc keeps the same receiver.
So counts are attributed to (mid, track) segments, opened and closed by
the offers as they are applied; packets that still arrive on a mid whose
track left the offers are counted separately (`packets_inactive`). The
counters are sampled every SAMPLE_S; times are wall-clock milliseconds
(time.time()), comparable with Date.now() in the driver.

Progress and logs go to stderr; stdout carries only the replies.
Run with /usr/bin/python3 (Debian's aiortc lives there).
"""
import asyncio
import itertools
import json
import logging
import sys
import time

import aiortc_client as ac

SAMPLE_S = 0.01
CLOSE_TIMEOUT_S = 3.0

log = logging.getLogger("aiortc_ctl")

# Wall-clock time of a time.monotonic() value (notification times are monotonic).
_WALL_OFFSET_S = time.time() - time.monotonic()


def wall_ms(t_mono=None):
    if t_mono is None:
        return round(time.time() * 1000, 1)
    return round((t_mono + _WALL_OFFSET_S) * 1000, 1)


class CtlError(Exception):
    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


_pc_serials = itertools.count(1)


def pc_serial(pc):
    """A stable number per RTCPeerConnection object (id() may be reused)."""
    if pc is None:
        return None
    serial = getattr(pc, "_ctl_serial", None)
    if serial is None:
        serial = next(_pc_serials)
        pc._ctl_serial = serial
    return serial


def sdp_mline_summary(sdp):
    """[{mid, kind, port, direction, ssrcs}] of each m-section of an SDP."""
    out = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            fields = line[2:].split()
            out.append({"mid": None, "kind": fields[0], "port": int(fields[1]), "direction": None,
                        "ssrcs": []})
        elif not out:
            continue
        elif line.startswith("a=mid:"):
            out[-1]["mid"] = line[6:].strip()
        elif line[2:] in ("sendonly", "recvonly", "sendrecv", "inactive"):
            out[-1]["direction"] = line[2:]
        elif line.startswith("a=ssrc:"):
            ssrc = int(line[7:].split()[0])
            if ssrc not in out[-1]["ssrcs"]:
                out[-1]["ssrcs"].append(ssrc)
    return out


class Segment:
    """One track received on one mid, from the offer that brought it to the
    offer that took it away (or recycled the mid)."""

    def __init__(self, mid, info, offer_version, now_ms):
        self.mid = mid
        self.kind = info.get("kind")
        self.track = info.get("track")
        self.participant = info.get("participant")
        self.active = True
        self.offer_version = offer_version
        self.end_offer_version = None
        self.start_ms = now_ms
        self.end_ms = None
        self.packets = 0
        self.frames = 0
        self.packets_inactive = 0
        self.frames_inactive = 0
        self.first_packet_ms = None
        self.first_frame_ms = None
        self.last_packet_ms = None
        self.last_frame_ms = None

    def to_json(self):
        return dict(self.__dict__)


class Watch:
    """A participant and the bookkeeping the driver reads with `status`."""

    def __init__(self, name, client):
        self.name = name
        self.client = client
        self.part = ac.Participant(client, name)
        self.segments = []
        self.current = {}          # mid -> Segment (active or the last one there)
        self.unattributed = {"packets": 0, "frames": 0}
        self.unrouted = {}         # SSRC -> RTP packets aiortc's router dropped
        self.offers_seen = 0
        self.offer_log = []        # [{version, t_ms, tracks}]
        self.last_counts = {}      # ReceivedTrack -> (packets, frames)
        self.pc_history = {"publisher": [], "subscriber": []}  # serials, in order of appearance
        self.state_log = {"publisher": [], "subscriber": []}   # [t_ms, state]
        self._states_seen = {"publisher": 0, "subscriber": 0}
        self._states_list = {"publisher": None, "subscriber": None}
        self.publish_tracks = None
        self.sources = []
        self._task = asyncio.ensure_future(self._sample_loop())

    async def _sample_loop(self):
        while True:
            try:
                self.sample()
            except Exception:  # a bookkeeping bug must show, not stop the sampling
                log.exception("%s: sampling failed", self.name)
            await asyncio.sleep(SAMPLE_S)

    def sample(self):
        now = wall_ms()
        part = self.part
        for target, side in (("publisher", part.publisher), ("subscriber", part.subscriber)):
            serial = pc_serial(side.pc)
            hist = self.pc_history[target]
            if serial is not None and (not hist or hist[-1] != serial):
                hist.append(serial)
            # PeerSide.reset() (a refused publish) starts a new list.
            if side.states is not self._states_list[target]:
                self._states_list[target] = side.states
                self._states_seen[target] = 0
            for t_mono, state in side.states[self._states_seen[target]:]:
                self.state_log[target].append([wall_ms(t_mono), state])
            self._states_seen[target] = len(side.states)
        if part.subscriber.pc is not None:
            self._watch_router(part.subscriber.pc)
        # Counters first, so that what arrived before an offer is credited to
        # the tracks of the offers before it.
        if part.recv is not None:
            for rt in part.recv.tracks:
                packets, frames = rt.packets(), rt.frames
                p0, f0 = self.last_counts.get(rt, (0, 0))
                self.last_counts[rt] = (packets, frames)
                dp, df = packets - p0, frames - f0
                if dp == 0 and df == 0:
                    continue
                seg = self.current.get(rt.mid)
                if seg is None:
                    self.unattributed["packets"] += dp
                    self.unattributed["frames"] += df
                    continue
                seg.packets += dp
                seg.frames += df
                if not seg.active:
                    seg.packets_inactive += dp
                    seg.frames_inactive += df
                if dp > 0:
                    seg.last_packet_ms = now
                    if seg.first_packet_ms is None:
                        seg.first_packet_ms = now
                if df > 0:
                    seg.last_frame_ms = now
                    if seg.first_frame_ms is None:
                        seg.first_frame_ms = now
        while self.offers_seen < len(part.offers):
            offer = part.offers[self.offers_seen]
            t_mono = part.offer_received_at[self.offers_seen] \
                if self.offers_seen < len(part.offer_received_at) else None
            self.offers_seen += 1
            self._apply_offer(offer, wall_ms(t_mono) if t_mono is not None else now)

    def _watch_router(self, pc):
        """Counts RTP packets that aiortc's RTP router drops (no receiver for
        their SSRC): media that reached the client but no track."""
        for tr in pc.getTransceivers():
            transport = tr.receiver.transport
            router = getattr(transport, "_rtp_router", None)
            if router is None or getattr(router, "_ctl_wrapped", False):
                continue
            route = router.route_rtp
            dropped = self.unrouted

            def counting_route(packet, route=route, dropped=dropped):
                receiver = route(packet)
                if receiver is None:
                    dropped[str(packet.ssrc)] = dropped.get(str(packet.ssrc), 0) + 1
                return receiver

            router.route_rtp = counting_route
            router._ctl_wrapped = True

    def _apply_offer(self, offer, t_ms):
        version = offer.get("version")
        tracks = offer.get("tracks", [])
        self.offer_log.append({"version": version, "t_ms": t_ms,
                               "tracks": [{k: x.get(k) for k in ("mid", "track", "participant", "kind")}
                                          for x in tracks],
                               "mlines": sdp_mline_summary(offer.get("sdp", ""))})
        active = {x.get("mid"): x for x in tracks}
        for mid, seg in self.current.items():
            info = active.get(mid)
            if seg.active and (info is None or info.get("track") != seg.track):
                seg.active = False
                seg.end_ms = t_ms
                seg.end_offer_version = version
        for mid, info in active.items():
            seg = self.current.get(mid)
            if seg is not None and seg.track == info.get("track"):
                if not seg.active:  # the same track back on its old mid
                    seg.active = True
                    seg.end_ms = None
                    seg.end_offer_version = None
                continue
            seg = Segment(mid, info, version, t_ms)
            self.segments.append(seg)
            self.current[mid] = seg

    def status(self, since=0):
        part = self.part
        notes = []
        for t_mono, method, params in self.client.notifications[since:]:
            if method == "trickle":
                continue
            p = {k: v for k, v in params.items() if k != "sdp"}
            notes.append({"t_ms": wall_ms(t_mono), "method": method, "params": p})
        out = {
            "name": self.name,
            "participant": part.id,
            "ws": {"open": not self.client.closed.is_set(), "close_code": self.client.close_code,
                   "serial": id(self.client.ws)},
            "pcs": {target: {"serial": pc_serial(side.pc),
                             "state": side.pc.connectionState if side.pc else None,
                             "history": self.pc_history[target], "states": self.state_log[target]}
                    for target, side in (("publisher", part.publisher), ("subscriber", part.subscriber))},
            "offers": self.offer_log,
            "answers": part.answers_sent,
            "segments": [s.to_json() for s in self.segments],
            "unattributed": self.unattributed,
            "unrouted": self.unrouted,
            "notifications": notes,
            "n_notifications": len(self.client.notifications),
            "published": self.publish_tracks,
            "errors": [str(e) for e in part.errors],
            "now_ms": wall_ms(),
        }
        return out

    async def close(self, leave):
        self._task.cancel()
        for src in self.sources:
            src.stop()
        if leave and self.part.id is not None and not self.client.closed.is_set():
            await _bounded(self.part.leave())
        await _bounded(self.part.close())
        await _bounded(self.client.close())


async def _bounded(coro):
    try:
        await asyncio.wait_for(coro, CLOSE_TIMEOUT_S)
    except Exception as exc:  # best effort: cleanup must not hang the driver
        log.warning("cleanup: %r", exc)


class Controller:
    def __init__(self):
        self.watches = {}
        self.done = asyncio.Event()

    def _watch(self, req):
        name = req.get("name")
        w = self.watches.get(name)
        if w is None:
            raise CtlError("no participant named %r (join first)" % name)
        return w

    async def op_join(self, req):
        name = req["name"]
        if name in self.watches:
            raise CtlError("participant name %r is taken" % name)
        client = await ac.new_client(req["url"], name)
        w = Watch(name, client)
        self.watches[name] = w
        result = await w.part.join(req["room"], req["identity"], req.get("role"))
        return {"participant": result["participant"], "role": result.get("role"),
                "participants": result.get("participants"), "tracks": result.get("tracks")}

    async def op_subscribe(self, req):
        return await self._watch(req).part.subscribe(req.get("tracks", "all"), req.get("quality"))

    async def op_publish(self, req):
        w = self._watch(req)
        tone = ac.ToneTrack(440.0)
        video = ac.PatternVideoTrack(req.get("width", 320), req.get("height", 240), req.get("fps", 30))
        w.sources = [tone, video]
        result = await w.part.publish([tone, video])
        w.publish_tracks = result.get("tracks", [])
        return {"tracks": w.publish_tracks}

    async def op_wait_state(self, req):
        w = self._watch(req)
        return await w.part.wait_state(req["target"], tuple(req.get("states", ["connected"])),
                                       req.get("timeout_s", 10.0))

    async def op_call(self, req):
        w = self._watch(req)
        params = dict(req.get("params") or {})
        params["participant"] = w.part.id
        return await w.client.request(req["method"], params)

    async def op_packets_sent(self, req):
        w = self._watch(req)
        if w.part.publisher.pc is None:
            return None
        return await w.part.packets_sent()

    async def op_status(self, req):
        return self._watch(req).status(req.get("since", 0))

    async def op_close(self, req):
        w = self._watch(req)
        del self.watches[req["name"]]
        await w.close(req.get("leave", True))
        return {}

    async def op_quit(self, req):
        await self.close_all()
        self.done.set()
        return {}

    async def close_all(self):
        watches, self.watches = list(self.watches.values()), {}
        await asyncio.gather(*(w.close(True) for w in watches))

    async def handle(self, line):
        req_id = None
        try:
            req = json.loads(line)
            req_id = req.get("id")
            fn = getattr(self, "op_" + str(req.get("op")), None)
            if fn is None:
                raise CtlError("unknown op %r" % req.get("op"))
            reply = {"id": req_id, "ok": True, "result": await fn(req)}
        except ac.RpcError as exc:
            reply = {"id": req_id, "ok": False, "error": str(exc), "code": exc.code, "data": exc.data}
        except CtlError as exc:
            reply = {"id": req_id, "ok": False, "error": str(exc), "code": exc.code}
        except Exception as exc:  # reported to the driver, which decides
            log.exception("request %s failed", req_id)
            reply = {"id": req_id, "ok": False, "error": "%s: %s" % (type(exc).__name__, exc),
                     "code": None}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


async def main_async():
    ctl = Controller()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks = set()
    print("EVENT " + json.dumps({"event": "ready"}), file=sys.stderr, flush=True)
    while not ctl.done.is_set():
        read = asyncio.ensure_future(reader.readline())
        stop = asyncio.ensure_future(ctl.done.wait())
        await asyncio.wait({read, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not read.done():
            read.cancel()
            break
        line = read.result()
        if not line:  # the driver went away: leave cleanly
            await ctl.close_all()
            break
        if line.strip():
            task = asyncio.ensure_future(ctl.handle(line.decode("utf-8")))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    for task in list(tasks):
        task.cancel()
    return 0


def main():
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return asyncio.run(main_async())


if __name__ == "__main__":
    sys.exit(main())
