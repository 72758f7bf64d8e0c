"""The config's `restart` (docs/lifecycle.md "Restarts"): a container whose
serving enclave's process dies is brought back as its config says, with
real runc enclaves and berth-router, the process SIGKILLed by its pid."""
import hashlib
import json
import os
import signal
import subprocess
import time

import pytest

from lifecycle_helpers import Load, config_text


def app_pid(berthd):
    """The host pid of the app container of berthd's only enclave, as runc
    under berthd's --root says."""
    root = "/run/berth/%s/oci" % hashlib.sha256(berthd.state.encode()).hexdigest()[:12]
    enclaves = os.listdir(os.path.join(berthd.state, "enclaves"))
    assert len(enclaves) == 1, enclaves
    out = subprocess.run(["runc", "--root", root, "state", enclaves[0] + "-app"],
                         capture_output=True, text=True, check=True, timeout=30)
    state = json.loads(out.stdout)
    assert state["status"] == "running" and state["pid"] > 0, state
    return state["pid"]


def events(berthd, name):
    status, body = berthd.call("GET", f"/containers/{name}/events")
    assert status == 200, body
    return body


def kinds(berthd, name, kind):
    return [e["message"] for e in events(berthd, name) if e["kind"] == kind]


def test_restart_always_brings_a_killed_process_back_without_a_failed_request(berthd, registry):
    b = berthd
    cfg = config_text(registry.images["hello:v1"], extra=["restart: always"])
    status, c = b.call("POST", "/containers", {"name": "web", "config": cfg})
    assert status == 202, c
    c = b.wait_status("web", "running")
    assert c["restarts"] == 0
    assert b.get("web")[1] == b"hello v1\n"
    # A client loop through berth-router; held requests wait up to 30 s.
    load = Load(b, "web", timeout=40)
    time.sleep(1)
    os.kill(app_pid(b), signal.SIGKILL)
    seen = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        c = b.container("web")
        seen.add(c["status"])
        if c["restarts"] == 1 and c["status_detail"] is None and kinds(b, "web", "container.restarted"):
            break
        time.sleep(0.2)
    time.sleep(1)
    statuses, errors = load.stop()
    assert seen == {"running"}, seen
    assert c["restarts"] == 1, c
    assert errors == [], errors[:5]
    assert set(statuses) == {200}, statuses
    assert statuses[200] > 50, statuses
    restarting = kinds(b, "web", "container.restarting")
    assert len(restarting) == 1, events(b, "web")
    assert restarting[0].startswith("restarting (restart 1) in 0.1 s: the running enclave "
                                    "stopped: its containers are stopped (app stopped)"), restarting
    assert kinds(b, "web", "container.failed") == []
    # The same deployment serves again, from a new process.
    assert c["deployment"]["id"] == b.container("web")["deployment"]["id"]
    assert b.get("web")[1] == b"hello v1\n"
    app_pid(b)


def test_restart_no_turns_failed_as_before(berthd, registry):
    b = berthd
    cfg = config_text(registry.images["hello:v1"], extra=["restart: \"no\""])
    assert b.call("POST", "/containers", {"name": "web", "config": cfg})[0] == 202
    b.wait_status("web", "running")
    os.kill(app_pid(b), signal.SIGKILL)
    c = b.wait_status("web", "failed", timeout=30)
    assert "the running enclave stopped" in c["status_detail"], c
    assert c["restarts"] == 0
    assert kinds(b, "web", "container.restarting") == []
    assert b.get("web")[0] == 503


def test_on_failure_2_gives_up_after_two_restarts(berthd, registry):
    b = berthd
    # Healthy for a while after each start, then it exits 1.
    cfg = config_text(registry.images["hello:v1"], extra=["restart: on-failure:2"],
                      entrypoint=["/bin/sh", "-c", "httpd -p 8080 -h /www; sleep 4; exit 1"])
    assert b.call("POST", "/containers", {"name": "web", "config": cfg})[0] == 202
    b.wait_status("web", "running")
    c = b.wait_status("web", "failed", timeout=120)
    assert c["restarts"] == 2, c
    assert c["status_detail"].startswith("gave up after 2 restarts (on-failure:2): the running "
                                         "enclave stopped"), c["status_detail"]
    assert len(kinds(b, "web", "container.restarting")) == 2, events(b, "web")
    assert len(kinds(b, "web", "container.restarted")) == 2, events(b, "web")
    failed = kinds(b, "web", "container.failed")
    assert len(failed) == 1 and failed[0] == c["status_detail"], failed
    assert b.get("web")[0] == 503
    # Nothing of it is left running.
    deadline = time.monotonic() + 30
    while os.listdir(os.path.join(b.state, "enclaves")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert os.listdir(os.path.join(b.state, "enclaves")) == []


@pytest.mark.parametrize("step", ["restart-decided", "enclave-row", "booted", "restarted"])
def test_restart_survives_a_crash_of_berthd_at(step, berthd, registry):
    """berthd SIGKILLs itself at a step of the restart: started again, it
    finishes the restart, counted once, no request failed, no enclave left
    behind."""
    b = berthd
    cfg = config_text(registry.images["hello:v1"], extra=["restart: always"])
    assert b.call("POST", "/containers", {"name": "web", "config": cfg})[0] == 202
    b.wait_status("web", "running")
    # Armed only now: the first deploy passes the same boot steps.
    b.kill(signal.SIGTERM)
    b.start(env={"BERTH_CRASH_AT": step})
    load = Load(b, "web", timeout=40)
    time.sleep(0.5)
    os.kill(app_pid(b), signal.SIGKILL)
    try:
        b.proc.wait(60)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"berthd did not reach {step}:\n" + b.read_log()[-3000:])
    assert b.proc.returncode == -signal.SIGKILL, b.read_log()[-3000:]
    assert f"BERTH_CRASH_AT={step}" in b.read_log()
    b.log.close()
    b.start()
    c = b.wait("web", lambda c: c["restarts"] == 1 and c["status_detail"] is None and
               kinds(b, "web", "container.restarted"), 60, "the restart's end")
    time.sleep(1)
    statuses, errors = load.stop()
    assert c["status"] == "running"
    assert errors == [] and set(statuses) == {200}, (statuses, errors[:3])
    assert len(kinds(b, "web", "container.restarting")) == 1, events(b, "web")
    assert b.get("web")[1] == b"hello v1\n"
    assert len(os.listdir(os.path.join(b.state, "enclaves"))) == 1
    app_pid(b)
