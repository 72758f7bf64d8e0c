"""Fixtures of the image system tests: a real registry (Debian's docker-registry,
distribution 2.8) on a free loopback port, anonymous, with htpasswd basic auth,
or with token auth backed by a small stdlib token server that signs RS256 JWTs
with openssl; a pusher that uploads hand-made images through the distribution
API; and the berth-image driver.

Every registry runs from a temp dir (storage, config, log) and is stopped by
its PID at the end of the session.
"""
import base64
import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
import warnings

with warnings.catch_warnings():  # Debian 12's Python 3.11 still has it
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

import pytest
import requests

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import suite_checks  # noqa: E402  (tests/system/suite_checks.py)
from berth_helpers import free_port  # noqa: E402,F401 (below the ephemeral range)
from suite_checks import (  # noqa: E402,F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)

BUILD = os.environ.get("BERTH_BUILD", os.path.join(os.path.dirname(__file__), "../../../build-asan"))
DRIVER = os.path.join(BUILD, "tests", "berth-image")
SERVICE = "berth-test-registry"
ISSUER = "berth-test-issuer"
USER, PASSWORD = "berth", "s3cret-pass"

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- images made by hand -------------------------------------------------------

def layer(entries, compress=True):
    """A layer tar from (name, kind, payload) entries: kind 'file' (payload
    bytes), 'dir', 'symlink' or 'hardlink' (payload: the target)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if kind == "file":
                ti.size = len(payload)
                ti.mode = 0o644
                tar.addfile(ti, io.BytesIO(payload))
                continue
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, payload
            elif kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, payload
            tar.addfile(ti)
    data = raw.getvalue()
    return gzip.compress(data, mtime=0) if compress else data


def image_config(cfg=None, arch="amd64"):
    return json.dumps({
        "architecture": arch, "os": "linux",
        "config": cfg if cfg is not None else {"Entrypoint": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": []},
    }).encode()


class Registry:
    """A running docker-registry and a pusher speaking its API."""

    def __init__(self, root, port, proc, auth, token_server=None):
        self.root = root
        self.addr = "127.0.0.1:%d" % port
        self.url = "http://" + self.addr
        self.proc = proc
        self.auth = auth
        self.token_server = token_server
        self.storage = os.path.join(root, "storage")
        self.log = os.path.join(root, "registry.log")

    def auth_args(self, user=USER, password=PASSWORD):
        return ["--auth", "%s=%s:%s" % (self.addr, user, password)]

    def _headers(self, name):
        if self.auth == "basic":
            return {"Authorization": "Basic " + base64.b64encode(
                ("%s:%s" % (USER, PASSWORD)).encode()).decode()}
        if self.auth == "token":
            return {"Authorization": "Bearer " + self.token_server.mint(
                USER, "repository:%s:pull,push" % name)}
        return {}

    def push_blob(self, name, data):
        h = self._headers(name)
        r = requests.post("%s/v2/%s/blobs/uploads/" % (self.url, name), headers=h, timeout=10)
        assert r.status_code == 202, r.text
        loc = urllib.parse.urljoin(self.url, r.headers["Location"])
        digest = sha256(data)
        sep = "&" if "?" in loc else "?"
        r = requests.put(loc + sep + "digest=" + digest, data=data,
                         headers=dict(h, **{"Content-Type": "application/octet-stream"}),
                         timeout=30)
        assert r.status_code == 201, r.text
        return digest

    def push_manifest(self, name, ref, doc, media_type):
        body = json.dumps(doc).encode() if not isinstance(doc, bytes) else doc
        r = requests.put("%s/v2/%s/manifests/%s" % (self.url, name, ref), data=body,
                         headers=dict(self._headers(name), **{"Content-Type": media_type}),
                         timeout=10)
        assert r.status_code == 201, r.text
        return sha256(body)

    def push_image(self, name, tag, layers, config=None, docker=False, arch="amd64"):
        """Pushes an image of the given layer blobs; returns (manifest digest,
        manifest document)."""
        cfg = image_config(config, arch)
        doc = {
            "schemaVersion": 2,
            "mediaType": MT_DOCKER_MANIFEST if docker else MT_OCI_MANIFEST,
            "config": {"mediaType": MT_DOCKER_CONFIG if docker else MT_OCI_CONFIG,
                       "digest": self.push_blob(name, cfg), "size": len(cfg)},
            "layers": [{"mediaType": MT_DOCKER_LAYER if docker else
                        (MT_OCI_LAYER_GZ if l[:2] == b"\x1f\x8b" else MT_OCI_LAYER),
                        "digest": self.push_blob(name, l), "size": len(l)} for l in layers],
        }
        mt = doc["mediaType"]
        return self.push_manifest(name, tag, doc, mt), doc

    def blob_data_path(self, digest):
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.storage, "docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data")

    def resize(self, digest, delta):
        """Appends delta bytes to a stored blob, or cuts -delta bytes off it."""
        path = self.blob_data_path(digest)
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            if delta > 0:
                f.seek(size)
                f.write(os.urandom(delta))
            else:
                f.truncate(size + delta)

    def tamper(self, digest):
        """Flips a byte of a stored blob, keeping its size."""
        path = self.blob_data_path(digest)
        with open(path, "r+b") as f:
            data = bytearray(f.read())
            data[len(data) // 2] ^= 0xFF
            f.seek(0)
            f.write(data)

    def blob_gets(self, name):
        """How many blob GETs of repository name the registry served."""
        with open(self.log, errors="replace") as f:
            return sum(1 for line in f if '"GET /v2/%s/blobs/' % name in line)


class TokenServer:
    """The token service of distribution's token auth: checks basic
    credentials and answers {"token": JWT} signed with key.pem (RS256), the
    certificate travelling in the x5c header."""

    def __init__(self, root):
        self.key = os.path.join(root, "token.key")
        self.cert = os.path.join(root, "token.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", self.key, "-out", self.cert, "-days", "2",
                        "-subj", "/CN=berth-test-token"], check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", self.cert, "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.requests = []
        self.key_name = "access_token"  # or "token": clients must read both
        self.port = free_port()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                server.requests.append((self.path, self.headers.get("Authorization")))
                auth = self.headers.get("Authorization", "")
                want = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
                if auth != want or q.get("service") != [SERVICE]:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({server.key_name: server.mint(USER, q.get("scope", [""])[0]),
                                   "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.realm = "http://127.0.0.1:%d/token" % self.port

    def mint(self, subject, scope):
        access = []
        if scope:
            kind, rest = scope.split(":", 1)
            name, actions = rest.rsplit(":", 1)
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + 600,
                  "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode())).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key],
                             input=signing_input, check=True, capture_output=True).stdout
        return signing_input.decode() + "." + b64url(sig)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def start_registry(auth=None):
    root = tempfile.mkdtemp(prefix="berth-imgtest-reg-")
    port = free_port()
    token_server = None
    auth_yaml = ""
    if auth == "basic":
        # distribution wants bcrypt; glibc's crypt makes "$2b$" hashes.
        hashed = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH))
        assert hashed.startswith("$2b$")
        with open(os.path.join(root, "htpasswd"), "w") as f:
            f.write("%s:%s\n" % (USER, hashed))
        auth_yaml = "auth:\n  htpasswd:\n    realm: berth-basic\n    path: %s\n" % \
            os.path.join(root, "htpasswd")
    elif auth == "token":
        token_server = TokenServer(root)
        auth_yaml = ("auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n"
                     "    rootcertbundle: %s\n" % (token_server.realm, SERVICE, ISSUER,
                                                   token_server.cert))
    config = os.path.join(root, "config.yml")
    with open(config, "w") as f:
        f.write("version: 0.1\nlog:\n  level: info\n  formatter: text\n"
                "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"
                "http:\n  addr: 127.0.0.1:%d\n%s" % (os.path.join(root, "storage"), port,
                                                     auth_yaml))
    log = open(os.path.join(root, "registry.log"), "w")
    proc = subprocess.Popen(["docker-registry", "serve", config], stdout=log, stderr=log)
    log.close()
    reg = Registry(root, port, proc, auth, token_server)
    deadline = time.time() + 15
    while True:
        try:
            r = requests.get(reg.url + "/v2/", timeout=1)
            if r.status_code in (200, 401):
                break
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            stop_registry(reg)
            raise RuntimeError("docker-registry did not start: see " + reg.log)
        time.sleep(0.05)
    return reg


def stop_registry(reg):
    if reg.proc.poll() is None:
        reg.proc.terminate()
        try:
            reg.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            reg.proc.kill()
            reg.proc.wait()
    if reg.token_server:
        reg.token_server.stop()
    shutil.rmtree(reg.root, ignore_errors=True)


@pytest.fixture(scope="session")
def registry():
    reg = start_registry()
    yield reg
    stop_registry(reg)


@pytest.fixture(scope="session")
def basic_registry():
    reg = start_registry("basic")
    yield reg
    stop_registry(reg)


@pytest.fixture(scope="session")
def token_registry():
    reg = start_registry("token")
    yield reg
    stop_registry(reg)


class Driver:
    """Runs build*/tests/berth-image against one cache directory."""

    def __init__(self, root):
        self.root = root
        self.cache = os.path.join(root, "cache")

    def run(self, *args, timeout=120, env=None):
        cmd = [DRIVER, args[0], "--cache", self.cache] + list(args[1:])
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env=suite_checks.daemon_env(env))
        p.image = json.loads(p.stdout.splitlines()[0]) \
            if p.returncode == 0 and p.stdout.startswith("{") else None
        p.progress = [tuple(int(x) for x in line.split()[1:])
                      for line in p.stderr.splitlines() if line.startswith("progress ")]
        return p

    def pull(self, ref, *args, **kw):
        return self.run("pull", *args, ref, **kw)

    def blobs(self):
        d = os.path.join(self.cache, "blobs", "sha256")
        return set(os.listdir(d)) if os.path.isdir(d) else set()

    def tmp_files(self):
        d = os.path.join(self.cache, "tmp")
        return os.listdir(d) if os.path.isdir(d) else []


@pytest.fixture
def driver():
    assert os.access(DRIVER, os.X_OK), "build the driver first: make asan (%s)" % DRIVER
    root = tempfile.mkdtemp(prefix="berth-imgtest-")
    suite_checks.track("dir", root)
    yield Driver(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def unique():
    """A repository name no other test uses."""
    return "t%s" % os.urandom(4).hex()
