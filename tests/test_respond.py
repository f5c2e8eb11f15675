"""kcsi respond and kcsi checkpoint: Falco alert parsing (the published
events in tests/data/falco-events, in Falco's and Falcosidekick's shapes),
policy decisions, the daemon's durable queue, deduplication, authentication,
hostile input, crash recovery, and the end-to-end path to a real checkpoint
through a kubelet stand-in (tests/respond/kubelet.py) serving mutual TLS."""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import kt
from kt import eq, jrun, run

HERE = os.path.dirname(os.path.abspath(__file__))
EVENTS = os.path.join(HERE, 'data', 'falco-events')
RESP = os.path.join(HERE, 'respond')
sys.path.insert(0, RESP)

# file prefix -> (rule, priority, namespace, pod, container, target_from, reason substring)
EXPECT = {
    '01': ('Terminal shell in container', 'Critical', 'default', 'kubecon', None, 'k8s', 'container ID ee97d9c4186f'),
    '02': ('Terminal shell in container', 'Notice', 'default', 'alpine', None, 'k8s', 'container ID 97c9868ea832'),
    '03': ('Contact K8S API Server From Container', 'Notice', 'openfaas-fn', 'falco-pod-delete-7dc9f5fbb8-gbfk7',
           None, 'k8s', 'container ID 12fc4de5ccc3'),
    '04': ('Contact K8S API Server From Container', 'Notice', 'fission-function',
           'poolmgr-go-default-516098-5bdbf8c8f5-g8gvc', None, 'k8s', 'container ID 281c99ea33c2'),
    '05': ('Attach/Exec Pod', 'Notice', 'default', 'kubecon', None, 'k8s_audit', 'k8s_audit alert names pod default/kubecon but no container'),
    '06': ('Write below binary dir', 'Error', None, None, None, None, 'names no pod and no container'),
    '07': ('Test NetworkPolicy', 'Critical', 'default', 'static-web', None, 'k8s', 'no container.name or container.id'),
    '08': ('Run shell untrusted', 'Debug', 'red-ns', 'wordpress-66cd544579-cv29k', None, 'k8s', 'container ID 854d2f6f3c68'),
    '09': ('Launch Package Management Process in Container', 'Error', 'red-ns', 'wordpress-66cd544579-cv29k',
           'wordpress', 'dockershim', None),
    '10': ('Write below root', 'Error', 'red-ns', 'wordpress-66cd544579-cv29k', None, 'k8s', 'container ID 854d2f6f3c68'),
    '11': ('The docker client is executed in a container', 'Warning', 'red-ns', 'wordpress-66cd544579-cv29k', None,
           'k8s', 'container ID 854d2f6f3c68'),
    '12': ('Launch Suspicious Network Tool in Container', 'Notice', 'red-ns', 'wordpress-66cd544579-cv29k',
           'wordpress', 'dockershim', None),
    '13': ('Packet socket created in container', 'Notice', 'red-ns', 'wordpress-66cd544579-cv29k', 'wordpress',
           'dockershim', None),
    '14': ('Terminal shell in container', 'Notice', None, None, None, None, 'lab9-target id 9965a6a599f6 runs outside Kubernetes'),
    '15': ('Drop and execute new binary in container', 'Critical', None, None, None, None, 'runs outside Kubernetes'),
    '16': ('Launch Suspicious Network Tool in Container', 'Notice', 'falco-custom-lab', 'ubuntu-lab-2',
           'ubuntu-lab-2-container', 'k8s', None),
    'S1': ('Redirect STDOUT/STDIN to Network Connection in Container', 'Notice', 'shop', 'api-7c9f8d6b5-x2k4q', 'api', 'k8s', None),
    'S2': ('Outbound Connection to C2 Servers', 'Warning', 'shop', 'api-7c9f8d6b5-x2k4q', 'api', 'k8s', None),
    'S3': ('Unexpected outbound connection destination', 'Notice', 'shop', 'api-7c9f8d6b5-x2k4q', 'api', 'k8s', None),
    'S4': ('Detect crypto miners using the Stratum protocol', 'Critical', 'shop', 'api-7c9f8d6b5-x2k4q', 'api', 'k8s', None),
    'S5': ('Launch Suspicious Network Tool in Container', 'Notice', 'falco-custom-lab', 'ubuntu-lab-2',
           'ubuntu-lab-2-container', 'k8s', None),
}


def event_files():
    fs = sorted(f for f in os.listdir(EVENTS) if f.endswith('.json'))
    eq(sorted(f[:2] for f in fs), sorted(EXPECT), 'event files')
    return [os.path.join(EVENTS, f) for f in fs]


