"""`berth` against a real berthd: containers from a config file and from a
git tag, list/get in both forms, secrets, orgs, events, updates requested
and cancelled, delete; and the errors: the API's sentence on stderr with
exit 1, usage mistakes with exit 2, an unreachable berthd."""
import json
import os
import re

from cli_helpers import Berth, config_text, free_port, make_source


def table(text):
    """The rows of a table printed by berth, as dicts by header; a cell
    runs from its header's column to the next header's."""
    lines = text.splitlines()
    heads = re.findall(r"\S+(?: \S+)*", lines[0])
    starts = [lines[0].index(h) for h in heads]
    ends = starts[1:] + [None]
    return [{h: line[a:b].strip() for h, a, b in zip(heads, starts, ends)} for line in lines[1:]]


def test_create_from_config_list_get(berth, berthd, config_file):
    r = berth("container", "create", "web", "--config", config_file, "--env", "MODE=a b")
    assert r.returncode == 0, r.stderr
    url = f"http://web.default.containers.localhost:{berthd.router_port}"
    assert r.stdout == f"web: deploying at {url}\n"

    r = berth("container", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.match(r"^NAME +STATUS +DETAIL +VERSION +ISOLATION +UPDATE +URL$", lines[0])
    # the columns line up under their headers
    row = table(r.stdout)[0]
    assert (row["NAME"], row["STATUS"], row["UPDATE"], row["URL"]) == ("web", "deploying", "-", url)
    assert row["ISOLATION"] == "runc"  # berthd's default: no --runtime runsc
    assert row["DETAIL"] in ("queued", "pulling image 0%")
    assert re.match(r"^[0-9a-f]{12}$", row["VERSION"])

    lst = berth.json("container", "list", "--json")
    st, direct = berthd.api("GET", "/containers")
    assert lst == direct and [c["name"] for c in lst] == ["web"]

    c = berth.json("container", "get", "web", "--json")
    with open(config_file) as f:
        text = f.read()
    image = re.search(r'image: "(.*)"', text).group(1)
    assert c["env"] == {"MODE": "a b"} and c["deployment"]["images"] == [image]
    assert c["deployment"]["config"] == text
    r = berth("container", "get", "web", "--json")
    assert r.stdout.startswith('{\n  "name": "web",\n')  # pretty, in the API's order

    r = berth("container", "get", "web")
    assert r.returncode == 0
    fields = dict(re.split(r"\s+", line, maxsplit=1) for line in r.stdout.splitlines())
    assert fields["name:"] == "web" and fields["status:"] == "deploying"
    assert fields["url:"] == url and fields["source:"] == "uploaded config"
    assert fields["images:"] == image
    assert fields["measurement:"] == c["deployment"]["measurement"]
    assert fields["isolation:"] == c["isolation"] == "runc"

    r = berth("container", "create", "web", "--config", config_file)
    assert r.returncode == 1
    assert r.stderr == "berth: name: a container named web exists\n"


def test_create_from_tag_and_tags(berth, cli_dir):
    src = make_source(os.path.join(cli_dir, "src"),
                      [("v1", config_text()), ("v2", config_text(port=8001)),
                       ("bad", config_text().replace("@sha256", ":1.2@nope"))])
    r = berth("container", "create", "api", "--repo", src, "--tag", "v2", "--json")
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout)
    assert c["source"] == {"repo": src, "tag": "v2"} and c["deployment"]["tag"] == "v2"
    assert table(berth("container", "list").stdout)[0]["VERSION"] == "v2"

    r = berth("container", "tags", "api")
    assert r.returncode == 0, r.stderr
    rows = [line.split(None, 2) for line in r.stdout.splitlines()]
    assert rows[0] == ["TAG", "COMMIT", "VALID"]
    assert [row[0] for row in rows[1:]] == ["bad", "v2", "v1"]
    assert rows[1][2].startswith("no: ") and rows[2][2] == "yes" and rows[3][2] == "yes"
    assert all(re.match(r"^[0-9a-f]{12}$", row[1]) for row in rows[1:])
    tags = berth.json("container", "tags", "api", "--json")
    assert [t["tag"] for t in tags] == ["bad", "v2", "v1"]

    r = berth("container", "create", "nope", "--repo", src, "--tag", "v9")
    assert r.returncode == 1 and r.stderr.startswith("berth: ") and "v9" in r.stderr


