"""What the fault tests need beside the lifecycle helpers: a registry that can
be killed and started again on its storage, a look at what berthd has on the
machine (enclaves, namespaces, mounts, veths, its image cache), and a client
load that times every request."""
import hashlib
import json
import os
import signal
import subprocess
import threading
import time

from lifecycle_helpers import Registry, http
import suite_checks

BLOBS = "data/docker/registry/v2/blobs/sha256"


class FaultRegistry(Registry):
    """docker-registry that a test may SIGKILL and start again on the same
    port and storage."""

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def restart(self):
        self.start()

    def stop(self):
        if self.proc.poll() is None:
            super().stop()
        else:
            self.log.close()

    def layers(self, nametag):
        """The layer digests of a pushed image, in order."""
        name, tag = nametag.split(":")
        status, body, _ = http("GET", f"http://{self.addr}/v2/{name}/manifests/{tag}",
                               headers={"Accept":
                                        "application/vnd.oci.image.manifest.v1+json"})
        assert status == 200, body
        return [layer["digest"] for layer in json.loads(body)["layers"]]

    def blob_path(self, digest):
        hexd = digest.split(":")[1]
        return os.path.join(self.dir, BLOBS, hexd[:2], hexd, "data")


def cache_dir(b):
    return os.path.join(b.state, "images")


def cache_blobs(b):
    d = os.path.join(cache_dir(b), "blobs", "sha256")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def unsound_cache(b):
    """What in berthd's image cache is not whole: a blob whose content does not
    hash to its name, a temporary file left from a pull."""
    bad = []
    d = os.path.join(cache_dir(b), "blobs", "sha256")
    for name in cache_blobs(b):
        h = hashlib.sha256()
        with open(os.path.join(d, name), "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != name:
            bad.append(f"blob {name} hashes to {h.hexdigest()}")
    tmp = os.path.join(cache_dir(b), "tmp")
    if os.path.isdir(tmp):
        bad += [f"temporary {t}" for t in os.listdir(tmp)]
    return bad


def machine(b):
    """What berthd b has on the machine, each as a sorted list: its enclaves'
    records, pinned network namespaces, OCI containers, bundles, mounts under
    its state and run directories, veths on its bridge."""
    run = suite_checks.run_dir(b.state)

    def ls(d):
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    with open("/proc/self/mountinfo") as f:
        mounts = sorted(m for m in (line.split()[4] for line in f)
                        if m.startswith(run + "/bundles/") or m.startswith(run + "/netns/")
                        or m.startswith(b.state + "/"))
    veths = subprocess.run(["ip", "-o", "link", "show", "master", b.bridge],
                           capture_output=True, text=True).stdout
    return {"enclaves": ls(os.path.join(b.state, "enclaves")),
            "netns": ls(os.path.join(run, "netns")),
            "oci": ls(os.path.join(run, "oci")),
            "bundles": ls(os.path.join(run, "bundles")),
            "mounts": mounts,
            "veths": sorted(line.split(":")[1].strip() for line in veths.splitlines())}


def wait_machine(b, pred, timeout=60):
    deadline = time.monotonic() + timeout
    m = machine(b)
    while not pred(m) and time.monotonic() < deadline:
        time.sleep(0.2)
        m = machine(b)
    return m


def events(b, name):
    status, evs = b.call("GET", f"/containers/{name}/events")
    assert status == 200, evs
    return evs


class TimedLoad:
    """Requests to a container through the router, back to back, from a few
    threads; every request kept as (start, end, status or None, body or the
    error's kind)."""

    def __init__(self, b, name, threads=2, timeout=10, path="/"):
        self.b, self.name, self.timeout, self.path = b, name, timeout, path
        self.results = []
        self.stopping = False
        self.lock = threading.Lock()
        self.ts = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for t in self.ts:
            t.start()

    def run(self):
        while not self.stopping:
            t0 = time.monotonic()
            try:
                status, body, _ = self.b.get(self.name, self.path, timeout=self.timeout)
                r = (t0, time.monotonic(), status, body)
            except Exception as e:  # a failed request is what we count
                reason = getattr(e, "reason", e)
                r = (t0, time.monotonic(), None, type(reason).__name__)
            with self.lock:
                self.results.append(r)
            time.sleep(0.002)

    def stop(self):
        self.stopping = True
        for t in self.ts:
            t.join(30)
        return self.results

    def failures(self):
        return [r for r in self.results if r[2] != 200]
