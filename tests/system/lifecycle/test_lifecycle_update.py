"""Updates: blue-green under load with no failed request, a failing update
that leaves the old version serving, recreate on a host whose GPUs cannot
hold both versions, cancel, edit-config, promote, retry."""
import os
import subprocess
import time

from lifecycle_helpers import Load, config_text


def deploy(b, name, **body):
    status, c = b.call("POST", "/containers", dict(name=name, **body))
    assert status == 202, c
    return b.wait_status(name, "running")


def update(b, name, **body):
    status, u = b.call("POST", f"/containers/{name}/updates", body)
    assert status == 202, u
    return u


def live_enclaves(b):
    enc = os.path.join(b.state, "enclaves")
    return sorted(os.listdir(enc)) if os.path.isdir(enc) else []


def test_blue_green_under_load_loses_no_request(berthd, repo):
    deploy(berthd, "web", repo=repo.dir, tag="v1")
    load = Load(berthd, "web")
    time.sleep(0.5)
    u = update(berthd, "web", kind="tag", tag="v2")
    assert u["strategy"] == "blue-green" and u["status"] == "pending"
    seen = []  # the update's statuses in the order polls saw them

    def note(c):
        if not seen or seen[-1] != c["update"]["status"]:
            seen.append(c["update"]["status"])
        return c["status"] == "running" and c["update"]["finished_at"] is not None

    c = berthd.wait("web", note, what="the update's end")
    time.sleep(0.5)
    statuses, errors = load.stop()
    # Traffic moved only when the new version was healthy, and no request failed.
    assert errors == [] and set(statuses) == {200}, (statuses, errors[:3])
    assert load.bodies.get(b"hello v1\n", 0) > 0 and load.bodies.get(b"hello v2\n", 0) > 0
    assert c["status"] == "running"  # never changed while the old version served
    assert c["update"]["status"] == "ready" and c["update"]["error"] is None
    assert c["deployment"]["tag"] == "v2" and c["source"]["tag"] == "v2"
    assert any(line.endswith(")") for line in c["update"]["health_log"])
    # pending (maybe gone before the first poll), then started for at least
    # the new version's min-healthy-time (1 s, polled every 0.1 s), then ready.
    assert seen in (["pending", "started", "ready"], ["started", "ready"]), seen
    assert berthd.get("web")[1] == b"hello v2\n"
    # The old enclave drained and stopped: only the new one is left.
    assert len(live_enclaves(berthd)) == 1


def test_failing_update_leaves_the_old_version_serving(berthd, repo):
    deploy(berthd, "web", repo=repo.dir, tag="v1")
    load = Load(berthd, "web")
    update(berthd, "web", kind="tag", tag="v3")
    c = berthd.wait_update_end("web")
    statuses, errors = load.stop()
    assert c["update"]["status"] == "failed"
    assert "never healthy in 6s" in c["update"]["error"]
    assert c["status"] == "running" and c["deployment"]["tag"] == "v1"
    assert errors == [] and set(statuses) == {200}, (statuses, errors[:3])
    assert set(load.bodies) == {b"hello v1\n"}
    deadline = time.monotonic() + 30
    while len(live_enclaves(berthd)) != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(live_enclaves(berthd)) == 1


def test_cancel_mid_update_tears_the_new_version_down(berthd, repo):
    deploy(berthd, "web", repo=repo.dir, tag="v1")
    update(berthd, "web", kind="tag", tag="v3")
    berthd.wait("web", lambda c: c["update"]["status"] == "started", what="started")
    status, u = berthd.call("POST", "/containers/web/updates/current/cancel")
    assert status == 202 and u["status"] == "cancelled", u
    deadline = time.monotonic() + 30
    while len(live_enclaves(berthd)) != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(live_enclaves(berthd)) == 1
    c = berthd.container("web")
    assert c["status"] == "running" and c["deployment"]["tag"] == "v1"
    assert berthd.get("web")[1] == b"hello v1\n"


def test_edit_config_changes_env_and_secret(berthd, registry):
    assert berthd.call("PUT", "/secrets/API_KEY", {"value": "first"})[0] == 200
    cfg = config_text(registry.images["env:v1"], env={"LOG_LEVEL": "info", "REGION": None},
                      secrets=["API_KEY"])
    deploy(berthd, "env", config=cfg, env={"REGION": "eu"})
    body = berthd.get("env", "/cgi-bin/env")[1].decode()
    assert "LOG_LEVEL=info" in body and "REGION=eu" in body and "API_KEY=first" in body
    assert berthd.call("PUT", "/secrets/API_KEY", {"value": "second"})[0] == 200
    cfg2 = cfg.replace('LOG_LEVEL: "info"', 'LOG_LEVEL: "debug"')
    u = update(berthd, "env", kind="edit-config", config=cfg2, env={"REGION": "us"})
    assert u["kind"] == "edit-config" and u["strategy"] == "blue-green"
    c = berthd.wait_update_end("env")
    assert c["update"]["status"] == "ready", c["update"]
    body = berthd.get("env", "/cgi-bin/env")[1].decode()
    assert "LOG_LEVEL=debug" in body and "REGION=us" in body and "API_KEY=second" in body
    # The secret's value never shows in the API.
    assert "second" not in str(berthd.call("GET", "/containers/env")[1])
    # Old bindings went with the old enclave: only the new deployment binds it.
    status, secrets = berthd.call("GET", "/secrets")
    assert secrets[0]["bound_to"] == ["env"]


