#!/bin/bash
# lab/setup.sh — prepare this machine for the kcsi lab. Idempotent: every step checks
# first and skips what is already done. Run as root.
#
#   1. Debian packages: podman, runc, debootstrap, iproute2, python3, perl, gcc, libc6-dev,
#      zstd, openssl, openssh-client (ssh-keygen), libio-socket-ssl-perl (the TLS peer)
#      (apt-get update is run once, only if something is missing).
#   2. A CRIU that works on this kernel: the system criu if `criu check` passes and it is
#      >= 4.2; else CRIU 4.2.1 from Debian unstable, unpacked with dpkg -x into a private
#      prefix ($LAB_CRIU_PREFIX, default /opt/kcsi-lab/criu) and started by the wrapper
#      /usr/local/sbin/criu through the prefix's own ld-linux. The system's criu package
#      (3.17, which provides `crit`) is left installed.
#   3. podman's default OCI runtime set to runc (/etc/containers/containers.conf.d/).
#      LAB_CRIU_REINSTALL=1 unpacks it again; LAB_CRIU_PIN=VERSION tries another criu version.
#   4. The images localhost/debian-perl:12 (debootstrap --variant=minbase bookworm + perl,
#      procps) and localhost/kcsi-lab-tools:12 (the same + curl, openssl, python3, netcat,
#      socat, xxd, dig), each built only if it does not exist (LAB_REBUILD_IMAGE=1 forces
#      a rebuild).
#
# Exit: 0 ok; 77 the lab cannot run here (not root, not Debian/x86_64); 1 a step failed.
# On failure the last line printed says what failed.
set -euo pipefail
source "$(dirname "$0")/env.sh"

say()  { echo "setup: $*"; }
die()  { echo "setup: ERROR: $*" >&2; exit 1; }
skip77() { echo "setup: cannot run here: $*" >&2; exit 77; }

[ "$(id -u)" = 0 ] || skip77 "must run as root"
[ -r /etc/debian_version ] || skip77 "not a Debian system"
[ "$(uname -m)" = x86_64 ] || skip77 "only x86_64 is supported (CRIU prefix is amd64)"
command -v apt-get >/dev/null || skip77 "apt-get not found"

