"""Fixtures of the TLS system tests (see tls_helpers.py)."""
import os
import sys

import pytest

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from suite_checks import (  # noqa: E402,F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)
from tls_helpers import Berthd, GitRepo, Registry, config_text  # noqa: E402


@pytest.fixture(scope="session")
def registry():
    reg = Registry()
    reg.build("hello", "env")
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
