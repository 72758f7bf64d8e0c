"""Pulls through berth-image from a real docker-registry: every auth mode,
digest verification, indexes, the cache, garbage collection, progress."""
import base64
import http.server
import json
import os
import threading

import pytest

from conftest import (MT_DOCKER_LIST, MT_OCI_INDEX, PASSWORD, USER, image_config, layer,
                      sha256)


def small_image(reg, name, tag="v1", payload=None, **kw):
    l = layer([("hello.txt", "file", payload or os.urandom(64).hex().encode())])
    digest, doc = reg.push_image(name, tag, [l], **kw)
    return digest, doc


def test_pull_anonymous(registry, driver, unique):
    cfg = {"Entrypoint": ["/bin/httpd", "-f"], "Cmd": ["-p", "8080"], "Env": ["A=1", "B=two"],
           "User": "1000:1000", "WorkingDir": "/srv", "StopSignal": "SIGQUIT",
           "Healthcheck": {"Test": ["CMD", "wget", "-q", "localhost"], "Interval": 5000000000,
                           "Timeout": 2000000000, "StartPeriod": 1000000000, "Retries": 3}}
    digest, doc = small_image(registry, unique, config=cfg)
    ref = "%s/%s:v1@%s" % (registry.addr, unique, digest)
    p = driver.pull(ref)
    assert p.returncode == 0, p.stderr
    img = p.image
    assert img["ref"] == ref
    assert img["manifest_digest"] == digest
    assert img["config_digest"] == doc["config"]["digest"]
    assert img["layers"] == [l["digest"] for l in doc["layers"]]
    c = img["config"]
    assert c["entrypoint"] == ["/bin/httpd", "-f"] and c["cmd"] == ["-p", "8080"]
    assert c["env"] == ["A=1", "B=two"] and c["user"] == "1000:1000"
    assert c["working_dir"] == "/srv" and c["stop_signal"] == "SIGQUIT"
    assert c["healthcheck"] == ["CMD", "wget", "-q", "localhost"]
    assert (c["hc_interval_ms"], c["hc_timeout_ms"], c["hc_start_period_ms"],
            c["hc_retries"]) == (5000, 2000, 1000, 3)
    blobs = driver.blobs()
    for d in [digest, doc["config"]["digest"]] + img["layers"]:
        assert d.split(":")[1] in blobs
    assert driver.tmp_files() == []


def test_pull_by_tag_docker_schema2(registry, driver, unique):
    digest, _ = small_image(registry, unique, tag="latest", docker=True)
    p = driver.pull("%s/%s" % (registry.addr, unique))
    assert p.returncode == 0, p.stderr
    assert p.image["manifest_digest"] == digest


def test_pull_basic_auth(basic_registry, driver, unique):
    digest, _ = small_image(basic_registry, unique)
    ref = "%s/%s@%s" % (basic_registry.addr, unique, digest)
    p = driver.pull(ref)
    assert p.returncode != 0
    assert "asks for credentials (401)" in p.stderr
    p = driver.pull(ref, *basic_registry.auth_args(password="wrong"))
    assert p.returncode != 0
    assert "refused the credentials of berth (401)" in p.stderr
    p = driver.pull(ref, *basic_registry.auth_args())
    assert p.returncode == 0, p.stderr
    assert p.image["manifest_digest"] == digest


@pytest.mark.parametrize("key_name", ["access_token", "token"])
def test_pull_token_auth(token_registry, driver, unique, key_name):
    token_registry.token_server.key_name = key_name
    digest, _ = small_image(token_registry, unique)
    ref = "%s/%s@%s" % (token_registry.addr, unique, digest)
    p = driver.pull(ref)
    assert p.returncode != 0
    assert "token from" in p.stderr and "401" in p.stderr
    p = driver.pull(ref, *token_registry.auth_args(password="wrong"))
    assert p.returncode != 0
    assert "refused the credentials of berth (401)" in p.stderr
    seen = len(token_registry.token_server.requests)
    p = driver.pull(ref, *token_registry.auth_args())
    assert p.returncode == 0, p.stderr
    assert p.image["manifest_digest"] == digest
    # The client went through the token endpoint with the challenge's scope.
    path, auth = token_registry.token_server.requests[seen]
    assert "scope=repository%3A" + unique + "%3Apull" in path
    assert auth.startswith("Basic ")


