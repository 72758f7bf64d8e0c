"""What every folder of the system tests (and tests/browser) checks whatever it
tests, so that no test passes while the product misbehaved beside it:

- sanitizer_reports (autouse, per test): no AddressSanitizer, UBSan or
  LeakSanitizer report from a berthd, berth-router or berth-fetch the test
  started. The helpers start them with daemon_env(), which sends ASan and
  LSan reports to a file of this session's report directory (berth-fetch's
  stderr goes to berthd, which logs its first line only), and pass their logs
  to scan_log() when they stop them (UBSan prints to stderr whatever
  log_path says: berthd.log, router.log, and for berth-fetch the first line
  of its report in berthd.log).
- pytest_sessionstart/finish: after the folder's last test, nothing the
  tests made is left: no process, mount, bridge, veth, nft table or
  /run/berth directory. The helpers track() what they make (state dirs,
  bridges); other sessions run the same tests on this machine at the same
  time, so only tracked names and objects new since the snapshot count.

Each folder's conftest.py imports this module by path (the folders do not
import each other) and imports the fixture and the two hooks into its
namespace, where pytest finds them:

    sys.path.append(os.path.join(os.path.dirname(__file__), ".."))
    from suite_checks import (  # noqa: F401
        pytest_sessionfinish, pytest_sessionstart, sanitizer_reports)
"""
import glob
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

# What a report of each sanitizer starts with.
SANITIZER_RE = re.compile(r"ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer")

_report_dir = None
_logs = {}       # path -> bytes already scanned
_found = []      # reports seen since the last check: (where, excerpt)
_tracked = {"dir": set(), "bridge": set()}
_leaks = []      # leftovers the helpers saw while cleaning up


def free_subnet_octet():
    """n for a subnet 10.89.n.0/24 and a bridge bt<n>x<k> that no berthd on
    this machine uses now: other sessions run these tests at the same time,
    and two berthds on one bridge tear each other's enclaves down."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    for _ in range(200):
        n = random.randint(20, 219)
        if f"10.89.{n}." not in routes and f" bt{n}x" not in links:
            return n
    raise RuntimeError("no free 10.89.n.0/24 for a test berthd")


def report_dir():
    """This session's directory of sanitizer reports (made on first use)."""
    global _report_dir
    if _report_dir is None:
        _report_dir = tempfile.mkdtemp(prefix="berth-sanitizer-")
    return _report_dir


def daemon_env(env=None):
    """env (default os.environ) for a sanitized berthd or berth-router: each
    sanitizer writes its reports to report_dir()/report.PID, also those of
    the berth-fetch and berth-router processes berthd starts, which inherit
    it. Options already set stay, log_path added last (the last one wins)."""
    e = dict(os.environ if env is None else env)
    path = "log_path=" + os.path.join(report_dir(), "report")
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        e[k] = (e[k] + ":" if e.get(k) else "") + path
    e["UBSAN_OPTIONS"] += ":print_stacktrace=1"
    return e


def _excerpt(text, m):
    start = text.rfind("\n", 0, max(0, m.start() - 200)) + 1
    return text[start:m.start() + 3000]


def _scan(path, where):
    """New sanitizer reports in path since its last scan (whole lines only)."""
    try:
        with open(path, "rb") as f:
            f.seek(_logs.get(path, 0))
            data = f.read()
    except OSError:
        return
    end = data.rfind(b"\n") + 1
    _logs[path] = _logs.get(path, 0) + end
    text = data[:end].decode(errors="replace")
    m = SANITIZER_RE.search(text)
    if m:
        _found.append((where or path, _excerpt(text, m)))


def scan_log(path, what=None):
    """Scans a daemon's log (stdout and stderr) for sanitizer reports that
    went there (a process started without daemon_env()). Call it before the
    log's directory is removed; sanitizer_reports fails the test."""
    _scan(path, what)


def take_reports():
    """Reports found since the last call: the log files passed to scan_log()
    and every file of report_dir()."""
    if _report_dir is not None:
        for path in sorted(glob.glob(os.path.join(_report_dir, "report*"))):
            _scan(path, path)
    out = list(_found)
    _found.clear()
    return out


def _format(reports):
    return "\n".join(f"--- sanitizer report in {where}:\n{text}" for where, text in reports)


