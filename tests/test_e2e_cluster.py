"""kcsi on a cluster, end to end, on one machine (the project's issue 14): a Falco alert in
Falcosidekick's webhook shape goes to `kcsi respond` running IN ITS CONTAINER IMAGE under
podman with the shipped configuration (deploy/kustomize/base/respond-config.yaml, mounted
where the Deployment mounts it, the ServiceAccount where Kubernetes puts it, in_cluster
from the environment); the responder finds the pod's node and the node's kubelet through a
stand-in API server (tests/respond/kubelet.py) and asks the stand-in kubelet (mutual TLS,
RBAC-like authorisation) for a checkpoint: first as a user without nodes/checkpoint (403,
and the incident says so), then, once the right is granted, for real: the stand-in makes a
CRI CheckpointContainer of the containerd lab's pod, whose container runs an IRC bot under
a kernel thread's title, and writes the archive under the kubelet's name into the "node"
directory.  `kcsi collect` in the same image, as the DaemonSet runs it (uid 0, no
capability, the shipped arguments), puts it in the vault on the S3 test server (SigV4
checked), verifies it, analyses it, writes its receipt and deletes the node copy; the
responder reads the receipt and writes the follow-up incident line with the vault id, and
annotates the pod it labelled.  An analyst's `kcsi vault get` of that id from a
"workstation" gives the archive, and `kcsi analyze` says malicious.  Nothing is left in the
node directory."""
import hashlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import kt
import test_deploy
from kt import eq
from test_deploy import _yaml  # the yaml module, or a skip

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, 'respond'))
sys.path.insert(0, os.path.join(HERE, 'vault'))

DEPLOY = os.path.join(kt.ROOT, 'deploy')
PODMAN = ['podman', '--runtime', 'runc']
RUN_FLAGS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096']
TOKEN = 'falcosidekick-t0ken'        # Falcosidekick's customHeaders "Authorization:Bearer ..."
BUCKET_PREFIX = 's3://evidence/cluster-e2e'


def _need():
    if os.geteuid() != 0:
        raise kt.Skip('needs root (podman, containerd, CRIU)')
    if not shutil.which('podman'):
        raise kt.Skip('podman not installed (lab/setup.sh)')
    if not shutil.which('node') or not shutil.which('npm'):
        raise kt.Skip('node and npm are needed for the S3 test server')


