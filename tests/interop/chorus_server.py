"""Start and stop a Chorus daemon for tests, and mint tokens.

    import chorus_server
    server = chorus_server.start_server(dev=False)      # waits for /health
    token = chorus_server.mint_token(identity="alice", room="stage")
    ... server.ws_url, server.http_url, server.port ...
    server.stop()                                       # SIGTERM, asserts exit 0

The build directory comes from env CHORUS_BUILD_DIR (default /work/main/build).
Every server gets a temporary config: a free port from the OS, api_secret
set (SECRET below), 2 workers, plugins from <builddir>/plugins, media on
127.0.0.1. `config` adds or overrides keys: {"signaling": {"max_frame_bytes": 1024}}.
Run with /usr/bin/python3 (Debian's websockets/aiortc live there).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BUILD_DIR = os.environ.get("CHORUS_BUILD_DIR", "/work/main/build")
SECRET = "interop-test-secret-0123456789abcdef"


def chorus_binary(build_dir=None):
    return os.path.join(build_dir or BUILD_DIR, "src", "chorus")


def free_port():
    """A TCP port the OS just handed out on 127.0.0.1 (closed again)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render_config(groups):
    lines = []
    for group, keys in groups.items():
        lines.append("[%s]" % group)
        for key, value in keys.items():
            if value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            lines.append("%s = %s" % (key, value))
        lines.append("")
    return "\n".join(lines)


class ChorusServer:
    def __init__(self, dev=False, config=None, build_dir=None, secret=SECRET,
                 media_interfaces="127.0.0.1", log_level="info"):
        self.build_dir = build_dir or BUILD_DIR
        self.dev = dev
        self.secret = secret
        self.port = free_port()
        groups = {
            "signaling": {"listen_address": "127.0.0.1", "port": self.port},
            "auth": {"api_secret": secret},
            "workers": {"count": 2},
            "plugins": {"directory": os.path.join(self.build_dir, "plugins")},
            "media": {"interfaces": media_interfaces},
            "log": {"level": log_level},
        }
        for group, keys in (config or {}).items():
            groups.setdefault(group, {}).update(keys)
        self.tmpdir = tempfile.TemporaryDirectory(prefix="chorus-test-")
        self.config_path = os.path.join(self.tmpdir.name, "chorus.conf")
        with open(self.config_path, "w") as f:
            f.write(render_config(groups))
        self.log_path = os.path.join(self.tmpdir.name, "chorus.log")
        self.proc = None
        self._log = None

    @property
    def ws_url(self):
        return "ws://127.0.0.1:%d/ws" % self.port

    @property
    def http_url(self):
        return "http://127.0.0.1:%d" % self.port

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def start(self, timeout_s=10.0):
        binary = chorus_binary(self.build_dir)
        if not os.access(binary, os.X_OK):
            raise RuntimeError("%s not found: build first or set CHORUS_BUILD_DIR" % binary)
        args = [binary, "--config", self.config_path]
        if self.dev:
            args.append("--dev")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("chorus exited with %d at start:\n%s"
                                   % (self.proc.returncode, self.log_text()[-4000:]))
            try:
                status, _, body = self.http_get("/health", timeout_s=0.5)
                if status == 200 and json.loads(body) == {"status": "ok"}:
                    return self
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("chorus did not answer /health within %.0f s:\n%s"
                           % (timeout_s, self.log_text()[-4000:]))

    def http_get(self, path, timeout_s=5.0):
        """(status, headers, body text); HTTP errors are returned, not raised."""
        try:
            with urllib.request.urlopen(self.http_url + path, timeout=timeout_s) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def signal_stop(self):
        """Sends SIGTERM without waiting (to observe the shutdown from clients)."""
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout_s=10.0):
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("chorus did not exit within %.0f s of SIGTERM:\n%s"
                                 % (timeout_s, self.log_text()[-4000:]))

    def stop(self, timeout_s=10.0, expect_code=0, check_log=True):
        """SIGTERM, wait, and assert the exit code (0: clean shutdown) and,
        with @check_log, that the log has no sanitizer report or CRITICAL."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.signal_stop()
        code = self.wait(timeout_s)
        self._close()
        if expect_code is not None:
            assert code == expect_code, ("chorus exited with %d, expected %d:\n%s"
                                         % (code, expect_code, self.log_text()[-4000:]))
        if check_log:
            self.assert_clean_log()
        return code

    # Sanitizer reports and GLib criticals (programming errors) fail a test
    # even when the daemon survived them.
    BAD_LOG_MARKERS = ("runtime error:", "AddressSanitizer", "LeakSanitizer", "CRITICAL")

    def assert_clean_log(self):
        text = self.log_text()
        bad = [line for line in text.splitlines()
               if any(marker in line for marker in self.BAD_LOG_MARKERS)]
        assert not bad, "chorus log has errors:\n%s" % "\n".join(bad[:20])

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def _close(self):
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            self.kill()
        return False


def start_server(dev=False, media_interfaces="127.0.0.1", config=None, build_dir=None,
                 log_level="info"):
    """Starts a server and waits for /health; call .stop() when done."""
    return ChorusServer(dev=dev, config=config, build_dir=build_dir,
                        media_interfaces=media_interfaces, log_level=log_level).start()


def mint_token(identity=None, room=None, role=None, admin=False, ttl_s=3600, secret=SECRET,
               build_dir=None):
    """A token from `chorus token --secret` (the real minting code)."""
    args = [chorus_binary(build_dir), "token", "--secret", secret, "--ttl", str(ttl_s)]
    if identity is not None:
        args += ["--identity", identity]
    if room is not None:
        args += ["--room", room]
    if role is not None:
        args += ["--role", role]
    if admin:
        args.append("--admin")
    out = subprocess.run(args, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def run_check_config(config_text, build_dir=None):
    """Runs `chorus --check-config` on @config_text: (exit code, output, path)."""
    fd, path = tempfile.mkstemp(prefix="chorus-bad-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(config_text)
    try:
        r = subprocess.run([chorus_binary(build_dir), "--check-config", "--config", path],
                           capture_output=True, text=True, timeout=10)
        return r.returncode, r.stdout + r.stderr, path
    finally:
        os.unlink(path)


if __name__ == "__main__":
    # Manual use: start a dev server and wait for Ctrl-C.
    s = start_server(dev="--dev" in sys.argv)
    print("chorus on", s.ws_url, "log", s.log_path, flush=True)
    try:
        s.proc.wait()
    except KeyboardInterrupt:
        s.stop()
