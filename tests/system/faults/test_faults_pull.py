"""Faults while berthd brings an image in, each with a real cause: the
registry killed in the middle of a layer, a layer changed in the registry's
storage after its manifest was pushed, the disk full while a layer unpacks.
Each: the reason in the API, nothing half-made kept, the old version serving,
and berthd recovering once the cause is gone."""
import hashlib
import os
import signal
import subprocess
import tarfile
import time

from faults_helpers import TimedLoad, cache_blobs, cache_dir, events, machine, unsound_cache
from lifecycle_helpers import config_text

# big:v1 sleeps as it comes from build.sh; this entrypoint serves its first
# data file (through a link, nothing copied) beside an index and /health.
BIG_ENTRY = ["/bin/sh", "-c", "mkdir -p /tmp/w && echo big >/tmp/w/index.html && "
             "echo ok >/tmp/w/health && ln -s /data/1 /tmp/w/1 && "
             "exec httpd -f -p 8080 -h /tmp/w"]


def big_config(registry):
    return config_text(registry.images["big:v1"], entrypoint=BIG_ENTRY,
                       paths=("/*", "/health"))


def first_data_sha(registry):
    """sha256 of /data/1 of big:v1, read from its layer in the registry."""
    layer = registry.layers("big:v1")[0]
    with tarfile.open(registry.blob_path(layer), "r:*") as t:
        f = t.extractfile("data/1")
        h = hashlib.sha256()
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
        return h.hexdigest()


def kill_registry_mid_pull(b, registry, start):
    """Calls start() (which makes berthd pull big:v1), waits until a layer is
    partly in berthd's cache, then SIGKILLs the registry. Returns the size of
    the partial download it saw."""
    tmp = os.path.join(cache_dir(b), "tmp")
    start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            sizes = [os.path.getsize(os.path.join(tmp, n)) for n in os.listdir(tmp)]
        except OSError:
            sizes = []
        if any(s > 0 for s in sizes):
            registry.kill()
            return max(sizes)
        time.sleep(0.001)
    raise AssertionError("berthd never started downloading a layer of big:v1")


def test_registry_killed_mid_pull_fails_the_deploy_then_retry_succeeds(berthd, registry):
    b = berthd
    cfg = big_config(registry)
    try:
        seen = kill_registry_mid_pull(
            b, registry, lambda: b.call("POST", "/containers", {"name": "big", "config": cfg}))
        c = b.wait_status("big", "failed", timeout=120)
    finally:
        if registry.proc.poll() is not None:
            registry.restart()
    assert seen < 48 << 20, seen
    detail = c["status_detail"] or ""
    assert "big" in detail and "blob sha256:" in detail, c
    assert any(e["kind"] == "container.failed" and "blob sha256:" in e["message"]
               for e in events(b, "big")), events(b, "big")
    # Nothing half-downloaded is kept, no enclave was made.
    assert unsound_cache(b) == []
    assert machine(b)["enclaves"] == []
    # The registry back, a retry pulls what is missing and serves the layer whole.
    status, u = b.call("POST", "/containers/big/updates", {"kind": "retry"})
    assert status == 202, u
    c = b.wait_status("big", "running", timeout=180)
    status, body, _ = b.get("big", "/1", timeout=60)
    assert status == 200 and hashlib.sha256(body).hexdigest() == first_data_sha(registry)
    assert unsound_cache(b) == []


def test_registry_killed_mid_pull_of_an_update_leaves_the_old_version_serving(berthd, registry):
    b = berthd
    status, c = b.call("POST", "/containers",
                       {"name": "web", "config": config_text(registry.images["hello:v1"])})
    assert status == 202, c
    c = b.wait_status("web", "running")
    old = c["deployment"]["id"]
    load = TimedLoad(b, "web")
    try:
        body = {"kind": "edit-config", "config": big_config(registry)}
        kill_registry_mid_pull(
            b, registry, lambda: b.call("POST", "/containers/web/updates", body))
        c = b.wait_update_end("web", timeout=120)
    finally:
        if registry.proc.poll() is not None:
            registry.restart()
    assert c["update"]["status"] == "failed", c["update"]
    assert "blob sha256:" in (c["update"]["error"] or ""), c["update"]
    assert c["status"] == "running" and c["deployment"]["id"] == old, c
    assert any(e["kind"] == "update.failed" and "blob sha256:" in e["message"]
               for e in events(b, "web"))
    assert unsound_cache(b) == []
    assert len(machine(b)["enclaves"]) == 1
    during = load.stop()
    assert during and load.failures() == [], load.failures()[:5]
    assert {r[3] for r in during} == {b"hello v1\n"}
    # With the registry back the same update succeeds.
    status, u = b.call("POST", "/containers/web/updates", body)
    assert status == 202, u
    c = b.wait_update_end("web", timeout=180)
    assert c["update"]["status"] == "ready", c["update"]
    assert b.get("web")[1] == b"big\n"
    status, data, _ = b.get("web", "/1", timeout=60)
    assert status == 200 and hashlib.sha256(data).hexdigest() == first_data_sha(registry)


