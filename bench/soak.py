"""The measuring half of bench/soak.sh (which starts the registry, the
repository and berthd, and takes them down): N containers (N-1 of the
repository, one simulated GPU container that takes all of the host's GPUs)
under continuous client load through berth-router for DURATION seconds while
a schedule works on them: a blue-green update every UPDATE_PERIOD (every 4th
with an edit of the secret they bind), an update that must fail every
BAD_PERIOD, a stop-then-start update of the GPU container every
RECREATE_PERIOD; a chaos loop that SIGKILLs, at random moments (on average
every CHAOS_MEAN seconds), an enclave's process, berthd or berth-router; the
registry stopped once. Prints its figures and a last `RESULT key=value ...`
line.

The clients behave as browsers and curl do: a GET that got no byte of an
answer (its connection lost or refused) is sent once more on a new
connection (RFC 9110 9.2.2: it is idempotent); those are counted as
`retried`, and a request fails only when that second try fails too.

Environment (set by soak.sh): BENCH_API, BENCH_TOKEN, BENCH_ROUTER,
BENCH_REPO, BENCH_STATE, BENCH_RUN (berthd's run dir), BENCH_BRIDGE,
BENCH_PIDS (a directory: berthd.pid and registry.pid, kept current for
soak.sh's cleanup), BENCH_BERTHD_ARGV and BENCH_REGISTRY_ARGV (JSON lists:
how to start them again), BENCH_BAD_CONFIG (a config whose update must
fail), BENCH_GPU_CONFIGS (JSON list of the GPU container's two configs), N,
DURATION, CLIENTS, UPDATE_PERIOD, BAD_PERIOD, RECREATE_PERIOD, CHAOS_MEAN,
SEED. Standard library only."""
import http.client
import json
import os
import random
import signal
import subprocess
import threading
import time

from bench_env import HOSTPORT, PREFIX, REPO, ROUTER, STATE, TOKEN, say

RUN = os.environ["BENCH_RUN"]
BRIDGE = os.environ["BENCH_BRIDGE"]
PIDS = os.environ["BENCH_PIDS"]
BERTHD_ARGV = json.loads(os.environ["BENCH_BERTHD_ARGV"])
REGISTRY_ARGV = json.loads(os.environ["BENCH_REGISTRY_ARGV"])
BAD_CONFIG = os.environ["BENCH_BAD_CONFIG"]
GPU_CONFIGS = json.loads(os.environ["BENCH_GPU_CONFIGS"])
N = int(os.environ.get("N", "10"))
DURATION = float(os.environ.get("DURATION", "600"))
CLIENTS = int(os.environ.get("CLIENTS", "4"))
UPDATE_PERIOD = float(os.environ.get("UPDATE_PERIOD", "20"))
BAD_PERIOD = float(os.environ.get("BAD_PERIOD", "120"))
RECREATE_PERIOD = float(os.environ.get("RECREATE_PERIOD", "180"))
CHAOS_MEAN = float(os.environ.get("CHAOS_MEAN", "60"))
SEED = int(os.environ.get("SEED", str(int(time.time()))))
SECRET = "SOAK_KEY"
GPU = "soakgpu"


def call(method, path, body=None, timeout=30):
    """One API request on a new connection: (status, parsed body), or
    (None, error) when berthd does not answer (it is being restarted)."""
    c = http.client.HTTPConnection(HOSTPORT, timeout=timeout)
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": "Bearer " + TOKEN}
    if data is not None:
        headers["Content-Type"] = "application/json"
    try:
        c.request(method, PREFIX + path, data, headers)
        r = c.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw) if raw else None
        except ValueError:
            return r.status, raw.decode(errors="replace")
    except (OSError, http.client.HTTPException) as e:
        return None, repr(e)
    finally:
        c.close()


def wait(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    say(f"soak: timed out waiting for {what}")
    return False


def pid_of(name):
    try:
        return int(open(os.path.join(PIDS if name != "router" else STATE,
                                     name + ".pid")).read())
    except (OSError, ValueError):
        return None


def proc_figures(pid):
    """(RSS KiB, open fds) of pid."""
    try:
        rss = next(int(line.split()[1]) for line in open(f"/proc/{pid}/status")
                   if line.startswith("VmRSS:"))
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration, ValueError):
        return None, None


