#!/bin/bash
# lab/containerd/setup.sh — what lab/containerd/checkpoint.sh needs, installed idempotently:
#   - containerd 2.1 (Debian unstable's package: containerd, containerd-shim-runc-v2, ctr),
#     downloaded with a private apt configuration and unpacked with dpkg -x into a private
#     prefix, $LAB_CTRD_PREFIX (default /opt/kcsi-lab/containerd); nothing of it is installed
#     system-wide and no system service is started. The private apt configuration is the
#     lab's (/var/lib/kcsi-lab/apt-sid, written by lab/setup.sh) when present, else our own
#     (/var/lib/kcsi-lab/apt-sid-containerd).
#   - python3-grpcio (Debian 12), for lab/containerd/cri.py, the CRI client.
#   - runc, CRIU >= 4.2 and podman with localhost/debian-perl:12 come from lab/setup.sh; this
#     script checks that they are there and says so when they are not.
# Versions used: $LAB_CTRD_PREFIX/kcsi-versions.txt.
# Exit: 0 ok; 77 cannot run here (not root, not Debian/x86_64, lab/setup.sh not run); 1 a step
# failed (the last line says which).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../env.sh"

say() { echo "containerd-setup: $*"; }
die() { echo "containerd-setup: ERROR: $*" >&2; exit 1; }
skip77() { echo "containerd-setup: cannot run here: $*" >&2; exit 77; }

[ "$(id -u)" = 0 ] || skip77 "must run as root"
[ -r /etc/debian_version ] && command -v apt-get >/dev/null || skip77 "not a Debian system"
[ "$(uname -m)" = x86_64 ] || skip77 "only x86_64"

PREFIX=${LAB_CTRD_PREFIX:-/opt/kcsi-lab/containerd}
PIN=${LAB_CTRD_PIN:-2.1.9+ds1-5}          # tested; another version is used with a warning
MIRROR=${LAB_MIRROR:-http://deb.debian.org/debian}
export DEBIAN_FRONTEND=noninteractive

# ---------------------------------------------------------------- what lab/setup.sh provides
for t in runc criu podman; do command -v "$t" >/dev/null || skip77 "$t missing (run lab/setup.sh first)"; done
v=$(criu --version 2>/dev/null | awk '/^Version:/{print $2}')
dpkg --compare-versions "${v:-0}" ge 4.2 || skip77 "criu ${v:-?} < 4.2 (run lab/setup.sh first)"
podman image exists "$LAB_IMAGE" || skip77 "image $LAB_IMAGE missing (run lab/setup.sh first)"

# ---------------------------------------------------------------- python3-grpcio (Debian 12)
if /usr/bin/python3 -c 'import grpc' 2>/dev/null; then
    say "python3-grpcio present"
else
    say "installing python3-grpcio (Debian package)"
    apt-get install -y -q --no-install-recommends python3-grpcio >/dev/null 2>&1 || {
        apt-get update -q >/dev/null || die "apt-get update failed"
        apt-get install -y -q --no-install-recommends python3-grpcio >/dev/null || die "apt-get install python3-grpcio failed"
    }
    /usr/bin/python3 -c 'import grpc' || die "python3-grpcio installed but 'import grpc' fails"
fi

# ---------------------------------------------------------------- containerd (Debian unstable)
if [ "${LAB_CTRD_REINSTALL:-0}" != 1 ] && [ -x "$PREFIX/usr/bin/containerd" ] \
        && "$PREFIX/usr/bin/containerd" --version >/dev/null 2>&1; then
    say "containerd present: $("$PREFIX/usr/bin/containerd" --version | awk '{print $3}') in $PREFIX"
    exit 0
fi
# shellcheck source=deploy/tools/debian-sid.sh
source "$here/../../deploy/tools/debian-sid.sh"
SID_MIRROR=$MIRROR sid_install containerd "$PIN" "$PREFIX" /var/lib/kcsi-lab/apt-sid-containerd \
    containerd containerd-shim-runc-v2 ctr || die "containerd from Debian unstable"
"$PREFIX/usr/bin/containerd" --version >/dev/null || die "the unpacked containerd does not run here"
say "containerd $("$PREFIX/usr/bin/containerd" --version | awk '{print $3}') in $PREFIX ($(cat "$PREFIX/kcsi-versions.txt"))"
