"""The measuring half of bench/soak.sh (which starts the registry, the
repository and berthd, and takes them down): N containers under continuous
client load through berth-router for DURATION seconds while a schedule
updates them, edits a secret they bind, fails an update on purpose, SIGKILLs
berth-router, SIGKILLs and restarts berthd, and stops and starts the
registry. Prints its figures and a last `RESULT key=value ...` line.

Environment (set by soak.sh): BENCH_API, BENCH_TOKEN, BENCH_ROUTER,
BENCH_REPO, BENCH_STATE, BENCH_RUN (berthd's run dir), BENCH_BRIDGE,
BENCH_PIDS (a directory: berthd.pid and registry.pid, kept current for
soak.sh's cleanup), BENCH_BERTHD_ARGV and BENCH_REGISTRY_ARGV (JSON lists:
how to start them again), BENCH_BAD_CONFIG (a config whose update must
fail), N, DURATION, CLIENTS, UPDATE_PERIOD. Standard library only."""
import http.client
import json
import os
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
N = int(os.environ.get("N", "8"))
DURATION = float(os.environ.get("DURATION", "600"))
CLIENTS = int(os.environ.get("CLIENTS", "4"))
UPDATE_PERIOD = float(os.environ.get("UPDATE_PERIOD", "10"))
SECRET = "SOAK_KEY"


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


class Clients:
    """CLIENTS threads, each on one keep-alive connection to the router
    (a new one after a failure), going round the N containers. Every
    request kept as (start, seconds, name, kind): kind "ok" for a 200 of the
    container's own version, else the status or the error's class."""

    def __init__(self, names):
        self.names = names
        self.results = []
        self.lock = threading.Lock()
        self.stopping = False
        self.ts = [threading.Thread(target=self.run, args=(i,), daemon=True)
                   for i in range(CLIENTS)]
        for t in self.ts:
            t.start()

    def run(self, k):
        conn = None
        i = k
        while not self.stopping:
            name = self.names[i % len(self.names)]
            i += 1
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(ROUTER, timeout=10)
                conn.request("GET", "/", headers={"Host": f"{name}.default.containers.localhost"})
                r = conn.getresponse()
                body = r.read()
                kind = "ok" if r.status == 200 and body.startswith(b"hello v") \
                    else f"http_{r.status} {body[:60].decode(errors='replace').strip()}"
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                kind = type(e).__name__
                if conn is not None:
                    conn.close()
                conn = None
            with self.lock:
                self.results.append((t0, time.monotonic() - t0, name, kind))

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
        self.windows = []  # (start, end, what): where failures are designed
        self.samples = {}  # (what, pid) -> [(rss KiB, fds) first, last]

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
        self.log.append(what)

    def update(self, name, body, expect_ok=True):
        st, u = call("POST", f"/containers/{name}/updates", body)
        if st != 202:
            self.note(f"update of {name} refused: {st} {u}")
            if expect_ok:
                self.updates_failed += 1
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
        if expect_ok:
            self.updates_ok += ok
            self.updates_failed += not ok
        else:
            self.bad_ok += ok
            self.bad_failed += not ok

    def kill_router(self):
        pid = pid_of("router")
        t = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        self.note(f"SIGKILL berth-router {pid}")
        wait(lambda: pid_of("router") not in (None, pid), 30, "a new router")
        self.windows.append((t, time.monotonic() + 1.0, "router respawn"))
        self.note(f"berth-router respawned: {pid_of('router')}")

    def restart_berthd(self):
        pid = pid_of("berthd")
        os.kill(pid, signal.SIGKILL)
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

    def run(self):
        self.t0 = time.monotonic()
        # (fraction of DURATION, action): each once, in order.
        chaos = [(0.25, self.kill_router), (0.5, self.restart_berthd),
                 (0.7, lambda: self.stop_registry(min(10, DURATION / 10)))]
        tags = {n: "v1" for n in self.names}
        k = 0
        next_update = self.t0 + UPDATE_PERIOD / 2
        end = self.t0 + DURATION
        last_sample = 0
        while time.monotonic() < end:
            now = time.monotonic()
            if now - last_sample >= 2:
                self.sample()
                last_sample = now
            if chaos and now >= self.t0 + chaos[0][0] * DURATION:
                self.sample()
                chaos.pop(0)[1]()
                self.sample()
                continue
            if now < next_update:
                time.sleep(0.1)
                continue
            next_update = now + UPDATE_PERIOD
            name = self.names[k % len(self.names)]
            if k % 4 == 3:
                st, _ = call("PUT", f"/secrets/{SECRET}", {"value": f"soak-{k}"})
                self.note(f"secret {SECRET} edited ({st}); edit-config of {name}")
                self.update(name, {"kind": "edit-config"})
            elif k % 6 == 5:
                self.note(f"an update of {name} that must fail")
                self.update(name, {"kind": "edit-config", "config": BAD_CONFIG},
                            expect_ok=False)
            else:
                tags[name] = "v2" if tags[name] == "v1" else "v1"
                self.note(f"update of {name} to {tags[name]}")
                self.update(name, {"kind": "tag", "tag": tags[name]})
            k += 1
        for action in chaos:  # a short run still does each once
            action[1]()
        self.sample()


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))] if v else 0


