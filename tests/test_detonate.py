"""kcsi detonate: restores real checkpoints in the sandbox and checks what was
recorded against what the fixtures are known to do (tests/data/fixtures/README.md),
plus containment: a service on the host's loopback must stay unreachable.

Needs root, podman, runc and CRIU (lab/setup.sh) and the image
localhost/debian-perl:12; skipped with the reason elsewhere."""
import json
import os
import shutil
import socket
import subprocess
import threading
import time

import kt
from kt import eq, run

_ready = {}


def _need_sandbox():
    if 'why' not in _ready:
        why = ''
        if os.geteuid() != 0:
            why = 'detonation needs root'
        else:
            for tool in ('podman', 'runc', 'criu', 'nft', 'ip'):
                if not shutil.which(tool, path='/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin'):
                    why = '%s not installed (lab/setup.sh)' % tool
                    break
        if not why and subprocess.run(['podman', 'image', 'exists', 'localhost/debian-perl:12']).returncode:
            why = 'image localhost/debian-perl:12 missing (lab/setup.sh builds it)'
        _ready['why'] = why
    if _ready['why']:
        raise kt.Skip(_ready['why'])


def _detonate(name, *extra, duration=10):
    """Detonate a fixture once per run; returns (dir, report, summary)."""
    key = (name,) + extra + (duration,)
    if key in _ready:
        return _ready[key]
    _need_sandbox()
    _ready['n'] = _ready.get('n', 0) + 1
    out = os.path.join(kt.tmpdir(), 'det-%s-%d' % (os.path.basename(name), _ready['n']))
    arch = kt.fixture(name) if not name.startswith('/') else name
    _, so, _ = run('detonate', arch, '--out', out, '--duration', str(duration), '--json', *extra, timeout=180)
    summary = json.loads(so)
    with open(os.path.join(out, 'report.json')) as f:
        rep = json.load(f)
    print('  detonate %s: restore %.2fs, report %.2fs' % (name, summary['restore_seconds'], summary['report_seconds']))
    _ready[key] = (out, rep, summary)
    return _ready[key]


def _running_detonations():
    """pids of kcsi processes running `detonate` now (another test run on this
    machine): what they own is theirs, not left behind."""
    pids = set()
    for d in os.listdir('/proc'):
        if d.isdigit():
            try:
                argv = open('/proc/%s/cmdline' % d, 'rb').read().split(b'\0')
            except OSError:
                continue
            if len(argv) > 1 and argv[0].endswith(b'kcsi') and argv[1] == b'detonate':
                pids.add(int(d))
    return pids


def _clean_host(tag):
    live = _running_detonations()
    ns = subprocess.run(['ip', 'netns', 'list'], stdout=subprocess.PIPE, text=True).stdout
    left = [w for w in ns.split() if w.startswith('kcsi-det-') and int(w.split('-')[2]) not in live]
    assert not left, '%s: namespace left behind: %s' % (tag, ns)
    ps = subprocess.run(['podman', 'ps', '-a', '--format', '{{.Names}} {{.Image}}'], stdout=subprocess.PIPE,
                        text=True).stdout
    mine = [l for l in ps.splitlines() if not (l.startswith('kcsi-det-') and l.split()[0][9:].isdigit() and
                                                int(l.split()[0][9:]) in live)]
    ps = '\n'.join(mine) + '\n'
    assert 'kcsi-det-' not in ps and 'webapp ' not in ps and ' api ' not in ' ' + ps, ps
    if not live:
        assert not [d for d in os.listdir('/tmp') if d.startswith('kcsi-detonate.')], 'work dir left in /tmp'


def _findings(rep):
    return {f['id']: f for f in rep['findings']}


def test_detonate_ircbot_c2_caught():
    out, rep, summ = _detonate('perlbot', '--irc-command', '!exec id')
    f = _findings(rep)
    irc = [s for s in rep['network']['sessions'] if s['service'] == 'irc']
    assert irc, rep['network']['sessions']
    s = irc[0]
    # the reconnect went to the C2 the bot holds (fixture README), and the sinkhole took it
    eq((s['dst'], s['dport']), ('127.6.6.6', 6667), 'C2 address')
    assert any(l.startswith('NICK ') for l in s['lines']) and any(l.startswith('USER ') for l in s['lines'])
    eq([c['channel'] for c in s['channels']], ['#perlbot'], 'channel')
    eq(s['realname'], 'PBKEY-5d41402abc4b2a76b9719d911017c592', 'key in USER')
    iocs = {(i['type'], i['value']) for i in rep['iocs']}
    assert ('irc-user', 'PBKEY-5d41402abc4b2a76b9719d911017c592') in iocs, iocs
    assert ('ipv4', '127.6.6.6') in iocs and ('irc-channel', '#perlbot') in iocs, iocs
    # the operator's command ran in the sandbox and its output came back
    cmd = s['commands'][0]
    eq(cmd['command'], '!exec id', 'command')
    assert any(o.startswith('uid=0(root)') for o in cmd['output']), cmd
    assert 'KCSI-DYN-C2CMD-001' in f and 'KCSI-DYN-IRC-001' in f, sorted(f)
    assert 'uid=0(root)' in f['KCSI-DYN-C2CMD-001']['evidence'][0]['excerpt']
    # the restored connection was reset (no SYN in the sandbox) and shows in the pcap's conversations
    assert 'KCSI-DYN-RESET-001' in f, sorted(f)
    with open(os.path.join(out, s['transcript'])) as t:
        assert 'PBKEY-5d41402abc4b2a76b9719d911017c592' in t.read()
    _clean_host('perlbot')


