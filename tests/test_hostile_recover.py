"""`kcsi recover` on hostile checkpoints: no evidence lost to a name, bounded
work on inner archives and sparse contents.  Every hostile checkpoint is built
here from the real fixtures (CRIU images edited by hand: a u32 magic or two,
then entries of <u32 little-endian size><protobuf>)."""
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import tarfile
import tempfile

import kt
from kt import eq, fixture, run

SLEEP_SHA256 = '4add4bb89d8ca0e3b1bd861130ddd7ae0fd9617a8055de0a38c8d2ca1ac95723'
JOURNAL = '/tmp/.ICE-unix/.journal'

# ---- CRIU images: protobuf by hand -------------------------------------


def _varint(v):
    out = bytearray()
    while v > 0x7F:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _read_varint(b, pos):
    v = shift = 0
    while True:
        c = b[pos]
        pos += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, pos


def pb_decode(msg):
    """[[field, wiretype, value]] of a message (varint and length fields)."""
    out, pos = [], 0
    while pos < len(msg):
        key, pos = _read_varint(msg, pos)
        if key & 7 == 0:
            v, pos = _read_varint(msg, pos)
        elif key & 7 == 2:
            n, pos = _read_varint(msg, pos)
            v, pos = msg[pos:pos + n], pos + n
        else:
            raise ValueError('wire type %d' % (key & 7))
        out.append([key >> 3, key & 7, v])
    return out


def pb_encode(fields):
    return b''.join(_varint(f << 3 | wt) + (_varint(v) if wt == 0 else _varint(len(v)) + v)
                    for f, wt, v in fields)


def pb_get(fields, num):
    return next(v for f, _, v in fields if f == num)


def pb_set(fields, num, value):
    for fl in fields:
        if fl[0] == num:
            fl[2] = value
            return fields
    raise KeyError(num)


def image_entries(data):
    """(magic bytes, [entry payloads], raw bytes after the first entry) of an
    image with the IMG_COMMON prefix (two magics)."""
    assert struct.unpack_from('<I', data)[0] == 0x54564319, data[:8]
    pos, ents = 8, []
    while pos < len(data):
        (n,) = struct.unpack_from('<I', data, pos)
        ents.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return data[:8], ents


def image_join(magic, ents, tail=b''):
    return magic + b''.join(struct.pack('<I', len(e)) + e for e in ents) + tail


# ---- checkpoints -------------------------------------------------------


def members(name):
    """{member name: (TarInfo, bytes or None)} of a fixture, in order."""
    out = {}
    with tarfile.open(fixture(name)) as t:
        for m in t.getmembers():
            out[m.name] = (m, t.extractfile(m).read() if m.isfile() else None)
    return out


def write_ckpt(path, mem):
    with tarfile.open(path, 'w') as t:
        for m, data in mem.values():
            if data is None:
                t.addfile(m)
            else:
                m.size = len(data)
                t.addfile(m, io.BytesIO(data))
    return path


def put(mem, name, data):
    """Replace or add a member."""
    if name in mem:
        mem[name] = (mem[name][0], data)
    else:
        ti = tarfile.TarInfo(name)
        ti.mode = 0o644
        ti.mtime = mem['checkpoint/files.img'][0].mtime
        mem[name] = (ti, data)


def small_tar(entries, fmt=tarfile.GNU_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=fmt) as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def fresh(name):
    p = os.path.join(kt.tmpdir(), name)
    if os.path.exists(p):
        shutil.rmtree(p)
    return p


def manifest(out):
    return json.load(open(os.path.join(out, 'manifest.json')))


def check_files_match(out, man):
    """Every written file is the item's: its sha256 and size; no two items
    share a file."""
    files = [it['file'] for it in man['items'] if it['file']]
    eq(len(files), len(set(files)), 'one file per item')
    for it in man['items']:
        if not it['file']:
            continue
        p = os.path.join(out, it['file'])
        st = os.lstat(p)
        assert os.path.isfile(p) and not os.path.islink(p), p
        eq(st.st_size, it['size'], 'size of ' + it['file'])
        if it['sha256']:
            h = hashlib.sha256()
            with open(p, 'rb') as f:
                for blk in iter(lambda: f.read(1 << 20), b''):
                    h.update(blk)
            eq(h.hexdigest(), it['sha256'], 'sha256 of ' + it['file'])


