#!/usr/bin/env python3
"""A node and its API server, stood in for kcsi's tests: the kubelet's checkpoint endpoint
and the few Kubernetes API calls kcsi makes, each on its own HTTPS port, loopback only.

usage: kubelet.py --state FILE --cert C --key K --client-ca CA --node-dir DIR --log FILE
                  [--kubelet-port P] [--api-port Q] [--cri SOCK | --fixture ARCHIVE]
                  [--apiserver-cert C --apiserver-key K]

Authentication, as Kubernetes does it: a client certificate signed by --client-ca (its CN
is the user), or a bearer token the state file knows (the kubelet's webhook token
authentication asks the API server, which answers from the same table); neither: 401.
Authorisation, RBAC-like: the state file lists the users allowed each resource; anyone
else gets 403 with the kubelet's message (user, verb, resource, subresource).

The kubelet (--kubelet-port): POST /checkpoint/NS/POD/CTR[?timeout=S] needs create on
nodes/checkpoint.  It checkpoints the pod's container for real through the CRI of the
containerd lab (--cri SOCK: lab/containerd/cri.py CheckpointContainer, the kubelet's own
call), or copies --fixture (a real CRIU checkpoint; for the tests about the way there), to
DIR/checkpoint-POD_NS-CTR-RFC3339.tar (mode 0600, the kubelet's name and place), and
answers {"items": [PATH]}.

The API server (--api-port): GET /api/v1/namespaces/NS/pods/POD (get pods), PATCH the same
(patch pods: labels and annotations merged in), GET /api/v1/nodes/NODE (get nodes: its
addresses and kubelet port), POST /api/v1/nodes/NODE/proxy/checkpoint/... (create
nodes/proxy: forwarded to the node's kubelet with the API server's own kubelet client
certificate, --apiserver-cert, whose user the kubelet authorises in turn).

FILE (JSON, read at each request, so a test can change it):
  {"pods": {"NS/POD": {"nodeName": "node-a", "containers": {"CTR": {"id": "CRI-ID"}}}},
   "nodes": {"node-a": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                        "kubeletPort": P}},
   "tokens": {"TOKEN": "USER"},
   "rbac": {"nodes/checkpoint": [USER...], "nodes/proxy": [...], "pods": [...], "nodes": [...]}}
Every request is appended to --log as a JSON line: server, method, path, user, via (cert,
token, none), status.  Prints "ready" when both ports listen."""
import argparse
import datetime
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = re.compile(r'^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')
CRI = ['/usr/bin/python3', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'lab',
                                        'containerd', 'cri.py')]
lock = threading.Lock()
A = None


def state():
    with open(A.state) as f:
        return json.load(f)


def save(st):
    with open(A.state + '.tmp', 'w') as f:
        json.dump(st, f)
    os.replace(A.state + '.tmp', A.state)


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_name = '?'

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        rec = {'server': self.server_name, 'method': self.command, 'path': self.path, 'user': self.user,
               'via': self.via, 'status': code, 'at': time.time()}
        if self.command == 'PATCH':
            rec['body'] = self.body.decode(errors='replace')
            rec['content_type'] = self.headers.get('Content-Type')
        with lock, open(A.log, 'a') as f:
            f.write(json.dumps(rec) + '\n')

    def authenticate(self):
        """The user: a verified client certificate's CN, or a known bearer token."""
        self.user, self.via = None, 'none'
        auth = self.headers.get('Authorization') or ''
        cert = self.connection.getpeercert()
        if cert:
            for rdn in cert.get('subject', ()):
                for k, v in rdn:
                    if k == 'commonName':
                        self.user, self.via = v, 'cert'
        elif auth.startswith('Bearer '):
            self.user = state().get('tokens', {}).get(auth[7:])
            self.via = 'token'
        return self.user is not None

    def allowed(self, verb, resource, sub=None):
        """RBAC: 401 unauthenticated, 403 without the right; True when allowed."""
        if not self.user:
            self.reply(401, {'kind': 'Status', 'status': 'Failure', 'message': 'Unauthorized', 'code': 401})
            return False
        key = resource + ('/' + sub if sub else '')
        if self.user in state().get('rbac', {}).get(key, []):
            return True
        self.reply(403, {'kind': 'Status', 'status': 'Failure', 'code': 403, 'reason': 'Forbidden',
                         'message': 'Forbidden (user=%s, verb=%s, resource=%s, subresource(s)=[%s])' % (
                             self.user, verb, resource, sub or '')})
        return False

    def start(self):
        n = int(self.headers.get('Content-Length') or 0)
        self.body = self.rfile.read(n) if n else b''
        self.authenticate()


