"""kcsi detonate confinement: a hostile checkpoint must never touch the host.

Each test builds its hostile archive here, from a checkpoint made in the test
(a container with a bind mount) or from a fixture, then detonates it and
checks the host: directories named in the archive are neither written nor
read, hooks and edited metadata have no effect, host namespaces and host file
systems are refused, capabilities beyond a default container's are dropped,
device nodes are dropped.  Needs root, podman, runc and CRIU (lab/setup.sh)."""
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import uuid

import kt
import pbedit
from kt import eq, run
from test_detonate import _clean_host, _need_sandbox

IMAGE = 'localhost/debian-perl:12'
PODMAN = ['podman', '--runtime', 'runc']
_made = {}


def _snapshot(d):
    """Every file below d with its content hash, mode and mtime (and the dirs' mtimes)."""
    out = {}
    for root, dirs, files in os.walk(d):
        st = os.lstat(root)
        out[root] = ('dir', st.st_mtime_ns, st.st_mode)
        for f in files:
            p = os.path.join(root, f)
            st = os.lstat(p)
            with open(p, 'rb') as fh:
                out[p] = (hashlib.sha256(fh.read()).hexdigest(), st.st_mtime_ns, st.st_mode)
    return out


def _tar_members(path):
    with tarfile.open(path) as t:
        return {m.name: (m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()}


def _write_tar(path, members, replace):
    """Write a plain tar with members (name -> (TarInfo, data)) and replacements (name -> bytes | None to drop)."""
    with tarfile.open(path, 'w', format=tarfile.PAX_FORMAT) as t:
        for name, (ti, data) in members.items():
            if name in replace:
                data = replace[name]
                if data is None:
                    continue
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                ti.mode = 0o600
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
        for name, data in replace.items():
            if name not in members and data is not None:
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                ti.mode = 0o600
                t.addfile(ti, io.BytesIO(data))


def _bind_checkpoint():
    """A checkpoint of a container started with -v HOSTDIR:/mnt/x whose shell keeps
    /mnt/x/log open, writes new files there and copies /mnt/x/secret (made once per run)."""
    if 'bind' in _made:
        return _made['bind']
    _need_sandbox()
    base = os.path.join(kt.tmpdir(), 'bind-%s' % uuid.uuid4().hex[:6])
    host = os.path.join(base, 'hostdir')
    os.makedirs(host)
    secret = 'HOST-SECRET-%s' % uuid.uuid4().hex
    with open(os.path.join(host, 'secret'), 'w') as f:
        f.write(secret + '\n')
    name = 'kcsi-conf-%s' % uuid.uuid4().hex[:8]
    loop = ('exec 3>>/mnt/x/log; i=0; while :; do date >&3; i=$((i+1)); echo $i > /mnt/x/made-$i; '
            'cat /mnt/x/secret >> /mnt/x/seen 2>/dev/null; sleep 0.3; done')
    subprocess.run(PODMAN + ['run', '-d', '--name', name, '--network', 'host', '--ulimit', 'nofile=1024:1024',
                             '--ulimit', 'nproc=4096:4096', '-v', '%s:/mnt/x' % host, IMAGE, 'sh', '-c', loop],
                   check=True, stdout=subprocess.DEVNULL)
    arch = os.path.join(base, 'bind.tar')
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(os.path.join(host, 'made-3')) and time.monotonic() < deadline:
            time.sleep(0.2)
        subprocess.run(PODMAN + ['container', 'checkpoint', '--export=' + arch, '--compress', 'none', name],
                       check=True, stdout=subprocess.DEVNULL, timeout=120)
    finally:
        subprocess.run(PODMAN + ['rm', '-f', '-t', '0', name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _made['bind'] = (arch, host, secret)
    return _made['bind']


def _detonate(arch, tag, *extra, expect=0):
    out = os.path.join(kt.tmpdir(), 'conf-%s-%s' % (tag, uuid.uuid4().hex[:6]))
    code, so, se = run('detonate', arch, '--out', out, '--duration', '3', '--json', *extra, check=False, timeout=240)
    eq(code, expect, 'detonate %s exit (stderr: %s)' % (tag, se.strip()))
    rep = None
    if os.path.exists(os.path.join(out, 'report.json')):
        with open(os.path.join(out, 'report.json')) as f:
            rep = json.load(f)
    return out, rep, se


def _conf(rep):
    return rep['sandbox']['confinement']


def test_bind_mount_never_reaches_the_host():
    arch, host, secret = _bind_checkpoint()
    before = _snapshot(host)
    # the same archive with only the bind mount's source edited to another host directory
    other = os.path.join(os.path.dirname(host), 'other-hostdir')
    os.makedirs(other, exist_ok=True)
    with open(os.path.join(other, 'secret'), 'w') as f:
        f.write(secret + '-other\n')
    mem = _tar_members(arch)
    edited = {}
    for n in ('config.dump', 'spec.dump'):
        edited[n] = mem[n][1].replace(host.encode(), other.encode())
        assert edited[n] != mem[n][1], n
    arch2 = arch.replace('.tar', '-edited.tar')
    _write_tar(arch2, mem, edited)
    before_other = _snapshot(other)

    for a, tag in ((arch, 'bind'), (arch2, 'bind-edited')):
        out, rep, _ = _detonate(a, tag)
        eq(rep['end_reason'], 'duration', tag + ': the restored shell ran for the whole duration')
        assert rep['processes']['after_restore'], tag
        mounts = {m['destination']: m for m in _conf(rep)['mounts']}
        eq(mounts['/mnt/x']['action'], 'replaced', tag)
        eq(mounts['/mnt/x']['source'], host if a == arch else other, tag + ': the report names the original source')
        # the shell wrote, but into the sandbox's stand-in below the output directory
        saved = os.path.join(out, 'mounts', 'mnt', 'x')
        log = open(os.path.join(saved, 'log'), 'rb').read()
        assert log.rstrip(b'\0'), tag + ': nothing was written into the stand-in'
        assert len([f for f in os.listdir(saved) if f.startswith('made-')]) >= 1, os.listdir(saved)
        # ... and it could not read the host's secret from there
        seen = os.path.join(saved, 'seen')
        assert not os.path.exists(seen) or secret.encode() not in open(seen, 'rb').read(), tag
        _clean_host(tag)
    eq(_snapshot(host), before, 'the bind-mounted host directory changed')
    eq(_snapshot(other), before_other, 'the host directory named by the edited archive changed')


def test_hostile_metadata_has_no_effect_on_the_host():
    """hooks, a CRIU config annotation, a host network namespace path, devices,
    privileged flags, deleted.files and rootfs-diff members that climb or reach
    through symbolic links (the tar's own, and the image's /var/run -> /run)."""
    _need_sandbox()
    tag = uuid.uuid4().hex[:8]
    base = os.path.join(kt.tmpdir(), 'hostile-%s' % tag)
    os.makedirs(base)
    marker = os.path.join(base, 'hook-ran')
    victim_dir = os.path.join(base, 'victim')
    os.makedirs(victim_dir)
    sentinel = '/run/kcsi-sentinel-%s' % tag
    with open(sentinel, 'w') as f:
        f.write('keep me\n')
    criu_conf = os.path.join(base, 'criu.conf')
    with open(criu_conf, 'w') as f:
        f.write('action-script %s/action.sh\n' % base)
    with open(os.path.join(base, 'action.sh'), 'w') as f:
        f.write('#!/bin/sh\ntouch %s-criu\n' % marker)
    os.chmod(os.path.join(base, 'action.sh'), 0o755)
    try:
        mem = _tar_members(kt.fixture('perlbot'))
        spec = json.loads(mem['spec.dump'][1])
        cfg = json.loads(mem['config.dump'][1])
        hook = {'path': '/bin/sh', 'args': ['sh', '-c', 'touch ' + marker]}
        spec['hooks'] = {k: [hook] for k in ('prestart', 'createRuntime', 'createContainer', 'startContainer',
                                              'poststart', 'poststop')}
        spec.setdefault('annotations', {})['org.criu.config'] = criu_conf
        spec['linux']['namespaces'].append({'type': 'network', 'path': '/proc/1/ns/net'})
        spec['linux']['devices'] = [{'path': '/dev/hostdisk', 'type': 'b', 'major': 8, 'minor': 0}]
        spec['linux']['resources']['devices'] = [{'allow': True, 'access': 'rwm'}]
        spec['process']['capabilities'] = {k: ['CAP_SYS_ADMIN', 'CAP_SYS_MODULE']
                                           for k in ('bounding', 'effective', 'permitted')}
        spec['root'] = {'path': '/'}
        spec['mounts'].append({'destination': '/host', 'type': 'bind', 'source': '/', 'options': ['rbind', 'rw']})
        cfg['privileged'] = True
        cfg['ShmDir'] = victim_dir
        cfg['spec'] = spec
        # the rootfs diff: a symlink out, then a file through it; a whiteout; a file
        # through the image's absolute /var/run -> /run; a device node; a climbing name
        diff = io.BytesIO()
        with tarfile.open(fileobj=diff, mode='w') as t:
            for ti, data in _tar_members_bytes(mem['rootfs-diff.tar'][1]):
                t.addfile(ti, io.BytesIO(data) if data is not None else None)
            def add(name, data=b'', kind=tarfile.REGTYPE, link=''):
                ti = tarfile.TarInfo(name)
                ti.type = kind
                ti.linkname = link
                ti.size = len(data) if kind == tarfile.REGTYPE else 0
                if kind in (tarfile.BLKTYPE, tarfile.CHRTYPE):
                    ti.devmajor, ti.devminor = 8, 0
                t.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
            add('tmp/ok.txt', b'fine\n')
            add('escape', kind=tarfile.SYMTYPE, link=victim_dir)
            add('escape/pwned', b'written through a symlink\n')
            add('var/run/kcsi-pwned-%s' % tag, b'through the image symlink\n')
            add('etc/.wh.passwd')
            add('dev/hostdisk', kind=tarfile.BLKTYPE)
            add('../../../../tmp/kcsi-climb-%s' % tag, b'climb\n')
        deleted = json.dumps(['var/run/kcsi-sentinel-%s' % tag, '../../../..%s' % sentinel, '/tmp/ok.txt'])
        arch = os.path.join(base, 'hostile.tar')
        _write_tar(arch, mem, {'spec.dump': json.dumps(spec).encode(), 'config.dump': json.dumps(cfg).encode(),
                               'rootfs-diff.tar': diff.getvalue(), 'deleted.files': deleted.encode()})
        out, rep, _ = _detonate(arch, 'hostile')
        # it ran, in the sandbox
        eq(rep['end_reason'], 'duration', 'end')
        assert not os.path.exists(marker) and not os.path.exists(marker + '-criu'), 'a hook or action script ran'
        eq(os.listdir(victim_dir), [], 'something was written through the symlink or into the named ShmDir')
        assert os.path.exists(sentinel), 'deleted.files removed a host file'
        assert not os.path.exists('/run/kcsi-pwned-%s' % tag), 'rootfs diff wrote through the image symlink'
        assert not os.path.exists('/tmp/kcsi-climb-%s' % tag)
        conf = _conf(rep)
        dropped = {(d['tar'], d['name']) for d in conf['members_dropped']}
        for name in ('escape/pwned', 'var/run/kcsi-pwned-%s' % tag, 'etc/.wh.passwd', 'dev/hostdisk',
                     '../../../../tmp/kcsi-climb-%s' % tag):
            assert ('rootfs-diff.tar', name) in dropped, (name, dropped)
        assert ('deleted.files', 'var/run/kcsi-sentinel-%s' % tag) in dropped, dropped
        mounts = {m['destination']: m for m in conf['mounts']}
        eq(mounts['/host']['action'], 'replaced', '/host bind of the host root')
        # the restored bot runs with a default container's capabilities only
        bot = [p for p in rep['processes']['after_restore'] if p['pid'] == 15]
        assert bot and not int(bot[0]['cap_bnd'], 16) & (1 << 21), bot
        _clean_host('hostile')
    finally:
        os.unlink(sentinel)


def _edit_image(src, member, fn, tag):
    """A copy of the fixture src with the image member re-encoded by fn(entries)."""
    mem = _tar_members(src)
    hdr, entries = pbedit.read_image(mem[member][1])
    entries = [pbedit.msg(e) for e in entries]
    fn(entries)
    out = os.path.join(kt.tmpdir(), '%s-%s.tar' % (tag, uuid.uuid4().hex[:6]))
    _write_tar(out, mem, {member: pbedit.write_image(hdr, entries)})
    code, so, se = run('decode', out, member.split('/')[-1], check=False)
    eq(code, 0, 'the edited image decodes: ' + se)
    return out


def test_host_namespace_refused():
    _need_sandbox()

    def share_mnt(entries):
        inv = entries[0]
        root_ids = pbedit.msg(pbedit.get(inv, 3)[0])
        pbedit.put(root_ids, 9, 12)  # pid 1's mount namespace id in the fixture
        pbedit.put(inv, 3, root_ids, wire=2)
    arch = _edit_image(kt.fixture('perlbot'), 'checkpoint/inventory.img', share_mnt, 'hostns')
    out, rep, se = _detonate(arch, 'hostns', expect=9)
    assert 'mount namespace' in se and 'refusing' in se, se
    _clean_host('hostns')


def test_host_filesystem_refused_and_proc_masked():
    _need_sandbox()
    mp = 'checkpoint/mountpoints-12.img'

    def devtmpfs(entries):
        # turn the container's /dev tmpfs into the host's devtmpfs
        for e in entries:
            if pbedit.get(e, 7) == [b'/dev']:
                pbedit.put(e, 1, 3)
    arch = _edit_image(kt.fixture('perlbot'), mp, devtmpfs, 'devtmpfs')
    _, _, se = _detonate(arch, 'devtmpfs', expect=9)
    assert 'devtmpfs' in se and '/dev' in se, se

    def unmask(entries):
        entries[:] = [e for e in entries if pbedit.get(e, 7) != [b'/proc/sys']]
    # an archive whose /proc/sys is not masked (containerd's are not) gets it
    # read-only: the restored process sees it so
    arch = _edit_image(kt.fixture('perlbot'), mp, unmask, 'unmasked')
    out, rep, _ = _detonate(arch, 'unmasked')
    added = [m['mountpoint'] for m in _conf(rep).get('masks_added', [])]
    assert '/proc/sys' in added, _conf(rep)
    seen = {m['mountpoint']: m for m in rep['sandbox']['mounts_seen']}
    assert seen['/proc/sys']['options'].startswith('ro'), seen.get('/proc/sys')

    def sys_rw(entries):
        for e in entries:
            if pbedit.get(e, 7) == [b'/sys']:
                pbedit.put(e, 5, pbedit.get(e, 5)[0] & ~1)
    arch = _edit_image(kt.fixture('perlbot'), mp, sys_rw, 'sysrw')
    out, rep, _ = _detonate(arch, 'sysrw')
    forced = [m['mountpoint'] for m in _conf(rep).get('mounts_forced_read_only', [])]
    assert '/sys' in forced, _conf(rep)
    _clean_host('mounts')


def test_extra_capabilities_dropped():
    _need_sandbox()

    def grant(entries):
        core = entries[0]
        tc = pbedit.msg(pbedit.get(core, 5)[0])
        creds = pbedit.msg(pbedit.get(tc, 10)[0])
        for f in (10, 11, 12):  # prm, eff, bnd: add CAP_SYS_ADMIN (21) and CAP_SYS_MODULE (16)
            words = pbedit.get(creds, f)
            if len(words) == 1 and isinstance(words[0], bytes):  # packed
                vals = []
                i = 0
                while i < len(words[0]):
                    v, i = pbedit._varint(words[0], i)
                    vals.append(v)
            else:
                vals = list(words)
            vals[0] |= (1 << 21) | (1 << 16)
            creds[:] = [x for x in creds if x[0] != f]
            creds.extend([f, 0, v] for v in vals)
        pbedit.put(tc, 10, creds, wire=2)
        pbedit.put(core, 5, tc, wire=2)
    arch = _edit_image(kt.fixture('perlbot'), 'checkpoint/core-15.img', grant, 'caps')
    code, so, _ = run('ps', '--json', arch)
    bot = [p for p in json.loads(so) if p['pid'] == 15][0]
    assert 'CAP_SYS_ADMIN' in bot['caps']['bounding'], bot['caps']
    out, rep, _ = _detonate(arch, 'caps')
    dropped = {d['tid']: d['capabilities'] for d in _conf(rep)['capabilities_dropped']}
    assert 'CAP_SYS_ADMIN' in dropped.get(15, []) and 'CAP_SYS_MODULE' in dropped[15], dropped
    bot = [p for p in rep['processes']['after_restore'] if p['pid'] == 15]
    assert bot, rep['processes']['after_restore']
    assert not int(bot[0]['cap_bnd'], 16) & ((1 << 21) | (1 << 16)), bot
    assert not int(bot[0]['cap_eff'], 16) & ((1 << 21) | (1 << 16)), bot
    _clean_host('caps')


def test_device_node_in_dev_tmpfs_dropped():
    _need_sandbox()
    import gzip
    mem = _tar_members(kt.fixture('perlbot'))
    name = next(n for n in mem if n.startswith('checkpoint/tmpfs-dev-') and mem[n][1] and
                b'null' in gzip.decompress(mem[n][1]))
    inner = _tar_members_bytes(gzip.decompress(mem[name][1]))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.GNU_FORMAT) as t:
        for ti, data in inner:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
        ti = tarfile.TarInfo('./hostdisk')
        ti.type = tarfile.BLKTYPE
        ti.devmajor, ti.devminor = 253, 0
        t.addfile(ti)
    arch = os.path.join(kt.tmpdir(), 'devnode-%s.tar' % uuid.uuid4().hex[:6])
    _write_tar(arch, mem, {name: gzip.compress(buf.getvalue())})
    out, rep, _ = _detonate(arch, 'devnode')
    eq(rep['end_reason'], 'duration', 'end')
    dropped = {(d['tar'], d['name']) for d in _conf(rep)['members_dropped']}
    assert (name, './hostdisk') in dropped, dropped
    # the standard nodes stay
    kept = [t for t in _conf(rep)['tars'] if t['tar'] == name][0]
    assert kept['kept'] >= 5, kept
    _clean_host('devnode')


def _tar_members_bytes(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return [(m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()]
