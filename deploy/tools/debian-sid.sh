# shellcheck shell=bash
# deploy/tools/debian-sid.sh — sourced by deploy/tools/install.sh and lab/containerd/setup.sh:
# unpack one package from Debian unstable into a private prefix, with a private apt
# configuration (the system's sources and package database are not touched), the way
# lab/setup.sh brings CRIU 4.2 from sid.
#
#   sid_install PKG PIN PREFIX FALLBACK_APTDIR BIN...
#     Uses the lab's apt configuration (/var/lib/kcsi-lab/apt-sid, written by lab/setup.sh)
#     when there is one, else FALLBACK_APTDIR (created); fetches the sid index only when it
#     does not know PKG; downloads PKG=PIN (PIN empty: the candidate; PIN gone: the candidate,
#     with a warning); dpkg -x into a fresh PREFIX (replaced as a whole); checks that each
#     PREFIX/usr/bin/BIN is there; writes "PKG VERSION" to PREFIX/kcsi-versions.txt.
#     On failure prints one line on stderr and returns 1.
# Set SID_MIRROR to use another Debian mirror (default deb.debian.org).

sid_install() {
    local pkg=$1 pin=$2 prefix=$3 aptdir=/var/lib/kcsi-lab/apt-sid work stage got b
    [ -r "$aptdir/sources.list" ] || aptdir=$4
    shift 4
    mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" || return 1
    [ -r "$aptdir/sources.list" ] || echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
        "${SID_MIRROR:-http://deb.debian.org/debian} sid main" >"$aptdir/sources.list"
    local A=(-o "Dir::Etc::SourceList=$aptdir/sources.list" -o Dir::Etc::SourceParts=/dev/null
             -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache" -o Debug::NoLocking=1)
    if ! apt-cache "${A[@]}" show "$pkg" >/dev/null 2>&1; then
        echo "fetching the Debian unstable package index (private apt configuration in $aptdir)"
        apt-get "${A[@]}" update -q >/dev/null 2>"$aptdir/update.err" \
            || { echo "apt-get update of Debian unstable failed (see $aptdir/update.err)" >&2; return 1; }
    fi
    got=$(apt-cache "${A[@]}" policy "$pkg" | awk '/Candidate:/{print $2}')
    [ -n "$got" ] && [ "$got" != "(none)" ] || { echo "$pkg is not in Debian unstable" >&2; return 1; }
    if [ -n "$pin" ] && [ "$pin" != "$got" ]; then
        if apt-cache "${A[@]}" show "$pkg=$pin" >/dev/null 2>&1; then
            got=$pin
        else
            echo "warning: $pkg $pin (tested) is gone from Debian unstable; using $got"
        fi
    fi
    work=$(mktemp -d) || return 1
    ( cd "$work" && apt-get "${A[@]}" download -q "$pkg=$got" >/dev/null 2>&1 ) \
        || { rm -rf "$work"; echo "apt-get download $pkg=$got (Debian unstable) failed" >&2; return 1; }
    stage=$prefix.new.$$
    rm -rf "$stage" && mkdir -p "$stage" || { rm -rf "$work"; return 1; }
    if ! dpkg -x "$work"/"${pkg}"_*.deb "$stage"; then
        rm -rf "$work" "$stage"; echo "dpkg -x of $pkg failed" >&2; return 1
    fi
    rm -rf "$work"
    for b in "$@"; do
        [ -x "$stage/usr/bin/$b" ] || { rm -rf "$stage"; echo "no usr/bin/$b in $pkg $got" >&2; return 1; }
    done
    echo "$pkg $got" >"$stage/kcsi-versions.txt"
    rm -rf "$prefix" && mkdir -p "$(dirname "$prefix")" && mv "$stage" "$prefix"
}
