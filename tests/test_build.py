"""kcsi build: an OCI image holding a checkpoint.  The layout is validated by hand against
the OCI image spec (media types, every descriptor's digest and size against its blob, the
index -> index -> manifest -> config/layer chain, the layer's members against the
archive's), the oci-archive form against the layout (byte for byte, and the same bytes on a
second build), the annotations where podman, CRI-O and containerd read them; hostile and
unsuitable input is refused without writing; and podman 4.3 restores a container from the
image for real (`podman load`, `podman container restore IMAGE`).  containerd's restore from
the image is in tests/test_containerd.py."""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time

import kt
from kt import eq

ROOT = kt.ROOT
PODMAN = ['podman', '--runtime', 'runc']
CRIO = 'io.kubernetes.cri-o.annotations.checkpoint.'
PODMAN_ANN = 'io.podman.annotations.checkpoint.'
CRIU = 'org.criu.checkpoint.'


def _out(name):
    d = os.path.join(kt.tmpdir(), 'build')
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, name)
    if os.path.isdir(p):
        shutil.rmtree(p)
    elif os.path.exists(p):
        os.unlink(p)
    return p


def sha(b):
    return 'sha256:' + hashlib.sha256(b).hexdigest()


def validate_layout(files):
    """files: {relative path: bytes} of an OCI image layout.  Returns (top descriptor, index,
    manifest, config, layer bytes) after checking the whole chain."""
    eq(json.loads(files['oci-layout']), {'imageLayoutVersion': '1.0.0'}, 'oci-layout')
    blobs = {'sha256:' + p.split('/')[-1]: b for p, b in files.items() if p.startswith('blobs/sha256/')}
    for dg, b in blobs.items():
        eq(sha(b), dg, 'blob named by its digest')
    eq(sorted(files), sorted(['oci-layout', 'index.json'] + ['blobs/sha256/' + d[7:] for d in blobs]), 'files')

    def follow(desc, mt):
        eq(desc['mediaType'], mt, 'descriptor media type')
        assert desc['digest'] in blobs, 'no blob for %s' % desc['digest']
        eq(desc['size'], len(blobs[desc['digest']]), 'descriptor size of ' + desc['digest'])
        return blobs[desc['digest']]

    top = json.loads(files['index.json'])
    eq((top['schemaVersion'], top['mediaType']), (2, 'application/vnd.oci.image.index.v1+json'), 'index.json')
    eq(len(top['manifests']), 1, 'one image')
    desc = top['manifests'][0]
    index = json.loads(follow(desc, 'application/vnd.oci.image.index.v1+json'))
    eq((index['schemaVersion'], index['mediaType']), (2, 'application/vnd.oci.image.index.v1+json'), 'index')
    eq(len(index['manifests']), 1, 'one platform')
    md = index['manifests'][0]
    eq(md['platform'], {'architecture': 'amd64', 'os': 'linux'}, 'platform')
    manifest = json.loads(follow(md, 'application/vnd.oci.image.manifest.v1+json'))
    eq((manifest['schemaVersion'], manifest['mediaType']), (2, 'application/vnd.oci.image.manifest.v1+json'), 'mf')
    config = json.loads(follow(manifest['config'], 'application/vnd.oci.image.config.v1+json'))
    eq(len(manifest['layers']), 1, 'one layer')
    layer = follow(manifest['layers'][0], 'application/vnd.oci.image.layer.v1.tar')
    eq((config['architecture'], config['os']), ('amd64', 'linux'), 'config platform')
    eq(config['rootfs'], {'type': 'layers', 'diff_ids': [manifest['layers'][0]['digest']]}, 'diff_ids')
    assert config['created'] and config['history'], config
    return desc, index, manifest, config, layer


def layout_files(d):
    out = {}
    for base, _, names in os.walk(d):
        for n in names:
            p = os.path.join(base, n)
            with open(p, 'rb') as f:
                out[os.path.relpath(p, d)] = f.read()
    return out


