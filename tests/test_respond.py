"""kcsi respond and kcsi checkpoint: Falco alert parsing (the published
events in tests/data/falco-events, in Falco's and Falcosidekick's shapes),
policy decisions, the daemon's durable queue, deduplication, authentication,
hostile input, crash recovery; the ways to a kubelet from inside a cluster
(client certificate, service account token, the node's address from its
status, the API server's node proxy, kubeconfigs, the kubelet's CA and the
logged opt-out) against a TLS stand-in of a node and its API server
(tests/respond/kubelet.py); the node agent's vault receipts; and the
end-to-end path to a real containerd CRI checkpoint through that stand-in."""
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

from standin import free_port  # noqa: E402

LOAD_N = int(os.environ.get('KCSI_RESPOND_LOAD', '20000'))
_loadgen = None


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
            # the store first, the counters after: a decision is counted before its
            # event leaves state 0, so metrics read after an empty queue include it
            undecided = self.q('SELECT COUNT(*) FROM events WHERE state = 0')[0][0]
            open_jobs = self.q('SELECT COUNT(*) FROM jobs WHERE state = 0')[0][0]
            m = self.metrics()
            if m['kcsi_respond_jobs_pending'] == 0 and undecided == 0 and open_jobs == 0:
                return self.metrics()
            time.sleep(0.1)
        raise AssertionError('responder did not finish: %r' % self.metrics())

    def stop(self, sig=signal.SIGTERM):
        """SIGTERM (or sig) and its exit code; a sanitizer's report in its output (the
        ASan build) fails the test, whatever the code."""
        if self.p and self.p.poll() is None:
            self.p.send_signal(sig)
            self.p.wait(timeout=30)
        if self.p:
            self.logf.close()
            with open(self.log, errors='replace') as f:
                out = f.read()
            for mark in ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:'):
                assert mark not in out, 'the responder: %s' % out[out.index(mark) - 200:][:3000]
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


# ---- the way to the kubelet: the stand-in of a node and its API server --------------------

import standin  # noqa: E402
from standin import SA_USER  # noqa: E402

RULES_CK_LABEL = 'rules:\n  - name: all\n    priority: ">= Warning"\n    actions: [checkpoint, label]\n'


def cluster(name, fixture='counter'):
    """The stand-in with pod shop/web-1 (container app) on node-a, the responder's service
    account token known, RBAC for it to read pods and nodes and patch pods."""
    c = certs.make(os.path.join(kt.tmpdir(), 'certs'))
    cl = standin.Cluster(os.path.join(kt.tmpdir(), 'cluster-' + name), c, fixture=kt.fixture(fixture))
    cl.add_pod('shop', 'web-1', 'app')
    cl.token('sa-token-1', SA_USER)
    cl.grant('pods', SA_USER)
    cl.grant('nodes', SA_USER)
    tok = os.path.join(cl.dir, 'sa-token')
    with open(tok, 'w') as f:
        f.write('sa-token-1\n')
    return cl, c, tok


def api_config(cl, c, tok, kubelet, extra=''):
    return ('kubernetes:\n  api: %s\n  token_file: %s\n  cacert: %s\nkubelet:\n%s'
            'checkpoint:\n  cooldown: 0\n  attempts: 1\n%s' % (cl.api_url, tok, c['ca'], kubelet, extra))


def incidents(r, n=1, timeout=30):
    """The first n incident lines (not the follow-ups), waiting for them."""
    deadline = time.time() + timeout
    while True:
        lines = []
        if os.path.exists(r.incidents):
            lines = [json.loads(x) for x in open(r.incidents) if x.strip()]
        incs = [x for x in lines if 'follow_up' not in x]
        if len(incs) >= n or time.time() > deadline:
            assert len(incs) >= n, 'incidents: %r, log: %s' % (lines, open(r.log).read()[-2000:])
            return incs
        time.sleep(0.1)


def follow_ups(r, n=1, timeout=30):
    """The first n follow-up lines (the vault receipts), waiting for them."""
    deadline = time.time() + timeout
    while True:
        fu = [json.loads(x) for x in open(r.incidents) if '"follow_up"' in x]
        if len(fu) >= n or time.time() > deadline:
            assert len(fu) >= n, 'follow-ups: %r, log: %s' % (fu, open(r.log).read()[-2000:])
            return fu
        time.sleep(0.2)


