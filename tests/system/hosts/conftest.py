"""Fixtures of the hosts system tests (hosts_helpers.py): a datacenter link,
the registry on it, a git repository, a host token, berthd with --agent and
the agent in its namespace."""
import pytest

from hosts_helpers import (  # noqa: F401 (link, registry, token_file: fixtures)
    Agent, Link, LinkBerthd, config_text, free_port, link, registry, repo_fixture, token_file)
from suite_checks import (  # noqa: F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)


# Tags v1 and v2 (hello).
repo = repo_fixture(lambda registry: [("v1", config_text(registry.images["hello:v1"])),
                                      ("v2", config_text(registry.images["hello:v2"]))])


@pytest.fixture
def datacenter(link, registry, token_file):
    """(berthd, agent): the agent's URL is chosen first, berthd drives it."""
    agent_port = None
    b = None
    a = None
    try:
        # berthd first (the agent registers with it), pointed at the agent's
        # address, which answers once the agent is up.
        agent_port = free_port()
        b = LinkBerthd(link, args=["--agent", f"http://{link.host_ip}:{agent_port}",
                                   "--agent-token-file", token_file, "--host-timeout", "3",
                                   "--insecure-registry", registry.addr])
        a = Agent(link, token_file, b.url, registry, port=agent_port)
        yield b, a
    finally:
        if b is not None:
            if a is not None and a.proc.poll() is not None:
                a.start()  # berthd deletes what it deployed through it
            b.stop()
        if a is not None:
            a.stop()


@pytest.fixture
def two_hosts(request, link, registry, token_file):
    """(berthd, {host id: agent}): host-a behind the shared link, host-b
    behind a second one that reaches the first link's root side. A test's
    agent_args mark gives the agents more flags."""
    mark = request.node.get_closest_marker("agent_args")
    extra = mark.args if mark is not None else ()
    link_b = Link(beside=link)
    b = None
    agents = {}
    try:
        # The hosts' link: each host reaches the other's side through the
        # root namespace (which forwards), as routers of a datacenter do.
        link.run("ip", "route", "add", f"{link_b.host_ip}/32", "via", link.root_ip)
        link_b.run("ip", "route", "add", f"{link.host_ip}/32", "via", link_b.root_ip)
        ports = {"host-a": free_port(), "host-b": free_port()}
        b = LinkBerthd(link, args=[
            "--agent", f"http://{link.host_ip}:{ports['host-a']}",
            "--agent", f"http://{link_b.host_ip}:{ports['host-b']}",
            "--agent-token-file", token_file, "--host-timeout", "3",
            "--insecure-registry", registry.addr])
        for host_id, ln in (("host-a", link), ("host-b", link_b)):
            agents[host_id] = Agent(ln, token_file, b.url, registry, port=ports[host_id],
                                    host_id=host_id, extra_args=extra)
        yield b, agents
    finally:
        if b is not None:
            b.stop()
        for a in agents.values():
            a.stop()
        link.run("ip", "route", "del", f"{link_b.host_ip}/32", check=False)
        link_b.remove()


def pytest_configure(config):
    config.addinivalue_line("markers", "agent_args(*flags): more flags for each agent of a test")
