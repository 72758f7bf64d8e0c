"""HTTPS through berth-router with berth's local CA: a certificate per host
picked by SNI, GET /ca.pem and `berth ca` for curl --cacert, the CA key's
mode, refused handshakes, a blue-green update under HTTPS load, TLS off."""
import os
import signal
import socket
import ssl
import stat
import subprocess
import time

import pytest

from tls_helpers import BUILD, Berthd, Load, config_text, free_port, http


def deploy(b, name, **body):
    status, c = b.call("POST", "/containers", dict(name=name, **body))
    assert status == 202, c
    return b.wait_status(name, "running")


def s_client(port, servername=None, cafile=None):
    """openssl s_client's handshake: (exit status, output)."""
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief"]
    if servername:
        cmd += ["-servername", servername]
    else:
        cmd += ["-noservername"]
    if cafile:
        cmd += ["-CAfile", cafile, "-verify_return_error"]
    out = subprocess.run(cmd, input=b"", capture_output=True, timeout=20)
    return out.returncode, (out.stdout + out.stderr).decode(errors="replace")


def san(cert):
    return [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]


def assert_no_key_material(b):
    """No private key in berthd's or the router's log."""
    for log in ("berthd.log", "router.log"):
        path = os.path.join(b.state, log)
        if os.path.exists(path):
            assert "PRIVATE KEY" not in open(path, errors="replace").read(), log


def test_two_containers_get_their_own_certificates_by_sni(berthd, repo):
    deploy(berthd, "web", repo=repo.dir, tag="v1")
    deploy(berthd, "api", repo=repo.dir, tag="v2")
    seen = {}
    for name, body in (("web", b"hello v1\n"), ("api", b"hello v2\n")):
        c = berthd.container(name)
        host = berthd.host(name)
        assert c["tls_url"] == f"https://{host}:{berthd.tls_port}"
        # Python's ssl checks the chain against berth's CA and the name.
        status, got, cert = berthd.https(name)
        assert status == 200 and got == body
        assert san(cert) == [host]
        seen[name] = cert["serialNumber"]
        # openssl s_client, verifying: the same host's certificate.
        rc, out = s_client(berthd.tls_port, host, berthd.ca_file())
        assert rc == 0 and f"CN = {host}" in out, out
    assert seen["web"] != seen["api"]
    # One file per host, 0600, in a directory only berthd's user enters.
    tls = os.path.join(berthd.state, "tls")
    assert stat.S_IMODE(os.stat(tls).st_mode) == 0o700
    for name in ("web", "api"):
        mode = os.stat(os.path.join(tls, berthd.host(name) + ".pem")).st_mode
        assert stat.S_IMODE(mode) == 0o600
    # No private key reached a log or the API.
    assert_no_key_material(berthd)
    status, items = berthd.call("GET", "/containers")
    assert status == 200 and "PRIVATE KEY" not in str(items)


def test_ca_pem_berth_ca_and_curl_cacert(berthd, repo):
    deploy(berthd, "web", repo=repo.dir, tag="v1")
    status, pem, headers = http("GET", berthd.url + "/ca.pem")  # no token
    assert status == 200 and pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert b"PRIVATE" not in pem
    out = subprocess.run([os.path.join(BUILD, "berth"), "--url", berthd.url, "ca"],
                         capture_output=True, timeout=20, env=dict(os.environ, BERTH_TOKEN=""))
    assert out.returncode == 0, out.stderr
    assert out.stdout == pem
    cafile = os.path.join(berthd.state, "curl-ca.pem")
    with open(cafile, "wb") as f:
        f.write(out.stdout)
    host = berthd.host("web")
    url = berthd.container("web")["tls_url"] + "/"
    curl = subprocess.run(["curl", "-sS", "--noproxy", "*", "--cacert", cafile, "--resolve",
                           f"{host}:{berthd.tls_port}:127.0.0.1", url],
                          capture_output=True, timeout=20)
    assert curl.returncode == 0 and curl.stdout == b"hello v1\n", curl.stderr
    # Without berth's CA, curl refuses the certificate.
    curl = subprocess.run(["curl", "-sS", "--noproxy", "*", "--resolve",
                           f"{host}:{berthd.tls_port}:127.0.0.1", url],
                          capture_output=True, timeout=20)
    assert curl.returncode == 60, curl
    # The CA's key: 0600, in a 0700 directory.
    ca_dir = os.path.join(berthd.state, "ca")
    assert stat.S_IMODE(os.stat(ca_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(ca_dir, "ca.key")).st_mode) == 0o600
    assert open(os.path.join(ca_dir, "ca.pem"), "rb").read() == pem


