#!/usr/bin/python3
"""Captures real SDP from aiortc (Debian python3-aiortc) as fixtures for
tests/unit/test-sdp.c, and checks that aiortc accepts the SDP Chorus writes.
Normally run through capture.sh (loopback-only network namespace).

    /usr/bin/python3 capture_aiortc.py [OUT_DIR] [--answer-tool PATH] [--subscriber-offers DIR]

Writes into OUT_DIR (default tests/unit/data/sdp):
    aiortc-av-sendonly.sdp        audio + video, sendonly transceivers
With --answer-tool, Chorus's answer to that offer is applied to the offering
peer connection and checked. With --subscriber-offers DIR, every sequence
chorus-sub-SEQ-N.sdp in DIR is applied in order to one peer connection and
the answers written as aiortc-answer-SEQ-N.sdp.
"""
import asyncio
import os
import re
import subprocess
import sys

import aioice.ice

# aioice leaves loopback out of its host candidates; tests run on loopback only.
aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

# Subscriber sequences aiortc cannot take, and why.
SKIP_SEQUENCES = {"reject": "aiortc 1.4 fails the whole offer on a codec it lacks instead of rejecting the m-line"}


def new_pc():
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def capture_offer(answer_tool):
    pc = new_pc()
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
    # aiortc gathers every candidate before setLocalDescription returns.
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    problems = None
    if answer_tool:
        answer = subprocess.run([answer_tool], input=sdp.encode(), capture_output=True, check=True).stdout.decode()
        problems = []
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        except Exception as e:  # noqa: BLE001 - report whatever aiortc raises
            problems.append("setRemoteDescription: %r" % e)
        for t in pc.getTransceivers():
            if t.currentDirection != "sendonly":
                problems.append("mid %s: currentDirection %s" % (t.mid, t.currentDirection))
    await pc.close()
    return sdp, problems


async def answer_sequence(offers):
    pc = new_pc()
    answers = []
    try:
        for offer in offers:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            answers.append(pc.localDescription.sdp)
    except Exception as e:  # noqa: BLE001
        answers.append("ERROR %r" % e)
    await pc.close()
    return answers


def write(out_dir, name, sdp):
    with open(os.path.join(out_dir, name), "w", newline="") as f:
        f.write(sdp)
    print("wrote %s (%d bytes)" % (name, len(sdp)))


def subscriber_sequences(directory):
    sequences = {}
    for name in sorted(os.listdir(directory)):
        m = re.match(r"^chorus-sub-(.+)-(\d+)\.sdp$", name)
        if m:
            sequences.setdefault(m.group(1), {})[int(m.group(2))] = os.path.join(directory, name)
    return {seq: [files[n] for n in sorted(files)] for seq, files in sequences.items()}


def quiet_closed_transports(loop, context):
    # Closing a peer connection before ICE ran makes aiortc's background
    # connect task fail with "RTCIceTransport is closed": expected here.
    if "RTCIceTransport is closed" not in repr(context.get("exception")):
        loop.default_exception_handler(context)


async def main():
    asyncio.get_running_loop().set_exception_handler(quiet_closed_transports)
    out_dir = os.path.join(REPO_ROOT, "tests", "unit", "data", "sdp")
    answer_tool = None
    subscriber_dir = None
    args = sys.argv[1:]
    while args:
        arg = args.pop(0)
        if arg == "--answer-tool":
            answer_tool = args.pop(0)
        elif arg == "--subscriber-offers":
            subscriber_dir = args.pop(0)
        else:
            out_dir = os.path.abspath(arg)
    os.makedirs(out_dir, exist_ok=True)

    failed = False
    sdp, problems = await capture_offer(answer_tool)
    write(out_dir, "aiortc-av-sendonly.sdp", sdp)
    if problems is not None:
        print("  Chorus answer to aiortc offer: %s" % ("FAILED " + "; ".join(problems) if problems else "accepted"))
        failed = failed or bool(problems)
    if subscriber_dir:
        for seq, files in subscriber_sequences(subscriber_dir).items():
            if seq in SKIP_SEQUENCES:
                print("  subscriber %s: skipped (%s)" % (seq, SKIP_SEQUENCES[seq]))
                continue
            offers = []
            for path in files:
                with open(path, newline="") as f:
                    offers.append(f.read())
            for i, answer in enumerate(await answer_sequence(offers)):
                if answer.startswith("ERROR"):
                    print("  subscriber %s-%d: %s" % (seq, i + 1, answer))
                    failed = True
                else:
                    write(out_dir, "aiortc-answer-%s-%d.sdp" % (seq, i + 1), answer)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    asyncio.run(main())
