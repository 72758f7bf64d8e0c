"""`berth` on a terminal (a pty): the delete confirmation, a secret typed
without echo, the follow of an update redrawn on one line; `events
--follow`; the live follow of a deploy and an update to their end (needs the
reconciler); and a few commands under valgrind."""
import json
import os
import select
import subprocess
import time


from cli_helpers import RELEASE, Berth, config_text, suite_checks


def run_on_pty(berth, args, typed=(), stdout_pipe=False, timeout=30, until=None):
    """Runs berth with stdin and stderr on a pty (stdout too unless
    stdout_pipe). typed: (text to wait for, text to type) pairs. until: a
    function called each pass, may act (e.g. cancel). Returns (rc, pty
    output, stdout)."""
    master, slave = os.openpty()
    p = subprocess.Popen([berth.binary] + list(args), env=berth.env, stdin=slave,
                         stdout=subprocess.PIPE if stdout_pipe else slave, stderr=slave,
                         start_new_session=True)
    os.close(slave)
    out = b""
    pending = list(typed)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if pending and pending[0][0].encode() in out:
                os.write(master, pending.pop(0)[1].encode())
            if until is not None:
                until(out)
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: every end of the slave is closed
                    break
                if not data:
                    break
                out += data
            elif p.poll() is not None:
                break
        rc = p.wait(timeout=max(1, deadline - time.monotonic()))
        stdout = p.stdout.read().decode() if stdout_pipe else ""
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        if stdout_pipe:
            p.stdout.close()
        os.close(master)
    return rc, out.decode(errors="replace"), stdout


def test_delete_asks_for_the_name_on_a_terminal(berth, config_file):
    assert berth("container", "create", "web", "--config", config_file).returncode == 0
    rc, out, _ = run_on_pty(berth, ["container", "delete", "web"],
                            typed=[("to delete it: ", "wbe\n")])
    assert rc == 1, out
    assert "It cannot be undone." in out
    assert "berth: web not deleted: the name typed did not match" in out
    assert berth("container", "get", "web").returncode == 0
    rc, out, _ = run_on_pty(berth, ["container", "delete", "web"],
                            typed=[("to delete it: ", "web\n")])
    assert rc == 0 and "web: deleted" in out, out
    assert berth("container", "get", "web").returncode == 1
    # --yes asks nothing, even on a terminal
    assert berth("container", "create", "web", "--config", config_file).returncode == 0
    rc, out, _ = run_on_pty(berth, ["container", "delete", "web", "--yes"])
    assert rc == 0 and "Type" not in out


def test_secret_typed_without_echo(berth):
    rc, out, _ = run_on_pty(berth, ["secret", "set", "TYPED"],
                            typed=[("(not shown): ", "s3cr3t value\n")])
    assert rc == 0, out
    assert "value of secret TYPED (not shown): " in out
    assert "s3cr3t" not in out
    assert "secret TYPED set" in out
    lst = berth.json("secret", "list", "--json")
    assert [s["name"] for s in lst] == ["TYPED"]


def test_update_follow_redraws_one_line_on_a_terminal(berth, berthd, config_file):
    assert berth("container", "create", "web", "--config", config_file).returncode == 0
    state = {"cancelled": False, "since": None}

    def cancel_after_a_while(out):
        if state["cancelled"] or b"web: pending" not in out:
            return
        state["since"] = state["since"] or time.monotonic()
        if time.monotonic() - state["since"] > 0.6:
            st, _ = berthd.api("POST", "/containers/web/updates/current/cancel")
            assert st == 202
            state["cancelled"] = True

    rc, out, stdout = run_on_pty(berth, ["container", "update", "web", "--edit-config", "--json"],
                                 stdout_pipe=True, until=cancel_after_a_while)
    assert rc == 1, out
    assert "\r\x1b[Kweb: pending" in out
    assert "\r\x1b[Kweb: cancelled\r\n" in out  # the pty turns \n into \r\n
    assert out.endswith("berth: the update of web was cancelled\r\n")
    # the line is redrawn on change only, not on every poll
    frames = [f for f in out.split("\r\x1b[K") if f]
    assert all(a != b for a, b in zip(frames, frames[1:])), frames
    c = json.loads(stdout)  # --json: the container as the update ended
    assert c["update"]["status"] == "cancelled"


def test_events_follow(berth, berthd, config_file):
    assert berth("container", "create", "web", "--config", config_file).returncode == 0
    p = subprocess.Popen([berth.binary, "container", "events", "web", "--follow", "--json"],
                         env=berth.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True)
    try:
        first = json.loads(p.stdout.readline())
        assert first["kind"] == "container.created"
        st, u = berthd.api("POST", "/containers/web/updates", {"kind": "edit-config"})
        assert st == 202, u
        seen = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(e["kind"].startswith("update.")
                                                       for e in seen):
            r, _, _ = select.select([p.stdout], [], [], 1)
            if r:
                seen.append(json.loads(p.stdout.readline()))
        assert any(e["kind"].startswith("update.") for e in seen), seen
        assert all(e["container"] == "web" and e["id"] > first["id"] for e in seen)
        assert p.poll() is None  # follows until stopped
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
        p.stderr.close()