def test_promote_a_debug_container(berthd, repo):
    from lifecycle_helpers import http
    deploy(berthd, "dbg", repo=repo.dir, tag="v1", debug=True)
    c = berthd.container("dbg")
    assert c["debug"] is True
    assert c["debug_url"] == f"http://dbg.default.debug.containers.localhost:{berthd.router_port}"
    debug_host = {"Host": "dbg.default.debug.containers.localhost"}
    router = f"http://127.0.0.1:{berthd.router_port}/"
    assert http("GET", router, headers=debug_host)[1] == b"hello v1\n"
    u = update(berthd, "dbg", kind="promote")
    assert u["strategy"] == "blue-green"
    c = berthd.wait_update_end("dbg")
    assert c["update"]["status"] == "ready" and c["debug"] is False
    assert c["deployment"]["debug"] is False and c["debug_url"] is None
    assert berthd.get("dbg")[1] == b"hello v1\n"
    # A production container has no debug host any more (the route goes
    # right after the update's end).
    deadline = time.monotonic() + 5
    while http("GET", router, headers=debug_host)[0] != 404 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert http("GET", router, headers=debug_host)[0] == 404


def test_recreate_on_a_gpu_host_holds_requests_then_serves(gpu_berthd, registry):
    b = gpu_berthd
    v1 = config_text(registry.images["hello:v1"], gpus=8)
    v2 = config_text(registry.images["hello:v2"], gpus=8)
    deploy(b, "llm", config=v1)
    u = update(b, "llm", kind="edit-config", config=v2)
    assert u["strategy"] == "recreate" and u["phase"] == "stopping"
    # A request during the gap is held by the router, then served by v2.
    load = Load(b, "llm", timeout=45)  # held past the old version's stop
    phases = set()
    c = b.wait("llm", lambda c: (phases.add((c["status"], c["update"]["phase"])),
                                  c["update"]["finished_at"] is not None)[1], what="the end")
    statuses, errors = load.stop()
    assert c["update"]["status"] == "ready" and c["status"] == "running"
    assert ("deploying", "stopping") in phases or ("deploying", "deploying") in phases
    assert errors == [] and set(statuses) == {200}, (statuses, errors[:3])
    assert b.get("llm")[1] == b"hello v2\n"


def test_recreate_failure_leaves_failed_then_retry_works(gpu_berthd, registry):
    b = gpu_berthd
    v1 = config_text(registry.images["hello:v1"], gpus=8)
    bad = config_text(registry.images["broken:v1"], gpus=8, deploy={"health-timeout": "4s"})
    deploy(b, "llm", config=v1)
    u = update(b, "llm", kind="edit-config", config=bad)
    assert u["strategy"] == "recreate"
    c = b.wait_update_end("llm")
    assert c["update"]["status"] == "failed" and c["update"]["phase"] == "deploying"
    assert c["status"] == "failed" and "never healthy" in c["status_detail"]
    status, body, headers = b.get("llm")
    assert status == 503 and headers.get("Retry-After")
    # Retry redeploys the deployment of the last failed update: still broken,
    # so it fails again; an edit-config back to v1 then recovers.
    u = update(b, "llm", kind="retry")
    assert u["kind"] == "retry" and u["strategy"] == "recreate", u
    c = b.wait_update_end("llm")
    assert c["update"]["kind"] == "retry" and c["update"]["status"] == "failed", c["update"]
    assert c["status"] == "failed" and "never healthy" in c["status_detail"], c
    assert b.get("llm")[0] == 503
    u = update(b, "llm", kind="edit-config", config=v1)
    c = b.wait_update_end("llm")
    assert c["update"]["status"] == "ready" and c["status"] == "running", c
    assert b.get("llm")[1] == b"hello v1\n"


def test_retry_after_a_failed_deploy(berthd, registry):
    """A deploy fails: its image is not in the registry yet. Once the image
    is pushed (the cause fixed), retry deploys it, with its secret."""
    assert berthd.call("PUT", "/secrets/TOKEN", {"value": "x"})[0] == 200
    hello = registry.images["hello:v1"]
    late = hello.replace("/hello:v1@", "/late-retry:v1@")
    cfg = config_text(late, secrets=["TOKEN"])
    status, c = berthd.call("POST", "/containers", {"name": "r", "config": cfg})
    assert status == 202, c
    c = berthd.wait_status("r", "failed", timeout=60)
    assert "late-retry" in c["status_detail"], c
    subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
                    "docker://" + hello.split("@")[0], "docker://" + late.split("@")[0]],
                   check=True, timeout=60)
    u = update(berthd, "r", kind="retry")
    assert u["kind"] == "retry", u
    c = berthd.wait_update_end("r")
    assert c["update"]["status"] == "ready" and c["status"] == "running", c
    assert berthd.get("r")[1] == b"hello v1\n"


def test_update_whose_health_answers_404_fails_with_paths_star(berthd, registry):
    """With shim.paths ["/*"] and no health check of its own, /health is
    checked (the router lets it through): a new version answering 404 there
    never turns ready, the update fails and the old version keeps serving."""
    img = registry.images["hello:v1"]
    deploy(berthd, "h404", config=config_text(img, paths=("/*",)))
    assert berthd.get("h404", "/health")[1] == b"ok v1\n"
    # The same image serving /etc instead of /www: / and /health answer 404.
    bad = config_text(img, paths=("/*",), deploy={"health-timeout": "6s"},
                      entrypoint=["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/etc"])
    update(berthd, "h404", kind="edit-config", config=bad)
    c = berthd.wait_update_end("h404", timeout=60)
    assert c["update"]["status"] == "failed", c["update"]
    assert "/health" in c["update"]["error"], c["update"]
    assert berthd.get("h404")[1] == b"hello v1\n"