def recover(name, path, *extra, status=0, env=None, timeout=60):
    """Run recover into a fresh directory; check the exit status and that
    every written file is its item's.  Returns (out, manifest, stderr)."""
    out = fresh(name)
    rc, _, err = run('recover', '--out', out, *extra, path, check=False, timeout=timeout, env=env)
    eq(rc, status, 'exit status (%s)' % err)
    man = manifest(out)
    check_files_match(out, man)
    return out, man, err


def disk_use(top):
    n = 0
    for root, dirs, files in os.walk(top):
        for f in files:
            n += os.lstat(os.path.join(root, f)).st_blocks * 512
    return n


# ---- 1. colliding names ------------------------------------------------

SECOND_GHOST = b'the second .journal: recreated by another process, deleted while open\n'
LONG = 'L' * 300
LONG_UTF8 = '\u00e9' * 150  # 300 bytes of two-byte sequences
DEEP = '/'.join(['d' * 200] * 25) + '/deep.txt'  # a 5033-byte path
COLLIDING_ROOTFS = [
    ('tmp/dup.txt', b'first dup\n'),
    ('tmp/dup.txt', b'second dup\n'),
    ('a', b'a is a file\n'),
    ('a/b', b'a/b needs a to be a directory\n'),
    ('c/d', b'c/d makes c a directory\n'),
    ('c', b'c is a file where a directory is\n'),
    ('tmp/dup.txt~2', b'a real name that looks like a renamed one\n'),
    (LONG, b'a 300-byte name\n'),
    (LONG + '/inner', b'below a 300-byte directory name\n'),
    ('u/' + LONG_UTF8, b'300 bytes of UTF-8\n'),
    (DEEP, b'a path over PATH_MAX\n'),
]


def colliding_ckpt():
    """perlbot, plus a second deleted-while-open file of the same path (its
    own reg-file entry, remap and ghost image), and a rootfs diff whose names
    collide."""
    mem = members('perlbot')
    magic, files = image_entries(mem['checkpoint/files.img'][1])
    journal = next(e for e in files if pb_get(pb_decode(e), 1) == 1 and
                   pb_get(pb_decode(pb_get(pb_decode(e), 3)), 6) == JOURNAL.encode())
    fe = pb_decode(journal)
    old_id = pb_get(fe, 2)
    new_id = 0x7f7f
    pb_set(fe, 2, new_id)
    pb_set(fe, 3, pb_encode(pb_set(pb_decode(pb_get(fe, 3)), 1, new_id)))
    put(mem, 'checkpoint/files.img', image_join(magic, files + [pb_encode(fe)]))
    rmagic, remaps = image_entries(mem['checkpoint/remap-fpath.img'][1])
    first = pb_decode(remaps[0])
    eq(pb_get(first, 1), old_id, 'the fixture remaps the journal')
    remap_id = pb_get(first, 2) + 1
    remaps.append(pb_encode([[1, 0, new_id], [2, 0, remap_id], [3, 0, 1]]))  # GHOST
    put(mem, 'checkpoint/remap-fpath.img', image_join(rmagic, remaps))
    ghost = mem['checkpoint/ghost-file-%x.img' % (remap_id - 1)][1]
    (n,) = struct.unpack_from('<I', ghost, 8)
    put(mem, 'checkpoint/ghost-file-%x.img' % remap_id, ghost[:12 + n] + SECOND_GHOST)
    put(mem, 'rootfs-diff.tar', small_tar(COLLIDING_ROOTFS))
    return write_ckpt(os.path.join(kt.tmpdir(), 'colliding.tar'), mem)


