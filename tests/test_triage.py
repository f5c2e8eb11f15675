"""kcsi analyze on archives and detonation reports built here from the
fixtures: the structure of the triage engine (lib/triage, lib/evidence) —
memfd contents looked at as far as the checkpoint holds them, the HTML
process tree from the reader's tree, excerpts escaped once by the
renderers, and a merged detonation report that lacks fields.  Time is bounded
by subprocess timeouts, never measured."""
import hashlib
import html
import json
import os
import re
import subprocess

import kt
from kt import eq, fixture
import test_hostile_reader as hr

PAGE = 4096


def _memfd_pages():
    """The bytes the memfd fixture holds for its one memfd inode: the program
    (kcsi recover writes it out) and the zeros up to the end of its last page."""
    out = os.path.join(kt.tmpdir(), 'triage-memfd-recover')
    if not os.path.isdir(out):
        kt.run('recover', '--out', out, fixture('memfd'))
    found = [os.path.join(d, f) for d, _, fs in os.walk(out) for f in fs if 'kdevtmpfsi' in f]
    assert found, 'recover wrote no memfd file'
    data = open(found[0], 'rb').read()
    return data + bytes(-len(data) % PAGE)


def test_memfd_content_follows_the_pages_held():
    """400 memfd inodes that claim a size of 1 TiB each, all on the pages of
    the fixture's memfd (11 pages, a 540 KB archive): analyze allocated,
    scanned and hashed 64 MiB per inode whatever the checkpoint held (about a
    minute without YARA rules, and the sha256 of 64 MiB of mostly zeros).  It
    looks at the bytes up to the last page held: each inode is the 45,056
    bytes the checkpoint has."""
    n = 400
    path = hr.tmp('memfd-claims-1tib-%d.tar' % n)
    ms = hr.members('memfd')
    real = hr.entries(ms['checkpoint/memfd.img'][1])[0]
    shmid = 1075
    assert hr.f_uint(5, shmid) in real, 'the fixture memfd is on shmid 1075'
    inodes = [hr.memfd_inode(7000 + i, 'claims-1tib-%d' % i, 1 << 40, shmid) for i in range(n)]
    hr.put(ms, 'checkpoint/memfd.img', hr.image('MEMFD_INODE', inodes))
    hr.write_tar(ms, path)
    rc, out, err, _ = hr.run_bounded(['analyze', '--json', '--no-builtin-rules', path], timeout=30,
                                     max_rss=512 * hr.MiB)
    eq(rc, 0, 'exit status (%s)' % err.strip())
    r = json.loads(out)
    held = hashlib.sha256(_memfd_pages()).hexdigest()
    sha = {i['value']: i for i in r['iocs'] if i['type'] == 'sha256'}
    assert held in sha, (held, sorted(sha))
    eq(sha[held]['count'], n, 'every inode hashed (once each: the content rules see each object once)')
    eq(len(sha), 1, 'one content')


def _chain(depth):
    """The counter fixture with a pstree where pid N+1 is the child of pid N."""
    path = hr.tmp('triage-chain-%d.tar' % depth)
    ms = hr.members('counter')
    core = ms['checkpoint/core-1.img'][1]
    tree = []
    for pid in range(1, depth + 1):
        tree.append(hr.f_uint(1, pid) + hr.f_uint(2, pid - 1) + hr.f_uint(3, 1) + hr.f_uint(4, 1) + hr.f_uint(5, pid))
        if pid > 1:
            hr.put(ms, 'checkpoint/core-%d.img' % pid, core)
    hr.put(ms, 'checkpoint/pstree.img', hr.image('PSTREE', tree))
    return hr.write_tar(ms, path)


def test_html_process_tree_is_the_readers():
    """The HTML report's process table walked the tree itself, in quadratic
    time, and stopped descending at 64 levels: the rest of a deeper chain
    started again at the left as if it had no parent.  It is the reader's
    tree now (kcsi_ckpt_tree): every process once, under its parent; the
    indentation stops growing at 64 levels."""
    depth = 100
    _, out, _ = kt.run('analyze', '--format', 'html', '--no-builtin-rules', _chain(depth))
    table = out.decode().split('<table id="processes">')[1].split('</table>')[0]
    rows = re.findall(r'<tr><td>(\d+)</td><td>(\d+)</td>.*?padding-left:(\d+)em', table)
    eq([int(p) for p, _, _ in rows], list(range(1, depth + 1)), 'pids in tree order')
    indent = [int(em) for _, _, em in rows]
    eq(indent[:3], [0, 2, 4], 'each child one level under its parent')
    eq(indent[64:], [128] * (depth - 64), 'below 64 levels: as deep as the page indents')


