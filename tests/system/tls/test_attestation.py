"""Verifiable deployments: `berth measure` equals what berthd records, the
host's signing key, the attestation document berth-router serves on each
container's host name, and `berth verify` (docs/verification.md)."""
import hashlib
import http.client as httpclient
import json
import os
import signal
import socket
import stat
import ssl
import subprocess
import tempfile
import threading
import time

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tls_helpers import BUILD, Berthd, GitRepo, config_text, http

BERTH = os.path.join(BUILD, "berth")


def deploy(b, name, **body):
    status, c = b.call("POST", "/containers", dict(name=name, **body))
    assert status == 202, c
    return b.wait_status(name, "running")


def berth(*args, env=None, timeout=60):
    """`berth ARGS`: (exit status, stdout, stderr), its source cache private."""
    e = dict(os.environ, **(env or {}))
    out = subprocess.run([BERTH, *args], capture_output=True, text=True, env=e,
                         timeout=timeout)
    return out.returncode, out.stdout, out.stderr


def measure(*args, cache):
    rc, out, err = berth("measure", *args, env={"XDG_CACHE_HOME": cache})
    assert rc == 0, err
    return out.strip()


def test_berth_measure_equals_the_recorded_measurement(berthd, repo, registry, tmp_path):
    cache = str(tmp_path / "cache")
    deploy(berthd, "web", repo=repo.dir, tag="v1")
    deploy(berthd, "dbg", repo=repo.dir, tag="v2", debug=True)
    web, dbg = berthd.container("web"), berthd.container("dbg")
    recorded = web["deployment"]["measurement"]
    assert len(recorded) == 64
    assert measure("--repo", repo.dir, "--tag", "v1", cache=cache) == recorded
    # The debug flag and the tag are in it; the host's runtime is not.
    assert measure("--repo", repo.dir, "--tag", "v2", "--debug",
                   cache=cache) == dbg["deployment"]["measurement"]
    v2 = measure("--repo", repo.dir, "--tag", "v2", cache=cache)
    assert v2 != recorded and v2 != dbg["deployment"]["measurement"]
    assert measure("--repo", repo.dir, "--tag", "v1", "--isolation", "gvisor",
                   cache=cache) != recorded
    # A checkout of the tag measures the same.
    with tempfile.TemporaryDirectory() as co:
        subprocess.run(["git", "clone", "-q", "-b", "v1", repo.dir, co], check=True,
                       capture_output=True, timeout=30)
        assert measure(co, cache=cache) == recorded
        assert measure(os.path.join(co, "tinfoil-config.yml"), cache=cache) == recorded
    # Mistakes: a clear sentence and a non-zero exit.
    rc, out, err = berth("measure", "--repo", repo.dir, "--tag", "v9",
                         env={"XDG_CACHE_HOME": cache})
    assert rc == 1 and "v9" in err and out == ""
    rc, _, err = berth("measure", "--repo", repo.dir)
    assert rc == 2 and "--repo and --tag go together" in err
    bad = GitRepo()
    try:
        bad.tag("v1", config_text(registry.images["hello:v1"]) + "bogus: 1\n")
        rc, _, err = berth("measure", "--repo", bad.dir, "--tag", "v1",
                           env={"XDG_CACHE_HOME": cache})
        assert rc == 1 and "tinfoil-config.yml:" in err and "bogus" in err, err
    finally:
        bad.remove()


def host_key_of(b):
    status, host = b.call("GET", "/host")
    assert status == 200, host
    return host


