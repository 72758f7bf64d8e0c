"""Fixtures of the `berth` CLI's system tests."""
import os

import pytest

from cli_helpers import BUILD, Berth, Berthd, SilentRegistry, config_text, image_at, suite_checks
from berth_helpers import tmpdir_fixture
from suite_checks import (  # noqa: F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)


cli_dir = tmpdir_fixture("cli_dir", "berth-cli-")


@pytest.fixture
def berthd(cli_dir):
    state = os.path.join(cli_dir, "state")
    os.mkdir(state)
    d = Berthd(os.path.join(BUILD, "berthd"), state)
    yield d
    rc = d.stop()
    suite_checks.check_reports()
    assert rc == 0, d.read_log()


@pytest.fixture
def home(cli_dir):
    h = os.path.join(cli_dir, "home")
    os.mkdir(h)
    return h


@pytest.fixture
def berth(berthd, home):
    """`berth` pointed at berthd with its admin token through the environment."""
    return Berth(os.path.join(BUILD, "berth"), home, berthd.url, berthd.token)


@pytest.fixture
def silent_registry():
    r = SilentRegistry()
    yield r
    r.close()


@pytest.fixture
def config_file(cli_dir, silent_registry):
    """A config whose image pull never ends: deploys and updates stay pending."""
    p = os.path.join(cli_dir, "tinfoil-config.yml")
    with open(p, "w") as f:
        f.write(config_text(image=image_at(silent_registry.addr)))
    return p


@pytest.fixture
def failing_config_file(cli_dir):
    """A config whose image pull fails at once (connection refused)."""
    p = os.path.join(cli_dir, "failing-config.yml")
    with open(p, "w") as f:
        f.write(config_text())
    return p
