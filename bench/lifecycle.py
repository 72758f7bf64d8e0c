"""The measuring half of bench/lifecycle.sh (which starts the registry, the
repository and berthd, and takes them down): create -> running, update ->
traffic, and GET /containers with 1,000 containers in the store.

Environment (set by lifecycle.sh): BENCH_API, BENCH_TOKEN, BENCH_ROUTER
(ADDR:PORT), BENCH_REPO, BENCH_REGISTRY, BENCH_STATE (berthd's state dir),
BENCH_LOG (berthd's debug log), RUNS, UPDATES,
LIST_N, LIST_GETS, WRITE_PERIOD. Python's standard library only."""
import http.client
import json
import multiprocessing
import os
import re
import statistics
import time
from datetime import datetime, timezone

from bench_env import HOSTPORT, PREFIX, REPO, ROUTER, STATE, TOKEN, say

REGISTRY = os.environ["BENCH_REGISTRY"]
LOG = os.environ["BENCH_LOG"]
ENCLAVES = os.path.join(STATE, "enclaves")
RUNS = int(os.environ.get("RUNS", "7"))
UPDATES = int(os.environ.get("UPDATES", "5"))
LIST_N = int(os.environ.get("LIST_N", "1000"))
LIST_GETS = int(os.environ.get("LIST_GETS", "1000"))
WRITE_PERIOD = float(os.environ.get("WRITE_PERIOD", "0.02"))
APP_HOST = "{}.default.containers.localhost"


class Api:
    """One keep-alive connection to berthd's API."""

    def __init__(self):
        self.conn = http.client.HTTPConnection(HOSTPORT, timeout=30)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": "Bearer " + TOKEN}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            try:
                self.conn.request(method, PREFIX + path, data, headers)
                r = self.conn.getresponse()
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()  # reconnects at the next request
                if attempt:
                    raise

    def status(self, name):
        st, c = self.call("GET", "/containers/" + name)
        return c["status"] if st == 200 else None

    def wait(self, name, pred, timeout, period=0.005):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st, c = self.call("GET", "/containers/" + name)
            if st == 200 and pred(c):
                return c
            time.sleep(period)
        raise SystemExit(f"{name}: timed out; last: {json.dumps(c)[:2000]}")

    def delete_all(self, names, timeout=120):
        """Deletes names and waits for their teardown: gone from the list,
        and their enclaves too (so that runs do not overlap)."""
        others = set()
        for c in self.call("GET", "/containers")[1]:
            if c["name"] not in names and c["deployment"]:
                others.add("e-" + c["deployment"]["id"][:12])
        for n in names:
            self.call("DELETE", "/containers/" + n)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st, items = self.call("GET", "/containers")
            if not any(c["name"] in names for c in items) and \
                    set(os.listdir(ENCLAVES)) <= others:
                return
            time.sleep(0.1)
        raise SystemExit("containers or enclaves still there after their DELETE")


def app_get(name):
    """GET / of container name through the router, on a new connection: the
    body, or None."""
    c = http.client.HTTPConnection(ROUTER, timeout=5)
    try:
        c.request("GET", "/", headers={"Host": APP_HOST.format(name)})
        r = c.getresponse()
        body = r.read().decode(errors="replace")
        return body if r.status == 200 else None
    except OSError:
        return None
    finally:
        c.close()


def log_times(pattern, since):
    """Wall times (s) of berthd log lines matching pattern, at or after since."""
    out = []
    with open(LOG) as f:
        for line in f:
            if not re.search(pattern, line):
                continue
            t = datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f").replace(
                tzinfo=timezone.utc).timestamp()
            if t >= since - 0.002:
                out.append(t)
    return out


def ms(x):
    return round(x * 1000, 1)


def med(v):
    return round(statistics.median(v), 1)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))]


def bench_create(api):
    """Create -> running of tag `fast` (hello v1, min-healthy-time 0s) whose
    image an earlier container already pulled; each container deleted after."""
    say(f"create -> running: warm-up container pulls the image...")
    api.call("POST", "/containers", {"name": "warm", "repo": REPO, "tag": "fast"})
    api.wait("warm", lambda c: c["status"] == "running", 60, 0.05)
    results = []
    for i in range(RUNS):
        name = f"c{i}"
        wall0 = time.time()
        t0 = time.monotonic()
        st, body = api.call("POST", "/containers", {"name": name, "repo": REPO, "tag": "fast"})
        t202 = time.monotonic()
        if st != 202:
            raise SystemExit(f"POST /containers: {st} {body}")
        c = api.wait(name, lambda c: c["status"] != "deploying", 60)
        t1 = time.monotonic()
        if c["status"] != "running":
            raise SystemExit(f"{name}: {c['status']} {c['status_detail']}")
        # Where the time went, from berthd's log (ms since the POST was sent).
        marks = {}
        for key, pat in (("deploying", rf"{name}: deploying "), ("up", r"enclave e-\w+: up at"),
                         ("booted", r"booted at"), ("gate", r"passed its health gate"),
                         ("running", rf"{name}: container\.running")):
            ts = log_times(pat, wall0)
            marks[key] = ms(ts[0] - wall0) if ts else None
        results.append((t1 - t0, t202 - t0, marks))
        say(f"  run {i + 1}: {ms(t1 - t0)} ms (202 after {ms(t202 - t0)} ms; log: {marks})")
        api.delete_all([name])
    api.delete_all(["warm"])
    return results