def check_reports():
    """Fails the current test if a sanitizer report came since the last
    check. A fixture that asserts the exit code of the daemon it stopped
    calls it first, so that the report, not only the exit code, is shown."""
    reports = take_reports()
    if reports:
        pytest.fail("sanitizer report(s) while this test ran:\n" + _format(reports),
                    pytrace=False)


@pytest.fixture(autouse=True)
def sanitizer_reports():
    """Fails the test in which a berthd, berth-router or berth-fetch printed a
    sanitizer report (found once the test's fixtures stopped them)."""
    take_reports()  # a report of an earlier test was already failed
    yield
    check_reports()


def require(*needs):
    """Fails the test (never skips it) unless each of needs, a program on PATH
    or a file path, is there: scripts/install-deps.sh installs the programs
    and `make test` builds both build dirs, so a missing one is a broken
    setup, not a reason to test less."""
    missing = [n for n in needs
               if not (os.path.exists(n) if os.sep in n else shutil.which(n))]
    if missing:
        pytest.fail("missing " + ", ".join(missing) +
                    " (scripts/install-deps.sh installs the programs; make build asan the"
                    " binaries)", pytrace=False)


# --- leftovers -------------------------------------------------------------

def track(kind, value):
    """Remembers what a helper made: kind "dir" (a state, temp or run
    directory: no process, mount or file of it may stay) or "bridge"."""
    _tracked[kind].add(value)


def run_dir(state_dir):
    """berthd's run directory of state_dir (src/recon/recon.c)."""
    return "/run/berth/" + hashlib.sha256(state_dir.encode()).hexdigest()[:12]


def track_berthd(state_dir, bridge=None):
    """Tracks a berthd's state dir, its run directory and its bridge."""
    track("dir", state_dir)
    track("dir", run_dir(state_dir))
    if bridge:
        track("bridge", bridge)


def remove_run_dir(state_dir):
    """Removes berthd's run directory of state_dir once berthd stopped: the
    empty directories it made (it keeps them for its enclaves, which outlive
    it); anything in them is a leftover, left in place and reported."""
    run = run_dir(state_dir)
    if not os.path.isdir(run):
        return
    for sub in ("netns", "oci", "oci-runsc", "bundles"):
        p = os.path.join(run, sub)
        if not os.path.isdir(p) or os.listdir(p):
            continue
        # berthd mounts a tmpfs on bundles where /run is none: empty, it goes.
        if os.path.ismount(p):
            subprocess.run(["umount", p], capture_output=True)
        try:
            os.rmdir(p)
        except OSError:
            pass
    try:
        os.rmdir(run)
    except OSError:
        left = f"{run}: {sorted(os.listdir(run))}"
        if left not in _leaks:
            _leaks.append(left)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_router(state_dir, timeout=15):
    """Stops the berth-router that berthd started detached for state_dir (it
    outlives berthd on purpose), by the pid berthd wrote, waits for its exit
    (a leak report comes at exit) and scans its log. Returns whether one ran."""
    try:
        with open(os.path.join(state_dir, "router.pid")) as f:
            pid = int(f.read())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if state_dir.encode() not in f.read():
                raise ProcessLookupError  # exited, and its pid taken since
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        scan_log(os.path.join(state_dir, "router.log"))
        return False
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if _alive(pid):
        _leaks.append(f"berth-router {pid} of {state_dir}: still running {timeout} s "
                      "after SIGTERM (killed)")
        os.kill(pid, signal.SIGKILL)
    scan_log(os.path.join(state_dir, "router.log"))
    return True


def _mounts_under(dirs):
    with open("/proc/self/mountinfo") as f:
        return [m for m in (line.split()[4].replace("\\040", " ") for line in f)
                if _under(m, dirs)]


def remove_state_dir(d):
    """Removes a test's state directory, unless something is still mounted
    under it (reported: rmtree would empty the mounted file system)."""
    left = _mounts_under({d, os.path.realpath(d)})
    if left:
        _leaks.append(f"mounts under {d}: {left}")
        return
    shutil.rmtree(d, ignore_errors=True)