class Kubelet(Handler):
    server_name = 'kubelet'

    def do_GET(self):
        self.start()
        self.reply(404, {'message': '404 page not found'})

    def do_POST(self):
        self.start()
        m = re.match(r'^/checkpoint/([^/]+)/([^/]+)/([^/?]+)(\?timeout=(\d+))?$', self.path)
        if not m:
            return self.reply(404, {'message': '404 page not found'})
        if not self.allowed('create', 'nodes', 'checkpoint'):
            return
        ns, pod, ctr = m.group(1), m.group(2), m.group(3)
        if not all(NAME.match(x) for x in (ns, pod, ctr)):
            return self.reply(400, {'message': 'bad name'})
        if ns == 'fail-500':
            return self.reply(500, {'message': 'checkpointing container failed: rpc error: CRIU dump failed'})
        p = state()['pods'].get('%s/%s' % (ns, pod))
        c = p and p['containers'].get(ctr)
        if not c:
            return self.reply(404, {'message': 'container %s not found in pod %s/%s' % (ctr, ns, pod)})
        try:
            path = checkpoint(c, ns, pod, ctr, int(m.group(5) or 0))
        except Exception as e:  # noqa: BLE001
            return self.reply(500, {'message': 'checkpointing container failed: %s' % e})
        self.reply(200, {'items': [path]})


class ApiServer(Handler):
    server_name = 'api'

    def pod_key(self):
        m = re.match(r'^/api/v1/namespaces/([^/]+)/pods/([^/?]+)$', self.path)
        return m and '%s/%s' % m.groups()

    def do_GET(self):
        self.start()
        key = self.pod_key()
        m = re.match(r'^/api/v1/nodes/([^/?]+)$', self.path)
        if key:
            if not self.allowed('get', 'pods'):
                return
            pod = state()['pods'].get(key)
            if not pod:
                return self.reply(404, {'kind': 'Status', 'message': 'pods "%s" not found' % key, 'code': 404})
            return self.reply(200, pod_json(key, pod))
        if m:
            if not self.allowed('get', 'nodes'):
                return
            node = state().get('nodes', {}).get(m.group(1))
            if not node:
                return self.reply(404, {'kind': 'Status', 'message': 'nodes "%s" not found' % m.group(1)})
            return self.reply(200, {'apiVersion': 'v1', 'kind': 'Node', 'metadata': {'name': m.group(1)},
                                    'status': {'addresses': node['addresses'], 'daemonEndpoints': {
                                        'kubeletEndpoint': {'Port': node.get('kubeletPort', 10250)}}}})
        self.reply(404, {'message': 'not found'})

    def do_PATCH(self):
        self.start()
        key = self.pod_key()
        if not key:
            return self.reply(404, {'message': 'not found'})
        if not self.allowed('patch', 'pods'):
            return
        if self.headers.get('Content-Type') != 'application/merge-patch+json':
            return self.reply(415, {'message': 'unsupported media type'})
        with lock:
            st = state()
            if key not in st['pods']:
                return self.reply(404, {'message': 'not found'})
            patch = json.loads(self.body)
            md = st['pods'][key].setdefault('metadata', {})
            for k in ('labels', 'annotations'):
                md.setdefault(k, {}).update(patch.get('metadata', {}).get(k, {}))
            save(st)
        self.reply(200, pod_json(key, st['pods'][key]))

    def do_POST(self):
        self.start()
        m = re.match(r'^/api/v1/nodes/([^/]+)/proxy(/checkpoint/.*)$', self.path)
        if not m:
            return self.reply(404, {'message': 'not found'})
        if not self.allowed('create', 'nodes', 'proxy'):
            return
        node = state().get('nodes', {}).get(m.group(1))
        if not node:
            return self.reply(404, {'message': 'nodes "%s" not found' % m.group(1)})
        addr = [a['address'] for a in node['addresses'] if a['type'] == 'InternalIP'][0]
        ctx = ssl.create_default_context(cafile=A.client_ca)
        ctx.load_cert_chain(A.apiserver_cert, A.apiserver_key)
        req = urllib.request.Request('https://%s:%d%s' % (addr, node.get('kubeletPort', 10250), m.group(2)),
                                     data=b'', method='POST')
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=300) as r:
                code, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            code, body = e.code, e.read()
        self.reply(code, json.loads(body or b'{}'))


