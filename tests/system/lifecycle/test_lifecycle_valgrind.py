"""The release berthd runs a deploy, a blue-green update and a delete under
valgrind with no error and no definite leak."""
import os

from lifecycle_helpers import ROOT, Berthd, suite_checks

RELEASE = os.environ.get("BERTH_RELEASE_BUILD", os.path.join(ROOT, "build"))


def test_lifecycle_under_valgrind(repo):
    suite_checks.require("valgrind", os.path.join(RELEASE, "berthd"))
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