def main():
    names = [f"soak{i}" for i in range(N)]
    st, _ = call("PUT", f"/secrets/{SECRET}", {"value": "soak-0"})
    assert st == 200, st
    say(f"soak: {N} containers...")
    for n in names:
        st, c = call("POST", "/containers", {"name": n, "repo": REPO, "tag": "v1",
                                             "secrets": [SECRET]})
        if st != 202:
            raise SystemExit(f"create {n}: {st} {c}")
    wait(lambda: all(call("GET", "/containers/" + n)[1]["status"] == "running"
                     for n in names), 300, "every container running")
    time.sleep(2)
    clients = Clients(names)
    sched = Schedule(names)
    sched.run()
    results = clients.stop()
    time.sleep(2)
    sched.sample()

    def in_window(r):
        return any(a <= r[0] + r[1] and r[0] <= b for a, b, _ in sched.windows)
    failed = [r for r in results if r[3] != "ok"]
    kinds = {}
    for r in failed:
        key = ("in_respawn:" if in_window(r) else "outside:") + r[3].split()[0]
        kinds[key] = kinds.get(key, 0) + 1
    lat = [r[1] * 1000 for r in results if r[3] == "ok"]
    # Where the failures outside the designed windows were: second of the run,
    # container, kind, how many.
    where = {}
    for r in failed:
        if not in_window(r):
            key = (int(r[0] - sched.t0), r[2], r[3])
            where[key] = where.get(key, 0) + 1
    for (sec, name, kind), count in sorted(where.items()):
        say(f"soak: failed outside the windows at {sec} s: {name}: {kind} x{count}")
    running = sum(call("GET", "/containers/" + n)[1]["status"] == "running" for n in names)
    left = leftovers(names)
    say("soak: failed requests by kind:", json.dumps(kinds, sort_keys=True))
    # Each process's growth from its first sample to its last (berthd and
    # the router are each killed once: two processes of each).
    growth = {}
    for (what, pid), (first, last) in sorted(sched.samples.items()):
        say(f"soak: {what} {pid}: rss {first[0]} -> {last[0]} KiB, fds {first[1]} -> {last[1]}")
        g = growth.setdefault(what, [0, 0, [], []])
        g[0] = max(g[0], last[0] - first[0])
        g[1] = max(g[1], last[1] - first[1])
        g[2].append(f"{first[0]}->{last[0]}")
        g[3].append(f"{first[1]}->{last[1]}")
    outside = sum(v for k, v in kinds.items() if k.startswith("outside:"))
    fig = {
        "containers": N, "duration_s": int(DURATION), "requests": len(results),
        "failed": len(failed), "failed_outside_respawn": outside,
        "failed_in_respawn": len(failed) - outside,
        "p50_ms": round(pct(lat, 50), 2), "p99_ms": round(pct(lat, 99), 2),
        "updates_ok": sched.updates_ok, "updates_failed": sched.updates_failed,
        "bad_updates_failed": sched.bad_failed, "bad_updates_ok": sched.bad_ok,
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
