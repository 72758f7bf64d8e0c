"""Secrets (values never come back), the event stream, /metrics, and a
client that leaves before its asynchronous answer."""
import os
import re
import signal
import socket
import threading
import time

from api_helpers import BUILD, Berthd, assert_error, config_text, http

VALUE = "v4lue-that-must-never-come-back"


def test_secrets_set_list_delete(berthd, api):
    st, s = api.call("PUT", "/secrets/API_KEY", {"value": VALUE})
    assert st == 200 and set(s) == {"name", "created_at", "updated_at", "bound_to"}, s
    assert s["name"] == "API_KEY" and s["bound_to"] == []
    time.sleep(1.1)
    st, s2 = api.call("PUT", "/secrets/API_KEY", {"value": VALUE + "2"})
    assert st == 200 and s2["created_at"] == s["created_at"]
    assert s2["updated_at"] > s["updated_at"]
    assert api.call("PUT", "/secrets/UNUSED", {"value": ""})[0] == 200
    st, c = api.post("/containers", {"name": "web", "config": config_text(secrets=["API_KEY"])})
    assert st == 202 and c["deployment"]["secrets"] == ["API_KEY"]
    st, lst = api.get("/secrets")
    assert st == 200 and [x["name"] for x in lst] == ["API_KEY", "UNUSED"]
    assert lst[0]["bound_to"] == ["web"] and lst[1]["bound_to"] == []
    assert_error(api.call("DELETE", "/secrets/API_KEY"), 409, "secret_in_use", "web")
    st, _, body = http("DELETE", berthd.url + "/api/v1/secrets/UNUSED", token=api.token)
    assert st == 204 and body == b""
    assert_error(api.call("DELETE", "/secrets/UNUSED"), 404, "not_found", "UNUSED")
    assert [x["name"] for x in api.get("/secrets")[1]] == ["API_KEY"]
    for path, body, code, word in [
            ("/secrets/bad-name", {"value": "x"}, "invalid_name", "name"),
            ("/secrets/OK", {"value": 7}, "invalid_field", "value"),
            ("/secrets/OK", {}, "invalid_field", "value"),
            ("/secrets/OK", {"value": "x" * (64 * 1024 + 1)}, "invalid_field", "value"),
            ("/secrets/OK", {"value": "x", "note": "y"}, "unknown_field", "note")]:
        assert_error(api.call("PUT", path, body), 422, code, word)
    for raw in (b'{"value": "' + VALUE.encode() + b'"', b'{"value": "a\\u0000' +
                VALUE.encode() + b'"}', b'{"value": ' + VALUE.encode() + b'}'):
        msg = assert_error(api.call("PUT", "/secrets/OK", raw=raw), 400, "bad_json", "line 1")
        assert VALUE not in msg
    assert [x["name"] for x in api.get("/secrets")[1]] == ["API_KEY"]
    # The value is nowhere: answers, events, the log, the database in the clear.
    everything = [api.get("/secrets"), api.get("/containers"), api.get("/containers/web/events")]
    assert VALUE not in repr(everything)
    assert VALUE not in berthd.read_log()
    assert VALUE.encode() not in berthd.store_bytes()


def read_sse_until(sock, word, timeout=10):
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while word.encode() not in data and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def test_event_stream_and_metrics(berthd, api):
    st, o = api.post("/orgs", {"name": "other"})
    sock = socket.create_connection(("127.0.0.1", berthd.port))
    other = socket.create_connection(("127.0.0.1", berthd.port))
    try:
        for s, token in ((sock, api.token), (other, o["token"])):
            s.sendall(b"GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\n"
                      b"Authorization: Bearer " + token.encode() + b"\r\n\r\n")
        head = read_sse_until(sock, ": berth events")
        assert head.startswith("HTTP/1.1 200") and "text/event-stream" in head
        read_sse_until(other, ": berth events")
        metrics = http("GET", berthd.url + "/metrics")[2].decode()
        assert "berth_event_streams 2" in metrics
        assert api.post("/containers", {"name": "web", "config": config_text()})[0] == 202
        text = read_sse_until(sock, "container.created")
        assert re.search(r"id: \d+\nevent: container.created\ndata: \{.*\"container\":\"web\"",
                         text), text
        # Another org's stream hears nothing of it.
        other.settimeout(0.5)
        try:
            assert b"container.created" not in other.recv(65536)
        except socket.timeout:
            pass
    finally:
        sock.close()
        other.close()
    st, _, _ = http("GET", berthd.url + "/api/v1/events/stream")
    assert st == 401


