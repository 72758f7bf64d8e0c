"""berth-router: 502/504 paths, retries, timeouts, graceful stop, valgrind."""
import os
import signal
import socket
import threading
import time

import pytest

from router_harness import BUILD, free_port, raw_exchange, route, status_of, suite_checks


class Closer:
    """A TCP server that reads a request and closes without answering, or
    answers reply; with drops, it closes that many connections after sending
    cut (nothing by default) first, then answers."""

    def __init__(self, reply=b"", drops=0, cut=b""):
        self.drops = drops
        self.cut = cut
        self.accepted = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.reply = reply
        self.stopped = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                c.settimeout(2)
                c.recv(65536)
                if self.reply and self.accepted > self.drops:
                    c.sendall(self.reply)
                elif self.cut:
                    c.sendall(self.cut)
            except OSError:
                pass
            c.close()

    def stop(self):
        self.stopped = True
        self.sock.close()


def test_refused_upstream_gives_502(router_factory):
    dead = f"127.0.0.1:{free_port()}"
    r = router_factory()
    r.put_table([route("e.example.com", dead)], 1)
    st, _, _ = r.get("e.example.com")
    assert st == 502
    u = r.upstreams()[("e.example.com", dead)]
    assert (u["total"], u["errors"], u["in_flight"]) == (1, 1, 0)


def test_refused_upstream_is_retried_on_another(router_factory, backends):
    ok = backends("ok", "busybox")
    dead = f"127.0.0.1:{free_port()}"
    r = router_factory()
    r.put_table([route("e.example.com", dead, ok.addr)], 1)
    for _ in range(10):
        assert r.get("e.example.com")[:2] == (200, b"ok")
    assert r.upstreams()[("e.example.com", dead)]["errors"] >= 1


