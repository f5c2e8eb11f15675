#!/usr/bin/env python3
"""kcsi's test runner: runs every test_* function of tests/test_*.py.

usage: tests/run.py [-k SUBSTRING] [MODULE...]

A test passes by returning, fails by raising (AssertionError or any other
exception), and is skipped by raising Skip("reason").  The last line is
`N passed, N failed[, N skipped]`.  Environment: KCSI (the binary, default
build/kcsi); KCSI_KEEP_TEST_TMP=1 keeps the run's temporary directory (lab
checkpoints, vaults, detonations: gigabytes), which is otherwise removed at
the end.
"""
import importlib
import os
import shutil
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import kt  # noqa: E402


def main():
    args = sys.argv[1:]
    pattern = None
    if len(args) >= 2 and args[0] == '-k':
        pattern = args[1]
        args = args[2:]
    mods = args or sorted(f[:-3] for f in os.listdir(HERE)
                          if f.startswith('test_') and f.endswith('.py'))
    passed = failed = skipped = 0
    for name in mods:
        mod = importlib.import_module(name)
        tests = [t for t in dir(mod) if t.startswith('test_') and callable(getattr(mod, t))]
        tests.sort(key=lambda t: getattr(mod, t).__code__.co_firstlineno)
        for t in tests:
            full = '%s.%s' % (name, t)
            if pattern and pattern not in full:
                continue
            start = time.monotonic()
            try:
                getattr(mod, t)()
            except kt.Skip as e:
                skipped += 1
                print('SKIP %s: %s' % (full, e), flush=True)
                continue
            except Exception:  # noqa: BLE001
                failed += 1
                print('FAIL %s' % full, flush=True)
                traceback.print_exc(file=sys.stdout)
                continue
            passed += 1
            print('ok   %s (%.2fs)' % (full, time.monotonic() - start), flush=True)
    line = '%d passed, %d failed' % (passed, failed)
    if skipped:
        line += ', %d skipped' % skipped
    clean_tmp()
    print(line)
    return 1 if failed else 0


def clean_tmp():
    """Remove the run's temporary directory (kt.tmpdir), unless asked to keep
    it or something is still mounted below it (a detonation that did not
    clean up: removing would reach into the mount; say so instead)."""
    d = kt._tmp
    if not d or os.environ.get('KCSI_KEEP_TEST_TMP') or not os.path.isdir(d):
        return
    with open('/proc/self/mounts') as f:
        mounted = [l.split()[1] for l in f if l.split()[1].startswith(d + '/')]
    if mounted:
        print('note: %s kept: %s is still mounted' % (d, mounted[0]), flush=True)
        return
    shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
