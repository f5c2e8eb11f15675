#!/bin/bash
# deploy/image/build.sh — build the kcsi container image offline, from the build tree and the
# machine's own Debian packages (nothing is pulled from a registry).
#
#   deploy/image/build.sh [--build DIR] [--tag NAME] [--root-only OUT.tar]
#
# The image root holds exactly:
#   /usr/bin/kcsi                 the binary from the build tree (a stripped copy)
#   /usr/share/kcsi/rules/        kcsi's YARA rules (analyze finds them beside the binary)
#   the shared libraries kcsi loads (ldd), each at its path, and the loader
#   /usr/share/doc/<pkg>/copyright for every Debian package those libraries come from
#   (dpkg -S), and /usr/share/doc/kcsi-image/packages.txt listing package=version
#   /etc/passwd, /etc/group (root, and "kcsi" uid/gid 65532), /etc/nsswitch.conf,
#   /etc/ssl/certs/ca-certificates.crt (system CAs for S3 stores over HTTPS)
#   /tmp (1777), /var/lib/kcsi (65532, the responder's state_dir by default)
# No shell, no package manager. The image runs as uid 65532; `kcsi collect` on a node
# (and `kcsi checkpoint --podman`) run as uid 0 in the manifests, see docs/kubernetes.md.
#
# The image is built with `podman build` from a Containerfile FROM scratch, tagged
# localhost/kcsi:VERSION (VERSION from `kcsi --version`), with the OCI labels and
# annotations org.opencontainers.image.{title,description,version,source,revision,created}.
# created is the commit time of HEAD (reproducible), revision the commit (+"-dirty" when the
# work tree has changes). --root-only writes the root as a tar and builds no image.
#
# Exit: 0 ok; 77 cannot run here (no podman, no ldd/dpkg); 1 failure (the last line says why).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$repo/build
tag=
root_only=
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --root-only) root_only=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

die() { echo "build.sh: ERROR: $*" >&2; exit 1; }
for t in ldd dpkg-query strip tar; do command -v "$t" >/dev/null || { echo "build.sh: cannot run here: no $t" >&2; exit 77; }; done
[ -n "$root_only" ] || command -v podman >/dev/null || { echo "build.sh: cannot run here: no podman" >&2; exit 77; }

kcsi=$build/kcsi
[ -x "$kcsi" ] || die "$kcsi not built (meson setup build && ninja -C build)"
version=$("$kcsi" --version | awk '{print $2}')
[ -n "$version" ] || die "kcsi --version printed no version"
tag=${tag:-localhost/kcsi:$version}
revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$revision" != unknown ] && [ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    revision=$revision-dirty
fi
created=$(git -C "$repo" log -1 --format=%cI 2>/dev/null | xargs -r date -u +%Y-%m-%dT%H:%M:%SZ -d || true)
[ -n "$created" ] || created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# source: $KCSI_IMAGE_SOURCE, else the repository's origin, else the local tree it was built from
source_url=${KCSI_IMAGE_SOURCE:-$(git -C "$repo" remote get-url origin 2>/dev/null || echo "file://$repo")}

