"""The views (show, ps, files, net, maps, mounts, meta, list, diff) on the real
checkpoints in tests/data/fixtures, whose ground truth is in its README."""
import hashlib
import json
import os
import shutil
import subprocess
import tarfile

import kt
from kt import eq, fixture, jrun, run

ALL = ['counter', 'memfd', 'perlbot', 'revshell']


def proc(procs, pid):
    for p in procs:
        if p['pid'] == pid:
            return p
    raise AssertionError('pid %d not in %r' % (pid, [p['pid'] for p in procs]))


def test_show_fixtures():
    rows = jrun('show', '--json', *[fixture(n) for n in ALL])
    eq(len(rows), 4, 'rows')
    by = {r['container']: r for r in rows}
    eq(sorted(by), ['api', 'cache', 'counter', 'webapp'], 'containers')
    w = by['webapp']
    eq(w['engine'], 'podman', 'engine')
    eq(w['image'], 'localhost/debian-perl:12', 'image')
    eq(w['runtime'], 'runc', 'runtime')
    eq(w['processes'], 3, 'processes')
    eq(w['checkpoint_size'], os.path.getsize(fixture('perlbot')), 'checkpoint_size')
    with tarfile.open(fixture('perlbot')) as t:
        pages = sum(m.size for m in t.getmembers() if os.path.basename(m.name).startswith('pages-'))
        rootfs = t.getmember('rootfs-diff.tar').size
    eq(w['memory_size'], pages, 'memory_size')
    eq(w['rootfs_diff_size'], rootfs, 'rootfs_diff_size')
    assert w['created'].startswith('2026-11-27T01:48'), w['created']
    assert w['checkpointed'].startswith('2026-11-27T01:48'), w['checkpointed']
    for key in ('container', 'id', 'image', 'engine', 'runtime', 'created', 'checkpointed', 'pod',
                'namespace', 'ip', 'processes', 'checkpoint_size', 'memory_size', 'rootfs_diff_size'):
        assert key in w, key


def test_show_stats():
    rows = jrun('show', '--json', '--stats', fixture('counter'))
    st = rows[0]['stats']
    assert st['dump']['pages_written'] > 0, st
    assert 'freezing_time' in st['dump'], st


def test_ps_perlbot_masquerade():
    procs = jrun('ps', '--json', '--env', fixture('perlbot'))
    eq([p['pid'] for p in procs], [1, 15, 19], 'pids')
    bot = proc(procs, 15)
    eq(bot['exe'], '/usr/bin/perl', 'exe')
    eq(bot['cmdline'], ['[kworker/u8:2-events]'], 'cmdline')
    eq(bot['argv_rewritten'], True, 'argv_rewritten')
    eq(bot['comm'], '[kworker/u8:2-e', 'comm')
    eq(bot['ppid'], 1, 'ppid')
    eq(bot['pgid'], 8, 'pgid')
    init = proc(procs, 1)
    eq(init['argv_rewritten'], False, 'pid 1 argv_rewritten')
    eq(init['cmdline'][:2], ['sh', '-c'], 'pid 1 cmdline')
    assert 'APP_ENV=production' in init['env'], init['env']
    assert 'DB_PASSWORD=s3cr3t-db-pass' in init['env'], init['env']
    for key in ('pid', 'ppid', 'pgid', 'sid', 'threads', 'state', 'uid', 'gid', 'caps', 'comm', 'exe',
                'cmdline', 'env'):
        assert key in bot, key
    eq(bot['state'], 'running', 'state')
    assert 'CAP_CHOWN' in bot['caps']['effective'], bot['caps']


def test_ps_text_marks_rewritten():
    _, out, _ = run('ps', fixture('perlbot'))
    line = [l for l in out.decode().splitlines() if l.startswith('15 ')][0]
    assert '[kworker/u8:2-events]' in line and 'argv rewritten' in line and '/usr/bin/perl' in line, line


