"""TLS-ALPN-01 (RFC 8737) in berth-router: the challenge certificate set over
the router's admin API (PUT/DELETE /v1/tls-challenges/HOST) is served to a
ClientHello offering exactly acme-tls/1 for that SNI name, and never to
anything else; and berthd --acme-challenge tls-alpn-01 gets its certificates
from a real pebble that validates on berth-router's TLS port (its HTTP-01
port is one nobody listens on), with normal HTTPS clients running through
the first order and a renewal."""
import hashlib
import http.client as httpclient
import json
import os
import socket
import ssl
import threading
import time

import pytest

from test_acme import Pebble, curl_https, deploy, events, wait_event
from tls_helpers import Berthd, free_port

# id-pe-acmeIdentifier's OID, then critical TRUE, then the extnValue: an
# OCTET STRING of 34 bytes holding the OCTET STRING of 32 (RFC 8737 3).
OID = bytes.fromhex("06082b0601050507011f")
KEY_AUTH = "tok3n-_abc.thumbPRINT_-0123456789"


def extension_of(key_auth):
    return OID + b"\x01\x01\xff" + b"\x04\x22\x04\x20" + hashlib.sha256(
        key_auth.encode()).digest()


class UnixHTTP(httpclient.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def admin(b, method, path, body=None):
    """A call of the router's admin API on its unix socket."""
    conn = UnixHTTP(os.path.join(b.state, "router.sock"))
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    out = r.status, json.loads(r.read() or b"null")
    conn.close()
    return out


def handshake(b, host, alpn):
    """A TLS handshake at the router for host offering alpn (a list, or
    None: no ALPN). Returns (the certificate's DER, the protocol selected),
    or raises ssl.SSLError when the router refuses."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    with socket.create_connection(("127.0.0.1", b.tls_port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            return s.getpeercert(binary_form=True), s.selected_alpn_protocol()


def test_challenge_certificate_for_acme_tls1_only(berthd, repo):
    b = berthd
    deploy(b, "web", repo=repo.dir, tag="v1")
    host = b.host("web")
    normal, _ = handshake(b, host, ["http/1.1"])
    assert OID not in normal
    # Bad input: a clear 400, nothing set.
    for body in ({"key_authorization": "no-dot"}, {"key_authorization": "a.b\r\nX: y"}, {}):
        status, j = admin(b, "PUT", f"/v1/tls-challenges/{host}", body)
        assert status == 400 and j["error"], j
    status, j = admin(b, "PUT", "/v1/tls-challenges/not%20a%20host", {"key_authorization": "a.b"})
    assert status == 400 and "host name" in j["error"], j
    with pytest.raises(ssl.SSLError):
        handshake(b, host, ["acme-tls/1"])

    status, j = admin(b, "PUT", f"/v1/tls-challenges/{host.upper()}",
                      {"key_authorization": KEY_AUTH})
    assert status == 200 and j == {"host": host}, j
    der, proto = handshake(b, host, ["acme-tls/1"])
    assert proto == "acme-tls/1"
    assert extension_of(KEY_AUTH) in der  # critical, SHA-256 of the key authorization
    assert der != normal
    # Everything else still gets the host's own certificate, without the
    # extension: h2/http1.1, no ALPN, acme-tls/1 among other protocols.
    for alpn in (["h2", "http/1.1"], ["http/1.1"], None, ["acme-tls/1", "http/1.1"],
                 ["http/1.1", "acme-tls/1"]):
        got, proto = handshake(b, host, alpn)
        assert got == normal and OID not in got, alpn
        # HTTP/1.1 is what the router speaks: picked when offered.
        assert proto == ("http/1.1" if alpn and "http/1.1" in alpn else None), (alpn, proto)
    # And HTTPS works meanwhile, over the normal certificate.
    status, body, _ = b.https("web")
    assert status == 200 and body == b"hello v1\n"
    # acme-tls/1 for a name without a challenge: refused, not the challenge
    # certificate of another name.
    with pytest.raises(ssl.SSLError):
        handshake(b, b.host("other"), ["acme-tls/1"])
    # Replaced: the new key authorization's digest.
    status, _ = admin(b, "PUT", f"/v1/tls-challenges/{host}", {"key_authorization": "x.y"})
    assert status == 200
    der, _ = handshake(b, host, ["acme-tls/1"])
    assert extension_of("x.y") in der and extension_of(KEY_AUTH) not in der
    # Deleted: acme-tls/1 is refused again; a second delete is a 404.
    assert admin(b, "DELETE", f"/v1/tls-challenges/{host}")[0] == 200
    with pytest.raises(ssl.SSLError):
        handshake(b, host, ["acme-tls/1"])
    assert admin(b, "DELETE", f"/v1/tls-challenges/{host}")[0] == 404
    got, _ = handshake(b, host, ["h2", "http/1.1"])
    assert got == normal


class NormalClients(threading.Thread):
    """Handshakes in a loop offering h2 and http/1.1, as a browser does:
    counts the certificates that carry the acmeIdentifier extension (there
    must be none), and the handshakes that failed after start_ok was set."""

    def __init__(self, b, host):
        super().__init__(daemon=True)
        self.b, self.host = b, host
        self.stop = threading.Event()
        self.ok_from = None
        self.challenge_seen = self.ok = self.failed_after = 0

    def run(self):
        while not self.stop.is_set():
            t = time.monotonic()
            try:
                der, _ = handshake(self.b, self.host, ["h2", "http/1.1"])
                self.ok += 1
                if OID in der:
                    self.challenge_seen += 1
            except (OSError, ssl.SSLError):
                if self.ok_from is not None and t > self.ok_from:
                    self.failed_after += 1
                time.sleep(0.01)


def test_tls_alpn_01_against_pebble_with_a_renewal(repo):
    tls_port, router_port = free_port(), free_port()
    # pebble validates HTTP-01 at a port nobody listens on: only TLS-ALPN-01
    # at berth-router's TLS port can succeed. 45 s certificates: a renewal
    # is due after 30 s.
    pebble = Pebble(free_port(), validity_s=45, tls_port=tls_port)
    b = None
    clients = None
    try:
        b = Berthd(args=["--router-listen", f"127.0.0.1:{router_port}", "--tls-certs", "acme",
                         "--acme-directory", pebble.directory, "--acme-ca", pebble.cert,
                         "--acme-challenge", "tls-alpn-01",
                         "--tls-listen", f"127.0.0.1:{tls_port}"])
        b.router_port, b.tls_port = router_port, tls_port
        host = b.host("web")
        clients = NormalClients(b, host)
        clients.start()
        deploy(b, "web", repo=repo.dir, tag="v1")
        wait_event(b, "web", "certificate.issued")
        clients.ok_from = time.monotonic() + 0.5  # the router has read the file
        root = pebble.root()
        rc, out, err = curl_https(b, "web", root)
        assert rc == 0 and out == b"hello v1\n", err
        wait_event(b, "web", "certificate.issued", timeout=120, count=2)
        time.sleep(1)
        clients.stop.set()
        clients.join(30)
        rlog = open(os.path.join(b.state, "router.log"), errors="replace").read()
        # Both orders took TLS-ALPN-01, and cleared it after.
        assert rlog.count(f"the TLS-ALPN-01 challenge of {host} is set") >= 2, rlog[-3000:]
        assert rlog.count(f"the TLS-ALPN-01 challenge of {host} is cleared") >= 2
        assert "PRIVATE KEY" not in rlog and "PRIVATE KEY" not in b.read_log()
        # No normal client ever got the challenge certificate, and once the
        # first certificate was there none failed, renewal included.
        assert clients.ok > 20 and clients.challenge_seen == 0, vars(clients)
        assert clients.failed_after == 0, vars(clients)
        assert len(events(b, "web", "certificate.failed")) == 0
        rc, out, err = curl_https(b, "web", root)
        assert rc == 0 and out == b"hello v1\n", err
    finally:
        if clients is not None:
            clients.stop.set()
            clients.join(30)
        if b is not None:
            b.stop()
        pebble.stop()
