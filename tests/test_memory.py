"""Memory forensics and evidence recovery on the real fixtures: memgrep,
strings, dump (raw areas and an ELF core gdb reads), recover, rootfs; and
recovery from hostile archives."""
import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile

import kt
from kt import eq, fixture, jrun, run

SLEEP_SHA256 = '4add4bb89d8ca0e3b1bd861130ddd7ae0fd9617a8055de0a38c8d2ca1ac95723'


def test_memgrep_perlbot_key_and_second_c2():
    hits = jrun('memgrep', '--json', fixture('perlbot'), 'PBKEY-5d41402abc4b2a76b9719d911017c592')
    assert hits and all(h['pid'] == 15 for h in hits), hits
    for key in ('pid', 'comm', 'address', 'area', 'match', 'context'):
        assert key in hits[0], key
    eq(hits[0]['match'], 'PBKEY-5d41402abc4b2a76b9719d911017c592', 'match')
    ctx = base64.b64decode(hits[0]['context'])
    assert b'PBKEY-5d41402abc4b2a76b9719d911017c592' in ctx, ctx
    addrs = [(h['pid'], int(h['address'], 16)) for h in hits]
    eq(addrs, sorted(addrs), 'order')
    hits = jrun('memgrep', '--json', '--pid', '15', fixture('perlbot'), '127.7.7.7:6667')
    assert hits and hits[0]['area'] in ('heap', 'anon'), hits
    # the USER line the bot sent is in memory with the key
    hits = jrun('memgrep', '--json', '--regex', fixture('perlbot'), r'USER \S+ \S+ \S+ :PBKEY-[0-9a-f]{32}')
    assert hits, 'USER line'


def test_memgrep_counter_token():
    hits = jrun('memgrep', '--json', fixture('counter'), 'RANDOM_1432_KEY')
    assert any(h['pid'] == 1 for h in hits), hits
    rc, out, _ = run('memgrep', fixture('counter'), 'NOT-IN-THE-CHECKPOINT-42', check=False)
    eq(rc, 1, 'exit status when nothing matches')


def test_memgrep_hex_icase_and_count():
    hits = jrun('memgrep', '--json', '--hex', fixture('perlbot'), '4e 49 43 4b 20')  # "NICK "
    assert any(h['pid'] == 15 for h in hits), hits
    lower = jrun('memgrep', '--json', '-i', fixture('perlbot'), 'pbkey-5D41402ABC4B2A76B9719D911017C592')
    exact = jrun('memgrep', '--json', fixture('perlbot'), 'PBKEY-5d41402abc4b2a76b9719d911017c592')
    eq([h['address'] for h in lower], [h['address'] for h in exact], 'case-insensitive finds the same')
    counts = jrun('memgrep', '--json', '--count', fixture('perlbot'), 'PRIVMSG')
    c15 = [c for c in counts if c['pid'] == 15][0]['count']
    eq(c15, len(jrun('memgrep', '--json', '--pid', '15', fixture('perlbot'), 'PRIVMSG')), 'count')
    rc, _, err = run('memgrep', '--regex', fixture('perlbot'), '(unclosed', check=False)
    eq(rc, 2, 'bad regex is a usage error')
    rc, _, err = run('memgrep', '--hex', fixture('perlbot'), 'zz', check=False)
    eq(rc, 2, 'bad hex is a usage error')


def test_memgrep_in_memfd_program():
    """The fileless program's bytes are in shared memory, not in the process pages."""
    hits = jrun('memgrep', '--json', '--pid', '14', '--hex', fixture('memfd'), '7f454c46')  # ELF magic
    assert any(h['area'] == '/memfd:kdevtmpfsi' and 'shmid' in h for h in hits), hits


def _planted(name, plants):
    """An extracted copy of a fixture with bytes written into its pages at
    chosen virtual addresses of pid 1: plants is a list of (vaddr, bytes)."""
    d = os.path.join(kt.tmpdir(), 'planted-' + name)
    if os.path.exists(d):
        shutil.rmtree(d)
    shutil.copytree(kt.extracted('counter'), d)
    pm = json.loads(run('decode', os.path.join(d, 'checkpoint', 'pagemap-1.img'))[1])
    pages = os.path.join(d, 'checkpoint', 'pages-%d.img' % pm['entries'][0]['pages_id'])
    runs, off = [], 0
    for e in pm['entries'][1:]:
        if e.get('flags', 0) & 4:
            runs.append((e['vaddr'], e['nr_pages'] * 4096, off))
            off += e['nr_pages'] * 4096
    with open(pages, 'r+b') as f:
        for vaddr, data in plants:
            for va, ln, fo in runs:
                if va <= vaddr and vaddr + len(data) <= va + ln:
                    f.seek(fo + vaddr - va)
                    f.write(data)
                    break
            else:
                raise AssertionError('no run holds 0x%x' % vaddr)
    return d, runs