def test_isolation(berth, berthd, cli_dir, config_file):
    """deploy.isolation shows in list and get; a level this host's runtime
    does not offer is berthd's sentence on stderr, exit 1. berthd logs the
    levels it offers: today runc only, so gvisor is refused; when runsc
    support lands the log offers gvisor and the gvisor branch runs."""
    offered = re.search(r"isolation levels: ([a-z, ]+) \(default", berthd.read_log())
    assert offered, berthd.read_log()
    levels = offered.group(1).split(", ")
    with open(config_file) as f:
        text = f.read()
    for level in ("runc", "gvisor"):
        p = os.path.join(cli_dir, f"{level}.yml")
        with open(p, "w") as f:
            f.write(text + f"deploy:\n  isolation: {level}\n")
        r = berth("container", "create", level, "--config", p)
        if level in levels:
            assert r.returncode == 0, r.stderr
            row = [x for x in table(berth("container", "list").stdout) if x["NAME"] == level]
            assert row[0]["ISOLATION"] == level
            fields = dict(re.split(r"\s+", line, maxsplit=1)
                          for line in berth("container", "get", level).stdout.splitlines())
            assert fields["isolation:"] == level
        else:
            assert r.returncode == 1 and r.stdout == ""
            assert r.stderr == (f"berth: config: deploy.isolation: isolation {level} is not "
                                f"available on this host: it offers {', '.join(levels)}\n")
            assert berth("container", "get", level).returncode == 1


def test_secrets(berth, berthd, config_file):
    r = berth("secret", "set", "API_KEY", "--value", "hunter2")
    assert r.returncode == 0 and r.stdout == "secret API_KEY set\n", r.stderr
    r = berth("secret", "set", "DB_PASS", input="pa ss\n")  # stdin, one newline dropped
    assert r.returncode == 0, r.stderr
    r = berth("secret", "set", "EMPTY", input="")
    assert r.returncode == 1
    assert r.stderr == "berth: no value given (--value V, or the value on stdin)\n"

    r = berth("container", "create", "web", "--config", config_file, "--secret", "API_KEY")
    assert r.returncode == 0, r.stderr
    r = berth("secret", "list")
    assert r.returncode == 0
    assert "hunter2" not in r.stdout and "pa ss" not in r.stdout
    rows = [line.split() for line in r.stdout.splitlines()]
    assert rows[0] == ["NAME", "BOUND", "TO", "UPDATED"]
    assert [row[:2] for row in rows[1:]] == [["API_KEY", "web"], ["DB_PASS", "-"]]
    lst = berth.json("secret", "list", "--json")
    assert [(s["name"], s["bound_to"]) for s in lst] == [("API_KEY", ["web"]), ("DB_PASS", [])]
    assert "hunter2" not in json.dumps(lst)

    r = berth("secret", "delete", "API_KEY")
    assert r.returncode == 1 and r.stderr.startswith("berth: ") and "web" in r.stderr
    r = berth("secret", "delete", "DB_PASS")
    assert r.returncode == 0 and r.stdout == "secret DB_PASS deleted\n", r.stderr
    assert [s["name"] for s in berth.json("secret", "list", "--json")] == ["API_KEY"]
    r = berth("secret", "delete", "DB_PASS")
    st, body = berthd.api("DELETE", "/secrets/DB_PASS")
    assert r.returncode == 1 and r.stderr == f"berth: {body['error']['message']}\n"


def test_org_create(berth, berthd, home):
    out = berth.json("org", "create", "acme", "--json")
    assert set(out) == {"org", "token"} and out["org"] == "acme"
    assert out["token"].startswith("berth_")
    r = berth("org", "create", "beta")
    assert r.returncode == 0 and re.match(r"^berth_\S+\n$", r.stdout)

    # the new token sees its own org only, and cannot make orgs
    acme = Berth(berth.binary, home, berthd.url, out["token"])
    assert acme("container", "list").stdout.split() == ["NAME", "STATUS", "DETAIL", "VERSION",
                                                         "ISOLATION", "UPDATE", "URL"]
    r = acme("org", "create", "gamma")
    assert r.returncode == 1 and r.stderr == "berth: only an admin token may create orgs\n"
    r = berth("org", "create", "acme")
    assert r.returncode == 1 and r.stderr == "berth: name: an org named acme exists\n"


