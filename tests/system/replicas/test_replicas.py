"""Two berthd replicas on one PostgreSQL driving one agent host: one leads
(the store's advisory lock) and reconciles, the other serves the API from
the store and hands its writes to the leader (NOTIFY); the leader killed
mid blue-green update, the follower takes over within 5 s and the update
finishes with no request to the container failing; a leader whose store
connection breaks exits (75) rather than lead on blind."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from replicas_helpers import BUILD, AgentRouter, Load, free_port, http, suite_checks


def get_json(r, path):
    status, body, headers = http("GET", r.api + path, token=r.token)
    return status, json.loads(body) if body else None, headers


def wait_update_end(r, name, timeout=120):
    return r.wait(name, lambda c: c["update"] is not None
                  and c["update"]["finished_at"] is not None, timeout, "update end")


def test_follower_reads_and_takes_writes_the_leader_acts_on(replicas, repo):
    a, b, agent = replicas
    host_a = a.wait_role("leader", 10)
    host_b = b.wait_role("follower", 10)
    assert host_a["url"] == a.url and host_a["leader_url"] == a.url
    assert host_b["url"] == b.url
    deadline = time.monotonic() + 5
    while b.role()[1]["leader_url"] != a.url and time.monotonic() < deadline:
        time.sleep(0.1)
    assert b.role()[1]["leader_url"] == a.url
    # Every answer says the role, an error's too.
    assert http("GET", b.api + "/nowhere", token=b.token)[2].get("Berth-Role") == "follower"
    assert http("GET", a.url + "/healthz")[2].get("Berth-Role") == "leader"
    # The agent registered with both.
    for r in (a, b):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            _, hosts, _ = get_json(r, "/hosts")
            if hosts and hosts[0]["status"] == "ready":
                break
            time.sleep(0.1)
        assert hosts and hosts[0]["name"] == "host-a" and hosts[0]["status"] == "ready", hosts

    # A create on the follower: committed there, acted on by the leader
    # (the follower has no reconciler running), read back from either.
    status, c = b.call("POST", "/containers", {"name": "web", "repo": repo.dir, "tag": "v1"})
    assert status == 202, c
    t0 = time.monotonic()
    b.wait_status("web", "running", timeout=120)
    a.wait_status("web", "running", timeout=5)
    status, body, _ = agent.get(b.host("web"))
    assert status == 200 and b"v1" in body, body
    # An update on the follower, too; the follower's list shows it at once.
    status, u = b.call("POST", "/containers/web/updates", {"kind": "tag", "tag": "v2"})
    assert status == 202, u
    assert u["strategy"] == "blue-green", u
    _, listed = b.call("GET", "/containers")
    assert listed[0]["update"]["id"] == u["id"]
    c = wait_update_end(b, "web")
    assert c["update"]["status"] == "ready" and c["deployment"]["tag"] == "v2", c
    status, body, _ = agent.get(b.host("web"))
    assert status == 200 and b"v2" in body, body
    # The kick, not the leader's resync (every 5 s), made it quick.
    assert time.monotonic() - t0 < 60
    # What only the leader can answer.
    for path in ("/containers/web/logs", "/events/stream"):
        status, body, _ = get_json(b, path)
        assert status == 503 and body["error"]["code"] == "not_leader", (path, body)
    status, body, _ = http("GET", a.api + "/containers/web/logs", token=a.token)
    assert status != 503, body
    # Only the leader's log says it reconciles.
    assert "leads: the reconciler starts" in a.read_log()
    assert "leads: the reconciler starts" not in b.read_log()


def test_a_follower_acts_on_nothing(replicas, repo):
    """A follower's write waits in the store for the leader: with the leader
    paused (SIGSTOP: it holds the lock and acts on nothing), a create on the
    follower is committed but nothing is deployed; the leader, resumed,
    deploys it."""
    a, b, agent = replicas
    a.wait_role("leader", 10)
    b.wait_role("follower", 10)
    a.proc.send_signal(signal.SIGSTOP)
    try:
        status, c = b.call("POST", "/containers", {"name": "web", "repo": repo.dir, "tag": "v1"})
        assert status == 202, c
        time.sleep(3)
        c = b.container("web")
        assert c["status"] == "deploying" and not c["enclaves"], c
        enc = os.path.join(agent.state, "enclaves")
        assert not os.path.isdir(enc) or not os.listdir(enc)
        assert b.role()[0] == "follower"
    finally:
        a.proc.send_signal(signal.SIGCONT)
    b.wait_status("web", "running", timeout=120)


def test_leader_stopped_hands_over(replicas, repo):
    """A leader stopped (SIGTERM) lets its lock go with its connection: the
    follower leads within the election's interval, and acts on the writes
    it takes from then on."""
    a, b, agent = replicas
    a.wait_role("leader", 10)
    b.wait_role("follower", 10)
    a.proc.send_signal(signal.SIGTERM)
    assert a.proc.wait(30) == 0, a.read_log()[-3000:]
    a.log.close()
    b.wait_role("leader", 5)
    assert b.role()[1]["leader_url"] == b.url
    status, c = b.call("POST", "/containers", {"name": "web", "repo": repo.dir, "tag": "v1"})
    assert status == 202, c
    b.wait_status("web", "running", timeout=120)


def test_leader_killed_mid_update_follower_takes_over(replicas, repo):
    a, b, agent = replicas
    a.wait_role("leader", 10)
    b.wait_role("follower", 10)
    status, c = a.call("POST", "/containers", {"name": "web", "repo": repo.dir, "tag": "v1"})
    assert status == 202, c
    a.wait_status("web", "running", timeout=120)
    load = Load(AgentRouter(a, agent), "web")
    try:
        time.sleep(1)
        status, u = b.call("POST", "/containers/web/updates", {"kind": "tag", "tag": "v3"})
        assert status == 202, u
        # The follower knows the host's room as the leader does.
        assert u["strategy"] == "blue-green", u
        # In flight: the new enclave is up and in its 4 s of min-healthy-time.
        a.wait("web", lambda c: c["update"]["status"] == "started", 90, "update started")
        a.kill()
        killed = time.monotonic()
        b.wait_role("leader", 5)
        took = time.monotonic() - killed
        c = wait_update_end(b, "web")
        time.sleep(1)
    finally:
        statuses, errors = load.stop()
    assert took < 5, took
    assert c["update"]["status"] == "ready" and c["deployment"]["tag"] == "v3", c
    # Resumed, not started again: the same update, its enclave adopted.
    assert c["update"]["id"] == u["id"], c
    assert "adopted; its health gate starts again" in b.read_log()
    assert not errors, errors[:5]
    assert set(statuses) == {200}, statuses
    assert sum(statuses.values()) > 50, statuses
    status, body, _ = agent.get(b.host("web"))
    assert status == 200 and b"v2" in body, body
    # Its supervisor starts the killed one again: a follower now.
    a.start()
    a.wait_role("follower", 10)
    assert b.role()[0] == "leader"


def test_leader_that_loses_its_store_connection_exits(replicas, pg_server):
    a, b, agent = replicas
    a.wait_role("leader", 10)
    b.wait_role("follower", 10)
    db = b.args[b.args.index("--store") + 1].split("/")[3].split("?")[0]
    pg_server.psql(db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       f"WHERE application_name = '{a.url}'")
    try:
        rc = a.proc.wait(10)
    except subprocess.TimeoutExpired:
        raise AssertionError("the leader did not exit:\n" + a.read_log()[-3000:])
    a.log.close()
    assert rc == 75, a.read_log()[-3000:]
    assert "exiting (75) so that another berthd leads" in a.read_log()
    b.wait_role("leader", 5)


def start_refused(a, state):
    """berthd as a replica beside a, with state dir state: (exit code,
    output) of a start that must fail before it serves."""
    args = list(a.args)
    port = free_port()
    args[args.index("--state-dir") + 1] = state
    args[args.index("--listen") + 1] = f"{a.link.root_ip}:{port}"
    args[args.index("--replica-url") + 1] = f"http://{a.link.root_ip}:{port}"
    out = subprocess.run([os.path.join(BUILD, "berthd")] + args, capture_output=True,
                         text=True, timeout=60, env=suite_checks.daemon_env())
    return out.returncode, out.stdout + out.stderr


def test_a_replica_without_the_shared_key_is_refused(replicas):
    """A replica must have the first one's secret.key: one that would make
    its own on a store another replica started, or whose key does not open
    the store's secrets, does not start (and leaves no key behind)."""
    a, b, agent = replicas
    a.wait_role("leader", 10)
    status, body = a.call("PUT", "/secrets/API_KEY", {"value": "s3cret-value"})
    assert status == 200, body
    state = tempfile.mkdtemp(prefix="berth-replica-")
    try:
        rc, out = start_refused(a, state)
        assert rc != 0, out
        assert "secret.key was made now, but another replica started on this store" in out, out
        assert not os.path.exists(os.path.join(state, "secret.key"))
        # Another key (not the replicas'): the store's secret does not open.
        with open(os.path.join(state, "secret.key"), "wb") as f:
            f.write(os.urandom(32))
        os.chmod(os.path.join(state, "secret.key"), 0o600)
        rc, out = start_refused(a, state)
        assert rc != 0, out
        assert "does not open the secrets in the store" in out, out
        assert "s3cret-value" not in out
    finally:
        shutil.rmtree(state)
    # The replicas' own key opens it: b starts again with it.
    b.proc.send_signal(signal.SIGTERM)
    assert b.proc.wait(30) == 0, b.read_log()[-3000:]
    b.log.close()
    b.start()
    b.wait_role("follower", 10)
