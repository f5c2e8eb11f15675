"""kcsi hunt: indicators of every kind found at their addresses in real
checkpoints (planted into the clean counter scene's memory, and what the
fixtures hold), in objects (ghost files, memfd contents, rootfs diff, queues,
sockets, digests), through plain, zstd and vault forms, from analyze's own
STIX and MISP exports; and nothing in benign controls."""
import hashlib
import json
import os
import random
import shutil
import string
import subprocess

import kt
from kt import eq, run
import test_memory


def hunt(*args, **kw):
    code, out, err = run('hunt', '--json', *args, check=False, **kw)
    assert code == 0, (code, err)
    return json.loads(out), err


def _rand(n):
    return ''.join(random.choice(string.ascii_lowercase) for _ in range(n))


_scene = {}


def planted():
    """The counter fixture with indicators of every kind written into pid 1's
    memory at known addresses (names and values drawn at random)."""
    if _scene:
        return _scene
    _, runs = test_memory._planted('hunt-probe', [])
    big = [r for r in runs if r[1] >= 3 * 4096][0]
    va = big[0] + 128
    ip = '203.0.%d.%d' % (random.randint(0, 255), random.randint(1, 254))
    dom = '%s.%s.net' % (_rand(5), _rand(8))
    url = 'https://%s.example.org/%s/stage.bin' % (_rand(6), _rand(5))
    mail = '%s@%s.com' % (_rand(6), _rand(7))
    lit = 'WALLET-%s' % _rand(20).upper()
    hexb = bytes(random.randint(0, 255) for _ in range(12))
    wire = b''.join(bytes([len(l)]) + l.encode() for l in ('cdn', dom.split('.')[0], dom.split('.')[1], 'net'))
    plants = [
        (va, b'connect %s:443\x00' % ip.encode()),
        (va + 256, b'beacon to www.%s\x00' % dom.encode()),
        (va + 512, url.encode() + b'\x00'),
        (va + 768, mail.encode('utf-16-le') + b'\x00\x00'),
        (va + 1024, b'\x00' + lit.encode() + b'\x00'),
        (va + 1280, hexb),
        (va + 1536, b'\x12\x34' + wire + b'\x00\x00\x01\x00\x01'),
        (va + 4096 - 5, b'token=zz-%s-9931' % _rand(6).encode()),   # across a page boundary
        (va + 2048, b'1%s0\x00' % ip.encode()),                  # the address inside a longer number: no hit
    ]
    d, _ = test_memory._planted('hunt-probe', plants)
    _scene.update(dir=d, va=va, ip=ip, dom=dom, url=url, mail=mail, lit=lit, hexb=hexb,
                  token=plants[7][1].decode())
    return _scene


def test_every_kind_found_at_its_address():
    s = planted()
    feed = os.path.join(kt.tmpdir(), 'feed.txt')
    with open(feed, 'w') as f:
        f.write('# planted\n%s\n%s\n%s\n%s\nliteral:%s\nhex:%s\nregex:/token=zz-[a-z]{6}-[0-9]+/\n' %
                (s['ip'], s['dom'], s['url'].replace('https', 'hxxps').replace('.example', '[.]example'),
                 s['mail'], s['lit'], s['hexb'].hex()))
    hits, err = hunt('-i', feed, s['dir'])
    got = {}
    for h in hits:
        got.setdefault((h['type'], h['encoding']), []).append(int(h['address'], 16))
    va = s['va']
    eq(got.get(('ipv4', 'text')), [va + 8], 'ipv4 (and not inside 1%s0)' % s['ip'])
    assert va + 256 + 14 in got.get(('domain', 'text'), []), got
    assert va + 1536 + 2 + 4 in got.get(('domain', 'dns-wire'), []), got  # after the "cdn" label
    eq(got.get(('url', 'text')), [va + 512], 'url (given defanged)')
    eq(got.get(('email', 'utf16le')), [va + 768], 'e-mail in UTF-16LE')
    eq(got.get(('literal', 'text')), [va + 1025], 'literal')
    eq(got.get(('hex', 'bytes')), [va + 1280], 'hex bytes')
    eq(got.get(('regex', 'regex')), [va + 4096 - 5], 'regex across a page boundary')
    for h in hits:
        eq((h['source'], h['pid'], h['area']), ('memory', 1, h['area']), 'provenance')
        assert h['area'] and h['comm'], h
    assert '7 indicators' in err or 'of 7 indicators' in err, err


