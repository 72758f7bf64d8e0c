"""berthd driving the enclaves of another host through its berth-agent: a
deploy from a real git repository and registry served by that host's
router, a blue-green update, the host token's check, and a killed agent
reported unreachable within the host timeout while berthd keeps answering."""
import json
import os
import subprocess
import time
import uuid

from hosts_helpers import BUILD, config_text, http


def deploy(b, name, **body):
    status, c = b.call("POST", "/containers", dict(name=name, **body))
    assert status == 202, c
    return b.wait_status(name, "running", timeout=120)


def hosts(b):
    status, body = b.call("GET", "/hosts")
    assert status == 200, body
    return body


def wait_host(b, status, timeout):
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = hosts(b)
        if seen and seen[0]["status"] == status:
            return seen[0]
        time.sleep(0.1)
    raise AssertionError(f"host not {status} within {timeout}s: {seen}\n"
                         + b.read_log()[-3000:])


def berth_host_list(b, tmp_path, *args):
    env = dict(os.environ, BERTH_URL=b.url, BERTH_TOKEN=b.token, HOME=str(tmp_path))
    out = subprocess.run([os.path.join(BUILD, "berth"), "host", "list", *args], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out
    return out.stdout


def test_deploy_and_blue_green_through_the_agent(datacenter, repo, tmp_path):
    b, a = datacenter
    h = wait_host(b, "ready", 15)
    text = berth_host_list(b, tmp_path)
    assert text.splitlines()[0].split()[:2] == ["HOST", "STATUS"], text
    assert text.splitlines()[1].split()[:2] == ["host-a", "ready"], text
    assert a.url in text
    assert json.loads(berth_host_list(b, tmp_path, "--json"))[0]["name"] == "host-a"
    assert h["name"] == "host-a" and h["url"] == a.url and h["last_seen"]
    cap = h["capacity"]
    assert cap["cpus"] >= 1 and cap["memory_bytes"] > 0 and "runc" in cap["isolation"]
    assert h["allocated"]["enclaves"] == 0

    deploy(b, "web", repo=repo.dir, tag="v1")
    host = b.host("web")
    status, body, _ = a.get(host)
    assert status == 200, body
    assert b"v1" in body
    # The enclave is the agent host's: in its state, not berthd's.
    assert os.listdir(os.path.join(a.state, "enclaves"))
    assert not os.path.isdir(os.path.join(b.state, "enclaves")) or \
        not os.listdir(os.path.join(b.state, "enclaves"))

    status, u = b.call("POST", "/containers/web/updates", {"kind": "tag", "tag": "v2"})
    assert status == 202, u
    assert u["strategy"] == "blue-green"
    failed = []
    deadline = time.monotonic() + 120
    c = None
    while time.monotonic() < deadline:
        s, body, _ = a.get(host)
        if s != 200:
            failed.append((s, body[:200]))
        _, c = b.call("GET", "/containers/web")
        if c["update"] is not None and c["update"]["finished_at"] is not None:
            break
        time.sleep(0.05)
    assert c["update"]["status"] == "ready", json.dumps(c, indent=1)
    assert failed == [], failed
    status, body, _ = a.get(host)
    assert status == 200 and b"v2" in body, body
    # Old enclave retired on the agent's host: one left, counted there.
    deadline = time.monotonic() + 30
    while len(os.listdir(os.path.join(a.state, "enclaves"))) > 1 and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(os.listdir(os.path.join(a.state, "enclaves"))) == 1
    assert hosts(b)[0]["allocated"]["enclaves"] == 1


def test_wrong_host_token_is_refused(datacenter):
    b, a = datacenter
    # The agent's API.
    for token in (None, "x" * 64):
        status, body, _ = http("GET", a.url + "/v1/info", token=token)
        assert status == 401, body
        status, body, _ = http("POST", a.url + "/v1/router/spawn", token=token)
        assert status == 401, body
    # berthd's agent endpoints; a tenant's admin token is not a host token.
    reg = {"host_id": "intruder", "url": "http://127.0.0.1:1", "cpus": 1,
           "memory_bytes": 1, "gpus": 0, "isolation": ["runc"]}
    for token in (None, "y" * 64, b.token):
        status, body, _ = http("POST", b.api + "/agent/register", reg, token=token)
        assert status == 401, body
        status, body, _ = http("POST", b.api + "/agent/heartbeat", {"host_id": "host-a"},
                               token=token)
        assert status == 401, body
    assert "intruder" not in [h["name"] for h in hosts(b)]
    # The host token is not a tenant token either.
    token = open(a.args[a.args.index("--token-file") + 1]).read().strip()
    status, _, _ = http("GET", b.api + "/containers", token=token)
    assert status == 401
    # A real one is taken; a bad body is a 400 with a sentence.
    status, body, _ = http("POST", b.api + "/agent/register", dict(reg, cpus="many"),
                           token=token)
    assert status == 400 and b"integers" in body, body
    # With the right token, a name in the path that would leave the agent's
    # state directory is refused before anything runs.
    for method, path in (("DELETE", "/v1/containers/..%2F..%2Fetc/volumes"),
                         ("DELETE", "/v1/containers/..%2Fx/logs"),
                         ("POST", "/v1/enclaves/..%2Fb-x/adopt"),
                         ("DELETE", "/v1/enclaves/.hidden")):
        status, body, _ = http(method, a.url + path, token=token)
        assert status == 400 and b"valid" in body, (path, status, body)
    status, body, _ = http("POST", a.url + "/v1/boot",
                           {"name": "b-../x", "container_id": "c", "config": "x",
                            "secrets": {"S": "hidden-value-123"}}, token=token)
    assert status == 400 and b"hidden-value-123" not in body, body


def agent_back_with_the_same_enclave(b, a, before, enclaves):
    """Starts agent a again: the host is ready, container web runs the
    deployment it ran (before), in the same enclaves, and serves."""
    a.start()
    wait_host(b, "ready", 10)
    time.sleep(2)
    c = b.container("web")
    assert c["status"] == "running", c
    assert c["deployment"]["id"] == before["deployment"]["id"]
    assert sorted(os.listdir(os.path.join(a.state, "enclaves"))) == enclaves
    status, body, _ = a.get(b.host("web"))
    assert status == 200 and b"v1" in body, body


def test_killed_agent_is_lost_within_the_host_timeout(datacenter, repo):
    b, a = datacenter
    wait_host(b, "ready", 15)
    before = deploy(b, "web", repo=repo.dir, tag="v1")
    enclaves = sorted(os.listdir(os.path.join(a.state, "enclaves")))
    a.kill()
    killed = time.monotonic()
    h = wait_host(b, "lost", 10)
    took = time.monotonic() - killed
    # --host-timeout 3 and a heartbeat every second.
    assert took < 3 + 1 + 1.5, took
    assert h["last_seen"]
    # berthd is not held: its API answers at once, and the container's
    # health checks fail within their deadline instead of hanging.
    t0 = time.monotonic()
    status, items = b.call("GET", "/containers")
    assert status == 200 and time.monotonic() - t0 < 1.0
    # The host's router outlives its agent: the container serves on.
    status, body, _ = a.get(b.host("web"))
    assert status == 200 and b"v1" in body, body
    # Past a few monitor passes (one a second) with the agent gone.
    time.sleep(2)
    # With nowhere else to go nothing moves, and an event says why.
    status, ev = b.call("GET", "/containers/web/events")
    blocked = [e["message"] for e in ev if e["kind"] == "container.move_blocked"]
    assert blocked == ["host host-a lost (no heartbeat for 3 s): not moved, no other host "
                       "answers; it moves once a host has room, and serves from host host-a "
                       "again if that comes back first"], ev
    # The agent back: it registers again, the host is ready, and the
    # enclave is the one it was: an unreachable host is not an enclave gone.
    agent_back_with_the_same_enclave(b, a, before, enclaves)
    assert "the running enclave is gone" not in b.read_log()
    assert "moved away while it was lost" not in b.read_log()


def test_the_host_serves_while_berthd_is_away(datacenter, repo):
    b, a = datacenter
    wait_host(b, "ready", 15)
    deploy(b, "web", repo=repo.dir, tag="v1")
    host = b.host("web")
    b.kill()
    # The enclave and the agent's router serve on; the agent stays up.
    for _ in range(20):
        status, body, _ = a.get(host)
        assert status == 200 and b"v1" in body, body
        time.sleep(0.1)
    assert a.proc.poll() is None
    # berthd back: it forgot the host (memory only), the agent registers
    # again at its next heartbeat; the container is adopted, still serving.
    b.start()
    wait_host(b, "ready", 10)
    b.wait_status("web", "running", timeout=30)
    status, body, _ = a.get(host)
    assert status == 200 and b"v1" in body, body
    assert "adopted enclave" in b.read_log()


def files_holding(top, value):
    """Files under top holding value, but the enclaves' own file systems."""
    hits = []
    for d, dirs, files in os.walk(top):
        dirs[:] = [x for x in dirs if x not in ("rootfs", "upper", "work")]
        for f in files:
            path = os.path.join(d, f)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as fh:
                    if value in fh.read():
                        hits.append(path)
    return hits


def test_a_secret_crosses_to_the_agent_and_comes_back_nowhere(datacenter, registry):
    b, a = datacenter
    name = "HOST_TOKEN_LEAK"
    value = "hv-" + uuid.uuid4().hex
    assert b.call("PUT", f"/secrets/{name}", {"value": value})[0] == 200
    serve = ["/bin/sh", "-c", f"echo token=${name}; exec httpd -f -p 8080 -h /www"]
    v1 = config_text(registry.images["hello:v1"], secrets=[name], entrypoint=serve)
    # v2's exec health check (run on the agent, its output redacted by
    # berthd) prints the value, then fails.
    check = {"test": ["CMD-SHELL", f"echo the token is ${name}; exit 1"], "interval": "1s",
             "retries": 1}
    v2 = config_text(registry.images["hello:v1"], secrets=[name], entrypoint=serve,
                     healthcheck=check, deploy={"health-timeout": "6s"})
    status, c = b.call("POST", "/containers", {"name": "leaky", "config": v1})
    assert status == 202, c
    b.wait_status("leaky", "running", timeout=120)
    status, u = b.call("POST", "/containers/leaky/updates", {"kind": "edit-config", "config": v2})
    assert status == 202, u
    c = b.wait_update_end("leaky", timeout=90)
    assert c["update"]["status"] == "failed", c["update"]
    assert c["update"]["error"].endswith("the token is [secret " + name + "]"), c["update"]
    shown = {"berthd's log": b.read_log().encode(), "the agent's log": a.read_log().encode()}
    for path in ("/containers/leaky", "/containers/leaky/events", "/containers/leaky/updates"):
        shown[path] = http("GET", b.api + path, token=b.token)[1]
    for where, text in shown.items():
        assert value.encode() not in text, f"{where} shows the value"
    assert files_holding(a.state, value.encode()) == []
    assert files_holding(b.state, value.encode()) == []


def test_berthd_started_while_the_agent_is_away_keeps_its_enclaves(datacenter, repo):
    b, a = datacenter
    wait_host(b, "ready", 15)
    before = deploy(b, "web", repo=repo.dir, tag="v1")
    enclaves = sorted(os.listdir(os.path.join(a.state, "enclaves")))
    b.kill()
    a.kill()
    # berthd starts with nobody answering at the agent's address: within
    # the calls' deadlines, and its start-up adoption fails nothing.
    t0 = time.monotonic()
    b.start()
    assert time.monotonic() - t0 < 30
    assert hosts(b)[0]["status"] == "lost"
    time.sleep(2)
    agent_back_with_the_same_enclave(b, a, before, enclaves)
