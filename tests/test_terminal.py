"""Terminal safety: strings of a hostile archive reach the terminal escaped.

The test builds, from the perlbot fixture, a copy whose container name, image,
hostname, annotations, mounts, a task comm, file paths, a mapped library, a
unix socket name, rootfs-diff names and link targets, deleted.files entries
and environment values in memory carry ESC [2J, OSC 0;title BEL,
CSI erase-line, a raw C1 byte 0x9b, C1 U+009B, bidi overrides and a raw
newline; then it runs every text view on it.  No byte 0x1b, 0x07 or 0x9b and
no raw bidi control may reach stdout or stderr, the escaped forms (the rule of
include/kcsi/text.h, written again below in Python) must be where the strings
are shown, and the planted newline must not add a line: each view prints as
many lines as on a twin archive built the same way with harmless strings, and
the columns of the tables stay aligned.
"""
import io
import json
import os
import struct
import subprocess
import tarfile
import unicodedata

import kt
from kt import eq, fixture

# A string for JSON metadata (no raw 0x9b there: JSON is UTF-8 text).
HOSTILE = 'evil\x1b[2J\x1b]0;pwned\x07\x1b[2K\u009b\u202eright\u2066\nnext界'
# Bytes for binary fields: the same, with a raw C1 byte.
HOSTILE_B = b'\x1b[2J\x1b]0;pwned\x07\x1b[2K\x9b\xe2\x80\xaeright\nnext'
# Same-length patches (the task comm is at most 15 bytes; memory in place).
COMM = b'\x1b]0;T\x07\x9b\xe2\x80\xaeA\nB\x1b[K'  # 15 bytes
ENV_APP = b'\x1b[2J\xc2\x9b\xe2\x80\xae\n'           # 10 bytes, for "production"
ENV_DB = b'\x1b]0;X\x07\x9b\xe2\x80\xae\nABC'         # 14 bytes, for "s3cr3t-db-pass"
# Paths: the files pid 15 holds (fd 3 a copy of passwd, fd 4 deleted), a
# mapped library, a unix socket, a script dropped in the rootfs diff.
LOOT = b'/tmp/.ICE-unix/' + HOSTILE_B
JOURNAL = b'/tmp/.ICE-unix/.j' + HOSTILE_B
LIB = b'/usr/lib/' + HOSTILE_B + b'.so'
SOCK = b'/run/' + HOSTILE_B + b'.sock'
DROPPED = b'tmp/' + HOSTILE_B

FORBIDDEN = [b'\x1b', b'\x07', b'\x9b'] + [chr(c).encode() for c in
                                           list(range(0x202a, 0x202f)) + list(range(0x2066, 0x206a))]


# ---- the rule of include/kcsi/text.h ----

def _unsafe(cp):
    return (0x80 <= cp <= 0x9f or cp in (0x061c, 0x200e, 0x200f) or 0x2028 <= cp <= 0x202e
            or 0x2066 <= cp <= 0x2069)


def shown(b):
    """The escaped form kcsi must print for bytes (or a str, taken as UTF-8)."""
    if isinstance(b, str):
        b = b.encode('utf-8')
    out, i = [], 0
    while i < len(b):
        c = b[i]
        if c < 0x80:
            out.append({0x5c: '\\\\', 10: '\\n', 9: '\\t', 13: '\\r'}.get(c) or
                       (chr(c) if 0x20 <= c < 0x7f else '\\x%02x' % c))
            i += 1
            continue
        n = 2 if 0xc2 <= c <= 0xdf else 3 if 0xe0 <= c <= 0xef else 4 if 0xf0 <= c <= 0xf4 else 0
        try:
            ch = b[i:i + n].decode('utf-8') if n and i + n <= len(b) else None
        except UnicodeDecodeError:
            ch = None
        if ch is None:
            out.append('\\x%02x' % c)
            i += 1
        else:
            out.append('\\u%04x' % ord(ch) if _unsafe(ord(ch)) else ch)
            i += n
    return ''.join(out)


# ---- CRIU images: magic(s), then <u32 size><protobuf> entries ----

