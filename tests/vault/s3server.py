"""Start a real S3 server for the vault tests: s3rver (npm) behind
sigv4-proxy.js, which checks every request's SigV4 signature and payload hash
(s3rver itself does not check SigV4 signatures).  Both are separate processes
on 127.0.0.1.  s3rver is installed into tests/vault/node_modules on first use."""
import os
import shutil
import socket
import subprocess
import time

import kt

HERE = os.path.dirname(os.path.abspath(__file__))
ACCESS, SECRET = 'S3RVER', 'S3RVER'  # s3rver's built-in account


def _install():
    mod = os.path.join(HERE, 'node_modules', 's3rver', 'bin', 's3rver.js')
    if os.path.exists(mod):
        return mod
    if not shutil.which('node') or not shutil.which('npm'):
        raise kt.Skip('node and npm are needed for the S3 server (apt-get install nodejs npm)')
    r = subprocess.run(['npm', 'install', '--no-audit', '--no-fund', '--prefix', HERE], cwd=HERE,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    if r.returncode != 0 or not os.path.exists(mod):
        raise kt.Skip('npm install s3rver failed: %s' % r.stdout.decode(errors='replace')[-400:])
    return mod


def _port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def _wait(port, proc, what):
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError('%s exited with %d' % (what, proc.returncode))
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError('%s did not start' % what)


class Server:
    bucket = 'evidence'

    def __init__(self, base):
        self.dir = os.path.join(base, 's3rver-data')
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.log = os.path.join(base, 'sigv4-proxy.log')
        open(self.log, 'w').close()
        mod = _install()
        self.backend, self.port = _port(), _port()
        self.procs = []
        self.procs.append(subprocess.Popen(
            ['node', mod, '-d', self.dir, '-a', '127.0.0.1', '-p', str(self.backend), '--silent',
             '--configure-bucket', self.bucket], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait(self.backend, self.procs[0], 's3rver')
        self.procs.append(subprocess.Popen(
            ['node', os.path.join(HERE, 'sigv4-proxy.js'), str(self.port), str(self.backend), self.log,
             '%s:%s' % (ACCESS, SECRET)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait(self.port, self.procs[1], 'sigv4-proxy')

    def env(self):
        return {'KCSI_S3_ENDPOINT': 'http://127.0.0.1:%d' % self.port, 'AWS_ACCESS_KEY_ID': ACCESS,
                'AWS_SECRET_ACCESS_KEY': SECRET, 'AWS_REGION': 'us-east-1'}

    def saw(self, text):
        with open(self.log) as f:
            return text in f.read()

    def requests(self):
        with open(self.log) as f:
            return f.read().splitlines()

    def object_path(self, key):
        parts = key.split('/')
        return os.path.join(self.dir, self.bucket, *parts[:-1], '%s._S3rver_object' % parts[-1])

    def objects(self, prefix):
        out = []
        root = os.path.join(self.dir, self.bucket)
        for d, _, files in os.walk(root):
            for f in files:
                if f.endswith('._S3rver_object'):
                    key = os.path.relpath(os.path.join(d, f[:-len('._S3rver_object')]), root)
                    if key.startswith(prefix):
                        out.append(key)
        return out

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def start(base):
    return Server(base)