def proc_age(pid):
    """Seconds since pid started."""
    try:
        start = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19])
        return float(open("/proc/uptime").read().split()[0]) - start / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0


class NoAnswer(Exception):
    """The request got no byte of an answer: it may be sent again."""


class Clients:
    """CLIENTS threads, each on one keep-alive connection to the router
    (a new one after a failure), going round the N containers. Every
    request kept as (start, seconds, name, kind, retried): kind "ok" for a
    200 of the container's own version, else the status or the error's
    class."""

    def __init__(self, names):
        self.names = names
        self.results = []
        self.lock = threading.Lock()
        self.stopping = False
        self.ts = [threading.Thread(target=self.run, args=(i,), daemon=True)
                   for i in range(CLIENTS)]
        for t in self.ts:
            t.start()

    @staticmethod
    def once(conn, name):
        """(kind, keep the connection) of one GET on conn."""
        try:
            conn.request("GET", "/", headers={"Host": f"{name}.default.containers.localhost"})
            r = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            # Nothing of an answer came (BadStatusLine and RemoteDisconnected
            # are raised before the status line is whole).
            raise NoAnswer(type(e).__name__) from e
        try:
            body = r.read()
        except (OSError, http.client.HTTPException) as e:
            return type(e).__name__, False
        kind = "ok" if r.status == 200 and body.startswith(b"hello v") \
            else f"http_{r.status} {body[:60].decode(errors='replace').strip()}"
        return kind, r.getheader("Connection", "").lower() != "close"

    def run(self, k):
        conn = None
        i = k
        while not self.stopping:
            name = self.names[i % len(self.names)]
            i += 1
            t0 = time.monotonic()
            retried = False
            while True:
                if conn is None:
                    conn = http.client.HTTPConnection(ROUTER, timeout=10)
                try:
                    kind, keep = self.once(conn, name)
                except NoAnswer as e:
                    kind, keep = str(e), False
                    if not retried:
                        conn.close()
                        conn, retried = None, True
                        continue
                break
            if not keep:
                conn.close()
                conn = None
            with self.lock:
                self.results.append((t0, time.monotonic() - t0, name, kind, retried))

    def stop(self):
        self.stopping = True
        for t in self.ts:
            t.join(30)
        return self.results


def leftovers(names):
    """What the machine holds beyond the N containers' enclaves."""
    def ls(d):
        return os.listdir(d) if os.path.isdir(d) else []
    st, items = call("GET", "/containers")
    serving = {"e-" + c["deployment"]["id"][:12] for c in items or [] if c.get("deployment")}
    out = {}
    out["enclaves_extra"] = len(set(ls(os.path.join(STATE, "enclaves"))) - serving)
    # Each enclave pins its network namespace and its user namespace (.user).
    out["netns_extra"] = len([n for n in ls(os.path.join(RUN, "netns"))
                              if not n.endswith(".user")]) - len(serving)
    veths = subprocess.run(["ip", "-o", "link", "show", "master", BRIDGE],
                           capture_output=True, text=True).stdout.splitlines()
    out["veths_extra"] = len(veths) - len(serving)
    return out


