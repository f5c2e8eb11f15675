"""kcsi analyze's evidence model, indicators and exports (issue 13, issue 16):
structured evidence (file offsets as numbers, connections with the keys of
`kcsi net --json`), IOC provenance as an object, no empty evidence items, the
merge reading old and new detonation layouts.  Every archive is a fixture or
built here from one; time is bounded by subprocess timeouts, never measured."""
import os

import kt
from kt import eq, fixture
from test_triage import _detonation


def report(name, *extra):
    return kt.jrun('analyze', '--format', 'json', *extra, fixture(name))


def findings(r, fid):
    return [f for f in r['findings'] if f['id'] == fid]


# ---------------------------------------------------------------- structured evidence

def test_evidence_connection_has_the_keys_and_values_of_net():
    """A connection was one string, "TCP 127.0.0.1:38898 -> 127.6.6.6:6667
    ESTABLISHED", that machines had to parse.  It is proto, src, sport, dst,
    dport and state as `kcsi net --json` names them (numbers as numbers), and
    the text is kept beside it."""
    r = report('perlbot')
    net = kt.jrun('net', '--json', fixture('perlbot'))['sockets']
    irc = findings(r, 'KCSI-NET-IRC-001')
    assert irc, [f['id'] for f in r['findings']]
    ev = [e for f in irc for e in f['evidence'] if 'dport' in e]
    assert ev, irc
    keys = ('proto', 'src', 'sport', 'dst', 'dport', 'state')
    rows = [{k: s[k] for k in keys} for s in net]
    for e in ev:
        assert isinstance(e['sport'], int) and isinstance(e['dport'], int), e
        assert {k: e[k] for k in keys} in rows, (e, rows)
        eq(e['connection'], '%s %s:%d -> %s:%d %s' % tuple(e[k] for k in keys), 'the text form')
    shell = findings(report('revshell'), 'KCSI-SHELL-001')
    eq((shell[0]['evidence'][0]['dst'], shell[0]['evidence'][0]['dport']), ('127.6.6.7', 4444), 'reverse shell peer')


def test_file_offset_is_a_number():
    """A YARA match in a file gave `"area": "offset 908"`; the offset is a
    number of its own now (and area is only ever a memory area), and it is
    where the matched bytes are in the file."""
    r = report('perlbot')
    ev = [e for f in r['findings'] if f['id'].startswith('KCSI-YARA-') for e in f['evidence']
          if e.get('path') == '/tmp/perlbot.pl' and 'excerpt' in e]
    assert ev, 'YARA matches in /tmp/perlbot.pl'
    out = os.path.join(kt.tmpdir(), 'ioc-recover-perlbot')
    if not os.path.isdir(out):
        kt.run('recover', '--out', out, fixture('perlbot'))
    found = [os.path.join(d, f) for d, _, fs in os.walk(out) for f in fs if f.endswith('perlbot.pl')]
    assert found, 'recover wrote perlbot.pl'
    data = open(found[0], 'rb').read()
    for e in ev:
        assert isinstance(e.get('offset'), int), e
        assert not e.get('area', '').startswith('offset'), e
        matched = e['excerpt'].split(': ', 1)[1].encode()
        eq(data[e['offset']:e['offset'] + len(matched)], matched, 'the bytes at the offset')


def test_no_empty_evidence_items():
    """Some evidence items held nothing a reader could use and printed as
    blank lines (the host-network finding: only a command, which the text
    report does not show).  No item is only its kind, and no evidence line of
    the text report is blank."""
    for name in ('perlbot', 'revshell', 'memfd', 'counter'):
        r = report(name)
        for f in r['findings']:
            for e in f['evidence']:
                assert set(e) - {'kind'}, (name, f['id'], e)
        _, text, _ = kt.run('analyze', fixture(name))
        lines = text.decode().splitlines()
        for i, line in enumerate(lines):
            if line.startswith(('low ', 'medium ', 'high ', 'critical ')):
                nxt = lines[i + 1] if i + 1 < len(lines) else ''
                assert not (nxt.startswith(' ') and not nxt.strip()), (name, line)


# ---------------------------------------------------------------- IOC provenance

