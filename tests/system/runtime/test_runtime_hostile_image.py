"""An image whose /etc/passwd and /etc/group are FIFOs, deployed with a named
user: each deploy fails at once with an error naming the file, and an enclave
created alongside boots. (berth used to block opening the FIFO, for good.)"""
import json
import os
import subprocess

from runtime_helpers import USERNS_BASE, http_get

FIFO_ERROR = "container app: the image's /etc/passwd is not a regular file (a FIFO)"


def fifo_rootfs(rootfs, dest):
    subprocess.run(["cp", "-a", rootfs, dest], check=True)
    for name in ("passwd", "group"):
        path = os.path.join(dest, "etc", name)
        os.unlink(path)
        os.mkfifo(path, 0o644)
        os.lchown(path, USERNS_BASE, USERNS_BASE)
    return dest


def test_fifo_passwd_fails_fast_and_blocks_nothing(rt, tmp_path):
    hostile = fifo_rootfs(rt.rootfs, str(tmp_path / "fifo-rootfs"))
    paths, bad = [], []
    for i in range(5):
        bad.append(rt.name("f%d" % i))
        spec = {"name": bad[-1], "containers": [
            rt.container("app", rootfs=hostile, user="appuser", command=["sleep", "1000"])]}
        paths.append(str(tmp_path / ("fifo%d.json" % i)))
        with open(paths[-1], "w") as f:
            json.dump(spec, f)
    good = rt.name("ok")
    paths.append(str(tmp_path / "ok.json"))
    with open(paths[-1], "w") as f:
        json.dump({"name": good, "containers": [rt.container("web")]}, f)

    # One thread per deploy, as berthd's workers: the five fail, the sixth boots.
    p = rt.run("create-parallel", *paths, check=False, timeout=60)
    assert p.returncode == 1, p.stderr
    assert p.stderr.count(FIFO_ERROR) == 5, p.stderr
    made = [json.loads(l) for l in p.stdout.splitlines()]
    assert [m["name"] for m in made] == [good]
    assert http_get(made[0]["ip"]) == "hello from busybox\n"
    assert rt.list() == [good]
    for name in bad:
        assert not os.path.exists(os.path.join(rt.netns_dir, name))
        assert name not in open("/proc/mounts").read()

    # The group file is read the same way: a regular passwd, a FIFO group.
    passwd = os.path.join(hostile, "etc", "passwd")
    os.unlink(passwd)
    subprocess.run(["cp", "-a", os.path.join(rt.rootfs, "etc", "passwd"), passwd], check=True)
    p = rt.create(rt.name("g"), [rt.container("app", rootfs=hostile, user="app:staff",
                                              command=["sleep", "1000"])], check=False)
    assert p.returncode == 1
    assert "container app: the image's /etc/group is not a regular file (a FIFO)" in p.stderr
