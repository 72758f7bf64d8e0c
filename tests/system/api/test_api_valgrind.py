"""Every handler once under valgrind (release build): no leak, no error."""
import json
import os
import signal
import socket
import time


from api_helpers import RELEASE, Berthd, config_text, http, make_source, suite_checks


def test_api_handlers_valgrind_clean(api_state_dir):
    suite_checks.require("valgrind", os.path.join(RELEASE, "berthd"))
    src = make_source(os.path.join(api_state_dir, "src-repo"),
                      [("v1", config_text()), ("v2", config_text(port=8001)),
                       ("bad", "containers: [\n")])
    d = Berthd(os.path.join(RELEASE, "berthd"), api_state_dir,
               wrapper=["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                        "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite"])
    try:
        api = d.api()
        T = 60

        def call(method, path, body=None, raw=None, token=None):
            data = raw if raw is not None else (json.dumps(body).encode()
                                                if body is not None else None)
            # Under valgrind a fetch may take longer than the API waits for
            # one (504): ask again, as a client would, joining that fetch.
            for _ in range(60):
                st, _, out = http(method, d.url + "/api/v1" + path, data,
                                  token=token or api.token, timeout=T)
                if st != 504:
                    break
                time.sleep(0.5)
            return st, out

        assert call("PUT", "/secrets/API_KEY", {"value": "v"})[0] == 200
        assert call("PUT", "/secrets/API_KEY", raw=b'{"value": "v')[0] == 400
        assert call("POST", "/containers", {"name": "web", "config": config_text(),
                                            "secrets": ["API_KEY"], "env": {"A": "1"},
                                            "debug": True})[0] == 202
        assert call("POST", "/containers", {"name": "g", "repo": src, "tag": "v1"})[0] == 202
        def refused_from_source(tag):
            """422, or (the fetch slower than the API's wait under valgrind)
            202 and the container failed once fetched: both paths run."""
            st, out = call("POST", "/containers", {"name": "x", "repo": src, "tag": tag})
            if st == 202:
                deadline = time.monotonic() + T
                while json.loads(call("GET", "/containers/x")[1])["status"] != "failed":
                    assert time.monotonic() < deadline
                    time.sleep(0.5)
                assert call("DELETE", "/containers/x")[0] == 202
                while call("GET", "/containers/x")[0] != 404:
                    assert time.monotonic() < deadline
                    time.sleep(0.5)
                return
            assert st == 422, out

        refused_from_source("bad")
        refused_from_source("v9")
        assert call("POST", "/containers", {"name": "x", "config": "shim: ["})[0] == 422
        assert call("POST", "/containers", {"name": "x", "config": config_text(),
                                            "secrets": ["NOPE"]})[0] == 422
        assert call("POST", "/containers", {"name": "web", "config": config_text()})[0] == 409
        assert call("POST", "/containers", {"name": "x", "oops": 1})[0] == 422
        assert call("POST", "/containers", raw=b"{")[0] == 400
        assert call("GET", "/containers")[0] == 200
        assert call("GET", "/containers/web")[0] == 200
        assert call("GET", "/containers/g/tags")[0] == 200
        assert call("GET", "/containers/web/tags")[0] == 422
        assert call("POST", "/containers/g/updates", {"kind": "tag", "tag": "v2"})[0] == 202
        assert call("POST", "/containers/g/updates", {"kind": "retry"})[0] == 409
        assert call("POST", "/containers/g/updates/current/cancel")[0] == 202
        assert call("POST", "/containers/g/updates", {"kind": "tag", "tag": "v9"})[0] == 422
        assert call("POST", "/containers/web/updates",
                    {"kind": "edit-config", "env": {"B": "2"}, "secrets": []})[0] == 202
        assert call("POST", "/containers/web/updates/current/cancel")[0] == 202
        assert call("POST", "/containers/web/updates", {"kind": "promote"})[0] == 202
        assert call("POST", "/containers/web/updates/current/cancel")[0] == 202
        assert call("POST", "/containers/web/updates", {"kind": "retry"})[0] == 202
        assert call("GET", "/containers/web/updates")[0] == 200
        assert call("GET", "/containers/web/events?after=1")[0] == 200
        assert call("GET", "/containers/web/events?after=x")[0] == 400
        assert call("GET", "/secrets")[0] == 200
        assert call("DELETE", "/secrets/API_KEY")[0] == 409
        st, out = call("POST", "/orgs", {"name": "other"})
        assert st == 201
        assert call("GET", "/containers/web", token=json.loads(out)["token"])[0] == 404
        assert call("DELETE", "/containers/web")[0] == 202
        assert http("GET", d.url + "/metrics", timeout=T)[0] == 200
        sock = socket.create_connection(("127.0.0.1", d.port))
        sock.sendall(b"GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer " + api.token.encode() + b"\r\n\r\n")
        sock.settimeout(T)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        assert call("POST", "/containers", {"name": "s", "config": config_text()})[0] == 202
        sock.close()
        time.sleep(0.5)
    finally:
        rc = d.stop(signal.SIGTERM, timeout=120)
    assert rc == 0, d.read_log()
