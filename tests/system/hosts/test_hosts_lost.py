"""A lost host (two agents, docs/architecture.md "A lost host"): its agent
frozen and its datacenter link down, it stops heartbeating; past
--host-timeout (3 s here) the container it served is redeployed on the other
host, serves there through either router, and its events say why; the host
back, its stale enclave is removed. With no room elsewhere nothing moves and
an event says why; room made, it moves."""
import signal
import time

import pytest

from hosts_helpers import both_hosts_answer, config_text, enclaves_of, serves, sh, wait_log


def events(b, name):
    status, ev = b.call("GET", f"/containers/{name}/events")
    assert status == 200, ev
    return ev


def wait_event(b, name, kind, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in events(b, name):
            if e["kind"] == kind:
                return e
        time.sleep(0.2)
    raise AssertionError(f"no {kind} event of {name} within {timeout}s: {events(b, name)}")


def wait_until(what, timeout, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(step)
    return what()


def lose(agent):
    """The host away: its agent frozen (no heartbeat), its datacenter link
    down and its address unreachable from the others (its agent, router and
    enclaves), while what runs there runs on, as across a partition."""
    agent.proc.send_signal(signal.SIGSTOP)
    sh("ip", "link", "set", agent.link.root_if, "down")
    sh("ip", "route", "add", "unreachable", f"{agent.link.host_ip}/32")


def bring_back(agent):
    sh("ip", "route", "del", "unreachable", f"{agent.link.host_ip}/32", check=False)
    sh("ip", "link", "set", agent.link.root_if, "up")
    agent.proc.send_signal(signal.SIGCONT)


def deploy_on_both(b, names, config=None, repo=None):
    placed = {}
    for name in names:
        body = {"name": name, "config": config} if config else {
            "name": name, "repo": repo.dir, "tag": "v1"}
        status, c = b.call("POST", "/containers", body)
        assert status == 202, c
        placed[name] = b.wait_status(name, "running", timeout=120)["host"]
    assert sorted(placed.values()) == ["host-a", "host-b"], placed
    return {h: n for n, h in placed.items()}


def test_a_lost_hosts_container_moves_and_its_stale_enclave_goes(two_hosts, repo):
    b, agents = two_hosts
    both_hosts_answer(b)
    on = deploy_on_both(b, ("one", "two"), repo=repo)
    moving, staying = on["host-b"], on["host-a"]
    stale = enclaves_of(agents["host-b"])
    assert len(stale) == 1
    try:
        lose(agents["host-b"])
        lost_at = time.monotonic()
        # Within the host timeout, the watch's pass and a boot on host-a.
        assert wait_until(lambda: b.container(moving)["host"] == "host-a"
                          and b.container(moving)["status_detail"] is None
                          and serves(agents["host-a"], b.host(moving), "v1"), 3 + 1 + 60), (
            b.container(moving), b.read_log()[-3000:])
        took = time.monotonic() - lost_at
        c = b.container(moving)
        assert c["status"] == "running", c
        assert [(e["host"], e["state"]) for e in c["enclaves"]] == [("host-a", "healthy")], c
        kinds = [e["kind"] for e in events(b, moving)]
        assert "container.moving" in kinds and "container.moved" in kinds, kinds
        moved = wait_event(b, moving, "container.moved", 1)
        assert moved["message"].startswith("host host-b lost (no heartbeat for 3 s)"), moved
        assert moved["message"].endswith(": redeployed on host host-a"), moved
        # Not a restart: none counted, and the one on host-a never moved.
        assert "container.restarting" not in kinds, kinds
        assert b.container(staying)["host"] == "host-a"
        assert not any(e["kind"].startswith("container.mov") for e in events(b, staying))
        status, hl = b.call("GET", "/hosts")
        assert {h["name"]: h["status"] for h in hl} == {"host-a": "ready", "host-b": "lost"}
        print(f"moved within {took:.1f}s of the host's loss")
    finally:
        bring_back(agents["host-b"])
    # Back: it heartbeats again, its stale enclave (the same name, its row
    # closed) is removed; its router forwards to host-a's.
    wait_log(b, "host host-b is back", 20)
    assert wait_until(lambda: enclaves_of(agents["host-b"]) == [], 60), (
        enclaves_of(agents["host-b"]), b.read_log()[-3000:])
    assert wait_until(lambda: serves(agents["host-b"], b.host(moving), "v1"), 30)
    assert serves(agents["host-a"], b.host(moving), "v1")
    assert serves(agents["host-b"], b.host(staying), "v1")
    c = b.container(moving)
    assert c["host"] == "host-a" and len(c["enclaves"]) == 1, c
    # The same enclave name on host-a now, beside the one that stayed.
    assert stale[0] in enclaves_of(agents["host-a"]) and len(enclaves_of(agents["host-a"])) == 2
    assert f"removing enclave {stale[0]} of host host-b, moved away" in b.read_log()


@pytest.mark.agent_args("--gpus", "1")
def test_no_room_elsewhere_nothing_moves_until_room_is_made(two_hosts, registry):
    b, agents = two_hosts
    both_hosts_answer(b)
    text = config_text(registry.images["hello:v1"], gpus=1)
    on = deploy_on_both(b, ("g1", "g2"), config=text)
    stuck, holder = on["host-b"], on["host-a"]
    before = b.container(stuck)
    try:
        lose(agents["host-b"])
        e = wait_event(b, stuck, "container.move_blocked", 3 + 1 + 10)
        assert e["message"].startswith("host host-b lost (no heartbeat for 3 s): not moved, "
                                       "no host has 1 free GPU: host-a has 0 GPUs"), e
        # Nothing moves: the row stays, said once, past a resync or two.
        time.sleep(6)
        c = b.container(stuck)
        assert c["host"] == "host-b" and c["enclaves"] == before["enclaves"], c
        assert [x["kind"] for x in events(b, stuck)].count("container.move_blocked") == 1
        assert len(enclaves_of(agents["host-a"])) == 1
        # Room made on host-a: the next resync moves it there.
        status, _ = b.call("DELETE", f"/containers/{holder}")
        assert status == 202
        moved = wait_event(b, stuck, "container.moved", 60)
        assert moved["message"].endswith(": redeployed on host host-a"), moved
        assert wait_until(lambda: serves(agents["host-a"], b.host(stuck), "v1"), 10)
        assert b.container(stuck)["host"] == "host-a"
    finally:
        bring_back(agents["host-b"])
    assert wait_until(lambda: enclaves_of(agents["host-b"]) == [], 60), (
        enclaves_of(agents["host-b"]), b.read_log()[-5000:])
    assert serves(agents["host-a"], b.host(stuck), "v1")


def test_an_update_coming_up_on_a_lost_host_fails_and_the_old_version_moves(two_hosts,
                                                                             registry):
    b, agents = two_hosts
    both_hosts_answer(b)
    v1 = config_text(registry.images["hello:v1"])
    on = deploy_on_both(b, ("one", "two"), config=v1)
    name = on["host-b"]
    # v2 never passes its gate within the test: it comes up beside v1 on
    # host-b (an update stays on its host when it can) and waits there.
    check = {"test": ["CMD-SHELL", "exit 1"], "interval": "1s", "retries": 1}
    v2 = config_text(registry.images["hello:v2"], healthcheck=check,
                     deploy={"health-timeout": "120s"})
    status, u = b.call("POST", f"/containers/{name}/updates", {"kind": "edit-config",
                                                               "config": v2})
    assert status == 202, u
    # Its enclave booted, in its health gate (a boot cut short by the loss
    # fails the update with the boot's own error instead).
    assert wait_until(lambda: b.container(name)["update"]["status"] == "started"
                      and len(b.container(name)["enclaves"]) == 2, 60), b.container(name)
    assert {e["host"] for e in b.container(name)["enclaves"]} == {"host-b"}
    try:
        lose(agents["host-b"])
        c = b.wait_update_end(name, timeout=3 + 1 + 30)
        assert c["update"]["status"] == "failed", c["update"]
        assert c["update"]["error"] == ("host host-b lost (no heartbeat for 3 s) while the "
                                        "new version came up there"), c["update"]
        # Then the old version, which served on host-b, moves.
        moved = wait_event(b, name, "container.moved", 60)
        assert moved["message"].endswith(": redeployed on host host-a"), moved
        assert wait_until(lambda: serves(agents["host-a"], b.host(name), "v1"), 10)
        c = b.container(name)
        assert c["status"] == "running" and c["host"] == "host-a", c
        assert [e["host"] for e in c["enclaves"]] == ["host-a"], c
    finally:
        bring_back(agents["host-b"])
    # Back: both of its enclaves (v1's and v2's) are stale and go.
    assert wait_until(lambda: enclaves_of(agents["host-b"]) == [], 60), (
        enclaves_of(agents["host-b"]), b.read_log()[-3000:])
