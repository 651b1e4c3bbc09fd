#!/usr/bin/python3
"""Signaling integration tests: a real chorus daemon, real WebSocket clients.

    CHORUS_BUILD_DIR=/work/main/build /usr/bin/python3 tests/interop/test_signaling.py [name...]

Prints one line per test and exits non-zero if any failed. Tests:
  acceptance      admin creates a voice room; two token participants and three proxied
                  by one admin connection join, message (all / subset), leave; destroy
  bad_frames      invalid JSON, non-objects, batches, bad members, unknown methods, no reply
                  to notifications; each time another connection is checked unaffected
  bad_params      missing/ill-typed params, bad room names, unknown kind, missing room,
                  duplicate identity, non-admin room.create, participant ownership
  bad_tokens      forged, expired, alg none, wrong alg, wrong room, identity/role mismatch
  frame_limits    1 MiB text frame -> 1009, binary frame -> 1003, over libsoup's cap
  flood           10,000 requests on one connection: -32029 for the excess, exactly one
                  reply each, a second connection's ping round trip stays fast
  dev_mode        --dev: loopback without a token is admin; a bad ?token= is not
  lost_and_resume abort without close frame keeps the participant; resume; close frame
                  leaves at once; grace expiry; a silent (non-ponging) client is lost
  max_connections over the limit: close 1013
  sigterm         participants get room.closed, sockets close 1001, exit code 0
  check_config    --check-config on bad files exits 2 naming file, key and problem
  http            /health, /metrics (connections, errors by code, process, rooms), 404
"""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
import sys
import time
import traceback

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chorus_server as cs  # noqa: E402

SUBPROTOCOL = "chorus.v1"


# --------------------------------------------------------------------------
# A small JSON-RPC client
# --------------------------------------------------------------------------

class RpcError(Exception):
    def __init__(self, error):
        super().__init__("%s %s" % (error.get("code"), error.get("message")))
        self.code = error.get("code")
        self.message = error.get("message")
        self.data = error.get("data")


