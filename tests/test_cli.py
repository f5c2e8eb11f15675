"""The command line itself: every command and subcommand (found from `kcsi
--help`, so from the command table) has a --help and a man page that agree,
every option of the tables is accepted by the parser and its range enforced,
--pid means one thing everywhere, the exit status table is the one README.md
shows, typos get suggestions, errors say why, and the shell completions and
the kubectl plugin name work."""
import bz2
import json
import lzma
import os
import pty
import re
import shutil
import subprocess
import tarfile

import kt
from kt import eq, fixture, run

MAN_DIR = os.path.join(os.path.dirname(os.path.abspath(kt.KCSI)), 'man')


def section(text, title):
    """The lines of a help section ('commands:', 'options:', ...) up to the next blank line."""
    lines = text.splitlines()
    if title not in lines:
        return []
    out = []
    for line in lines[lines.index(title) + 1:]:
        if not line.strip():
            break
        out.append(line)
    return out


def help_text(path):
    rc, out, err = run(*path, '--help', check=False)
    eq(rc, 0, 'kcsi %s --help: %s' % (' '.join(path), err))
    return out.decode()


def command_paths():
    """Every command path, from kcsi --help and each command's own list of subcommands."""
    _, out, _ = run('--help')
    top = [l.split()[0] for l in section(out.decode(), 'commands:')]
    assert len(top) >= 10, top
    paths = []
    for c in top:
        paths.append([c])
        for line in section(help_text([c]), 'commands:'):
            paths.append([c, line.split()[0]])
    return paths


OPT_LINE = re.compile(r'^  (?:-(\w), )?\s*--([\w-]+)(?: ([A-Z][^ ]*))? +(.*)$')


def options(path):
    """The options of a command's --help: [(long, short, arg, help text)]."""
    out = []
    for line in section(help_text(path), 'options:'):
        m = OPT_LINE.match(line)
        assert m, 'kcsi %s --help: unreadable option line %r' % (' '.join(path), line)
        if m.group(2) != 'help':
            out.append((m.group(2), m.group(1), m.group(3), m.group(4)))
    return out


def page(path):
    return 'kcsi-' + '-'.join(path)


def test_help_and_man_for_every_command_and_subcommand():
    paths = command_paths()
    assert ['vault', 'put'] in paths and ['analyze'] in paths and ['completion'] in paths, paths
    for path in paths:
        name = ' '.join(path)
        h = help_text(path)
        assert h.startswith('usage: kcsi %s ' % name), h[:80]
        _, man, _ = run('help', '--man', *path)
        man = man.decode()
        title = page(path).upper().replace('-', '\\-')
        assert man.startswith('.TH %s 1' % title), (name, man[:60])
        for sec in ('.SH NAME', '.SH SYNOPSIS', '.SH OPTIONS', '.SH EXIT STATUS'):
            assert sec in man, (name, sec)
        # every option of --help is in the man page
        for long, short, _, _ in options(path):
            assert '\\-\\-' + long.replace('-', '\\-') in man, (name, long)
        # --man may come before or after the command
        eq(run('help', *path, '--man')[1].decode(), man, 'kcsi help %s --man' % name)
        eq(run('help', *path)[1].decode(), h, 'kcsi help %s' % name)
        # the page the build wrote is the same
        built = os.path.join(MAN_DIR, page(path) + '.1')
        if os.path.isdir(MAN_DIR):
            with open(built) as f:
                eq(f.read(), man, built)
    # the build wrote a page for every command and no other
    if os.path.isdir(MAN_DIR):
        pages = sorted(f for f in os.listdir(MAN_DIR) if f.endswith('.1'))
        eq(pages, sorted(['kcsi.1'] + [page(p) + '.1' for p in paths]), 'man pages in ' + MAN_DIR)
    _, main, _ = run('help', '--man')
    for p in paths:
        assert '\\fB%s\\fR(1)' % page(p).replace('-', '\\-') in main.decode(), ('kcsi(1) lists', p)
    rc, _, err = run('nosuch', check=False)
    eq(rc, 2, 'unknown command exit code')
    rc, _, err = run('ps', '--bogus', fixture('counter'), check=False)
    eq(rc, 2, 'unknown option exit code')