def archive_members(path):
    """{name: (is_dir, bytes)} of a checkpoint tar (any compression)."""
    out = {}
    with tarfile.open(path, 'r:*') as t:
        for m in t:
            name = m.name[2:] if m.name.startswith('./') else m.name
            name = name.rstrip('/')
            if name in ('', '.'):
                continue
            out[name] = (m.isdir(), t.extractfile(m).read() if m.isreg() else b'')
    return out


def test_layout_validates_and_holds_the_checkpoint():
    fx = kt.fixture('perlbot')
    d = _out('perlbot-layout')
    res = kt.jrun('build', '--oci-layout', d, '--json', fx)
    desc, index, manifest, config, layer = validate_layout(layout_files(d))
    eq(desc['digest'], res['index_digest'], 'index digest printed')
    eq(manifest['layers'][0]['digest'], res['layer_digest'], 'layer digest printed')
    eq(res['name'], 'localhost/checkpoint-webapp:latest', 'default name')
    eq(desc['annotations'], {'io.containerd.image.name': res['name'],
                             'org.opencontainers.image.ref.name': res['name']}, 'names')
    # the layer is the checkpoint: same members, same bytes, 0:0, no links or devices
    want = archive_members(fx)
    got = {}
    with tarfile.open(fileobj=io.BytesIO(layer)) as t:
        for m in t:
            assert m.isdir() or m.isreg(), m.name
            eq((m.uid, m.gid), (0, 0), m.name + ' owner')
            got[m.name.rstrip('/')] = (m.isdir(), t.extractfile(m).read() if m.isreg() else b'')
    eq(sorted(got), sorted(want), 'layer members')
    for n in want:
        assert got[n] == want[n], 'layer member %s differs' % n
    eq(res['members'], len(want), 'members')
    # annotations: CRI-O's and podman's on the manifest, containerd's on the index
    meta = kt.jrun('show', '--json', fx)[0]
    a = manifest['annotations']
    for pre in (CRIO, PODMAN_ANN):
        eq(a[pre + 'name'], meta['container'], pre + 'name')
        eq(a[pre + 'rootfsImageName'], meta['image'], pre + 'rootfsImageName')
        eq(a[pre + 'rootfsImageID'], meta['image_id'], pre + 'rootfsImageID')
        eq(a[pre + 'runtime.name'], meta['runtime'], pre + 'runtime.name')
    i = index['annotations']
    eq(i[CRIU + 'container.name'], meta['container'], 'containerd: container.name')
    eq(i[CRIU + 'engine.name'], meta['engine'], 'containerd: engine.name')
    eq(i[CRIU + 'rootfsImageName'], meta['image'], 'containerd: rootfsImageName')
    eq(config['created'], meta['checkpointed'], 'created = checkpoint time')


def test_oci_archive_is_the_layout_and_deterministic():
    fx = kt.fixture('counter')
    d, t1, t2 = _out('counter-layout'), _out('counter-1.tar'), _out('counter-2.tar')
    r1 = kt.jrun('build', '--oci-layout', d, '--output', t1, '--name', 'localhost/kcsi-test:v1', '--json', fx)
    r2 = kt.jrun('build', '--output', t2, '--name', 'localhost/kcsi-test:v1', '--json', kt.compressed('counter', 'gzip'))
    eq(r1['index_digest'], r2['index_digest'], 'same image from the plain and the gzip archive')
    with open(t1, 'rb') as f1, open(t2, 'rb') as f2:
        assert f1.read() == f2.read(), 'two builds differ'
    files = {}
    with tarfile.open(t1) as t:
        for m in t:
            if m.isreg():
                files[m.name] = t.extractfile(m).read()
            else:
                assert m.isdir(), m.name
    eq(files, layout_files(d), 'oci-archive members = layout files')
    validate_layout(files)
    # a directory archive gives the same members (order may differ)
    d2 = _out('counter-dir-layout')
    kt.run('build', '--oci-layout', d2, kt.extracted('counter'))
    _, _, _, _, layer = validate_layout(layout_files(d2))
    with tarfile.open(fileobj=io.BytesIO(layer)) as t:
        names = sorted(m.name.rstrip('/') for m in t)
    eq(names, sorted(archive_members(fx)), 'directory input: members')


