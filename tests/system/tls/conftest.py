"""Fixtures of the TLS system tests (see tls_helpers.py)."""
import os
import sys

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from suite_checks import (  # noqa: E402,F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)
from tls_helpers import (  # noqa: E402
    Berthd, berthd_fixture, config_text, registry_fixture, repo_fixture)

registry = registry_fixture("hello", "env", "slow", "broken", "keys")

# Tags v1 and v2 (hello).
repo = repo_fixture(lambda registry: [
    ("v1", config_text(registry.images["hello:v1"])),
    ("v2", config_text(registry.images["hello:v2"]))])

berthd = berthd_fixture(cls=Berthd)
