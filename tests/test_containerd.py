"""Real containerd 2.1 CRI checkpoints (lab/containerd/): a private containerd runs a pod
through the kubelet's CRI calls and CheckpointContainer writes the archive under the
kubelet's name; kcsi's views read it (engine containerd, pod and namespace from the
io.kubernetes.cri.* annotations, no pod IP in such an archive, the specimen's rewritten
title, ghost file and TCP queue).  Then `kcsi build` makes a checkpoint image of it and the
same containerd creates a container from that image (CRI CreateContainer), as the kubelet
does for a pod whose image is a checkpoint image, and restores it."""
import json
import os
import re
import subprocess

import kt
from kt import eq

LAB = os.path.join(kt.ROOT, 'lab', 'containerd')
_made = {}


def made():
    """Run lab/containerd/setup.sh and checkpoint.sh once (with the restore attempt)."""
    if os.geteuid() != 0:
        raise kt.Skip('needs root (containerd, runc, CRIU)')
    if 'dir' not in _made:
        p = subprocess.run(['bash', os.path.join(LAB, 'setup.sh')], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=900)
        if p.returncode == 77:
            raise kt.Skip('containerd lab cannot run here: ' + p.stdout.decode(errors='replace').strip()[-300:])
        assert p.returncode == 0, p.stdout.decode(errors='replace')
        out = os.path.join(kt.tmpdir(), 'containerd')
        p = subprocess.run(['bash', os.path.join(LAB, 'checkpoint.sh'), out, '--restore-with', kt.KCSI],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        if p.returncode == 77:
            raise kt.Skip(p.stderr.decode(errors='replace').strip())
        assert p.returncode == 0, p.stderr.decode(errors='replace')
        _made['dir'] = out
        _made['archive'] = p.stdout.decode().strip().splitlines()[-1]
    return _made['archive']


def test_containerd_checkpoint_has_the_kubelet_name_and_layout():
    a = made()
    name = os.path.basename(a)
    m = re.match(r'^checkpoint-webapp_kcsi-lab-app-(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\.tar$', name)
    assert m, name
    import tarfile
    with tarfile.open(a) as t:
        names = {x.name for x in t}
        status = json.load(t.extractfile('status.dump'))
        spec = json.load(t.extractfile('spec.dump'))
    for member in ('config.dump', 'spec.dump', 'status.dump', 'status', 'container.log', 'dump.log',
                   'rootfs-diff.tar', 'stats-dump', 'checkpoint/inventory.img'):
        assert member in names, member
    for absent in ('network.status', 'bind.mounts', 'deleted.files'):
        assert absent not in names, absent
    eq(status['labels']['io.kubernetes.pod.namespace'], 'kcsi-lab', 'status.dump labels')
    eq(spec['annotations']['io.kubernetes.cri.sandbox-name'], 'webapp', 'spec annotations')
    ver = open(os.path.join(_made['dir'], 'containerd-version.txt')).read()
    assert re.search(r'\bv?2\.\d', ver), ver
    # kcsi list finds it the way it finds the kubelet's directory
    rows = kt.jrun('list', '--json', _made['dir'])
    assert any(r.get('pod') == 'webapp' and r.get('namespace') == 'kcsi-lab' for r in rows), rows


def test_containerd_show_ps_files_net():
    a = made()
    s = kt.jrun('show', '--json', a)[0]
    eq((s['engine'], s['container'], s['pod'], s['namespace']), ('containerd', 'app', 'webapp', 'kcsi-lab'), 'show')
    assert re.fullmatch(r'localhost:\d+/kcsi-lab/debian-perl:12', s['image']), s['image']
    eq(s['runtime'], 'io.containerd.runc.v2', 'runtime')
    eq(s['ip'], None, 'a containerd archive records no pod IP')
    assert s['checkpointed'] and s['processes'] == 3, s
    text = kt.run('show', a)[1].decode()
    assert re.search(r'webapp/kcsi-lab\s+-\s+3', text), text
    ps = kt.jrun('ps', '--json', '--env', a)
    bot = [p for p in ps if p['cmdline'] == ['[kworker/0:1-events]']]
    eq(len(bot), 1, 'the specimen under its kernel-thread title')
    bot = bot[0]
    assert bot['argv_rewritten'] and bot['exe'] == '/usr/bin/perl', bot
    eq(ps[0]['pid'], 1, 'pid 1')
    assert 'DB_PASSWORD=s3cr3t-db-pass' in ps[0]['env'], ps[0]['env']
    files = kt.jrun('files', '--json', '--pid', str(bot['pid']), a)
    ghost = [f for f in files if f['path'] == '/tmp/.stage']
    assert ghost and ghost[0]['deleted'] and ghost[0]['ghost_size'] == 30, ghost
    net = kt.jrun('net', '--json', a)
    eq(net['container']['ip'], None, 'net: no IP')
    socks = [x for x in net['sockets'] if x['pid'] == bot['pid']]
    states = sorted(x['state'] for x in socks)
    eq(states, ['ESTABLISHED', 'ESTABLISHED', 'LISTEN'], 'the specimen sockets')
    queued = [x for x in socks if x['inq_len']]
    eq(len(queued), 1, 'one receive queue holds the unread line')
    import base64
    assert b'KCSI-CTRD-SECRET-7731' in base64.b64decode(queued[0]['inq']), queued
    text = kt.run('net', a)[1].decode()
    assert text.startswith('container ip - '), text.splitlines()[0]
    hits = kt.run('memgrep', a, 'KCSI-CTRD-SECRET-7731', check=False)[1].decode()
    assert 'KCSI-CTRD-SECRET-7731' in hits, hits


def test_containerd_restores_from_the_kcsi_build_image():
    """containerd 2.1 takes the image made by `kcsi build` as a checkpoint image (it reads
    org.criu.checkpoint.container.name on the index and the checkpoint files from the
    layer), pulls the base image by config.dump's rootfsImageRef (from the lab's loopback
    registry) and has runc + CRIU restore the container: the specimen is back, running."""
    made()
    r = json.load(open(os.path.join(_made['dir'], 'restore.json')))
    log = open(os.path.join(_made['dir'], 'restore-containerd.log')).read()
    assert 'Found checkpoint of container app in localhost/kcsi-lab-checkpoint:1' in log, log[-2000:]
    assert r['ok'], r
    eq(r['state'], 'RUNNING', 'restored container')
    assert re.search(r'Restored container [0-9a-f]{64} successfully', log), log[-2000:]
    assert '[kworker/0:1-events]' in r['processes'], r['processes']
    cfg = subprocess.run(['tar', '--force-local', '-xOf', made(), 'config.dump'], stdout=subprocess.PIPE,
                         check=True).stdout
    assert re.match(r'^localhost:\d+/kcsi-lab/debian-perl@sha256:[0-9a-f]{64}$', json.loads(cfg)['rootfsImageRef']), cfg


def test_containerd_archive_detonates_with_its_image():
    """A real containerd CRI archive (a pod of its own network namespace,
    /proc/sys left unmasked by containerd, the image's root made 0755 by the
    registry's layer) restores in kcsi's sandbox on the lab image: /proc/sys
    is made read-only, the pod's network namespace is the sandbox's, and the
    specimen's C2 connection is reset there and retried into the sinkhole."""
    import test_detonate
    test_detonate._need_sandbox()
    arch = made()
    out = os.path.join(kt.tmpdir(), 'containerd-detonation')
    code, so, se = kt.run('detonate', arch, '--image', 'localhost/debian-perl:12', '--out', out, '--duration', '5',
                          '--json', check=False, timeout=300)
    eq(code, 0, 'detonate: ' + se)
    rep = json.load(open(os.path.join(out, 'report.json')))
    eq(rep['layout'], 'containerd', 'layout')
    eq(rep['restore']['strategy'], 'as-checkpointed', 'restored as checkpointed')
    fates = {p['pid']: p['fate'] for p in rep['processes']['checkpointed']}
    assert 'running at the end' in fates.values(), fates
    seen = {m['mountpoint']: m['options'] for m in rep['sandbox']['mounts_seen']}
    assert seen.get('/proc/sys', '').startswith('ro'), seen.get('/proc/sys')
    added = [m['mountpoint'] for m in rep['sandbox']['confinement'].get('masks_added', [])]
    assert '/proc/sys' in added, rep['sandbox']['confinement']
    test_detonate._clean_host('containerd')
