"""Certificates made at test time with openssl: a CA, a server certificate
for 127.0.0.1/localhost, a client certificate (CN kcsi-responder), the API
server's kubelet client certificate (CN kube-apiserver-kubelet-client), and a
client certificate from another CA (which must be refused)."""
import os
import subprocess


def _run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _ca(d, name):
    key, crt = os.path.join(d, name + '.key'), os.path.join(d, name + '.crt')
    _run('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
         '-keyout', key, '-out', crt, '-days', '2', '-subj', '/CN=%s' % name)
    return key, crt


def _leaf(d, name, ca_key, ca_crt, cn, ext):
    key, csr, crt = (os.path.join(d, name + s) for s in ('.key', '.csr', '.crt'))
    extf = os.path.join(d, name + '.ext')
    with open(extf, 'w') as f:
        f.write(ext)
    _run('openssl', 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key,
         '-out', csr, '-subj', '/CN=%s' % cn)
    _run('openssl', 'x509', '-req', '-in', csr, '-CA', ca_crt, '-CAkey', ca_key, '-CAcreateserial', '-out', crt,
         '-days', '2', '-extfile', extf)
    return crt, key


def make(d):
    """Returns a dict of paths: ca, rogue_ca, server_crt/key, client_crt/key, apiserver_crt/key,
    rogue_crt/key."""
    os.makedirs(d, exist_ok=True)
    out = os.path.join(d, 'done-2')
    paths = {'ca': os.path.join(d, 'ca.crt'), 'rogue_ca': os.path.join(d, 'rogue-ca.crt')}
    names = ('server', 'client', 'apiserver', 'rogue')
    for n in names:
        paths[n + '_crt'] = os.path.join(d, n + '.crt')
        paths[n + '_key'] = os.path.join(d, n + '.key')
    if os.path.exists(out):
        return paths
    ca_key, ca_crt = _ca(d, 'ca')
    rogue_key, rogue_crt = _ca(d, 'rogue-ca')
    _leaf(d, 'server', ca_key, ca_crt, 'node-a',
          'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
    _leaf(d, 'client', ca_key, ca_crt, 'kcsi-responder',
          'extendedKeyUsage=clientAuth\n')
    _leaf(d, 'apiserver', ca_key, ca_crt, 'kube-apiserver-kubelet-client', 'extendedKeyUsage=clientAuth\n')
    _leaf(d, 'rogue', rogue_key, rogue_crt, 'intruder', 'extendedKeyUsage=clientAuth\n')
    open(out, 'w').close()
    return paths
