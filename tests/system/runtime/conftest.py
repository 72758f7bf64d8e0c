"""Fixtures of the runtime system tests: a busybox rootfs, and a private
runtime (state dir, OCI root, bridge, subnet) per test driven through
build*/tests/berth-enclave, torn down in a finalizer even on failure."""
import os
import shutil
import subprocess

import pytest

from runtime_helpers import USERNS_BASE, Runtime, suite_checks
from suite_checks import (  # noqa: F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)

HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(config, items):
    # Root is the one thing scripts/install-deps.sh cannot provide: without
    # it the folder is skipped, saying so (pytest -rs); runc and busybox are
    # required (the rootfs fixture fails without them).
    if os.geteuid() != 0:
        for item in items:
            if str(item.fspath).startswith(HERE + os.sep):
                item.add_marker(pytest.mark.skip(
                    reason="needs root (network namespaces, mounts, runc)"))


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory):
    """A busybox rootfs: httpd serves /www; users app (1000) and nobody."""
    suite_checks.require("runc", "/bin/busybox")
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
    # As berth unpacks images for runc enclaves: owned by the user
    # namespace's root (RUNTIME_USERNS_BASE). gVisor's enclaves take the
    # image as it is: a copy beside it (Runtime picks it).
    subprocess.run(["cp", "-a", str(root), str(root) + "-plain"], check=True)
    subprocess.run(["chown", "-R", "-h", "%d:%d" % (USERNS_BASE, USERNS_BASE), str(root)],
                   check=True)
    os.chown(root / "home/app", USERNS_BASE + 1000, USERNS_BASE + 1000)
    return str(root)


@pytest.fixture
def rt(tmp_path, rootfs):
    r = Runtime(str(tmp_path), rootfs)
    yield r
    r.cleanup()


@pytest.fixture(params=["runc", "gvisor"])
def rt_iso(request, tmp_path, rootfs):
    """A runtime whose enclaves run at each isolation level in turn."""
    if request.param == "gvisor" and not shutil.which("runsc"):
        pytest.fail("runsc is missing: scripts/install-deps.sh installs it")
    r = Runtime(str(tmp_path), rootfs, isolation=request.param)
    yield r
    r.cleanup()
