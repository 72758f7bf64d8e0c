"""berth-router: request smuggling and limits. Every ambiguous request is
refused before any of it can reach an upstream as a second request: each is
also sent to a route whose backend records every byte and reads requests
leniently, which must get nothing at all."""
import socket
import time

import pytest

from router_harness import raw_exchange, route, status_of

H = b"Host: s.example.com\r\n"
TE = b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\n" + H + b"\r\n"

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
    "fragment": b"GET /x#y HTTP/1.1\r\n" + H + b"\r\n",
    "connect": b"CONNECT s.example.com:443 HTTP/1.1\r\n" + H + b"\r\n",
    "bad_version": b"GET / HTTP/9.9\r\n" + H + b"\r\n",
    "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    # chunked framing, strictly
    "chunk_data_xy": TE + b"5\r\nhelloXY0\r\n\r\n" + SMUGGLED,
    "chunk_data_lf": TE + b"5\r\nhello\n0\r\n\r\n" + SMUGGLED,
    "chunk_data_x_lf": TE + b"5\r\nhelloX\n0\r\n\r\n" + SMUGGLED,
    "chunk_data_cr_x": TE + b"5\r\nhello\rX0\r\n\r\n" + SMUGGLED,
    "chunk_data_none": TE + b"5\r\nhello0\r\n\r\n" + SMUGGLED,
    "chunk_size_bare_lf": TE + b"5\nhello\r\n0\r\n\r\n" + SMUGGLED,
    "chunk_last_bare_lf": TE + b"0\n\n" + SMUGGLED,
    "chunk_end_bare_lf": TE + b"0\r\n\n" + SMUGGLED,
    "chunk_size_int32_wrap": TE + b"100000005\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
    "chunk_size_digits": TE + b"00000000000000005\r\nhello\r\n0\r\n\r\n",
    "chunk_size_space": TE + b"5 \r\nhello\r\n0\r\n\r\n",
    "chunk_size_0x": TE + b"0x5\r\nhello\r\n0\r\n\r\n",
    "chunk_ext_ctl": TE + b"5;a\x01b\r\nhello\r\n0\r\n\r\n",
    "chunk_ext_lf": TE + b"5;a\nhello\r\n0\r\n\r\n" + SMUGGLED,
    "chunk_ext_long": TE + b"5;" + b"x" * 2000 + b"\r\nhello\r\n0\r\n\r\n",
    "trailer_bare_lf": TE + b"0\r\nX-T: a\n\r\n" + SMUGGLED,
    "trailer_lone_cr": TE + b"0\r\nX-T: a\rXY: b\r\n\r\n",
    "trailer_folded": TE + b"0\r\nX-T: a\r\n b\r\n\r\n",
    "trailer_cl": TE + b"0\r\nContent-Length: 5\r\n\r\n",
    "trailer_long": TE + b"0\r\nX-T: " + b"v" * 17000 + b"\r\n\r\n",
    # CRLF only, in the head too
    "bare_lf_request_line": b"GET / HTTP/1.1\n" + H + b"\r\n",
    "bare_lf_header": b"GET / HTTP/1.1\r\n" + H + b"X-A: b\n\r\n",
    "bare_lf_end": b"GET / HTTP/1.1\r\n" + H + b"\n",
    "bare_lf_all": b"POST / HTTP/1.1\n" + H.replace(b"\r", b"") +
                   b"Transfer-Encoding: chunked\n\n0\n\n" + SMUGGLED,
    "lone_cr_request_line": b"GET / HTTP/1.1\rX: y\r\n" + H + b"\r\n",
    "cl_te_lf": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nX: a\nTransfer-Encoding: chunked"
                b"\r\n\r\n0\r\n\r\n",
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import router_harness as harness
    tmp = str(tmp_path_factory.mktemp("smuggle"))
    b = harness.PyBackend("s")
    rec = harness.RecordingBackend()
    r = harness.Router(tmp, [])
    r.put_table([route("s.example.com", b.addr), route("rec.example.com", rec.addr)], 1)
    yield r, b, rec
    b.stop()
    rec.stop()
    r.stop()


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_rejected(setup, name):
    r, b, rec = setup
    raw = raw_exchange(r.port, REJECTED[name])
    st = status_of(raw)
    assert st in (400, 405, 501, 505), (name, raw[:200])
    assert raw.count(b"HTTP/1.1") == 1, raw
    assert b"connection: close" in raw.lower()
    assert not any("smuggled" in p for p in b.paths()), b.paths()
    # not a byte of it reaches a lenient backend, not even the head
    rec.reset()
    raw = raw_exchange(r.port, REJECTED[name].replace(b"s.example.com", b"rec.example.com"))
    assert status_of(raw) in (400, 405, 501, 505), (name, raw[:200])
    time.sleep(0.05)
    assert rec.received() == b"", (name, rec.received()[:300])
    assert rec.requests == []


