"""Egress allowlist (docs/security.md "Egress allowlist"): an enclave reaches
the addresses berth resolved for its allowed names, on the host, with the DNS
server it was told (here the test's own, tests/system/dns_server.py), and
nothing else; its containers find the names in /etc/hosts, with no DNS server
to ask. No IPv6 but the enclave's own address leaves it (test_runtime_ipv6).

The "outside" is test_runtime_egress's network namespace (198.18.X.0/24),
with a second address: one allowed by name, one never listed."""
import os
import socket
import subprocess
import threading
import time

import pytest

from dns_server import DNSServer
from runtime_helpers import HostService, nft_tables
from test_runtime_egress import Outside, fetch, host_service  # noqa: F401 (a fixture)


@pytest.fixture
def outside():
    o = Outside()
    o.ip2 = o.ip.rsplit(".", 1)[0] + ".3"
    subprocess.run(["ip", "netns", "exec", o.ns, "ip", "addr", "add", o.ip2 + "/24", "dev",
                    o.ns_if], check=True)
    yield o
    o.close()


@pytest.fixture
def dns():
    d = DNSServer()
    yield d
    d.close()


def with_dns(rt, server, timeout_ms=None):
    """The runtime's driver asks server for allowlists."""
    base = rt.args
    extra = ["--egress-dns", server.addr]
    if timeout_ms is not None:
        extra += ["--egress-dns-timeout", str(timeout_ms)]
    rt.args = lambda: base() + extra


def allow_set(name):
    out = subprocess.run(["nft", "list", "set", "inet", "berth-" + name, "allow4"],
                         capture_output=True, text=True, check=True).stdout
    return out


def test_allowlist_reaches_its_names_and_nothing_else(rt_iso, outside, dns, host_service):
    rt = rt_iso
    with_dns(rt, dns)
    dns.set("api.allowed.test", [outside.ip])
    dns.set("other.test", [outside.ip2])
    a = rt.create(rt.name("a"), [rt.container("web")], egress="allowlist",
                  allow=["api.allowed.test"])
    # Asked by berth, on the host: A queries reached the test's server.
    assert dns.queries >= 1
    # By its name (from /etc/hosts) and by the address it resolved to.
    got = fetch(rt, a["name"], "http://api.allowed.test:8080/", tries=3)
    assert got is not None and "outside, from %s" % outside.host_ip in got, got
    assert fetch(rt, a["name"], "http://%s:8080/" % outside.ip) is not None
    # Not another address of the same outside, not a name never listed:
    # the enclave has no DNS server to ask.
    assert fetch(rt, a["name"], "http://%s:8080/" % outside.ip2) is None
    assert fetch(rt, a["name"], "http://other.test:8080/") is None
    resolv = rt.exec(a["name"], "web", "cat", "/etc/resolv.conf").stdout
    assert "nameserver" not in resolv, resolv
    hosts = rt.exec(a["name"], "web", "cat", "/etc/hosts").stdout
    assert "%s\tapi.allowed.test" % outside.ip in hosts, hosts
    # Nor the host's own addresses.
    gw = rt.subnet.rsplit(".", 1)[0] + ".1"
    for host in (gw, outside.host_ip):
        assert fetch(rt, a["name"], "http://%s:%d/" % (host, host_service.port)) is None
    assert host_service.accepted == 0
    # The set is what stops the other address: without the tables it is
    # reached (the enclave has its default route, as with egress open). From
    # the namespace with nsenter: the driver's exec adopts, which puts the
    # tables back.
    netns = os.path.join(rt.netns_dir, a["name"])
    wget = ["nsenter", "--net=" + netns, "timeout", "5", "busybox", "wget", "-qO-",
            "http://%s:8080/" % outside.ip2]
    assert subprocess.run(wget, capture_output=True).returncode != 0
    for fam, table in nft_tables():
        if table == "berth-" + a["name"]:
            subprocess.run(["nft", "delete", "table", fam, table], check=True)
    p = subprocess.run(wget, capture_output=True, text=True)
    assert p.returncode == 0 and "outside, from %s" % a["ip"] in p.stdout, (p.stdout, p.stderr)
    # Adopting puts the tables back with the addresses last resolved.
    rt.state_of(a["name"])
    assert outside.ip in allow_set(a["name"])
    assert fetch(rt, a["name"], "http://api.allowed.test:8080/", tries=3) is not None
    assert fetch(rt, a["name"], "http://%s:8080/" % outside.ip2) is None
    rt.run("destroy", a["name"])
    assert not [t for t in nft_tables() if t[1] == "berth-" + a["name"]]


