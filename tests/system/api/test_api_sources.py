"""The API never waits on a source: git hosts that accept a connection and
never answer, local paths outside --source-root, file:// URLs, and berthd
stopping while fetches hang. Real berthd, real berth-fetch processes, real
sockets on loopback."""
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import os
import signal
import socket
import subprocess
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


class SlowGitServer:
    """git's smart HTTP (git http-backend) for the repositories under root,
    each answer delayed by `delay` seconds: a slow but working git host."""

    def __init__(self, root, delay):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.serve(b"")

            def do_POST(self):
                self.serve(self.rfile.read(int(self.headers.get("Content-Length", 0))))

            def serve(self, body):
                time.sleep(server.delay)
                path, _, query = self.path.partition("?")
                env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1",
                           PATH_INFO=path, QUERY_STRING=query,
                           REQUEST_METHOD=self.command,
                           CONTENT_TYPE=self.headers.get("Content-Type", ""),
                           CONTENT_LENGTH=str(len(body)))
                out = subprocess.run(["git", "http-backend"], input=body, env=env,
                                     capture_output=True, timeout=30).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.split(b"\r\n"):
                    k, _, v = line.decode().partition(":")
                    if k.lower() == "status":
                        status = int(v.split()[0])
                    elif k:
                        headers.append((k, v.strip()))
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.delay = delay
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/{name}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_for(api, name, pred, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        st, c = api.get("/containers/" + name)
        if st == 200 and pred(c):
            return c
        assert time.monotonic() < deadline, (st, c)
        time.sleep(0.2)


def test_stuck_git_host_never_holds_the_api(api_state_dir, silent):
    d = start(api_state_dir, "--fetch-connect-timeout", "12")
    try:
        api = d.api()
        good = make_source(os.path.join(api_state_dir, "good"), [("v1", config_text())])
        # Eight creates from a host that never answers: each answers within a
        # second with the container, deploying while its source is fetched.
        for i in range(8):
            r, took = timed_post(api, {"name": f"stuck{i}", "repo": silent.url(), "tag": "v1"})
            assert took < 1.5, took
            assert r[0] == 202, r
            assert r[1]["status"] == "deploying"
            assert r[1]["status_detail"] == "fetching " + silent.url()
            assert r[1]["deployment"] is None
        # Meanwhile another source fetches as usual: its deployment is there.
        r, took = timed_post(api, {"name": "good", "repo": good, "tag": "v1"})
        assert r[0] == 202 and r[1]["deployment"]["tag"] == "v1", r
        assert took < 1.5, took
        # A pending container is deleted as any other.
        assert api.call("DELETE", "/containers/stuck7")[0] == 202
        # The stuck fetch (one, joined by all eight) ends at its deadline:
        # each container fails with a sentence naming the host and the setting.
        why = f"127.0.0.1:{silent.port} did not answer within 12 s (--fetch-connect-timeout)"
        for i in range(7):
            c = wait_for(api, f"stuck{i}", lambda c: c["status"] == "failed", timeout=30)
            assert why in c["status_detail"], c
            assert c["deployment"] is None
        assert api.get("/containers/stuck7")[0] == 404
        assert 1 <= silent.accepted <= 3, silent.accepted
        # Updates of a container without a deployment: 409 but for a retry,
        # which fetches again.
        assert_error(api.post("/containers/stuck0/updates", {"kind": "promote"}), 409,
                     "no_deployment", "retry it")
        r = api.post("/containers/stuck0/updates", {"kind": "retry"})
        assert r[0] == 202 and r[1]["status"] == "deploying", r
        c = wait_for(api, "stuck0", lambda c: c["status"] == "failed", timeout=30)
        assert why in c["status_detail"], c
        # The tag list of the good container answers at once from berth's
        # copy, with its age.
        st, headers, _ = http("GET", d.url + "/api/v1/containers/good/tags", token=api.token)
        assert st == 200
        assert headers.get("Age") is not None
    finally:
        assert d.stop() == 0, d.read_log()


def test_slow_source_deploys_after_the_answer_and_after_a_restart(api_state_dir):
    """A source slower than the API's wait: the create answers at once and the
    container gets its deployment when the fetch ends; a bad tag fails it
    with the reason; a berthd killed meanwhile resolves it when it starts."""
    root = os.path.join(api_state_dir, "git")
    make_source(os.path.join(root, "app"), [("v1", config_text()), ("bad", "containers: [\n"),
                                            ("v2", config_text(port=8001))])
    slow = SlowGitServer(root, delay=1.5)
    d = start(api_state_dir)
    try:
        api = d.api()
        r, took = timed_post(api, {"name": "app", "repo": slow.url("app"), "tag": "v1",
                                   "env": {"MODE": "x"}})
        assert took < 1.5 and r[0] == 202 and r[1]["deployment"] is None, (r, took)
        c = wait_for(api, "app", lambda c: c["deployment"] is not None)
        assert c["deployment"]["tag"] == "v1"
        assert c["source"]["repo"] == slow.url("app")
        assert c["env"] == {"MODE": "x"}
        # An update to a tag berth's copy has answers at once from the copy;
        # a tag it lacks, while the host is slow, 504 (slower now: the
        # updates below join the fetch this create starts, well before its
        # end).
        slow.delay = 3
        r, took = timed_post(api, {"name": "bad", "repo": slow.url("app"), "tag": "bad"})
        assert r[0] == 202, r
        r = api.post("/containers/app/updates", {"kind": "tag", "tag": "v9"})
        assert_error(r, 504, "source_timeout", "v9 is not in berth's copy")
        t0 = time.monotonic()
        r = api.post("/containers/app/updates", {"kind": "tag", "tag": "v2"})
        assert r[0] == 202 and r[1]["kind"] == "tag", r
        assert time.monotonic() - t0 < 1.5
        st, headers, body = http("GET", d.url + "/api/v1/containers/app/tags", token=api.token)
        assert st == 200 and [t["tag"] for t in json.loads(body)][:1] == ["v2"], body
        c = wait_for(api, "bad", lambda c: c["status"] == "failed")
        assert ("tinfoil-config.yml@bad:1:13: invalid YAML: unclosed flow sequence"
                in c["status_detail"]), c
        # Once that fetch ended (a create joining it late could be answered
        # by it within the API's wait), a new one is slower than the wait.
        slow.delay = 1.5
        r, _ = timed_post(api, {"name": "bad2", "repo": slow.url("app"), "tag": "bad"})
        assert r[0] == 202, r
        # After bad2's fetch: joined late, its end could come within the wait.
        wait_for(api, "bad2", lambda c: c["status"] == "failed")
        r, _ = timed_post(api, {"name": "late", "repo": slow.url("app"), "tag": "v1"})
        assert r[0] == 202 and r[1]["deployment"] is None, r
        d.proc.kill()
        d.proc.wait()
        d.stop()
        d = start(api_state_dir)
        api = d.api()
        c = wait_for(api, "late", lambda c: c["deployment"] is not None)
        assert c["deployment"]["tag"] == "v1"
        assert "fetching its source again" in d.read_log()
    finally:
        assert d.stop() == 0, d.read_log()
        slow.close()


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
    try:
        api = d.api()
        for i in range(4):
            r, _ = timed_post(api, {"name": f"s{i}", "repo": silent.url(f"r{i}"), "tag": "v1"})
            assert r[0] == 202, r
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
    finally:
        d.stop()


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
