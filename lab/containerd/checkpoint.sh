#!/bin/bash
# lab/containerd/checkpoint.sh OUTDIR [--restore-with KCSI]
#
# A real containerd 2.x CRI checkpoint, made the way a Kubernetes node makes one for
# POST /checkpoint/NS/POD/CTR: a private containerd (its own root, state, sockets, runc root
# and CNI configuration, all in one temporary directory; no system service) runs a pod
# (namespace kcsi-lab, pod webapp, container app, image localhost/debian-perl:12) through
# the CRI calls the kubelet makes (PullImage, RunPodSandbox, CreateContainer, StartContainer),
# and CheckpointContainer writes OUTDIR/checkpoint-webapp_kcsi-lab-app-<RFC3339>.tar, the
# kubelet's name. The container runs a shell loop and lab/containerd/specimen.pl.
#
# The app image is pulled, as on a node, from a registry: lab/containerd/registry.py serves
# localhost/debian-perl:12 on a loopback port (localhost:PORT/kcsi-lab/debian-perl:12). A
# pulled image has a repository digest, which containerd records as config.dump's
# rootfsImageRef and pulls again to restore; an imported one leaves its bare ID there, and a
# restore then fails ("failed to pull checkpoint base image sha256:...").
#
# containerd never asks CRIU for tcp-established; the specimen holds a TCP connection, so the
# container carries the annotation org.criu.config naming a CRIU configuration file that
# says tcp-established (runc reads it; containerd passes the annotation to runc because the
# runtime's container_annotations lists it).
#
# --restore-with KCSI: afterwards, `KCSI build` turns the archive into a checkpoint image
# (OUTDIR/checkpoint-image.tar, an oci-archive), which is imported into the same containerd,
# and a container is created from it in a new pod, as the kubelet does for a pod whose image
# is a checkpoint image; the outcome goes to OUTDIR/restore.json ({"ok": bool, "state": ...,
# "error": ..., "processes": [command lines]}) and containerd's log lines about it to
# OUTDIR/restore-containerd.log.
#
# Prints the archive's path. Everything is stopped, unmounted and removed at the end
# (KEEP=1 keeps it and says how to stop it). Needs lab/setup.sh and lab/containerd/setup.sh.
# Exit: 0 ok (also when the restore failed: see restore.json); 77 cannot run here; 1 failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../env.sh"

die() { echo "containerd-lab: ERROR: $*" >&2; exit 1; }
skip77() { echo "containerd-lab: cannot run here: $*" >&2; exit 77; }

out=${1:?usage: checkpoint.sh OUTDIR [--restore-with KCSI]}
kcsi=
if [ "${2:-}" = --restore-with ]; then kcsi=$(realpath "${3:?}"); fi
[ "$(id -u)" = 0 ] || skip77 "must run as root"
PREFIX=${LAB_CTRD_PREFIX:-/opt/kcsi-lab/containerd}
bin=$PREFIX/usr/bin
[ -x "$bin/containerd" ] || skip77 "containerd not installed (run lab/containerd/setup.sh)"
/usr/bin/python3 -c 'import grpc' 2>/dev/null || skip77 "python3-grpcio missing (run lab/containerd/setup.sh)"
for t in runc criu podman; do command -v "$t" >/dev/null || skip77 "$t missing (run lab/setup.sh)"; done
podman image exists "$LAB_IMAGE" || skip77 "$LAB_IMAGE missing (run lab/setup.sh)"
mkdir -p "$out"; out=$(cd "$out" && pwd)

NS=kcsi-lab POD=webapp CTR=app
PAUSE=localhost/kcsi-pause:1
W=$(mktemp -d "${TMPDIR:-/tmp}/kcsi-containerd.XXXXXX")
sock=$W/containerd.sock
cri() { /usr/bin/python3 "$here/cri.py" "$sock" "$@"; }
ctr() { "$bin/ctr" --address "$sock" --namespace k8s.io "$@"; }
pods=()

