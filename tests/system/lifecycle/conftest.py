"""Fixtures of the lifecycle system tests (see lifecycle_helpers.py)."""
import pytest

from lifecycle_helpers import Berthd, GitRepo, Registry, config_text
from suite_checks import (  # noqa: F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)


@pytest.fixture(scope="session")
def registry():
    reg = Registry()
    reg.build("hello", "broken", "env", "crash")
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def repo(registry):
    """Tags v1 and v2 (hello), v3 (broken: never healthy in 6s)."""
    r = GitRepo()
    r.tag("v1", config_text(registry.images["hello:v1"]))
    r.tag("v2", config_text(registry.images["hello:v2"]))
    r.tag("v3", config_text(registry.images["broken:v1"], deploy={"health-timeout": "6s"}))
    yield r
    r.remove()


@pytest.fixture
def berthd():
    d = Berthd()
    yield d
    d.stop()


@pytest.fixture
def gpu_berthd():
    d = Berthd(args=["--gpus", "8"])
    yield d
    d.stop()
