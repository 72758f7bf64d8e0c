"""What the lifecycle and TLS system tests (and tests/browser, and the CLI's
live tests) share: a real registry holding the test images, a real git
repository whose tags pin them, berthd driving real enclaves (runc, CNI)
behind its own berth-router (with HTTPS when asked), a load thread, and the
fixtures built from them. Each folder's helpers module re-exports these names
(`from lifecycle_helpers import Berthd` and `from tls_helpers import Berthd`
both work); its conftest picks the images and tags it needs."""
import http.client as httpclient
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import suite_checks  # noqa: E402  (tests/system/suite_checks.py)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("BERTH_BUILD", os.path.join(ROOT, "build-asan"))
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port():
    """A port no one listens on, below the kernel's ephemeral range: a port
    the kernel handed out once (bind to 0) may be given again to any outgoing
    connection before the daemon binds it ("Address already in use")."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    rng = random.SystemRandom()
    for _ in range(1000):
        port = rng.randrange(10000, low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in 10000-{low - 1}")


def http(method, url, body=None, token=None, headers=None, timeout=10):
    """Returns (status, body bytes, headers) without raising on 4xx/5xx."""
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with OPENER.open(req, timeout=timeout) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def stop_process(proc, sig=signal.SIGTERM, timeout=30):
    """Sends sig to proc (ours, by PID) unless it ended, waits for it, kills it
    after timeout seconds."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_healthy(proc, url, read_log, timeout=30):
    """Waits until berthd (proc) answers GET url/healthz with 200; raises with
    its log when it exits first or does not answer in timeout seconds."""
    wait_answer(proc, url + "/healthz", 200, "berthd", read_log, timeout)


def app_config(image, secrets=(), port=8000, extra=""):
    """A valid tinfoil-config.yml of one container, app, of image (the API,
    CLI and daemon tests' images are never pulled)."""
    text = ("cvm-version: 0.7.5\n"
            "containers:\n"
            "  - name: app\n"
            f"    image: \"{image}\"\n")
    if secrets:
        text += "    secrets:\n" + "".join(f"      - {s}\n" for s in secrets)
    return text + f"shim:\n  upstream-port: {port}\n" + extra


class LocalBerthd:
    """berthd on free loopback ports with the caller's state dir and no
    enclave network of its own (the API, CLI and daemon tests), started at
    once; stop() stops it by PID, scans its log and stops its router."""

    def __init__(self, binary, state_dir, args=(), wrapper=(), source_roots=None):
        self.port = free_port()
        self.router_port = free_port()
        self.state_dir = state_dir
        suite_checks.track_berthd(state_dir)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(state_dir, "berthd.log")
        self.log = open(self.log_path, "w")
        cmd = list(wrapper) + [binary, "--state-dir", state_dir,
                               "--listen", f"127.0.0.1:{self.port}",
                               "--router-listen", f"127.0.0.1:{self.router_port}",
                               ] + [a for r in (source_roots or [tempfile.gettempdir()])
                                    # The tests' repositories are in temporary directories.
                                    for a in ("--source-root", r)] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=suite_checks.daemon_env())
        try:
            wait_healthy(self.proc, self.url, self.read_log)
        except RuntimeError:
            suite_checks.stop_router(state_dir)  # the router it started outlives it
            raise
        # berthd writes its admin token before it listens.
        token_path = os.path.join(state_dir, "admin-token")
        self.admin_token = None
        if os.path.exists(token_path):
            with open(token_path) as f:
                self.admin_token = f.read().strip()

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        stop_process(self.proc, sig, timeout)
        self.log.close()
        suite_checks.scan_log(self.log_path)
        suite_checks.stop_router(self.state_dir)
        suite_checks.remove_run_dir(self.state_dir)
        return self.proc.returncode


