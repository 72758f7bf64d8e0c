"""Fixtures of berthd's system tests."""
import os
import shutil
import tempfile

import pytest

from daemon_helpers import BUILD, Berthd
from suite_checks import (  # noqa: F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)


@pytest.fixture
def state_dir():
    d = tempfile.mkdtemp(prefix="berth-sys-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def berthd(state_dir):
    d = Berthd(os.path.join(BUILD, "berthd"), state_dir)
    yield d
    d.stop()
