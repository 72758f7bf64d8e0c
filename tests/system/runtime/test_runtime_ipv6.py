"""IPv6 egress (docs/security.md "The network"): where the host routes IPv6,
an enclave whose egress is open or an allowlist has a ULA on the bridge and
the same boundary as IPv4: out (masqueraded) to what it may reach, never to
the host's own addresses, nor to another enclave; a closed enclave has no
IPv6 address at all.

The "outside" is test_runtime_egress's network namespace with an IPv6
address too (a ULA of the test's own), routed by the host, where an HTTP
server on [::]:8080 answers with the address the connection came from."""
import os
import random
import socket
import subprocess

import pytest

from dns_server import DNSServer
from runtime_helpers import HostService, nft_tables
from test_runtime_allowlist import with_dns
from test_runtime_egress import SERVER, Outside, fetch

# test_runtime_egress's server, on [::] alone.
SERVER6 = SERVER.replace('"outside, from', '"outside6, from').replace(
    'http.server.ThreadingHTTPServer(("0.0.0.0", 8080), H).serve_forever()', r"""
import socket
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()
S(("::", 8080), H).serve_forever()
""")


def host_has_ipv6():
    with open("/proc/net/ipv6_route") as f:
        return any(l.split()[0] == "0" * 32 and l.split()[1] == "00" and l.split()[-1] != "lo"
                   for l in f)


def host_addrs6():
    """The host's own global IPv6 addresses, every interface's."""
    out = subprocess.run(["ip", "-6", "-o", "addr", "show", "scope", "global"],
                         capture_output=True, text=True).stdout
    return [l.split()[3].split("/")[0] for l in out.splitlines()]


def _sh(*argv):
    subprocess.run(argv, check=True, capture_output=True)


@pytest.fixture
def outside6():
    o = Outside()
    tag = "%x" % random.randint(1, 0xffff)
    o.host_ip6, o.ip6, o.ip6b = "fd19:%s::1" % tag, "fd19:%s::2" % tag, "fd19:%s::3" % tag
    o.server6 = None
    try:
        _sh("ip", "addr", "add", o.host_ip6 + "/64", "dev", o.host_if, "nodad")
        for cmd in (["ip", "addr", "add", o.ip6 + "/64", "dev", o.ns_if, "nodad"],
                    ["ip", "addr", "add", o.ip6b + "/64", "dev", o.ns_if, "nodad"],
                    ["ip", "-6", "route", "add", "default", "via", o.host_ip6]):
            _sh("ip", "netns", "exec", o.ns, *cmd)
        o.server6 = subprocess.Popen(["ip", "netns", "exec", o.ns, "/usr/bin/python3", "-c",
                                      SERVER6])
        probe = ("import socket,time\nfor _ in range(100):\n"
                 "    try:\n        socket.create_connection(('%s', 8080), 1).close(); break\n"
                 "    except OSError: time.sleep(0.05)\nelse: raise SystemExit(1)\n" % o.ip6)
        _sh("ip", "netns", "exec", o.ns, "/usr/bin/python3", "-c", probe)
        yield o
    finally:
        if o.server6 is not None:
            o.server6.terminate()
            o.server6.wait(10)
        o.close()


@pytest.fixture
def host_service6():
    s = HostService(socket.AF_INET6)
    yield s
    s.close()


@pytest.fixture(autouse=True)
def needs_ipv6():
    if not host_has_ipv6():
        pytest.skip("the host has no default IPv6 route: enclaves get no IPv6 here")


def url6(ip, port=8080, path=""):
    return "http://[%s]:%d/%s" % (ip, port, path)


