"""Enclaves for real: runc, network namespaces, the bridge, overlays."""
import json
import os
import re
import stat
import subprocess
import time

import pytest

from runtime_helpers import Runtime, http_get


def test_boot_httpd_reachable_from_host(rt):
    e = rt.create(rt.name(), [rt.container("web")])
    assert e["observed"] == "running"
    assert e["ip"].startswith(rt.subnet.rsplit(".", 1)[0] + ".")
    assert http_get(e["ip"]) == "hello from busybox\n"
    st = rt.state_of(e["name"])
    assert st["containers"][0]["status"] == "running"
    assert st["ip"] == e["ip"]
    # Inside: its own hostname, lo up, eth0 with the enclave's address.
    out = rt.exec(e["name"], "web", "sh", "-c", "hostname; ip -o -4 addr").stdout
    assert out.splitlines()[0] == "web"
    assert "lo " in out and "127.0.0.1" in out and e["ip"] in out
    # No egress: no default route, only the bridge's subnet.
    routes = rt.exec(e["name"], "web", "ip", "route").stdout
    assert "default" not in routes and routes.startswith(rt.subnet.split("/")[0])


def test_create_twice_is_refused_and_changes_nothing(rt):
    e = rt.create(rt.name(), [rt.container("web")])
    p = rt.create(e["name"], [rt.container("web")], check=False)
    assert p.returncode == 1 and "exists already" in p.stderr
    assert rt.state_of(e["name"])["observed"] == "running"
    assert http_get(e["ip"]) == "hello from busybox\n"


def test_blue_green_side_by_side(rt):
    blue = rt.create(rt.name("b"), [rt.container("web")])
    green = rt.create(rt.name("g"), [rt.container("web")])
    assert blue["ip"] != green["ip"]
    rt.exec(blue["name"], "web", "sh", "-c", "echo blue > /www/color.html")
    rt.exec(green["name"], "web", "sh", "-c", "echo green > /www/color.html")
    assert http_get(blue["ip"], path="/color.html") == "blue\n"
    assert http_get(green["ip"], path="/color.html") == "green\n"
    # Writes land in each enclave's overlay, never in the shared image rootfs.
    assert not os.path.exists(os.path.join(rt.rootfs, "www/color.html"))
    # The bridge's MAC address is pinned: a bridge left to follow its
    # lowest port's would change it when an enclave goes, and the others'
    # answers to their (stale) gateway address would be lost.
    net = "/sys/class/net/" + rt.bridge
    assert open(net + "/addr_assign_type").read().strip() == "3"
    mac = open(net + "/address").read()
    rt.run("destroy", blue["name"])
    assert open(net + "/address").read() == mac
    assert http_get(green["ip"], path="/color.html") == "green\n"


def test_containers_of_one_enclave_share_localhost_and_names(rt):
    e = rt.create(rt.name(), [
        rt.container("web"),
        rt.container("client", command=["sleep", "1000"]),
    ])
    out = rt.exec(e["name"], "client", "wget", "-qO-", "http://localhost:8080/index.html").stdout
    assert out == "hello from busybox\n"
    out = rt.exec(e["name"], "client", "wget", "-qO-", "http://web:8080/index.html").stdout
    assert out == "hello from busybox\n"
    # Separate pid namespaces: the client does not see httpd.
    ps = rt.exec(e["name"], "client", "ps").stdout
    assert "httpd" not in ps


