"""kcsi vault against concurrent writers and hostile stores and bundles:
parallel puts beside ls and verify (directory and S3 stores), a sparse
member in a bundle, objects and vault.json changes with no ledger entry,
signed ledger entries whose ids are paths, over-long ledger lines, bundle
member names that are not text, and an S3 head claiming a huge seq.

Every hostile input is made here from the fixtures and from stores and
bundles kcsi wrote."""
import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time

import kt
import test_vault as tv
from kt import eq, fixture, run

PARALLEL = 16


def distinct_archives(tag, n=PARALLEL):
    """n different small archives: the counter fixture with one more member each."""
    out = []
    for i in range(n):
        p = os.path.join(kt.tmpdir(), 'distinct-%s-%02d.tar' % (tag, i))
        shutil.copy(fixture('counter'), p)
        with tarfile.open(p, 'a') as t:
            data = ('distinct archive %s %d\n' % (tag, i)).encode()
            ti = tarfile.TarInfo('kcsi-test/member-%02d.txt' % i)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        out.append(p)
    return out


def kcsi_popen(*args, env=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.Popen([kt.KCSI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)


def parallel_puts(store, archives, extra=(), env=None, readers=True):
    """Start every put at once; run ls and verify in a loop while they run.
    Returns the failures as text (empty when all exited 0)."""
    puts = [kcsi_popen('vault', 'put', '--store', store, *extra, a, env=env) for a in archives]
    bad = []
    deadline = time.time() + 300
    while readers and any(p.poll() is None for p in puts) and time.time() < deadline:
        for args in (('ls', '--json'), ('verify', '--json')):
            r = subprocess.run([kt.KCSI, 'vault', args[0], '--store', store, *extra, *args[1:]],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                               env=dict(os.environ, **(env or {})))
            if r.returncode != 0:
                bad.append('%s exited %d: %s %s' % (args[0], r.returncode, r.stderr.decode(errors='replace').strip(),
                                                   r.stdout.decode(errors='replace')[:6000]))
    for a, p in zip(archives, puts):
        out, err = p.communicate(timeout=300)
        if p.returncode != 0:
            bad.append('put %s exited %d: %s' % (os.path.basename(a), p.returncode, err.decode(errors='replace').strip()))
        elif out.decode().strip() != tv.sha(a):
            bad.append('put %s printed %r' % (os.path.basename(a), out))
    return bad


def run_measured(args, timeout=120):
    """Run a command; returns (exit code, stdout, stderr, its peak RSS in bytes)."""
    return kt.run_peak(args, timeout=timeout)


def ingested(log):
    return sorted(e['id'] for e in log if e['action'] == 'ingested')


def test_parallel_puts_beside_ls_and_verify():
    # kcsi respond's vault hook puts many archives at once; each must be
    # recorded, and readers must never see a half-written ledger
    archives = distinct_archives('dir')
    want = sorted(tv.sha(a) for a in archives)
    for rnd in range(3):
        d = tv.newvault('parallel')
        bad = parallel_puts(d, archives)
        assert not bad, 'round %d:\n%s' % (rnd, '\n'.join(bad))
        eq(ingested(tv.vj(d, 'log')), want, 'round %d: the 16 puts recorded' % rnd)
        res = tv.vj(d, 'verify')
        assert res['ok'], res
        eq(res['evidence_checked'], PARALLEL, 'all checked')
        eq(os.listdir(os.path.join(d, 'tmp')), [], 'no temporary file left')


def test_parallel_purges_beside_verify():
    # content purged after verify read the ledger is not "missing"
    archives = distinct_archives('purge')
    for rnd in range(3):
        d = tv.newvault('parallel-purge')
        ids = [tv.put(d, a) for a in archives]
        purges = [kcsi_popen('vault', 'purge', '--store', d, i, '--reason', 'retention') for i in ids]
        bad = []
        while any(p.poll() is None for p in purges):
            r = subprocess.run([kt.KCSI, 'vault', 'verify', '--store', d, '--json', '--no-record'],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
            if r.returncode != 0:
                bad.append('verify exited %d: %s %s' % (r.returncode, r.stderr.decode(errors='replace'),
                                                       r.stdout.decode(errors='replace')[:2000]))
        for p in purges:
            _, err = p.communicate(timeout=120)
            if p.returncode != 0:
                bad.append('purge exited %d: %s' % (p.returncode, err.decode(errors='replace')))
        assert not bad, 'round %d:\n%s' % (rnd, '\n'.join(bad))
        assert all(e['state'] == 'purged' for e in tv.vj(d, 'ls')), 'all purged'
        assert tv.vj(d, 'verify')['ok']


def s3_vault(srv, prefix):
    """A new vault under PREFIX of the test server: (store, keys, env)."""
    env = srv.env()
    keys = os.path.join(kt.tmpdir(), 's3-%s-keys' % prefix)
    shutil.rmtree(keys, ignore_errors=True)
    store = 's3://%s/%s' % (srv.bucket, prefix)
    run('vault', 'init', '--store', store, '--keys', keys, env=env)
    return store, keys, env


def test_parallel_puts_s3():
    srv = tv.s3().start(kt.tmpdir())
    try:
        store, keys, env = s3_vault(srv, 'parallel')
        archives = distinct_archives('s3')
        bad = parallel_puts(store, archives, ('--keys', keys), env=env)
        assert not bad, '\n'.join(bad)
        _, out, _ = run('vault', 'log', '--store', store, '--keys', keys, '--json', env=env)
        eq(ingested(json.loads(out)), sorted(tv.sha(a) for a in archives), 'the 16 puts recorded')
        _, out, _ = run('vault', 'verify', '--store', store, '--keys', keys, '--json', env=env)
        res = json.loads(out)
        assert res['ok'], res
        eq(res['evidence_checked'], PARALLEL, 'all checked')
        # the entries are numbered 1..N without a gap or an overwrite
        names = sorted(k for k in srv.objects('parallel/ledger/'))
        eq(names, ['parallel/ledger/%012d.json' % i for i in range(1, len(names) + 1)], 'ledger objects')
    finally:
        srv.stop()


def test_s3_head_with_a_huge_seq():
    # ledger.head is the store's, not trusted: a seq of 10^12 must not make a
    # reader walk 10^12 entry names
    srv = tv.s3().start(kt.tmpdir())
    try:
        store, keys, env = s3_vault(srv, 'head')
        run('vault', 'put', '--store', store, '--keys', keys, fixture('counter'), env=env)
        head = srv.object_path('head/ledger.head')
        h = json.loads(open(head, 'rb').read())
        h['seq'] = 10 ** 12
        open(head, 'w').write(json.dumps(h))
        rc, out, err = run('vault', 'verify', '--store', store, '--keys', keys, '--json', '--no-record', env=env,
                           check=False, timeout=60)
        eq(rc, 4, 'verify exit code (%s)' % err)
        assert 'ledger.head' in json.dumps(json.loads(out)['problems']), out
        # an object added to the bucket, with no ledger entry
        obj = srv.objects('head/objects/')[0]
        fake = 'head/objects/ab/' + 'ab' * 32
        src = srv.object_path(obj)
        dst = srv.object_path(fake)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(src, dst)
        meta = src[:-len('._S3rver_object')] + '._S3rver_metadata.json'
        if os.path.exists(meta):
            shutil.copy(meta, dst[:-len('._S3rver_object')] + '._S3rver_metadata.json')
        # S3 has no lock: a young object may be a put's that has not won its
        # ledger entry yet; this one was stored an hour ago (s3rver's
        # LastModified is the file's mtime)
        old = time.time() - 3600
        os.utime(dst, (old, old))
        rc, out, err = run('vault', 'verify', '--store', store, '--keys', keys, '--json', '--no-record', env=env,
                           check=False, timeout=60)
        eq(rc, 4, 'verify exit code (%s)' % err)
        assert 'objects/ab/' + 'ab' * 32 in out.decode() and 'no ledger entry' in out.decode(), out
    finally:
        srv.stop()


# ---- bundles ----

def exported_bundle(name):
    d = tv.newvault('bundle-' + name)
    id_ = tv.put(d, fixture('counter'))
    b = os.path.join(kt.tmpdir(), 'bundle-%s.tar' % name)
    if os.path.exists(b):
        os.unlink(b)
    tv.v(d, 'export', id_, '--out', b, '--reason', 'hostile bundle test')
    pk = json.load(open(os.path.join(d, 'vault.json')))['public_key']
    return d, id_, b, pk


def rewrite_bundle(src, dst, replace=None, add=()):
    """Copy a bundle member by member; replace maps a name to a function
    (TarFile, TarInfo, data) that writes its own member; add appends
    (TarInfo, data) pairs."""
    with tarfile.open(src) as t, tarfile.open(dst, 'w', format=tarfile.PAX_FORMAT, encoding='utf-8',
                                              errors='surrogateescape') as o:
        for m in t.getmembers():
            data = t.extractfile(m).read()
            if replace and m.name in replace:
                replace[m.name](o, m, data)
            else:
                o.addfile(m, io.BytesIO(data))
        for ti, data in add:
            o.addfile(ti, io.BytesIO(data))


def sparse_member(claimed):
    """A PAX 1.0 sparse member named evidence.tar: one 512-byte data block
    stored, `claimed` bytes in all (the rest holes)."""
    def write(o, m, data):
        block = data[:512].ljust(512, b'\0')
        smap = b'1\n0\n512\n'.ljust(512, b'\0')  # one region: offset 0, 512 bytes
        ti = tarfile.TarInfo('GNUSparseFile.0/evidence.tar')
        ti.size = len(smap) + len(block)
        ti.mode = m.mode
        ti.mtime = m.mtime
        ti.pax_headers = {'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 'evidence.tar',
                          'GNU.sparse.realsize': str(claimed)}
        o.addfile(ti, io.BytesIO(smap + block))
    return write


def test_bundle_sparse_evidence_is_refused():
    d, id_, b, pk = exported_bundle('sparse')
    bad = b + '.sparse'
    claimed = 1 << 40  # a TiB of holes: hashing it would take hours
    rewrite_bundle(b, bad, replace={'evidence.tar': sparse_member(claimed)})
    assert os.path.getsize(bad) < (1 << 20), os.path.getsize(bad)
    with tarfile.open(bad) as t:
        eq(t.getmember('evidence.tar').size, claimed, 'the member claims a TiB')
    rc, out, err = run('vault', 'verify-bundle', bad, '--pubkey', pk, '--json', check=False, timeout=60)
    eq(rc, 4, 'verify-bundle exit code (%s)' % err)
    probs = json.loads(out)['problems']
    assert any(p['where'] == 'evidence.tar' and 'sparse' in p['problem'] for p in probs), probs
    # a member that claims more bytes than the bundle holds (its end cut off)
    data = open(b, 'rb').read()
    with tarfile.open(b) as t:
        m = t.getmember('evidence.tar')
    cut = b + '.cut'
    open(cut, 'wb').write(data[:m.offset_data + 4096])
    rc, out, err = run('vault', 'verify-bundle', cut, '--json', check=False, timeout=60)
    eq(rc, 4, 'cut bundle')
    assert 'more than the bundle holds' in out.decode(), out
    # the genuine bundle still verifies
    run('vault', 'verify-bundle', b, '--pubkey', pk)


def test_bundle_member_names_that_are_not_text():
    d, id_, b, pk = exported_bundle('names')
    # a member whose name is not UTF-8 is still a member the manifest does not list
    added = b + '.added'
    ti = tarfile.TarInfo('extra\udcff.txt')
    ti.size = 5
    rewrite_bundle(b, added, add=[(ti, b'hello')])
    rc, out, err = run('vault', 'verify-bundle', added, '--pubkey', pk, '--json', check=False)
    eq(rc, 4, 'verify-bundle of a bundle with an added member (%s)' % err)
    assert 'extra\\\\xff.txt' in out.decode() and 'added' in out.decode(), out
    # a name that would drive the terminal is printed escaped
    esc = b + '.esc'
    ti = tarfile.TarInfo('\x1b]0;owned\x07\x1b[2J.txt')
    ti.size = 5
    rewrite_bundle(b, esc, add=[(ti, b'hello')])
    rc, out, err = run('vault', 'verify-bundle', esc, '--pubkey', pk, check=False)
    eq(rc, 4, 'verify-bundle exit code')
    assert b'\x1b' not in out and b'\x07' not in out, out
    assert b'\\x1b]0;owned' in out, out


# ---- the directory store's own files ----

def test_verify_flags_an_object_with_no_entry():
    d = tv.newvault('unrecorded')
    id_ = tv.put(d, fixture('counter'))
    obj = os.path.join(d, 'objects', id_[:2], id_)
    other = hashlib.sha256(b'never ingested').hexdigest()
    os.makedirs(os.path.join(d, 'objects', other[:2]), exist_ok=True)
    shutil.copy(obj, os.path.join(d, 'objects', other[:2], other))
    probs = tv.verify_fails(d, 'objects/%s/%s' % (other[:2], other), 'no ledger entry')
    eq(len(probs), 1, 'only the added object (%s)' % probs)
    # a report nobody recorded, and a file that is no object at all
    os.makedirs(os.path.join(d, 'reports', id_), exist_ok=True)
    open(os.path.join(d, 'reports', id_, 'ab' * 32), 'wb').write(b'x')
    open(os.path.join(d, 'objects', id_[:2], 'notes.txt'), 'wb').write(b'x')
    tv.verify_fails(d, 'reports/%s/%s' % (id_, 'ab' * 32), 'objects/%s/notes.txt' % id_[:2], 'not a vault object')


def edit_vault_json(d, change):
    p = os.path.join(d, 'vault.json')
    conf = json.load(open(p))
    change(conf)
    os.chmod(p, 0o600)
    open(p, 'w').write(json.dumps(conf, indent=2))


def test_verify_flags_an_edited_vault_json():
    d = tv.newvault('conf-chunk')
    tv.put(d, fixture('counter'))
    edit_vault_json(d, lambda c: c.update(chunk=4096))
    probs = tv.verify_fails(d, 'vault.json', 'chunk\\" is 4096', 'says 1048576')
    eq(len(probs), 1, 'one problem: %s' % probs)
    rc, _, err = tv.v(d, 'put', fixture('memfd'), check=False)
    eq(rc, 4, 'no put with a changed vault.json (%s)' % err)
    assert 'vault.json' in err and 'chunk' in err, err


def test_vault_json_cannot_redirect_the_key():
    # whoever can write vault.json must not be able to make new evidence be
    # encrypted with a key they chose
    d = tv.newvault('conf-key')
    tv.put(d, fixture('counter'))
    mine = '44' * 32
    edit_vault_json(d, lambda c: c.update(key={
        'source': 'env', 'name': 'ATTACKER_KEY', 'cipher': c['key']['cipher'],
        'check': hashlib.blake2b(b'kcsi-vault-key-check', digest_size=32, key=bytes.fromhex(mine)).hexdigest()}))
    rc, _, err = tv.v(d, 'put', fixture('memfd'), check=False, env={'ATTACKER_KEY': mine})
    eq(rc, 4, 'put refused (%s)' % err)
    assert 'key' in err, err
    eq(sum(1 for _, _, fs in os.walk(os.path.join(d, 'objects')) for _ in fs), 1, 'nothing stored')
    tv.verify_fails(d, 'vault.json', 'key.source', 'key.check')


def test_vault_json_key_that_is_missing_or_a_fifo():
    d = tv.newvault('conf-key-shape')
    tv.put(d, fixture('counter'))
    # "env" without a variable name
    edit_vault_json(d, lambda c: c['key'].update(source='env'))
    rc, _, err = tv.v(d, 'put', fixture('memfd'), check=False)
    eq(rc, 4, 'put with a key source of no name (%s)' % err)
    assert len(err.strip().splitlines()) == 1 and 'vault.json' in err, err
    tv.verify_fails(d, 'vault.json', 'key.source', 'cannot be checked')
    # a key "file" that is a FIFO nobody writes: opening it must not block
    fifo = os.path.join(kt.tmpdir(), 'key-fifo-%d' % os.getpid())
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)
    edit_vault_json(d, lambda c: c['key'].update(source='file', path=fifo))
    for args in (('put', fixture('memfd')), ('verify', '--no-record')):
        rc, _, err = run('vault', args[0], '--store', d, *args[1:], check=False, timeout=30)
        eq(rc, 4, '%s with a key file that is a FIFO (%s)' % (args[0], err))
    os.unlink(fifo)


def test_export_does_not_follow_a_planted_link():
    d = tv.newvault('export-link')
    id_ = tv.put(d, fixture('counter'))
    out = os.path.join(kt.tmpdir(), 'export-link-out')
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    victim = os.path.join(kt.tmpdir(), 'export-victim-%d' % os.getpid())
    open(victim, 'w').write('not a bundle\n')
    b = os.path.join(out, 'case.tar')
    os.symlink(victim, b + '.kcsi-partial')  # where the bundle used to be written first
    tv.v(d, 'export', id_, '--out', b, '--reason', 'links')
    eq(open(victim, 'rb').read(), b'not a bundle\n', 'the link target is untouched')
    assert not os.path.islink(b), 'the bundle is a file'
    run('vault', 'verify-bundle', b)
    os.unlink(victim)


def signer(d):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    sk = open(os.path.join(d, 'keys', 'sign.key'), 'rb').read()
    return Ed25519PrivateKey.from_private_bytes(sk[:32])


def append_signed(d, fields):
    """Append an entry signed with the vault's own key (as whoever holds it
    could), and move the signed head to it."""
    key = signer(d)
    p, lines = tv.ledger_lines(d)
    last = lines[-1].rstrip(b'\n')
    body = {'seq': json.loads(last)['seq'] + 1, 'time': '2026-01-01T00:00:00.000000Z', 'actor': 'x'}
    body.update(fields)
    body['prev'] = hashlib.sha256(last).hexdigest()
    text = json.dumps(body, separators=(', ', ': ')).encode()
    sig = base64.b64encode(key.sign(b'kcsi-ledger-v1\n' + text)).decode()
    line = text[:-1] + (', "sig": "%s"}' % sig).encode()
    with open(p, 'ab') as f:
        f.write(line + b'\n')
    head = json.dumps({'seq': body['seq'], 'hash': hashlib.sha256(line).hexdigest(), 'time': body['time']},
                      separators=(', ', ': ')).encode()
    hsig = base64.b64encode(key.sign(b'kcsi-head-v1\n' + head)).decode()
    hp = os.path.join(d, 'ledger.head')
    os.chmod(hp, 0o600)
    open(hp, 'wb').write(head[:-1] + (', "sig": "%s"}' % hsig).encode())
    return body['seq']


def test_signed_entry_with_a_path_for_an_id():
    d = tv.newvault('path-id')
    tv.put(d, fixture('counter'))
    victim = os.path.join(os.path.dirname(d), 'victim-%d.txt' % os.getpid())
    open(victim, 'w').write('not evidence\n')
    evil = 'deadbeef/../../../../' + os.path.basename(victim)
    os.makedirs(os.path.join(d, 'objects', 'de', 'deadbeef'), exist_ok=True)
    seq = append_signed(d, {'action': 'ingested', 'id': evil, 'sha256': 'de' * 32, 'size': 13})
    # a purge would overwrite and delete objects/de/deadbeef/../../../../victim
    rc, _, err = tv.v(d, 'purge', 'deadbeef', '--reason', 'cleanup', check=False)
    assert os.path.exists(victim) and open(victim).read() == 'not evidence\n', 'the file outside the store was purged'
    eq(rc, 4, 'purge on a ledger with a bad entry (%s)' % err)
    tv.verify_fails(d, 'ledger.jsonl line %d (entry %d)' % (seq, seq), 'not a SHA-256')
    os.unlink(victim)


def test_signed_text_is_printed_escaped():
    # whoever holds the signing key can write any text into an entry; ls and
    # log must not hand it to the terminal as it is
    d = tv.newvault('signed-text')
    tv.put(d, fixture('counter'))
    other = hashlib.sha256(b'other').hexdigest()
    append_signed(d, {'action': 'ingested', 'id': other, 'sha256': other, 'size': 5,
                      'name': '\x1b]0;name\x07', 'case': '\x1b[2Jcase', 'actor': '\x1b[2Jactor'})
    for cmd in ('ls', 'log'):
        _, out, _ = tv.v(d, cmd)
        assert b'\x1b' not in out and b'\x07' not in out, (cmd, out)
        assert b'\\x1b' in out, (cmd, out)


def test_overlong_ledger_line():
    d = tv.newvault('long-line')
    tv.put(d, fixture('counter'))
    p, lines = tv.ledger_lines(d)
    with open(p, 'ab') as f:
        f.write(b'{"seq": 3, "note": "')
        chunk = b'A' * (1 << 20)
        for _ in range(256):
            f.write(chunk)
        f.write(b'"}\n')
    rc, out, err, maxrss = run_measured([kt.KCSI, 'vault', 'verify', '--store', d, '--json', '--no-record'])
    # the line is 256 MiB: reading it whole would take at least that
    assert maxrss < (128 << 20), 'verify used %d MiB' % (maxrss >> 20)
    eq(rc, 4, 'verify exit code (%s)' % err.decode(errors='replace'))
    assert 'ledger.jsonl line 3' in out.decode() and 'longer than any entry' in out.decode(), out[:2000]
    rc, _, err = tv.v(d, 'ls', check=False)
    eq(rc, 4, 'ls on a ledger with an over-long line')
    assert len(err.strip().splitlines()) == 1 and 'line 3' in err, err


def test_overlong_text_is_refused():
    d = tv.newvault('long-note')
    rc, _, err = tv.v(d, 'put', fixture('counter'), '--note', 'n' * 70000, check=False)
    eq(rc, 2, 'a note longer than a ledger line may be (%s)' % err)
    eq(tv.vj(d, 'ls'), [], 'nothing recorded')
