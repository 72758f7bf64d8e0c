"""The durability gate: with commits that return before they are on the
disk (SQLite's synchronous = NORMAL), no answer to a write and no side effect
of the reconciler comes before the flush that covers it. berthd is started
with every flush made slow (BERTH_FLUSH_DELAY_MS, a slow disk): an update's
answer waits for its flush, its new enclave is not booted before a flush
that covers its row, a read does not wait, and the update still finishes."""
import os
import signal
import threading
import time

DELAY_S = 1.0


def enclaves(b):
    d = os.path.join(b.state, "enclaves")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def test_answers_and_actions_wait_for_their_flush(berthd, repo):
    b = berthd
    status, c = b.call("POST", "/containers", {"name": "web", "repo": repo.dir, "tag": "v1"})
    assert status == 202, c
    b.wait_status("web", "running")
    before = enclaves(b)
    assert len(before) == 1, before
    b.kill(signal.SIGTERM)
    b.start(env={"BERTH_FLUSH_DELAY_MS": str(int(DELAY_S * 1000))})
    b.wait_status("web", "running")

    # Watch the enclaves from the side while the update is asked for.
    first_new = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            if set(enclaves(b)) - set(before):
                first_new.append(time.monotonic())
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    t0 = time.monotonic()
    status, u = b.call("POST", "/containers/web/updates", {"kind": "tag", "tag": "v2"})
    answered = time.monotonic() - t0
    try:
        assert status == 202, u
        # The answer waited for the flush of the update's commit.
        assert answered >= DELAY_S * 0.9, answered
        # A read does not wait for a flush.
        t1 = time.monotonic()
        status, _ = b.call("GET", "/containers/web")
        assert status == 200 and time.monotonic() - t1 < DELAY_S * 0.5
        # The new enclave's row is written after the request came, and its
        # boot waits for a flush that covers the row, so one that began
        # after t0 and took DELAY_S (allowing 10%). (Two flushes when the
        # update's own had begun before the row was written; one when both
        # commits made the same flush.)
        deadline = t0 + 60
        while not first_new and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first_new, "no new enclave"
        assert first_new[0] - t0 >= DELAY_S * 0.9, first_new[0] - t0
    finally:
        stop.set()
        watcher.join()
    c = b.wait_update_end("web", timeout=120)
    assert c["update"]["status"] == "ready", c["update"]
    assert b.get("web")[1] == b"hello v2\n"