def test_recover_keeps_every_item_whose_path_collides():
    path = colliding_ckpt()
    # the images made here decode, with kcsi and crit alike
    files = json.loads(run('decode', path, 'files.img')[1])['entries']
    eq(sum(1 for f in files if f.get('reg', {}).get('name') == JOURNAL), 2, 'two reg-files of one path')
    remaps = json.loads(run('decode', path, 'remap-fpath.img')[1])['entries']
    eq([r['remap_type'] for r in remaps], ['GHOST', 'GHOST'], 'two ghost remaps')
    run('decode', path, 'ghost-file-2.img')
    if shutil.which('crit'):
        d = os.path.join(kt.tmpdir(), 'colliding-crit')
        os.makedirs(d, exist_ok=True)
        with tarfile.open(path) as t:
            for n in ('files.img', 'remap-fpath.img', 'ghost-file-2.img'):
                open(os.path.join(d, n), 'wb').write(t.extractfile('checkpoint/' + n).read())
                subprocess.run(['crit', 'decode', '-i', os.path.join(d, n)], check=True,
                               stdout=subprocess.DEVNULL, timeout=60)

    out, man, _ = recover('recover-colliding', path)  # renaming is no refusal
    items = man['items']
    ghosts = [i for i in items if i['origin'] == 'ghost']
    eq([g['source'] for g in ghosts], [JOURNAL, JOURNAL], 'both ghosts listed')
    contents = [open(os.path.join(out, g['file']), 'rb').read() for g in ghosts]
    eq(sorted(contents), sorted([b'stage2 http://198.51.100.23/x.sh\n', SECOND_GHOST]), 'both ghosts kept')
    eq(ghosts[0]['file'], 'ghost' + JOURNAL, 'the first keeps its path')
    eq(ghosts[1]['file'], 'ghost' + JOURNAL + '~2', 'the second gets a name of its own')
    assert 'renamed' not in ghosts[0] and 'another item' in ghosts[1]['renamed'], ghosts

    rootfs = [i for i in items if i['origin'] == 'rootfs-diff']
    eq(len(rootfs), len(COLLIDING_ROOTFS), 'every rootfs entry listed')
    for it, (name, data) in zip(rootfs, COLLIDING_ROOTFS):
        eq(it['source'], '/' + name, 'source path as in the diff')
        assert not it.get('refused'), it
        eq(open(os.path.join(out, it['file']), 'rb').read(), data, 'content of ' + it['file'])
        assert all(len(c.encode()) <= 255 for c in it['file'].split('/')), it['file']
        if it['file'] != 'rootfs/' + name:
            assert it.get('renamed'), it
    by = [(i['file'], i.get('renamed', '')) for i in rootfs]
    eq(by[1][0], 'rootfs/tmp/dup.txt~2', 'duplicate name')
    eq(by[3][0], 'rootfs/a~2/b', 'a file where a directory is needed')
    assert 'directory' in by[3][1], by[3]
    eq(by[5][0], 'rootfs/c~2', 'a directory where a file is needed')
    eq(by[6][0], 'rootfs/tmp/dup.txt~2~2', 'a real name taken by a renamed item')
    for i in (7, 8, 9):
        assert '255' in by[i][1], by[i]
    # the long name is shortened the same way twice: the file has it, the
    # directory of the next entry gets ~2
    eq(by[8][0].split('/')[1], by[7][0].split('/')[1] + '~2', 'long name as a file and a directory')
    assert by[7][0].split('/')[1].startswith('L' * 200), by[7]
    assert by[9][0].encode().decode('utf-8'), 'no UTF-8 sequence cut'
    assert by[10][0].startswith('rootfs/~path-') and '4095' in by[10][1], by[10]
    # the later stages ran
    assert any(i['origin'] == 'log' for i in items), 'logs'

    # without --force an earlier run's directory is not written into
    rc, _, err = run('recover', '--out', out, path, check=False, timeout=60)
    assert rc != 0 and 'exists already' in err, (rc, err)
    eq(manifest(out), man, 'the earlier manifest kept')
    # --force replaces the earlier run's files, and still no item another
    nfiles = sum(len(f) for _, _, f in os.walk(out))
    rc, _, err = run('recover', '--force', '--out', out, path, check=False, timeout=60)
    eq(rc, 0, err)
    again = manifest(out)
    check_files_match(out, again)
    eq([(i['source'], i['file'], i['sha256']) for i in again['items']],
       [(i['source'], i['file'], i['sha256']) for i in man['items']], 'same placement on a second run')
    eq(sum(len(f) for _, _, f in os.walk(out)), nfiles, 'no file added')


