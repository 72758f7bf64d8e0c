"""Attested keys and the local attestation socket with real enclaves
(docs/verification.md#attested-keys): a key pair made at each boot, its
private part only in the granted container at /run/tinfoil/keys/<id>/, owned
by the key's uid, its public part in the signed document; the private part
in no log, no state-dir file, no API answer; `attestation: true` gives the
container its own signed document over /run/tinfoil/attestation/attestation.sock,
which a hostile client cannot use to hold berthd."""
import base64
import glob
import hashlib
import json
import os
import signal
import socket
import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from test_attestation import ATTEST, berth, check_signature, host_key_of
from tls_helpers import http

SOCK = "/run/tinfoil/attestation/attestation.sock"

# app (uid 1000:1001) holds sign (ed25519) and p256 (ecdsa-p256) and the
# socket; side (root) holds kex (x25519). Each copies what it sees into its
# tmpfs /srv (never its rootfs, which is in the state directory) and serves
# it: app on the upstream port, side on 8081 behind app's /cgi-bin/side
# (nc, not wget: busybox's wget reads fail with EAGAIN on gVisor's host
# network, test_lifecycle_gvisor.py says).
APP = r"""
mkdir -p /srv/cgi-bin /srv/k; echo ok > /srv/health
for k in sign p256; do cat /run/tinfoil/keys/$k/private_key.pem > /srv/k/$k.pem; done
stat -c '%u:%g %a' /run/tinfoil/keys/sign/private_key.pem /run/tinfoil/keys/sign \
  /run/tinfoil/keys/sign/public_key.pem > /srv/owner
ls /run/tinfoil/keys > /srv/keys
printf '#!/bin/sh\necho "Content-Type: application/json"\necho\nexec /bin/uds-get @SOCK@ "@ATTEST@?$QUERY_STRING"\n' \
  > /srv/cgi-bin/attest
printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\nprintf "GET /view HTTP/1.0\\r\\n\\r\\n" | /bin/busybox nc 127.0.0.1 8081\n' \
  > /srv/cgi-bin/side
chmod 755 /srv/cgi-bin/attest /srv/cgi-bin/side
exec httpd -f -p 8080 -h /srv
""".replace("@SOCK@", SOCK).replace("@ATTEST@", ATTEST)
SIDE = r"""
{ ls /run/tinfoil/keys; stat -c '%u:%g %a' /run/tinfoil/keys/kex/private_key.pem
  test -e /run/tinfoil/keys/sign && echo sign-visible || echo sign-absent
  test -e /run/tinfoil/attestation && echo socket-visible || echo socket-absent; } > /srv/view
exec httpd -f -p 8081 -h /srv
"""


def keys_config(image, marker="a"):
    return "\n".join([
        "cvm-version: 0.7.5",
        "attested-keys:",
        "  - id: sign", "    key: ed25519", "    uid: 1000", "    gid: 1001",
        "  - id: p256", "    key: ecdsa-p256", "    uid: 1000", "    gid: 1001",
        "  - id: kex", "    key: x25519", "    uid: 2000", "    gid: 2000",
        "containers:",
        '  - name: "app"', f'    image: "{image}"', '    user: "1000:1001"',
        "    keys: [sign, p256]", "    attestation: true",
        '    tmpfs: {"/srv": "size=1m,mode=1777,exec"}',
        f"    env: [{{MARK: {marker}}}]",
        "    entrypoint: " + json.dumps(["/bin/sh", "-c", APP]),
        '  - name: "side"', f'    image: "{image}"', "    keys: [kex]",
        '    tmpfs: {"/srv": "size=1m"}',
        "    entrypoint: " + json.dumps(["/bin/sh", "-c", SIDE]),
        "shim:", "  upstream-port: 8080", "  paths:", '    - "/*"', '    - "/health"',
        "deploy:", "  min-healthy-time: 1s", "  health-timeout: 30s", "  drain-timeout: 3s",
    ]) + "\n"


def page(b, path, status=200):
    got, body, _ = b.get("keys", path, timeout=15)
    assert got == status, (path, got, body)
    return body


