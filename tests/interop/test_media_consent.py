#!/usr/bin/python3
"""Consent freshness: a PeerConnection whose client stops answering (its
UDP sockets stop sending, no DTLS close) is dropped by Chorus and the
participant is told, within 30 s; the other participants are unaffected.

An aiortc publisher and subscriber flow through Chorus; then the publisher's
ICE sockets are silenced under aiortc (no close_notify, no more STUN). Chorus
must send the publisher `peer.closed` (target publisher, an ICE/consent
reason), unpublish its tracks (the subscriber sees track.unpublished), count
the failure in /metrics, and keep serving the room (a second publisher's
media still reaches the subscriber).

    CHORUS_BUILD_DIR=build /usr/bin/python3 tests/interop/test_media_consent.py
"""
import asyncio
import time

import aiortc_client as ac

DEADLINE_S = 30.0


def silence(pc):
    """Makes the ICE sockets of @pc drop everything they would send (aioice
    internals): no STUN answers, no media, no DTLS close, as when a client
    vanishes from the network."""
    closed = 0
    for tr in pc.getTransceivers():
        ice = tr.receiver.transport.transport if tr.receiver.transport else None
        conn = getattr(ice, "_connection", None)
        for proto in getattr(conn, "_protocols", []):
            if proto.transport is not None:
                proto.transport.sendto = lambda *args, **kwargs: None
                closed += 1
        if closed:
            break  # BUNDLE: one ICE transport
    return closed


async def run():
    server = await ac.start_server(dev=True, media_interfaces="127.0.0.1")
    clients, parts, failed = [], [], True
    try:
        admin = await ac.new_client(server.ws_url, "admin")
        clients.append(admin)
        room = "consent"
        await admin.request("room.create", {"room": room, "kind": "live"})

        pub = ac.Participant(await ac.new_client(server.ws_url, "pub"), "pub")
        pub2 = ac.Participant(await ac.new_client(server.ws_url, "pub2"), "pub2")
        sub = ac.Participant(await ac.new_client(server.ws_url, "sub"), "sub")
        for p in (pub, pub2, sub):
            clients.append(p.client)
            parts.append(p)
        await pub.join(room, "host", "host")
        await pub2.join(room, "cohost", "cohost")
        await sub.join(room, "viewer", "audience")
        res = await pub.publish([ac.ToneTrack(440.0), ac.PatternVideoTrack(320, 240, 30)])
        await pub.wait_state("publisher", ("connected",), 5.0)
        await pub2.publish([ac.ToneTrack(660.0)])
        await pub2.wait_state("publisher", ("connected",), 5.0)
        await sub.subscribe("all")
        await sub.wait_first_video_frame(5.0)
        metrics0 = await ac.fetch_metrics(server.http_url)

        mark = sub.client.mark()
        pub_mark = pub.client.mark()
        n = silence(pub.publisher.pc)
        assert n > 0, "found no ICE socket to silence"
        t0 = time.monotonic()
        print("publisher's ICE sockets silenced (%d); waiting for Chorus to notice" % n)

        closed = await pub.client.wait_notification("peer.closed", since=pub_mark, timeout_s=DEADLINE_S)
        dt = time.monotonic() - t0
        assert closed["target"] == "publisher", closed
        assert "ICE" in closed["reason"] or "consent" in closed["reason"], closed
        print("peer.closed after %.1f s: %s" % (dt, closed["reason"]))

        gone = set()
        for t in res["tracks"]:
            p = await sub.client.wait_notification("track.unpublished", since=mark,
                                                   match=lambda q, tid=t["track"]: q["track"] == tid,
                                                   timeout_s=5.0)
            gone.add(p["track"])
        print("subscriber saw track.unpublished for %s" % sorted(gone))

        metrics1 = await ac.fetch_metrics(server.http_url)
        key = ("chorus_media_peers_failed_total", "")
        # Counters reach /metrics within a second.
        deadline = time.monotonic() + 3
        while metrics1.get(key, 0) <= metrics0.get(key, 0) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            metrics1 = await ac.fetch_metrics(server.http_url)
        assert metrics1.get(key, 0) > metrics0.get(key, 0), (metrics0.get(key), metrics1.get(key))
        print("chorus_media_peers_failed_total %s -> %s" % (metrics0.get(key), metrics1.get(key)))

        # The room goes on: pub2's audio still reaches the subscriber.
        def audio_packets():
            return ac.received_by_kind(sub.recv)["audio"]
        before = audio_packets()
        await asyncio.sleep(1.0)
        after = audio_packets()
        assert after > before + 20, "pub2's audio stopped: %d -> %d" % (before, after)
        print("pub2's audio still flows to the subscriber (%d packets in 1 s)" % (after - before))
        failed = False
    finally:
        for p in parts:
            await p.close()
        for c in clients:
            await c.close()
        await ac.stop_server(server, failed)


if __name__ == "__main__":
    ac.run_main(run)  # exits non-zero on any failure
    print("media consent: ok")