def test_recover_force_never_writes_through_a_planted_link():
    """With --force, what is in DIR besides earlier files (a symlink, a file
    with another hard link) is neither followed nor emptied."""
    base = fresh('recover-planted')
    out = os.path.join(base, 'out')
    os.makedirs(os.path.join(out, 'ghost', 'tmp', '.ICE-unix'))
    victim = os.path.join(base, 'victim')
    open(victim, 'wb').write(b'not evidence of this case\n')
    os.link(victim, os.path.join(out, 'ghost', 'tmp', '.ICE-unix', '.journal'))
    os.symlink(victim, os.path.join(out, 'manifest.json'))
    os.symlink(base, os.path.join(out, 'rootfs'))
    rc, _, err = run('recover', '--force', '--out', out, fixture('perlbot'), check=False)
    eq(rc, 0, err)
    eq(open(victim, 'rb').read(), b'not evidence of this case\n', 'the linked file is untouched')
    assert not os.path.islink(os.path.join(out, 'manifest.json')), 'the link was replaced, not followed'
    man = manifest(out)
    check_files_match(out, man)
    ghost = next(i for i in man['items'] if i['origin'] == 'ghost')
    eq(ghost['file'], 'ghost' + JOURNAL + '~2', 'written beside the hard link')
    for it in man['items']:
        if it['origin'] == 'rootfs-diff' and it['file']:
            assert it['file'].startswith('rootfs~2/'), it
    eq(sorted(os.listdir(base)), ['out', 'victim'], 'nothing written through the symlink')


# ---- 2. decompression bombs in inner archives --------------------------


def zstd_tar(entries):
    """A tar of (name, bytes or a size of zeros), compressed by the zstd
    command as it is written (tarfile makes the headers): nothing of it is
    held in memory whole."""
    if not shutil.which('zstd'):
        raise kt.Skip('zstd not installed')
    zeros = memoryview(bytes(1 << 20))
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen(['zstd', '-q', '-c', '-1'], stdin=subprocess.PIPE, stdout=out)
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.size = data if isinstance(data, int) else len(data)
            p.stdin.write(ti.tobuf(format=tarfile.GNU_FORMAT))
            if isinstance(data, int):
                for k in range(0, data, len(zeros)):
                    p.stdin.write(zeros[:min(len(zeros), data - k)])
            else:
                p.stdin.write(data)
            p.stdin.write(bytes(-ti.size % 512))
        p.stdin.write(bytes(1024))
        p.stdin.close()
        eq(p.wait(), 0, 'zstd')
        out.seek(0)
        return out.read()


GiB = 1 << 30
MiB = 1 << 20


def bomb_ckpt(name, rootfs, devshm):
    mem = members('perlbot')
    put(mem, 'rootfs-diff.tar', rootfs)
    put(mem, 'devshm-checkpoint.tar', devshm)
    return write_ckpt(os.path.join(kt.tmpdir(), name), mem)


