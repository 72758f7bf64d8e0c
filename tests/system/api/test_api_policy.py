"""The container policy through the API: a config that asks for what an
enclave's containers may not have is an invalid config everywhere one is
read (POST /containers, updates, the tag list), with the same
file:line:col sentences as `berth config validate`, and nothing is written."""
import os
import time

import pytest

from api_helpers import assert_error, config_text, make_source

PRIVILEGED = ("containers[0].privileged: privileged containers are refused: an enclave's "
              "containers never get host privileges")
SYS_ADMIN = ('containers[0].cap_add[0]: capability "SYS_ADMIN" is refused: cap_add may only '
             "add IPC_LOCK, NET_BIND_SERVICE or SYS_NICE")


def with_keys(*lines, port=8000):
    """config_text() with lines as the container's last keys, the first on line 5."""
    return config_text(port=port).replace(
        "shim:\n", "".join("    " + l + "\n" for l in lines) + "shim:\n", 1)


# Line 5: privileged at column 5; line 6: SYS_ADMIN at column 15.
REFUSED = with_keys("privileged: false", "cap_add: [SYS_ADMIN]")
# What the policy allows.
ALLOWED = with_keys("cap_add: [cap_sys_nice, IPC_LOCK]", "ipc: host", port=8001)


def errors_of(name):
    return f"{name}:5:5: {PRIVILEGED}\n{name}:6:15: {SYS_ADMIN}"


@pytest.fixture
def policy_source(api_state_dir):
    """Tags v1 (valid), refused (asks for what the policy refuses) and allowed
    (asks only for what it allows), oldest first."""
    return make_source(os.path.join(api_state_dir, "policy-repo"),
                       [("v1", config_text()), ("refused", REFUSED), ("allowed", ALLOWED)])


def written(berthd, api):
    """What a refused request must leave alone."""
    with berthd.db() as db:
        # container.failed and .running come from the reconciler, not the request.
        events = [tuple(r) for r in db.execute(
            "SELECT id, kind FROM event WHERE kind NOT IN ('container.failed', "
            "'container.running') ORDER BY id")]
        deployments = db.execute("SELECT count(*) FROM deployment").fetchone()[0]
        updates = db.execute("SELECT count(*) FROM \"update\"").fetchone()[0]
    # The container's status moves on by itself (its image pull fails at its
    # own pace): what a request could write is a deployment or an update.
    st, containers = api.get("/containers")
    kept = [(c["name"], c["deployment"], c["update"], c["source"]) for c in containers]
    return st, kept, events, deployments, updates


def test_create_refuses_the_policy_and_writes_nothing(berthd, api, policy_source):
    before = written(berthd, api)
    msg = assert_error(api.post("/containers", {"name": "x", "config": REFUSED}), 422,
                       "invalid_config")
    assert msg == errors_of("config")
    msg = assert_error(api.post("/containers", {"name": "x", "repo": policy_source,
                                                "tag": "refused"}), 422, "invalid_config")
    assert msg == errors_of("tinfoil-config.yml@refused")
    # One refusal per key, each at its own place (line 5).
    cases = [
        ("privileged: true", "5:5", PRIVILEGED),
        ("security_opt: [seccomp=unconfined]", "5:5", "containers[0].security_opt: "
         "security_opt is refused: "),
        ("cap_drop: [ALL]", "5:5", "containers[0].cap_drop: cap_drop is refused: "),
        ("pid: host", "5:10", 'containers[0].pid: pid "host" is refused: '),
        ("devices: [/dev/kvm]", "5:15", 'containers[0].devices[0]: device "/dev/kvm" is '
         "refused: containers get no host devices"),
        ("cap_add: [ALL]", "5:15", 'containers[0].cap_add[0]: capability "ALL" is refused: '),
        ("ipc: container:db", "5:10", 'containers[0].ipc: ipc "container:db" is refused: '),
    ]
    for line, pos, sentence in cases:
        msg = assert_error(api.post("/containers", {"name": "x", "config": with_keys(line)}),
                           422, "invalid_config")
        assert msg.startswith(f"config:{pos}: {sentence}") and "\n" not in msg, (line, msg)
    assert written(berthd, api) == before
    assert_error(api.get("/containers/x"), 404, "not_found")
    # What the policy allows is created, from a config or a tag.
    st, c = api.post("/containers", {"name": "x", "config": ALLOWED})
    assert st == 202, c
    st, c = api.post("/containers", {"name": "y", "repo": policy_source, "tag": "allowed"})
    assert st == 202 and c["deployment"]["config"] == ALLOWED, c


def test_tag_list_shows_a_refused_config_invalid(berthd, api, policy_source):
    assert api.post("/containers", {"name": "g", "repo": policy_source, "tag": "v1"})[0] == 202
    st, tags = api.get("/containers/g/tags")
    assert st == 200, tags
    assert [t["tag"] for t in tags] == ["allowed", "refused", "v1"]
    assert [t["valid"] for t in tags] == [True, False, True]
    assert tags[1]["error"] == errors_of("tinfoil-config.yml")
    assert "error" not in tags[0] and "error" not in tags[2]


def test_updates_to_a_refused_config_are_422(berthd, api, policy_source):
    st, c = api.post("/containers", {"name": "web", "repo": policy_source, "tag": "v1"})
    assert st == 202
    # Its pull (from a registry that is not there) fails on its own: what
    # the reconciler writes meanwhile is not the refused requests' doing.
    deadline = time.monotonic() + 60
    while api.get("/containers/web")[1]["status"] != "failed" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert api.get("/containers/web")[1]["status"] == "failed"
    before = written(berthd, api)
    msg = assert_error(api.post("/containers/web/updates", {"kind": "tag", "tag": "refused"}),
                       422, "invalid_config")
    assert msg == errors_of("tinfoil-config.yml@refused")
    msg = assert_error(api.post("/containers/web/updates",
                                {"kind": "edit-config", "config": REFUSED}),
                       422, "invalid_config")
    assert msg == errors_of("config")
    assert written(berthd, api) == before
    st, got = api.get("/containers/web")
    assert got["update"] is None and got["deployment"]["id"] == c["deployment"]["id"]
    assert api.get("/containers/web/updates") == (200, [])
    # An update to what the policy allows goes ahead.
    st, u = api.post("/containers/web/updates", {"kind": "tag", "tag": "allowed"})
    assert st == 202 and u["kind"] == "tag", u


def test_keys_berth_cannot_honour_yet_are_refused_at_deploy(berthd, api):
    """A valid config asking for what berth cannot give yet (cvm_admin,
    ports) is refused with a sentence and its place, never deployed as if
    the key were not there; nothing is written."""
    st, body = api.post("/containers", {"name": "adm", "config": with_keys(
        "cvm_admin: true", "user: root")})
    assert st == 422 and body["error"]["code"] == "unsupported_config", body
    assert "config:5:" in body["error"]["message"], body
    assert "cvm_admin" in body["error"]["message"], body
    assert api.get("/containers") == (200, [])