def _varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7f) | (0x80 if n > 0x7f else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _read_varint(b, i):
    n = shift = 0
    while True:
        n |= (b[i] & 0x7f) << shift
        shift += 7
        i += 1
        if not b[i - 1] & 0x80:
            return n, i


def pb_fields(b):
    """A protobuf message as a list of [field, wire type, value] in order."""
    out, i = [], 0
    while i < len(b):
        key, i = _read_varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _read_varint(b, i)
        elif wt == 2:
            n, i = _read_varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError('wire type %d' % wt)
        out.append([f, wt, v])
    return out


def pb_encode(fields):
    out = bytearray()
    for f, wt, v in fields:
        out += _varint(f << 3 | wt)
        if wt == 0:
            out += _varint(v)
        elif wt == 2:
            out += _varint(len(v)) + v
        else:
            out += v
    return bytes(out)


def pb_msg(*fields):
    """Encode (field, value) pairs: ints as varints, bytes as length-delimited."""
    return pb_encode([[f, 0, v] if isinstance(v, int) else [f, 2, v] for f, v in fields])


def pb_set(msg, path, value):
    """msg with the length-delimited field at path (field numbers) set to value."""
    fields = pb_fields(msg)
    for fl in fields:
        if fl[0] == path[0] and fl[1] == 2:
            fl[2] = value if len(path) == 1 else pb_set(fl[2], path[1:], value)
            return pb_encode(fields)
    raise KeyError(path)


def img_split(data):
    """(magic header, [payloads]) of an image without extra payload data."""
    hdr = 8 if struct.unpack_from('<I', data)[0] in (0x54564319, 0x55105940) else 4
    out, i = [], hdr
    while i < len(data):
        n = struct.unpack_from('<I', data, i)[0]
        out.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return data[:hdr], out


def img_join(hdr, entries):
    return hdr + b''.join(struct.pack('<I', len(e)) + e for e in entries)


def pb_get(msg, f):
    return next(v for ff, _, v in pb_fields(msg) if ff == f)


# ---- the hostile archive and its harmless twin ----

def _rootfs_with(data, extra):
    """rootfs-diff.tar bytes with extra (name, link target or None) entries."""
    with tarfile.open(fileobj=io.BytesIO(data)) as rt:
        keep = [(ti, rt.extractfile(ti).read() if ti.isfile() else None) for ti in rt.getmembers()]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.GNU_FORMAT, encoding='utf-8',
                      errors='surrogateescape') as t:
        for ti, d in keep:
            t.addfile(ti, io.BytesIO(d) if d is not None else None)
        for name, target in extra:
            ti = tarfile.TarInfo(name.decode('utf-8', 'surrogateescape'))
            ti.mtime = 1795000000
            if target is not None:
                ti.type = tarfile.SYMTYPE
                ti.linkname = target.decode('utf-8', 'surrogateescape')
                t.addfile(ti)
            else:  # a script: analyze reports it, with its path
                script = b'#!/bin/sh\necho planted\n'
                ti.size, ti.mode = len(script), 0o755
                t.addfile(ti, io.BytesIO(script))
    return buf.getvalue()


def _harmless(b):
    """Bytes of the same length without anything special."""
    return bytes(b'abcdefghijklmnopqrstuvwxyz'[i % 26] for i in range(len(b)))


