"""The progress bar: drawn on stderr when it is a terminal (a pty here), never
when stderr is a pipe, with --json or with --quiet; gone from the screen at
the end (the last thing on stderr erases the line)."""
import io
import os
import pty
import select
import subprocess
import tarfile
import time

import kt
from kt import eq

_big = {}


def slow_archive():
    """perlbot, gzip-compressed, with 256 MiB of padding in an extra member:
    reading it takes long enough for the bar to be drawn."""
    if 'path' not in _big:
        path = os.path.join(kt.tmpdir(), 'perlbot-padded.tar.gz')
        with tarfile.open(kt.fixture('perlbot')) as src, tarfile.open(path, 'w:gz', compresslevel=1) as dst:
            for m in src.getmembers():
                dst.addfile(m, src.extractfile(m) if m.isfile() else None)
            pad = tarfile.TarInfo('artifacts/padding.bin')
            pad.size = 256 << 20
            dst.addfile(pad, io.BytesIO(bytes(pad.size)))
        _big['path'] = path
    return _big['path']


def run_with_tty_stderr(*args, env=None):
    """Run kcsi with stderr on a pseudo-terminal; returns (exit, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    e = dict(os.environ, KCSI_PROGRESS_DELAY='0')
    e.pop('KCSI_QUIET', None)
    if env:
        e.update(env)
    p = subprocess.Popen([kt.KCSI] + list(args), stdout=subprocess.PIPE, stderr=slave, env=e)
    os.close(slave)
    got = b''
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            got += chunk
        elif p.poll() is not None:
            break
    out = p.stdout.read()
    p.wait(timeout=60)
    os.close(master)
    return p.returncode, out, got.decode(errors='replace')


def test_bar_on_a_terminal():
    code, out, tty = run_with_tty_stderr('show', slow_archive())
    eq(code, 0, tty)
    assert 'reading the archive [' in tty and '%' in tty and 'MiB' in tty, tty[-400:]
    assert tty.rstrip('\r\n').endswith('\r\x1b[K'), repr(tty[-80:])  # erased at the end
    assert b'reading the archive' not in out and b'\x1b' not in out, out[:200]


def test_no_bar_when_piped_json_or_quiet():
    p = subprocess.run([kt.KCSI, 'show', slow_archive()], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=dict(os.environ, KCSI_PROGRESS_DELAY='0'))
    eq((p.returncode, p.stderr), (0, b''), 'stderr a pipe: no bar')
    for args in (('show', '--json', slow_archive()), ('show', '--quiet', slow_archive()),
                 ('-q', 'show', slow_archive())):
        code, out, tty = run_with_tty_stderr(*args)
        eq(code, 0, tty)
        assert 'reading the archive' not in tty, (args, tty[-300:])
    code, out, tty = run_with_tty_stderr('show', slow_archive(), env={'KCSI_QUIET': '1'})
    assert 'reading the archive' not in tty, tty[-300:]
