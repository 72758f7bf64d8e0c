"""Peers that never answer cannot hold berth: deploys whose image lives on a
registry that accepts connections and stays silent fail with a sentence that
names the registry and the deadline, and meanwhile another registry's deploy
runs as usual (pulls wait in a lane per registry)."""
import socket
import threading
import time

import pytest

from lifecycle_helpers import Berthd, config_text


class SilentRegistry:
    """Accepts every connection, reads nothing, answers nothing."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.host = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.conns = []
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.thread.join()
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def silent_registry():
    s = SilentRegistry()
    yield s
    s.close()


def test_stuck_registry_holds_neither_workers_nor_other_deploys(registry, silent_registry):
    # Four fetch workers: without lanes the eight stuck pulls would hold them
    # all for 40 s, twice over, before the good one's turn.
    b = Berthd(args=["--fetch-workers", "4", "--fetch-idle-timeout", "40"])
    try:
        stuck = f"{silent_registry.host}/app@sha256:" + "ab" * 32
        for i in range(8):
            st, c = b.call("POST", "/containers",
                           {"name": f"stuck{i}", "config": config_text(stuck)})
            assert st == 202, c
        t0 = time.monotonic()
        st, c = b.call("POST", "/containers",
                       {"name": "good", "config": config_text(registry.images["hello:v1"])})
        assert st == 202, c
        b.wait_status("good", "running", timeout=30)
        assert time.monotonic() - t0 < 30
        assert b.get("good")[1] == b"hello v1\n"
        # The first stuck ones end at the idle deadline with the reason.
        c = b.wait_status("stuck0", "failed", timeout=60)
        assert f"{silent_registry.host} went silent for 40 s (--fetch-idle-timeout)" in \
            c["status_detail"], c["status_detail"]
    finally:
        b.stop()