def test_every_command_source_is_in_the_command_table():
    src = os.path.join(kt.ROOT, 'src')
    listed = set()
    with open(os.path.join(src, 'commands.txt')) as f:
        for line in f:
            w = line.split()
            if w and not w[0].startswith('#'):
                listed.add(w[0].replace('-', '_'))
    files = {f[4:-2] for f in os.listdir(src) if f.startswith('cmd_') and f.endswith('.c')}
    eq(sorted(files - listed), [], 'cmd_*.c not in src/commands.txt')
    eq(sorted(listed - files), [], 'src/commands.txt entries without a cmd_*.c')


def size_bytes(text):
    m = re.fullmatch(r'(\d+)([KMGT]?)', text)
    assert m, text
    return int(m.group(1)) << (10 * ' KMGT'.index(m.group(2) or ' '))


def test_every_option_is_accepted_and_its_range_enforced():
    checked = ranged = 0
    for path in command_paths():
        for long, short, arg, text in options(path):
            rng = re.search(r'\[(\S+) to (\S+)\]', text)
            least = re.search(r'\[at least (\S+)\]', text)
            choice = re.search(r'\[([a-z0-9]+(?:, [a-z0-9]+)* or [a-z0-9]+)\]', text)
            value = []
            if arg:
                value = ['x']
                if choice:
                    value = [choice.group(1).split(',')[0].split(' or ')[0].strip()]
                elif rng:
                    value = [rng.group(1)]
                elif least:
                    value = [least.group(1)]
                elif '[a number]' in text or long == 'pid':
                    value = ['1']
            forms = [['--' + long] + value] + ([['-' + short] + value] if short else [])
            for form in forms:
                rc, out, err = run(*path, *form, '--help', check=False)
                eq(rc, 0, 'kcsi %s %s --help: %s' % (' '.join(path), ' '.join(form), err))
                assert out.decode().startswith('usage: kcsi '), out[:60]
                checked += 1
            if rng:
                lo, hi = rng.group(1), rng.group(2)
                big = str(size_bytes(hi) + 1) if hi[-1] in 'KMGT' else str(int(hi) + 1)
                bad = [big] + ([str(size_bytes(lo) - 1)] if size_bytes(lo) > 0 else [])
                for v in bad:
                    rc, _, err = run(*path, '--' + long, v, '--help', check=False)
                    eq(rc, 2, 'kcsi %s --%s %s: out of range' % (' '.join(path), long, v))
                    assert ('--%s is %s to %s' % (long, lo, hi)) in err, err
                    ranged += 1
            if choice:
                rc, _, err = run(*path, '--' + long, 'no-such-word', '--help', check=False)
                eq(rc, 2, 'kcsi %s --%s no-such-word' % (' '.join(path), long))
            if arg and (rng or least or '[a number]' in text or long == 'pid'):
                rc, _, err = run(*path, '--' + long, '12abc', '--help', check=False)
                eq(rc, 2, 'kcsi %s --%s 12abc' % (' '.join(path), long))
    assert checked > 100 and ranged >= 10, (checked, ranged)


# the commands that take --pid, with what else they need
PID_COMMANDS = {
    'ps': lambda a, pid: ['ps', '--json', '--pid', pid, a],
    'files': lambda a, pid: ['files', '--json', '--pid', pid, a],
    'net': lambda a, pid: ['net', '--json', '--pid', pid, a],
    'maps': lambda a, pid: ['maps', '--json', '--pid', pid, a],
    'strings': lambda a, pid: ['strings', '--json', '-n', '64', '--pid', pid, a],
    'memgrep': lambda a, pid: ['memgrep', '--json', '--pid', pid, a, 'PATH='],
    'dump': lambda a, pid: ['dump', '--json', '--no-core', '--pid', pid, '--out',
                            os.path.join(kt.tmpdir(), 'cli-dump-%s' % pid), a],
    'history': lambda a, pid: ['history', '--json', '--pid', pid, a],
    'memread': lambda a, pid: ['memread', '--json', '--pid', pid, a, '0x1000', '16'],
}


