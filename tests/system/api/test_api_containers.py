"""POST/GET/DELETE /api/v1/containers against a real berthd: the container
object, creation from a config or a git tag, every refusal (and that a
refused request changes nothing), tags, events, other orgs."""
import os
import re

from api_helpers import BAD_CONFIG, IMAGE, assert_error, config_text, http, make_source

CONTAINER_FIELDS = {"name", "org", "status", "status_detail", "url", "tls_url", "debug_url", "debug",
                    "isolation", "source", "deployment", "update", "env", "created_at",
                    "updated_at", "certificate", "attested_keys", "restarts", "host",
                    "enclaves"}
DEPLOYMENT_FIELDS = {"id", "tag", "commit", "config", "config_sha256", "measurement", "images", "debug",
                     "secrets", "isolation", "created_at"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def create(api, name="web", **kw):
    body = {"name": name}
    body.update(kw)
    if "repo" not in kw and "config" not in kw:
        body["config"] = config_text()
    return api.post("/containers", body)


def snapshot(berthd, api):
    """What a refused request must leave alone: the containers and every event."""
    with berthd.db() as db:
        events = [tuple(r) for r in db.execute("SELECT id, kind FROM event ORDER BY id")]
        deployments = db.execute("SELECT count(*) FROM deployment").fetchone()[0]
        settings = db.execute("SELECT count(*) FROM container_setting").fetchone()[0]
    st, items = api.get("/containers")
    # The certificate is issued in the background, and the reconciler brings
    # the enclaves up, whatever the requests do.
    for c in items or []:
        c.pop("certificate", None)
        c.pop("enclaves", None)
    return (st, items), events, deployments, settings


def test_needs_a_valid_token(berthd):
    for token in (None, "berth_nope", ""):
        st, headers, body = http("GET", berthd.url + "/api/v1/containers", token=token)
        assert st == 401 and headers["WWW-Authenticate"] == "Bearer"
        assert b'"code":"unauthorized"' in body
    st, _, _ = http("POST", berthd.url + "/api/v1/containers", b"{}", token="berth_nope")
    assert st == 401


def test_create_from_config(berthd, api):
    st, c = create(api, debug=True, env={"LOG_LEVEL": "debug", "MODE": "a b"})
    assert st == 202, c
    assert set(c) == CONTAINER_FIELDS
    assert c["name"] == "web" and c["org"] == "default"
    assert c["status"] == "deploying" and c["status_detail"] == "queued"
    assert c["url"] == f"http://web.default.containers.localhost:{berthd.router_port}"
    assert c["debug"] is True
    assert c["source"] == {"repo": None, "tag": None}
    assert c["update"] is None
    assert c["attested_keys"] is None  # no enclave serves yet
    assert c["restarts"] == 0
    # One machine: no agent's host, no enclave yet.
    assert c["host"] is None and isinstance(c["enclaves"], list)
    assert c["env"] == {"LOG_LEVEL": "debug", "MODE": "a b"}
    assert RFC3339.match(c["created_at"]) and RFC3339.match(c["updated_at"])
    d = c["deployment"]
    assert set(d) == DEPLOYMENT_FIELDS
    assert d["tag"] is None and d["config"] == config_text()
    assert re.match(r"^[0-9a-f]{64}$", d["config_sha256"])
    assert re.match(r"^[0-9a-f]{64}$", d["measurement"])
    assert d["images"] == [IMAGE] and d["debug"] is True and d["secrets"] == []
    # The config names no isolation level: berthd's default (runc unless --runtime runsc).
    assert d["isolation"] == "runc" and c["isolation"] == "runc"
    assert RFC3339.match(d["created_at"])

    st, got = api.get("/containers/web")
    assert st == 200 and set(got) == CONTAINER_FIELDS
    assert got["deployment"] == d and got["env"] == c["env"]
    st, lst = api.get("/containers")
    assert st == 200 and [x["name"] for x in lst] == ["web"]
    st, evs = api.get("/containers/web/events")
    assert st == 200 and [e["kind"] for e in evs][:1] == ["container.created"]
    assert set(evs[0]) == {"id", "time", "container", "kind", "message"}
    with berthd.db() as db:
        row = db.execute("SELECT env, secrets FROM deployment WHERE id = ?", (d["id"],)).fetchone()
        assert row["env"] == '{"LOG_LEVEL":"debug","MODE":"a b"}' and row["secrets"] == "[]"
        assert db.execute("SELECT count(*) FROM \"update\"").fetchone()[0] == 0


def test_create_from_repo_and_tag(berthd, api, source):
    st, c = api.post("/containers", {"name": "fromgit", "repo": source, "tag": "v2"})
    assert st == 202, c
    assert c["source"] == {"repo": source, "tag": "v2"}
    assert c["deployment"]["tag"] == "v2"
    assert c["deployment"]["config"] == config_text(port=8001)
    assert c["debug"] is False and c["env"] == {}


def test_unknown_tag_and_bad_configs_are_422(berthd, api, source):
    before = snapshot(berthd, api)
    assert_error(api.post("/containers", {"name": "x", "repo": source, "tag": "v9"}),
                 422, "unknown_tag", "v9")
    msg = assert_error(api.post("/containers", {"name": "x", "repo": source, "tag": "bad"}),
                       422, "invalid_config", "tinfoil-config.yml@bad:4:")
    assert re.search(r"tinfoil-config\.yml@bad:\d+:\d+: containers\[0\]\.image: ", msg), msg
    msg = assert_error(api.post("/containers", {"name": "x", "config": BAD_CONFIG}),
                       422, "invalid_config")
    assert re.match(r"^config:4:\d+: containers\[0\]\.image: ", msg), msg
    assert_error(api.post("/containers", {"name": "x", "repo": "/nonexistent/repo", "tag": "v1"}),
                 422, "invalid_source", "repo")
    latin1 = make_source(os.path.join(berthd.state_dir, "latin1"),
                         [("v1", "# caf\udce9\n" + config_text())])
    assert_error(api.post("/containers", {"name": "x", "repo": latin1, "tag": "v1"}),
                 422, "invalid_config", "tinfoil-config.yml@v1: the file is not UTF-8 text")
    assert snapshot(berthd, api) == before


def test_bad_requests_change_nothing(berthd, api):
    assert create(api, env={"A": "1"})[0] == 202
    before = snapshot(berthd, api)
    cases = [
        (api.post("/containers", raw=b"{not json"), 400, "bad_json", "line 1"),
        (api.post("/containers", raw=b"[1]"), 400, "bad_json", "object"),
        (create(api, "x", colour="blue"), 422, "unknown_field", "colour"),
        (create(api, "web"), 409, "name_taken", "web"),
        (create(api, "Web"), 422, "invalid_name", "Web"),
        (create(api, "-web"), 422, "invalid_name", "DNS label"),
        (create(api, "a" * 64), 422, "invalid_name", "DNS label"),
        (create(api, "x", secrets=["API_KEY"]), 422, "unknown_secret", "API_KEY"),
        (create(api, "x", config=config_text(secrets=["DB_PASS"])), 422, "unknown_secret",
         "DB_PASS"),
        (create(api, "x", secrets=["bad-name"]), 422, "invalid_field", "secrets[0]"),
        (create(api, "x", secrets="API_KEY"), 422, "invalid_field", "secrets"),
        (create(api, "x", debug="yes"), 422, "invalid_field", "debug"),
        (create(api, "x", env={"A": 1}), 422, "invalid_field", "env.A"),
        (create(api, "x", env={"1A": "x"}), 422, "invalid_field", "env.1A"),
        (create(api, "x", env=["A"]), 422, "invalid_field", "env"),
        (create(api, 7), 422, "invalid_field", "name"),
        (api.post("/containers", {"config": config_text()}), 422, "invalid_field", "name"),
        (api.post("/containers", {"name": "x"}), 422, "invalid_request", "config"),
        (api.post("/containers", {"name": "x", "repo": "/r"}), 422, "invalid_request", "tag"),
        (create(api, "x", repo="/r", tag="v1", config=config_text()), 422, "invalid_request",
         "not both"),
        (create(api, "x", config=7), 422, "invalid_field", "config"),
    ]
    for got, status, code, word in cases:
        assert_error(got, status, code, word)
    assert snapshot(berthd, api) == before


def test_other_orgs_see_nothing(berthd, api):
    assert create(api)[0] == 202
    assert api.call("PUT", "/secrets/API_KEY", {"value": "s3cret"})[0] == 200
    st, org = api.post("/orgs", {"name": "other"})
    assert st == 201 and org["org"] == "other" and org["token"].startswith("berth_"), org
    assert set(org) == {"org", "token"}
    other = berthd.api(org["token"])
    assert other.get("/containers") == (200, [])
    assert other.get("/secrets") == (200, [])
    for method, path, body in [("GET", "/containers/web", None),
                               ("DELETE", "/containers/web", None),
                               ("GET", "/containers/web/events", None),
                               ("GET", "/containers/web/updates", None),
                               ("GET", "/containers/web/tags", None),
                               ("POST", "/containers/web/updates", {"kind": "retry"}),
                               ("POST", "/containers/web/updates/current/cancel", None),
                               ("DELETE", "/secrets/API_KEY", None)]:
        assert_error(other.call(method, path, body), 404, "not_found")
    # The same name is free in another org, and its URL names that org.
    st, c = create(other)
    assert st == 202 and c["org"] == "other" and ".other." in c["url"]
    assert_error(other.post("/orgs", {"name": "third"}), 403, "forbidden")
    assert_error(api.post("/orgs", {"name": "other"}), 409, "name_taken", "other")
    assert_error(api.post("/orgs", {"name": "Bad_Org"}), 422, "invalid_name", "name")
    assert_error(api.post("/orgs", {"name": "x", "admin": True}), 422, "unknown_field", "admin")
    assert api.get("/containers/web")[1]["org"] == "default"


def test_delete_then_404_and_the_name_is_free(berthd, api):
    st, c = create(api)
    assert st == 202
    st, out = api.call("DELETE", "/containers/web")
    assert st == 202 and out == {"name": "web", "status": "deleting"}
    assert_error(api.get("/containers/web"), 404, "not_found", "web")
    assert_error(api.call("DELETE", "/containers/web"), 404, "not_found")
    assert api.get("/containers") == (200, [])
    st, again = create(api)
    assert st == 202 and again["deployment"]["id"] != c["deployment"]["id"]
    # The new container's events are its own; the org's stream has both.
    kinds = [e["kind"] for e in api.get("/containers/web/events")[1]]
    assert kinds == ["container.created"], kinds


def test_tags_newest_first_with_validity(berthd, api, source):
    assert api.post("/containers", {"name": "g", "repo": source, "tag": "v1"})[0] == 202
    st, tags = api.get("/containers/g/tags")
    assert st == 200, tags
    assert [t["tag"] for t in tags] == ["bad", "v2", "v1"]
    assert [t["valid"] for t in tags] == [False, True, True]
    assert all(re.match(r"^[0-9a-f]{40}$", t["commit"]) for t in tags)
    assert "error" not in tags[1] and "error" not in tags[2]
    assert re.search(r"tinfoil-config\.yml:4:\d+: containers\[0\]\.image: ", tags[0]["error"])
    assert create(api, "plain")[0] == 202
    assert_error(api.get("/containers/plain/tags"), 422, "no_source")
    assert_error(api.get("/containers/nope/tags"), 404, "not_found")


def test_events_after(berthd, api):
    assert create(api)[0] == 202
    assert api.post("/containers/web/updates", {"kind": "retry"})[0] == 202
    st, evs = api.get("/containers/web/events")
    assert st == 200 and len(evs) >= 2
    ids = [e["id"] for e in evs]
    assert ids == sorted(ids)
    assert [e["kind"] for e in evs[:2]] == ["container.created", "update.pending"]
    st, rest = api.get(f"/containers/web/events?after={ids[0]}")
    assert st == 200 and rest == evs[1:]
    assert api.get(f"/containers/web/events?after={ids[-1]}") == (200, [])
    for bad in ("abc", "-1", "1x", ""):
        assert_error(api.get(f"/containers/web/events?after={bad}"), 400, "invalid_query",
                     "after")


def test_list_answers_what_changed_since_the_last_list(berthd, api):
    """The list is served from a cache while the store is unchanged: every
    write must show in the next answer."""
    assert api.get("/containers") == (200, [])
    assert api.get("/containers") == (200, [])  # the cached answer
    assert create(api, name="lc1")[0] == 202
    st, after = api.get("/containers")
    assert st == 200 and [c["name"] for c in after] == ["lc1"]
    assert create(api, name="lc2")[0] == 202
    assert [c["name"] for c in api.get("/containers")[1]] == ["lc1", "lc2"]
    assert api.call("DELETE", "/containers/lc1")[0] == 202
    assert [c["name"] for c in api.get("/containers")[1]] == ["lc2"]


def test_list_shows_a_container_change_at_once(berthd, api):
    """Issue 11, defect 8: the list renders each container once per version
    of its rows. A change to one container (its update, its env, its row)
    shows in the very next list, and every item is what GET of that
    container answers at that moment."""
    names = ["lv1", "lv2", "lv3"]
    for n in names:
        assert create(api, name=n)[0] == 202
    for round_ in range(4):
        st, before = api.get("/containers")
        assert st == 200 and [c["name"] for c in before] == names
        st, u = api.post("/containers/lv2/updates",
                         {"kind": "edit-config", "env": {"ROUND": str(round_)}})
        if st == 409:  # the previous round's update still runs: cancel it
            assert api.post("/containers/lv2/updates/current/cancel")[0] == 202
            st, u = api.post("/containers/lv2/updates",
                             {"kind": "edit-config", "env": {"ROUND": str(round_)}})
        assert st == 202, u
        st, after = api.get("/containers")
        assert st == 200
        lv2 = after[1]
        assert lv2["update"] is not None and lv2["update"]["id"] == u["id"], lv2["update"]
        # What the list says of each is what its own GET says (unless the
        # reconciler wrote in between: then the next list must agree).
        for attempt in range(20):
            st, after = api.get("/containers")
            singles = [api.get("/containers/" + n)[1] for n in names]
            if after == singles and after == api.get("/containers")[1]:
                break
        else:
            raise AssertionError(f"list {after} != GETs {singles}")
    assert api.call("DELETE", "/containers/lv2")[0] == 202
    assert [c["name"] for c in api.get("/containers")[1]] == ["lv1", "lv3"]