def metric(berthd, name):
    import urllib.request
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(berthd.url + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def test_events_follow_streams_and_ends_with_the_container(berth, berthd, failing_config_file):
    """--follow reads berthd's event stream (one open stream, events printed
    as they happen, other containers' left out) and ends, exit 0, when the
    container is deleted."""
    config_file = failing_config_file  # deletes end quickly
    assert berth("container", "create", "web", "--config", config_file).returncode == 0
    assert berth("container", "create", "other", "--config", config_file).returncode == 0
    p = subprocess.Popen([berth.binary, "container", "events", "web", "--follow"],
                         env=berth.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True)
    try:
        first = p.stdout.readline()
        assert "container.created" in first and "container web created" in first
        # web's own first deploy fails (its image cannot be pulled): that
        # event is read before the ones this test causes, whenever it comes.
        deadline = time.monotonic() + 60
        while berthd.api("GET", "/containers/web")[1]["status"] != "failed":
            assert time.monotonic() < deadline, "web's deploy did not fail"
            time.sleep(0.1)
        lines_before = []
        while not any("container.failed" in l for l in lines_before):
            lines_before.append(p.stdout.readline())
        assert not any("other" in l for l in lines_before), lines_before
        deadline = time.monotonic() + 10
        while metric(berthd, "berth_event_streams") != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert metric(berthd, "berth_event_streams") == 1
        assert berthd.api("DELETE", "/containers/other")[0] == 202
        t = time.monotonic()
        assert berthd.api("POST", "/containers/web/updates", {"kind": "edit-config"})[0] == 202
        line = p.stdout.readline()
        latency = time.monotonic() - t
        assert "update." in line and "other" not in line, line
        assert latency < 5
        print(f"event printed {latency * 1000:.0f} ms after the request")
        assert berthd.api("DELETE", "/containers/web")[0] == 202
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()
    assert p.returncode == 0, err
    lines = out.splitlines()
    assert "container.deleted" in lines[-1], lines
    assert not any(" other " in l or "container other" in l for l in lines)


def test_events_follow_unknown_container(berth):
    r = berth("container", "events", "nope", "--follow", timeout=30)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == "berth: no container named nope\n"


def reconciler_runs(berthd, name, seconds=10):
    """Whether berthd moves a new container past "queued" within seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        st, c = berthd.api("GET", f"/containers/{name}")
        if st == 200 and (c["status"] != "deploying" or c["status_detail"] != "queued"):
            return True
        time.sleep(0.2)
    return False


def test_live_follow_to_the_end(berth, berthd, failing_config_file):
    """create --wait and update follow until the reconciler ends them. The
    image's registry does not answer, so both end failed: exit 1 with the
    reason."""
    p = subprocess.Popen([berth.binary, "container", "create", "web", "--config",
                          failing_config_file, "--wait"], env=berth.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        assert reconciler_runs(berthd, "web"), "web stayed queued for 10 s"
        out, err = p.communicate(timeout=180)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 1, err
    assert err.splitlines()[0].startswith("web: deploying")
    st, c = berthd.api("GET", "/containers/web")
    assert c["status"] == "failed"
    assert err.splitlines()[-1] == f"berth: web failed to deploy: {c['status_detail']}"

    r = berth("container", "update", "web", "--retry", timeout=180)
    assert r.returncode == 1, r.stderr
    st, c = berthd.api("GET", "/containers/web")
    assert c["update"]["status"] == "failed"
    assert r.stderr.splitlines()[-1].startswith("berth: the update of web failed: ")


def test_valgrind_clean(berthd, home, config_file, failing_config_file):
    suite_checks.require("valgrind", os.path.join(RELEASE, "berth"))
    b = Berth(os.path.join(RELEASE, "berth"), home, berthd.url, berthd.token)
    vg = ["valgrind", "--quiet", "--leak-check=full", "--error-exitcode=99"]
    runs = [
        (0, ["container", "create", "web", "--config", config_file, "--secret", "K",
             "--env", "A=1"], "K"),
        (1, ["container", "create", "web2", "--config", config_file, "--secret", "NONE"], None),
        (0, ["container", "list"], None),
        (0, ["container", "list", "--json"], None),
        (0, ["container", "get", "web"], None),
        (0, ["container", "update", "web", "--edit-config", "--no-wait"], None),
        (0, ["container", "cancel", "web"], None),
        (0, ["container", "events", "web"], None),
        (1, ["container", "get", "nope"], None),
        (0, ["secret", "list"], None),
        (0, ["org", "create", "vg", "--json"], None),
        (2, ["container", "update", "web", "--tag", "v1", "--retry"], None),
        (1, ["container", "list", "--url", "http://127.0.0.1:1"], None),
        (0, ["container", "delete", "web", "--yes"], None),
    ]
    for want, args, secret in runs:
        if secret is not None:
            r = b("secret", "set", secret, input="v\n", wrapper=vg, timeout=120)
            assert r.returncode == 0, r.stderr
        r = b(*args, wrapper=vg, timeout=120)
        assert r.returncode == want, (args, r.stderr)
    # the follow loop too, ended by a cancel from another client
    assert b("container", "create", "web", "--config", config_file).returncode == 0
    p = subprocess.Popen(vg + [b.binary, "container", "update", "web", "--edit-config"],
                         env=b.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st, c = berthd.api("GET", "/containers/web")
            if c["update"] is not None:
                break
            time.sleep(0.1)
        time.sleep(1)
        assert berthd.api("POST", "/containers/web/updates/current/cancel")[0] == 202
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 1, err
    assert "berth: the update of web was cancelled" in err
    # and the event stream, ended by the container's deletion (of a container
    # whose pull fails at once: a pull in progress would hold the deletion)
    assert berthd.api("DELETE", "/containers/web")[0] == 202
    deadline = time.monotonic() + 60
    while berthd.api("GET", "/containers/web")[0] != 404 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert b("container", "create", "web", "--config", failing_config_file).returncode == 0
    p = subprocess.Popen(vg + [b.binary, "container", "events", "web", "--follow"],
                         env=b.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True)
    try:
        assert "container.created" in p.stdout.readline()
        time.sleep(1)
        assert berthd.api("DELETE", "/containers/web")[0] == 202
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "container.deleted" in out.splitlines()[-1]
