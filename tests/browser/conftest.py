"""Fixtures of the dashboard's browser tests: the lifecycle tests' real
registry, git repository and berthd (tests/system/lifecycle), and a runner of
the node scenarios (tests/browser/*.mjs) that drive Debian's chromium."""
import os
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system", "lifecycle"))

from lifecycle_helpers import Berthd, GitRepo, Registry, config_text  # noqa: E402
from suite_checks import (  # noqa: E402,F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE_MODULES = os.path.join(HERE, "..", "..", "node_modules", "playwright-core")


@pytest.fixture(scope="session", autouse=True)
def browser_dependencies():
    """chromium, node and playwright-core: scripts/install-deps.sh installs
    them all, so a missing one fails every test (never skips it)."""
    missing = [w for w, p in (("chromium", CHROMIUM), ("node_modules/playwright-core",
                                                       NODE_MODULES)) if not os.path.exists(p)]
    if shutil.which("node") is None:
        missing.append("node")
    if missing:
        pytest.fail("missing " + ", ".join(missing) + " (scripts/install-deps.sh installs them)",
                    pytrace=False)


@pytest.fixture(scope="session")
def registry():
    reg = Registry()
    try:
        reg.build("hello", "broken", "env", "slow")
        yield reg
    finally:
        reg.stop()


@pytest.fixture(scope="session")
def repo(registry):
    """v1, v2 (hello), v3 (broken: never healthy in 4s), v4-bad (invalid config)."""
    r = GitRepo()
    try:
        r.tag("v1", config_text(registry.images["hello:v1"]))
        r.tag("v2", config_text(registry.images["hello:v2"]))
        r.tag("v3", config_text(registry.images["broken:v1"], deploy={"health-timeout": "4s"}))
        r.tag("v4-bad", "cvm-version: 0.7.5\ncontainers: none\n")
        yield r
    finally:
        r.remove()


@pytest.fixture(scope="session")
def berthd():
    """One berthd for the scenarios; each uses containers of its own names."""
    d = Berthd()
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def gpu_berthd():
    d = Berthd(args=["--gpus", "8"])
    try:
        yield d
    finally:
        d.stop()


class Scenarios:
    def __init__(self, registry, repo):
        self.registry, self.repo = registry, repo

    def run(self, name, b, timeout=150, **extra):
        """Runs tests/browser/NAME.mjs against berthd b; fails on a non-zero exit."""
        env = dict(os.environ, BERTH_URL=b.url, BERTH_TOKEN=b.token, REPO=self.repo.dir,
                   ROUTER_PORT=str(b.router_port), CHROMIUM=CHROMIUM,
                   IMG_HELLO_V1=self.registry.images["hello:v1"],
                   IMG_HELLO_V2=self.registry.images["hello:v2"],
                   **{k: str(v) for k, v in extra.items()})
        start = time.monotonic()
        try:
            out = subprocess.run(["node", os.path.join(HERE, name + ".mjs")], env=env,
                                 capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            print(e.stdout or "")
            raise AssertionError(f"{name}: timed out after {timeout}s\n"
                                 f"{b.read_log()[-3000:]}")
        print(out.stdout)
        print(out.stderr, file=sys.stderr)
        print(f"# {name}: {time.monotonic() - start:.1f}s")
        assert out.returncode == 0, (f"{name} failed:\n{out.stdout[-6000:]}\n{out.stderr[-2000:]}"
                                     f"\n--- berthd log ---\n{b.read_log()[-3000:]}")
        assert "checks passed" in out.stdout
        return out.stdout


@pytest.fixture(scope="session")
def scenarios(registry, repo):
    return Scenarios(registry, repo)


__all__ = ["config_text"]