def receipt_responder(name, cl, c, tok):
    """A directory vault, and a responder that waits 3 s for its receipts (client certificate
    to the kubelet)."""
    vault = os.path.join(cl.dir, 'vault')
    run('vault', 'init', '--store', vault)
    kubelet = '  cert: %s\n  key: %s\n  cacert: %s\n' % (c['client_crt'], c['client_key'], c['ca'])
    r = Responder(name, extra=api_config(cl, c, tok, kubelet, 'vault:\n  store: %s\n  poll_interval: 1\n'
                                         '  wait: 3\n' % vault), rules=RULES_CK_LABEL).start()
    return vault, r


def test_kubelet_client_certificate_and_node_address_from_status():
    """The kubelet's address and port come from the node's status (InternalIP before the
    Hostname listed first; the port from daemonEndpoints); the client certificate's user
    must hold nodes/checkpoint: without it the kubelet's 403 is the incident's, with it the
    checkpoint is made; the pod is labelled through the API with the service account token."""
    cl, c, tok = cluster('cert')
    cl.start()
    kubelet = '  cert: %s\n  key: %s\n  cacert: %s\n' % (c['client_crt'], c['client_key'], c['ca'])
    r = Responder('kcert', extra=api_config(cl, c, tok, kubelet), rules=RULES_CK_LABEL).start()
    try:
        eq(r.post(ev(pod='web-1', ctr='app'))[0], 200, 'alert')
        inc = incidents(r)[0]
        eq(inc['kubelet_status'], 403, 'no nodes/checkpoint yet: %r' % inc)
        assert inc['results']['checkpoint'].startswith('failed: the kubelet forbids the checkpoint (403'), inc
        assert 'nodes/checkpoint' in inc['results']['checkpoint'] and 'user=kcsi-responder' in inc['error'], inc
        eq(inc['results']['label'], 'skipped: the checkpoint failed', 'label')
        eq(inc['kubelet'], cl.kubelet_url, 'the InternalIP and the kubelet port from the node status')
        eq(inc['checkpoint_request'], 'POST %s/checkpoint/shop/web-1/app?timeout=60' % cl.kubelet_url, 'request')
        eq(inc['alert'][:7], 'sha256:', 'the alert named by its queue key')
        cl.grant('nodes/checkpoint', 'kcsi-responder')     # the RBAC the docs ask for
        eq(r.post(ev(pod='web-1', ctr='app'))[0], 200, 'alert again')
        inc = incidents(r, 2)[1]
        eq(inc['result'], 'ok', 'with the right: %r' % inc)
        assert os.path.basename(inc['archive']).startswith('checkpoint-web-1_shop-app-'), inc
        eq(os.stat(inc['archive']).st_mode & 0o777, 0o600, 'the kubelet writes 0600')
        kub = cl.requests('kubelet')
        eq([(x['user'], x['via'], x['status']) for x in kub], [('kcsi-responder', 'cert', 403),
                                                                ('kcsi-responder', 'cert', 200)], 'kubelet')
        api = cl.requests('api')
        assert ('GET', '/api/v1/nodes/node-a', SA_USER, 'token') in [(x['method'], x['path'], x['user'], x['via'])
                                                                     for x in api], api
        eq(cl.pod('shop/web-1')['metadata']['labels']['kcsi.io/incident'], inc['incident'], 'labelled')
        assert 'warnings' not in inc, inc
    finally:
        r.stop()
        cl.stop()


def test_kubelet_service_account_token_reread_when_rotated():
    """kubelet.service_account_token: the API's token goes to the kubelet (webhook token
    authentication there); a rotated token file is read again."""
    cl, c, tok = cluster('token')
    cl.grant('nodes/checkpoint', SA_USER)
    cl.start()
    r = Responder('ktoken', extra=api_config(cl, c, tok, '  service_account_token: true\n  cacert: %s\n' % c['ca']),
                  rules=RULES_CK_LABEL).start()
    try:
        eq(r.post(ev(pod='web-1', ctr='app'))[0], 200, 'alert')
        eq(incidents(r)[0]['result'], 'ok', 'token accepted')
        # the kubelet rotates the projected token: the old one stops working
        cl.token('sa-token-2', SA_USER)
        cl.load()
        del cl.state['tokens']['sa-token-1']
        cl.save()
        with open(tok + '.new', 'w') as f:
            f.write('sa-token-2\n')
        os.replace(tok + '.new', tok)
        eq(r.post(ev(pod='web-1', ctr='app'))[0], 200, 'alert after the rotation')
        inc = incidents(r, 2)[1]
        eq(inc['result'], 'ok', 'the new token: %r' % inc)
        kub = cl.requests('kubelet')
        eq([(x['user'], x['via'], x['status']) for x in kub], [(SA_USER, 'token', 200)] * 2, 'kubelet saw the token')
        eq(json.loads(run('respond', '--config', r.cfg, '--check-config')[1])['kubelet_auth'],
           'service account token', 'summary')
    finally:
        r.stop()
        cl.stop()