class Schedule:
    """The events of the run, each at a fraction of DURATION, and the
    updates every UPDATE_PERIOD; what each did is appended to self.log."""

    def __init__(self, names):
        self.names = names
        self.log = []
        self.updates_ok = self.updates_failed = 0
        self.bad_ok = self.bad_failed = 0
        self.recreates_ok = self.recreates_failed = 0
        self.windows = []  # (start, end): the GPU container's recreate gaps
        self.samples = {}  # (what, pid) -> [(rss KiB, fds) first, last]
        self.chaos = {"enclave": 0, "berthd": 0, "router": 0}
        self.lock = threading.Lock()
        self.rng = random.Random(SEED)
        self.busy = set()  # containers with an update under way

    def sample(self):
        for what in ("berthd", "router"):
            pid = pid_of(what)
            # A process just started is not yet what it will be: its first
            # sample is taken once it ran 3 s.
            rss, fds = proc_figures(pid) if pid and proc_age(pid) >= 3 else (None, None)
            if rss is not None:
                s = self.samples.setdefault((what, pid), [(rss, fds), None])
                s[1] = (rss, fds)

    def note(self, what):
        say(f"soak: {time.monotonic() - self.t0:6.1f} s  {what}")
        with self.lock:
            self.log.append(what)

    def count(self, kind, ok):
        """kind "good", "bad" (must fail) or "recreate": one more ended."""
        with self.lock:
            if kind == "good":
                self.updates_ok += ok
                self.updates_failed += not ok
            elif kind == "bad":
                self.bad_ok += ok
                self.bad_failed += not ok
            else:
                self.recreates_ok += ok
                self.recreates_failed += not ok

    def update(self, name, body, kind="good"):
        """One update, waited for to its end: on a thread of its own."""
        t = time.monotonic()
        for _ in range(100):  # berthd may be restarting
            st, u = call("POST", f"/containers/{name}/updates", body)
            if st is not None:
                break
            time.sleep(0.3)
        if st != 202:
            self.note(f"update of {name} refused: {st} {u}")
            if kind != "bad":
                self.count(kind, False)
            return
        ok = False

        def done():
            nonlocal ok
            st, c = call("GET", "/containers/" + name)
            if st != 200 or not c["update"] or c["update"]["finished_at"] is None:
                return False
            ok = c["update"]["status"] == "ready"
            if not ok:
                self.note(f"update of {name}: {c['update']['status']}: {c['update']['error']}")
            return True
        wait(done, 180, f"the update of {name}")
        self.count(kind, ok)
        if kind == "recreate":
            with self.lock:
                self.windows.append((t, time.monotonic()))

    def start_update(self, name, body, kind="good"):
        def run():
            try:
                self.update(name, body, kind)
            finally:
                with self.lock:
                    self.busy.discard(name)
        with self.lock:
            self.busy.add(name)
        th = threading.Thread(target=run, daemon=True)
        th.start()
        return th

    def kill_enclave(self):
        """SIGKILL of the process of a serving enclave's container."""
        with self.lock:
            idle = [n for n in self.names if n not in self.busy]
        if not idle:
            return
        name = self.rng.choice(idle)
        st, c = call("GET", "/containers/" + name)
        if st != 200 or not c.get("deployment"):
            return
        prefix = "e-" + c["deployment"]["id"][:12]
        oci = os.path.join(RUN, "oci")
        for d in sorted(os.listdir(oci)) if os.path.isdir(oci) else []:
            if not d.startswith(prefix):
                continue
            try:
                pid = json.load(open(os.path.join(oci, d, "state.json")))["init_process_pid"]
                os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError, KeyError):
                continue
            self.chaos["enclave"] += 1
            self.note(f"SIGKILL {name}'s process {pid} ({d})")
            return

    def kill_router(self):
        pid = pid_of("router")
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        self.chaos["router"] += 1
        self.note(f"SIGKILL berth-router {pid}")
        wait(lambda: pid_of("router") not in (None, pid), 30, "a new router")
        self.note(f"berth-router respawned: {pid_of('router')}")

    def restart_berthd(self):
        pid = pid_of("berthd")
        os.kill(pid, signal.SIGKILL)
        self.chaos["berthd"] += 1
        wait(lambda: not os.path.exists(f"/proc/{pid}") or
             open(f"/proc/{pid}/stat").read().split()[2] == "Z", 30, "berthd's end")
        self.note(f"SIGKILL berthd {pid}")
        log = open(os.path.join(STATE, "berthd.log"), "a")
        p = subprocess.Popen(BERTHD_ARGV, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        open(os.path.join(PIDS, "berthd.pid"), "w").write(str(p.pid))
        wait(lambda: call("GET", "/containers")[0] == 200, 60, "berthd back")
        self.note(f"berthd restarted: {p.pid}")

    def stop_registry(self, seconds):
        pid = pid_of("registry")
        os.kill(pid, signal.SIGTERM)
        wait(lambda: not os.path.exists(f"/proc/{pid}") or
             open(f"/proc/{pid}/stat").read().split()[2] == "Z", 30, "the registry's end")
        self.note(f"registry {pid} stopped for {seconds:.0f} s")
        time.sleep(seconds)
        log = open(os.path.join(PIDS, "registry.log"), "a")
        p = subprocess.Popen(REGISTRY_ARGV, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        open(os.path.join(PIDS, "registry.pid"), "w").write(str(p.pid))
        self.note(f"registry started again: {p.pid}")

    def next_chaos(self, now):
        return now + self.rng.expovariate(1 / CHAOS_MEAN)

    def run(self):
        self.t0 = time.monotonic()
        say(f"soak: seed {SEED}")
        repo = [n for n in self.names if n != GPU]
        k = bad = gpu = 0
        next_update = self.t0 + UPDATE_PERIOD / 2
        next_bad = self.t0 + BAD_PERIOD
        next_recreate = self.t0 + RECREATE_PERIOD / 2
        next_chaos = self.next_chaos(self.t0)
        registry_at = self.t0 + 0.7 * DURATION
        end = self.t0 + DURATION
        last_sample = 0
        threads = []

        def pick(pool):
            with self.lock:
                idle = [n for n in pool if n not in self.busy]
            return self.rng.choice(idle) if idle else None
        while time.monotonic() < end:
            now = time.monotonic()
            if now - last_sample >= 2:
                self.sample()
                last_sample = now
            if now >= next_chaos:
                self.sample()
                self.rng.choice([self.kill_enclave, self.restart_berthd, self.kill_router])()
                self.sample()
                next_chaos = self.next_chaos(time.monotonic())
            elif registry_at is not None and now >= registry_at:
                registry_at = None
                self.stop_registry(min(10, DURATION / 10))
            elif now >= next_recreate and GPU in self.names:
                next_recreate = now + RECREATE_PERIOD
                if GPU not in self.busy:
                    gpu += 1
                    self.note(f"stop-then-start update of {GPU}")
                    threads.append(self.start_update(
                        GPU, {"kind": "edit-config", "config": GPU_CONFIGS[gpu % 2]},
                        "recreate"))
            elif now >= next_bad:
                next_bad = now + BAD_PERIOD
                name = pick(repo)
                if name is not None:
                    bad += 1
                    self.note(f"an update of {name} that must fail")
                    threads.append(self.start_update(
                        name, {"kind": "edit-config", "config": BAD_CONFIG}, "bad"))
            elif now >= next_update:
                next_update = now + UPDATE_PERIOD
                name = pick(repo)
                if name is None:
                    continue
                if k % 4 == 3:
                    st, _ = call("PUT", f"/secrets/{SECRET}", {"value": f"soak-{k}"})
                    self.note(f"secret {SECRET} edited ({st}); edit-config of {name}")
                    threads.append(self.start_update(name, {"kind": "edit-config"}))
                else:
                    st, c = call("GET", "/containers/" + name)
                    if st != 200 or not c.get("deployment"):
                        continue
                    tag = "v2" if c["deployment"]["tag"] == "v1" else "v1"
                    self.note(f"update of {name} to {tag}")
                    threads.append(self.start_update(name, {"kind": "tag", "tag": tag}))
                k += 1
            else:
                time.sleep(0.05)
        for t in threads:
            t.join(200)
        self.sample()


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))] if v else 0


