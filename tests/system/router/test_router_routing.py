"""berth-router: host routing, 404s, path allow-list, forwarded headers, admin API."""
import http.client
import json

from router_harness import raw_exchange, route, status_of


def test_host_routing_and_unknown_host(router_factory, backends):
    a = backends("alpha", "busybox")
    b = backends("beta", "busybox")
    r = router_factory()
    r.put_table([route("web.acme.example.com", a.addr), route("api.acme.example.com", b.addr)], 1)
    assert r.get("web.acme.example.com")[:2] == (200, b"alpha")
    assert r.get("api.acme.example.com")[:2] == (200, b"beta")
    # case-insensitive, port ignored, trailing dot ignored
    assert r.get("WEB.Acme.Example.COM:8080")[:2] == (200, b"alpha")
    assert r.get("api.acme.example.com.")[:2] == (200, b"beta")
    st, body, _ = r.get("nope.acme.example.com")
    assert st == 404
    st, body, _ = r.get("acme.example.com")
    assert st == 404


def test_wildcard_route_and_static_routes(router_factory, backends):
    a = backends("alpha", "busybox")
    b = backends("beta", "busybox")
    r = router_factory(["--route", f"x.example.com={a.addr}", "--route", f"*={b.addr}"])
    assert r.get("x.example.com")[:2] == (200, b"alpha")
    assert r.get("anything.else")[:2] == (200, b"beta")
    # HTTP/1.0 without Host goes to the wildcard
    raw = raw_exchange(r.port, b"GET / HTTP/1.0\r\n\r\n")
    assert status_of(raw) == 200 and raw.endswith(b"beta")


def test_path_allow_list(router_factory, backends):
    a = backends("alpha")
    r = router_factory()
    r.put_table([route("p.example.com", a.addr, paths=["/health", "/v1/*"])], 1)
    assert r.get("p.example.com", "/health")[0] == 200
    assert r.get("p.example.com", "/health?x=1")[0] == 200
    assert r.get("p.example.com", "/v1/models")[0] == 200
    assert r.get("p.example.com", "/v1/")[0] == 200
    assert r.get("p.example.com", "/healthz")[0] == 404
    assert r.get("p.example.com", "/")[0] == 404
    assert r.get("p.example.com", "/admin")[0] == 404
    # no way out of an allowed prefix
    assert r.get("p.example.com", "/v1/../admin")[0] == 400
    assert r.get("p.example.com", "/v1/%2e%2e/admin")[0] == 400
    assert r.get("p.example.com", "/v1/..%2fadmin")[0] == 400
    seen = a.paths()
    assert not any("admin" in p or p in ("/", "/healthz") for p in seen), seen


def test_forwarded_headers_replace_client_ones(router_factory, backends):
    a = backends("alpha")
    r = router_factory()
    r.put_table([route("h.example.com", a.addr)], 1)
    st, body, _ = r.get("h.example.com:9000", "/headers", headers={
        "X-Forwarded-For": "6.6.6.6", "Forwarded": "for=6.6.6.6", "X-Forwarded-Host": "evil",
        "Connection": "keep-alive, X-Foo", "Keep-Alive": "timeout=5"})
    assert st == 200
    h = {k.lower(): v for k, v in json.loads(body).items()}
    assert h["x-forwarded-for"] == "127.0.0.1"
    assert h["x-forwarded-proto"] == "http"
    assert h["x-forwarded-host"] == "h.example.com:9000"
    assert h["forwarded"] == 'for=127.0.0.1;host="h.example.com:9000";proto=http'
    assert "keep-alive" not in h
    assert h["host"] == "h.example.com:9000"