def test_memgrep_across_page_boundary_and_utf16():
    _, runs = _planted('probe', [])
    big = [r for r in runs if r[1] >= 3 * 4096]
    assert big, runs
    va = big[0][0]
    across = va + 4096 - 7        # straddles the first page boundary of the run
    utf16_at = va + 2 * 4096 - 11  # straddles the second
    probe = b'KCSI-ACROSS-PAGES-PROBE'
    u16 = 'KCSI-WIDE-PROBE'.encode('utf-16-le')
    d, _ = _planted('probe', [(across, probe), (utf16_at, u16)])
    hits = jrun('memgrep', '--json', d, probe.decode())
    eq([(h['pid'], int(h['address'], 16)) for h in hits], [(1, across)], 'match across a page boundary')
    hits = jrun('memgrep', '--json', '--encoding', 'utf16le', d, 'KCSI-WIDE-PROBE')
    eq([int(h['address'], 16) for h in hits], [utf16_at], 'UTF-16LE match')
    eq(hits[0]['match'].encode('latin-1'), u16, 'raw bytes of the UTF-16LE match')
    strs = jrun('strings', '--json', '--encoding', 'utf16le', '--pid', '1', d)
    assert any('KCSI-WIDE-PROBE' in s['string'] and
               int(s['address'], 16) + 2 * s['string'].index('KCSI-WIDE-PROBE') == utf16_at for s in strs), \
        [s for s in strs if 'KCSI' in s['string']]
    strs = jrun('strings', '--json', '--pid', '1', '-n', '20', d)
    assert any(probe.decode() in s['string'] and
               int(s['address'], 16) + s['string'].index(probe.decode()) == across for s in strs)


def test_strings_perlbot():
    strs = jrun('strings', '--json', '--pid', '15', '-n', '8', fixture('perlbot'))
    texts = [s['string'] for s in strs]
    assert any('stage2 http://198.51.100.23/x.sh' in t for t in texts)
    assert any('JOIN #perlbot' in t for t in texts)
    assert all(len(t) >= 8 for t in texts)
    _, out, _ = run('strings', '--pid', '15', fixture('perlbot'))
    first = out.decode().splitlines()[0].split('\t')
    eq(first[0], '15', 'text format pid')
    assert first[1].startswith('0x'), first


def test_memgrep_same_on_compressed():
    a = run('memgrep', '--json', fixture('perlbot'), 'PRIVMSG')[1]
    b = run('memgrep', '--json', kt.compressed('perlbot', 'zstd'), 'PRIVMSG')[1]
    eq(a, b, 'plain vs zstd')


def _recover(name, archive, *extra):
    out = os.path.join(kt.tmpdir(), 'recover-' + name)
    if os.path.exists(out):
        shutil.rmtree(out)
    rc, stdout, err = run('recover', '--out', out, *extra, archive, check=False)
    man = json.load(open(os.path.join(out, 'manifest.json'))) if os.path.exists(
        os.path.join(out, 'manifest.json')) else None
    return rc, out, man, err


def test_recover_perlbot():
    rc, out, man, err = _recover('perlbot', fixture('perlbot'))
    eq(rc, 0, err)
    items = man['items']
    for it in items:
        for key in ('file', 'origin', 'source', 'pid', 'fd', 'size', 'mode', 'sha256'):
            assert key in it, key
        if it['file']:
            data = open(os.path.join(out, it['file']), 'rb').read()
            eq(hashlib.sha256(data).hexdigest(), it['sha256'], it['file'])
            eq(len(data), it['size'], it['file'])
    ghost = [i for i in items if i['origin'] == 'ghost']
    eq([(g['source'], g['pid'], g['fd']) for g in ghost], [('/tmp/.ICE-unix/.journal', 15, 4)], 'ghost')
    eq(open(os.path.join(out, ghost[0]['file']), 'rb').read(), b'stage2 http://198.51.100.23/x.sh\n', 'ghost content')
    by = {i['source']: i for i in items if i['origin'] == 'rootfs-diff'}
    assert '/tmp/perlbot.pl' in by, by.keys()
    assert b'perl' in open(os.path.join(out, by['/tmp/perlbot.pl']['file']), 'rb').read()
    loot = open(os.path.join(out, by['/tmp/.ICE-unix/.loot']['file']), 'rb').read()
    assert loot.startswith(b'root:x:0:0:'), loot[:40]
    for root, dirs, files in os.walk(out):
        for f in files:
            mode = os.stat(os.path.join(root, f)).st_mode & 0o7777
            eq(mode, 0o600, 'file mode of %s' % f)
    # a second run keeps what is there
    before = open(os.path.join(out, ghost[0]['file']), 'rb').read()
    rc, _, err = run('recover', '--out', out, fixture('perlbot'), check=False)
    assert rc != 0 and 'exists already' in err, (rc, err)
    eq(open(os.path.join(out, ghost[0]['file']), 'rb').read(), before, 'kept')
    rc, _, err = run('recover', '--force', '--out', out, fixture('perlbot'), check=False)
    eq(rc, 0, err)


