"""The lab: real scenarios made fresh with podman + runc + CRIU, checkpointed,
and put through kcsi; every assertion compares kcsi's views with the ground
truth the scenario observed live inside the container (OUT/NAME.truth.json,
format in lab/README.md) — nothing here names a pid, address or path.

Needs root, podman and a working CRIU (lab/setup.sh installs them).  Where the
lab cannot run, the tests are skipped with the reason.  KCSI_LAB_OUT=DIR reuses
the checkpoints already made in DIR."""
import json
import os
import subprocess
import time

import kt
from kt import eq, jrun, run

LAB = os.path.join(kt.ROOT, 'lab')
_state = {}


def _setup():
    if 'setup' in _state:
        if _state['setup']:
            raise kt.Skip(_state['setup'])
        return
    if os.geteuid() != 0:
        _state['setup'] = 'the lab needs root'
        raise kt.Skip(_state['setup'])
    p = subprocess.run(['bash', os.path.join(LAB, 'setup.sh')], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=1200)
    if p.returncode == 77:
        _state['setup'] = 'lab/setup.sh: ' + p.stdout.decode(errors='replace').strip().splitlines()[-1]
        raise kt.Skip(_state['setup'])
    if p.returncode != 0:
        _state['setup'] = 'lab/setup.sh failed'
        raise AssertionError('lab/setup.sh exited %d:\n%s' % (p.returncode, p.stdout.decode()[-3000:]))
    _state['setup'] = ''