def test_refuses_to_overwrite_and_unsuitable_input():
    fx = kt.fixture('counter')
    t = _out('exists.tar')
    with open(t, 'w') as f:
        f.write('keep me')
    rc, out, err = kt.run('build', '--output', t, fx, check=False)
    eq(rc, 2, 'existing output: ' + err)
    eq(open(t).read(), 'keep me', 'existing output untouched')
    d = _out('full-dir')
    os.makedirs(d)
    open(os.path.join(d, 'x'), 'w').close()
    rc, out, err = kt.run('build', '--oci-layout', d, fx, check=False)
    eq((rc, os.listdir(d)), (2, ['x']), 'non-empty layout dir: ' + err)
    rc, out, err = kt.run('build', fx, check=False)
    eq(rc, 2, 'no output named')
    for bad in ('UPPER/name', '../x', 'a//b', '', 'x' * 300, 'a b'):
        rc, out, err = kt.run('build', '--output', _out('n.tar'), '--name', bad, fx, check=False)
        eq(rc, 2, 'name %r' % bad)
        assert not os.path.exists(_out('n.tar'))
    # a bare CRIU image directory: nothing to restore from
    bare = _out('bare')
    shutil.copytree(os.path.join(kt.extracted('counter'), 'checkpoint'), bare)
    o = _out('bare.tar')
    rc, out, err = kt.run('build', '--output', o, bare, check=False)
    eq(rc, 5, 'bare images: ' + err)
    assert not os.path.exists(o)


def _edited(name, src, edit):
    """A copy of fixture src with edit(members list) applied, as a plain tar."""
    dst = _out(name)
    with tarfile.open(kt.fixture(src)) as tin, tarfile.open(dst, 'w', format=tarfile.PAX_FORMAT) as tout:
        items = [(m, tin.extractfile(m).read() if m.isreg() else None) for m in tin]
        for m, data in edit(items):
            tout.addfile(m, io.BytesIO(data) if data is not None else None)
    return dst


def test_hostile_archives_write_nothing():
    # a symlink member (the reader refuses it: exit 9) and a ../ member
    def add_link(items):
        ln = tarfile.TarInfo('checkpoint/evil')
        ln.type, ln.linkname = tarfile.SYMTYPE, '/etc/shadow'
        return items + [(ln, None)]

    def add_escape(items):
        m = tarfile.TarInfo('../../escape')
        m.size = 4
        return items + [(m, b'boom')]
    for name, edit in (('link.tar', add_link), ('escape.tar', add_escape)):
        src = _edited(name, 'counter', edit)
        o, d = _out('h-' + name), _out('h-dir-' + name)
        rc, out, err = kt.run('build', '--output', o, '--oci-layout', d, src, check=False)
        eq(rc, 9, name + ': ' + err)
        assert not os.path.exists(o) and not os.path.exists(d), name
    # hostile metadata: a 1 MiB container name with control characters, and
    # an image name that would be a path: annotations stay bounded, valid JSON
    def big_name(items):
        out = []
        for m, data in items:
            if m.name.endswith('config.dump'):
                c = json.loads(data)
                c['name'] = '\x1b[31m' + 'A' * (1 << 20)
                c['rootfsImageName'] = '../../../etc/passwd'
                data = json.dumps(c).encode()
                m.size = len(data)
            out.append((m, data))
        return out
    src = _edited('bigname.tar', 'counter', big_name)
    d = _out('bigname-layout')
    rc, out, err = kt.run('build', '--oci-layout', d, '--json', src, check=False)
    eq(rc, 0, err)
    _, index, manifest, _, _ = validate_layout(layout_files(d))
    for v in list(manifest['annotations'].values()) + list(index['annotations'].values()):
        assert len(v.encode()) <= 4096, len(v)
    assert json.loads(out)['name'].startswith('localhost/checkpoint-'), out