def test_credentials_are_per_host(basic_registry, driver, unique):
    digest, _ = small_image(basic_registry, unique)
    p = driver.pull("%s/%s@%s" % (basic_registry.addr, unique, digest),
                    "--auth", "127.0.0.1:1=%s:%s" % (USER, PASSWORD))
    assert p.returncode != 0
    assert "asks for credentials (401)" in p.stderr


def test_tampered_layer_refused(registry, driver, unique):
    keep = layer([("a.txt", "file", b"fine " * 100)])
    bad = layer([("b.txt", "file", os.urandom(4096))])
    digest, doc = registry.push_image(unique, "v1", [keep, bad])
    bad_digest = doc["layers"][1]["digest"]
    registry.tamper(bad_digest)
    p = driver.pull("%s/%s@%s" % (registry.addr, unique, digest))
    assert p.returncode != 0
    assert "blob %s: digest mismatch" % bad_digest in p.stderr
    assert bad_digest.split(":")[1] not in driver.blobs()
    assert driver.tmp_files() == []


@pytest.mark.parametrize("delta,msg", [(100, "more than the"), (-100, "the manifest declares")])
def test_blob_of_wrong_size_refused(registry, driver, unique, delta, msg):
    digest, doc = registry.push_image(unique, "v1", [layer([("x", "file", os.urandom(8192))])])
    bad = doc["layers"][0]["digest"]
    registry.resize(bad, delta)
    p = driver.pull("%s/%s@%s" % (registry.addr, unique, digest))
    assert p.returncode != 0
    assert "blob %s: " % bad in p.stderr and msg in p.stderr, p.stderr
    assert bad.split(":")[1] not in driver.blobs()
    assert driver.tmp_files() == []


def test_tampered_manifest_refused(registry, driver, unique):
    digest, _ = small_image(registry, unique)
    registry.tamper(digest)
    p = driver.pull("%s/%s@%s" % (registry.addr, unique, digest))
    assert p.returncode != 0
    assert "manifest %s: digest mismatch" % digest in p.stderr
    assert digest.split(":")[1] not in driver.blobs()


def test_wrong_pinned_digest_refused(registry, driver, unique):
    small_image(registry, unique)
    p = driver.pull("%s/%s:v1@%s" % (registry.addr, unique, sha256(b"not it")))
    assert p.returncode != 0
    assert "MANIFEST_UNKNOWN" in p.stderr or "404" in p.stderr
    assert driver.blobs() == set()


def test_bad_references(driver):
    for ref, msg in [("busybox:latest", "no registry host"),
                     ("library/busybox", "no registry host"),
                     ("127.0.0.1:5000/Bad", "bad repository name"),
                     ("127.0.0.1:5000/x@sha256:abc", "not sha256:<64 hex>"),
                     ("127.0.0.1:5000/x:-t", "bad tag")]:
        p = driver.pull(ref)
        assert p.returncode != 0 and msg in p.stderr, (ref, p.stderr)


def test_plain_http_only_for_insecure_hosts(registry, driver, unique):
    digest, _ = small_image(registry, unique)
    # "localhost" is loopback, so plain HTTP; another name is spoken to over
    # https unless the settings call it insecure.
    p = driver.pull("localhost:%s/%s@%s" % (registry.addr.split(":")[1], unique, digest))
    assert p.returncode == 0, p.stderr
    # By tag: a digest already cached would need no registry at all.
    p = driver.pull("berth-no-such-host.invalid:%s/%s:v1" % (
        registry.addr.split(":")[1], unique))
    assert p.returncode != 0
    assert "https://berth-no-such-host.invalid" in p.stderr


@pytest.mark.parametrize("docker", [False, True])
def test_index_picks_linux_amd64(registry, driver, unique, docker):
    arm, arm_doc = small_image(registry, unique, tag="arm", arch="arm64", docker=docker)
    amd, amd_doc = small_image(registry, unique, tag="amd", docker=docker)
    mt = MT_DOCKER_LIST if docker else MT_OCI_INDEX
    child = amd_doc["mediaType"]
    index = {"schemaVersion": 2, "mediaType": mt, "manifests": [
        {"mediaType": child, "digest": arm, "size": len(json.dumps(arm_doc)),
         "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": child, "digest": amd, "size": len(json.dumps(amd_doc)),
         "platform": {"os": "linux", "architecture": "amd64"}},
    ]}
    idx = registry.push_manifest(unique, "multi", index, mt)
    p = driver.pull("%s/%s:multi@%s" % (registry.addr, unique, idx))
    assert p.returncode == 0, p.stderr
    assert p.image["manifest_digest"] == amd
    assert p.image["layers"] == [l["digest"] for l in amd_doc["layers"]]
    assert arm_doc["layers"][0]["digest"].split(":")[1] not in driver.blobs()
    # GC keeping the index keeps the chosen image.
    g = driver.run("gc", "%s/%s@%s" % (registry.addr, unique, idx))
    assert g.returncode == 0 and g.stdout.strip() == "removed 0", g.stdout + g.stderr


