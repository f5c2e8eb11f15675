"""`kcsi decode` against `crit decode` (Debian's criu 3.17) as an independent
decoder: the JSON must be equal as data, plain and --pretty, for every image of
every fixture that crit decodes.

Known, documented exceptions (kcsi is right, crit 3.17 predates CRIU 4.x):
- fields CRIU 4.x added, which crit 3.17 does not know and drops: listed in
  NEW_FIELDS; they are removed from kcsi's output before comparing, and each
  must actually appear in kcsi's output somewhere (so the list stays honest);
- pagemap entries: CRIU 4.2 writes the page count in the new 64-bit field
  nr_pages (5) and 0 in the old field (2); crit 3.17 reads field 2 and prints
  "nr_pages": 0.  kcsi prints field 2 as compat_nr_pages and the real count as
  nr_pages; the test checks crit's nr_pages equals kcsi's compat_nr_pages and
  that kcsi's counts add up to the pages image;
- raw images (pages-*.img, tmpfs-*.tar.gz.img): crit cannot decode them
  either; kcsi refuses them with exit code 5.
"""
import json
import os
import shutil
import subprocess

import kt
from kt import eq, run

NEW_FIELDS = {
    'controllers[].is_threaded', 'thread_core.cg_set', 'thread_core.creds.cap_amb',
    'thread_info.fpregs.xsave.cet', 'dump_criu_run_id', 'plugins_entry', 'isk.ip_opts.ttl',
    'isk.tcp_opts', 'mode@MEMFD_INODE',
}


def crit():
    exe = shutil.which('crit')
    if not exe:
        raise kt.Skip('crit (Debian package criu) is not installed')
    return exe


def strip_new(entry, magic, seen, path=''):
    if isinstance(entry, dict):
        for k in list(entry):
            p = (path + '.' + k) if path else k
            if p in NEW_FIELDS or ('%s@%s' % (p, magic)) in NEW_FIELDS:
                seen.add(p if p in NEW_FIELDS else '%s@%s' % (p, magic))
                del entry[k]
            else:
                strip_new(entry[k], magic, seen, p)
    elif isinstance(entry, list):
        for e in entry:
            strip_new(e, magic, seen, path + '[]')


def compare_dir(d, seen):
    images = sorted(os.listdir(os.path.join(d, 'checkpoint')))
    compared = 0
    for name in images + ['../stats-dump']:
        path = os.path.join(d, 'checkpoint', name)
        if not os.path.isfile(path) or not (name.endswith('.img') or name.endswith('stats-dump')):
            continue
        for mode in ([], ['--pretty']):
            p = subprocess.run([crit(), 'decode'] + mode + ['-i', path], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
            rc, out, err = run('decode', *mode, path, check=False)
            if p.returncode != 0:
                # crit cannot decode it: must be a raw image, refused by kcsi too
                assert name.startswith('pages-') or name.startswith('tmpfs-'), (name, p.stderr[-200:])
                eq(rc, 5, 'kcsi exit code for raw image %s' % name)
                continue
            eq(rc, 0, 'kcsi decode %s %s (%s)' % (mode, name, err))
            want = json.loads(p.stdout)
            got = json.loads(out)
            for e in got.get('entries', []):
                strip_new(e, got.get('magic'), seen)
            if got.get('magic') == 'PAGEMAP':
                for w, g in zip(want['entries'][1:], got['entries'][1:]):
                    eq(w.get('nr_pages'), g.pop('compat_nr_pages'), '%s compat_nr_pages' % name)
                    w.pop('nr_pages', None)
                    assert g.pop('nr_pages', 0) >= 0
            eq(got, want, 'kcsi decode %s %s vs crit' % (' '.join(mode), name))
            compared += 1
    return compared


def test_decode_equals_crit_on_every_fixture():
    seen = set()
    total = 0
    for n in ('counter', 'memfd', 'perlbot', 'revshell'):
        total += compare_dir(kt.extracted(n), seen)
    assert total > 150, total
    eq(sorted(seen), sorted(NEW_FIELDS), 'CRIU 4.x fields seen')


def test_decode_pagemap_counts_fit_pages_image():
    d = kt.extracted('perlbot')
    pm = json.loads(run('decode', os.path.join(d, 'checkpoint', 'pagemap-15.img'))[1])
    head, entries = pm['entries'][0], pm['entries'][1:]
    pages = sum(e['nr_pages'] for e in entries if e.get('flags', 0) & 4)
    eq(pages * 4096, os.path.getsize(os.path.join(d, 'checkpoint', 'pages-%d.img' % head['pages_id'])),
       'present pages vs pages image size')


def test_decode_from_archive_and_pretty_formats():
    out = json.loads(run('decode', kt.fixture('perlbot'), 'tcp-stream-8bb0.img')[1])
    eq(out['magic'], 'TCP_STREAM', 'magic')
    eq(out['entries'][0]['extra'], {'inq': '', 'outq': ''}, 'empty queues')
    files = json.loads(run('decode', '--pretty', kt.fixture('perlbot'), 'checkpoint/files.img')[1])
    isk = [e['isk'] for e in files['entries'] if e['type'] == 'INETSK'][0]
    eq(isk['dst_addr'], ['127.6.6.6'], 'dotted address')
    eq(isk['state'], 'ESTABLISHED', 'state name')
    ghost = json.loads(run('decode', kt.fixture('perlbot'), 'ghost-file-1.img')[1])
    import base64
    eq(base64.b64decode(ghost['entries'][0]['extra']), b'stage2 http://198.51.100.23/x.sh\n', 'ghost content')
    rc, _, err = run('decode', kt.fixture('perlbot'), 'nosuch.img', check=False)
    eq(rc, 8, 'missing image exit code')
    rc, _, err = run('decode', kt.fixture('perlbot'), 'pages-1.img', check=False)
    eq(rc, 5, 'raw image exit code')
    assert 'raw image' in err, err
