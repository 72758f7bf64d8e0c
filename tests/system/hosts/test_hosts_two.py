"""berthd driving two hosts, each through its own berth-agent (its own
network namespace, state dir, bridge, subnet and router): placement spreads
two containers across them, each serves through its host's router, the
container object and `berth host list` say where, berthd restarted adopts
the enclaves of each host (and reports, without dropping it, one on a host it
no longer drives), and a delete removes the enclave from the right host."""
import json
import os
import subprocess
import time

import pytest

from hosts_helpers import (BUILD, Load, both_hosts_answer, config_text, enclaves_of, http, serves,
                           wait_log)


def host_list(b, tmp_path):
    env = dict(os.environ, BERTH_URL=b.url, BERTH_TOKEN=b.token, HOME=str(tmp_path))
    out = subprocess.run([os.path.join(BUILD, "berth"), "host", "list", "--json"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out
    return {h["name"]: h for h in json.loads(out.stdout)}


class Through:
    """What Load asks of berthd, through one host's router."""

    def __init__(self, b, agent):
        self.b, self.agent = b, agent

    def get(self, name, path="/", timeout=5):
        return self.agent.get(self.b.host(name), path, timeout)


def versions(load):
    return {v for v in ("v1", "v2") for body in load.bodies if v.encode() in body}


def test_two_hosts_spread_serve_delete_and_adopt(two_hosts, repo, tmp_path):
    b, agents = two_hosts
    both_hosts_answer(b)

    placed = {}
    for name in ("one", "two"):
        status, c = b.call("POST", "/containers", {"name": name, "repo": repo.dir, "tag": "v1"})
        assert status == 202, c
        c = b.wait_status(name, "running", timeout=120)
        placed[name] = c["host"]
        assert [e["host"] for e in c["enclaves"]] == [c["host"]], c["enclaves"]
    # Spread: the first on host-a (a tie, by id), the second on the host
    # with fewer enclaves.
    assert placed == {"one": "host-a", "two": "host-b"}, placed
    for name, host_id in placed.items():
        other = "host-b" if host_id == "host-a" else "host-a"
        assert serves(agents[host_id], b.host(name), "v1")
        # Every host's router serves every container: the other forwards
        # to the router of the host of its enclave.
        assert serves(agents[other], b.host(name), "v1")
        assert len(enclaves_of(agents[host_id])) == 1
        # The hop marker from a client: the live host's router serves it
        # (the marker is not passed on); the other does not forward it
        # again, so it reaches nothing it could not reach anyway.
        status, body, _ = http("GET", f"http://{agents[host_id].link.host_ip}:"
                               f"{agents[host_id].router_port}/",
                               headers={"Host": b.host(name), "X-Berth-Hop": "1"})
        assert status == 200 and b"v1" in body, (status, body)
        status, body, _ = http("GET", f"http://{agents[other].link.host_ip}:"
                               f"{agents[other].router_port}/",
                               headers={"Host": b.host(name), "X-Berth-Hop": "1"})
        assert status == 502 and b"forwarded here by another host" in body, (status, body)
    hl = host_list(b, tmp_path)
    assert hl["host-a"]["allocated"]["enclaves"] == 1, hl
    assert hl["host-b"]["allocated"]["enclaves"] == 1, hl

    # berthd restarted: each enclave is adopted from its own host, nothing
    # is replaced, both serve on.
    before = {n: (b.container(n)["deployment"]["id"], enclaves_of(agents[h]))
              for n, h in placed.items()}
    b.kill()
    b.start()
    wait_log(b, "on host host-a", 10)
    for name, host_id in placed.items():
        c = b.wait_status(name, "running", timeout=30)
        assert c["host"] == host_id
        assert (c["deployment"]["id"], enclaves_of(agents[host_id])) == before[name]
        assert serves(agents[host_id], b.host(name), "v1")
    log = b.read_log()
    assert "adopted enclave" in log and "on host host-a" in log and "on host host-b" in log
    assert "does not drive" not in log

    # berthd started with host-a alone: the enclave on host-b is reported
    # (log and event), not dropped: its row stays, nothing is replaced.
    b.kill()
    i = b.args.index(f"http://{agents['host-b'].link.host_ip}:{agents['host-b'].port}")
    only_a = b.args[:i - 1] + b.args[i + 1:]
    full, b.args = b.args, only_a
    b.start()
    wait_log(b, "is on host host-b, which this berthd does not drive", 10)
    time.sleep(2)
    kinds = [e["kind"] for e in b.call("GET", "/containers/two/events")[1]]
    assert "enclave.host_unknown" in kinds, kinds
    c = b.container("two")
    assert c["status"] == "running" and c["host"] == "host-b", c
    assert enclaves_of(agents["host-b"]) == before["two"][1]
    assert "removing orphan" not in b.read_log()
    b.kill()
    b.args = full
    b.start()
    b.wait_status("two", "running", timeout=30)

    # A delete removes the enclave from its host, and only there.
    status, _ = b.call("DELETE", "/containers/two")
    assert status == 202
    deadline = time.monotonic() + 60
    while enclaves_of(agents["host-b"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert enclaves_of(agents["host-b"]) == []
    assert enclaves_of(agents["host-a"]) == before["one"][1]
    assert serves(agents["host-a"], b.host("one"), "v1")
    assert host_list(b, tmp_path)["host-b"]["allocated"]["enclaves"] == 0


@pytest.mark.agent_args("--gpus", "1")
def test_gpus_are_exclusive_per_host_and_no_room_says_why(two_hosts, registry):
    b, agents = two_hosts
    both_hosts_answer(b)
    text = config_text(registry.images["hello:v1"], gpus=1)
    hosts = []
    for name in ("g1", "g2"):
        status, c = b.call("POST", "/containers", {"name": name, "config": text})
        assert status == 202, c
        hosts.append(b.wait_status(name, "running", timeout=120)["host"])
    assert sorted(hosts) == ["host-a", "host-b"], hosts
    # Each host's one GPU is held: a third GPU container fits nowhere, and
    # the deploy fails with why, starting nothing.
    status, c = b.call("POST", "/containers", {"name": "g3", "config": text})
    assert status == 202, c
    c = b.wait_status("g3", "failed", timeout=30)
    assert c["status_detail"] == "no host has 1 free GPU: host-a has 0 GPUs, host-b has 0 GPUs", c
    assert c["host"] is None and c["enclaves"] == []
    assert [len(enclaves_of(a)) for a in agents.values()] == [1, 1]


@pytest.mark.agent_args("--gpus", "1")
def test_gpu_update_goes_blue_green_onto_a_host_with_a_free_gpu(two_hosts, registry):
    """A GPU container whose host cannot hold two versions updates
    blue-green onto the other host when its GPU is free, and by
    stop-then-start when no host has room beside it."""
    b, agents = two_hosts
    both_hosts_answer(b)
    v1 = config_text(registry.images["hello:v1"], gpus=1)
    v2 = config_text(registry.images["hello:v2"], gpus=1)
    status, c = b.call("POST", "/containers", {"name": "llm", "config": v1})
    assert status == 202, c
    first = b.wait_status("llm", "running", timeout=120)["host"]
    other = "host-b" if first == "host-a" else "host-a"
    # Under load through both hosts' routers, the move fails no request.
    loads = [Load(Through(b, a), "llm") for a in agents.values()]
    status, u = b.call("POST", "/containers/llm/updates", {"kind": "edit-config", "config": v2})
    assert status == 202 and u["strategy"] == "blue-green", u
    c = b.wait_update_end("llm", timeout=120)
    assert c["update"]["status"] == "ready", c["update"]
    assert c["host"] == other, c
    assert serves(agents[other], b.host("llm"), "v2")
    deadline = time.monotonic() + 60
    while enclaves_of(agents[first]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert enclaves_of(agents[first]) == []
    for load in loads:
        statuses, errors = load.stop()
        assert errors == [] and set(statuses) == {200}, (statuses, errors[:5])
        assert versions(load) == {"v1", "v2"}, load.bodies
    # Drained: no request through either router reaches the old version.
    after = [Load(Through(b, a), "llm") for a in agents.values()]
    time.sleep(1)
    for load in after:
        statuses, errors = load.stop()
        assert errors == [] and set(statuses) == {200}, (statuses, errors[:5])
        assert versions(load) == {"v2"}, load.bodies
    # Another GPU container takes the freed GPU: no host has room beside the
    # serving version now, so the next update stops it first.
    status, c = b.call("POST", "/containers", {"name": "other", "config": v1})
    assert status == 202, c
    assert b.wait_status("other", "running", timeout=120)["host"] == first
    status, u = b.call("POST", "/containers/llm/updates", {"kind": "edit-config", "config": v1})
    assert status == 202 and u["strategy"] == "recreate", u
    c = b.wait_update_end("llm", timeout=120)
    assert c["update"]["status"] == "ready", c["update"]
    assert c["host"] == other and serves(agents[other], b.host("llm"), "v1")
