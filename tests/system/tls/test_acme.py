"""berthd --tls-certs acme against a real ACME server, Debian's pebble: the
HTTP-01 challenge answered by berth-router itself (pebble-challtestsrv only
answers pebble's DNS questions with 127.0.0.1), the certificate served by SNI
and checked with curl against pebble's root, kept across a restart, renewed
under a keep-alive HTTPS client without a failed request, and the failures
(ACME server down, a challenge pebble cannot reach) as events while plain
HTTP keeps serving."""
import http.client as httpclient
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile
import time

import pytest

from tls_helpers import Berthd, free_port


def deploy(b, name, **body):
    status, c = b.call("POST", "/containers", dict(name=name, **body))
    assert status == 202, c
    return b.wait_status(name, "running")


class Pebble:
    """pebble with its own TLS certificate (made here with openssl), and
    pebble-challtestsrv as its DNS server: every A question is 127.0.0.1, so
    that pebble validates HTTP-01 at http_port on loopback."""

    def __init__(self, http_port, validity_s=None, env=None, tls_port=None):
        self.dir = tempfile.mkdtemp(prefix="berth-pebble-")
        self.port, self.mgmt, self.dns = free_port(), free_port(), free_port()
        self.cert = os.path.join(self.dir, "cert.pem")
        key = os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", self.cert,
                        "-days", "2", "-subj", "/CN=pebble",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True, timeout=30)
        cfg = {"listenAddress": f"127.0.0.1:{self.port}",
               "managementListenAddress": f"127.0.0.1:{self.mgmt}",
               "certificate": self.cert, "privateKey": key,
               "httpPort": http_port, "tlsPort": tls_port or free_port(),
               "ocspResponderURL": "", "externalAccountBindingRequired": False}
        if validity_s is not None:
            cfg["certificateValidityPeriod"] = validity_s
        conf = os.path.join(self.dir, "pebble.json")
        with open(conf, "w") as f:
            json.dump({"pebble": cfg}, f)
        self.log = open(os.path.join(self.dir, "pebble.log"), "w")
        self.dnsproc = subprocess.Popen(
            ["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
             "-dns01", f"127.0.0.1:{self.dns}", "-http01", "", "-https01", "",
             "-tlsalpn01", "", "-management", f"127.0.0.1:{free_port()}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        # No artificial sleep before a validation; never reuse a valid
        # authorization, so that every order is a real challenge; reject a
        # fair share of good nonces, so that badNonce retries happen.
        e = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_AUTHZREUSE="0",
                 PEBBLE_WFE_NONCEREJECT="20")
        e.update(env or {})
        self.proc = subprocess.Popen(["pebble", "-config", conf, "-dnsserver",
                                      f"127.0.0.1:{self.dns}"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=e)
        self.directory = f"https://127.0.0.1:{self.port}/dir"
        ctx = ssl.create_default_context(cafile=self.cert)
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as raw:
                    with ctx.wrap_socket(raw, server_hostname="127.0.0.1"):
                        break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("pebble did not start: " + self.read_log())
                time.sleep(0.1)

    def read_log(self):
        with open(os.path.join(self.dir, "pebble.log"), errors="replace") as f:
            return f.read()

    def root(self):
        """pebble's root CA (made anew at each start), in a file."""
        ctx = ssl.create_default_context(cafile=self.cert)
        conn = httpclient.HTTPSConnection("127.0.0.1", self.mgmt, context=ctx, timeout=10)
        conn.request("GET", "/roots/0")
        pem = conn.getresponse().read()
        path = os.path.join(self.dir, "root.pem")
        with open(path, "wb") as f:
            f.write(pem)
        return path

    def stop(self):
        for p in (self.proc, self.dnsproc):
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def acme_berthd(directory, router_port, ca):
    """berthd with ACME; its router on router_port (pebble's httpPort)."""
    b = Berthd(args=["--router-listen", f"127.0.0.1:{router_port}", "--tls-certs", "acme",
                     "--acme-directory", directory, "--acme-ca", ca,
                     "--acme-email", "ops@example.org"])
    b.router_port = router_port
    return b


def events(b, name, kind):
    status, evs = b.call("GET", f"/containers/{name}/events")
    assert status == 200, evs
    return [e for e in evs if e["kind"] == kind]


def wait_event(b, name, kind, timeout=90, count=1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = events(b, name, kind)
        if len(got) >= count:
            return got
        time.sleep(0.2)
    raise AssertionError(f"no {kind} event for {name}; log:\n{b.read_log()[-4000:]}")


def curl_https(b, name, root):
    host = b.host(name)
    out = subprocess.run(["curl", "-sS", "--noproxy", "*", "--cacert", root, "--resolve",
                          f"{host}:{b.tls_port}:127.0.0.1", f"https://{host}:{b.tls_port}/"],
                         capture_output=True, timeout=20)
    return out.returncode, out.stdout, out.stderr.decode(errors="replace")


def leaf_serial(path):
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", path],
                         capture_output=True, text=True, timeout=10, check=True)
    return out.stdout.strip()


@pytest.fixture
def stack():
    """pebble and berthd; stop() of both, berthd first (it deletes what it
    deployed)."""
    made = []

    def make(validity_s=None, pebble_http_port=None, directory=None, env=None):
        router_port = free_port()
        p = Pebble(pebble_http_port or router_port, validity_s, env)
        made.append(p)
        b = acme_berthd(directory or p.directory, router_port, p.cert)
        made.insert(0, b)
        return p, b

    yield make
    for x in made:
        x.stop()


def test_certificate_from_pebble_over_sni_and_kept_across_a_restart(stack, repo):
    # pebble rejects 60% of good nonces, at random: the order goes on with
    # the fresh nonce each badNonce answer brings. An order makes 8 or more
    # signed requests, so the chance that none is rejected (and the log
    # check below sees no retry) is 0.4^8, under 0.1%; one that meets 10
    # rejections in a row fails and is tried again after 5 s.
    pebble, b = stack(env={"PEBBLE_WFE_NONCEREJECT": "60"})
    deploy(b, "web", repo=repo.dir, tag="v1")
    # Plain HTTP serves at once; the certificate follows.
    status, body, _ = b.get("web")
    assert status == 200 and body == b"hello v1\n"
    ev = wait_event(b, "web", "certificate.issued")
    assert b.host("web") in ev[0]["message"]
    root = pebble.root()
    rc, out, err = curl_https(b, "web", root)
    assert rc == 0 and out == b"hello v1\n", err
    # The account key and the host's file are berthd's alone.
    key = os.path.join(b.state, "acme", "account.key")
    pem = os.path.join(b.state, "tls", b.host("web") + ".pem")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(pem).st_mode) == 0o600
    for log in ("berthd.log", "router.log"):
        assert "PRIVATE KEY" not in open(os.path.join(b.state, log), errors="replace").read()
    # The challenge is gone from the router once the order is done.
    status, _, _ = b.get("web", "/.well-known/acme-challenge/x")
    assert status != 200
    assert "badNonce, again with a new one" in b.read_log()
    serial = leaf_serial(pem)
    account = open(key).read()
    # A restart reuses the account and the certificate: no new order.
    b.kill()
    b.start()
    time.sleep(5)
    assert len(events(b, "web", "certificate.issued")) == 1
    assert leaf_serial(pem) == serial and open(key).read() == account
    rc, out, err = curl_https(b, "web", root)
    assert rc == 0 and out == b"hello v1\n", err


def test_renewal_under_a_keepalive_client_without_a_failed_request(stack, repo):
    # 45 s certificates: due after 30 s.
    pebble, b = stack(validity_s=45)
    deploy(b, "web", repo=repo.dir, tag="v1")
    wait_event(b, "web", "certificate.issued")
    root = pebble.root()
    pem = os.path.join(b.state, "tls", b.host("web") + ".pem")
    first = leaf_serial(pem)
    ctx = ssl.create_default_context(cafile=root)
    host = b.host("web")
    raw = socket.create_connection(("127.0.0.1", b.tls_port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname=host)
    kept_cert = s.getpeercert(binary_form=True)
    conn = httpclient.HTTPConnection(host, b.tls_port, timeout=10)
    conn.sock = s
    ok = failed = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn.request("GET", "/")
            r = conn.getresponse()
            if r.read() == b"hello v1\n" and r.status == 200:
                ok += 1
            else:
                failed += 1
        except OSError:
            failed += 1
            break
        if len(events(b, "web", "certificate.issued")) >= 2:
            break
        time.sleep(0.2)
    assert len(events(b, "web", "certificate.issued")) >= 2, b.read_log()[-3000:]
    # The same connection, still on its first certificate, goes on.
    for _ in range(5):
        conn.request("GET", "/")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == b"hello v1\n"
        ok += 1
    assert failed == 0 and ok > 10
    assert s.getpeercert(binary_form=True) == kept_cert
    conn.close()
    # A new connection gets the new certificate.
    assert leaf_serial(pem) != first
    with socket.create_connection(("127.0.0.1", b.tls_port), timeout=10) as raw2:
        with ctx.wrap_socket(raw2, server_hostname=host) as s2:
            assert s2.getpeercert(binary_form=True) != kept_cert


def test_acme_server_down_is_an_event_and_plain_http_serves(stack, repo):
    dead = free_port()  # nobody listens there
    _, b = stack(directory=f"https://127.0.0.1:{dead}/dir")
    deploy(b, "web", repo=repo.dir, tag="v1")
    ev = wait_event(b, "web", "certificate.failed")
    msg = ev[0]["message"]
    assert b.host("web") in msg and f"127.0.0.1:{dead}" in msg, msg
    assert "plain HTTP serves it" in msg and "trying again in" in msg, msg
    status, body, _ = b.get("web")
    assert status == 200 and body == b"hello v1\n"
    # It is tried again, later (backoff): a second event comes.
    wait_event(b, "web", "certificate.failed", timeout=60, count=2)
    # berthd's API stays quick meanwhile.
    t = time.monotonic()
    assert b.call("GET", "/containers/web")[0] == 200
    assert time.monotonic() - t < 5


def test_unreachable_challenge_fails_the_order_with_pebbles_problem(stack, repo):
    # pebble validates at a port nobody answers on: not berth-router's.
    pebble, b = stack(pebble_http_port=free_port())
    deploy(b, "web", repo=repo.dir, tag="v1")
    ev = wait_event(b, "web", "certificate.failed")
    msg = ev[0]["message"]
    # pebble's problem document: its type and detail.
    assert "the challenge of " + b.host("web") in msg and "connection" in msg, msg
    status, body, _ = b.get("web")
    assert status == 200 and body == b"hello v1\n"
    assert not os.path.exists(os.path.join(b.state, "tls", b.host("web") + ".pem"))
