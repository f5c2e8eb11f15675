"""A running containerd 2.x CRI pod for the kubelet stand-in (kubelet.py --cri) to
checkpoint: lab/containerd/checkpoint.sh brings up its private containerd, the loopback
registry and the pod kcsi-lab/webapp (container app: a shell loop and
lab/containerd/specimen.pl) and, with KEEP=1, leaves them running; the lab's own first
checkpoint goes to a scratch directory.  Then an attack specimen can be started in the
container (an IRC bot under a kernel-thread title whose C2 listens in the pod's network
namespace, outside the container: an outbound IRC connection in the checkpoint), and
everything is stopped, unmounted and removed at the end as checkpoint.sh's own clean-up
does (this is its teardown for a kept lab).

    lab = crilab.Lab(workdir)      # raises kt.Skip where the lab cannot run
    lab.irc_bot()                  # the specimen, connected to its C2
    lab.sock, lab.container        # for kubelet.py --cri SOCK and the pod map
    lab.close()
"""
import os
import re
import shutil
import signal
import subprocess
import time

import kt

LAB = os.path.join(kt.ROOT, 'lab', 'containerd')
PREFIX = os.environ.get('LAB_CTRD_PREFIX', '/opt/kcsi-lab/containerd')
NS, POD, CTR = 'kcsi-lab', 'webapp', 'app'
CRI = ['/usr/bin/python3', os.path.join(LAB, 'cri.py')]
C2_PORT = 6667

# the bot: a kernel thread's title, NICK/USER/JOIN to its C2, then asleep (a checkpoint
# interrupts the sleep call); stdio on /dev/null and double-forked, so that it is the
# container's pid 1's child and holds nothing of the exec session
BOT = ("perl -MIO::Socket::INET -e '$0=q{[kworker/0:2-evil]}; "
       "my $s=IO::Socket::INET->new(q{127.0.0.1:%d}) or die; "
       "print $s qq{NICK ev1l\\r\\nUSER ev1l 0 * :k\\r\\nJOIN #ops\\r\\n}; sleep 900 while 1' "
       "</dev/null >/dev/null 2>&1 &" % C2_PORT)

# the C2: a listener in the pod's network namespace (entered from the host), outside the
# container, which reads the bot's registration and keeps the connection open
C2 = ('import socket, sys, time\n'
      's = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n'
      's.bind(("127.0.0.1", %d)); s.listen(4)\n'
      'print("listening", flush=True)\n'
      'c, _ = s.accept(); print(repr(c.recv(200)), flush=True); time.sleep(3600)\n' % C2_PORT)


def _need():
    if os.geteuid() != 0:
        raise kt.Skip('needs root (containerd, runc, CRIU)')
    if not os.access(os.path.join(PREFIX, 'usr', 'bin', 'containerd'), os.X_OK):
        raise kt.Skip('containerd not installed (lab/containerd/setup.sh)')
    if subprocess.run(['/usr/bin/python3', '-c', 'import grpc'], stderr=subprocess.DEVNULL).returncode:
        raise kt.Skip('python3-grpcio missing (lab/containerd/setup.sh)')


class Lab:
    def __init__(self, workdir):
        _need()
        self.work = workdir
        self.containerd_pid = self.registry_pid = None
        self.dir = None
        self.pods = []
        self.c2 = None
        os.makedirs(workdir, exist_ok=True)
        # (files, not pipes: the kept containerd and registry hold them open)
        out, errf = os.path.join(workdir, 'lab.out'), os.path.join(workdir, 'lab.err')
        with open(out, 'wb') as o, open(errf, 'wb') as e:
            p = subprocess.run(['bash', os.path.join(LAB, 'checkpoint.sh'), os.path.join(workdir, 'lab-first')],
                               env=dict(os.environ, KEEP='1'), stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                               timeout=600)
        err = open(errf, errors='replace').read()
        m = re.search(r'kept: containerd pid (\d*), work dir (\S+), pods ?(.*)', err)
        if m:
            self.containerd_pid = int(m.group(1)) if m.group(1) else None
            self.dir = m.group(2).rstrip(',')
            self.pods = m.group(3).split()
        if p.returncode == 77:
            self.close()
            raise kt.Skip('containerd lab cannot run here: ' + err.strip()[-300:])
        if p.returncode != 0 or not m:
            self.close()
            raise AssertionError('lab/containerd/checkpoint.sh: %s' % err[-2000:])
        self.sock = os.path.join(self.dir, 'containerd.sock')
        try:
            self.registry_pid = int(open(os.path.join(self.dir, 'registry.pid')).read())
        except (OSError, ValueError):
            pass
        tasks = self.ctr('tasks', 'ls').splitlines()[1:]
        pids = {t.split()[0]: int(t.split()[1]) for t in tasks if len(t.split()) >= 3}
        others = [c for c in pids if c not in self.pods]
        assert len(others) == 1 and len(self.pods) == 1, 'lab tasks: %r (pods %r)' % (tasks, self.pods)
        self.container = others[0]
        self.sandbox_pid = pids[self.pods[0]]

    def ctr(self, *args, check=True):
        p = subprocess.run([os.path.join(PREFIX, 'usr', 'bin', 'ctr'), '--address', self.sock, '--namespace',
                            'k8s.io'] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        if check and p.returncode:
            raise AssertionError('ctr %s: %s' % (' '.join(args), p.stderr.decode(errors='replace')))
        return p.stdout.decode(errors='replace')

    def irc_bot(self):
        """Start the C2 in the pod's network namespace, then the bot in the container;
        returns once the C2 has read the bot's registration."""
        self.c2 = subprocess.Popen(['nsenter', '--net=/proc/%d/ns/net' % self.sandbox_pid, '/usr/bin/python3',
                                    '-c', C2], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.c2.stdout.readline().strip() == b'listening', 'the C2 did not start'
        self.ctr('tasks', 'exec', '--exec-id', 'kcsi-bot-%d' % os.getpid(), self.container, 'sh', '-c', BOT)
        line = self.c2.stdout.readline()
        assert b'JOIN #ops' in line, 'the bot did not reach its C2: %r' % line
        time.sleep(0.3)

    def close(self):
        """checkpoint.sh's clean-up, for the lab it kept."""
        if self.c2 and self.c2.poll() is None:
            self.c2.kill()
            self.c2.wait()
        if self.dir:
            sock = os.path.join(self.dir, 'containerd.sock')
            for sid in self.pods:
                subprocess.run(CRI + [sock, 'pod-down', sid], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=120)
        for pid in (self.registry_pid, self.containerd_pid):
            if not pid:
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        if self.dir and self.dir.startswith('/') and os.path.basename(self.dir).startswith('kcsi-containerd.'):
            # snapshots, shm and network namespaces mounted below it, deepest first
            with open('/proc/self/mounts') as f:
                mounts = [line.split()[1] for line in f]
            for mp in sorted((x for x in mounts if x.startswith(self.dir + '/')), reverse=True):
                subprocess.run(['umount', '-l', mp], stderr=subprocess.DEVNULL)
            shutil.rmtree(self.dir, ignore_errors=True)
            for d in ('/run/containerd/s', '/run/containerd'):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
        self.dir = None

