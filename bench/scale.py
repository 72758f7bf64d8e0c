"""The running half of bench/scale.sh (which starts PostgreSQL, when asked,
and removes the work dir): berthd driving HOSTS berth-agents with the hollow
runtime (src/agent/agent-hollow.h: each enclave a loopback socket its agent
answers, no runc), CONTAINERS containers deployed through the API, and the
figures:
  deploy_all_s          first POST /containers -> every container running
                        (POSTs from DEPLOY_CONCURRENCY threads)
  list_p50_ms/p99_ms    LIST_GETS sequential GET /containers, one keep-alive
                        connection, every container running
  rss_kib_per_container berthd's RSS growth from before the first POST to
                        after the lists, per container
  update_to_traffic_ms  one blue-green edit-config update (min-healthy-time
                        1s, as bench/lifecycle.sh's): its 202 -> the first
                        answer of the new enclave through its host's router
Every process it starts (berthd, the agents, the routers they start) is
stopped by its PID at the end, whatever happened.

Environment: BENCH_BUILD (the build dir), BENCH_WORK (an empty dir),
BENCH_STORE (a postgresql:// URL, or empty for SQLite in the state dir),
HOSTS (50), CONTAINERS (10000), DEPLOY_CONCURRENCY (16), LIST_GETS (200),
DEPLOY_TIMEOUT (3600 s; past it, the figures of what runs, said),
BERTHD_WORKERS (4), POST_TIMEOUT (300 s: a POST's wait for its answer,
then once more), PROFILE (a file: perf's report of berthd during the
lists). Python's standard library only."""
import concurrent.futures
import hashlib
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time

BUILD = os.environ["BENCH_BUILD"]
WORK = os.environ["BENCH_WORK"]
STORE = os.environ.get("BENCH_STORE", "")
HOSTS = int(os.environ.get("HOSTS", "50"))
CONTAINERS = int(os.environ.get("CONTAINERS", "10000"))
CONCURRENCY = int(os.environ.get("DEPLOY_CONCURRENCY", "16"))
LIST_GETS = int(os.environ.get("LIST_GETS", "200"))
DEPLOY_TIMEOUT = float(os.environ.get("DEPLOY_TIMEOUT", "3600"))
WORKERS = os.environ.get("BERTHD_WORKERS", "4")
PROFILE = os.environ.get("PROFILE", "")
POST_TIMEOUT = float(os.environ.get("POST_TIMEOUT", "300"))
# berthd's own host (unused: every enclave goes to an agent) on a subnet
# and bridge of this run.
NET = os.getpid() % 200 + 20

CONFIG = """cvm-version: 0.7.5
containers:
  - name: "app"
    image: "hollow.invalid/app@sha256:{digest}"
shim:
  upstream-port: 8080
  paths:
    - "/*"
    - "/health"
deploy:
  health-path: /health
  min-healthy-time: {healthy}
  drain-timeout: 5s
"""


