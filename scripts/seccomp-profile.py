#!/usr/bin/python3
"""Converts a containers-common (Docker/Podman format) seccomp.json into the
OCI runtime spec's linux.seccomp object berth puts in every bundle:
    scripts/seccomp-profile.py /usr/share/containers/seccomp.json \
        > src/runtime/seccomp-default.json
The source is Debian's golang-github-containers-common. Entries are kept for
the x86_64 ABI alone (see ARCHES) and resolved for the capabilities an
enclave container can hold (berth's default set plus the allowed cap_add):
no capability berth grants appears in a condition of the source's entries
except as resolved here, so one profile fits every container."""
import json
import sys

ARCH = "amd64"
# x86_64 only: 32-bit and x32 system calls (rare in images, and a history
# of compat-path kernel bugs) are refused, and the filter compiles a third
# as large (runc create: 70 ms with all three, 50 ms with one, 44 ms without).
ARCHES = ["SCMP_ARCH_X86_64"]
# src/runtime/bundle.c: default_caps[] and the policy's cap_add allow-list.
CAPS = {"CAP_" + c for c in (
    "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    "IPC_LOCK", "SYS_NICE")}
# Capabilities granted to some containers only: a condition on one of them
# would make the profile depend on the container.
OPTIONAL = {"CAP_IPC_LOCK", "CAP_SYS_NICE", "CAP_NET_BIND_SERVICE"}
# Refused although the source allows them: containers-common leaves them to
# the capability checks, but without CAP_SYS_ADMIN (never granted) they serve
# only to open new user namespaces, whose root reaches mount, keyring and
# namespace code of the host kernel. Docker's own profile refuses them too.
DENY_EPERM = ["mount", "umount", "umount2", "unshare", "pivot_root", "setns",
              "keyctl", "add_key", "request_key", "open_tree", "move_mount",
              "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
              "name_to_handle_at", "syslog"]
CLONE_NEW = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
ENOSYS = 38


def applies(cond, caps, want):
    arches = cond.get("arches") or []
    need = cond.get("caps") or []
    if set(need) & OPTIONAL:
        sys.exit("seccomp-profile: a condition on %s: the profile would vary" % need)
    if want:  # includes: every listed item must hold
        return (not arches or ARCH in arches) and all(c in caps for c in need)
    # excludes: the entry goes when any listed item holds
    return not ((arches and ARCH in arches) or any(c in caps for c in need))


def main():
    src = json.load(open(sys.argv[1]))
    out = {
        "defaultAction": src["defaultAction"],
        "architectures": ARCHES,
        "syscalls": [],
    }
    if "defaultErrnoRet" in src:
        out["defaultErrnoRet"] = src["defaultErrnoRet"]
    for s in src["syscalls"]:
        if not applies(s.get("includes") or {}, CAPS, True):
            continue
        if not applies(s.get("excludes") or {}, CAPS, False):
            continue
        e = {"names": s["names"], "action": s["action"]}
        if s.get("errnoRet") is not None:
            e["errnoRet"] = s["errnoRet"]
        if s.get("args"):
            e["args"] = [{k: a[k] for k in ("index", "value", "valueTwo", "op")} for a in s["args"]]
        out["syscalls"].append(e)
    # A name the source both allows and refuses is refused: libseccomp takes
    # one action per syscall without arguments, and refusal is the safe one.
    denied = set(DENY_EPERM) | {"clone", "clone3"}
    for e in out["syscalls"]:
        if e["action"] != "SCMP_ACT_ALLOW" and "args" not in e:
            denied |= set(e["names"])
    for e in out["syscalls"]:
        if e["action"] == "SCMP_ACT_ALLOW" and "args" not in e:
            e["names"] = sorted(n for n in e["names"] if n not in denied)
    out["syscalls"] = [e for e in out["syscalls"] if e["names"]]
    out["syscalls"].append({"names": DENY_EPERM, "action": "SCMP_ACT_ERRNO", "errnoRet": 1})
    # clone only without namespace flags; clone3 (whose flags a filter cannot
    # read) answers ENOSYS, so that libc falls back to clone.
    out["syscalls"].append({"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
        {"index": 0, "value": CLONE_NEW, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]})
    out["syscalls"].append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS})
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


main()
