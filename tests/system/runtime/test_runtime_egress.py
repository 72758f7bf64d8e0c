"""Egress (docs/security.md "The network"): an enclave with egress open
reaches addresses outside the host, masqueraded; one with egress closed does
not; neither reaches the host's own addresses or another enclave.

Tests may not reach the internet, so the test builds its own "outside": a
network namespace with a veth to the host on 198.18.X.0/24 (the benchmarking
range, never berth's), routed by the host, where an HTTP server answers with
the address the connection came from."""
import os
import random
import signal
import subprocess
import uuid

import pytest

from runtime_helpers import HostService, Runtime, nft_tables

SERVER = r"""
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("outside, from %s\n" % self.client_address[0]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), H).serve_forever()
"""


def _sh(*argv):
    subprocess.run(argv, check=True, capture_output=True)


class Outside:
    """A network namespace of the test's own, routed from the host."""

    def __init__(self):
        routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
        octet = next(o for o in random.sample(range(1, 255), 254)
                     if "198.18.%d." % o not in routes)
        tag = uuid.uuid4().hex[:6]
        self.ns, self.host_if, self.ns_if = "bo-" + tag, "bo" + tag, "bi" + tag
        self.host_ip, self.ip = "198.18.%d.1" % octet, "198.18.%d.2" % octet
        self.server = None
        _sh("ip", "netns", "add", self.ns)
        try:
            _sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if,
                "netns", self.ns)
            _sh("ip", "addr", "add", self.host_ip + "/24", "dev", self.host_if)
            _sh("ip", "link", "set", self.host_if, "up")
            for cmd in (["ip", "addr", "add", self.ip + "/24", "dev", self.ns_if],
                        ["ip", "link", "set", self.ns_if, "up"],
                        ["ip", "link", "set", "lo", "up"],
                        # A way back to any address: without the enclave's
                        # masquerade the reply would still find it, so only
                        # the firewall decides what gets through.
                        ["ip", "route", "add", "default", "via", self.host_ip]):
                _sh("ip", "netns", "exec", self.ns, *cmd)
            self.server = subprocess.Popen(["ip", "netns", "exec", self.ns, "/usr/bin/python3",
                                            "-c", SERVER])
            self._wait()
        except BaseException:
            self.close()
            raise

    def _wait(self):
        probe = ("import socket,time\nfor _ in range(100):\n"
                 "    try:\n        socket.create_connection(('%s', 8080), 1).close(); break\n"
                 "    except OSError: time.sleep(0.05)\nelse: raise SystemExit(1)\n" % self.ip)
        _sh("ip", "netns", "exec", self.ns, "/usr/bin/python3", "-c", probe)

    def close(self):
        if self.server is not None:
            self.server.send_signal(signal.SIGTERM)
            self.server.wait(10)
        # The namespace's end of the veth goes with it, and the pair with it.
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)


@pytest.fixture
def outside():
    o = Outside()
    yield o
    o.close()


@pytest.fixture
def host_service():
    s = HostService()
    yield s
    s.close()


def fetch(rt, name, url, tries=1):
    """The answer to an HTTP GET of url from inside the enclave's container
    "web", or None. As runtime_boundary's reach(): the probe must run to its
    end, or the test fails."""
    hostport, _, path = url[len("http://"):].partition("/")
    host, _, port = hostport.rpartition(":")
    script = ('printf "GET /%s HTTP/1.0\\r\\n\\r\\n" | timeout 3 nc %s %s; echo "probe ended"'
              % (path, host, port))
    for _ in range(tries):
        p = rt.exec(name, "web", "sh", "-c", script, check=False, timeout_ms=20000)
        assert "probe ended" in p.stdout, ("the probe of %s did not run" % url, p.stderr)
        if " 200 OK" in p.stdout:
            return p.stdout
    return None