def bench_update(api):
    """Blue-green tag updates of one container, alternately to v2 and v1
    (min-healthy-time 1s): from the 202 to the first answer of the new version
    through the router, polled every 2 ms."""
    say("update -> traffic: container bg at v1...")
    api.call("POST", "/containers", {"name": "bg", "repo": REPO, "tag": "v1"})
    api.wait("bg", lambda c: c["status"] == "running", 60, 0.05)
    results = []
    for i in range(UPDATES):
        tag = "v2" if i % 2 == 0 else "v1"
        want = f"hello {tag}\n"
        assert app_get("bg") not in (want, None)
        wall0 = time.time()
        st, u = api.call("POST", "/containers/bg/updates", {"kind": "tag", "tag": tag})
        t0 = time.monotonic()
        if st != 202:
            raise SystemExit(f"POST updates: {st} {u}")
        others = 0
        while True:
            body = app_get("bg")
            if body == want:
                break
            if body is None:
                raise SystemExit("bg did not answer during its update")
            others += 1
            if time.monotonic() - t0 > 60:
                raise SystemExit("the new version never answered")
            time.sleep(0.002)
        t1 = time.monotonic()
        marks = {}
        for key, pat in (("deploying", r"bg: deploying "), ("booted", r"booted at"),
                         ("gate", r"passed its health gate"),
                         ("switched", r"bg: update\.switched")):
            ts = log_times(pat, wall0)
            marks[key] = ms(ts[0] - wall0) if ts else None
        results.append((t1 - t0, marks))
        say(f"  update {i + 1} to {tag}: {ms(t1 - t0)} ms ({others} answers of the old "
            f"version first; log, ms after the POST: {marks})")
        api.wait("bg", lambda c: c["update"] and c["update"]["finished_at"], 60, 0.05)
    api.delete_all(["bg"])
    return results


class Writer:
    """Writes updates while the list is read: a `retry` of one container
    after another (each a new update row, the container `deploying`, then its
    pull fails and it is `failed` again), on its own connection, every
    WRITE_PERIOD seconds, until stop(). A process of its own: a thread would
    share the reader's interpreter lock, and a GET would wait for the writer's
    Python (up to the 5 ms switch interval) as if for berthd."""

    def __init__(self, names):
        self.names = names
        self.writes = multiprocessing.Value("i", 0)
        self.done = multiprocessing.Event()
        self.t0 = time.monotonic()
        self.proc = multiprocessing.Process(target=self.run, daemon=True)
        self.proc.start()

    def run(self):
        api, i = Api(), 0
        while not self.done.is_set():
            st, _ = api.call("POST", f"/containers/{self.names[i % len(self.names)]}/updates",
                             {"kind": "retry"})
            if st == 202:
                with self.writes.get_lock():
                    self.writes.value += 1
            elif st != 409:  # 409: that one's previous retry still runs
                raise SystemExit(f"POST updates (retry): {st}")
            i += 1
            self.done.wait(WRITE_PERIOD)

    def stop(self):
        self.done.set()
        self.proc.join(30)
        if self.proc.exitcode != 0:
            raise SystemExit(f"the writer process failed (exit {self.proc.exitcode})")
        return self.writes.value, time.monotonic() - self.t0


