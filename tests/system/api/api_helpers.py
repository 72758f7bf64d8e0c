"""Helpers for the REST API's system tests: a berthd on free loopback ports
with a private state directory (stopped by PID), a JSON client, git sources
made with the git CLI, and a look into the store with sqlite3 (or psql when
berthd runs on PostgreSQL: PgServer, a throwaway server of tests/pg.sh)."""
import csv
import io
import json
import os
import re
import tempfile
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import suite_checks  # noqa: E402  (tests/system/suite_checks.py)

BUILD = os.environ.get("BERTH_BUILD", os.path.abspath("build-asan"))
RELEASE = os.environ.get("BERTH_RELEASE_BUILD", os.path.abspath("build"))

# Digest-pinned images on a registry address nobody listens on: a reconciler
# can only fail them, never run them.
DIGEST = "sha256:" + "6288f5265d130be6426ba98cc0ea5b5cb7c0d2ec44a9c57829004dc8ee7f0e52"
IMAGE = "127.0.0.1:9/berth-api-test/app@" + DIGEST


def config_text(image=IMAGE, secrets=(), port=8000, extra=""):
    """A valid tinfoil-config.yml."""
    text = ("cvm-version: 0.7.5\n"
            "containers:\n"
            "  - name: app\n"
            f"    image: \"{image}\"\n")
    if secrets:
        text += "    secrets:\n" + "".join(f"      - {s}\n" for s in secrets)
    text += f"shim:\n  upstream-port: {port}\n" + extra
    return text


# Line 4, column 12 holds an image without a digest.
BAD_CONFIG = ("cvm-version: 0.7.5\n"
              "containers:\n"
              "  - name: app\n"
              "    image: \"registry.example/app:1.2\"\n"
              "shim:\n  upstream-port: 8000\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, timeout=10, headers=None):
    """Returns (status, headers, body bytes) without raising on 4xx/5xx."""
    req = urllib.request.Request(url, data=body, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()



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


class Berthd:
    def __init__(self, binary, state_dir, args=(), wrapper=(), source_roots=None, store=None):
        """store: a PgDatabase to run on (--store), or None for STATE/berth.db."""
        self.store = store
        if store is not None:
            args = ["--store", store.url] + list(args)
        self.port = free_port()
        self.router_port = free_port()
        self.state_dir = state_dir
        suite_checks.track_berthd(state_dir)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(state_dir, "berthd.log")
        self.log = open(self.log_path, "w")
        cmd = list(wrapper) + [binary, "--state-dir", state_dir,
                               "--listen", f"127.0.0.1:{self.port}",
                               "--router-listen", f"127.0.0.1:{self.router_port}",
                               ] + [a for r in (source_roots or [tempfile.gettempdir()])
                                    # The tests' repositories are in temporary directories.
                                    for a in ("--source-root", r)] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=suite_checks.daemon_env())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                kill_router(state_dir)  # the router it started outlives it
                raise RuntimeError("berthd exited: " + self.read_log())
            try:
                if http("GET", self.url + "/healthz", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            self.proc.kill()
            self.proc.wait()
            kill_router(state_dir)
            raise RuntimeError("berthd did not answer in 30 s: " + self.read_log())
        with open(os.path.join(state_dir, "admin-token")) as f:
            self.admin_token = f.read().strip()

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

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        suite_checks.scan_log(self.log_path)
        kill_router(self.state_dir)
        suite_checks.remove_run_dir(self.state_dir)
        return self.proc.returncode


def git(repo, *args, date=None):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    if date is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"{date} +0000"
    subprocess.run(["git", "-C", repo] + list(args), check=True, env=env,
                   capture_output=True, timeout=30)


def make_source(path, tags):
    """A git repository at path with one commit and tag per (tag, config text),
    oldest first, a minute apart."""
    os.makedirs(path)
    git(path, "init", "-q", "-b", "main")
    for i, (tag, text) in enumerate(tags):
        with open(os.path.join(path, "tinfoil-config.yml"), "wb") as f:
            f.write(text.encode("utf-8", "surrogateescape"))
        git(path, "add", "tinfoil-config.yml")
        git(path, "commit", "-q", "-m", tag, date=1700000000 + 60 * i)
        git(path, "tag", tag)
    return path