def sidekick_shape(path, n):
    """The alert as Falcosidekick's webhook sends it: its struct order, a uuid,
    numbers as written (the raw text is kept so 64-bit values stay exact)."""
    with open(path) as f:
        raw = f.read()
    ev = json.loads(raw)
    order = ['uuid', 'output', 'priority', 'rule', 'Rule', 'time', 'output_fields', 'source', 'tags', 'hostname']
    ev['uuid'] = '00000000-0000-4000-8000-%012d' % n
    out = {k: ev[k] for k in order if k in ev}
    text = json.dumps(out)
    # json round trip keeps Python ints exact; 18446744073670260079 stays a bare number
    return text


def check_parsed(rows, what):
    for row in rows:
        key = os.path.basename(row['file'])[:2]
        rule, prio, ns, pod, ctr, tf, reason = EXPECT[key]
        assert row['ok'], '%s %s: %s' % (what, key, row)
        eq(row['rule'], rule, '%s %s rule' % (what, key))
        eq(row['priority'], prio, '%s %s priority' % (what, key))
        eq(row['namespace'], ns, '%s %s namespace' % (what, key))
        eq(row['pod'], pod, '%s %s pod' % (what, key))
        eq(row['container'], ctr, '%s %s container' % (what, key))
        eq(row['target_from'], tf, '%s %s target_from' % (what, key))
        if reason:
            assert reason in (row['reason'] or ''), '%s %s reason: %r' % (what, key, row['reason'])
        else:
            eq(row['reason'], None, '%s %s reason' % (what, key))


def test_parse_published_events_falco_shape():
    rows = jrun('respond', '--parse', *event_files())
    eq(len(rows), len(EXPECT), 'rows')
    check_parsed(rows, 'falco')
    by = {os.path.basename(r['file'])[:2]: r for r in rows}
    eq(by['15']['big_integers'], 1, '15: the value above INT64_MAX')
    eq(by['07']['rule'], 'Test NetworkPolicy', '07: key "Rule"')
    eq(by['02']['source'], 'syscall', '02: no source means syscall')
    eq(by['S5']['uuid'], '0b7c9a52-3f0e-4d4a-9a51-2a8f3c6e1d77', 'S5 uuid')
    assert 'cluster-prod' in by['S5']['tags']


def test_parse_published_events_sidekick_shape():
    d = os.path.join(kt.tmpdir(), 'sidekick')
    os.makedirs(d, exist_ok=True)
    paths = []
    for i, p in enumerate(event_files()):
        q = os.path.join(d, os.path.basename(p))
        with open(q, 'w') as f:
            f.write(sidekick_shape(p, i))
        paths.append(q)
    rows = jrun('respond', '--parse', *paths)
    check_parsed(rows, 'sidekick')
    for i, r in enumerate(rows):
        assert r['uuid'].startswith('00000000-0000-4000-8000-'), r
    # and as JSON lines in one file
    lines = os.path.join(d, 'all.jsonl')
    with open(lines, 'w') as f:
        for p in paths:
            f.write(open(p).read() + '\n')
    rows2 = jrun('respond', '--parse', lines)
    eq(len(rows2), len(paths), 'JSON lines')
    eq([r['rule'] for r in rows2], [r['rule'] for r in rows], 'same rules as JSON lines')


# ---- the daemon -------------------------------------------------------------------

import hashlib  # noqa: E402
import hmac  # noqa: E402
import sqlite3  # noqa: E402
import ssl  # noqa: E402
import threading  # noqa: E402
import urllib.error  # noqa: E402

LOAD_N = int(os.environ.get('KCSI_RESPOND_LOAD', '20000'))
_loadgen = None


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def loadgen():
    global _loadgen
    if _loadgen is None:
        _loadgen = os.path.join(kt.tmpdir(), 'loadgen')
        if not shutil.which('cc'):
            raise kt.Skip('no C compiler for the load client')
        subprocess.run(['cc', '-O2', '-pthread', '-o', _loadgen, os.path.join(RESP, 'loadgen.c')], check=True)
    return _loadgen


def yaml_str(s):
    return json.dumps(s)  # JSON strings are YAML strings


