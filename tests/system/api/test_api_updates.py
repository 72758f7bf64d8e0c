"""POST/GET /api/v1/containers/{name}/updates and cancel: every kind makes an
update row and a new deployment; refusals; cancel."""
import json
import os

from api_helpers import BUILD, Berthd, assert_error, config_text

UPDATE_FIELDS = {"id", "kind", "strategy", "status", "phase", "from", "to", "error",
                 "health_log", "created_at", "finished_at"}


def deployment(berthd, dep_id):
    with berthd.db() as db:
        return db.execute("SELECT * FROM deployment WHERE id = ?", (dep_id,)).fetchone()


def deployments(berthd):
    with berthd.db() as db:
        return db.execute("SELECT count(*) FROM deployment").fetchone()[0]


def cancel(api, name="web"):
    return api.post(f"/containers/{name}/updates/current/cancel")


def test_tag_update_makes_a_new_deployment(berthd, api, source):
    st, c = api.post("/containers", {"name": "web", "repo": source, "tag": "v1"})
    assert st == 202
    st, u = api.post("/containers/web/updates", {"kind": "tag", "tag": "v2"})
    assert st == 202, u
    assert set(u) == UPDATE_FIELDS
    assert u["kind"] == "tag" and u["strategy"] == "blue-green" and u["status"] == "pending"
    assert u["phase"] is None and u["error"] is None and u["health_log"] == []
    assert u["finished_at"] is None
    assert u["from"] == c["deployment"]["id"] and u["to"] != u["from"]
    new = deployment(berthd, u["to"])
    assert new["tag"] == "v2" and new["config"] == config_text(port=8001)
    assert new["debug"] == 0
    st, got = api.get("/containers/web")
    # The container keeps serving its deployment until the update succeeds.
    assert got["deployment"]["id"] == c["deployment"]["id"]
    assert got["update"]["id"] == u["id"]
    kinds = [e["kind"] for e in api.get("/containers/web/events")[1]]
    assert kinds[:2] == ["container.created", "update.pending"]
    # A second update while this one runs.
    before = deployments(berthd)
    assert_error(api.post("/containers/web/updates", {"kind": "retry"}), 409,
                 "update_in_progress")
    assert_error(api.post("/containers/web/updates", {"kind": "tag", "tag": "v1"}), 409,
                 "update_in_progress")
    assert deployments(berthd) == before
    st, cu = cancel(api)
    assert st == 202 and cu["id"] == u["id"] and cu["status"] == "cancelled"
    assert cu["finished_at"] is not None
    assert_error(cancel(api), 409, "not_cancellable")
    # Unknown tag, invalid config at a tag: nothing written.
    assert_error(api.post("/containers/web/updates", {"kind": "tag", "tag": "v9"}), 422,
                 "unknown_tag", "v9")
    assert_error(api.post("/containers/web/updates", {"kind": "tag", "tag": "bad"}), 422,
                 "invalid_config", "tinfoil-config.yml@bad:4:")
    assert deployments(berthd) == before
    st, lst = api.get("/containers/web/updates")
    assert st == 200 and [x["id"] for x in lst] == [u["id"]]


def test_edit_config_promote_retry(berthd, api):
    assert api.call("PUT", "/secrets/API_KEY", {"value": "k"})[0] == 200
    assert api.call("PUT", "/secrets/OTHER", {"value": "o"})[0] == 200
    st, c = api.post("/containers", {"name": "web", "config": config_text(), "debug": True,
                                     "secrets": ["API_KEY"], "env": {"A": "1"}})
    assert st == 202
    first = c["deployment"]
    assert first["secrets"] == ["API_KEY"] and first["debug"] is True
    ids = {first["id"]}

    # edit-config with nothing given: a copy of the current deployment.
    st, u = api.post("/containers/web/updates", {"kind": "edit-config"})
    assert st == 202 and u["kind"] == "edit-config", u
    d = deployment(berthd, u["to"])
    assert d["config"] == first["config"] and d["debug"] == 1
    assert json.loads(d["secrets"]) == ["API_KEY"] and json.loads(d["env"]) == {"A": "1"}
    assert d["measurement"] == first["measurement"]
    ids.add(u["to"])
    assert cancel(api)[0] == 202

    # edit-config with everything given.
    new_config = config_text(port=9000, secrets=["OTHER"])
    st, u = api.post("/containers/web/updates",
                     {"kind": "edit-config", "config": new_config, "secrets": [],
                      "env": {"B": "2"}, "debug": False})
    assert st == 202, u
    d = deployment(berthd, u["to"])
    assert d["config"] == new_config and d["debug"] == 0
    assert json.loads(d["secrets"]) == ["OTHER"] and json.loads(d["env"]) == {"B": "2"}
    assert d["measurement"] != first["measurement"]
    assert api.get("/containers/web")[1]["env"] == {"B": "2"}
    ids.add(u["to"])
    assert cancel(api)[0] == 202

    # promote: the current deployment (debug) copied with debug off.
    st, u = api.post("/containers/web/updates", {"kind": "promote"})
    assert st == 202 and u["kind"] == "promote" and u["strategy"] == "blue-green", u
    d = deployment(berthd, u["to"])
    assert d["debug"] == 0 and d["config"] == first["config"]
    assert d["measurement"] != first["measurement"]
    ids.add(u["to"])
    assert cancel(api)[0] == 202

    # retry, with no failed update: the current deployment again.
    st, u = api.post("/containers/web/updates", {"kind": "retry"})
    assert st == 202 and u["kind"] == "retry" and u["from"] == first["id"]
    d = deployment(berthd, u["to"])
    assert d["config"] == first["config"] and d["debug"] == 1
    ids.add(u["to"])
    assert len(ids) == 5  # every update has its own deployment
    st, lst = api.get("/containers/web/updates")
    assert [x["kind"] for x in lst] == ["retry", "promote", "edit-config", "edit-config"]
    assert [x["status"] for x in lst[1:]] == ["cancelled"] * 3
    # Each cancel's event names the kind of the update it cancelled.
    said = [e["message"] for e in api.get("/containers/web/events")[1]
            if e["kind"] == "update.cancelled"]
    assert said == ["edit-config update of web cancelled"] * 2 + \
        ["promote update of web cancelled"], said


