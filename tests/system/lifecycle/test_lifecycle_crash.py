"""berthd is killed with SIGKILL at each step of an update, then started
again: the update finishes (or fails) cleanly, no enclave is orphaned, no
container is lost, and (blue-green) no request fails meanwhile: the router
keeps serving while berthd is away."""
import os
import signal
import time

import pytest

from lifecycle_helpers import Load, config_text

BLUE_GREEN_STEPS = ["enclave-row", "booted", "started", "ready", "switched", "routed",
                    "draining", "enclave-stopped", "old-stopped", "finished"]
RECREATE_STEPS = ["routed", "draining", "enclave-stopped", "recreate-stopped", "enclave-row",
                  "booted", "ready", "switched", "finished"]


def enclaves(b):
    d = os.path.join(b.state, "enclaves")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def crash_and_resume(b, step, body, name):
    """Restarts b armed to die at step, starts the update, waits for the
    death, restarts b unarmed and returns the container at the update's end."""
    b.kill(signal.SIGTERM)
    b.start(env={"BERTH_CRASH_AT": step})
    try:
        status, u = b.call("POST", f"/containers/{name}/updates", body)
        assert status == 202, u
    except ConnectionError:
        pass  # the crash came before the answer left: the update was accepted

    try:
        b.proc.wait(90)
    except Exception:
        raise AssertionError(f"berthd did not reach {step}:\n" + b.read_log()[-3000:])
    assert b.proc.returncode == -signal.SIGKILL, b.read_log()[-3000:]
    assert f"BERTH_CRASH_AT={step}" in b.read_log()
    b.log.close()
    b.start()
    return b.wait_update_end(name, timeout=120)


@pytest.mark.parametrize("step", BLUE_GREEN_STEPS)
def test_blue_green_survives_a_crash_at(step, berthd, repo):
    b = berthd
    status, c = b.call("POST", "/containers", {"name": "web", "repo": repo.dir, "tag": "v1"})
    assert status == 202, c
    b.wait_status("web", "running")
    load = Load(b, "web")
    c = crash_and_resume(b, step, {"kind": "tag", "tag": "v2"}, "web")
    time.sleep(0.3)
    statuses, errors = load.stop()
    assert c["update"]["status"] == "ready", c["update"]
    assert c["status"] == "running" and c["deployment"]["tag"] == "v2"
    assert b.get("web")[1] == b"hello v2\n"
    assert errors == [] and set(statuses) == {200}, (statuses, errors[:3])
    deadline = time.monotonic() + 30
    while len(enclaves(b)) != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(enclaves(b)) == 1, enclaves(b)


@pytest.mark.parametrize("step", RECREATE_STEPS)
def test_recreate_survives_a_crash_at(step, gpu_berthd, registry):
    b = gpu_berthd
    v1 = config_text(registry.images["hello:v1"], gpus=8)
    v2 = config_text(registry.images["hello:v2"], gpus=8)
    status, c = b.call("POST", "/containers", {"name": "llm", "config": v1})
    assert status == 202, c
    b.wait_status("llm", "running")
    c = crash_and_resume(b, step, {"kind": "edit-config", "config": v2}, "llm")
    assert c["update"]["status"] == "ready", c["update"]
    assert c["status"] == "running"
    assert b.get("llm", timeout=40)[1] == b"hello v2\n"
    deadline = time.monotonic() + 30
    while len(enclaves(b)) != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(enclaves(b)) == 1, enclaves(b)


def test_a_restarted_berthd_still_says_why_the_enclave_failed(berthd, registry):
    """The reason is persisted with the enclave's failure: berthd killed right
    after it, the container's status says the health check's reason, not a
    generic one."""
    b = berthd
    check = {"test": ["CMD-SHELL", "echo not ready yet; exit 1"], "interval": "1s",
             "retries": 1}
    cfg = config_text(registry.images["hello:v1"], healthcheck=check,
                      deploy={"health-timeout": "4s"})
    b.kill(signal.SIGTERM)
    b.start(env={"BERTH_CRASH_AT": "enclave-failed"})
    status, c = b.call("POST", "/containers", {"name": "sick", "config": cfg})
    assert status == 202, c
    try:
        b.proc.wait(90)
    except Exception:
        raise AssertionError("berthd did not reach enclave-failed:\n" + b.read_log()[-3000:])
    assert b.proc.returncode == -signal.SIGKILL, b.read_log()[-3000:]
    b.log.close()
    b.start()
    c = b.wait_status("sick", "failed", timeout=60)
    assert "not ready yet" in (c["status_detail"] or ""), c
    deadline = time.monotonic() + 30
    while enclaves(b) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert enclaves(b) == [], enclaves(b)
