"""Fixtures of berthd's system tests."""
import os

import pytest

from daemon_helpers import BUILD, Berthd
from berth_helpers import tmpdir_fixture
from suite_checks import (  # noqa: F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)


state_dir = tmpdir_fixture("state_dir", "berth-sys-")


@pytest.fixture
def berthd(state_dir):
    d = Berthd(os.path.join(BUILD, "berthd"), state_dir)
    yield d
    d.stop()
