"""The node-and-API-server stand-in (kubelet.py) run for a test: its state file (pods, nodes,
tokens, RBAC), its two ports, its request log and the "node" directory the kubelet writes
checkpoints to.

    c = standin.Cluster(workdir, certs, fixture=PATH)   # or cri=SOCK
    c.add_pod('shop', 'web-1', 'app', container_id='...')
    c.grant('nodes/checkpoint', 'kcsi-responder')
    c.start()
    ... c.kubelet_url, c.api_url, c.requests(server='kubelet'), c.pod('shop/web-1') ...
    c.stop()
"""
import json
import os
import shutil
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SA_USER = 'system:serviceaccount:kcsi-system:kcsi-respond'


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Cluster:
    def __init__(self, workdir, certs, fixture=None, cri=None, node='node-a'):
        self.dir = workdir
        if os.path.exists(workdir):
            shutil.rmtree(workdir)
        os.makedirs(workdir)
        self.certs = certs
        self.fixture, self.cri = fixture, cri
        self.node = node
        self.node_dir = os.path.join(workdir, 'node', 'checkpoints')
        self.log = os.path.join(workdir, 'requests.jsonl')
        self.state_file = os.path.join(workdir, 'cluster.json')
        self.kubelet_port, self.api_port = free_port(), free_port()
        self.kubelet_url = 'https://127.0.0.1:%d' % self.kubelet_port
        self.api_url = 'https://127.0.0.1:%d' % self.api_port
        self.state = {'pods': {}, 'tokens': {}, 'rbac': {},
                      'nodes': {node: {'addresses': [{'type': 'Hostname', 'address': node},
                                                     {'type': 'InternalIP', 'address': '127.0.0.1'}],
                                       'kubeletPort': self.kubelet_port}}}
        self.p = None
        self.save()

    def save(self):
        with open(self.state_file + '.tmp', 'w') as f:
            json.dump(self.state, f)
        os.replace(self.state_file + '.tmp', self.state_file)

    def load(self):
        with open(self.state_file) as f:
            self.state = json.load(f)
        return self.state

    def add_pod(self, ns, pod, ctr, container_id='0' * 64, node=None):
        self.load()
        self.state['pods']['%s/%s' % (ns, pod)] = {'nodeName': node or self.node,
                                                   'containers': {ctr: {'id': container_id}}}
        self.save()

    def grant(self, right, *users):
        self.load()
        have = self.state['rbac'].setdefault(right, [])
        have.extend(u for u in users if u not in have)
        self.save()

    def revoke(self, right, user):
        self.load()
        self.state['rbac'][right] = [u for u in self.state['rbac'].get(right, []) if u != user]
        self.save()

    def token(self, token, user):
        self.load()
        self.state['tokens'][token] = user
        self.save()

    def pod(self, key):
        return self.load()['pods'][key]

    def start(self):
        args = [sys.executable, os.path.join(HERE, 'kubelet.py'), '--state', self.state_file,
                '--cert', self.certs['server_crt'], '--key', self.certs['server_key'],
                '--client-ca', self.certs['ca'], '--node-dir', self.node_dir, '--log', self.log,
                '--kubelet-port', str(self.kubelet_port), '--api-port', str(self.api_port),
                '--apiserver-cert', self.certs['apiserver_crt'], '--apiserver-key', self.certs['apiserver_key']]
        args += ['--cri', self.cri] if self.cri else ['--fixture', self.fixture]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE)
        assert self.p.stdout.readline().strip() == b'ready', 'the stand-in did not start'
        return self

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def requests(self, server=None):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            reqs = [json.loads(x) for x in f]
        return [r for r in reqs if server is None or r['server'] == server]

    def kubeconfig(self, path, user, context='kcsi', ca_data=True, **extra_users):
        """A kubeconfig for the API stand-in: user is a dict of kubeconfig user fields;
        extra_users adds contexts of the same cluster named after each."""
        import base64
        ca = open(self.certs['ca'], 'rb').read()
        cluster = {'server': self.api_url}
        if ca_data:
            cluster['certificate-authority-data'] = base64.b64encode(ca).decode()
        else:
            cluster['certificate-authority'] = self.certs['ca']
        users = dict({context: user}, **extra_users)
        kc = {'apiVersion': 'v1', 'kind': 'Config', 'current-context': context,
              'clusters': [{'name': 'lab', 'cluster': cluster}],
              'contexts': [{'name': n, 'context': {'cluster': 'lab', 'user': n}} for n in users],
              'users': [{'name': n, 'user': u} for n, u in users.items()]}
        with open(path, 'w') as f:
            json.dump(kc, f, indent=1)   # JSON is YAML
        return path
