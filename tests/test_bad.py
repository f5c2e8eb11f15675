"""Bad input: hostile, truncated and malformed archives and images give a
clear one-line error and a documented non-zero exit code, never a crash, a
hang or a write outside the temporary directory."""
import base64
import gzip
import hashlib
import io
import json
import os
import random
import struct
import subprocess
import tarfile

import kt
from kt import eq, fixture, run

BAD = os.path.join(kt.HERE, 'bad')


def _expect_rows():
    """tests/bad/expect.tsv as (name, code, text, env, known): known is None,
    or (code, text, why) of a "# KNOWN-BUG" line: what kcsi does today
    instead of the row's required behaviour."""
    rows, known = [], None
    for line in open(os.path.join(BAD, 'expect.tsv')):
        if line.startswith('# KNOWN-BUG'):
            cols = line.rstrip('\n').split('\t')
            assert len(cols) == 4 and cols[1].isdigit(), 'a KNOWN-BUG line is "# KNOWN-BUG\tCODE\tTEXT\tWHY": %r' % line
            known = (int(cols[1]), cols[2], cols[3])
            continue
        if not line.strip() or line.startswith('#'):
            continue
        name, code, text, envs = (line.rstrip('\n').split('\t') + ['-', '-', '-'])[:4]
        rows.append((name, int(code), text, envs, known))
        known = None
    return rows


def _ps_bad(name, envs):
    env = {'KCSI_MAX_UNPACKED': '64M'}
    if envs != '-':
        k, v = envs.split('=', 1)
        env[k] = v
    return run('ps', os.path.join(BAD, name), check=False, env=env, timeout=60)


def _behaves(rc, out, err, code, text):
    """Does a run match (exit code, message text) as expect.tsv states it?
    A failure must print nothing and one "kcsi: " line holding text."""
    if rc != code:
        return False
    if rc == 0:
        return True
    lines = err.strip().splitlines()
    return out == b'' and len(lines) == 1 and lines[0].startswith('kcsi: ') and (text == '-' or text in lines[0])


def test_named_bad_fixtures():
    """tests/bad/expect.tsv: file, expected exit code of `kcsi ps`, text the
    one-line message must hold ("-": the command must succeed), environment.
    A row after a "# KNOWN-BUG" line states behaviour kcsi does not have yet;
    that line records what kcsi does today (exit code, text), and the row
    must still behave exactly so: a fix, or any other change, fails here
    until the mark is dropped or updated."""
    n = 0
    for name, code, text, envs, known in _expect_rows():
        rc, out, err = _ps_bad(name, envs)
        if known:
            kcode, ktext, why = known
            assert not _behaves(rc, out, err, code, text), \
                '%s: KNOWN-BUG row now behaves as required: drop the mark (%s)' % (name, err.strip())
            assert _behaves(rc, out, err, kcode, ktext), \
                '%s: KNOWN-BUG row changed: exit %d (%s), recorded %d %r (%s)' % (name, rc, err.strip(), kcode,
                                                                            ktext, why)
            continue
        eq(rc, code, '%s exit code (%s)' % (name, err.strip()))
        if rc == 0:
            continue
        eq(out, b'', '%s: no output on failure' % name)
        lines = err.strip().splitlines()
        eq(len(lines), 1, '%s: one-line error' % name)
        assert lines[0].startswith('kcsi: '), lines
        assert text in lines[0], (name, text, lines[0])
        n += 1
    assert n >= 20, n


