"""berth-router: shim.paths is checked on the path the backend gets. The
backend here decodes, strips ";params" and fragments, turns backslashes into
slashes and resolves dot segments, as lenient servers do: no trick may get a
request for /admin to it through an allow-list of /v1/* and /health."""
import time

import pytest

from router_harness import raw_exchange, route, status_of

HOST = b"p.example.com"

TRICKS = [
    b"/v1/../admin",
    b"/v1/./../admin",
    b"/v1/..",
    b"/v1//../admin",
    b"/v1/..;/admin",
    b"/v1/..;jsessionid=1/admin",
    b"/v1/.;/..;/admin",
    b"/v1/..%3b/admin",
    b"/v1/%2e%2e/admin",
    b"/v1/%2E%2E/admin",
    b"/v1/.%2e/admin",
    b"/v1/..%2fadmin",
    b"/v1%2f..%2fadmin",
    b"/v1/..%5cadmin",
    b"/v1\\..\\admin",
    b"/v1/..\\admin",
    b"/v1/\\..\\..\\admin",
    b"/v1/%252e%252e/admin",
    b"/v1/%c0%ae%c0%ae/admin",
    b"/v1/%u002e%u002e/admin",
    b"/v1/%00/../admin",
    b"/v1/#/../../admin",
    b"/health#/../admin",
    b"/health/../admin",
    b"/health;/../admin",
    b"http://p.example.com/admin",
    b"http://p.example.com/v1/../admin",
    b"//p.example.com/admin",
    b"*",
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import router_harness as harness
    tmp = str(tmp_path_factory.mktemp("paths"))
    rec = harness.RecordingBackend()
    r = harness.Router(tmp, [])
    r.put_table([route(HOST.decode(), rec.addr, paths=["/v1/*", "/health"]),
                 route("open.example.com", rec.addr)], 1)
    yield r, rec
    rec.stop()
    r.stop()


def get(r, target, host=HOST):
    return raw_exchange(r.port, b"GET " + target + b" HTTP/1.1\r\nHost: " + host +
                        b"\r\nConnection: close\r\n\r\n")


@pytest.mark.parametrize("target", TRICKS, ids=[t.decode("latin-1") for t in TRICKS])
def test_trick_does_not_reach_admin(setup, target):
    r, rec = setup
    rec.reset()
    raw = get(r, target)
    st = status_of(raw)
    assert st in (400, 404), (target, raw[:200])
    time.sleep(0.02)
    assert "/admin" not in rec.paths(), rec.requests
    if st == 400:
        assert rec.received() == b"", rec.received()[:200]


def test_the_backend_would_have_normalised(setup):
    """The tricks are real: on a route without paths they reach /admin."""
    r, rec = setup
    rec.reset()
    for t in (b"/v1/..;/admin", b"/v1/..%2fadmin", b"/v1/%2e%2e/admin", b"/v1/..\\admin"):
        raw = get(r, t, b"open.example.com")
        assert status_of(raw) == 200 and raw.endswith(b"/admin"), (t, raw)


def test_double_slashes_are_made_one(setup):
    r, rec = setup
    rec.reset()
    raw = get(r, b"//v1///x//y?q=//z")
    assert status_of(raw) == 200, raw
    assert rec.targets() == ["/v1/x/y?q=//z"], rec.targets()


def test_allowed_paths_pass_as_sent(setup):
    r, rec = setup
    rec.reset()
    for t in (b"/v1/a%20b", b"/v1/x;v=1", b"/health", b"/v1/...", b"/v1/x?a=../b"):
        raw = get(r, t)
        assert status_of(raw) == 200, (t, raw)
    assert rec.targets() == ["/v1/a%20b", "/v1/x;v=1", "/health", "/v1/...", "/v1/x?a=../b"]
    assert status_of(get(r, b"/admin")) == 404
    assert status_of(get(r, b"/v1")) == 404


def test_refusal_says_why(setup):
    r, rec = setup
    raw = get(r, b"/v1/..;/admin")
    assert status_of(raw) == 400 and raw.endswith(b"a dot segment in the path\n"), raw
