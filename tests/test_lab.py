"""The lab: real scenarios made fresh with podman + runc + CRIU, checkpointed,
and put through kcsi; every assertion compares kcsi's views with the ground
truth the scenario observed live inside the container (OUT/NAME.truth.json,
format in lab/README.md) — nothing here names a pid, address or path.

Needs root, podman and a working CRIU (lab/setup.sh installs them).  Where the
lab cannot run, the tests are skipped with the reason.  KCSI_LAB_OUT=DIR reuses
the checkpoints already made in DIR."""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
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


def _outdir():
    out = os.environ.get('KCSI_LAB_OUT') or os.path.join(kt.tmpdir(), 'lab')
    os.makedirs(out, exist_ok=True)
    return out


def scenario(name, env=None):
    """Make (once) the checkpoint of a scenario; returns (archive, truth)."""
    if name in _state:
        return _state[name]
    out = _outdir()
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


def check_against_truth(arch, truth, queues=False):
    """The generic part: processes, executables, command lines, environments,
    regular files, pipes and sockets (the same objects), TCP connections and
    connected UDP sockets as seen live must be what kcsi reads. With queues, the
    bytes waiting in each TCP connection's queues too (scenes whose peer stopped
    reading, so that the queues were still when the truth was taken)."""
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
            ls = fd.get('socket') or {}
            if ls.get('proto') in ('tcp', 'udp'):
                s = [s for s in socks if s['pid'] == pid and s['fd'] == fd['fd']]
                eq(len(s), 1, 'pid %d fd %d socket' % (pid, fd['fd']))
                eq(s[0]['proto'], ls['proto'].upper(), 'pid %d fd %d protocol' % (pid, fd['fd']))
                eq((s[0]['src'], s[0]['sport']), (ls['local_addr'], ls['local_port']), 'pid %d fd %d local' % (pid, fd['fd']))
                if ls['proto'] == 'tcp':
                    eq(s[0]['state'], ls['state'], 'pid %d fd %d state' % (pid, fd['fd']))
                if ls['state'] not in ('LISTEN', 'UNCONN'):
                    eq((s[0]['dst'], s[0]['dport']), (ls['remote_addr'], ls['remote_port']),
                       'pid %d fd %d remote' % (pid, fd['fd']))
                if queues and ls['proto'] == 'tcp' and ls['state'] == 'ESTABLISHED':
                    eq((s[0]['outq_len'], s[0]['inq_len']), (ls['tx_queue'], ls['rx_queue']),
                       'pid %d fd %d queues (send, receive)' % (pid, fd['fd']))
            elif fd['target'].startswith(('socket:[', 'pipe:[')):
                eq(f['path'], fd['target'], 'pid %d fd %d object' % (pid, fd['fd']))
            elif fd.get('target', '').startswith('/') and not fd.get('memfd'):
                eq(f['path'], _target(fd['target']), 'pid %d fd %d path' % (pid, fd['fd']))
                eq(f['deleted'], bool(fd.get('deleted')), 'pid %d fd %d deleted' % (pid, fd['fd']))
                if fd.get('deleted') and 'size' in fd:
                    eq(f['ghost_size'], fd['size'], 'pid %d fd %d ghost size' % (pid, fd['fd']))
    return procs, fds, socks


def queued(socks, pid, remote):
    """the bytes kcsi read from the send queue of pid's connection to remote (addr:port)"""
    addr, port = remote.rsplit(':', 1)
    s = [s for s in socks if s['pid'] == pid and s['dst'] == addr and s['dport'] == int(port)]
    assert s, (pid, remote, socks)
    return base64.b64decode(s[0]['outq'] or '')


def side_process(truth, key):
    """the process the scene's facts name KEY, checked to be a later process, not the workload"""
    pid = truth['facts'][key + '_pid']
    assert pid and pid != 1, (key, pid)
    return pid


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


