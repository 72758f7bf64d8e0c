"""Fixtures of the hosts system tests (hosts_helpers.py): a datacenter link,
the registry on it, a git repository, a host token, berthd with --agent and
the agent in its namespace."""
import pytest

from hosts_helpers import (  # noqa: F401 (link, registry, token_file: fixtures)
    Agent, LinkBerthd, config_text, free_port, link, registry, repo_fixture, token_file)
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


def pytest_configure(config):
    config.addinivalue_line("markers", "agent_args(*flags): more flags for each agent of a test")
