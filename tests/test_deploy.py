"""kcsi on Kubernetes: the container image (deploy/image/build.sh, built with podman and run),
the kustomize base and overlays, the Falcosidekick values and the Argo Events/Workflows files
(deploy/).  Every overlay is rendered (kustomize from deploy/tools/install.sh, or kubectl's),
linted (yamllint), and what kcsi relies on is checked against kcsi itself: every kcsi command
line in the manifests goes through the real binary's option parser, the responder's shipped
configuration passes `kcsi respond --check-config` inside the image with the Secrets mounted
where the Deployment mounts them, the probe paths answer on a running responder, the ports,
mounts and RBAC are the ones the configuration and docs/kubernetes.md name, and the node
agent's privileges (uid 0, no capability) are shown to be enough, and needed, in the image."""
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

import kt
from kt import eq
from test_respond import free_port  # noqa: E402  (one helper for a free loopback port)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = kt.ROOT
DEPLOY = os.path.join(ROOT, 'deploy')
KUSTOMIZE_DIRS = ['kustomize/base', 'kustomize/overlays/containerd', 'kustomize/overlays/cri-o',
                  'kustomize/overlays/s3-vault', 'kustomize/overlays/nodes-proxy', 'argo']
RESPOND_CONFIG = os.path.join(DEPLOY, 'kustomize', 'base', 'respond-config.yaml')
ARGO_POLICY = os.path.join(DEPLOY, 'argo', 'policy.yaml')
EVENTS = os.path.join(HERE, 'data', 'falco-events')
PODMAN = ['podman', '--runtime', 'runc']
RUN_FLAGS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096']
sys.path.insert(0, os.path.join(HERE, 'respond'))


def _yaml():
    try:
        import yaml
    except ImportError:
        raise kt.Skip('python3 yaml module missing')
    return yaml


def _renderer():
    for k in (os.environ.get('KUSTOMIZE'), '/opt/kcsi-tools/usr/bin/kustomize', shutil.which('kustomize')):
        if k and os.access(k, os.X_OK):
            return [k, 'build']
    if shutil.which('kubectl'):
        return ['kubectl', 'kustomize']
    raise kt.Skip('no kustomize (run deploy/tools/install.sh) and no kubectl')


_rendered = {}


