"""Fixtures of the fault tests: the lifecycle folder's helpers (imported, not
copied) and, in faults_helpers.py, what a fault needs beside them."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(HERE, ".."))
sys.path.append(os.path.join(HERE, "..", "lifecycle"))
from suite_checks import (  # noqa: E402,F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)
from faults_helpers import FaultRegistry  # noqa: E402
from lifecycle_helpers import Berthd, GitRepo, config_text  # noqa: E402

# The large image: two layers of random data (it does not compress), so that a
# pull lasts long enough to be interrupted.
BIG = {"BIG_LAYERS": "2", "BIG_LAYER_MIB": "48"}


@pytest.fixture(scope="session")
def registry():
    reg = FaultRegistry()
    reg.build("hello", "env")
    reg.build("big", env=BIG)
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def repo(registry):
    """Tags v1 and v2 (hello)."""
    r = GitRepo()
    r.tag("v1", config_text(registry.images["hello:v1"]))
    r.tag("v2", config_text(registry.images["hello:v2"]))
    yield r
    r.remove()


@pytest.fixture
def berthd():
    d = Berthd()
    yield d
    d.stop()