def test_api_errors_are_one_sentence(berth, berthd):
    r = berth("container", "get", "nope")
    st, body = berthd.api("GET", "/containers/nope")
    assert st == 404
    assert (r.returncode, r.stdout, r.stderr) == (1, "", f"berth: {body['error']['message']}\n")
    for cmd in (["container", "delete", "nope", "--yes"], ["container", "events", "nope"],
                ["container", "update", "nope", "--tag", "v2"], ["container", "cancel", "nope"]):
        r = berth(*cmd)
        assert (r.returncode, r.stderr) == (1, f"berth: {body['error']['message']}\n"), cmd

    r = berth("container", "list", env={"BERTH_TOKEN": "berth_wrong"})
    assert r.returncode == 1 and r.stderr.startswith("berth: ")
    assert len(r.stderr.splitlines()) == 1
    r = berth("container", "list", env={"BERTH_TOKEN": None})
    assert r.returncode == 1
    assert "no token is configured" in r.stderr.splitlines()[1]


def test_usage_errors_exit_2(berth):
    for args in (["container"], ["container", "frobnicate"], ["nonsense"],
                 ["container", "get"], ["container", "get", "a", "b"],
                 ["container", "list", "--bogus"],
                 ["container", "create", "web"],
                 ["container", "create", "web", "--repo", "r"],
                 ["container", "update", "web"],
                 ["container", "update", "web", "--tag", "v2", "--promote"],
                 ["container", "update", "web", "--tag", "v2", "--env", "A=b"],
                 ["container", "create", "web", "--config", "x", "--env", "novalue"],
                 ["container", "events", "web", "--after", "x"],
                 ["container", "logs", "web", "--tail", "-1"],
                 ["secret", "set"], ["secret", "set", "A", "--value="], ["org", "create"],
                 ["--url"]):
        r = berth(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("berth") and r.stdout == "", args
    r = berth("container", "update", "web", "--tag", "v2", "--promote")
    assert r.stderr.splitlines() == [
        "berth container update: give one of --tag, --edit-config, --promote, --retry",
        "usage: berth container update NAME (--tag T | --edit-config [--config FILE] "
        "[--secret NAME]... [--env KEY=VALUE]... [--debug|--no-debug] | --promote | --retry) "
        "[--no-wait] [--json]"]
    assert berth("help").returncode == 0
    r = berth("container", "update", "--help")
    assert r.returncode == 0 and "usage: berth container update NAME" in r.stdout
    r = berth("container", "create", "web", "--config", "/nonexistent/x.yml")
    assert r.returncode == 1
    assert r.stderr == "berth: open /nonexistent/x.yml: No such file or directory\n"


def test_unreachable_berthd(home):
    from cli_helpers import BUILD
    port = free_port()  # nobody listens there now
    b = Berth(os.path.join(BUILD, "berth"), home, f"http://127.0.0.1:{port}", "t")
    r = b("container", "list")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"berth: cannot reach berthd at http://127.0.0.1:{port}: connection refused\n"
    r = b("--url", "127.0.0.1:7070", "container", "list")
    assert r.returncode == 1 and "must start with http://" in r.stderr


def test_config_file_and_flags(berthd, home):
    from cli_helpers import BUILD
    binary = os.path.join(BUILD, "berth")
    os.makedirs(os.path.join(home, ".config", "berth"))
    with open(os.path.join(home, ".config", "berth", "config"), "w") as f:
        f.write(f"# written by a test\nurl = {berthd.url}/\ntoken = \"{berthd.token}\"\n")
    b = Berth(binary, home)  # no BERTH_URL, no BERTH_TOKEN
    r = b("container", "list")
    assert r.returncode == 0, r.stderr
    # the environment wins over the file, flags over the environment
    r = b("container", "list", env={"BERTH_TOKEN": "berth_wrong"})
    assert r.returncode == 1
    r = b("container", "list", "--token", berthd.token, env={"BERTH_TOKEN": "berth_wrong"})
    assert r.returncode == 0, r.stderr
    r = b("--token", berthd.token, "container", "list", env={"BERTH_TOKEN": "berth_wrong"})
    assert r.returncode == 0, r.stderr
    r = b("container", "list", "--url", "http://127.0.0.1:1")
    assert r.returncode == 1 and "http://127.0.0.1:1: connection refused" in r.stderr
    # $XDG_CONFIG_HOME is where the file is looked for when set
    xdg = os.path.join(home, "xdg")
    os.makedirs(os.path.join(xdg, "berth"))
    with open(os.path.join(xdg, "berth", "config"), "w") as f:
        f.write("url = http://127.0.0.1:1\n")
    r = b("container", "list", env={"XDG_CONFIG_HOME": xdg})
    assert r.returncode == 1 and "http://127.0.0.1:1: connection refused" in r.stderr
    with open(os.path.join(xdg, "berth", "config"), "w") as f:
        f.write("server = x\n")
    r = b("container", "list", env={"XDG_CONFIG_HOME": xdg})
    assert r.returncode == 1
    assert r.stderr == (f"berth: {xdg}/berth/config:1: unknown key \"server\" "
                        "(url and token are known)\n")


def test_update_no_wait_cancel_events_delete(berth, berthd, config_file):
    assert berth("container", "create", "web", "--config", config_file).returncode == 0
    r = berth("container", "update", "web", "--edit-config", "--env", "A=1", "--no-wait",
              "--json")
    assert r.returncode == 0, r.stderr
    u = json.loads(r.stdout)
    assert u["kind"] == "edit-config" and u["status"] == "pending"
    r = berth("container", "update", "web", "--promote", "--no-wait")
    assert r.returncode == 1 and r.stderr.startswith("berth: ") and "in progress" in r.stderr

    r = berth("container", "list")
    assert table(r.stdout)[0]["UPDATE"] == "edit-config pending"
    r = berth("container", "cancel", "web")
    assert r.returncode == 0 and r.stdout == f"web: update {u['id']} cancelled\n", r.stderr
    c = berth.json("container", "get", "web", "--json")
    assert c["update"]["id"] == u["id"] and c["update"]["status"] == "cancelled"

    evs = berth.json("container", "events", "web", "--json")
    assert evs[0]["kind"] == "container.created" and len(evs) >= 3
    r = berth("container", "events", "web")
    lines = r.stdout.splitlines()
    assert len(lines) == len(evs)
    assert lines[0].split()[0] == str(evs[0]["id"]) and "container.created" in lines[0]
    r = berth("container", "events", "web", "--after", str(evs[0]["id"]))
    assert len(r.stdout.splitlines()) == len(evs) - 1

    r = berth("container", "delete", "web")  # stdin is not a terminal: no question
    assert r.returncode == 0 and r.stdout == "web: deleted\n", r.stderr
    r = berth("container", "get", "web")
    assert r.returncode == 1 and r.stderr.startswith("berth: ")


def test_update_follow_ends_when_cancelled(berth, berthd, config_file):
    """The follow of an update, without the reconciler: it waits while the
    update is pending, and ends with exit 1 when another client cancels it."""
    import subprocess
    import time
    assert berth("container", "create", "web", "--config", config_file).returncode == 0
    e = dict(berth.env)
    p = subprocess.Popen([berth.binary, "container", "update", "web", "--edit-config"],
                         env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            st, c = berthd.api("GET", "/containers/web")
            if c["update"] is not None:
                break
            time.sleep(0.05)
        time.sleep(0.5)  # a few polls while pending
        assert p.poll() is None
        r = berth("container", "cancel", "web")
        assert r.returncode == 0, r.stderr
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 1
    lines = err.splitlines()
    assert lines[0].startswith("web: pending")  # one line per change, not per poll
    assert all(a != b for a, b in zip(lines, lines[1:])), lines
    assert lines[-2:] == ["web: cancelled", "berth: the update of web was cancelled"]
    assert out == ""


def test_logs(berth, berthd, config_file):
    assert berth("container", "create", "web", "--config", config_file).returncode == 0
    r = berth("container", "logs", "web")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == "berth: logs are only available for debug containers\n"
    assert berth("container", "create", "dbg", "--config", config_file, "--debug").returncode == 0
    r = berth("container", "logs", "dbg", "--tail", "5")
    st, _ = berthd.api("GET", "/containers/dbg/logs?tail=5")
    assert st == 200 and r.returncode == 0, r.stderr
    r = berth("container", "logs", "dbg", "--tail", "0")
    assert r.returncode == 2


def test_loopback_never_goes_through_a_proxy(berth):
    dead = "http://127.0.0.1:1"
    r = berth("container", "list", env={"http_proxy": dead, "HTTP_PROXY": dead,
                                        "all_proxy": dead, "no_proxy": ""})
    assert r.returncode == 0, r.stderr
