"""berth-router: the limits a hostile client meets, each a flag: connections
per client address (429) and in all (503), header fields (431), a stalled
request body (408)."""
import socket
import time

from router_harness import raw_exchange, route, status_of

H = b"Host: l.example.com\r\n"


def open_conn(r, src="127.0.0.1"):
    """A kept-alive connection that had one request answered: counted."""
    s = socket.create_connection(("127.0.0.1", r.port), timeout=5, source_address=(src, 0))
    s.sendall(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
    got = b""
    while not got.endswith(b"\r\n\r\nb"):
        chunk = s.recv(65536)
        assert chunk, got
        got += chunk
    assert status_of(got) == 200, got
    return s


def refused(r, src="127.0.0.1"):
    s = socket.create_connection(("127.0.0.1", r.port), timeout=5, source_address=(src, 0))
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except ConnectionResetError:
        pass
    s.close()
    return got


def test_connections_per_client_address(router_factory, backends):
    b = backends("b")
    r = router_factory(["--max-client-connections", "3", "--max-connections", "100"])
    r.put_table([route("l.example.com", b.addr)], 1)
    held = [open_conn(r) for _ in range(3)]
    got = refused(r)
    assert status_of(got) == 429, got
    assert b"Retry-After: 5\r\n" in got and b"Connection: close\r\n" in got
    assert got.endswith(b"too many connections from your address\n"), got
    # another address has its own share
    other = open_conn(r, "127.0.0.2")
    # a closed connection frees its place
    held.pop().close()
    end = time.time() + 5
    while True:
        try:
            held.append(open_conn(r))
            break
        except (AssertionError, OSError):
            assert time.time() < end
            time.sleep(0.05)
    assert status_of(refused(r)) == 429
    for s in held + [other]:
        s.close()


def test_connections_in_all(router_factory, backends):
    b = backends("b")
    r = router_factory(["--max-connections", "3", "--max-client-connections", "0"])
    r.put_table([route("l.example.com", b.addr)], 1)
    held = [open_conn(r), open_conn(r, "127.0.0.2"), open_conn(r, "127.0.0.3")]
    for src in ("127.0.0.1", "127.0.0.4"):
        got = refused(r, src)
        assert status_of(got) == 503, got
        assert b"Retry-After: 5\r\n" in got and got.endswith(b"too many connections\n"), got
    held.pop().close()
    end = time.time() + 5
    while True:
        try:
            held.append(open_conn(r, "127.0.0.4"))
            break
        except (AssertionError, OSError):
            assert time.time() < end
            time.sleep(0.05)
    for s in held:
        s.close()


def test_header_count(router_factory, backends):
    b = backends("b")
    r = router_factory(["--max-headers", "10"])
    r.put_table([route("l.example.com", b.addr)], 1)
    few = b"".join(b"X-H%d: v\r\n" % i for i in range(8))
    raw = raw_exchange(r.port, b"GET / HTTP/1.1\r\n" + H + few + b"Connection: close\r\n\r\n")
    assert status_of(raw) == 200, raw
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(10))
    raw = raw_exchange(r.port, b"GET / HTTP/1.1\r\n" + H + many + b"\r\n")
    assert status_of(raw) == 431, raw
    assert raw.endswith(b"too many header fields\n"), raw


def test_body_timeout(router_factory, backends):
    b = backends("b")
    r = router_factory(["--body-timeout", "500", "--idle-timeout", "20000"])
    r.put_table([route("l.example.com", b.addr)], 1)
    for body in (b"Content-Length: 10\r\n\r\nabc", b"Transfer-Encoding: chunked\r\n\r\n5\r\nab"):
        t0 = time.time()
        raw = raw_exchange(r.port, b"POST /echo HTTP/1.1\r\n" + H + body, timeout=10)
        assert status_of(raw) == 408, raw
        assert 0.4 < time.time() - t0 < 5
    # a slow body that keeps coming is not cut
    s = socket.create_connection(("127.0.0.1", r.port), timeout=10)
    s.sendall(b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nConnection: close\r\n\r\n")
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


def test_bad_limit_flags_are_refused(router_factory, tmpdir_router):
    import subprocess
    from router_harness import ROUTER
    for args in (["--max-headers", "0"], ["--max-connections", "-1"],
                 ["--max-client-connections", "x"], ["--body-timeout", "soon"]):
        p = subprocess.run([ROUTER, "--listen", "127.0.0.1:0"] + args, capture_output=True,
                           timeout=10)
        assert p.returncode != 0, args