work=$(mktemp -d "${TMPDIR:-/tmp}/kcsi-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/usr/bin "$root"/usr/share/kcsi "$root"/etc/ssl/certs "$root"/tmp "$root"/var/lib/kcsi \
    "$root"/usr/share/doc/kcsi-image
chmod 1777 "$root/tmp"

# the binary and its rules
install -m 0755 "$kcsi" "$root/usr/bin/kcsi"
strip --strip-unneeded "$root/usr/bin/kcsi"
cp -r "$repo/rules" "$root/usr/share/kcsi/rules"
chmod -R a+rX,go-w "$root/usr/share/kcsi"

# the shared libraries: every path ldd resolves, copied at that path (symlinks resolved:
# the file is stored under the name the loader asks for)
libs=$(ldd "$kcsi" | awk '/=> \//{print $3} /^\t\/[^ ]*ld-linux/{print $1}' | sort -u)
[ -n "$libs" ] || die "ldd found no libraries for $kcsi"
if ldd "$kcsi" | grep -q 'not found'; then die "ldd: $(ldd "$kcsi" | grep 'not found' | head -1)"; fi
pkgs=()
for l in $libs; do
    mkdir -p "$root$(dirname "$l")"
    cp -L "$l" "$root$l"
    real=$(readlink -f "$l")
    # dpkg knows files by the path the package installed: try the name, then the target,
    # then both under /usr (merged /usr moves /lib to /usr/lib)
    p=""
    for cand in "$l" "$real" "/usr$l" "/usr$real" "${real#/usr}"; do
        p=$(dpkg-query -S "$cand" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$p" ] && break
    done
    [ -n "$p" ] || die "no Debian package owns $l ($real)"
    pkgs+=("$p")
done
# /lib64 on Debian is a symlink into /lib/x86_64-linux-gnu: keep the loader where the ELF
# interpreter field points
interp=$(readelf -l "$kcsi" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
if [ -n "$interp" ] && [ ! -e "$root$interp" ]; then mkdir -p "$root$(dirname "$interp")"; cp -L "$interp" "$root$interp"; fi
: >"$root/usr/share/doc/kcsi-image/packages.txt"
for p in $(printf '%s\n' "${pkgs[@]}" ca-certificates | sort -u); do
    v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null) || die "dpkg-query: $p is not installed"
    echo "$p=$v" >>"$root/usr/share/doc/kcsi-image/packages.txt"
    base=${p%%:*}
    if [ -r "/usr/share/doc/$base/copyright" ]; then
        mkdir -p "$root/usr/share/doc/$base"
        cp -L "/usr/share/doc/$base/copyright" "$root/usr/share/doc/$base/copyright"
    fi
done
cat >"$root/usr/share/doc/kcsi-image/README" <<TXT
kcsi $version ($revision), built $created by deploy/image/build.sh.
The libraries are the Debian packages listed in packages.txt, copied from the build machine.
TXT

# users, name service, CAs
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nkcsi:x:65532:65532:kcsi:/var/lib/kcsi:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nkcsi:x:65532:\n' >"$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
if [ -r /etc/ssl/certs/ca-certificates.crt ]; then
    cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi

# the root as a tar with fixed owners and times (kcsi's state dir owned by 65532)
mtime="@$(date -u -d "$created" +%s)"
tar_root() {
    tar --sort=name --mtime="$mtime" --numeric-owner --owner=0 --group=0 \
        --exclude=./var/lib/kcsi -C "$root" -cf "$1" .
    tar --numeric-owner --owner=65532 --group=65532 --mtime="$mtime" -C "$root" -rf "$1" ./var/lib/kcsi
}
if [ -n "$root_only" ]; then
    tar_root "$root_only"
    echo "$root_only"
    exit 0
fi
tar_root "$work/root.tar"
cat >"$work/Containerfile" <<CF
FROM scratch
ADD root.tar /
ENV KCSI_RULES=/usr/share/kcsi/rules
USER 65532:65532
WORKDIR /var/lib/kcsi
ENTRYPOINT ["/usr/bin/kcsi"]
CMD ["--help"]
CF
meta=(
    org.opencontainers.image.title=kcsi
    "org.opencontainers.image.description=kcsi: container forensics on checkpoints (respond, collect, analyze, vault)"
    "org.opencontainers.image.version=$version"
    "org.opencontainers.image.source=$source_url"
    "org.opencontainers.image.revision=$revision"
    "org.opencontainers.image.created=$created"
)
args=()
for m in "${meta[@]}"; do args+=(--label "$m" --annotation "$m"); done
podman build --pull=never --format oci --timestamp "$(date -u -d "$created" +%s)" \
    "${args[@]}" -t "$tag" -f "$work/Containerfile" "$work" >"$work/build.log" 2>&1 \
    || { tail -5 "$work/build.log" >&2; die "podman build failed"; }
echo "$tag"