def test_pid_has_one_meaning_for_every_command():
    """--pid is a process of the checkpoint: 0 and numbers past 32 bits are
    usage errors (files --pid 4294967311 listed pid 15, ps --pid 4294967297
    exited 0), an absent pid is exit 8 for every command (files --pid 0
    listed everything, ps --pid 0 exited 8)."""
    withpid = sorted(' '.join(p) for p in command_paths() if any(o[0] == 'pid' for o in options(p)))
    eq(withpid, sorted(PID_COMMANDS), 'commands taking --pid')
    a = fixture('perlbot')
    for name, argv in sorted(PID_COMMANDS.items()):
        for bad in ('0', '4294967296', '4294967297', '4294967311', '-1', '15x', ''):
            rc, out, err = run(*argv(a, bad), check=False)
            eq(rc, 2, 'kcsi %s --pid %r' % (name, bad))
            eq(out, b'', 'kcsi %s --pid %r prints nothing' % (name, bad))
        rc, out, err = run(*argv(a, '4242'), check=False)
        eq(rc, 8, 'kcsi %s --pid 4242 (absent)' % name)
        assert 'no process 4242 in %s' % a in err, (name, err)
        eq(out, b'', 'kcsi %s --pid 4242 prints nothing' % name)
        rc, out, err = run(*argv(a, '15'), check=False)
        assert rc == 0 or (name == 'memgrep' and rc == 1), (name, rc, err)
        rows = json.loads(out)
        rows = rows['sockets'] if name == 'net' else [rows] if name == 'memread' else rows
        if name not in ('maps', 'dump'):
            eq({r['pid'] for r in rows} - {15}, set(), 'kcsi %s --pid 15: only pid 15' % name)
    # hex is a number too
    eq([p['pid'] for p in kt.jrun('ps', '--json', '--pid', '0xf', a)], [15], 'ps --pid 0xf')


def exit_rows(text):
    return [(int(l.split()[0]), l.split(None, 1)[1].strip()) for l in section(text, 'exit status:')]


def test_exit_status_table_is_one_table():
    """kcsi --help, kcsi(1), every kcsi-CMD(1) and README.md show the same
    exit statuses (kcsi.1 had no 130; README's differed from the pages)."""
    _, out, _ = run('--help')
    rows = exit_rows(out.decode())
    eq([c for c, _ in rows], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 130], 'exit codes')
    with open(os.path.join(kt.ROOT, 'README.md')) as f:
        readme = f.read()
    table = readme[readme.index('## Exit codes'):]
    got = [(int(m.group(1)), m.group(2).replace('`', '').strip())
           for m in re.finditer(r'^\| (\d+) \| (.*) \|$', table, re.M)]
    eq(got, rows, "README.md's exit code table vs kcsi --help")
    for path in [[]] + command_paths():
        _, man, _ = run('help', '--man', *path)
        man = man.decode()
        body = man[man.index('.SH EXIT STATUS'):]
        for code, meaning in rows:
            line = '%-3d  %s' % (code, meaning.replace('-', '\\-'))
            assert line in body, (path, line)