class Responder:
    """kcsi respond with a config made from the keyword arguments."""

    def __init__(self, name, extra='', port=True, auth='  bearer_token: "tok-123"\n', rules=None, tls=None):
        self.dir = os.path.join(kt.tmpdir(), 'respond-' + name)
        if os.path.exists(self.dir):
            shutil.rmtree(self.dir)
        os.makedirs(self.dir)
        self.port = free_port() if port else 0
        self.tls = tls
        self.cfg = os.path.join(self.dir, 'respond.yaml')
        self.log = os.path.join(self.dir, 'log.jsonl')
        self.incidents = os.path.join(self.dir, 'incidents.jsonl')
        listen = '  address: 127.0.0.1\n  port: %d\n' % self.port
        if tls:
            listen += '  tls_cert: %s\n  tls_key: %s\n' % (tls['server_crt'], tls['server_key'])
            if tls.get('client_ca'):
                listen += '  client_ca: %s\n' % tls['client_ca']
        with open(self.cfg, 'w') as f:
            f.write('listen:\n%sauth:\n%sstate_dir: %s\nincident_log: %s\n%s' % (
                listen, auth, os.path.join(self.dir, 'state'), self.incidents, extra))
            f.write(rules if rules is not None else
                    'rules:\n  - name: serious\n    priority: ">= Warning"\n    actions: [checkpoint]\n'
                    'exclude:\n  namespaces: [kube-system]\n')
        self.p = None

    def start(self):
        self.logf = open(self.log, 'ab')
        self.p = subprocess.Popen([kt.KCSI, 'respond', '--config', self.cfg], stdout=self.logf, stderr=self.logf)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise AssertionError('responder exited %d: %s' % (self.p.returncode, open(self.log).read()[-2000:]))
            if not self.port:
                return self
            try:
                if self.get('/readyz')[0] == 200:
                    return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        raise AssertionError('responder not ready: ' + open(self.log).read()[-2000:])

    def url(self, path):
        return '%s://127.0.0.1:%d%s' % ('https' if self.tls else 'http', self.port, path)

    def ctx(self, cert=None):
        if not self.tls:
            return None
        c = ssl.create_default_context(cafile=self.tls['ca'])
        if cert:
            c.load_cert_chain(*cert)
        return c

    def get(self, path):
        try:
            with urllib.request.urlopen(self.url(path), timeout=10, context=self.ctx()) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def post(self, body, token='tok-123', headers=None, cert=None, path='/'):
        if isinstance(body, str):
            body = body.encode()
        h = {'Content-Type': 'application/json'}
        if token:
            h['Authorization'] = 'Bearer ' + token
        h.update(headers or {})
        req = urllib.request.Request(self.url(path), data=body, headers=h, method='POST')
        try:
            with urllib.request.urlopen(req, timeout=20, context=self.ctx(cert)) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b'{}')

    def metrics(self):
        out = {}
        for line in self.get('/metrics')[1].splitlines():
            if line and not line.startswith('#'):
                k, v = line.rsplit(' ', 1)
                out[k] = float(v)
        return out

    def db(self):
        c = sqlite3.connect(os.path.join(self.dir, 'state', 'queue.db'), timeout=10)
        return c

    def q(self, sql):
        c = self.db()
        try:
            return c.execute(sql).fetchall()
        finally:
            c.close()

    def wait_idle(self, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.metrics()
            undecided = self.q('SELECT COUNT(*) FROM events WHERE state = 0')[0][0]
            if m['kcsi_respond_jobs_pending'] == 0 and undecided == 0:
                return m
            time.sleep(0.1)
        raise AssertionError('responder did not finish: %r' % self.metrics())

    def stop(self, sig=signal.SIGTERM):
        if self.p and self.p.poll() is None:
            self.p.send_signal(sig)
            self.p.wait(timeout=30)
        if self.p:
            self.logf.close()
        return self.p.returncode if self.p else None

    def logs(self):
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.startswith('{')]


def ev(ns='shop', pod='api-7c9f8d6b5-x2k4q', ctr='api', rule='Terminal shell in container', prio='Critical', **kw):
    e = {'output': 'x', 'priority': prio, 'rule': rule, 'source': 'syscall', 'tags': ['container'],
         'time': '2026-03-04T10:15:01.%09dZ' % random.randrange(10 ** 9), 'hostname': 'worker-1',
         'output_fields': {'k8s.ns.name': ns, 'k8s.pod.name': pod, 'container.name': ctr,
                           'container.image.repository': 'docker.io/library/python', 'evt.time': random.randrange(10 ** 18)}}
    e.update(kw)
    return json.dumps(e)


def test_config_checks():
    r = Responder('cfg', auth='  {}\n')
    code, _, err = run('respond', '--config', r.cfg, '--check-config', check=False)
    eq(code, 4, 'no authentication is refused')
    assert 'allow_unauthenticated' in err, err
    r = Responder('cfg2', auth='  allow_unauthenticated: true\n')
    code, _, err = run('respond', '--config', r.cfg, '--check-config', check=False)
    assert code == 4 and 'Kubernetes API' in err, 'kubelet mode needs the API: ' + err
    r = Responder('cfg2b', auth='  allow_unauthenticated: true\n',
                  extra='kubernetes:\n  api: https://127.0.0.1:6443\n')
    out = json.loads(run('respond', '--config', r.cfg, '--check-config')[1])
    eq(out['auth'], ['none'], 'auth')
    eq(out['mode'], 'kubelet', 'default mode')
    r = Responder('cfg3', rules='rules:\n  - name: x\n    rule_regex: "(["\n    actions: [checkpoint]\n')
    code, _, err = run('respond', '--config', r.cfg, '--check-config', check=False)
    eq(code, 4, 'bad regex')
    assert 'rule_regex' in err, err
    r = Responder('cfg4', rules='rules:\n  - name: x\n    priority: ">= Loud"\n    actions: [checkpoint]\n')
    code, _, err = run('respond', '--config', r.cfg, '--check-config', check=False)
    assert code == 4 and 'priority' in err, err


