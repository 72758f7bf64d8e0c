"""berthd on PostgreSQL (--store postgres://...): what only this store has to
show. The API's own tests run on it too (conftest.ON_POSTGRES)."""
import os
import subprocess

from api_helpers import BUILD, Berthd, config_text, suite_checks


def test_restart_resumes_from_postgres(api_state_dir, pg_database):
    """Everything is in the database, nothing in the state directory's
    SQLite file; a new berthd on the same database carries on."""
    b = Berthd(os.path.join(BUILD, "berthd"), api_state_dir, store=pg_database)
    try:
        api = b.api()
        assert api.call("PUT", "/secrets/API_KEY", {"value": "pg-secret-value"})[0] == 200
        st, c = api.post("/containers", {"name": "web",
                                         "config": config_text(secrets=["API_KEY"])})
        assert st == 202, c
        events_before = api.get("/containers/web/events")[1]
        containers_before = api.get("/containers")[1]
    finally:
        assert b.stop() == 0, b.read_log()
    assert not os.path.exists(os.path.join(api_state_dir, "berth.db"))
    with pg_database as db:
        assert db.execute("SELECT count(*) FROM container").fetchone()[0] == 1
        assert db.execute("SELECT max(version) FROM berth_schema").fetchone()[0] >= 7

    b = Berthd(os.path.join(BUILD, "berthd"), api_state_dir, store=pg_database)
    try:
        api = b.api()
        st, lst = api.get("/containers")
        assert st == 200
        assert [x["name"] for x in lst] == [x["name"] for x in containers_before]
        assert lst[0]["deployment"]["id"] == containers_before[0]["deployment"]["id"]
        events = api.get("/containers/web/events")[1]
        ids = [e["id"] for e in events]
        assert ids[:len(events_before)] == [e["id"] for e in events_before]
        assert ids == sorted(ids)
        assert api.get("/secrets")[1][0]["bound_to"] == ["web"]
        # New writes after the restart get new, larger ids.
        assert api.post("/containers", {"name": "api", "config": config_text()})[0] == 202
        new = api.get("/containers/api/events")[1]
        assert new and all(e["id"] > ids[-1] for e in new), (ids, new)
        assert api.call("DELETE", "/containers/web")[0] == 202
    finally:
        assert b.stop() == 0, b.read_log()
    assert b"pg-secret-value" not in pg_database.dump()


def test_a_store_url_password_never_shows(api_state_dir, pg_server):
    """A server that refuses berthd: a clear error naming the database, and
    the URL's password nowhere in what berthd says."""
    password = "hunter2-never-printed"
    url = f"postgresql://berth:{password}@/no_such_database?host={pg_server.dir}"
    out = subprocess.run([os.path.join(BUILD, "berthd"), "--state-dir", api_state_dir,
                          "--listen", "127.0.0.1:0", "--store", url],
                         capture_output=True, text=True, timeout=60,
                         env=suite_checks.daemon_env())
    suite_checks.stop_router(api_state_dir)  # none should have started
    text = out.stdout + out.stderr
    assert out.returncode != 0, text
    assert "no_such_database" in text and "store" in text, text
    assert password not in text, text
    for name in os.listdir(api_state_dir):
        path = os.path.join(api_state_dir, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                assert password.encode() not in f.read(), name