def test_settings_take_effect_inside(rt):
    box = rt.container(
        "box",
        image={"cmd": ["sleep", "1000"], "env": ["FROM_IMAGE=i", "OVERRIDE=image"],
               "working_dir": "/www"},
        env=[["OVERRIDE", "config"], ["FROM_SETTING"], ["UNSET_BARE"]],
        secrets=["API_KEY"],
        user="app:staff",
        working_dir="/tmp",
        read_only=True,
        tmpfs=[{"path": "/scratch", "options": "size=1m,mode=1777"},
               {"path": "/run/x", "options": "exec"}],
        cap_add=["IPC_LOCK"],
        pids_limit=20, memory=64 * 1024 * 1024, cpus=0.5)
    e = rt.create(rt.name(), [box], settings={"FROM_SETTING": "s"}, secrets={"API_KEY": "k3y"})
    n = e["name"]
    env = rt.exec(n, "box", "env").stdout
    assert "FROM_IMAGE=i\n" in env and "OVERRIDE=config\n" in env
    assert "FROM_SETTING=s\n" in env and "API_KEY=k3y\n" in env
    assert "UNSET_BARE" not in env and "HOSTNAME=box\n" in env
    assert rt.exec(n, "box", "id").stdout.startswith("uid=1000(app) gid=50(staff)")
    assert rt.exec(n, "box", "pwd").stdout == "/tmp\n"
    # read_only root; tmpfs writable with its options.
    p = rt.exec(n, "box", "touch", "/www/x", check=False)
    assert p.returncode != 0 and "Read-only" in (p.stdout + p.stderr)
    rt.exec(n, "box", "touch", "/scratch/x")
    mounts = rt.exec(n, "box", "cat", "/proc/mounts").stdout
    scratch = [l for l in mounts.splitlines() if " /scratch " in l][0]
    assert "size=1024k" in scratch and "noexec" in scratch and "nosuid" in scratch
    runx = [l for l in mounts.splitlines() if " /run/x " in l][0]
    assert "noexec" not in runx
    # Capabilities: IPC_LOCK (14) added to the default set (CHOWN 0, KILL 5).
    bnd = [l for l in rt.exec(n, "box", "cat", "/proc/self/status").stdout.splitlines()
           if l.startswith("CapBnd")][0]
    caps = int(bnd.split()[1], 16)
    assert caps & (1 << 14) and caps & (1 << 0) and caps & (1 << 5)
    # cgroup limits, read from inside.
    assert rt.exec(n, "box", "cat", "/sys/fs/cgroup/pids/pids.max").stdout.strip() == "20"
    assert rt.exec(n, "box", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes").stdout.strip() == str(64 << 20)
    assert rt.exec(n, "box", "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us").stdout.strip() == "50000"
    # The pids limit bites: 30 sleeps do not all start.
    p = rt.exec(n, "box", "sh", "-c", "for i in $(seq 30); do sleep 1 & done; wait", check=False)
    assert "fork" in (p.stdout + p.stderr).lower() or "resource" in (p.stdout + p.stderr).lower()


def test_numeric_user_and_image_defaults(rt):
    e = rt.create(rt.name(), [rt.container("box", image={"cmd": ["sleep", "1000"], "user": "1000"})])
    assert rt.exec(e["name"], "box", "id", "-u").stdout == "1000\n"
    assert rt.exec(e["name"], "box", "id", "-g").stdout == "1000\n"
    # Non-root: no effective capabilities.
    status = rt.exec(e["name"], "box", "cat", "/proc/self/status").stdout
    assert re.search(r"CapEff:\s+0+\n", status)


@pytest.mark.parametrize("bad,message", [
    ({"user": "ghost"}, 'user "ghost" not found'),
    ({"secrets": ["MISSING"]}, "secret MISSING was not provided"),
    ({"cap_add": ["NOT_A_CAP"]}, "unknown capability"),
    ({"cap_add": ["SYS_ADMIN"]}, "cap_add SYS_ADMIN is refused"),
    ({"cap_add": ["ALL"]}, "cap_add ALL is refused"),
    ({"cap_drop": ["CHOWN"]}, "cap_drop is refused"),
    ({"privileged": True}, "privileged containers are refused"),
    ({"security_opt": ["seccomp=unconfined"]}, "security_opt is refused"),
    ({"devices": ["/dev/kmsg"]}, "devices are refused"),
    ({"pid": "host"}, "pid is refused"),
    ({"ipc": "container:x"}, "ipc must be"),
    ({"tmpfs": [{"path": "/t", "options": "size=1m,evil=1"}]}, 'unsupported option "evil=1"'),
    ({"image": {}}, "no command"),
    ({"stop_signal": "SIGNOPE"}, "unknown signal"),
    ({"rootfs": "/nonexistent/rootfs"}, "rootfs /nonexistent/rootfs: No such file"),
    ({"rootfs": "relative/rootfs"}, "rootfs must be an absolute path"),
    ({"pids_limit": 5, "command": ["/no/such/binary"]}, "create b-t"),
])
def test_bad_input_is_refused_and_leaves_nothing(rt, bad, message):
    name = rt.name()
    c = rt.container("web")
    c.update(bad)
    p = rt.create(name, [c], check=False)
    assert p.returncode == 1 and message in p.stderr, p.stderr
    assert rt.list() == []
    assert not os.path.exists(os.path.join(rt.netns_dir, name))
    assert name not in open("/proc/mounts").read()
    links = subprocess.run(["ip", "-o", "link", "show", "master", rt.bridge],
                           capture_output=True, text=True).stdout
    assert links.strip() == ""


def test_bad_names_are_refused(rt):
    p = rt.create("Bad/Name", [rt.container("web")], check=False)
    assert p.returncode == 1 and "is not 1-40 of [a-z0-9-]" in p.stderr
    p = rt.create(rt.name(), [rt.container("../up")], check=False)
    assert p.returncode == 1 and "invalid name" in p.stderr
    p = rt.create(rt.name(), [rt.container("web"), rt.container("web")], check=False)
    assert p.returncode == 1 and "twice" in p.stderr


def test_stop_honours_stop_signal(rt):
    trap = rt.container("svc", command=[
        "sh", "-c", "trap 'echo got usr1; exit 0' USR1; echo ready; while true; do sleep 1 & wait; done"],
        stop_signal="SIGUSR1", stop_timeout_ms=20000)
    e = rt.create(rt.name(), [trap])
    time.sleep(0.3)
    t0 = time.monotonic()
    st = json.loads(rt.run("stop", e["name"]).stdout)
    took = time.monotonic() - t0
    assert took < 5, took
    assert st["containers"][0]["status"] == "absent"
    log = open(e["containers"][0]["log"]).read()
    assert "ready\n" in log and "got usr1\n" in log


def test_stop_kills_after_stop_timeout(rt):
    stubborn = rt.container("svc", command=["sh", "-c", "trap '' TERM; while true; do sleep 1; done"],
                            stop_timeout_ms=1500)
    e = rt.create(rt.name(), [stubborn])
    time.sleep(0.3)
    t0 = time.monotonic()
    rt.run("stop", e["name"])
    took = time.monotonic() - t0
    assert 1.4 <= took < 6, took
    out = subprocess.run(["runc", "--root", rt.oci_root, "list", "-q"], capture_output=True, text=True).stdout
    assert e["containers"][0]["id"] not in out


def test_logs_captured_and_capped(tmp_path, rootfs):
    r = Runtime(str(tmp_path), rootfs, log_max=16384)
    try:
        script = ("echo to-stderr >&2; i=0; while [ $i -lt 2000 ]; do "
                  "echo \"line $i ................................................\"; "
                  "i=$((i+1)); done; echo done; sleep 1000")
        e = r.create(r.name(), [r.container("chatty", command=["sh", "-c", script])])
        log = e["containers"][0]["log"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.exists(log) and "done\n" in open(log).read():
                break
            time.sleep(0.1)
        cur, old = open(log).read(), open(log + ".1").read()
        assert cur.endswith("done\n")
        assert os.path.getsize(log) <= 16384 and os.path.getsize(log + ".1") <= 16384
        assert "line 1999 " in cur
        # Older output was rotated away: only two files, capped.
        assert "to-stderr" not in cur and not os.path.exists(log + ".2")
        assert "line 0 " not in cur + old
        # The tail spans both files when it must.
        tail = r.run("logs", e["name"], "chatty", "3").stdout
        assert tail.splitlines() == ["line 1998 " + "." * 48, "line 1999 " + "." * 48, "done"]
        lines = cur.count("\n") + 5
        tail = r.run("logs", e["name"], "chatty", str(lines)).stdout
        assert tail.count("\n") == lines and tail.endswith(cur)
        assert r.run("logs", e["name"], "chatty", "0").stdout == ""
    finally:
        r.cleanup()


def test_stderr_is_captured(rt):
    e = rt.create(rt.name(), [rt.container("c", command=["sh", "-c", "echo oops >&2; echo fine; sleep 1000"])])
    log = e["containers"][0]["log"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "fine" not in open(log).read():
        time.sleep(0.05)
    assert "oops\n" in open(log).read() and "fine\n" in open(log).read()


def test_adopt_after_driver_restart(rt):
    name = rt.name()
    e = rt.create(name, [rt.container("web")])
    # The creating process has exited: a new one finds the enclave, running.
    assert rt.list() == [name]
    st = rt.state_of(name)
    assert st["observed"] == "running" and st["ip"] == e["ip"]
    assert http_get(e["ip"]) == "hello from busybox\n"
    # The log copier outlived its creator too.
    rt.exec(name, "web", "sh", "-c", "echo late-line > /proc/1/fd/1")
    log = e["containers"][0]["log"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "late-line" not in open(log).read():
        time.sleep(0.05)
    assert "late-line\n" in open(log).read()
    st = json.loads(rt.run("stop", name).stdout)
    assert st["observed"] == "absent"
    assert json.loads(rt.run("state", name).stdout)["observed"] == "absent"
    rt.run("stop", name)  # again: nothing left to stop is fine
    rt.run("destroy", name)
    assert rt.list() == []
    p = rt.run("state", name, check=False)
    assert p.returncode == 1 and "No such file" in p.stderr


def _procs_mentioning(text):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_destroy_leaves_nothing_behind(rt):
    name = rt.name()
    e = rt.create(name, [rt.container("web"), rt.container("side", command=["sleep", "1000"])])
    ids = [c["id"] for c in e["containers"]]
    assert os.path.exists(os.path.join(rt.netns_dir, name))
    assert subprocess.run(["ip", "-o", "link", "show", "master", rt.bridge],
                          capture_output=True, text=True).stdout.strip() != ""
    copiers = _procs_mentioning(rt.state)  # the log copiers
    assert copiers
    assert {open("/proc/%d/comm" % p).read().strip() for p in copiers} == {"berth-logcopy"}
    rt.run("destroy", name)
    # Repeating it is fine.
    rt.run("destroy", name)
    assert not os.path.exists(os.path.join(rt.netns_dir, name))
    mounts = open("/proc/mounts").read()
    assert name not in mounts and rt.state not in mounts
    veths = subprocess.run(["ip", "-o", "link", "show", "master", rt.bridge],
                           capture_output=True, text=True).stdout
    assert veths.strip() == ""
    listed = subprocess.run(["runc", "--root", rt.oci_root, "list", "-q"], capture_output=True, text=True).stdout
    assert not any(i in listed for i in ids)
    assert not os.path.exists(os.path.join(rt.state, "enclaves", name))
    # The address went back to the pool.
    ipam = os.path.join(rt.state, "ipam", rt.bridge)
    assert e["ip"] not in os.listdir(ipam)
    # Containers and copiers are gone.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _procs_mentioning(rt.state):
        time.sleep(0.05)
    assert _procs_mentioning(rt.state) == []
    for c in e["containers"]:
        assert not os.path.exists("/proc/%d" % c["pid"]) or \
            "Z" in open("/proc/%d/stat" % c["pid"]).read().split()[2]


def test_destroy_cleans_up_a_half_made_enclave(rt):
    """A crash after the namespace and address, before any container."""
    name = rt.name()
    e = rt.create(name, [rt.container("web")])
    subprocess.run(["runc", "--root", rt.oci_root, "delete", "--force", e["containers"][0]["id"]], check=True)
    assert rt.list() == [name]
    assert rt.state_of(name)["observed"] == "absent"
    rt.run("destroy", name)
    assert rt.list() == [] and not os.path.exists(os.path.join(rt.netns_dir, name))


def test_exec_has_a_deadline(rt):
    e = rt.create(rt.name(), [rt.container("web")])
    t0 = time.monotonic()
    p = rt.exec(e["name"], "web", "sleep", "30", timeout_ms=500, check=False)
    assert p.returncode == 1 and "did not finish" in p.stderr
    assert time.monotonic() - t0 < 5
    # What ran inside was killed too.
    assert "sleep 30" not in rt.exec(e["name"], "web", "ps").stdout
    p = rt.exec(e["name"], "web", "sh", "-c", "exit 7", check=False)
    assert p.returncode == 7
    p = rt.exec(e["name"], "nope", "true", check=False)
    assert p.returncode == 1 and "no container nope" in p.stderr


def test_crun_detection_falls_back_to_runc(rt, tmp_path):
    fake = tmp_path / "fakebin"
    fake.mkdir()
    crun = fake / "crun"
    crun.write_text("#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'crun version 1.8.1'; exit 0; fi\n"
                    "echo 'cgroups in hybrid mode not supported' >&2; exit 1\n")
    crun.chmod(0o755)
    rt.env["PATH"] = "%s:%s" % (fake, os.environ["PATH"])
    p = rt.run("detect")
    assert json.loads(p.stdout)["runtime"] == "runc"
    assert "crun not usable" in p.stderr and "hybrid" in p.stderr
    # Asked for by name, a crun that cannot run is an error, not a fallback.
    p = rt.run("--runtime", str(crun), "detect", check=False)
    assert p.returncode == 1 and "cannot run a container here" in p.stderr
    # Without the fake, whatever is detected really runs a container.
    rt.env["PATH"] = os.environ["PATH"]
    assert json.loads(rt.run("detect").stdout)["runtime"] in ("runc", "crun")


def test_gpu_detection_and_injection(rt, tmp_path):
    dev = tmp_path / "dev"
    dev.mkdir()
    # Fake GPU nodes: the null device's numbers, harmless inside a container.
    for n in ("nvidia0", "nvidia1", "nvidiactl"):
        os.mknod(dev / n, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.chmod(dev / n, 0o666)  # as NVIDIA's driver makes them (the umask aside)
    (dev / "nvidia-foo").write_text("")
    g = json.loads(rt.run("--dev-dir", str(dev), "gpus").stdout)
    assert g["gpus"] == 2 and g["simulated"] is False
    # Without GPUs in /dev (this driver run), asking for one is an error.
    p = rt.create(rt.name(), [rt.container("gpu", command=["sleep", "1000"], gpus=1)], gpus=[1],
                  check=False)
    assert p.returncode == 1 and "gpu 1 does not exist (host has 0)" in p.stderr
    spec = {"name": rt.name("x"), "containers": [rt.container("gpu", command=["sleep", "1000"], gpus=1)],
            "gpus": [1]}
    path = tmp_path / "g.json"
    path.write_text(json.dumps(spec))
    out = json.loads(rt.run("--dev-dir", str(dev), "create", str(path)).stdout)
    ls = rt.exec(out["name"], "gpu", "ls", "/dev").stdout.split()
    # Asking for more than the enclave was given is an error, not fewer GPUs.
    spec["name"] = rt.name("y")
    spec["containers"][0]["gpus"] = 2
    path.write_text(json.dumps(spec))
    p = rt.run("--dev-dir", str(dev), "create", str(path), check=False)
    assert p.returncode == 1 and "asks for 2 GPU(s), the enclave was given 1" in p.stderr
    assert "nvidia1" in ls and "nvidiactl" in ls and "nvidia0" not in ls
    assert "NVIDIA_VISIBLE_DEVICES=1" in rt.exec(out["name"], "gpu", "env").stdout
    # Device cgroup allows it: reading the node works.
    rt.exec(out["name"], "gpu", "head", "-c", "1", "/dev/nvidia1")
    # The GPU enclave has a user namespace too (its root is an unprivileged
    # host id): the nodes are the host's, bound, not made in it.
    uid_map = rt.exec(out["name"], "gpu", "cat", "/proc/self/uid_map").stdout.split()
    assert uid_map[0] == "0" and uid_map[1] != "0", uid_map
    rt.exec(out["name"], "gpu", "sh", "-c", "echo x > /dev/nvidia1")


def test_gpu_simulated_count(rt, tmp_path):
    empty = tmp_path / "nodev"
    empty.mkdir()
    p = rt.run("--dev-dir", str(empty), "--gpus-simulated", "4", "gpus")
    g = json.loads(p.stdout)
    assert g["gpus"] == 4 and g["simulated"] is True
    assert "SIMULATING 4 GPU(s)" in p.stderr
    g = json.loads(rt.run("--dev-dir", str(empty), "gpus").stdout)
    assert g["gpus"] == 0
    # A GPU container on a simulated host runs, without devices.
    spec = {"name": rt.name(), "containers": [rt.container("gpu", command=["sleep", "1000"], gpus=1)],
            "gpus": [0]}
    path = tmp_path / "g.json"
    path.write_text(json.dumps(spec))
    out = json.loads(rt.run("--dev-dir", str(empty), "--gpus-simulated", "4", "create", str(path)).stdout)
    assert "nvidia" not in rt.exec(out["name"], "gpu", "ls", "/dev").stdout


def test_parallel_creates_from_threads(rt):
    """Four enclaves created at once by four threads of one process."""
    paths, names = [], []
    for i in range(4):
        names.append(rt.name("p%d" % i))
        spec = {"name": names[-1], "containers": [rt.container("web")]}
        paths.append(os.path.join(rt.base, "par%d.json" % i))
        with open(paths[-1], "w") as f:
            json.dump(spec, f)
    p = rt.run("create-parallel", *paths)
    made = [json.loads(l) for l in p.stdout.splitlines()]
    assert sorted(m["name"] for m in made) == sorted(names)
    assert len({m["ip"] for m in made}) == 4
    for m in made:
        assert http_get(m["ip"]) == "hello from busybox\n"
    assert rt.list() == sorted(names)


def test_network_check_and_state(rt):
    e = rt.create(rt.name(), [rt.container("web")])
    rt.run("check", e["name"])
    assert rt.state_of(e["name"])["netns_present"] is True
    # Break the attachment: CHECK notices.
    subprocess.run(["nsenter", "--net=" + e["netns"], "ip", "addr", "flush", "dev", "eth0"], check=True)
    p = rt.run("check", e["name"], check=False)
    assert p.returncode == 1 and "network check" in p.stderr


def test_bad_settings_are_refused(rt):
    p = rt.run("--subnet", "10.300.0.0/16", "list", check=False)
    assert p.returncode == 1 and 'subnet "10.300.0.0/16" is not an IPv4 CIDR' in p.stderr
    p = rt.run("--bridge", "way-too-long-bridge-name", "list", check=False)
    assert p.returncode == 1 and "not a valid interface name" in p.stderr
    p = rt.run("--state", "relative/dir", "list", check=False)
    assert p.returncode == 1 and "must be an absolute path" in p.stderr
    p = rt.run("--runtime", "/nonexistent/runc", "list", check=False)
    assert p.returncode == 1 and "OCI runtime /nonexistent/runc" in p.stderr


def test_exited_container_is_observed(rt):
    e = rt.create(rt.name(), [rt.container("web"), rt.container("oneshot", command=["sh", "-c", "exit 3"])])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        st = rt.state_of(e["name"])
        if st["observed"] == "partial":
            break
        time.sleep(0.05)
    assert st["observed"] == "partial"
    assert {c["name"]: c["status"] for c in st["containers"]} == {"web": "running", "oneshot": "stopped"}
    st = json.loads(rt.run("stop", e["name"]).stdout)
    assert st["observed"] == "absent"


def test_orphan_namespace_is_listed_and_destroyed(rt):
    """A record lost (state dir wiped) while the namespace and address stay."""
    name = rt.name()
    e = rt.create(name, [rt.container("web")])
    rt.run("stop", name)
    bundles = os.path.join(os.path.dirname(rt.netns_dir), "bundles")
    subprocess.run(["umount", os.path.join(bundles, name, "web", "rootfs")], check=True)
    subprocess.run(["rm", "-rf", os.path.join(rt.state, "enclaves", name)], check=True)
    assert rt.list() == [name]
    assert rt.state_of(name)["netns_present"] is True
    rt.run("destroy", name)
    assert rt.list() == []
    assert not os.path.exists(os.path.join(rt.netns_dir, name))
    veths = subprocess.run(["ip", "-o", "link", "show", "master", rt.bridge],
                           capture_output=True, text=True).stdout
    assert veths.strip() == ""
    assert e["ip"] not in os.listdir(os.path.join(rt.state, "ipam", rt.bridge))