def headers_seen(port, host, source, headers=()):
    """The headers backend /headers saw for a GET through the router on
    port, sent from the loopback address source."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    c.request("GET", "/headers", headers=dict(headers, Host=host))
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, body
    return {k.lower(): v for k, v in json.loads(body).items()}


def test_a_peer_routers_client_address_is_believed_with_the_peer_key(router_factory, backends):
    """Router A forwards to router B (the host of the live enclave): the
    upstream sees the client's address, not A's, when both have berthd's
    peer key; a client that sends the marker and an address itself is not
    believed, nor a peer with another key."""
    a = backends("alpha")
    key = "k" * 32
    rb = router_factory()
    ra = router_factory()
    rb.put_table([route("h.example.com", a.addr)], 1, peer_key=key)
    fwd = dict(route("h.example.com", "127.0.0.1:%d" % rb.port), forward=True)
    ra.put_table([fwd], 1, peer_key=key)
    h = headers_seen(ra.port, "h.example.com", "127.0.0.7")
    assert h["x-forwarded-for"] == "127.0.0.7", h
    assert h["forwarded"] == 'for=127.0.0.7;host="h.example.com";proto=http'
    assert "x-berth-hop" not in h  # the marker never reaches an enclave
    # A client is not a peer: its own marker and address are dropped.
    for marker in (key[:-1] + "x", "1", key + "x"):
        h = headers_seen(rb.port, "h.example.com", "127.0.0.8",
                         {"X-Berth-Hop": marker, "X-Forwarded-For": "6.6.6.6"})
        assert h["x-forwarded-for"] == "127.0.0.8", (marker, h)
    # The key but not one address: not what a peer sends.
    h = headers_seen(rb.port, "h.example.com", "127.0.0.8",
                     {"X-Berth-Hop": key, "X-Forwarded-For": "6.6.6.6, 7.7.7.7"})
    assert h["x-forwarded-for"] == "127.0.0.8", h
    # Another key at A (a berthd restarted, its tables not all pushed yet):
    # B believes A no more, A's own address is what the upstream sees.
    ra.put_table([fwd], 2, peer_key="o" * 32)
    h = headers_seen(ra.port, "h.example.com", "127.0.0.7")
    assert h["x-forwarded-for"] == "127.0.0.1", h
    # Keys are checked: a bad one is refused and changes nothing.
    st, body = ra.admin("PUT", "/v1/table", {"generation": 3, "routes": [fwd], "peer_key": "short"})
    assert st == 400 and "peer_key" in body["error"], body
    # A route set alone keeps the table's key.
    rb.set_route("h.example.com", route("h.example.com", a.addr))
    ra.put_table([fwd], 4, peer_key=key)
    assert headers_seen(ra.port, "h.example.com", "127.0.0.7")["x-forwarded-for"] == "127.0.0.7"


def test_admin_table_generation_and_validation(router_factory, backends):
    a = backends("alpha", "busybox")
    r = router_factory()
    r.put_table([route("g.example.com", a.addr)], 5)
    # an older generation is refused, nothing changes
    st, body = r.admin("PUT", "/v1/table", {"generation": 4, "routes": []})
    assert st == 409 and "older" in body["error"]
    # invalid tables are refused with a reason, nothing changes
    for bad in ['{"generation": 6, "routes": [{"host": "x", "upstreams": ["nope"]}]}',
                '{"generation": 6, "routes": [{"host": "x", "mode": "maybe"}]}',
                '{"generation": 6, "routes": [{"host": "x", "upstreams": []}]}',
                '{"generation": 6, "routes": [{"host": "a", "upstreams": ["127.0.0.1:1"]},'
                ' {"host": "A", "upstreams": ["127.0.0.1:1"]}]}',
                '{"generation": 6, "routes": [{"host": "x", "paths": ["no-slash"],'
                ' "upstreams": ["127.0.0.1:1"]}]}',
                '{"generation": 6, "routes": [',
                '{"routes": []}']:
        st, body = r.admin("PUT", "/v1/table", bad)
        assert st == 400, (bad, body)
        assert body["error"]
    st, body = r.admin("GET", "/v1/table")
    assert st == 200 and body["generation"] == 5
    assert [x["host"] for x in body["routes"]] == ["g.example.com"]
    assert r.get("g.example.com")[:2] == (200, b"alpha")
    # set, read and delete one route
    r.set_route("new.example.com", {"upstreams": [a.addr], "paths": ["/*"]})
    st, body = r.admin("GET", "/v1/routes/new.example.com")
    assert st == 200 and body["upstreams"][0]["address"] == a.addr
    assert r.get("new.example.com")[0] == 200
    st, _ = r.admin("DELETE", "/v1/routes/new.example.com")
    assert st == 200
    assert r.get("new.example.com")[0] == 404
    st, _ = r.admin("DELETE", "/v1/routes/new.example.com")
    assert st == 404
    st, _ = r.admin("GET", "/v1/status")
    assert st == 200


def test_metrics(router_factory, backends):
    a = backends("alpha", "busybox")
    r = router_factory()
    r.put_table([route("m.example.com", a.addr)], 1)
    for _ in range(3):
        assert r.get("m.example.com")[0] == 200
    r.get("unknown.example.com")
    st, text = r.admin("GET", "/metrics")
    assert 'berth_router_requests_total{route="m.example.com",code="2xx"} 3' in text
    assert 'berth_router_requests_total{route="",code="4xx"} 1' in text
    assert 'berth_router_request_duration_seconds_count{route="m.example.com"} 3' in text
    assert "berth_router_connections_total" in text
    assert f'berth_router_upstream_requests_total{{route="m.example.com",address="{a.addr}"}} 3' in text
