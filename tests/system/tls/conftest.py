"""Fixtures of the TLS system tests (see tls_helpers.py)."""
import pytest

from suite_checks import (  # noqa: F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)
from tls_helpers import Berthd, GitRepo, Registry, config_text


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
