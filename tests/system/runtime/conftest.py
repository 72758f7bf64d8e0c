"""Fixtures of the runtime system tests: a busybox rootfs, and a private
runtime (state dir, OCI root, bridge, subnet) per test driven through
build*/tests/berth-enclave, torn down in a finalizer even on failure."""
import json
import os
import random
import shutil
import subprocess
import time
import uuid

import pytest

BUILD = os.environ.get("BERTH_BUILD", os.path.join(os.path.dirname(__file__), "../../../build-asan"))
DRIVER = os.path.join(BUILD, "tests", "berth-enclave")


def pytest_collection_modifyitems(config, items):
    why = None
    if os.geteuid() != 0:
        why = "needs root (network namespaces, mounts, runc)"
    elif not shutil.which("runc"):
        why = "needs runc"
    elif not os.path.exists("/bin/busybox"):
        why = "needs busybox-static"
    if why:
        for item in items:
            if "runtime" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory):
    """A busybox rootfs: httpd serves /www; users app (1000) and nobody."""
    root = tmp_path_factory.mktemp("rtfs") / "rootfs"
    for d in ("bin", "etc", "www", "tmp", "home/app"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    subprocess.run(["chroot", str(root), "/bin/busybox", "--install", "-s", "/bin"], check=True)
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "app:x:1000:1000::/home/app:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (root / "etc/group").write_text("root:x:0:\napp:x:1000:\nstaff:x:50:\n")
    (root / "www/index.html").write_text("hello from busybox\n")
    os.chmod(root / "tmp", 0o1777)
    return str(root)


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

    def __init__(self, base, rootfs, log_max=None):
        self.tag = uuid.uuid4().hex[:8]
        self.base = base
        self.rootfs = rootfs
        self.state = os.path.join(base, "state")
        self.oci_root = os.path.join(base, "oci")
        self.bridge = "bt" + self.tag
        self.subnet = _free_subnet()
        self.log_max = log_max
        self.env = dict(os.environ)

    def args(self):
        a = [DRIVER, "--state", self.state, "--oci-root", self.oci_root,
             "--bridge", self.bridge, "--subnet", self.subnet]
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
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
            subprocess.run(["umount", "-R", "-l", self.base], capture_output=True)


@pytest.fixture
def rt(tmp_path, rootfs):
    r = Runtime(str(tmp_path), rootfs)
    yield r
    r.cleanup()


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
