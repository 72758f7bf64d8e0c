"""`berth` following real deploys and updates to their end: real images in
a local registry, real enclaves (runc, CNI), berthd's reconciler. Uses the
lifecycle tests' helpers (tests/system/lifecycle/lifecycle_helpers.py) for
the registry, the git source and berthd."""
import os
import subprocess
import sys
import time

import pytest

from cli_helpers import BUILD

LIFECYCLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lifecycle")
sys.path.insert(0, LIFECYCLE)
import lifecycle_helpers as lh  # noqa: E402


@pytest.fixture(scope="module")
def live_repo():
    reg = lh.Registry()
    reg.build("hello", "broken")
    repo = lh.GitRepo()
    repo.tag("v1", lh.config_text(reg.images["hello:v1"]))
    repo.tag("v2", lh.config_text(reg.images["hello:v2"]))
    repo.tag("v3", lh.config_text(reg.images["broken:v1"], deploy={"health-timeout": "6s"}))
    repo.tag("g1", lh.config_text(reg.images["hello:v1"], gpus=8))
    repo.tag("g2", lh.config_text(reg.images["hello:v2"], gpus=8))
    repo.images = reg.images
    yield repo
    repo.remove()
    reg.stop()


def berth(d, *args, timeout=180):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": d.state,
           "BERTH_URL": d.url, "BERTH_TOKEN": d.token}
    return subprocess.run([os.path.join(BUILD, "berth")] + list(args), env=env,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_blue_green_update_followed_to_its_end(live_repo):
    d = lh.Berthd()
    try:
        r = berth(d, "container", "create", "web", "--repo", live_repo.dir, "--tag", "v1",
                  "--wait")
        assert r.returncode == 0, r.stderr
        url = f"http://web.default.containers.localhost:{d.router_port}"
        assert r.stderr.splitlines()[-1] == f"web is running at {url}"

        r = berth(d, "container", "update", "web", "--tag", "v2")
        assert r.returncode == 0, r.stderr
        lines = r.stderr.splitlines()
        assert lines[0].startswith("web: pending")
        assert "web: started  health checks" in lines
        assert any(line.startswith("  health  ") for line in lines), lines
        assert lines[-2:] == ["web: done", "web now runs v2"]
        assert d.get("web")[1] == b"hello v2\n"

        # a version that never gets healthy: exit 1 with the reason; v2 serves on
        t = time.monotonic()
        r = berth(d, "container", "update", "web", "--tag", "v3")
        assert r.returncode == 1, r.stderr
        c = d.container("web")
        assert c["update"]["status"] == "failed" and c["status"] == "running"
        assert r.stderr.splitlines()[-1] == f"berth: the update of web failed: {c['update']['error']}"
        assert time.monotonic() - t < 120
        assert d.get("web")[1] == b"hello v2\n"
    finally:
        d.stop()


def test_recreate_update_shows_both_phases(live_repo):
    d = lh.Berthd(args=["--gpus", "8"])
    try:
        r = berth(d, "container", "create", "gpu", "--repo", live_repo.dir, "--tag", "g1",
                  "--wait")
        assert r.returncode == 0, r.stderr
        r = berth(d, "container", "update", "gpu", "--tag", "g2")
        assert r.returncode == 0, r.stderr
        lines = r.stderr.splitlines()
        first = [i for i, l in enumerate(lines) if l.startswith("gpu: 1/2 stopping old")]
        second = [i for i, l in enumerate(lines) if l.startswith("gpu: 2/2 deploying new")]
        assert first and second and first[0] < second[0], lines
        assert lines[-1] == "gpu now runs g2"
    finally:
        d.stop()


def test_logs_of_a_running_debug_container(live_repo, tmp_path):
    cfg = tmp_path / "tinfoil-config.yml"
    cfg.write_text(lh.config_text(live_repo.images["hello:v1"], entrypoint=[
        "/bin/sh", "-c", "for i in 1 2 3 4 5 6 7; do echo line $i; done; "
        "echo to-stderr >&2; exec httpd -f -p 8080 -h /www"]))
    d = lh.Berthd()
    try:
        r = berth(d, "container", "create", "dbg", "--config", str(cfg), "--debug", "--wait")
        assert r.returncode == 0, r.stderr
        deadline = time.monotonic() + 10
        while True:
            r = berth(d, "container", "logs", "dbg", "--tail", "3")
            if r.stdout.splitlines() == ["line 6", "line 7", "to-stderr"] or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "line 6\nline 7\nto-stderr\n"
    finally:
        d.stop()
