#!/usr/bin/env python3
"""Rewrite kcsi's examples from real output, so that they print what they show.

usage: tools/sync-examples.py [--check] [FILE...]

The examples are the `.example` strings of src/cmd_*.c (each command's
--help and man page) and the `$ build/kcsi ...` blocks of README.md and
docs/*.md; the convention and the rule for the output lines they show are in
tests/test_docs.py, which runs them (this tool uses its parser and runner).
Each example is run twice; an example whose shown lines are right in both
runs is left alone.  For one that is not, the lines shown become the real
lines closest to what was shown (same order, `...` where lines are left
out), never a line that differs between the two runs (times, keys); where
nothing was shown, or nothing is close, the first lines and `...`.  The
commands are kept as they are: edit a command by hand, give it the output
you want to show (roughly), and run this tool to make it exact.

FILE limits the rewrite to those files (e.g. src/cmd_ps.c README.md);
--check rewrites nothing and exits 1 when an example would change.  After a
change to src/, rebuild (ninja -C build) so that --help shows it.
Environment: KCSI, the binary (default build/kcsi)."""
import difflib
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))
import test_docs as td  # noqa: E402

CLOSE_ENOUGH = 0.5  # similarity (difflib ratio) for a real line to stand for a shown one
FIRST_LINES = 2     # lines shown when nothing shown before is close to the output
ERRORS = []         # examples that did not run (left as they are)


def similarity(a, b):
    """How well real line b stands for shown line a: mostly how much of a is
    in b, then how alike they are; runs of blanks (column widths) count as one."""
    a, b = ' '.join(a.split()), ' '.join(b.split())
    m = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if m.real_quick_ratio() < CLOSE_ENOUGH / 2:
        return 0.0
    found = sum(blk.size for blk in m.get_matching_blocks()) / max(len(a), 1)
    return 0.7 * found + 0.3 * m.ratio() if found >= CLOSE_ENOUGH else 0.0


def select(shown, real, stable):
    """The lines to show now: for the lines shown before, the real lines
    closest to them in order (best total similarity), `...` for gaps."""
    wanted = [l.rstrip() for l in shown if l != td.ELIDED]
    real = [l.rstrip() for l in real]
    if not real:
        return []
    # best[i][j]: the best score placing wanted[:i] in real[:j]; pick[i][j]: the real line of wanted[i-1]
    best = [[0.0] * (len(real) + 1) for _ in range(len(wanted) + 1)]
    took = [[False] * (len(real) + 1) for _ in range(len(wanted) + 1)]
    for i in range(1, len(wanted) + 1):
        for j in range(0, len(real) + 1):
            b, t = best[i - 1][j], False
            if j > 0 and best[i][j - 1] > b:
                b = best[i][j - 1]
            if j > 0 and stable[j - 1]:
                s = similarity(wanted[i - 1], real[j - 1])
                if s >= CLOSE_ENOUGH and best[i - 1][j - 1] + s > b:
                    b, t = best[i - 1][j - 1] + s, True
            best[i][j], took[i][j] = b, t
    chosen = []
    i, j = len(wanted), len(real)
    while i > 0 and j > 0:
        if took[i][j]:
            chosen.append(j - 1)
            i, j = i - 1, j - 1
        elif best[i][j] == best[i][j - 1]:
            j -= 1
        else:
            i -= 1
    chosen.reverse()
    if not chosen:
        for k in range(min(FIRST_LINES, len(real))):
            if not stable[k]:
                break
            chosen.append(k)
    out = []
    for n, k in enumerate(chosen):
        if (n == 0 and k > 0) or (n > 0 and k > chosen[n - 1] + 1):
            out.append(td.ELIDED)
        out.append(real[k])
    if not chosen or chosen[-1] < len(real) - 1:
        out.append(td.ELIDED)
    return out


