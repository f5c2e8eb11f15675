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
MIRROR=${KCSI_TOOLS_MIRROR:-http://deb.debian.org/debian}
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
if [ -r /var/lib/kcsi-lab/apt-sid/sources.list ]; then
    aptdir=/var/lib/kcsi-lab/apt-sid
else
    aptdir=/var/lib/kcsi-tools/apt-sid
    mkdir -p "$aptdir"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR sid main" >"$aptdir/sources.list"
fi
A=(-o "Dir::Etc::SourceList=$aptdir/sources.list" -o Dir::Etc::SourceParts=/dev/null
   -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache" -o Debug::NoLocking=1)
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
# The index is fetched when we have none, or when the one we have no longer holds kustomize.
if ! apt-cache "${A[@]}" show kustomize >/dev/null 2>&1; then
    say "fetching the Debian unstable package index (private apt config in $aptdir)"
    apt-get "${A[@]}" update -q >/dev/null 2>"$aptdir/update.err" \
        || die "apt-get update of Debian unstable failed (see $aptdir/update.err)"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
( cd "$work" && apt-get "${A[@]}" download -q kustomize >/dev/null 2>&1 ) \
    || die "apt-get download kustomize (Debian unstable) failed"
stage=$PREFIX.new.$$
rm -rf "$stage"; mkdir -p "$stage"
dpkg -x "$work"/kustomize_*.deb "$stage" || die "dpkg -x of the kustomize package failed"
[ -x "$stage/usr/bin/kustomize" ] || die "no usr/bin/kustomize in the kustomize package"
"$stage/usr/bin/kustomize" version >/dev/null 2>&1 || die "the unpacked kustomize does not run here"
dpkg-deb -f "$work"/kustomize_*.deb Version >"$stage/kcsi-tools-versions.txt"
rm -rf "$PREFIX"
mkdir -p "$(dirname "$PREFIX")"
mv "$stage" "$PREFIX"
say "kustomize $(cat "$PREFIX/kcsi-tools-versions.txt") in $PREFIX/usr/bin/kustomize"