class Registry:
    """docker-registry on a free loopback port with private storage; with
    creds (user, password), only that user may push and pull (htpasswd basic
    auth, bcrypt, over plain HTTP on loopback)."""

    def __init__(self, creds=None):
        self.dir = tempfile.mkdtemp(prefix="berth-lc-reg-")
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.creds = creds
        auth = ""
        if creds:
            path = os.path.join(self.dir, "htpasswd")
            # -i: the password on stdin, never on a command line.
            subprocess.run(["htpasswd", "-c", "-B", "-i", path, creds[0]], input=creds[1],
                           text=True, check=True, capture_output=True, timeout=30)
            auth = f"auth:\n  htpasswd:\n    realm: berth-private\n    path: {path}\n"
        config = os.path.join(self.dir, "config.yml")
        with open(config, "w") as f:
            f.write(f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {self.dir}/data
  delete:
    enabled: true
http:
  addr: {self.addr}
{auth}""")
        self.log = open(os.path.join(self.dir, "registry.log"), "w")
        self.start()
        self.images = {}

    def start(self):
        """Starts docker-registry on the storage and port (again, after a
        test stopped it) and waits for its answer."""
        self.proc = subprocess.Popen(["docker-registry", "serve",
                                      os.path.join(self.dir, "config.yml")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if http("GET", f"http://{self.addr}/v2/", timeout=1)[0] in (200, 401):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("docker-registry did not start")

    def build(self, *names, env=None):
        """Builds and pushes test images; remembers "name:tag" -> pinned ref."""
        e = dict(os.environ, **(env or {}))
        if self.creds:
            e["DEST_CREDS"] = ":".join(self.creds)
        out = subprocess.run(["sh", os.path.join(ROOT, "tests/images/build.sh"), self.addr,
                              *names], capture_output=True, text=True, env=e, timeout=300)
        if out.returncode != 0:
            raise RuntimeError("build.sh failed: " + out.stderr)
        for line in out.stdout.splitlines():
            nametag, digest = line.split()
            name, tag = nametag.split(":")
            self.images[nametag] = f"{self.addr}/{name}:{tag}@{digest}"
        return self.images

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def config_text(image, upstream_port=8080, gpus=None, deploy=None, env=None, secrets=None,
                paths=("/*", "/health"), entrypoint=None, healthcheck=None, extra=None,
                top=None):
    """A tinfoil-config.yml for one container of image; healthcheck is the
    container's docker-compose healthcheck as a dict; extra are more lines of
    the container (indented 4), top more top-level lines."""
    lines = ["cvm-version: 0.7.5"]
    if gpus is not None:
        lines.append(f"gpus: {gpus}")
    lines += list(top or [])
    lines += ["containers:", '  - name: "app"', f'    image: "{image}"']
    lines += ["    " + x for x in extra or []]
    if entrypoint:
        lines.append("    entrypoint: " + json.dumps(entrypoint))
    if env:
        lines.append("    env:")
        for k, v in env.items():
            lines.append(f'      - {k}: "{v}"' if v is not None else f"      - {k}")
    if secrets:
        lines.append("    secrets:")
        lines += [f"      - {s}" for s in secrets]
    if healthcheck:
        lines.append("    healthcheck:")
        lines += [f"      {k}: {json.dumps(v) if isinstance(v, list) else v}"
                  for k, v in healthcheck.items()]
    lines += ["shim:", f"  upstream-port: {upstream_port}", "  paths:"]
    lines += [f'    - "{p}"' for p in paths]
    d = {"min-healthy-time": "1s", "health-timeout": "20s", "drain-timeout": "5s",
         "hold-timeout": "30s"}
    d.update(deploy or {})
    lines.append("deploy:")
    lines += [f"  {k}: {v}" for k, v in d.items()]
    return "\n".join(lines) + "\n"


def git(repo, *args, date=None):
    """git -C repo ARGS as a test author; date (seconds) dates the commit."""
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    if date is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"{date} +0000"
    subprocess.run(["git", "-C", repo] + list(args), check=True, env=env,
                   capture_output=True, timeout=30)


def make_source(path, tags):
    """A git repository at path with one commit and tag per (tag, config text),
    oldest first, a minute apart."""
    os.makedirs(path)
    git(path, "init", "-q", "-b", "main")
    for i, (tag, text) in enumerate(tags):
        with open(os.path.join(path, "tinfoil-config.yml"), "wb") as f:
            f.write(text.encode("utf-8", "surrogateescape"))
        git(path, "add", "tinfoil-config.yml")
        git(path, "commit", "-q", "-m", tag, date=1700000000 + 60 * i)
        git(path, "tag", tag)
    return path


class GitRepo:
    """A real git repository whose tags hold tinfoil-config.yml."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="berth-lc-git-")
        self.tags = 0
        self.git("init", "-q", "-b", "main")

    def git(self, *args, date=None):
        git(self.dir, *args, date=date)

    def tag(self, tag, config):
        """Commits config and tags it; tags sort by commit time, so each
        commit is dated a minute after the one before (no waiting)."""
        with open(os.path.join(self.dir, "tinfoil-config.yml"), "w") as f:
            f.write(config)
        self.git("add", "tinfoil-config.yml")
        self.git("commit", "-q", "--allow-empty", "-m", tag, date=1700000000 + 60 * self.tags)
        self.git("tag", tag)
        self.tags += 1

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Berthd:
    """berthd with a private state dir, subnet and bridge, its router on a free
    port. stop() deletes what it deployed, then stops berthd and its router."""

    count = 0

    def __init__(self, args=(), env=None, binary=None, wrapper=(), tls=None):
        """tls: None leaves berthd's default HTTPS listener, True puts it on
        a free port (tls_port), False turns it off."""
        Berthd.count += 1
        self.binary = binary or os.path.join(BUILD, "berthd")
        self.wrapper = list(wrapper)
        n = suite_checks.free_subnet_octet()
        self.state = tempfile.mkdtemp(prefix="berth-lc-")
        self.port = free_port()
        self.router_port = free_port()
        self.tls_port = free_port() if tls else None
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = self.url + "/api/v1"
        self.bridge = f"bt{n}x{Berthd.count % 10}"
        self.args = ["--state-dir", self.state, "--listen", f"127.0.0.1:{self.port}",
                     "--router-listen", f"127.0.0.1:{self.router_port}",
                     "--subnet", f"10.89.{n}.0/24", "--bridge", self.bridge,
                     "--log-level", "debug",
                     "--source-root", tempfile.gettempdir()]
        if tls is not None:
            self.args += ["--tls-listen", f"127.0.0.1:{self.tls_port}" if tls else "off"]
        self.args += list(args)
        self.env = env
        suite_checks.track_berthd(self.state, self.bridge)
        self.logpath = os.path.join(self.state, "berthd.log")
        self.proc = None
        self.final_log = None
        self.start()
        self.token = open(os.path.join(self.state, "admin-token")).read().strip()

    def start(self, env=None):
        self.log = open(self.logpath, "a")
        e = suite_checks.daemon_env(dict(os.environ, **(self.env or {}), **(env or {})))
        self.proc = subprocess.Popen(self.wrapper + [self.binary] + self.args,
                                     stdout=self.log, stderr=subprocess.STDOUT, env=e)
        wait_healthy(self.proc, self.url, self.read_log, timeout=60)

    def read_log(self):
        """berthd's log (kept in memory once stop() removed the state dir)."""
        if self.final_log is not None:
            return self.final_log
        with open(self.logpath) as f:
            return f.read()

    def call(self, method, path, body=None, token=None):
        # 504 source_timeout: berthd is still fetching the source; a client
        # asks again (joining that fetch), as the CLI does.
        for _ in range(120):
            status, data, _ = http(method, self.api + path, body, token or self.token)
            if status != 504 or b"source_timeout" not in data:
                break
            time.sleep(0.5)
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, data.decode()

    def container(self, name):
        status, body = self.call("GET", "/containers/" + name)
        assert status == 200, body
        return body

    def wait(self, name, pred, timeout=90, what="condition"):
        deadline = time.monotonic() + timeout
        c = None
        while time.monotonic() < deadline:
            status, c = self.call("GET", "/containers/" + name)
            if status == 200 and pred(c):
                return c
            time.sleep(0.1)
        raise AssertionError(f"{name}: timed out waiting for {what}; last: "
                             f"{json.dumps(c, indent=1)}\n{self.read_log()[-4000:]}")

    def wait_status(self, name, status, timeout=90):
        return self.wait(name, lambda c: c["status"] == status, timeout, "status " + status)

    def wait_update_end(self, name, timeout=90):
        return self.wait(name, lambda c: c["update"] is not None and
                         c["update"]["finished_at"] is not None, timeout, "the update's end")

    def host(self, name, org="default"):
        return f"{name}.{org}.containers.localhost"

    def get(self, name, path="/", timeout=5):
        """A request through berth-router to container name."""
        return http("GET", f"http://127.0.0.1:{self.router_port}{path}",
                    headers={"Host": self.host(name)}, timeout=timeout)

    def ca_file(self):
        """The CA from GET /ca.pem (no token), in a file beside the state."""
        status, pem, _ = http("GET", self.url + "/ca.pem")
        assert status == 200, pem
        path = os.path.join(self.state, "test-ca.pem")
        with open(path, "wb") as f:
            f.write(pem)
        return path

    def tls_context(self):
        return ssl.create_default_context(cafile=self.ca_file())

    def https(self, name, path="/", timeout=5, ctx=None, org="default", headers=None):
        """A request over TLS through berth-router to container name, SNI and
        Host its host name, the certificate checked against berth's CA.
        Returns (status, body, the server's certificate as a dict)."""
        host = self.host(name, org)
        ctx = ctx or self.tls_context()
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as s:
                cert = s.getpeercert()
                conn = httpclient.HTTPConnection(host, self.tls_port, timeout=timeout)
                conn.sock = s
                conn.request("GET", path, headers=headers or {})
                r = conn.getresponse()
                return r.status, r.read(), cert

    def router_pid(self):
        try:
            return int(open(os.path.join(self.state, "router.pid")).read())
        except (OSError, ValueError):
            return None

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait(30)
        self.log.close()

    def stop(self):
        if self.proc.poll() is None:
            try:
                status, items = self.call("GET", "/containers")
                for c in items if status == 200 else []:
                    self.call("DELETE", "/containers/" + c["name"])
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    status, items = self.call("GET", "/containers")
                    if status != 200 or not items:
                        break
                    time.sleep(0.2)
                # Deleted containers leave the list at once; their teardown
                # ends when no enclave of this berthd is left.
                enc = os.path.join(self.state, "enclaves")
                while time.monotonic() < deadline and os.path.isdir(enc) and os.listdir(enc):
                    time.sleep(0.2)
            finally:
                stop_process(self.proc, timeout=60)
                self.log.close()
        clean_host(self.state, self.logpath, self._subnet(), self.bridge)
        suite_checks.delete_bridge(self.bridge)
        self.final_log = self.read_log()
        suite_checks.remove_state_dir(self.state)
        return self.proc.returncode

    def _subnet(self):
        return self.args[self.args.index("--subnet") + 1]

    def destroy_leftovers(self):
        destroy_enclaves(self.state, self._subnet(), self.bridge)


def destroy_enclaves(state, subnet, bridge, prefix=()):
    """Enclaves a dead daemon of state (berthd, berth-agent) could not
    delete (a test that killed it and failed before a restart) go through the
    runtime driver (run under prefix, e.g. nsenter into the host's network
    namespace), with their firewall tables, cgroups and bundles."""
    enc = os.path.join(state, "enclaves")
    run = suite_checks.run_dir(state)
    if os.path.isdir(enc) and os.listdir(enc):
        drv = list(prefix) + [os.path.join(BUILD, "tests", "berth-enclave"), "--state", state,
                              "--oci-root", run + "/oci", "--netns-dir", run + "/netns",
                              "--bridge", bridge, "--subnet", subnet]
        for name in os.listdir(enc):
            subprocess.run(drv + ["destroy", name], capture_output=True, timeout=120)
    subprocess.run(["umount", run + "/bundles"], capture_output=True)


def clean_host(state, logpath, subnet, bridge, prefix=()):
    """After a daemon of state stopped: its log scanned, its router stopped,
    its leftover enclaves destroyed (destroy_enclaves), its run directory
    removed."""
    suite_checks.scan_log(logpath)
    suite_checks.stop_router(state)
    destroy_enclaves(state, subnet, bridge, prefix)
    suite_checks.remove_run_dir(state)


def wait_answer(proc, url, status, what, read_log, timeout):
    """Waits until GET url answers status; a daemon proc that exits first or
    does not answer in time (then killed) raises with its log's end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: " + read_log()[-3000:])
        try:
            if http("GET", url, timeout=1)[0] == status:
                return
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"{what} did not answer: " + read_log()[-3000:])


class Load:
    """Requests to a container through the router, back to back, from a
    thread, counting answers by status and failures by kind."""

    def __init__(self, berthd, name, path="/", timeout=10, tls=False):
        self.b, self.name, self.path, self.timeout = berthd, name, path, timeout
        self.ctx = berthd.tls_context() if tls else None
        self.statuses = {}
        self.bodies = {}
        self.errors = []
        self.stopping = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stopping:
            t0 = time.time()
            try:
                if self.ctx is not None:
                    status, body, _ = self.b.https(self.name, self.path, self.timeout, self.ctx)
                else:
                    status, body, _ = self.b.get(self.name, self.path, timeout=self.timeout)
                self.statuses[status] = self.statuses.get(status, 0) + 1
                self.bodies[body] = self.bodies.get(body, 0) + 1
            except Exception as e:  # a failed request is what we count
                self.errors.append(f"{e!r} (sent at {t0:.3f}, {time.time() - t0:.3f} s)")
            time.sleep(0.005)

    def stop(self):
        self.stopping = True
        self.t.join(30)
        if self.errors:
            self.report()
        return self.statuses, self.errors

    def report(self):
        """A failed request is rare and its cause in the daemons' logs: their
        tails go to the test's captured output (shown when it fails)."""
        print("load errors:", *self.errors[:10], sep="\n  ")
        for log in ("router.log", "berthd.log"):
            try:
                with open(os.path.join(self.b.state, log), errors="replace") as f:
                    print(f"--- {log} (tail)", *f.readlines()[-300:], sep="")
            except OSError as e:
                print(f"--- {log}: {e}")


def registry_fixture(*images):
    """A session fixture `registry`: a Registry holding the test images
    (tests/images) named."""
    @pytest.fixture(scope="session", name="registry")
    def registry():
        reg = Registry()
        reg.build(*images)
        yield reg
        reg.stop()
    return registry


def repo_fixture(tags):
    """A session fixture `repo`: a GitRepo with tags(registry), a list of
    (tag, config text), tagged in order."""
    @pytest.fixture(scope="session", name="repo")
    def repo(registry):
        r = GitRepo()
        for tag, config in tags(registry):
            r.tag(tag, config)
        yield r
        r.remove()
    return repo


def tmpdir_fixture(name, prefix):
    """A fixture (named name): a new temporary directory for one test,
    removed after it."""
    @pytest.fixture(name=name)
    def tmpdir():
        d = tempfile.mkdtemp(prefix=prefix)
        yield d
        shutil.rmtree(d, ignore_errors=True)
    return tmpdir


def berthd_fixture(name="berthd", cls=None, **kwargs):
    """A fixture (named name): a Berthd (or cls)(**kwargs) for one test,
    stopped after it."""
    @pytest.fixture(name=name)
    def berthd():
        d = (cls or Berthd)(**kwargs)
        yield d
        d.stop()
    return berthd
