"""berth-router: switches on kept-alive connections, drains, WebSocket through a switch."""
import base64
import os
import socket
import threading
import time

from router_harness import route, ws_recv, ws_send


def test_switch_in_the_middle_of_a_keepalive_connection(router_factory, backends):
    v1 = backends("v1", "busybox")
    v2 = backends("v2")
    r = router_factory()
    r.put_table([route("app.example.com", v1.addr)], 1)
    c = r.conn()
    c.request("GET", "/", headers={"Host": "app.example.com"})
    resp = c.getresponse()
    assert (resp.status, resp.read()) == (200, b"v1")
    sock = c.sock
    r.put_table([route("app.example.com", v2.addr)], 2)
    for _ in range(3):
        c.request("GET", "/", headers={"Host": "app.example.com"})
        resp = c.getresponse()
        assert (resp.status, resp.read()) == (200, b"v2")
    assert c.sock is sock, "the client connection was not kept"
    c.close()
    ups = r.upstreams()
    assert ups[("app.example.com", v1.addr)]["state"] == "drained"
    assert ups[("app.example.com", v2.addr)]["state"] == "active"
    assert ups[("app.example.com", v2.addr)]["total"] == 3


def test_slow_request_drains_to_completion_after_removal(router_factory, backends):
    v1 = backends("v1")
    v2 = backends("v2")
    r = router_factory()
    r.put_table([route("app.example.com", v1.addr, drain_ms=10000)], 1)
    result = {}

    def slow():
        result["r"] = r.get("app.example.com", "/slow?ms=1500")[:2]

    t = threading.Thread(target=slow)
    t.start()
    end = time.time() + 5
    while r.upstreams()[("app.example.com", v1.addr)]["in_flight"] != 1:
        assert time.time() < end
        time.sleep(0.02)
    t0 = time.time()
    r.put_table([route("app.example.com", v2.addr, drain_ms=10000)], 2)
    # the switch is immediate, new requests go to v2 at once
    assert r.get("app.example.com")[:2] == (200, b"v2")
    assert time.time() - t0 < 0.5
    ups = r.upstreams()
    assert ups[("app.example.com", v1.addr)]["state"] == "draining"
    assert ups[("app.example.com", v1.addr)]["in_flight"] == 1
    t.join(10)
    assert result["r"] == (200, b"v1")
    u = r.upstreams()[("app.example.com", v1.addr)]
    assert (u["state"], u["in_flight"], u["errors"]) == ("drained", 0, 0)


def test_drain_timeout_cuts_with_504(router_factory, backends):
    v1 = backends("v1")
    v2 = backends("v2")
    r = router_factory()
    r.put_table([route("app.example.com", v1.addr, drain_ms=300)], 1)
    result = {}

    def slow():
        result["r"] = r.get("app.example.com", "/slow?ms=4000")[:2]

    t = threading.Thread(target=slow)
    t.start()
    end = time.time() + 5
    while r.upstreams()[("app.example.com", v1.addr)]["in_flight"] != 1:
        assert time.time() < end
        time.sleep(0.02)
    t0 = time.time()
    r.put_table([route("app.example.com", v2.addr)], 2)
    t.join(10)
    assert result["r"][0] == 504
    assert time.time() - t0 < 2.0
    u = r.upstreams()[("app.example.com", v1.addr)]
    assert (u["state"], u["in_flight"], u["errors"]) == ("drained", 0, 1)


def ws_connect(port, host):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        ch = s.recv(1)
        assert ch, head
        head += ch
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def test_websocket_through_a_switch(router_factory, backends):
    v1 = backends("v1")
    v2 = backends("v2")
    r = router_factory()
    r.put_table([route("ws.example.com", v1.addr, drain_ms=10000)], 1)
    old = ws_connect(r.port, "ws.example.com")
    ws_send(old, "hello")
    assert ws_recv(old) == (1, b"v1:hello")
    r.put_table([route("ws.example.com", v2.addr, drain_ms=10000)], 2)
    # the open tunnel stays on v1 while it drains; a new one goes to v2
    ws_send(old, "again")
    assert ws_recv(old) == (1, b"v1:again")
    new = ws_connect(r.port, "ws.example.com")
    ws_send(new, "hi")
    assert ws_recv(new) == (1, b"v2:hi")
    big = "x" * 200000
    ws_send(new, big)
    assert ws_recv(new) == (1, ("v2:" + big).encode())
    assert r.upstreams()[("ws.example.com", v1.addr)]["state"] == "draining"
    ws_send(old, b"", opcode=8)
    assert ws_recv(old)[0] == 8
    old.close()
    new.close()
    end = time.time() + 5
    while r.upstreams()[("ws.example.com", v1.addr)]["state"] != "drained":
        assert time.time() < end
        time.sleep(0.05)


def test_concurrent_switches_lose_no_request(router_factory, backends):
    v1 = backends("v1", "busybox")
    v2 = backends("v2", "busybox")
    r = router_factory()
    r.put_table([route("app.example.com", v1.addr)], 1)
    stop = threading.Event()
    bad = []
    counts = {b"v1": 0, b"v2": 0}

    def client():
        # Whatever ends a client early (a reset, a timeout) is a lost request:
        # recorded, never a thread that dies unseen.
        try:
            c = r.conn()
            while not stop.is_set():
                c.request("GET", "/", headers={"Host": "app.example.com"})
                resp = c.getresponse()
                body = resp.read()
                if resp.status != 200 or body not in counts:
                    bad.append((resp.status, body))
                else:
                    counts[body] += 1
            c.close()
        except Exception as e:  # noqa: BLE001 (any failure is the finding)
            bad.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for gen in range(2, 22):
        r.put_table([route("app.example.com", (v1 if gen % 2 else v2).addr)], gen)
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(10)
    assert not [t for t in threads if t.is_alive()], "a client hung"
    assert not bad, bad[:5]
    assert counts[b"v1"] > 0 and counts[b"v2"] > 0


def test_upstream_connections_are_pooled_while_fresh(router_factory, backends):
    b = backends("pool")
    r = router_factory(threads=1)
    r.put_table([route("p.example.com", b.addr)], 1)
    for _ in range(5):
        assert r.get("p.example.com")[:2] == (200, b"pool")
    assert len(set(b.ports)) == 1, b.ports
    time.sleep(2.5)
    # idle past 2 s: not reused, a new connection is made
    assert r.get("p.example.com")[:2] == (200, b"pool")
    assert len(set(b.ports)) == 2 and b.ports[-1] != b.ports[0], b.ports
