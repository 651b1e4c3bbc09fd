#!/usr/bin/python3
"""The README's run command: scripts/run.sh starts the server in dev mode,
/health answers, the demo page and web/chorus.js are served, the signaling
acceptance flow (rooms, two token connections, an admin proxy with three
participants, notifications, messages) passes against it, and SIGTERM stops
it with exit 0.

    CHORUS_BUILD_DIR=build /usr/bin/python3 tests/interop/test_run_script.py
"""
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chorus_server as cs  # noqa: E402
import test_signaling as ts  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def http_get(url, timeout_s=2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


class RunScriptServer:
    """What test_signaling's flows need of a server: its URLs."""

    def __init__(self, port):
        self.port = port
        self.ws_url = "ws://127.0.0.1:%d/ws" % port
        self.http_url = "http://127.0.0.1:%d" % port


def main():
    port = cs.free_port()
    with open(os.path.join(ROOT, "config", "chorus.conf")) as f:
        text = f.read()
    # The shipped config with another port and the tests' secret.
    text = re.sub(r"(?m)^port = 7070$", "port = %d" % port, text)
    text = re.sub(r"(?m)^api_secret = .*$", "api_secret = %s" % cs.SECRET, text)
    text = re.sub(r"(?m)^directory =$", "directory = %s" % os.path.join(cs.BUILD_DIR, "plugins"), text)
    tmp = tempfile.TemporaryDirectory(prefix="chorus-run-")
    config = os.path.join(tmp.name, "chorus.conf")
    with open(config, "w") as f:
        f.write(text)
    log_path = os.path.join(tmp.name, "run.log")
    env = dict(os.environ, CHORUS_CONFIG=config, CHORUS_BUILD_DIR=cs.BUILD_DIR)
    log = open(log_path, "wb")
    proc = subprocess.Popen(["bash", os.path.join(ROOT, "scripts", "run.sh")], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    failed = False
    try:
        deadline = time.monotonic() + 120  # setup may check packages first
        while True:
            assert proc.poll() is None, "run.sh exited early:\n" + open(log_path).read()[-3000:]
            try:
                status, _, body = http_get("http://127.0.0.1:%d/health" % port, 0.5)
                if status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "no /health answer:\n" + open(log_path).read()[-3000:]
            time.sleep(0.1)
        assert body == b'{"status":"ok"}', body
        print("PASS health")

        out = open(log_path).read()
        for line in ("ws://127.0.0.1:%d/ws" % port, "http://127.0.0.1:%d/health" % port,
                     "http://127.0.0.1:%d/" % port):
            assert line in out, "run.sh did not print %s:\n%s" % (line, out)
        print("PASS urls printed")

        status, ctype, body = http_get("http://127.0.0.1:%d/" % port)
        assert status == 200 and ctype.startswith("text/html") and b"demo.js" in body, (status, ctype)
        status, ctype, body = http_get("http://127.0.0.1:%d/chorus.js" % port)
        assert status == 200 and ctype.startswith("text/javascript") and b"export" in body, (status, ctype)
        for bad in ("/../README.md", "/%2e%2e/README.md", "/.hidden.js", "/nonexistent.html"):
            status, _, _ = http_get("http://127.0.0.1:%d%s" % (port, bad))
            assert status == 404, "%s: %d" % (bad, status)
        print("PASS demo page served")

        asyncio.run(ts.test_acceptance(RunScriptServer(port)))
        print("PASS acceptance flow against run.sh's server")
    except AssertionError as e:
        failed = True
        print("FAIL %s" % e)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            if rc != 0:
                failed = True
                print("FAIL exit code %d after SIGTERM" % rc)
            else:
                print("PASS SIGTERM: exit 0")
        log.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