def bench_list(api):
    """GET /containers with LIST_N containers in the store, all failed at
    their pull: their image is a manifest the registry does not have (a port
    nobody listens on would fail as surely, but only after berthd's two
    retries, 0.6 s of a worker each)."""
    say(f"list: creating {LIST_N} containers whose pull fails...")
    names = [f"l{i:04d}" for i in range(LIST_N)]
    t0 = time.monotonic()
    for i, name in enumerate(names):
        config = ('cvm-version: 0.7.5\ncontainers:\n  - name: "app"\n'
                  f'    image: "{REGISTRY}/nothing@sha256:{i:064x}"\n'
                  'shim:\n  upstream-port: 8080\n  paths:\n    - "/*"\n')
        st, body = api.call("POST", "/containers", {"name": name, "config": config})
        if st != 202:
            raise SystemExit(f"POST /containers {name}: {st} {body}")
    say(f"  created in {time.monotonic() - t0:.1f} s; waiting until none is deploying...")
    deadline = time.monotonic() + 300
    while True:
        st, items = api.call("GET", "/containers")
        deploying = sum(1 for c in items if c["status"] == "deploying")
        if deploying == 0:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"{deploying} containers still deploying after 300 s")
        time.sleep(0.5)
    failed = sum(1 for c in items if c["status"] == "failed")
    say(f"  settled after {time.monotonic() - t0:.1f} s: {len(items)} containers, "
        f"{failed} failed")
    # Keep-alive, as a browser or the CLI would, then a new connection per
    # request (as curl): berthd's API sockets lack TCP_NODELAY, so on a
    # kept-alive connection an answer over a few segments can wait for the
    # client's delayed ACK (~40 ms).
    res = {}
    for mode in ("keep-alive", "new connection", "keep-alive, under writes",
                 "keep-alive, each after a write"):
        writer = Writer(names) if mode.endswith("under writes") else None
        lat = []
        for i in range(LIST_GETS):
            if mode == "new connection":
                api.conn.close()
            if mode.endswith("after a write"):
                # One update written (and answered) before each GET, untimed:
                # the list is never the cached one, one container changed.
                st, _ = api.call("POST", f"/containers/{names[i % len(names)]}/updates",
                                 {"kind": "retry"})
                if st not in (202, 409):
                    raise SystemExit(f"POST updates (retry): {st}")
            t = time.perf_counter()
            api.conn.request("GET", PREFIX + "/containers",
                             headers={"Authorization": "Bearer " + TOKEN})
            r = api.conn.getresponse()
            body = r.read()
            lat.append(time.perf_counter() - t)
            if r.status != 200:
                raise SystemExit(f"GET /containers: {r.status}")
        items = json.loads(body)
        n, size = len(items), len(body)
        res[mode] = lat
        extra = ""
        if writer is not None:
            writes, took = writer.stop()
            if writes == 0:
                raise SystemExit("no update was written while the list was read")
            extra = f" ({writes} updates written meanwhile, {writes / took:.0f}/s)"
        say(f"  {LIST_GETS} sequential GET /containers ({mode}) of {n} containers, {size} "
            f"bytes each: p50 {ms(pct(lat, 50))} ms, p99 {ms(pct(lat, 99))} ms, "
            f"max {ms(max(lat))} ms{extra}")
    say("  deleting them...")
    api.delete_all(names, 300)
    return res, n, size


def main():
    api = Api()
    create = bench_create(api)
    update = bench_update(api)
    lists, n, size = bench_list(api)
    lat, fresh = lists["keep-alive"], lists["new connection"]
    writes = lists["keep-alive, under writes"]
    after_write = lists["keep-alive, each after a write"]

    c_ms = [ms(r[0]) for r in create]
    u_ms = [ms(r[0]) for r in update]
    create_med = med(c_ms)
    update_med = med(u_ms)
    list_p99 = ms(pct(lat, 99))
    gate = [r[2]["gate"] - r[2]["booted"] for r in create if r[2]["gate"] and r[2]["booted"]]
    boot = [r[2]["booted"] for r in create if r[2]["booted"]]
    print(f"create -> running (cached image, min-healthy-time 0s), {RUNS} runs: "
          f"median {create_med} ms, min {min(c_ms)}, max {max(c_ms)}")
    if boot and gate:
        print(f"  of which POST -> enclave booted: median {med(boot)} ms; "
              f"booted -> health gate passed: median {med(gate)} ms")
    print(f"update accepted (202) -> traffic on the new version (blue-green, "
          f"min-healthy-time 1s), {UPDATES} updates: median {update_med} ms, "
          f"min {min(u_ms)}, max {max(u_ms)}; goal: under 1000 + 200 ms")
    sw = [r[1]["switched"] for r in update if r[1]["switched"]]
    gb = [r[1]["gate"] - r[1]["booted"] for r in update if r[1]["gate"] and r[1]["booted"]]
    bt = [r[1]["booted"] for r in update if r[1]["booted"]]
    if sw and gb and bt:
        print(f"  of which POST -> new enclave booted: median {med(bt)} ms; "
              f"booted -> health gate passed: median {med(gb)} ms; "
              f"POST -> switched: median {med(sw)} ms")
    for mode, v in lists.items():
        print(f"GET /containers with {n} containers ({size} bytes), {len(v)} sequential "
              f"requests, {mode}: p50 {ms(pct(v, 50))} ms, p99 {ms(pct(v, 99))} ms, "
              f"max {ms(max(v))} ms")
    print(f"RESULT create_to_running_ms={create_med} update_to_traffic_ms={update_med} "
          f"list_p99_ms={list_p99} list_p99_newconn_ms={ms(pct(fresh, 99))} "
          f"list_p99_writes_ms={ms(pct(writes, 99))} "
          f"list_p99_after_write_ms={ms(pct(after_write, 99))}")


main()