def test_metrics_count_containers(berthd, api):
    st, headers, body = http("GET", berthd.url + "/metrics")
    assert st == 200 and headers["Content-Type"].startswith("text/plain")
    text = body.decode()
    assert 'berth_containers{status="deploying"} 0' in text
    for name in ("a", "b", "c"):
        assert api.post("/containers", {"name": name, "config": config_text()})[0] == 202
    assert api.call("DELETE", "/containers/c")[0] == 202
    st, o = api.post("/orgs", {"name": "other"})
    assert berthd.api(o["token"]).post("/containers",
                                       {"name": "a", "config": config_text()})[0] == 202
    text = http("GET", berthd.url + "/metrics")[2].decode()
    counts = {m[0]: int(m[1]) for m in
              re.findall(r'^berth_containers\{status="(\w+)"\} (\d+)$', text, re.M)}
    assert set(counts) == {"deploying", "running", "failed"}
    assert sum(counts.values()) == 3  # every org, deleted ones not
    for line in ('berth_updates_total{outcome="ready"}', 'berth_updates_total{outcome="failed"}',
                 'berth_updates_total{outcome="cancelled"}',
                 'berth_update_duration_seconds_bucket{le="+Inf"}',
                 "berth_update_duration_seconds_count", "berth_event_streams 0"):
        assert line in text, text
    n = int(re.search(r"^berth_api_requests_total (\d+)$", text, re.M).group(1))
    assert n >= 6


def stalled_create(berthd, api):
    """Sends a create whose git fetch reaches a server that never answers;
    returns (client socket, the stalled git connection, the listener) once a
    worker is inside the fetch."""
    stall = socket.socket()
    stall.bind(("127.0.0.1", 0))
    stall.listen(8)
    port = stall.getsockname()[1]
    body = ('{"name": "late", "repo": "http://127.0.0.1:%d/x.git", "tag": "v1"}' % port).encode()
    client = socket.create_connection(("127.0.0.1", berthd.port))
    client.sendall(b"POST /api/v1/containers HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   b"application/json\r\nAuthorization: Bearer " + api.token.encode() +
                   b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    stall.settimeout(10)
    git_conn, _ = stall.accept()
    return client, git_conn, stall


def test_client_gone_before_the_git_answer(berthd, api):
    """The client leaves while its create waits for git, then the fetch fails:
    the answer goes nowhere, nothing is created, the daemon keeps serving (and
    ASan, in this build, sees no use after free or leak at the end)."""
    client, git_conn, stall = stalled_create(berthd, api)
    client.close()
    time.sleep(0.3)
    git_conn.close()
    stall.close()
    time.sleep(1)
    assert api.get("/containers") == (200, [])
    assert api.get("/containers/late")[0] == 404
    assert http("GET", berthd.url + "/healthz")[0] == 200


def test_stop_while_a_request_waits_for_git(api_state_dir):
    """SIGTERM while a create waits for git: evhttp frees the request at
    shutdown, the job finishes later and must neither touch it nor leak."""
    berthd = Berthd(os.path.join(BUILD, "berthd"), api_state_dir, args=["--log-level", "debug"])
    client, git_conn, stall = stalled_create(berthd, berthd.api())
    berthd.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    git_conn.close()
    stall.close()
    rc = berthd.stop(timeout=60)
    client.close()
    log = berthd.read_log()
    assert rc == 0, log
    assert "AddressSanitizer" not in log and "LeakSanitizer" not in log, log
    # The fetch it waited for was killed, not waited for.
    assert "cancelled (berthd is stopping)" in log, log


def test_a_new_container_does_not_inherit_a_deleted_ones_events(berthd, api):
    """Events belong to a container, not to its name: after a delete, a new
    container of the same name starts with its own events only."""
    assert api.post("/containers", {"name": "same", "config": config_text()})[0] == 202
    old = api.get("/containers/same/events")[1]
    assert [e["kind"] for e in old][:1] == ["container.created"]
    assert api.call("DELETE", "/containers/same")[0] == 202
    deadline = time.monotonic() + 30
    while api.get("/containers/same")[0] != 404:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert api.post("/containers", {"name": "same", "config": config_text(port=8001)})[0] == 202
    new = api.get("/containers/same/events")[1]
    assert all(e["id"] > old[-1]["id"] for e in new), (old, new)
    assert [e["kind"] for e in new][:1] == ["container.created"]
    assert not any(e["kind"] == "container.deleting" for e in new), new


def test_a_deleted_containers_secrets_are_free_at_once(berthd, api):
    """DELETE /containers/X frees X's secrets with its name: the secret can
    be deleted at once, not only when the teardown has ended."""
    assert api.call("PUT", "/secrets/TOKEN", {"value": VALUE})[0] == 200
    assert api.post("/containers", {"name": "uses", "config":
                                    config_text(secrets=["TOKEN"])})[0] == 202
    assert_error(api.call("DELETE", "/secrets/TOKEN"), 409, "secret_in_use", "uses")
    assert api.call("DELETE", "/containers/uses")[0] == 202
    assert api.get("/secrets")[1][0]["bound_to"] == []
    st, _, _ = http("DELETE", berthd.url + "/api/v1/secrets/TOKEN", token=api.token)
    assert st == 204