def side_view(b):
    """What side sees, once it serves (it is not behind the health gate):
    the body of its answer, which app's CGI passes on whole."""
    deadline = time.monotonic() + 30
    while True:
        view = page(b, "/cgi-bin/side").partition(b"\r\n\r\n")[2]
        if view or time.monotonic() > deadline:
            return view
        time.sleep(0.2)


def doc_of_router(b):
    nonce = os.urandom(16).hex()
    doc = json.loads(page(b, f"{ATTEST}?nonce={nonce}"))
    check_signature(doc, host_key_of(b)["host_key"])
    assert doc["nonce"] == nonce
    return doc


def spki_b64(private_pem):
    key = serialization.load_pem_private_key(private_pem, None)
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, base64.b64encode(der).decode()


def check_keys_match(b, doc):
    """The private keys app holds are those whose public parts doc lists:
    derived, and a signature made with each checks with the listed key."""
    listed = {k["id"]: k for k in doc["attested_keys"]}
    assert sorted(listed) == ["kex", "p256", "sign"], doc["attested_keys"]
    assert [listed[i]["key"] for i in ("sign", "p256", "kex")] == \
        ["ed25519", "ecdsa-p256", "x25519"]
    pems = {}
    for kid in ("sign", "p256"):
        pems[kid] = page(b, f"/k/{kid}.pem")
        key, spki = spki_b64(pems[kid])
        assert spki == listed[kid]["public_key"], kid
        pub = serialization.load_der_public_key(base64.b64decode(listed[kid]["public_key"]))
        msg = b"attested by " + kid.encode()
        if kid == "sign":
            pub.verify(key.sign(msg), msg)
        else:
            pub.verify(key.sign(msg, ec.ECDSA(hashes.SHA256())), msg,
                       ec.ECDSA(hashes.SHA256()))
    return pems


def secret_forms(pems):
    """What a leak of the private keys would look like: the PEM's base64
    lines, and the DER as hex."""
    forms = []
    for pem in pems.values():
        body = b"".join(l for l in pem.splitlines() if not l.startswith(b"-----"))
        forms.append(body)
        forms.append(base64.b64decode(body).hex().encode())
    return forms


