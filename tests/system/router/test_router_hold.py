"""berth-router: hold then release in order, hold timeout, down, refused
requests held for the next table."""
import json
import socket
import threading
import time

from router_harness import route


def wait_metric(r, name, value, timeout=5):
    end = time.time() + timeout
    while r.metric(name) != value:
        assert time.time() < end, f"{name} never reached {value}: {r.metric(name)}"
        time.sleep(0.02)


def test_hold_then_release_in_order(router_factory, backends):
    v1 = backends("v1")
    # v2 takes one connection at a time in accept order, so the order it logs
    # is the order the router sent the requests in
    v2 = backends("v2", "single")
    # one worker thread: the order of a hold queue is per thread
    r = router_factory(threads=1)
    r.put_table([route("app.example.com", v1.addr)], 1)
    assert r.get("app.example.com")[:2] == (200, b"v1")
    r.set_route("app.example.com", {"mode": "hold", "upstreams": [], "hold_timeout_ms": 20000})
    results = {}

    def req(i):
        results[i] = r.get("app.example.com", f"/?n={i}", timeout=30)[:2]

    threads = []
    for i in range(8):
        t = threading.Thread(target=req, args=(i,))
        t.start()
        threads.append(t)
        wait_metric(r, "berth_router_held", i + 1)
    time.sleep(0.3)
    assert not results, "a held request was answered"
    assert v2.paths() == []
    r.set_route("app.example.com", {"mode": "serve", "upstreams": [v2.addr]})
    for t in threads:
        t.join(10)
    assert results == {i: (200, b"v2") for i in range(8)}
    assert v2.paths() == [f"/?n={i}" for i in range(8)]
    assert r.metric("berth_router_held") == 0


def test_hold_timeout_gives_503_with_retry_after(router_factory, backends):
    v1 = backends("v1")
    r = router_factory()
    r.put_table([route("app.example.com", v1.addr, mode="hold", hold_ms=400)], 1)
    t0 = time.time()
    st, body, resp = r.get("app.example.com")
    elapsed = time.time() - t0
    assert st == 503
    assert resp.getheader("Retry-After") == "5"
    assert 0.35 < elapsed < 3
    assert v1.paths() == []


def test_hold_queue_is_bounded(router_factory, backends):
    v1 = backends("v1")
    r = router_factory(["--hold-queue", "2"], threads=1)
    r.put_table([route("app.example.com", v1.addr, mode="hold", hold_ms=3000)], 1)
    results = []
    threads = [threading.Thread(target=lambda: results.append(r.get("app.example.com")[0]))
               for _ in range(2)]
    for t in threads:
        t.start()
    wait_metric(r, "berth_router_held", 2)
    st, _, resp = r.get("app.example.com")
    assert st == 503 and resp.getheader("Retry-After")
    r.set_route("app.example.com", route("app.example.com", v1.addr))
    for t in threads:
        t.join(10)
    assert results == [200, 200]


def test_down_gives_503(router_factory, backends):
    v1 = backends("v1")
    r = router_factory()
    r.put_table([route("app.example.com", mode="down")], 1)
    st, _, resp = r.get("app.example.com")
    assert st == 503 and resp.getheader("Retry-After") == "5"
    # a kept-alive connection stays usable after a 503
    c = r.conn()
    c.request("GET", "/", headers={"Host": "app.example.com"})
    resp = c.getresponse()
    assert (resp.status, resp.getheader("Retry-After")) == (503, "5")
    assert resp.read()  # the body is read: the connection can carry the next request
    r.set_route("app.example.com", route("app.example.com", v1.addr))
    c.request("GET", "/", headers={"Host": "app.example.com"})
    resp = c.getresponse()
    assert (resp.status, resp.read()) == (200, b"v1")
    c.close()


