"""Every example kcsi shows is run, and prints what it shows: the example of
each command's --help (read from --help and the man page, as users see them)
and every `$ build/kcsi ...` block of README.md and docs/*.md.

The convention for examples:
- An example is `$ COMMAND` lines (a trailing backslash continues one on the
  next line), each followed by lines of its output (stdout).  Several
  commands may follow one another; they run in that order, in bash.
- Help examples run `kcsi` on fixtures named by their basename
  (`kcsi ps checkpoint-perlbot.tar`), in a new directory holding copies of
  the fixtures of tests/data/fixtures and of the Falco alerts of
  tests/data/falco-events under their basenames.  README and docs examples
  run `build/kcsi` on `tests/data/fixtures/...` from a new directory laid out
  like the source tree (build/kcsi, a copy of tests/data).  Side effects (recover
  --out, a vault) stay in that directory; HOME is a directory in it.
- The output lines shown must be lines of the real output, in that order,
  contiguous and exact (column widths too).  A line `...` stands for lines
  left out (also at the start or the end); without it the output is exactly
  what is shown, and no line at all means no output.  Trailing blanks are not
  compared (they are invisible and editors strip them).
- A command that cannot run here (it needs root, a network peer or a
  kubelet) is listed in SKIPPED with the reason; its options are still
  parsed (the command with --help after them must print its usage).

tools/sync-examples.py rewrites the examples from real output: after a
change of output, `python3 tools/sync-examples.py` mends them all."""
import difflib
import os
import re
import shlex
import shutil
import subprocess
import tempfile

import kt
from kt import run
from test_cli import command_paths

DOCS = ['README.md'] + sorted(os.path.join('docs', f) for f in os.listdir(os.path.join(kt.ROOT, 'docs'))
                              if f.endswith('.md'))
FALCO_EVENTS = os.path.join(kt.HERE, 'data', 'falco-events')
ELIDED = '...'

# Commands of examples that cannot run here, by how they start: why.
SKIPPED = {
    'kcsi checkpoint --kubelet': 'needs a kubelet (its checkpoint API) and a client certificate it trusts',
    'build/kcsi checkpoint --kubelet': 'needs a kubelet (its checkpoint API) and a client certificate it trusts',
    'kcsi checkpoint --kubeconfig': 'needs a cluster: the kubeconfig names an API server that proxies to the kubelet',
    'kcsi respond --config /etc/kcsi/respond.yaml': 'the responder: its configuration names the kubelets and '
                                                   'their client certificates; it listens for Falco',
    'kcsi detonate': 'needs root, podman, runc and CRIU 4.2 (lab/setup.sh), and runs for 15 s',
    'sudo build/kcsi detonate': 'needs root, podman, runc and CRIU 4.2 (lab/setup.sh), and runs for 12 s',
    'podman load': 'needs root and podman (loads and restores the image)',
}

# Help examples in files another engineer is changing now: they are run, and
# their drift is reported as a skip (not a failure) until the owner runs
# tools/sync-examples.py on the file.  An entry whose example passes fails
# the test, so the list cannot go stale.
KNOWN_DRIFT = {
}

# Programs examples pipe into besides kcsi and the shell's own.
TOOLS = ('jq', 'gdb', 'grep', 'head', 'cut', 'ls', 'cp', 'mkdir')
# The only absolute paths an example that runs may name (read, never written):
# everything else is relative, so that what an example writes stays in its
# directory.  No shell variable but $HOME either.
ABSOLUTE_PATHS_READ = ('/dev/null', '/usr/bin/perl')


class Step:
    """One `$ COMMAND` of an example and the output lines shown for it."""

    def __init__(self, command, line):
        self.command = command  # as written, continuation lines included
        self.line = line        # its line in the example (1 = the first)
        self.shown = []

    def skip_reason(self):
        for start, why in SKIPPED.items():
            if self.command.startswith(start):
                return why
        return None


class Example:
    """An example: where it is (e.g. 'kcsi ps --help', 'README.md:133'),
    its steps, and how it runs ('help' or 'doc')."""

    def __init__(self, where, kind, lines, first_line=1):
        self.where, self.kind, self.first_line = where, kind, first_line
        self.lines = lines
        self.steps = parse_steps(lines, where)


