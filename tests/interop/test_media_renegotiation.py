#!/usr/bin/python3
"""unsubscribe and unpublish renegotiate without reconnecting: an aiortc
subscriber drops the video track (new offer, video stops, audio goes on);
then the publisher unpublishes its audio (track.unpublished to the room, a
new offer to the subscriber, audio stops). Same PeerConnections throughout.

    CHORUS_BUILD_DIR=build /usr/bin/python3 tests/interop/test_media_renegotiation.py
"""
import asyncio

import aiortc_client as ac


async def growth(sub, kind, seconds=1.0):
    before = ac.received_by_kind(sub.recv)[kind]
    await asyncio.sleep(seconds)
    return ac.received_by_kind(sub.recv)[kind] - before


async def wait_offers(sub, n, timeout_s=5.0):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(sub.offers) < n:
        assert asyncio.get_running_loop().time() < deadline, "offer %d not received" % n
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # the answer goes back and applies


async def run():
    server = await ac.start_server(dev=True, media_interfaces="127.0.0.1")
    clients, parts, failed = [], [], True
    try:
        admin = await ac.new_client(server.ws_url, "admin")
        clients.append(admin)
        await admin.request("room.create", {"room": "reneg", "kind": "live"})
        pub = ac.Participant(await ac.new_client(server.ws_url, "pub"), "pub")
        sub = ac.Participant(await ac.new_client(server.ws_url, "sub"), "sub")
        clients += [pub.client, sub.client]
        parts += [pub, sub]
        await pub.join("reneg", "host", "host")
        await sub.join("reneg", "viewer", "audience")
        res = await pub.publish([ac.ToneTrack(440.0), ac.PatternVideoTrack(320, 240, 30)])
        tracks = {t["kind"]: t["track"] for t in res["tracks"]}
        await sub.subscribe("all")
        await sub.wait_first_video_frame(5.0)
        sub_pc = sub.subscriber.pc
        assert await growth(sub, "video") > 20 and await growth(sub, "audio") > 20

        n = len(sub.offers)
        await sub.client.request("unsubscribe", {"participant": sub.id, "tracks": [tracks["video"]]})
        await wait_offers(sub, n + 1)
        video, audio = await growth(sub, "video"), await growth(sub, "audio")
        print("after unsubscribe(video): offer %d, 1 s: video +%d packets, audio +%d"
              % (sub.offers[-1]["version"], video, audio))
        assert video == 0, "video still flows after unsubscribe: +%d" % video
        assert audio > 20, "audio stopped: +%d" % audio
        mapped = {t["track"] for t in sub.offers[-1]["tracks"]}
        assert tracks["video"] not in mapped and tracks["audio"] in mapped, sub.offers[-1]["tracks"]

        n = len(sub.offers)
        mark = sub.client.mark()
        await pub.client.request("unpublish", {"participant": pub.id, "track": tracks["audio"]})
        gone = await sub.client.wait_notification("track.unpublished", since=mark, timeout_s=5.0)
        assert gone["track"] == tracks["audio"], gone
        await wait_offers(sub, n + 1)
        audio = await growth(sub, "audio")
        print("after unpublish(audio): track.unpublished seen, offer %d, 1 s: audio +%d packets"
              % (sub.offers[-1]["version"], audio))
        assert audio == 0, "audio still flows after unpublish: +%d" % audio
        assert sub.subscriber.pc is sub_pc, "the subscriber PeerConnection was replaced"
        assert sub_pc.connectionState == "connected", sub_pc.connectionState
        failed = False
    finally:
        for p in parts:
            await p.close()
        for c in clients:
            await c.close()
        await ac.stop_server(server, failed)


if __name__ == "__main__":
    ac.run_main(run)  # exits non-zero on any failure
    print("media renegotiation: ok")
