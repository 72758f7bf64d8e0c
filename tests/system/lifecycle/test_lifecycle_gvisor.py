"""The lifecycle under gVisor (berthd --runtime runsc: every enclave a runsc
sandbox): deploy with health checks (HTTP and exec), blue-green under load
with no failed request, and recreate on a GPU host."""
import time

import pytest

from lifecycle_helpers import Berthd, GitRepo, Load, config_text
from test_lifecycle_update import deploy, live_enclaves, update


@pytest.fixture
def gberthd():
    d = Berthd(args=["--runtime", "runsc"])
    yield d
    d.stop()


def enclave_isolation(b):
    import json
    import os
    enc = os.path.join(b.state, "enclaves")
    return {json.load(open(os.path.join(enc, n, "enclave.json")))["isolation"]
            for n in live_enclaves(b)}


def test_deploy_and_blue_green_under_load_in_gvisor(gberthd, registry):
    b = gberthd
    repo = GitRepo()
    try:
        # An exec check inside the sandbox. (nc, not wget: busybox's wget
        # reads fail with EAGAIN on gVisor's host network, nc's do not.)
        check = {"test": ["CMD-SHELL", "printf 'GET /health HTTP/1.0\\r\\n\\r\\n' | "
                          "nc 127.0.0.1 8080 | grep -q '200 OK'"],
                 "interval": "1s", "start_period": "0s"}
        repo.tag("v1", config_text(registry.images["hello:v1"]))
        repo.tag("v2", config_text(registry.images["hello:v2"], healthcheck=check))
        c = deploy(b, "web", repo=repo.dir, tag="v1")
        assert c["isolation"] == "gvisor" and c["deployment"]["isolation"] == "gvisor"
        assert b.get("web")[1] == b"hello v1\n"
        assert enclave_isolation(b) == {"gvisor"}
        load = Load(b, "web")
        time.sleep(0.5)
        u = update(b, "web", kind="tag", tag="v2")
        assert u["strategy"] == "blue-green"
        c = b.wait("web", lambda c: c["update"]["finished_at"] is not None,
                   what="the update's end", timeout=120)
        time.sleep(0.5)
        statuses, errors = load.stop()
        assert c["update"]["status"] == "ready", c["update"]
        assert errors == [] and set(statuses) == {200}, (statuses, errors[:3])
        assert load.bodies.get(b"hello v2\n", 0) > 0
        assert b.get("web")[1] == b"hello v2\n"
        assert len(live_enclaves(b)) == 1 and enclave_isolation(b) == {"gvisor"}
    finally:
        repo.remove()


def test_recreate_in_gvisor(registry):
    b = Berthd(args=["--runtime", "runsc", "--gpus", "8"])
    try:
        deploy(b, "llm", config=config_text(registry.images["hello:v1"], gpus=8))
        u = update(b, "llm", kind="edit-config",
                   config=config_text(registry.images["hello:v2"], gpus=8))
        assert u["strategy"] == "recreate"
        load = Load(b, "llm", timeout=60)
        c = b.wait("llm", lambda c: c["update"]["finished_at"] is not None, what="the end",
                   timeout=120)
        statuses, errors = load.stop()
        assert c["update"]["status"] == "ready" and c["status"] == "running", c["update"]
        assert errors == [] and set(statuses) == {200}, (statuses, errors[:3])
        assert b.get("llm")[1] == b"hello v2\n"
        assert enclave_isolation(b) == {"gvisor"}
    finally:
        b.stop()
