"""Helpers for the `berth` CLI's system tests: a berthd on free loopback
ports with a private state directory (stopped by PID), and `berth` run with a
clean environment (its own HOME, so no user config file leaks in)."""
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import berth_helpers  # noqa: E402  (tests/system/berth_helpers.py)
import suite_checks  # noqa: E402  (tests/system/suite_checks.py)
from berth_helpers import free_port, git, make_source  # noqa: E402,F401

BUILD = os.environ.get("BERTH_BUILD", os.path.abspath("build-asan"))
RELEASE = os.environ.get("BERTH_RELEASE_BUILD", os.path.abspath("build"))

DIGEST = "sha256:6288f5265d130be6426ba98cc0ea5b5cb7c0d2ec44a9c57829004dc8ee7f0e52"
# A digest-pinned image on a registry address nobody listens on: a reconciler
# fails its pull at once.
IMAGE = "127.0.0.1:9/berth-cli-test/app@" + DIGEST


def image_at(addr):
    """The test image on the registry at addr ("127.0.0.1:port")."""
    return f"{addr}/berth-cli-test/app@{DIGEST}"



def kill_router(state_dir):
    """Stops the berth-router that berthd started detached for state_dir (it
    outlives berthd on purpose) and waits for its exit; scans its log."""
    suite_checks.stop_router(state_dir)

class SilentRegistry:
    """A port that takes connections and never answers: a pull from it
    waits, so deploys and updates stay pending while a test looks at them."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)  # never accepted: the kernel holds them
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


def config_text(secrets=(), port=8000, image=IMAGE):
    """A valid tinfoil-config.yml."""
    return berth_helpers.app_config(image, secrets, port)


def api(method, url, token, body=None):
    """Calls the API directly: (status, decoded JSON or None)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as r:
            status, out = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, out = e.code, e.read()
    try:
        return status, (json.loads(out) if out.strip() else None)
    except ValueError:  # a text answer (logs)
        return status, out.decode()


class Berthd(berth_helpers.LocalBerthd):
    """berthd on free loopback ports with a private state dir (stopped by
    PID), and its API called directly."""

    def __init__(self, binary, state_dir):
        super().__init__(binary, state_dir)
        self.token = self.admin_token

    def api(self, method, path, body=None, token=None):
        return api(method, self.url + "/api/v1" + path, token or self.token, body)


class Berth:
    """Runs the `berth` binary against one berthd."""

    def __init__(self, binary, home, url=None, token=None):
        self.binary = binary
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
                    "LANG": "C.UTF-8"}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                self.env[k] = os.environ[k]
        if url:
            self.env["BERTH_URL"] = url
        if token:
            self.env["BERTH_TOKEN"] = token

    def __call__(self, *args, input=None, env=None, timeout=60, wrapper=()):
        e = dict(self.env)
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return subprocess.run(list(wrapper) + [self.binary] + list(args), input=input,
                              capture_output=True, text=True, env=e, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def json(self, *args, **kw):
        r = self(*args, **kw)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)
