"""Fixtures of the replicas system tests (replicas_helpers.py): the hosts
folder's datacenter link, registry and repository, a PostgreSQL database,
and two berthd replicas driving one agent that registers with both."""
import os
import time

import pytest

from replicas_helpers import (  # noqa: F401 (link, registry, token_file: fixtures)
    Agent, PgServer, Replica, config_text, free_port, link, registry, repo_fixture, token_file)
from suite_checks import (  # noqa: F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)


@pytest.fixture(scope="session")
def pg_server():
    server = PgServer()
    yield server
    server.stop()


# v1, v2 (hello), and v3: v2's image healthy for 4 s before the switch, so
# that an update is in flight long enough to kill its leader.
repo = repo_fixture(lambda registry: [
    ("v1", config_text(registry.images["hello:v1"])),
    ("v2", config_text(registry.images["hello:v2"])),
    ("v3", config_text(registry.images["hello:v2"], deploy={"min-healthy-time": "4s"}))])


@pytest.fixture
def replicas(link, registry, token_file, pg_server):
    """(a, b, agent): a leads (it started first), b follows; the agent
    registers and heartbeats with both."""
    db = pg_server.database()
    agent_url = f"http://{link.host_ip}:{free_port()}"
    port = int(agent_url.rsplit(":", 1)[1])
    a = b = agent = None
    try:
        a = Replica(link, db.url, agent_url, token_file, registry)
        b = Replica(link, db.url, agent_url, token_file, registry, first=a)
        agent = Agent(link, token_file, a.url, registry, port=port,
                      extra_args=["--berthd", b.url])
        yield a, b, agent
    finally:
        live = [r for r in (a, b) if r is not None and r.proc.poll() is None]
        if live and agent is not None:
            # Deleted, and torn down on the host by the leader, before any
            # replica stops.
            status, items = live[0].call("GET", "/containers")
            for c in items if status == 200 else []:
                live[0].call("DELETE", "/containers/" + c["name"])
            enc = os.path.join(agent.state, "enclaves")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and os.path.isdir(enc) and os.listdir(enc):
                time.sleep(0.2)
        for r in (b, a):
            if r is not None:
                r.stop()
        if agent is not None:
            agent.stop()
        db.drop()