def test_recover_memfd_program_hash():
    rc, out, man, err = _recover('memfd', fixture('memfd'))
    eq(rc, 0, err)
    memfd = [i for i in man['items'] if i['origin'] == 'memfd']
    eq(len(memfd), 1, 'one memfd')
    eq(memfd[0]['source'], 'memfd:kdevtmpfsi', 'name')
    eq(memfd[0]['size'], 43888, 'size')
    eq(memfd[0]['sha256'], SLEEP_SHA256, "Debian 12's /usr/bin/sleep")
    eq(memfd[0]['pid'], 14, 'holder')


def test_recover_same_from_zstd():
    _, _, a, _ = _recover('plain', fixture('perlbot'))
    _, _, b, _ = _recover('zstd', kt.compressed('perlbot', 'zstd'))
    eq([(i['file'], i['sha256']) for i in a['items']], [(i['file'], i['sha256']) for i in b['items']], 'items')


def _hostile_rootfs():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.GNU_FORMAT) as t:
        def add(name, data=b'', **kw):
            ti = tarfile.TarInfo(name)
            for k, v in kw.items():
                setattr(ti, k, v)
            if ti.type == tarfile.REGTYPE:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            else:
                t.addfile(ti)
        add('tmp/ok.txt', b'fine\n')
        add('../../kcsi-escape-dotdot', b'x')
        add('/kcsi-escape-absolute', b'confined\n')
        add('evil', type=tarfile.SYMTYPE, linkname='/tmp')
        add('evil/kcsi-escape-through-link', b'x')
        add('hard', type=tarfile.LNKTYPE, linkname='/etc/passwd')
        add('dev/kcsi-null', type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        add('suid-shell', b'#!/bin/sh\n', mode=0o4755)
    raw = bytearray(buf.getvalue())
    # a member that claims 10 GB (header size field, octal), with no data behind it
    big = tarfile.TarInfo('huge.bin')
    big.size = 10 * 1024 ** 3
    hdr = big.tobuf(format=tarfile.GNU_FORMAT)
    raw = bytes(buf.getvalue()).rstrip(b'\0')
    pad = (512 - len(raw) % 512) % 512
    return raw + b'\0' * pad + hdr + b'\0' * 1024


def test_recover_hostile_rootfs_diff():
    rootfs = _hostile_rootfs()
    path = os.path.join(kt.tmpdir(), 'hostile-rootfs.tar')
    with tarfile.open(fixture('counter')) as src, tarfile.open(path, 'w') as dst:
        for m in src.getmembers():
            if m.name == 'rootfs-diff.tar':
                continue
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
        ti = tarfile.TarInfo('rootfs-diff.tar')
        ti.size = len(rootfs)
        dst.addfile(ti, io.BytesIO(rootfs))
    base = os.path.join(kt.tmpdir(), 'hostile-base')
    if os.path.exists(base):
        shutil.rmtree(base)
    os.makedirs(base)
    before = set(os.listdir('/tmp')) | set(os.listdir(kt.tmpdir()))
    rc, out, err = run('recover', '--out', os.path.join(base, 'out'), path, check=False)
    eq(rc, 9, 'exit code when items are refused (%s)' % err)
    man = json.load(open(os.path.join(base, 'out', 'manifest.json')))
    by = {i['source']: i for i in man['items']}
    assert by['/../../kcsi-escape-dotdot']['refused'], by['/../../kcsi-escape-dotdot']
    eq(by['/kcsi-escape-absolute']['file'], 'rootfs/kcsi-escape-absolute', 'absolute path confined')
    eq(by['/evil']['type'], 'symlink', 'symlink recorded')
    assert by['/evil/kcsi-escape-through-link'].get('refused') or \
        by['/evil/kcsi-escape-through-link']['file'].startswith('rootfs/evil/'), by['/evil/kcsi-escape-through-link']
    eq((by['/hard']['type'], by['/hard']['target']), ('hardlink', '/etc/passwd'), 'hardlink recorded')
    assert by['/dev/kcsi-null']['refused'], 'device refused'
    assert by['/huge.bin']['refused'], 'huge file refused'
    assert by['rootfs-diff.tar']['refused'] and 'Truncated' in by['rootfs-diff.tar']['refused'], by['rootfs-diff.tar']
    eq(os.stat(os.path.join(base, 'out', by['/suid-shell']['file'])).st_mode & 0o7777, 0o600, 'no setuid bit')
    # nothing outside the output directory, nothing followed through the link
    for name in ('kcsi-escape-dotdot', 'kcsi-escape-absolute', 'kcsi-escape-through-link'):
        assert not os.path.exists(os.path.join('/tmp', name)), name
        assert not os.path.exists(os.path.join(base, name)), name
    eq(sorted(os.listdir(base)), ['out'], 'only the output directory')
    assert not os.path.islink(os.path.join(base, 'out', 'rootfs', 'evil')), 'no symlink created'
    after = set(os.listdir('/tmp')) | set(os.listdir(kt.tmpdir()))
    assert not {n for n in after - before if n.startswith('kcsi-escape')}, after - before


def test_rootfs_listing():
    rows = jrun('rootfs', '--json', fixture('perlbot'))
    by = {r['path']: r for r in rows}
    eq(by['/tmp/perlbot.pl']['type'], 'file', 'type')
    eq(by['/tmp/perlbot.pl']['size'], 1207, 'size')
    eq(by['/tmp/perlbot.pl']['mode'] & 0o777, 0o600, 'mode')
    assert by['/tmp/perlbot.pl']['mtime'].startswith('2026-11-27T01:48'), by['/tmp/perlbot.pl']
    for key in ('path', 'type', 'mode', 'uid', 'gid', 'size', 'mtime', 'deleted'):
        assert key in rows[0], key


def test_dump_areas_and_core_in_gdb():
    out = os.path.join(kt.tmpdir(), 'dump')
    if os.path.exists(out):
        shutil.rmtree(out)
    files = jrun('dump', '--json', '--pid', '15', '--out', out, fixture('perlbot'))
    areas = jrun('maps', '--json', '--pid', '15', fixture('perlbot'))
    eq(len(files), len(areas) + 1, 'one file per area plus the core')
    held = sum(f['bytes_held'] for f in files if f['start'])
    eq(held, sum(a['pages'] for a in areas) * 4096, 'bytes held')
    heap = [f for f in files if '_heap' in f['file']][0]
    data = open(os.path.join(out, heap['file']), 'rb').read()
    eq(len(data), int(heap['end'], 16) - int(heap['start'], 16), 'area file size')
    hit = jrun('memgrep', '--json', '--pid', '15', fixture('perlbot'), 'JOIN #perlbot')[0]
    at = int(hit['address'], 16) - int(heap['start'], 16)
    if int(heap['start'], 16) <= int(hit['address'], 16) < int(heap['end'], 16):
        eq(data[at:at + 13], b'JOIN #perlbot', 'bytes at the match address')
    if not shutil.which('gdb'):
        raise kt.Skip('gdb not installed')
    core = os.path.join(out, 'pid-15', 'core')
    p = subprocess.run(['gdb', '-batch', '-nx', '-ex', 'info registers rip rsp', '/usr/bin/perl', core],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    text = p.stdout.decode(errors='replace')
    regs = json.loads(run('decode', '--pretty', fixture('perlbot'), 'core-15.img')[1])
    gp = regs['entries'][0]['thread_info']['gpregs']
    assert ('rip            %s' % gp['ip']) in text.replace('0x0*', '0x'), text
    assert gp['sp'] in text, text
    # --area: just one file
    one = jrun('dump', '--json', '--pid', '15', '--out', out + '-one', '--area', hit['address'], fixture('perlbot'))
    eq(len(one), 1, 'one area')


def test_literal_search_unit():
    """memgrep's literal search (SSE2, 16 positions at once) gives memmem's
    answer on 300,000 random buffers and needles (tests/unit/find.c)."""
    kt.run_unit('find', 'agree with memmem')