def test_framing_error_sentence(setup):
    r, b, rec = setup
    raw = raw_exchange(r.port, REJECTED["chunk_data_xy"])
    assert status_of(raw) == 400
    assert raw.endswith(b"\r\n\r\nchunk data is not followed by CRLF\n"), raw


def test_framing_error_mid_body_resets_upstream(setup):
    """A body that goes bad after its start went upstream: the upstream got
    a valid beginning only, then a reset; the smuggled request never."""
    r, b, rec = setup
    rec.reset()
    s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
    head = b"POST /up HTTP/1.1\r\nHost: rec.example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
    s.sendall(head + b"5\r\nhello")
    end = time.time() + 5
    while b"hello" not in rec.received() and time.time() < end:
        time.sleep(0.02)
    assert rec.received().endswith(b"5\r\nhello"), rec.received()
    s.sendall(b"XY0\r\n\r\n" + SMUGGLED.replace(b"s.example.com", b"rec.example.com"))
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    assert status_of(got) == 400, got
    time.sleep(0.1)
    seen = rec.received()
    assert b"XY" not in seen and b"smuggled" not in seen, seen
    assert seen.endswith(b"5\r\nhello"), seen
    assert rec.requests == [], rec.requests
    end = time.time() + 5
    while not rec.ends and time.time() < end:
        time.sleep(0.02)
    assert rec.ends == ["reset"], rec.ends


def test_framing_error_while_held_sends_nothing(setup):
    """A request waiting on a held route, whose body goes bad: it is
    answered then, and nothing of it ever goes upstream."""
    r, b, rec = setup
    rec.reset()
    r.set_route("held.example.com", route("held.example.com", rec.addr, mode="hold",
                                          hold_ms=10000))
    s = socket.create_connection(("127.0.0.1", r.port), timeout=5)
    s.sendall(b"POST /held HTTP/1.1\r\nHost: held.example.com\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello")
    time.sleep(0.2)
    t0 = time.time()
    s.sendall(b"XY0\r\n\r\n" + SMUGGLED)
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    assert status_of(got) == 400 and time.time() - t0 < 3, got
    r.set_route("held.example.com", route("held.example.com", rec.addr))
    time.sleep(0.2)
    assert rec.received() == b"", rec.received()


def test_te_sent_upstream_as_chunked(setup):
    r, b, rec = setup
    rec.reset()
    raw = raw_exchange(r.port, b"POST /te HTTP/1.1\r\nHost: rec.example.com\r\n"
                       b"Transfer-Encoding: CHUNKED\r\nConnection: close\r\n\r\n"
                       b"3\r\nabc\r\n0\r\n\r\n")
    assert status_of(raw) == 200, raw
    seen = rec.received()
    assert b"\r\nTransfer-Encoding: chunked\r\n" in seen and b"CHUNKED" not in seen, seen


def test_valid_chunked_with_extension_and_trailer_passes(setup):
    r, b, _ = setup
    raw = raw_exchange(r.port, b"POST /echo HTTP/1.1\r\n" + H +
                       b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                       b"3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n")
    assert status_of(raw) == 200, raw
    assert b'"len": 3' in raw


def test_oversize_head_gives_431(setup):
    r, b, _ = setup
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
    r, b, _ = setup
    assert r.get("s.example.com")[:2] == (200, b"s")