def test_objects_sockets_and_digests_in_the_fixtures():
    """perlbot: the C2 as socket endpoint and in the ghost file and rootfs diff;
    memfd: the program's digest; and the key in a TCP queue of revshell."""
    perl = kt.fixture('perlbot')
    hits, _ = hunt('-e', '127.6.6.6', '-e', '198.51.100.23', '-e', 'PBKEY-5d41402abc4b2a76b9719d911017c592', perl)
    where = {(h['indicator'], h['source']) for h in hits}
    for want in (('127.6.6.6', 'socket'), ('127.6.6.6', 'memory'), ('127.6.6.6', 'rootfs'),
                 ('198.51.100.23', 'ghost'), ('198.51.100.23', 'memory'),
                 ('PBKEY-5d41402abc4b2a76b9719d911017c592', 'memory'),
                 ('PBKEY-5d41402abc4b2a76b9719d911017c592', 'rootfs')):
        assert want in where, (want, sorted(where))
    sock = [h for h in hits if h['source'] == 'socket'][0]
    eq((sock['pid'], sock['direction']), (15, 'remote'), 'socket endpoint')
    ghost = [h for h in hits if h['source'] == 'ghost'][0]
    eq((ghost['path'], ghost['pid']), ('/tmp/.ICE-unix/.journal', 15), 'ghost file provenance')
    assert ghost['offset'] >= 0 and '198.51.100.23' in ghost['match'], ghost
    # the memfd program's digest, from the recovered bytes
    d = os.path.join(kt.tmpdir(), 'hunt-memfd-recover')
    shutil.rmtree(d, ignore_errors=True)
    run('recover', '--out', d, kt.fixture('memfd'))
    man = json.load(open(os.path.join(d, 'manifest.json')))
    prog = [i for i in man['items'] if i['origin'] == 'memfd'][0]
    hits, _ = hunt('-e', prog['sha256'], kt.fixture('memfd'))
    dig = [h for h in hits if h['source'] == 'hash']
    eq(len(dig), 1, 'one digest hit: %s' % hits)
    eq((dig[0]['type'], dig[0]['path']), ('sha256', '/memfd:kdevtmpfsi'), 'digest hit')


def test_analyze_exports_hunted_back():
    """What analyze exports as STIX and MISP is a feed hunt reads: the perlbot
    indicators come back from perlbot."""
    perl = kt.fixture('perlbot')
    for fmt in ('stix', 'misp'):
        feed = os.path.join(kt.tmpdir(), 'perlbot.%s.json' % fmt)
        with open(feed, 'wb') as f:
            f.write(run('analyze', '--format', fmt, perl)[1])
        hits, err = hunt('-i', feed, '--max-hits', '1', perl)
        found = {h['indicator'] for h in hits}
        # STIX indicators are the IOCs worth blocking only (loopback peers are observables): the bot's hash
        wants = ('127.6.6.6', '127.7.7.7', 'http://198.51.100.23/x.sh') if fmt == 'misp' else \
            [i['value'] for i in kt.jrun('analyze', '--json', perl)['iocs'] if i['to_ids']]
        assert wants, fmt
        for want in wants:
            assert want in found, (fmt, want, sorted(found))
        assert all(h['feed'] == feed for h in hits)
        if fmt == 'stix':
            assert all(h['ref'].startswith('indicator--') for h in hits), hits[0]


