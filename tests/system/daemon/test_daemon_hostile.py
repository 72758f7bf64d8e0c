"""Hostile peers and input: berthd's admin token file at first start, its cap
on API connections, its header timeout and its cap on an org's event streams,
against the real daemon on loopback."""
import json
import os
import pty
import select
import signal
import socket
import stat
import subprocess
import time

import pytest

from daemon_helpers import (BUILD, Berthd, free_port, http, kill_router, suite_checks,
                            wait_healthy)

BERTHD = os.path.join(BUILD, "berthd")


def assert_clean(d):
    """Stops d and fails on a sanitizer report in its log."""
    rc = d.stop()
    log = d.read_log()
    assert "Sanitizer" not in log and "runtime error:" not in log, log
    assert rc == 0, log


def wait_healthz(url, proc, state_dir):
    """berthd of start_raw() answering, its stderr.log in the error if not."""
    def read_log():
        with open(os.path.join(state_dir, "stderr.log")) as f:
            return f.read()
    wait_healthy(proc, url, read_log)


def start_raw(state_dir, stdout, stderr):
    port = free_port()
    proc = subprocess.Popen([BERTHD, "--state-dir", state_dir,
                             "--listen", f"127.0.0.1:{port}",
                             "--router-listen", f"127.0.0.1:{free_port()}"],
                            stdout=stdout, stderr=stderr, env=suite_checks.daemon_env())
    suite_checks.track_berthd(state_dir)
    url = f"http://127.0.0.1:{port}"
    return proc, url


def stop_raw(proc, state_dir):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    kill_router(state_dir)
    suite_checks.remove_run_dir(state_dir)
    return rc


def read_token(state_dir):
    with open(os.path.join(state_dir, "admin-token")) as f:
        return f.read().strip()


# --- the admin token ---------------------------------------------------------

def test_admin_token_file_mode_and_not_printed_to_a_pipe(state_dir):
    log_path = os.path.join(state_dir, "stderr.log")
    with open(log_path, "w") as err:
        proc, url = start_raw(state_dir, subprocess.PIPE, err)
        wait_healthz(url, proc, state_dir)
        rc = stop_raw(proc, state_dir)
        out = proc.stdout.read().decode()
    path = os.path.join(state_dir, "admin-token")
    token = read_token(state_dir)
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode) and st.st_mode & 0o777 == 0o600
    assert not os.path.exists(path + ".tmp")
    log = open(log_path).read()
    assert token not in out and token not in log
    assert path in log  # where to find it is said
    assert rc == 0, log


def test_admin_token_printed_on_a_terminal(state_dir):
    master, slave = os.openpty()
    with open(os.path.join(state_dir, "stderr.log"), "w") as err:
        proc, url = start_raw(state_dir, slave, err)
    os.close(slave)
    try:
        wait_healthz(url, proc, state_dir)
        token = read_token(state_dir)
        got = b""
        deadline = time.monotonic() + 5
        while token.encode() not in got and time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                got += os.read(master, 4096)
        assert token.encode() in got
    finally:
        assert stop_raw(proc, state_dir) == 0
        os.close(master)


