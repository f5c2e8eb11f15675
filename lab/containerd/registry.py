#!/usr/bin/python3
"""lab/containerd/registry.py LAYOUT_DIR PORT_FILE — a read-only OCI distribution registry on
127.0.0.1 (a free port, written to PORT_FILE once listening) serving the one image of an OCI
image layout (e.g. `podman save --format oci-archive`, unpacked) under any repository name:
GET/HEAD /v2/, /v2/NAME/manifests/REF (a tag: the layout's image; a digest: that blob) and
/v2/NAME/blobs/DIGEST. For the containerd lab only: images pulled from a registry get a
repository digest, which containerd records as the checkpoint's rootfsImageRef and pulls
again when it restores. Stops on SIGTERM, and by itself after --lifetime seconds (600)."""
import http.server
import json
import os
import re
import signal
import sys
import threading

layout, port_file = sys.argv[1], sys.argv[2]
lifetime = int(sys.argv[sys.argv.index('--lifetime') + 1]) if '--lifetime' in sys.argv else 600
with open(os.path.join(layout, 'index.json')) as f:
    top = json.load(f)['manifests'][0]


def blob(digest):
    if not re.fullmatch(r'sha256:[0-9a-f]{64}', digest):
        return None
    p = os.path.join(layout, 'blobs', 'sha256', digest[7:])
    if not os.path.isfile(p):
        return None
    with open(p, 'rb') as f:
        return f.read()


class Registry(http.server.BaseHTTPRequestHandler):
    def handle(self):
        # containerd tries https first on a localhost port and falls back to plain http
        # only when the answer to its TLS hello starts with "HTTP/"
        if self.rfile.peek(1)[:1] == b'\x16':
            self.wfile.write(b'HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n')
            return
        super().handle()

    def reply(self, code, body=b'', ctype='application/json', digest=None):
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Docker-Distribution-API-Version', 'registry/2.0')
        if digest:
            self.send_header('Docker-Content-Digest', digest)
        self.end_headers()
        if self.command == 'GET':
            self.wfile.write(body)

    def do_GET(self):
        path = self.path.split('?')[0]
        if path in ('/v2/', '/v2'):
            return self.reply(200, b'{}')
        m = re.fullmatch(r'/v2/(.+)/(manifests|blobs)/([^/]+)', path)
        if not m:
            return self.reply(404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}')
        kind, ref = m.group(2), m.group(3)
        if kind == 'manifests' and not ref.startswith('sha256:'):
            ref = top['digest']
        data = blob(ref)
        if data is None:
            return self.reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
        ctype = 'application/octet-stream'
        if kind == 'manifests':
            ctype = json.loads(data).get('mediaType') or top['mediaType']
        return self.reply(200, data, ctype, ref)

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Registry)
signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
threading.Timer(lifetime, server.shutdown).start()
with open(port_file + '.tmp', 'w') as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + '.tmp', port_file)
server.serve_forever()
os._exit(0)