def test_recover_inner_zstd_bomb_stays_under_the_bound():
    bomb = zstd_tar([('tmp/before.txt', b'evidence before the bomb\n'),
                     ('tmp/big-1.bin', GiB), ('tmp/big-2.bin', GiB), ('tmp/big-3.bin', GiB)])
    assert len(bomb) < 1 * MiB, len(bomb)
    devshm = zstd_tar([('shm-note', b'a later source still recovered\n')])
    path = bomb_ckpt('bomb.tar', bomb, devshm)
    bound = 32 * MiB
    out, man, err = recover('recover-bomb', path, status=9, timeout=300, env={'KCSI_MAX_UNPACKED': str(bound)})
    assert disk_use(out) < bound, disk_use(out)
    by = {i['source']: i for i in man['items']}
    eq(open(os.path.join(out, by['/tmp/before.txt']['file']), 'rb').read(), b'evidence before the bomb\n',
       'what came before is kept')
    big = by['/tmp/big-1.bin']
    assert big['file'] is None and 'KCSI_MAX_UNPACKED' in big['refused'], big
    eq(big['size'], GiB, 'the claimed size recorded')
    rest = by['rootfs-diff.tar']
    assert 'KCSI_MAX_UNPACKED' in rest['refused'] and 'rest of rootfs-diff.tar' in rest['refused'], rest
    eq(man['items_refused'], sum(1 for i in man['items'] if i.get('refused')), 'refusals counted')
    # later stages ran: /dev/shm, the logs
    eq(open(os.path.join(out, by['/shm-note']['file']), 'rb').read(), b'a later source still recovered\n', 'devshm')
    assert any(i['origin'] == 'log' for i in man['items']), 'logs'
    assert 'refused' in err, err

    # one budget for the run: /dev/shm's own bomb is bounded by what is left
    path = bomb_ckpt('bomb-devshm.tar', small_tar([('tmp/ok', b'ok\n')]), bomb)
    out, man, _ = recover('recover-bomb-devshm', path, status=9, timeout=300,
                          env={'KCSI_MAX_UNPACKED': str(bound)})
    assert disk_use(out) < bound, disk_use(out)
    by = {i['source']: i for i in man['items']}
    assert 'KCSI_MAX_UNPACKED' in by['devshm-checkpoint.tar']['refused'], by['devshm-checkpoint.tar']


def test_recover_per_item_bound_refuses_and_goes_on():
    """Entries over --max-file are refused (recorded, no partial file) and the
    next entries are recovered; skipped bytes count against the run's bound."""
    entries = []
    for k in range(12):
        entries += [('tmp/zero-%02d.bin' % k, 4 * MiB), ('tmp/note-%02d.txt' % k, b'note %d\n' % k)]
    path = bomb_ckpt('per-item.tar', zstd_tar(entries), small_tar([]))
    out, man, _ = recover('recover-per-item', path, '--max-file', str(MiB), status=9, timeout=120,
                          env={'KCSI_MAX_UNPACKED': str(30 * MiB)})
    by = {i['source']: i for i in man['items']}
    recovered = [k for k in range(12) if by.get('/tmp/note-%02d.txt' % k, {}).get('file')]
    # 30 MiB, less the checkpoint's own members, allows some 4 MiB skips, not all
    assert 3 <= len(recovered) < 12, recovered
    eq(recovered, list(range(len(recovered))), 'in order, none skipped')
    for k in range(len(recovered)):
        it = by['/tmp/zero-%02d.bin' % k]
        assert it['file'] is None and 'bound on the data of one recovered file' in it['refused'], it
    assert 'KCSI_MAX_UNPACKED' in by['rootfs-diff.tar']['refused'], by['rootfs-diff.tar']
    assert disk_use(out) < MiB, disk_use(out)


# ---- 3. sparse memfd contents ------------------------------------------


def test_recover_memfd_claiming_64_gib_is_sparse_and_quick():
    mem = members('memfd')
    magic, inodes = image_entries(mem['checkpoint/memfd.img'][1])
    ino = pb_decode(inodes[0])
    pb_set(ino, 4, 64 * GiB)  # the program, in a 64 GiB memfd
    holes = pb_decode(inodes[0])
    pb_set(holes, 1, b'holes')
    pb_set(holes, 4, 64 * GiB)
    pb_set(holes, 5, 0x7ffe)   # a shmid with no pages
    pb_set(holes, 7, 2)        # inode id
    put(mem, 'checkpoint/memfd.img', image_join(magic, [pb_encode(ino), pb_encode(holes)]))
    path = write_ckpt(os.path.join(kt.tmpdir(), 'memfd-64g.tar'), mem)
    eq([i['size'] for i in json.loads(run('decode', path, 'memfd.img')[1])['entries']], [64 * GiB] * 2, 'decoded')
    for extra in ([], ['--max-file', str(128 * GiB)]):
        out, man, _ = recover('recover-memfd-64g', path, *extra, timeout=30)
        memfd = [i for i in man['items'] if i['origin'] == 'memfd']
        eq([m['source'] for m in memfd], ['memfd:kdevtmpfsi', 'memfd:holes'], 'both inodes')
        for m in memfd:
            p = os.path.join(out, m['file'])
            st = os.stat(p)
            eq(st.st_size, 64 * GiB, 'apparent size')
            assert st.st_blocks * 512 < 1 * MiB, st.st_blocks
            eq(m['size'], 64 * GiB, 'size')
            assert m['sparse'] and m['sha256'] is None, m
            # data_sha256 covers the extents, read back from the file
            h = hashlib.sha256()
            with open(p, 'rb') as f:
                for off, n in m['extents']:
                    f.seek(off)
                    h.update(f.read(n))
            eq(h.hexdigest(), m['data_sha256'], 'data_sha256')
        prog, holes_item = memfd
        eq(holes_item['extents'], [], 'no data')
        eq(prog['extents'][0][0], 0, 'the program from offset 0')
        with open(os.path.join(out, prog['file']), 'rb') as f:
            eq(hashlib.sha256(f.read(43888)).hexdigest(), SLEEP_SHA256, "the program's bytes")


