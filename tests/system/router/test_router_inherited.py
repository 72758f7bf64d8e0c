"""berth-router on listening sockets it inherits (`--listen fd:N`): berthd
holds a copy of each, so connections made while no router runs wait in the
backlog for the next one instead of being refused."""
import json
import os
import socket
import subprocess
import time

from router_harness import ROUTER, UnixHTTPConnection, raw_exchange, route, status_of, suite_checks


def listener():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


def start(tmp, listen_arg, fd=None, threads=2):
    admin = os.path.join(tmp, f"admin-{time.monotonic_ns()}.sock")
    log = open(os.path.join(tmp, "router.log"), "a")
    env = suite_checks.daemon_env(dict(os.environ))
    p = subprocess.Popen([ROUTER, "--listen", listen_arg, "--admin-socket", admin, "--threads",
                          str(threads), "--log-level", "debug", "--wait-for-table"], stdout=log, stderr=log, env=env,
                         pass_fds=(fd,) if fd is not None else ())
    return p, admin


def admin_call(path, method="GET", body=None):
    c = UnixHTTPConnection(path)
    c.request(method, "/v1/table" if body is not None else "/v1/status",
              body=json.dumps(body) if body is not None else None)
    r = c.getresponse()
    data = json.loads(r.read())
    c.close()
    return r.status, data


def wait_admin(p, admin):
    end = time.monotonic() + 10
    while not os.path.exists(admin):
        assert p.poll() is None and time.monotonic() < end, "router did not start"
        time.sleep(0.02)


def test_inherited_socket_serves_and_a_backlog_waits_for_the_next_router(tmpdir_router, backends):
    tmp = tmpdir_router
    b = backends("fd")
    ls = listener()
    port = ls.getsockname()[1]
    fd = ls.fileno()
    p, admin = start(tmp, f"fd:{fd}", fd)
    try:
        wait_admin(p, admin)
        st, status = admin_call(admin)
        # The status names the socket and the pid: what berthd takes a copy by.
        assert st == 200 and status["listen_fds"] == [fd] and status["pid"] == p.pid, status
        assert admin_call(admin, "PUT", {"generation": 1, "routes": [route("a.test", b.addr)]})[0] == 200
        req = b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
        assert status_of(raw_exchange(port, req)) == 200
        p.kill()
        p.wait(10)
        # No router runs: the connection is accepted by the kernel (our copy
        # of the socket listens on) and its request waits.
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        c.sendall(req)
        p, admin = start(tmp, f"fd:{fd}", fd)
        wait_admin(p, admin)
        assert admin_call(admin, "PUT", {"generation": 2, "routes": [route("a.test", b.addr)]})[0] == 200
        data = b""
        while chunk := c.recv(65536):
            data += chunk
        c.close()
        assert status_of(data) == 200, data[:200]
    finally:
        p.terminate()
        p.wait(10)
        ls.close()


def test_fd_that_is_not_a_listening_socket_is_refused_in_a_sentence(tmpdir_router):
    tmp = tmpdir_router
    null = os.open("/dev/null", os.O_RDONLY)
    for arg, fd in ((f"fd:{null}", null), ("fd:x", None), ("fd:1", None)):
        p, _ = start(tmp, arg, fd)
        assert p.wait(10) != 0
    os.close(null)
    log = open(os.path.join(tmp, "router.log")).read()
    assert f'listen address "fd:{null}" is not a listening stream socket' in log, log
    assert 'listen address "fd:x": fd:N needs a descriptor of 3 or more' in log, log
    assert 'listen address "fd:1": fd:N needs a descriptor of 3 or more' in log, log