LAB_MIRROR=${LAB_MIRROR:-http://deb.debian.org/debian}
LAB_STATE=/var/lib/kcsi-lab
LAB_CACHE=/var/cache/kcsi-lab
export DEBIAN_FRONTEND=noninteractive

# ---------------------------------------------------------------- 1. packages
NEED_PKGS=(podman runc debootstrap iproute2 python3 perl gcc libc6-dev zstd gzip tar openssl openssh-client libio-socket-ssl-perl)
missing=()
for p in "${NEED_PKGS[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -q >/dev/null || die "apt-get update failed"
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
else
    say "packages present: ${NEED_PKGS[*]}"
fi
# The system criu package provides crit; it must stay installed (we never remove it).
if [ "$(dpkg-query -W -f='${Status}' criu 2>/dev/null)" = "install ok installed" ]; then
    say "system criu package $(dpkg-query -W -f='${Version}' criu) stays installed (provides crit)"
fi

# ---------------------------------------------------------------- 2. CRIU
# Versions tested on Debian 12 / Linux 6.18 (2026-11). criu and libcompel1 are pinned
# strictly; for the libraries the tested version is tried first, then whatever unstable
# has now (with a warning) — `criu check` below decides whether the result works.
CRIU_PIN=${LAB_CRIU_PIN:-4.2.1-1}
CRIU_PKGS_STRICT=("criu=$CRIU_PIN" "libcompel1=$CRIU_PIN")
CRIU_PKGS_LIBS=(
    libc6=2.43-7 libbsd0=0.12.2-3 libgnutls30t64=3.8.13-1 libnet9=1.3+dfsg-3+b2
    libnftables1=1.1.7-3 libnl-3-200=3.12.0-2+b1 libprotobuf-c1=1.5.1-1+b2
    libuuid1=2.42.4-1 libmd0=1.3.0-1 libjansson4=2.15.1-1 libmnl0=1.0.5-3+b2
    libnftnl11=1.3.2-1 libxtables12=1.8.13-1 libp11-kit0=0.26.5-1 libidn2-0=2.3.8-5
    libunistring5=1.4.2-1 libtasn1-6=4.21.0-2+b1 libnettle8t64=3.10.2-1+b1
    libhogweed6t64=3.10.2-1+b1 libgmp10=2:6.3.0+dfsg-5+b2 libffi8=3.8.0-2
    libedit2=3.1-20260512-1 libtinfo6=6.6+20260608-2 libgcc-s1=16.2.0-4
)
WRAPPER=/usr/local/sbin/criu
WRAPPER_TAG="# kcsi-lab criu wrapper"

criu_ok() {  # criu_ok BINARY — `criu check` passes and version >= 4.2
    local bin=$1 v
    "$bin" check >/dev/null 2>&1 || return 1
    v=$("$bin" --version 2>/dev/null | awk '/^Version:/{print $2}')
    [ -n "$v" ] || return 1
    # 3.x and 4.0/4.1 start here but cannot dump TCP sockets on this kernel.
    dpkg --compare-versions "$v" ge 4.2
}

deb_file() {  # deb_file DIR PKG VERSION — print the cached .deb of PKG at VERSION, if any
    local f
    for f in "$1/$2_"*.deb; do
        [ -e "$f" ] || continue
        if [ "$(dpkg-deb -f "$f" Package)" = "$2" ] && [ "$(dpkg-deb -f "$f" Version)" = "$3" ]; then
            echo "$f"; return 0
        fi
    done
    return 1
}

write_wrapper() {
    local tmp
    tmp=$(mktemp "$WRAPPER.XXXXXX")
    cat >"$tmp" <<EOF
#!/bin/sh
$WRAPPER_TAG (written by lab/setup.sh): runs CRIU $CRIU_PIN from a private prefix
# through the prefix's own loader, so that its libraries never touch the system's.
P=$LAB_CRIU_PREFIX
L=\$P/usr/lib/x86_64-linux-gnu:\$P/lib/x86_64-linux-gnu
exec "\$P/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "\$L" "\$P/usr/sbin/criu" "\$@"
EOF
    chmod 755 "$tmp"
    mv -f "$tmp" "$WRAPPER"
}

install_private_criu() {
    local aptdir=$LAB_STATE/apt-sid debs=$LAB_CACHE/criu-debs
    local A=(-o "Dir::Etc::SourceList=$aptdir/sources.list" -o Dir::Etc::SourceParts=/dev/null
             -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache"
             -o Debug::NoLocking=1)
    mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$debs"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $LAB_MIRROR sid main" \
        >"$aptdir/sources.list"
    say "fetching the Debian unstable package index (private apt config in $aptdir)"
    apt-get "${A[@]}" update -q >/dev/null 2>"$aptdir/update.err" \
        || die "apt-get update of Debian unstable failed (see $aptdir/update.err)"

    local spec pkg ver got
    : >"$debs/.versions"
    cd "$debs"
    for spec in "${CRIU_PKGS_STRICT[@]}"; do
        pkg=${spec%%=*}; ver=${spec#*=}
        if ! deb_file "$debs" "$pkg" "$ver" >/dev/null; then
            apt-get "${A[@]}" download -q "$spec" >/dev/null 2>&1 \
                || die "$pkg $ver is no longer in Debian unstable (tested version; update CRIU_PIN in lab/setup.sh)"
        fi
        echo "$pkg $ver" >>"$debs/.versions"
    done
    for spec in "${CRIU_PKGS_LIBS[@]}"; do
        pkg=${spec%%=*}; ver=${spec#*=}
        if deb_file "$debs" "$pkg" "$ver" >/dev/null; then
            got=$ver
        elif apt-get "${A[@]}" download -q "$spec" >/dev/null 2>&1; then
            got=$ver
        else
            got=$(apt-cache "${A[@]}" policy "$pkg" | awk '/Candidate:/{print $2}')
            [ -n "$got" ] && [ "$got" != "(none)" ] || die "$pkg is not in Debian unstable"
            say "warning: $pkg $ver (tested) is gone from unstable; using $got"
            rm -f "${pkg}_"*.deb
            apt-get "${A[@]}" download -q "$pkg=$got" >/dev/null 2>&1 || die "download of $pkg $got failed"
        fi
        echo "$pkg $got" >>"$debs/.versions"
    done
    cd - >/dev/null

    local stage=$LAB_CRIU_PREFIX.new.$$
    rm -rf "$stage"; mkdir -p "$stage"
    local f
    while read -r pkg ver; do
        f=$(deb_file "$debs" "$pkg" "$ver") || die "no .deb for $pkg $ver in $debs"
        dpkg -x "$f" "$stage" || die "dpkg -x $f failed"
    done <"$debs/.versions"
    cp "$debs/.versions" "$stage/kcsi-lab-versions.txt"
    [ -x "$stage/usr/sbin/criu" ] || die "criu binary missing after unpacking"
    rm -rf "$LAB_CRIU_PREFIX.old"
    [ -d "$LAB_CRIU_PREFIX" ] && mv "$LAB_CRIU_PREFIX" "$LAB_CRIU_PREFIX.old"
    mkdir -p "$(dirname "$LAB_CRIU_PREFIX")"
    mv "$stage" "$LAB_CRIU_PREFIX"
    rm -rf "$LAB_CRIU_PREFIX.old"
    write_wrapper
}

if [ "${LAB_CRIU_REINSTALL:-0}" != 1 ] && [ -x "$WRAPPER" ] && grep -q "$WRAPPER_TAG" "$WRAPPER" && criu_ok "$WRAPPER"; then
    say "criu: $WRAPPER ok ($("$WRAPPER" --version | awk '/^Version:/{print $2}'), prefix $LAB_CRIU_PREFIX)"
elif [ "${LAB_CRIU_REINSTALL:-0}" != 1 ] && [ ! -e "$WRAPPER" ] && [ -x /usr/sbin/criu ] && criu_ok /usr/sbin/criu; then
    say "criu: system criu passes 'criu check' ($(/usr/sbin/criu --version | awk '/^Version:/{print $2}')); using it"
else
    if [ -e "$WRAPPER" ] && ! grep -q "$WRAPPER_TAG" "$WRAPPER"; then
        die "$WRAPPER exists and was not written by the lab; remove it or fix it"
    fi
    if [ "${LAB_CRIU_REINSTALL:-0}" = 1 ]; then
        say "criu: reinstall requested; installing CRIU $CRIU_PIN into $LAB_CRIU_PREFIX"
    else
        say "criu: system criu unusable here ('criu check' fails or < 4.2); installing CRIU $CRIU_PIN into $LAB_CRIU_PREFIX"
    fi
    install_private_criu
    criu_ok "$WRAPPER" || die "CRIU $CRIU_PIN installed in $LAB_CRIU_PREFIX but 'criu check' fails: run '$WRAPPER check'"
    say "criu: $WRAPPER ok ($("$WRAPPER" --version | awk '/^Version:/{print $2}'))"
fi
[ "$(command -v criu)" = "$WRAPPER" ] || [ ! -e "$WRAPPER" ] \
    || die "$WRAPPER is not first on PATH ($(command -v criu))"

# ---------------------------------------------------------------- 3. podman runtime
CONF=/etc/containers/containers.conf.d/50-kcsi-lab.conf
CONF_TEXT='# written by kcsi lab/setup.sh: Debian'"'"'s crun lacks CRIU support; use runc
[engine]
runtime = "runc"'
if [ "$(cat "$CONF" 2>/dev/null)" != "$CONF_TEXT" ]; then
    mkdir -p "$(dirname "$CONF")"
    printf '%s\n' "$CONF_TEXT" >"$CONF"
    say "podman: default runtime set to runc ($CONF)"
fi
rt=$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null) || die "podman info failed"
[ "$rt" = runc ] || die "podman's OCI runtime is '$rt', not runc"
say "podman: $(podman --version | awk '{print $3}'), runtime $rt ($(runc --version | awk 'NR==1{print $3}'))"

# ---------------------------------------------------------------- 4. images
# build_image NAME PACKAGES DESC — debootstrap --variant=minbase bookworm with --include=PACKAGES,
# imported as NAME; skipped when NAME exists (LAB_REBUILD_IMAGE=1 forces a rebuild).
build_image() {
    local name=$1 pkgs=$2 desc=$3 root log
    if [ "${LAB_REBUILD_IMAGE:-0}" != 1 ] && podman image exists "$name"; then
        say "image: $name exists ($(podman image inspect --format '{{.Id}}' "$name" | cut -c1-12)); skipping build"
        return 0
    fi
    root=$LAB_CACHE/rootfs.$$
    log=$LAB_CACHE/debootstrap-${name//[^A-Za-z0-9]/_}.log
    rm -rf "$root"; mkdir -p "$root"
    say "image: debootstrap --variant=minbase bookworm ($desc) from $LAB_MIRROR"
    if ! debootstrap --variant=minbase --include="$pkgs" bookworm "$root" "$LAB_MIRROR" >"$log" 2>&1; then
        tail -5 "$log" >&2
        rm -rf "$root"
        die "debootstrap failed for $name (log: $log)"
    fi
    rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* 2>/dev/null || true
    say "image: importing as $name"
    tar -C "$root" -c . | podman import --quiet - "$name" >/dev/null \
        || { rm -rf "$root"; die "podman import of $name failed"; }
    rm -rf "$root"
    say "image: $name built ($(podman image inspect --format '{{.Id}}' "$name" | cut -c1-12))"
}
# perl: full perl (JSON::PP, IO::Select...) for the specimens and the collector; procps for
# ps/top inside the containers. The shared fixtures restore against this image: keep it as is.
build_image "$LAB_IMAGE" perl,procps "perl, procps"
# The corpus scenes' image: the same plus the tools attackers and workloads use.
build_image "$LAB_TOOLS_IMAGE" "$LAB_TOOLS_PACKAGES" "$LAB_TOOLS_PACKAGES"

say "ready"
