#!/bin/bash
# deploy/tools/install.sh — the tools that render and lint kcsi's Kubernetes manifests,
# for tests/test_deploy.py and for people. Idempotent; run as root.
#
#   kustomize  Debian unstable's package (Debian 12 has none), downloaded with a private apt
#              configuration (the system's sources are not touched) and unpacked with dpkg -x
#              into a private prefix: $KCSI_TOOLS_PREFIX (default /opt/kcsi-tools), binary
#              $KCSI_TOOLS_PREFIX/usr/bin/kustomize. The private apt configuration is the
#              lab's (/var/lib/kcsi-lab/apt-sid) when lab/setup.sh made it, else our own
#              (/var/lib/kcsi-tools/apt-sid).
#   yamllint   Debian 12's package, installed with apt-get.
#
# kubectl's built-in kustomize works as well when it is there; the tests take whichever
# they find (kustomize first).
# Exit: 0 ok; 77 cannot run here (not root, not Debian); 1 a step failed (last line says which).
set -euo pipefail

say() { echo "deploy-tools: $*"; }
die() { echo "deploy-tools: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || { echo "deploy-tools: cannot run here: must run as root" >&2; exit 77; }
command -v apt-get >/dev/null || { echo "deploy-tools: cannot run here: no apt-get" >&2; exit 77; }

PREFIX=${KCSI_TOOLS_PREFIX:-/opt/kcsi-tools}
export DEBIAN_FRONTEND=noninteractive

# ---------------------------------------------------------------- yamllint (Debian 12)
if command -v yamllint >/dev/null; then
    say "yamllint present ($(yamllint --version 2>&1))"
else
    say "installing yamllint (Debian package)"
    apt-get install -y -q --no-install-recommends yamllint >/dev/null 2>&1 || {
        apt-get update -q >/dev/null || die "apt-get update failed"
        apt-get install -y -q --no-install-recommends yamllint >/dev/null || die "apt-get install yamllint failed"
    }
fi

# ---------------------------------------------------------------- kustomize (Debian unstable)
if [ -x "$PREFIX/usr/bin/kustomize" ] && "$PREFIX/usr/bin/kustomize" version >/dev/null 2>&1; then
    say "kustomize present: $PREFIX/usr/bin/kustomize ($("$PREFIX/usr/bin/kustomize" version 2>&1 | head -1))"
    exit 0
fi
# shellcheck source=deploy/tools/debian-sid.sh
source "$(dirname "$0")/debian-sid.sh"
sid_install kustomize "" "$PREFIX" /var/lib/kcsi-tools/apt-sid kustomize || die "kustomize from Debian unstable"
"$PREFIX/usr/bin/kustomize" version >/dev/null 2>&1 || die "the unpacked kustomize does not run here"
say "kustomize $(awk '{print $2}' "$PREFIX/kcsi-versions.txt") in $PREFIX/usr/bin/kustomize"