class Blackhole:
    """A listener whose accept queue is full: connecting to it hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.fillers = []
        for _ in range(4):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(self.sock.getsockname())
            self.fillers.append(f)
        time.sleep(0.1)

    def stop(self):
        for f in self.fillers:
            f.close()
        self.sock.close()


def test_connect_timeout_tries_the_next_upstream_then_504(router_factory, backends):
    ok = backends("ok", "busybox")
    hole = Blackhole()
    r = router_factory(["--connect-timeout", "300"])
    r.put_table([route("e.example.com", hole.addr, ok.addr), route("h.example.com", hole.addr)], 1)
    for _ in range(4):
        assert r.get("e.example.com")[:2] == (200, b"ok")
    t0 = time.time()
    assert r.get("h.example.com")[0] == 504
    assert 0.25 < time.time() - t0 < 3
    assert r.upstreams()[("h.example.com", hole.addr)]["errors"] == 1
    hole.stop()


def test_upstream_closing_without_answer_gives_502(router_factory):
    c = Closer()
    g = Closer(b"this is not http\r\n\r\n")
    r = router_factory()
    r.put_table([route("e.example.com", c.addr), route("g.example.com", g.addr)], 1)
    assert r.get("e.example.com")[0] == 502
    assert r.get("g.example.com")[0] == 502
    c.stop()
    g.stop()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"


def Flaky(drops):
    """Closes its first drops connections without a byte, then answers."""
    return Closer(OK, drops=drops)


def test_empty_answers_are_retried_for_idempotent_requests_only(router_factory):
    r = router_factory()
    # Three drops, then an answer: a GET gets it, on the fourth connection,
    # after pauses of 10, 20 and 40 ms (an upstream whose accept queue is full
    # closes again a resend made at once).
    f = Flaky(3)
    r.put_table([route("f.example.com", f.addr)], 1)
    t0 = time.monotonic()
    st, body, _ = r.get("f.example.com")
    assert (st, body, f.accepted) == (200, b"ok\n", 4)
    assert time.monotonic() - t0 >= 0.07
    f.stop()
    # Four drops are more than the router resends: 502, after four tries.
    f = Flaky(4)
    r.put_table([route("f.example.com", f.addr)], 2)
    assert r.get("f.example.com")[0] == 502
    assert f.accepted == 4
    f.stop()
    # A POST is not resent: the upstream may have acted on it.
    f = Flaky(1)
    r.put_table([route("f.example.com", f.addr)], 3)
    raw = raw_exchange(r.port, b"POST / HTTP/1.1\r\nHost: f.example.com\r\n"
                       b"Content-Length: 2\r\nConnection: close\r\n\r\nhi")
    assert status_of(raw) == 502 and f.accepted == 1
    f.stop()


def test_small_answer_cut_midway_is_resent(router_factory):
    """An upstream killed in the middle of a small answer (its head out, its
    body not): the router has held the head back, so a GET is sent again and
    its client sees one whole answer; a POST gets a 502, never half of one."""
    r = router_factory()
    cut = OK[:-2]
    f = Closer(OK, drops=2, cut=cut)
    r.put_table([route("c.example.com", f.addr)], 1)
    assert r.get("c.example.com")[:2] == (200, b"ok\n") and f.accepted == 3
    f.stop()
    f = Closer(OK, drops=1, cut=cut)
    r.put_table([route("c.example.com", f.addr)], 2)
    raw = raw_exchange(r.port, b"POST / HTTP/1.1\r\nHost: c.example.com\r\n"
                       b"Content-Length: 2\r\nConnection: close\r\n\r\nhi")
    assert status_of(raw) == 502 and f.accepted == 1, raw
    f.stop()
    # An answer larger than the router holds back streams as it comes: cut
    # midway, the client is cut too (its head was out).
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 50000
    f = Closer(OK, drops=1, cut=big)
    r.put_table([route("c.example.com", f.addr)], 3)
    raw = raw_exchange(r.port, b"GET / HTTP/1.1\r\nHost: c.example.com\r\n\r\n")
    assert status_of(raw) == 200 and len(raw) < 100000 and f.accepted == 1
    f.stop()


def test_response_timeout_gives_504(router_factory, backends):
    b = backends("slow")
    r = router_factory(["--response-timeout", "500"])
    r.put_table([route("e.example.com", b.addr)], 1)
    t0 = time.time()
    st, _, _ = r.get("e.example.com", "/slow?ms=3000")
    assert st == 504 and time.time() - t0 < 2.5
    assert r.get("e.example.com", "/slow?ms=10")[:2] == (200, b"slow")


def test_upstream_stalling_mid_response_is_cut(router_factory, backends):
    b = backends("stall")
    r = router_factory(["--response-timeout", "500"])
    r.put_table([route("e.example.com", b.addr)], 1)
    t0 = time.time()
    raw = raw_exchange(r.port, b"GET /stall?ms=5000&size=100000 HTTP/1.1\r\n"
                       b"Host: e.example.com\r\n\r\n")
    elapsed = time.time() - t0
    assert status_of(raw) == 200 and raw.endswith(b"0123456789"), raw
    assert elapsed < 4, elapsed
    u = r.upstreams()[("e.example.com", b.addr)]
    assert (u["in_flight"], u["errors"]) == (0, 1), u
    # A small answer is held back until whole: stalled, it is a clean 504.
    raw = raw_exchange(r.port, b"GET /stall?ms=5000 HTTP/1.1\r\nHost: e.example.com\r\n\r\n")
    assert status_of(raw) == 504, raw


def test_slow_upload_is_not_a_response_timeout(router_factory, backends):
    b = backends("up")
    r = router_factory(["--response-timeout", "500", "--idle-timeout", "3000"])
    r.put_table([route("e.example.com", b.addr)], 1)
    s = socket.create_connection(("127.0.0.1", r.port), timeout=10)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: e.example.com\r\nContent-Length: 5\r\n"
              b"Connection: close\r\n\r\n")
    for ch in b"hello":
        time.sleep(0.3)
        s.sendall(bytes([ch]))
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    assert status_of(got) == 200 and b'"len": 5' in got, got


def test_header_and_idle_timeouts(router_factory, backends):
    b = backends("b")
    r = router_factory(["--header-timeout", "400", "--idle-timeout", "600"])
    r.put_table([route("e.example.com", b.addr)], 1)
    t0 = time.time()
    raw = raw_exchange(r.port, b"GET / HTTP/1.1\r\nHost: e.exa", timeout=5)
    assert status_of(raw) == 408 and time.time() - t0 < 3
    # an idle keep-alive connection is closed without a response
    s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: e.example.com\r\n\r\n")
    first = b""
    while not first.endswith(b"\r\n\r\nb"):
        chunk = s.recv(65536)
        assert chunk, first
        first += chunk
    assert status_of(first) == 200
    t0 = time.time()
    assert s.recv(65536) == b""
    assert 0.4 < time.time() - t0 < 3
    s.close()


def test_sigterm_finishes_in_flight_requests(router_factory, backends):
    b = backends("b")
    r = router_factory()
    r.put_table([route("e.example.com", b.addr)], 1)
    idle = socket.create_connection(("127.0.0.1", r.port), timeout=5)
    result = {}

    def slow():
        result["r"] = r.get("e.example.com", "/slow?ms=1500")[:2]

    t = threading.Thread(target=slow)
    t.start()
    end = time.time() + 5
    while r.metric("berth_router_in_flight") != 1:
        assert time.time() < end
        time.sleep(0.02)
    r.proc.send_signal(signal.SIGTERM)
    # the idle connection is closed, no new connection is accepted
    assert idle.recv(100) == b""
    time.sleep(0.2)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", r.port), timeout=1).recv(1)
    t.join(10)
    assert result["r"] == (200, b"b")
    r.proc.wait(10)
    assert r.proc.returncode == 0


def test_runs_clean_under_valgrind(router_factory, backends):
    """The release build under valgrind: requests, a switch, a hold, a drain."""
    release = os.path.join(os.path.dirname(os.path.abspath(BUILD)), "build", "berth-router")
    suite_checks.require("valgrind", release)
    v1 = backends("v1")
    v2 = backends("v2")
    r = router_factory(["--route", f"a.example.com={v1.addr}"], valgrind=True, binary=release)
    assert r.get("a.example.com", timeout=30)[:2] == (200, b"v1")
    assert r.get("b.example.com", timeout=30)[0] == 404
    c = r.conn(30)
    c.request("GET", "/stream?n=2&gap=10", headers={"Host": "a.example.com"})
    assert c.getresponse().read() == b"v1:0\nv1:1\n"
    r.put_table([route("a.example.com", v2.addr)], 1)
    c.request("GET", "/", headers={"Host": "a.example.com"})
    assert c.getresponse().read() == b"v2"
    c.close()
    r.put_table([route("a.example.com", mode="hold", hold_ms=300)], 2)
    assert r.get("a.example.com", timeout=30)[0] == 503
    r.stop(60)
