"""Helpers for the REST API's system tests: a berthd on free loopback ports
with a private state directory (stopped by PID), a JSON client, git sources
made with the git CLI, and a look into the store with sqlite3."""
import json
import os
import sqlite3
import sys

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import berth_helpers  # noqa: E402  (tests/system/berth_helpers.py)
import suite_checks  # noqa: E402  (tests/system/suite_checks.py)
from berth_helpers import free_port, git, make_source  # noqa: E402,F401

BUILD = os.environ.get("BERTH_BUILD", os.path.abspath("build-asan"))
RELEASE = os.environ.get("BERTH_RELEASE_BUILD", os.path.abspath("build"))

# Digest-pinned images on a registry address nobody listens on: a reconciler
# can only fail them, never run them.
DIGEST = "sha256:" + "6288f5265d130be6426ba98cc0ea5b5cb7c0d2ec44a9c57829004dc8ee7f0e52"
IMAGE = "127.0.0.1:9/berth-api-test/app@" + DIGEST


def config_text(image=IMAGE, secrets=(), port=8000, extra=""):
    """A valid tinfoil-config.yml."""
    return berth_helpers.app_config(image, secrets, port, extra)


# Line 4, column 12 holds an image without a digest.
BAD_CONFIG = ("cvm-version: 0.7.5\n"
              "containers:\n"
              "  - name: app\n"
              "    image: \"registry.example/app:1.2\"\n"
              "shim:\n  upstream-port: 8000\n")


def http(method, url, body=None, token=None, timeout=10, headers=None):
    """Returns (status, headers, body bytes) without raising on 4xx/5xx."""
    status, data, hdrs = berth_helpers.http(method, url, body, token, headers, timeout)
    return status, hdrs, data



def kill_router(state_dir):
    """Stops the berth-router that berthd started detached for state_dir (it
    outlives berthd on purpose) and waits for its exit; scans its log."""
    suite_checks.stop_router(state_dir)

class Api:
    """A JSON client of /api/v1 with one org's token."""

    def __init__(self, url, token):
        self.url = url
        self.token = token

    def call(self, method, path, body=None, raw=None, token=None):
        """Returns (status, decoded JSON or None)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        status, _, out = http(method, self.url + "/api/v1" + path, data,
                              token=self.token if token is None else token)
        return status, (json.loads(out) if out.strip() else None)

    def get(self, path):
        return self.call("GET", path)

    def post(self, path, body=None, raw=None):
        return self.call("POST", path, body, raw)


def assert_error(status_body, status, code, *words):
    """The error shape of API.md with status, code, and words in the message."""
    st, body = status_body
    assert st == status, body
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    for w in words:
        assert w in body["error"]["message"], body
    return body["error"]["message"]


class Berthd(berth_helpers.LocalBerthd):
    """berthd on free loopback ports with a private state dir (stopped by
    PID), a JSON client of its API and a look into its store."""

    def api(self, token=None):
        return Api(self.url, token or self.admin_token)

    def db(self):
        """A read-only look into the store."""
        con = sqlite3.connect(f"file:{self.state_dir}/berth.db?mode=ro", uri=True, timeout=5)
        con.row_factory = sqlite3.Row
        return con
