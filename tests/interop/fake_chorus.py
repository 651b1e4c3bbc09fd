#!/usr/bin/python3
"""A stand-in for Chorus, in-process, built on aiortc: only to check the
interop test clients (aiortc_client.py and the scripts using it) before the
real server's media path exists. It is NOT a reference for Chorus.

It speaks the media part of PROTOCOL.md the way a strict server would:
answers publish offers without candidates in the SDP and trickles them
afterwards (end with candidate null), on the bundle's *last* mid, so the
client's trickle queueing and mid mapping are exercised; sends subscriber
offers as `offer` notifications with the track mapping and a version;
refuses unusable offers with -32010 and data.reason. Media is relayed by
aiortc (decoded and re-encoded), which is slow but real.

    server = await fake_chorus.start()    # .ws_url, .http_url, await .stop()
"""
import http
import json
import logging
import re
import secrets

import websockets
from aiortc import RTCSessionDescription
from aiortc.contrib.media import MediaRelay

import aiortc_client as ac

log = logging.getLogger("fake_chorus")

USABLE_CODECS = {"opus", "vp8", "vp9", "h264", "av1"}


class Negotiation(Exception):
    pass


def strip_candidates(sdp):
    """(sdp without candidates, [candidate lines without 'a='])."""
    kept, cands = [], []
    for line in sdp.split("\r\n"):
        if line.startswith("a=candidate:"):
            if line[2:] not in cands:
                cands.append(line[2:])
        elif line != "a=end-of-candidates":
            kept.append(line)
    return "\r\n".join(kept), cands


def check_offer(sdp):
    if not isinstance(sdp, str) or not sdp.startswith("v=0"):
        raise Negotiation("not an SDP offer")
    for attr in ("a=fingerprint:", "a=ice-ufrag:", "a=ice-pwd:", "a=rtcp-mux", "a=group:BUNDLE"):
        if attr not in sdp:
            raise Negotiation("missing %s" % attr.rstrip(":"))
    codecs = {m.lower() for m in re.findall(r"a=rtpmap:\d+ ([^/\s]+)/", sdp)}
    if not codecs & USABLE_CODECS:
        raise Negotiation("no usable codec (offered: %s)" % ", ".join(sorted(codecs)))


class FakeParticipant:
    def __init__(self, pid, identity, role, room, ws):
        self.id = pid
        self.identity = identity
        self.role = role
        self.room = room
        self.ws = ws
        self.pub_pc = None
        self.sub_pc = None
        self.sub_version = 0
        self.outstanding = None


