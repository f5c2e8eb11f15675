"""Real checkpoints made inside a test: a container from the lab image runs a
shell command, and podman + runc + CRIU checkpoint it (lab/setup.sh installs
them; CI runs it before the tests)."""
import os
import subprocess
import time
import uuid

import kt

IMAGE = 'localhost/debian-perl:12'
PODMAN = ['podman', '--runtime', 'runc']


def checkpoint(tag, script, ready=None, volumes=(), tcp=False, wait=20, shell='sh'):
    """Run `shell -c script` in a fresh host-network container, wait until ready()
    is true (or 2 s), checkpoint it to a plain tar and remove the container.
    Returns the archive path."""
    name = 'kcsi-t-%s-%s' % (tag, uuid.uuid4().hex[:6])
    arch = os.path.join(kt.tmpdir(), '%s.tar' % name)
    argv = PODMAN + ['run', '-d', '--name', name, '--network', 'host', '--ulimit', 'nofile=1024:1024', '--ulimit',
                     'nproc=4096:4096']
    for v in volumes:
        argv += ['-v', v]
    subprocess.run(argv + [IMAGE, shell, '-c', script], check=True, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + wait
        if ready:
            while not ready() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert ready(), '%s: the scene did not get ready' % tag
        else:
            time.sleep(2)
        cp = PODMAN + ['container', 'checkpoint', '--export=' + arch, '--compress', 'none']
        if tcp:
            cp.append('--tcp-established')
        subprocess.run(cp + [name], check=True, stdout=subprocess.DEVNULL, timeout=120)
    finally:
        subprocess.run(PODMAN + ['rm', '-f', '-t', '0', name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return arch