def test_lab_restore_corner_cases():
    """restore-check on scenes that used to break it: fifoshell (the relay's connection is reset
    after the restore, the collector met a socket no table lists and wrote null: restore-check
    crashed), metrics (its bind-mount source is gone after the scene: put back from
    metrics.mounts.tar), tarexfil (unsent data in a send queue whose peer is gone: a known
    limitation, exit 3)."""
    for name, want in (('fifoshell', 0), ('metrics', 0), ('tarexfil', 3)):
        arch, _ = scenario(name)
        p = subprocess.run(['bash', os.path.join(LAB, 'restore-check.sh'), arch], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=300)
        if p.returncode == 77:
            raise kt.Skip(p.stdout.decode().strip().splitlines()[-1])
        eq(p.returncode, want, 'restore-check %s: %s' % (name, p.stdout.decode()[-1500:]))


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



# ---------------------------------------------------------------- the corpus scenes
# Each new scene of lab/corpus.json is made fresh and compared with kcsi's views here;
# test_lab_corpus_score judges kcsi analyze on all of them (lab/score.py --strict).

def test_lab_dnsexfil_udp():
    arch, truth = scenario('dnsexfil-udp')
    _, _, socks = check_against_truth(arch, truth)
    pid = side_process(truth, 'tunnel')
    s = [s for s in socks if s['pid'] == pid and s['proto'] == 'UDP']
    eq([(x['dst'], x['dport']) for x in s], [(truth['params']['resolver'].rsplit(':', 1)[0], 53)],
       'the tunnel talks to its resolver over UDP')


def test_lab_dnsexfil_tcp():
    arch, truth = scenario('dnsexfil-tcp')
    procs, fds, _ = check_against_truth(arch, truth)
    pid = side_process(truth, 'tunnel')
    eq(procs[pid]['exe'], '/usr/bin/dig', 'dig runs the tunnel')
    assert truth['params']['queue_path'] in procs[pid]['cmdline'], procs[pid]['cmdline']


def test_lab_tarexfil():
    arch, truth = scenario('tarexfil')
    _, _, socks = check_against_truth(arch, truth, queues=True)
    pid = side_process(truth, 'exfil')
    q = queued(socks, pid, truth['params']['drop'])
    assert len(q) >= 200000, len(q)
    assert b'etc/shadow\0' in q and b'ustar' in q, 'the tar archive waits in the send queue'


def test_lab_httpexfil():
    arch, truth = scenario('httpexfil')
    procs, _, socks = check_against_truth(arch, truth, queues=True)
    pid = side_process(truth, 'exfil')
    eq(procs[pid]['exe'], '/usr/bin/curl', 'curl uploads')
    q = queued(socks, pid, truth['params']['drop'])
    assert len(q) >= 100000 and base64.b64decode(q[:4096], validate=True), 'base64 body in the queue'


def test_lab_k8screds():
    arch, truth = scenario('k8screds')
    check_against_truth(arch, truth)
    side_process(truth, 'thief')
    paths = {f['path']: f for f in truth['files']}
    assert paths['/var/run/secrets/kubernetes.io/serviceaccount/token']['text'] == truth['params']['secrets']['jwt']


def test_lab_cloudcreds():
    arch, truth = scenario('cloudcreds')
    procs, _, _ = check_against_truth(arch, truth)
    pid = side_process(truth, 'thief')
    assert any(e.startswith('AWS_ACCESS_KEY_ID=') for e in procs[1]['env']), 'the workload holds the keys'
    eq(procs[pid]['cmdline'], ['python3', truth['params']['thief_path']], 'the thief')


def test_lab_secretsenv():
    arch, truth = scenario('secretsenv')
    _, _, socks = check_against_truth(arch, truth, queues=True)
    pid = side_process(truth, 'harvester')
    q = queued(socks, pid, truth['params']['drop'])
    for k in ('stripe_key', 'github_token', 'slack_token', 'aws_access_key_id'):
        assert truth['params']['secrets'][k].encode() in q, ('%s waits in the send queue' % k)


def test_lab_secretsmem():
    arch, truth = scenario('secretsmem')
    procs, _, _ = check_against_truth(arch, truth)
    side_process(truth, 'scraper')
    eq(truth['facts']['workload_pid'], 1, 'the workload is pid 1')


