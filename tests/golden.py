#!/usr/bin/env python3
"""Golden outputs: every view's text and JSON on every fixture, byte for byte.

    tests/golden.py --update     record build/kcsi's outputs into tests/golden/
    tests/golden.py              compare (what test_golden runs)

Small outputs are kept whole (a failing comparison shows a diff); outputs over
64 KiB are kept as their sha256.  The golden files change only on purpose: a
refactor must leave them as they are, a change of behaviour updates them in
the same commit with the reason in its message.
"""
import difflib
import hashlib
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GOLDEN = os.path.join(HERE, 'golden')
KCSI = os.environ.get('KCSI', os.path.join(ROOT, 'build', 'kcsi'))
FIXTURES = ('perlbot', 'revshell', 'memfd', 'counter')
BIG = 64 << 10


def fixture(name):
    return os.path.join('tests', 'data', 'fixtures', 'checkpoint-%s.tar' % name)


def cases():
    """(case name, argv) for every view on every fixture."""
    out = []
    for fx in FIXTURES:
        a = fixture(fx)
        for view, extra in (('show', []), ('show', ['--stats']), ('ps', []), ('ps', ['--env']), ('files', []),
                            ('net', []), ('net', ['--data']), ('mounts', []), ('meta', []), ('rootfs', []),
                            ('maps', ['--pid', '1']), ('strings', ['-n', '8']),
                            ('memgrep', ['PATH=']), ('memgrep', ['-i', '--regex', 'h[a-z]{3}=']),
                            ('analyze', []), ('analyze', ['--defang'])):
            tag = '-'.join([view] + [e.strip('-').replace('=', '').replace('[', '').replace(']', '')
                                     .replace('{', '').replace('}', '') for e in extra])
            out.append(('%s/%s.txt' % (fx, tag), [view] + extra + [a]))
            if view != 'analyze':
                out.append(('%s/%s.json' % (fx, tag), [view, '--json'] + extra + [a]))
        for fmt in ('json', 'stix', 'misp', 'timeline'):
            out.append(('%s/analyze-%s.out' % (fx, fmt), ['analyze', '--format', fmt, a]))
        out.append(('%s/decode-pstree.json' % fx, ['decode', a, 'pstree.img']))
        out.append(('%s/decode-inventory-pretty.json' % fx, ['decode', '--pretty', a, 'inventory.img']))
    out.append(('diff/perlbot-counter.txt', ['diff', fixture('perlbot'), fixture('counter')]))
    out.append(('diff/perlbot-counter.json', ['diff', '--json', fixture('perlbot'), fixture('counter')]))
    return out


def render(argv):
    env = dict(os.environ)
    env.pop('NO_COLOR', None)
    env['COLUMNS'] = '100'
    env['SOURCE_DATE_EPOCH'] = '1700000000'  # analyze's reports name the analysis time
    p = subprocess.run([KCSI] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env, timeout=300)
    body = p.stdout
    head = ('exit %d\n' % p.returncode).encode()
    if len(body) > BIG:
        body = ('sha256 %s bytes %d\n' % (hashlib.sha256(body).hexdigest(), len(body))).encode()
    return head + body


def main():
    update = '--update' in sys.argv
    bad = []
    for name, argv in cases():
        path = os.path.join(GOLDEN, name)
        got = render(argv)
        if update:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'wb') as f:
                f.write(got)
            continue
        try:
            want = open(path, 'rb').read()
        except FileNotFoundError:
            bad.append('%s: no golden file (kcsi %s)' % (name, ' '.join(argv)))
            continue
        if got != want:
            diff = difflib.unified_diff(want.decode(errors='replace').splitlines(),
                                        got.decode(errors='replace').splitlines(), 'golden/' + name, 'now', lineterm='',
                                        n=1)
            bad.append('%s differs (kcsi %s):\n%s' % (name, ' '.join(argv), '\n'.join(list(diff)[:40])))
    if update:
        print('recorded %d golden outputs in %s' % (len(cases()), GOLDEN))
        return 0
    for b in bad:
        print(b)
    print('%d of %d golden outputs differ' % (len(bad), len(cases())))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