def test_unknown_names_and_plain_http_on_the_tls_port(berthd, repo):
    deploy(berthd, "web", repo=repo.dir, tag="v1")
    ca = berthd.ca_file()
    rc, out = s_client(berthd.tls_port, "nope.default.containers.localhost", ca)
    assert rc != 0 and "unrecognized name" in out, out
    rc, out = s_client(berthd.tls_port, None, ca)  # no SNI at all
    assert rc != 0 and "unrecognized name" in out, out
    # Python's client sees the same alert.
    ctx = berthd.tls_context()
    with socket.create_connection(("127.0.0.1", berthd.tls_port), timeout=5) as raw:
        with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):
            ctx.wrap_socket(raw, server_hostname="other.example")
    # Plain HTTP on the TLS port: the connection is closed, the router lives.
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", berthd.tls_port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: web.default.containers.localhost\r\n\r\n")
            s.settimeout(5)
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            assert not data.startswith(b"HTTP/"), data
    # A handshake cut in the middle, and garbage.
    with socket.create_connection(("127.0.0.1", berthd.tls_port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    with socket.create_connection(("127.0.0.1", berthd.tls_port), timeout=5) as s:
        s.sendall(os.urandom(2048))
    pid = berthd.router_pid()
    os.kill(pid, 0)  # still running
    assert berthd.https("web")[:2] == (200, b"hello v1\n")
    assert berthd.get("web")[:2] == (200, b"hello v1\n")  # plain HTTP unchanged


def test_forwarded_proto_is_https_over_tls(berthd, registry):
    deploy(berthd, "env", config=config_text(registry.images["env:v1"]))
    status, body, _ = berthd.https("env", "/cgi-bin/env")
    assert status == 200
    text = body.decode()
    assert "HTTP_X_FORWARDED_PROTO=https" in text and "proto=https" in text, text
    status, body, _ = berthd.get("env", "/cgi-bin/env")
    assert "HTTP_X_FORWARDED_PROTO=http\n" in body.decode()


def test_blue_green_under_https_load_loses_no_request(berthd, repo):
    deploy(berthd, "web", repo=repo.dir, tag="v1")
    load = Load(berthd, "web", tls=True)
    time.sleep(0.5)
    status, u = berthd.call("POST", "/containers/web/updates", {"kind": "tag", "tag": "v2"})
    assert status == 202 and u["strategy"] == "blue-green", u
    c = berthd.wait_update_end("web")
    time.sleep(0.5)
    statuses, errors = load.stop()
    assert errors == [] and set(statuses) == {200}, (statuses, errors[:3])
    assert load.bodies.get(b"hello v1\n", 0) > 0 and load.bodies.get(b"hello v2\n", 0) > 0
    assert c["update"]["status"] == "ready"
    assert berthd.https("web")[1] == b"hello v2\n"


def test_a_restart_keeps_the_ca_and_the_certificates(repo):
    b = Berthd()
    try:
        deploy(b, "web", repo=repo.dir, tag="v1")
        ca = open(os.path.join(b.state, "ca", "ca.pem"), "rb").read()
        path = os.path.join(b.state, "tls", b.host("web") + ".pem")
        before = open(path, "rb").read()
        serial = b.https("web")[2]["serialNumber"]
        # berthd and its router both go; the next berthd starts a new router.
        b.kill(signal.SIGTERM)
        os.kill(b.router_pid(), signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.kill(b.router_pid(), 0)
                time.sleep(0.1)
            except ProcessLookupError:
                break
        b.start()
        b.wait_status("web", "running")
        deadline = time.monotonic() + 30
        while True:
            try:
                got = b.https("web")
                break
            except (OSError, ssl.SSLError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert got[:2] == (200, b"hello v1\n")
        assert got[2]["serialNumber"] == serial
        assert open(os.path.join(b.state, "ca", "ca.pem"), "rb").read() == ca
        assert open(path, "rb").read() == before
    finally:
        b.stop()


def test_tls_off(repo):
    b = Berthd(tls=False)
    try:
        deploy(b, "web", repo=repo.dir, tag="v1")
        c = b.container("web")
        assert c["tls_url"] is None and c["url"].startswith("http://")
        assert http("GET", b.url + "/ca.pem")[0] == 404
        assert not os.path.exists(os.path.join(b.state, "ca"))
        assert not os.path.exists(os.path.join(b.state, "tls"))
        cmdline = open(f"/proc/{b.router_pid()}/cmdline", "rb").read().split(b"\0")
        assert b"--tls-listen" not in cmdline
        assert b.get("web")[:2] == (200, b"hello v1\n")
        out = subprocess.run([os.path.join(BUILD, "berth"), "--url", b.url, "ca"],
                             capture_output=True, timeout=20)
        assert out.returncode == 1 and b"TLS is off" in out.stderr, out
    finally:
        b.stop()


def test_acme_without_a_directory_is_refused_in_a_sentence():
    for extra, want in (([], b"--tls-certs acme needs --acme-directory URL"),
                        (["--acme-directory", "http://127.0.0.1:1/dir"],
                         b"is not an https:// URL")):
        out = subprocess.run([os.path.join(BUILD, "berthd"), "--tls-certs", "acme", *extra,
                              "--state-dir", "/nonexistent/never-made"],
                             capture_output=True, timeout=20)
        assert out.returncode != 0
        assert want in out.stderr + out.stdout, out
        assert not os.path.exists("/nonexistent/never-made")


def test_router_tls_listen_needs_a_directory():
    """berth-router alone: --tls-listen without --tls-dir is refused."""
    port = free_port()
    out = subprocess.run([os.path.join(BUILD, "berth-router"), "--listen",
                          f"127.0.0.1:{free_port()}", "--tls-listen", f"127.0.0.1:{port}"],
                         capture_output=True, timeout=20)
    assert out.returncode != 0 and b"--tls-listen needs --tls-dir" in out.stderr


def test_container_certificate_is_the_one_served(berthd, repo):
    """container.certificate: the issuer, not-after and the key's SHA-256 of
    what the router serves on the container's host (the attestation
    document's tls_public_key_sha256); null for a host without one."""
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    deploy(berthd, "web", repo=repo.dir, tag="v1")
    c = berthd.container("web")
    got = c["certificate"]
    assert set(got) == {"issuer", "not_after", "public_key_sha256"}, got
    ctx = berthd.tls_context()
    with socket.create_connection(("127.0.0.1", berthd.tls_port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=berthd.host("web")) as s:
            cert = x509.load_der_x509_certificate(s.getpeercert(binary_form=True))
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    assert got["public_key_sha256"] == hashlib.sha256(spki).hexdigest()
    assert got["issuer"] == cert.issuer.rfc4514_string()
    assert got["not_after"] == cert.not_valid_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert got["issuer"].startswith("CN=berth local CA ")
    # The list has it too.
    status, lst = berthd.call("GET", "/containers")
    assert status == 200
    assert [x["certificate"] for x in lst if x["name"] == "web"] == [got]