def test_kubelet_ca_verified_and_the_logged_opt_out():
    """A kubelet certificate not signed by kubelet.cacert fails before any request reaches
    it; insecure_skip_verify: true works, and is a warning at start, in --check-config and
    in each incident."""
    cl, c, tok = cluster('ca')
    cl.grant('nodes/checkpoint', 'kcsi-responder')
    cl.start()
    client = '  cert: %s\n  key: %s\n' % (c['client_crt'], c['client_key'])
    r = Responder('kca', extra=api_config(cl, c, tok, client + '  cacert: %s\n' % c['rogue_ca']), rules=RULES_CK_LABEL)
    r.start()
    try:
        eq(r.post(ev(pod='web-1', ctr='app'))[0], 200, 'alert')
        inc = incidents(r)[0]
        eq(inc['result'], 'failed', 'a kubelet of another CA: %r' % inc)
        assert 'certificate' in inc['error'] and c['rogue_ca'] in inc['error'], inc['error']
        eq(inc['kubelet_status'], None, 'no reply')
        eq(cl.requests('kubelet'), [], 'nothing reached the kubelet')
    finally:
        r.stop()
    r = Responder('kinsecure', extra=api_config(cl, c, tok, client + '  insecure_skip_verify: true\n'),
                  rules=RULES_CK_LABEL)
    _, out, err = run('respond', '--config', r.cfg, '--check-config')
    assert "warning: kubelet: the kubelet's serving certificate is not verified" in err, err
    assert any('insecure_skip_verify' in w for w in json.loads(out)['warnings']), out
    r.start()
    try:
        eq(r.post(ev(pod='web-1', ctr='app'))[0], 200, 'alert')
        inc = incidents(r)[0]
        eq(inc['result'], 'ok', 'opted out: %r' % inc)
        assert any('insecure_skip_verify' in w for w in inc['warnings']), inc
        started = [x for x in r.logs() if x['level'] == 'warning' and 'insecure_skip_verify' in x['msg']]
        eq(len(started), 1, 'one warning at start')
    finally:
        r.stop()
        cl.stop()


def test_kubelet_through_the_api_servers_node_proxy():
    """kubelet.via_api_server: the request goes to the API server, which wants nodes/proxy
    from the responder and forwards it with its own kubelet client certificate."""
    cl, c, tok = cluster('proxy')
    cl.grant('nodes/checkpoint', 'kube-apiserver-kubelet-client')
    cl.start()
    r = Responder('kproxy', extra=api_config(cl, c, tok, '  via_api_server: true\n'), rules=RULES_CK_LABEL).start()
    try:
        eq(r.post(ev(pod='web-1', ctr='app'))[0], 200, 'alert')
        inc = incidents(r)[0]
        eq(inc['kubelet_status'], 403, 'no nodes/proxy: %r' % inc)
        assert 'nodes/proxy' in inc['error'] and 'the API server forbids' in inc['error'], inc['error']
        cl.grant('nodes/proxy', SA_USER)
        eq(r.post(ev(pod='web-1', ctr='app'))[0], 200, 'alert again')
        inc = incidents(r, 2)[1]
        eq(inc['result'], 'ok', 'through the proxy: %r' % inc)
        eq(inc['kubelet'], cl.api_url + '/api/v1/nodes/node-a/proxy', 'base')
        kub = cl.requests('kubelet')
        eq([(x['user'], x['status']) for x in kub], [('kube-apiserver-kubelet-client', 200)],
           'the kubelet saw the API server')
    finally:
        r.stop()
        cl.stop()


