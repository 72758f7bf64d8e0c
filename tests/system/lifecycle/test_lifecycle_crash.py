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


def _ppid(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def berth_orphans(b):
    """Processes parented to init that belong to berthd b (an open file, a
    working directory or an argument under its state dir), other than its
    router and the enclaves' own processes (another pid namespace): what a
    dead berthd left behind. {pid: name}."""
    own_ns = os.readlink("/proc/self/ns/pid")
    router = b.router_pid()
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == router:
            continue
        pid = int(p)
        try:
            if _ppid(pid) != 1 or os.readlink(f"/proc/{pid}/ns/pid") != own_ns:
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            paths = [os.readlink(f"/proc/{pid}/cwd")] + [
                os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
            with open(f"/proc/{pid}/comm") as f:
                name = f.read().strip()
        except (OSError, ValueError):
            continue  # gone meanwhile
        if b.state in cmd or any(x.startswith(b.state) for x in paths):
            out[pid] = f"{name}: {cmd[:120]}"
    return out


def test_a_sigkilled_berthd_leaves_no_relay_behind(berthd, registry):
    """Issue 11, defect 3: after SIGKILL, no process of berthd's is left
    parented to init but its router and the enclaves (designed to outlive
    it); started again, berthd resumes the enclave, which still serves, and
    its log still flows."""
    b = berthd
    cfg = config_text(registry.images["hello:v1"], entrypoint=[
        "/bin/sh", "-c", "(i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done) & "
        "exec httpd -f -p 8080 -h /www"])
    status, c = b.call("POST", "/containers", {"name": "dbg", "config": cfg, "debug": True})
    assert status == 202, c
    b.wait_status("dbg", "running")
    assert b.get("dbg")[1] == b"hello v1\n"
    b.kill(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while berth_orphans(b) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert berth_orphans(b) == {}
    # The enclave outlived berthd: the router still reaches it.
    assert b.get("dbg")[1] == b"hello v1\n"
    b.start()
    c = b.wait_status("dbg", "running")
    assert b.get("dbg")[1] == b"hello v1\n"

    def last_tick():
        status, body = b.call("GET", "/containers/dbg/logs?tail=1")
        assert status == 200, body
        return int(body.split()[-1]) if body.startswith("tick") else 0

    first = last_tick()
    deadline = time.monotonic() + 10
    while last_tick() <= first + 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert last_tick() > first + 3, "the log stopped after the restart"