def test_lab_masq_nginx():
    arch, truth = scenario('masq-nginx')
    procs, fds, _ = check_against_truth(arch, truth)
    implant, renamed = side_process(truth, 'implant'), side_process(truth, 'renamed')
    eq(procs[implant]['cmdline'], [truth['params']['title']], 'title')
    eq(procs[implant]['exe'], '/usr/bin/perl', 'an interpreter under the title')
    eq(procs[renamed]['exe'], truth['params']['renamed_binary'], 'renamed copy')
    f = {x['path']: x for x in truth['files']}
    eq(f[truth['params']['renamed_binary']]['sha256'], f[truth['params']['renamed_from']]['sha256'], 'same binary')


def test_lab_masq_sshd():
    arch, truth = scenario('masq-sshd')
    procs, _, _ = check_against_truth(arch, truth)
    implant = side_process(truth, 'implant')
    eq((procs[implant]['comm'], procs[implant]['cmdline'], procs[implant]['argv_rewritten']),
       ('sshd', [truth['params']['title']], True), 'python3 titled like an sshd session')
    renamed = side_process(truth, 'renamed')
    eq(procs[renamed]['exe'], truth['params']['renamed_binary'], 'renamed socat')


def test_lab_revshell_py():
    arch, truth = scenario('revshell-py')
    procs, _, socks = check_against_truth(arch, truth)
    listener = truth['params']['listener']
    shells = [p for p in procs.values() if p['cmdline'][:2] == ['/bin/bash', '-i']]
    eq(len(shells), 1, 'one bash -i')
    mine = {s['fd'] for s in socks if s['pid'] == shells[0]['pid'] and '%s:%d' % (s['dst'], s['dport']) == listener}
    assert {0, 1, 2} <= mine, mine


def test_lab_revshell_socat():
    arch, truth = scenario('revshell-socat')
    procs, fds, socks = check_against_truth(arch, truth)
    relay, shell = side_process(truth, 'relay'), side_process(truth, 'shell')
    eq(procs[shell]['ppid'], relay, 'bash -i is socat\'s child')
    eq({f['fd']: f['type'] for f in fds if f['pid'] == shell and f['fd'] in (0, 1, 2)},
       {0: 'UNIXSK', 1: 'UNIXSK', 2: 'UNIXSK'}, 'the shell\'s stdio is a socket pair')
    assert not [s for s in socks if s['pid'] == shell and s['proto'] == 'TCP'], 'only socat holds the connection'
    assert truth['facts']['running_pid'], 'the attacker\'s tail -f runs'


def _maps_library(fds, pid, path):
    return any(f['pid'] == pid and f['fd'] == 'mem' and f['path'] == path for f in fds)


def test_lab_preload_cron():
    arch, truth = scenario('preload-cron')
    _, fds, _ = check_against_truth(arch, truth)
    assert _maps_library(fds, truth['facts']['preloaded_pid'], truth['params']['library']), 'library mapped'
    files = {f['path']: f for f in truth['files']}
    eq(files['/etc/ld.so.preload']['text'].strip(), truth['params']['library'], 'ld.so.preload')


def test_lab_preload_env():
    arch, truth = scenario('preload-env')
    procs, fds, _ = check_against_truth(arch, truth)
    pid = truth['facts']['preloaded_pid']
    assert truth['params']['ld_preload'] in procs[pid]['env'], procs[pid]['env']
    assert _maps_library(fds, pid, truth['params']['library']), 'library mapped'


def test_lab_shm_loader():
    arch, truth = scenario('shm-loader')
    procs, _, _ = check_against_truth(arch, truth)
    pid = side_process(truth, 'agent')
    eq((procs[pid]['exe'], procs[pid]['exe_deleted']), (truth['params']['agent_path'], False), 'runs from /dev/shm')


def test_lab_deleted_exe():
    arch, truth = scenario('deleted-exe')
    procs, _, _ = check_against_truth(arch, truth)
    pid = side_process(truth, 'agent')
    eq((procs[pid]['exe'], procs[pid]['exe_deleted']), (truth['params']['agent_path'], True), 'runs a deleted file')


