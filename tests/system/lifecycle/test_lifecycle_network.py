"""The network boundary as berthd sets it up (docs/security.md "The
network"): only berth-router and berthd's health checks reach an enclave's
port; a config's `networks` egress open reaches the enclave's table."""
import glob
import json
import os
import socket
import subprocess

from lifecycle_helpers import config_text

SO_MARK = getattr(socket, "SO_MARK", 36)
BERTH_UPSTREAM_MARK = 0x62657274  # src/common/util.h


def enclaves(berthd):
    """{enclave name: (its record, its address)} from berthd's state."""
    out = {}
    for path in glob.glob(os.path.join(berthd.state, "enclaves", "*", "enclave.json")):
        d = os.path.dirname(path)
        rec = json.load(open(path))
        ips = json.load(open(os.path.join(d, "cni.json")))["ips"]
        out[os.path.basename(d)] = (rec, ips[0]["address"].split("/")[0])
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
    # allowlist is still refused, with its position.
    cfg2 = cfg.replace("egress: open", "egress: allowlist\n    allow: [example.com]")
    status, body = berthd.call("POST", "/containers", {"name": "al", "config": cfg2})
    assert status == 422, body
    assert "egress: allowlist is not supported yet" in json.dumps(body), body


def test_a_tcp_health_check_reaches_an_enclave(berthd, registry):
    """Without /health in shim.paths, berthd checks the upstream port with a
    TCP connection: marked too, so the deploy becomes healthy."""
    cfg = config_text(registry.images["hello:v1"], paths=("/",))
    status, c = berthd.call("POST", "/containers", {"name": "tcp", "config": cfg})
    assert status == 202, c
    berthd.wait_status("tcp", "running", timeout=60)
    assert berthd.get("tcp")[:2] == (200, b"hello v1\n")