def test_ps_counter_and_memfd():
    procs = jrun('ps', '--json', '--env', fixture('counter'))
    eq(len(procs), 2, 'counter processes')
    init = proc(procs, 1)
    assert 'APP_ENV=staging' in init['env'], init['env']
    assert any('RANDOM_1432_KEY' in a for a in init['cmdline']), init['cmdline']
    child = [p for p in procs if p['pid'] != 1][0]
    eq(child['cmdline'], ['sleep', '1'], 'child cmdline')
    procs = jrun('ps', '--json', '--env', fixture('memfd'))
    m = proc(procs, 14)
    eq(m['exe'], '/memfd:kdevtmpfsi', 'memfd exe')
    eq(m['exe_memfd'], True, 'exe_memfd')
    eq(m['cmdline'], ['kdevtmpfsi', 'infinity'], 'memfd cmdline')
    eq(m['env'], ['PATH=/usr/bin:/bin', 'MINER_POOL=stratum+tcp://127.9.9.9:3333'], 'memfd env')


def test_ps_pid_filter_and_missing_pid():
    procs = jrun('ps', '--json', '--pid', '15', fixture('perlbot'))
    eq([p['pid'] for p in procs], [15], 'filtered')
    rc, _, err = run('ps', '--pid', '4242', fixture('perlbot'), check=False)
    eq(rc, 8, 'exit code for a missing pid')
    assert '4242' in err, err


def test_files_perlbot_deleted_journal():
    fds = jrun('files', '--json', '--pid', '15', fixture('perlbot'))
    by = {f['fd']: f for f in fds}
    eq(by[3]['path'], '/tmp/.ICE-unix/.loot', 'fd 3')
    eq(by[3]['deleted'], False, 'fd 3 deleted')
    eq(by[4]['path'], '/tmp/.ICE-unix/.journal', 'fd 4')
    eq(by[4]['deleted'], True, 'fd 4 deleted')
    eq(by[4]['remap'], 'ghost', 'fd 4 remap')
    eq(by[4]['ghost_size'], len(b'stage2 http://198.51.100.23/x.sh\n'), 'ghost content size')
    eq(by[5]['type'], 'INETSK', 'fd 5')
    eq(by['exe']['path'], '/usr/bin/perl', 'exe')
    eq(by['cwd']['type'], 'DIR', 'cwd type')
    assert any(f['fd'] == 'mem' and f['path'].endswith('libc.so.6') for f in fds), 'mapped libc'
    for key in ('pid', 'fd', 'type', 'path', 'flags', 'pos', 'size', 'mode', 'deleted'):
        assert key in by[4], key
    _, out, _ = run('files', '--pid', '15', fixture('perlbot'))
    assert '/tmp/.ICE-unix/.journal (deleted)' in out.decode(), out


def test_files_all_processes_sorted():
    fds = jrun('files', '--json', fixture('revshell'))
    pids = [f['pid'] for f in fds]
    eq(pids, sorted(pids), 'pid order')
    shell = [f for f in fds if f['pid'] == 15 and isinstance(f['fd'], int)]
    eq(sorted(f['fd'] for f in shell if f['type'] == 'INETSK'), [0, 1, 2, 255], 'revshell socket fds')


def test_net_perlbot_c2():
    net = jrun('net', '--json', fixture('perlbot'))
    socks = [s for s in net['sockets'] if s['pid'] == 15]
    eq(len(socks), 1, 'sockets of pid 15')
    s = socks[0]
    eq((s['family'], s['type'], s['proto'], s['state']), ('INET', 'STREAM', 'TCP', 'ESTABLISHED'), 'kind')
    eq((s['src'], s['dst'], s['dport']), ('127.0.0.1', '127.6.6.6', 6667), 'endpoints')
    eq(s['fd'], 5, 'fd')
    eq((s['inq_len'], s['outq_len']), (0, 0), 'queues')
    for key in ('pid', 'fd', 'family', 'type', 'proto', 'state', 'src', 'sport', 'dst', 'dport',
                'inq_len', 'outq_len'):
        assert key in s, key