def test_typos_get_suggestions():
    for argv, hint in ((['pss'], 'did you mean ps?'), (['anlyze'], 'did you mean analyze?'),
                       (['ps', '--jsn', fixture('counter')], 'did you mean --json?'),
                       (['vault', 'pt'], 'did you mean put?'), (['help', 'memgrp'], 'did you mean memgrep?'),
                       (['analyze', '--format', 'jsn', fixture('counter')], 'did you mean json?')):
        rc, out, err = run(*argv, check=False)
        eq(rc, 2, 'kcsi %s' % ' '.join(argv))
        assert hint in err, (argv, err)
        eq(out, b'', 'no output')
    rc, _, err = run('zzzzzzzz', check=False)
    eq(rc, 2, 'unknown command')
    assert 'did you mean' not in err, err
    rc, _, err = run('ps', '--p', '1', fixture('counter'), check=False)
    assert rc == 2 and '--pid' in err and '--pretty' in err, err


def test_list_says_why_a_directory_does_not_open():
    rc, out, err = run('list', '/nonexistent/kcsi-checkpoints', check=False)
    eq(rc, 3, 'exit code')
    assert 'cannot open directory: No such file or directory (' in err, err
    rc, _, err = run('list', fixture('counter'), check=False)
    eq(rc, 3, 'exit code for a file')
    assert 'Not a directory' in err and 'kcsi show' in err, err
    if not os.path.exists('/var/lib/kubelet/checkpoints'):
        rc, _, err = run('list', check=False)
        eq(rc, 3, 'exit code for the default directory')
        assert 'No such file or directory' in err and 'kcsi list DIR' in err, err


def test_show_prints_the_good_archives_and_reports_the_bad():
    d = os.path.join(kt.tmpdir(), 'cli-show')
    os.makedirs(d, exist_ok=True)
    cut = os.path.join(d, 'cut.tar')
    with open(fixture('counter'), 'rb') as f, open(cut, 'wb') as g:
        g.write(f.read()[:3000])
    good = fixture('perlbot')
    for bad, code in ((os.path.join(d, 'missing.tar'), 8), (cut, 4)):
        rc, out, err = run('show', bad, good, check=False)
        eq(rc, code, 'exit code with %s' % bad)
        assert os.path.basename(bad) in err, err
        assert 'webapp' in out.decode() and good in out.decode(), out
        rc, out, err = run('show', '--json', good, bad, check=False)
        eq(rc, code, 'JSON exit code with %s' % bad)
        eq([r['container'] for r in json.loads(out)], ['webapp'], 'JSON rows')
    rc, out, _ = run('show', '--stats', cut, good, check=False)
    assert rc == 4 and b'CRIU dump statistics' in out, out[-200:]
    rc, out, _ = run('show', cut, os.path.join(d, 'missing.tar'), check=False)
    assert rc != 0 and out == b'', 'nothing is shown when no archive opens'


def test_a_directory_that_is_not_a_checkpoint_is_said_so():
    """A virtualenv-like tree with a symbolic link: 'not a container
    checkpoint', not 'lib64 is a symbolic link (refused)'; a checkpoint
    directory with a link is still refused."""
    venv = os.path.join(kt.tmpdir(), 'cli-venv')
    os.makedirs(os.path.join(venv, 'lib'), exist_ok=True)
    if not os.path.islink(os.path.join(venv, 'lib64')):
        os.symlink('lib', os.path.join(venv, 'lib64'))
    rc, out, err = run('ps', venv, check=False)
    eq(rc, 4, 'exit code')
    assert 'not a container checkpoint' in err and 'symbolic link' not in err, err
    ck = os.path.join(kt.tmpdir(), 'cli-linked-ckpt')
    if not os.path.exists(ck):
        shutil.copytree(kt.extracted('counter'), ck)
        os.symlink('/etc/passwd', os.path.join(ck, 'checkpoint', 'evil.img'))
    rc, _, err = run('ps', ck, check=False)
    eq(rc, 9, 'a checkpoint directory with a link')
    assert 'symbolic link (refused)' in err, err


