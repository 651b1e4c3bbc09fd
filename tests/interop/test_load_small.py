#!/usr/bin/python3
"""chorus-load against a real Chorus: a small live room, and bad input.

    /usr/bin/python3 tests/interop/test_load_small.py [--verbose]

Run by scripts/test.sh. Exits non-zero on failure. The build directory
comes from CHORUS_BUILD_DIR (default /work/main/build); chorus-load is
<builddir>/tools/chorus-load/chorus-load.

Checks:
1. live, 2 hosts (Opus + VP8) and 20 viewers for 10 s on a --dev server:
   exit 0, status "ok", every viewer joined and connected, loss < 1 %,
   audio and video packets received by every viewer, every packet
   authenticated (no SRTP failure), hosts sent sender reports.
2. an admin token on a server that requires one: a short run passes.
3. bad input, each with a non-zero exit, a clear message on stderr and a
   JSON report on stdout:
   - unreachable server (nothing listens on the port): exit 3;
   - wrong token (signed with another secret): exit 3, "authentication";
   - server stopped mid-run (SIGTERM): exit 1, a partial report whose
     viewers had joined, and the reason in its errors.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

import chorus_server

RUN_TIMEOUT_S = 90


def load_binary():
    return os.path.join(chorus_server.BUILD_DIR, "tools", "chorus-load", "chorus-load")


def run_load(args, timeout_s=RUN_TIMEOUT_S):
    """Runs chorus-load to the end: (exit code, report dict or None, stderr)."""
    cmd = [load_binary(), "--quiet"] + args
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    return r.returncode, parse_report(r.stdout, r.stderr), r.stderr


def parse_report(stdout, stderr):
    try:
        return json.loads(stdout)
    except ValueError:
        raise AssertionError("chorus-load printed no JSON report:\nstdout: %s\nstderr: %s"
                             % (stdout[-2000:], stderr[-2000:]))


def check(cond, message, report=None, stderr=""):
    if not cond:
        detail = ""
        if report is not None:
            detail += "\nreport: %s" % json.dumps(
                {k: report.get(k) for k in ("status", "errors", "participants", "failures")},
                indent=1)[:4000]
        if stderr:
            detail += "\nstderr: %s" % stderr[-2000:]
        raise AssertionError(message + detail)


def test_small_live(verbose):
    with chorus_server.ChorusServer(dev=True) as server:
        code, report, err = run_load(["--url", server.ws_url, "--scenario", "live", "--hosts", "2",
                                      "--viewers", "20", "--duration", "10"])
        if verbose:
            print(json.dumps(report, indent=1))
        check(code == 0, "exit %d, expected 0" % code, report, err)
        check(report["status"] == "ok", "status %s" % report["status"], report, err)
        hosts = report["roles"]["host"]
        viewers = report["roles"]["viewer"]
        check(hosts["count"] == 2 and hosts["joined"] == 2 and hosts["connected"] == 2,
              "hosts: %s" % {k: hosts[k] for k in ("count", "joined", "connected")}, report)
        check(viewers["count"] == 20 and viewers["joined"] == 20 and viewers["failed"] == 0,
              "viewers joined %d/20, failed %d" % (viewers["joined"], viewers["failed"]), report)
        check(viewers["connected"] == 20, "viewers connected %d/20" % viewers["connected"], report)
        rx = viewers["received"]
        for kind in ("audio", "video"):
            k = rx[kind]
            check(k["packets"] > 0, "viewers received no %s packet" % kind, report)
            check(k["participants_without"] == 0,
                  "%d viewers received no %s" % (k["participants_without"], kind), report)
            # Two hosts: every viewer receives one stream of each kind per host.
            check(k["streams"] == 40, "%s streams %d, expected 40" % (kind, k["streams"]), report)
            check(k["loss_pct"] < 1.0, "%s loss %.2f %%" % (kind, k["loss_pct"]), report)
        check(rx["loss_pct"] < 1.0, "loss %.2f %%" % rx["loss_pct"], report)
        check(rx["srtp_failed"] == 0, "%d packets failed SRTP authentication" % rx["srtp_failed"],
              report)
        check(rx["unknown"] == 0, "%d packets of unknown streams" % rx["unknown"], report)
        check(rx["video"]["keyframes"] >= 20, "video keyframes %d" % rx["video"]["keyframes"], report)
        check(viewers["first_keyframe_ms"]["n"] == 20, "not every viewer got a keyframe", report)
        sent = hosts["sent"]
        check(sent["audio"]["packets"] > 0 and sent["video"]["packets"] > 0, "hosts sent %s" % sent,
              report)
        check(sent["sender_reports"] > 0, "hosts sent no RTCP sender report", report)
        check(sent["send_failed"] == 0, "hosts: %d sends failed" % sent["send_failed"], report)
        # Over 10 s the viewers received a sizeable share of what 2 hosts sent
        # times 20 (they join a moment after the hosts start).
        fanout = rx["packets"] / float(sent["audio"]["packets"] + sent["video"]["packets"])
        check(fanout > 14, "viewers received %.1f x what hosts sent, expected ~20" % fanout, report)
        print("small live: ok: %d packets, loss %.2f %%, jitter audio %.2f ms video %.2f ms, "
              "first keyframe p50 %.0f ms, join p95 %.0f ms, CPU load %s / chorus %s"
              % (rx["packets"], rx["loss_pct"], rx["audio"]["jitter_ms_mean"],
                 rx["video"]["jitter_ms_mean"], viewers["first_keyframe_ms"]["p50"],
                 viewers["join_ms"]["p95"], cpu_text(report, "chorus_load"),
                 cpu_text(report, "server")))


def cpu_text(report, who):
    c = (report.get("cpu") or {}).get(who)
    return "%.0f %%" % c["percent"] if c else "?"


def test_admin_token():
    with chorus_server.ChorusServer(dev=False) as server:
        token = chorus_server.mint_token(admin=True)
        code, report, err = run_load(["--url", server.ws_url, "--token", token, "--hosts", "1",
                                      "--viewers", "2", "--duration", "2"])
        check(code == 0, "admin token run: exit %d" % code, report, err)
        check(report["roles"]["viewer"]["connected"] == 2, "admin token run: viewers", report)
        # Without a token the same server refuses to let us create the room.
        code, report, err = run_load(["--url", server.ws_url, "--hosts", "1", "--viewers", "1",
                                      "--duration", "1"])
        check(code == 3, "no token: exit %d, expected 3" % code, report, err)
        check("token" in err, "no token: stderr does not mention the token", report, err)
        print("admin token: ok; without one: exit 3: %s" % report["errors"][0])


def test_unreachable():
    port = chorus_server.free_port()  # closed again: nothing listens there
    t0 = time.monotonic()
    code, report, err = run_load(["--url", "ws://127.0.0.1:%d/ws" % port, "--duration", "5"],
                                 timeout_s=30)
    check(code == 3, "unreachable: exit %d, expected 3" % code, report, err)
    check(report["status"] == "not started", "unreachable: status %s" % report["status"], report)
    check(any("cannot connect" in e for e in report["errors"]), "unreachable: errors", report)
    check("cannot connect" in err and str(port) in err, "unreachable: stderr", report, err)
    check(report["participants"]["joined"] == 0, "unreachable: joined", report)
    check(time.monotonic() - t0 < 15, "unreachable: took %.1f s" % (time.monotonic() - t0))
    print("unreachable: ok: %s" % report["errors"][0])


def test_wrong_token():
    with chorus_server.ChorusServer(dev=False) as server:
        bad = chorus_server.mint_token(admin=True, secret="another-secret-0123456789abcdef")
        code, report, err = run_load(["--url", server.ws_url, "--token", bad, "--duration", "5"],
                                     timeout_s=30)
        check(code == 3, "wrong token: exit %d, expected 3" % code, report, err)
        check(report["status"] == "not started", "wrong token: status", report)
        check("authentication refused" in err and "-32001" in err, "wrong token: stderr", report, err)
        print("wrong token: ok: %s" % report["errors"][0])


def test_server_stops_mid_run():
    server = chorus_server.ChorusServer(dev=True).start()
    proc = None
    try:
        cmd = [load_binary(), "--url", server.ws_url, "--hosts", "1", "--viewers", "5",
               "--duration", "60"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Wait until the progress line says everyone is connected.
        deadline = time.monotonic() + 30
        seen = ""
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
            if "steady" in line and "connected 6 " in line:
                break
        check("connected 6 " in seen, "mid-run: never saw everyone connected:\n%s" % seen[-2000:])
        t_stop = time.monotonic()
        server.signal_stop()
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - t_stop
        report = parse_report(out, err)
        code = proc.returncode
        check(code == 1, "mid-run: exit %d, expected 1" % code, report, err)
        check(report["status"] == "failed", "mid-run: status %s" % report["status"], report)
        check(any("server" in e for e in report["errors"]), "mid-run: errors %s" % report["errors"],
              report)
        check("server" in err, "mid-run: no message on stderr", report, err)
        viewers = report["roles"]["viewer"]
        check(viewers["joined"] == 5, "mid-run: partial report has %d viewers joined"
              % viewers["joined"], report)
        check(viewers["received"]["packets"] > 0, "mid-run: partial report has no packets", report)
        check(took < 15, "mid-run: chorus-load took %.1f s to stop" % took)
        print("server stops mid-run: ok (exit %d after %.1f s): %s" % (code, took, report["errors"][0]))
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        server.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if not os.access(load_binary(), os.X_OK):
        print("%s not found: build first (libopus-dev and libvpx-dev are needed)" % load_binary())
        return 1
    tests = [
        ("small live", lambda: test_small_live(args.verbose)),
        ("admin token", test_admin_token),
        ("unreachable", test_unreachable),
        ("wrong token", test_wrong_token),
        ("server stops mid-run", test_server_stops_mid_run),
    ]
    failed = []
    for name, fn in tests:
        try:
            fn()
        except Exception as exc:  # report every case, then fail
            print("FAILED %s: %s" % (name, exc))
            failed.append(name)
    if failed:
        print("test_load_small: FAILED: %s" % ", ".join(failed))
        return 1
    print("test_load_small: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