def _need_podman_criu():
    if os.geteuid() != 0:
        raise kt.Skip('needs root (podman + CRIU)')
    if not shutil.which('podman') or not os.path.exists('/usr/local/sbin/criu') and not shutil.which('criu'):
        raise kt.Skip('podman/criu missing (lab/setup.sh)')
    if subprocess.run(PODMAN + ['image', 'exists', 'localhost/debian-perl:12']).returncode != 0:
        raise kt.Skip('image localhost/debian-perl:12 missing (lab/setup.sh)')


def _retargeted_counter():
    """checkpoint-counter.tar with config.dump naming this machine's localhost/debian-perl:12
    (lab/lib/retarget.py; the fixture was made with an image of the same name and another ID)."""
    iid = subprocess.run(PODMAN + ['image', 'inspect', '--format', '{{.Id}}', 'localhost/debian-perl:12'],
                         stdout=subprocess.PIPE, check=True).stdout.decode().strip()
    dst = _out('counter-here.tar')
    subprocess.run(['/usr/bin/python3', os.path.join(ROOT, 'lab', 'lib', 'retarget.py'), kt.fixture('counter'), dst,
                    iid], check=True)
    return dst


def test_podman_restores_from_the_image():
    _need_podman_criu()
    src = _retargeted_counter()
    img = 'localhost/kcsi-build-test:%d' % os.getpid()
    ctr = 'kcsi-build-restored-%d' % os.getpid()
    o = _out('podman.tar')
    kt.run('build', '--output', o, '--name', img, src)
    try:
        p = subprocess.run(PODMAN + ['load', '-q', '-i', o], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        assert p.returncode == 0, p.stderr.decode(errors='replace')
        ann = json.loads(subprocess.run(PODMAN + ['image', 'inspect', '--format', '{{json .Annotations}}', img],
                                        stdout=subprocess.PIPE, check=True).stdout)
        eq(ann[PODMAN_ANN + 'runtime.name'], 'runc', 'podman reads its runtime annotation')
        p = subprocess.run(PODMAN + ['container', 'restore', '--name', ctr, img], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=180)
        assert p.returncode == 0, p.stderr.decode(errors='replace')
        st = json.loads(subprocess.run(PODMAN + ['inspect', ctr], stdout=subprocess.PIPE, check=True).stdout)[0]
        eq((st['State']['Restored'], st['State']['Status']), (True, 'running'), 'restored and running')
        # the restored shell goes on counting from where it was checkpointed (a fresh start
        # would begin at 1): the count in the checkpoint's rootfs diff is the floor
        with tarfile.open(fileobj=io.BytesIO(archive_members(src)['rootfs-diff.tar'][1])) as t:
            at_checkpoint = int(t.extractfile('tmp/count').read())
        deadline = time.monotonic() + 30
        while True:
            r = subprocess.run(PODMAN + ['exec', ctr, 'cat', '/tmp/count'], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
            now = int(r.stdout or b'0')
            if now > at_checkpoint:
                break
            assert time.monotonic() < deadline, 'count stuck at %d (checkpoint %d)' % (now, at_checkpoint)
            time.sleep(0.5)
        ps = subprocess.run(PODMAN + ['exec', ctr, 'ps', '-o', 'pid=,args=', '-p', '1'], stdout=subprocess.PIPE,
                            timeout=30).stdout.decode()
        assert 'TOKEN=RANDOM_1432_KEY' in ps, ps
    finally:
        subprocess.run(PODMAN + ['rm', '-f', '-t', '0', ctr], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(PODMAN + ['rmi', '-f', img], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
