"""berthd starts, serves its health endpoint and dashboard, refuses bad flags
with a sentence, and stops cleanly on SIGTERM (also under valgrind)."""
import os
import signal
import subprocess
import time


from daemon_helpers import BUILD, RELEASE, Berthd, free_port, http, suite_checks


def test_healthz_and_dashboard(berthd):
    status, headers, body = http("GET", berthd.url + "/healthz")
    assert status == 200 and body == b"ok\n"
    status, headers, body = http("GET", berthd.url + "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b"<title>berth</title>" in body
    status, headers, body = http("GET", berthd.url + "/app.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    status, _, body = http("GET", berthd.url + "/nope.js")
    assert status == 404 and b'"code":"not_found"' in body


def test_api_needs_a_token(berthd):
    unauthorized = (b'{"error":{"code":"unauthorized",'
                    b'"message":"this endpoint needs a bearer token"}}\n')
    assert http("GET", berthd.url + "/api/v1/containers")[0::2] == (401, unauthorized)
    status, _, body = http("GET", berthd.url + "/api/v1/containers", token="not-a-token")
    assert status == 401 and b'"code":"unauthorized"' in body, body
    # An unknown endpoint answers 404 before any token is asked for.
    assert http("GET", berthd.url + "/api/v1/nothing-here")[0::2] == \
        (404, b'{"error":{"code":"not_found","message":"no such endpoint: /api/v1/nothing-here"}}\n')


def test_bad_flag_is_a_sentence(state_dir):
    r = subprocess.run([os.path.join(BUILD, "berthd"), "--state-dir", state_dir, "--gpus", "many"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert r.stderr.strip() == 'berthd: gpus: expected a whole number from 0 to 1024, not "many"'


def test_sigterm_exits_zero(berthd):
    assert berthd.stop(signal.SIGTERM) == 0
    assert "stopping" in berthd.read_log()


def test_valgrind_clean(state_dir):
    suite_checks.require("valgrind", os.path.join(RELEASE, "berthd"))
    d = Berthd(os.path.join(RELEASE, "berthd"), state_dir,
               wrapper=["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                        "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite"])
    assert http("GET", d.url + "/", timeout=10)[0] == 200
    assert http("GET", d.url + "/nope", timeout=10)[0] == 404
    rc = d.stop(signal.SIGTERM, timeout=60)
    assert rc == 0, d.read_log()


def test_first_start_makes_an_admin_token_once(state_dir):
    d = Berthd(os.path.join(BUILD, "berthd"), state_dir)
    path = os.path.join(state_dir, "admin-token")
    token = open(path).read().strip()
    assert token.startswith("berth_") and len(token) == 49
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(os.path.join(state_dir, "secret.key")).st_mode & 0o777 == 0o600
    # Its stdout is a file here, not a terminal: the token is not in it.
    assert token not in d.read_log()
    assert d.stop() == 0
    d = Berthd(os.path.join(BUILD, "berthd"), state_dir)
    assert open(path).read().strip() == token
    assert token not in d.read_log()
    assert d.stop() == 0


def test_router_flags_reach_the_router(state_dir):
    """--router-flag NAME=VALUE starts berth-router with --NAME VALUE: with
    max-client-connections=2, of three connections from one address one is
    answered 429 (which one depends on the router's threads; two, when the
    router has not yet counted out an earlier one)."""
    import socket as _socket
    rport = free_port()
    d = Berthd(os.path.join(BUILD, "berthd"), state_dir,
               args=["--router-listen", f"127.0.0.1:{rport}",
                     "--router-flag", "max-client-connections=2"])
    conns = []
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                _socket.create_connection(("127.0.0.1", rport), timeout=5).close()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        time.sleep(0.5)  # the probe's connection is closed and counted out
        conns = [_socket.create_connection(("127.0.0.1", rport), timeout=5) for _ in range(3)]
        answers = []
        for s in conns:
            s.settimeout(2)
            try:
                answers.append(s.recv(200))
            except OSError:
                answers.append(b"")
        # Without the flag (1024 a client) none would be refused.
        refused = [a for a in answers if a.startswith(b"HTTP/1.1 429")]
        assert 1 <= len(refused) <= 2, answers
    finally:
        for s in conns:
            s.close()
        d.stop()
    bad = subprocess.run([os.path.join(BUILD, "berthd"), "--state-dir", state_dir,
                          "--router-flag", "listen=1.2.3.4:5"], capture_output=True, text=True,
                         timeout=30)
    assert bad.returncode != 0 and "router-flag" in bad.stderr, bad.stderr
