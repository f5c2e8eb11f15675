#!/usr/bin/env python3
"""A kubelet stand-in for kcsi's tests: the kubelet's checkpoint endpoint and
the few Kubernetes API reads the responder needs, over TLS with client
certificates verified against a CA.  Loopback only.

usage: kubelet.py --port P --cert C --key K --client-ca CA --state FILE
                  --checkpoints DIR [--lab-dir LAB] [--token T]

FILE is a JSON object:
  {"pods": {"NS/POD": {"nodeName": "...", "containers": {"CTR": {"id": "...",
            "podman": "CONTAINER"}}}}}
POST /checkpoint/NS/POD/CTR?timeout=S checkpoints the podman container with
`podman container checkpoint --export --leave-running --tcp-established`,
re-packs it in CRI-O's layout with lab/make-crio-layout.sh, and answers
{"items": ["DIR/checkpoint-POD_NS-CTR-TIME.tar"]} as the kubelet does.
GET /api/v1/namespaces/NS/pods/POD answers the pod (spec.nodeName,
status.containerStatuses); PATCH merges labels and annotations into it.
Every request is appended to DIR/requests.jsonl."""
import argparse
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = re.compile(r'^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')
lock = threading.Lock()


class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def record(self, extra=None):
        rec = {'method': self.command, 'path': self.path, 'at': time.time(),
               'client': self.connection.getpeercert().get('subject') if hasattr(self.connection, 'getpeercert') else None}
        if extra:
            rec.update(extra)
        with lock, open(os.path.join(A.checkpoints, 'requests.jsonl'), 'a') as f:
            f.write(json.dumps(rec, default=str) + '\n')

    def state(self):
        with open(A.state) as f:
            return json.load(f)

    def api_auth(self):
        if A.token and self.headers.get('Authorization') != 'Bearer ' + A.token:
            self.reply(401, {'kind': 'Status', 'message': 'Unauthorized', 'code': 401})
            return False
        return True

    def do_GET(self):
        self.record()
        m = re.match(r'^/api/v1/namespaces/([^/]+)/pods/([^/?]+)$', self.path)
        if not m:
            return self.reply(404, {'message': 'not found'})
        if not self.api_auth():
            return
        pod = self.state()['pods'].get('%s/%s' % m.groups())
        if not pod:
            return self.reply(404, {'kind': 'Status', 'message': 'pods "%s" not found' % m.group(2), 'code': 404})
        self.reply(200, pod_json(m.group(1), m.group(2), pod))

    def do_PATCH(self):
        n = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(n)
        self.record({'body': body.decode(errors='replace'), 'content_type': self.headers.get('Content-Type')})
        m = re.match(r'^/api/v1/namespaces/([^/]+)/pods/([^/?]+)$', self.path)
        if not m or not self.api_auth():
            return m or self.reply(404, {'message': 'not found'})
        with lock:
            st = self.state()
            key = '%s/%s' % m.groups()
            if key not in st['pods']:
                return self.reply(404, {'message': 'not found'})
            patch = json.loads(body)
            md = st['pods'][key].setdefault('metadata', {})
            for k in ('labels', 'annotations'):
                md.setdefault(k, {}).update(patch.get('metadata', {}).get(k, {}))
            with open(A.state + '.tmp', 'w') as f:
                json.dump(st, f)
            os.replace(A.state + '.tmp', A.state)
        self.reply(200, pod_json(m.group(1), m.group(2), st['pods'][key]))

    def do_POST(self):
        n = int(self.headers.get('Content-Length') or 0)
        if n:
            self.rfile.read(n)
        m = re.match(r'^/checkpoint/([^/]+)/([^/]+)/([^/?]+)(\?timeout=(\d+))?$', self.path)
        self.record()
        if not m:
            return self.reply(404, {'message': 'not found'})
        ns, pod, ctr = m.group(1), m.group(2), m.group(3)
        if not all(NAME.match(x) for x in (ns, pod, ctr)):
            return self.reply(400, {'message': 'bad name'})
        if ns == 'fail-500':
            return self.reply(500, {'message': 'checkpointing container failed: rpc error: CRIU dump failed'})
        p = self.state()['pods'].get('%s/%s' % (ns, pod))
        c = p and p['containers'].get(ctr)
        if not c:
            return self.reply(404, {'message': 'container %s not found in pod %s/%s' % (ctr, ns, pod)})
        try:
            path = checkpoint(c['podman'], ns, pod, ctr)
        except Exception as e:  # noqa: BLE001
            return self.reply(500, {'message': 'checkpointing container failed: %s' % e})
        self.reply(200, {'items': [path]})


def pod_json(ns, name, pod):
    return {'apiVersion': 'v1', 'kind': 'Pod',
            'metadata': dict({'name': name, 'namespace': ns}, **pod.get('metadata', {})),
            'spec': {'nodeName': pod['nodeName'], 'containers': [{'name': c} for c in pod['containers']]},
            'status': {'containerStatuses': [{'name': c, 'containerID': 'cri-o://' + v.get('id', '')}
                                             for c, v in pod['containers'].items()]}}


def checkpoint(podman_name, ns, pod, ctr):
    with tempfile.TemporaryDirectory(dir=A.checkpoints) as tmp:
        exp = os.path.join(tmp, 'export.tar')
        p = subprocess.run(['podman', '--runtime', 'runc', 'container', 'checkpoint', '--export=' + exp,
                            '--compress', 'none', '--leave-running', '--tcp-established', podman_name],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if p.returncode:
            raise RuntimeError('podman: ' + p.stdout.decode(errors='replace').strip()[-300:])
        out = os.path.join(tmp, 'out')
        p = subprocess.run(['bash', os.path.join(A.lab_dir, 'make-crio-layout.sh'), exp, out, '--pod', pod,
                            '--namespace', ns, '--container', ctr],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if p.returncode:
            raise RuntimeError('make-crio-layout: ' + p.stdout.decode(errors='replace').strip()[-300:])
        made = [f for f in os.listdir(out) if f.startswith('checkpoint-') and f.endswith('.tar')]
        if len(made) != 1:
            raise RuntimeError('make-crio-layout wrote %r' % made)
        dst = os.path.join(A.checkpoints, made[0])
        os.replace(os.path.join(out, made[0]), dst)
        return dst


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--cert', required=True)
    ap.add_argument('--key', required=True)
    ap.add_argument('--client-ca', required=True)
    ap.add_argument('--state', required=True)
    ap.add_argument('--checkpoints', required=True)
    ap.add_argument('--lab-dir', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'lab'))
    ap.add_argument('--token')
    A = ap.parse_args()
    os.makedirs(A.checkpoints, exist_ok=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(A.cert, A.key)
    ctx.load_verify_locations(A.client_ca)
    ctx.verify_mode = ssl.CERT_REQUIRED  # the kubelet's --client-ca-file
    srv = ThreadingHTTPServer(('127.0.0.1', A.port), H)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print('ready', flush=True)
    srv.serve_forever()


if __name__ == '__main__':
    sys.exit(main())