def build(hostile):
    """A copy of the perlbot fixture with strings planted (hostile or harmless)."""
    name = os.path.join(kt.tmpdir(), 'terminal-%s.tar' % ('hostile' if hostile else 'twin'))
    if os.path.exists(name):
        return name
    s = HOSTILE if hostile else 'evil' + 'x' * (len(HOSTILE) - 4)
    sb = HOSTILE_B if hostile else _harmless(HOSTILE_B)
    pick = (lambda b: b) if hostile else _harmless
    with tarfile.open(fixture('perlbot')) as src:
        members = [(m, src.extractfile(m).read() if m.isfile() else None) for m in src.getmembers()]
    out = []
    for m, data in members:
        n = m.name
        if n == 'config.dump':
            j = json.loads(data)
            j['name'] = 'web-' + s
            j['rootfsImageName'] = j['RawImageName'] = 'localhost/' + s + ':12'
            data = json.dumps(j).encode()
        elif n == 'spec.dump':
            j = json.loads(data)
            j['hostname'] = 'spec-' + s
            j['annotations']['kcsi.test/planted'] = s
            j['mounts'].append({'destination': '/mnt/' + s, 'type': 'bind', 'source': '/srv/' + s,
                                'options': ['rbind', s]})
            data = json.dumps(j).encode()
        elif n == 'checkpoint/utsns-11.img':
            hdr, es = img_split(data)
            data = img_join(hdr, [pb_set(es[0], [1], b'host-' + sb)])
        elif n == 'checkpoint/core-15.img':
            hdr, es = img_split(data)
            data = img_join(hdr, [pb_set(es[0], [3, 6], pick(COMM))])
        elif n == 'checkpoint/files.img':
            hdr, es = img_split(data)
            new = {b'/tmp/.ICE-unix/.loot': LOOT, b'/tmp/.ICE-unix/.journal': JOURNAL,
                   b'/usr/lib/x86_64-linux-gnu/perl-base/auto/IO/IO.so': LIB}
            for k, e in enumerate(es):
                reg = [v for f, _, v in pb_fields(e) if f == 3]
                path = pb_get(reg[0], 6) if reg else b''
                if path in new:
                    es[k] = pb_set(e, [3, 6], new[path].replace(HOSTILE_B, sb))
            fown = pb_msg((1, 0), (2, 0), (3, 0), (4, 0), (5, 0))
            opts = pb_msg((1, 212992), (2, 212992), (3, 0), (4, 0), (5, 0), (6, 0))
            usk = pb_msg((1, 24), (2, 90001), (3, 1), (4, 10), (5, 0), (6, 0), (7, 0), (8, 0), (9, fown),
                         (10, opts), (11, SOCK.replace(HOSTILE_B, sb)))
            es.append(pb_msg((1, 5), (2, 24), (16, usk)))  # type UNIXSK, id 24
            data = img_join(hdr, es)
        elif n == 'checkpoint/fdinfo-3.img':  # pid 15's descriptors
            hdr, es = img_split(data)
            es.append(pb_msg((1, 24), (2, 0), (3, 5), (4, 6)))  # fd 6 -> the unix socket
            data = img_join(hdr, es)
        elif n.startswith('checkpoint/pages-'):
            data = (data.replace(b'APP_ENV=production', b'APP_ENV=' + pick(ENV_APP))
                    .replace(b'DB_PASSWORD=s3cr3t-db-pass', b'DB_PASSWORD=' + pick(ENV_DB)))
        elif n == 'rootfs-diff.tar':
            data = _rootfs_with(data, [(b'tmp/link', b'/' + sb), (DROPPED.replace(HOSTILE_B, sb), None)])
        if data is not None:
            m.size = len(data)
        out.append((m, data))
    deleted = json.dumps(['/etc/' + s, '/var/lib/' + s]).encode()
    dm = tarfile.TarInfo('deleted.files')
    dm.size, dm.mtime, dm.mode = len(deleted), members[0][0].mtime, 0o600
    out.append((dm, deleted))
    with tarfile.open(name, 'w', format=tarfile.GNU_FORMAT) as t:
        for m, data in out:
            t.addfile(m, io.BytesIO(data) if data is not None else None)
    return name


# ---- running views and checking what reaches the terminal ----

