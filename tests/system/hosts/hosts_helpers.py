"""Helpers of the hosts system tests: a "datacenter" of one host. The host
is a network namespace of its own (its enclaves' bridge and subnet inside)
joined to the root namespace by a veth pair, the datacenter link; a
berth-agent runs in it (nsenter --net only: the mount namespace is shared, so
the runtime's pinned namespaces and mounts stay visible to the cleanup).
berthd runs in the root namespace with --agent, listening on the link's root
side; the registry too, so that the agent pulls over the link."""
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from berth_helpers import (  # noqa: E402,F401 (re-exported)
    BUILD, Berthd, Load, Registry, clean_host, config_text, free_port, http, repo_fixture,
    suite_checks, wait_answer)


def sh(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=60)


class Link:
    """Namespace NAME and the veth pair: ROOT_IP (root side) and HOST_IP
    (the host's side) on a /30 of 10.253.n.0."""

    def __init__(self, beside=None):
        """beside: another Link whose root side this host reaches too (the
        datacenter's berthd and registry listen there)."""
        n = suite_checks.free_subnet_octet()
        while beside is not None and n == beside.n:
            n = suite_checks.free_subnet_octet()
        self.n = n
        self.netns = f"berth-hst{n}-{os.getpid() % 10000}"
        self.root_if, self.host_if = f"bhr{n}", f"bhn{n}"
        self.root_ip, self.host_ip = f"10.253.{n}.1", f"10.253.{n}.2"
        sh("ip", "netns", "add", self.netns)
        try:
            sh("ip", "link", "add", self.root_if, "type", "veth", "peer", "name", self.host_if)
            sh("ip", "link", "set", self.host_if, "netns", self.netns)
            sh("ip", "addr", "add", f"{self.root_ip}/30", "dev", self.root_if)
            sh("ip", "link", "set", self.root_if, "up")
            self.run("ip", "link", "set", "lo", "up")
            self.run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            self.run("ip", "link", "set", self.host_if, "up")
            if beside is not None:
                # The root namespace answers for every address it has.
                self.run("ip", "route", "add", f"{beside.root_ip}/32", "via", self.root_ip)
        except Exception:
            self.remove()
            raise

    def cmd(self, *args):
        return ["nsenter", f"--net=/run/netns/{self.netns}", *args]

    def run(self, *args, check=True):
        return sh(*self.cmd(*args), check=check)

    def remove(self):
        # The veth pair goes with the namespace.
        sh("ip", "netns", "delete", self.netns, check=False)
        sh("ip", "link", "delete", self.root_if, check=False)


class LinkRegistry(Registry):
    """The test registry on the link's root side, where the agent reaches it."""

    def __init__(self, link):
        super().__init__()
        self.proc.terminate()
        self.proc.wait(10)
        config = os.path.join(self.dir, "config.yml")
        with open(config) as f:
            text = f.read()
        old = self.addr
        self.addr = f"{link.root_ip}:{self.port}"
        with open(config, "w") as f:
            f.write(text.replace(f"addr: {old}", f"addr: {self.addr}"))
        self.start()


class Agent:
    """berth-agent in the link's namespace: its API and its berth-router on
    the host side, registering with berthd_url."""

    def __init__(self, link, token_file, berthd_url, registry, heartbeat=1, port=None,
                 host_id="host-a", extra_args=()):
        self.link = link
        self.state = tempfile.mkdtemp(prefix="berth-agent-")
        self.port, self.router_port = port or free_port(), free_port()
        self.url = f"http://{link.host_ip}:{self.port}"
        self.bridge = f"bt{link.n}a"
        self.args = [os.path.join(BUILD, "berth-agent"), "--state-dir", self.state,
                     "--listen", f"{link.host_ip}:{self.port}",
                     "--router-listen", f"{link.host_ip}:{self.router_port}",
                     "--token-file", token_file, "--berthd", berthd_url,
                     "--host-id", host_id, "--heartbeat", str(heartbeat),
                     "--subnet", f"10.89.{link.n}.0/24", "--bridge", self.bridge,
                     "--insecure-registry", registry.addr, "--log-level", "debug",
                     *extra_args]
        suite_checks.track("dir", self.state)
        suite_checks.track("dir", suite_checks.run_dir(self.state))
        self.logpath = os.path.join(self.state, "agent.log")
        self.proc = None
        self.start()

    def start(self):
        self.log = open(self.logpath, "a")
        env = suite_checks.daemon_env(dict(os.environ))
        self.proc = subprocess.Popen(self.link.cmd(*self.args), stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        # 401: it answers (no token given).
        wait_answer(self.proc, self.url + "/v1/info", 401, "berth-agent", self.read_log, 30)

    def read_log(self):
        with open(self.logpath) as f:
            return f.read()

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.log.close()

    def get(self, host, path="/", timeout=5):
        """A request through this host's berth-router."""
        return http("GET", f"http://{self.link.host_ip}:{self.router_port}{path}",
                    headers={"Host": host}, timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
        clean_host(self.state, self.logpath, f"10.89.{self.link.n}.0/24", self.bridge,
                   prefix=self.link.cmd())
        suite_checks.remove_state_dir(self.state)


class LinkBerthd(Berthd):
    """berthd listening on the link's root side (the agent registers there)."""

    def __init__(self, link, args=()):
        self.link = link
        super().__init__(args=args, tls=False)

    def start(self, env=None):
        i = self.args.index("--listen")
        self.args[i + 1] = f"{self.link.root_ip}:{self.port}"
        self.url = f"http://{self.link.root_ip}:{self.port}"
        self.api = self.url + "/api/v1"
        super().start(env)


# The fixtures of every folder with a datacenter (hosts, replicas): the
# link, the registry on it and a host token.
@pytest.fixture(scope="session")
def link():
    ln = Link()
    yield ln
    ln.remove()


@pytest.fixture(scope="session")
def registry(link):
    reg = LinkRegistry(link)
    reg.build("hello")
    yield reg
    reg.stop()


@pytest.fixture
def token_file():
    fd, path = tempfile.mkstemp(prefix="berth-host-token-")
    os.write(fd, (secrets.token_hex(32) + "\n").encode())
    os.close(fd)
    yield path
    os.unlink(path)


def wait_log(b, text, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in b.read_log():
            return
        time.sleep(0.1)
    raise AssertionError(f"not in berthd's log within {timeout}s: {text}\n"
                         + b.read_log()[-3000:])


def enclaves_of(a):
    d = os.path.join(a.state, "enclaves")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def serves(a, host, version):
    status, body, _ = a.get(host)
    return status == 200 and version.encode() in body


def both_hosts_answer(b):
    """berthd started first: each agent's host id is learned once it answers."""
    wait_log(b, "host host-a answers", 20)
    wait_log(b, "host host-b answers", 20)