def test_policy_decisions():
    r = Responder('policy', extra='checkpoint:\n  mode: record\nkubernetes:\n  api: https://127.0.0.1:6443\n'
                  'notify:\n  url: https://hooks.example/kcsi\n', rules='''rules:
  - name: miners
    rule_regex: "(?i)crypto miners"
    actions: [checkpoint, label, notify]
  - name: shells-in-prod
    rule: [Terminal shell in container]
    fields: {k8s.ns.name: "prod-*"}
    actions: [checkpoint]
  - name: network-tools
    rule_glob: "Launch Suspicious Network Tool*"
    tags: [network]
    tags_any: [IRT_Alert, never]
    actions: [notify]
  - name: serious
    priority: ">= Error"
    source: syscall
    actions: [checkpoint]
exclude:
  namespaces: [kube-system]
  images: ["docker.io/library/alp*"]
''')
    rows = jrun('respond', '--parse', '--config', r.cfg, *event_files())
    by = {os.path.basename(x['file'])[:2]: x['decision'] for x in rows}
    eq(by['S4']['policy_rule'], 'miners', 'S4 regex')
    eq(by['S4']['actions'], ['checkpoint', 'label', 'notify'], 'S4 actions')
    eq(by['16']['policy_rule'], 'network-tools', '16 glob + tags')
    eq(by['12']['policy_rule'], None, '12: no IRT_Alert tag, Notice')
    eq(by['15']['policy_rule'], 'serious', '15 priority')
    eq(by['01']['excluded'], 'image', '01 alpine image excluded')
    eq(by['05']['policy_rule'], None, '05 k8s_audit source is not syscall')
    eq(by['11']['policy_rule'], None, '11 Warning < Error')
    eq(by['09']['policy_rule'], 'serious', '09 Error')


def test_bad_input_refused_daemon_keeps_serving():
    r = Responder('bad', extra='checkpoint:\n  mode: record\nlisten_unused: 0\n'.replace('listen_unused: 0\n', '')).start()
    try:
        cases = [
            ('not json', b'{"rule": ', 400),
            ('array', b'[1, 2]', 400),
            ('empty', b'', 400),
            ('no rule', json.dumps({'priority': 'Critical', 'output_fields': {}}).encode(), 400),
            ('rule a number', json.dumps({'rule': 7, 'priority': 'Critical'}).encode(), 400),
            ('bad priority', json.dumps({'rule': 'x', 'priority': 'Loud'}).encode(), 400),
            ('tags not a list', ev(tags='container').encode(), 400),
            ('fields not an object', json.dumps({'rule': 'x', 'priority': 'Critical', 'output_fields': [1]}).encode(), 400),
            ('ns a number', json.dumps({'rule': 'x', 'priority': 'Critical', 'output_fields': {'k8s.ns.name': 5}}).encode(), 400),
            ('dot-dot namespace', ev(ns='../../etc').encode(), 422),
            ('encoded dot-dot pod', ev(pod='%2e%2e').encode(), 422),
            ('slash in container', ev(ctr='api/../../x').encode(), 422),
            ('newline in pod', ev(pod='web\nGET /x').encode(), 422),
            ('unicode pod', ev(pod='wеb').encode(), 422),  # Cyrillic e
            ('upper case', ev(ns='Shop').encode(), 422),
            ('query in container', ev(ctr='api?x=1').encode(), 422),
            ('bad dockershim name', ev(ctr='k8s_a_b/../c_d_e_0').encode(), 422),
            ('not utf-8', b'{"rule": "\xff", "priority": "Critical"}', 400),
            ('huge body', ('{"rule": "x", "priority": "Critical", "output": "%s"}' % ('A' * (2 << 20))).encode(), 413),
        ]
        for what, body, want in cases:
            code, rep = r.post(body)
            eq(code, want, what)
            eq(rep.get('accepted'), False, what + ' accepted')
        eq(r.post(ev(), token='wrong')[0], 401, 'wrong token')
        eq(r.post(ev(), token=None)[0], 401, 'no token')
        eq(r.get('/nope')[0], 404, 'unknown path')
        code, rep = r.post(ev())
        eq(code, 200, 'a good alert after all that')
        eq(rep['accepted'], True, 'accepted')
        m = r.metrics()
        eq(m['kcsi_respond_events_rejected_total{reason="unsafe_name"}'], 8.0, 'unsafe')
        eq(m['kcsi_respond_events_rejected_total{reason="too_large"}'], 1.0, 'too large')
        eq(m['kcsi_respond_events_rejected_total{reason="auth"}'], 2.0, 'auth')
        r.wait_idle()
        eq(r.get('/healthz')[0], 200, 'alive')
        refusals = [x for x in r.logs() if x['msg'] == 'alert refused']
        assert any('not a DNS-1123' in x['reason'] for x in refusals), refusals
        for x in refusals:
            assert '\n' not in json.dumps(x)[1:-1].replace('\\n', ''), x
    finally:
        eq(r.stop(), 0, 'SIGTERM exit code')


