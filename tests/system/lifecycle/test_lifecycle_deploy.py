"""Deploying: deploying -> running, or failed with a reason (the reference's
three statuses), with real images, enclaves and the router."""
import time

from lifecycle_helpers import config_text


def test_deploy_from_a_tag_runs_and_serves(berthd, repo):
    status, c = berthd.call("POST", "/containers", {"name": "web", "repo": repo.dir, "tag": "v1"})
    assert status == 202, c
    assert c["status"] == "deploying"
    c = berthd.wait_status("web", "running")
    assert c["status_detail"] is None
    assert c["deployment"]["tag"] == "v1"
    assert c["url"] == f"http://web.default.containers.localhost:{berthd.router_port}"
    status, body, _ = berthd.get("web")
    assert (status, body) == (200, b"hello v1\n")
    # shim.paths is enforced by the router: /health and /* are allowed here.
    assert berthd.get("web", "/health")[1] == b"ok v1\n"


def test_deploy_never_healthy_fails_with_the_reason(berthd, repo):
    status, c = berthd.call("POST", "/containers", {"name": "bad", "repo": repo.dir, "tag": "v3"})
    assert status == 202, c
    c = berthd.wait_status("bad", "failed", timeout=60)
    assert "never healthy in 6s" in c["status_detail"], c["status_detail"]
    # Nothing serves it: the router answers 503, and no enclave is left.
    assert berthd.get("bad")[0] == 503