def test_host_key_is_made_once_kept_and_shown(berthd):
    path = os.path.join(berthd.state, "host-key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.path.getsize(path) == 32
    host = host_key_of(berthd)
    assert len(host["host_key"]) == 64 and int(host["host_key"], 16) >= 0
    assert host["tee"] == "none" and host["hostname"] == socket.gethostname()
    assert host["runtimes"]["runc"].startswith(("runc version", "crun version"))
    # The token is required, as for the other routes.
    status, _, _ = http("GET", berthd.api + "/host")
    assert status == 401
    # The seed never shows: not in the answer, not in a log.
    seed = open(path, "rb").read()
    assert seed.hex() not in json.dumps(host) and seed.hex() not in berthd.read_log()
    # A restart keeps the key.
    berthd.kill(signal.SIGTERM)
    berthd.start()
    assert host_key_of(berthd)["host_key"] == host["host_key"]
    # A key open to others is refused at start, with a sentence.
    berthd.kill(signal.SIGTERM)
    os.chmod(path, 0o644)
    with pytest.raises(RuntimeError, match="host key .* mode 0600"):
        berthd.start()
    os.chmod(path, 0o600)
    berthd.start()


ATTEST = "/.well-known/berth-attestation"


def canonical(doc):
    """The bytes signed: every field but the signature, keys sorted, no
    whitespace (docs/verification.md)."""
    rest = {k: v for k, v in doc.items() if k != "signature"}
    return json.dumps(rest, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def check_signature(doc, host_key_hex):
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(host_key_hex))
    key.verify(bytes.fromhex(doc["signature"]), canonical(doc))  # raises when bad


def spki_sha256(der_cert):
    cert = x509.load_der_x509_certificate(der_cert)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def attest_https(b, name, nonce):
    """The document over HTTPS, and the certificate (DER) of that connection."""
    host = b.host(name)
    ctx = b.tls_context()
    with socket.create_connection(("127.0.0.1", b.tls_port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            der = s.getpeercert(binary_form=True)
            conn = httpclient.HTTPConnection(host, b.tls_port, timeout=10)
            conn.sock = s
            conn.request("GET", f"{ATTEST}?nonce={nonce}")
            r = conn.getresponse()
            return r.status, r.read(), der


def test_attestation_document_over_http_and_https(berthd, repo):
    c = deploy(berthd, "web", repo=repo.dir, tag="v1")
    dep = c["deployment"]
    host = host_key_of(berthd)
    nonce = os.urandom(32).hex()
    status, body, headers = berthd.get("web", f"{ATTEST}?nonce={nonce}")
    assert status == 200, body
    assert headers["Content-Type"] == "application/json"
    doc = json.loads(body)
    assert doc["format"] == "berth-attestation-v1"
    assert doc["measurement"] == dep["measurement"] and doc["deployment"] == dep["id"]
    assert doc["repo"] == c["source"]["repo"] and doc["tag"] == "v1"
    commit = subprocess.run(["git", "-C", repo.dir, "rev-parse", "v1^{commit}"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert doc["commit"] == commit == dep["commit"]
    assert doc["config_sha256"] == dep["config_sha256"] and doc["images"] == dep["images"]
    assert doc["debug"] is False and doc["isolation"] == dep["isolation"]
    assert doc["runtime"] == {dep["isolation"]: host["runtimes"][dep["isolation"]]}
    assert doc["nonce"] == nonce and doc["tee"] == "none"
    assert doc["host_key"] == host["host_key"]
    assert abs(doc["time"] - time.time()) < 120
    assert doc["tls_public_key_sha256"] is None  # plain HTTP: no certificate
    # No attested keys declared: none in the document, [] in the API.
    assert "attested_keys" not in doc and c["attested_keys"] == []
    check_signature(doc, host["host_key"])
    # One changed byte and the signature no longer holds.
    forged = dict(doc, tag="v2")
    with pytest.raises(InvalidSignature):
        check_signature(forged, host["host_key"])
    # Over HTTPS: the key of this connection's certificate.
    status, body, der = attest_https(berthd, "web", nonce.upper())
    assert status == 200, body
    doc = json.loads(body)
    assert doc["nonce"] == nonce  # lower-cased
    assert doc["tls_public_key_sha256"] == spki_sha256(der)
    check_signature(doc, host["host_key"])
    # Answered by the router before shim.paths (which allow /*): the app
    # answers every other path with its text.
    assert not berthd.get("web", "/.well-known/other")[1].startswith(b"{")
    assert berthd.get("web", "/")[1] == b"hello v1\n"


def test_bad_nonces_get_400_with_a_sentence(berthd, repo):
    deploy(berthd, "web", repo=repo.dir, tag="v1")
    for q in ("", "?nonce=", "?nonce=abc", "?nonce=" + "zz" * 16, "?nonce=" + "a" * 31,
              "?nonce=" + "ab" * 65, "?x=1"):
        status, body, _ = berthd.get("web", ATTEST + q)
        assert status == 400 and b"nonce" in body, (q, status, body)
    status, body, _ = berthd.get("web", ATTEST + "?x=1&nonce=" + "ab" * 16)
    assert status == 200, body


def test_the_document_follows_a_blue_green_switch(berthd, repo):
    deploy(berthd, "web", repo=repo.dir, tag="v1")
    host = host_key_of(berthd)
    nonce = os.urandom(16).hex()
    before = json.loads(berthd.get("web", f"{ATTEST}?nonce={nonce}")[1])
    assert before["tag"] == "v1"
    status, body = berthd.call("POST", "/containers/web/updates", {"kind": "tag", "tag": "v2"})
    assert status == 202, body
    # While it switches, each document is of the version that answers then,
    # always signed, never a mix.
    seen = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status, raw, _ = berthd.get("web", f"{ATTEST}?nonce={nonce}")
        if status == 200:
            doc = json.loads(raw)
            check_signature(doc, host["host_key"])
            seen.append((doc["tag"], doc["deployment"], doc["measurement"]))
            if doc["tag"] == "v2":
                break
        time.sleep(0.05)
    c = berthd.wait_update_end("web")
    assert c["update"]["status"] == "ready"
    after = json.loads(berthd.get("web", f"{ATTEST}?nonce={nonce}")[1])
    assert after["tag"] == "v2" and after["deployment"] == c["deployment"]["id"]
    assert after["measurement"] == c["deployment"]["measurement"] != before["measurement"]
    assert set(seen) <= {(before["tag"], before["deployment"], before["measurement"]),
                         (after["tag"], after["deployment"], after["measurement"])}


def mitm_once(listen, cert_pem, upstream_port, upstream_ctx, server_hostname):
    """A TLS server holding cert_pem (a valid certificate of the name from
    another CA) that relays one request to berth-router over a TLS connection
    of its own: what a verifier must catch, because the document it gets
    attests another connection's key."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_pem)

    def run():
        conn, _ = listen.accept()
        with ctx.wrap_socket(conn, server_side=True) as s:
            req = b""
            while b"\r\n\r\n" not in req:
                req += s.recv(4096)
            with socket.create_connection(("127.0.0.1", upstream_port), timeout=10) as raw:
                with upstream_ctx.wrap_socket(raw, server_hostname=server_hostname) as up:
                    up.sendall(req)
                    while True:
                        data = up.recv(65536)
                        if not data:
                            break
                        s.sendall(data)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_berth_verify_passes_and_fails_for_each_reason(berthd, repo, tmp_path):
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    deploy(berthd, "web", repo=repo.dir, tag="v1")
    ca = berthd.ca_file()
    key = host_key_of(berthd)["host_key"]
    url = f"https://{berthd.host('web')}:{berthd.tls_port}"

    def verify(*args):
        return berth("verify", url, *args, env=cache)

    rc, out, err = verify("--repo", repo.dir, "--tag", "v1", "--ca", ca, "--host-key", key)
    assert rc == 0, err
    assert "verified" in out and "(as expected)" in out
    rc, out, _ = verify("--repo", repo.dir, "--tag", "v1", "--ca", ca, "--json")
    report = json.loads(out)
    assert rc == 0 and report["ok"] is True and report["code"] == 0
    assert report["document"]["measurement"] == report["expected_measurement"]
    measured = berthd.container("web")["deployment"]["measurement"]
    assert verify("--measurement", measured, "--ca", ca)[0] == 0
    # Another tag: another measurement.
    rc, _, err = verify("--repo", repo.dir, "--tag", "v2", "--ca", ca)
    assert rc == 9 and "not the expected" in err, err
    # Another host's key.
    rc, _, err = verify("--ca", ca, "--host-key", "00" * 32)
    assert rc == 6 and "host key" in err, err
    # A certificate berth's CA did not issue: no document at all.
    rc, _, err = verify()
    assert rc == 3 and "TLS handshake" in err, err
    # Usage mistakes.
    assert berth("verify", "http://" + berthd.host("web"))[0] == 2
    assert verify("--repo", repo.dir)[0] == 2
    # A certificate that is not the attested one: a second berthd holds a
    # valid certificate of the same host name, from its own CA, which the
    # verifier also trusts; its relay gets the real document, which attests
    # the real router's key.
    other = Berthd()
    try:
        deploy(other, "web", repo=repo.dir, tag="v1")
        both = str(tmp_path / "both-ca.pem")
        with open(both, "w") as f:
            f.write(open(ca).read() + open(other.ca_file()).read())
        pem = os.path.join(other.state, "tls", other.host("web") + ".pem")
        listen = socket.create_server(("127.0.0.1", 0))
        port = listen.getsockname()[1]
        t = mitm_once(listen, pem, berthd.tls_port, berthd.tls_context(), berthd.host("web"))
        rc, _, err = berth("verify", f"https://{berthd.host('web')}:{port}", "--ca", both,
                           "--host-key", key, env=cache)
        t.join(10)
        listen.close()
        assert rc == 8 and "not the attested one" in err, err
    finally:
        other.stop()