def test_index_without_amd64_refused(registry, driver, unique):
    arm, arm_doc = small_image(registry, unique, tag="arm", arch="arm64")
    index = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": [
        {"mediaType": arm_doc["mediaType"], "digest": arm, "size": len(json.dumps(arm_doc)),
         "platform": {"os": "linux", "architecture": "arm64"}}]}
    idx = registry.push_manifest(unique, "multi", index, MT_OCI_INDEX)
    p = driver.pull("%s/%s@%s" % (registry.addr, unique, idx))
    assert p.returncode != 0
    assert "no image for linux/amd64" in p.stderr


def test_cache_reuse_and_progress(registry, driver, unique):
    layers = [layer([("f%d" % i, "file", os.urandom(1 << 20))], compress=False)
              for i in range(3)]
    digest, doc = registry.push_image(unique, "v1", layers)
    total = sum(l["size"] for l in doc["layers"]) + doc["config"]["size"]
    p = driver.pull("%s/%s:v1" % (registry.addr, unique), "--parallel", "2")
    assert p.returncode == 0, p.stderr
    assert p.image["manifest_digest"] == digest
    prog = p.progress
    assert len(prog) > 3
    assert all(t == total for _, t, _ in prog)
    assert [d for d, _, _ in prog] == sorted(d for d, _, _ in prog)
    assert prog[0][0] < total and prog[-1][0] == total and prog[-1][2] == 100
    gets = registry.blob_gets(unique)
    assert gets == 4
    # Second pull, by tag: the manifest is asked again, no blob is.
    p = driver.pull("%s/%s:v1" % (registry.addr, unique))
    assert p.returncode == 0, p.stderr
    assert registry.blob_gets(unique) == gets
    assert p.progress == [(total, total, 100)]


def test_gc(registry, driver, unique):
    a, a_doc = small_image(registry, unique, tag="a")
    b, b_doc = small_image(registry, unique, tag="b")
    for d in (a, b):
        assert driver.pull("%s/%s@%s" % (registry.addr, unique, d)).returncode == 0
    a_blobs = {x.split(":")[1] for x in [a, a_doc["config"]["digest"]] +
               [l["digest"] for l in a_doc["layers"]]}
    b_blobs = {x.split(":")[1] for x in [b, b_doc["config"]["digest"]] +
               [l["digest"] for l in b_doc["layers"]]}
    assert driver.blobs() == a_blobs | b_blobs
    g = driver.run("gc", "%s/%s:a" % (registry.addr, unique))
    assert g.returncode != 0 and "has no sha256 digest" in g.stderr
    assert driver.blobs() == a_blobs | b_blobs
    a_ref = "%s/%s:a@%s" % (registry.addr, unique, a)
    g = driver.run("gc", a_ref)
    assert g.returncode == 0, g.stderr
    assert g.stdout.strip() == "removed %d" % len(b_blobs - a_blobs)
    assert driver.blobs() == a_blobs
    # What is kept is whole: it unpacks from the cache alone.
    u = driver.run("unpack", a_ref, os.path.join(driver.root, "rootfs"))
    assert u.returncode == 0, u.stderr
    u = driver.run("unpack", "%s/%s@%s" % (registry.addr, unique, b),
                   os.path.join(driver.root, "rootfs-b"))
    assert u.returncode != 0 and not os.path.exists(os.path.join(driver.root, "rootfs-b"))
    g = driver.run("gc")
    assert g.returncode == 0 and driver.blobs() == set()