def test_checkpoint_cli_with_a_kubeconfig():
    """kcsi checkpoint --kubeconfig: the node from the pod, the kubelet's address from the
    node, the kubeconfig user's token or client certificate (inline *-data decoded into a
    private directory that is removed), --context; --node-proxy needs nodes/proxy; plugins
    and a missing context are refused with a clear line."""
    import base64
    cl, c, _ = cluster('cli')
    cl.token('alice-token', 'alice')
    cl.grant('pods', 'alice', 'kcsi-responder')
    cl.grant('nodes', 'alice', 'kcsi-responder')
    cl.grant('nodes/checkpoint', 'alice', 'kcsi-responder')
    cl.start()
    tmp = os.path.join(cl.dir, 'tmp')
    os.makedirs(tmp)

    def b64(p):
        return base64.b64encode(open(p, 'rb').read()).decode()
    kc = cl.kubeconfig(os.path.join(cl.dir, 'kubeconfig'), {'token': 'alice-token'},
                       certs={'client-certificate-data': b64(c['client_crt']), 'client-key-data': b64(c['client_key'])},
                       plugin={'exec': {'command': 'aws', 'apiVersion': 'client.authentication.k8s.io/v1'}})
    try:
        env = {'TMPDIR': tmp}
        out = jrun('checkpoint', '--kubeconfig', kc, '--json', 'shop/web-1/app', env=env)
        eq((out['node'], out['via'], out['url']), ('node-a', 'kubelet', cl.kubelet_url), 'routed by the API')
        assert os.path.basename(out['archive']).startswith('checkpoint-web-1_shop-app-'), out
        out = jrun('checkpoint', '--kubeconfig', kc, '--context', 'certs', '--json', 'shop/web-1/app', env=env)
        eq(out['via'], 'kubelet', 'context certs')
        eq([(x['user'], x['via']) for x in cl.requests('kubelet')], [('alice', 'token'), ('kcsi-responder', 'cert')],
           'the kubeconfig users reached the kubelet')
        eq(os.listdir(tmp), [], 'the decoded *-data files are removed')
        code, _, err = run('checkpoint', '--kubeconfig', kc, '--node-proxy', 'shop/web-1/app', check=False, env=env)
        assert code != 0 and '403' in err and 'nodes/proxy' in err, err
        cl.grant('nodes/proxy', 'alice')
        cl.grant('nodes/checkpoint', 'kube-apiserver-kubelet-client')
        out = jrun('checkpoint', '--kubeconfig', kc, '--node-proxy', '--json', 'shop/web-1/app', env=env)
        eq((out['via'], out['url']), ('api-server', cl.api_url + '/api/v1/nodes/node-a/proxy'), 'node proxy')
        code, _, err = run('checkpoint', '--kubeconfig', kc, '--context', 'plugin', 'shop/web-1/app', check=False)
        assert code != 0 and 'plugin' in err, err
        code, _, err = run('checkpoint', '--kubeconfig', kc, '--context', 'nope', 'shop/web-1/app', check=False)
        assert code != 0 and 'no context named "nope"' in err and '--context' in err, err
        code, _, err = run('checkpoint', '--kubeconfig', kc, 'shop/web-2/app', check=False, env=env)
        eq(code, 8, 'no such pod: ' + err)
        eq(os.listdir(tmp), [], 'removed after failures too')
        # a *-data value that is not Base64 is refused by name, nothing written
        bad = os.path.join(cl.dir, 'kubeconfig-bad')
        with open(kc) as f, open(bad, 'w') as g:
            g.write(f.read().replace(b64(c['client_key']), 'LS0t*not-base64*'))
        code, _, err = run('checkpoint', '--kubeconfig', bad, '--context', 'certs', 'shop/web-1/app', check=False,
                           env=env)
        assert code != 0 and 'client-key-data' in err and 'not Base64' in err, err
        eq(os.listdir(tmp), [], 'nothing left by a refused kubeconfig')
    finally:
        cl.stop()


