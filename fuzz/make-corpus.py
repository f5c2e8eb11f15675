#!/usr/bin/env python3
"""Regenerate the fuzz seed corpora from the real fixtures.

    fuzz/make-corpus.py [FIXTURES_DIR]    (default /work/shared/fixtures)

corpus/archive/: whole checkpoints (plain, gzip, zstd) and trimmed ones
                 (images only, no memory pages or seccomp) that fuzz faster.
corpus/image/:   single CRIU images taken from the fixtures.
Needs python3 (stdlib) and the zstd CLI.
"""
import gzip
import io
import os
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/fixtures"
ARCH = os.path.join(HERE, "corpus", "archive")
IMG = os.path.join(HERE, "corpus", "image")


def members(fixture):
    out = []
    with tarfile.open(os.path.join(FIX, "checkpoint-%s.tar" % fixture)) as t:
        for m in t.getmembers():
            data = t.extractfile(m).read() if m.isfile() else None
            out.append((m, data))
    return out


def tar_bytes(mems, keep):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for m, data in mems:
            if not keep(m):
                continue
            t.addfile(m, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def zstd(data):
    return subprocess.run(["zstd", "-19", "-q", "-c"], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


def gz(data):
    return gzip.compress(data, 9, mtime=0)


def put(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def trimmed(m):
    """images and small metadata only: no pages, seccomp, rootfs diff, config."""
    n = m.name
    if m.isdir():
        return True
    if "/pages-" in n or n.endswith("seccomp.img") or n.endswith(".tar"):
        return False
    if n in ("config.dump", "spec.dump"):
        return False
    return m.size <= 8192


def main():
    with open(os.path.join(FIX, "checkpoint-counter.tar"), "rb") as f:
        counter = f.read()
    put(ARCH, "counter.tar", counter)
    put(ARCH, "counter.tar.gz", gz(counter))
    put(ARCH, "counter.tar.zst", zstd(counter))
    for fx in ("counter", "perlbot", "revshell", "memfd"):
        mems = members(fx)
        put(ARCH, "%s-images.tar" % fx, tar_bytes(mems, trimmed))
    perl = members("perlbot")
    # perlbot with memory but without seccomp and rootfs diff, zstd-compressed
    put(ARCH, "perlbot-mem.tar.zst",
        zstd(tar_bytes(perl, lambda m: not m.name.endswith(("seccomp.img", ".tar")))))

    want = {
        "counter": ["pstree.img", "core-1.img", "core-9.img", "mm-1.img", "pagemap-1.img",
                    "files.img", "fdinfo-2.img", "inventory.img", "ids-1.img", "fs-1.img",
                    "mountpoints-12.img", "cgroup.img", "utsns-11.img", "timens-0.img",
                    "ipcns-var-10.img", "stats-dump"],
        "perlbot": ["ghost-file-1.img", "tcp-stream-8bb0.img", "remap-fpath.img",
                    "files.img", "pstree.img", "seccomp.img"],
        "revshell": ["tcp-stream-9327.img", "files.img", "pstree.img"],
        "memfd": ["memfd.img", "files.img"],
    }
    for fx, names in want.items():
        for m, data in members(fx):
            base = os.path.basename(m.name)
            if data is not None and base in names and (m.name.startswith("checkpoint/")
                                                      or base == "stats-dump"):
                put(IMG, "%s-%s" % (fx, base), data)
    # a few more entry kinds (core, mm, pagemap, fdinfo) from the other fixtures
    for fx in ("perlbot", "revshell", "memfd"):
        for m, data in members(fx):
            base = os.path.basename(m.name)
            if data is None or not m.name.startswith("checkpoint/"):
                continue
            if base.startswith(("core-", "mm-", "fdinfo-", "pagemap-")) and len(data) <= 8192:
                put(IMG, "%s-%s" % (fx, base), data)


if __name__ == "__main__":
    main()