def test_a_tampered_layer_fails_the_update_and_nothing_of_it_is_cached(berthd, registry):
    """A layer of env:v1 changed in the registry's storage (same size, one
    byte flipped) after the manifest was pushed."""
    b = berthd
    status, c = b.call("POST", "/containers",
                       {"name": "web", "config": config_text(registry.images["hello:v1"])})
    assert status == 202, c
    old = b.wait_status("web", "running")["deployment"]["id"]
    layer = registry.layers("env:v1")[-1]
    path = registry.blob_path(layer)
    original = open(path, "rb").read()
    data = bytearray(original)
    data[len(data) // 2] ^= 0xFF
    load = TimedLoad(b, "web")
    try:
        open(path, "wb").write(bytes(data))
        status, u = b.call("POST", "/containers/web/updates",
                           {"kind": "edit-config",
                            "config": config_text(registry.images["env:v1"])})
        assert status == 202, u
        c = b.wait_update_end("web", timeout=120)
    finally:
        open(path, "wb").write(original)
    load.stop()
    err = c["update"]["error"] or ""
    assert c["update"]["status"] == "failed" and "digest mismatch" in err and layer in err, c
    assert c["status"] == "running" and c["deployment"]["id"] == old
    assert any(e["kind"] == "update.failed" and "digest mismatch" in e["message"]
               for e in events(b, "web"))
    assert layer.split(":")[1] not in cache_blobs(b)
    assert unsound_cache(b) == []
    assert len(machine(b)["enclaves"]) == 1
    assert load.results and load.failures() == [], load.failures()[:5]
    # The registry's blob whole again, the same update succeeds.
    status, u = b.call("POST", "/containers/web/updates", {"kind": "retry"})
    assert status == 202, u
    assert b.wait_update_end("web", timeout=120)["update"]["status"] == "ready"


def df_used(path):
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def test_disk_full_during_unpack_fails_with_enospc_and_gives_the_space_back(berthd, registry):
    """berthd's unpacked images (STATE/rootfs) on a 40 MiB tmpfs: hello fits,
    big:v1 (two 48 MiB layers) does not."""
    b = berthd
    rootfs = os.path.join(b.state, "rootfs")
    b.kill(signal.SIGTERM)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m,mode=0700", "berth-faults",
                    rootfs], check=True)
    try:
        b.start()
        status, c = b.call("POST", "/containers",
                           {"name": "web", "config": config_text(registry.images["hello:v1"])})
        assert status == 202, c
        b.wait_status("web", "running")
        before = df_used(rootfs)
        load = TimedLoad(b, "web")
        status, c = b.call("POST", "/containers", {"name": "big", "config": big_config(registry)})
        assert status == 202, c
        c = b.wait_status("big", "failed", timeout=180)
        load.stop()
        detail = c["status_detail"] or ""
        assert "No space left on device" in detail, c
        assert any(e["kind"] == "container.failed" and "No space left" in e["message"]
                   for e in events(b, "big"))
        # The API and the other container served throughout; the space is back.
        assert b.call("GET", "/containers")[0] == 200
        assert load.results and load.failures() == [], load.failures()[:5]
        assert df_used(rootfs) <= before + (1 << 20), (df_used(rootfs), before)
        assert len(machine(b)["enclaves"]) == 1
        # Another deploy that fits still works.
        status, c = b.call("POST", "/containers",
                           {"name": "env", "config": config_text(registry.images["env:v1"])})
        assert status == 202, c
        b.wait_status("env", "running")
        for name in ("web", "big", "env"):
            assert b.call("DELETE", "/containers/" + name)[0] == 202
        m = machine(b)
        deadline = time.monotonic() + 60
        while m["enclaves"] and time.monotonic() < deadline:
            time.sleep(0.2)
            m = machine(b)
        assert m["enclaves"] == [], m
    finally:
        if b.proc.poll() is None:
            b.kill(signal.SIGTERM)
        b.destroy_leftovers()  # enclaves of a failed test hold the tmpfs
        subprocess.run(["umount", rootfs], check=True)
