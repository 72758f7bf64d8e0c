"""Fixtures of the REST API's system tests."""
import os

import pytest

from api_helpers import (BAD_CONFIG, BUILD, Berthd, PgServer, config_text, make_source,
                         suite_checks)
from berth_helpers import tmpdir_fixture
from suite_checks import (  # noqa: F401 (the checks of every folder)
    pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)


api_state_dir = tmpdir_fixture("api_state_dir", "berth-api-")


# The tests (by name) that run twice: on SQLite, then on PostgreSQL (a
# database of their own on the folder's PostgreSQL server). Not
# test_bad_requests_change_nothing nor test_delete_cancels_the_update: their
# looks into the store race the reconciler (its progress writes, a teardown),
# and the slower look of PostgreSQL's (a psql process) loses that race often.
ON_POSTGRES = {
    "test_create_from_config",
    "test_other_orgs_see_nothing", "test_delete_then_404_and_the_name_is_free",
    "test_events_after", "test_list_shows_a_container_change_at_once",
    "test_tag_update_makes_a_new_deployment", "test_edit_config_promote_retry",
    "test_update_refusals_change_nothing",
    "test_secrets_set_list_delete", "test_event_stream_and_metrics",
    "test_a_new_container_does_not_inherit_a_deleted_ones_events",
    "test_a_deleted_containers_secrets_are_free_at_once",
}


def pytest_generate_tests(metafunc):
    if "berthd" in metafunc.fixturenames and metafunc.function.__name__ in ON_POSTGRES:
        metafunc.parametrize("store_kind", ["sqlite", "postgres"])


@pytest.fixture
def store_kind():
    return "sqlite"


@pytest.fixture(scope="session")
def pg_server():
    """The folder's PostgreSQL, started when a test first needs it, stopped
    (its directory removed) when the folder ends."""
    server = PgServer()
    yield server
    server.stop()


@pytest.fixture
def pg_database(pg_server):
    db = pg_server.database()
    yield db
    db.drop()


@pytest.fixture
def store(store_kind, request):
    """None for SQLite (the state directory's file), else a PgDatabase."""
    if store_kind == "postgres":
        return request.getfixturevalue("pg_database")
    return None


@pytest.fixture
def berthd(api_state_dir, store):
    d = Berthd(os.path.join(BUILD, "berthd"), api_state_dir, store=store)
    yield d
    rc = d.stop()
    suite_checks.check_reports()
    assert rc == 0, d.read_log()


@pytest.fixture
def api(berthd):
    return berthd.api()


@pytest.fixture
def source(api_state_dir):
    """A source with tags v1, v2 (valid) and bad (invalid), oldest first."""
    return make_source(os.path.join(api_state_dir, "src-repo"),
                       [("v1", config_text()), ("v2", config_text(port=8001)),
                        ("bad", BAD_CONFIG)])
