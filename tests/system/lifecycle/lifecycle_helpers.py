"""Helpers of the lifecycle system tests: a real registry holding the test
images, a real git repository whose tags pin them, and berthd driving real
enclaves (runc, CNI) behind its own berth-router. They live in
tests/system/berth_helpers.py, which the TLS tests share; this module keeps
their names importable from here."""
import os
import sys

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from berth_helpers import (  # noqa: E402,F401 (re-exported)
    BUILD, OPENER, ROOT, Berthd, GitRepo, Load, Registry, berthd_fixture, config_text,
    free_port, http, registry_fixture, repo_fixture, suite_checks)