def pod_json(key, pod):
    ns, name = key.split('/')
    return {'apiVersion': 'v1', 'kind': 'Pod',
            'metadata': dict({'name': name, 'namespace': ns}, **pod.get('metadata', {})),
            'spec': {'nodeName': pod['nodeName'], 'containers': [{'name': c} for c in pod['containers']]},
            'status': {'containerStatuses': [{'name': c, 'containerID': 'containerd://' + v.get('id', '')}
                                             for c, v in pod['containers'].items()]}}


def checkpoint(c, ns, pod, ctr, timeout):
    """The kubelet's checkpoint: its name, in its directory, mode 0600."""
    with lock:   # one name per second, as the kubelet's RFC 3339 name has
        while True:
            now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
            path = os.path.join(A.node_dir, 'checkpoint-%s_%s-%s-%s.tar' % (pod, ns, ctr, now))
            if not os.path.exists(path):
                break
            time.sleep(0.2)
        open(path, 'wb').close()
        os.chmod(path, 0o600)
    if A.cri:
        p = subprocess.run(CRI + [A.cri, 'checkpoint', c['id'], path, str(timeout or 60)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=(timeout or 60) + 180)
        if p.returncode:
            os.unlink(path)
            raise RuntimeError('CRI CheckpointContainer: ' + p.stdout.decode(errors='replace').strip()[-300:])
    else:
        with open(A.fixture, 'rb') as src, open(path, 'wb') as dst:
            shutil.copyfileobj(src, dst)
    os.chmod(path, 0o600)
    return path


def serve(cls, port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(A.cert, A.key)
    ctx.load_verify_locations(A.client_ca)
    ctx.verify_mode = ssl.CERT_OPTIONAL   # a certificate, when sent, must be the client CA's; tokens need none
    srv = ThreadingHTTPServer(('127.0.0.1', port), cls)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument('--state', required=True)
    ap.add_argument('--cert', required=True)
    ap.add_argument('--key', required=True)
    ap.add_argument('--client-ca', required=True)
    ap.add_argument('--node-dir', required=True)
    ap.add_argument('--log', required=True)
    ap.add_argument('--kubelet-port', type=int)
    ap.add_argument('--api-port', type=int)
    ap.add_argument('--cri')
    ap.add_argument('--fixture')
    ap.add_argument('--apiserver-cert')
    ap.add_argument('--apiserver-key')
    A = ap.parse_args()
    os.makedirs(A.node_dir, exist_ok=True)
    if A.kubelet_port:
        serve(Kubelet, A.kubelet_port)
    if A.api_port:
        serve(ApiServer, A.api_port)
    print('ready', flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


if __name__ == '__main__':
    sys.exit(main())
