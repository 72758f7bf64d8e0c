"""Unpacking pulled images: whiteouts, path escapes refused, the busybox test
images of tests/images/build.sh (umoci + skopeo)."""
import os
import subprocess

from conftest import layer

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_SH = os.path.join(HERE, "..", "..", "images", "build.sh")


def pull_unpack(registry, driver, name, layers, **kw):
    digest, doc = registry.push_image(name, "v1", layers, **kw)
    rootfs = os.path.join(driver.root, "rootfs")
    p = driver.pull("%s/%s@%s" % (registry.addr, name, digest), "--unpack", rootfs)
    return p, rootfs


def listing(root):
    out = set()
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


def test_whiteouts(registry, driver, unique):
    lower = layer([
        ("data", "dir", None), ("data/keep", "file", b"keep"), ("data/gone", "file", b"gone"),
        ("data/gonedir", "dir", None), ("data/gonedir/x", "file", b"x"),
        ("opq", "dir", None), ("opq/old1", "file", b"1"), ("opq/sub", "dir", None),
        ("opq/sub/old2", "file", b"2"),
        ("./lib", "dir", None), ("lib/libc", "file", b"libc"),
    ])
    upper = layer([
        ("data/.wh.gone", "file", b""), ("data/.wh.gonedir", "file", b""),
        # This layer's own opq/early comes before the marker and must stay.
        ("opq/early", "file", b"early"),
        ("opq/.wh..wh..opq", "file", b""), ("opq/new", "file", b"new"),
        ("lib/libc", "file", b"libc2"), ("lib/libc.so", "hardlink", "lib/libc"),
    ])
    p, rootfs = pull_unpack(registry, driver, unique, [lower, upper])
    assert p.returncode == 0, p.stderr
    assert listing(rootfs) == {"data", "data/keep", "opq", "opq/early", "opq/new", "lib",
                               "lib/libc", "lib/libc.so"}
    assert open(os.path.join(rootfs, "opq/new"), "rb").read() == b"new"
    assert open(os.path.join(rootfs, "lib/libc"), "rb").read() == b"libc2"
    assert os.stat(os.path.join(rootfs, "lib/libc")).st_ino == \
        os.stat(os.path.join(rootfs, "lib/libc.so")).st_ino
    # No leftovers of the temporary unpack dir.
    assert [n for n in os.listdir(driver.root) if "unpack" in n] == []


def escape_case(registry, driver, unique, entries, outside):
    p, rootfs = pull_unpack(registry, driver, unique, [layer(entries)])
    assert p.returncode != 0
    assert "refused" in p.stderr, p.stderr
    assert not os.path.exists(rootfs)
    assert [n for n in os.listdir(driver.root) if "unpack" in n] == []
    for path in outside:
        assert not os.path.exists(path), path
    return p


def test_dotdot_refused(registry, driver, unique):
    outside = os.path.join(driver.root, "escaped-%s" % unique)
    p = escape_case(registry, driver, unique,
                    [("ok.txt", "file", b"ok"), ("../escaped-%s" % unique, "file", b"x")],
                    [outside])
    assert "escapes the rootfs" in p.stderr


def test_symlink_escape_refused(registry, driver, unique):
    target = os.path.join(driver.root, "victim")
    os.mkdir(target)
    p = escape_case(registry, driver, unique,
                    [("evil", "symlink", target), ("evil/pwned", "file", b"x")],
                    [os.path.join(target, "pwned")])
    assert "goes through a symlink" in p.stderr


def test_relative_symlink_escape_refused(registry, driver, unique):
    p = escape_case(registry, driver, unique,
                    [("up", "symlink", "../../../../../.."), ("up/tmp/pwned-" + unique, "file", b"x")],
                    ["/tmp/pwned-" + unique])
    assert "goes through a symlink" in p.stderr


def test_whiteout_through_symlink_refused(registry, driver, unique):
    victim = os.path.join(driver.root, "victim")
    os.mkdir(victim)
    open(os.path.join(victim, "precious"), "w").close()
    lower = layer([("evil", "symlink", victim)])
    upper = layer([("evil/.wh.precious", "file", b"")])
    p, rootfs = pull_unpack(registry, driver, unique, [lower, upper])
    assert p.returncode != 0 and "refused" in p.stderr
    assert os.path.exists(os.path.join(victim, "precious"))
    assert not os.path.exists(rootfs)


def test_hardlink_escape_refused(registry, driver, unique):
    escape_case(registry, driver, unique,
                [("passwd", "hardlink", "../../../../etc/passwd")], [])


def test_busybox_images_from_build_sh(registry, driver):
    out = subprocess.run([BUILD_SH, registry.addr, "hello", "env"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    pushed = dict(line.split() for line in out.stdout.splitlines())
    assert set(pushed) == {"hello:v1", "hello:v2", "env:v1"}
    for tag, text in (("v1", b"hello v1\n"), ("v2", b"hello v2\n")):
        rootfs = os.path.join(driver.root, "hello-" + tag)
        ref = "%s/hello:%s@%s" % (registry.addr, tag, pushed["hello:" + tag])
        p = driver.pull(ref, "--unpack", rootfs)
        assert p.returncode == 0, p.stderr
        assert p.image["manifest_digest"] == pushed["hello:" + tag]
        assert p.image["config"]["entrypoint"][:2] == ["/bin/sh", "-c"]
        assert "PORT=8080" in p.image["config"]["env"]
        assert open(os.path.join(rootfs, "www/index.html"), "rb").read() == text
        assert os.readlink(os.path.join(rootfs, "bin/sh")) == "busybox"
        assert os.access(os.path.join(rootfs, "bin/busybox"), os.X_OK)
    # The two versions share nothing but busybox's bytes, in distinct layers.
    rootfs = os.path.join(driver.root, "env")
    p = driver.pull("%s/env:v1@%s" % (registry.addr, pushed["env:v1"]), "--unpack", rootfs)
    assert p.returncode == 0, p.stderr
    assert os.access(os.path.join(rootfs, "www/cgi-bin/env"), os.X_OK)


def test_unpack_into_existing_dir_refused(registry, driver, unique):
    digest, _ = registry.push_image(unique, "v1", [layer([("a", "file", b"a")])])
    rootfs = os.path.join(driver.root, "rootfs")
    os.mkdir(rootfs)
    p = driver.pull("%s/%s@%s" % (registry.addr, unique, digest), "--unpack", rootfs)
    assert p.returncode != 0 and "already exists" in p.stderr
    assert os.listdir(rootfs) == []


def test_file_over_symlink_replaces_the_link(registry, driver, unique):
    victim = os.path.join(driver.root, "victim")
    with open(victim, "w") as f:
        f.write("untouched")
    lower = layer([("x", "symlink", victim), ("d", "symlink", driver.root)])
    upper = layer([("x", "file", b"new"), ("d", "dir", None), ("d/y", "file", b"y")])
    p, rootfs = pull_unpack(registry, driver, unique, [lower, upper])
    assert p.returncode == 0, p.stderr
    assert open(victim).read() == "untouched"
    assert not os.path.islink(os.path.join(rootfs, "x"))
    assert open(os.path.join(rootfs, "x"), "rb").read() == b"new"
    assert os.path.isdir(os.path.join(rootfs, "d")) and not os.path.islink(
        os.path.join(rootfs, "d"))
    assert not os.path.exists(os.path.join(driver.root, "y"))
