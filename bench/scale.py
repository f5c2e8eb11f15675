#!/usr/bin/env python3
"""bench/scale.py — how kcsi's time and memory grow with the size of a
checkpoint, one dimension at a time (issue 17's scale sheet).  Not a test.

    sudo python3 bench/scale.py [--mem 256,1024,4096] [--procs 2,200,2000]
                                [--fds 1000,10000,100000,1000000]
                                [--iocs 1,100,1000,10000,100000] [--out DIR]

  memory       lab bigmem checkpoints of N MiB (real podman + CRIU): analyze,
               memgrep (one literal), hunt (10,000 indicators)
  processes    lab manyproc checkpoints of N processes: ps, analyze
  descriptors  the counter fixture with pid 1 holding N descriptors (images
               re-encoded as tests/test_hostile_reader.py builds them): files,
               analyze
  indicators   hunt with N mixed indicators on the smallest bigmem checkpoint

For each row: seconds (median of 3, page cache warm), peak RSS (MiB), and the
growth against the row before: time ratio / size ratio (1.0 = linear, < 1
better than linear).  Needs root for the lab checkpoints (the descriptor rows
run without)."""
import argparse
import json
import os
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))
KCSI = os.environ.get('KCSI', os.path.join(ROOT, 'build', 'kcsi'))