def main():
    names = [f"soak{i}" for i in range(N - 1)] + [GPU]
    st, _ = call("PUT", f"/secrets/{SECRET}", {"value": "soak-0"})
    assert st == 200, st
    say(f"soak: {N} containers...")
    for n in names:
        body = {"name": n, "repo": REPO, "tag": "v1", "secrets": [SECRET]} if n != GPU \
            else {"name": n, "config": GPU_CONFIGS[0]}
        st, c = call("POST", "/containers", body)
        if st != 202:
            raise SystemExit(f"create {n}: {st} {c}")
    if not wait(lambda: all(call("GET", "/containers/" + n)[1]["status"] == "running"
                            for n in names), 300, "every container running"):
        raise SystemExit("soak: not every container ran: " + ", ".join(
            f"{n}: {c['status']} {c.get('status_detail') or ''}"
            for n in names for c in [call("GET", "/containers/" + n)[1]]))
    time.sleep(2)
    clients = Clients(names)
    sched = Schedule(names)
    sched.run()
    results = clients.stop()
    time.sleep(2)
    sched.sample()

    def in_recreate(r):
        return r[2] == GPU and any(a <= r[0] + r[1] and r[0] <= b for a, b in sched.windows)
    failed = [r for r in results if r[3] != "ok"]
    kinds = {}
    for r in failed:
        key = ("in_recreate:" if in_recreate(r) else "outside:") + r[3].split()[0]
        kinds[key] = kinds.get(key, 0) + 1
    lat = [r[1] * 1000 for r in results if r[3] == "ok"]
    # Where the failures outside the designed gaps were: second of the run,
    # container, kind, how many.
    where = {}
    for r in failed:
        if not in_recreate(r):
            key = (int(r[0] - sched.t0), r[2], r[3])
            where[key] = where.get(key, 0) + 1
    for (sec, name, kind), count in sorted(where.items()):
        say(f"soak: failed outside the recreate gaps at {sec} s: {name}: {kind} x{count}")
    statuses = {n: call("GET", "/containers/" + n)[1]["status"] for n in names}
    running = sum(v == "running" for v in statuses.values())
    for n, v in statuses.items():
        if v != "running":
            say(f"soak: {n} is {v} at the end")
    left = leftovers(names)
    say("soak: failed requests by kind:", json.dumps(kinds, sort_keys=True))
    # Each process's growth from its first sample to its last (berthd and
    # the router may be killed: several processes of each).
    growth = {"berthd": [0, 0, [], []], "router": [0, 0, [], []]}
    for (what, pid), (first, last) in sorted(sched.samples.items()):
        say(f"soak: {what} {pid}: rss {first[0]} -> {last[0]} KiB, fds {first[1]} -> {last[1]}")
        g = growth[what]
        g[0] = max(g[0], last[0] - first[0])
        g[1] = max(g[1], last[1] - first[1])
        g[2].append(f"{first[0]}->{last[0]}")
        g[3].append(f"{first[1]}->{last[1]}")
    outside = sum(v for k, v in kinds.items() if k.startswith("outside:"))
    fig = {
        "containers": N, "duration_s": int(DURATION), "seed": SEED, "requests": len(results),
        "failed_outside_recreate": outside, "failed_in_recreate": len(failed) - outside,
        "retried": sum(1 for r in results if r[4]),
        "p50_ms": round(pct(lat, 50), 2), "p99_ms": round(pct(lat, 99), 2),
        "updates_ok": sched.updates_ok, "updates_failed": sched.updates_failed,
        "bad_updates_failed": sched.bad_failed, "bad_updates_ok": sched.bad_ok,
        "recreates_ok": sched.recreates_ok, "recreates_failed": sched.recreates_failed,
        "killed_enclaves": sched.chaos["enclave"], "killed_berthd": sched.chaos["berthd"],
        "killed_routers": sched.chaos["router"],
        "containers_running": f"{running}/{N}",
        "berthd_rss_kib": ",".join(growth["berthd"][2]),
        "berthd_fds": ",".join(growth["berthd"][3]),
        "router_rss_kib": ",".join(growth["router"][2]),
        "router_fds": ",".join(growth["router"][3]),
        "rss_growth_kib": max(growth["berthd"][0], growth["router"][0]),
        "fd_growth": max(growth["berthd"][1], growth["router"][1]),
        **left,
    }
    print("RESULT " + " ".join(f"{k}={v}" for k, v in fig.items()), flush=True)


main()
