"""What an analyst meets at the keyboard (issue 16's "mistakes", "docs drift"
and "consistency" lists): a mistake gets a one-line reason, the ps tree fits
the terminal, vault get does not overwrite without --force, the vault shows
progress on a terminal, the node agent logs JSON lines, and detonate's
evidence is private (0600 files, 0700 directories, as recover's) and fails on
a memfd program the way README.md says.  The other bullets are tested where
they were fixed (tests/test_cli.py: typos, list, show, ps DIR, help --man,
compressions, exit codes; tests/test_docs.py: examples)."""
import fcntl
import hashlib
import json
import os
import pty
import select
import shutil
import stat
import struct
import subprocess
import termios

import kt
from kt import eq, fixture, run
from test_progress import run_with_tty_stderr
from test_vault import newvault

ELLIPSIS = '\u2026'


def run_with_tty_stdout(*args, columns=100):
    """Run kcsi on a pseudo-terminal `columns` wide (its stdout, and stderr
    without a bar); returns (exit status, the lines the terminal got)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: size the terminal before kcsi can ask for it
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack('HHHH', 40, columns, 0, 0))
        os.execve(kt.KCSI, [kt.KCSI] + list(args), dict(os.environ, NO_COLOR='1', KCSI_QUIET='1'))
    got = b''
    while select.select([fd], [], [], 120)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child is gone and everything was read
            break
        if not chunk:
            break
        got += chunk
    else:
        os.kill(pid, 9)
    os.close(fd)
    status = os.waitpid(pid, 0)[1]
    return os.waitstatus_to_exitcode(status), got.decode().replace('\r\n', '\n').rstrip('\n').split('\n')


def test_ps_tree_fits_the_terminal():
    """On a 100-column terminal no line of the tree is wider (pid 1's command
    line made perlbot's tree 127 columns wide, and it wrapped): the command
    column is cut with an ellipsis.  Piped or as JSON the command is whole."""
    a = fixture('perlbot')
    rc, lines = run_with_tty_stdout('ps', a, columns=100)
    eq(rc, 0, 'exit code')
    eq([l for l in lines if len(l) > 100], [], 'lines wider than the terminal')
    row = [l for l in lines if l.startswith('1 ')][0]
    assert row.endswith(ELLIPSIS) and 'sh -c while true' in row, row
    _, out, _ = run('ps', a)
    assert 'sh -c while true; do date > /var/log/app.log; sleep 5; done' in out.decode(), out
    assert ELLIPSIS not in out.decode(), 'cut in a pipe'
    rc, lines = run_with_tty_stdout('ps', '--json', a, columns=100)
    procs = json.loads('\n'.join(lines))
    eq(procs[0]['cmdline'][-1], 'while true; do date > /var/log/app.log; sleep 5; done', 'JSON on a terminal')
    # a wide terminal cuts nothing
    rc, lines = run_with_tty_stdout('ps', a, columns=300)
    eq('\n'.join(lines) + '\n', out.decode(), 'a 300-column terminal shows what a pipe gets')


def test_vault_get_keeps_an_existing_file_unless_force():
    d = newvault('ux-get')
    _, out, _ = run('vault', 'put', '--store', d, fixture('counter'))
    ev = out.decode().strip()
    work = os.path.join(kt.tmpdir(), 'ux-get-out')
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    dst = os.path.join(work, 'copy.tar')
    with open(dst, 'w') as f:
        f.write('an analyst\'s notes')
    rc, out, err = run('vault', 'get', '--store', d, ev, '--out', dst, check=False)
    eq(rc, 2, 'exit code without --force')
    assert 'exists' in err and err.strip().endswith('(--force)') and err.count('\n') == 1, err
    eq(open(dst).read(), 'an analyst\'s notes', 'the file is kept')
    # --force replaces it, once verified, 0600, and the access is recorded
    rc, out, err = run('vault', 'get', '--store', d, ev, '--out', dst, '--force', '--reason', 'again')
    eq(hashlib.sha256(open(dst, 'rb').read()).hexdigest(), ev, 'the evidence')
    eq(stat.S_IMODE(os.stat(dst).st_mode), 0o600, 'mode')
    _, log, _ = run('vault', 'log', '--store', d, '--json', ev)
    eq([e.get('reason') for e in json.loads(log) if e['action'] == 'accessed'], ['again'], 'recorded')
    # a --force get that fails leaves the file as it was, and nothing beside it
    with open(dst, 'w') as f:
        f.write('kept')
    obj = os.path.join(d, 'objects', ev[:2], ev)
    os.chmod(obj, 0o600)
    with open(obj, 'r+b') as f:
        f.seek(os.path.getsize(obj) // 2)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0xff]))
    rc, _, err = run('vault', 'get', '--store', d, ev, '--out', dst, '--force', check=False)
    assert rc != 0 and 'authentication failed' in err, (rc, err)
    eq(open(dst).read(), 'kept', 'a failed get replaces nothing')
    eq(sorted(os.listdir(work)), ['copy.tar'], 'nothing left beside it')
    rc, _, err = run('vault', 'get', '--store', d, ev, '--out', work, '--force', check=False)
    assert rc == 2 and 'is a directory' in err, err


def test_vault_put_and_get_show_progress_on_a_terminal():
    """A large archive: put and get draw the bar on a terminal's stderr (they
    were silent for seconds), never when stderr is a pipe; stdout is the same."""
    d = newvault('ux-progress')
    big = os.path.join(kt.tmpdir(), 'ux-big.tar')
    with open(big, 'wb') as f:
        f.truncate(256 << 20)
    try:
        rc, out, tty = run_with_tty_stderr('vault', 'put', '--store', d, big)
        eq(rc, 0, tty)
        assert 'storing the evidence [' in tty and 'MiB' in tty, tty[-300:]
        assert tty.rstrip('\r\n').endswith('\r\x1b[K'), repr(tty[-80:])
        ev = out.decode().strip()
        eq(len(ev), 64, 'the id on stdout, alone')
        dst = os.path.join(kt.tmpdir(), 'ux-big-copy.tar')
        if os.path.exists(dst):
            os.unlink(dst)
        rc, out, tty = run_with_tty_stderr('vault', 'get', '--store', d, ev, '--out', dst)
        eq(rc, 0, tty)
        assert 'reading the evidence [' in tty, tty[-300:]
        eq(os.path.getsize(dst), 256 << 20, 'size')
        os.unlink(dst)
        p = subprocess.run([kt.KCSI, 'vault', 'get', '--store', d, ev, '--out', dst], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=dict(os.environ, KCSI_PROGRESS_DELAY='0'), timeout=300)
        eq((p.returncode, p.stderr), (0, b''), 'stderr a pipe: no bar')
        os.unlink(dst)
    finally:
        os.unlink(big)
        shutil.rmtree(d, ignore_errors=True)


def test_collect_logs_json_lines():
    """collect logs as respond does: one JSON object a line (time, level,
    component, msg, fields), nothing else on stdout."""
    d = newvault('ux-collect')
    watch = os.path.join(kt.tmpdir(), 'ux-collect-watch')
    shutil.rmtree(watch, ignore_errors=True)
    os.makedirs(watch)
    shutil.copy(fixture('counter'), os.path.join(watch, 'checkpoint-counter.tar'))
    _, out, _ = run('collect', '--once', '--settle', '0', '--watch', watch, '--vault', d)
    recs = [json.loads(l) for l in out.decode().splitlines()]
    assert recs, 'no records'
    for r in recs:
        eq(list(r)[:4], ['time', 'level', 'component', 'msg'], 'keys first')
        eq(r['component'], 'collect', 'component')
    assert 'stored' in [r['msg'] for r in recs], recs


def test_decode_of_an_archive_without_an_image_lists_them():
    """`kcsi decode ARCHIVE` used to say `unknown image magic 0x69747261`."""
    rc, out, err = run('decode', fixture('perlbot'), check=False)
    eq(rc, 2, 'exit code')
    eq(out, b'', 'nothing on stdout')
    assert 'give the image' in err and 'pstree.img' in err and 'magic' not in err, err


def test_detonate_evidence_is_private_and_a_memfd_program_fails_as_readme_says():
    """Every file detonate writes itself into DIR is 0600 and every directory
    0700, as recover's (report.json, manifest.json, traffic.pcap and
    activity.jsonl were 0644).  README.md: a run that fails leaves report.json
    with the failure (stage, CRIU's reason, e.g. a process run from a memfd)
    and manifest.json, and says so in one line."""
    from test_detonate import _clean_host, _need_sandbox
    _need_sandbox()
    with open(os.path.join(kt.ROOT, 'README.md')) as f:
        readme = ' '.join(f.read().split())
    assert ('A run that fails still leaves `report.json` (with `failure`: the stage and CRIU\'s own reason, e.g. '
            'for a process whose executable is a memfd') in readme and 'says so in one line' in readme, \
        'the README sentence this test checks has changed'
    out = os.path.join(kt.tmpdir(), 'ux-det-memfd')
    shutil.rmtree(out, ignore_errors=True)
    rc, so, err = run('detonate', fixture('memfd'), '--out', out, '--duration', '5', check=False, timeout=300)
    assert rc != 0, 'CRIU 4.2 cannot restore a program run from a memfd'
    eq(so, b'', 'nothing on stdout')
    lines = err.strip().splitlines()
    eq(len(lines), 1, 'one line: %s' % err)
    assert 'CRIU could not restore' in lines[0] and 'memfd' in lines[0] and 'report.json' in lines[0], lines
    rep = json.load(open(os.path.join(out, 'report.json')))
    eq(rep['failure']['stage'], 'restore', 'the stage in the report')
    assert 'memfd' in json.dumps(rep['failure']), rep['failure']
    assert os.path.exists(os.path.join(out, 'manifest.json'))
    # modes: mounts/ holds what the processes left in the replaced mounts, with
    # their modes (evidence) below a 0700 directory; transcripts/ is the
    # sinkhole's (lib/sandbox/sinkhole.c makes its files as the umask says)
    wrong = []
    for root, dirs, files in os.walk(out):
        rel = os.path.relpath(root, out)
        if rel.split(os.sep)[0] in ('mounts', 'transcripts'):
            continue
        for name in dirs:
            m = stat.S_IMODE(os.lstat(os.path.join(root, name)).st_mode)
            if m != 0o700:
                wrong.append('%s/ %o' % (os.path.join(rel, name), m))
        for name in files:
            m = stat.S_IMODE(os.lstat(os.path.join(root, name)).st_mode)
            if m != 0o600:
                wrong.append('%s %o' % (os.path.join(rel, name), m))
    eq(stat.S_IMODE(os.stat(out).st_mode), 0o700, 'DIR')
    eq(wrong, [], 'files not 0600, directories not 0700')
    for name in ('report.json', 'manifest.json', 'traffic.pcap'):  # (activity.jsonl: with eBPF only)
        assert os.path.exists(os.path.join(out, name)), name
    _clean_host('ux-memfd')
