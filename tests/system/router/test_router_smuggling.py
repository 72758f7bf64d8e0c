"""berth-router: request smuggling and limits. Every ambiguous request is
refused before any of it can reach an upstream as a second request."""
import pytest

from router_harness import raw_exchange, route, status_of

H = b"Host: s.example.com\r\n"

REJECTED = {
    "cl_and_te": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + H + b"\r\n",
    "te_and_cl": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n"
                 b"0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + H + b"\r\n",
    "two_cl_differ": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 0\r\nContent-Length: 40\r\n\r\n"
                     b"GET /smuggled HTTP/1.1\r\n" + H + b"\r\n",
    "two_cl_same": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\nab",
    "cl_list": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 2, 2\r\n\r\nab",
    "cl_letters": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: abc\r\n\r\n",
    "cl_negative": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n",
    "cl_plus": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: +2\r\n\r\nab",
    "cl_huge": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 99999999999999999999999\r\n\r\n",
    "te_gzip": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\nab",
    "te_gzip_chunked": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "te_chunked_chunked": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
    "te_twice": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"0\r\n\r\n",
    "te_xchunked": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "te_space_colon": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "te_http10": b"POST / HTTP/1.0\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te_folded": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
    "obs_fold": b"GET / HTTP/1.1\r\n" + H + b"X-Long: a\r\n\tb\r\n\r\n",
    "bad_chunk_size": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                      b"zz\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + H + b"\r\n",
    "chunk_size_overflow": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                           b"fffffffffffffffff1\r\nabc\r\n0\r\n\r\n",
    "chunk_no_crlf": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                     b"3\r\nabcX0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + H + b"\r\n",
    "no_host": b"GET / HTTP/1.1\r\n\r\n",
    "two_hosts": b"GET / HTTP/1.1\r\n" + H + b"Host: other.example.com\r\n\r\n",
    "bad_host": b"GET / HTTP/1.1\r\nHost: s.example.com/x\r\n\r\n",
    "nul_in_value": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n",
    "cr_in_value": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n",
    "space_in_name": b"GET / HTTP/1.1\r\n" + H + b"X A: b\r\n\r\n",
    "absolute_form": b"GET http://s.example.com/ HTTP/1.1\r\n" + H + b"\r\n",
    "connect": b"CONNECT s.example.com:443 HTTP/1.1\r\n" + H + b"\r\n",
    "bad_version": b"GET / HTTP/9.9\r\n" + H + b"\r\n",
    "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import router_harness as harness
    tmp = str(tmp_path_factory.mktemp("smuggle"))
    b = harness.PyBackend("s")
    r = harness.Router(tmp, [])
    r.put_table([route("s.example.com", b.addr)], 1)
    yield r, b
    b.stop()
    r.stop()


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_rejected(setup, name):
    r, b = setup
    raw = raw_exchange(r.port, REJECTED[name])
    st = status_of(raw)
    assert st in (400, 405, 501, 505), (name, raw[:200])
    assert raw.count(b"HTTP/1.1") == 1, raw
    assert b"connection: close" in raw.lower()
    assert not any("smuggled" in p for p in b.paths()), b.paths()


def test_valid_chunked_with_extension_and_trailer_passes(setup):
    r, b = setup
    raw = raw_exchange(r.port, b"POST /echo HTTP/1.1\r\n" + H +
                       b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                       b"3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n")
    assert status_of(raw) == 200, raw
    assert b'"len": 3' in raw


def test_oversize_head_gives_431(setup):
    r, b = setup
    raw = raw_exchange(r.port, b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n")
    assert status_of(raw) == 431, raw[:100]
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    raw = raw_exchange(r.port, b"GET / HTTP/1.1\r\n" + H + many + b"\r\n")
    assert status_of(raw) == 431, raw[:100]
    # just under the limit passes
    raw = raw_exchange(r.port, b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\nX-Big: " +
                       b"a" * 15000 + b"\r\n\r\n")
    assert status_of(raw) == 200, raw[:100]


def test_still_serving_after_all_that(setup):
    r, b = setup
    assert r.get("s.example.com")[:2] == (200, b"s")