class FakeChorus:
    def __init__(self):
        self.rooms = {}
        self.participants = {}
        self.tracks = {}        # track id -> {track, participant, kind, source}
        self.relay = MediaRelay()
        self.server = None
        self.port = None
        self.pcs = []

    @property
    def ws_url(self):
        return "ws://127.0.0.1:%d/ws" % self.port

    @property
    def http_url(self):
        return "http://127.0.0.1:%d" % self.port

    async def start(self):
        self.server = await websockets.serve(self._handler, "127.0.0.1", 0, subprotocols=["chorus.v1"],
                                             process_request=self._http, max_size=None)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self):
        for pc in self.pcs:
            await pc.close()
        self.server.close()
        await self.server.wait_closed()

    async def _http(self, path, headers):
        if path == "/metrics":
            # aiortc does not count what it drops: no drop counter to offer.
            body = "# TYPE fake_participants gauge\nfake_participants %d\n" % len(self.participants)
            return http.HTTPStatus.OK, [("Content-Type", "text/plain; version=0.0.4")], body.encode()
        if path == "/health":
            return http.HTTPStatus.OK, [("Content-Type", "application/json")], b'{"status":"ok"}'
        return None

    async def _send(self, ws, obj):
        await ws.send(json.dumps(obj))

    async def _notify(self, p, method, params):
        params = dict(params, to=p.id)
        await self._send(p.ws, {"jsonrpc": "2.0", "method": method, "params": params})

    async def _handler(self, ws, path=None):
        async for text in ws:
            msg = json.loads(text)
            method, params, req_id = msg.get("method"), msg.get("params", {}), msg.get("id")
            after = []
            try:
                handler = getattr(self, "rpc_" + method.replace(".", "_"), None)
                if handler is None:
                    raise ac.RpcError(method, -32601, "method not found")
                result = await handler(ws, params, after)
                reply = {"jsonrpc": "2.0", "id": req_id, "result": result}
            except ac.RpcError as err:
                reply = {"jsonrpc": "2.0", "id": req_id,
                         "error": {"code": err.code, "message": err.message}}
                if err.data is not None:
                    reply["error"]["data"] = err.data
            if req_id is not None:
                await self._send(ws, reply)
            for action in after:  # what follows the reply (trickles after the answer)
                await action()

    def _participant(self, params):
        p = self.participants.get(params.get("participant"))
        if p is None:
            raise ac.RpcError("", -32004, "no such participant")
        return p

    async def rpc_ping(self, ws, params, after):
        return {"time_ms": 0}

    async def rpc_room_create(self, ws, params, after):
        if params["room"] in self.rooms:
            raise ac.RpcError("room.create", -32009, "room exists")
        self.rooms[params["room"]] = {"kind": params["kind"], "participants": []}
        return {"room": params["room"], "kind": params["kind"]}

    async def rpc_room_destroy(self, ws, params, after):
        self.rooms.pop(params["room"], None)
        return {}

    async def rpc_join(self, ws, params, after):
        room = self.rooms.get(params["room"])
        if room is None:
            raise ac.RpcError("join", -32004, "no such room")
        p = FakeParticipant("p_" + secrets.token_hex(8), params["identity"], params.get("role", "audience"),
                            params["room"], ws)
        self.participants[p.id] = p
        room["participants"].append(p.id)
        tracks = [{k: t[k] for k in ("track", "participant", "kind")} for t in self.tracks.values()
                  if self.participants[t["participant"]].room == p.room]
        return {"participant": p.id, "room": p.room, "role": p.role, "resume_key": secrets.token_hex(16),
                "ice_servers": [], "participants": [], "tracks": tracks}

    async def rpc_leave(self, ws, params, after):
        p = self._participant(params)
        for pc in (p.pub_pc, p.sub_pc):
            if pc is not None:
                await pc.close()
        for tid in [t for t, v in self.tracks.items() if v["participant"] == p.id]:
            del self.tracks[tid]
        self.rooms.get(p.room, {"participants": []})["participants"].remove(p.id)
        del self.participants[p.id]
        return {}

    def _trickles(self, p, target, cands, mid):
        async def send():
            for c in cands:
                await self._notify(p, "trickle", {"participant": p.id, "target": target,
                                                  "candidate": {"candidate": c, "sdpMid": mid}})
            await self._notify(p, "trickle", {"participant": p.id, "target": target, "candidate": None})
        return send

    async def rpc_publish(self, ws, params, after):
        p = self._participant(params)
        sdp = params.get("sdp")
        if not isinstance(sdp, str):
            raise ac.RpcError("publish", -32602, "params.sdp: expected a string")
        try:
            check_offer(sdp)
            pc = ac.new_peer_connection()
            self.pcs.append(pc)
            received = {}

            @pc.on("track")
            def on_track(track):
                received[track] = True

            @pc.on("connectionstatechange")
            async def on_state():
                if pc.connectionState == "failed":
                    await self._notify(p, "fake.transport.failed",
                                       {"participant": p.id, "target": "publisher", "reason": "dtls failed"})

            # aiortc as a receiver needs one id per extension across the bundle.
            await pc.setRemoteDescription(RTCSessionDescription(ac.sdp_unique_extmap_ids(sdp), "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Negotiation as err:
            raise ac.RpcError("publish", -32010, "negotiation failed", {"reason": str(err)})
        except Exception as err:
            raise ac.RpcError("publish", -32010, "negotiation failed", {"reason": "%s" % err})
        p.pub_pc = pc
        tracks = []
        for tr in pc.getTransceivers():
            tid = "t_" + secrets.token_hex(6)
            self.tracks[tid] = {"track": tid, "participant": p.id, "kind": tr.kind,
                                "source": tr.receiver.track}
            tracks.append({"track": tid, "mid": tr.mid, "kind": tr.kind, "simulcast": []})
        answer, cands = strip_candidates(pc.localDescription.sdp)
        mids = ac.sdp_mids(answer)
        after.append(self._trickles(p, "publisher", cands, mids[-1]))
        return {"sdp": answer, "tracks": tracks}

    async def rpc_subscribe(self, ws, params, after):
        p = self._participant(params)
        pc = ac.new_peer_connection()
        self.pcs.append(pc)
        p.sub_pc = pc
        mapping = []
        for t in list(self.tracks.values()):
            if t["participant"] == p.id or self.participants[t["participant"]].room != p.room:
                continue
            tr = pc.addTransceiver(self.relay.subscribe(t["source"]), direction="sendonly")
            mapping.append((tr, t))
        await pc.setLocalDescription(await pc.createOffer())
        offer, cands = strip_candidates(ac.sdp_unique_extmap_ids(pc.localDescription.sdp))
        p.sub_version += 1
        p.outstanding = p.sub_version
        tracks = [{"track": t["track"], "mid": tr.mid, "participant": t["participant"], "kind": t["kind"]}
                  for tr, t in mapping]
        mids = ac.sdp_mids(offer)

        async def send_offer():
            await self._notify(p, "offer", {"participant": p.id, "sdp": offer, "version": p.sub_version,
                                            "tracks": tracks})
        after.append(send_offer)
        after.append(self._trickles(p, "subscriber", cands, mids[-1]))
        return {}

    async def rpc_answer(self, ws, params, after):
        p = self._participant(params)
        if p.outstanding is None or params.get("version", p.outstanding) != p.outstanding:
            raise ac.RpcError("answer", -32009, "no such offer outstanding")
        p.outstanding = None
        try:
            await p.sub_pc.setRemoteDescription(RTCSessionDescription(params["sdp"], "answer"))
        except Exception as err:
            raise ac.RpcError("answer", -32010, "negotiation failed", {"reason": str(err)})
        return {}

    async def rpc_trickle(self, ws, params, after):
        return {}


async def start():
    return await FakeChorus().start()
