"""The network boundary as berthd sets it up (docs/security.md "The
network"): only berth-router and berthd's health checks reach an enclave's
port; a config's `networks` egress open reaches the enclave's table, an
allowlist's names are resolved by berthd (--egress-dns) and followed."""
import glob
import hashlib
import json
import os
import signal
import socket
import subprocess
import time

from lifecycle_helpers import Berthd, config_text  # (puts tests/system on the path)
from dns_server import DNSServer

SO_MARK = getattr(socket, "SO_MARK", 36)
BERTH_UPSTREAM_MARK = 0x62657274  # src/common/util.h


def enclaves(berthd):
    """{enclave name: (its record, its address)} from berthd's state."""
    out = {}
    for path in glob.glob(os.path.join(berthd.state, "enclaves", "*", "enclave.json")):
        d = os.path.dirname(path)
        rec = json.load(open(path))
        net = json.load(open(os.path.join(d, "net.json")))
        out[os.path.basename(d)] = (rec, net["ip"])
    return out


def connect(ip, port, mark=None):
    s = socket.socket()
    s.settimeout(5)
    if mark is not None:
        s.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
    try:
        s.connect((ip, port))
        s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
        return s.recv(64)
    finally:
        s.close()


def test_only_the_router_and_health_checks_reach_an_enclave(berthd, repo):
    status, c = berthd.call("POST", "/containers", {"name": "web", "repo": repo.dir, "tag": "v1"})
    assert status == 202, c
    # Running: berthd's health checks (GET /health) reached it.
    berthd.wait_status("web", "running")
    # Through berth-router.
    assert berthd.get("web")[:2] == (200, b"hello v1\n")
    [(rec, ip)] = enclaves(berthd).values()
    assert rec["egress"] == "closed"
    # Any other process of the host is refused at once.
    try:
        connect(ip, 8080)
        raise AssertionError("a plain host socket reached the enclave at %s:8080" % ip)
    except ConnectionRefusedError:
        pass
    # Not because the port is closed: with berth's mark (root alone can set
    # one) the same connection gets an answer.
    assert connect(ip, 8080, mark=BERTH_UPSTREAM_MARK).startswith(b"HTTP/1.1 200")
    try:
        connect(ip, 8080, mark=BERTH_UPSTREAM_MARK + 1)
        raise AssertionError("another mark reached the enclave")
    except ConnectionRefusedError:
        pass


def test_egress_open_in_the_config_reaches_the_enclave(berthd, registry):
    cfg = config_text(registry.images["hello:v1"])
    cfg = cfg.replace("containers:\n", "networks:\n  out:\n    egress: open\n  quiet:\n"
                      "containers:\n", 1)
    cfg = cfg.replace('    image: "', '    networks: [out]\n    image: "', 1)
    status, c = berthd.call("POST", "/containers", {"name": "out", "config": cfg})
    assert status == 202, c
    berthd.wait_status("out", "running")
    [(name, (rec, ip))] = enclaves(berthd).items()
    assert rec["egress"] == "open"
    rules = subprocess.run(["nft", "list", "table", "inet", "berth-" + name],
                           capture_output=True, text=True, check=True).stdout
    assert "ip saddr %s oifname != \"%s\" masquerade" % (ip, berthd.bridge) in rules, rules


def test_a_tcp_health_check_reaches_an_enclave(berthd, registry):
    """Without /health in shim.paths, berthd checks the upstream port with a
    TCP connection: marked too, so the deploy becomes healthy."""
    cfg = config_text(registry.images["hello:v1"], paths=("/",))
    status, c = berthd.call("POST", "/containers", {"name": "tcp", "config": cfg})
    assert status == 202, c
    berthd.wait_status("tcp", "running", timeout=60)
    assert berthd.get("tcp")[:2] == (200, b"hello v1\n")


def allowlist_config(registry, names):
    cfg = config_text(registry.images["hello:v1"])
    cfg = cfg.replace("containers:\n", "networks:\n  out:\n    egress: allowlist\n"
                      "    allow: [%s]\ncontainers:\n" % ", ".join(names), 1)
    return cfg.replace('    image: "', '    networks: [out]\n    image: "', 1)


def allow_set(name):
    return subprocess.run(["nft", "list", "set", "inet", "berth-" + name, "allow4"],
                          capture_output=True, text=True, check=True).stdout


def test_egress_allowlist_follows_its_names_ttl(registry):
    dns = DNSServer()
    dns.set("api.allowed.test", ["198.18.0.10"], ttl=1)
    b = Berthd(args=["--egress-dns", dns.addr])
    try:
        status, c = b.call("POST", "/containers",
                           {"name": "al", "config": allowlist_config(registry,
                                                                     ["api.allowed.test"])})
        assert status == 202, c
        b.wait_status("al", "running")
        [(name, (rec, _))] = enclaves(b).items()
        assert rec["egress"] == "allowlist" and rec["allow"] == ["api.allowed.test"], rec
        assert "198.18.0.10" in allow_set(name)
        run = "/run/berth/" + hashlib.sha256(b.state.encode()).hexdigest()[:12]
        hosts = os.path.join(run, "bundles", name, "hosts")
        assert "198.18.0.10\tapi.allowed.test" in open(hosts).read()
        # The name moves: past its TTL, berthd's monitor (every 5 s) asks
        # again and the set and the containers' /etc/hosts follow.
        dns.set("api.allowed.test", ["198.18.0.11"], ttl=1)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "198.18.0.11" not in allow_set(name):
            time.sleep(0.2)
        s = allow_set(name)
        assert "198.18.0.11" in s and "198.18.0.10" not in s, s
        text = open(hosts).read()
        assert "198.18.0.11\tapi.allowed.test" in text and "198.18.0.10" not in text, text
        # While berthd is down the set stays (kernel state); the next one
        # adopts the enclave and follows the name again.
        b.kill(signal.SIGTERM)
        assert "198.18.0.11" in allow_set(name)
        dns.set("api.allowed.test", ["198.18.0.12"], ttl=1)
        b.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "198.18.0.12" not in allow_set(name):
            time.sleep(0.2)
        assert "198.18.0.12" in allow_set(name)
        assert "198.18.0.12\tapi.allowed.test" in open(hosts).read()
        assert b.container("al")["status"] == "running"
    finally:
        b.stop()
        dns.close()


def test_egress_allowlist_with_a_silent_dns_server_fails_in_its_timeout(registry):
    """A DNS server that never answers holds the boot for the lookup
    timeout, then the deploy fails saying so; the API answers meanwhile."""
    dns = DNSServer(silent=True)
    b = Berthd(args=["--egress-dns", dns.addr, "--egress-dns-timeout", "1500"])
    try:
        status, c = b.call("POST", "/containers",
                           {"name": "sl", "config": allowlist_config(registry, ["never.test"])})
        assert status == 202, c
        slowest = 0.0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            c = b.container("sl")
            slowest = max(slowest, time.monotonic() - t0)
            if c["status"] == "failed":
                break
            time.sleep(0.1)
        assert c["status"] == "failed", c
        said = json.dumps(c)
        assert "egress allowlist: never.test: no answer from %s within 1500 ms" % dns.addr \
            in said, said
        assert dns.queries >= 1
        assert slowest < 1.0, slowest
        # Nothing of the enclave is left.
        deadline = time.monotonic() + 30
        while enclaves(b) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert enclaves(b) == {}
    finally:
        b.stop()
        dns.close()
