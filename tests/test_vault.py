"""kcsi vault and kcsi collect: round trips, tampering, crashes, a full disk,
the collector, bundles, and an S3 store behind a SigV4-checking server."""
import hashlib
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import tarfile
import time

import kt
from kt import eq, fixture, run

ALL = ['counter', 'memfd', 'perlbot', 'revshell']
HERE = os.path.dirname(os.path.abspath(__file__))


def sha(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for b in iter(lambda: f.read(1 << 20), b''):
            h.update(b)
    return h.hexdigest()


def newvault(name, *extra):
    d = os.path.join(kt.tmpdir(), 'vault-' + name)
    if os.path.exists(d):
        subprocess.run(['chmod', '-R', 'u+w', d])
        shutil.rmtree(d)
    run('vault', 'init', '--store', d, *extra)
    return d


def v(store, *args, check=True, env=None):
    return run('vault', args[0], '--store', store, *args[1:], check=check, env=env)


def vj(store, *args):
    _, out, _ = v(store, *args, '--json')
    return json.loads(out)


def put(store, path, *extra):
    _, out, _ = v(store, 'put', path, *extra)
    return out.decode().strip()


def verify_fails(store, *where):
    """verify must exit 4 and name every `where` fragment in its problems."""
    rc, out, err = v(store, 'verify', '--json', '--no-record', check=False)
    eq(rc, 4, 'verify exit code (stderr: %s)' % err)
    res = json.loads(out)
    assert not res['ok'], res
    text = json.dumps(res['problems'])
    for w in where:
        assert w in text, 'expected %r in %s' % (w, text)
    return res['problems']


def test_init_layout():
    d = newvault('layout')
    for f in ('vault.json', 'ledger.jsonl', 'ledger.head', 'keys/sign.key', 'keys/enc.key', 'keys/sign.pub'):
        assert os.path.exists(os.path.join(d, f)), f
    for sub in ('', 'objects', 'tmp', 'keys'):
        eq(stat.S_IMODE(os.stat(os.path.join(d, sub)).st_mode), 0o700, 'mode of %s/' % sub)
    eq(stat.S_IMODE(os.stat(os.path.join(d, 'keys/sign.key')).st_mode), 0o400, 'sign.key mode')
    conf = json.load(open(os.path.join(d, 'vault.json')))
    eq(conf['format'], 'kcsi-vault', 'format')
    log = vj(d, 'log')
    eq([e['action'] for e in log], ['created'], 'first entry')
    eq(log[0]['public_key'], conf['public_key'], 'public key in the ledger')
    rc, _, err = run('vault', 'init', '--store', d, check=False)
    assert rc != 0 and 'already a vault' in err, err


def test_roundtrip_fixtures():
    d = newvault('rt')
    ids = {}
    for n in ALL:
        ids[n] = put(d, fixture(n), '--case', 'INC-7', '--note', 'round trip')
        eq(ids[n], sha(fixture(n)), 'evidence id is the SHA-256 of ' + n)
        obj = os.path.join(d, 'objects', ids[n][:2], ids[n])
        eq(stat.S_IMODE(os.stat(obj).st_mode), 0o400, 'object mode')
        eq(stat.S_IMODE(os.stat(os.path.dirname(obj)).st_mode), 0o700, 'object dir mode')
        with open(obj, 'rb') as f:
            body = f.read()
        assert body[:8] == b'KCSIVLT1', body[:8]
        with open(fixture(n), 'rb') as f:
            assert f.read(4096)[512:1024] not in body, 'plaintext visible in the object'
    for n in ALL:
        out = os.path.join(kt.tmpdir(), 'rt-%s.tar' % n)
        if os.path.exists(out):
            os.unlink(out)
        v(d, 'get', ids[n][:12], '--out', out, '--reason', 'round trip test')
        with open(out, 'rb') as a, open(fixture(n), 'rb') as b:
            assert a.read() == b.read(), 'byte-identical ' + n
        eq(stat.S_IMODE(os.stat(out).st_mode), 0o600, 'output mode')
    res = vj(d, 'verify')
    assert res['ok'], res
    eq(res['evidence_checked'], 4, 'checked')
    ls = vj(d, 'ls', '--case', 'INC-7')
    eq(sorted(e['id'] for e in ls), sorted(ids.values()), 'ls --case')
    assert all(e['accesses'] == 1 and e['state'] == 'held' for e in ls), ls
    log = vj(d, 'log', ids['perlbot'])
    eq([e['action'] for e in log], ['ingested', 'accessed', 'verified'], 'log of one id')
    eq(log[1]['reason'], 'round trip test', 'reason recorded')
    assert log[1]['actor'], log[1]
    # the chain: each prev is the hash of the line before
    lines = open(os.path.join(d, 'ledger.jsonl'), 'rb').read().splitlines()
    for a, b in zip(lines, lines[1:]):
        eq(json.loads(b)['prev'], hashlib.sha256(a).hexdigest(), 'chain')
    # a get never overwrites
    rc, _, err = v(d, 'get', ids['counter'], '--out', os.path.join(kt.tmpdir(), 'rt-counter.tar'), check=False)
    eq(rc, 2, 'exit code for an existing --out')
    # a second put of the same content is recorded, stored once
    _, out, _ = v(d, 'put', fixture('counter'), '--json')
    assert json.loads(out)['duplicate'] is True, out


def test_errors_are_one_line_with_codes():
    d = newvault('errs')
    rc, out, err = v(d, 'get', 'deadbeefdeadbeef', '--out', '/tmp/x', check=False)
    eq(rc, 8, 'unknown id')
    assert 'deadbeefdeadbeef' in err and len(err.strip().splitlines()) == 1 and out == b'', err
    rc, _, err = v(d, 'get', 'abc', '--out', '/tmp/x', check=False)
    eq(rc, 2, 'short id')
    rc, _, err = run('vault', 'ls', '--store', '/nonexistent/vault', check=False)
    eq(rc, 8, 'missing store')
    id_ = put(d, fixture('counter'))
    rc, _, err = v(d, 'purge', id_, check=False)
    eq(rc, 2, 'purge without reason')
    rc, _, err = v(d, 'put', fixture('counter'), '--actor', 'x', '--note', 'bad\x01note', check=False)
    eq(rc, 2, 'control characters refused')
    # wrong encryption key
    kf = os.path.join(kt.tmpdir(), 'other.key')
    with open(kf, 'w') as f:
        f.write('11' * 32 + '\n')
    d2 = newvault('keyfile', '--key-file', kf)
    id2 = put(d2, fixture('counter'))
    with open(kf, 'w') as f:
        f.write('22' * 32 + '\n')
    rc, _, err = v(d2, 'get', id2, '--out', os.path.join(kt.tmpdir(), 'wrongkey.tar'), check=False)
    eq(rc, 1, 'wrong key: exit code')
    assert 'not this vault' in err, err
    assert not os.path.exists(os.path.join(kt.tmpdir(), 'wrongkey.tar'))


def test_key_from_environment():
    env = {'KCSI_TEST_KEY': '33' * 32}
    d = os.path.join(kt.tmpdir(), 'vault-envkey')
    shutil.rmtree(d, ignore_errors=True)
    run('vault', 'init', '--store', d, '--key-env', 'KCSI_TEST_KEY', env=env)
    assert not os.path.exists(os.path.join(d, 'keys/enc.key'))
    _, out, _ = run('vault', 'put', '--store', d, fixture('memfd'), env=env)
    id_ = out.decode().strip()
    rc, _, err = run('vault', 'verify', '--store', d, check=False)
    eq(rc, 8, 'no key in the environment')
    assert 'KCSI_TEST_KEY' in err, err
    run('vault', 'verify', '--store', d, id_, env=env)


def tamper_vault(name):
    d = newvault('t-' + name)
    ids = [put(d, fixture(n)) for n in ('counter', 'perlbot')]
    v(d, 'get', ids[0], '--out', os.path.join(d, '..', 't-%s-out.tar' % name), '--reason', 'x')
    os.unlink(os.path.join(d, '..', 't-%s-out.tar' % name))
    return d, ids


def ledger_lines(d):
    p = os.path.join(d, 'ledger.jsonl')
    os.chmod(p, 0o600)
    with open(p, 'rb') as f:
        return p, f.read().splitlines(keepends=True)


def test_tamper_object_byte():
    d, ids = tamper_vault('obj')
    obj = os.path.join(d, 'objects', ids[1][:2], ids[1])
    os.chmod(obj, 0o600)
    size = os.path.getsize(obj)
    with open(obj, 'r+b') as f:
        f.seek(size // 2)
        b = f.read(1)
        f.seek(size // 2)
        f.write(bytes([b[0] ^ 0x01]))
    probs = verify_fails(d, ids[1], 'objects/%s/%s' % (ids[1][:2], ids[1]), 'authentication failed', 'chunk 1')
    eq(len(probs), 1, 'only the changed object')
    out = os.path.join(kt.tmpdir(), 'tampered-out.tar')
    rc, _, err = v(d, 'get', ids[1], '--out', out, check=False)
    eq(rc, 4, 'get of a changed object')
    assert not os.path.exists(out) and not [f for f in os.listdir(kt.tmpdir()) if f.startswith('tampered-out')]
    # the other evidence is still fine
    v(d, 'verify', ids[0])


def test_tamper_ledger_edit():
    d, ids = tamper_vault('edit')
    p, lines = ledger_lines(d)
    lines[2] = lines[2].replace(b'"checkpoint-perlbot.tar"', b'"checkpoint-innocent.tar"')
    open(p, 'wb').writelines(lines)
    verify_fails(d, 'ledger.jsonl line 3 (entry 3)', 'bad signature', 'ledger.jsonl line 4')
    rc, _, err = v(d, 'put', fixture('memfd'), check=False)
    eq(rc, 4, 'no put on a broken ledger')
    assert 'line 3' in err, err


def test_tamper_ledger_delete():
    d, ids = tamper_vault('del')
    p, lines = ledger_lines(d)
    del lines[1]
    open(p, 'wb').writelines(lines)
    verify_fails(d, 'ledger.jsonl line 2 (entry 3)', 'entry 2 is missing')


def test_tamper_ledger_reorder():
    d, ids = tamper_vault('reorder')
    p, lines = ledger_lines(d)
    lines[1], lines[2] = lines[2], lines[1]
    open(p, 'wb').writelines(lines)
    verify_fails(d, 'ledger.jsonl line 2 (entry 3)', 'ledger.jsonl line 3 (entry 2)', 'reordered')


def test_tamper_ledger_insert():
    d, ids = tamper_vault('insert')
    other = newvault('insert-other')
    put(other, fixture('revshell'))
    _, olines = ledger_lines(other)
    p, lines = ledger_lines(d)
    lines.insert(2, olines[1])  # a well-formed line signed by another vault's key
    open(p, 'wb').writelines(lines)
    verify_fails(d, 'ledger.jsonl line 3', 'bad signature')
    # a copy of a genuine line inserted again
    p, lines = ledger_lines(d)
    del lines[2]
    lines.insert(3, lines[1])
    open(p, 'wb').writelines(lines)
    verify_fails(d, 'ledger.jsonl line 4 (entry 2)', 'duplicated')


def test_tamper_ledger_swap_signature():
    d, ids = tamper_vault('sig')
    p, lines = ledger_lines(d)
    a, b = json.loads(lines[1]), json.loads(lines[2])
    sa, sb = a['sig'].encode(), b['sig'].encode()
    lines[1] = lines[1].replace(sa, sb)
    lines[2] = lines[2].replace(sb, sa)
    open(p, 'wb').writelines(lines)
    verify_fails(d, 'ledger.jsonl line 2 (entry 2)', 'ledger.jsonl line 3 (entry 3)', 'bad signature')


def test_tamper_ledger_truncate_end():
    d, ids = tamper_vault('trunc')
    p, lines = ledger_lines(d)
    open(p, 'wb').writelines(lines[:-1])
    verify_fails(d, 'ledger.head', 'removed from the end')


def test_purge_tombstone():
    d = newvault('purge')
    id_ = put(d, fixture('revshell'), '--case', 'C1')
    v(d, 'purge', id_[:10], '--reason', 'retention period over')
    obj = os.path.join(d, 'objects', id_[:2], id_)
    assert not os.path.exists(obj), 'content deleted'
    ls = vj(d, 'ls')
    eq(ls[0]['state'], 'purged', 'state')
    log = vj(d, 'log', id_)
    eq(log[-1]['action'], 'purged', 'tombstone')
    eq(log[-1]['reason'], 'retention period over', 'reason')
    assert vj(d, 'verify')['ok']
    rc, _, err = v(d, 'get', id_, '--out', os.path.join(kt.tmpdir(), 'purged.tar'), check=False)
    eq(rc, 8, 'get of purged')
    assert 'purged' in err, err
    # the same content may come back later
    eq(put(d, fixture('revshell')), id_, 're-ingest')
    eq(vj(d, 'ls')[0]['state'], 'held', 'held again')


def test_export_bundle():
    d = newvault('bundle')
    id_ = put(d, fixture('perlbot'), '--case', 'INC-9')
    report = os.path.join(kt.tmpdir(), 'report.json')
    with open(report, 'w') as f:
        json.dump({'finding': 'irc bot'}, f)
    v(d, 'report', id_, report, '--note', 'triage')
    html = os.path.join(kt.tmpdir(), 'report.html')
    with open(html, 'w') as f:
        f.write('\n<!DOCTYPE html><title>r</title>')
    v(d, 'report', id_, html)
    b = os.path.join(kt.tmpdir(), 'bundle-%d.tar' % os.getpid())
    if os.path.exists(b):
        os.unlink(b)
    v(d, 'export', id_, '--out', b, '--reason', 'handover to counsel')
    with tarfile.open(b) as t:
        names = t.getnames()
        eq(t.extractfile('evidence.tar').read(), open(fixture('perlbot'), 'rb').read(), 'archive in bundle')
        man = json.load(t.extractfile('MANIFEST.json'))
    for n in ('MANIFEST.json', 'MANIFEST.sig', 'evidence.tar', 'ledger.jsonl', 'public_key.txt'):
        assert n in names, (n, names)
    # the report is named by its ledger entry, hash prefix and content type,
    # and the manifest lists it with its full hash and note
    ledger = [json.loads(l) for l in open(os.path.join(d, 'ledger.jsonl'))]
    analysed = [e for e in ledger if e['action'] == 'analysed']
    rsha = hashlib.sha256(open(report, 'rb').read()).hexdigest()
    hsha = hashlib.sha256(open(html, 'rb').read()).hexdigest()
    member = 'reports/%d-%s.json' % (analysed[0]['seq'], rsha[:12])
    hmember = 'reports/%d-%s.html' % (analysed[1]['seq'], hsha[:12])
    assert member in names and hmember in names, (member, hmember, names)
    eq(man['reports'], [{'member': member, 'sha256': rsha, 'seq': analysed[0]['seq'], 'time': analysed[0]['time'],
                         'note': 'triage'},
                        {'member': hmember, 'sha256': hsha, 'seq': analysed[1]['seq'], 'time': analysed[1]['time']}],
       'reports in manifest')
    eq(man['files'][member], rsha, 'report hash in the manifest files')
    eq(man['case'], 'INC-9', 'case in manifest')
    pk = json.load(open(os.path.join(d, 'vault.json')))['public_key']
    _, out, _ = run('vault', 'verify-bundle', b, '--pubkey', pk, '--json')
    res = json.loads(out)
    assert res['ok'], res
    eq(res['id'], id_, 'id')
    eq([e for e in (json.loads(l)['action'] for l in open(os.path.join(d, 'ledger.jsonl')))
        if e != 'created'], ['ingested', 'analysed', 'analysed', 'exported'], 'actions')
    # a wrong pinned key
    rc, _, _ = run('vault', 'verify-bundle', b, '--pubkey', '00' * 32, check=False)
    eq(rc, 4, 'other key')
    # change one byte of the archive inside the bundle (the tar is plain: find it)
    data = bytearray(open(b, 'rb').read())
    with tarfile.open(b) as t:
        off = t.getmember('evidence.tar').offset_data
    data[off + 5000] ^= 0x20
    bad = b + '.bad'
    open(bad, 'wb').write(bytes(data))
    rc, out, _ = run('vault', 'verify-bundle', bad, '--json', check=False)
    eq(rc, 4, 'changed bundle')
    assert 'evidence.tar' in json.dumps(json.loads(out)['problems']), out


def test_crash_during_put_small():
    d = newvault('crash-small')
    src = os.path.join(kt.tmpdir(), 'crash-small.tar')
    with open(src, 'wb') as f:
        f.write(open(fixture('perlbot'), 'rb').read())
        f.write(os.urandom(48 << 20))  # long enough to be killed mid-way
    rnd = random.Random(7)
    for i in range(6):
        p = subprocess.Popen([kt.KCSI, 'vault', 'put', '--store', d, src], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        time.sleep(rnd.uniform(0.005, 0.08))
        p.send_signal(signal.SIGKILL)
        p.wait()
    check_after_crash(d, src)


def check_after_crash(d, src):
    # no ledger entry without content, nothing partial under objects/
    res = vj(d, 'verify', '--no-record')
    assert res['ok'], res
    for root, _, files in os.walk(os.path.join(d, 'objects')):
        for f in files:
            eq(stat.S_IMODE(os.stat(os.path.join(root, f)).st_mode), 0o400, 'only committed objects')
    held = {e['id'] for e in vj(d, 'ls')}
    id_ = put(d, src)
    eq(id_, sha(src), 'the next put works')
    assert vj(d, 'verify', id_)['ok']
    eq([f for f in os.listdir(os.path.join(d, 'tmp'))], [], 'dead writers\' files removed')
    return held


def big_file(size):
    path = os.path.join(kt.tmpdir(), 'big-%d.tar' % size)
    if not os.path.exists(path) or os.path.getsize(path) != size:
        with open(path, 'wb') as f:
            f.write(open(fixture('perlbot'), 'rb').read())
            chunk = os.urandom(1 << 20)
            left = size - f.tell()
            while left > 0:
                n = min(left, len(chunk))
                f.write(chunk[:n])
                left -= n
    return path


def test_crash_during_put_1gib():
    d = newvault('crash-big')
    src = big_file(1 << 30)
    p = subprocess.Popen([kt.KCSI, 'vault', 'put', '--store', d, src], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.6)
    assert p.poll() is None, 'put of 1 GiB finished before the kill'
    p.send_signal(signal.SIGKILL)
    p.wait()
    tmp = os.listdir(os.path.join(d, 'tmp'))
    assert tmp, 'a partial file was being written'
    eq(vj(d, 'ls'), [], 'nothing visible')
    check_after_crash(d, src)


def test_disk_full_keeps_node_copy():
    if os.geteuid() != 0:
        raise kt.Skip('needs root to mount a small tmpfs')
    mnt = os.path.join(kt.tmpdir(), 'small-fs')
    os.makedirs(mnt, exist_ok=True)
    subprocess.run(['umount', mnt], stderr=subprocess.DEVNULL)
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mnt], stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise kt.Skip('cannot mount tmpfs: %s' % r.stderr.decode())
    try:
        d = os.path.join(mnt, 'vault')
        run('vault', 'init', '--store', d)
        node = os.path.join(kt.tmpdir(), 'node')
        shutil.rmtree(node, ignore_errors=True)
        os.makedirs(node)
        big = os.path.join(node, 'checkpoint-big_ns-c-2026-11-27T01:02:03Z.tar')
        shutil.copy(big_file(16 << 20), big)
        rc, out, err = v(d, 'put', big, check=False)
        eq(rc, 3, 'exit code on a full disk (%s)' % err)
        assert 'no space left' in err and len(err.strip().splitlines()) == 1, err
        eq(out, b'', 'nothing on stdout')
        eq(vj(d, 'ls'), [], 'no evidence')
        eq(os.listdir(os.path.join(d, 'tmp')), [], 'partial object removed')
        # the collector keeps the node copy when the put fails
        _, out, _ = run('collect', '--watch', node, '--vault', d, '--once')
        assert b'NOT taken' in out and os.path.exists(big), out
        eq(sha(big), sha(big_file(16 << 20)), 'node copy intact')
        # a small one still fits
        put(d, fixture('counter'))
        assert vj(d, 'verify')['ok']
    finally:
        subprocess.run(['umount', mnt])


def test_collector_waits_for_complete_archive():
    d = newvault('collect')
    watch = os.path.join(kt.tmpdir(), 'kubelet-checkpoints')
    shutil.rmtree(watch, ignore_errors=True)
    os.makedirs(watch)
    name = 'checkpoint-webapp_default-webapp-2026-11-27T01:48:40Z.tar'
    dst = os.path.join(watch, name)
    data = open(fixture('perlbot'), 'rb').read()
    p = subprocess.Popen([kt.KCSI, 'collect', '--watch', watch, '--vault', d, '--settle', '1', '--case', 'node-1'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        # in pieces, closing between them, with pauses longer than --settle
        pieces = [data[:len(data) // 3], data[len(data) // 3:2 * len(data) // 3], data[2 * len(data) // 3:]]
        for i, piece in enumerate(pieces):
            with open(dst, 'ab') as f:
                f.write(piece)
            if i < 2:
                time.sleep(2.0)
                assert os.path.exists(dst), 'taken before it was complete (after piece %d)' % (i + 1)
                eq(vj(d, 'ls'), [], 'nothing in the vault yet')
        # while held open for writing it is not taken either
        deadline = time.time() + 20
        while os.path.exists(dst) and time.time() < deadline:
            time.sleep(0.2)
        assert not os.path.exists(dst), 'the node copy is gone'
        ls = vj(d, 'ls')
        eq(len(ls), 1, 'one evidence')
        eq(ls[0]['id'], hashlib.sha256(data).hexdigest(), 'the complete archive')
        eq(ls[0]['name'], name, 'the kubelet name, colons and all')
        eq(ls[0]['case'], 'node-1', 'case')
        eq([e['action'] for e in vj(d, 'log', ls[0]['id'])], ['ingested', 'verified'], 'put then verified')
        # a file held open by a writer is left alone even when complete
        held = os.path.join(watch, 'checkpoint-held_ns-c-2026-11-27T02:00:00Z.tar')
        f = open(held, 'wb')
        f.write(open(fixture('counter'), 'rb').read())
        f.flush()
        time.sleep(2.5)
        assert os.path.exists(held), 'taken while open for writing'
        f.close()
        deadline = time.time() + 20
        while os.path.exists(held) and time.time() < deadline:
            time.sleep(0.2)
        assert not os.path.exists(held), 'taken once closed'
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
    assert b'deleted the node copy' in out, out
    assert vj(d, 'verify')['ok']


# ---- S3 ----

def s3():
    import importlib
    import sys
    sys.path.insert(0, os.path.join(HERE, 'vault'))
    mod = importlib.import_module('s3server')
    return mod


def test_s3_store_roundtrip_multipart():
    srv = s3().start(kt.tmpdir())
    try:
        env = srv.env()
        keys = os.path.join(kt.tmpdir(), 's3-keys')
        shutil.rmtree(keys, ignore_errors=True)
        store = 's3://%s/cases/vault1' % srv.bucket
        run('vault', 'init', '--store', store, '--keys', keys, '--retain-days', '30', env=env)
        env['KCSI_S3_PART_SIZE'] = '1M'
        ids = {}
        for n in ALL:
            _, out, _ = run('vault', 'put', '--store', store, '--keys', keys, fixture(n), env=env)
            ids[n] = out.decode().strip()
            eq(ids[n], sha(fixture(n)), 'id')
        assert srv.saw('uploadId='), 'multipart upload used'
        assert srv.saw('x-amz-object-lock-mode'), 'retention headers sent'
        for n in ALL:
            out = os.path.join(kt.tmpdir(), 's3-%s.tar' % n)
            if os.path.exists(out):
                os.unlink(out)
            run('vault', 'get', '--store', store, '--keys', keys, ids[n], '--out', out, '--reason', 's3', env=env)
            eq(sha(out), ids[n], 'byte-identical from S3: ' + n)
        _, out, _ = run('vault', 'verify', '--store', store, '--keys', keys, '--json', env=env)
        assert json.loads(out)['ok'], out
        eq(len(srv.objects('cases/vault1/tmp/')), 0, 'no temporary objects left')
        # a wrong secret is refused by the server
        bad = dict(env, AWS_SECRET_ACCESS_KEY='not-the-secret')
        rc, _, err = run('vault', 'ls', '--store', store, '--keys', keys, env=bad, check=False)
        assert rc != 0 and 'SignatureDoesNotMatch' in err, (rc, err)
        # tamper with one object on the server's disk
        obj = srv.object_path('cases/vault1/objects/%s/%s' % (ids['perlbot'][:2], ids['perlbot']))
        data = bytearray(open(obj, 'rb').read())
        data[len(data) // 2] ^= 1
        open(obj, 'wb').write(bytes(data))
        rc, out, _ = run('vault', 'verify', '--store', store, '--keys', keys, '--json', '--no-record', env=env,
                         check=False)
        eq(rc, 4, 'tampered S3 object')
        assert ids['perlbot'] in out.decode(), out
        # a removed ledger entry
        os.unlink(srv.object_path('cases/vault1/ledger/000000000003.json'))
        rc, out, _ = run('vault', 'verify', '--store', store, '--keys', keys, '--json', '--no-record',
                         '--ledger-only', env=env, check=False)
        eq(rc, 4, 'removed S3 ledger entry')
        assert 'entry 3 is missing' in out.decode(), out
    finally:
        srv.stop()