def _tar_with(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as t:
        for name, kind, data in members:
            ti = tarfile.TarInfo(name)
            if kind == 'file':
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            elif kind == 'symlink':
                ti.type = tarfile.SYMTYPE
                ti.linkname = data
                t.addfile(ti)
    return buf.getvalue()


def _write(name, data):
    p = os.path.join(kt.tmpdir(), name)
    with open(p, 'wb') as f:
        f.write(data)
    return p


def _with_fixture_plus(extra):
    with tarfile.open(fixture('counter')) as src:
        members = [(m.name, 'file', src.extractfile(m).read()) for m in src.getmembers() if m.isfile()]
    return _tar_with(members + extra)


def test_unsafe_members_refused():
    cases = {
        'dotdot.tar': ([('../kcsi-escape-probe', 'file', b'x')], "'../kcsi-escape-probe'"),
        'absolute.tar': ([('/etc/x', 'file', b'x')], "'/etc/x'"),
        'symlink.tar': ([('link', 'symlink', '/etc/passwd')], "'link'"),
    }
    for name, (extra, text) in cases.items():
        p = _write(name, _with_fixture_plus(extra))
        rc, out, err = run('show', p, check=False)
        eq(rc, 9, '%s exit code (%s)' % (name, err))
        assert text in err, err
    assert not os.path.exists(os.path.join(os.path.dirname(kt.tmpdir()), 'kcsi-escape-probe'))


def test_missing_or_broken_metadata():
    no_ckpt = _write('no-checkpoint.tar', _tar_with([('config.dump', 'file', b'{}')]))
    rc, _, err = run('ps', no_ckpt, check=False)
    eq(rc, 4, 'no checkpoint/: ' + err)
    assert 'inventory.img' in err, err
    with tarfile.open(fixture('counter')) as src:
        members = [(m.name, 'file', src.extractfile(m).read()) for m in src.getmembers() if m.isfile()]
    for fname, content, code in (('config.dump', b'', 4), ('config.dump', b'{"id": ', 4),
                                 ('spec.dump', b'[1,2', 4), ('spec.dump', b'"x"', 4)):
        data = _tar_with([(n, k, content if n == fname else d) for n, k, d in members])
        p = _write('bad-%s.tar' % fname, data)
        rc, out, err = run('show', p, check=False)
        eq(rc, code, '%s %r: %s' % (fname, content, err))
        assert fname in err, err


def test_truncated_archives():
    data = open(fixture('perlbot'), 'rb').read()
    with tarfile.open(fixture('perlbot')) as t:
        last = t.getmember('rootfs-diff.tar').offset_data
    for cut in (100, 600, 51712 + 100, len(data) // 2, last + 100):
        p = _write('cut-%d.tar' % cut, data[:cut])
        rc, out, err = run('ps', p, check=False, timeout=30)
        assert rc in (3, 4), (cut, rc, err)
        eq(len(err.strip().splitlines()), 1, 'one line for cut %d' % cut)


def test_mutated_fixtures_never_crash():
    """Random byte flips in the CRIU images of a real archive: a clean exit
    (0, or an error code) every time, never a signal or a hang."""
    rng = random.Random(20261127)
    with tarfile.open(fixture('counter')) as src:
        members = [(m, src.extractfile(m).read() if m.isfile() else None) for m in src.getmembers()]
    targets = [i for i, (m, d) in enumerate(members)
               if m.isfile() and m.name.startswith('checkpoint/') and m.name.endswith('.img')
               and not os.path.basename(m.name).startswith(('pages-', 'tmpfs-'))]
    runs = int(os.environ.get('KCSI_MUTATIONS', '300'))
    path = os.path.join(kt.tmpdir(), 'mutated.tar')
    bad = []
    for i in range(runs):
        idx = rng.choice(targets)
        m, d = members[idx]
        d = bytearray(d)
        for _ in range(rng.randint(1, 8)):
            if not d:
                break
            op = rng.random()
            pos = rng.randrange(len(d))
            if op < 0.6:
                d[pos] = rng.randrange(256)
            elif op < 0.8:
                del d[pos:]
            else:
                d[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        with tarfile.open(path, 'w') as t:
            for j, (mm, dd) in enumerate(members):
                if j == idx:
                    ti = tarfile.TarInfo(mm.name)
                    ti.size = len(d)
                    t.addfile(ti, io.BytesIO(bytes(d)))
                else:
                    t.addfile(mm, io.BytesIO(dd) if dd is not None else None)
        for view in (['ps', '--env', '--json'], ['files', '--json'], ['net', '--json']):
            try:
                p = subprocess.run([kt.KCSI] + view + [path], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, timeout=20)
            except subprocess.TimeoutExpired:
                bad.append((i, m.name, view, 'timeout'))
                continue
            if p.returncode < 0 or p.returncode > 9:
                bad.append((i, m.name, view, p.returncode, p.stderr[-300:]))
            elif p.returncode != 0 and len(p.stderr.strip().splitlines()) != 1:
                bad.append((i, m.name, view, 'not one line', p.stderr[-300:]))
    assert not bad, bad[:5]


# ---- defects the fuzzers found (fuzz/crashes/ holds their reproducers) ----
# Code that only a detonation reaches (root, podman) is driven here through
# its libFuzzer target, the library's own entry point: these tests need a
# fuzz build (fuzz/run.sh makes build-fuzz/; KCSI_FUZZ_BUILD names another),
# bring the target up to date with ninja, and are skipped without one.

def _fuzz_run(target, data, timeout=120):
    """Run fuzz_TARGET once on data; returns (exit code, output)."""
    build = os.environ.get('KCSI_FUZZ_BUILD', os.path.join(kt.ROOT, 'build-fuzz'))
    exe = os.path.join(build, 'fuzz', 'fuzz_' + target)
    if not os.path.exists(os.path.join(build, 'build.ninja')):
        raise kt.Skip('no fuzz build (%s; fuzz/run.sh makes one)' % build)
    # the target as the sources are now, not as they were at its last build
    subprocess.run(['ninja', '-C', build, 'fuzz/fuzz_' + target], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=1800, check=True)
    path = _write('fuzz-%s.bin' % target, data)
    env = dict(os.environ, ASAN_OPTIONS='detect_leaks=1', UBSAN_OPTIONS='halt_on_error=1:print_stacktrace=1')
    p = subprocess.run([exe, '-timeout=20', '-rss_limit_mb=2048', path], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode(errors='replace')


def _dns_query(qid, name, qtype=1):
    q = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    q += b''.join(bytes([len(label)]) + label for label in name.split(b'.')) + b'\0'
    return q + struct.pack('>HH', qtype, 1)


def test_fuzz_found_sinkhole_dns_empty_tcp_message():
    """A DNS-over-TCP message of length 0 sent to the sinkhole's port 53
    made dns_stream() spin for ever on the sinkhole's thread (no byte was
    consumed once the 2-byte prefix said 0): the run's network went deaf.
    Here the empty message comes between two queries; the stream must be
    taken to its end."""
    q1, q2 = _dns_query(0x1234, b'irc.perlbot-c2.example'), _dns_query(0x1235, b'irc.perlbot-c2.example', 16)
    stream = struct.pack('>H', len(q1)) + q1 + b'\0\0' + struct.pack('>H', len(q2)) + q2
    # port selector 1: destination port 53; pieces of 1 byte, then all at once
    for chunk in (1, 0):
        rc, out = _fuzz_run('sinkhole', bytes([1, chunk]) + stream)
        eq(rc, 0, 'fuzz_sinkhole on an empty DNS message (pieces of %d): %s' % (chunk, out[-600:]))


def test_fuzz_found_confine_leak_without_deleted_files():
    """The confinement plan leaked a JSON array for every checkpoint without
    deleted.files (sanitise_deleted() made its list before it looked for the
    member).  The counter fixture's own rootfs-diff.tar, planned as detonate
    plans it, must not leak."""
    with tarfile.open(fixture('counter')) as t:
        diff = t.extractfile('rootfs-diff.tar').read()
    rc, out = _fuzz_run('confine', b'\0' + diff)
    eq(rc, 0, 'fuzz_confine on the counter fixture: %s' % out[-1500:])
    assert 'LeakSanitizer' not in out, out[-1500:]


def test_gzip_trailer_checked():
    """A gzip archive whose CRC-32 or length trailer does not match its
    content is damaged evidence: exit 4 naming the gzip member (libarchive
    reads the trailer but never compares it).  A multi-member gzip whose
    members are sound is read as before."""
    with open(fixture('counter'), 'rb') as f:
        data = f.read()
    def bad_crc(g):
        return g[:-8] + bytes(b ^ 0x5a for b in g[-8:-4]) + g[-4:]
    gz = gzip.compress(data, 6, mtime=0)
    head, tail = gzip.compress(data[:100000], mtime=0), gzip.compress(data[100000:], mtime=0)
    cases = {
        'crc': (bad_crc(gz), 'gzip member 1: its CRC-32 does not match'),
        'length': (gz[:-4] + struct.pack('<I', len(data) + 512), 'gzip member 1: its length does not match'),
        # the second of two members damaged: the tar spans both
        'second': (head + bad_crc(tail), 'gzip member 2: its CRC-32 does not match'),
    }
    for name, (blob, text) in cases.items():
        p = _write('gzip-%s.tar.gz' % name, blob)
        rc, out, err = run('ps', p, check=False, timeout=60)
        eq(rc, 4, '%s: exit code (%s)' % (name, err.strip()))
        eq(len(err.strip().splitlines()), 1, '%s: one line' % name)
        assert text in err and p in err, (name, err)
        eq(out, b'', '%s: nothing on stdout' % name)
    sound = _write('gzip-two-members.tar.gz', head + tail)
    eq(run('ps', '--json', sound)[1], run('ps', '--json', fixture('counter'))[1], 'two sound members')


def _signed_line(key, ctx, obj):
    """obj as a ledger or head line signed with key under ctx (docs/vault.md)"""
    text = json.dumps(obj, separators=(', ', ': ')).encode()
    return text[:-1] + b', "sig": "' + base64.b64encode(key.sign(ctx + text)) + b'"}'


def test_fuzz_found_vault_ls_signed_entry_without_actor():
    """`kcsi vault ls` dereferenced a null pointer on a signed "ingested"
    entry without an "actor" (the ledger's checks do not require one, the
    listing's JSON assumed it): found by fuzz_ledger on a resealed ledger.
    A vault made from the counter fixture gets such an entry, signed with its
    own key as whoever holds it could; ls, log and verify must run."""
    import test_hostile_vault as hv  # the vault helpers and the signing key reader
    d = hv.tv.newvault('fuzz-no-actor')
    hv.tv.put(d, fixture('counter'))
    key = hv.signer(d)
    p, lines = hv.tv.ledger_lines(d)
    last = lines[-1].rstrip(b'\n')
    other = hashlib.sha256(b'other evidence').hexdigest()
    seq = json.loads(last)['seq'] + 1
    line = _signed_line(key, b'kcsi-ledger-v1\n', {
        'seq': seq, 'time': '2026-01-01T00:00:00.000000Z', 'action': 'ingested', 'id': other, 'sha256': other,
        'size': 5, 'prev': hashlib.sha256(last).hexdigest()})
    with open(p, 'ab') as f:
        f.write(line + b'\n')
    hp = os.path.join(d, 'ledger.head')
    os.chmod(hp, 0o600)
    with open(hp, 'wb') as f:
        f.write(_signed_line(key, b'kcsi-head-v1\n', {'seq': seq, 'hash': hashlib.sha256(line).hexdigest(),
                                                      'time': '2026-01-01T00:00:00.000000Z'}))
    listed = {e['id']: e for e in hv.tv.vj(d, 'ls')}
    eq(listed[other]['ingested_by'], None, 'no actor recorded')
    eq(listed[other]['state'], 'held', 'state')
    eq(len(hv.tv.vj(d, 'log')), seq, 'log')
    rc, out, err = hv.tv.v(d, 'verify', '--ledger-only', '--no-record', '--json', check=False)
    eq(rc, 4, 'verify: the content of the added entry is missing (%s)' % err)
    assert 'content missing' in out.decode() or other in out.decode(), out[:2000]