def test_detonate_pcap_holds_the_conversations():
    out, rep, _ = _detonate('perlbot', '--irc-command', '!exec id')
    if not shutil.which('tshark'):
        raise kt.Skip('tshark not installed (scripts/install-deps.sh)')
    p = subprocess.run(['tshark', '-r', os.path.join(out, 'traffic.pcap'), '-q', '-z', 'conv,tcp'],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    eq(p.returncode, 0, 'tshark -r: ' + p.stdout[-500:])
    for s in rep['network']['sessions']:
        assert '%s:%d' % (s['dst'], s['dport']) in p.stdout, (s['dst'], p.stdout)
    p = subprocess.run(['tshark', '-r', os.path.join(out, 'traffic.pcap'), '-Y', 'irc', '-T', 'fields', '-e',
                        'irc.request'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=60)
    assert 'JOIN #perlbot' in p.stdout and 'PBKEY-' in p.stdout, p.stdout[:800]


def test_detonate_activity_log():
    out, rep, summ = _detonate('perlbot', '--irc-command', '!exec id')
    if not summ['activity_log']:
        raise kt.Skip('no eBPF activity log here: ' + summ.get('activity_log_unavailable', ''))
    ev = [json.loads(l) for l in open(os.path.join(out, 'activity.jsonl'))]
    run_ev = [e for e in ev if e['evt.phase'] == 'run']
    # the bot's reconnect and the `id` it ran for the operator
    assert any(e['evt.type'] == 'connect' and e.get('fd.name') == '127.6.6.6:6667' for e in run_ev), run_ev[:5]
    assert any(e['evt.type'] == 'execve' and e['proc.cmdline'].split()[0].endswith('id') for e in run_ev), \
        [e['proc.cmdline'] for e in run_ev if e['evt.type'] == 'execve']
    for e in ev:
        for k in ('evt.time', 'evt.type', 'proc.pid', 'proc.name', 'proc.cmdline'):
            assert k in e, (k, e)


def test_detonate_manifest():
    out, rep, _ = _detonate('perlbot', '--irc-command', '!exec id')
    import hashlib
    with open(os.path.join(out, 'manifest.json')) as f:
        m = json.load(f)
    paths = {x['path'] for x in m['files']}
    assert {'traffic.pcap', 'report.json', 'transcripts/dns.txt'} <= paths, paths
    assert any(p.startswith('transcripts/tcp-') for p in paths), paths
    for x in m['files']:
        with open(os.path.join(out, x['path']), 'rb') as f:
            eq(hashlib.sha256(f.read()).hexdigest(), x['sha256'], x['path'])
    with open(kt.fixture('perlbot'), 'rb') as f:
        eq(m['archive_sha256'], hashlib.sha256(f.read()).hexdigest(), 'archive sha256 (archive unchanged)')


def test_detonate_analyze_merge():
    out, rep, _ = _detonate('perlbot', '--irc-command', '!exec id')
    r = kt.jrun('analyze', '--format', 'json', '--detonation', out, kt.fixture('perlbot'))
    ids = {f['id'] for f in r['findings']}
    assert 'KCSI-DYN-C2CMD-001' in ids and 'KCSI-MASQ-001' in ids, ids
    assert any(i['type'] == 'irc-user' and i['value'].startswith('PBKEY-') for i in r['iocs']), r['iocs']
    eq(r['verdict'], 'malicious', 'verdict')
    # a detonation of another archive is refused
    rc, _, err = run('analyze', '--format', 'json', '--detonation', out, kt.fixture('counter'), check=False)
    assert rc != 0 and 'another archive' in err, (rc, err)


def test_detonate_revshell_reset_and_exit():
    out, rep, _ = _detonate('revshell', duration=6)
    f = _findings(rep)
    resets = [e['connection'] for e in f.get('KCSI-DYN-RESET-001', {'evidence': []})['evidence']]
    assert any('127.6.6.7:4444' in c for c in resets), (resets, sorted(f))
    # the shells lived on that connection: they exit (or reconnect: then the sinkhole has a session)
    reconnected = any(s['dst'] == '127.6.6.7' for s in rep['network']['sessions'])
    gone = {tuple(p['cmdline'][:1]) for p in rep['processes']['after_restore']} - \
        {tuple(p['cmdline'][:1]) for p in rep['processes']['at_end']}
    assert reconnected or 'KCSI-DYN-EXIT-001' in f, (sorted(f), gone)
    assert rep['end_reason'] in ('duration', 'exited'), rep['end_reason']
    _clean_host('revshell')


def test_detonate_benign_invents_nothing():
    out, rep, _ = _detonate('counter', duration=5)
    eq(rep['network']['sessions'], [], 'sinkhole sessions')
    eq(rep['network']['dns'], [], 'dns')
    eq(rep['network']['udp'], [], 'udp')
    bad = [f['id'] for f in rep['findings'] if f['severity'] not in ('info', 'low')]
    eq(bad, [], 'findings above low')
    assert not any(f['id'].startswith(('KCSI-DYN-NET', 'KCSI-DYN-IRC', 'KCSI-DYN-MINER', 'KCSI-DYN-HTTP'))
                   for f in rep['findings'])
    _clean_host('counter')


def test_detonate_containment():
    """A service on the host's own loopback is not reachable from the sandbox: a
    process in the container connects to it and to other addresses; every
    attempt lands in the sinkhole (and the pcap), none at the host service."""
    _need_sandbox()
    hits = []
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', 0))
    srv.listen(16)
    srv.settimeout(0.2)
    port = srv.getsockname()[1]
    stop = []

    def serve():
        while not stop:
            try:
                c, a = srv.accept()
                hits.append(a)
                c.close()
            except OSError:
                pass
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    probe = "perl -MIO::Socket::INET -e 'for (@ARGV) { my ($h,$p) = split /:/; " \
            "my $s = IO::Socket::INET->new(PeerAddr=>$h, PeerPort=>$p, Timeout=>2); " \
            "print $s \"PROBE $_\\n\" if $s; sleep 1 }' 127.0.0.1:%d 8.8.8.8:53 10.0.0.1:80 192.168.1.1:443 " \
            "198.51.100.7:%d" % (port, port)
    try:
        out, rep, _ = _detonate('perlbot', '--irc-command', '!exec ' + probe, duration=14)
    finally:
        stop.append(1)
        t.join(2)
        srv.close()
    eq(hits, [], 'connections that reached the host service')
    got = {(s['dst'], s['dport']) for s in rep['network']['sessions']}
    for want in (('127.0.0.1', port), ('8.8.8.8', 53), ('10.0.0.1', 80), ('192.168.1.1', 443), ('198.51.100.7', port)):
        assert want in got, (want, got)
    convs = {(c['dst'], c['dport']) for c in rep['network']['conversations']}
    assert ('8.8.8.8', 53) in convs and ('127.0.0.1', port) in convs, convs
    _clean_host('containment')


def test_detonate_refuses_without_sandbox():
    """Without root (no namespace, no nftables) detonation refuses to run."""
    if os.geteuid() != 0 or not shutil.which('setpriv'):
        raise kt.Skip('needs root and setpriv to drop to an unprivileged user')
    out = os.path.join(kt.tmpdir(), 'det-refused')
    p = subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', kt.KCSI, 'detonate',
                        kt.fixture('perlbot'), '--out', out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    eq(p.returncode, 5, 'exit code (unsupported): ' + p.stderr)
    assert 'cannot build the sandbox' in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(out, 'report.json'))


def test_detonate_times_recorded():
    """The run's times are recorded and agree with each other (how fast is
    bench/detonate.sh's business, not a test's)."""
    _, rep, summ = _detonate('perlbot', '--irc-command', '!exec id')
    for k in ('restore_seconds', 'run_seconds', 'report_seconds'):
        assert isinstance(summ[k], (int, float)) and summ[k] >= 0, (k, summ)
    t = rep['times']
    assert t['started'] <= t['restored'] <= t['ended'], t
    eq(round(t['restore_seconds'], 3), round(summ['restore_seconds'], 3), 'restore time in report and summary')
    eq(round(t['run_seconds'], 3), round(summ['run_seconds'], 3), 'run time in report and summary')
    if rep['end_reason'] == 'duration':  # the sandbox did not stop before the 10 s asked for
        assert summ['run_seconds'] >= 9.0, summ


def _lab(name):
    """A fresh lab scene (made once per run, shared with test_lab)."""
    _need_sandbox()
    from test_lab import scenario
    return scenario(name)


def test_detonate_lab_miner_pool_login():
    arch, truth = _lab('miner')
    out, rep, summ = _detonate(arch, duration=10)
    f = _findings(rep)
    assert 'KCSI-DYN-MINER-001' in f, list(f)
    pool = [s for s in rep['network']['sessions'] if s['service'] == 'stratum']
    assert pool, rep['network']['sessions']
    p = truth['params']
    eq(pool[0]['login'], p['wallet'], 'wallet recorded by the sinkhole')
    eq(pool[0]['agent'], p['user_agent'], 'miner agent recorded')
    eq('%s:%d' % (pool[0]['dst'], pool[0]['dport']), p['pool'], 'the pool it tried')
    assert {'mining.subscribe', 'mining.authorize'} <= set(pool[0]['methods']), pool[0]['methods']
    assert rep['resources']['cpu_seconds'] > 0.5, rep['resources']
    vals = {i['value'] for i in rep['iocs']}
    assert p['wallet'] in vals and p['user_agent'] in vals, vals
    _clean_host('miner')


def test_detonate_lab_webapp_invents_nothing():
    arch, _ = _lab('webapp')
    out, rep, summ = _detonate(arch, duration=8)
    order = ['info', 'low', 'medium', 'high', 'critical']
    eq([x['id'] for x in rep['findings'] if order.index(x['severity']) > 1], [], 'nothing above low')
    eq(rep['network']['sessions'], [], 'no connection reached the sinkhole')
    _clean_host('webapp')


def test_detonate_memfd_restore_limit_is_reported():
    """CRIU 4.2.1 cannot restore a process whose executable is a memfd (lab
    README): detonate must say so in one line with CRIU's reason, exit
    non-zero, leave the sandbox clean and the report of the failure — not
    invent activity."""
    arch, _ = _lab('memfd')
    _need_sandbox()
    out = os.path.join(kt.tmpdir(), 'det-memfd')
    rc, so, err = run('detonate', arch, '--out', out, '--duration', '5', check=False, timeout=180)
    assert rc != 0, 'restore of a memfd process cannot succeed with CRIU 4.2.1'
    eq(so, b'', 'no report on stdout')
    lines = err.strip().splitlines()
    eq(len(lines), 1, 'one line: %s' % err)
    assert 'CRIU could not restore' in lines[0] and 'memfd' in lines[0], lines
    rep = json.load(open(os.path.join(out, 'report.json')))
    eq(rep['failure']['stage'], 'restore', 'failure in the report')
    eq([f['id'] for f in rep['findings'] if f['id'].startswith('KCSI-DYN-') and f['id'] not in
        ('KCSI-DYN-EXIT-001', 'KCSI-DYN-EXIT-002')], [], 'no invented activity')
    _clean_host('memfd')


def test_detonate_ctrl_c_cleans_up():
    """SIGINT in the middle of a run: the sandbox (container, namespace,
    work directory) is gone afterwards and the exit status is not 0."""
    import signal
    _need_sandbox()
    out = os.path.join(kt.tmpdir(), 'det-sigint')
    p = subprocess.Popen([kt.KCSI, 'detonate', kt.fixture('counter'), '--out', out, '--duration', '30'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # wait until the sandbox exists
        if 'kcsi-det-' in subprocess.run(['ip', 'netns', 'list'], stdout=subprocess.PIPE, text=True).stdout:
            break
        time.sleep(0.2)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError('detonate did not stop after SIGINT')
    assert rc != 0, 'an interrupted run is not a success'
    _clean_host('sigint')


def test_detonate_crio_layout_with_image():
    """A kubelet/CRI-O archive restores when the image is given (the metadata
    is converted, the CRIU images are used as they are); without --image it is
    refused with a clear message."""
    _need_sandbox()
    import test_layouts
    arch = test_layouts.build('crio')
    rc, so, err = run('detonate', arch, '--out', os.path.join(kt.tmpdir(), 'det-crio-noimage'), '--duration', '3',
                      check=False, timeout=120)
    assert rc != 0 and '--image' in err, (rc, err)
    out, rep, summ = _detonate(arch, '--image', 'localhost/debian-perl:12', '--irc-command', '!exec id', duration=12)
    eq(rep['layout'], 'CRI-O', 'layout')
    irc = [s for s in rep['network']['sessions'] if s['service'] == 'irc']
    assert irc and (irc[0]['dst'], irc[0]['dport']) == ('127.6.6.6', 6667), rep['network']['sessions']
    assert 'KCSI-DYN-C2CMD-001' in _findings(rep), list(_findings(rep))
    _clean_host('crio')