def test_egress_open_reaches_outside_and_nothing_of_the_host(rt_iso, outside, host_service):
    rt = rt_iso
    gw = rt.subnet.rsplit(".", 1)[0] + ".1"
    a = rt.create(rt.name("a"), [rt.container("web")], egress="open")
    b = rt.create(rt.name("b"), [rt.container("web")])
    url = "http://%s:8080/" % outside.ip
    # Open: out, with the address of the host's interface it took.
    got = fetch(rt, a["name"], url, tries=3)
    assert got is not None and "outside, from %s\n" % outside.host_ip in got, got
    # Closed: nothing out.
    assert fetch(rt, b["name"], url) is None
    # Neither reaches another enclave or the host's own addresses: the
    # bridge's, the outside interface's (a route the open one has), 127/8.
    for name, other in ((a["name"], b["ip"]), (b["name"], a["ip"])):
        assert fetch(rt, name, "http://%s:8080/index.html" % other) is None
        for host in (gw, outside.host_ip):
            assert fetch(rt, name, "http://%s:%d/" % (host, host_service.port)) is None
    assert host_service.accepted == 0
    # B has no route out; given one (as if its root could add it), the
    # tables still stop it, and without them it reaches outside.
    netns_b = os.path.join(rt.netns_dir, b["name"])
    subprocess.run(["nsenter", "--net=" + netns_b, "ip", "route", "add", "default", "via", gw],
                   check=True)
    assert fetch(rt, b["name"], url) is None
    for fam, table in nft_tables():
        if table in ("berth-" + a["name"], "berth-" + b["name"]):
            subprocess.run(["nft", "delete", "table", fam, table], check=True)
    p = subprocess.run(["nsenter", "--net=" + netns_b, "timeout", "5", "busybox", "wget",
                        "-qO-", url], capture_output=True, text=True)
    assert p.returncode == 0 and "from %s" % b["ip"] in p.stdout, (p.stdout, p.stderr)
    # Adopting (a restarted berthd) puts back each enclave's own rules:
    # egress open is recorded with the enclave.
    rt.state_of(a["name"])
    rt.state_of(b["name"])
    got = fetch(rt, a["name"], url, tries=3)
    assert got is not None and "from %s" % outside.host_ip in got, got
    assert fetch(rt, b["name"], url) is None
    assert fetch(rt, a["name"], "http://%s:8080/index.html" % b["ip"]) is None
    assert fetch(rt, a["name"], "http://%s:%d/" % (outside.host_ip, host_service.port)) is None
    assert host_service.accepted == 0
    # Routed through the host both ways (as if their roots could add the
    # routes), A's connection to B does not go back onto the bridge, even
    # when B's own tables are gone.
    for fam, table in nft_tables():
        if table == "berth-" + b["name"]:
            subprocess.run(["nft", "delete", "table", fam, table], check=True)
    for name, to in ((a["name"], b["ip"]), (b["name"], a["ip"])):
        subprocess.run(["nsenter", "--net=" + os.path.join(rt.netns_dir, name), "ip", "route",
                        "add", to + "/32", "via", gw], check=True)
    assert fetch(rt, a["name"], "http://%s:8080/index.html" % b["ip"]) is None
    # Destroyed, the enclave leaves no table and no masquerade behind.
    rt.run("destroy", a["name"])
    assert not [t for t in nft_tables() if t[1] == "berth-" + a["name"]]


def test_egress_open_reaches_no_other_berth_subnet(rt, outside, tmp_path, rootfs):
    """Another berthd's bridge and subnet (here a second runtime): its
    enclaves drop what is forwarded to them, its gateway is the host's."""
    (tmp_path / "other").mkdir()
    other = Runtime(str(tmp_path / "other"), rootfs)
    try:
        c = other.create(other.name("c"), [other.container("web")])
        a = rt.create(rt.name("a"), [rt.container("web")], egress="open")
        assert fetch(rt, a["name"], "http://%s:8080/" % outside.ip, tries=3) is not None
        assert fetch(rt, a["name"], "http://%s:8080/index.html" % c["ip"]) is None
    finally:
        other.cleanup()


def test_unknown_egress_is_refused(rt):
    p = rt.create(rt.name(), [rt.container("web")], egress="some", check=False)
    assert p.returncode != 0 and 'egress "some" is not closed, open or allowlist' in p.stderr
    assert rt.list() == []
