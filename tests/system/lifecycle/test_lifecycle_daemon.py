"""berthd and berth-router apart: the router keeps serving while berthd is
stopped, berthd adopts what runs when it starts again, and a router that
dies is started again with the whole table."""
import json
import os
import signal
import time

from lifecycle_helpers import config_text, http


def test_sigterm_leaves_enclaves_and_router_serving(berthd, repo):
    b = berthd
    b.call("POST", "/containers", {"name": "web", "repo": repo.dir, "tag": "v1"})
    b.wait_status("web", "running")
    b.kill(signal.SIGTERM)
    assert b.proc.returncode == 0
    for _ in range(20):
        assert b.get("web")[1] == b"hello v1\n"
    b.start()
    assert "adopted enclave" in b.read_log()
    c = b.container("web")
    assert c["status"] == "running"
    assert b.call("POST", "/containers/web/updates", {"kind": "tag", "tag": "v2"})[0] == 202
    c = b.wait_update_end("web")
    assert c["update"]["status"] == "ready"
    assert b.get("web")[1] == b"hello v2\n"


def test_a_router_that_dies_is_started_again_with_its_routes(berthd, repo):
    b = berthd
    b.call("POST", "/containers", {"name": "web", "repo": repo.dir, "tag": "v1"})
    b.wait_status("web", "running")
    old = b.router_pid()
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pid = b.router_pid()
        try:
            if pid != old and b.get("web", timeout=1)[1] == b"hello v1\n":
                break
        except OSError:
            pass
        time.sleep(0.1)
    else:
        raise AssertionError("the router was not started again:\n" + b.read_log()[-3000:])
    assert "full table" in b.read_log()


def test_a_tampered_image_fails_the_deploy_with_the_blob_named(berthd, registry):
    # A fresh image whose layer blob we corrupt in the registry's storage.
    images = registry.build("slow", env={"SLOW_SECONDS": "1"})
    ref = images["slow:v1"]
    name_tag, digest = ref.split("@")
    repo_name = name_tag.split("/", 1)[1].split(":")[0]
    status, body, _ = http("GET", f"http://{registry.addr}/v2/{repo_name}/manifests/{digest}",
                           headers={"Accept": "application/vnd.oci.image.manifest.v1+json, "
                                              "application/vnd.docker.distribution.manifest.v2+json"})
    assert status == 200, body
    layer = json.loads(body)["layers"][-1]["digest"].split(":")[1]
    path = os.path.join(registry.dir, "data/docker/registry/v2/blobs/sha256", layer[:2], layer,
                        "data")
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    status, c = berthd.call("POST", "/containers", {"name": "t", "config": config_text(ref)})
    assert status == 202, c
    c = berthd.wait_status("t", "failed", timeout=60)
    assert "digest mismatch" in c["status_detail"] and layer in c["status_detail"], c
    # Nothing of it entered the cache.
    blobs = os.path.join(berthd.state, "images", "blobs", "sha256")
    assert layer not in os.listdir(blobs)


def test_a_delete_interrupted_by_a_kill_ends_after_the_restart(berthd, repo):
    """berthd SIGKILLed while a deleted container's enclave stops (its PID 1
    ignores SIGTERM: the stop waits out its timeout): the name is free and
    GET answers 404 at once, and the restarted berthd finishes the teardown,
    so no enclave of it is left, nor its address taken."""
    b = berthd
    b.call("POST", "/containers", {"name": "gone", "repo": repo.dir, "tag": "v1"})
    b.wait_status("gone", "running")
    enc = os.path.join(b.state, "enclaves")
    assert os.listdir(enc)
    assert b.call("DELETE", "/containers/gone")[0] == 202
    assert b.call("GET", "/containers/gone")[0] == 404
    time.sleep(1)
    b.kill(signal.SIGKILL)
    b.start()
    deadline = time.monotonic() + 60
    while os.listdir(enc) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert os.listdir(enc) == [], b.read_log()[-3000:]
    assert b.call("GET", "/containers/gone")[0] == 404
    assert b.get("gone")[0] in (404, 503)