def scenario(name, env=None):
    """Make (once) the checkpoint of a scenario; returns (archive, truth)."""
    if name in _state:
        return _state[name]
    out = os.environ.get('KCSI_LAB_OUT') or os.path.join(kt.tmpdir(), 'lab')
    os.makedirs(out, exist_ok=True)
    arch, truth = os.path.join(out, name + '.tar'), os.path.join(out, name + '.truth.json')
    if not (os.path.exists(arch) and os.path.exists(truth)):
        _setup()
        e = dict(os.environ)
        e.update(env or {})
        start = time.monotonic()
        p = subprocess.run(['bash', os.path.join(LAB, 'scenarios', name + '.sh'), out], env=e,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
        print('  lab scenario %s: %.1fs' % (name, time.monotonic() - start))
        if p.returncode == 77:
            raise kt.Skip('%s: %s' % (name, p.stdout.decode(errors='replace').strip().splitlines()[-1]))
        if p.returncode != 0:
            raise AssertionError('scenario %s exited %d:\n%s' % (name, p.returncode, p.stdout.decode()[-3000:]))
    with open(truth) as f:
        _state[name] = (arch, json.load(f))
    return _state[name]


def _target(t):
    return t[:-len(' (deleted)')] if t.endswith(' (deleted)') else t


def check_against_truth(arch, truth):
    """The generic part: processes, executables, command lines, environments,
    regular files and TCP connections as seen live must be what kcsi reads."""
    assert truth['after_checkpoint'] is None or truth['after_checkpoint'].get('same_processes', True), \
        'the scene changed while it was checkpointed; truth is not reliable'
    procs = {p['pid']: p for p in jrun('ps', '--json', '--env', arch)}
    live = {p['pid']: p for p in truth['processes']}
    eq(sorted(procs), sorted(live), 'pids')
    for pid, lp in live.items():
        kp = procs[pid]
        eq(kp['ppid'], lp['ppid'], 'pid %d ppid' % pid)
        eq(kp['comm'], lp['comm'], 'pid %d comm' % pid)
        if lp.get('exe'):
            eq(kp['exe'], _target(lp['exe']), 'pid %d exe' % pid)
        eq(kp['cmdline'], lp['cmdline'], 'pid %d cmdline' % pid)
        eq(kp['threads'], lp['threads'], 'pid %d threads' % pid)
        eq(kp['uid'], int(str(lp['uid']).split()[0]), 'pid %d uid' % pid)
        if not kp['argv_rewritten']:
            eq(kp['env'], [e for e in lp['environ'] if e.strip()], 'pid %d env' % pid)
    fds = jrun('files', '--json', arch)
    socks = jrun('net', '--json', arch)['sockets']
    for pid, lp in live.items():
        for fd in lp.get('fds', []):
            mine = [f for f in fds if f['pid'] == pid and f['fd'] == fd['fd']]
            eq(len(mine), 1, 'pid %d fd %d present' % (pid, fd['fd']))
            f = mine[0]
            if 'socket' in fd and fd['socket'] and fd['socket'].get('proto') == 'tcp':
                s = [s for s in socks if s['pid'] == pid and s['fd'] == fd['fd']]
                eq(len(s), 1, 'pid %d fd %d socket' % (pid, fd['fd']))
                ls = fd['socket']
                eq((s[0]['state'], s[0]['src'], s[0]['sport']),
                   (ls['state'], ls['local_addr'], ls['local_port']), 'pid %d fd %d local' % (pid, fd['fd']))
                if ls['state'] != 'LISTEN':
                    eq((s[0]['dst'], s[0]['dport']), (ls['remote_addr'], ls['remote_port']),
                       'pid %d fd %d remote' % (pid, fd['fd']))
            elif fd.get('target', '').startswith('/') and not fd.get('memfd'):
                eq(f['path'], _target(fd['target']), 'pid %d fd %d path' % (pid, fd['fd']))
                eq(f['deleted'], bool(fd.get('deleted')), 'pid %d fd %d deleted' % (pid, fd['fd']))
                if fd.get('deleted') and 'size' in fd:
                    eq(f['ghost_size'], fd['size'], 'pid %d fd %d ghost size' % (pid, fd['fd']))
    return procs, fds, socks


def test_lab_ircbot():
    arch, truth = scenario('ircbot')
    procs, fds, socks = check_against_truth(arch, truth)
    bot = procs[truth['facts']['bot_pid']]
    eq(bot['argv_rewritten'], True, 'bot rewrote its title')
    conn = truth['facts']['bot_connection']
    assert any(s['dst'] == conn['remote_addr'] and s['dport'] == conn['remote_port'] and
               s['state'] == 'ESTABLISHED' for s in socks), socks
    assert any(f['pid'] == bot['pid'] and f['deleted'] and f['remap'] == 'ghost' for f in fds), 'ghost'


def test_lab_revshell():
    check_against_truth(*scenario('revshell'))


def test_lab_memfd():
    arch, truth = scenario('memfd')
    procs, _, _ = check_against_truth(arch, truth)
    assert any(p['exe_memfd'] for p in procs.values()), 'a process runs from a memfd'


def test_lab_fifoshell():
    arch, truth = scenario('fifoshell')
    check_against_truth(arch, truth)


def test_lab_miner():
    check_against_truth(*scenario('miner'))


def test_lab_webapp():
    check_against_truth(*scenario('webapp'))


def test_lab_manyproc():
    arch, truth = scenario('manyproc', {'MANYPROC_N': os.environ.get('MANYPROC_N', '200')})
    procs, _, _ = check_against_truth(arch, truth)
    assert len(procs) >= 200, len(procs)


def test_lab_compressed_and_crio_forms():
    arch, truth = scenario('ircbot')
    out = os.path.dirname(arch)
    for comp in ('gzip', 'zstd'):
        dst = os.path.join(out, 'ircbot-%s.tar' % comp)
        if not os.path.exists(dst):
            subprocess.run([comp, '-q', '-k', '-c', arch], stdout=open(dst, 'wb'), check=True)
        eq(run('ps', '--json', '--env', dst)[1], run('ps', '--json', '--env', arch)[1], comp)
    crio_dir = os.path.join(out, 'crio-test')
    os.makedirs(crio_dir, exist_ok=True)
    p = subprocess.run(['bash', os.path.join(LAB, 'make-crio-layout.sh'), arch, crio_dir],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    eq(p.returncode, 0, 'make-crio-layout.sh: ' + p.stdout.decode()[-500:])
    made = [f for f in os.listdir(crio_dir) if f.startswith('checkpoint-') and f.endswith('.tar')]
    eq(len(made), 1, 'one kubelet-named archive')
    row = jrun('show', '--json', os.path.join(crio_dir, made[0]))[0]
    eq(row['engine'], 'CRI-O', 'engine')
    assert row['pod'] and row['namespace'], row
    assert made[0].startswith('checkpoint-%s_%s-' % (row['pod'], row['namespace'])), made[0]
    eq(run('ps', '--json', os.path.join(crio_dir, made[0]))[1], run('ps', '--json', arch)[1], 'CRI-O ps')


def test_lab_restore_runs_again():
    arch, _ = scenario('webapp')
    p = subprocess.run(['bash', os.path.join(LAB, 'restore-check.sh'), arch], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    if p.returncode == 77:
        raise kt.Skip(p.stdout.decode().strip().splitlines()[-1])
    eq(p.returncode, 0, 'restore-check.sh: ' + p.stdout.decode()[-1500:])


def test_lab_bigmem():
    """A process holding BIGMEM_MIB of random bytes: the area that holds the
    buffer is in the checkpoint in full."""
    arch, truth = scenario('bigmem', {'BIGMEM_MIB': os.environ.get('BIGMEM_MIB', '64')})
    procs, _, _ = check_against_truth(arch, truth)
    f = truth['facts']
    holder = [p for p in truth['processes'] if p.get('vm_rss_kb', 0) * 1024 >= f['bytes']]
    assert holder, 'the holder process'
    areas = jrun('maps', '--json', '--pid', str(holder[0]['pid']), arch)
    a = [a for a in areas if int(a['start'], 16) <= f['buffer_vaddr'] < int(a['end'], 16)]
    eq(len(a), 1, 'one area holds the buffer')
    assert a[0]['pages'] * 4096 >= f['bytes'], (a[0], f['bytes'])


def test_lab_bigmem_markers_found_by_memgrep():
    """Every marker the scenario planted (some across page boundaries) is
    found by memgrep at the address the process itself reported."""
    arch, truth = scenario('bigmem', {'BIGMEM_MIB': os.environ.get('BIGMEM_MIB', '64')})
    markers = truth['facts']['markers']
    assert any(m['crosses_page'] for m in markers), 'markers across pages'
    hits = jrun('memgrep', '--json', '--regex', arch, r'KCSIMARK:[0-9]{2}:[0-9a-f]{16}:[a-z_]+:END')
    found = {}
    for h in hits:
        found.setdefault(h['match'], []).append(int(h['address'], 16))
    for m in markers:  # the process may hold other copies of the text too
        assert m['vaddr'] in found.get(m['marker'], []), (m, found.get(m['marker']))
    # a literal search finds each one as well
    m = [m for m in markers if m['crosses_page']][0]
    hits = jrun('memgrep', '--json', arch, m['marker'])
    assert m['vaddr'] in [int(h['address'], 16) for h in hits], (m, hits)


def test_lab_verdicts():
    """kcsi analyze on every fresh scene: the attacks are caught by behaviour
    (the scenes use other names, addresses, ports and paths than the stored
    fixtures), the controls come out clean."""
    expect = {'ircbot': {'malicious'}, 'revshell': {'malicious'}, 'miner': {'malicious'},
              'fifoshell': {'malicious'},
              'memfd': {'malicious', 'suspicious'}, 'webapp': {'clean'}, 'manyproc': {'clean'},
              'bigmem': {'clean'}}
    must = {'ircbot': {'KCSI-MASQ-001', 'KCSI-NET-IRC-001', 'KCSI-PROTO-IRC-001', 'KCSI-DELETED-001',
                       'KCSI-STAGE-001'},
            'revshell': {'KCSI-SHELL-001'}, 'fifoshell': {'KCSI-SHELL-003'}, 'miner': {'KCSI-PROTO-STRATUM-001', 'KCSI-NET-POOL-001'},
            'memfd': {'KCSI-FILELESS-001'}}
    for name, verdicts in expect.items():
        env = {'BIGMEM_MIB': os.environ.get('BIGMEM_MIB', '64')} if name == 'bigmem' else None
        arch, truth = scenario(name, env)
        r = jrun('analyze', '--format', 'json', arch)
        assert r['verdict'] in verdicts, (name, r['verdict'], [(f['id'], f['severity']) for f in r['findings']])
        got = {f['id'] for f in r['findings']}
        assert must.get(name, set()) <= got, (name, must.get(name, set()) - got)
        # the connected peers the scene recorded are IOCs
        for s in truth.get('sockets', []):
            if s.get('state') == 'ESTABLISHED' and s.get('remote_addr'):
                assert any(i['value'] == s['remote_addr'] for i in r['iocs']), (name, s['remote_addr'])
