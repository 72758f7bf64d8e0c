"""No secret value comes back out: what an enclave prints is redacted before
berthd stores, logs or shows it, and berthd's own memory, where the values are
opened, stays out of core files and out of other processes' reach."""
import fnmatch
import os
import socket
import subprocess
import uuid

from lifecycle_helpers import BUILD, Berthd, config_text, http

NAME = "LEAK_TOKEN"
MARK = f"[secret {NAME}]".encode()


def event_stream(b):
    """An open event stream of b's default org: what it heard comes with drain()."""
    s = socket.create_connection(("127.0.0.1", b.port))
    s.sendall(b"GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\n"
              b"Authorization: Bearer " + b.token.encode() + b"\r\n\r\n")
    return s


def drain(sock, quiet=1.0):
    sock.settimeout(quiet)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    sock.close()
    return data


def files_holding(state, value, everything=False):
    """The files under berthd's state directory whose bytes hold value. Unless
    everything, the enclave's own file system is not read (below). The OCI
    bundles (config.json holds the environment) live on tmpfs under /run, and
    the log copier writes no value to the container's log file."""
    hits = []
    for top, dirs, files in os.walk(state):
        rel = os.path.relpath(top, state).split(os.sep)
        if len(rel) == 3 and rel[0] == "enclaves" and not everything:
            # enclaves/<enclave>/<container>/{rootfs,upper,work}: the enclave's
            # own file system (its overlay), which is the tenant's business.
            dirs[:] = [d for d in dirs if d not in ("rootfs", "upper", "work")]
        for f in files:
            path = os.path.join(top, f)
            name = os.path.relpath(path, state)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            with open(path, "rb") as fh:
                if value in fh.read():
                    hits.append(name)
    return sorted(hits)


def test_a_secret_an_enclave_prints_comes_back_nowhere(berthd, registry, tmp_path):
    value = "lk-" + uuid.uuid4().hex
    assert berthd.call("PUT", f"/secrets/{NAME}", {"value": value})[0] == 200
    stream = event_stream(berthd)
    # The app prints the value into its log (shown: a debug container)...
    serve = ["/bin/sh", "-c",
             f"echo token=${NAME}; echo ${NAME} > /tmp/mine; exec httpd -f -p 8080 -h /www"]
    v1 = config_text(registry.images["hello:v1"], secrets=[NAME], entrypoint=serve)
    # ...and v2's exec health check prints it, then fails.
    check = {"test": ["CMD-SHELL", f"echo the token is ${NAME}; exit 1"], "interval": "1s",
             "retries": 1}
    v2 = config_text(registry.images["hello:v1"], secrets=[NAME], entrypoint=serve,
                     healthcheck=check, deploy={"health-timeout": "6s"})
    # leaky runs v1, then fails an update to v2; first fails its first deploy of v2.
    status, c = berthd.call("POST", "/containers", {"name": "leaky", "config": v1, "debug": True})
    assert status == 202, c
    status, c = berthd.call("POST", "/containers", {"name": "first", "config": v2})
    assert status == 202, c
    berthd.wait_status("leaky", "running")
    status, u = berthd.call("POST", "/containers/leaky/updates",
                            {"kind": "edit-config", "config": v2})
    assert status == 202, u
    first = berthd.wait_status("first", "failed", timeout=90)
    leaky = berthd.wait_update_end("leaky")
    assert leaky["update"]["status"] == "failed", leaky["update"]
    assert leaky["status"] == "running"

    # Every API answer about them, as bytes.
    shown = {}
    for path in ("/containers", "/containers/leaky", "/containers/first",
                 "/containers/leaky/events", "/containers/first/events",
                 "/containers/leaky/updates", "/containers/first/updates",
                 "/containers/leaky/logs", "/secrets"):
        status, body, _ = http("GET", berthd.api + path, token=berthd.token)
        assert status == 200, (path, body)
        shown[path] = body
    shown["/metrics"] = http("GET", berthd.url + "/metrics")[1]
    shown["events/stream"] = drain(stream)
    # The CLI's and the dashboard's are the API's; the CLI once, end to end.
    env = dict(os.environ, BERTH_URL=berthd.url, BERTH_TOKEN=berthd.token, HOME=str(tmp_path))
    for args in (("get", "first"), ("events", "leaky"), ("logs", "leaky")):
        out = subprocess.run([os.path.join(BUILD, "berth"), "container", *args], env=env,
                             capture_output=True, timeout=30)
        assert out.returncode == 0, out
        shown["berth container " + " ".join(args)] = out.stdout + out.stderr
    shown["berthd's log"] = berthd.read_log().encode()

    for where, text in shown.items():
        assert value.encode() not in text, f"{where} shows the value: {text[-2000:]!r}"
    # Shown where the output is, redacted (nothing shown would pass the above).
    said = "the token is " + MARK.decode()
    assert "never healthy in 6s" in first["status_detail"], first["status_detail"]
    assert first["status_detail"].endswith(said), first["status_detail"]
    assert leaky["update"]["error"].endswith(said), leaky["update"]
    assert any(line.endswith(said) for line in leaky["update"]["health_log"]), leaky["update"]
    assert b"token=" + MARK + b"\n" in shown["/containers/leaky/logs"]
    for where in ("/containers", "/containers/first/events", "/containers/leaky/events",
                  "/containers/leaky/updates", "events/stream", "berth container get first",
                  "berth container events leaky", "berth container logs leaky",
                  "berthd's log"):
        assert MARK in shown[where], f"{where}: {shown[where][-2000:]!r}"

    # Nothing under the state directory holds it: berth.db, its WAL (berthd
    # still runs, so what was written is in there), berthd's and the router's logs.
    assert os.path.getsize(os.path.join(berthd.state, "berth.db-wal")) > 0
    assert files_holding(berthd.state, value.encode()) == []
    # The search reads what it should: the value is where the app wrote it
    # in its own file system.
    assert any(h.endswith("/upper/tmp/mine") for h in files_holding(berthd.state, value.encode(),
                                                                    everything=True))


def test_berthd_dumps_no_core_and_is_not_dumpable():
    # Without CAP_SYS_PTRACE, root opens another root process's /proc/<pid>/mem
    # only when that process is dumpable and holds no capability the opener
    # lacks: so berthd runs without CAP_SYS_PTRACE too. (This kernel lets
    # environ and maps be read either way; mem and fd/ follow dumpability.)
    drop = ["setpriv", "--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace"]

    def memory_opens(pid):
        out = subprocess.run(drop + ["python3", "-c", "import os, sys; os.open(sys.argv[1], 0)",
                                     f"/proc/{pid}/mem"], capture_output=True, text=True)
        assert out.returncode == 0 or "PermissionError" in out.stderr, out.stderr
        return out.returncode == 0

    sleeper = subprocess.Popen(drop + ["sleep", "60"])
    b = Berthd(wrapper=drop)
    try:
        assert memory_opens(sleeper.pid)  # the probe works on a dumpable process
        assert not memory_opens(b.proc.pid)
        limits = open(f"/proc/{b.proc.pid}/limits").read().splitlines()
        core = [line for line in limits if line.startswith("Max core file size")]
        assert core and core[0].split()[4:6] == ["0", "0"], core
    finally:
        sleeper.kill()
        sleeper.wait()
        b.stop()