class Client:
    def __init__(self, name):
        self.name = name
        self.ws = None
        self.next_id = 0
        self.pending = {}
        self.notes = []     # notifications not yet consumed
        self.orphans = []   # replies nobody waited for (id null, ...)
        self.binary = []
        self.event = asyncio.Event()
        self.closed = asyncio.Event()
        self.reader = None

    @classmethod
    async def connect(cls, url, name, token=None, subprotocols=(SUBPROTOCOL,)):
        c = cls(name)
        if token:
            url += ("&" if "?" in url else "?") + "token=" + token
        c.ws = await websockets.connect(url, subprotocols=list(subprotocols) if subprotocols else None,
                                        max_size=None, ping_interval=None)
        c.reader = asyncio.get_running_loop().create_task(c._read())
        return c

    async def _read(self):
        try:
            async for raw in self.ws:
                if isinstance(raw, bytes):
                    self.binary.append(raw)
                    continue
                msg = json.loads(raw)
                if "method" in msg and "id" not in msg:
                    self.notes.append(msg)
                else:
                    fut = self.pending.pop(msg.get("id"), None) if msg.get("id") is not None else None
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
                    else:
                        self.orphans.append(msg)
                self.event.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self.event.set()
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("%s: connection closed (%s)"
                                                      % (self.name, self.ws.close_code)))
            self.pending.clear()

    @property
    def close_code(self):
        return self.ws.close_code

    async def send_raw(self, text):
        await self.ws.send(text)

    async def call(self, method, params=None, timeout=5.0):
        """Sends a request; returns the whole reply object."""
        self.next_id += 1
        rid = self.next_id
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        fut = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        await self.ws.send(json.dumps(msg))
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise AssertionError("%s: no reply to %s within %.1f s" % (self.name, method, timeout))

    async def request(self, method, params=None, timeout=5.0):
        reply = await self.call(method, params, timeout)
        if "error" in reply:
            raise RpcError(reply["error"])
        return reply["result"]

    async def expect_error(self, method, params, code, fragment=None):
        reply = await self.call(method, params)
        assert "error" in reply, "%s: %s %s succeeded, expected %d: %s" % (
            self.name, method, params, code, reply)
        err = reply["error"]
        assert err["code"] == code, "%s: %s %s: got %s, expected %d" % (
            self.name, method, params, err, code)
        if fragment is not None:
            assert fragment in err["message"], "%s: %s: message %r lacks %r" % (
                self.name, method, err["message"], fragment)
        return err

    async def _wait(self, find, timeout, what):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = find()
            if found is not None:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError("%s: %s not seen within %.1f s (notifications: %s)" % (
                    self.name, what, timeout, json.dumps(self.notes)[:1500]))
            self.event.clear()
            try:
                await asyncio.wait_for(self.event.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def _find_note(self, method, match):
        for i, n in enumerate(self.notes):
            if n["method"] == method and all(n["params"].get(k) == v for k, v in match.items()):
                return self.notes.pop(i)
        return None

    async def notification(self, method, timeout=5.0, **match):
        """Waits for (and consumes) a notification whose params contain @match."""
        n = await self._wait(lambda: self._find_note(method, match), timeout,
                             "%s %s" % (method, match))
        return n["params"]

    async def no_notification(self, method, within=0.3, **match):
        await asyncio.sleep(within)
        n = self._find_note(method, match)
        assert n is None, "%s: unexpected %s %s" % (self.name, method, n)

    async def orphan(self, timeout=5.0):
        return await self._wait(lambda: self.orphans.pop(0) if self.orphans else None, timeout,
                                "a reply")

    async def wait_closed(self, timeout=5.0):
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError("%s: not closed within %.1f s" % (self.name, timeout))
        return self.ws.close_code

    async def close(self):
        await self.ws.close()
        if self.reader:
            await asyncio.wait_for(self.reader, 5)


# --------------------------------------------------------------------------
# Tokens made here (for the cases `chorus token` refuses to make)
# --------------------------------------------------------------------------

def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims, secret=cs.SECRET, alg="HS256"):
    signing = b64u(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + \
        b64u(json.dumps(claims).encode())
    if alg.lower() == "none":
        return signing + "."
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    return signing + "." + b64u(hmac.new(secret.encode(), signing.encode(), digest).digest())


def admin_token():
    return cs.mint_token(admin=True)


def user_token(identity, room="*", role=None):
    return cs.mint_token(identity=identity, room=room, role=role)


async def witness_ok(witness, buddy, label):
    """The session of @witness is unaffected: its ping works and a
    notification from @buddy (same room) still reaches it."""
    t0 = time.monotonic()
    await witness.request("ping", {})
    rtt = time.monotonic() - t0
    assert rtt < 1.0, "%s: witness ping took %.3f s" % (label, rtt)
    tag = "after %s" % label
    await buddy.request("message.send", {"data": {"tag": tag}})
    m = await witness.notification("message", data={"tag": tag})
    assert m["to"] == witness.participant, m


async def make_witnesses(url, room):
    """Two token participants in @room: a witness and its buddy."""
    w = await Client.connect(url, "witness", user_token("witness-" + room, room))
    b = await Client.connect(url, "buddy", user_token("buddy-" + room, room))
    w.participant = (await w.request("join", {}))["participant"]
    b.participant = (await b.request("join", {}))["participant"]
    await w.notification("participant.joined", participant=b.participant)
    return w, b


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


# --------------------------------------------------------------------------
# (a) acceptance
# --------------------------------------------------------------------------

async def test_acceptance(server):
    url = server.ws_url
    admin = await Client.connect(url, "admin", admin_token())
    created = await admin.request("room.create", {"room": "stage", "kind": "voice"})
    assert created == {"room": "stage", "kind": "voice"}, created

    alice = await Client.connect(url, "alice", user_token("alice", "stage", "host"))
    bob = await Client.connect(url, "bob", user_token("bob", "*"))
    proxy = await Client.connect(url, "proxy", admin_token())

    # auth result on a token connection
    auth = await bob.request("auth", {"token": user_token("bob", "*")})
    assert auth == {"identity": "bob", "admin": False}, auth

    ja = await alice.request("join", {})  # room and role from the token
    assert ja["room"] == "stage" and ja["role"] == "host", ja
    assert ja["participants"] == [], ja
    assert ja["resume_key"], ja
    a_id = ja["participant"]
    jb = await bob.request("join", {"room": "stage", "identity": "bob"})
    b_id = jb["participant"]
    assert [p["participant"] for p in jb["participants"]] == [a_id], jb
    n = await alice.notification("participant.joined", participant=b_id)
    assert n["to"] == a_id and n["identity"] == "bob" and n["room"] == "stage", n

    proxied = {}
    for name in ("carol", "dave", "erin"):
        r = await proxy.request("join", {"room": "stage", "identity": name, "role": "speaker",
                                         "metadata": {"display": name.title()}})
        assert r["role"] == "speaker", r
        proxied[name] = r["participant"]
    c_id, d_id, e_id = proxied["carol"], proxied["dave"], proxied["erin"]

    # Who sees whose join, addressed with "to".
    for who in (c_id, d_id, e_id):
        for watcher, me in ((alice, a_id), (bob, b_id)):
            n = await watcher.notification("participant.joined", participant=who)
            assert n["to"] == me, n
    n = await proxy.notification("participant.joined", participant=d_id, to=c_id)
    assert n["identity"] == "dave" and n["metadata"] == {"display": "Dave"}, n
    await proxy.notification("participant.joined", participant=e_id, to=c_id)
    await proxy.notification("participant.joined", participant=e_id, to=d_id)
    await proxy.no_notification("participant.joined", participant=c_id)
    await alice.no_notification("participant.joined", participant=a_id)

    # Message to everyone else.
    await alice.request("message.send", {"data": {"text": "hello all"}})
    for watcher, me in ((bob, b_id),):
        m = await watcher.notification("message", **{"from": a_id})
        assert m == {"room": "stage", "from": a_id, "data": {"text": "hello all"}, "to": me}, m
    for me in (c_id, d_id, e_id):
        m = await proxy.notification("message", to=me, **{"from": a_id})
        assert m["data"] == {"text": "hello all"}, m
    await alice.no_notification("message")

    # Message to a subset, sent by a proxied participant.
    await proxy.request("message.send", {"participant": c_id, "to": [b_id, e_id], "data": "psst"})
    m = await bob.notification("message", **{"from": c_id})
    assert m["data"] == "psst" and m["to"] == b_id, m
    m = await proxy.notification("message", **{"from": c_id})
    assert m["to"] == e_id, m
    await alice.no_notification("message")
    await proxy.no_notification("message", to=d_id)

    # room.info and room.list while full.
    info = await admin.request("room.info", {"room": "stage"})
    assert sorted(p["identity"] for p in info["participants"]) == \
        ["alice", "bob", "carol", "dave", "erin"], info
    listed = await admin.request("room.list", {})
    assert listed["rooms"] == [{"room": "stage", "kind": "voice", "participants": 5,
                                "publishers": 0}], listed

    # Everyone leaves.
    assert await alice.request("leave", {}) == {}
    for watcher, me in ((bob, b_id),):
        n = await watcher.notification("participant.left", participant=a_id)
        assert n == {"room": "stage", "participant": a_id, "reason": "left", "to": me}, n
    for me in (c_id, d_id, e_id):
        await proxy.notification("participant.left", participant=a_id, to=me)
    assert await bob.request("leave", {"participant": b_id}) == {}
    for me in (c_id, d_id, e_id):
        await proxy.notification("participant.left", participant=b_id, to=me)
    for pid in (c_id, d_id, e_id):
        assert await proxy.request("leave", {"participant": pid}) == {}
    await proxy.notification("participant.left", participant=c_id, to=d_id)
    await proxy.notification("participant.left", participant=c_id, to=e_id)
    await proxy.notification("participant.left", participant=d_id, to=e_id)
    # Gone: acting for them again is -32004.
    await proxy.expect_error("leave", {"participant": c_id}, -32004)
    await alice.expect_error("message.send", {"data": 1}, -32004)

    assert await admin.request("room.destroy", {"room": "stage"}) == {}
    assert await admin.request("room.list", {}) == {"rooms": []}
    await admin.expect_error("room.info", {"room": "stage"}, -32004)
    for c in (admin, alice, bob, proxy):
        await c.close()


# --------------------------------------------------------------------------
# (b) bad input
# --------------------------------------------------------------------------

async def test_bad_frames(server):
    url = server.ws_url
    admin = await Client.connect(url, "admin", admin_token())
    await admin.request("room.create", {"room": "frames", "kind": "voice"})
    w, b = await make_witnesses(url, "frames")
    bad = await Client.connect(url, "bad", admin_token())

    cases = [
        ("invalid JSON", "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ", -32700, None),
        ("not JSON at all", "hello", -32700, None),
        ("JSON number", "42", -32600, None),
        ("JSON string", "\"ping\"", -32600, None),
        ("batch", json.dumps([{"jsonrpc": "2.0", "id": 5, "method": "ping"}]), -32600, None),
        ("empty batch", "[]", -32600, None),
        ("no jsonrpc", json.dumps({"id": 7, "method": "ping"}), -32600, 7),
        ("jsonrpc 1.0", json.dumps({"jsonrpc": "1.0", "id": "s", "method": "ping"}), -32600, "s"),
        ("method missing", json.dumps({"jsonrpc": "2.0", "id": 8}), -32600, 8),
        ("method not a string", json.dumps({"jsonrpc": "2.0", "id": 9, "method": 3}), -32600, 9),
        ("params an array", json.dumps({"jsonrpc": "2.0", "id": 10, "method": "ping",
                                        "params": [1]}), -32600, 10),
        ("params a string", json.dumps({"jsonrpc": "2.0", "id": 11, "method": "ping",
                                        "params": "x"}), -32600, 11),
        ("id an object", json.dumps({"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}),
         -32600, None),
        ("id a boolean", json.dumps({"jsonrpc": "2.0", "id": True, "method": "ping"}), -32600,
         None),
        ("unknown method", json.dumps({"jsonrpc": "2.0", "id": 12, "method": "no.such"}),
         -32601, 12),
        ("publish without participant", json.dumps({"jsonrpc": "2.0", "id": 13,
                                                    "method": "publish", "params": {}}),
         -32602, 13),
    ]
    for label, text, code, echo in cases:
        await bad.send_raw(text)
        # Raw frames are not registered as pending: their replies land in orphans.
        reply = await bad.orphan()
        assert reply.get("jsonrpc") == "2.0", (label, reply)
        assert reply["error"]["code"] == code, "%s: %s" % (label, reply)
        assert reply["id"] == echo, "%s: id %r, expected %r" % (label, reply["id"], echo)
        assert "result" not in reply, (label, reply)
        await witness_ok(w, b, label)

    # "id": null is a request (JSON-RPC 2.0 allows it): it gets a reply, with id null.
    await bad.send_raw(json.dumps({"jsonrpc": "2.0", "id": None, "method": "ping"}))
    reply = await bad.orphan()
    assert reply["id"] is None and "time_ms" in reply["result"], reply

    # Notifications get no reply, even when they fail.
    await bad.send_raw(json.dumps({"jsonrpc": "2.0", "method": "no.such"}))
    await bad.send_raw(json.dumps({"jsonrpc": "2.0", "method": "room.create", "params": {}}))
    await bad.send_raw(json.dumps({"jsonrpc": "2.0", "method": "ping"}))
    pong = await bad.request("ping", {})
    assert "time_ms" in pong, pong
    await asyncio.sleep(0.2)
    assert bad.orphans == [], bad.orphans
    await witness_ok(w, b, "notifications")

    # The connection survived every bad frame.
    assert not bad.closed.is_set()
    for c in (admin, w, b, bad):
        await c.close()


async def test_bad_params(server):
    url = server.ws_url
    admin = await Client.connect(url, "admin", admin_token())
    await admin.request("room.create", {"room": "params", "kind": "voice"})
    w, b = await make_witnesses(url, "params")

    async def check(client, method, params, code, fragment=None):
        await client.expect_error(method, params, code, fragment)
        await witness_ok(w, b, "%s %s" % (method, params))

    # Missing / ill-typed params.
    await check(admin, "room.create", {}, -32602, "params.room: required")
    await check(admin, "room.create", {"room": 5, "kind": "voice"}, -32602,
                "params.room: expected a string")
    await check(admin, "room.create", {"room": "x1"}, -32602, "params.kind: required")
    await check(admin, "room.create", {"room": "x1", "kind": "voice", "max_participants": "ten"},
                -32602, "params.max_participants")
    await check(admin, "room.create", {"room": "x1", "kind": "voice", "max_participants": 0},
                -32602, "params.max_participants")
    await check(admin, "room.create", {"room": "x1", "kind": "voice", "options": [1]}, -32602,
                "params.options: expected an object")
    await check(admin, "join", {"room": "params"}, -32602, "params.identity: required")
    await check(admin, "join", {"room": ["params"], "identity": "z"}, -32602, "params.room")
    await check(admin, "join", {"room": "params", "identity": "z", "metadata": "m"}, -32602,
                "params.metadata: expected an object")
    await check(w, "message.send", {}, -32602, "params.data: required")
    await check(w, "message.send", {"data": 1, "to": "all"}, -32602,
                "params.to: expected an array")
    await check(w, "auth", {}, -32602, "params.token: required")

    # Room names and kinds.
    await check(admin, "room.create", {"room": "r" * 65, "kind": "voice"}, -32602)
    await check(admin, "room.create", {"room": "bad room!", "kind": "voice"}, -32602)
    await check(admin, "room.create", {"room": "", "kind": "voice"}, -32602)
    await check(admin, "room.create", {"room": "x/y", "kind": "voice"}, -32602)
    err = await admin.expect_error("room.create", {"room": "k1", "kind": "karaoke"}, -32602)
    assert "live" in err["message"] and "voice" in err["message"], err
    ok = await admin.request("room.create", {"room": "r" * 64, "kind": "live"})
    assert ok["room"] == "r" * 64, ok
    await check(admin, "room.create", {"room": "params", "kind": "voice"}, -32009)

    # Missing room, non-admin room.create, duplicate identity.
    await check(admin, "join", {"room": "nowhere", "identity": "z"}, -32004)
    await check(w, "room.create", {"room": "mine", "kind": "voice"}, -32002)
    await check(w, "room.destroy", {"room": "params"}, -32002)
    await check(w, "room.list", {}, -32002)
    await check(admin, "room.destroy", {"room": "nowhere"}, -32004)
    await check(admin, "join", {"room": "params", "identity": "witness-params"}, -32009)
    dup = await Client.connect(url, "dup", user_token("buddy-params", "params"))
    await check(dup, "join", {}, -32009)
    # A non-admin connection carries one participant.
    await check(w, "join", {}, -32009)

    # Ownership: a participant of another connection.
    other = await Client.connect(url, "other-admin", admin_token())
    await check(other, "leave", {"participant": w.participant}, -32002)
    await check(other, "message.send", {"participant": w.participant, "data": 1}, -32002)
    await check(other, "leave", {"participant": "p_doesnotexist0000"}, -32004)
    await check(other, "leave", {}, -32602, "params.participant: required")
    await check(other, "voice.hand.raise", {"participant": b.participant}, -32002)
    # Plugin method routing: a voice method works for our own participant; live.* in a
    # voice room is unknown.
    pr = await other.request("join", {"room": "params", "identity": "plugin-user"})
    assert await other.request("voice.hand.raise", {"participant": pr["participant"]}) is not None
    await check(other, "live.promote", {"participant": pr["participant"],
                                        "target": pr["participant"]}, -32601)
    await check(other, "voice.", {"participant": pr["participant"]}, -32601)
    await other.request("leave", {"participant": pr["participant"]})

    # Before auth: only auth and ping.
    anon = await Client.connect(url, "anon")
    assert "time_ms" in await anon.request("ping", {})
    await check(anon, "join", {"room": "params"}, -32001)
    await check(anon, "room.list", {}, -32001)
    await check(anon, "no.such.method", {}, -32601)
    auth = await anon.request("auth", {"token": admin_token()})
    assert auth == {"identity": None, "admin": True}, auth
    assert (await anon.request("room.list", {}))["rooms"]

    # Exceeding the per-participant message rate is the room's -32029.
    for c in (admin, w, b, dup, other, anon):
        await c.close()
    await admin_cleanup(server, ["params", "r" * 64])


async def admin_cleanup(server, rooms):
    admin = await Client.connect(server.ws_url, "cleanup", admin_token())
    for r in rooms:
        await admin.call("room.destroy", {"room": r})
    await admin.close()


async def test_bad_tokens(server):
    url = server.ws_url
    admin = await Client.connect(url, "admin", admin_token())
    await admin.request("room.create", {"room": "tokens", "kind": "voice"})
    await admin.request("room.create", {"room": "other", "kind": "voice"})
    w, b = await make_witnesses(url, "tokens")
    now = int(time.time())
    before = parse_metrics(server.http_get("/metrics")[2])

    forged = make_jwt({"sub": "mallory", "room": "*", "admin": True, "exp": now + 600},
                      secret="not-the-secret-0123456789")
    expired = make_jwt({"sub": "late", "room": "*", "exp": now - 100})
    unsigned = make_jwt({"sub": "mallory", "room": "*", "admin": True, "exp": now + 600},
                        alg="none")
    hs384 = make_jwt({"sub": "mallory", "room": "*", "admin": True, "exp": now + 600},
                     alg="HS384")
    no_exp = make_jwt({"sub": "forever", "room": "*"})
    bad_type = make_jwt({"sub": "x", "room": "*", "admin": "yes", "exp": now + 600})
    cases = [
        ("forged", forged, "bad signature"),
        ("expired", expired, "expired"),
        ("alg none", unsigned, "alg \"none\""),
        ("HS384", hs384, "HS384"),
        ("no exp", no_exp, "no exp"),
        ("admin not a bool", bad_type, "claim admin"),
        ("garbage", "not.a.token", "token refused"),
    ]
    for label, token, fragment in cases:
        # Through auth...
        c = await Client.connect(url, "auth-" + label)
        await c.expect_error("auth", {"token": token}, -32001, fragment)
        await c.expect_error("room.list", {}, -32001)
        await c.expect_error("join", {"room": "tokens", "identity": "z"}, -32001)
        await c.close()
        # ... and through ?token=.
        c = await Client.connect(url, "url-" + label, token)
        err = await c.expect_error("room.create", {"room": "evil", "kind": "voice"}, -32001)
        assert fragment in err["message"], (label, err)
        assert "time_ms" in await c.request("ping", {})
        await c.close()
        await witness_ok(w, b, "token " + label)

    # Valid token, wrong room.
    c = await Client.connect(url, "wrong-room", user_token("carl", "tokens"))
    await c.expect_error("join", {"room": "other"}, -32002, "does not allow room")
    # room.info: admins, or a participant of that room.
    await c.expect_error("room.info", {"room": "tokens"}, -32002)
    # Identity / role in params must match the claims.
    await c.expect_error("join", {"identity": "someone-else"}, -32002, "params.identity")
    await c.expect_error("join", {"role": "host"}, -32002, "params.role")
    r = await c.request("join", {"identity": "carl"})
    assert r["room"] == "tokens" and r["role"] == "listener", r
    info = await c.request("room.info", {"room": "tokens"})
    assert info["room"] == "tokens" and "carl" in [p["identity"] for p in info["participants"]]
    await c.expect_error("room.info", {"room": "other"}, -32002)
    await c.close()
    c = await Client.connect(url, "role-token", user_token("dora", "tokens", "speaker"))
    await c.expect_error("join", {"role": "host"}, -32002, "grants role")
    assert (await c.request("join", {"role": "speaker"}))["role"] == "speaker"
    await c.close()
    await witness_ok(w, b, "wrong room")

    # An admin token's room claim binds it too.
    c = await Client.connect(url, "room-admin", cs.mint_token(admin=True, room="tokens"))
    await c.expect_error("room.create", {"room": "elsewhere", "kind": "voice"}, -32002)
    await c.expect_error("join", {"room": "other", "identity": "zed"}, -32002)
    await c.expect_error("room.destroy", {"room": "other"}, -32002)
    assert (await c.request("join", {"room": "tokens", "identity": "zed"}))["room"] == "tokens"
    await c.close()

    after = parse_metrics(server.http_get("/metrics")[2])
    failures = after["chorus_auth_failures_total"] - before["chorus_auth_failures_total"]
    assert failures >= 2 * len(cases) + 1, failures
    for c in (admin, w, b):
        await c.close()
    await admin_cleanup(server, ["tokens", "other"])


async def test_frame_limits(server):
    url = server.ws_url
    admin = await Client.connect(url, "admin", admin_token())
    await admin.request("room.create", {"room": "limits", "kind": "voice"})
    w, b = await make_witnesses(url, "limits")

    big = await Client.connect(url, "big", user_token("big", "limits"))
    big_id = (await big.request("join", {}))["participant"]
    await w.notification("participant.joined", participant=big_id)
    await big.send_raw(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping",
                                   "params": {"pad": "x" * (1 << 20)}}))
    code = await big.wait_closed()
    assert code == 1009, "1 MiB frame: close code %s" % code
    # It is out of the room at once (not waiting for a resume).
    n = await w.notification("participant.left", participant=big_id, timeout=2)
    assert n["reason"] == "disconnected", n
    await witness_ok(w, b, "1 MiB frame")

    # Just under the limit is fine (64 KiB default, JSON envelope included).
    ok = await Client.connect(url, "ok", admin_token())
    reply = await ok.call("ping", {"pad": "y" * 60000})
    assert "result" in reply, reply
    await ok.close()

    binary = await Client.connect(url, "binary", admin_token())
    await binary.ws.send(b"\x00\x01binary")
    code = await binary.wait_closed()
    assert code == 1003, "binary frame: close code %s" % code
    await witness_ok(w, b, "binary frame")

    # Above libsoup's own cap (4 MiB) the TCP connection is dropped.
    huge = await Client.connect(url, "huge", admin_token())
    try:
        await huge.ws.send("z" * (5 << 20))
    except websockets.ConnectionClosed:
        pass
    code = await huge.wait_closed(10)
    assert code in (1006, 1009), "5 MiB frame: close code %s" % code
    await witness_ok(w, b, "5 MiB frame")

    for c in (admin, w, b):
        await c.close()
    await admin_cleanup(server, ["limits"])


# Measures ping round trips on its own connection, from its own process, so
# that the numbers are the server's and not this process's event loop.
PINGER = r"""
import asyncio, json, sys, time, websockets
async def main(url, duration_s):
    async with websockets.connect(url, subprotocols=["chorus.v1"], ping_interval=None) as ws:
        rtts = []
        print("ready", flush=True)
        end = time.monotonic() + duration_s
        i = 0
        while time.monotonic() < end:
            i += 1
            t0 = time.monotonic()
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": i, "method": "ping"}))
            reply = json.loads(await ws.recv())
            assert reply["id"] == i and "result" in reply, reply
            rtts.append(time.monotonic() - t0)
            # ~50/s: within this connection's own request rate limit.
            await asyncio.sleep(0.02)
        print(json.dumps(rtts), flush=True)
asyncio.run(main(sys.argv[1], float(sys.argv[2])))
"""


async def test_flood(server):
    url = server.ws_url
    admin = await Client.connect(url, "admin", admin_token())
    await admin.request("room.create", {"room": "flood", "kind": "voice"})
    w, b = await make_witnesses(url, "flood")
    before = parse_metrics(server.http_get("/metrics")[2])

    pinger = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PINGER, url + "?token=" + admin_token(), "2.5",
        stdout=asyncio.subprocess.PIPE)
    assert (await asyncio.wait_for(pinger.stdout.readline(), 10)).strip() == b"ready"
    await asyncio.sleep(0.3)

    flood = await Client.connect(url, "flood", admin_token())
    total = 10000
    loop = asyncio.get_running_loop()
    futs = {}
    for i in range(1, total + 1):
        futs[i] = loop.create_future()
    flood.pending.update(futs)
    flood.next_id = total
    t0 = time.monotonic()
    for i in range(1, total + 1):
        await flood.ws.send('{"jsonrpc":"2.0","id":%d,"method":"ping"}' % i)
    sent_s = time.monotonic() - t0
    # A notification flood is limited too, silently.
    for i in range(100):
        await flood.ws.send('{"jsonrpc":"2.0","method":"ping"}')
    replies = await asyncio.wait_for(asyncio.gather(*futs.values()), 60)
    elapsed_s = time.monotonic() - t0
    rtts = json.loads(await asyncio.wait_for(pinger.stdout.readline(), 20))
    assert await pinger.wait() == 0

    ok = sum(1 for r in replies if "result" in r)
    limited = sum(1 for r in replies if r.get("error", {}).get("code") == -32029)
    assert ok + limited == total, (ok, limited)
    assert [r["id"] for r in replies] == list(range(1, total + 1))
    await asyncio.sleep(0.3)
    assert flood.orphans == [], flood.orphans[:3]   # exactly one reply each, none to notifications
    assert limited > 0, "no request was rate limited"
    # burst 200 + 50/s: the limiter let through what it should, no more.
    assert 200 <= ok <= 200 + 50 * elapsed_s + 5, (ok, elapsed_s)
    rtts.sort()
    worst = rtts[-1]
    assert len(rtts) >= 20, rtts
    assert worst < 0.15, "other connection's ping round trip %.1f ms during the flood" % (
        worst * 1000)
    after = parse_metrics(server.http_get("/metrics")[2])
    delta = after["chorus_requests_rate_limited_total"] - before["chorus_requests_rate_limited_total"]
    assert delta >= limited, (delta, limited)
    # The bucket refills: the flooding connection itself works again.
    await asyncio.sleep(0.1)
    assert "time_ms" in await flood.request("ping", {})
    await witness_ok(w, b, "flood")
    print("    flood: %d ok, %d rate limited; sent in %.2f s, answered in %.2f s; other "
          "connection's ping: median %.1f ms, max %.1f ms over %d samples"
          % (ok, limited, sent_s, elapsed_s, rtts[len(rtts) // 2] * 1000, worst * 1000,
             len(rtts)))
    for c in (admin, w, b, flood):
        await c.close()
    await admin_cleanup(server, ["flood"])


# --------------------------------------------------------------------------
# Servers with their own configuration
# --------------------------------------------------------------------------

async def test_dev_mode(_server):
    server = cs.start_server(dev=True)
    try:
        dev = await Client.connect(server.ws_url, "dev")
        assert (await dev.request("room.create", {"room": "dev", "kind": "live"}))["kind"] == "live"
        r = await dev.request("join", {"room": "dev", "identity": "host1", "role": "host"})
        assert r["role"] == "host", r
        await dev.close()
        # An explicit bad token is not silently upgraded to admin.
        bad = await Client.connect(server.ws_url, "dev-bad", "garbage.token.here")
        await bad.expect_error("room.list", {}, -32001)
        await bad.close()
        # No subprotocol offered: accepted too.
        plain = await Client.connect(server.ws_url, "plain", subprotocols=None)
        assert plain.ws.subprotocol is None
        assert "time_ms" in await plain.request("ping", {})
        await plain.close()
    finally:
        server.stop()


class RawClient:
    """A WebSocket client that never answers pings (to look dead)."""

    def __init__(self, port, path):
        self.sock = socket.create_connection(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chorus.v1\r\n\r\n"
                           % (path, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.rest = head.split(b"\r\n\r\n", 1)[1]

    def send_text(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                  bytes([0x80 | 126]) + n.to_bytes(2, "big"))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def read_reply(self, timeout=5.0):
        """Reads one unfragmented server text frame (skipping pings)."""
        self.sock.settimeout(timeout)
        buf = self.rest
        while True:
            while len(buf) < 2:
                buf += self.sock.recv(65536)
            op, n, off = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if n == 126:
                while len(buf) < 4:
                    buf += self.sock.recv(65536)
                n, off = int.from_bytes(buf[2:4], "big"), 4
            while len(buf) < off + n:
                buf += self.sock.recv(65536)
            payload, buf = buf[off:off + n], buf[off + n:]
            if op == 0x1:
                self.rest = buf
                return json.loads(payload)

    def close(self):
        self.sock.close()


async def test_lost_and_resume(_server):
    server = cs.start_server(config={"signaling": {"resume_grace_s": 2, "ping_interval_s": 1,
                                                   "idle_timeout_s": 2}})
    try:
        url = server.ws_url
        admin = await Client.connect(url, "admin", admin_token())
        await admin.request("room.create", {"room": "resume", "kind": "voice"})
        w, b = await make_witnesses(url, "resume")

        # Lost without a close frame: the participant stays, resume takes it back.
        lost = await Client.connect(url, "lost", user_token("lou", "resume"))
        j = await lost.request("join", {})
        pid, key = j["participant"], j["resume_key"]
        await w.notification("participant.joined", participant=pid)
        lost.ws.transport.abort()
        await w.no_notification("participant.left", within=0.8, participant=pid)
        back = await Client.connect(url, "back", user_token("lou", "resume"))
        await back.expect_error("resume", {"participant": pid, "resume_key": "0" * 32}, -32001)
        other = await Client.connect(url, "thief", user_token("mallory", "resume"))
        await other.expect_error("resume", {"participant": pid, "resume_key": key}, -32002)
        await other.close()
        r = await back.request("resume", {"participant": pid, "resume_key": key})
        assert r["participant"] == pid and r["room"] == "resume", r
        await back.request("message.send", {"data": "i am back"})
        m = await w.notification("message", **{"from": pid})
        assert m["data"] == "i am back", m
        await asyncio.sleep(2.5)  # past the grace: still there, it was resumed
        await w.no_notification("participant.left", within=0, participant=pid)
        # A close frame makes it leave at once.
        await back.close()
        n = await w.notification("participant.left", participant=pid, timeout=1.0)
        assert n["reason"] == "left", n

        # Lost and never resumed: leaves with "timeout" after the grace.
        gone = await Client.connect(url, "gone", user_token("gus", "resume"))
        gid = (await gone.request("join", {}))["participant"]
        await w.notification("participant.joined", participant=gid)
        t0 = time.monotonic()
        gone.ws.transport.abort()
        n = await w.notification("participant.left", participant=gid, timeout=5)
        waited = time.monotonic() - t0
        assert n["reason"] == "timeout" and 1.5 <= waited <= 4.0, (n, waited)

        # Silent: TCP stays open but pings are never answered.
        raw = RawClient(server.port, "/ws?token=" + user_token("sid", "resume"))
        raw.send_text(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "join", "params": {}}))
        sid = raw.read_reply()["result"]["participant"]
        await w.notification("participant.joined", participant=sid)
        t0 = time.monotonic()
        # idle 2 s (+ sweep 1 s) then grace 2 s.
        n = await w.notification("participant.left", participant=sid, timeout=8)
        waited = time.monotonic() - t0
        assert n["reason"] == "timeout" and waited >= 3.5, (n, waited)
        raw.close()
        await witness_ok(w, b, "lost connections")
        for c in (admin, w, b):
            await c.close()
    finally:
        server.stop()


async def test_max_connections(_server):
    server = cs.start_server(config={"limits": {"max_connections": 2}})
    try:
        url = server.ws_url
        c1 = await Client.connect(url, "c1", admin_token())
        c2 = await Client.connect(url, "c2", admin_token())
        c3 = await Client.connect(url, "c3", admin_token())
        code = await c3.wait_closed()
        assert code == 1013, "over max_connections: close code %s" % code
        assert c3.ws.close_reason == "try again later", c3.ws.close_reason
        assert "time_ms" in await c1.request("ping", {})
        await c2.close()
        await asyncio.sleep(0.2)
        c4 = await Client.connect(url, "c4", admin_token())
        assert "time_ms" in await c4.request("ping", {})
        await c1.close()
        await c4.close()
    finally:
        server.stop()


async def test_sigterm(_server):
    server = cs.start_server()
    try:
        url = server.ws_url
        admin = await Client.connect(url, "admin", admin_token())
        await admin.request("room.create", {"room": "bye", "kind": "voice"})
        p1 = await Client.connect(url, "p1", user_token("one", "bye"))
        p2 = await Client.connect(url, "p2", admin_token())
        id1 = (await p1.request("join", {}))["participant"]
        id2 = (await p2.request("join", {"room": "bye", "identity": "two"}))["participant"]
        server.signal_stop()
        n1 = await p1.notification("room.closed", timeout=5)
        n2 = await p2.notification("room.closed", timeout=5)
        assert n1 == {"room": "bye", "reason": "shutdown", "to": id1}, n1
        assert n2["to"] == id2 and n2["room"] == "bye", n2
        for c in (admin, p1, p2):
            code = await c.wait_closed()
            assert code == 1001, "%s: close code %s" % (c.name, code)
        code = server.wait(10)
        assert code == 0, "exit code %d:\n%s" % (code, server.log_text()[-3000:])
        server.assert_clean_log()
    finally:
        server.kill()


async def test_check_config(_server):
    cases = [
        ("[signaling]\nport = 70000\n", "[signaling] port", "must be between"),
        ("[signaling]\nbogus = 1\n", "[signaling] bogus", "unknown key"),
        ("[media]\nport_min = 30000\nport_max = 20000\n", "[media] port_min", "port_max"),
        ("[signaling]\nport = 7070\n", "[auth] api_secret", "required"),
    ]
    for text, key, problem in cases:
        code, out, path = cs.run_check_config(text)
        assert code == 2, "exit %d for %r: %s" % (code, text, out)
        for part in (path, key, problem):
            assert part in out, "%r: output lacks %r: %s" % (text, part, out)
    good = "[auth]\napi_secret = %s\n" % cs.SECRET
    code, out, path = cs.run_check_config(good)
    assert code == 0, out


async def test_http(server):
    status, headers, body = server.http_get("/health")
    assert status == 200 and json.loads(body) == {"status": "ok"}, (status, body)
    c = await Client.connect(server.ws_url, "metrics", admin_token())
    await c.expect_error("no.such", {}, -32601)
    await c.request("room.create", {"room": "metered", "kind": "voice"})
    await c.request("join", {"room": "metered", "identity": "m1"})
    status, headers, body = server.http_get("/metrics")
    assert status == 200, status
    ctype = {k.lower(): v for k, v in headers.items()}["content-type"]
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    m = parse_metrics(body)
    assert m["chorus_connections"] >= 1, body[:400]
    errors = [k for k in m if k.startswith('chorus_errors_total{code="-32601"')]
    assert errors and m[errors[0]] >= 1, errors
    assert "process_cpu_seconds_total" in m
    assert m['chorus_rooms{kind="voice"}'] >= 1, [k for k in m if "rooms" in k]
    assert m['chorus_participants{kind="voice"}'] >= 1
    assert m["chorus_messages_received_total"] >= 3
    assert m["chorus_messages_sent_total"] >= 3
    status, _, _ = server.http_get("/nothing-here")
    assert status == 404, status
    await c.close()
    await admin_cleanup(server, ["metered"])


# --------------------------------------------------------------------------

TESTS = [
    ("acceptance", test_acceptance),
    ("bad_frames", test_bad_frames),
    ("bad_params", test_bad_params),
    ("bad_tokens", test_bad_tokens),
    ("frame_limits", test_frame_limits),
    ("flood", test_flood),
    ("http", test_http),
    ("dev_mode", test_dev_mode),
    ("lost_and_resume", test_lost_and_resume),
    ("max_connections", test_max_connections),
    ("sigterm", test_sigterm),
    ("check_config", test_check_config),
]


def main(argv):
    wanted = set(argv[1:])
    unknown = wanted - {n for n, _ in TESTS}
    if unknown:
        print("unknown test(s): %s" % ", ".join(sorted(unknown)))
        return 2
    # Generous message limits: the witnesses send one message per check.
    server = cs.start_server(config={"limits": {"message_rate": 1000, "message_burst": 1000}})
    failures = 0
    try:
        for name, fn in TESTS:
            if wanted and name not in wanted:
                continue
            t0 = time.monotonic()
            try:
                asyncio.run(asyncio.wait_for(fn(server), 120))
                print("PASS %-16s %.1f s" % (name, time.monotonic() - t0), flush=True)
            except Exception:
                failures += 1
                print("FAIL %-16s %.1f s" % (name, time.monotonic() - t0), flush=True)
                traceback.print_exc()
            if server.proc.poll() is not None:
                print("FAIL the shared server died:\n%s" % server.log_text()[-4000:])
                return 1
    finally:
        try:
            server.stop()
        except AssertionError as e:
            failures += 1
            print("FAIL shared server shutdown: %s" % e)
    print("%d test(s) failed" % failures if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