def _image():
    """The image deploy/image/build.sh makes of this tree (test_deploy's, when it built it in
    this run), pinned by its ID; built under a tag of this test's own when the tag now holds
    another tree's build (another work tree on the same machine)."""
    tag = test_deploy.image()
    head = subprocess.run(['git', '-C', kt.ROOT, 'rev-parse', 'HEAD'], stdout=subprocess.PIPE).stdout.decode().strip()

    def inspect(t):
        return json.loads(subprocess.run(PODMAN + ['image', 'inspect', t], stdout=subprocess.PIPE,
                                         check=True).stdout)[0]
    info = inspect(tag)
    if not info['Labels'].get('org.opencontainers.image.revision', '').startswith(head):
        tag = 'localhost/kcsi-e2e:%d' % os.getpid()
        p = subprocess.run(['bash', os.path.join(DEPLOY, 'image', 'build.sh'), '--build', os.path.dirname(kt.KCSI),
                            '--tag', tag], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
        assert p.returncode == 0, p.stderr.decode(errors='replace')
        info = inspect(tag)
    return info['Id'], tag


def _secret_dir(path, files):
    """A directory as Kubernetes mounts a Secret: read-only files."""
    os.makedirs(path)
    for name, content in files.items():
        dst = os.path.join(path, name)
        if os.path.exists(content):
            shutil.copy(content, dst)
        else:
            with open(dst, 'w') as f:
                f.write(content)
        os.chmod(dst, 0o444)
    os.chmod(path, 0o755)
    return path


def _podman_run(name, image, args, flags):
    subprocess.run(PODMAN + ['rm', '-f', '-t', '0', name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p = subprocess.run(PODMAN + ['run', '-d', '--name', name, '--network', 'host', '--read-only', '--cap-drop', 'all',
                                 '--security-opt', 'no-new-privileges'] + RUN_FLAGS + flags + [image] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    assert p.returncode == 0, '%s: %s' % (name, p.stderr.decode(errors='replace'))


def _podman_logs(name):
    p = subprocess.run(PODMAN + ['logs', name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return p.stdout.decode(errors='replace')


def _lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(x) for x in f if x.strip()]


def _wait(what, fn, timeout, logs):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError('%s: not within %ds\n%s' % (what, timeout, logs()))


def _sidekick(uuid, ns, pod, container_id):
    """Falcosidekick's webhook body for the lab pod: its field order, its uuid, the
    container named by its ID only (as Falco's k8s alerts often do)."""
    with open(os.path.join(HERE, 'data', 'falco-events',
                           '15-drop-and-execute-new-binary-in-container_falco-0.43-modern.json')) as f:
        ev = json.load(f)
    ev['output_fields'].update({'k8s.ns.name': ns, 'k8s.pod.name': pod, 'container.id': container_id[:12],
                                'container.name': None})
    ev['uuid'] = uuid
    order = ['uuid', 'output', 'priority', 'rule', 'time', 'output_fields', 'source', 'tags', 'hostname']
    return json.dumps({k: ev[k] for k in order if k in ev}).encode()


def test_cluster_end_to_end_alert_to_vault_and_verdict():
    _need()
    t_start = time.time()
    times = {}
    import certs
    import crilab
    import s3server
    import standin
    from standin import SA_USER
    yaml = _yaml()
    work = os.path.join(kt.tmpdir(), 'e2e-cluster')
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    image, tag = _image()
    times['image'] = time.time() - t_start
    c = certs.make(os.path.join(work, 'certs'))
    names = {'respond': 'kcsi-e2e-respond-%d' % os.getpid(), 'collect': 'kcsi-e2e-collect-%d' % os.getpid()}
    s3 = lab = cl = None
    try:
        # the vault on the S3 test server; its keys stay with the node agents (and the host)
        s3 = s3server.Server(work)
        s3env = s3.env()
        keys = os.path.join(work, 'vault-keys')
        kt.run('vault', 'init', '--store', BUCKET_PREFIX, '--keys', keys, env=s3env)
        os.chmod(keys, 0o755)
        # the node: containerd's pod with the attack specimen running, the stand-in API and kubelet
        t0 = time.time()
        lab = crilab.Lab(os.path.join(work, 'lab'))
        lab.irc_bot()
        times['lab'] = time.time() - t0
        cl = standin.Cluster(os.path.join(work, 'cluster'), c, cri=lab.sock)
        cl.add_pod(crilab.NS, crilab.POD, crilab.CTR, container_id=lab.container)
        cl.token('sa-token-e2e', SA_USER)
        cl.grant('pods', SA_USER)
        cl.grant('nodes', SA_USER)
        cl.start()
        node_dir = cl.node_dir
        os.chmod(os.path.dirname(node_dir), 0o755)
        os.chmod(node_dir, 0o700)     # the kubelet's checkpoints directory: root, 0700

        # the responder as the Deployment runs it: the shipped configuration, its Secrets and
        # the ServiceAccount mounted where they go, in_cluster from the environment
        conf = yaml.safe_load(open(os.path.join(DEPLOY, 'kustomize', 'base', 'respond-config.yaml')))
        port = standin.free_port()
        conf['listen']['address'] = '127.0.0.1'      # host network here; 0.0.0.0 in the pod
        conf['listen']['port'] = port
        conf['checkpoint'].update(cooldown=0, attempts=1)   # two alerts on one container below
        conf['vault']['poll_interval'] = 1
        cfg = os.path.join(work, 'respond.yaml')
        with open(cfg, 'w') as f:
            yaml.safe_dump(conf, f)
        os.chmod(cfg, 0o444)
        secrets = {
            '/etc/kcsi/token': _secret_dir(os.path.join(work, 's-token'), {'token': TOKEN + '\n'}),
            '/etc/kcsi/tls': _secret_dir(os.path.join(work, 's-tls'), {'tls.crt': c['server_crt'],
                                                                        'tls.key': c['server_key']}),
            '/etc/kcsi/kubelet': _secret_dir(os.path.join(work, 's-kubelet'), {
                'tls.crt': c['client_crt'], 'tls.key': c['client_key'], 'ca.crt': c['ca']}),
            '/var/run/secrets/kubernetes.io/serviceaccount': _secret_dir(os.path.join(work, 's-sa'), {
                'token': 'sa-token-e2e\n', 'ca.crt': c['ca'], 'namespace': 'kcsi-system'}),
        }
        state = os.path.join(work, 'respond-state')
        os.makedirs(state)
        os.chown(state, 65532, 65532)
        mounts = ['-v', '%s:/etc/kcsi/respond.yaml:ro' % cfg, '-v', '%s:/var/lib/kcsi/respond' % state,
                  '--tmpfs', '/tmp']
        for dst, src in secrets.items():
            mounts += ['-v', '%s:%s:ro' % (src, dst)]
        env = ['-e', 'KUBERNETES_SERVICE_HOST=127.0.0.1', '-e', 'KUBERNETES_SERVICE_PORT=%d' % cl.api_port,
               '-e', 'KCSI_VAULT=' + BUCKET_PREFIX]
        for k, v in s3env.items():   # ConfigMap kcsi-vault and Secret kcsi-s3-receipts
            env += ['-e', '%s=%s' % (k, v)]
        _podman_run(names['respond'], image, ['respond', '--config', '/etc/kcsi/respond.yaml'],
                    ['--user', '65532:65532'] + mounts + env)
        ctx = ssl.create_default_context(cafile=c['ca'])   # Falcosidekick's checkcert: true
        base = 'https://127.0.0.1:%d' % port

        def logs():
            return 'respond:\n%s\ncollect:\n%s' % (_podman_logs(names['respond'])[-3000:],
                                                   _podman_logs(names['collect'])[-3000:])

        def ready():
            try:
                with urllib.request.urlopen(base + '/readyz', context=ctx, timeout=5) as r:
                    return r.status == 200
            except (OSError, urllib.error.URLError):
                return False
        _wait('the responder is ready', ready, 60, logs)

        # the node agent as the DaemonSet runs it: its arguments, uid 0, no capability
        ds = [o for o in yaml.safe_load_all(open(os.path.join(DEPLOY, 'kustomize', 'base', 'collect.yaml')))
              if o and o['kind'] == 'DaemonSet'][0]
        cargs = [a.replace('$(NODE_NAME)', cl.node) for a in ds['spec']['template']['spec']['containers'][0]['args']]
        watch = cargs[cargs.index('--watch') + 1]
        cenv = ['-e', 'NODE_NAME=' + cl.node, '-e', 'KCSI_VAULT=' + BUCKET_PREFIX, '-e',
                'KCSI_VAULT_KEYS=/etc/kcsi/vault-keys', '-e', 'TMPDIR=/tmp']
        for k, v in s3env.items():
            cenv += ['-e', '%s=%s' % (k, v)]
        _podman_run(names['collect'], image, cargs, ['--user', '0:0', '--tmpfs', '/tmp', '-v',
                                                     '%s:%s' % (node_dir, watch), '-v',
                                                     '%s:/etc/kcsi/vault-keys:ro' % keys] + cenv)

        def post(uuid):
            req = urllib.request.Request(base + '/falco', method='POST',
                                         data=_sidekick(uuid, crilab.NS, crilab.POD, lab.container),
                                         headers={'Content-Type': 'application/json',
                                                  'Authorization': 'Bearer ' + TOKEN})
            with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
                return r.status, json.loads(r.read())
        incidents = os.path.join(state, 'incidents.jsonl')

        # 1. the responder's kubelet user has no nodes/checkpoint yet: 403, said in the incident
        t0 = time.time()
        eq(post('5a1e0000-0000-4000-8000-000000000001'), (200, {'accepted': True, 'id': 1, 'duplicate': False}),
           'first alert')
        first = _wait('the first incident', lambda: [x for x in _lines(incidents) if 'follow_up' not in x], 120,
                      logs)[0]
        eq((first['result'], first['kubelet_status']), ('failed', 403), 'without the right: %r' % first)
        assert 'nodes/checkpoint' in first['error'] and 'user=kcsi-responder' in first['error'], first['error']
        eq(first['results'], {'checkpoint': first['results']['checkpoint'], 'label': 'skipped: the checkpoint failed'},
           'label skipped')
        eq(first['alert'], 'uuid:5a1e0000-0000-4000-8000-000000000001', 'the alert by its Falcosidekick uuid')
        eq(os.listdir(node_dir), [], 'no archive')

        # 2. the platform engineer grants nodes/checkpoint (the ClusterRole of deploy/): a real checkpoint
        cl.grant('nodes/checkpoint', 'kcsi-responder')
        eq(post('5a1e0000-0000-4000-8000-000000000002')[0], 200, 'second alert')
        second = _wait('the second incident', lambda: [x for x in _lines(incidents) if 'follow_up' not in x][1:],
                       120, logs)[0]
        times['alert_to_archive'] = time.time() - t0
        eq(second['result'], 'ok', 'with the right: %r' % second)
        eq((second['namespace'], second['pod'], second['container'], second['node']),
           (crilab.NS, crilab.POD, crilab.CTR, cl.node), 'the target (the container by its ID in the pod status)')
        eq(second['kubelet'], cl.kubelet_url, "the kubelet at the node's InternalIP and kubelet port")
        eq(second['checkpoint_request'], 'POST %s/checkpoint/%s/%s/%s?timeout=60' % (
            cl.kubelet_url, crilab.NS, crilab.POD, crilab.CTR), 'the request')
        name = os.path.basename(second['archive'])
        assert name.startswith('checkpoint-webapp_kcsi-lab-app-') and name.endswith('Z.tar'), name
        eq(second['vault'], "waiting for the node agent's receipt", 'the archive is on the node')
        eq(second['results'], {'checkpoint': 'ok', 'label': 'ok'}, 'checkpoint and label')
        kub = cl.requests('kubelet')
        eq([(x['user'], x['via'], x['status']) for x in kub], [('kcsi-responder', 'cert', 403),
                                                                ('kcsi-responder', 'cert', 200)], 'mutual TLS')

        # 3. the node agent takes it into the vault; the responder reads its receipt
        t0 = time.time()
        fu = _wait('the follow-up line', lambda: [x for x in _lines(incidents) if 'follow_up' in x], 180, logs)[0]
        times['archive_to_receipt'] = time.time() - t0
        eq((fu['incident'], fu['archive'], fu['node']), (second['incident'], second['archive'], cl.node), 'follow-up')
        vid = fu['vault_id']
        eq(fu['sha256'], vid, 'sha256 = the evidence id')
        eq((fu['vault'], fu['stored_by'], fu['report'], fu['node_copy']),
           (BUCKET_PREFIX, 'kcsi-collect@' + cl.node, True, 'deleted after this receipt'), 'receipt')
        _wait('the node copy deleted', lambda: os.listdir(node_dir) == [], 30, logs)
        eq(os.listdir(node_dir), [], 'nothing left on the node')
        # the pod: labelled with the incident, then annotated with the evidence id
        patches = [json.loads(x['body']) for x in cl.requests('api') if x['method'] == 'PATCH' and x['status'] == 200]
        eq(patches[0]['metadata']['labels'], {'kcsi.io/incident': second['incident']}, 'the label PATCH')
        eq(patches[-1]['metadata']['annotations'], {'kcsi.io/vault-id': vid, 'kcsi.io/sha256': vid},
           'the annotation PATCH')
        md = cl.pod('%s/%s' % (crilab.NS, crilab.POD))['metadata']
        eq((md['labels']['kcsi.io/incident'], md['annotations']['kcsi.io/vault-id']), (second['incident'], vid), 'pod')
        assert s3.saw('/evidence/cluster-e2e/receipts/'), 'the receipt went through the SigV4-checking proxy'

        # 4. an analyst's workstation: the evidence by its id, the verdict
        t0 = time.time()
        got = os.path.join(work, 'evidence.tar')
        kt.run('vault', 'get', '--store', BUCKET_PREFIX, '--keys', keys, vid, '--out', got, '--reason', 'incident '
               + second['incident'], env=s3env)
        eq(hashlib.sha256(open(got, 'rb').read()).hexdigest(), vid, 'kcsi vault get verified the id')
        rep = kt.jrun('analyze', '--json', got)
        eq(rep['verdict'], 'malicious', 'verdict: %r' % [(f['id'], f['severity']) for f in rep['findings']])
        assert {'KCSI-MASQ-001', 'KCSI-NET-IRC-001'} <= {f['id'] for f in rep['findings']}, rep['findings']
        eq(kt.jrun('show', '--json', got)[0]['engine'], 'containerd', 'a containerd CRI archive')
        log = kt.jrun('vault', 'log', '--store', BUCKET_PREFIX, '--keys', keys, vid, '--json', env=s3env)
        actions = [e['action'] for e in log]
        assert {'ingested', 'verified', 'analysed', 'accessed'} <= set(actions), actions
        eq([e['name'] for e in log if e['action'] == 'ingested'], [name], 'the vault knows it by the kubelet name')
        times['workstation'] = time.time() - t0
        m = {}
        with urllib.request.urlopen(base + '/metrics', context=ctx, timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line and not line.startswith('#'):
                    k, v = line.rsplit(' ', 1)
                    m[k] = float(v)
        eq((m['kcsi_respond_checkpoints_total{result="ok"}'], m['kcsi_respond_checkpoints_total{result="failed"}'],
            m['kcsi_respond_vault_receipts_total{result="stored"}']), (1.0, 1.0, 1.0), 'metrics')
    finally:
        for n in names.values():
            subprocess.run(PODMAN + ['rm', '-f', '-t', '5', n], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if tag.startswith('localhost/kcsi-e2e:'):
            subprocess.run(PODMAN + ['rmi', tag], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if cl:
            cl.stop()
        if lab:
            lab.close()
        if s3:
            s3.stop()
    times['total'] = time.time() - t_start
    print('  ' + ', '.join('%s %.1fs' % kv for kv in times.items()))