def test_deploy_uploaded_config(berthd, registry, tmp_path):
    import os
    import subprocess
    from lifecycle_helpers import BUILD
    cfg = config_text(registry.images["hello:v2"])
    status, c = berthd.call("POST", "/containers", {"name": "up", "config": cfg})
    assert status == 202, c
    # The deployment's config_sha256 is the canonical form's, as validate says.
    path = tmp_path / "tinfoil-config.yml"
    path.write_text(cfg)
    out = subprocess.run([os.path.join(BUILD, "berth"), "config", "validate", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == f"{path}: ok sha256:{c['deployment']['config_sha256']}"
    berthd.wait_status("up", "running")
    assert berthd.get("up")[1] == b"hello v2\n"


def test_deploy_of_a_crashing_image_fails(berthd, registry):
    cfg = config_text(registry.images["crash:v1"], deploy={"health-timeout": "5s"})
    status, c = berthd.call("POST", "/containers", {"name": "crash", "config": cfg})
    assert status == 202, c
    c = berthd.wait_status("crash", "failed", timeout=60)
    assert c["status_detail"]


def test_delete_removes_route_and_enclave(berthd, repo):
    berthd.call("POST", "/containers", {"name": "gone", "repo": repo.dir, "tag": "v1"})
    berthd.wait_status("gone", "running")
    status, body = berthd.call("DELETE", "/containers/gone")
    assert status == 202, body
    assert berthd.call("GET", "/containers/gone")[0] == 404
    import os
    import time
    deadline = time.monotonic() + 30
    enc = os.path.join(berthd.state, "enclaves")
    while time.monotonic() < deadline and os.listdir(enc):
        time.sleep(0.1)
    assert os.listdir(enc) == []
    assert berthd.get("gone")[0] == 404


def test_logs_of_a_debug_container_only(berthd, registry):
    cfg = config_text(registry.images["hello:v1"], entrypoint=[
        "/bin/sh", "-c", "for i in 1 2 3 4 5 6 7; do echo line $i; done; "
        "echo to-stderr >&2; exec httpd -f -p 8080 -h /www"])
    berthd.call("POST", "/containers", {"name": "prod", "config": cfg})
    berthd.call("POST", "/containers", {"name": "dbg", "config": cfg, "debug": True})
    berthd.wait_status("prod", "running")
    berthd.wait_status("dbg", "running")
    status, body = berthd.call("GET", "/containers/prod/logs")
    assert status == 403 and "only available for debug containers" in body["error"]["message"]
    status, body = berthd.call("GET", "/containers/dbg/logs?tail=3")
    assert status == 200, body
    assert body.splitlines() == ["line 6", "line 7", "to-stderr"]
    assert berthd.call("GET", "/containers/dbg/logs?tail=zero")[0] == 400
    assert berthd.call("GET", "/containers/nope/logs")[0] == 404


def test_a_failed_updates_logs_are_kept_for_a_debug_container(berthd, registry):
    """The new version of a debug container fails its health gate: its
    enclave goes, its logs stay for the user to read by deployment, until the
    container is deleted. A production container keeps none."""
    import os
    good = config_text(registry.images["hello:v1"])
    check = {"test": ["CMD-SHELL", "exit 1"], "interval": "1s", "retries": 1}
    bad = config_text(registry.images["hello:v1"], healthcheck=check,
                      deploy={"health-timeout": "4s"}, entrypoint=[
                          "/bin/sh", "-c", "echo the new version cannot reach its model; "
                          "exec httpd -f -p 8080 -h /www"])
    for name, debug in (("dbg", True), ("prod", False)):
        assert berthd.call("POST", "/containers",
                           {"name": name, "config": good, "debug": debug})[0] == 202
    for name in ("dbg", "prod"):
        berthd.wait_status(name, "running")
        status, u = berthd.call("POST", f"/containers/{name}/updates",
                                {"kind": "edit-config", "config": bad})
        assert status == 202, u
    failed = {}
    for name in ("dbg", "prod"):
        c = berthd.wait_update_end(name)
        assert c["update"]["status"] == "failed" and c["status"] == "running", c
        failed[name] = c["update"]["to"]
    # The failed enclaves are gone...
    deadline = time.monotonic() + 30
    enc = os.path.join(berthd.state, "enclaves")
    while time.monotonic() < deadline and len(os.listdir(enc)) > 2:
        time.sleep(0.2)
    assert len(os.listdir(enc)) == 2, os.listdir(enc)
    # ...and the debug one's output is there by its deployment.
    status, body = berthd.call("GET", f"/containers/dbg/logs?deployment={failed['dbg']}")
    assert status == 200, body
    assert "the new version cannot reach its model" in body, body
    status, body = berthd.call("GET", "/containers/dbg/logs")
    assert status == 200 and "cannot reach its model" not in (body or ""), body
    status, body = berthd.call("GET", f"/containers/prod/logs?deployment={failed['prod']}")
    assert status == 403, body
    status, body = berthd.call("GET", "/containers/dbg/logs?deployment=" + "0" * 32)
    assert status == 404, body
    # One container keeps logs (the debug one), one failed deployment of it;
    # deleted, they go with it.
    logs = os.path.join(berthd.state, "logs")
    kept = os.listdir(logs)
    assert len(kept) == 1 and os.listdir(os.path.join(logs, kept[0])) == [failed["dbg"]], kept
    assert berthd.call("DELETE", "/containers/dbg")[0] == 202
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and os.listdir(logs):
        time.sleep(0.2)
    assert os.listdir(logs) == []


def test_a_running_container_whose_enclave_dies_turns_failed(berthd, repo):
    import hashlib
    import os
    import subprocess
    berthd.call("POST", "/containers", {"name": "web", "repo": repo.dir, "tag": "v1"})
    berthd.wait_status("web", "running")
    root = "/run/berth/%s/oci" % hashlib.sha256(berthd.state.encode()).hexdigest()[:12]
    enclave = os.listdir(os.path.join(berthd.state, "enclaves"))[0]
    subprocess.run(["runc", "--root", root, "kill", enclave + "-app", "KILL"], check=True)
    c = berthd.wait_status("web", "failed", timeout=30)
    assert "enclave" in c["status_detail"], c["status_detail"]
    assert berthd.get("web")[0] == 503
    # Retry is one step away.
    status, u = berthd.call("POST", "/containers/web/updates", {"kind": "retry"})
    assert status == 202, u
    c = berthd.wait_update_end("web")
    assert c["status"] == "running", c
    assert berthd.get("web")[1] == b"hello v1\n"