def raw_run(*args):
    e = dict(os.environ)
    e.pop('NO_COLOR', None)
    p = subprocess.run([kt.KCSI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr


def safe_run(*args, ok=(0,)):
    """Run a view; its stdout and stderr hold nothing a terminal would act on."""
    rc, out, err = raw_run(*args)
    assert rc in ok, 'kcsi %s exited %d: %r' % (' '.join(args), rc, err[-500:])
    for what, data in (('stdout', out), ('stderr', err)):
        for bad in FORBIDDEN:
            at = data.find(bad)
            assert at < 0, 'kcsi %s: raw %r in %s: %r' % (' '.join(args[:2]), bad, what,
                                                          data[max(0, at - 60):at + 60])
    return out.decode('utf-8'), err.decode('utf-8')


def lines(text):
    return text.split('\n')


def has(text, piece, what):
    assert piece in text, '%s: %r not in the output:\n%s' % (what, piece, text[:3000])


def display(s):
    """A line as terminal cells (a wide character takes two)."""
    cells = []
    for ch in s:
        cells.append(ch)
        if unicodedata.east_asian_width(ch) in 'WF':
            cells.append('')
    return cells


def aligned(text, first, what):
    """The table whose header line starts with `first`: every row has the
    column gap (two spaces) where the header has it."""
    ls = lines(text)
    h = next(i for i, l in enumerate(ls) if l.startswith(first))
    head = display(ls[h])
    starts = [i for i in range(2, len(head)) if head[i] != ' ' and head[i - 1] == ' ' and head[i - 2] == ' ']
    assert starts, what
    rows = 0
    for l in ls[h + 1:]:
        if not l:
            break
        row = display(l)
        for c in starts:
            assert row[c - 2:c] == [' ', ' '], '%s: column at %d misaligned in %r' % (what, c, l)
        rows += 1
    return rows


# ---- the tests ----

def test_hostile_archive_is_what_it_should_be():
    """The views read the planted strings (so the checks below are not empty)."""
    h = build(True)
    show = kt.jrun('show', '--json', h)[0]
    eq(show['container'], 'web-' + HOSTILE)
    eq(show['hostname'], 'host-' + HOSTILE_B.decode('utf-8', 'surrogateescape'))
    p15 = [p for p in kt.jrun('ps', '--json', '--env', h) if p['pid'] == 15][0]
    eq(p15['comm'].encode('utf-8', 'surrogateescape'), COMM)
    env1 = [p for p in kt.jrun('ps', '--json', '--env', h) if p['pid'] == 1][0]['env']
    assert ('APP_ENV=' + ENV_APP.decode()) in env1, env1
    files = kt.jrun('files', '--json', '--pid', '15', h)
    paths = [f['path'].encode('utf-8', 'surrogateescape') for f in files]
    assert LOOT in paths and JOURNAL in paths and b'/tmp/.ICE-unix/.loot' not in paths, paths
    socks = kt.jrun('net', '--json', h)['sockets']
    assert any(s['family'] == 'UNIX' and s['fd'] == 6 for s in socks), socks
    rootfs = kt.jrun('rootfs', '--json', h)
    assert any((r['target'] or '').encode('utf-8', 'surrogateescape') == b'/' + HOSTILE_B for r in rootfs)
    assert ['/etc/' + HOSTILE, '/var/lib/' + HOSTILE] == [r['path'] for r in rootfs if r['deleted']]
    # the images still decode
    for img in ('files.img', 'fdinfo-3.img', 'core-15.img', 'utsns-11.img'):
        eq(raw_run('decode', h, img)[0], 0, img)


def test_table_views_escape_and_keep_their_lines():
    h, twin = build(True), build(False)
    views = [
        (['show'], 'CONTAINER', ['web-' + shown(HOSTILE), 'localhost/' + shown(HOSTILE) + ':12']),
        (['ps'], 'PID', [shown(COMM)]),
        (['files', '--pid', '15'], 'PID', [shown(LOOT), shown(JOURNAL) + ' (deleted)']),
        (['net'], 'PID', ['host-' + shown(HOSTILE_B), '/run/\\x1b[2J\\x1b]0;pwned\\x07']),
        (['maps', '--pid', '15'], 'START', [shown(LIB)]),
        (['mounts'], 'ORIGIN', ['/mnt/' + shown(HOSTILE), '/srv/' + shown(HOSTILE)]),
        (['rootfs'], 'TYPE', ['/tmp/link -> ' + shown(b'/' + HOSTILE_B), shown(DROPPED),
                              '/etc/' + shown(HOSTILE), '/var/lib/' + shown(HOSTILE)]),
    ]
    for args, first, pieces in views:
        out, _ = safe_run(*(args + [h]))
        for p in pieces:
            has(out, p, args[0])
        twin_out, _ = safe_run(*(args + [twin]))
        eq(len(lines(out)), len(lines(twin_out)), '%s: lines' % args[0])
        eq(aligned(out, first, args[0]), aligned(twin_out, first, args[0]), '%s: rows' % args[0])


def test_list_escapes_file_names_and_metadata():
    d = os.path.join(kt.tmpdir(), 'terminal-list')
    os.makedirs(d, exist_ok=True)
    dst = os.path.join(d.encode(), b'ckpt-' + HOSTILE_B + b'.tar')
    if not os.path.exists(dst):
        os.symlink(build(True), dst)
    out, _ = safe_run('list', d)
    has(out, 'web-' + shown(HOSTILE), 'list')
    has(out, 'ckpt-' + shown(HOSTILE_B) + '.tar', 'list')
    eq(len(lines(out)), 3, 'list: header, one row, end')
    aligned(out, 'NAMESPACE', 'list')


def test_text_views_escape_and_keep_their_lines():
    h, twin = build(True), build(False)
    for args, pieces in [
        (['ps', '--env'], ['APP_ENV=' + shown(ENV_APP), 'DB_PASSWORD=' + shown(ENV_DB)]),
        (['net', '--data'], ['hostname host-' + shown(HOSTILE_B)]),
        (['meta'], ['\\u202e', '\\u009b', '\\u001b[2J', '\\u0007', '\\n']),
        (['show', '--stats'], ['web-' + shown(HOSTILE)]),
    ]:
        out, _ = safe_run(*(args + [h]))
        for p in pieces:
            has(out, p, ' '.join(args))
        twin_out, _ = safe_run(*(args + [twin]))
        eq(len(lines(out)), len(lines(twin_out)), '%s: lines' % ' '.join(args))
    # meta text is still the JSON document, with the same strings
    out, _ = safe_run('meta', h)
    eq(json.loads(out)['annotations']['kcsi.test/planted'], HOSTILE)


def test_diff_escapes_both_sides():
    h, twin = build(True), build(False)
    out, _ = safe_run('diff', fixture('perlbot'), h)
    for p in [shown(COMM), '/tmp/.ICE-unix/.loot -> ' + shown(LOOT)]:
        has(out, p, 'diff')
    twin_out, _ = safe_run('diff', fixture('perlbot'), twin)
    eq(len(lines(out)), len(lines(twin_out)), 'diff: lines')
    eq(len(lines(out)) - 1, len(kt.jrun('diff', '--json', fixture('perlbot'), h)), 'diff: one line a change')


def _report_lines(r):
    """Lines of the text report, from its JSON form (see lib/report.c)."""
    shown_f = [f for f in r['findings'] if f['severity'] != 'info']
    n = 2 + 1 + sum(1 + min(len(f['evidence']), 3) for f in shown_f)
    n += 1 if len(shown_f) < len(r['findings']) else 0
    if r['iocs']:
        n += 2 + min(len(r['iocs']), 25) + (1 if len(r['iocs']) > 25 else 0)
    return n + 1  # the last newline


def test_analyze_text_and_html_escape():
    h = build(True)
    out, _ = safe_run('analyze', h)
    r = kt.jrun('analyze', '--json', h)
    has(out, 'web-' + shown(HOSTILE), 'analyze header')
    has(out, 'image localhost/' + shown(HOSTILE) + ':12', 'analyze header')
    has(out, 'comm=' + shown(COMM), 'analyze excerpt (comm)')
    has(out, 'DB_PASSWORD=\\x1b]0', 'analyze excerpt (secret)')
    has(out, 'holds a deleted file open (%s)' % shown(JOURNAL), 'analyze title')
    has(out, 'fd 4 %s ' % shown(JOURNAL), 'analyze evidence path')
    has(out, 'dropped in (script) /' + shown(DROPPED), 'analyze title')
    sha = [i for i in r['iocs'] if i['type'] == 'sha256' and DROPPED.decode('utf-8', 'surrogateescape') in i['source']]
    assert sha, r['iocs']
    has(out, 'rootfs-diff /' + shown(DROPPED), 'analyze IOC source')
    eq(len(lines(out)), _report_lines(r), 'analyze: lines')
    # --defang, -o FILE and HTML go by the same rule
    out, _ = safe_run('analyze', '--defang', h)
    has(out, 'web-' + shown(HOSTILE), 'analyze --defang')
    eq(len(lines(out)), _report_lines(r), 'analyze --defang: lines')
    dst = os.path.join(kt.tmpdir(), 'terminal-report.txt')
    safe_run('analyze', '-o', dst, h)
    with open(dst, 'rb') as f:
        txt = f.read()
    assert not any(b in txt for b in FORBIDDEN)
    html, _ = safe_run('analyze', '--format', 'html', h)
    has(html, 'web-' + shown(HOSTILE).replace('&', '&amp;'), 'analyze html')


def test_memory_views_escape():
    h = build(True)
    out, _ = safe_run('memgrep', '--pid', '1', h, 'APP_ENV=')
    has(out, shown(ENV_APP), 'memgrep context')
    eq(len(lines(out)), 2 + len(kt.jrun('memgrep', '--json', '--pid', '1', h, 'APP_ENV=')), 'memgrep: lines')
    aligned(out, 'PID', 'memgrep')
    out, _ = safe_run('memgrep', '--count', h, 'APP_ENV=')
    has(out, '15\t' + shown(COMM) + '\t', 'memgrep --count')
    # strings shows printable runs only: nothing planted gets through, one line a string
    out, _ = safe_run('strings', '--pid', '1', '-n', '6', h)
    eq(len(lines(out)), 1 + len(kt.jrun('strings', '--json', '--pid', '1', '-n', '6', h)), 'strings: lines')


def test_recover_and_dump_summaries_escape():
    h = build(True)
    dst = os.path.join(kt.tmpdir(), 'terminal-recover')
    out, err = safe_run('recover', '--out', dst, h, ok=(0, 9))
    for p in [shown(JOURNAL), '/' + shown(DROPPED), '/etc/' + shown(HOSTILE)]:
        has(out, p, 'recover')
    items = json.load(open(os.path.join(dst, 'manifest.json')))
    n = len(items['items'] if isinstance(items, dict) else items)
    eq(len(lines(out)), 1 + n + 2 + 1, 'recover: header, rows, blank, total')
    aligned(out, 'ORIGIN', 'recover')
    # dump names its files after the mappings (the library's path among them)
    out, _ = safe_run('dump', '--pid', '15', '--out', os.path.join(kt.tmpdir(), 'terminal-dump'), h)
    has(out, '\\x9b\\u202eright', 'dump')
    n = len(kt.jrun('dump', '--json', '--pid', '15', '--out', os.path.join(kt.tmpdir(), 'terminal-dump2'), h))
    eq(len(lines(out)), 1 + n, 'dump: one line a file')


def test_errors_escape_names():
    h = build(True)
    # an archive whose deleted.files is not a list fails with its name in the message
    bad = os.path.join(kt.tmpdir().encode(), b'bad-' + HOSTILE_B + b'.tar')
    with tarfile.open(h) as src, tarfile.open(bad, 'w', format=tarfile.GNU_FORMAT) as t:
        for m in src.getmembers():
            data = src.extractfile(m).read() if m.isfile() else None
            if m.name == 'deleted.files':
                data = b'{"not": "a list"}'
                m.size = len(data)
            t.addfile(m, io.BytesIO(data) if data is not None else None)
    rc, out, err = raw_run('rootfs', bad)
    assert rc != 0
    for bad_byte in FORBIDDEN:
        assert bad_byte not in err, err
    assert shown(HOSTILE_B).encode() in err, err
    eq(err.count(b'\n'), 1, 'one line')


def test_vault_ls_and_log_escape():
    """The ledger takes UTF-8 text without C0 controls: C1 and bidi pass into it."""
    store = os.path.join(kt.tmpdir(), 'terminal-vault')
    kt.run('vault', 'init', '--store', store)
    planted = 'evil\u009b\u202eright\u2066'
    src = os.path.join(kt.tmpdir(), 'ckpt-' + planted + '.tar')
    with open(fixture('counter'), 'rb') as f, open(src, 'wb') as g:
        g.write(f.read())
    kt.run('vault', 'put', '--store', store, '--case', 'case-' + planted, '--note', 'note-' + planted,
           '--actor', 'actor-' + planted, src)
    assert any(e['name'] == 'ckpt-' + planted + '.tar' for e in kt.jrun('vault', 'ls', '--store', store, '--json'))
    out, _ = safe_run('vault', 'ls', '--store', store)
    has(out, 'ckpt-' + shown(planted) + '.tar', 'vault ls')
    has(out, 'case-' + shown(planted), 'vault ls')
    aligned(out, 'ID', 'vault ls')
    out, _ = safe_run('vault', 'log', '--store', store)
    has(out, 'actor-' + shown(planted), 'vault log')
    has(out, 'note=note-' + shown(planted), 'vault log')
    aligned(out, 'SEQ', 'vault log')