def test_lab_benign_controls():
    """The noisy benign controls: each as seen live."""
    for name, key in (('maillog', 'mailer'), ('awsenv', 'uploader'), ('ircdocs', 'server'),
                      ('tlsclient', 'client'), ('metrics', 'exporter')):
        arch, truth = scenario(name)
        check_against_truth(arch, truth)
        eq(truth['facts']['malicious'], False, name)
        assert truth['facts'][key + '_pid'], (name, key)


def _corpus_made():
    """Make every scene of lab/corpus.json (once); returns their names and the ones not made."""
    with open(os.path.join(LAB, 'corpus.json')) as f:
        names = list(json.load(f)['scenes'])
    failed = []
    _setup()
    for n in names:
        env = {'bigmem': {'BIGMEM_MIB': os.environ.get('BIGMEM_MIB', '64')},
               'manyproc': {'MANYPROC_N': os.environ.get('MANYPROC_N', '200')}}.get(n)
        try:
            scenario(n, env)
        except (AssertionError, kt.Skip) as e:
            failed.append('%s: %s' % (n, str(e).splitlines()[0] if str(e) else type(e).__name__))
    return names, failed


def test_lab_corpus_score():
    """Every scene of lab/corpus.json made fresh (new names, addresses, ports, keys and
    tokens each run) and judged by lab/score.py: every attack gets its expected verdict,
    every benign control is clean, no scene exports an indicator for IDS use that must not
    be one (loopback peers, the image's own strings, anything of a benign scene).  The
    table goes to the CI log."""
    names, failed = _corpus_made()
    js = os.path.join(_outdir(), 'score.json')
    p = subprocess.run([sys.executable, os.path.join(LAB, 'score.py'), '--reuse', _outdir(), '--kcsi', kt.KCSI,
                        '--strict', '--json', js], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1800)
    table = p.stdout.decode(errors='replace')
    print(table)
    assert not failed, 'scenes not made: %s' % failed
    summary = table.strip().splitlines()[-1]
    assert p.returncode == 0, 'a verdict is not the expected one:\n' + '\n'.join(
        l for l in table.splitlines() if ' NO ' in l)
    m = re.search(r'bad IDS indicators (\d+)', summary)
    assert m and m.group(1) == '0', summary
    m = re.search(r'scenes not scored (\d+)', summary)
    assert m and m.group(1) == '0', summary


def test_lab_evidence_commands_run():
    """Every finding's evidence names the kcsi command that shows it: on every corpus
    scene, each such command (ARCHIVE, DIR, PATTERN filled in) is a valid command line
    that runs (exit 0; 1 for a search without a hit; 9 for recover refusing an item)."""
    names, _ = _corpus_made()
    bad, ran = [], 0
    for n in names:
        arch = os.path.join(_outdir(), n + '.tar')
        if not os.path.exists(arch):
            continue
        r = jrun('analyze', '--format', 'json', arch)
        commands = sorted({e['command'] for f in r['findings'] for e in f['evidence'] if e.get('command')})
        for c in commands[:25]:
            line = c.split('  #')[0].strip()
            words = line.split()
            if not words or words[0] != 'kcsi':
                bad.append((n, c, 'not a kcsi command'))
                continue
            out = os.path.join(kt.tmpdir(), 'evcmd-%d' % ran)
            argv = [{'ARCHIVE': arch, 'DIR': out, 'PATTERN': '00'}.get(w, w) for w in words[1:]]
            rc, _, err = run(*argv, check=False, timeout=300)
            ran += 1
            # 9: recover refused an item (a fifo ...) and says so; the rest is recovered
            if rc not in (0, 1) and not (words[1] == 'recover' and rc == 9):
                bad.append((n, c, 'exit %d: %s' % (rc, err.strip()[:200])))
            shutil.rmtree(out, ignore_errors=True)
    assert ran > 20, ran
    assert not bad, bad