def test_allowlist_follows_a_changed_address(rt, outside, dns):
    with_dns(rt, dns)
    dns.set("moving.test", [outside.ip], ttl=1)
    a = rt.create(rt.name("m"), [rt.container("web")], egress="allowlist",
                  allow=["moving.test"])
    assert fetch(rt, a["name"], "http://moving.test:8080/", tries=3) is not None
    assert fetch(rt, a["name"], "http://%s:8080/" % outside.ip2) is None
    dns.set("moving.test", [outside.ip2], ttl=1)
    time.sleep(1.2)
    # Adopting (berthd's monitor does every few seconds) asks again past
    # the TTL: the set and the container's /etc/hosts follow.
    rt.state_of(a["name"])
    s = allow_set(a["name"])
    assert outside.ip2 in s and outside.ip not in s, s
    hosts = rt.exec(a["name"], "web", "cat", "/etc/hosts").stdout
    assert "%s\tmoving.test" % outside.ip2 in hosts and outside.ip + "\t" not in hosts, hosts
    assert fetch(rt, a["name"], "http://moving.test:8080/", tries=3) is not None
    assert fetch(rt, a["name"], "http://%s:8080/" % outside.ip) is None
    # A server gone silent: the last addresses stay.
    dns.silent = True
    time.sleep(1.2)
    rt.state_of(a["name"])
    assert outside.ip2 in allow_set(a["name"])


def test_a_silent_dns_server_fails_the_boot_within_its_timeout(rt):
    silent = DNSServer(silent=True)
    try:
        with_dns(rt, silent, timeout_ms=1000)
        t0 = time.monotonic()
        p = rt.create(rt.name("s"), [rt.container("web")], egress="allowlist",
                      allow=["never.test"], check=False)
        took = time.monotonic() - t0
    finally:
        silent.close()
    assert p.returncode != 0
    assert "egress allowlist: never.test: no answer from %s within 1000 ms" % silent.addr \
        in p.stderr, p.stderr
    # The lookup's one second (and a resend), not more; nothing is left.
    assert silent.queries >= 1 and took < 8, took
    assert rt.list() == []
    assert not [t for t in nft_tables() if t[1].startswith("berth-" + rt.name())]


def test_a_name_without_an_address_fails_the_boot(rt, dns):
    with_dns(rt, dns)
    p = rt.create(rt.name("n"), [rt.container("web")], egress="allowlist",
                  allow=["missing.test"], check=False)
    assert p.returncode != 0
    assert "egress allowlist: missing.test: the DNS server answered NXDOMAIN" in p.stderr, \
        p.stderr
    assert rt.list() == []


def link_local(ifname):
    out = subprocess.run(["ip", "-6", "-o", "addr", "show", "dev", ifname, "scope", "link"],
                         capture_output=True, text=True).stdout
    return out.split()[3].split("/")[0] if out.strip() else None