def test_help_names_every_compression_and_they_work():
    _, out, _ = run('--help')
    text = ' '.join(out.decode().split())
    for name in ('gzip', 'zstd', 'bzip2', 'xz'):
        assert name in text, name
    d = os.path.join(kt.tmpdir(), 'cli-compressed')
    os.makedirs(d, exist_ok=True)
    with open(fixture('counter'), 'rb') as f:
        data = f.read()
    for ext, pack in (('bz2', bz2.compress), ('xz', lzma.compress)):
        p = os.path.join(d, 'counter.tar.' + ext)
        with open(p, 'wb') as g:
            g.write(pack(data))
        rows = kt.jrun('show', '--json', p)
        eq(rows[0]['container'], 'counter', ext)


def test_diff_exit_code_opt_in():
    a, b = fixture('perlbot'), fixture('counter')
    rc, out, _ = run('diff', a, b)
    eq(rc, 0, 'diff without --exit-code')
    rc, out2, _ = run('diff', '--exit-code', a, b, check=False)
    eq(rc, 1, 'diff --exit-code of different checkpoints')
    eq(out2, out, 'the changes are printed')
    eq(run('diff', '--exit-code', a, a, check=False)[0], 0, 'diff --exit-code of one checkpoint')
    eq(run('diff', '--exit-code', '--json', a, a)[1].strip(), b'[]', 'no changes')


def test_analyze_fail_on_opt_in():
    bad, clean = fixture('perlbot'), fixture('counter')
    rc, out, _ = run('analyze', bad)
    eq(rc, 0, 'no --fail-on')
    for level in ('suspicious', 'malicious'):
        rc, out2, _ = run('analyze', '--fail-on', level, bad, check=False)
        eq(rc, 1, '--fail-on %s on a malicious checkpoint' % level)
        eq(out2, out, 'the report is printed')
        eq(run('analyze', '--fail-on', level, clean, check=False)[0], 0, '--fail-on %s on a clean one' % level)
    report = os.path.join(kt.tmpdir(), 'cli-report.json')
    rc, _, _ = run('analyze', '--fail-on', 'malicious', '-f', 'json', '-o', report, bad, check=False)
    eq(rc, 1, 'with -o')
    with open(report) as f:
        eq(json.load(f)['verdict'], 'malicious', 'the report is written')
    eq(run('analyze', '--fail-on', 'bad', clean, check=False)[0], 2, 'unknown verdict')


def _bash_completions(script, line):
    words = line.split(' ')
    prog = ('source %s\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n_kcsi\nprintf "%%s\\n" "${COMPREPLY[@]}"\n'
            % (script, ' '.join("'%s'" % w for w in words), len(words) - 1))
    p = subprocess.run(['bash', '--norc', '--noprofile', '-c', prog], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30, cwd=kt.tmpdir())
    eq(p.returncode, 0, 'bash: %s' % p.stderr.decode())
    return sorted(w for w in p.stdout.decode().split('\n') if w)


COMPLETIONS = [
    ('kcsi p', ['ps']),
    ('kcsi m', ['maps', 'memgrep', 'memread', 'meta', 'mounts']),
    ('kcsi ps --', ['--env', '--help', '--json', '--ndjson', '--pid', '--pretty']),
    ('kcsi vault p', ['purge', 'put']),
    ('kcsi vault put --c', ['--case']),
    ('kcsi analyze --format ', ['html', 'json', 'misp', 'ndjson', 'stix', 'text', 'timeline']),
    ('kcsi analyze -f j', ['json']),
    ('kcsi completion ', ['bash', 'fish', 'zsh']),
    ('kcsi help v', ['vault', 'version']),
]


