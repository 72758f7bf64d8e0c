"""berth-agent's hollow runtime (--runtime hollow, bench/scale.sh's): berthd
drives two hollow agents on loopback (no runc, no namespace, no registry);
20 containers are placed on both, each served through its host's real
berth-router by its agent's socket, which answers its enclave's name; an
update switches to a new socket and closes the old one; exec succeeds; a
subnet off loopback is refused."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from hosts_helpers import (BUILD, Berthd, config_text, free_port, http, suite_checks,
                           wait_answer)


def config(n=0):
    """A config whose image nothing pulls (the hollow runtime runs none)."""
    return config_text(f"hollow.invalid/app@sha256:{n:064x}", paths=("/*",),
                       deploy={"health-path": "/health", "min-healthy-time": "0s",
                               "drain-timeout": "2s"})


class HollowAgent:
    """berth-agent --runtime hollow on loopback, its enclaves on 127.N.0.0/16."""

    def __init__(self, token_file, berthd_url, host_id, octet, port):
        self.state = tempfile.mkdtemp(prefix="berth-hollow-")
        self.host_id = host_id
        self.port, self.router_port = port, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = open(token_file).read().strip()
        suite_checks.track("dir", self.state)
        self.logpath = os.path.join(self.state, "agent.log")
        self.log = open(self.logpath, "a")
        self.proc = subprocess.Popen(
            [os.path.join(BUILD, "berth-agent"), "--runtime", "hollow",
             "--subnet", f"127.{octet}.0.0/16", "--state-dir", self.state,
             "--listen", f"127.0.0.1:{self.port}",
             "--router-listen", f"127.0.0.1:{self.router_port}",
             "--token-file", token_file, "--berthd", berthd_url, "--host-id", host_id,
             "--heartbeat", "1", "--log-level", "debug"],
            stdout=self.log, stderr=subprocess.STDOUT, env=suite_checks.daemon_env())
        wait_answer(self.proc, self.url + "/v1/info", 401, "berth-agent", self.read_log, 30)

    def read_log(self):
        with open(self.logpath) as f:
            return f.read()

    def call(self, method, path, body=None):
        return http(method, self.url + path, body, self.token)

    def routed(self, host, path="/"):
        return http("GET", f"http://127.0.0.1:{self.router_port}{path}",
                    headers={"Host": host}, timeout=5)

    def enclaves(self):
        status, body, _ = self.call("GET", "/v1/enclaves")
        assert status == 200, body
        return sorted(json.loads(body)["names"])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
        self.log.close()
        suite_checks.scan_log(self.logpath)
        suite_checks.stop_router(self.state)
        suite_checks.remove_state_dir(self.state)


def enclave_addr(agent, name):
    status, body, _ = agent.call("POST", f"/v1/enclaves/{name}/adopt")
    assert status == 200, body
    return json.loads(body)["enclave"]["ip"]


@pytest.fixture
def hollow(token_file):
    """(berthd, {host id: agent}): two hollow agents, berthd started first
    (they register with it), pointed at their ports."""
    ports = {"h1": free_port(), "h2": free_port()}
    octet = 200 + os.getpid() % 40
    b = None
    agents = {}
    try:
        b = Berthd(args=["--agent", f"http://127.0.0.1:{ports['h1']}",
                         "--agent", f"http://127.0.0.1:{ports['h2']}",
                         "--agent-token-file", token_file, "--host-timeout", "5"], tls=False)
        for i, host_id in enumerate(ports):
            agents[host_id] = HollowAgent(token_file, b.url, host_id, octet + i,
                                          ports[host_id])
        yield b, agents
    finally:
        if b is not None:
            b.stop()
        for a in agents.values():
            a.stop()


def wait_hosts_ready(b, ids, timeout=20):
    """Until every host registered and berthd's reconciler knows it (it
    places on the hosts that answered)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, hosts = b.call("GET", "/hosts")
        log = b.read_log()
        if (status == 200 and sum(h["status"] == "ready" for h in hosts) == len(ids)
                and all(f"host {i} answers" in log for i in ids)):
            return
        time.sleep(0.2)
    raise AssertionError(f"hosts not ready: {hosts}")


def refused(ip, port):
    try:
        socket.create_connection((ip, port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def test_hollow_hosts_deploy_route_update(hollow):
    b, agents = hollow
    wait_hosts_ready(b, list(agents))
    names = [f"c{i:02d}" for i in range(20)]
    for name in names:
        status, c = b.call("POST", "/containers", {"name": name, "config": config()})
        assert status == 202, c
    placed = {}
    for name in names:
        c = b.wait_status(name, "running", timeout=60)
        placed[name] = (c["host"], c["enclaves"][0]["name"])
    # Placement spreads them (the host with fewer enclaves), and each agent
    # lists what berthd placed there.
    for host_id, a in agents.items():
        mine = sorted(e for h, e in placed.values() if h == host_id)
        assert len(mine) == 10, placed
        assert a.enclaves() == mine

    # Real HTTP through each host's real router to the agent's socket,
    # which answers its enclave's name on / and /health, 404 elsewhere.
    for name, (host_id, enclave) in placed.items():
        status, body, _ = agents[host_id].routed(b.host(name))
        assert (status, body) == (200, (enclave + "\n").encode()), (name, status, body)
    name = names[3]
    host_id, old = placed[name]
    a = agents[host_id]
    assert a.routed(b.host(name), "/health")[:2] == (200, (old + "\n").encode())
    assert a.routed(b.host(name), "/nothing-here")[0] == 404

    # exec: a trivial success, for the health checks that exec.
    status, body, _ = a.call("POST", f"/v1/enclaves/{old}/exec",
                             {"container": "app", "argv": ["true"], "timeout_ms": 1000})
    assert status == 200 and json.loads(body) == {"exit_code": 0, "output": ""}, body

    # A blue-green update: the new enclave serves through the router, the
    # old one's socket is closed once it drained and stopped.
    old_ip = enclave_addr(a, old)
    assert not refused(old_ip, 8080)
    status, u = b.call("POST", f"/containers/{name}/updates",
                       {"kind": "edit-config", "config": config(1)})
    assert status == 202, u
    c = b.wait_update_end(name, timeout=30)
    assert c["update"]["status"] == "ready", c["update"]
    new = c["enclaves"][0]["name"]
    assert new != old and c["enclaves"][0]["deployment"] == u["to"]
    new_host = c["host"]
    status, body, _ = agents[new_host].routed(b.host(name))
    assert (status, body) == (200, (new + "\n").encode()), (status, body)
    deadline = time.monotonic() + 20
    while old in a.enclaves() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert old not in a.enclaves()
    assert refused(old_ip, 8080)
    assert a.call("POST", f"/v1/enclaves/{old}/adopt")[0] == 404
    # The other containers went on untouched.
    for other in names[:3]:
        h, e = placed[other]
        assert agents[h].routed(b.host(other))[:2] == (200, (e + "\n").encode())


def test_hollow_refuses_a_subnet_off_loopback(token_file, tmp_path):
    out = subprocess.run([os.path.join(BUILD, "berth-agent"), "--runtime", "hollow",
                          "--subnet", "10.7.0.0/16", "--state-dir", str(tmp_path / "s"),
                          "--listen", f"127.0.0.1:{free_port()}",
                          "--router-listen", f"127.0.0.1:{free_port()}",
                          "--token-file", token_file],
                         capture_output=True, text=True, timeout=30,
                         env=suite_checks.daemon_env())
    assert out.returncode != 0
    assert "--subnet 10.7.0.0/16 is not loopback (127.0.0.0/8)" in out.stderr, out.stderr