def test_replay_and_cooldown_one_checkpoint():
    r = Responder('dedup', extra='checkpoint:\n  mode: record\n  cooldown: 3600\n').start()
    try:
        body = ev()
        c1, a = r.post(body)
        c2, b = r.post(body)
        eq((c1, c2), (200, 200), 'codes')
        eq(b['duplicate'], True, 'replay flagged')
        eq(a['id'], b['id'], 'replay has the same id')
        for i in range(30):
            eq(r.post(ev(rule='Drop and execute new binary in container'))[0], 200, 'more alerts')
        r.post(ev(pod='other-pod'))
        r.post(ev(ctr='sidecar'))
        r.post(ev(prio='Notice'))  # not matched
        r.post(ev(ns='kube-system'))  # excluded
        m = r.wait_idle()
        reqs = r.q('SELECT url FROM requests ORDER BY id')
        eq(len(reqs), 3, 'one checkpoint per container: %r' % reqs)
        eq(m['kcsi_respond_events_deduplicated_total'], 30.0, 'deduplicated')
        eq(m['kcsi_respond_events_replayed_total'], 1.0, 'replayed')
        eq(m['kcsi_respond_events_excluded_total'], 1.0, 'excluded')
        assert reqs[0][0].endswith('/checkpoint/shop/api-7c9f8d6b5-x2k4q/api?timeout=60'), reqs
    finally:
        r.stop()
    # after a restart the cooldown still holds and the replay is still known
    r.start()
    try:
        eq(r.post(body)[1]['duplicate'], True, 'replay after restart')
        r.post(ev())
        r.wait_idle()
        eq(r.q('SELECT COUNT(*) FROM requests')[0][0], 3, 'no new checkpoint after restart')
    finally:
        r.stop()


def test_hmac_and_inputs():
    secret = os.path.join(kt.tmpdir(), 'hmac.secret')
    with open(secret, 'w') as f:
        f.write('k3y-for-hmac\n')
    sock = os.path.join(kt.tmpdir(), 'respond.sock')
    lines = os.path.join(kt.tmpdir(), 'alerts.jsonl')
    with open(lines, 'w') as f:
        f.write(ev(pod='from-file') + '\n' + 'garbage\n' + ev(pod='from-file-2') + '\n')
    r = Responder('hmac', auth='  hmac_secret_file: %s\n' % secret,
                  extra='checkpoint:\n  mode: record\ninputs:\n  files: [%s]\n  unix_socket: %s\n' % (lines, sock)).start()
    try:
        body = ev(pod='from-http').encode()
        sig = 'sha256=' + hmac.new(b'k3y-for-hmac', body, hashlib.sha256).hexdigest()
        eq(r.post(body, token=None, headers={'X-Kcsi-Signature': sig})[0], 200, 'signed')
        eq(r.post(body + b' ', token=None, headers={'X-Kcsi-Signature': sig})[0], 401, 'body changed')
        eq(r.post(body, token=None)[0], 401, 'unsigned')
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.sendall((ev(pod='from-socket') + '\n').encode())
        s.close()
        deadline = time.time() + 10
        while time.time() < deadline and r.q('SELECT COUNT(*) FROM requests')[0][0] < 4:
            time.sleep(0.05)
        urls = [u for (u,) in r.q('SELECT url FROM requests')]
        eq(sorted(u.split('/')[5] for u in urls), ['from-file', 'from-file-2', 'from-http', 'from-socket'], 'pods')
        eq(r.metrics()['kcsi_respond_events_rejected_total{reason="malformed"}'], 1.0, 'garbage line')
    finally:
        r.stop()


def test_mutual_tls():
    c = certs.make(os.path.join(kt.tmpdir(), 'certs'))
    r = Responder('mtls', auth='  mtls: true\n', extra='checkpoint:\n  mode: record\n',
                  tls={'server_crt': c['server_crt'], 'server_key': c['server_key'], 'client_ca': c['ca'], 'ca': c['ca']})
    r.start()
    try:
        eq(r.post(ev(), token=None, cert=(c['client_crt'], c['client_key']))[0], 200, 'trusted client')
        eq(r.post(ev(), token=None, cert=(c['rogue_crt'], c['rogue_key']))[0], 401, 'client of another CA')
        eq(r.post(ev(), token=None)[0], 401, 'no client certificate')
    finally:
        r.stop()


import certs  # noqa: E402


def _expected(events_file):
    with open(events_file) as f:
        return f.read().splitlines()


