"""Fixtures of the berth-router system tests (helpers in router_harness.py).

Run: BERTH_BUILD=/abs/build-asan /usr/bin/python3 -m pytest tests/system/router
"""
import shutil
import tempfile

import pytest

from router_harness import Busybox, PyBackend, Router
from suite_checks import (  # noqa: F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)


@pytest.fixture
def tmpdir_router():
    d = tempfile.mkdtemp(prefix="berth-rtr-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def router_factory(tmpdir_router):
    routers = []

    def make(args=(), threads=2, **kw):
        r = Router(tmpdir_router, list(args), threads=threads, **kw)
        routers.append(r)
        return r

    yield make
    errors = []
    for r in routers:
        try:
            r.stop()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture
def backends(tmpdir_router):
    made = []

    def make(name, kind="py"):
        if kind == "busybox":
            b = Busybox(tmpdir_router, name)
        else:
            b = PyBackend(name, single=kind == "single")
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()
