"""Fixtures of the `berth config` CLI tests: the binary and the repository."""
import os
import pathlib
import subprocess
import sys

import pytest

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from suite_checks import (  # noqa: E402,F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)

REPO = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def berth():
    """Runs build/berth with args; returns the CompletedProcess (text)."""
    build = os.environ.get("BERTH_BUILD", str(REPO / "build"))
    binary = pathlib.Path(build) / "berth"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: build first, or set BERTH_BUILD")

    def run(*args, cwd=REPO):
        return subprocess.run([str(binary), *map(str, args)], cwd=cwd,
                              capture_output=True, text=True, timeout=30)
    return run


@pytest.fixture(scope="session")
def repo():
    return REPO
