"""Hostile checkpoints against the reader and the memory views: archives built
here from the fixtures (CRIU images written by hand, re-tarred) that made
kcsi use unbounded memory or time, overflow its stack, block, or die of a
signal.  Each test bounds time with a subprocess timeout and memory by the
child's peak resident size (ru_maxrss), never by a wall clock."""
import hashlib
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import tarfile
import threading
import time

import kt
from kt import eq, fixture

PROTO = os.path.join(kt.ROOT, 'proto')

IMG_COMMON = 0x54564319
IMG_SERVICE = 0x55105940
MiB = 1 << 20


# ---- CRIU images by hand: protobuf fields and image framing ----

def varint(v):
    out = bytearray()
    while v > 0x7f:
        out.append(v & 0x7f | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def f_uint(field, v):
    """A varint field (uint32/uint64/int32/bool/enum)."""
    return varint(field << 3) + varint(v)


def f_sint(field, v):
    """A zigzag varint field (sint32/sint64)."""
    return varint(field << 3) + varint((v << 1) ^ (v >> 63))


def f_bytes(field, b):
    """A length-delimited field (string, bytes, sub-message)."""
    if isinstance(b, str):
        b = b.encode()
    return varint(field << 3 | 2) + varint(len(b)) + b


def _magics():
    m = {}
    for line in open(os.path.join(PROTO, 'magic.tsv')):
        if line.startswith('#') or not line.strip():
            continue
        name, magic, prefix = line.split('\t')[:3]
        m.setdefault(name, (int(magic), prefix))
    return m


MAGICS = _magics()


def image(kind, payloads):
    """A CRIU image of the given kind (name in proto/magic.tsv) holding these
    entries (protobuf payloads)."""
    magic, prefix = MAGICS[kind]
    head = {'common': IMG_COMMON, 'service': IMG_SERVICE}.get(prefix)
    out = bytearray()
    if head is not None:
        out += head.to_bytes(4, 'little')
    out += magic.to_bytes(4, 'little')
    for p in payloads:
        out += len(p).to_bytes(4, 'little') + p
    return bytes(out)


def entries(data):
    """The entry payloads of a protobuf image."""
    pos = 8 if int.from_bytes(data[:4], 'little') in (IMG_COMMON, IMG_SERVICE) else 4
    out = []
    while pos < len(data):
        size = int.from_bytes(data[pos:pos + 4], 'little')
        out.append(data[pos + 4:pos + 4 + size])
        pos += 4 + size
    return out


# ---- archives: a fixture's members, edited, written back as a tar ----

def members(name):
    """A fixture as an ordered dict member name -> (TarInfo, bytes or None)."""
    out = {}
    with tarfile.open(fixture(name)) as t:
        for ti in t.getmembers():
            out[ti.name] = (ti, t.extractfile(ti).read() if ti.isfile() else None)
    return out


def put(ms, name, data):
    """Add or replace a regular member."""
    if name in ms:
        ti = ms[name][0]
    else:
        ti = tarfile.TarInfo(name)
        ti.mode = 0o644
        ti.mtime = 1700000000
    ms[name] = (ti, data)


def write_tar(ms, path, zstd=False, big=None):
    """Write members as a plain tar (or .tar.zst through the zstd command).
    big: (name, size, fill) adds a member of size bytes written by
    fill(file, size) without holding it in memory."""
    raw = path[:-4] if zstd else path
    with tarfile.open(raw, 'w', format=tarfile.GNU_FORMAT) as t:
        for name, (ti, data) in ms.items():
            ti = tarfile.TarInfo(ti.name) if ti is None else ti
            if data is None:
                t.addfile(ti)
                continue
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    if zstd:
        if not shutil.which('zstd'):
            raise kt.Skip('zstd not installed')
        subprocess.run(['zstd', '-q', '-f', '--rm', '-o', path, raw], check=True)
    return path


def tmp(name):
    d = os.path.join(kt.tmpdir(), 'hostile-reader')
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, name)


# ---- running kcsi with bounds ----