def test_bash_completion_from_the_command_table():
    if not shutil.which('bash'):
        raise kt.Skip('no bash')
    script = os.path.join(kt.tmpdir(), 'kcsi.bash')
    with open(script, 'wb') as f:
        f.write(run('completion', 'bash')[1])
    for line, want in COMPLETIONS:
        eq(_bash_completions(script, line), want, 'completions of %r' % line)
    # every top-level command and every option of a subcommand is offered
    _, out, _ = run('--help')
    top = sorted(l.split()[0] for l in section(out.decode(), 'commands:'))
    eq(_bash_completions(script, 'kcsi '), top, 'commands')
    longs = sorted('--' + o[0] for o in options(['vault', 'verify'])) + ['--help']
    eq([w for w in _bash_completions(script, 'kcsi vault verify --') if w.startswith('--')], sorted(longs),
       'vault verify options')
    # a directory option completes directories, a positional files
    os.makedirs(os.path.join(kt.tmpdir(), 'cli-compdir'), exist_ok=True)
    assert 'cli-compdir' in _bash_completions(script, 'kcsi recover --out cli-comp'), 'directories'
    assert 'kcsi.bash' in _bash_completions(script, 'kcsi ps kcsi.b'), 'files'


def test_zsh_and_fish_completion():
    ran = 0
    if shutil.which('zsh'):
        script = os.path.join(kt.tmpdir(), '_kcsi')
        with open(script, 'wb') as f:
            f.write(run('completion', 'zsh')[1])
        for line, want in COMPLETIONS:
            words = line.split(' ')
            prog = ('compdef() { :; }\ncompadd() { [[ $1 == -- ]] && shift; reply+=("$@"); }\n'
                    '_files() { reply+=("<files>"); }\nsource %s\nwords=(%s)\nCURRENT=%d\nreply=()\n_kcsi\n'
                    'print -l -- $reply\n' % (script, ' '.join("'%s'" % w for w in words), len(words)))
            p = subprocess.run(['zsh', '-f', '-c', prog], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=30)
            eq(p.returncode, 0, 'zsh: %s' % p.stderr.decode())
            got = [w for w in p.stdout.decode().split('\n') if w and w.startswith(words[-1])]
            eq(sorted(got), want, 'zsh completions of %r' % line)
        ran += 1
    if shutil.which('fish'):
        script = os.path.join(kt.tmpdir(), 'kcsi.fish')
        with open(script, 'wb') as f:
            f.write(run('completion', 'fish')[1])
        for line, want in COMPLETIONS:
            p = subprocess.run(['fish', '--no-config', '-c', 'source %s; complete -C %s' % (script, _fish_quote(line))],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            eq(p.returncode, 0, 'fish: %s' % p.stderr.decode())
            got = sorted(l.split('\t')[0] for l in p.stdout.decode().splitlines() if l)
            eq(got, want, 'fish completions of %r' % line)
        ran += 1
    if not ran:
        raise kt.Skip('neither zsh nor fish installed')


def _fish_quote(s):
    return "'" + s.replace('\\', '\\\\').replace("'", "\\'") + "'"


def _on_a_terminal(argv, env):
    """stdout of kcsi when its stdout is a terminal (a pty)."""
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([kt.KCSI] + argv, stdout=slave, stderr=subprocess.DEVNULL, env=env)
        os.close(slave)
        slave = -1
        out = b''
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        p.wait(timeout=60)
        return out
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)


def test_colour_only_on_a_terminal_and_never_with_no_color():
    env = {k: v for k, v in os.environ.items() if k != 'NO_COLOR'}
    argv = ['ps', fixture('perlbot')]
    assert b'\x1b[1m' in _on_a_terminal(argv, env), 'no colour on a terminal'
    assert b'\x1b[' not in _on_a_terminal(argv, dict(env, NO_COLOR='1')), 'colour with NO_COLOR'
    assert b'\x1b[' not in run(*argv)[1], 'colour in a pipe'


