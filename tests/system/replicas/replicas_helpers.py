"""Helpers of the replicas system tests: several berthd on one PostgreSQL
(tests/pg.sh, the API folder's PgServer), all with --agent for one host of
the datacenter link (tests/system/hosts), each with --replica-url. The
first one starts alone and leads; the others get its secret key, host key
and admin token (what docs/operations.md says replicas share)."""
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(HERE, "..", "hosts"))
sys.path.append(os.path.join(HERE, "..", "api"))
from api_helpers import PgServer  # noqa: E402,F401 (re-exported)
# Re-exported, with the fixtures link, registry and token_file.
from hosts_helpers import (  # noqa: E402,F401
    BUILD, Agent, LinkBerthd, Load, config_text, free_port, http, link, registry,
    repo_fixture, suite_checks, token_file)

SHARED = ("secret.key", "host-key", "admin-token")


class Replica(LinkBerthd):
    """berthd on the link's root side, a replica of the store at store_url.
    first: another Replica whose shared files this one copies before it
    starts."""

    def __init__(self, link, store_url, agent_url, token_file, registry, first=None):
        self.first = first
        self.port = free_port()
        url = f"http://{link.root_ip}:{self.port}"
        super().__init__(link, args=["--store", store_url, "--replica-url", url,
                                     "--agent", agent_url, "--agent-token-file", token_file,
                                     "--host-timeout", "3",
                                     "--insecure-registry", registry.addr])

    def start(self, env=None):
        # Berthd.__init__ chose a port of its own: the replica URL's wins.
        i = self.args.index("--replica-url")
        self.port = int(self.args[i + 1].rsplit(":", 1)[1])
        if self.first is not None:
            for name in SHARED:
                dst = os.path.join(self.state, name)
                if not os.path.exists(dst):
                    shutil.copyfile(os.path.join(self.first.state, name), dst)
                    os.chmod(dst, 0o600)
        super().start(env)

    def role(self):
        """(Berth-Role header, GET /host's body)."""
        status, body, headers = http("GET", self.api + "/host", token=self.token)
        assert status == 200, body
        return headers.get("Berth-Role"), json.loads(body)

    def wait_role(self, role, timeout):
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            try:
                seen = self.role()
                if seen[0] == role and seen[1].get("role") == role:
                    return seen[1]
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.url} not {role} within {timeout}s: {seen}\n"
                             + self.read_log()[-3000:])


class AgentRouter:
    """What Load needs of a berthd (get), through the agent's router."""

    def __init__(self, berthd, agent):
        self.b, self.a = berthd, agent

    def get(self, name, path="/", timeout=5):
        return self.a.get(self.b.host(name), path, timeout=timeout)