def parse_steps(lines, where):
    steps = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith('$ '):
            step = Step(line[2:], i + 1)
            while step.command.endswith('\\') and i + 1 < len(lines):
                i += 1
                step.command += '\n' + lines[i]
            steps.append(step)
        elif not steps:
            raise AssertionError('%s: output before the first `$ COMMAND` line: %r' % (where, line))
        else:
            steps[-1].shown.append(line)
        i += 1
    return steps


# ---- where the examples are ----

def help_example(text):
    """The lines of the 'example:' section of a --help (indent removed)."""
    lines = text.splitlines()
    if 'example:' not in lines:
        return None
    out = []
    for line in lines[lines.index('example:') + 1:]:
        if line and not line.startswith('  '):
            break
        out.append(line[2:])
    while out and not out[-1]:
        out.pop()
    return out


def man_example(text):
    """The lines of the EXAMPLE section of a man page, as plain text."""
    m = re.search(r'^\.SH EXAMPLE\n\.nf\n(.*?)\n\.fi$', text, re.M | re.S)
    if not m:
        return None
    return [l.replace('\\&', '').replace('\\-', '-').replace('\\e', '\\') for l in m.group(1).split('\n')]


def help_examples():
    """{command path: Example} for every command of this build that has an example."""
    out = {}
    for path in command_paths():
        name = ' '.join(path)
        _, text, _ = run(*path, '--help')
        lines = help_example(text.decode())
        if lines is not None:
            out[name] = Example('kcsi %s --help' % name, 'help', lines)
    return out


def doc_blocks(relpath):
    """The example blocks of a Markdown file: [(first line number, lines)]:
    indented (4 spaces) or fenced blocks whose first line is `$ ...`."""
    with open(os.path.join(kt.ROOT, relpath)) as f:
        text = f.read().split('\n')
    blocks = []
    i = 0
    while i < len(text):
        line = text[i]
        if line.startswith('```'):
            j = i + 1
            while j < len(text) and not text[j].startswith('```'):
                j += 1
            body = text[i + 1:j]
            if body and body[0].startswith('$ '):
                blocks.append((i + 2, body))
            i = j + 1
            continue
        if line.startswith('    $ ') and (i == 0 or not text[i - 1].strip()):
            j = i
            body = []
            while j < len(text) and (text[j].startswith('    ') or not text[j].strip()):
                body.append(text[j][4:])
                j += 1
            while body and not body[-1].strip():
                body.pop()
            blocks.append((i + 1, body))
            i = j
            continue
        i += 1
    return blocks


def doc_examples():
    out = []
    for rel in DOCS:
        for first, lines in doc_blocks(rel):
            if any(l.startswith('$ ') and 'build/kcsi' in l for l in lines):
                out.append(Example('%s:%d' % (rel, first), 'doc', lines, first))
    return out


# C string literals of `.example = ...` in src/cmd_*.c, with the command they belong to
EXAMPLE_INIT = re.compile(r'\.example\s*=\s*((?:"(?:[^"\\\n]|\\.)*"\s*)+)(?=[,}])')
C_ESCAPES = {'n': '\n', 't': '\t', '"': '"', '\\': '\\', "'": "'"}


def c_string(literals):
    """The value of adjacent C string literals (the escapes examples use)."""
    out = []
    for lit in re.findall(r'"((?:[^"\\\n]|\\.)*)"', literals):
        out.append(re.sub(r'\\(.)', lambda m: C_ESCAPES[m.group(1)], lit))
    return ''.join(out)


def command_ids():
    """{'vault_put': 'vault put', ...} from src/commands.txt."""
    ids = {}
    with open(os.path.join(kt.ROOT, 'src', 'commands.txt')) as f:
        for line in f:
            w = line.split()
            if w and not w[0].startswith('#'):
                name = ' '.join(w[:-1])
                ids[name.replace('-', '_').replace(' ', '_')] = name
    return ids


def source_examples():
    """[(file, command path, span of the literals in the file, text)] for every .example in src/cmd_*.c."""
    ids = command_ids()
    out = []
    src = os.path.join(kt.ROOT, 'src')
    for f in sorted(os.listdir(src)):
        if not (f.startswith('cmd_') and f.endswith('.c')):
            continue
        with open(os.path.join(src, f)) as fh:
            text = fh.read()
        for m in EXAMPLE_INIT.finditer(text):
            owner = re.findall(r'const struct cmd cmd_(\w+) = \{', text[:m.start()])
            assert owner, '%s: .example outside a struct cmd' % f
            out.append((os.path.join('src', f), ids[owner[-1]], m.span(1), c_string(m.group(1))))
    return out


