"""Helpers for berthd's system tests: a daemon on free loopback ports with a
private state directory, stopped by PID at the end."""
import os
import sys

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import berth_helpers  # noqa: E402  (tests/system/berth_helpers.py)
import suite_checks  # noqa: E402  (tests/system/suite_checks.py)
from berth_helpers import free_port, wait_healthy  # noqa: E402,F401

BUILD = os.environ.get("BERTH_BUILD", os.path.abspath("build-asan"))
RELEASE = os.environ.get("BERTH_RELEASE_BUILD", os.path.abspath("build"))


def http(method, url, body=None, token=None, timeout=5):
    """Returns (status, headers, body bytes) without raising on 4xx/5xx."""
    status, data, headers = berth_helpers.http(method, url, body, token, timeout=timeout)
    return status, headers, data


def kill_router(state_dir):
    """Stops the berth-router that berthd started detached for state_dir (it
    outlives berthd on purpose) and waits for its exit; scans its log."""
    suite_checks.stop_router(state_dir)


# berthd on free loopback ports with a private state dir, stopped by PID.
Berthd = berth_helpers.LocalBerthd