@pytest.mark.parametrize("planted", ["admin-token.tmp", "admin-token"])
def test_admin_token_does_not_follow_a_planted_symlink(state_dir, planted):
    victim = os.path.join(state_dir, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    os.chmod(victim, 0o644)
    os.symlink(victim, os.path.join(state_dir, planted))
    d = Berthd(BERTHD, state_dir)
    try:
        assert open(victim).read() == "precious\n"
        assert os.stat(victim).st_mode & 0o777 == 0o644
        path = os.path.join(state_dir, "admin-token")
        st = os.lstat(path)
        assert stat.S_ISREG(st.st_mode) and st.st_mode & 0o777 == 0o600
        assert not os.path.lexists(path + ".tmp")
        token = read_token(state_dir)
        assert http("GET", d.url + "/api/v1/containers", token=token)[0] == 200
    finally:
        assert_clean(d)


# --- API connections ---------------------------------------------------------

def connect(d):
    s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    return s


def read_all(s, timeout=5):
    """What s receives until the server closes it; None if it stays open."""
    s.settimeout(timeout)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk
    except socket.timeout:
        return None
    except ConnectionResetError:
        return got


def body_of(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    return head, json.loads(body.decode())


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"


def test_api_connections_beyond_the_cap_get_503(state_dir):
    d = Berthd(BERTHD, state_dir, args=["--api-max-connections", "3",
                                        "--api-header-timeout", "30s"])
    idle = []
    try:
        time.sleep(0.3)  # the start-up probe's connection is gone
        idle = [connect(d) for _ in range(3)]
        time.sleep(0.3)
        extra = connect(d)
        extra.sendall(HEALTHZ)
        raw = read_all(extra)
        assert raw is not None, "the connection beyond the cap stayed open"
        head, body = body_of(raw)
        assert head.startswith(b"HTTP/1.1 503"), raw
        assert body["error"]["code"] == "too_many_connections"
        assert "limit" in body["error"]["message"]
        extra.close()
        # A slot freed is a slot again.
        idle.pop().close()
        time.sleep(0.3)
        assert http("GET", d.url + "/healthz")[0] == 200
    finally:
        for s in idle:
            s.close()
        assert_clean(d)


def test_api_header_timeout_closes_silent_and_dribbling_clients(state_dir):
    d = Berthd(BERTHD, state_dir, args=["--api-header-timeout", "1s"])
    try:
        silent = connect(d)
        start = time.monotonic()
        assert read_all(silent, timeout=10) is not None
        assert 0.8 <= time.monotonic() - start < 5
        silent.close()

        dribbler = connect(d)
        start = time.monotonic()
        dribbler.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        closed = False
        while time.monotonic() - start < 10:
            try:
                dribbler.sendall(b"x")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            r, _, _ = select.select([dribbler], [], [], 0.2)
            if r:
                closed = True
                break
        assert closed, "a client dribbling a header kept its connection"
        assert time.monotonic() - start < 5
        dribbler.close()
        # Others are served meanwhile and after.
        assert http("GET", d.url + "/healthz")[0] == 200
    finally:
        assert_clean(d)


# --- event streams -----------------------------------------------------------

def open_stream(d, token):
    s = connect(d)
    s.sendall(b"GET /api/v1/events/stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
              b"Authorization: Bearer " + token.encode() + b"\r\n\r\n")
    s.settimeout(5)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head


def test_event_streams_per_org_cap(state_dir):
    d = Berthd(BERTHD, state_dir, args=["--event-streams-per-org", "2"])
    streams = []
    try:
        admin = read_token(state_dir)
        for _ in range(2):
            s, head = open_stream(d, admin)
            assert head.startswith(b"HTTP/1.1 200"), head
            streams.append(s)
        s, first = open_stream(d, admin)
        raw = first + (read_all(s) or b"")
        s.close()
        head, body = body_of(raw)
        assert head.startswith(b"HTTP/1.1 429"), raw
        assert set(body) == {"error"} and body["error"]["code"] == "too_many_streams"
        assert "limit" in body["error"]["message"]
        # Another org has its own count.
        st, _, b = http("POST", d.url + "/api/v1/orgs", body=b'{"name":"other"}', token=admin)
        assert st == 201, b
        other = json.loads(b)["token"]
        s, head = open_stream(d, other)
        assert head.startswith(b"HTTP/1.1 200"), head
        streams.append(s)
        # A stream that ends gives its place back.
        streams.pop(0).close()
        time.sleep(0.3)
        s, head = open_stream(d, admin)
        assert head.startswith(b"HTTP/1.1 200"), head
        streams.append(s)
    finally:
        for s in streams:
            s.close()
        assert_clean(d)
