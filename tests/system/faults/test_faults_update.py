"""Updates that fail for a real cause outside berth: the runtime refusing the
new version (its entrypoint is not in the image), the tag the user picked
deleted from the repository before berth fetched it. Each: the reason in the
API, the old version serving, nothing of the new version left."""
import time

from faults_helpers import TimedLoad, events, machine, wait_machine
from lifecycle_helpers import GitRepo, config_text


def test_the_runtimes_own_sentence_when_the_entrypoint_is_missing(berthd, registry):
    b = berthd
    status, c = b.call("POST", "/containers",
                       {"name": "web", "config": config_text(registry.images["hello:v1"])})
    assert status == 202, c
    old = b.wait_status("web", "running")["deployment"]["id"]
    before = machine(b)
    load = TimedLoad(b, "web")
    cfg = config_text(registry.images["hello:v2"], entrypoint=["/no/such/program", "x"])
    status, u = b.call("POST", "/containers/web/updates", {"kind": "edit-config", "config": cfg})
    assert status == 202, u
    c = b.wait_update_end("web", timeout=120)
    time.sleep(0.3)
    results = load.stop()
    err = c["update"]["error"] or ""
    # runc's own words: exec: "/no/such/program": stat ...: no such file or directory
    assert c["update"]["status"] == "failed", c["update"]
    assert '"/no/such/program"' in err and "no such file or directory" in err, err
    assert c["status"] == "running" and c["deployment"]["id"] == old
    assert any(e["kind"] == "update.failed" and "/no/such/program" in e["message"]
               for e in events(b, "web"))
    assert results and load.failures() == [], load.failures()[:5]
    assert {r[3] for r in results} == {b"hello v1\n"}
    # Nothing of the new version is left: the machine is as before the update.
    after = wait_machine(b, lambda m: m == before)
    assert after == before, (before, after)


def web_from_repo(b, registry, repo):
    """Container web of repo's tag v1 (v2 tagged too), running."""
    repo.tag("v1", config_text(registry.images["hello:v1"]))
    repo.tag("v2", config_text(registry.images["hello:v2"]))
    status, c = b.call("POST", "/containers", {"name": "web", "repo": repo.dir, "tag": "v1"})
    assert status == 202, c
    return b.wait_status("web", "running")


def test_a_tag_deleted_before_the_update_fetches_it(berthd, registry):
    """The user saw v2 in the tag list; it is deleted from the repository
    before the update: a 4xx that names the tag, and nothing changes."""
    b = berthd
    repo = GitRepo()
    try:
        c = web_from_repo(b, registry, repo)
        status, tags = b.call("GET", "/containers/web/tags")
        assert status == 200 and "v2" in [t["tag"] for t in tags], tags
        before, evs, m = c, events(b, "web"), machine(b)
        repo.git("tag", "-d", "v2")
        status, body = b.call("POST", "/containers/web/updates", {"kind": "tag", "tag": "v2"})
        assert 400 <= status < 500, (status, body)
        assert "v2" in body["error"]["message"], body
        c = b.container("web")
        assert c["deployment"] == before["deployment"] and c["update"] == before["update"]
        assert c["status"] == "running" and c["source"]["tag"] == "v1"
        assert events(b, "web") == evs
        assert machine(b) == m
        assert b.get("web")[1] == b"hello v1\n"
    finally:
        repo.remove()


def test_a_tag_moved_to_a_bad_commit_is_refused(berthd, registry):
    """v2 moved to a commit whose config is invalid after the user saw it: the
    update is refused with the config's error at the tag, nothing changes."""
    b = berthd
    repo = GitRepo()
    try:
        c = web_from_repo(b, registry, repo)
        before, m = c, machine(b)
        repo.tag("bad", "cvm-version: 0.7.5\ncontainers: [unclosed\n")
        repo.git("tag", "-f", "v2", "bad")
        status, body = b.call("POST", "/containers/web/updates", {"kind": "tag", "tag": "v2"})
        assert 400 <= status < 500, (status, body)
        msg = body["error"]["message"]
        assert "v2" in msg and "tinfoil-config.yml@v2:2:" in msg, body
        c = b.container("web")
        assert c["deployment"] == before["deployment"] and c["update"] == before["update"]
        assert machine(b) == m
    finally:
        repo.remove()