@pytest.mark.parametrize("egress", ["open", "allowlist"])
def test_no_ipv6_leaves_an_enclave(rt, dns, egress):
    """No connection from an enclave's link-local IPv6 address (only
    neighbour discovery) passes its bridge table to the host, whatever its
    egress (docs/security.md "IPv6")."""
    with_dns(rt, dns)
    dns.set("api.allowed.test", ["198.18.0.9"])
    svc = HostService(socket.AF_INET6)
    try:
        extra = {"allow": ["api.allowed.test"]} if egress == "allowlist" else {}
        a = rt.create(rt.name("6"), [rt.container("web")], egress=egress, **extra)
        # The kernel gives the namespace's eth0 a link-local address (or
        # IPv6 is off there); the bridge has one on the host's side.
        netns = os.path.join(rt.netns_dir, a["name"])
        deadline = time.monotonic() + 5
        while link_local(rt.bridge) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        gw6 = link_local(rt.bridge)
        assert gw6 is not None, "the bridge has no link-local address"
        probe = ["nsenter", "--net=" + netns, "/usr/bin/python3", "-c",
                 "import socket; socket.create_connection(('%s%%eth0', %d), 2).close()"
                 % (gw6, svc.port)]
        # nsenter as root in the namespace: what the enclave's own root
        # could send, and more.
        subprocess.run(probe, capture_output=True, timeout=10)
        assert svc.accepted == 0
        # Without the bridge table it connects: that table is the barrier.
        subprocess.run(["nft", "delete", "table", "bridge", "berth-" + a["name"]], check=True)
        ok = False
        for _ in range(3):
            subprocess.run(probe, capture_output=True, timeout=10)
            if svc.accepted > 0:
                ok = True
                break
            time.sleep(1)
        assert ok, "IPv6 did not reach the host even without the bridge table"
        rt.state_of(a["name"])
        svc.accepted = 0
        subprocess.run(probe, capture_output=True, timeout=10)
        assert svc.accepted == 0
    finally:
        svc.close()


# Reads /etc/hosts slowly, line by line, again and again for a few seconds,
# each read into a file of its own: a file changed under an open reader shows.
SLOW_READER = r"""
i=0; end=$(( $(date +%s) + 10 ))
while [ $(date +%s) -lt $end ]; do
    while IFS= read -r l; do echo "$l"; usleep 15000; done < /etc/hosts > /tmp/r.$i
    i=$((i + 1))
done
for f in /tmp/r.*; do echo "=== $f"; cat $f; done
"""


def test_a_reader_never_sees_a_partial_hosts_file(rt_iso, dns):
    """The refresh replaces the containers' hosts file by a rename in a
    directory they bind (their /etc/hosts links into it): a reader, however
    slow, has the old file or the new one, whole."""
    rt = rt_iso
    with_dns(rt, dns)
    many = ["198.18.200.%d" % i for i in range(10, 22)]
    few = ["198.18.201.7", "198.18.201.8"]
    dns.set("moving.test", many, ttl=1)
    a = rt.create(rt.name("h"), [rt.container("web")], egress="allowlist",
                  allow=["moving.test"])
    link = rt.exec(a["name"], "web", "readlink", "/etc/hosts").stdout.strip()
    assert link == "berth/hosts", link
    result = {}

    def read():
        result["p"] = rt.exec(a["name"], "web", "sh", "-c", SLOW_READER, timeout_ms=40000)

    reader = threading.Thread(target=read)
    reader.start()
    flips = 0
    while reader.is_alive():
        # Each driver run asks the names again (a process's first adopt).
        dns.set("moving.test", few if flips % 2 == 0 else many, ttl=1)
        rt.state_of(a["name"])
        flips += 1
    reader.join()
    reads = [r for r in result["p"].stdout.split("=== ")[1:]]
    seen = set()
    for r in reads:
        lines = r.splitlines()[1:]
        got = [l.split("\t")[0] for l in lines if l.endswith("\tmoving.test")]
        assert lines[0].startswith("127.0.0.1\tlocalhost"), r
        assert sorted(got) in (sorted(many), sorted(few)), r
        assert all(l.endswith("\tmoving.test") or not l.startswith("198.18.") for l in lines), r
        seen.add(len(got))
    # Both versions were read: the file did change while it was read.
    assert flips >= 2 and len(reads) >= 6, (flips, len(reads))
    assert seen == {len(many), len(few)}, seen
    rt.run("destroy", a["name"])