def assert_nowhere(b, pems, api_paths):
    forms = secret_forms(pems)
    for root, _, files in os.walk(b.state):
        for f in files:
            p = os.path.join(root, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            with open(p, "rb") as fh:
                data = fh.read()
            for s in forms:
                assert s not in data, f"a private key is in {p}"
    for path in api_paths:
        status, data, _ = http("GET", b.api + path, token=b.token)
        assert status == 200, (path, status)
        for s in forms:
            assert s not in data, f"a private key is in GET {path}"


def socket_path(b):
    run = "/run/berth/" + hashlib.sha256(b.state.encode()).hexdigest()[:12]
    found = glob.glob(f"{run}/bundles/*/app/tinfoil/attestation/attestation.sock")
    assert len(found) == 1, found
    return found[0]


def local_doc(b):
    nonce = os.urandom(32).hex()
    doc = json.loads(page(b, f"/cgi-bin/attest?nonce={nonce}"))
    check_signature(doc, host_key_of(b)["host_key"])
    assert doc["nonce"] == nonce
    return doc


def deploy_keys(b, registry):
    """Container keys of keys_config(), running; its detail."""
    config = keys_config(registry.images["keys:v1"])
    status, c = b.call("POST", "/containers", {"name": "keys", "config": config})
    assert status == 202, c
    return b.wait_status("keys", "running")


def test_attested_keys_reach_only_their_container_and_the_document(berthd, registry):
    b = berthd
    image = registry.images["keys:v1"]
    dep = deploy_keys(b, registry)["deployment"]

    # The granted container's uid owns its keys; 0400, the directory 0500.
    assert page(b, "/owner") == b"1000:1001 400\n1000:1001 500\n1000:1001 444\n"
    assert page(b, "/keys") == b"p256\nsign\n"
    # The other container sees only its own key, and no socket.
    assert side_view(b) == \
        b"kex\n2000:2000 400\nsign-absent\nsocket-absent\n"

    doc = doc_of_router(b)
    assert doc["measurement"] == dep["measurement"] and doc["deployment"] == dep["id"]
    pems = check_keys_match(b, doc)
    # The API's container object lists the same public parts, and
    # `berth container get` shows them.
    assert b.container("keys")["attested_keys"] == doc["attested_keys"]
    rc, out, err = berth("container", "get", "keys",
                         env={"BERTH_URL": b.url, "BERTH_TOKEN": b.token})
    assert rc == 0, err
    assert [line.split() for line in out.splitlines() if line.startswith("key:")] == \
        [["key:", k["id"], k["key"], k["public_key"]] for k in doc["attested_keys"]]

    # The container's own document over the local socket: signed by the
    # host key, this deployment's, the same keys, no TLS key.
    local = local_doc(b)
    assert local["measurement"] == dep["measurement"] and local["deployment"] == dep["id"]
    assert local["attested_keys"] == doc["attested_keys"]
    assert local["tls_public_key_sha256"] is None
    # A document with a changed key does not check.
    forged = dict(local, attested_keys=[dict(local["attested_keys"][0], public_key="AAAA")])
    with pytest.raises(InvalidSignature):
        check_signature(forged, host_key_of(b)["host_key"])

    # The private parts: in no file of the state directory (logs, store,
    # enclave records), no API answer.
    assert_nowhere(b, pems, ["/containers/keys", "/containers/keys/events",
                             "/containers/keys/updates",
                             "/host"])
    assert all(s not in b.read_log().encode() for s in secret_forms(pems))

    pems2 = blue_green(b, image, doc)
    assert_nowhere(b, pems2, ["/containers/keys"])


def blue_green(b, image, doc):
    """A blue-green update is a new enclave: new keys, and the documents,
    the router's and the container's own, name the live version's. The
    private keys of the new version."""
    dep = doc["deployment"]
    status, u = b.call("POST", "/containers/keys/updates",
                       {"kind": "edit-config", "config": keys_config(image, "b")})
    assert status == 202, u
    c = b.wait_update_end("keys")
    assert c["update"]["status"] == "ready", c["update"]
    doc2 = doc_of_router(b)
    assert doc2["deployment"] == c["deployment"]["id"] != dep
    old = {k["id"]: k["public_key"] for k in doc["attested_keys"]}
    new = {k["id"]: k["public_key"] for k in doc2["attested_keys"]}
    assert all(old[k] != new[k] for k in old), (old, new)
    pems2 = check_keys_match(b, doc2)
    local = local_doc(b)
    assert local["attested_keys"] == doc2["attested_keys"]
    assert local["deployment"] == doc2["deployment"]
    assert b.container("keys")["attested_keys"] == doc2["attested_keys"]
    return pems2


def test_a_hostile_client_on_the_socket_holds_nothing(berthd, registry):
    b = berthd
    deploy_keys(b, registry)
    path = socket_path(b)
    assert local_doc(b)["attested_keys"]

    def api_fast():
        t = time.monotonic()
        assert b.call("GET", "/containers/keys")[0] == 200
        assert time.monotonic() - t < 2

    # A huge request: refused at its bound, the connection closed.
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(10)
    try:
        s.sendall(b"GET " + ATTEST.encode() + b"?nonce=" + b"ab" * 16 + b" HTTP/1.1\r\n" +
                  b"X: " + b"y" * (1 << 20))
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    except ConnectionResetError:
        pass
    s.close()
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]

    # Slow clients and many of them: each socket holds a few at once, each
    # for a few seconds at most; the rest wait in the kernel's backlog or
    # are refused. berthd's API answers throughout.
    held = []
    for _ in range(200):
        s = socket.socket(socket.AF_UNIX)
        s.setblocking(False)
        try:
            s.connect(path)
        except (BlockingIOError, ConnectionRefusedError):
            s.close()
            continue
        s.send(b"GET " + ATTEST.encode())  # and never the rest
        held.append(s)
    # berthd took 8 of them, the kernel's backlog queues 16 more: the rest
    # were refused at connect.
    assert 8 <= len(held) <= 40, len(held)
    api_fast()
    t0 = time.monotonic()
    # Every held connection is closed by berthd within its deadline (5s),
    # the queued ones as their turn comes.
    for s in held:
        s.setblocking(True)
        s.settimeout(30)
        try:
            assert s.recv(4096) == b""
        except ConnectionResetError:
            pass
        s.close()
        api_fast()
    assert time.monotonic() - t0 < 30
    # Then the container asks again and is answered.
    assert local_doc(b)["attested_keys"]
    # Requests that are not the document's get a sentence, not a document.
    for req, want in [(b"POST " + ATTEST.encode() + b" HTTP/1.1\r\n\r\n", b" 405 "),
                      (b"GET /other HTTP/1.1\r\n\r\n", b" 404 "),
                      (b"GET " + ATTEST.encode() + b"?nonce=12 HTTP/1.1\r\n\r\n", b" 400 ")]:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.settimeout(10)
        s.sendall(req)
        answer = s.recv(4096)
        s.close()
        assert want in answer.split(b"\r\n")[0], answer


