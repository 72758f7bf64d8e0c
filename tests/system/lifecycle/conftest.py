"""Fixtures of the lifecycle system tests (see tests/system/berth_helpers.py)."""
from lifecycle_helpers import berthd_fixture, config_text, registry_fixture, repo_fixture
from suite_checks import (  # noqa: F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)

registry = registry_fixture("hello", "broken", "env", "crash")

# Tags v1 and v2 (hello), v3 (broken: never healthy in 6s).
repo = repo_fixture(lambda registry: [
    ("v1", config_text(registry.images["hello:v1"])),
    ("v2", config_text(registry.images["hello:v2"])),
    ("v3", config_text(registry.images["broken:v1"], deploy={"health-timeout": "6s"}))])

berthd = berthd_fixture()
gpu_berthd = berthd_fixture("gpu_berthd", args=["--gpus", "8"])
