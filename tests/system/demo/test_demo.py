"""`make demo` end to end: scripts/demo.sh on free ports and a temp state dir
deploys the sample app, the update command it prints moves it to v2, and SIGINT
(Ctrl-C) leaves nothing running: no process of the demo, no enclave, no
network namespace, no bridge."""
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import suite_checks  # noqa: E402  (tests/system/suite_checks.py)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BUILD = os.environ.get("BERTH_BUILD", os.path.join(ROOT, "build-asan"))
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="berthd needs root")


def get(url, host=None, token=None, timeout=5):
    req = urllib.request.Request(url)
    if host:
        req.add_header("Host", host)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with OPENER.open(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def processes_mentioning(text):
    """Pids whose command line mentions text (the demo's dir is in every one
    of its processes' arguments)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd and "pytest" not in cmd:
            found.append((int(pid), cmd))
    return found


class Demo:
    """scripts/demo.sh in the background, its output collected by a thread."""

    def __init__(self, workdir):
        n = os.getpid() % 200 + 20
        self.dir = os.path.join(workdir, "demo")
        self.work = workdir
        self.bridge = f"bdemo{n}"
        env = suite_checks.daemon_env(dict(
            os.environ, DEMO_PORTS="free", DEMO_DIR=self.dir, DEMO_BRIDGE=self.bridge,
            DEMO_SUBNET=f"10.91.{n}.0/24", DEMO_LOG_LEVEL="debug"))
        suite_checks.track_berthd(os.path.join(self.dir, "berthd"), self.bridge)
        # SIGINT as a terminal's Ctrl-C would deliver it: not ignored, even
        # when pytest itself runs with SIGINT ignored.
        self.proc = subprocess.Popen(
            ["sh", os.path.join(ROOT, "scripts/demo.sh"), BUILD], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.lines = []
        self.t = threading.Thread(target=self.read, daemon=True)
        self.t.start()

    def read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def output(self):
        return "".join(self.lines)

    def wait_for(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.output())
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in the demo's output:\n{self.output()}\n"
                             f"{self.berthd_log()}")

    def berthd_log(self):
        try:
            with open(os.path.join(self.dir, "berthd", "berthd.log")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""


@pytest.fixture
def demos():
    """Starts demos, all in one temp dir; stops any the test left running."""
    work = tempfile.mkdtemp(prefix="berth-demo-")
    started = []

    def start():
        started.append(Demo(work))
        return started[-1]

    yield start
    for d in started:
        if d.proc.poll() is None:  # the test failed before its SIGINT
            d.proc.send_signal(signal.SIGINT)
            try:
                d.proc.wait(60)
            except subprocess.TimeoutExpired:
                d.proc.kill()
        d.t.join(10)
        state = os.path.join(d.dir, "berthd")
        suite_checks.scan_log(os.path.join(state, "berthd.log"))
        suite_checks.scan_log(os.path.join(state, "router.log"))
        suite_checks.remove_run_dir(state)
    suite_checks.track("dir", work)
    suite_checks.remove_state_dir(work)


def stop_and_check(demo, state, router_port, dashboard):
    """SIGINT (Ctrl-C) to the demo, then nothing of it is left."""
    router_pid = int(open(os.path.join(state, "router.pid")).read())
    run = "/run/berth/" + hashlib.sha256(state.encode()).hexdigest()[:12]
    assert os.listdir(os.path.join(run, "netns"))
    demo.proc.send_signal(signal.SIGINT)
    assert demo.proc.wait(45) == 0, demo.output()
    demo.t.join(10)
    assert "stopped; nothing of it runs" in demo.output()
    assert processes_mentioning(demo.dir) == []
    assert not os.path.exists(f"/proc/{router_pid}")
    # berthd's run directory goes with it: its namespaces, runc roots and
    # the bundles' tmpfs.
    assert not os.path.exists(run), os.listdir(run)
    assert run not in open("/proc/mounts").read()
    out = subprocess.run(["runc", "--root", os.path.join(run, "oci"), "list", "-q"],
                         capture_output=True, text=True, timeout=10)
    assert out.stdout.strip() == "", out.stdout
    assert os.listdir(os.path.join(state, "enclaves")) == []
    assert subprocess.run(["ip", "link", "show", demo.bridge],
                          capture_output=True).returncode != 0
    for port in (router_port, int(dashboard.rsplit(":", 1)[1])):
        with pytest.raises(OSError):
            get(f"http://127.0.0.1:{port}/", timeout=2)


def test_demo_deploys_updates_cleans_up_and_runs_again(demos):
    demo = demos()
    m = demo.wait_for(r"the app +(http://web\.default\.containers\.localhost:(\d+)/)", 45)
    app, router_port = m.group(1), int(m.group(2))
    dashboard = demo.wait_for(r"dashboard +(http://127\.0\.0\.1:\d+)/", 1).group(1)
    token = demo.wait_for(r"admin token +(\S+)", 1).group(1)
    state = os.path.join(demo.dir, "berthd")
    assert open(os.path.join(state, "admin-token")).read().strip() == token

    # The app answers at its printed URL (curl resolves *.localhost to
    # loopback) and through the router with the Host header.
    out = subprocess.run(["curl", "-sS", "--noproxy", "*", app], capture_output=True,
                         text=True, timeout=10)
    assert out.stdout == "hello v1\n", out.stderr
    assert get(f"http://127.0.0.1:{router_port}/", host=f"web.default.containers.localhost") \
        == (200, "hello v1\n")
    status, body = get(dashboard + "/")
    assert status == 200 and "<html" in body.lower()

    # The printed curl command updates web to v2, blue-green.
    text = demo.output()
    cmd = text[text.index("or with curl:") + len("or with curl:"):text.index("Ctrl-C")]
    out = subprocess.run(["sh", "-c", cmd.strip()], capture_output=True, text=True, timeout=10)
    assert json.loads(out.stdout)["kind"] == "tag", out.stdout + out.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if get(f"http://127.0.0.1:{router_port}/",
               host="web.default.containers.localhost") == (200, "hello v2\n"):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("web never answered hello v2\n" + demo.berthd_log())
    status, body = get(dashboard + "/api/v1/containers/web", token=token)
    assert status == 200 and json.loads(body)["status"] == "running"

    # Ctrl-C: everything goes.
    stop_and_check(demo, state, router_port, dashboard)

    # A second run in the same dir: same token, v1 again, stops as cleanly.
    again = demos()
    m = again.wait_for(r"the app +http://web\.default\.containers\.localhost:(\d+)/", 45)
    router_port = int(m.group(1))
    dashboard = again.wait_for(r"dashboard +(http://127\.0\.0\.1:\d+)/", 1).group(1)
    assert again.wait_for(r"admin token +(\S+)", 1).group(1) == token
    assert get(f"http://127.0.0.1:{router_port}/", host="web.default.containers.localhost") \
        == (200, "hello v1\n")
    stop_and_check(again, state, router_port, dashboard)