def render(d):
    """The objects `kustomize build deploy/D` makes (cached per run)."""
    if d not in _rendered:
        p = subprocess.run(_renderer() + [os.path.join(DEPLOY, d)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        assert p.returncode == 0, 'kustomize build %s: %s' % (d, p.stderr.decode(errors='replace'))
        _rendered[d] = [o for o in _yaml().safe_load_all(p.stdout) if o]
    return _rendered[d]


def obj(objs, kind, name):
    found = [o for o in objs if o['kind'] == kind and o['metadata']['name'] == name]
    assert len(found) == 1, '%s/%s: %d objects' % (kind, name, len(found))
    return found[0]


def load(path):
    with open(path) as f:
        return _yaml().safe_load(f)


def pod_specs(objs):
    """(object, pod spec or WorkflowTemplate template, containers) for everything that runs."""
    for o in objs:
        if o['kind'] in ('Deployment', 'DaemonSet'):
            s = o['spec']['template']['spec']
            yield o, s, s['containers'] + s.get('initContainers', [])
        elif o['kind'] == 'WorkflowTemplate':
            for t in o['spec']['templates']:
                cs = ([t['container']] if 'container' in t else []) + t.get('containerSet', {}).get('containers', [])
                if cs:
                    yield o, t, cs


def is_kcsi(c):
    return re.match(r'^(localhost/)?kcsi(:|$)', c.get('image', '')) is not None


# ---------------------------------------------------------------- rendering and lint

def test_tools_install_script_is_idempotent_and_finds_kustomize():
    if os.geteuid() != 0:
        raise kt.Skip('needs root')
    p = subprocess.run(['bash', os.path.join(DEPLOY, 'tools', 'install.sh')], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=600)
    assert p.returncode == 0, p.stdout.decode(errors='replace')
    out = subprocess.run(['/opt/kcsi-tools/usr/bin/kustomize', 'build', os.path.join(DEPLOY, 'kustomize', 'base')],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    assert 'kind: DaemonSet' in out, out[:200]
    assert shutil.which('yamllint')


def test_every_overlay_renders():
    for d in KUSTOMIZE_DIRS:
        objs = render(d)
        kinds = sorted({o['kind'] for o in objs})
        assert objs, d
        for o in objs:
            if o['kind'] not in ('Namespace', 'ClusterRole', 'ClusterRoleBinding'):
                want = 'argo-events' if d == 'argo' else 'kcsi-system'
                eq(o['metadata'].get('namespace'), want, '%s %s/%s namespace' % (d, o['kind'], o['metadata']['name']))
        if d.startswith('kustomize'):
            for k in ('DaemonSet', 'Deployment', 'Service', 'Secret', 'ServiceAccount', 'ClusterRole',
                      'ClusterRoleBinding', 'NetworkPolicy', 'ConfigMap', 'PersistentVolumeClaim', 'Namespace'):
                assert k in kinds, '%s: no %s' % (d, k)
        else:
            for k in ('EventSource', 'Sensor', 'WorkflowTemplate', 'ConfigMap'):
                assert k in kinds, '%s: no %s' % (d, k)
        names = {(o['kind'], o['metadata']['name']) for o in objs}
        for o, spec, cs in pod_specs(objs):
            for c in cs:
                if 'image' in c:
                    assert c['image'] == 'localhost/kcsi:0.1.0', '%s: image %s' % (d, c['image'])
                for ef in c.get('envFrom', []):   # every object a pod names is rendered, by its final name
                    ref = ('ConfigMap', ef['configMapRef']['name']) if 'configMapRef' in ef else \
                        ('Secret', ef['secretRef']['name'])
                    assert ref in names, '%s: %s/%s names %s/%s' % (d, o['kind'], o['metadata']['name'], *ref)
            for v in spec.get('volumes') or o['spec'].get('volumes', []):
                ref = ('ConfigMap', v['configMap']['name']) if 'configMap' in v else \
                    ('Secret', v['secret']['secretName']) if 'secret' in v else \
                    ('PersistentVolumeClaim', v['persistentVolumeClaim']['claimName']) \
                    if 'persistentVolumeClaim' in v else None
                assert not ref or ref in names, '%s: %s/%s names %s/%s' % (d, o['kind'], o['metadata']['name'], *ref)
            sa = spec.get('serviceAccountName') or o['spec'].get('serviceAccountName')
            assert ('ServiceAccount', sa) in names, '%s: no ServiceAccount %s' % (d, sa)


def test_yamllint_clean():
    if not shutil.which('yamllint'):
        raise kt.Skip('yamllint not installed (deploy/tools/install.sh)')
    p = subprocess.run(['yamllint', '-s', '-f', 'parsable', '-c', os.path.join(DEPLOY, '.yamllint'), DEPLOY],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    assert p.returncode == 0, p.stdout.decode(errors='replace')


# ---------------------------------------------------------------- RBAC, security, resources

RESPOND_RULES = [{'apiGroups': [''], 'resources': ['nodes/checkpoint'], 'verbs': ['create']},
                 {'apiGroups': [''], 'resources': ['pods'], 'verbs': ['get', 'patch']},
                 {'apiGroups': [''], 'resources': ['nodes'], 'verbs': ['get']}]


def test_rbac_is_exactly_the_listed_rights():
    for d in KUSTOMIZE_DIRS[:-1]:
        objs = render(d)
        eq(obj(objs, 'ClusterRole', 'kcsi-respond')['rules'], RESPOND_RULES, d + ': kcsi-respond rules')
        b = obj(objs, 'ClusterRoleBinding', 'kcsi-respond')
        eq(b['roleRef']['name'], 'kcsi-respond', d)
        eq(sorted((s['kind'], s['name']) for s in b['subjects']),
           [('ServiceAccount', 'kcsi-respond'), ('User', 'kcsi-respond')], d + ' subjects')
        sa = obj(objs, 'ServiceAccount', 'kcsi-collect')
        eq(sa.get('automountServiceAccountToken'), False, d + ': collect token')
        for o in objs:   # nobody else gets rights; nodes/proxy only in its overlay
            if o['kind'] in ('ClusterRoleBinding', 'RoleBinding'):
                assert all(s['name'] != 'kcsi-collect' for s in o['subjects']), o
            if o['kind'] in ('ClusterRole', 'Role'):
                for r in o['rules']:
                    assert '*' not in r['verbs'] and '*' not in r['resources'], o
                    if 'nodes/proxy' in r['resources']:
                        assert d.endswith('nodes-proxy'), '%s grants nodes/proxy' % d
    proxy = obj(render('kustomize/overlays/nodes-proxy'), 'ClusterRole', 'kcsi-respond-nodes-proxy')
    eq(proxy['rules'], [{'apiGroups': [''], 'resources': ['nodes/proxy'], 'verbs': ['create']}], 'nodes-proxy')


def test_pod_security_and_resources():
    for d in KUSTOMIZE_DIRS:
        for o, spec, cs in pod_specs(render(d)):
            where = '%s %s' % (d, o['metadata']['name'])
            psc = spec.get('securityContext') or o['spec'].get('securityContext', {})
            eq(psc.get('seccompProfile'), {'type': 'RuntimeDefault'}, where + ' seccomp')
            assert not spec.get('hostNetwork') and not spec.get('hostPID') and not spec.get('hostIPC'), where
            for c in cs:
                sc = c['securityContext']
                eq(sc.get('capabilities'), {'drop': ['ALL']}, where + ' capabilities')
                eq(sc.get('allowPrivilegeEscalation'), False, where + ' escalation')
                eq(sc.get('readOnlyRootFilesystem'), True, where + ' read-only root')
                assert not sc.get('privileged'), where
                r = c['resources']
                assert r['requests']['cpu'] and r['requests']['memory'] and r['limits']['memory'], where
            root = psc.get('runAsUser') == 0
            if o['kind'] == 'Deployment':
                eq((psc.get('runAsNonRoot'), psc.get('runAsUser')), (True, 65532), where + ' non-root')
            if root:   # only the node agent and the Argo steps that read the node's archive
                assert o['kind'] == 'DaemonSet' or spec.get('name') in ('vault-put', 'analyze'), where
                vols = spec.get('volumes') or o['spec'].get('volumes', [])
                hp = [v['hostPath']['path'] for v in vols if 'hostPath' in v]
                eq(hp, ['/var/lib/kubelet/checkpoints'], where + ' host paths')


# ---------------------------------------------------------------- what kcsi relies on

def _respond_container(objs):
    dep = obj(objs, 'Deployment', 'kcsi-respond')
    return dep, dep['spec']['template']['spec']['containers'][0]


def _mounted(container, path, volumes):
    """The volume (and its mount) a path lies under, the longest mount path first."""
    best = None
    for m in container.get('volumeMounts', []):
        mp = m['mountPath']
        if path == mp or path.startswith(mp.rstrip('/') + '/'):
            if not best or len(mp) > len(best[1]['mountPath']):
                best = ([v for v in volumes if v['name'] == m['name']][0], m)
    assert best, '%s is not on any mount of %s' % (path, container['name'])
    return best


def test_respond_ports_mounts_and_config_agree():
    conf = load(RESPOND_CONFIG)
    for d in KUSTOMIZE_DIRS[:-1]:
        objs = render(d)
        dep, c = _respond_container(objs)
        spec = dep['spec']['template']['spec']
        eq(dep['spec']['replicas'], 1, 'one responder: one SQLite queue')
        eq(dep['spec']['strategy']['type'], 'Recreate', 'strategy')
        port = [p for p in c['ports'] if p['name'] == 'webhook'][0]
        eq(port['containerPort'], conf['listen']['port'], d + ' container port')
        svc = obj(objs, 'Service', 'kcsi-respond')
        eq(svc['spec']['ports'][0]['targetPort'], 'webhook', d + ' service target')
        eq(svc['spec']['selector'], dep['spec']['selector']['matchLabels'], d + ' service selector')
        npol = obj(objs, 'NetworkPolicy', 'kcsi-respond')
        eq(npol['spec']['ingress'][0]['ports'], [{'port': conf['listen']['port'], 'protocol': 'TCP'}], 'policy port')
        # the config file is the ConfigMap's respond.yaml, mounted where --config says
        cm_name = [v for v in spec['volumes'] if v['name'] == 'config'][0]['configMap']['name']
        cm = obj(objs, 'ConfigMap', cm_name)
        eq(load_text(cm['data']['respond.yaml']), conf, 'ConfigMap holds respond-config.yaml')
        eq(c['args'][c['args'].index('--config') + 1], '/etc/kcsi/respond.yaml', 'config path')
        vol, m = _mounted(c, '/etc/kcsi/respond.yaml', spec['volumes'])
        eq(m.get('subPath'), 'respond.yaml', 'config subPath')
        # every file the config reads is on a Secret volume holding that key
        files = [conf['listen']['tls_cert'], conf['listen']['tls_key'], conf['auth']['bearer_token_file'],
                 conf['kubelet']['cert'], conf['kubelet']['key'], conf['kubelet']['cacert']]
        for f in files:
            vol, m = _mounted(c, f, spec['volumes'])
            assert m.get('readOnly'), f
            key = os.path.relpath(f, m['mountPath'])
            sec = obj(objs, 'Secret', vol['secret']['secretName'])
            assert key in sec['data'], '%s: Secret %s has no key %s' % (f, sec['metadata']['name'], key)
        # the state directory (queue, incident log) is on the claim, writable
        for f in (conf['state_dir'], conf['incident_log']):
            vol, m = _mounted(c, f, spec['volumes'])
            assert 'persistentVolumeClaim' in vol and not m.get('readOnly'), f
        # probes are HTTPS (the config has a certificate) on the webhook port, on kcsi's paths
        for probe, path in (('livenessProbe', '/healthz'), ('readinessProbe', '/readyz')):
            g = c[probe]['httpGet']
            eq((g['path'], g['port'], g['scheme']), (path, 'webhook', 'HTTPS'), probe)


def load_text(s):
    return _yaml().safe_load(s)


def test_probe_paths_answer_on_a_running_responder():
    """The shipped configuration, with its files made here, the kubelet left out (record
    mode) and the in-cluster API replaced by an address nobody answers (the label action
    needs an API to start; the probes and a refused alert never reach it), is run for real;
    the probes' paths answer 200 over HTTPS and an alert without the bearer token is
    refused."""
    import certs
    objs = render('kustomize/base')
    _, c = _respond_container(objs)
    conf = load(RESPOND_CONFIG)
    d = tempfile.mkdtemp(prefix='deploy-probe-', dir=kt.tmpdir())
    paths = certs.make(os.path.join(d, 'certs'))
    with open(os.path.join(d, 'token'), 'w') as f:
        f.write('t0ken-for-the-test\n')
    port = free_port()
    conf['listen'].update(address='127.0.0.1', port=port, tls_cert=paths['server_crt'], tls_key=paths['server_key'])
    conf['auth']['bearer_token_file'] = os.path.join(d, 'token')
    conf['state_dir'] = os.path.join(d, 'state')
    conf['incident_log'] = os.path.join(d, 'incidents.jsonl')
    conf['log'] = os.path.join(d, 'respond.log')
    conf.pop('kubelet')
    conf['kubernetes'] = {'api': 'https://127.0.0.1:%d' % free_port()}
    conf['checkpoint']['mode'] = 'record'
    cfg = os.path.join(d, 'respond.yaml')
    with open(cfg, 'w') as f:
        _yaml().safe_dump(conf, f)
    p = subprocess.Popen([kt.KCSI, 'respond', '--config', cfg], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        ctx = ssl.create_default_context(cafile=paths['ca'])
        ctx.check_hostname = False
        base = 'https://127.0.0.1:%d' % port
        deadline = time.monotonic() + 30
        for probe in ('livenessProbe', 'readinessProbe'):
            path = c[probe]['httpGet']['path']
            while True:
                try:
                    with urllib.request.urlopen(base + path, context=ctx, timeout=5) as r:
                        eq(r.status, 200, path)
                        break
                except (OSError, urllib.error.URLError):
                    assert p.poll() is None, 'responder exited: %s' % p.stderr.read().decode(errors='replace')
                    assert time.monotonic() < deadline, 'no answer on ' + path
                    time.sleep(0.1)
        req = urllib.request.Request(base + '/falco', data=b'{}', method='POST')
        try:
            urllib.request.urlopen(req, context=ctx, timeout=5)
            raise AssertionError('an alert without the token was accepted')
        except urllib.error.HTTPError as e:
            eq(e.code, 401, 'no token')
    finally:
        p.terminate()
        p.wait(timeout=60)


def test_collect_mounts_env_and_args():
    for d in KUSTOMIZE_DIRS[:-1]:
        objs = render(d)
        ds = obj(objs, 'DaemonSet', 'kcsi-collect')
        spec = ds['spec']['template']['spec']
        c = spec['containers'][0]
        args = c['args']
        watch = args[args.index('--watch') + 1]
        vol, m = _mounted(c, watch, spec['volumes'])
        eq(vol['hostPath']['path'], watch, 'watched dir is the host directory')
        assert not m.get('readOnly'), 'collect deletes node copies: the mount must be writable'
        eq(m['mountPath'], watch, 'mount path')
        env = {e['name']: e for e in c['env']}
        eq(env['NODE_NAME']['valueFrom'], {'fieldRef': {'fieldPath': 'spec.nodeName'}}, 'downward API')
        assert 'kcsi-collect@$(NODE_NAME)' in args, args
        cm = obj(objs, 'ConfigMap', c['envFrom'][0]['configMapRef']['name'])['data']
        assert cm['KCSI_VAULT'].startswith('s3://'), cm
        vol, m = _mounted(c, cm['KCSI_VAULT_KEYS'], spec['volumes'])
        sec = obj(objs, 'Secret', vol['secret']['secretName'])
        eq(sorted(sec['data']), ['enc.key', 'sign.key', 'sign.pub'], 'vault keys')
        creds = obj(objs, 'Secret', c['envFrom'][1]['secretRef']['name'])
        eq(sorted(creds['data']), ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'], 'S3 credentials')
        if 'overlays/containerd' in d or 'overlays/cri-o' in d:
            eq(spec['nodeSelector'], {'kcsi.io/checkpoint-runtime': d.rsplit('/', 1)[1]}, d)


def _help_options(cmd):
    """Options of `kcsi CMD --help`: {'--name': takes_value, '-x': takes_value}."""
    p = subprocess.run([kt.KCSI] + cmd + ['--help'], stdout=subprocess.PIPE, timeout=30)
    assert p.returncode == 0, cmd
    opts = {}
    text = p.stdout.decode()
    text = text[text.index('\noptions:\n'):]
    text = text[:text.index('\n\n', 1)] if '\n\n' in text[1:] else text
    for line in text.splitlines():
        m = re.match(r'^  (?:(-\w), )?\s*(--[\w-]+)( [A-Z][\w|:/.\[\]-]*)?\s', line)
        if m:
            opts[m.group(2)] = bool(m.group(3))
            if m.group(1):
                opts[m.group(1)] = bool(m.group(3))
    assert opts, cmd
    return opts


SUBST = {r'\$\(NODE_NAME\)': 'node-1', r'\{\{inputs\.parameters\.node\}\}': 'node-1',
         r'\{\{inputs\.parameters\.target\}\}': 'shop/web-5d8f7/app',
         r'\{\{inputs\.parameters\.archive\}\}': '/var/lib/kubelet/checkpoints/checkpoint-web_shop-app-2026-01-01T00:00:00Z.tar',
         r'\{\{inputs\.parameters\.id\}\}': 'a92d0742d6692740fabadb933c650c50f2b1bcdf46ba6006cd7f05403c152c24',
         r'\{\{inputs\.parameters\.rule\}\}': 'Terminal shell in container',
         r'\{\{workflow\.name\}\}': 'kcsi-incident-x7k2p'}
POSITIONALS = {'respond': 0, 'respond --parse': 1, 'checkpoint': 1, 'collect': 0, 'analyze': 1, 'vault put': 1,
               'vault report': 2}


def test_every_kcsi_command_line_is_valid():
    seen = set()
    for d in KUSTOMIZE_DIRS:
        for o, _, cs in pod_specs(render(d)):
            for c in cs:
                if not is_kcsi(c):
                    continue
                args = list(c.get('command', [])[1:]) + list(c['args'])
                for i, a in enumerate(args):
                    for k, v in SUBST.items():
                        a = re.sub(k, v, a)
                    assert '{{' not in a and '$(' not in a, 'unresolved placeholder in %r' % a
                    args[i] = a
                cmd = args[:2] if args[0] == 'vault' else args[:1]
                rest = args[len(cmd):]
                opts = _help_options(cmd)
                pos, i = [], 0
                while i < len(rest):
                    a = rest[i]
                    if a.startswith('-'):
                        assert a in opts, '%s: kcsi %s has no option %s' % (d, ' '.join(cmd), a)
                        if opts[a]:
                            assert i + 1 < len(rest) and not rest[i + 1].startswith('--'), (a, rest)
                            i += 1
                    else:
                        pos.append(a)
                    i += 1
                if '--parse' in rest:
                    cmd = cmd + ['--parse']
                eq(len(pos), POSITIONALS[' '.join(cmd)], '%s: kcsi %s positionals %r' % (d, ' '.join(cmd), pos))
                # and the binary's own parser agrees (it stops at --help once every option parsed)
                p = subprocess.run([kt.KCSI] + args + ['--help'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   timeout=30)
                eq(p.returncode, 0, '%s: kcsi %s: %s' % (d, ' '.join(args), p.stderr.decode(errors='replace')))
                seen.add(' '.join(cmd))
    eq(sorted(seen), sorted(POSITIONALS), 'commands found in the manifests')


def test_argo_policy_is_the_responders_and_decides_like_it():
    rc, ac = load(RESPOND_CONFIG), load(ARGO_POLICY)
    eq(ac['rules'], rc['rules'], 'rules')
    eq(ac['exclude'], rc['exclude'], 'exclusions')
    wt = obj(render('argo'), 'WorkflowTemplate', 'kcsi-falco-response')
    vol = [v for v in wt['spec']['volumes'] if v['name'] == 'policy'][0]
    cm = obj(render('argo'), 'ConfigMap', vol['configMap']['name'])
    eq(load_text(cm['data']['policy.yaml']), ac, 'ConfigMap holds policy.yaml')
    dec = [t for t in wt['spec']['templates'] if t['name'] == 'decide'][0]['container']
    eq(dec['args'][dec['args'].index('--config') + 1], dec['volumeMounts'][0]['mountPath'], 'policy path')
    text = json.dumps(wt)
    keys = set(re.findall(r"\$\[0\]\.([\w.]+)", text))
    assert keys >= {'ok', 'decision.actions', 'namespace', 'pod', 'container'}, keys
    events = sorted(os.path.join(EVENTS, f) for f in os.listdir(EVENTS) if f.endswith('.json'))
    out = json.loads(kt.run('respond', '--parse', '--config', ARGO_POLICY, *events)[1])
    acted = 0
    for r in out:
        for k in keys:   # every key the template's jsonpath expressions read is there
            v = r
            for part in k.split('.'):
                assert part in v, '%s: no %s in %r' % (r['file'], k, r)
                v = v[part]
        acted += bool(r['decision']['actions'])
    assert acted >= 2, out


def test_falcosidekick_values_point_at_the_responder():
    v = load(os.path.join(DEPLOY, 'falco', 'falcosidekick-values.yaml'))
    wh = v['falcosidekick']['config']['webhook']
    m = re.match(r'^(https?)://([^:/]+):(\d+)(/.*)?$', wh['address'])
    assert m, wh['address']
    svc = obj(render('kustomize/base'), 'Service', 'kcsi-respond')
    conf = load(RESPOND_CONFIG)
    eq(m.group(2).split('.')[:2], [svc['metadata']['name'], svc['metadata']['namespace']], 'service DNS name')
    eq(int(m.group(3)), svc['spec']['ports'][0]['port'], 'port')
    eq(m.group(1), 'https' if conf['listen'].get('tls_cert') else 'http', 'scheme')
    assert (m.group(4) or '/') in ('/', '/events', '/falco'), m.group(4)
    assert wh['customHeaders'].startswith('Authorization:Bearer '), wh
    eq(wh['checkcert'], True, 'checkcert')
    assert wh['minimumpriority'] in ('emergency', 'alert', 'critical', 'error', 'warning', 'notice',
                                     'informational', 'debug', ''), wh


# ---------------------------------------------------------------- the image

def _need_podman():
    if os.geteuid() != 0:
        raise kt.Skip('needs root (podman)')
    if not shutil.which('podman'):
        raise kt.Skip('podman not installed (lab/setup.sh)')


_image = []


def image():
    """Build the image once per run with deploy/image/build.sh; returns its tag."""
    _need_podman()
    if not _image:
        p = subprocess.run(['bash', os.path.join(DEPLOY, 'image', 'build.sh'), '--build', os.path.dirname(kt.KCSI)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
        assert p.returncode == 0, p.stderr.decode(errors='replace')
        _image.append(p.stdout.decode().strip().splitlines()[-1])
    return _image[0]


def podman_run(*args, timeout=180):
    return subprocess.run(PODMAN + ['run', '--rm', '--network', 'none'] + RUN_FLAGS + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


def test_image_metadata_and_version():
    tag = image()
    version = kt.run('--version')[1].decode().split()[1]
    eq(tag, 'localhost/kcsi:' + version, 'tag')
    info = json.loads(subprocess.run(PODMAN + ['image', 'inspect', tag], stdout=subprocess.PIPE,
                                     check=True).stdout)[0]
    head = subprocess.run(['git', '-C', ROOT, 'rev-parse', 'HEAD'], stdout=subprocess.PIPE).stdout.decode().strip()
    for where in ('Labels', 'Annotations'):
        meta = info[where]
        eq(meta['org.opencontainers.image.version'], version, where + ' version')
        assert meta['org.opencontainers.image.revision'].startswith(head), meta
        assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$', meta['org.opencontainers.image.created']), meta
        assert meta['org.opencontainers.image.source'], meta
    eq(info['Config']['Entrypoint'], ['/usr/bin/kcsi'], 'entrypoint')
    eq(info['Config']['User'], '65532:65532', 'user')
    p = podman_run(tag, '--version')
    eq((p.returncode, p.stdout.decode().strip()), (0, 'kcsi ' + version), 'kcsi --version in the image')
    # no shell, no package manager: exactly kcsi, its libraries and its rules
    p = podman_run('--entrypoint', '/bin/sh', tag, '-c', 'true')
    assert p.returncode != 0, 'the image has a shell'


def test_image_analyze_fixture_read_only_as_non_root():
    tag = image()
    fx = kt.fixture('perlbot')
    p = podman_run('--read-only', '--cap-drop', 'all', '--security-opt', 'no-new-privileges',
                   '-v', '%s:/evidence/checkpoint.tar:ro' % fx, tag, 'analyze', '--json', '/evidence/checkpoint.tar')
    assert p.returncode == 0, p.stderr.decode(errors='replace')
    rep = json.loads(p.stdout)
    eq(rep['verdict'], 'malicious', 'verdict in the image')
    host = kt.jrun('analyze', '--json', fx)
    eq(sorted(f['id'] for f in rep['findings']), sorted(f['id'] for f in host['findings']),
       'same findings as the host binary (YARA rules found in the image)')
    assert any(f['id'].startswith('KCSI-YARA') for f in rep['findings']), [f['id'] for f in rep['findings']]


def test_image_respond_check_config_on_the_shipped_config():
    """The ConfigMap's respond.yaml in the image, with every Secret mounted where the
    Deployment mounts it and a ServiceAccount token where Kubernetes puts it."""
    import certs
    tag = image()
    objs = render('kustomize/base')
    dep, c = _respond_container(objs)
    spec = dep['spec']['template']['spec']
    d = tempfile.mkdtemp(prefix='deploy-cc-', dir=kt.tmpdir())
    paths = certs.make(os.path.join(d, 'certs'))
    content = {'kcsi-respond-token': {'token': 't0ken\n'},
               'kcsi-respond-tls': {'tls.crt': paths['server_crt'], 'tls.key': paths['server_key']},
               'kcsi-kubelet-client': {'tls.crt': paths['client_crt'], 'tls.key': paths['client_key'],
                                       'ca.crt': paths['ca']}}
    mounts = []
    for m in c['volumeMounts']:
        vol = [v for v in spec['volumes'] if v['name'] == m['name']][0]
        src = os.path.join(d, m['name'])
        os.makedirs(src, exist_ok=True)
        if 'secret' in vol:
            for key, val in content[vol['secret']['secretName']].items():
                if os.path.exists(val):
                    shutil.copy(val, os.path.join(src, key))
                else:
                    with open(os.path.join(src, key), 'w') as f:
                        f.write(val)
            os.chmod(src, 0o755)
            for f in os.listdir(src):
                os.chmod(os.path.join(src, f), 0o444)
            mounts += ['-v', '%s:%s:ro' % (src, m['mountPath'])]
        elif 'configMap' in vol:
            mounts += ['-v', '%s:%s:ro' % (RESPOND_CONFIG, m['mountPath'])]
        else:
            os.chmod(src, 0o777)
            mounts += ['-v', '%s:%s' % (src, m['mountPath'])]
    sa = os.path.join(d, 'sa')
    os.makedirs(sa)
    for n, t in (('token', 'eyJhbGciOi.test.token\n'), ('ca.crt', open(paths['ca']).read()), ('namespace', 'kcsi-system')):
        with open(os.path.join(sa, n), 'w') as f:
            f.write(t)
    os.chmod(sa, 0o755)
    for f in os.listdir(sa):
        os.chmod(os.path.join(sa, f), 0o444)
    mounts += ['-v', '%s:/var/run/secrets/kubernetes.io/serviceaccount:ro' % sa]
    args = list(c['args']) + ['--check-config']
    p = podman_run('--read-only', '--cap-drop', 'all', '--user', '65532:65532',
                   '-e', 'KUBERNETES_SERVICE_HOST=10.96.0.1', '-e', 'KUBERNETES_SERVICE_PORT=443',
                   *mounts, tag, *args)
    assert p.returncode == 0, p.stderr.decode(errors='replace')
    summary = json.loads(p.stdout)
    conf = load(RESPOND_CONFIG)
    eq(summary['listen'], 'https://0.0.0.0:%d' % conf['listen']['port'], 'listen')
    eq(summary['auth'], ['bearer'], 'auth')
    eq(summary['mode'], 'kubelet', 'mode')
    eq(summary['kubernetes_api'], 'https://10.96.0.1:443', 'in-cluster API')
    eq(summary['rules'], len(conf['rules']), 'rules')
    # an empty Secret (as shipped) fails closed
    open(os.path.join(d, 'token', 'token'), 'w').close()
    p = podman_run('--read-only', '--cap-drop', 'all', '--user', '65532:65532',
                   '-e', 'KUBERNETES_SERVICE_HOST=10.96.0.1', '-e', 'KUBERNETES_SERVICE_PORT=443',
                   *mounts, tag, *args)
    assert p.returncode != 0, 'an empty bearer token was accepted'


def test_image_collect_needs_uid_0_and_no_capability():
    """The DaemonSet's privileges in the image: uid 0 with every capability dropped and a
    read-only root takes a kubelet-like archive (root, 0600, in a root 0700 directory) into
    a vault, verifies it and deletes the node copy; uid 65532 cannot."""
    tag = image()
    objs = render('kustomize/base')
    c = obj(objs, 'DaemonSet', 'kcsi-collect')['spec']['template']['spec']['containers'][0]
    watch = c['args'][c['args'].index('--watch') + 1]
    d = tempfile.mkdtemp(prefix='deploy-collect-', dir=kt.tmpdir())
    node = os.path.join(d, 'checkpoints')
    os.makedirs(node)
    os.chmod(node, 0o700)
    name = 'checkpoint-web_shop-app-2026-01-01T00:00:00Z.tar'
    shutil.copy(kt.fixture('counter'), os.path.join(node, name))
    os.chmod(os.path.join(node, name), 0o600)
    vault = os.path.join(d, 'vault')
    kt.run('vault', 'init', '--store', vault)
    args = ['collect', '--watch', watch, '--vault', '/vault', '--once', '--settle', '0',
            '--actor', 'kcsi-collect@node-1']
    common = ['--read-only', '--cap-drop', 'all', '--security-opt', 'no-new-privileges', '--tmpfs', '/tmp',
              '-v', '%s:%s' % (node, watch), '-v', '%s:/vault' % vault]
    p = podman_run('--user', '65532:65532', *common, tag, *args)
    assert os.path.exists(os.path.join(node, name)), 'uid 65532 took the archive'
    p = podman_run('--user', '0:0', *common, tag, *args)
    assert p.returncode == 0, p.stderr.decode(errors='replace') + p.stdout.decode(errors='replace')
    assert not os.path.exists(os.path.join(node, name)), 'node copy not deleted: %s' % p.stdout.decode()
    held = kt.jrun('vault', 'ls', '--store', vault, '--json')
    eq([e['name'] for e in held if e.get('name')], [name], 'in the vault')
    log = kt.jrun('vault', 'log', '--store', vault, '--json')
    actions = [e['action'] for e in log]
    assert 'ingested' in actions and 'verified' in actions, actions
    assert any(e.get('actor') == 'kcsi-collect@node-1' for e in log), log
