#!/usr/bin/python3
"""aiortc media through Chorus: one publisher (Opus tone + VP8 pattern) and
one subscriber in a live room; media must really flow and decode.

    /usr/bin/python3 tests/interop/test_aiortc_media.py [--window 5] [--verbose]
    /usr/bin/python3 tests/interop/test_aiortc_media.py --selftest   (no server)

Run by scripts/test.sh. Exits non-zero on failure.
The build directory comes from CHORUS_BUILD_DIR (default /work/main/build).

Checks:
- publish: the answer maps each of our mids to a track id of the right kind;
  every server candidate is on 127.0.0.1 ([media] interfaces).
- subscribe 'all': the server's offer maps m-lines to the publisher's two
  tracks; the first video frame is decoded within 5 s of `subscribe`.
- over a window (default 5 s) after the subscriber flows, per kind, the
  subscriber receives >= 90 % of the RTP packets the publisher sent in the
  same window, and keeps decoding frames at about the source rate.
"""
import argparse
import asyncio
import logging
import sys
import time

import aiortc_client as ac

FIRST_FRAME_TIMEOUT_S = 5.0
MIN_RATIO = 0.9


async def run(args):
    server = await ac.start_server(dev=True, media_interfaces="127.0.0.1", fake=args.fake)
    min_ratio = ac.FAKE_MIN_RATIO if args.fake else MIN_RATIO
    clients = []
    participants = []
    failed = True
    try:
        admin = await ac.new_client(server.ws_url, "admin")
        clients.append(admin)
        room = "aiortc-media"
        created = await admin.request("room.create", {"room": room, "kind": "live"})
        assert created == {"room": room, "kind": "live"}, created

        pub = ac.Participant(await ac.new_client(server.ws_url, "publisher"))
        clients.append(pub.client)
        participants.append(pub)
        await pub.join(room, "alice", "host")
        tone = ac.ToneTrack(440.0)
        video = ac.PatternVideoTrack(320, 240, 30)
        result = await pub.publish([tone, video])
        print("publish: tracks %s" % result["tracks"])
        check_publish_result(pub, result)
        check_loopback_candidates(pub.publisher, "publisher")
        await pub.wait_state("publisher", ("connected",), 5.0)

        sub = ac.Participant(await ac.new_client(server.ws_url, "subscriber"))
        clients.append(sub.client)
        participants.append(sub)
        joined = await sub.join(room, "bob", "audience")
        joined_tracks = {t["track"] for t in joined["tracks"]}
        published = {t["track"] for t in result["tracks"]}
        assert published <= joined_tracks, "join result tracks %s lack %s" % (joined_tracks, published)

        t_subscribe = time.monotonic()
        assert await sub.subscribe("all") == {}
        try:
            first = await sub.wait_first_video_frame(FIRST_FRAME_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise AssertionError("no video frame decoded within %.0f s of subscribe: %s"
                                 % (FIRST_FRAME_TIMEOUT_S, sub.describe()))
        print("first decoded video frame %.0f ms after subscribe (subscriber connected at %s ms)"
              % ((first - t_subscribe) * 1000, ms_since(sub.state_reached_at("subscriber", "connected"),
                                                        t_subscribe)))
        check_subscriber_offer(sub, pub, result)
        check_loopback_candidates(sub.subscriber, "subscriber")
        assert not sub.errors, sub.errors

        # The audio decoder may start a little after video; give both a moment
        # to settle before the measured window so it measures steady state.
        await asyncio.sleep(0.5)
        frames0 = {k: sub.recv.frames(k) for k in ("audio", "video")}
        flow = await ac.measure_flow(pub.publisher.pc, sub.recv, args.window)
        frames1 = {k: sub.recv.frames(k) for k in ("audio", "video")}
        print("over %.1f s: %s" % (args.window, ac.format_flow(flow)))
        decoded = {k: frames1[k] - frames0[k] for k in frames0}
        print("decoded in the window: video %d frames (%.1f fps), audio %d frames (%.1f /s)"
              % (decoded["video"], decoded["video"] / args.window,
                 decoded["audio"], decoded["audio"] / args.window))
        print("rtx packets received: %d" % sum(t.rtx_packets() for t in sub.recv.tracks))
        ac.check_flow(flow, min_ratio, "publisher -> subscriber")
        # Source rates are 30 fps and 50 frames/s; decoded frames prove the
        # payload survived the SFU, not only the packet count.
        assert decoded["video"] >= 30 * args.window * MIN_RATIO * 0.9, decoded
        assert decoded["audio"] >= 50 * args.window * MIN_RATIO * 0.9, decoded
        # aiortc offers goog-remb and not transport-wide CC: Chorus drives its
        # encoder with REMB (a loss-based estimate once a second), so the
        # encoder's target leaves aiortc's 500 kbps default.
        metrics = await ac.fetch_metrics(server.http_url)
        remb_sent = metrics.get(("chorus_media_remb_sent_total", ""), 0)
        video_sender = [s for s in pub.publisher.pc.getSenders() if s.track and s.track.kind == "video"][0]
        encoder = getattr(video_sender, "_RTCRtpSender__encoder", None)
        target = getattr(encoder, "target_bitrate", None)
        print("REMB: %d sent; the publisher's VP8 encoder target is now %s bps" % (remb_sent, target))
        assert remb_sent >= 3, "REMB sent %d times in %.0f s" % (remb_sent, args.window)
        assert target is not None and target != 500000, "encoder target %s: REMB not applied" % target
        assert pub.publisher.pc.connectionState == "connected", pub.describe()
        assert sub.subscriber.pc.connectionState == "connected", sub.describe()
        assert not sub.errors and not pub.errors, (sub.errors, pub.errors)

        await sub.leave()
        await pub.leave()
        assert await admin.request("room.destroy", {"room": room}) == {}
        print(pub.describe())
        print(sub.describe())
        print("aiortc media: ok")
        failed = False
    finally:
        for p in participants:
            await p.close()
        for c in clients:
            await c.close()
        await ac.stop_server(server, failed)


def ms_since(t, t0):
    return "%.0f" % ((t - t0) * 1000) if t is not None else "?"


def check_publish_result(pub, result):
    tracks = result.get("tracks")
    assert isinstance(tracks, list) and len(tracks) == 2, "publish result tracks: %r" % tracks
    local = {tr.mid: tr.sender.track.kind for tr in pub.publisher.pc.getTransceivers()}
    for t in tracks:
        assert isinstance(t.get("track"), str) and t["track"], t
        assert t.get("mid") in local, "track %s names mid %r; ours are %s" % (t, t.get("mid"), local)
        assert t.get("kind") == local[t["mid"]], "track %s: kind should be %s" % (t, local[t["mid"]])
    assert len({t["track"] for t in tracks}) == 2, "track ids not unique: %s" % tracks
    answer = pub.publisher.pc.remoteDescription.sdp
    for line in ac.sdp_m_lines(answer):
        assert not line.split()[1] == "0", "answer rejected an m-line: %s" % line


def check_loopback_candidates(side, what):
    cands = side.server_candidates
    assert cands, "%s: the server gave no candidates (SDP or trickle)" % what
    others = [c for c in cands if c["ip"] != "127.0.0.1"]
    assert not others, "%s: candidates off loopback: %s" % (what, others)
    print("%s: %d server candidates (%s), end-of-candidates %s" % (
        what, len(cands), ", ".join(sorted({"%s/%s" % (c["protocol"], c["type"]) for c in cands})),
        "seen" if side.end_of_candidates else "not seen"))


def check_subscriber_offer(sub, pub, publish_result):
    assert sub.offers, "no offer notification"
    offer = sub.offers[-1]
    assert offer.get("participant") == sub.id, offer.get("participant")
    assert isinstance(offer.get("version"), int), offer.get("version")
    mapped = {t["track"]: t for t in offer.get("tracks", [])}
    for t in publish_result["tracks"]:
        got = mapped.get(t["track"])
        assert got is not None, "offer does not carry track %s: %s" % (t["track"], offer.get("tracks"))
        assert got.get("participant") == pub.id and got.get("kind") == t["kind"], got
    labelled = {t.chorus_track for t in sub.recv.tracks}
    missing = {t["track"] for t in publish_result["tracks"]} - labelled
    assert not missing, "no receiver for tracks %s (receivers: %s)" % (
        missing, [(t.mid, t.kind, t.chorus_track) for t in sub.recv.tracks])


def main():
    parser = argparse.ArgumentParser(description="aiortc publisher -> Chorus -> aiortc subscriber")
    parser.add_argument("--window", type=float, default=5.0, help="measurement window, seconds")
    parser.add_argument("--selftest", action="store_true", help="aiortc <-> aiortc directly, no server")
    parser.add_argument("--fake", action="store_true",
                        help="against fake_chorus.py (aiortc stand-in) to check this script, not Chorus")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    if args.selftest:
        ac.run_main(ac._selftest_main)
    else:
        ac.run_main(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