def chunked_ghost_ckpt(name, size, chunks, tail=b''):
    """perlbot with its ghost file stored as chunks: (offset, bytes) pairs,
    then tail (raw bytes after the last chunk)."""
    mem = members('perlbot')
    ghost = mem['checkpoint/ghost-file-1.img'][1]
    (n,) = struct.unpack_from('<I', ghost, 8)
    g = pb_decode(ghost[12:12 + n]) + [[9, 0, 1], [10, 0, size]]  # chunks, size
    body = b''.join(image_join(b'', [pb_encode([[1, 0, len(d)], [2, 0, off]])]) + d for off, d in chunks)
    put(mem, 'checkpoint/ghost-file-1.img', image_join(ghost[:8], [pb_encode(g)]) + body + tail)
    return write_ckpt(os.path.join(kt.tmpdir(), name), mem)


def test_recover_chunked_ghost_with_holes_costs_its_chunks():
    TiB = 1 << 40
    chunks = [(0, b'AAAA'), (2, b'BBBB'), (TiB // 2, b'middle'), (TiB - 5, b'x.sh\n')]
    path = chunked_ghost_ckpt('ghost-1tib.tar', TiB, chunks)
    got = json.loads(run('decode', path, 'ghost-file-1.img')[1])['entries']
    eq((got[0]['chunks'], got[0]['size']), (True, TiB), 'decoded')
    for extra in ([], ['--max-file', str(2 * TiB)]):
        out, man, _ = recover('recover-ghost-1tib', path, *extra, timeout=30)
        g = next(i for i in man['items'] if i['origin'] == 'ghost')
        p = os.path.join(out, g['file'])
        eq(os.stat(p).st_size, TiB, 'apparent size')
        assert os.stat(p).st_blocks * 512 < MiB, os.stat(p).st_blocks
        assert g['sparse'] and g['sha256'] is None, g
        eq(g['extents'], [[0, 6], [TiB // 2, 6], [TiB - 5, 5]], 'overlapping chunks merged')
        eq(g['data_sha256'], hashlib.sha256(b'AABBBBmiddlex.sh\n').hexdigest(), 'data_sha256')
        with open(p, 'rb') as f:
            eq(f.read(8), b'AABBBB\0\0', 'content')

    # a chunk cut short: the chunks before it are kept, the item says it is not whole
    path = chunked_ghost_ckpt('ghost-cut.tar', 64, [(0, b'kept chunk\n')],
                              tail=image_join(b'', [pb_encode([[1, 0, 100], [2, 0, 16]])]) + b'only 20 bytes here..')
    out, man, _ = recover('recover-ghost-cut', path, status=9)
    g = next(i for i in man['items'] if i['origin'] == 'ghost')
    assert 'not whole' in g['refused'], g
    eq(open(os.path.join(out, g['file']), 'rb').read(), b'kept chunk\n', 'what was read is kept')
    assert any(i['origin'] == 'rootfs-diff' and i['file'] for i in man['items']), 'later stages ran'