def _detonation(name, findings, iocs=()):
    """A detonation directory whose report.json is of the fixture's archive."""
    d = os.path.join(kt.tmpdir(), 'triage-det-%s' % name)
    os.makedirs(d, exist_ok=True)
    sha = hashlib.sha256(open(fixture('counter'), 'rb').read()).hexdigest()
    with open(os.path.join(d, 'report.json'), 'w') as f:
        json.dump({'schema': 'kcsi-detonation/1', 'archive_sha256': sha, 'findings': list(findings),
                   'iocs': list(iocs)}, f)
    return d


def test_merged_report_missing_fields():
    """A detonation report whose finding has no id, title or evidence kind:
    STIX output read the missing id (SIGSEGV).  Every format is written; the
    finding keeps what it has."""
    d = _detonation('no-id', [{'severity': 'high', 'evidence': [{'pid': 3, 'excerpt': 'x'}]}],
                    [{'type': 'ipv4', 'value': '192.0.0.9', 'count': 2}, {'type': 'nonsense', 'value': 'v'}])
    for fmt in ('stix', 'misp', 'text', 'html', 'json', 'timeline'):
        rc, out, err = kt.run('analyze', '--detonation', d, '--format', fmt, fixture('counter'), check=False)
        eq(rc, 0, '%s: exit status (%s)' % (fmt, err.strip()))
    r = kt.jrun('analyze', '--detonation', d, '--format', 'json', fixture('counter'))
    merged = [f for f in r['findings'] if f['severity'] == 'high']
    eq(len(merged), 1, 'the merged finding')
    eq(merged[0]['id'], None, 'no id')
    eq(merged[0]['evidence'][0]['kind'], 'socket', 'an unknown kind reads as socket')
    eq(r['verdict'], 'suspicious', 'verdict computed again')
    ioc = [i for i in r['iocs'] if i['value'] == '192.0.0.9']
    eq([(i['type'], i.get('class'), i['count']) for i in ioc], [('ipv4', 'reserved', 2)], 'the merged IOC')
    assert not [i for i in r['iocs'] if i['type'] == 'nonsense'], 'unknown IOC types are left out'


def test_excerpts_escaped_once():
    """Excerpts came two ways: escaped when they were made (memory, files)
    or raw (command lines, environment, merged detonations), and the text
    report kept backslashes as they were, so that a raw \\x41 read like an
    escaped byte.  They are raw in the model and each renderer escapes them
    once: a backslash shows as \\\\, a control byte as \\xNN, in the text, the
    HTML and the JSON alike."""
    raw = 'C:\\x41 \x1b[2J tab\there'
    shown = 'C:\\\\x41 \\x1b[2J tab\\there'
    d = _detonation('excerpt', [{'id': 'KCSI-DYN-TEST-001', 'severity': 'medium', 'title': 't', 'explanation': 'e',
                                 'mitre': ['T1059'], 'evidence': [{'kind': 'process', 'pid': 1, 'excerpt': raw}]}])
    _, out, _ = kt.run('analyze', '--detonation', d, fixture('counter'))
    assert ('"%s"' % shown).encode() in out, out.decode(errors='replace')
    assert b'\x1b' not in out
    r = kt.jrun('analyze', '--detonation', d, '--format', 'json', fixture('counter'))
    ev = [f for f in r['findings'] if f['id'] == 'KCSI-DYN-TEST-001'][0]['evidence'][0]
    eq(ev['excerpt'], shown, 'JSON excerpt')
    _, out, _ = kt.run('analyze', '--detonation', d, '--format', 'html', fixture('counter'))
    assert ('&ldquo;%s&rdquo;' % html.escape(shown, quote=True).replace('&#x27;', '&#39;')).encode() in out


def test_text_runs_unit():
    """The memory pass finds runs of text 64 bytes at a time (SSE2) and skips
    what cannot hold one; the C unit test compares that with the plain
    definition on 100,000 random buffers (tests/unit/text_runs.c)."""
    kt.run_unit('text_runs', 'cases agree')


def test_base64_unit():
    """One Base64 decoder serves the secret validators (strict: a JWT
    header, a Discord id), the blob carver and the DNS/URL decoders
    (lenient), and the kubeconfig reader; the C unit test compares it with
    the RFC 4648 definition in both alphabets (tests/unit/base64.c)."""
    kt.run_unit('base64', 'agree with the definition')
