"""Helpers of the TLS system tests: berthd driving real enclaves behind its
own berth-router with HTTPS on a free port, and real TLS clients (Python's
ssl, curl, openssl s_client). The registry, the git repository, berthd and
the load thread are tests/system/berth_helpers.py's, which the lifecycle
tests share; this module keeps their names importable from here."""
import os
import sys

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import berth_helpers  # noqa: E402
from berth_helpers import (  # noqa: E402,F401 (re-exported)
    BUILD, OPENER, ROOT, GitRepo, Load, Registry, berthd_fixture, config_text, free_port,
    http, registry_fixture, repo_fixture, suite_checks)


class Berthd(berth_helpers.Berthd):
    """berth_helpers.Berthd with its HTTPS listener on a free port unless
    tls=False turns it off."""

    def __init__(self, args=(), env=None, binary=None, wrapper=(), tls=True):
        super().__init__(args, env, binary, wrapper, tls=tls)
