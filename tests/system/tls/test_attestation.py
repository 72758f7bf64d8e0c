"""Verifiable deployments: `berth measure` equals what berthd records, the
host's signing key, the attestation document berth-router serves on each
container's host name, and `berth verify` (docs/verification.md)."""
import json
import os
import signal
import socket
import stat
import subprocess
import tempfile

import pytest

from tls_helpers import BUILD, GitRepo, config_text, http

BERTH = os.path.join(BUILD, "berth")


def deploy(b, name, **body):
    status, c = b.call("POST", "/containers", dict(name=name, **body))
    assert status == 202, c
    return b.wait_status(name, "running")


def berth(*args, env=None, timeout=60):
    """`berth ARGS`: (exit status, stdout, stderr), its source cache private."""
    e = dict(os.environ, **(env or {}))
    out = subprocess.run([BERTH, *args], capture_output=True, text=True, env=e,
                         timeout=timeout)
    return out.returncode, out.stdout, out.stderr


def measure(*args, cache):
    rc, out, err = berth("measure", *args, env={"XDG_CACHE_HOME": cache})
    assert rc == 0, err
    return out.strip()


def test_berth_measure_equals_the_recorded_measurement(berthd, repo, registry, tmp_path):
    cache = str(tmp_path / "cache")
    deploy(berthd, "web", repo=repo.dir, tag="v1")
    deploy(berthd, "dbg", repo=repo.dir, tag="v2", debug=True)
    web, dbg = berthd.container("web"), berthd.container("dbg")
    recorded = web["deployment"]["measurement"]
    assert len(recorded) == 64
    assert measure("--repo", repo.dir, "--tag", "v1", cache=cache) == recorded
    # The debug flag and the tag are in it; the host's runtime is not.
    assert measure("--repo", repo.dir, "--tag", "v2", "--debug",
                   cache=cache) == dbg["deployment"]["measurement"]
    v2 = measure("--repo", repo.dir, "--tag", "v2", cache=cache)
    assert v2 != recorded and v2 != dbg["deployment"]["measurement"]
    assert measure("--repo", repo.dir, "--tag", "v1", "--isolation", "gvisor",
                   cache=cache) != recorded
    # A checkout of the tag measures the same.
    with tempfile.TemporaryDirectory() as co:
        subprocess.run(["git", "clone", "-q", "-b", "v1", repo.dir, co], check=True,
                       capture_output=True, timeout=30)
        assert measure(co, cache=cache) == recorded
        assert measure(os.path.join(co, "tinfoil-config.yml"), cache=cache) == recorded
    # Mistakes: a clear sentence and a non-zero exit.
    rc, out, err = berth("measure", "--repo", repo.dir, "--tag", "v9",
                         env={"XDG_CACHE_HOME": cache})
    assert rc == 1 and "v9" in err and out == ""
    rc, _, err = berth("measure", "--repo", repo.dir)
    assert rc == 2 and "--repo and --tag go together" in err
    bad = GitRepo()
    try:
        bad.tag("v1", config_text(registry.images["hello:v1"]) + "bogus: 1\n")
        rc, _, err = berth("measure", "--repo", bad.dir, "--tag", "v1",
                           env={"XDG_CACHE_HOME": cache})
        assert rc == 1 and "tinfoil-config.yml:" in err and "bogus" in err, err
    finally:
        bad.remove()


def host_key_of(b):
    status, host = b.call("GET", "/host")
    assert status == 200, host
    return host


def test_host_key_is_made_once_kept_and_shown(berthd):
    path = os.path.join(berthd.state, "host-key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.path.getsize(path) == 32
    host = host_key_of(berthd)
    assert len(host["host_key"]) == 64 and int(host["host_key"], 16) >= 0
    assert host["tee"] == "none" and host["hostname"] == socket.gethostname()
    assert host["runtimes"]["runc"].startswith(("runc version", "crun version"))
    # The token is required, as for the other routes.
    status, _, _ = http("GET", berthd.api + "/host")
    assert status == 401
    # The seed never shows: not in the answer, not in a log.
    seed = open(path, "rb").read()
    assert seed.hex() not in json.dumps(host) and seed.hex() not in berthd.read_log()
    # A restart keeps the key.
    berthd.kill(signal.SIGTERM)
    berthd.start()
    assert host_key_of(berthd)["host_key"] == host["host_key"]
    # A key open to others is refused at start, with a sentence.
    berthd.kill(signal.SIGTERM)
    os.chmod(path, 0o644)
    with pytest.raises(RuntimeError, match="host key .* mode 0600"):
        berthd.start()
    os.chmod(path, 0o600)
    berthd.start()