def sync_example(ex):
    """The example's lines with real output, or None when they are right
    (or cannot be run here: it says why)."""
    first, second = td.run_example(ex), td.run_example(ex)
    lines, changed = [], False
    for (step, rc, real, err, why), (_, rc2, real2, _, _) in zip(first, second):
        lines += ['$ ' + c if k == 0 else c for k, c in enumerate(step.command.split('\n'))]
        if why:
            print('  %s: $ %s: not run (%s)' % (ex.where, step.command.split('\n')[0], why), file=sys.stderr)
            lines += step.shown
            continue
        if rc != 0:
            ERRORS.append('%s: $ %s: exited %d: %s' % (ex.where, step.command, rc, err.strip()))
            lines += step.shown
            continue
        if td.shown_in(step.shown, real) and td.shown_in(step.shown, real2):
            lines += step.shown
            continue
        counts = {}
        for l in real2:
            counts[l.rstrip()] = counts.get(l.rstrip(), 0) + 1
        stable = [counts.get(l.rstrip(), 0) > 0 for l in real]
        lines += select(step.shown, real, stable)
        changed = True
    return lines if changed else None


# ---- writing ----

def c_literal(text):
    return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"').replace('\t', '\\t').replace('\n', '\\n')


def c_example(lines, indent):
    """`.example =` literals for the lines, a line each."""
    return ''.join('\n' + indent + c_literal(l + ('\n' if n + 1 < len(lines) else '')) for n, l in enumerate(lines))


def sync_sources(files, check):
    changed = []
    by_file = {}
    for path, name, span, text in td.source_examples():
        by_file.setdefault(path, []).append((name, span, text))
    for path, items in sorted(by_file.items()):
        if files and path not in files:
            continue
        full = os.path.join(td.kt.ROOT, path)
        with open(full) as f:
            src = f.read()
        for name, span, text in sorted(items, key=lambda x: -x[1][0]):  # from the end: spans stay valid
            new = sync_example(td.Example('%s (%s)' % (path, name), 'help', text.split('\n')))
            if new is None:
                continue
            changed.append('%s: the example of %s' % (path, name))
            start = src.rfind('.example', 0, span[0])
            indent = re.match(r'\s*', src[src.rfind('\n', 0, start) + 1:]).group(0) + '\t'
            start = src.index('=', start) + 1
            src = src[:start] + c_example(new, indent) + src[span[1]:]
        if not check:
            with open(full, 'w') as f:
                f.write(src)
    return changed


def sync_docs(files, check):
    changed = []
    for rel in td.DOCS:
        if files and rel not in files:
            continue
        full = os.path.join(td.kt.ROOT, rel)
        with open(full) as f:
            text = f.read().split('\n')
        for first, lines in reversed(td.doc_blocks(rel)):
            if not any(l.startswith('$ ') and 'build/kcsi' in l for l in lines):
                continue
            new = sync_example(td.Example('%s:%d' % (rel, first), 'doc', lines, first))
            if new is None:
                continue
            changed.append('%s:%d' % (rel, first))
            fenced = first >= 2 and text[first - 2].startswith('```')
            text[first - 1:first - 1 + len(lines)] = [l if fenced or not l else '    ' + l for l in new]
        if not check:
            with open(full, 'w') as f:
                f.write('\n'.join(text))
    return changed


def main():
    args = sys.argv[1:]
    check = '--check' in args
    files = [os.path.relpath(os.path.abspath(a), ROOT) for a in args if a != '--check']
    changed = sync_sources(files, check) + sync_docs(files, check)
    for c in changed:
        print(('would change ' if check else 'rewrote ') + c)
    if changed and not check and any(c.startswith('src/') for c in changed):
        print('rebuild (ninja -C build) for --help to show them')
    for e in ERRORS:
        print('not run, left as it is: ' + e, file=sys.stderr)
    return 1 if (changed and check) or ERRORS else 0


if __name__ == '__main__':
    sys.exit(main())