def test_net_revshell_peer():
    net = jrun('net', '--json', fixture('revshell'))
    socks = [s for s in net['sockets'] if s['pid'] == 15]
    eq(sorted(s['fd'] for s in socks), [0, 1, 2, 255], 'fds')
    assert all(s['dst'] == '127.6.6.7' and s['dport'] == 4444 and s['state'] == 'ESTABLISHED'
               for s in socks), socks
    eq(len({s['ino'] for s in socks}), 1, 'one socket behind the four fds')


def test_maps_pages_match_pages_image():
    """The pages counted per area add up to the pages image of the process."""
    d = kt.extracted('perlbot')
    for pid in (1, 15, 19):
        areas = jrun('maps', '--json', '--pid', str(pid), fixture('perlbot'))
        kinds = {a['kind'] for a in areas}
        assert {'heap', 'stack', 'vdso', 'file'} <= kinds, kinds
        held = sum(a['pages'] for a in areas) * 4096
        pm = json.loads(run('decode', os.path.join(d, 'checkpoint', 'pagemap-%d.img' % pid))[1])
        pages_id = pm['entries'][0]['pages_id']
        size = os.path.getsize(os.path.join(d, 'checkpoint', 'pages-%d.img' % pages_id))
        eq(held, size, 'pid %d pages held vs pages-%d.img' % (pid, pages_id))
    areas = jrun('maps', '--json', '--pid', '15', fixture('perlbot'))
    perl = [a for a in areas if a['path'] == '/usr/bin/perl']
    assert perl and any('x' in a['prot'] for a in perl), perl


def test_maps_needs_pid():
    rc, _, err = run('maps', fixture('perlbot'), check=False)
    eq(rc, 2, 'usage error')


def test_mounts_and_meta():
    mounts = jrun('mounts', '--json', fixture('perlbot'))
    criu = [m for m in mounts if m['origin'] == 'criu']
    spec = [m for m in mounts if m['origin'] == 'spec']
    assert any(m['mountpoint'] == '/' for m in criu), criu
    assert any(m['mountpoint'] == '/proc' and m['fstype'] == 'proc' for m in spec), spec
    meta = jrun('meta', '--json', fixture('perlbot'))
    eq(meta['hostname'], 'vm', 'hostname')
    eq(meta['annotations']['io.container.manager'], 'libpod', 'annotation')
    eq(meta['seccomp']['default_action'], 'SCMP_ACT_ERRNO', 'seccomp')
    eq(meta['privileged'], False, 'privileged')
    assert {'type': 'pid'} in meta['namespaces'], meta['namespaces']
    assert meta['cgroup'].startswith('/libpod_parent/'), meta['cgroup']


def test_same_output_for_plain_gzip_zstd_and_directory():
    """Content, not name, decides; every form gives the same views."""
    forms = [fixture('perlbot'), kt.compressed('perlbot', 'gzip'), kt.compressed('perlbot', 'zstd'),
             kt.extracted('perlbot')]
    # a compressed copy under a misleading name is still recognised
    odd = os.path.join(kt.tmpdir(), 'looks-plain.tar')
    shutil.copy(kt.compressed('perlbot', 'zstd'), odd)
    forms.append(odd)
    for view in (['ps', '--json', '--env'], ['files', '--json'], ['net', '--json'],
                 ['maps', '--json', '--pid', '15'], ['meta', '--json'], ['mounts', '--json']):
        outs = [run(*(view + [f]))[1] for f in forms]
        for f, o in zip(forms[1:], outs[1:]):
            eq(o, outs[0], '%s on %s' % (' '.join(view), f))
    kinds = [jrun('show', '--json', f)[0]['archive'] for f in forms]
    eq(kinds, ['tar', 'tar+gzip', 'tar+zstd', 'directory', 'tar+zstd'], 'archive kinds')