def say(*args):
    print(*args, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def config(healthy="0s", n=0):
    return CONFIG.format(digest=f"{n:064x}", healthy=healthy)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def alive(pid):
    """Whether pid runs (not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))]


def wait_http(port, path, proc, what, timeout=60):
    """Until 127.0.0.1:port answers path (any status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited ({proc.returncode})")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            c.getresponse().read()
            c.close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not answer in {timeout} s")


class Api:
    """One keep-alive connection to berthd's API."""

    def __init__(self, port, token, timeout=60):
        self.port, self.token = port, token
        self.retried = False
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": "Bearer " + self.token}
        if data is not None:
            headers["Content-Type"] = "application/json"
        self.retried = False
        for attempt in (0, 1):
            self.retried = attempt == 1
            try:
                self.conn.request(method, "/api/v1" + path, data, headers)
                r = self.conn.getresponse()
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
            except (http.client.HTTPException, OSError):
                self.conn.close()
                if attempt:
                    raise


class Bench:
    def __init__(self):
        self.procs = []  # (name, Popen)
        self.state_dirs = []
        self.token_file = os.path.join(WORK, "host-token")
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
        os.close(fd)

    def spawn(self, name, args, log):
        out = open(log, "a")
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        self.procs.append((name, p))
        return p

    def start(self):
        self.api_port = free_port()
        self.agents = []
        for i in range(HOSTS):
            self.agents.append({"id": f"h{i:03d}", "port": free_port(),
                                "router": free_port(),
                                "state": os.path.join(WORK, f"agent-{i:03d}")})
        self.berthd_state = os.path.join(WORK, "berthd")
        os.makedirs(self.berthd_state)
        self.state_dirs.append(self.berthd_state)
        args = [os.path.join(BUILD, "berthd"), "--state-dir", self.berthd_state,
                "--listen", f"127.0.0.1:{self.api_port}",
                "--router-listen", f"127.0.0.1:{free_port()}", "--tls-listen", "off",
                "--subnet", f"10.79.{NET}.0/24", "--bridge", f"bscale{NET}",
                "--workers", WORKERS, "--agent-token-file", self.token_file,
                "--host-timeout", "60", "--log-level", "info"]
        if STORE:
            args += ["--store", STORE]
        for a in self.agents:
            args += ["--agent", f"http://127.0.0.1:{a['port']}"]
        self.berthd_log = os.path.join(self.berthd_state, "berthd.log")
        say(f"scale: berthd ({'PostgreSQL' if STORE else 'SQLite'}), {HOSTS} hollow agents...")
        self.berthd = self.spawn("berthd", args, self.berthd_log)
        wait_http(self.api_port, "/healthz", self.berthd, "berthd")
        with open(os.path.join(self.berthd_state, "admin-token")) as f:
            self.token = f.read().strip()
        for i, a in enumerate(self.agents):
            os.makedirs(a["state"])
            self.state_dirs.append(a["state"])
            # Each agent's enclaves on a /16 of loopback of its own.
            a["proc"] = self.spawn(a["id"], [
                os.path.join(BUILD, "berth-agent"), "--runtime", "hollow",
                "--subnet", f"127.{100 + i}.0.0/16", "--state-dir", a["state"],
                "--listen", f"127.0.0.1:{a['port']}",
                "--router-listen", f"127.0.0.1:{a['router']}",
                "--token-file", self.token_file,
                "--berthd", f"http://127.0.0.1:{self.api_port}", "--host-id", a["id"],
                "--workers", "4"], os.path.join(a["state"], "agent.log"))
        for a in self.agents:
            wait_http(a["port"], "/v1/info", a["proc"], a["id"])
        self.api = Api(self.api_port, self.token, timeout=POST_TIMEOUT)
        deadline = time.monotonic() + 120
        while True:
            st, hosts = self.api.call("GET", "/hosts")
            ready = sum(1 for h in hosts or [] if h.get("status") == "ready")
            # And known to the reconciler, which places on those alone.
            with open(self.berthd_log) as f:
                known = sum(1 for line in f if " answers: " in line)
            if st == 200 and ready == HOSTS and known >= HOSTS:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"{ready} of {HOSTS} hosts ready after 120 s")
            time.sleep(0.5)
        say(f"  {HOSTS} hosts ready")

    def deploy_all(self):
        names = [f"s{i:05d}" for i in range(CONTAINERS)]
        cfg = config()
        local = threading.local()

        post_ms = []

        def post(name):
            if not hasattr(local, "api"):
                local.api = Api(self.api_port, self.token, timeout=POST_TIMEOUT)
            t = time.monotonic()
            st, body = local.api.call("POST", "/containers", {"name": name, "config": cfg})
            post_ms.append((time.monotonic() - t) * 1000)
            # 409: a POST that timed out, asked again, had gone through.
            if st != 202 and not (st == 409 and local.api.retried):
                raise SystemExit(f"POST /containers {name}: {st} {body}")

        say(f"scale: deploying {CONTAINERS} containers ({CONCURRENCY} at a time)...")
        t0 = time.monotonic()
        ex = concurrent.futures.ThreadPoolExecutor(CONCURRENCY)
        try:
            for f in concurrent.futures.as_completed([ex.submit(post, n) for n in names]):
                f.result()
        finally:
            # On a failure (or ^C), the POSTs not sent yet are not sent.
            ex.shutdown(wait=True, cancel_futures=True)
        posted = time.monotonic() - t0
        self.post_p50, self.post_p99 = pct(post_ms, 50), pct(post_ms, 99)
        say(f"  posted in {posted:.1f} s (POST p50 {self.post_p50:.0f} ms, p99 "
            f"{self.post_p99:.0f} ms, max {max(post_ms):.0f} ms); waiting until every one "
            "runs...")
        last = 0
        while True:
            st, items = self.api.call("GET", "/containers")
            running = sum(1 for c in items if c["status"] == "running")
            failed = [c for c in items if c["status"] == "failed"]
            if failed:
                raise SystemExit(f"{len(failed)} failed, e.g. {failed[0]['name']}: "
                                 f"{failed[0]['status_detail']}")
            if running == CONTAINERS:
                break
            el = time.monotonic() - t0
            if el > DEPLOY_TIMEOUT:
                # The other figures are still worth having: said, not hidden.
                say(f"  only {running} of {CONTAINERS} running after {el:.0f} s")
                self.deploy_s, self.running = None, running
                return names
            if el - last >= 30:
                say(f"  {el:.0f} s: {running} running, berthd RSS "
                    f"{rss_kib(self.berthd.pid) // 1024} MiB")
                last = el
            # Each poll is a whole list: seldom, at size.
            time.sleep(max(1.0, CONTAINERS / 2000))
        self.deploy_s, self.running = time.monotonic() - t0, CONTAINERS
        say(f"  all {CONTAINERS} running after {self.deploy_s:.1f} s")
        return names

    def list_latency(self):
        api = Api(self.api_port, self.token)
        times = []
        for _ in range(LIST_GETS):
            t = time.monotonic()
            st, items = api.call("GET", "/containers")
            times.append((time.monotonic() - t) * 1000)
            if st != 200 or len(items) != CONTAINERS:
                raise SystemExit(f"GET /containers: {st}, {len(items or [])} items")
        return pct(times, 50), pct(times, 99)

    def update_to_traffic(self, name):
        st, c = self.api.call("GET", "/containers/" + name)
        host = c["host"]
        router = next(a["router"] for a in self.agents if a["id"] == host)
        vhost = f"{name}.default.containers.localhost"
        t0 = time.monotonic()
        st, u = self.api.call("POST", f"/containers/{name}/updates",
                              {"kind": "edit-config", "config": config("1s", 1)})
        if st != 202:
            raise SystemExit(f"update {name}: {st} {u}")
        # The enclave's name: "e-" and its deployment id's first 12 (the
        # hollow enclave answers it).
        want = ("e-" + u["to"][:12]).encode()
        conn = http.client.HTTPConnection("127.0.0.1", router, timeout=10)
        deadline = t0 + 120
        while time.monotonic() < deadline:
            try:
                conn.request("GET", "/", headers={"Host": vhost})
                r = conn.getresponse()
                body = r.read()
                if r.status == 200 and body.strip() == want:
                    return (time.monotonic() - t0) * 1000
            except (http.client.HTTPException, OSError):
                conn.close()
            time.sleep(0.005)
        raise SystemExit(f"update of {name}: the new enclave never answered")

    def stop(self):
        """By PID: berthd, the agents, then the routers they started."""
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                say(f"scale: {name} did not stop in 30 s: killed")
                p.kill()
                p.wait()
        routers = []
        for d in self.state_dirs:
            try:
                with open(os.path.join(d, "router.pid")) as f:
                    pid = int(f.read().strip())
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if d.encode() not in f.read():
                        continue  # exited, its pid taken since
                os.kill(pid, signal.SIGTERM)
                routers.append(pid)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(p) for p in routers):
            time.sleep(0.05)
        for pid in routers:
            if alive(pid):
                say(f"scale: berth-router {pid} did not stop in 30 s: killed")
                os.kill(pid, signal.SIGKILL)
        # berthd's runtime directory (its own host, which ran nothing).
        run = "/run/berth/" + hashlib.sha256(self.berthd_state.encode()).hexdigest()[:12]
        subprocess.run(["umount", "-l", run + "/bundles"], capture_output=True)
        subprocess.run(["rm", "-rf", run], capture_output=True)


