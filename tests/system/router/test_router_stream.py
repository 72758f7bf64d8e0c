"""berth-router: streaming both ways, without buffering whole bodies."""
import hashlib
import json
import os
import socket
import time

from router_harness import route


def test_streamed_response_arrives_chunk_by_chunk(router_factory, backends):
    b = backends("llm")
    r = router_factory()
    r.put_table([route("s.example.com", b.addr)], 1)
    s = socket.create_connection(("127.0.0.1", r.port), timeout=10)
    t0 = time.time()
    s.sendall(b"GET /stream?n=4&gap=700 HTTP/1.1\r\nHost: s.example.com\r\n\r\n")
    got = b""
    arrivals = []
    while b"0\r\n\r\n" not in got:
        chunk = s.recv(65536)
        assert chunk
        got += chunk
        for i in range(4):
            if f"llm:{i}".encode() in got and len(arrivals) == i:
                arrivals.append(time.time() - t0)
    s.close()
    assert got.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding: chunked" in got.lower()
    assert len(arrivals) == 4
    # each token reached the client before the backend produced the next one
    for i, at in enumerate(arrivals):
        assert i * 0.7 - 0.05 <= at < i * 0.7 + 0.5, arrivals


def test_large_bodies_both_ways(router_factory, backends, tmpdir_router):
    b = backends("echo")
    bb = backends("files", "busybox")
    big = os.urandom(8 * 1024 * 1024)
    with open(os.path.join(bb.dir, "big.bin"), "wb") as f:
        f.write(big)
    r = router_factory()
    r.put_table([route("e.example.com", b.addr), route("f.example.com", bb.addr)], 1)
    # Content-Length upload
    c = r.conn(30)
    c.request("POST", "/echo", body=big, headers={"Host": "e.example.com"})
    resp = c.getresponse()
    out = json.loads(resp.read())
    assert out["len"] == len(big) and out["sha256"] == hashlib.sha256(big).hexdigest()

    # chunked upload, on the same connection
    def gen():
        for i in range(0, len(big), 100000):
            yield big[i:i + 100000]

    c.request("POST", "/echo", body=gen(), headers={"Host": "e.example.com"},
              encode_chunked=True)
    resp = c.getresponse()
    out = json.loads(resp.read())
    assert out["len"] == len(big) and out["sha256"] == hashlib.sha256(big).hexdigest()
    c.close()
    # large download
    st, body, _ = r.get("f.example.com", "/big.bin", timeout=30)
    assert st == 200 and hashlib.sha256(body).digest() == hashlib.sha256(big).digest()


def test_pipelined_requests_answered_in_order(router_factory, backends):
    b = backends("p")
    r = router_factory()
    r.put_table([route("p.example.com", b.addr)], 1)
    s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
    s.sendall(b"GET /a HTTP/1.1\r\nHost: p.example.com\r\n\r\n"
              b"GET /b HTTP/1.1\r\nHost: nope.example.com\r\n\r\n"
              b"GET /c HTTP/1.1\r\nHost: p.example.com\r\nConnection: close\r\n\r\n")
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    assert got.count(b"HTTP/1.1 200") == 2 and got.count(b"HTTP/1.1 404") == 1
    assert got.index(b"HTTP/1.1 404") > got.index(b"HTTP/1.1 200")
    assert b.paths() == ["/a", "/c"]


def test_head_and_no_content(router_factory, backends):
    b = backends("h", "busybox")
    r = router_factory()
    r.put_table([route("h.example.com", b.addr)], 1)
    c = r.conn()
    c.request("HEAD", "/", headers={"Host": "h.example.com"})
    resp = c.getresponse()
    assert resp.status == 200 and resp.read() == b""
    c.request("GET", "/", headers={"Host": "h.example.com"})
    resp = c.getresponse()
    assert (resp.status, resp.read()) == (200, b"h")
    c.close()


def test_half_closed_client_gets_its_answer(router_factory, backends):
    b = backends("half")
    r = router_factory()
    r.put_table([route("h.example.com", b.addr)], 1)
    s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
    s.sendall(b"GET /slow?ms=300 HTTP/1.1\r\nHost: h.example.com\r\n\r\n")
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    assert got.startswith(b"HTTP/1.1 200") and got.endswith(b"half"), got
    assert b"connection: close" in got.lower()


def test_http10_client_gets_a_decoded_body(router_factory, backends):
    b = backends("d")
    r = router_factory()
    r.put_table([route("d.example.com", b.addr)], 1)
    s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
    s.sendall(b"GET /stream?n=3&gap=10 HTTP/1.0\r\nHost: d.example.com\r\n\r\n")
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    head, body = got.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding" not in head.lower()
    assert b"connection: close" in head.lower()
    assert body == b"d:0\nd:1\nd:2\n"


def test_local_answers_to_head_have_no_body(router_factory, backends):
    b = backends("h", "busybox")
    r = router_factory()
    r.put_table([route("h.example.com", b.addr), route("d.example.com", mode="down")], 1)
    c = r.conn()
    for host, status in (("nope.example.com", 404), ("d.example.com", 503),
                         ("h.example.com", 200)):
        c.request("HEAD", "/", headers={"Host": host})
        resp = c.getresponse()
        assert (resp.status, resp.read()) == (status, b"")
    # the connection is still in step
    c.request("GET", "/", headers={"Host": "h.example.com"})
    resp = c.getresponse()
    assert (resp.status, resp.read()) == (200, b"h")
    c.close()
