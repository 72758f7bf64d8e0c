"""The API never waits on a source: git hosts that accept a connection and
never answer, local paths outside --source-root, file:// URLs, and berthd
stopping while fetches hang. Real berthd, real berth-fetch processes, real
sockets on loopback."""
import os
import signal
import socket
import threading
import time

import pytest

from api_helpers import BUILD, Berthd, assert_error, config_text, http, make_source


class SilentServer:
    """Accepts every connection and never sends a byte; counts them."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.conns = []
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            self.conns.append(c)

    def url(self, name="app"):
        return f"http://127.0.0.1:{self.port}/{name}.git"

    def close(self):
        self.stopping = True
        self.thread.join()
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def silent():
    s = SilentServer()
    yield s
    s.close()


def start(state_dir, *args):
    return Berthd(os.path.join(BUILD, "berthd"), state_dir, args=args)


def timed_post(api, body):
    t0 = time.monotonic()
    r = api.post("/containers", body)
    return r, time.monotonic() - t0


def test_stuck_git_host_never_holds_the_api(api_state_dir, silent):
    d = start(api_state_dir, "--fetch-connect-timeout", "12")
    try:
        api = d.api()
        good = make_source(os.path.join(api_state_dir, "good"), [("v1", config_text())])
        # Eight creates from a host that never answers: each answers within a
        # second, 504 with a sentence; none makes a container.
        for i in range(8):
            r, took = timed_post(api, {"name": f"stuck{i}", "repo": silent.url(), "tag": "v1"})
            assert took < 1.5, took
            assert_error(r, 504, "source_timeout", f"127.0.0.1:{silent.port}",
                         "has not answered")
        assert api.get("/containers") == (200, [])
        # Meanwhile another source fetches and deploys as usual.
        r, took = timed_post(api, {"name": "good", "repo": good, "tag": "v1"})
        assert r[0] == 202, r
        assert took < 1.5, took
        # The stuck fetch (one for the eight requests) ends at its deadline
        # with a sentence naming the host and the setting; the next create
        # gets that sentence at once, as a 422.
        deadline = time.monotonic() + 20
        while True:
            r, took = timed_post(api, {"name": "stuck", "repo": silent.url(), "tag": "v1"})
            if r[0] != 504 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert_error(r, 422, "invalid_source", f"127.0.0.1:{silent.port} did not answer "
                     "within 12 s (--fetch-connect-timeout)")
        assert took < 1.5
        # Requests joined one fetch: the host saw a connection or two, not nine.
        assert 1 <= silent.accepted <= 3, silent.accepted
        # A tag update of a good container from the stuck host is not possible
        # (the repo is the container's), but its tag list answers at once from
        # berth's copy, with its age.
        st, headers, _ = http("GET", d.url + "/api/v1/containers/good/tags", token=api.token)
        assert st == 200
        assert headers.get("Age") is not None
    finally:
        assert d.stop() == 0, d.read_log()


def test_local_paths_only_under_the_source_roots(api_state_dir):
    root = os.path.join(api_state_dir, "root")
    os.makedirs(root)
    inside = make_source(os.path.join(root, "app"), [("v1", config_text())])
    outside = make_source(os.path.join(api_state_dir, "outside"), [("v1", config_text())])
    os.symlink(outside, os.path.join(root, "link"))
    d = Berthd(os.path.join(BUILD, "berthd"), api_state_dir, source_roots=[root])
    try:
        api = d.api()
        assert api.post("/containers", {"name": "in", "repo": inside, "tag": "v1"})[0] == 202
        # Outside: one sentence whether the path exists or not; a link out of
        # the root is outside; file:// is refused.
        m1 = assert_error(api.post("/containers", {"name": "a", "repo": outside, "tag": "v1"}),
                          422, "invalid_source", "must be under " + root)
        m2 = assert_error(api.post("/containers", {"name": "a", "repo": outside + "-missing",
                                                   "tag": "v1"}),
                          422, "invalid_source", "must be under " + root)
        assert m1.replace(outside, "X") == m2.replace(outside + "-missing", "X")
        assert_error(api.post("/containers", {"name": "a", "repo": os.path.join(root, "link"),
                                              "tag": "v1"}),
                     422, "invalid_source", "must be under")
        assert_error(api.post("/containers", {"name": "a", "repo": "file://" + inside,
                                              "tag": "v1"}),
                     422, "invalid_source", "file:// URLs are not accepted")
        assert [c["name"] for c in api.get("/containers")[1]] == ["in"]
    finally:
        assert d.stop() == 0, d.read_log()


def test_sigterm_with_fetches_hanging_exits_within_10s(api_state_dir, silent):
    d = start(api_state_dir, "--fetch-connect-timeout", "600", "--fetch-idle-timeout", "600")
    api = d.api()
    for i in range(4):
        r, _ = timed_post(api, {"name": f"s{i}", "repo": silent.url(f"r{i}"), "tag": "v1"})
        assert r[0] == 504, r
    deadline = time.monotonic() + 5
    while silent.accepted < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert silent.accepted >= 2
    t0 = time.monotonic()
    rc = d.stop(sig=signal.SIGTERM, timeout=20)
    took = time.monotonic() - t0
    assert rc == 0, d.read_log()
    assert took < 10, took
    # The fetch processes went with it.
    assert fetch_processes(silent.port) == []


def fetch_processes(port):
    """berth-fetch processes fetching from port, by /proc."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"berth-fetch") and any(
                (":%d/" % port).encode() in a for a in argv):
            found.append(int(pid))
    return found
