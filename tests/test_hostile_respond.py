"""kcsi respond under attack: secrets that are empty, clients that hold
connections open (slowloris: many half-open POSTs trickling a byte at a time
from one address and from several), rules whose actions cannot run, and the
other inputs an attacker reaches (oversized and chunked bodies, header floods,
deep JSON, names cut inside a UTF-8 sequence, refusals that leak memory, the
unix socket).  Every hostile input is built here; the responder runs in
record mode (no kubelet) except where a notify webhook on loopback is needed."""
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import kt
from kt import eq, run
from test_respond import Notified, Responder, certs, ev

RECORD = 'checkpoint:\n  mode: record\n'


def _secret_file(name, data):
    p = os.path.join(kt.tmpdir(), name)
    with open(p, 'wb') as f:
        f.write(data)
    return p


def _refused(r, key, what):
    """--check-config and a real start both refuse r's config with one line naming key."""
    code, out, err = run('respond', '--config', r.cfg, '--check-config', check=False)
    assert code != 0, '%s: --check-config accepted it: %s' % (what, out.decode())
    assert key in err, '%s: the error does not name %s: %r' % (what, key, err)
    eq(len(err.strip().splitlines()), 1, '%s: one line: %r' % (what, err))
    p = subprocess.run([kt.KCSI, 'respond', '--config', r.cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    assert p.returncode != 0, '%s: the responder started' % what
    assert key in p.stderr.decode(), '%s: start-up error: %r' % (what, p.stderr)


def test_empty_or_blank_secrets_refused():
    blank = _secret_file('blank.secret', b' \t\n\n')
    nul = _secret_file('nul.secret', b'tok\x00en\n')
    cases = [
        ('  bearer_token: ""\n', 'auth.bearer_token', 'empty inline bearer token'),
        ('  bearer_token: "   "\n', 'auth.bearer_token', 'blank inline bearer token'),
        ('  bearer_token: "tok\\n"\n', 'auth.bearer_token', 'bearer token with a newline'),
        ('  bearer_token_file: %s\n' % blank, 'auth.bearer_token_file', 'blank token file'),
        ('  bearer_token_file: %s\n' % nul, 'auth.bearer_token_file', 'token file with a NUL'),
        ('  hmac_secret_file: %s\n' % blank, 'auth.hmac_secret_file', 'blank HMAC key file'),
        ('  hmac_secret: " "\n', 'auth.hmac_secret', 'blank inline HMAC key'),
        ('  bearer_token: "a"\n  bearer_token_file: %s\n' % _secret_file('ok.secret', b'b\n'),
         'auth.bearer_token', 'two bearer tokens'),
    ]
    for i, (auth, key, what) in enumerate(cases):
        _refused(Responder('secret%d' % i, auth=auth, extra=RECORD), key, what)
    # the Kubernetes API token: inline in a kubeconfig, or a file
    kc = os.path.join(kt.tmpdir(), 'kubeconfig')
    with open(kc, 'w') as f:
        f.write('current-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n'
                'clusters:\n- name: k\n  cluster: {server: "https://127.0.0.1:6443"}\n'
                'users:\n- name: u\n  user: {token: "  "}\n')
    _refused(Responder('secret-kc', extra=RECORD + 'kubernetes:\n  kubeconfig: %s\n' % kc), 'token', 'kubeconfig')
    _refused(Responder('secret-api', extra=RECORD + 'kubernetes:\n  api: https://127.0.0.1:6443\n  token_file: %s\n'
                       % blank), 'kubernetes.token_file', 'API token file')
    # the listening TLS key (a secret too): empty, or not the certificate's
    c = certs.make(os.path.join(kt.tmpdir(), 'certs'))
    empty = _secret_file('empty.key', b'')
    for i, (crt, key) in enumerate([(c['server_crt'], empty), (c['server_crt'], c['client_key'])]):
        _refused(Responder('secret-tls%d' % i, extra=RECORD, tls={'server_crt': crt, 'server_key': key}),
                 'listen.tls_key', 'TLS key %d' % i)
    # and a good token still works; an empty Authorization is refused
    r = Responder('secret-good', extra=RECORD).start()
    try:
        eq(r.post(ev(), token='')[0], 401, 'no token')
        eq(r.post(ev(), headers={'Authorization': 'Bearer '}, token=None)[0], 401, '"Bearer " with nothing')
        eq(r.post(ev())[0], 200, 'the right token')
    finally:
        r.stop()


# ---- slowloris ----------------------------------------------------------------------

class Trickler(threading.Thread):
    """Holds `per_ip` connections from each address in `ips`, each a POST sent
    one byte per `every` seconds (the headers are never finished, or with
    `body`, the headers are complete and valid and the body trickles).  A
    connection the server closes is opened again at once, as an attacker
    would.  Counts what the server closed."""

    def __init__(self, port, ips, per_ip, every=5.0, token='not-the-token', body=False):
        super().__init__(daemon=True)
        self.port, self.ips, self.per_ip, self.every = port, ips, per_ip, every
        if body:
            head = ('POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n'
                    'Content-Length: 100000\r\n\r\n' % token).encode()
            self.first, self.rest = head, b'{' + b' ' * 99999
        else:
            self.first, self.rest = b'', ('POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n' % token +
                                          'X-Pad: ' + 'a' * 4000).encode()
        self.stop_ev = threading.Event()
        self.closed = 0
        self.opened = 0
        self.socks = {}

    def _open(self, ip):
        s = socket.socket()
        s.setblocking(False)
        s.bind((ip, 0))
        try:
            s.connect(('127.0.0.1', self.port))
        except BlockingIOError:
            pass
        self.socks[s] = [ip, 0, False]
        self.opened += 1

    def _drop(self, s):
        self.socks.pop(s, None)
        try:
            s.close()
        except OSError:
            pass
        self.closed += 1

    def run(self):
        for ip in self.ips:
            for _ in range(self.per_ip):
                self._open(ip)
        while not self.stop_ev.is_set():
            for s, st in list(self.socks.items()):
                ip = st[0]
                try:
                    if not st[2] and self.first:
                        s.send(self.first)
                        st[2] = True
                    elif st[1] < len(self.rest):
                        s.send(self.rest[st[1]:st[1] + 1])
                        st[1] += 1
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    self._drop(s)
                    self._open(ip)
                    continue
                # closed by the server (EOF, a reply, or a reset)?
                try:
                    if s.recv(4096, socket.MSG_DONTWAIT | socket.MSG_PEEK) is not None:
                        self._drop(s)
                        self._open(ip)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    self._drop(s)
                    self._open(ip)
            self.stop_ev.wait(self.every)
        for s in list(self.socks):
            s.close()


def _alerts_answered(r, n, bound, gap=0.5):
    """n authenticated alerts, one at a time from 127.0.0.1; each must be
    answered 200 within `bound` seconds (a socket timeout, not a timing check)."""
    for i in range(n):
        body = ev(pod='during-attack-%d' % i).encode()
        req = urllib.request.Request(r.url('/'), data=body, method='POST', headers={
            'Content-Type': 'application/json', 'Authorization': 'Bearer tok-123'})
        try:
            with urllib.request.urlopen(req, timeout=bound) as resp:
                eq(resp.status, 200, 'alert %d during the attack' % i)
        except (OSError, urllib.error.URLError) as e:
            raise AssertionError('alert %d during the attack not answered within %ss: %r' % (i, bound, e))
        time.sleep(gap)


def test_slowloris_one_address_then_several():
    r = Responder('slowloris', extra=RECORD).start()
    try:
        # 600 half-open POSTs from one address, a byte every 5 s
        t = Trickler(r.port, ['127.0.0.2'], 600)
        t.start()
        time.sleep(2)
        _alerts_answered(r, 12, 10)
        t.stop_ev.set()
        t.join(30)
        # 600 from four addresses
        t = Trickler(r.port, ['127.0.0.%d' % i for i in range(3, 7)], 150)
        t.start()
        time.sleep(2)
        _alerts_answered(r, 12, 10)
        time.sleep(10)  # past the header deadline: the trickling connections are closed
        _alerts_answered(r, 2, 10)
        t.stop_ev.set()
        t.join(30)
        assert t.closed > 0, 'the server closed none of the trickling connections'
        m = r.metrics()
        assert m['kcsi_respond_connections_refused_total{reason="per_client_limit"}'] > 0, m
        assert m['kcsi_respond_connections_closed_total{reason="header_deadline"}'] > 0, m
        eq(r.q("SELECT COUNT(*) FROM events WHERE body LIKE '%during-attack%'")[0][0], 26, 'alerts stored')
    finally:
        eq(r.stop(), 0, 'SIGTERM exit code')


def test_slowloris_all_slots_taken_deadlines_free_them():
    """More attackers than slots: the absolute deadlines (headers, then the
    whole request) free the slots, so an alert waits at most a few deadlines."""
    r = _with_listen(Responder('slowloris-full', extra=RECORD), '  max_connections: 24\n'
                     '  max_connections_per_client: 6\n  header_timeout: 1\n  request_timeout: 3\n').start()
    try:
        heads = Trickler(r.port, ['127.0.1.%d' % i for i in range(1, 9)], 10, every=0.3)
        bodies = Trickler(r.port, ['127.0.2.1', '127.0.2.2'], 6, every=0.3, token='tok-123', body=True)
        heads.start()
        bodies.start()
        time.sleep(2)
        _alerts_answered(r, 6, 15, gap=0.2)
        heads.stop_ev.set()
        bodies.stop_ev.set()
        heads.join(30)
        bodies.join(30)
        assert bodies.closed > 0, 'an authenticated body trickle was never cut'
        m = r.metrics()
        assert m['kcsi_respond_connections_closed_total{reason="request_deadline"}'] > 0, m
        assert m['kcsi_respond_connections_closed_total{reason="header_deadline"}'] > 0, m
    finally:
        eq(r.stop(), 0, 'SIGTERM exit code')


def _with_listen(r, text):
    """Put keys into r's listen section."""
    with open(r.cfg) as f:
        cfg = f.read()
    with open(r.cfg, 'w') as f:
        f.write(cfg.replace('listen:\n', 'listen:\n' + text, 1))
    return r


def test_kept_alive_connection_deadlines():
    """A connection that sent an authenticated alert may idle up to
    request_timeout before its next request; any other has header_timeout."""
    import http.client
    r = _with_listen(Responder('keepalive', extra=RECORD), '  header_timeout: 1\n  request_timeout: 6\n').start()
    try:
        c = http.client.HTTPConnection('127.0.0.1', r.port, timeout=10)
        hdrs = {'Authorization': 'Bearer tok-123', 'Content-Type': 'application/json'}
        c.request('POST', '/', ev(pod='ka-1'), hdrs)
        eq(c.getresponse().read() and 200, 200, 'first alert')
        sock = c.sock
        time.sleep(2.5)  # past header_timeout, within request_timeout
        c.request('POST', '/', ev(pod='ka-2'), hdrs)
        resp = c.getresponse()
        eq(resp.status, 200, 'second alert on the kept-alive connection')
        resp.read()
        assert c.sock is sock, 'the connection was opened again'
        c.close()
        # not authenticated: silence (a GET is answered on its headers and closed)
        s = socket.create_connection(('127.0.0.1', r.port), timeout=10)
        time.sleep(2.5)
        eq(s.recv(1), b'', 'a silent connection is closed at header_timeout')
        s.close()
    finally:
        eq(r.stop(), 0, 'SIGTERM exit code')


def _raw(port, data, timeout=5):
    """Send data on a new connection; return what the server answers before
    closing or going quiet (b'' when nothing)."""
    s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass  # the server may answer and close before reading it all
        got = b''
        while True:
            try:
                b = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not b:
                break
            got += b
            if b'\r\n\r\n' in got and b'}' in got.split(b'\r\n\r\n', 1)[1]:
                break
        return got
    finally:
        s.close()


def test_refused_on_headers_before_the_body():
    r = Responder('early', extra=RECORD).start()
    try:
        # a wrong token with a body announced and never sent: 401 at once
        got = _raw(r.port, b'POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\nContent-Length: 5000\r\n\r\n')
        assert got.startswith(b'HTTP/1.1 401'), got[:200]
        # a body announced larger than max_body: 413 before it is read
        got = _raw(r.port, b'POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-123\r\n'
                   b'Content-Length: 900000000\r\n\r\n')
        assert got.startswith(b'HTTP/1.1 413'), got[:200]
        # a chunked body that never ends: cut once past max_body, not read forever
        s = socket.create_connection(('127.0.0.1', r.port), timeout=10)
        s.sendall(b'POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-123\r\nTransfer-Encoding: chunked\r\n\r\n')
        chunk = b'10000\r\n' + b'a' * 0x10000 + b'\r\n'
        sent = 0
        try:
            while sent < 256 << 20:
                s.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        s.close()
        assert sent < 64 << 20, 'the server read %d bytes of a chunked body over max_body' % sent
        eq(r.post(ev())[0], 200, 'still serving')
        m = r.metrics()
        eq(m['kcsi_respond_events_rejected_total{reason="too_large"}'], 2.0, 'too large')
        eq(m['kcsi_respond_events_rejected_total{reason="auth"}'], 1.0, 'auth')
    finally:
        eq(r.stop(), 0, 'SIGTERM exit code')


# ---- actions that cannot run ----------------------------------------------------------

ALL3 = 'rules:\n  - name: everything\n    priority: ">= Warning"\n    actions: [checkpoint, label, notify]\n'


def test_actions_that_cannot_run_are_config_errors():
    r = Responder('act-none', extra=RECORD, rules=ALL3)
    code, out, err = run('respond', '--config', r.cfg, '--check-config', check=False)
    assert code != 0, '--check-config accepted a rule whose label/notify cannot run: %s' % out.decode()
    assert 'everything' in err and ('notify.url' in err or 'Kubernetes API' in err), err
    eq(len(err.strip().splitlines()), 1, 'one line')
    p = subprocess.run([kt.KCSI, 'respond', '--config', r.cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    assert p.returncode != 0 and b'everything' in p.stderr, p.stderr
    # notify alone without notify.url
    r = Responder('act-notify', extra=RECORD, rules=ALL3.replace('checkpoint, label, notify', 'notify'))
    code, _, err = run('respond', '--config', r.cfg, '--check-config', check=False)
    assert code != 0 and 'notify.url' in err and 'everything' in err, err
    # label alone without the API
    r = Responder('act-label', extra=RECORD, rules=ALL3.replace('checkpoint, label, notify', 'label'))
    code, _, err = run('respond', '--config', r.cfg, '--check-config', check=False)
    assert code != 0 and 'Kubernetes API' in err and 'everything' in err, err
    # a notify URL that is not http(s)
    r = Responder('act-url', extra=RECORD + 'notify:\n  url: "file:///etc/passwd"\n',
                  rules=ALL3.replace('checkpoint, label, notify', 'notify'))
    code, _, err = run('respond', '--config', r.cfg, '--check-config', check=False)
    assert code != 0 and 'notify.url' in err, err
    # a label key Kubernetes would refuse, a hook that is only spaces
    api = 'kubernetes:\n  api: https://127.0.0.1:6443\n'
    for what, extra, key in (('label key', 'label:\n  key: "kcsi.io/bad key!"\n', 'label.key'),
                             ('empty hook', 'hooks:\n  vault: "   "\n', 'hooks.vault')):
        r = Responder('act-' + key, extra=RECORD + api + extra, rules=ALL3.replace('checkpoint, label, notify', 'label'))
        code, _, err = run('respond', '--config', r.cfg, '--check-config', check=False)
        assert code != 0 and key in err, '%s: %s' % (what, err)


def _incidents(r, n, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(r.incidents):
            lines = [json.loads(x) for x in open(r.incidents).read().splitlines() if x.strip()]
            if len(lines) >= n:
                return lines
        time.sleep(0.05)
    raise AssertionError('incidents: %r' % (open(r.incidents).read() if os.path.exists(r.incidents) else None))


def test_incident_says_what_was_done_and_metrics_count_it():
    note = Notified()
    note.start()
    rules = ('rules:\n  - name: ck-notify\n    priority: ">= Warning"\n    actions: [checkpoint, notify]\n')
    # an alert that names no pod: the checkpoint cannot be taken, the notification can
    r = Responder('act-run', extra=RECORD + 'notify:\n  url: http://127.0.0.1:%d/hook\n' % note.port,
                  rules=rules).start()
    try:
        hostonly = json.dumps({'rule': 'Write below binary dir', 'priority': 'Error', 'hostname': 'worker-1',
                               'output_fields': {'proc.name': 'sh'}})
        eq(r.post(hostonly)[0], 200, 'host alert')
        eq(r.post(ev())[0], 200, 'pod alert')
        incs = sorted(_incidents(r, 2), key=lambda x: x['job'])
        host, pod = incs
        eq(host['results']['notify'], 'ok', 'notify sent')
        assert host['results']['checkpoint'].startswith('skipped: '), host
        assert host['result'] != 'ok', 'an incident whose checkpoint was not taken says "ok": %r' % host
        eq(pod['results'], {'checkpoint': 'ok', 'notify': 'ok'}, 'pod incident results')
        eq(pod['result'], 'ok', 'pod incident')
        m = r.wait_idle()
        eq(m['kcsi_respond_checkpoints_total{result="skipped"}'], 1.0, 'checkpoint skipped counted')
        eq(m['kcsi_respond_checkpoints_total{result="ok"}'], 1.0, 'checkpoint ok counted')
        eq(m['kcsi_respond_notifications_total{result="ok"}'], 2.0, 'notifications counted')
    finally:
        eq(r.stop(), 0, 'exit code')
    # dry run: nothing is done, and the incident says so
    r = Responder('act-dry', extra='checkpoint:\n  mode: record\n  dry_run: true\n'
                  'notify:\n  url: http://127.0.0.1:%d/hook\n' % note.port, rules=rules).start()
    try:
        eq(r.post(ev())[0], 200, 'alert')
        inc = _incidents(r, 1)[0]
        eq(inc['results'], {'checkpoint': 'skipped: dry run', 'notify': 'skipped: dry run'}, 'dry run results')
        eq(inc['result'], 'skipped', 'dry run result')
        m = r.wait_idle()
        eq(m['kcsi_respond_checkpoints_total{result="skipped"}'], 1.0, 'skipped checkpoint counted')
        eq(m['kcsi_respond_notifications_total{result="skipped"}'], 1.0, 'skipped notification counted')
        eq(r.q('SELECT COUNT(*) FROM requests')[0][0], 0, 'no request in a dry run')
    finally:
        eq(r.stop(), 0, 'exit code')


# ---- other surfaces -----------------------------------------------------------------

def test_header_flood_and_deep_json():
    r = Responder('surfaces', extra=RECORD).start()
    try:
        many = b''.join(b'X-H%d: v\r\n' % i for i in range(20000))
        got = _raw(r.port, b'POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-123\r\n' + many +
                   b'Content-Length: 2\r\n\r\n{}')
        assert got == b'' or got[9:12] in (b'413', b'431', b'400'), got[:200]
        for depth in (3000, 200000):
            body = '{"rule": "x", "priority": "Critical", "output_fields": {"a": %s}}' % ('[' * depth + ']' * depth)
            eq(r.post(body)[0], 400, 'nested %d deep' % depth)
        eq(r.post(ev())[0], 200, 'still serving')
    finally:
        eq(r.stop(), 0, 'SIGTERM exit code')


def test_long_rule_cut_inside_utf8_kept_valid():
    """Rule names are cut to fit the job's buffers; a cut inside a UTF-8
    sequence made the incident lose its rule and the host target vanish."""
    note = Notified()
    note.start()
    r = Responder('utf8', extra=RECORD + 'notify:\n  url: http://127.0.0.1:%d/hook\n' % note.port,
                  rules='rules:\n  - name: all\n    priority: ">= Debug"\n    actions: [checkpoint, notify]\n').start()
    try:
        rule = 'x' * 510 + '\u00e9' * 300
        eq(r.post(ev(rule=rule))[0], 200, 'alert')
        inc = _incidents(r, 1)[0]
        assert 'rule' in inc and rule.startswith(inc['rule']) and len(inc['rule']) >= 500, inc
        host = json.dumps({'rule': 'y' * 380 + '\u00e9' * 100, 'priority': 'Error', 'hostname': 'h' * 10,
                           'output_fields': {}})
        eq(r.post(host)[0], 200, 'host alert')
        r.wait_idle()
        dec = json.loads(r.q("SELECT decision FROM events WHERE body LIKE '%yyyy%'")[0][0])
        assert dec.get('target', '').startswith('host:hhhhhhhhhh:yyyy'), dec
        c = r.db()
        try:
            for (target, rule) in c.execute('SELECT target, rule FROM jobs'):  # a cut sequence fails to decode
                assert target and rule, (target, rule)
        finally:
            c.close()
    finally:
        eq(r.stop(), 0, 'exit code')


def test_refusals_do_not_leak_memory():
    """Each refused alert leaked its JSON reply object; a stream of bad lines
    grew the responder without bound."""
    def maxrss_kib(nlines):
        d = os.path.join(kt.tmpdir(), 'leak-%d' % nlines)
        os.makedirs(d, exist_ok=True)
        lines = os.path.join(d, 'bad.jsonl')
        bad = json.dumps({'rule': 'x', 'priority': 'P' * 60 + '-not-a-priority'})
        with open(lines, 'w') as f:
            for _ in range(nlines):
                f.write(bad + '\n')
        cfg = os.path.join(d, 'respond.yaml')
        with open(cfg, 'w') as f:
            f.write('inputs:\n  files: [%s]\nstate_dir: %s\nlog: %s\ncheckpoint:\n  mode: record\n'
                    'rules:\n  - name: x\n    actions: [checkpoint]\n' % (lines, os.path.join(d, 'state'),
                                                                       os.path.join(d, 'log')))
        env = dict(os.environ)
        if 'ASAN_OPTIONS' in env:  # ASan keeps freed memory aside: let it be reused, and report leaks
            env['ASAN_OPTIONS'] += ':quarantine_size_mb=0:thread_local_quarantine_size_kb=0'
        rc, _, _, peak = kt.run_peak([kt.KCSI, 'respond', '--config', cfg], env=env)
        eq(rc, 0, 'files-only responder exit code')
        return peak // 1024
    small = maxrss_kib(1000)
    big = maxrss_kib(100000)
    assert big - small < 16 * 1024, 'memory grew %d KiB for 99,000 more refused alerts' % (big - small)


def test_unix_socket_connections_bounded():
    sock = os.path.join(kt.tmpdir(), 'hostile.sock')
    r = Responder('unix', port=False, extra=RECORD + 'inputs:\n  unix_socket: %s\n' % sock).start()
    held = []
    try:
        deadline = time.time() + 10
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.05)
        eq(oct(os.stat(sock).st_mode & 0o777), oct(0o600), 'socket mode')
        closed = 0
        open_socks = []
        for _ in range(300):
            s = socket.socket(socket.AF_UNIX)
            held.append(s)
            try:
                s.connect(sock)
                time.sleep(0.002)
                s.sendall(b'{"rule": "held')  # never a whole line
                open_socks.append(s)
            except OSError:  # closed at accept
                closed += 1
        time.sleep(1)
        for s in open_socks:
            s.settimeout(0.05)
            try:
                if s.recv(1) == b'':
                    closed += 1
            except socket.timeout:
                pass
            except OSError:
                closed += 1
        assert closed >= 300 - 64, 'only %d of 300 idle unix socket connections were refused' % closed
    finally:
        for s in held:
            s.close()
        eq(r.stop(), 0, 'exit code')


# ---- hook commands ------------------------------------------------------------------

class FakeKube(threading.Thread):
    """The Kubernetes API and a kubelet on plain HTTP (loopback): every pod is on
    node-a, and every checkpoint is the archive given."""

    def __init__(self, archive):
        super().__init__(daemon=True)
        import http.server

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self, obj):
                body = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self.answer({'spec': {'nodeName': 'node-a'}})

            def do_POST(self):
                self.rfile.read(int(self.headers.get('Content-Length') or 0))
                self.answer({'items': [archive]})

        self.srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
        self.port = self.srv.server_address[1]

    def run(self):
        self.srv.serve_forever()


def test_alert_value_cannot_become_a_hook_option():
    """A hook's {rule} (or another alert value) that begins with '-' would
    reach the hook command as an option (e.g. `kcsi vault put {rule} ...` with
    the rule "--store=/tmp/elsewhere"): such a hook is not run, and says why;
    the same value after the template's own "--rule=" is passed as it is."""
    d = os.path.join(kt.tmpdir(), 'hook-argv')
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    archive = os.path.join(d, 'checkpoint.tar')
    shutil.copy(kt.fixture('counter'), archive)
    recorder = os.path.join(d, 'record-argv')
    with open(recorder, 'w') as f:
        f.write('#!/usr/bin/env python3\nimport json, os, sys\n'
                'with open(os.path.join(%r, "argv-%%s.json" %% sys.argv[1].split("=")[0].lstrip("-")), "w") as f:\n'
                '    json.dump(sys.argv[1:], f)\n' % d)
    os.chmod(recorder, 0o755)
    kube = FakeKube(archive)
    kube.start()
    base = 'http://127.0.0.1:%d' % kube.port
    r = Responder('hook-argv', extra='kubernetes:\n  api: %s\nkubelet:\n  url: %s\ncheckpoint:\n  cooldown: 0\n'
                  'hooks:\n  vault: "%s {rule} {archive}"\n  analyze: "%s --rule={rule} {archive}"\n'
                  % (base, base, recorder, recorder)).start()
    try:
        hostile = '--output=/tmp/kcsi-hook-owned'
        eq(r.post(ev(rule=hostile))[0], 200, 'alert')
        inc = _incidents(r, 1)[0]
        eq(inc['results'], {'checkpoint': 'ok'}, 'the checkpoint itself')
        vault = inc['hooks']['vault']
        assert 'exit' not in vault and '{rule}' in vault.get('error', ''), vault
        assert not os.path.exists(os.path.join(d, 'argv-output.json')), 'the hook ran with %s' % hostile
        analyze = inc['hooks']['analyze']
        eq(analyze.get('exit'), 0, 'the template\'s own option: %r' % analyze)
        eq(json.load(open(os.path.join(d, 'argv-rule.json'))), ['--rule=' + hostile, archive], 'its argv')
        eq(r.wait_idle()['kcsi_respond_hooks_failed_total'], 1.0, 'the refused hook counted as failed')
        # a rule name that is no option runs both hooks
        eq(r.post(ev(pod='api-2', rule='Terminal shell in container'))[0], 200, 'second alert')
        inc = _incidents(r, 2)[1]
        eq(inc['hooks']['vault'].get('exit'), 0, 'vault hook: %r' % inc['hooks']['vault'])
        eq(json.load(open(os.path.join(d, 'argv-Terminal shell in container.json'))),
           ['Terminal shell in container', archive], 'one argument, spaces and all')
    finally:
        eq(r.stop(), 0, 'exit code')
        kube.srv.shutdown()
