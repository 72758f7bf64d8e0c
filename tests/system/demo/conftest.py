"""The demo test's fixtures are its own (test_demo.py); the checks of every
folder (tests/system/suite_checks.py) are here, where pytest finds hooks."""
import os
import sys

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from suite_checks import (  # noqa: E402,F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)
