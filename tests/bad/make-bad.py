#!/usr/bin/env python3
"""Regenerate the hostile checkpoint fixtures in tests/bad/.

    tests/bad/make-bad.py [COUNTER_TAR]
        (default /work/shared/fixtures/checkpoint-counter.tar)

Every fixture is derived from the benign `counter` checkpoint and carries one
defect, which its name says (in the manner of libarchive's test files, e.g.
tar_invalid_pax_size).  What `kcsi ps FILE` must do with each is in
expect.tsv.  Needs python3 (stdlib only) and the zstd CLI; the output is
deterministic (fixed mtimes, gzip mtime 0).
"""
import gzip
import io
import os
import struct
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/fixtures/checkpoint-counter.tar"
MTIME = 1795744080  # the fixture's own member time

# Members that only make the fixtures bigger without exercising anything
# `kcsi ps` reads: dropped from every fixture to keep tests/bad/ small.
DROP = ("rootfs-diff.tar", "devshm-checkpoint.tar", "checkpoint/seccomp.img")


def load():
    """[(TarInfo, bytes|None)] of the counter checkpoint, in archive order."""
    out = []
    with tarfile.open(SRC) as t:
        for m in t.getmembers():
            if m.name in DROP:
                continue
            data = t.extractfile(m).read() if m.isfile() else None
            out.append((m, data))
    return out


def trim_memory(mems):
    """Keep only the memory pages that hold each process's argument and
    environment areas (what `kcsi ps` reads): pagemap entries with data
    elsewhere are dropped, and their pages with them.  The result is a
    smaller but consistent checkpoint."""
    mems = list(mems)
    byname = {m.name: i for i, (m, _) in enumerate(mems)}
    for m, _ in list(mems):
        base = os.path.basename(m.name)
        if not (base.startswith("mm-") and base.endswith(".img")):
            continue
        pid = base[3:-4]
        mm = dict((f, v) for f, _, v in pb_fields(img_split(mems[byname[m.name]][1])[1][0]))
        lo, hi = mm[8], mm[11]  # mm_arg_start .. mm_env_end
        pmname = "checkpoint/pagemap-%s.img" % pid
        phdr, pents = img_split(mems[byname[pmname]][1])
        pages_id = dict((f, v) for f, _, v in pb_fields(pents[0]))[1]
        pgname = "checkpoint/pages-%d.img" % pages_id
        pages = mems[byname[pgname]][1]
        keep, kept_pages, off = [pents[0]], b"", 0
        for e in pents[1:]:
            fl = dict((f, v) for f, _, v in pb_fields(e))
            n = fl.get(5, fl.get(2, 0))
            flags = fl.get(4)
            data = (flags & 4 and not flags & 1) if flags is not None else not fl.get(3, 0)
            if not data:
                keep.append(e)
                continue
            start, end = fl[1], fl[1] + n * 4096
            if start < hi and lo < end:
                keep.append(e)
                kept_pages += pages[off:off + n * 4096]
            off += n * 4096
        for name, data in ((pmname, img_join(phdr, keep)), (pgname, kept_pages)):
            i = byname[name]
            mems[i] = (_copy(mems[i][0]), data)
    return mems


