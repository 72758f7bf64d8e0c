"""Processes of berth killed with SIGKILL at the worst moment: berth-router
during a blue-green switch under load, berthd while a deleted container's
enclave stops. Each: berthd recovers on its own, the user sees the end they
asked for, and nothing is orphaned."""
import os
import signal
import time

from faults_helpers import TimedLoad, events, machine, wait_machine
from lifecycle_helpers import config_text

# What a client may see when berth-router is killed: a request in flight at
# the kill loses its connection. Its port never refuses: berthd holds a copy of
# the listening socket, whose backlog keeps the connections that come before
# the next router accepts them.
DOWN_KINDS = {"ConnectionResetError", "RemoteDisconnected", "BrokenPipeError", "IncompleteRead"}


def router_kill_failures(b, load, threads):
    """SIGKILLs the router under load and waits for the next one: the
    requests that failed, each (start after the kill, kind); at most one in
    flight per client thread may fail, and only by a lost connection."""
    pid = b.router_pid()
    time.sleep(0.5)
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and b.router_pid() in (pid, None):
        time.sleep(0.1)
    assert b.router_pid() not in (pid, None)
    time.sleep(1.5)
    results = load.stop()
    after = [r for r in results if r[0] > killed]
    assert [r for r in after if r[2] == 200], "nothing answered after the kill"
    failed = [(round(r[0] - killed, 3), r[3]) for r in results if r[2] != 200]
    assert len(failed) <= threads and all(k in DOWN_KINDS for _, k in failed), failed[:10]
    return failed


def test_router_killed_during_a_switch(berthd, repo, registry):
    b = berthd
    status, c = b.call("POST", "/containers", {"name": "web", "repo": repo.dir, "tag": "v1"})
    assert status == 202, c
    status, c = b.call("POST", "/containers",
                       {"name": "other", "config": config_text(registry.images["env:v1"])})
    assert status == 202, c
    b.wait_status("web", "running")
    b.wait_status("other", "running")
    pid = b.router_pid()
    web, other = TimedLoad(b, "web"), TimedLoad(b, "other", threads=1, path="/health")
    time.sleep(0.5)
    status, u = b.call("POST", "/containers/web/updates", {"kind": "tag", "tag": "v2"})
    assert status == 202, u
    # The gate passed: berthd is about to write the switch and push the route.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        c = b.container("web")
        if c["update"]["status"] != "started" and c["update"]["status"] != "pending":
            break
        time.sleep(0.005)
    assert c["update"]["status"] == "ready" and c["update"]["finished_at"] is None, c["update"]
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    c = b.wait_update_end("web", timeout=90)
    finished = time.monotonic()
    assert c["update"]["status"] == "ready", c["update"]
    assert c["deployment"]["tag"] == "v2"
    # berthd respawned the router with the whole table: both containers serve.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and b.router_pid() in (pid, None):
        time.sleep(0.1)
    assert b.router_pid() not in (pid, None)
    time.sleep(1)
    assert b.get("web")[1] == b"hello v2\n"
    assert b.get("other", "/health")[0] == 200
    results = web.stop() + other.stop()
    # Requests failed only while the router was down: each failure ended after
    # the kill and began before the first request answered after it, and was
    # a refused or lost connection, never an answer of the wrong kind.
    up = min(r[1] for r in results if r[0] > killed and r[2] == 200)
    failed = [r for r in results if r[2] != 200]
    wrong = [(round(r[0] - killed, 3), round(r[1] - killed, 3), r[2], r[3][:80])
             for r in failed if not (r[1] >= killed and r[0] <= up and r[2] is None and
                                     r[3] in DOWN_KINDS)]
    assert wrong == [], (round(up - killed, 3), wrong[:10])
    print(f"router down {up - killed:.2f} s: {len(failed)} of {len(results)} requests failed")
    # No request that began once the old version drained reached it.
    late = [r for r in web.results if r[0] > finished and r[2] == 200]
    assert late and {r[3] for r in late} == {b"hello v2\n"}
    assert len(machine(b)["enclaves"]) == 2


def test_router_killed_refuses_no_connection(berthd, registry):
    """New connections, back to back, across the router's SIGKILL: the ones
    that come while no router runs wait in the backlog and are answered by
    the next router. Then again after berthd itself was restarted (the router
    ran on; berthd took copies of its sockets from it)."""
    b = berthd
    status, c = b.call("POST", "/containers",
                       {"name": "web", "config": config_text(registry.images["hello:v1"])})
    assert status == 202, c
    b.wait_status("web", "running")
    router_kill_failures(b, TimedLoad(b, "web", threads=2), 2)
    b.kill(signal.SIGKILL)
    b.start()
    b.wait_status("web", "running")
    # berthd asked the running router for its status (and sockets) at start.
    assert "holding copies of the listening sockets" in open(b.logpath).read()
    router_kill_failures(b, TimedLoad(b, "web", threads=2), 2)
    assert b.get("web")[1] == b"hello v1\n"


def test_berthd_killed_during_a_delete_finishes_it_after_the_restart(berthd, registry):
    """The container's PID 1 (busybox httpd) ignores SIGTERM, so its stop
    waits out the stop timeout; berthd is SIGKILLed in that window."""
    b = berthd
    assert b.call("PUT", "/secrets/FAULT_KEY", {"value": "fault-secret-value"})[0] == 200
    cfg = config_text(registry.images["hello:v1"], secrets=["FAULT_KEY"])
    status, c = b.call("POST", "/containers", {"name": "gone", "config": cfg})
    assert status == 202, c
    b.wait_status("gone", "running")
    status, c = b.call("POST", "/containers",
                       {"name": "stay", "config": config_text(registry.images["hello:v2"])})
    assert status == 202, c
    b.wait_status("stay", "running")
    alone = machine(b)
    assert len(alone["enclaves"]) == 2 and len(alone["bundles"]) == 2, alone
    status, secrets = b.call("GET", "/secrets")
    assert [s["bound_to"] for s in secrets if s["name"] == "FAULT_KEY"] == [["gone"]]

    assert b.call("DELETE", "/containers/gone")[0] == 202
    assert b.call("GET", "/containers/gone")[0] == 404
    time.sleep(1)  # the stop is under way: SIGTERM sent, ignored
    assert len(machine(b)["enclaves"]) == 2
    b.kill(signal.SIGKILL)
    b.start()
    m = wait_machine(b, lambda m: len(m["enclaves"]) == 1, timeout=60)
    assert len(m["enclaves"]) == 1, m
    assert b.call("GET", "/containers/gone")[0] == 404
    assert [c["name"] for c in b.call("GET", "/containers")[1]] == ["stay"]
    status, secrets = b.call("GET", "/secrets")
    assert [s["bound_to"] for s in secrets if s["name"] == "FAULT_KEY"] == [[]]
    assert b.call("DELETE", "/secrets/FAULT_KEY")[0] == 204
    # Its route is gone (the router knows no such host), the other serves.
    assert b.get("gone")[0] == 404
    assert b.get("stay")[1] == b"hello v2\n"
    # One enclave's worth of everything is left: namespace, bundle, veth.
    for k in ("netns", "oci", "bundles", "veths"):
        assert len(m[k]) == len(alone[k]) // 2, (k, alone, m)
    assert len(m["mounts"]) * 2 == len(alone["mounts"]), (alone["mounts"], m["mounts"])
    assert events(b, "stay")