def delete_bridge(bridge):
    """Deletes a test's bridge (berthd leaves it for its enclaves); a veth
    still on it is an enclave's leftover, reported."""
    out = subprocess.run(["ip", "-o", "link", "show", "master", bridge],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        _leaks.append(f"veth on bridge {bridge}: {line.split(':')[1].strip()}")
    subprocess.run(["ip", "link", "del", bridge], capture_output=True)


def _procs():
    """pid -> (argv, root, cwd, ppid) of every live process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
            with open(f"/proc/{d}/stat") as f:
                state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
            if state == "Z":  # exited, not yet waited for: nothing left running
                continue
            ppid = int(ppid)
            root = cwd = ""
            try:
                root, cwd = os.readlink(f"/proc/{d}/root"), os.readlink(f"/proc/{d}/cwd")
            except OSError:
                pass
            out[int(d)] = (argv, root, cwd, ppid)
        except (OSError, ValueError, IndexError):
            continue
    return out


def _descendants(procs, top):
    kids = {}
    for pid, (_, _, _, ppid) in procs.items():
        kids.setdefault(ppid, []).append(pid)
    seen, todo = set(), [top]
    while todo:
        for k in kids.get(todo.pop(), []):
            if k not in seen:
                seen.add(k)
                todo.append(k)
    return seen


def _under(path, dirs):
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in dirs)


def _nft_tables():
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    return {tuple(line.split()[1:3]) for line in out.splitlines() if line.startswith("table ")}


def _links(kind):
    out = subprocess.run(["ip", "-o", "link", "show", "type", kind],
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        names.add(name)
    return names


def _netns():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _snapshot():
    return {"procs": set(_procs()), "nft": _nft_tables(), "veth": _links("veth"),
            "netns": _netns()}


def find_leftovers(before):
    """What this session's tests left, compared with the snapshot before."""
    dirs = {d for d in _tracked["dir"]}
    # Namespaces are pinned and bundles mounted under a test's run directory.
    dirs |= {os.path.realpath(d) for d in dirs}
    left = list(_leaks)
    procs = _procs()
    mine = _descendants(procs, os.getpid())
    for pid, (argv, root, cwd, _) in sorted(procs.items()):
        if pid == os.getpid() or pid in before["procs"]:
            continue
        refs = [a for a in argv if _under(a.split("=", 1)[-1], dirs)] or \
            [p for p in (root, cwd) if p != "/" and _under(p, dirs)]
        if pid in mine or refs:
            left.append(f"process {pid}: {' '.join(argv)[:300]}")
    left += [f"mount {m}" for m in _mounts_under(dirs)]
    for d in sorted(dirs):
        if d.startswith("/run/") and os.path.exists(d):
            left.append(f"directory {d}")
    bridges = _links("bridge")
    for b in sorted(_tracked["bridge"] & bridges):
        left.append(f"bridge {b}")
    for v in sorted(_links("veth") - before["veth"]):
        out = subprocess.run(["ip", "-o", "link", "show", "dev", v], capture_output=True,
                             text=True).stdout
        m = re.search(r" master (\S+)", out)
        if m and m.group(1) in _tracked["bridge"]:
            left.append(f"veth {v} on {m.group(1)}")
    for fam, name in sorted(_nft_tables() - before["nft"]):
        if not name.startswith("berth"):
            continue
        rules = subprocess.run(["nft", "list", "table", fam, name], capture_output=True,
                               text=True).stdout
        if any(f'"{b}"' in rules for b in _tracked["bridge"]):
            left.append(f"nft table {fam} {name}")
    for ns in sorted(_netns() - before["netns"]):
        if any(b in ns for b in _tracked["bridge"]):
            left.append(f"netns {ns}")
    return left


_before = None


def pytest_sessionstart(session):
    """The host before this folder's first test."""
    global _before
    _before = _snapshot()


def pytest_sessionfinish(session, exitstatus):
    """After every fixture of the session ended (a session fixture's teardown
    would not do: pytest tears them down in the order tests last asked for
    them), fails the run if a sanitizer report came at the end or the
    folder's tests left something behind."""
    global _report_dir
    if _before is None:
        return
    reports = take_reports()
    left = []
    for _ in range(20):  # processes that were just signalled may take a moment
        left = find_leftovers(_before)
        if not left:
            break
        time.sleep(0.5)
    if _report_dir is not None and not reports and not os.listdir(_report_dir):
        os.rmdir(_report_dir)
        _report_dir = None
    msg = []
    if reports:
        msg.append("sanitizer report(s) at the end of the session:\n" + _format(reports))
    if left:
        msg.append("left behind by this folder's tests:\n  " + "\n  ".join(left))
    if msg:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        text = "\n".join(msg)
        if tr is not None:
            tr.write_sep("=", "suite_checks: FAILED", red=True)
            tr.write_line(text)
        else:
            print(text)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
