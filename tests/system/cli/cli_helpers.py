"""Helpers for the `berth` CLI's system tests: a berthd on free loopback
ports with a private state directory (stopped by PID), and `berth` run with a
clean environment (its own HOME, so no user config file leaks in)."""
import json
import os
import tempfile
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import suite_checks  # noqa: E402  (tests/system/suite_checks.py)

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
    text = ("cvm-version: 0.7.5\n"
            "containers:\n"
            "  - name: app\n"
            f"    image: \"{image}\"\n")
    if secrets:
        text += "    secrets:\n" + "".join(f"      - {s}\n" for s in secrets)
    return text + f"shim:\n  upstream-port: {port}\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


class Berthd:
    def __init__(self, binary, state_dir):
        self.port = free_port()
        self.router_port = free_port()
        self.state_dir = state_dir
        suite_checks.track_berthd(state_dir)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(state_dir, "berthd.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "--state-dir", state_dir, "--listen", f"127.0.0.1:{self.port}",
             "--router-listen", f"127.0.0.1:{self.router_port}",
             "--source-root", tempfile.gettempdir()],
            stdout=self.log, stderr=subprocess.STDOUT,
                                     env=suite_checks.daemon_env())
        deadline = time.monotonic() + 30
        token_path = os.path.join(state_dir, "admin-token")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("berthd exited: " + self.read_log())
            try:
                req = urllib.request.urlopen(self.url + "/healthz", timeout=1)
                req.close()
                if os.path.exists(token_path):
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("berthd did not answer in 30 s: " + self.read_log())
        with open(token_path) as f:
            self.token = f.read().strip()

    def api(self, method, path, body=None, token=None):
        return api(method, self.url + "/api/v1" + path, token or self.token, body)

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        suite_checks.scan_log(self.log_path)
        kill_router(self.state_dir)
        suite_checks.remove_run_dir(self.state_dir)
        return self.proc.returncode


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


def git(repo, *args, date=None):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    if date is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"{date} +0000"
    subprocess.run(["git", "-C", repo] + list(args), check=True, env=env,
                   capture_output=True, timeout=30)


def make_source(path, tags):
    """A git repository at path with one commit and tag per (tag, config
    text), oldest first, a minute apart."""
    os.makedirs(path)
    git(path, "init", "-q", "-b", "main")
    for i, (tag, text) in enumerate(tags):
        with open(os.path.join(path, "tinfoil-config.yml"), "w") as f:
            f.write(text)
        git(path, "add", "tinfoil-config.yml")
        git(path, "commit", "-q", "-m", tag, date=1700000000 + 60 * i)
        git(path, "tag", tag)
    return path
