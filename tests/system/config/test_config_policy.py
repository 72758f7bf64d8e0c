"""The container policy through `berth config validate`: what an enclave's
containers may not ask for is an error of the file, at the key or entry that
asks for it, and the command exits 1; what the policy allows is ok."""
import json
import re

IMAGE = '"app@sha256:6288f5265d130be6426ba98cc0ea5b5cb7c0d2ec44a9c57829004dc8ee7f0e52"'
ERROR = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<path>\S+): (?P<msg>.+)$")

PRIVILEGED = ("privileged containers are refused: an enclave's containers never get host "
              "privileges")
CAPS = "cap_add may only add IPC_LOCK, NET_BIND_SERVICE or SYS_NICE"


def config(*lines):
    """One container with lines as its last keys (the first on line 4), and a shim."""
    return ("containers:\n  - name: app\n    image: " + IMAGE + "\n"
            + "".join("    " + l + "\n" for l in lines)
            + "shim:\n  upstream-port: 8000\n")


def validate(berth, tmp_path, text, name="t.yml"):
    path = tmp_path / name
    path.write_text(text)
    return berth("config", "validate", path.name, cwd=tmp_path)


def test_each_refusal_is_one_error_at_its_key(berth, tmp_path):
    cases = [
        ("privileged: false", "4:5", "containers[0].privileged", PRIVILEGED),
        ("privileged:", "4:5", "containers[0].privileged", PRIVILEGED),
        ("security_opt: [no-new-privileges]", "4:5", "containers[0].security_opt",
         "security_opt is refused: "),
        ("cap_drop: [ALL]", "4:5", "containers[0].cap_drop", "cap_drop is refused: "),
        ("pid: host", "4:10", "containers[0].pid", 'pid "host" is refused: '),
        ("devices: [/dev/kvm]", "4:15", "containers[0].devices[0]",
         'device "/dev/kvm" is refused: containers get no host devices; GPUs come only from '
         "gpus with runtime: nvidia"),
        ("cap_add: [NET_BIND_SERVICE, CAP_SYS_ADMIN]", "4:33", "containers[0].cap_add[1]",
         'capability "CAP_SYS_ADMIN" is refused: ' + CAPS),
        ("cap_add: [all]", "4:15", "containers[0].cap_add[0]",
         'capability "all" is refused: ' + CAPS),
        ("ipc: container:db", "4:10", "containers[0].ipc",
         'ipc "container:db" is refused: expected private, none, shareable or host'),
    ]
    for line, pos, path, sentence in cases:
        r = validate(berth, tmp_path, config(line))
        assert r.returncode == 1, line
        assert r.stdout == "", line
        lines = r.stderr.splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith(f"t.yml:{pos}: {path}: {sentence}"), (line, r.stderr)


def test_what_the_policy_allows_is_ok(berth, tmp_path):
    r = validate(berth, tmp_path,
                 config("cap_add: [cap_ipc_lock, NET_BIND_SERVICE, Sys_Nice]", "ipc: host",
                        'pid: ""', "devices: []"))
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"t\.yml: ok sha256:[0-9a-f]{64}\n", r.stdout)
    r = berth("config", "validate", "--json", "t.yml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ct = json.loads(r.stdout)["containers"][0]
    assert ct["cap_add"] == ["IPC_LOCK", "NET_BIND_SERVICE", "SYS_NICE"]
    assert ct["ipc"] == "host" and ct["privileged"] is False
    assert "cap_drop" not in ct and "security_opt" not in ct
    for mode in ("private", "none", "shareable"):
        r = validate(berth, tmp_path, config("ipc: " + mode))
        assert r.returncode == 0, (mode, r.stderr)


def test_fixture_errors_point_at_what_they_refuse(berth, repo):
    """Each position of the policy fixtures holds the key or the value its
    sentence names, read from the file independently of berth."""
    seen = 0
    for name in ("policy-keys", "policy-caps-ipc"):
        rel = f"tests/config/invalid/{name}.yml"
        text = (repo / rel).read_text().splitlines()
        r = berth("config", "validate", rel)
        assert r.returncode == 1 and r.stdout == ""
        for err in r.stderr.splitlines():
            m = ERROR.match(err)
            assert m and m["file"] == rel, err
            at = text[int(m["line"]) - 1][int(m["col"]) - 1:]
            quoted = re.match(r'^(?:pid|ipc|device|capability) "([^"]+)"', m["msg"])
            if quoted:
                assert at.lstrip('"').startswith(quoted[1]), (err, at)
            else:
                key = m["path"].rsplit(".", 1)[1]
                assert at.startswith(key + ":"), (err, at)
                assert m["msg"].startswith(("privileged containers are refused",
                                            key + " is refused")), err
            seen += 1
    assert seen == 16


def test_mixed_files_exit_nonzero(berth, tmp_path):
    (tmp_path / "ok.yml").write_text(config("cap_add: [SYS_NICE]"))
    (tmp_path / "bad.yml").write_text(config("privileged: true", "pid: host"))
    r = berth("config", "validate", "ok.yml", "bad.yml", cwd=tmp_path)
    assert r.returncode == 1
    assert re.fullmatch(r"ok\.yml: ok sha256:[0-9a-f]{64}\n", r.stdout)
    assert r.stderr == (f"bad.yml:4:5: containers[0].privileged: {PRIVILEGED}\n"
                        'bad.yml:5:10: containers[0].pid: pid "host" is refused: each '
                        "container has its own PID namespace, never the host's or another "
                        "container's\n")
