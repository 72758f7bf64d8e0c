"""Hostile images: layer bombs (bytes, entries, sparse and lying sizes) stop at
the unpack caps and leave nothing behind; device nodes are not created; only
OCI's compressions are read and no decompressor program ever runs."""
import bz2
import gzip
import io
import os
import stat
import subprocess
import tarfile

from conftest import MT_OCI_CONFIG, MT_OCI_MANIFEST, image_config, layer


def pull_unpack(registry, driver, name, layers, *args, env=None):
    digest, _ = registry.push_image(name, "v1", layers)
    rootfs = os.path.join(driver.root, "rootfs")
    ref = "%s/%s@%s" % (registry.addr, name, digest)
    p = driver.pull(ref, "--unpack", rootfs, *args, env=env)
    return p, rootfs, ref


def refused(driver, p, rootfs, *wants):
    assert p.returncode != 0, p.stdout
    for want in wants:
        assert want in p.stderr, p.stderr
    assert not os.path.exists(rootfs)
    assert [n for n in os.listdir(driver.root) if "unpack" in n] == []


def tar_of(infos):
    """A gzip layer of (TarInfo, data or None) pairs, as given."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for ti, data in infos:
            tar.addfile(ti, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()


def test_gzip_bomb_stops_at_the_byte_cap(registry, driver, unique):
    bomb = layer([("etc", "dir", None), ("zeros", "file", bytes(64 << 20))])
    assert len(bomb) < (1 << 20)  # 64 MiB of zeros in ~64 KiB
    p, rootfs, ref = pull_unpack(registry, driver, unique, [bomb], "--max-bytes", str(1 << 20))
    refused(driver, p, rootfs, "image %s: layer sha256:" % ref,
            "unpacks past the 1 MiB cap (--image-max-bytes) at zeros")


def test_byte_cap_is_per_image(registry, driver, unique):
    one = layer([("a", "file", bytes(700 << 10))])
    two = layer([("b", "file", bytes(700 << 10))])
    p, rootfs, _ = pull_unpack(registry, driver, unique, [one, two], "--max-bytes", str(1 << 20))
    refused(driver, p, rootfs, "unpacks past the 1 MiB cap (--image-max-bytes) at b")


def test_lying_size_refused_at_the_header(registry, driver, unique):
    # A header claiming 1 TiB followed by one block: refused under the
    # default cap before anything is written (not by running out of data).
    ti = tarfile.TarInfo("huge")
    ti.size = 1 << 40
    raw = ti.tobuf(tarfile.PAX_FORMAT) + b"x" * 512
    p, rootfs, _ = pull_unpack(registry, driver, unique, [gzip.compress(raw, mtime=0)])
    refused(driver, p, rootfs, "unpacks past the 256 GiB cap (--image-max-bytes) at huge")


def test_sparse_file_counts_its_full_size(registry, driver, unique, tmp_path):
    # GNU tar stores a 1 TiB hole as a few blocks; it would unpack to a file
    # whose apparent size is 1 TiB.
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "sparse", "wb") as f:
        f.truncate(1 << 40)
    out = subprocess.run(["tar", "--sparse", "--format=pax", "-C", str(src), "-cf", "-", "sparse"],
                         capture_output=True, check=True, timeout=60).stdout
    assert len(out) < (1 << 20)
    p, rootfs, _ = pull_unpack(registry, driver, unique, [gzip.compress(out, mtime=0)])
    refused(driver, p, rootfs, "unpacks past the 256 GiB cap (--image-max-bytes) at sparse")


def test_many_tiny_entries_stop_at_the_entry_cap(registry, driver, unique):
    entries = [("d", "dir", None)] + [("d/f%d" % i, "file", b"") for i in range(3000)]
    p, rootfs, ref = pull_unpack(registry, driver, unique, [layer(entries)],
                                 "--max-entries", "1000")
    refused(driver, p, rootfs, "unpacks past the 1000-entry cap (--image-max-entries)")
    # The same image (cached by the pull) under a cap it fits.
    p = driver.run("unpack", ref, rootfs, "--max-entries", "3001")
    assert p.returncode == 0, p.stderr
    assert len(os.listdir(os.path.join(rootfs, "d"))) == 3000


def test_device_nodes_are_not_created(registry, driver, unique):
    infos = []
    for name, kind, major, minor in (("dev/mem", tarfile.CHRTYPE, 1, 1),
                                     ("dev/sda", tarfile.BLKTYPE, 8, 0),
                                     ("run/initctl", tarfile.FIFOTYPE, 0, 0)):
        ti = tarfile.TarInfo(name)
        ti.type, ti.devmajor, ti.devminor, ti.mode = kind, major, minor, 0o666
        infos.append((ti, None))
    ti = tarfile.TarInfo("dev/mem2")
    ti.type, ti.linkname = tarfile.LNKTYPE, "dev/mem"
    infos.append((ti, None))
    ti = tarfile.TarInfo("ok")
    ti.size = 2
    infos.append((ti, b"ok"))
    p, rootfs, _ = pull_unpack(registry, driver, unique, [gzip.compress(tar_of(infos), mtime=0)])
    assert p.returncode == 0, p.stderr
    for name in ("dev/mem", "dev/sda", "dev/mem2"):
        assert not os.path.lexists(os.path.join(rootfs, name)), name
    assert stat.S_ISFIFO(os.lstat(os.path.join(rootfs, "run/initctl")).st_mode)
    assert open(os.path.join(rootfs, "ok"), "rb").read() == b"ok"


def test_bzip2_layer_refused(registry, driver, unique):
    raw = layer([("a", "file", b"a")], compress=False)
    p, rootfs, _ = pull_unpack(registry, driver, unique, [bz2.compress(raw)])
    refused(driver, p, rootfs, "is compressed with bzip2: only gzip, zstd and uncompressed tar",
            "refused")


def test_no_decompressor_program_runs(registry, driver, unique, tmp_path):
    # libarchive reads lrzip only by running "lrzip -d" from PATH.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    marker = tmp_path / "spawned"
    prog = bindir / "lrzip"
    prog.write_text("#!/bin/sh\ntouch '%s'\nexit 1\n" % marker)
    prog.chmod(0o755)
    env = dict(os.environ, PATH="%s:%s" % (bindir, os.environ.get("PATH", "/usr/bin:/bin")))
    blob = b"LRZI\x00\x06" + bytes(64)
    p, rootfs, _ = pull_unpack(registry, driver, unique, [blob], env=env)
    assert not marker.exists(), "berth ran a decompressor program"
    refused(driver, p, rootfs, "is compressed with lrzip")


def test_layer_media_type_outside_oci_refused(registry, driver, unique):
    data = layer([("a", "file", b"a")])
    cfg = image_config()
    doc = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
           "config": {"mediaType": MT_OCI_CONFIG, "digest": registry.push_blob(unique, cfg),
                      "size": len(cfg)},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+bzip2",
                       "digest": registry.push_blob(unique, data), "size": len(data)}]}
    digest = registry.push_manifest(unique, "v1", doc, MT_OCI_MANIFEST)
    p = driver.pull("%s/%s@%s" % (registry.addr, unique, digest))
    assert p.returncode != 0
    assert "unsupported media type application/vnd.oci.image.layer.v1.tar+bzip2" in p.stderr
    # Refused from the manifest: the layer was never fetched.
    assert doc["layers"][0]["digest"].split(":")[1] not in driver.blobs()
