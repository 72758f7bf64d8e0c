"""The release berthd runs a deploy, a blue-green update and a delete under
valgrind with no error and no definite leak."""
import os
import shutil
import signal

import pytest

from lifecycle_helpers import ROOT, Berthd

RELEASE = os.environ.get("BERTH_RELEASE_BUILD", os.path.join(ROOT, "build"))


@pytest.mark.skipif(shutil.which("valgrind") is None or
                    not os.path.exists(os.path.join(RELEASE, "berthd")),
                    reason="needs valgrind and the release build")
def test_lifecycle_under_valgrind(repo):
    b = Berthd(binary=os.path.join(RELEASE, "berthd"),
               wrapper=["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                        "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
                        "--child-silent-after-fork=yes"])
    try:
        assert b.call("POST", "/containers", {"name": "web", "repo": repo.dir,
                                              "tag": "v1"})[0] == 202
        b.wait_status("web", "running", timeout=120)
        assert b.call("POST", "/containers/web/updates", {"kind": "tag", "tag": "v2"})[0] == 202
        c = b.wait_update_end("web", timeout=120)
        assert c["update"]["status"] == "ready", c["update"]
        assert b.get("web")[1] == b"hello v2\n"
    finally:
        rc = b.stop()
    assert rc == 0, b.read_log()[-5000:]