def refused_addr():
    """An address nothing listens on: connections to it are refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    addr = f"127.0.0.1:{s.getsockname()[1]}"
    s.close()
    return addr


def test_refused_request_waits_for_the_next_table(router_factory, backends):
    """hold_refused (berthd's routes): every upstream refusing, the request
    waits as if held; the next table's upstream answers it. POST too: it
    reached no upstream."""
    v2 = backends("v2")
    r = router_factory(threads=1)
    dead = route("app.example.com", refused_addr(), hold_ms=20000)
    dead["hold_refused"] = True
    r.put_table([dead], 1)
    results = {}

    def req(method):
        c = r.conn(30)
        c.request(method, "/", body=b"x" if method == "POST" else None,
                  headers={"Host": "app.example.com"})
        resp = c.getresponse()
        results[method] = (resp.status, resp.read())
        c.close()

    threads = [threading.Thread(target=req, args=(m,)) for m in ("GET", "POST")]
    for i, t in enumerate(threads):
        t.start()
        wait_metric(r, "berth_router_held", i + 1)
    time.sleep(0.3)
    assert not results, "a refused request was answered"
    live = route("app.example.com", v2.addr)
    live["hold_refused"] = True
    r.put_table([live], 2)
    for t in threads:
        t.join(10)
    assert results["GET"] == (200, b"v2"), results
    # The POST's body went with it, whole.
    assert results["POST"][0] == 200 and json.loads(results["POST"][1])["name"] == "v2"
    assert json.loads(results["POST"][1])["len"] == 1, results
    assert r.metric("berth_router_held") == 0


def test_refused_request_gives_up_at_the_hold_timeout(router_factory):
    r = router_factory()
    dead = route("app.example.com", refused_addr(), hold_ms=400)
    dead["hold_refused"] = True
    r.put_table([dead], 1)
    t0 = time.time()
    st = r.get("app.example.com")[0]
    assert st == 503 and 0.35 < time.time() - t0 < 3
    # Without hold_refused: 502 at once.
    r.put_table([route("app.example.com", refused_addr(), hold_ms=400)], 2)
    t0 = time.time()
    assert r.get("app.example.com")[0] == 502 and time.time() - t0 < 0.35


def test_refused_request_stays_held_through_tables_that_leave_it_refused(router_factory, backends):
    # A restarting enclave's address refuses connections until berthd's
    # table moves the route: with hold_refused the request waits for it
    v2 = backends("v2")
    dead = refused_addr()
    r = router_factory(threads=1)
    r.put_table([dict(route("app.example.com", dead), hold_refused=True, hold_timeout_ms=20000)], 1)
    result = {}
    t = threading.Thread(target=lambda: result.update(got=r.get("app.example.com", timeout=30)[:2]))
    t.start()
    wait_metric(r, "berth_router_held", 1)
    time.sleep(0.3)
    assert not result, "the refused request was answered"
    # another host's change routes it again: still refused, still held
    r.set_route("other.example.com", route("other.example.com", v2.addr))
    time.sleep(0.3)
    assert not result and r.metric("berth_router_held") == 1
    r.set_route("app.example.com", {"mode": "serve", "upstreams": [v2.addr], "hold_refused": True})
    t.join(10)
    assert result == {"got": (200, b"v2")}
    assert r.metric("berth_router_held") == 0


def test_refused_request_keeps_its_first_deadline(router_factory, backends):
    v2 = backends("v2")
    dead = refused_addr()
    r = router_factory()
    r.put_table([dict(route("app.example.com", dead), hold_refused=True, hold_timeout_ms=800)], 1)
    result = {}
    t0 = time.time()
    t = threading.Thread(target=lambda: result.update(got=r.get("app.example.com", timeout=30)))
    t.start()
    wait_metric(r, "berth_router_held", 1)
    # table changes that leave it refused do not extend its wait
    for i in range(4):
        r.set_route(f"other{i}.example.com", route(f"other{i}.example.com", v2.addr))
        time.sleep(0.15)
    t.join(10)
    st, _, resp = result["got"]
    assert st == 503 and resp.getheader("Retry-After") == "5"
    assert 0.7 < time.time() - t0 < 3
