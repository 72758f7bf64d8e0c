"""Persistent volumes: a top-level `volumes` entry mounted by a container's
`persistent_volumes` is a directory of berth's state, owned as `owner` says
inside the enclave, mounted noexec unless `exec: true`, kept across a
blue-green and a recreate update, and removed when the container is deleted."""
import os
import time

from lifecycle_helpers import config_text


def volume_config(image, version, exec_=False, deploy=None):
    # Each version appends its name to /data/log and shows what it sees:
    # the log, the owner of /data and whether a script on it runs.
    script = ("stat -c %u:%g /data > /www/owner; "
              f"echo {version} >> /data/log; cp /data/log /www/log; "
              "printf '#!/bin/sh\\necho ran\\n' > /data/run.sh; chmod +x /data/run.sh; "
              "if /data/run.sh >/dev/null; then echo exec-ok; else echo exec-denied; fi > /www/exec; "
              "exec httpd -f -p 8080 -h /www")
    return config_text(image, entrypoint=["/bin/sh", "-c", script], deploy=deploy,
                       extra=["persistent_volumes:", "  - data:/data"],
                       top=["volumes:", "  - name: data", '    owner: "1000:1001"',
                            "    size: 64MiB", f"    exec: {'true' if exec_ else 'false'}"])


def update(b, name, config):
    status, u = b.call("POST", f"/containers/{name}/updates",
                       {"kind": "edit-config", "config": config})
    assert status == 202, u
    c = b.wait_update_end(name)
    assert c["update"]["status"] == "ready", c["update"]
    return u


def page(b, path):
    status, body, _ = b.get("vol", path, timeout=15)
    assert status == 200, (path, status, body)
    return body.decode()


def test_a_volume_outlives_updates_and_goes_with_its_container(berthd, registry):
    image = registry.images["hello:v1"]
    status, c = berthd.call("POST", "/containers",
                            {"name": "vol", "config": volume_config(image, "v1")})
    assert status == 202, c
    berthd.wait_status("vol", "running")
    assert page(berthd, "/log") == "v1\n"
    # The owner as the enclave sees it; on the host, shifted by the enclave's
    # user namespace base (the same for uid and gid).
    assert page(berthd, "/owner") == "1000:1001\n"
    assert page(berthd, "/exec") == "exec-denied\n"
    top = os.path.join(berthd.state, "volumes")
    (cid,) = os.listdir(top)
    st = os.stat(os.path.join(top, cid, "data"))
    assert st.st_uid - 1000 == st.st_gid - 1001 and st.st_uid > 1000, st
    assert open(os.path.join(top, cid, "data", "log")).read() == "v1\n"

    # Blue-green: v2 runs beside v1 for the switch, both mount it.
    u = update(berthd, "vol", volume_config(image, "v2"))
    assert u["strategy"] == "blue-green", u
    assert page(berthd, "/log") == "v1\nv2\n"
    # Recreate: v3 mounts it once v2 stopped; exec: true lets it run files.
    u = update(berthd, "vol", volume_config(image, "v3", exec_=True,
                                            deploy={"strategy": "recreate"}))
    assert u["strategy"] == "recreate", u
    assert page(berthd, "/log") == "v1\nv2\nv3\n"
    assert page(berthd, "/exec") == "exec-ok\n"

    status, body = berthd.call("DELETE", "/containers/vol")
    assert status == 202, body
    deadline = time.monotonic() + 60
    while os.listdir(top) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert os.listdir(top) == []


def test_an_encrypted_volume_is_refused(berthd, registry):
    cfg = volume_config(registry.images["hello:v1"], "v1").replace(
        "    exec: false", "    exec: false\n    key-secret: DISK_KEY")
    status, body = berthd.call("POST", "/containers", {"name": "enc", "config": cfg})
    assert status == 422, body
    assert "key-secret (an encrypted disk) is not supported yet" in str(body)
    assert not os.path.exists(os.path.join(berthd.state, "volumes"))


def test_a_volume_under_gvisor(registry):
    """gVisor keeps ids its own: the directory is owned by owner as it is,
    mounted noexec, and outlives an update there too."""
    from lifecycle_helpers import Berthd
    b = Berthd(args=["--runtime", "runsc"])
    try:
        image = registry.images["hello:v1"]
        status, c = b.call("POST", "/containers",
                           {"name": "vol", "config": volume_config(image, "v1")})
        assert status == 202, c
        b.wait_status("vol", "running")
        assert page(b, "/owner") == "1000:1001\n"
        assert page(b, "/exec") == "exec-denied\n"
        top = os.path.join(b.state, "volumes")
        (cid,) = os.listdir(top)
        st = os.stat(os.path.join(top, cid, "data"))
        assert (st.st_uid, st.st_gid) == (1000, 1001), st
        update(b, "vol", volume_config(image, "v2"))
        assert page(b, "/log") == "v1\nv2\n"
    finally:
        b.stop()


def test_a_failed_first_deploy_keeps_its_volume_until_the_delete(berthd, registry):
    cfg = config_text(registry.images["broken:v1"], deploy={"health-timeout": "4s"},
                      extra=["persistent_volumes:", "  - data:/data"],
                      top=["volumes:", "  - name: data"])
    status, c = berthd.call("POST", "/containers", {"name": "bad", "config": cfg})
    assert status == 202, c
    berthd.wait_status("bad", "failed", timeout=60)
    top = os.path.join(berthd.state, "volumes")
    (cid,) = os.listdir(top)
    assert os.listdir(os.path.join(top, cid)) == ["data"]
    assert berthd.call("DELETE", "/containers/bad")[0] == 202
    deadline = time.monotonic() + 60
    while os.listdir(top) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert os.listdir(top) == []