def measure(argv, runs=3, env=None):
    """Median seconds, peak RSS (MiB) and exit status of argv, through /usr/bin/time."""
    times, peak, rc = [], 0, 0
    with tempfile.NamedTemporaryFile() as t:
        for _ in range(runs):
            rc = subprocess.run(['/usr/bin/time', '-q', '-f', '%e %M', '-o', t.name] + argv, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=env, timeout=3600).returncode
            last = open(t.name).read().split('\n')
            last = [l for l in last if l.strip()][-1].split()
            times.append(float(last[0]))
            peak = max(peak, int(last[1]) // 1024)
    return statistics.median(times), peak, rc


def lab(scene, out, env):
    """Make a lab scene into out; returns the archive path (None on failure)."""
    os.makedirs(out, exist_ok=True)
    r = subprocess.run(['bash', os.path.join(ROOT, 'lab', 'scenarios', scene + '.sh'), out], env=dict(os.environ, **env),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=3600)
    path = os.path.join(out, scene + '.tar')
    if r.returncode != 0 or not os.path.exists(path):
        print('  (%s %s failed: %s)' % (scene, env, (r.stderr.strip().splitlines() or ['?'])[-1]), file=sys.stderr)
        return None
    return path


def indicators(n, path, seed=7):
    """n mixed indicators (addresses, names, URLs, e-mails, hashes, literals,
    hex), seeded, into path."""
    rnd = random.Random(seed)
    rs = lambda k: ''.join(rnd.choice(string.ascii_lowercase) for _ in range(k))
    hx = lambda k: ''.join(rnd.choice('0123456789abcdef') for _ in range(k))
    kinds = [lambda: '%d.%d.%d.%d' % (rnd.randint(1, 223), rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(1, 254)),
             lambda: '%s.%s' % (rs(rnd.randint(5, 12)), rnd.choice(['com', 'net', 'org', 'io'])),
             lambda: 'http://%s.com/%s' % (rs(8), rs(6)), lambda: '%s@%s.com' % (rs(6), rs(7)),
             lambda: hx(64), lambda: 'literal:' + rs(rnd.randint(10, 20)), lambda: 'hex:' + hx(16)]
    with open(path, 'w') as f:
        for i in range(n):
            f.write(kinds[i % len(kinds)]() + '\n')
    return path


class Sheet:
    def __init__(self):
        self.rows = []

    def row(self, dim, size, what, argv, size_value, env=None):
        s, rss, rc = measure(argv, env=env)
        prev = [r for r in self.rows if r[0] == dim and r[2] == what]
        growth = '-'
        if prev and prev[-1][5] > 0 and prev[-1][3] > 0:
            growth = '%.2f' % ((s / prev[-1][3]) / (size_value / prev[-1][5]))
        self.rows.append((dim, size, what, s, rss, size_value, growth))
        print('%-12s %-10s %-34s %8.3f s %7d MiB   growth %s%s' % (dim, size, what, s, rss, growth,
                                                                    '' if rc in (0, 1) else '   (exit %d)' % rc), flush=True)

    def write(self, path):
        with open(path, 'w') as f:
            json.dump([dict(zip(('dimension', 'size', 'command', 'seconds', 'rss_mib', 'size_value', 'growth'), r))
                       for r in self.rows], f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--mem', default='256,1024')
    ap.add_argument('--procs', default='2,200,2000')
    ap.add_argument('--fds', default='1000,10000,100000,1000000')
    ap.add_argument('--iocs', default='1,100,1000,10000,100000')
    ap.add_argument('--out', default=None)
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix='kcsi-scale-')
    os.makedirs(out, exist_ok=True)
    root = os.geteuid() == 0
    sheet = Sheet()
    cache = dict(os.environ, KCSI_CACHE=os.path.join(out, 'cache'))
    print('kcsi scale sheet: %s, %d cores; growth = time ratio / size ratio (1.0 linear)' % (KCSI, os.cpu_count()))
    ioc10k = indicators(10000, os.path.join(out, 'iocs-10000.txt'))
    mems = []
    for mib in [int(x) for x in a.mem.split(',') if x] if root else []:
        arch = lab('bigmem', os.path.join(out, 'mem-%d' % mib), {'BIGMEM_MIB': str(mib)})
        if not arch:
            continue
        mems.append(arch)
        subprocess.run(['cat', arch], stdout=subprocess.DEVNULL)
        size = '%d MiB' % mib
        sheet.row('memory', size, 'analyze --format json', [KCSI, 'analyze', '--format', 'json', arch], mib)
        sheet.row('memory', size, 'memgrep -c (one literal)', [KCSI, 'memgrep', '-c', arch, 'KCSIMARK:00'], mib)
        subprocess.run([KCSI, 'hunt', '-i', ioc10k, arch], stdout=subprocess.DEVNULL, env=cache)  # compile once
        sheet.row('memory', size, 'hunt (10,000 indicators)', [KCSI, 'hunt', '-i', ioc10k, arch], mib, env=cache)
    for n in [int(x) for x in a.procs.split(',') if x] if root else []:
        arch = lab('manyproc', os.path.join(out, 'procs-%d' % n), {'MANYPROC_N': str(n)})
        if not arch:
            continue
        size = '%d procs' % n
        sheet.row('processes', size, 'ps', [KCSI, 'ps', arch], n)
        sheet.row('processes', size, 'analyze --format json', [KCSI, 'analyze', '--format', 'json', arch], n)
    import test_hostile_reader as hr
    hr.tmp = lambda name: os.path.join(out, name)
    for n in [int(x) for x in a.fds.split(',') if x]:
        arch = hr.many_fds(n)
        size = '%d fds' % n
        sheet.row('descriptors', size, 'files --json', [KCSI, 'files', '--json', arch], n)
        sheet.row('descriptors', size, 'analyze --format json', [KCSI, 'analyze', '--format', 'json', arch], n)
    if mems:
        arch = mems[0]
        for n in [int(x) for x in a.iocs.split(',') if x]:
            lst = indicators(n, os.path.join(out, 'iocs-%d.txt' % n))
            subprocess.run([KCSI, 'hunt', '-i', lst, arch], stdout=subprocess.DEVNULL, env=cache)
            sheet.row('indicators', '%d' % n, 'hunt (cached database)', [KCSI, 'hunt', '-i', lst, arch], n, env=cache)
    sheet.write(os.path.join(out, 'scale.json'))
    print('figures in %s' % os.path.join(out, 'scale.json'))
    if not a.out:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == '__main__':
    main()
