"""The dashboard in a real browser (chromium, headless) against a real berthd
deploying real enclaves: each test runs one node scenario (NAME.mjs) that
clicks through the page as a user would and checks what the page shows.
Setup that is not under test (a container to update) goes through the API."""
import os
import re
import shlex
import shutil
import subprocess
import tempfile

from lifecycle_helpers import BUILD, Berthd, config_text


def deploy(b, name, **body):
    status, c = b.call("POST", "/containers", dict(name=name, **body))
    assert status == 202, c
    return b.wait_status(name, "running")


def test_sign_in(berthd, scenarios):
    scenarios.run("sign_in", berthd)


def test_create_container(berthd, scenarios):
    scenarios.run("create", berthd)
    c = berthd.container("web")
    assert c["status"] == "running" and c["deployment"]["tag"] == "v1"
    assert berthd.get("web")[1] == b"hello v1\n"


def test_update_to_a_new_tag(berthd, scenarios):
    deploy(berthd, "blue", repo=scenarios.repo.dir, tag="v1")
    scenarios.run("update_tag", berthd)
    assert berthd.get("blue")[1] == b"hello v2\n"


def test_failing_update_keeps_the_old_version(berthd, scenarios):
    deploy(berthd, "steady", repo=scenarios.repo.dir, tag="v1")
    scenarios.run("update_fails", berthd)
    assert berthd.get("steady")[1] == b"hello v1\n"


def test_edit_config(berthd, scenarios, registry):
    cfg = config_text(registry.images["env:v1"], env={"LOG_LEVEL": "info", "REGION": None})
    deploy(berthd, "envy", config=cfg, env={"REGION": "eu"})
    scenarios.run("edit_config", berthd)
    body = berthd.get("envy", "/cgi-bin/env")[1].decode()
    assert "LOG_LEVEL=debug" in body and "REGION=us" in body, body


def test_promote_a_debug_container(berthd, scenarios):
    deploy(berthd, "dbg", repo=scenarios.repo.dir, tag="v1", debug=True)
    scenarios.run("promote", berthd)
    c = berthd.container("dbg")
    assert c["debug"] is False and c["deployment"]["debug"] is False


def test_retry_then_delete(berthd, scenarios, registry):
    """A deploy fails: its image is not in the registry yet. The image is
    pushed (the underlying issue fixed); Retry in the dashboard deploys it;
    Delete removes it."""
    slow = registry.images["slow:v1"]
    late = slow.replace("/slow:v1@", "/late:v1@")
    cfg = config_text(late, env={"SLOW_SECONDS": "1"})
    status, c = berthd.call("POST", "/containers", {"name": "late", "config": cfg})
    assert status == 202, c
    berthd.wait_status("late", "failed", timeout=60)
    subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false",
                    "docker://" + slow.split("@")[0], "docker://" + late.split("@")[0]],
                   check=True, timeout=60)
    scenarios.run("retry_delete", berthd)
    assert berthd.call("GET", "/containers/late")[0] == 404


def test_secrets(berthd, scenarios):
    scenarios.run("secrets", berthd)
    status, secrets = berthd.call("GET", "/secrets")
    assert [s["name"] for s in secrets] == ["API_KEY"]


def test_recreate_shows_two_phases(gpu_berthd, scenarios, registry):
    deploy(gpu_berthd, "llm", config=config_text(registry.images["hello:v1"], gpus=8))
    scenarios.run("recreate", gpu_berthd)
    assert gpu_berthd.get("llm")[1] == b"hello v2\n"


def test_isolation_level(berthd, scenarios, registry):
    """The row and the detail panel show the level; a level the host does not
    offer (berthd logs the ones it does) is refused in the modal."""
    deploy(berthd, "iso", config=config_text(registry.images["hello:v1"],
                                             deploy={"isolation": "runc"}))
    m = re.search(r"isolation levels: ([a-z, ]+) \(default", berthd.read_log())
    assert m, berthd.read_log()[-3000:]
    levels = m.group(1).split(", ")
    scenarios.run("isolation", berthd, ISOLATIONS=",".join(levels),
                  CONFIG_GVISOR=config_text(registry.images["hello:v1"],
                                            deploy={"isolation": "gvisor"}))
    assert berthd.container("iso")["isolation"] == "runc"
    if "gvisor" not in levels:
        assert berthd.call("GET", "/containers/gv")[0] == 404
    else:
        assert berthd.container("gv")["isolation"] == "gvisor"


def test_narrow_screen(berthd, scenarios, registry):
    """The dashboard on a 390 px wide screen: the list fits."""
    deploy(berthd, "a-container-with-a-rather-long-name-x", repo=scenarios.repo.dir, tag="v1")
    bad = config_text(registry.images["broken:v1"], deploy={"health-timeout": "6s"})
    assert berthd.call("POST", "/containers", {"name": "broken", "config": bad})[0] == 202
    berthd.wait_status("broken", "failed", timeout=60)
    scenarios.run("narrow", berthd)


def test_verification_panel(scenarios):
    """The panel's figures are the API's, and the `berth verify` command it
    shows, run as it is (berth's CA from GET /ca.pem as `berth-ca.pem`),
    verifies the container: exit 0. The same command against the other tag
    fails with the measurement's exit code."""
    b = Berthd(tls=True)  # a TLS port of its own
    work = tempfile.mkdtemp(prefix="berth-verify-")
    try:
        deploy(b, "ver", repo=scenarios.repo.dir, tag="v1")
        out = scenarios.run("verify", b)
        cmd = [line.split("\t", 1)[1] for line in out.splitlines() if line.startswith("COMMAND\t")]
        assert len(cmd) == 1, out
        argv = shlex.split(cmd[0])
        assert argv[:2] == ["berth", "verify"]
        shutil.copy(b.ca_file(), os.path.join(work, "berth-ca.pem"))
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(work, "cache"))
        # The page showed v1's command; v2 serves now (the scenario updated
        # it): v1's measurement no longer holds (exit 9), v2's does.
        r = subprocess.run([os.path.join(BUILD, "berth")] + argv[1:], cwd=work, env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 9 and "measurement" in (r.stdout + r.stderr), (r.stdout, r.stderr)
        v2 = [("v2" if a == "v1" else a) for a in argv[1:]]
        r = subprocess.run([os.path.join(BUILD, "berth")] + v2, cwd=work, env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert "verified" in r.stdout
    finally:
        b.stop()
        shutil.rmtree(work, ignore_errors=True)