def test_load_none_lost_right_checkpoints():
    ev_file = os.path.join(kt.tmpdir(), 'load.jsonl')
    info = json.loads(subprocess.run([sys.executable, os.path.join(RESP, 'events.py'), str(LOAD_N), ev_file],
                                     stdout=subprocess.PIPE, check=True).stdout)
    r = Responder('load', extra='checkpoint:\n  mode: record\n  cooldown: 86400\n').start()
    try:
        p = subprocess.run([loadgen(), '127.0.0.1', str(r.port), ev_file, '32', 'tok-123'],
                           stdout=subprocess.PIPE, check=True, timeout=600)
        res = json.loads(p.stdout)
        print('  load: %d alerts, %.0f/s, p99 %.2f ms' % (res['acked'], res['rate'], res['p99_ms']))
        eq(res['acked'], LOAD_N, 'every alert acknowledged')
        m = r.wait_idle()
        eq(r.q('SELECT COUNT(*) FROM events')[0][0], info['distinct_lines'], 'stored (replays once)')
        eq(r.q('SELECT COUNT(*) FROM events WHERE state != 1')[0][0], 0, 'all decided')
        got = sorted(u.split('/checkpoint/')[1].split('?')[0] for (u,) in r.q('SELECT url FROM requests'))
        eq(got, sorted(info['targets']), 'checkpoints requested')
        eq(m['kcsi_respond_events_received_total'], float(LOAD_N), 'received')
    finally:
        r.stop()


