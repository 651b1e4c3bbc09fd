#!/usr/bin/python3
"""Live rooms: destroying a room ends its PK for the other room.

Two live rooms with an aiortc host each and an aiortc audience member in
room A. After live.pk.start the audience decodes B's host; then room B is
destroyed by the admin: the audience gets `live.pk` stopped, B's tracks stop
reaching it, and it keeps decoding its own host (A goes on).

    /usr/bin/python3 tests/interop/test_live_pk_close.py

Run by scripts/test.sh. Exits non-zero on failure.
"""
import asyncio
import sys

import aiortc_client as ac


async def wait_frames(track, n, timeout_s, what):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while track is None or track.frames < n:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("%s: fewer than %d frames within %.0f s" % (what, n, timeout_s))
        await asyncio.sleep(0.1)


async def run():
    server = await ac.start_server(dev=True, media_interfaces="127.0.0.1")
    clients, parts = [], []
    failed = True
    try:
        admin = await ac.new_client(server.ws_url, "admin")
        clients.append(admin)
        for r in ("pk-close-a", "pk-close-b"):
            assert await admin.request("room.create", {"room": r, "kind": "live"}) == {"room": r, "kind": "live"}

        async def participant(name, room, role):
            p = ac.Participant(await ac.new_client(server.ws_url, name))
            clients.append(p.client)
            parts.append(p)
            await p.join(room, name, role)
            return p

        ha = await participant("ha", "pk-close-a", "host")
        hb = await participant("hb", "pk-close-b", "host")
        await ha.publish([ac.ToneTrack(440.0), ac.PatternVideoTrack(320, 240, 30)])
        b_pub = await hb.publish([ac.ToneTrack(880.0), ac.PatternVideoTrack(320, 240, 30)])
        b_video = [t["track"] for t in b_pub["tracks"] if t["kind"] == "video"][0]
        va = await participant("va", "pk-close-a", "audience")
        assert await va.subscribe("all") == {}
        await va.wait_first_video_frame(5.0)

        got = await ha.client.request("live.pk.start", {"participant": ha.id, "room": "pk-close-b"})
        assert got == {"room": "pk-close-a", "peer_room": "pk-close-b"}, got
        deadline = asyncio.get_running_loop().time() + 5.0
        while va.recv.by_chorus_track(b_video) is None:
            assert asyncio.get_running_loop().time() < deadline, "B's host video never reached A's audience"
            await asyncio.sleep(0.1)
        await wait_frames(va.recv.by_chorus_track(b_video), 10, 5.0, "A's audience decoding B's host")
        print("PK: A's audience decodes B's host (%d frames)" % va.recv.by_chorus_track(b_video).frames)

        mark = va.client.mark()
        assert await admin.request("room.destroy", {"room": "pk-close-b"}) == {}
        stopped = await va.client.wait_notification("live.pk", since=mark, timeout_s=3.0)
        want = {"room": "pk-close-a", "peer_room": "pk-close-b", "state": "stopped", "to": va.id}
        assert stopped == want, "live.pk after destroying B: %s, expected %s" % (stopped, want)
        b_ids = {x["track"] for x in b_pub["tracks"]}
        # An offer may still be on its way with B's tracks (offers go one at
        # a time); the renegotiation after the destroy maps none of them.
        try:
            await va.client.wait_notification(
                "offer", since=mark, match=lambda o: not (b_ids & {t["track"] for t in o["tracks"]}),
                timeout_s=3.0)
        except asyncio.TimeoutError:
            raise AssertionError("no offer without B's tracks after B was destroyed: %s" % [
                [t["track"] for t in o["tracks"]] for _, o in va.client.find_notifications("offer", since=mark)])
        await asyncio.sleep(0.5)
        b_track = va.recv.by_chorus_track(b_video)
        before = b_track.packets()
        own_before = va.recv.frames("video") - b_track.frames
        await asyncio.sleep(1.5)
        assert b_track.packets() == before, "B's video still arrives (%d -> %d packets)" % (before, b_track.packets())
        own_after = va.recv.frames("video") - b_track.frames
        assert own_after >= own_before + 20, "A's own host stalled: %d -> %d frames" % (own_before, own_after)
        print("B destroyed: live.pk stopped, new offer without B's tracks, B's packets stopped, "
              "A's host went on (%d frames in 1.5 s)" % (own_after - own_before))
        assert not va.errors, va.errors
        print("live pk close: ok")
        failed = False
    finally:
        for p in parts:
            await p.close()
        for c in clients:
            await c.close()
        await ac.stop_server(server, failed)


if __name__ == "__main__":
    ac.run_main(run)