def _peak_rss(pid):
    """The peak resident size of a running process (VmHWM), 0 once gone.
    Not ru_maxrss: that also counts the test's own memory the child had
    between fork and exec."""
    try:
        if os.readlink('/proc/%d/exe' % pid) != os.path.realpath(kt.KCSI):
            return 0  # not exec'd yet: the memory is the test's
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_bounded(args, timeout=120, stdin=None, stdout_sink=False, max_rss=None):
    """Run kcsi; returns (exit code or -signal, stdout, stderr, peak RSS in
    bytes, sampled every 10 ms).  stdout_sink: stdout is read and thrown away (only its size is
    kept), so huge outputs cost the test nothing.  max_rss: the child is
    killed as soon as its resident size passes it (the test fails), so that
    a regression cannot take the machine's memory."""
    env = dict(os.environ)
    # under AddressSanitizer, freed memory waits in a quarantine (256 MiB by
    # default): keep it small so that resident sizes mean the same
    env['ASAN_OPTIONS'] = env.get('ASAN_OPTIONS', '') + ':quarantine_size_mb=8'
    p = subprocess.Popen([kt.KCSI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=stdin if stdin is not None else subprocess.DEVNULL, env=env)
    out = bytearray()
    size = [0]

    def drain():
        while True:
            b = p.stdout.read(1 << 16)
            if not b:
                return
            size[0] += len(b)
            if not stdout_sink:
                out.extend(b)
    t = threading.Thread(target=drain)
    t.start()
    err = []
    te = threading.Thread(target=lambda: err.append(p.stderr.read()))
    te.start()
    deadline = time.monotonic() + timeout
    status = None
    peak = 0
    while True:
        peak = max(peak, _peak_rss(p.pid))
        pid, status = os.waitpid(p.pid, os.WNOHANG)
        if pid:
            break
        why = None
        if time.monotonic() > deadline:
            why = 'still running after %d s' % timeout
        elif max_rss and peak > max_rss:
            why = 'resident size passed %d MiB' % (max_rss // MiB)
        if why:
            p.kill()
            os.wait4(p.pid, 0)
            p.returncode = -9
            t.join()
            te.join()
            raise AssertionError('kcsi %s: %s' % (' '.join(args), why))
        time.sleep(0.01)
    p.returncode = 0  # reaped above: keep Popen from waiting again
    t.join()
    te.join()
    rc = os.waitstatus_to_exitcode(status)
    stdout = bytes(out) if not stdout_sink else size[0]
    return rc, stdout, err[0].decode(errors='replace'), peak


# ---- 1. memfd inodes by the thousand ----

VMA_AREA_REGULAR, VMA_FILE_SHARED, VMA_ANON_PRIVATE, VMA_AREA_MEMFD = 1, 1 << 7, 1 << 9, 1 << 14
FD_MEMFD = 18


def memfd_inode(inode_id, name, size, shmid):
    return (f_bytes(1, name) + f_uint(2, 0) + f_uint(3, 0) + f_uint(4, size) + f_uint(5, shmid) + f_uint(6, 0) +
            f_uint(7, inode_id))


def memfd_file(fid, inode_id):
    """A files.img entry: a memfd file of that inode."""
    fown = b''.join(f_uint(i, 0) for i in range(1, 6))
    memfd = f_uint(1, fid) + f_uint(2, 2) + f_uint(3, 0) + f_bytes(4, fown) + f_uint(5, inode_id)
    return f_uint(1, FD_MEMFD) + f_uint(2, fid) + f_bytes(20, memfd)


def vma(start, end, shmid=0, prot=1, flags=1, status=VMA_AREA_REGULAR | VMA_FILE_SHARED | VMA_AREA_MEMFD):
    """An mm_entry.vmas field (a shared memfd mapping by default)."""
    return f_bytes(14, f_uint(1, start) + f_uint(2, end) + f_uint(3, 0) + f_uint(4, shmid) + f_uint(5, prot) +
                   f_uint(6, flags) + f_uint(7, status) + f_sint(8, -1))


def with_areas(ms, mm_name, vmas):
    """Put areas in front of those of an mm image (they must lie below them,
    so that the list stays sorted)."""
    put(ms, mm_name, image('MM', [b''.join(vmas) + entries(ms[mm_name][1])[0]]))


def memfd_flood(ninodes=20000, nmaps=2000):
    """The memfd fixture plus ninodes memfd inodes (memfd.img), nmaps memfd
    files (files.img) each mapped by one area of pid 14 (mm-14.img), as a
    .tar.zst."""
    path = tmp('memfd-flood-%d-%d.tar.zst' % (ninodes, nmaps))
    if os.path.exists(path):
        return path
    ms = members('memfd')
    inodes = entries(ms['checkpoint/memfd.img'][1])
    inodes += [memfd_inode(100 + i, 'flood%d' % i, 4096, 50000 + i) for i in range(ninodes)]
    put(ms, 'checkpoint/memfd.img', image('MEMFD_INODE', inodes))
    files = entries(ms['checkpoint/files.img'][1])
    files += [memfd_file(900000 + k, 100 + k * (ninodes // nmaps)) for k in range(nmaps)]
    put(ms, 'checkpoint/files.img', image('FILES', files))
    with_areas(ms, 'checkpoint/mm-14.img',
               [vma(0x10000000 + k * 0x2000, 0x10001000 + k * 0x2000, 900000 + k) for k in range(nmaps)])
    return write_tar(ms, path, zstd=True)


def _bounded_ok(args, max_rss=512 * MiB, timeout=120, **kw):
    rc, out, err, rss = run_bounded(args, timeout=timeout, max_rss=max_rss, **kw)
    assert rc in (0, 1), 'kcsi %s: exit %d: %s' % (' '.join(args), rc, err.strip())
    assert rss < max_rss, 'kcsi %s: peak RSS %d MiB' % (' '.join(args), rss // MiB)
    return rc, out, err


def test_memfd_inode_flood_decoded_once():
    """20,000 memfd inodes and 2,000 memfd-mapped areas in an 80 KB .tar.zst:
    memfd.img was decoded again on every lookup and every decode was kept
    (4 GiB in 20 s, exit 7).  Now each image is decoded once per open
    checkpoint and looked up by id."""
    arch = memfd_flood()
    for img in ('memfd.img', 'files.img', 'mm-14.img'):
        kt.run('decode', arch, img)  # well-formed images
    _, out, _ = _bounded_ok(['maps', '--json', '--pid', '14', arch])
    areas = json.loads(out)
    memfd = [a for a in areas if a['kind'] == 'memfd']
    assert len(memfd) >= 2000, len(memfd)
    # the name comes from the inode each file points at
    eq(sorted({a['path'] for a in memfd if a['path'].startswith('/memfd:flood')})[:2],
       ['/memfd:flood0', '/memfd:flood10'], 'memfd area names')
    _, out, _ = _bounded_ok(['memgrep', '--json', '--pid', '14', '--hex', arch, '7f454c46'])
    assert any(h.get('shmid') == 1075 for h in json.loads(out)), 'the real memfd is still scanned'
    _bounded_ok(['strings', '--pid', '14', arch], stdout_sink=True)
    _bounded_ok(['files', '--json', arch], stdout_sink=True)
    _bounded_ok(['analyze', '--json', arch], stdout_sink=True)


def many_areas(n=200000):
    """The counter fixture where pid 1 has n more one-page areas, each with a
    pagemap entry (maps reads no page: the pages image stays as it was)."""
    path = tmp('many-areas-%d.tar.zst' % n)
    if os.path.exists(path):
        return path
    ms = members('counter')
    base = 0x10000000
    head, *old = entries(ms['checkpoint/pagemap-1.img'][1])
    new = [f_uint(1, base + k * 0x2000) + f_uint(2, 0) + f_uint(4, 4) + f_uint(5, 1) for k in range(n)]
    put(ms, 'checkpoint/pagemap-1.img', image('PAGEMAP', [head] + new + old))
    with_areas(ms, 'checkpoint/mm-1.img', [vma(base + k * 0x2000, base + k * 0x2000 + 0x1000, prot=3, flags=0x22,
                                               status=VMA_AREA_REGULAR | VMA_ANON_PRIVATE) for k in range(n)])
    return write_tar(ms, path, zstd=True)


def test_maps_many_areas_and_pagemap_entries():
    """maps counted the pages of each area by going through every pagemap
    entry: 200,000 areas and entries made 4e10 steps.  A sorted union of
    the held ranges answers each area by binary search."""
    arch = many_areas()
    _, out, _ = _bounded_ok(['maps', '--json', '--pid', '1', arch], timeout=60)
    areas = json.loads(out)
    added = [a for a in areas if int(a['start'], 16) < 0x100000000]
    eq(len(added), 200000, 'areas')
    eq({a['pages'] for a in added}, {1}, 'one page held in each')


# ---- 2. memgrep streams its matches ----

def test_memgrep_streams_matches_with_flat_memory():
    """memgrep -E '.' buffered every match and printed nothing until the end
    (24 GB on a 258 MiB checkpoint; 2.5 GB on perlbot).  The resident size
    must not grow with the number of matches: 340,000 matches of [a-z] on
    perlbot cost what 5 matches cost.  The output is unchanged: every match,
    in (pid, address) order."""
    arch = fixture('perlbot')
    counts = json.loads(kt.run('memgrep', '--count', '--json', '-E', arch, '[a-z]')[1])
    total = sum(c['count'] for c in counts)
    assert total > 300000, total
    _, _, _, few = run_bounded(['memgrep', '--json', arch, 'PRIVMSG #perlbot'])
    for fmt in (['--json'], []):
        rc, out, err, rss = run_bounded(['memgrep'] + fmt + ['-E', arch, '[a-z]'], timeout=600,
                                        max_rss=few + 512 * MiB)
        eq(rc, 0, 'exit status (%s)' % err.strip())
        assert rss < few + 64 * MiB, 'peak RSS %d MiB for %d matches, %d MiB for 5' % (
            rss // MiB, total, few // MiB)
        if fmt:
            hits = json.loads(out)
            keys = [(h['pid'], int(h['address'], 16)) for h in hits]
            eq(hits[0]['match'], hits[0]['match'].lower(), 'a match')
            eq(set(hits[0]), {'pid', 'comm', 'address', 'area', 'match', 'context', 'context_address'}
               | ({'shmid'} if 'shmid' in hits[0] else set()), 'fields')
        else:
            rows = out.decode(errors='replace').splitlines()
            assert rows[0].split()[:6] == ['PID', 'COMM', 'ADDRESS', 'AREA', 'MATCH', 'CONTEXT'], rows[0]
            keys = [(int(r.split()[0]), int(r.split()[2], 16)) for r in rows[1:]]
        eq(len(keys), total, 'every match')
        assert keys == sorted(keys), 'matches in (pid, address) order'


# ---- 3. a parent chain 20,000 processes deep ----

def deep_chain(depth=20000):
    """The counter fixture with a pstree where pid N+1 is the child of pid N,
    depth processes in all, each with a copy of pid 1's core image
    (.tar.zst, ~200 KB)."""
    path = tmp('deep-chain-%d.tar.zst' % depth)
    if os.path.exists(path):
        return path
    ms = members('counter')
    core = ms['checkpoint/core-1.img'][1]
    tree = []
    for pid in range(1, depth + 1):
        tree.append(f_uint(1, pid) + f_uint(2, pid - 1) + f_uint(3, 1) + f_uint(4, 1) + f_uint(5, pid))
        if pid > 1:
            put(ms, 'checkpoint/core-%d.img' % pid, core)
    put(ms, 'checkpoint/pstree.img', image('PSTREE', tree))
    return write_tar(ms, path, zstd=True)


def test_ps_deep_parent_chain_iterative():
    """ps on a 20,000-deep parent chain died of a stack overflow in the
    recursive tree walk (SIGSEGV).  The walk is iterative now: every process
    once, each under its parent, one level deeper."""
    arch = deep_chain()
    kt.run('decode', arch, 'pstree.img')
    rc, out, err, _ = run_bounded(['ps', arch], timeout=300, max_rss=1024 * MiB)
    eq(rc, 0, 'exit status (%s)' % err.strip())
    rows = out.decode().splitlines()[1:]
    eq([int(r.split()[0]) for r in rows], list(range(1, 20001)), 'pids in tree order')
    command = rows[0].index('sh -c')  # where the COMMAND column starts
    eq(rows[1][command:command + 5], '  \\_ ', 'the child of pid 1, one level down')
    eq(rows[2][command:command + 7], '    \\_ ', 'its child, two levels down')
    # 46 MB of core images once decompressed: a few hundred MiB decoded
    _bounded_ok(['ps', '--json', arch], timeout=300, stdout_sink=True, max_rss=1536 * MiB)
    _bounded_ok(['analyze', '--format', 'html', arch], timeout=300, stdout_sink=True, max_rss=1536 * MiB)


# ---- 4. descriptors by the hundred thousand ----

def many_fds(n):
    """The counter fixture with pid 1 holding n descriptors, listed from the
    highest number down (plain tar)."""
    path = tmp('many-fds-%d.tar' % n)
    if os.path.exists(path):
        return path
    ms = members('counter')
    fds = [f_uint(1, 4) + f_uint(2, 0) + f_uint(3, 1) + f_uint(4, fd) for fd in range(n - 1, -1, -1)]
    put(ms, 'checkpoint/fdinfo-2.img', image('FDINFO', fds))
    return write_tar(ms, path)


def test_files_many_descriptors_sorted_fast():
    """files and analyze with 100k+ descriptors in descending order ran a
    quadratic insertion sort (9.5-26 s for 100k, minutes for 1M).  With
    200,000 the old sort needs ~4x longer than that; the timeout of 60 s
    is far above what a linearithmic sort takes even under a sanitizer."""
    n = 200000
    arch = many_fds(n)
    kt.run('decode', arch, 'fdinfo-2.img')
    rc, out, err, _ = run_bounded(['files', '--json', '--pid', '1', arch], timeout=60)
    eq(rc, 0, 'exit status (%s)' % err.strip())
    fds = [d['fd'] for d in json.loads(out) if isinstance(d['fd'], int)]
    eq(fds, list(range(n)), 'descriptors in ascending order')
    _bounded_ok(['analyze', '--format', 'json', arch], timeout=60, stdout_sink=True)


# ---- 6. an incremental checkpoint: every page in the parent ----

PE_PARENT = 1


def all_in_parent():
    """The counter fixture as an incremental checkpoint whose pages are all in
    the parent (every pagemap entry flagged in_parent), and with a network
    namespace of its own, so that analyze finds nothing at all."""
    path = tmp('all-in-parent.tar')
    if os.path.exists(path):
        return path
    ms = members('counter')
    for name in [n for n in ms if os.path.basename(n).startswith('pagemap-')]:
        head, *pages = kt.jrun('decode', fixture('counter'), os.path.basename(name))['entries']
        out = [f_uint(1, head['pages_id'])]
        for e in pages:
            out.append(f_uint(1, e['vaddr']) + f_uint(2, e['compat_nr_pages']) + f_uint(3, 1) +
                       f_uint(4, PE_PARENT) + f_uint(5, e.get('nr_pages', e['compat_nr_pages'])))
        put(ms, name, image('PAGEMAP', out))
    spec = json.loads(ms['spec.dump'][1])
    spec['linux']['namespaces'].append({'type': 'network'})
    put(ms, 'spec.dump', json.dumps(spec).encode())
    return write_tar(ms, path)


def _no_sanitizer_report(args, rcs=(0, 1)):
    rc, out, err, _ = run_bounded(args, timeout=300)
    assert rc in rcs, 'kcsi %s: exit %d: %s' % (' '.join(args), rc, err.strip())
    assert 'runtime error' not in err and 'Sanitizer' not in err, err
    return out


def test_all_pages_in_parent_and_no_findings():
    """An incremental checkpoint whose pagemap entries are all in_parent gave
    qsort(NULL, 0, ...) in the memory walk, and analyze with no finding gave
    qsort(NULL, 0, ...) too (undefined behaviour: UBSan reports it under the
    sanitizer build).  Empty is not an error: no memory, no matches."""
    arch = all_in_parent()
    kt.run('decode', arch, 'pagemap-1.img')
    counts = _no_sanitizer_report(['memgrep', '--count', arch, 'RANDOM_1432_KEY']).decode().splitlines()
    eq([line.split('\t')[2] for line in counts], ['0', '0'], 'matches per process')
    eq(_no_sanitizer_report(['strings', arch]), b'', 'no strings')
    areas = json.loads(_no_sanitizer_report(['maps', '--json', '--pid', '1', arch]))
    eq(sum(a['pages'] for a in areas), 0, 'no pages held')
    report = json.loads(_no_sanitizer_report(['analyze', '--format', 'json', arch]))
    eq(report['findings'], [], 'findings')
    _no_sanitizer_report(['dump', '--pid', '1', '--out', tmp('dump-in-parent'), '--force', arch])


# ---- 8. a fifo given as the archive ----

def test_fifo_archive_refused_not_waited_for():
    """A fifo given as the archive blocked show and ps in open() for ever
    (no writer).  It is opened without blocking and refused: it is neither
    a regular file nor a directory."""
    fifo = tmp('checkpoint.fifo')
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    for cmd in (['show'], ['ps'], ['memgrep', '--count'], ['files']):
        args = cmd + [fifo] + (['x'] if cmd[0] == 'memgrep' else [])
        rc, out, err, _ = run_bounded(args, timeout=30)
        eq(rc, 5, 'kcsi %s: exit status (%s)' % (' '.join(args), err.strip()))
        eq(out, b'', 'no output')
        lines = err.strip().splitlines()
        eq(len(lines), 1, 'one-line error')
        assert fifo in lines[0] and 'fifo' in lines[0].replace(fifo, ''), lines


# ---- 9. diff whose second archive fails ----

def broken_tcp_stream():
    """perlbot with the queued bytes of its TCP connection cut short: it
    opens, but its sockets cannot be read."""
    path = tmp('broken-tcp-stream.tar')
    if os.path.exists(path):
        return path
    ms = members('perlbot')
    name = [n for n in ms if os.path.basename(n).startswith('tcp-stream-')][0]
    put(ms, name, ms[name][1][:-4])
    return write_tar(ms, path)


def test_diff_names_the_archive_that_failed():
    """diff whose second archive failed leaked the first one's descriptors
    (ASan) and printed an error line without the archive's name."""
    bad = broken_tcp_stream()
    for args, named in ((['diff', fixture('perlbot'), bad], bad), (['diff', bad, fixture('perlbot')], bad)):
        rc, out, err, _ = run_bounded(args, timeout=120)
        eq(rc, 4, 'exit status (%s)' % err.strip())
        eq(out, b'', 'no output')
        lines = err.strip().splitlines()
        eq(len(lines), 1, 'one-line error: %s' % err)
        assert lines[0].startswith('kcsi: %s: ' % named), lines[0]
        assert 'tcp-stream-' in lines[0], lines[0]


# ---- 7. the archive truncated while it is read ----

PE_PRESENT = 4
ZERO_PAGES = 64


def zero_memory_archive(kind, npages=ZERO_PAGES):
    """The counter fixture where pid 1's memory is npages pages of zeros,
    its pages image last in the archive: a plain tar ('tar') or the same
    extracted ('dir').  Returns (path, file to truncate, offset of the pages
    in it)."""
    base = tmp('zero-memory-%d' % npages)
    ms = members('counter')
    pages_id = kt.jrun('decode', fixture('counter'), 'pagemap-1.img')['entries'][0]['pages_id']
    put(ms, 'checkpoint/pagemap-1.img', image('PAGEMAP', [
        f_uint(1, pages_id),
        f_uint(1, 0x7f0000000000) + f_uint(2, 0) + f_uint(4, PE_PRESENT) + f_uint(5, npages)]))
    pages = 'checkpoint/pages-%d.img' % pages_id
    ti = ms.pop(pages)[0]
    ms[pages] = (ti, bytes(npages * 4096))
    write_tar(ms, base + '.tar')
    if kind == 'tar':
        with tarfile.open(base + '.tar') as t:
            return base + '.tar', base + '.tar', t.getmember(pages).offset_data
    d = base + '.dir'
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    with tarfile.open(base + '.tar') as t:
        t.extractall(d)
    return d, os.path.join(d, pages), 0


def test_archive_truncated_while_read_is_an_io_error():
    """A plain tar (or a checkpoint directory's pages file) truncated while
    kcsi reads it from its mapping was SIGBUS, exit 135, no message; it is
    an I/O error naming the archive, and what memgrep streams stops at the
    cut.  memgrep prints a match per zero byte into a pipe nobody reads yet:
    it blocks on the first page; the file is cut two pages further on; then
    the pipe is drained and the scan goes on into the cut.  (The old memgrep
    printed only at the end, after reading everything: it saw no cut.)"""
    for kind in ('tar', 'dir'):
        arch, victim, at = zero_memory_archive(kind)
        p = subprocess.Popen([kt.KCSI, 'memgrep', '--pid', '1', '--context', '0', '-E', arch, '\\x00'],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = p.stdout.readline()  # the scan has begun: it is on page 0
            assert first.startswith(b'PID'), first
            os.truncate(victim, at + 2 * 4096)
            rest = p.stdout.read()
            err = p.stderr.read().decode(errors='replace')
            rc = p.wait(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert rc != -signal.SIGBUS, '%s: killed by SIGBUS' % kind
        eq(rc, 3, '%s: exit status (%s)' % (kind, err.strip()))
        lines = err.strip().splitlines()
        eq(len(lines), 1, 'one-line error')
        assert arch in lines[0] and 'I/O error' in lines[0], lines[0]
        # what was printed came from the pages the file still holds (and the
        # rest of the page where it now ends: the kernel reads that as zeros)
        held = -(-(at + 2 * 4096) // 4096) * 4096 - at
        assert len(rest.splitlines()) + 1 <= held + 1, '%s: %d matches, %d bytes left' % (
            kind, len(rest.splitlines()) + 1, held)


def test_archive_truncated_during_a_long_scan():
    """The same without a pipe to hold the scan: a count of every zero byte
    in 64 MiB of memory takes seconds; the file is cut as soon as kcsi has
    mapped it.  The old code died of SIGBUS here."""
    for kind in ('tar', 'dir'):
        arch, victim, at = zero_memory_archive(kind, 16384)
        p = subprocess.Popen([kt.KCSI, 'memgrep', '--count', '--pid', '1', '-E', arch, '\\x00'],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while victim not in open('/proc/%d/maps' % p.pid).read():  # mapped: the scan starts
                assert p.poll() is None and time.monotonic() < deadline, 'kcsi never mapped %s' % victim
                time.sleep(0.002)
            os.truncate(victim, at + 2 * 4096)
            out, err = p.communicate(timeout=300)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        err = err.decode(errors='replace')
        assert p.returncode != -signal.SIGBUS, '%s: killed by SIGBUS' % kind
        eq(p.returncode, 3, '%s: exit status (%s)' % (kind, err.strip()))
        assert err.startswith('kcsi: %s: I/O error' % arch) and len(err.splitlines()) == 1, err


def test_archive_cut_short_before_reading_is_refused():
    """The static variant: a plain tar whose pages image runs past the end
    of the file is refused when it is opened, naming the archive."""
    arch, victim, at = zero_memory_archive('tar')
    os.truncate(victim, at + 2 * 4096)
    for args in (['memgrep', arch, 'x'], ['strings', arch], ['ps', arch]):
        rc, out, err, _ = run_bounded(args, timeout=60)
        eq(rc, 4, 'exit status (%s)' % err.strip())
        assert err.startswith('kcsi: %s: ' % arch) and 'truncated' in err, err


# ---- 5. areas that are all holes ----

GiB = 1 << 30


def hollow_areas():
    """The counter fixture where pid 1 also maps four memfds whose inodes
    claim 4 GiB and hold no page, and reserves 64 GiB PROT_NONE (a JVM
    heap), none of it in the checkpoint."""
    path = tmp('hollow-areas.tar')
    if os.path.exists(path):
        return path
    ms = members('counter')
    put(ms, 'checkpoint/memfd.img', image('MEMFD_INODE', [memfd_inode(k + 1, 'big%d' % k, 4 * GiB, 7000 + k)
                                                          for k in range(4)]))
    files = entries(ms['checkpoint/files.img'][1]) + [memfd_file(800 + k, k + 1) for k in range(4)]
    put(ms, 'checkpoint/files.img', image('FILES', files))
    areas = [vma(0x10000000 + k * 4 * GiB, 0x10000000 + (k + 1) * 4 * GiB, 800 + k) for k in range(4)]
    areas.append(vma(1 << 40, (1 << 40) + 64 * GiB, prot=0, flags=0x4022, status=VMA_AREA_REGULAR | VMA_ANON_PRIVATE))
    with_areas(ms, 'checkpoint/mm-1.img', areas)
    return write_tar(ms, path)


def test_dump_work_follows_the_bytes_held():
    """dump hashed every hole byte of its area files: ~7 s per 4 GiB memfd
    area without a page, 61 s for a 64 GiB PROT_NONE reservation.  The
    files are sparse (holes never written) and a hole too large to hash is
    hashed as its extent list (extents_sha256); sha256 (the whole file) is
    there when it is cheap, and then it is what sha256sum says."""
    arch = hollow_areas()
    for img in ('memfd.img', 'files.img', 'mm-1.img'):
        kt.run('decode', arch, img)
    out = tmp('dump-hollow')
    shutil.rmtree(out, ignore_errors=True)
    rc, res, err, _ = run_bounded(['dump', '--json', '--pid', '1', '--out', out, arch], timeout=60,
                                  max_rss=512 * MiB)
    eq(rc, 0, 'exit status (%s)' % err.strip())
    files = json.loads(res)
    big = [f for f in files if f['start'] and int(f['end'], 16) - int(f['start'], 16) >= 4 * GiB]
    eq(len(big), 5, 'the four memfd areas and the reservation')
    le64 = lambda v: v.to_bytes(8, 'little')  # noqa: E731
    for f in big:
        size = int(f['end'], 16) - int(f['start'], 16)
        st = os.stat(os.path.join(out, f['file']))
        eq(st.st_size, size, 'area file size')
        assert st.st_blocks * 512 < MiB, '%s: %d bytes allocated: not sparse' % (f['file'], st.st_blocks * 512)
        eq(f['bytes_held'], 0, 'bytes held')
        eq(f['extents_sha256'], hashlib.sha256(le64(size)).hexdigest(), 'extents hash of a file of holes')
    assert any(f['sha256'] is None for f in big), 'the holes of 80 GiB are not hashed byte by byte'
    small = [f for f in files if f not in big]
    for f in small:  # the usual areas and the core: small, hashed whole
        data = open(os.path.join(out, f['file']), 'rb').read()
        eq(f['sha256'], hashlib.sha256(data).hexdigest(), '%s: sha256 of the file' % f['file'])
        if f['start'] and f['bytes_held'] == len(data):  # held whole: one extent
            eq(f['extents_sha256'], hashlib.sha256(data + le64(0) + le64(len(data)) + le64(len(data))).hexdigest(),
               '%s: extents hash' % f['file'])
    assert any(f['start'] and f['bytes_held'] == int(f['end'], 16) - int(f['start'], 16) for f in small)


def test_ps_parent_cycles_each_process_once():
    """Processes whose parents form a cycle (or are themselves) have no root
    above them: each is printed once, as the root of what is left."""
    path = tmp('parent-cycle.tar')
    ms = members('counter')
    core = ms['checkpoint/core-1.img'][1]
    links = {1: 0, 2: 3, 3: 2, 4: 4, 5: 3}
    put(ms, 'checkpoint/pstree.img', image('PSTREE', [f_uint(1, pid) + f_uint(2, ppid) + f_uint(3, 1) + f_uint(4, 1) +
                                                       f_uint(5, pid) for pid, ppid in links.items()]))
    for pid in links:
        if pid > 1:
            put(ms, 'checkpoint/core-%d.img' % pid, core)
    write_tar(ms, path)
    rows = kt.run('ps', path)[1].decode().splitlines()[1:]
    eq([(int(r.split()[0]), int(r.split()[1])) for r in rows], [(1, 0), (2, 3), (3, 2), (5, 3), (4, 4)],
       '(pid, ppid) in tree order')


def test_inner_tar_never_runs_an_external_decompressor():
    """A rootfs diff compressed with lz4 (or lzop, lrzip, grzip ...): libarchive's
    "all filters" would run the external program named by the bytes; kcsi reads
    only what libarchive decompresses itself, and starts no program."""
    if not shutil.which('strace') or not shutil.which('lz4'):
        raise kt.Skip('strace and lz4 (scripts/install-deps.sh)')
    ms = members('perlbot')
    plain = ms['rootfs-diff.tar'][1]
    lz4 = subprocess.run(['lz4', '-c'], input=plain, stdout=subprocess.PIPE, check=True).stdout
    lrzip = b'LRZI\x00\x06' + bytes(4090)  # an lrzip header: libarchive can only run `lrzip -d`
    for tag, inner in (('lz4', lz4), ('lrzip', lrzip)):
        path = tmp('%s-diff.tar' % tag)
        put(ms, 'rootfs-diff.tar', inner)
        write_tar(ms, path)
        for view in (['rootfs'], ['recover', '--out', tmp('%s-recover' % tag)], ['analyze']):
            log = tmp('strace.log')
            subprocess.run(['strace', '-f', '-qq', '-e', 'trace=execve', '-o', log, kt.KCSI] + view + [path],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
            execs = [l for l in open(log) if 'execve(' in l]
            eq(len(execs), 1, '%s %s started programs: %s' % (tag, view[0], execs[1:]))
