"""Fixtures of the REST API's system tests."""
import os

import pytest

from api_helpers import BAD_CONFIG, BUILD, Berthd, config_text, make_source, suite_checks
from berth_helpers import tmpdir_fixture
from suite_checks import (  # noqa: F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)


api_state_dir = tmpdir_fixture("api_state_dir", "berth-api-")


@pytest.fixture
def berthd(api_state_dir):
    d = Berthd(os.path.join(BUILD, "berthd"), api_state_dir)
    yield d
    rc = d.stop()
    suite_checks.check_reports()
    assert rc == 0, d.read_log()


@pytest.fixture
def api(berthd):
    return berthd.api()


@pytest.fixture
def source(api_state_dir):
    """A source with tags v1, v2 (valid) and bad (invalid), oldest first."""
    return make_source(os.path.join(api_state_dir, "src-repo"),
                       [("v1", config_text()), ("v2", config_text(port=8001)),
                        ("bad", BAD_CONFIG)])