def test_the_socket_comes_back_after_a_restart_of_berthd(berthd, registry):
    socket_comes_back(berthd, registry)


def socket_comes_back(b, registry):
    """berthd restarted: the container's socket answers again, the same
    enclave's keys."""
    deploy_keys(b, registry)
    before = local_doc(b)
    b.kill(signal.SIGTERM)
    b.start()
    b.wait_status("keys", "running")
    deadline = time.monotonic() + 30
    while True:
        got, body, _ = b.get("keys", "/cgi-bin/attest?nonce=" + os.urandom(16).hex())
        if got == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got == 200, body
    after = json.loads(body)
    check_signature(after, host_key_of(b)["host_key"])
    # The same enclave: the same keys.
    assert after["attested_keys"] == before["attested_keys"]


def host_uds(b):
    """For each container of b's gVisor enclaves, whether its runsc
    processes (the sandbox and its gofer) were started with
    --host-uds=open, from their command lines."""
    run = "/run/berth/" + hashlib.sha256(b.state.encode()).hexdigest()[:12]
    got = {}
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
            continue
        log = [a for a in argv if a.startswith(f"--log={run}/bundles/")]
        if argv[0].startswith("runsc") and log:
            container = log[0].split("/")[-2]  # bundles/<enclave>/<container>/oci.log
            got.setdefault(container, set()).add("--host-uds=open" in argv)
    return got


def test_keys_and_the_socket_under_gvisor(registry):
    """gVisor keeps ids its own: the key is owned by its uid as it is. The
    sandbox of a container with `attestation: true` may connect to the
    socket bound into it (runsc --host-uds=open for that sandbox alone); the
    other container's sandbox has no socket. A blue-green update gives the
    new version new keys and its own document."""
    from tls_helpers import Berthd
    b = Berthd(args=["--runtime", "runsc"])
    try:
        c = deploy_keys(b, registry)
        assert c["deployment"]["isolation"] == "gvisor"
        assert page(b, "/owner") == b"1000:1001 400\n1000:1001 500\n1000:1001 444\n"
        assert side_view(b) == b"kex\n2000:2000 400\nsign-absent\nsocket-absent\n"
        doc = doc_of_router(b)
        check_keys_match(b, doc)
        local = local_doc(b)
        assert local["deployment"] == doc["deployment"] == c["deployment"]["id"]
        assert local["attested_keys"] == doc["attested_keys"]
        assert local["isolation"] == "gvisor" and local["tls_public_key_sha256"] is None
        # The flag is app's sandbox's alone.
        assert host_uds(b) == {"app": {True}, "side": {False}}
        blue_green(b, registry.images["keys:v1"], doc)
    finally:
        b.stop()


def test_the_socket_comes_back_after_a_restart_of_berthd_under_gvisor(registry):
    """The new socket, bound in the same directory, reaches the sandbox
    through its gofer as the first did."""
    from tls_helpers import Berthd
    b = Berthd(args=["--runtime", "runsc"])
    try:
        socket_comes_back(b, registry)
    finally:
        b.stop()