def tar(mems, fmt=tarfile.GNU_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for m, data in mems:
            if data is not None:
                m.size = len(data)
                t.addfile(m, io.BytesIO(data))
            else:
                t.addfile(m)
    return buf.getvalue()


def info(name, data=b"", typ=tarfile.REGTYPE, **kw):
    m = tarfile.TarInfo(name)
    m.type = typ
    m.size = len(data) if typ == tarfile.REGTYPE else 0
    m.mtime = MTIME
    m.mode = 0o644
    m.uname = m.gname = "root"
    for k, v in kw.items():
        setattr(m, k, v)
    return (m, data if typ == tarfile.REGTYPE else None)


def replace(name, data, mems=None):
    """BASE with member NAME's content replaced by DATA."""
    out = []
    for m, d in (mems or BASE):
        if m.name == name:
            m = _copy(m)
            d = data
        out.append((m, d))
    return out


def _copy(m):
    c = tarfile.TarInfo(m.name)
    for k in ("mode", "uid", "gid", "mtime", "type", "linkname", "uname", "gname",
              "devmajor", "devminor"):
        setattr(c, k, getattr(m, k))
    return c


def get(name):
    for m, d in BASE:
        if m.name == name:
            return d
    raise KeyError(name)


def offset_of(blob, name):
    """Byte offset of member NAME's content inside the tar BLOB."""
    with tarfile.open(fileobj=io.BytesIO(blob)) as t:
        for m in t.getmembers():
            if m.name == name:
                return m.offset_data
    raise KeyError(name)


# ---- CRIU image helpers -------------------------------------------------

def img_split(data):
    """(header bytes, [entry payloads]) of a protobuf CRIU image."""
    hdr = 8 if struct.unpack_from("<I", data, 0)[0] in (0x54564319, 0x54564312) else 4
    pos, ents = hdr, []
    while pos < len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        ents.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return data[:hdr], ents


def img_join(hdr, ents):
    return hdr + b"".join(struct.pack("<I", len(e)) + e for e in ents)


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_fields(msg):
    """[(field, wiretype, value)] of a protobuf message with varint/len fields."""
    pos, out = 0, []
    while pos < len(msg):
        key, pos = _rd_varint(msg, pos)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, pos = _rd_varint(msg, pos)
        elif wt == 2:
            n, pos = _rd_varint(msg, pos)
            v, pos = msg[pos:pos + n], pos + n
        else:
            raise ValueError("wire type %d" % wt)
        out.append((f, wt, v))
    return out


def pb_build(fields):
    out = b""
    for f, wt, v in fields:
        out += varint(f << 3 | wt)
        out += varint(v) if wt == 0 else varint(len(v)) + v
    return out


def _rd_varint(b, pos):
    v = shift = 0
    while True:
        c = b[pos]
        pos += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, pos


BASE = trim_memory(load())


# ---- the fixtures ------------------------------------------------------

def fixtures():
    f = {}
    valid = tar(BASE)
    # not hostile: the trimmed base every other fixture is derived from;
    # `kcsi ps` must succeed on it, so each failure below is the defect's.
    f["control-valid.tar"] = valid

    # tar-level defects
    f["tar-path-dotdot.tar"] = tar(BASE + [info("../x", b"escaped\n")])
    f["tar-path-dotdot-inside.tar"] = tar(BASE + [info("checkpoint/../../x", b"escaped\n")])
    f["tar-path-absolute.tar"] = tar(BASE + [info("/etc/cron.d/x", b"* * * * * root id\n")])
    f["tar-symlink-member.tar"] = tar(
        BASE + [info("checkpoint/evil.img", typ=tarfile.SYMTYPE, linkname="/etc/shadow")])
    f["tar-hardlink-member.tar"] = tar(
        BASE + [info("checkpoint/evil.img", typ=tarfile.LNKTYPE, linkname="/etc/shadow")])
    f["tar-device-member.tar"] = tar(
        BASE + [info("checkpoint/evil.img", typ=tarfile.CHRTYPE, devmajor=1, devminor=3)])
    f["tar-fifo-member.tar"] = tar(BASE + [info("checkpoint/evil.img", typ=tarfile.FIFOTYPE)])
    # names that attack the error message: a newline that forges a second
    # "kcsi:" line, and terminal escape sequences (clear screen, red)
    f["tar-name-newline.tar"] = tar(
        BASE + [info("../evil\nkcsi: checkpoint verified, no findings", b"x\n")])
    f["tar-name-escape.tar"] = tar(
        BASE + [info("checkpoint/\x1b[2J\x1b[31mevil.img", typ=tarfile.SYMTYPE,
                     linkname="/etc/shadow")])
    # a 5000-byte member name (GNU long name), inside checkpoint/
    f["tar-name-too-long.tar"] = tar(BASE + [info("checkpoint/" + "a" * 4990 + ".img", b"x\n")])
    # a member named "./" that is a symbolic link to /etc
    f["tar-dot-symlink.tar"] = tar(BASE + [info("./", typ=tarfile.SYMTYPE, linkname="/etc")])
    dup = get("checkpoint/pstree.img")
    f["tar-duplicate-member.tar"] = tar(BASE + [info("checkpoint/pstree.img", dup)])
    f["tar-duplicate-member-normalised.tar"] = tar(BASE + [info("./checkpoint//pstree.img", dup)])
    # cut in the middle of checkpoint/core-1.img's content
    off = offset_of(valid, "checkpoint/core-1.img")
    f["tar-truncated.tar"] = valid[:off + 1000]
    # cut in a header block (the 512-byte header of checkpoint/core-1.img)
    f["tar-truncated-header.tar"] = valid[:off - 256]
    gz = gzip.compress(valid, 9, mtime=0)
    f["gzip-truncated.tar.gz"] = gz[:len(gz) // 2]
    # the whole tar is there, only the gzip trailer (CRC32, ISIZE) is cut off
    f["gzip-truncated-trailer.tar.gz"] = gz[:-8]
    zs = zstd(valid)
    f["zstd-truncated.tar.zst"] = zs[:len(zs) // 2]
    # the gzip CRC32 does not match the data
    f["gzip-bad-crc.tar.gz"] = gz[:-8] + bytes(b ^ 0xFF for b in gz[-8:-4]) + gz[-4:]
    f["not-a-tar.bin"] = (b"This is not a checkpoint archive, just text.\n" * 64)
    f["empty-file.tar"] = b""
    f["zero-blocks.tar"] = b"\0" * 10240  # a valid, empty tar: no members at all

    # layout / metadata defects
    f["missing-checkpoint-dir.tar"] = tar([(m, d) for m, d in BASE
                                          if m.name in ("config.dump", "spec.dump")])
    f["config-dump-empty.tar"] = tar(replace("config.dump", b""))
    cfg = get("config.dump")
    f["config-dump-invalid-json.tar"] = tar(replace("config.dump", cfg[:len(cfg) // 2]))
    f["config-dump-not-object.tar"] = tar(replace("config.dump", b"[1, 2, 3]\n"))
    f["spec-dump-invalid-json.tar"] = tar(replace("spec.dump", b"{\"ociVersion\": \"1.0.2\",,}\n"))

    # CRIU image defects
    ps = get("checkpoint/pstree.img")
    f["image-bad-magic.tar"] = tar(replace("checkpoint/pstree.img",
                                           ps[:4] + struct.pack("<I", 0xDEADBEEF) + ps[8:]))
    core = get("checkpoint/core-1.img")
    f["image-truncated-entry.tar"] = tar(replace("checkpoint/core-1.img", core[:8 + 4 + 100]))
    hdr, ents = img_split(ps)
    f["image-huge-entry-length.tar"] = tar(replace(
        "checkpoint/pstree.img", hdr + struct.pack("<I", 0xFFFFFFFF) + ents[0]))
    chdr, cents = img_split(core)
    f["image-invalid-protobuf.tar"] = tar(replace(
        "checkpoint/core-1.img", img_join(chdr, [b"\xff" * len(cents[0])] + cents[1:])))
    f["pstree-empty.tar"] = tar(replace("checkpoint/pstree.img", hdr))
    # pstree lists pid 1 twice
    f["pstree-duplicate-pid.tar"] = tar(replace("checkpoint/pstree.img",
                                                img_join(hdr, [ents[0]] + ents)))
    # pstree names a pid (77) whose core-77.img does not exist
    e0 = pb_fields(ents[0])
    e77 = pb_build([(fn, wt, 77 if fn == 1 else v) for fn, wt, v in e0])
    f["pstree-missing-core.tar"] = tar(replace("checkpoint/pstree.img",
                                               img_join(hdr, ents + [e77])))
    # pagemap-1.img: the last entry claims 100000 more pages than pages-1.img holds
    pm = get("checkpoint/pagemap-1.img")
    phdr, pents = img_split(pm)
    last = pb_fields(pents[-1])
    last = [(fn, wt, v + 100000 if fn == 5 else v) for fn, wt, v in last]
    f["pagemap-beyond-pages.tar"] = tar(replace(
        "checkpoint/pagemap-1.img", img_join(phdr, pents[:-1] + [pb_build(last)])))
    # pages-1.img missing while pagemap-1.img refers to it
    f["pages-missing.tar"] = tar([(m, d) for m, d in BASE if m.name != "checkpoint/pages-1.img"])

    # decompression bombs
    f["zstd-bomb.tar.zst"] = zstd_bomb()
    f["tar-sparse-huge.tar"] = sparse_huge()
    return f


def zstd_bomb():
    """A zstd tar whose checkpoint/pages-1.img claims 20 GB.  256 MiB of zeros
    follow (about 8 KB compressed), then the stream ends.  With
    KCSI_MAX_UNPACKED=64M kcsi must stop at the bound; without it, at the
    truncation."""
    head = tar([(m, d) for m, d in BASE if m.name != "checkpoint/pages-1.img"])
    head = head[:_end_of_members(head)]
    m, _ = info("checkpoint/pages-1.img")
    m.size = 20 * 10**9
    hdr = m.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")
    z = subprocess.Popen(["zstd", "-q", "-19", "-c"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    import threading
    out = []
    t = threading.Thread(target=lambda: out.append(z.stdout.read()))
    t.start()
    z.stdin.write(head + hdr)
    zero = b"\0" * (1 << 20)
    for _ in range(256):
        z.stdin.write(zero)
    z.stdin.close()
    t.join()
    if z.wait() != 0:
        raise SystemExit("zstd failed")
    return out[0]


def zstd(data):
    return subprocess.run(["zstd", "-q", "-19", "-c"], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


def _end_of_members(blob):
    """Offset of the end-of-archive zero blocks of a tar BLOB."""
    with tarfile.open(fileobj=io.BytesIO(blob)) as t:
        ms = t.getmembers()
    last = ms[-1]
    return last.offset_data + (last.size + 511) // 512 * 512


def _octal(v, n):
    """A tar number field: octal, or GNU base-256 when it does not fit."""
    if v < 8 ** (n - 1):
        return ("%0*o" % (n - 1, v)).encode() + b"\0"
    return b"\x80" + v.to_bytes(n - 1, "big")


def sparse_huge():
    """An old-GNU sparse member ('S') whose real size is 16 TiB while the
    archive holds 512 bytes of it: a bomb that is not compressed at all."""
    head = tar(BASE)
    head = head[:_end_of_members(head)]
    b = bytearray(512)
    name = b"checkpoint/sparse.img"
    b[0:len(name)] = name
    b[100:108] = _octal(0o644, 8)
    b[108:116] = _octal(0, 8)
    b[116:124] = _octal(0, 8)
    b[124:136] = _octal(512, 12)          # bytes stored in the archive
    b[136:148] = _octal(MTIME, 12)
    b[156:157] = b"S"
    b[257:265] = b"ustar  \0"             # old GNU magic
    b[265:269] = b"root"
    b[297:301] = b"root"
    real = 16 << 40
    # sparse map at 386: (offset, numbytes) x 4; one 512-byte chunk at the end
    b[386:398] = _octal(real - 512, 12)
    b[398:410] = _octal(512, 12)
    b[482] = 0                            # isextended
    b[483:495] = _octal(real, 12)         # realsize
    b[148:156] = b" " * 8
    b[148:156] = ("%06o\0 " % sum(b)).encode()
    assert len(b) == 512
    data = b"\x42" * 512
    return bytes(head) + bytes(b) + data + b"\0" * 10240


def main():
    for name, data in sorted(fixtures().items()):
        with open(os.path.join(HERE, name), "wb") as fh:
            fh.write(data)
        print("%-40s %8d bytes" % (name, len(data)))


if __name__ == "__main__":
    main()
