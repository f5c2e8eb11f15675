"""Kubelet/CRI-O and containerd layouts, built here from a real podman
checkpoint: the CRIU images are copied byte for byte, the metadata files are
the ones those engines write."""
import io
import json
import os
import tarfile

import kt
from kt import eq, fixture, jrun, run

POD, NS, CTR = 'web-7d9f8', 'shop-prod', 'app'
WHEN = '2026-11-27T01:48:40Z'


def _add(t, name, data, mtime=1795744120):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mtime = mtime
    ti.mode = 0o600
    t.addfile(ti, io.BytesIO(data))


def build(kind):
    """kind: 'crio' or 'containerd'. Returns the archive path."""
    name = 'checkpoint-%s_%s-%s-%s.tar' % (POD, NS, CTR, WHEN)
    out = os.path.join(kt.tmpdir(), kind, name)
    if os.path.exists(out):
        return out
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with tarfile.open(fixture('perlbot')) as src:
        spec = json.load(src.extractfile('spec.dump'))
        cfg = json.load(src.extractfile('config.dump'))
        if kind == 'crio':
            spec['annotations'] = {
                'io.container.manager': 'cri-o',
                'io.kubernetes.pod.name': POD,
                'io.kubernetes.pod.namespace': NS,
                'io.kubernetes.container.name': CTR,
                'io.kubernetes.cri-o.ContainerID': cfg['id'],
                'io.kubernetes.cri-o.IP.0': '10.244.1.17',
                'io.kubernetes.cri-o.Labels': json.dumps({'io.kubernetes.pod.name': POD, 'app': 'web'}),
                'io.kubernetes.cri-o.Metadata': json.dumps({'name': CTR, 'attempt': 0}),
                'io.kubernetes.cri-o.Annotations': json.dumps({'io.kubernetes.container.restartCount': '0'}),
                'io.kubernetes.cri-o.ImageName': 'registry.example/shop/web:1.4',
            }
            config = {
                'id': cfg['id'], 'name': 'k8s_%s_%s_%s_uid_0' % (CTR, POD, NS),
                'rootfsImage': 'registry.example/shop/web:1.4',
                'rootfsImageRef': 'd982dea43182caacbc5ba9a71b72368604c1dfd9b76dab9c63b9a3c5d202123e',
                'rootfsImageName': 'registry.example/shop/web:1.4',
                'runtime': 'runc', 'createdTime': '2026-11-27T01:40:00.123456789Z',
                'checkpointedTime': '2026-11-27T01:48:40.5Z',
            }
        else:
            spec['annotations'] = {
                'io.kubernetes.cri.container-type': 'container',
                'io.kubernetes.cri.container-name': CTR,
                'io.kubernetes.cri.sandbox-name': POD,
                'io.kubernetes.cri.sandbox-namespace': NS,
                'io.kubernetes.cri.sandbox-id': 'f' * 64,
                'io.kubernetes.cri.image-name': 'registry.example/shop/web:1.4',
            }
            config = {'id': cfg['id'], 'name': CTR}
        with tarfile.open(out, 'w') as dst:
            for m in src.getmembers():
                if m.name.startswith('checkpoint') or m.name == 'rootfs-diff.tar':
                    dst.addfile(m, src.extractfile(m) if m.isfile() else None)
            _add(dst, 'config.dump', json.dumps(config).encode())
            _add(dst, 'spec.dump', json.dumps(spec).encode())
            if kind == 'crio':
                _add(dst, 'bind.mounts', json.dumps([
                    {'source': '/var/lib/kubelet/pods/uid/etc-hosts', 'destination': '/etc/hosts',
                     'file_type': 'file', 'permissions': 420}]).encode())
                _add(dst, 'dump.log', b'(00.000000) Version: 4.2.1\n')
                _add(dst, 'deleted.files', json.dumps(['/tmp/dropper']).encode())
    return out


def test_crio_layout_show_and_views():
    path = build('crio')
    row = jrun('show', '--json', path)[0]
    eq(row['engine'], 'CRI-O', 'engine')
    eq((row['pod'], row['namespace'], row['container']), (POD, NS, CTR), 'names')
    eq(row['ip'], '10.244.1.17', 'ip')
    eq(row['image'], 'registry.example/shop/web:1.4', 'image')
    eq(row['checkpointed'], '2026-11-27T01:48:40.5Z', 'checkpointed')
    eq(row['checkpointed_source'], 'config.dump', 'checkpointed source')
    eq(row['created'], '2026-11-27T01:40:00.123456789Z', 'created')
    # the process views are the same as for the podman archive
    for view in (['ps', '--json', '--env'], ['files', '--json'], ['maps', '--json', '--pid', '15']):
        eq(run(*(view + [path]))[1], run(*(view + [fixture('perlbot')]))[1], ' '.join(view))
    net = jrun('net', '--json', path)
    eq(net['container']['ip'], '10.244.1.17', 'net container ip')
    meta = jrun('meta', '--json', path)
    eq(meta['labels'], {'io.kubernetes.pod.name': POD, 'app': 'web'}, 'decoded labels')
    eq(meta['annotations']['io.kubernetes.cri-o.Metadata'], {'name': CTR, 'attempt': 0}, 'decoded metadata')
    eq(meta['bind_mounts'][0]['destination'], '/etc/hosts', 'bind mounts')


def test_containerd_layout():
    row = jrun('show', '--json', build('containerd'))[0]
    eq(row['engine'], 'containerd', 'engine')
    eq((row['pod'], row['namespace'], row['container']), (POD, NS, CTR), 'names')
    eq(row['image'], 'registry.example/shop/web:1.4', 'image')


def test_list_kubelet_directory():
    d = os.path.dirname(build('crio'))
    rows = jrun('list', '--json', d)
    eq([(r['namespace'], r['pod'], r['container'], r['engine']) for r in rows], [(NS, POD, CTR, 'CRI-O')], 'rows')
    assert ':' in os.path.basename(rows[0]['file']), 'the kubelet file name has colons'
