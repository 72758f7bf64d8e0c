"""Helpers of the runtime system tests (a module with a unique name, so the
tests import it and not another folder's conftest)."""
import glob
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import suite_checks  # noqa: E402  (tests/system/suite_checks.py)

BUILD = os.environ.get("BERTH_BUILD", os.path.join(os.path.dirname(__file__), "../../../build-asan"))
DRIVER = os.path.join(BUILD, "tests", "berth-enclave")
# src/runtime/runtime.h: the host id of root in runc enclaves.
USERNS_BASE = 1073741824


def _free_subnet():
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    for _ in range(100):
        octet = random.randint(1, 254)
        net = "10.213.%d." % octet
        if net not in routes:
            return net + "0/24"
    raise RuntimeError("no free 10.213.x.0/24")


class Runtime:
    """One private runtime of the driver and what it created."""

    def __init__(self, base, rootfs, log_max=None, isolation=None):
        self.tag = uuid.uuid4().hex[:8]
        self.base = base
        # gVisor keeps ids its own: the image as it is, not shifted.
        plain = rootfs + "-plain"
        self.rootfs = plain if isolation == "gvisor" and os.path.isdir(plain) else rootfs
        self.state = os.path.join(base, "state")
        self.oci_root = os.path.join(base, "oci")
        # Namespaces are pinned by bind mounts, which /tmp may not suit; a
        # directory of this test's own under /run.
        self.netns_dir = "/run/berth-test-%s/netns" % self.tag
        self.bridge = "bt" + self.tag
        self.subnet = _free_subnet()
        self.log_max = log_max
        self.env = suite_checks.daemon_env()
        suite_checks.track("dir", base)
        suite_checks.track("dir", os.path.dirname(self.netns_dir))
        suite_checks.track("bridge", self.bridge)
        self.leaks_expected = False
        self.isolation = isolation

    def args(self):
        a = [DRIVER, "--state", self.state, "--oci-root", self.oci_root, "--netns-dir", self.netns_dir,
             "--bridge", self.bridge, "--subnet", self.subnet]
        if self.isolation:
            a += ["--isolation", self.isolation]
        if self.log_max:
            a += ["--log-max", str(self.log_max)]
        return a

    def run(self, *args, check=True, timeout=60, extra=()):
        p = subprocess.run(self.args() + list(extra) + list(args), capture_output=True,
                           text=True, timeout=timeout, env=self.env)
        if check and p.returncode != 0:
            raise AssertionError("berth-enclave %s: exit %d\n%s" % (" ".join(args), p.returncode, p.stderr))
        return p

    def name(self, suffix=""):
        return "b-t%s%s" % (self.tag, suffix)

    def container(self, name, **kw):
        c = {"name": name, "rootfs": self.rootfs,
             "image": {"cmd": ["httpd", "-f", "-p", "8080", "-h", "/www"]},
             # busybox as pid 1 ignores SIGTERM: keep teardown quick.
             "stop_timeout_ms": 300}
        c.update(kw)
        return c

    def create(self, name, containers, check=True, **extra):
        spec = {"name": name, "deployment_id": name, "containers": containers}
        spec.update(extra)
        path = os.path.join(self.base, "spec-%s.json" % uuid.uuid4().hex[:8])
        with open(path, "w") as f:
            json.dump(spec, f)
        p = self.run("create", path, check=check)
        return json.loads(p.stdout) if p.returncode == 0 else p

    def exec(self, name, container, *argv, timeout_ms=10000, check=True):
        p = self.run("exec", name, container, "--timeout", str(timeout_ms), "--", *argv,
                     check=False)
        if check and p.returncode != 0:
            raise AssertionError("exec %s: exit %d\n%s%s" % (argv, p.returncode, p.stdout, p.stderr))
        return p

    def state_of(self, name):
        return json.loads(self.run("state", name).stdout)

    def list(self):
        return json.loads(self.run("list").stdout)

    def cleanup(self):
        try:
            for name in self.list():
                self.run("destroy", name, check=False)
        finally:
            suite_checks.delete_bridge(self.bridge)
            subprocess.run(["umount", "-R", "-l", self.base], capture_output=True)
            top = os.path.dirname(self.netns_dir)
            for n in os.listdir(self.netns_dir) if os.path.isdir(self.netns_dir) else []:
                subprocess.run(["umount", "-l", os.path.join(self.netns_dir, n)], capture_output=True)
                os.unlink(os.path.join(self.netns_dir, n))
            # Destroy removes bundles, firewall tables and cgroups: whatever is
            # left here is a leak, removed, then reported.
            leaks = []
            bundles = os.path.join(top, "bundles")
            if os.path.isdir(bundles):
                leaks += ["bundle " + n for n in os.listdir(bundles)]
                # berth mounts a tmpfs there where /run is none.
                subprocess.run(["umount", bundles], capture_output=True)
                shutil.rmtree(bundles, ignore_errors=True)
            for fam, table in nft_tables():
                if table.startswith("berth-" + self.name()):
                    leaks.append("nft table %s %s" % (fam, table))
                    subprocess.run(["nft", "delete", "table", fam, table], capture_output=True)
            for d in glob.glob("/sys/fs/cgroup/*/berth/%s*" % self.name()):
                leaks.append("cgroup " + d)
                subprocess.run(["rmdir", d], capture_output=True)
            if os.path.isdir(top):
                os.rmdir(self.netns_dir) if os.path.isdir(self.netns_dir) else None
                os.rmdir(top)
            if leaks and not self.leaks_expected:
                raise AssertionError("left behind: %s" % ", ".join(leaks))


def nft_tables():
    """(family, name) of every nftables table."""
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    return [tuple(l.split()[1:3]) for l in out.splitlines() if l.startswith("table ")]


def http_get(ip, port=8080, path="/index.html", deadline_s=5.0):
    import urllib.request
    end = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen("http://%s:%d%s" % (ip, port, path), timeout=1) as r:
                return r.read().decode()
        except OSError as e:
            last = e
            time.sleep(0.05)
    raise AssertionError("GET http://%s:%d%s: %s" % (ip, port, path, last))


class HostService:
    """A TCP service of the host on 0.0.0.0 (on :: with family AF_INET6) that
    counts its connections."""

    def __init__(self, family=socket.AF_INET):
        self.sock = socket.socket(family)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            c.settimeout(2)
            try:  # the request first: closing on unread data resets
                c.recv(4096)
                c.sendall(b"HTTP/1.0 200 OK\r\n\r\nhost secret\n")
                c.shutdown(socket.SHUT_WR)
                c.recv(4096)
            except OSError:
                pass
            c.close()

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()