stop_all() {
    set +e
    for sid in "${pods[@]}"; do cri pod-down "$sid" >/dev/null 2>&1; done
    [ -s "$W/registry.pid" ] && kill "$(cat "$W/registry.pid")" 2>/dev/null
    if [ -s "$W/containerd.pid" ]; then
        local pid; pid=$(cat "$W/containerd.pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    fi
    # snapshots, shm and network namespaces mounted below the private root, deepest first
    awk -v w="$W/" 'index($2, w) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$W"
    # the shims put their sockets under /run/containerd whatever the state dir: only empty
    # directories are removed
    rmdir /run/containerd/s /run/containerd 2>/dev/null || true
}
if [ "${KEEP:-0}" = 1 ]; then
    trap 'echo "kept: containerd pid $(cat "$W/containerd.pid" 2>/dev/null), work dir $W, pods ${pods[*]}" >&2' EXIT
else
    trap stop_all EXIT
fi

# 1. images: the app's, and a local sandbox ("pause") image: nothing may be pulled
podman image exists "$PAUSE" || printf 'FROM %s\nCMD ["sleep", "infinity"]\n' "$LAB_IMAGE" \
    | podman build --pull=never -q -t "$PAUSE" -f - "$W" >/dev/null || die "building $PAUSE failed"
podman save -q --format oci-archive -o "$W/app.tar" "$LAB_IMAGE" || die "podman save $LAB_IMAGE failed"
podman save -q --format oci-archive -o "$W/pause.tar" "$PAUSE" || die "podman save $PAUSE failed"

# 2. CNI: one network whose plugin gives the pod an interface and an address (containerd's
#    CRI wants the pod's IP from the CNI result)
mkdir -p "$W/cni/bin" "$W/cni/conf"
install -m 0755 "$here/podnet" "$W/cni/bin/kcsi-podnet"
printf '{"cniVersion": "1.0.0", "name": "kcsi-lab", "plugins": [{"type": "kcsi-podnet", "address": "10.254.7.2/24"}]}\n' \
    >"$W/cni/conf/10-kcsi-lab.conflist"

# 3. containerd's configuration: everything below $W. restrict_oom_score_adj: without
#    CAP_SYS_RESOURCE here, the sandbox's oom_score_adj (-998) cannot be set.
cat >"$W/config.toml" <<TOML
version = 3
root = '$W/root'
state = '$W/state'
disabled_plugins = ['io.containerd.nri.v1.nri']
[grpc]
  address = '$sock'
[ttrpc]
  address = '$sock.ttrpc'
[plugins.'io.containerd.internal.v1.opt']
  path = '$W/opt'
[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '$PAUSE'
[plugins.'io.containerd.cri.v1.runtime']
  enable_cdi = false
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['$W/cni/bin']
    conf_dir = '$W/cni/conf'
    use_internal_loopback = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      container_annotations = ['org.criu.config']
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = '$(command -v runc)'
        Root = '$W/runc'
        SystemdCgroup = false
[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
  stream_server_port = '0'
TOML

# 4. containerd, with its shim on PATH (runc finds criu on PATH too) and its temporary
#    directory below $W: a restore mounts the checkpoint image at TMPDIR/checkpointNNN and
#    containerd 2.1 leaves that mount behind when the restore fails
mkdir -p "$W/tmp"
TMPDIR=$W/tmp PATH=$bin:$PATH setsid "$bin/containerd" --config "$W/config.toml" >"$W/containerd.log" 2>&1 &
echo $! >"$W/containerd.pid"
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { tail -5 "$W/containerd.log" >&2; die "containerd did not start"; }
cri version >"$W/version.txt" || die "CRI Version failed"
ctr images import "$W/pause.tar" >/dev/null || die "importing $PAUSE into containerd failed"
mkdir -p "$W/app-layout" && tar -C "$W/app-layout" -xf "$W/app.tar" || die "unpacking $W/app.tar failed"
/usr/bin/python3 "$here/registry.py" "$W/app-layout" "$W/registry.port" --lifetime 900 &
echo $! >"$W/registry.pid"
for _ in $(seq 100); do [ -s "$W/registry.port" ] && break; sleep 0.1; done
[ -s "$W/registry.port" ] || die "the lab registry did not start"
APP_REF=localhost:$(cat "$W/registry.port")/kcsi-lab/debian-perl:12
cri pull "$APP_REF" >/dev/null || die "CRI PullImage $APP_REF failed"

# 5. the pod and its container
printf 'tcp-established\n' >"$W/criu-runc.conf"
uid=$(cat /proc/sys/kernel/random/uuid)
sid=$(cri pod-up "$NS" "$POD" "$uid" "$W/pods/$POD") || die "RunPodSandbox failed"
pods+=("$sid")
app='perl -e "$SPECIMEN" & while true; do date > /var/log/app.log; sleep 5; done'
cid=$(cri ctr-run "$sid" "$NS" "$POD" "$uid" "$W/pods/$POD" "$CTR" "$APP_REF" \
    -a "org.criu.config=$W/criu-runc.conf" -e "SPECIMEN=$(cat "$here/specimen.pl")" -e "DB_PASSWORD=s3cr3t-db-pass" \
    -- sh -c "$app") || die "CreateContainer/StartContainer failed"
for _ in $(seq 100); do   # the specimen is up once its connection is established
    pid=$(ctr tasks ls 2>/dev/null | awk -v c="$cid" '$1 == c {print $2}')
    [ -n "$pid" ] && grep -qs ' 0100007F:1FD1 .* 01 ' /proc/"$pid"/net/tcp && break
    sleep 0.1
done

# 6. the checkpoint, under the kubelet's name
archive=$out/checkpoint-${POD}_$NS-$CTR-$(date -u +%Y-%m-%dT%H:%M:%SZ).tar
cri checkpoint "$cid" "$archive" 60 || { tail -20 "$W/containerd.log" >&2; die "CheckpointContainer failed"; }
[ -s "$archive" ] || die "no archive at $archive"
cp "$W/version.txt" "$out/containerd-version.txt"
echo "$archive"

# 7. optionally: a container created from a checkpoint image, in a new pod
if [ -n "$kcsi" ]; then
    restore_tar=$out/checkpoint-image.tar restore_name=localhost/kcsi-lab-checkpoint:1
    rm -f "$restore_tar"
    "$kcsi" build --output "$restore_tar" --name "$restore_name" "$archive" >/dev/null || die "kcsi build failed"
    # restore.json: ok, the container's CRI state, the error, and the command lines of the
    # processes in the restored container (read from /proc on the host)
    result() {
        local cmdlines=() p
        if [ -n "${cid2:-}" ]; then
            for p in $(ctr tasks ps "$cid2" 2>/dev/null | awk 'NR > 1 {print $1}'); do
                cmdlines+=("$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)")
            done
        fi
        printf '%s\0' "$3" "${cmdlines[@]}" | /usr/bin/python3 -c '
import json, sys
parts = sys.stdin.buffer.read().decode(errors="replace").split("\0")[:-1]
print(json.dumps({"ok": sys.argv[1] == "true", "state": sys.argv[2], "error": parts[0],
                  "processes": [c.strip() for c in parts[1:]]}))' "$1" "$2" >"$out/restore.json"
    }
    if ! err=$(ctr images import "$restore_tar" 2>&1 >/dev/null); then
        result false "" "ctr images import: $err"
    else
        uid2=$(cat /proc/sys/kernel/random/uuid)
        if ! sid2=$(cri pod-up "$NS" "$POD-restored" "$uid2" "$W/pods/$POD-restored" 2>"$W/restore.err"); then
            result false "" "RunPodSandbox: $(cat "$W/restore.err")"
        else
            pods+=("$sid2")
            # what the kubelet sends for a pod whose image is the checkpoint image: the pod
            # spec's command (containerd 2.1 takes none from the checkpoint: without one,
            # "failed to generate spec: no command specified") and its annotations
            if cid2=$(cri ctr-run "$sid2" "$NS" "$POD-restored" "$uid2" "$W/pods/$POD-restored" "$CTR" \
                    "$restore_name" -a "org.criu.config=$W/criu-runc.conf" -- sh -c "$app" 2>"$W/restore.err"); then
                sleep 2
                st=$(cri ctr-state "$cid2" 2>&1 || true)
                [ "$st" = RUNNING ] && result true "$st" "" || result false "$st" "$(tail -5 "$W/containerd.log")"
            else
                result false "" "$(cat "$W/restore.err")"
            fi
        fi
    fi
    grep -i 'checkpoint\|restore' "$W/containerd.log" | tail -20 >"$out/restore-containerd.log" || true
fi