def test_ioc_provenance_is_an_object():
    """An IOC's source was free text ("memory pid 15 0x556a... (heap)").  It
    is an object: a connected peer names its pid and fd; a memory IOC its pid,
    its own address (where memgrep finds the value) and the area."""
    r = report('perlbot')
    by = {(i['type'], i['value']): i for i in r['iocs']}
    peer = by[('ipv4', '127.6.6.6')]['provenance']
    eq((peer['kind'], peer['pid'], peer['fd']), ('connection', 15, 5), 'the connected peer')
    mem = [i for i in r['iocs'] if i.get('provenance', {}).get('kind') == 'memory']
    assert mem, r['iocs']
    for i in mem:
        p = i['provenance']
        assert isinstance(p['pid'], int) and p['address'].startswith('0x') and p['area'], i
        assert i['source'] == 'memory pid %d %s (%s)' % (p['pid'], p['address'], p['area']), i
    url = by[('url', 'http://198.51.100.23/x.sh')]['provenance']
    hits = kt.jrun('memgrep', '--json', '--pid', str(url['pid']), fixture('perlbot'), 'http://198.51.100.23/x.sh')
    assert url['address'] in {h['address'] for h in hits}, (url, hits)
    sha = [i for i in report('memfd')['iocs'] if i['type'] == 'sha256']
    eq([(i['provenance']['kind'], i['provenance']['origin'], i['provenance']['path']) for i in sha],
       [('file', 'memfd', '/memfd:kdevtmpfsi')], 'a program file')


# ---------------------------------------------------------------- the merge reads both layouts

def test_merge_reads_old_and_new_detonation_layouts():
    """The merge read a detonation's connection and IOC source as text only;
    schema 2 writes the connection's parts, offsets and provenance objects.
    Both layouts are read: the old text stays, the new parts come through."""
    old = {'id': 'KCSI-DYN-OLD-001', 'severity': 'low', 'title': 'old', 'explanation': 'e', 'mitre': ['T1071'],
           'evidence': [{'kind': 'socket', 'pid': -1, 'fd': -1, 'connection': 'TCP 10.0.0.2:4000 -> 1.2.3.4:80 (irc)'}]}
    new = {'id': 'KCSI-DYN-NEW-001', 'severity': 'low', 'title': 'new', 'explanation': 'e', 'mitre': ['T1071'],
           'evidence': [{'kind': 'socket', 'pid': 7, 'fd': 3, 'proto': 'TCP', 'src': '10.0.0.2', 'sport': 4000,
                         'dst': '1.2.3.5', 'dport': 6667, 'state': 'ESTABLISHED'},
                        {'kind': 'file', 'pid': -1, 'fd': -1, 'path': '/tmp/x', 'offset': 77},
                        {'kind': 'socket', 'pid': -1, 'fd': -1, 'sport': 'bad', 'offset': -4}]}
    iocs = [{'type': 'domain', 'value': 'old.example.net', 'source': 'detonation: DNS query', 'count': 1},
            {'type': 'ipv4', 'value': '1.2.3.5', 'source': 'x', 'count': 2,
             'provenance': {'kind': 'detonation', 'pid': 7, 'detail': 'detonation: TCP connection tried'}}]
    d = _detonation('ioc-layouts', [old, new], iocs)
    r = kt.jrun('analyze', '--detonation', d, '--format', 'json', fixture('counter'))
    o = findings(r, 'KCSI-DYN-OLD-001')[0]['evidence'][0]
    eq(o['connection'], 'TCP 10.0.0.2:4000 -> 1.2.3.4:80 (irc)', 'old text kept')
    assert 'dport' not in o, o
    n = findings(r, 'KCSI-DYN-NEW-001')[0]['evidence']
    eq({k: n[0][k] for k in ('pid', 'fd', 'proto', 'src', 'sport', 'dst', 'dport', 'state', 'connection')},
       {'pid': 7, 'fd': 3, 'proto': 'TCP', 'src': '10.0.0.2', 'sport': 4000, 'dst': '1.2.3.5', 'dport': 6667,
        'state': 'ESTABLISHED', 'connection': 'TCP 10.0.0.2:4000 -> 1.2.3.5:6667 ESTABLISHED'}, 'new parts')
    eq((n[1]['path'], n[1]['offset']), ('/tmp/x', 77), 'the offset')
    eq(set(n[2]) - {'command'}, {'kind'}, 'bad numbers are not read')
    by = {i['value']: i for i in r['iocs']}
    eq((by['old.example.net']['provenance']['kind'], by['old.example.net']['source']),
       ('detonation', 'detonation: DNS query'), 'old source text')
    eq((by['1.2.3.5']['provenance']['pid'], by['1.2.3.5']['provenance']['detail']),
       (7, 'detonation: TCP connection tried'), 'new provenance')