def test_concurrent_pulls_share_the_cache(registry, token_registry, driver, unique):
    shared = layer([("shared.bin", "file", os.urandom(256 << 10))], compress=False)
    refs = []
    for i in range(3):
        own = layer([("own%d" % i, "file", os.urandom(128 << 10))])
        d, _ = registry.push_image(unique, "v%d" % i, [shared, own])
        refs.append("%s/%s:v%d@%s" % (registry.addr, unique, i, d))
    d, _ = token_registry.push_image(unique, "v1", [shared])
    refs.append("%s/%s@%s" % (token_registry.addr, unique, d))
    p = driver.run("pull-many", *token_registry.auth_args(), *refs)
    assert p.returncode == 0, p.stderr
    images = [json.loads(line) for line in p.stdout.splitlines()]
    assert [i["ref"] for i in images] == refs
    assert driver.tmp_files() == []
    # Every blob in the cache is whole: its name is its sha256.
    for name in driver.blobs():
        with open(os.path.join(driver.cache, "blobs", "sha256", name), "rb") as f:
            assert sha256(f.read()) == "sha256:" + name


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Both halves of a registry that keeps its blobs elsewhere (as S3-backed
    ones do): the front answers manifests and redirects blob GETs to the
    storage, which serves them. Every request is recorded with its
    Authorization header."""

    def log_message(self, *a):
        pass

    def do_GET(self):
        srv = self.server
        srv.seen.append((self.path, self.headers.get("Authorization")))
        if self.path in srv.fail_once:  # an overloaded registry, once
            srv.fail_once.discard(self.path)
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if srv.role == "front" and self.headers.get("Authorization") != srv.want_auth:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="front"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body, ctype = None, "application/octet-stream"
        if srv.role == "front" and "/manifests/" in self.path:
            body, ctype = srv.manifest, "application/vnd.oci.image.manifest.v1+json"
        elif srv.role == "front" and "/blobs/" in self.path:
            self.send_response(307)
            self.send_header("Location", srv.storage_url + self.path.rsplit("/", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        elif srv.role == "storage":
            body = srv.blobs.get(self.path.rsplit("/", 1)[1])
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def split_registry():
    """A front and a storage _Recorder serving one small image."""
    cfg = image_config()
    l = layer([("x", "file", b"redirected")])
    blobs = {sha256(cfg): cfg, sha256(l): l}
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(cfg), "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256(l), "size": len(l)}]}).encode()
    servers = []
    for role in ("storage", "front"):
        s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
        s.role, s.seen, s.blobs, s.manifest, s.fail_once = role, [], blobs, manifest, set()
        s.want_auth = "Basic " + base64.b64encode(b"u:p").decode()
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
    storage, front = servers
    front.storage_url = "http://127.0.0.1:%d/blob/" % storage.server_address[1]
    front.host = "127.0.0.1:%d" % front.server_address[1]
    front.ref = "%s/app@%s" % (front.host, sha256(manifest))
    yield front, storage
    for s in servers:
        s.shutdown()
        s.server_close()


def test_blob_redirect_drops_credentials(driver, split_registry):
    front, storage = split_registry
    p = driver.pull(front.ref, "--auth", front.host + "=u:p")
    assert p.returncode == 0, p.stderr
    assert sorted(path for path, _ in storage.seen) == sorted(
        "/blob/" + d for d in storage.blobs)
    assert all(auth is None for _, auth in storage.seen), storage.seen


def test_transient_failures_retried(driver, split_registry):
    front, storage = split_registry
    layer_digest = [d for d in storage.blobs if storage.blobs[d][:2] == b"\x1f\x8b"][0]
    front.fail_once = {"/v2/app/manifests/" + front.ref.split("@")[1]}
    storage.fail_once = {"/blob/" + layer_digest}
    p = driver.pull(front.ref, "--auth", front.host + "=u:p")
    assert p.returncode == 0, p.stderr
    assert not front.fail_once and not storage.fail_once
    assert [path for path, _ in storage.seen].count("/blob/" + layer_digest) == 2
    assert p.progress[-1][0] == p.progress[-1][1]
    assert layer_digest.split(":")[1] in driver.blobs()


def test_pull_cancelled_from_progress(registry, driver, unique):
    layers = [layer([("f%d" % i, "file", os.urandom(1 << 20))], compress=False)
              for i in range(3)]
    digest, doc = registry.push_image(unique, "v1", layers)
    p = driver.pull("%s/%s@%s" % (registry.addr, unique, digest), "--cancel-at", "30",
                    "--parallel", "1")
    assert p.returncode != 0
    assert "pull cancelled" in p.stderr
    assert 30 <= p.progress[-1][2] < 100
    assert driver.tmp_files() == []
    cached = driver.blobs()
    assert not all(l["digest"].split(":")[1] in cached for l in doc["layers"])
    # The same pull, not cancelled, completes from where the cache stands.
    p = driver.pull("%s/%s@%s" % (registry.addr, unique, digest))
    assert p.returncode == 0, p.stderr