def test_update_refusals_change_nothing(berthd, api):
    assert api.post("/containers", {"name": "web", "config": config_text()})[0] == 202
    before = deployments(berthd)
    cases = [
        (api.post("/containers/web/updates", {"kind": "promote"}), 422, "invalid_update",
         "debug"),
        (api.post("/containers/web/updates", {"kind": "tag", "tag": "v2"}), 422, "no_source",
         "edit-config"),
        (api.post("/containers/web/updates", {"kind": "rollback"}), 422, "invalid_field",
         "kind"),
        (api.post("/containers/web/updates", {}), 422, "invalid_field", "kind"),
        (api.post("/containers/web/updates", {"kind": "tag"}), 422, "invalid_field", "tag"),
        (api.post("/containers/web/updates", {"kind": "retry", "tag": "v1"}), 422,
         "unknown_field", "tag"),
        (api.post("/containers/web/updates", {"kind": "edit-config", "debgu": True}), 422,
         "unknown_field", "debgu"),
        (api.post("/containers/web/updates", {"kind": "edit-config", "debug": 1}), 422,
         "invalid_field", "debug"),
        (api.post("/containers/web/updates", {"kind": "edit-config", "secrets": ["NOPE"]}),
         422, "unknown_secret", "NOPE"),
        (api.post("/containers/web/updates", {"kind": "edit-config", "config": "shim: ["}),
         422, "invalid_config", "config:"),
        (api.post("/containers/web/updates", raw=b"{"), 400, "bad_json", "malformed"),
        (api.post("/containers/nope/updates", {"kind": "retry"}), 404, "not_found", "nope"),
        (cancel(api), 404, "not_found", "no update"),
    ]
    for got, status, code, word in cases:
        assert_error(got, status, code, word)
    assert deployments(berthd) == before
    assert api.get("/containers/web/updates") == (200, [])
    assert api.get("/containers/web")[1]["update"] is None


def test_forced_recreate(berthd, api):
    forced = config_text(extra="deploy:\n  strategy: recreate\n")
    assert api.post("/containers", {"name": "web", "config": forced})[0] == 202
    st, u = api.post("/containers/web/updates", {"kind": "retry"})
    assert st == 202 and u["strategy"] == "recreate" and u["phase"] == "stopping", u
    st, c = api.get("/containers/web")
    assert c["status"] in ("deploying", "failed")  # never running during a recreate


def test_gpu_strategy_follows_the_host(api_state_dir):
    """On a host of 2 GPUs: a 1-GPU container fits twice (blue-green); one that
    takes every GPU does not (recreate); and a second 1-GPU container leaves no
    room for the first one's update."""
    gpu1 = config_text().replace("  - name: app\n", "  - name: app\n    gpus: 1\n")
    gpu_all = config_text().replace("  - name: app\n", "  - name: app\n    gpus: all\n")
    d = Berthd(os.path.join(BUILD, "berthd"), api_state_dir, args=["--gpus", "2"])
    try:
        api = d.api()
        assert api.post("/containers", {"name": "one", "config": gpu1})[0] == 202
        assert api.post("/containers", {"name": "all", "config": gpu_all})[0] == 202
        st, u = api.post("/containers/all/updates", {"kind": "retry"})
        assert st == 202 and u["strategy"] == "recreate", u
        assert api.call("DELETE", "/containers/all")[0] == 202
        st, u = api.post("/containers/one/updates", {"kind": "retry"})
        assert st == 202 and u["strategy"] == "blue-green", u
        assert cancel(api, "one")[0] == 202
        assert api.post("/containers", {"name": "two", "config": gpu1})[0] == 202
        st, u = api.post("/containers/one/updates", {"kind": "retry"})
        assert st == 202 and u["strategy"] == "recreate", u
    finally:
        assert d.stop() == 0, d.read_log()


def test_delete_cancels_the_update(berthd, api):
    assert api.post("/containers", {"name": "web", "config": config_text()})[0] == 202
    st, u = api.post("/containers/web/updates", {"kind": "retry"})
    assert st == 202
    assert api.call("DELETE", "/containers/web")[0] == 202
    with berthd.db() as db:
        row = db.execute("SELECT status FROM \"update\" WHERE id = ?", (u["id"],)).fetchone()
    assert row["status"] == "cancelled"
    with berthd.db() as db:
        kinds = [r[0] for r in db.execute("SELECT kind FROM event ORDER BY id")]
        said = [r[0] for r in db.execute(
            "SELECT message FROM event WHERE kind = 'update.cancelled'")]
    assert kinds == ["container.created", "update.pending", "update.cancelled",
                     "container.deleting"]
    # The event names the kind of the update the delete cancelled.
    assert said == ["retry update of web cancelled by its delete"], said