def test_compressed_and_plain_agree_and_parallel_runs_agree():
    s = planted()
    d = os.path.join(kt.tmpdir(), 'hunt-forms')
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    plain = os.path.join(d, 'counter-planted.tar')
    subprocess.run(['tar', '-C', s['dir'], '-cf', plain, '.'], check=True)
    subprocess.run(['zstd', '-q', '-f', plain, '-o', plain + '.zst'], check=True)
    args = ['-e', s['ip'], '-e', s['lit'], '-e', 'regex:/token=zz-[a-z]{6}-[0-9]+/']

    def key(h):
        return (h['indicator'], h['source'], h.get('address'), h.get('offset'), h.get('path'))
    one = sorted(key(h) for h in hunt(*args, plain)[0])
    two = sorted(key(h) for h in hunt(*args, plain + '.zst')[0])
    eq(two, one, 'zstd vs plain')
    shutil.copy(kt.fixture('perlbot'), d)
    shutil.copy(kt.fixture('counter'), d)
    a = sorted((h['checkpoint'],) + key(h) for h in hunt('--jobs', '1', '-e', '127.6.6.6', *args, d)[0])
    b = sorted((h['checkpoint'],) + key(h) for h in hunt('--jobs', '3', '-e', '127.6.6.6', *args, d)[0])
    eq(b, a, 'parallel vs serial')
    assert {h[0] for h in a} >= {plain, os.path.join(d, 'checkpoint-perlbot.tar')}, a


def test_many_checkpoints_at_once_agree():
    """Sixteen archives hunted eight at a time, three times: the same hits as
    one at a time, every time (archives opened on several threads at once
    once shared a sort context and crashed; the CI's ThreadSanitizer stage
    runs this test too)."""
    d = os.path.join(kt.tmpdir(), 'hunt-many')
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name in ('perlbot', 'counter', 'revshell', 'memfd'):
        for i in range(4):
            shutil.copy(kt.fixture(name), os.path.join(d, '%s-%d.tar' % (name, i)))
    args = ['--max-hits', '100000', '-e', '127.6.6.6', '-e', 'literal:PBKEY-', '-e', 'regex:/[a-z]{5}\\.(pl|sh)/', d]

    def hits(*extra):
        return sorted((h['checkpoint'], h['indicator'], h['source'], h.get('address'), h.get('offset'),
                       h.get('path')) for h in hunt(*extra, *args)[0])
    serial = hits('--jobs', '1')
    assert len({h[0] for h in serial}) >= 4, serial
    for _ in range(3):
        eq(hits('--jobs', '8', '--threads', '2'), serial, 'eight at a time vs one at a time')


def test_nothing_in_the_benign_control():
    """Indicators that the counter scene does not hold: no hit (the indicators
    and the counter's own strings share no text)."""
    feed = os.path.join(kt.tmpdir(), 'unrelated.txt')
    with open(feed, 'w') as f:
        for _ in range(300):
            f.write('%d.%d.%d.%d\n' % (random.randint(1, 223), random.randint(0, 255), random.randint(0, 255),
                                       random.randint(1, 254)))
            f.write('%s.%s.com\n' % (_rand(7), _rand(6)))
            f.write('literal:%s\n' % _rand(14))
            f.write(hashlib.sha256(_rand(20).encode()).hexdigest() + '\n')
    hits, err = hunt('-i', feed, kt.fixture('counter'))
    eq(hits, [], 'hits in the benign control')
    assert '1200 indicators' in err, err


