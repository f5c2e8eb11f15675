"""Helpers shared by kcsi's tests."""
import gzip
import json
import os
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KCSI = os.environ.get('KCSI', os.path.join(ROOT, 'build', 'kcsi'))
FIXTURES = os.path.join(HERE, 'data', 'fixtures')


class Skip(Exception):
    pass


def fixture(name):
    """Path of a stored fixture, e.g. fixture('perlbot')."""
    return os.path.join(FIXTURES, 'checkpoint-%s.tar' % name)


def run(*args, check=True, env=None, timeout=120):
    """Run kcsi; returns (exit code, stdout bytes, stderr text)."""
    e = dict(os.environ)
    e.pop('NO_COLOR', None)
    if env:
        e.update(env)
    p = subprocess.run([KCSI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=e, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError('kcsi %s exited %d: %s' % (' '.join(args), p.returncode,
                                                        p.stderr.decode(errors='replace')))
    return p.returncode, p.stdout, p.stderr.decode(errors='replace')


def jrun(*args, **kw):
    """Run kcsi with --json and parse the output."""
    _, out, _ = run(*args, **kw)
    return json.loads(out)


def run_unit(name, agreed):
    """Run the C unit test tests/unit/NAME.c (built beside kcsi as
    tests/unit_NAME); it must exit 0 and print `agreed`.  Its output."""
    unit = os.path.join(os.path.dirname(os.path.abspath(KCSI)), 'tests', 'unit_' + name)
    assert os.path.exists(unit), '%s: not built (ninja -C %s)' % (unit, os.path.dirname(KCSI))
    p = subprocess.run([unit], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    out = p.stdout.decode(errors='replace')
    assert p.returncode == 0, out
    assert agreed in out, out
    return out


_tmp = None


def tmpdir():
    global _tmp
    if _tmp is None:
        _tmp = tempfile.mkdtemp(prefix='kcsi-test-')
    return _tmp


def compressed(name, kind):
    """A gzip or zstd copy of a fixture, made once per run."""
    src = fixture(name)
    dst = os.path.join(tmpdir(), 'checkpoint-%s.tar.%s' % (name, 'gz' if kind == 'gzip' else 'zst'))
    if not os.path.exists(dst):
        if kind == 'gzip':
            with open(src, 'rb') as f, gzip.open(dst, 'wb') as g:
                shutil.copyfileobj(f, g)
        else:
            if not shutil.which('zstd'):
                raise Skip('zstd not installed')
            subprocess.run(['zstd', '-q', '-o', dst, src], check=True)
    return dst


def extracted(name):
    """A fixture extracted into a directory."""
    dst = os.path.join(tmpdir(), 'dir-' + name)
    if not os.path.exists(dst):
        os.makedirs(dst)
        subprocess.run(['tar', '-C', dst, '-xf', fixture(name)], check=True)
    return dst


def eq(a, b, what=''):
    if a != b:
        ra, rb = repr(a), repr(b)
        if len(ra) + len(rb) > 2000:
            import difflib
            d = '\n'.join(list(difflib.unified_diff(rb.split(', '), ra.split(', '), 'expected', 'got',
                                                     lineterm='', n=1))[:40])
            raise AssertionError('%s: differs:\n%s' % (what, d))
        raise AssertionError('%s: expected %s, got %s' % (what, rb, ra))


def run_peak(argv, timeout=120, env=None, stdin=None):
    """Run a command; returns (exit code, stdout bytes, stderr bytes, its peak
    resident size in bytes).  Measured by /usr/bin/time: ru_maxrss of a child
    the test runner starts itself would count the runner's own memory (Linux
    keeps the high-water mark across exec, and a vfork'd child has the
    runner's), so the figure would depend on what tests ran before."""
    with tempfile.NamedTemporaryFile() as t:
        p = subprocess.run(['/usr/bin/time', '-q', '-f', '%M', '-o', t.name] + list(argv), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                           timeout=timeout)
        lines = open(t.name).read().split()
        peak = int(lines[-1]) * 1024 if lines and lines[-1].isdigit() else 0
    return p.returncode, p.stdout, p.stderr, peak