def test_output_is_deterministic():
    for view in (['show', '--json'], ['ps', '--json', '--env'], ['files', '--json'], ['net', '--json'],
                 ['meta', '--json'], ['mounts'], ['ps'], ['files']):
        for name in ALL:
            a = run(*(view + [fixture(name)]))[1]
            b = run(*(view + [fixture(name)]))[1]
            eq(a, b, 'two runs of %s on %s' % (view, name))


def test_evidence_is_not_changed():
    path = os.path.join(kt.tmpdir(), 'evidence.tar')
    shutil.copy(fixture('perlbot'), path)
    os.chmod(path, 0o444)
    before = hashlib.sha256(open(path, 'rb').read()).hexdigest()
    st = os.stat(path)
    for view in (['ps', '--env'], ['files'], ['net'], ['show'], ['maps', '--pid', '15'], ['meta'],
                 ['mounts'], ['decode', path, 'pstree.img']):
        args = view if view[0] == 'decode' else view + [path]
        run(*args)
    eq(hashlib.sha256(open(path, 'rb').read()).hexdigest(), before, 'sha256')
    st2 = os.stat(path)
    eq((st2.st_mtime_ns, st2.st_size, st2.st_mode), (st.st_mtime_ns, st.st_size, st.st_mode), 'stat')


def test_works_as_non_root():
    if os.geteuid() != 0:
        procs = jrun('ps', '--json', fixture('perlbot'))
        eq(len(procs), 3, 'processes')
        return
    if not shutil.which('setpriv'):
        raise kt.Skip('setpriv not installed')
    d = os.path.join(kt.tmpdir(), 'nonroot')
    os.makedirs(d, exist_ok=True)
    os.chmod(kt.tmpdir(), 0o755)
    os.chmod(d, 0o755)
    tmp = os.path.join(d, 'tmp')
    os.makedirs(tmp, exist_ok=True)
    os.chmod(tmp, 0o1777)
    path = os.path.join(d, 'c.tar.gz')
    shutil.copy(kt.compressed('perlbot', 'gzip'), path)
    os.chmod(path, 0o644)
    exe = os.path.abspath(kt.KCSI)
    p = subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', exe, 'ps',
                        '--json', path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env={'PATH': '/usr/bin:/bin', 'TMPDIR': tmp}, timeout=60)
    if p.returncode != 0 and b'Permission denied' in p.stderr and b'build' in p.stderr:
        raise kt.Skip('the build directory is not readable by nobody')
    eq(p.returncode, 0, 'exit code as nobody (%s)' % p.stderr.decode())
    eq(len(json.loads(p.stdout)), 3, 'processes as nobody')


def test_diff_two_checkpoints():
    changes = jrun('diff', '--json', fixture('counter'), fixture('perlbot'))
    added = [c for c in changes if c['kind'] == 'process' and c['change'] == 'added']
    assert any(c['pid'] == 15 and '[kworker/u8:2-events]' in c['after'] for c in added), added
    socks = [c for c in changes if c['kind'] == 'socket' and c['change'] == 'added']
    assert any('127.6.6.6:6667' in c['after'] for c in socks), socks
    eq(jrun('diff', '--json', fixture('perlbot'), fixture('perlbot')), [], 'diff with itself')


def test_list_directory():
    d = os.path.join(kt.tmpdir(), 'list')
    os.makedirs(d, exist_ok=True)
    for n in ('counter', 'perlbot'):
        shutil.copy(fixture(n), os.path.join(d, 'checkpoint-%s.tar' % n))
    with open(os.path.join(d, 'notes.txt'), 'w') as f:
        f.write('not a checkpoint\n')
    rows = jrun('list', '--json', d)
    eq([r['container'] for r in rows], ['counter', 'webapp'], 'listed containers')
    eq([os.path.basename(r['file']) for r in rows], ['checkpoint-counter.tar', 'checkpoint-perlbot.tar'], 'files')


def test_no_color_when_not_a_tty():
    _, out, _ = run('ps', fixture('perlbot'))
    assert b'\x1b[' not in out, 'escape codes in piped output'