def test_kill9_during_load_exactly_once():
    n = max(LOAD_N // 2, 10000)
    ev_file = os.path.join(kt.tmpdir(), 'kill.jsonl')
    info = json.loads(subprocess.run([sys.executable, os.path.join(RESP, 'events.py'), str(n), ev_file,
                                      '--seed', '7'], stdout=subprocess.PIPE, check=True).stdout)
    r = Responder('kill9', extra='checkpoint:\n  mode: record\n  cooldown: 86400\n').start()
    acks = os.path.join(r.dir, 'acks1')
    lg = subprocess.Popen([loadgen(), '127.0.0.1', str(r.port), ev_file, '16', 'tok-123', acks],
                          stdout=subprocess.PIPE)
    time.sleep(0.4)
    r.p.kill()  # SIGKILL mid-way
    r.p.wait()
    r.logf.close()
    lg.wait(timeout=300)
    first = json.loads(lg.stdout.read())
    assert 0 < first['acked'] < n, 'the kill should land mid-way: %r' % first
    lines = _expected(ev_file)
    acked = [lines[int(i)] for i in open(acks).read().split()]
    # everything acknowledged before the kill is in the queue
    keys = {'sha256:' + hashlib.sha256(x.encode()).hexdigest() for x in acked}
    c = r.db()
    stored = {k for (k,) in c.execute('SELECT key FROM events')}
    c.close()
    missing = keys - stored
    eq(len(missing), 0, 'acknowledged alerts lost by kill -9')
    # restart; the sender sends everything again (as a retrying sender would)
    r.start()
    try:
        second = json.loads(subprocess.run([loadgen(), '127.0.0.1', str(r.port), ev_file, '16', 'tok-123'],
                                           stdout=subprocess.PIPE, check=True, timeout=600).stdout)
        eq(second['acked'], n, 'second pass acknowledged')
        r.wait_idle()
        eq(r.q('SELECT COUNT(*) FROM events')[0][0], info['distinct_lines'], 'each alert stored once')
        eq(r.q('SELECT COUNT(*) FROM events WHERE state != 1')[0][0], 0, 'all decided')
        got = [u.split('/checkpoint/')[1].split('?')[0] for (u,) in r.q('SELECT url FROM requests')]
        eq(len(got), len(set(got)), 'no container checkpointed twice')
        eq(sorted(got), sorted(info['targets']), 'every container checkpointed')
        jobs = r.q('SELECT target, COUNT(*) FROM jobs GROUP BY target HAVING COUNT(*) > 1')
        eq(jobs, [], 'one job per container')
    finally:
        r.stop()


# ---- end to end: a lab container, the kubelet stand-in, a real checkpoint -----------

IMAGE = 'localhost/debian-perl:12'
PODMAN = ['podman', '--runtime', 'runc']
LAB_RUN = ['--network', 'host', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096']


def _lab_ready():
    if os.geteuid() != 0:
        raise kt.Skip('needs root (podman + CRIU)')
    if not shutil.which('podman'):
        raise kt.Skip('podman not installed (lab/setup.sh)')
    import test_lab
    test_lab._setup()  # installs CRIU 4.2 and builds the image when missing; skips where it cannot
    if subprocess.run(PODMAN + ['image', 'exists', IMAGE]).returncode != 0:
        raise kt.Skip('image %s missing (lab/setup.sh)' % IMAGE)


class Notified(threading.Thread):
    """A notify webhook on loopback that keeps what it is sent."""

    def __init__(self):
        super().__init__(daemon=True)
        from http.server import BaseHTTPRequestHandler, HTTPServer
        got = self.got = []

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                got.append(json.loads(self.rfile.read(int(self.headers['Content-Length']))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass
        self.srv = HTTPServer(('127.0.0.1', 0), H)
        self.port = self.srv.server_address[1]

    def run(self):
        self.srv.serve_forever()


def test_end_to_end_alert_to_verified_checkpoint():
    _lab_ready()
    c = certs.make(os.path.join(kt.tmpdir(), 'certs'))
    work = os.path.join(kt.tmpdir(), 'e2e')
    os.makedirs(work, exist_ok=True)
    name = 'kcsi-resp-e2e-%d' % os.getpid()
    subprocess.run(PODMAN + ['rm', '-f', name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(PODMAN + ['run', '-d', '--name', name, '--label', 'kcsi-lab=respond-e2e'] + LAB_RUN +
                   [IMAGE, 'sh', '-c', 'while :; do sleep 3600; done'], check=True, stdout=subprocess.DEVNULL)
    kub = None
    r = None
    try:
        # the attack: a process that hides as a kernel thread and talks IRC to a C2 on the host's
        # loopback, double-forked so it is pid 1's child (it loops on sleep: a checkpoint
        # interrupts the sleep call)
        c2 = socket.socket()
        c2.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        c2.bind(('127.66.1.2', 6667))
        c2.listen(4)
        c2_conns = []
        threading.Thread(target=lambda: c2_conns.append(c2.accept()), daemon=True).start()
        subprocess.run(PODMAN + ['exec', name, 'sh', '-c',
                                 "(perl -MIO::Socket::INET -e '$0=q{[kworker/0:2-evil]}; open(my $f, q{>}, q{/tmp/.x}); "
                                 "my $s=IO::Socket::INET->new(q{127.66.1.2:6667}) or die; "
                                 "print $s qq{NICK ev1l\\r\\nUSER ev1l 0 * :k\\r\\nJOIN #ops\\r\\n}; sleep 900 while 1' &)"],
                       check=True)
        deadline = time.time() + 10
        while time.time() < deadline and not c2_conns:
            time.sleep(0.1)
        assert c2_conns, 'the attack did not reach its C2'
        time.sleep(0.5)
        cid = subprocess.run(PODMAN + ['inspect', '-f', '{{.Id}}', name], stdout=subprocess.PIPE,
                             check=True).stdout.decode().strip()
        state = os.path.join(work, 'cluster.json')
        with open(state, 'w') as f:
            json.dump({'pods': {'shop/web-5d8f7-abcde': {'nodeName': 'node-a', 'containers': {
                'app': {'id': cid, 'podman': name}}}}}, f)
        kport = free_port()
        ckdir = os.path.join(work, 'checkpoints')
        kub = subprocess.Popen([sys.executable, os.path.join(RESP, 'kubelet.py'), '--port', str(kport),
                                '--cert', c['server_crt'], '--key', c['server_key'], '--client-ca', c['ca'],
                                '--state', state, '--checkpoints', ckdir, '--token', 'api-token'],
                               stdout=subprocess.PIPE)
        assert kub.stdout.readline().strip() == b'ready'
        tokf = os.path.join(work, 'api-token')
        with open(tokf, 'w') as f:
            f.write('api-token\n')
        note = Notified()
        note.start()
        base = 'https://127.0.0.1:%d' % kport
        r = Responder('e2e', extra='''kubernetes:
  api: %s
  token_file: %s
  cacert: %s
  cert: %s
  key: %s
kubelet:
  nodes: {node-a: "%s"}
  cert: %s
  key: %s
  cacert: %s
  timeout: 60
checkpoint:
  cooldown: 600
notify:
  url: http://127.0.0.1:%d/hook
hooks:
  analyze: "%s analyze --format json {archive}"
  vault: "sh -c true {archive} {incident}"
''' % (base, tokf, c['ca'], c['client_crt'], c['client_key'], base, c['client_crt'], c['client_key'], c['ca'],
            note.port, kt.KCSI), rules='''rules:
  - name: hidden-process
    rule: Drop and execute new binary in container
    priority: ">= Error"
    actions: [checkpoint, label, notify]
''').start()
        # event 15's shape, about this pod; the container named by its ID only (as 01-04, 08, 10, 11)
        with open(os.path.join(EVENTS, '15-drop-and-execute-new-binary-in-container_falco-0.43-modern.json')) as f:
            raw = f.read()
        alert = raw.replace('"k8s.ns.name": null', '"k8s.ns.name": "shop"').replace(
            '"k8s.pod.name": null', '"k8s.pod.name": "web-5d8f7-abcde"').replace(
            '"container.id": "9965a6a599f6"', '"container.id": "%s"' % cid[:12]).replace(
            '"container.name": "lab9-target"', '"container.name": null')
        t0 = time.time()
        code, rep = r.post(alert)
        eq(code, 200, 'accepted: %r' % rep)
        deadline = time.time() + 120
        while time.time() < deadline and not (os.path.exists(r.incidents) and open(r.incidents).read().strip()):
            time.sleep(0.1)
        inc = json.loads(open(r.incidents).read().splitlines()[0])
        print('  alert to archive: %.2fs (checkpoint %.2fs)' % (time.time() - t0, inc.get('checkpoint_seconds', 0)))
        eq(inc['result'], 'ok', 'incident: %r' % inc)
        eq((inc['namespace'], inc['pod'], inc['container'], inc['node']), ('shop', 'web-5d8f7-abcde', 'app', 'node-a'),
           'target (container name from the pod status by ID)')
        arch = inc['archive']
        assert os.path.basename(arch).startswith('checkpoint-web-5d8f7-abcde_shop-app-'), arch
        eq(inc['sha256'], hashlib.sha256(open(arch, 'rb').read()).hexdigest(), 'sha256 recorded')
        eq(r.q('SELECT sha256, event FROM jobs')[0], (inc['sha256'], rep['id']), 'sha256 with its event')
        show = jrun('show', '--json', arch)[0]
        eq((show['namespace'], show['pod'], show['container']), ('shop', 'web-5d8f7-abcde', 'app'), 'kcsi show')
        procs = jrun('ps', '--json', arch)
        evil = [p for p in procs if p['cmdline'] == ['[kworker/0:2-evil]']]
        eq(len(evil), 1, 'the attack process is in the checkpoint: %r' % [p['cmdline'] for p in procs])
        eq(evil[0]['exe'], '/usr/bin/perl', 'its real executable')
        eq(inc['hooks']['analyze']['exit'], 0, 'analyze hook')
        verdict = json.load(open(inc['hooks']['analyze']['output']))
        eq(verdict['verdict'], 'malicious', 'kcsi analyze on the new archive: %r' % [
            (f['id'], f['severity']) for f in verdict['findings']])
        assert {'KCSI-MASQ-001', 'KCSI-NET-IRC-001'} <= {f['id'] for f in verdict['findings']}
        eq(inc['hooks']['vault']['exit'], 0, 'vault hook')
        eq(inc['results'], {'checkpoint': 'ok', 'label': 'ok', 'notify': 'ok'}, 'every action done')
        pod = json.load(open(state))['pods']['shop/web-5d8f7-abcde']
        eq(pod['metadata']['labels']['kcsi.io/incident'], inc['incident'], 'pod labelled')
        eq(pod['metadata']['annotations']['kcsi.io/sha256'], inc['sha256'], 'pod annotated')
        deadline = time.time() + 10
        while time.time() < deadline and not note.got:
            time.sleep(0.05)
        eq(note.got[0]['incident'], inc['incident'], 'notify webhook')
        reqs = [json.loads(x) for x in open(os.path.join(ckdir, 'requests.jsonl'))]
        eq([x['path'] for x in reqs if x['method'] == 'POST'],
           ['/checkpoint/shop/web-5d8f7-abcde/app?timeout=60'], 'one kubelet request')
        # a second alert on the same container inside the cooldown: no new checkpoint
        eq(r.post(alert.replace('09:44:58', '09:44:59'))[0], 200, 'second alert')
        r.wait_idle()
        eq(len([x for x in open(os.path.join(ckdir, 'requests.jsonl')) if '"POST"' in x]), 1, 'cooldown')

        # kcsi checkpoint by hand against the same kubelet
        rc, out, err = run('checkpoint', '--kubelet', base, '--cert', c['client_crt'], '--key', c['client_key'],
                           '--cacert', c['ca'], '--timeout', '30', '--sha256', 'shop/web-5d8f7-abcde/app')
        path = out.decode().split()[0]
        assert os.path.basename(path).startswith('checkpoint-web-5d8f7-abcde_shop-app-') and os.path.exists(path), out
        rc, out, err = run('checkpoint', '--kubelet', base, '--cert', c['client_crt'], '--key', c['client_key'],
                           '--cacert', c['ca'], 'shop/no-such-pod/app', check=False)
        assert rc == 8 and '404' in err, err
        rc, out, err = run('checkpoint', '--kubelet', base, '--cert', c['client_crt'], '--key', c['client_key'],
                           '--cacert', c['ca'], 'fail-500/p/c', check=False)
        assert rc == 1 and '500' in err and 'CRIU dump failed' in err, err
        rc, out, err = run('checkpoint', '--kubelet', base, '--cert', c['rogue_crt'], '--key', c['rogue_key'],
                           '--cacert', c['ca'], 'shop/web-5d8f7-abcde/app', check=False)
        assert rc != 0 and err, 'a client certificate of another CA is refused: ' + err
        rc, out, err = run('checkpoint', '--kubelet', base, 'shop/%2e%2e/app', check=False)
        eq(rc, 9, 'hostile name: ' + err)
        # and podman directly
        rc, out, err = run('checkpoint', '--podman', '--output', work, name)
        p2 = jrun('ps', '--json', out.decode().strip())
        assert [p for p in p2 if p['cmdline'] == ['[kworker/0:2-evil]']], 'podman checkpoint: %r' % p2
    finally:
        if r:
            r.stop()
        if kub:
            kub.kill()
            kub.wait()
        subprocess.run(PODMAN + ['rm', '-f', '-t', '0', name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
