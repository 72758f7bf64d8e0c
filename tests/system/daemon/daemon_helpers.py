"""Helpers for berthd's system tests: a daemon on free loopback ports with a
private state directory, stopped by PID at the end."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import suite_checks  # noqa: E402  (tests/system/suite_checks.py)

BUILD = os.environ.get("BERTH_BUILD", os.path.abspath("build-asan"))
RELEASE = os.environ.get("BERTH_RELEASE_BUILD", os.path.abspath("build"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, timeout=5):
    """Returns (status, headers, body bytes) without raising on 4xx/5xx."""
    req = urllib.request.Request(url, data=body, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if body is not None:
        req.add_header("Content-Type", "application/json")
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

class Berthd:
    def __init__(self, binary, state_dir, args=(), wrapper=()):
        self.port = free_port()
        self.state_dir = state_dir
        suite_checks.track_berthd(state_dir)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(state_dir, "berthd.log")
        self.log = open(self.log_path, "w")
        cmd = list(wrapper) + [binary, "--state-dir", state_dir,
                               "--listen", f"127.0.0.1:{self.port}",
                               "--router-listen", f"127.0.0.1:{free_port()}",
                               "--source-root", tempfile.gettempdir()] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=suite_checks.daemon_env())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("berthd exited: " + self.read_log())
            try:
                if http("GET", self.url + "/healthz", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("berthd did not answer in 30 s: " + self.read_log())

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