def main():
    b = Bench()
    try:
        b.start()
        rss0 = rss_kib(b.berthd.pid)
        names = b.deploy_all()
        say(f"scale: {LIST_GETS} GET /containers ({CONTAINERS} containers)...")
        perf = None
        if PROFILE:
            # berthd's time during the lists: perf's call graph, to PROFILE.
            data = os.path.join(WORK, "perf.data")
            perf = subprocess.Popen(["perf", "record", "-F", "999", "-p",
                                     str(b.berthd.pid), "-o", data],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        p50, p99 = b.list_latency()
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            perf.wait(60)
            with open(PROFILE, "w") as f:
                subprocess.run(["perf", "report", "-i", data, "--stdio", "--sort", "dso,symbol",
                                "--percent-limit", "1"], stdout=f,
                               stderr=subprocess.DEVNULL, timeout=600)
            say(f"  berthd's profile of the lists in {PROFILE}")
        rss1 = rss_kib(b.berthd.pid)
        say(f"  p50 {p50:.1f} ms, p99 {p99:.1f} ms; berthd RSS {rss0} -> {rss1} KiB")
        say("scale: one update at that size...")
        upd = b.update_to_traffic(names[len(names) // 2])
        say(f"  accepted -> traffic {upd:.0f} ms")
    finally:
        b.stop()
    per = (rss1 - rss0) / CONTAINERS
    deploy = (f"{b.deploy_s:.1f}" if b.deploy_s is not None
              else f"incomplete running={b.running}")
    print(f"post_p50_ms={b.post_p50:.0f} post_p99_ms={b.post_p99:.0f} "
          f"deploy_all_s={deploy} list_p50_ms={p50:.1f} list_p99_ms={p99:.1f} "
          f"rss_kib_per_container={per:.1f} update_to_traffic_ms={upd:.0f}")
    print(f"RESULT hosts={HOSTS} containers={CONTAINERS} list_p99_ms={p99:.1f} "
          f"deploy_all_s={deploy} rss_kib_per_container={per:.1f} "
          f"update_to_traffic_ms={upd:.0f}")


if __name__ == "__main__":
    main()