def test_kubectl_plugin_name():
    d = os.path.join(kt.tmpdir(), 'cli-plugin')
    os.makedirs(d, exist_ok=True)
    link = os.path.join(d, 'kubectl-kcsi')
    if not os.path.islink(link):
        os.symlink(os.path.abspath(kt.KCSI), link)
    p = subprocess.run([link, '--help'], stdout=subprocess.PIPE, timeout=30)
    assert p.stdout.decode().startswith('usage: kubectl kcsi COMMAND'), p.stdout[:80]
    p = subprocess.run([link, 'ps', '--json', fixture('counter')], stdout=subprocess.PIPE, timeout=60)
    eq(len(json.loads(p.stdout)), 2, 'kubectl-kcsi ps')
    if shutil.which('kubectl'):
        env = dict(os.environ, PATH=d + os.pathsep + os.environ.get('PATH', ''))
        p = subprocess.run(['kubectl', 'kcsi', 'version'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=60)
        eq(p.returncode, 0, 'kubectl kcsi version: %s' % p.stderr.decode())
        assert p.stdout.startswith(b'kcsi '), p.stdout
        p = subprocess.run(['kubectl', 'kcsi', 'checkpoint', 'ns/pod/ctr'], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=60)
        eq(p.returncode, 2, 'kubectl kcsi checkpoint without --kubelet')
        assert "kubectl kcsi checkpoint --help" in p.stderr.decode(), p.stderr


def test_builds_without_features_have_their_commands_only():
    """A build with capture, vault and sandbox disabled builds, and has a man
    page for each of its commands and none for the others (src/commands.txt
    read by src/meson.build decides both)."""
    if not shutil.which('meson') or not shutil.which('ninja'):
        raise kt.Skip('meson and ninja are needed')
    b = os.path.join(kt.tmpdir(), 'build-reader-only')
    subprocess.run(['meson', 'setup', b, '-Dwerror=true', '-Dcapture=disabled', '-Dvault=disabled',
                    '-Dsandbox=disabled', '-Dbpf=disabled'], cwd=kt.ROOT, check=True, stdout=subprocess.DEVNULL,
                   timeout=600)
    subprocess.run(['ninja', '-C', b, '-j2'], check=True, stdout=subprocess.DEVNULL, timeout=3600)
    p = subprocess.run([os.path.join(b, 'kcsi'), '--help'], stdout=subprocess.PIPE, timeout=30)
    cmds = [l.split()[0] for l in section(p.stdout.decode(), 'commands:')]
    for gone in ('vault', 'collect', 'respond', 'checkpoint', 'detonate', 'build'):
        assert gone not in cmds, gone
    pages = sorted(f for f in os.listdir(os.path.join(b, 'man')) if f.endswith('.1'))
    eq(pages, sorted(['kcsi.1'] + ['kcsi-%s.1' % c for c in cmds]), 'man pages of the reader-only build')


def test_errors_name_the_option_that_gives_what_they_are_about():
    """The library says which input an error is about (kcsi_error.param); the CLI names the
    running command's option for it, whatever the command calls it (--store, --vault ...)."""
    perl = kt.fixture('perlbot')
    d = kt.tmpdir()
    open(os.path.join(d, 'x'), 'w').close()
    rc, _, err = run('recover', perl, '-o', d, check=False)
    assert rc != 0 and err.strip().endswith('(--force)'), err
    rc, _, err = run('memgrep', '-E', '--encoding', 'utf16le', perl, 'a.', check=False)
    assert rc == 2 and err.strip().endswith('(--encoding ENC)'), err
    commands = run('--help')[1].decode()
    if ' vault ' not in commands:
        return
    env = {'KCSI_VAULT': '', 'KCSI_VAULT_CONFIG': os.path.join(d, 'none.conf')}
    rc, _, err = run('vault', 'ls', env=env, check=False)
    assert rc != 0 and err.strip().endswith('(--store DIR|s3://BUCKET/PREFIX)'), err
    rc, _, err = run('collect', '--once', '--watch', d, env=env, check=False)
    assert rc != 0 and err.strip().endswith('(--vault DIR|s3://BUCKET/PREFIX)'), err
    # one hint, on the one line of the error
    assert err.count('\n') == 1, err