# ---- running them ----

def example_dir(kind):
    """A new directory to run an example of that kind in (see the module's
    head).  The test data are copies (5 MB): an example can change nothing
    of the source tree, and kcsi meets plain files, not links."""
    d = tempfile.mkdtemp(prefix='ex-', dir=kt.tmpdir())
    os.makedirs(os.path.join(d, 'home'))
    if kind == 'help':
        os.makedirs(os.path.join(d, 'bin'))
        os.symlink(os.path.abspath(kt.KCSI), os.path.join(d, 'bin', 'kcsi'))
        for where in (kt.FIXTURES, FALCO_EVENTS):
            for f in os.listdir(where):
                if f.endswith(('.tar', '.json')):
                    shutil.copyfile(os.path.join(where, f), os.path.join(d, f))
    else:
        os.makedirs(os.path.join(d, 'build'))
        os.symlink(os.path.abspath(kt.KCSI), os.path.join(d, 'build', 'kcsi'))
        shutil.copytree(os.path.join(kt.HERE, 'data'), os.path.join(d, 'tests', 'data'))
    return d


def example_env(d):
    """The environment of an example: no vault, S3 or kcsi settings of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(('KCSI', 'AWS_'))}
    env.update(HOME=os.path.join(d, 'home'), NO_COLOR='1', LC_ALL='C.UTF-8', TZ='UTC',
               PATH=os.path.join(d, 'bin') + ':' + os.environ.get('PATH', '/usr/bin:/bin'))
    return env


def run_step(step, d):
    """(exit status, stdout lines, stderr) of one command, run in d with bash."""
    p = subprocess.run(['bash', '-c', step.command], cwd=d, env=example_env(d), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=600)
    out = p.stdout.decode(errors='replace').split('\n')
    if out and out[-1] == '':
        out.pop()
    return p.returncode, out, p.stderr.decode(errors='replace')


def missing_tool(step):
    """A program the command needs that is not installed, or None."""
    for word in re.findall(r'(?:^|[|&;(]\s*)([\w.-]+)', step.command):
        if word in TOOLS and not shutil.which(word):
            return word
    return None


def outside_paths(step):
    """What in the command could reach outside the example's directory:
    absolute paths (but ABSOLUTE_PATHS_READ), ~user, variables but $HOME
    (a `  # comment` at the end of a line is not looked at)."""
    command = re.sub(r'\s#[^\'"\n]*$', '', step.command, flags=re.M)
    bad = [p for p in re.findall(r'(?<![\w.~-])/[^\s\'"|;&)]*', command) if p not in ABSOLUTE_PATHS_READ]
    bad += re.findall(r'~\w+|\$(?!HOME\b)[{\w]\w*', command)
    bad += re.findall(r'(?:^|\s)\.\.(?:/|\s|$)', command)
    return bad


def run_example(ex):
    """Run every step; returns [(step, status, output lines, stderr, skip reason)].
    A step that names a path outside the example's directory is not run: it
    fails with status -1."""
    d = example_dir(ex.kind)
    results = []
    try:
        for step in ex.steps:
            why = step.skip_reason()
            tool = missing_tool(step)
            if why or tool:
                results.append((step, None, None, '', why or '%s is not installed' % tool))
                continue
            bad = outside_paths(step)
            if bad:
                results.append((step, -1, [], 'not run: it names %s (examples that run stay in their directory: '
                                'relative paths only)' % ', '.join(bad), None))
                continue
            rc, out, err = run_step(step, d)
            results.append((step, rc, out, err, None))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return results


def shown_in(shown, real):
    """True when the lines shown are a faithful selection of the real output
    (the rule in the module's head)."""
    shown = [l.rstrip() for l in shown]
    real = [l.rstrip() for l in real]
    segs, cur = [], []
    for l in shown:
        if l == ELIDED:
            segs.append(cur)
            cur = []
        else:
            cur.append(l)
    segs.append(cur)
    # segs[0] must start the output and segs[-1] end it; the others float in order
    if len(segs) == 1:
        return segs[0] == real
    first, middle, last = segs[0], segs[1:-1], segs[-1]
    if real[:len(first)] != first:
        return False
    pos = len(first)
    for seg in middle:
        if not seg:
            continue
        for k in range(pos, len(real) - len(seg) + 1):
            if real[k:k + len(seg)] == seg:
                pos = k + len(seg)
                break
        else:
            return False
    return len(real) - len(last) >= pos and (not last or real[len(real) - len(last):] == last)


def problems(ex, results):
    """What is wrong with an example's run, as text (empty: nothing)."""
    out = []
    for step, rc, real, err, why in results:
        if why:
            continue
        label = '%s, line %d: $ %s' % (ex.where, ex.first_line + step.line - 1, step.command)
        if rc != 0:
            out.append('%s\n  exited %d: %s' % (label, rc, err.strip()[:500]))
        elif not shown_in(step.shown, real):
            diff = difflib.unified_diff([l.rstrip() for l in step.shown], [l.rstrip() for l in real],
                                        'shown', 'real output', lineterm='', n=2)
            out.append('%s\n  %s' % (label, '\n  '.join(list(diff)[:60])))
    return '\n'.join(out)


def check(examples):
    """Run the examples; fail naming each one that does not print what it shows."""
    bad, skipped, drift_left = [], [], []
    for ex in examples:
        results = run_example(ex)
        skipped += ['%s: $ %s: %s' % (ex.where, s.command.split('\n')[0], why) for s, _, _, _, why in results
                    if why and not why.endswith('is not installed')]
        missing = [why for _, _, _, _, why in results if why and why.endswith('is not installed')]
        text = problems(ex, results)
        name = ex.where.split(' ', 1)[1].rsplit(' --help', 1)[0] if ex.kind == 'help' else ex.where
        if name in KNOWN_DRIFT:
            if not text:
                bad.append('%s passes: take it out of KNOWN_DRIFT' % ex.where)
            else:
                drift_left.append('%s (%s)' % (ex.where, KNOWN_DRIFT[name]))
            continue
        if text:
            bad.append(text)
        if missing:
            drift_left.append('%s: %s' % (ex.where, ', '.join(missing)))
    if bad:
        raise AssertionError('%d example(s) do not print what they show (tools/sync-examples.py mends them):\n%s'
                             % (len(bad), '\n'.join(bad)))
    for s in skipped:
        print('  skipped: ' + s)
    if drift_left:
        raise kt.Skip('not checked: ' + '; '.join(drift_left))


# ---- the tests ----

def test_the_rule_for_shown_output():
    """The comparison itself: a selection in order with explicit elisions
    passes; anything else (a changed column width, a line left out without
    `...`, lines out of order) fails."""
    real = ['H  A', 'a  1', 'bb 2', 'c  3']
    for shown in (real, ['H  A', ELIDED], [ELIDED, 'c  3'], ['H  A', ELIDED, 'bb 2', ELIDED],
                  [ELIDED], ['H  A', 'a  1', ELIDED, 'c  3'], ['H  A  ', 'a  1', 'bb 2', 'c  3']):
        assert shown_in(shown, real), shown
    for shown in (['H A', ELIDED], ['H  A', 'a  1'], ['H  A', 'bb 2', ELIDED], [ELIDED, 'bb 2', 'a  1', ELIDED],
                  [], ['H  A', ELIDED, 'a  1', 'bb 2', 'c  3', 'd'], [ELIDED, 'a  1', 'c  3', ELIDED]):
        assert not shown_in(shown, real), shown
    assert shown_in([], []) and not shown_in(['x'], [])
    steps = parse_steps(['$ kcsi a \\', '    --b c', 'out', '$ kcsi d'], 'x')
    kt.eq([(s.command, s.shown) for s in steps], [('kcsi a \\\n    --b c', ['out']), ('kcsi d', [])], 'steps')
    # what a running example may not reach (in bash, as root, "${fpath[1]}/_kcsi" is /_kcsi)
    for command in ('kcsi completion zsh > "${fpath[1]}/_kcsi"', 'kcsi vault init --store /srv/evidence',
                    'kcsi recover --out ../x a.tar', 'kcsi dump --out ~root/x a.tar', 'cp a.tar $OUT'):
        assert outside_paths(Step(command, 1)), command
    for command in ('kcsi dump --out case-42 a.tar', 'gdb -batch /usr/bin/perl case-42/pid-15/core',
                    'kcsi completion fish > kcsi.fish  # into ~/.config/fish/completions, or $X',
                    'kcsi meta --json a.tar 2>/dev/null | jq .hostname', 'ls ~/x $HOME/y'):
        assert not outside_paths(Step(command, 1)), command


def test_help_examples_print_what_they_show():
    examples = help_examples()
    assert 'ps' in examples and 'show' in examples, sorted(examples)
    for name, ex in examples.items():
        assert ex.steps, '%s: an example without a `$ COMMAND` line' % ex.where
        for s in ex.steps:
            assert 'build/kcsi' not in s.command and 'tests/data' not in s.command, \
                '%s: help examples run `kcsi` on fixtures named by basename: %s' % (ex.where, s.command)
    check(examples.values())


def test_doc_examples_print_what_they_show():
    examples = doc_examples()
    assert any(e.where.startswith('README.md') for e in examples), 'no example found in README.md'
    for ex in examples:
        for s in ex.steps:
            words = s.command.split()
            assert 'kcsi' not in words, '%s: docs run build/kcsi: %s' % (ex.where, s.command)
    check(examples)


def test_man_pages_show_the_help_examples():
    """The man page's EXAMPLE is the help's, and every .example of src/cmd_*.c
    is one of them (so every one of them is run above)."""
    examples = help_examples()
    for name, ex in examples.items():
        _, man, _ = run('help', '--man', *name.split())
        kt.eq(man_example(man.decode()), ex.lines, 'kcsi-%s(1) EXAMPLE' % name.replace(' ', '-'))
    absent = []
    for path, name, _, text in source_examples():
        if name not in examples:
            absent.append(name)
            continue
        kt.eq(examples[name].lines, text.split('\n'), '%s: the example of %s' % (path, name))
    kt.eq(sorted(set(examples) - {n for _, n, _, _ in source_examples()}), [], 'help examples not in src/cmd_*.c')
    if absent:
        raise kt.Skip('commands not in this build, their examples not run: ' + ', '.join(absent))


def test_skipped_examples_still_parse():
    """A command that cannot run here is still a valid command line: with
    --help after its options kcsi prints the usage (an unknown option, a
    bad value or a missing subcommand would fail).  Every SKIPPED entry is
    used."""
    used = set()
    examples = list(help_examples().values()) + doc_examples()
    for ex in examples:
        for s in ex.steps:
            why = s.skip_reason()
            if not why:
                continue
            used.update(k for k in SKIPPED if s.command.startswith(k))
            words = shlex.split(s.command.replace('\\\n', ' '))
            words = words[:next((i for i, w in enumerate(words) if w in ('|', '&&', ';', '>')), len(words))]
            if words and words[0] == 'sudo':
                words = words[1:]
            if not words or not words[0].endswith('kcsi'):
                continue
            rc, out, err = run(*words[1:], '--help', check=False)
            assert rc == 0 and out.startswith(b'usage: kcsi '), '%s: $ %s: %s' % (ex.where, s.command, err)
    kt.eq(sorted(set(SKIPPED) - used), [], 'SKIPPED entries no example uses')


def test_sync_examples_mends_what_drifted():
    """tools/sync-examples.py: for the lines shown it picks the real lines
    closest to them, in order, with `...` for the rest, never a line that
    changes between runs; its C literals read back as the lines."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('sync_examples', os.path.join(kt.ROOT, 'tools', 'sync-examples.py'))
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    real = ['PID  FD    TYPE  PATH', '15   root  DIR   /', '15   4     REG   /tmp/.journal (deleted)', '15   mem   REG   /x']
    shown = ['PID  FD  TYPE  PATH', '15   4   REG   /tmp/.journal (deleted)']
    got = sync.select(shown, real, [True] * 4)
    kt.eq(got, [real[0], ELIDED, real[2], ELIDED], 'selection')
    assert shown_in(got, real)
    got = sync.select(shown, real, [True, True, False, True])
    assert real[2] not in got and shown_in(got, real), got
    kt.eq(sync.select([], real, [True] * 4), real[:2] + [ELIDED], 'nothing shown before')
    kt.eq(sync.select(['x'], [], []), [], 'no output')
    lines = ['$ kcsi strings a.tar | grep "x\\\\y"', '15\t0x1\tPRIVMSG', '...']
    kt.eq(c_string(sync.c_example(lines, '\t\t')).split('\n'), lines, 'C literals')
