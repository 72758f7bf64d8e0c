"""The attestation document while a container is held (the gap of a
recreate, stop-then-start) and while it is down (docs/verification.md, "While
held or down"): during the gap it is answered at once, not held, and
describes the new version, the one the held requests reach; while nothing
serves it is a 503 with a sentence, never a document of a version that does
not run."""
import json
import os
import threading
import time

from test_attestation import (ATTEST, attest_https, check_signature, deploy, host_key_of,
                              spki_sha256)
from tls_helpers import Berthd, config_text


def update(b, name, **body):
    status, u = b.call("POST", f"/containers/{name}/updates", body)
    assert status == 202, u
    return u


def test_held_then_down(registry):
    b = Berthd(args=["--gpus", "8"])
    try:
        host = host_key_of(b)["host_key"]
        v1 = config_text(registry.images["hello:v1"], gpus=8)
        # v2 listens only after 6 s: a gap long enough to look into.
        v2 = config_text(registry.images["slow:v1"], gpus=8, env={"SLOW_SECONDS": "6"})
        c1 = deploy(b, "llm", config=v1)
        nonce = os.urandom(16).hex()
        status, body, _ = attest_https(b, "llm", nonce)
        assert status == 200 and json.loads(body)["deployment"] == c1["deployment"]["id"]

        u = update(b, "llm", kind="edit-config", config=v2)
        assert u["strategy"] == "recreate", u
        # A request of the app during the gap waits for v2 (held)...
        held = {}

        def app_request():
            t = time.monotonic()
            held["status"], held["body"], _ = b.get("llm", "/", timeout=60)
            held["s"] = time.monotonic() - t

        t = threading.Thread(target=app_request)
        docs = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            c = b.container("llm")
            if c["update"]["finished_at"] is not None:
                break
            if c["update"]["phase"] == "deploying" and not t.is_alive() and "s" not in held:
                t.start()
            t0 = time.monotonic()
            status, body, der = attest_https(b, "llm", nonce)
            took = time.monotonic() - t0
            if status == 200:
                doc = json.loads(body)
                check_signature(doc, host)
                assert doc["tls_public_key_sha256"] == spki_sha256(der)
                docs.append((c["update"]["phase"], doc["deployment"], took))
            time.sleep(0.2)
        t.join(60)
        c = b.wait_update_end("llm")
        assert c["update"]["status"] == "ready", c["update"]
        new = c["deployment"]["id"]
        assert new == u["to"] != c1["deployment"]["id"]
        # ...while the document is answered at once, of the new version.
        gap = [d for d in docs if d[0] == "deploying"]
        assert gap, docs
        assert all(dep == new for _, dep, _ in gap), docs
        assert all(took < 2 for _, _, took in gap), docs
        assert held.get("status") == 200 and held["body"] == b"slow\n", held
        assert held["s"] > 1, held  # it did wait for v2

        # Down: a recreate to a version that never becomes healthy stops v2
        # and fails: nothing serves, and nothing is attested.
        bad = config_text(registry.images["broken:v1"], gpus=8, deploy={"health-timeout": "4s"})
        update(b, "llm", kind="edit-config", config=bad)
        c = b.wait_update_end("llm")
        assert c["update"]["status"] == "failed" and c["status"] == "failed", c
        assert b.get("llm")[0] == 503
        status, body, _ = attest_https(b, "llm", nonce)
        assert status == 503 and b"nothing to attest" in body, (status, body)
        status, body, headers = b.get("llm", f"{ATTEST}?nonce={nonce}")
        assert status == 503 and b"nothing to attest" in body and headers.get("Retry-After")
        # Back up: the document again, of what serves.
        update(b, "llm", kind="edit-config", config=v1)
        c = b.wait_update_end("llm")
        assert c["update"]["status"] == "ready"
        status, body, _ = attest_https(b, "llm", nonce)
        assert status == 200 and json.loads(body)["deployment"] == c["deployment"]["id"]
    finally:
        b.stop()
