"""Helpers for the REST API's system tests: a berthd on free loopback ports
with a private state directory (stopped by PID), a JSON client, git sources
made with the git CLI, and a look into the store with sqlite3 (or psql when
berthd runs on PostgreSQL: PgServer, a throwaway server of tests/pg.sh)."""
import csv
import io
import json
import os
import re
import subprocess
import tempfile
import sqlite3
import sys
import uuid

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


PG_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pg.sh")
PG_BIN = "/usr/lib/postgresql/15/bin"


class PgServer:
    """A PostgreSQL 15 of tests/pg.sh (as nobody, a unix socket in a temporary
    directory); stop() stops it and removes the directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="berth-pg-")
        out = subprocess.run([PG_SH, "start", self.dir], capture_output=True, text=True,
                             timeout=120)
        if out.returncode != 0:
            subprocess.run([PG_SH, "stop", self.dir], capture_output=True, timeout=60)
            raise RuntimeError("tests/pg.sh start failed: " + out.stderr)

    def psql(self, db, sql):
        """The rows of sql in database db, as lists of strings (NULL is '')."""
        out = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-h", self.dir,
                              "-U", "berth", "-d", db, "--csv", "-v", "ON_ERROR_STOP=1",
                              "-c", sql], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {out.stderr}")
        rows = list(csv.reader(io.StringIO(out.stdout)))
        return rows[0] if rows else [], rows[1:]

    def database(self):
        """A new empty database of its own."""
        return PgDatabase(self, "t_" + uuid.uuid4().hex[:16])

    def stop(self):
        subprocess.run([PG_SH, "stop", self.dir], capture_output=True, timeout=60)


class PgRow(tuple):
    """A row by index or by column name, as sqlite3.Row."""

    def __new__(cls, names, values):
        row = super().__new__(cls, values)
        row.names = names
        return row

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)


class PgDatabase:
    """One test's database; url is berthd's --store."""

    def __init__(self, server, name):
        self.server = server
        self.name = name
        server.psql("postgres", f"CREATE DATABASE {name}")
        self.url = f"postgresql:///{name}?host={server.dir}&user=berth"

    def drop(self):
        self.server.psql("postgres", f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")

    def dump(self):
        """Every byte the database holds that pg_dump shows."""
        out = subprocess.run([os.path.join(PG_BIN, "pg_dump"), "-h", self.server.dir,
                              "-U", "berth", self.name], capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    # The part of sqlite3's connection the tests use.
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, params=()):
        for p in params:
            value = str(p) if isinstance(p, int) else "'" + str(p).replace("'", "''") + "'"
            sql = sql.replace("?", value, 1)
        names, rows = self.server.psql(self.name, sql)
        return PgCursor([PgRow(names, [int(v) if re.fullmatch(r"-?[0-9]{1,18}", v) else v
                                       for v in r]) for r in rows])


class PgCursor(list):
    def fetchone(self):
        return self[0] if self else None


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
    PID), a JSON client of its API and a look into its store; store: a
    PgDatabase to run on (--store), or None for STATE/berth.db."""

    def __init__(self, binary, state_dir, args=(), wrapper=(), source_roots=None, store=None):
        self.store = store
        if store is not None:
            args = ["--store", store.url] + list(args)
        super().__init__(binary, state_dir, args, wrapper, source_roots)

    def api(self, token=None):
        return Api(self.url, token or self.admin_token)

    def db(self):
        """A read-only look into the store."""
        if self.store is not None:
            return self.store
        con = sqlite3.connect(f"file:{self.state_dir}/berth.db?mode=ro", uri=True, timeout=5)
        con.row_factory = sqlite3.Row
        return con

    def store_bytes(self):
        """What the store holds, raw: the SQLite file, or PostgreSQL's dump."""
        if self.store is not None:
            return self.store.dump()
        with open(os.path.join(self.state_dir, "berth.db"), "rb") as f:
            return f.read()