def test_ipv6_open_reaches_outside_and_nothing_of_the_host(rt_iso, outside6, host_service6):
    rt = rt_iso
    a = rt.create(rt.name("a"), [rt.container("web")], egress="open")
    c = rt.create(rt.name("c"), [rt.container("web")], egress="open")
    b = rt.create(rt.name("b"), [rt.container("web")])
    assert a["ip6"] and c["ip6"] and a["ip6"] != c["ip6"], (a, c)
    # Closed: no IPv6 address at all.
    assert b.get("ip6") is None, b
    # (gVisor calls its link-local address "scope global".)
    eth0 = rt.exec(b["name"], "web", "ip", "-6", "addr", "show", "dev", "eth0").stdout
    assert \
        all(l.split()[1].startswith("fe80:") for l in eth0.splitlines() if "inet6 " in l), eth0
    # Open: out, with the address of the host's interface it took.
    got = fetch(rt, a["name"], url6(outside6.ip6), tries=3)
    assert got is not None and "outside6, from %s\n" % outside6.host_ip6 in got, got
    assert fetch(rt, b["name"], url6(outside6.ip6)) is None
    # Not another enclave, not the host: its bridge's address, the outside
    # interface's, every global address of the host (on [::] here).
    assert fetch(rt, a["name"], url6(c["ip6"], path="index.html")) is None
    gw6 = rt_gateway6(rt)
    for host in [gw6, outside6.host_ip6] + host_addrs6():
        assert fetch(rt, a["name"], url6(host, host_service6.port)) is None, host
    assert host_service6.accepted == 0
    # Those tables are the barrier: without A's and C's, A reaches C.
    for fam, table in nft_tables():
        if table in ("berth-" + a["name"], "berth-" + c["name"]):
            subprocess.run(["nft", "delete", "table", fam, table], check=True)
    netns_a = os.path.join(rt.netns_dir, a["name"])
    p = subprocess.run(["nsenter", "--net=" + netns_a, "timeout", "5", "busybox", "wget", "-qO-",
                        url6(c["ip6"], path="index.html")], capture_output=True, text=True)
    assert p.returncode == 0 and "hello from busybox" in p.stdout, (p.stdout, p.stderr)
    # Adopted, both have them back.
    rt.state_of(a["name"])
    rt.state_of(c["name"])
    assert fetch(rt, a["name"], url6(c["ip6"], path="index.html")) is None
    assert fetch(rt, a["name"], url6(outside6.ip6), tries=3) is not None
    rt.run("destroy", a["name"])
    assert not [t for t in nft_tables() if t[1] == "berth-" + a["name"]]


def rt_gateway6(rt):
    out = subprocess.run(["ip", "-6", "-o", "addr", "show", "dev", rt.bridge, "scope", "global"],
                         capture_output=True, text=True).stdout
    assert out.strip(), "the bridge has no IPv6 address"
    return out.split()[3].split("/")[0]


def test_ipv6_allowlist_reaches_only_its_names(rt_iso, outside6, host_service6):
    rt = rt_iso
    dns = DNSServer()
    try:
        with_dns(rt, dns)
        dns.set("v6.allowed.test", [outside6.ip6])
        dns.set("v6.other.test", [outside6.ip6b])
        a = rt.create(rt.name("l"), [rt.container("web")], egress="allowlist",
                      allow=["v6.allowed.test"])
        assert a["ip6"], a
        s6 = subprocess.run(["nft", "list", "set", "inet", "berth-" + a["name"], "allow6"],
                            capture_output=True, text=True, check=True).stdout
        assert outside6.ip6 in s6, s6
        hosts = rt.exec(a["name"], "web", "cat", "/etc/hosts").stdout
        assert "%s\tv6.allowed.test" % outside6.ip6 in hosts, hosts
        got = fetch(rt, a["name"], "http://v6.allowed.test:8080/", tries=3)
        assert got is not None and "outside6, from %s" % outside6.host_ip6 in got, got
        # Not the same outside's other address, not a name never listed.
        assert fetch(rt, a["name"], url6(outside6.ip6b)) is None
        assert fetch(rt, a["name"], "http://v6.other.test:8080/") is None
        for host in [rt_gateway6(rt), outside6.host_ip6] + host_addrs6():
            assert fetch(rt, a["name"], url6(host, host_service6.port)) is None, host
        assert host_service6.accepted == 0
        # The set is what stops the other address (from the namespace with
        # nsenter: the driver's exec adopts, which asks the names again).
        wget = ["nsenter", "--net=" + os.path.join(rt.netns_dir, a["name"]), "timeout", "5",
                "busybox", "wget", "-qO-", url6(outside6.ip6b)]
        assert subprocess.run(wget, capture_output=True).returncode != 0
        subprocess.run(["nft", "add", "element", "inet", "berth-" + a["name"], "allow6",
                        "{ %s }" % outside6.ip6b], check=True)
        p = subprocess.run(wget, capture_output=True, text=True)
        assert p.returncode == 0 and "outside6, from %s" % outside6.host_ip6 in p.stdout, \
            (p.stdout, p.stderr)
        rt.run("destroy", a["name"])
    finally:
        dns.close()