def test_vault_hunt_records_the_access():
    """Objects in the vault are decrypted in memory, hunted, and each read is in
    the custody ledger with the reason."""
    store = os.path.join(kt.tmpdir(), 'hunt-vault')
    keys = os.path.join(kt.tmpdir(), 'hunt-vault-keys')
    shutil.rmtree(store, ignore_errors=True)
    shutil.rmtree(keys, ignore_errors=True)
    run('vault', 'init', '--store', store, '--keys', keys)
    for name in ('perlbot', 'counter'):
        run('vault', 'put', '--store', store, '--keys', keys, '--case', 'IR-7', kt.fixture(name))
    before = set(os.listdir(kt.tmpdir()))
    code, out, err = run('hunt', '--json', '--store', store, '--keys', keys, '-e', 'literal:hunt-needs-a-reason',
                         check=False)
    assert code == 2 and 'reason' in err, (code, err)
    hits, err = hunt('--store', store, '--keys', keys, '--reason', 'retro-hunt IR-7 C2', '-e', '127.6.6.6',
                     '-e', 'PBKEY-5d41402abc4b2a76b9719d911017c592')
    assert {h['checkpoint'].split(':')[0] for h in hits} == {'vault'}, hits[:2]
    assert {h['indicator'] for h in hits} == {'127.6.6.6', 'PBKEY-5d41402abc4b2a76b9719d911017c592'}, hits
    eq(set(os.listdir(kt.tmpdir())) - before, set(), 'files written beside the hunt')
    log = json.loads(run('vault', 'log', '--json', '--store', store, '--keys', keys)[1])
    acc = [e for e in log if e['action'] == 'accessed']
    eq(len(acc), 2, 'one access per object')
    assert all(e['reason'] == 'retro-hunt IR-7 C2' for e in acc), acc
    run('vault', 'verify', '--store', store, '--keys', keys)


def test_bad_feeds_refused():
    for text, why in (('hex:zz12', 'hex'), ('regex:/a(/', 'regex'), ('regex:/x/q', 'regex')):
        code, _, err = run('hunt', '-e', text, kt.fixture('counter'), check=False)
        assert code == 2 and why in err, (text, code, err)
    bad = os.path.join(kt.tmpdir(), 'bad.json')
    with open(bad, 'w') as f:
        f.write('{"type": "not-a-bundle"}')
    code, _, err = run('hunt', '-i', bad, kt.fixture('counter'), check=False)
    assert code == 4 and 'STIX' in err, (code, err)
    code, _, err = run('hunt', kt.fixture('counter'), check=False)
    eq(code, 2, 'no indicators: ' + err)


def test_vault_index_answers_without_decrypting():
    """The IOCs of an analysis report attached to evidence answer a hunt with
    --index-only; the evidence itself is not decrypted (no plain access), the
    look-up is recorded."""
    store = os.path.join(kt.tmpdir(), 'hunt-index-vault')
    keys = os.path.join(kt.tmpdir(), 'hunt-index-keys')
    shutil.rmtree(store, ignore_errors=True)
    shutil.rmtree(keys, ignore_errors=True)
    run('vault', 'init', '--store', store, '--keys', keys)
    vid = run('vault', 'put', '--store', store, '--keys', keys, kt.fixture('perlbot'))[1].decode().split()[0]
    rep = os.path.join(kt.tmpdir(), 'perlbot-report.json')
    with open(rep, 'wb') as f:
        f.write(run('analyze', '--format', 'json', kt.fixture('perlbot'))[1])
    run('vault', 'report', '--store', store, '--keys', keys, vid, rep)
    hits, _ = hunt('--store', store, '--keys', keys, '--reason', 'known C2 sweep', '--index-only', '-e', '127.6.6.6',
                   '-e', 'http://198.51.100.23/x.sh', '-e', '10.99.99.99')
    eq({(h['indicator'], h['source']) for h in hits},
       {('127.6.6.6', 'index'), ('http://198.51.100.23/x.sh', 'index')}, 'index hits')
    log = json.loads(run('vault', 'log', '--json', '--store', store, '--keys', keys)[1])
    acc = [e for e in log if e['action'] == 'accessed']
    eq([e['reason'] for e in acc], ['known C2 sweep (indicators found in the analysis report)'], 'recorded')