def test_check_config_in_cluster_outside_a_pod():
    """kubernetes.in_cluster on a workstation: --check-config checks the shape and warns that
    the pod's environment is absent; starting the responder is refused."""
    r = Responder('incluster', extra='kubernetes:\n  in_cluster: true\nkubelet:\n  service_account_token: true\n',
                  rules=RULES_CK_LABEL)
    env = {k: v for k, v in os.environ.items() if not k.startswith('KUBERNETES_')}
    p = subprocess.run([kt.KCSI, 'respond', '--config', r.cfg, '--check-config'], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    eq(p.returncode, 0, p.stderr.decode())
    assert b'KUBERNETES_SERVICE_HOST/PORT are not set' in p.stderr, p.stderr
    eq(json.loads(p.stdout)['kubernetes_api'], None, 'no API here')
    p = subprocess.run([kt.KCSI, 'respond', '--config', r.cfg], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert p.returncode != 0 and b'not in a pod' in p.stderr, p.stderr
    # a shape error is still an error
    r = Responder('incluster2', extra='kubernetes:\n  in_cluster: maybe\n', rules=RULES_CK_LABEL)
    code, _, err = run('respond', '--config', r.cfg, '--check-config', check=False)
    assert code == 4 and 'in_cluster' in err, err


# ---- off the node: the node agent's receipt in the vault -------------------------------------

def test_vault_receipt_links_the_incident_to_the_evidence():
    """The responder waits for the archive the kubelet wrote on the node; kcsi collect on
    that node stores it, verifies it, writes its receipt and deletes the node copy; the
    responder writes a follow-up line {incident, vault_id, sha256} and annotates the pod.
    An archive no collector takes gets a follow-up that says so after vault.wait."""
    cl, c, tok = cluster('receipt')
    cl.grant('nodes/checkpoint', 'kcsi-responder')
    cl.add_pod('shop', 'web-2', 'app')
    cl.start()
    vault, r = receipt_responder('receipt', cl, c, tok)
    try:
        eq(r.post(ev(pod='web-1', ctr='app'))[0], 200, 'alert')
        inc = incidents(r)[0]
        eq((inc['result'], inc['vault']), ('ok', "waiting for the node agent's receipt"), 'incident: %r' % inc)
        run('collect', '--watch', cl.node_dir, '--vault', vault, '--once', '--settle', '0', '--node', 'node-a')
        eq(os.listdir(cl.node_dir), [], 'nothing left on the node')
        fu = follow_ups(r)[0]
        sha = hashlib.sha256(open(kt.fixture('counter'), 'rb').read()).hexdigest()
        eq((fu['incident'], fu['vault_id'], fu['sha256'], fu['node'], fu['archive']),
           (inc['incident'], sha, sha, 'node-a', inc['archive']), 'follow-up')
        eq((fu['node_copy'], fu['annotated'], fu['vault']), ('deleted after this receipt', True, vault), 'follow-up')
        eq(cl.pod('shop/web-1')['metadata']['annotations']['kcsi.io/vault-id'], sha, 'pod annotated')
        got = os.path.join(cl.dir, 'fetched.tar')
        run('vault', 'get', '--store', vault, sha[:12], '-o', got, '--reason', 'test')
        eq(hashlib.sha256(open(got, 'rb').read()).hexdigest(), sha, 'kcsi vault get by the id')
        # no collector for the next one: it expires
        eq(r.post(ev(pod='web-2', ctr='app'))[0], 200, 'alert 2')
        fu2 = follow_ups(r, 2)[1]
        assert fu2['vault_id'] is None and 'no receipt from the node agent' in fu2['error'], fu2
        m = r.metrics()
        eq((m['kcsi_respond_vault_receipts_total{result="stored"}'],
            m['kcsi_respond_vault_receipts_total{result="expired"}'], m['kcsi_respond_vault_receipts_waiting']),
           (1.0, 1.0, 0.0), 'metrics')
    finally:
        r.stop()
        cl.stop()


def test_collect_keeps_the_node_copy_until_its_receipt_is_written():
    """No archive leaves its node without a receipt: when the receipt cannot be written (its
    folder in the store is taken by a file here) the node copy stays, verified in the vault;
    the next pass writes the receipt and deletes it."""
    d = os.path.join(kt.tmpdir(), 'receipt-fail')
    shutil.rmtree(d, ignore_errors=True)
    node, vault = os.path.join(d, 'node'), os.path.join(d, 'vault')
    os.makedirs(node)
    name = 'checkpoint-web-1_shop-app-2026-03-04T10:15:02Z.tar'
    shutil.copy(kt.fixture('counter'), os.path.join(node, name))
    run('vault', 'init', '--store', vault)
    open(os.path.join(vault, 'receipts'), 'w').close()
    _, out, _ = run('collect', '--watch', node, '--vault', vault, '--once', '--node', 'node-a')
    recs = [json.loads(x) for x in out.decode().splitlines()]
    msgs = [x['msg'] for x in recs]
    assert 'verified in the vault' in msgs and 'NOT deleting the node copy yet: the receipt could not be written' in msgs, msgs
    eq(os.listdir(node), [name], 'the node copy is kept')
    os.unlink(os.path.join(vault, 'receipts'))
    _, out, _ = run('collect', '--watch', node, '--vault', vault, '--once', '--node', 'node-a')
    msgs = [json.loads(x)['msg'] for x in out.decode().splitlines()]
    assert 'receipt written' in msgs and 'deleted the node copy' in msgs, msgs
    eq(os.listdir(node), [], 'deleted once the receipt is there')
    key = hashlib.sha256(name.encode()).hexdigest()
    rc = json.load(open(os.path.join(vault, 'receipts', key + '.json')))
    sha = hashlib.sha256(open(kt.fixture('counter'), 'rb').read()).hexdigest()
    eq((rc['format'], rc['name'], rc['node'], rc['id'], rc['sha256'], rc['node_copy']),
       ('kcsi-collect-receipt', name, 'node-a', sha, sha, 'deleted after this receipt'), 'the receipt')


def test_hostile_node_addresses_and_receipts():
    """What other parties write is checked: a node status whose addresses are not IP
    addresses or DNS names gives no URL (no request is made; an IPv6 one is bracketed);
    a receipt from another node, or one that is not a receipt, is not taken (the incident's
    follow-up says why when the wait ends); nested values in a receipt do not reach the
    incident."""
    cl, c, tok = cluster('hostile')
    cl.grant('nodes/checkpoint', 'kcsi-responder')
    for pod in ('web-2', 'web-3'):
        cl.add_pod('shop', pod, 'app')
    cl.add_pod('shop', 'bad-addr', 'app', node='node-x')
    cl.add_pod('shop', 'v6', 'app', node='node-6')
    cl.load()
    cl.state['nodes']['node-x'] = {'addresses': [{'type': 'InternalIP', 'address': '127.0.0.1:1/x?'},
                                                 {'type': 'Hostname', 'address': 'evil..example'},
                                                 {'type': 'ExternalIP', 'address': '10.0.0.1\r\nHost: x'}]}
    cl.state['nodes']['node-6'] = {'addresses': [{'type': 'InternalIP', 'address': '::1'}], 'kubeletPort': 1}
    cl.save()
    cl.start()
    vault, r = receipt_responder('hostile', cl, c, tok)
    try:
        eq(r.post(ev(pod='bad-addr', ctr='app'))[0], 200, 'alert')
        eq(r.post(ev(pod='v6', ctr='app'))[0], 200, 'alert')
        incs = {x['pod']: x for x in incidents(r, 2)}
        assert 'no usable address' in incs['bad-addr']['error'], incs['bad-addr']
        eq(incs['bad-addr']['kubelet'] if 'kubelet' in incs['bad-addr'] else None, None, 'no URL made')
        eq(incs['v6']['kubelet'], 'https://[::1]:1', 'an IPv6 address in brackets')
        eq(cl.requests('kubelet'), [], 'no request reached a kubelet')
        # three archives; receipts forged on the store, as a node that can write to it could
        for pod in ('web-1', 'web-2', 'web-3'):
            eq(r.post(ev(pod=pod, ctr='app'))[0], 200, 'alert ' + pod)
        arch = {x['pod']: os.path.basename(x['archive']) for x in incidents(r, 5)[2:]}
        sha = hashlib.sha256(open(kt.fixture('counter'), 'rb').read()).hexdigest()
        os.makedirs(os.path.join(vault, 'receipts'), exist_ok=True)

        def forge(pod, **fields):
            rc = {'format': 'kcsi-collect-receipt', 'version': 1, 'name': arch[pod], 'node': 'node-a', 'id': sha,
                  'sha256': sha}
            rc.update(fields)
            key = hashlib.sha256(arch[pod].encode()).hexdigest()
            with open(os.path.join(vault, 'receipts', key + '.json'), 'w') as f:
                json.dump(rc, f)
        forge('web-1', node='node-b')
        forge('web-2', id='../../etc/passwd')
        forge('web-3', actor={'nested': ['x'] * 100}, size='12', report=[1])
        fus = {x['archive'].rsplit('/', 1)[1]: x for x in follow_ups(r, 3)}
        eq(fus[arch['web-1']]['vault_id'], None, 'another node')
        assert 'it comes from another node' in fus[arch['web-1']]['error'], fus[arch['web-1']]
        eq(fus[arch['web-2']]['vault_id'], None, 'not a receipt')
        assert 'not a receipt' in fus[arch['web-2']]['error'], fus[arch['web-2']]
        f3 = fus[arch['web-3']]
        eq((f3['vault_id'], f3['stored_by'], f3['size'], f3['report']), (sha, None, '12', None), 'scalars only')
    finally:
        r.stop()
        cl.stop()


# ---- end to end: a containerd CRI pod, the stand-in, a real checkpoint --------------------

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


E2E_CONFIG = '''kubernetes:
  api: %(api)s
  token_file: %(token)s
  cacert: %(ca)s
kubelet:
  cert: %(crt)s
  key: %(key)s
  cacert: %(ca)s
  timeout: 60
checkpoint:
  cooldown: 600
notify:
  url: http://127.0.0.1:%(notify)d/hook
hooks:
  analyze: "%(kcsi)s analyze --format json {archive}"
  vault: "sh -c true {archive} {incident}"
'''
E2E_RULES = '''rules:
  - name: hidden-process
    rule: Drop and execute new binary in container
    priority: ">= Error"
    actions: [checkpoint, label, notify]
'''


def lab_alert(ns, pod, container_id):
    """Event 15's shape about a pod, its container named by its ID only (as 01-04, 08, 10, 11)."""
    with open(os.path.join(EVENTS, '15-drop-and-execute-new-binary-in-container_falco-0.43-modern.json')) as f:
        raw = f.read()
    return raw.replace('"k8s.ns.name": null', '"k8s.ns.name": "%s"' % ns).replace(
        '"k8s.pod.name": null', '"k8s.pod.name": "%s"' % pod).replace(
        '"container.id": "9965a6a599f6"', '"container.id": "%s"' % container_id[:12]).replace(
        '"container.name": "lab9-target"', '"container.name": null')


def test_end_to_end_alert_to_a_real_cri_checkpoint():
    """An alert about the containerd lab's pod, whose container runs an IRC bot under a
    kernel thread's title: the responder finds the container by its ID in the pod status,
    the node's kubelet by its status, and the stand-in kubelet makes a real CRI
    CheckpointContainer; the hooks analyse it (malicious), the pod is labelled, the
    webhook told; a second alert in the cooldown makes no second checkpoint; kcsi checkpoint
    by hand explains 404, 500 and a refused client certificate."""
    import crilab
    c = certs.make(os.path.join(kt.tmpdir(), 'certs'))
    work = os.path.join(kt.tmpdir(), 'e2e-cri')
    lab = crilab.Lab(work)
    cl = r = None
    try:
        lab.irc_bot()
        cl = standin.Cluster(os.path.join(work, 'cluster'), c, cri=lab.sock)
        cl.add_pod(crilab.NS, crilab.POD, crilab.CTR, container_id=lab.container)
        cl.token('sa-token-1', SA_USER)
        cl.grant('pods', SA_USER)
        cl.grant('nodes', SA_USER)
        cl.grant('nodes/checkpoint', 'kcsi-responder')
        cl.start()
        tokf = os.path.join(work, 'api-token')
        with open(tokf, 'w') as f:
            f.write('sa-token-1\n')
        note = Notified()
        note.start()
        r = Responder('e2e', extra=E2E_CONFIG % {
            'api': cl.api_url, 'token': tokf, 'ca': c['ca'], 'crt': c['client_crt'], 'key': c['client_key'],
            'notify': note.port, 'kcsi': kt.KCSI}, rules=E2E_RULES).start()
        alert = lab_alert(crilab.NS, crilab.POD, lab.container)
        t0 = time.time()
        code, rep = r.post(alert)
        eq(code, 200, 'accepted: %r' % rep)
        inc = incidents(r, timeout=180)[0]
        print('  alert to archive: %.2fs (checkpoint %.2fs)' % (time.time() - t0, inc.get('checkpoint_seconds', 0)))
        eq(inc['result'], 'ok', 'incident: %r' % inc)
        eq((inc['namespace'], inc['pod'], inc['container'], inc['node']), ('kcsi-lab', 'webapp', 'app', 'node-a'),
           'target (container name from the pod status by ID)')
        arch = inc['archive']
        assert os.path.dirname(arch) == cl.node_dir and os.path.basename(arch).startswith(
            'checkpoint-webapp_kcsi-lab-app-'), arch
        eq(inc['sha256'], hashlib.sha256(open(arch, 'rb').read()).hexdigest(), 'sha256 recorded')
        eq(r.q('SELECT sha256, event FROM jobs')[0], (inc['sha256'], rep['id']), 'sha256 with its event')
        show = jrun('show', '--json', arch)[0]
        eq((show['engine'], show['namespace'], show['pod'], show['container']),
           ('containerd', 'kcsi-lab', 'webapp', 'app'), 'kcsi show: a containerd CRI archive')
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
        pod = cl.pod('kcsi-lab/webapp')
        eq(pod['metadata']['labels']['kcsi.io/incident'], inc['incident'], 'pod labelled')
        eq(pod['metadata']['annotations']['kcsi.io/sha256'], inc['sha256'], 'pod annotated')
        deadline = time.time() + 10
        while time.time() < deadline and not note.got:
            time.sleep(0.05)
        eq(note.got[0]['incident'], inc['incident'], 'notify webhook')
        eq([x['path'] for x in cl.requests('kubelet')], ['/checkpoint/kcsi-lab/webapp/app?timeout=60'],
           'one kubelet request')
        # a second alert on the same container inside the cooldown: no new checkpoint
        eq(r.post(alert.replace('09:44:58', '09:44:59'))[0], 200, 'second alert')
        r.wait_idle()
        eq(len(cl.requests('kubelet')), 1, 'cooldown')

        # kcsi checkpoint by hand against the same kubelet
        base = cl.kubelet_url
        cert = ['--cert', c['client_crt'], '--key', c['client_key'], '--cacert', c['ca']]
        rc, out, err = run('checkpoint', '--kubelet', base, *cert, '--timeout', '30', '--sha256', 'kcsi-lab/webapp/app')
        path = out.decode().split()[0]
        assert os.path.basename(path).startswith('checkpoint-webapp_kcsi-lab-app-') and os.path.exists(path), out
        rc, out, err = run('checkpoint', '--kubelet', base, *cert, 'kcsi-lab/no-such-pod/app', check=False)
        assert rc == 8 and '404' in err, err
        rc, out, err = run('checkpoint', '--kubelet', base, *cert, 'fail-500/p/c', check=False)
        assert rc == 1 and '500' in err and 'CRIU dump failed' in err, err
        rc, out, err = run('checkpoint', '--kubelet', base, '--cert', c['rogue_crt'], '--key', c['rogue_key'],
                           '--cacert', c['ca'], 'kcsi-lab/webapp/app', check=False)
        assert rc != 0 and err, 'a client certificate of another CA is refused: ' + err
        rc, out, err = run('checkpoint', '--kubelet', base, 'kcsi-lab/%2e%2e/app', check=False)
        eq(rc, 9, 'hostile name: ' + err)
    finally:
        if r:
            r.stop()
        if cl:
            cl.stop()
        lab.close()


IMAGE = 'localhost/debian-perl:12'
PODMAN = ['podman', '--runtime', 'runc']


def test_checkpoint_podman():
    """kcsi checkpoint --podman: a local container checkpointed, and left running."""
    if os.geteuid() != 0:
        raise kt.Skip('needs root (podman + CRIU)')
    if not shutil.which('podman') or subprocess.run(PODMAN + ['image', 'exists', IMAGE]).returncode != 0:
        raise kt.Skip('podman or %s missing (lab/setup.sh)' % IMAGE)
    name = 'kcsi-ckpt-podman-%d' % os.getpid()
    work = os.path.join(kt.tmpdir(), 'podman-ckpt')
    os.makedirs(work, exist_ok=True)
    subprocess.run(PODMAN + ['rm', '-f', name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(PODMAN + ['run', '-d', '--name', name, '--network', 'none', '--ulimit', 'nofile=1024:1024',
                             '--ulimit', 'nproc=4096:4096', '--label', 'kcsi-lab=respond-podman', IMAGE,
                             'perl', '-e', '$0="[kworker/9:9-x]"; sleep 1 while 1'], check=True, stdout=subprocess.DEVNULL)
    try:
        rc, out, err = run('checkpoint', '--podman', '--output', work, name, timeout=300)
        procs = jrun('ps', '--json', out.decode().strip())
        assert [p for p in procs if p['cmdline'] == ['[kworker/9:9-x]']], procs
        st = subprocess.run(PODMAN + ['inspect', '-f', '{{.State.Running}}', name], stdout=subprocess.PIPE).stdout
        eq(st.strip(), b'true', 'left running')
    finally:
        subprocess.run(PODMAN + ['rm', '-f', '-t', '0', name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
