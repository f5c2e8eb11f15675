#!/bin/bash
# lab/make-crio-layout.sh IN.tar OUTDIR [options] — re-pack a podman checkpoint export
# (plain, gzip or zstd) in the layout the kubelet gets from CRI-O:
#   OUTDIR/checkpoint-<pod>_<namespace>-<container>-<RFC3339 time>.tar
# containing stats-dump, dump.log, checkpoint/ (the CRIU images, byte-identical), a CRI-O
# config.dump and spec.dump (CRI-O/kubernetes annotations), bind.mounts, rootfs-diff.tar,
# deleted.files and the container log as "io.kubernetes.cri-o.LogPath"; no network.status.
# Options:
#   --pod NAME          pod name (default shop-7d9f8b6c5-x2k4q)
#   --namespace NS      namespace (default default)
#   --container NAME    container name (default: the podman container's name)
#   --pod-uid UID       pod UID (default: random UUID)
#   --ip ADDR           pod IP recorded in io.kubernetes.cri-o.IP.0 (text only; default 10.244.1.17)
#   --time T            checkpoint time, e.g. 2026-11-27T01:48:00Z (default: the images' mtime)
#   --dump-log FILE     CRIU dump.log (default: IN without .tar* plus .dump.log, as the
#                       scenarios save it; else a placeholder line)
# Prints the path of the archive it wrote.
set -euo pipefail
source "$(dirname "$0")/env.sh"
if [ $# -lt 2 ]; then
    awk 'NR>1 && !/^#/{exit} NR>1{sub(/^# ?/,""); print}' "$0" >&2
    exit 2
fi
exec "$LAB_PY" "$LAB_DIR/lib/crio_layout.py" "$@"
