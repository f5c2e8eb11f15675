#!/bin/bash
# lab/restore-check.sh ARCHIVE [--established|--plain] [--truth FILE] [--settle SECONDS]
# Restores a lab checkpoint (a podman export: .tar, .tar.gz or .tar.zst) with
# `podman container restore --import` and checks that it runs again, then removes it.
# (podman 4.3 has no --tcp-close: an archive holding established TCP connections can only
# be restored with --tcp-established, which cannot be combined with --name.)
#
#   default        --established if the archive holds established TCP connections
#                  (checkpoint/tcp-stream-*.img), else --plain
#   --established  restore with --tcp-established in a fresh network namespace (made with
#                  `ip netns add`, entered with nsenter), so that the restored connections
#                  and listeners cannot clash with the host's; the container gets its
#                  original name back, so no container of that name may exist
#   --plain        restore under a new name (kcsi-restore-PID) in the host's network
#   --truth FILE   ground truth to compare with (default: ARCHIVE's NAME.truth.json beside
#                  it, if present): the restored container must have the same processes
#                  (pid, comm, cmdline) as recorded live, and bigmem's markers must be at
#                  their recorded addresses
#   --no-truth     do not compare with a truth file
#   --settle S     seconds to let the restored container run before checking (default 2)
#
# podman finds the image by the ID recorded in the archive (config.dump rootfsImageID). When
# that image ID is not here but an image of the recorded name is (localhost/debian-perl:12
# rebuilt by setup.sh gets a new ID), the check restores from a temporary copy of the
# archive whose config.dump names the local image's ID; the archive itself is not changed.
#
# Scenes that bind-mount host directories (lab_host_dir) save their content as NAME.mounts.tar
# beside the archive; when those directories are gone, they are put back from it for the
# restore and removed afterwards.
#
# Exit: 0 restored and running (and matching the truth); 77 the lab cannot run here;
# 3 known limitation (CRIU cannot restore a process whose executable is a memfd: the memfd
# scenario; nor a connection with unsent data in its send queue once its peer is gone: the
# scenes whose peer stopped reading); 1 otherwise.
source "$(dirname "$0")/lib/common.sh"
SCEN=restore-check

ARCHIVE=""; MODE=auto; TRUTH=""; SETTLE=2
export SETTLE
while [ $# -gt 0 ]; do
    case $1 in
        --established) MODE=established ;;
        --plain) MODE=plain ;;
        --truth) TRUTH=$2; shift ;;
        --settle) SETTLE=$2; shift ;;
        --no-truth) TRUTH=none ;;
        -h|--help) awk 'NR>1 && !/^#/{exit} NR>1{sub(/^# ?/,""); print}' "$0"; exit 0 ;;
        -*) echo "restore-check: unknown option $1" >&2; exit 2 ;;
        *) ARCHIVE=$1 ;;
    esac
    shift
done
[ -n "$ARCHIVE" ] || { echo "usage: $0 ARCHIVE [--established|--plain] [--truth FILE] [--settle S]" >&2; exit 2; }
[ -f "$ARCHIVE" ] || lab_die "$ARCHIVE: no such file"
lab_preflight
if [ "$TRUTH" = none ]; then
    TRUTH=""
elif [ -z "$TRUTH" ]; then
    base=$(echo "$ARCHIVE" | sed -E 's/\.tar(\.gz|\.zst)?$//')
    [ -f "$base.truth.json" ] && TRUTH=$base.truth.json
fi

WORK=$(mktemp -d /tmp/kcsi-lab-restore.XXXXXX)
NETNS=""
CTR=""
PUT_BACK=()
cleanup() {
    local rc=$?
    trap - EXIT
    [ ${#PUT_BACK[@]} -gt 0 ] && rm -rf "${PUT_BACK[@]}"
    if [ -n "$CTR" ] && podman container exists "$CTR" 2>/dev/null; then
        lab_podman rm -f -t 0 "$CTR" >/dev/null 2>&1 || echo "restore-check: warning: could not remove $CTR" >&2
    fi
    [ -n "$NETNS" ] && ip netns delete "$NETNS" 2>/dev/null
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

restore_failed() {  # show podman's message and CRIU's errors from restore.log
    cat "$WORK/restore.out" >&2
    local log
    log=$(sed -n 's/^log file: //p' "$WORK/restore.out" | tail -1)
    if [ -n "$log" ] && [ -f "$log" ]; then
        grep -E 'Error|Warn' "$log" | head -20 | sed 's/^/  criu: /' >&2
        if grep -q 'No entry for reg-file-ID' "$log" && grep -qx 'checkpoint/memfd.img' "$WORK/members.txt"; then
            echo "restore-check: KNOWN LIMITATION: CRIU $(criu --version | awk '/^Version:/{print $2}') cannot restore a process whose executable is a memfd (exe_file_id is looked up as a regular file)" >&2
            exit 3
        fi
        if grep -q "Can't restore not-sent send queue data" "$log"; then
            echo "restore-check: KNOWN LIMITATION: CRIU cannot restore a connection with unsent data in its send queue when its peer is gone (the data is sent after repair mode, the kernel answers with a reset)" >&2
            exit 3
        fi
        cp "$log" "${RESTORE_LOG_DIR:-/tmp}/kcsi-restore-$$.restore.log" 2>/dev/null \
            && echo "restore-check: CRIU log kept in ${RESTORE_LOG_DIR:-/tmp}/kcsi-restore-$$.restore.log" >&2
    fi
}

# (list the members into a file: `tar tf | grep -q` under pipefail fails when grep quits early)
tar tf "$ARCHIVE" >"$WORK/members.txt" 2>/dev/null || lab_die "$ARCHIVE: cannot list (not a tar archive?)"
# the image the archive was made from, or a local image of the same name
read -r IMG_ID IMG_NAME < <(tar xOf "$ARCHIVE" config.dump 2>/dev/null | "$LAB_PY" -c \
    'import json,sys; c=json.load(sys.stdin); print(c.get("rootfsImageID",""), c.get("rootfsImageName",""))')
[ -n "${IMG_NAME:-}" ] || lab_die "$ARCHIVE: cannot read config.dump (not a podman checkpoint export?)"
ARCHIVE_IN=$ARCHIVE
if [ -n "$IMG_ID" ] && ! podman image exists "$IMG_ID"; then
    podman image exists "$IMG_NAME" || lab_skip "image $IMG_NAME (ID ${IMG_ID:0:12}) not here; run lab/setup.sh"
    LOCAL_ID=$(podman image inspect -f '{{.Id}}' "$IMG_NAME")
    lab_log "image ID ${IMG_ID:0:12} not here; restoring from a copy that names $IMG_NAME (${LOCAL_ID:0:12})"
    "$LAB_PY" "$LAB_DIR/lib/retarget.py" "$ARCHIVE" "$WORK/retarget.tar" "$LOCAL_ID" \
        || lab_die "cannot make the retargeted copy"
    ARCHIVE_IN=$WORK/retarget.tar
fi

# bind-mount sources of the scene that are gone: put back from NAME.mounts.tar for the restore
MOUNTS_TAR="$(echo "$ARCHIVE" | sed -E 's/\.tar(\.gz|\.zst)?$//').mounts.tar"
if [ -f "$MOUNTS_TAR" ]; then
    for d in $(tar tf "$MOUNTS_TAR" | awk -F/ 'NF >= 2 { print $1 "/" $2 }' | sort -u); do
        [[ $d =~ ^tmp/[A-Za-z0-9_.-]+$ ]] || lab_die "$MOUNTS_TAR: unexpected member $d"
        [ -e "/$d" ] && continue
        tar -C / -xf "$MOUNTS_TAR" "$d" || lab_die "cannot put back /$d from $MOUNTS_TAR"
        PUT_BACK+=("/$d")
    done
    [ ${#PUT_BACK[@]} -eq 0 ] || lab_log "put back bind-mount sources: ${PUT_BACK[*]}"
fi

if [ "$MODE" = auto ]; then
    if grep -q '^checkpoint/tcp-stream-' "$WORK/members.txt"; then MODE=established; else MODE=plain; fi
fi
t0=$(date +%s.%N)
if [ "$MODE" = plain ]; then
    CTR="kcsi-restore-$$"
    lab_log "restoring $ARCHIVE as $CTR"
    lab_podman container restore --import="$ARCHIVE_IN" --name "$CTR" >"$WORK/restore.out" 2>&1 \
        || { restore_failed; lab_die "podman container restore failed"; }
else
    command -v ip >/dev/null && command -v nsenter >/dev/null || lab_skip "ip (iproute2) and nsenter needed for --established"
    NETNS="kcsi-restore-$$"
    ip netns add "$NETNS" || lab_die "ip netns add failed"
    ip netns exec "$NETNS" ip link set lo up || lab_die "cannot bring lo up in $NETNS"
    orig=$(tar xOf "$ARCHIVE" config.dump 2>/dev/null | "$LAB_PY" -c 'import json,sys; print(json.load(sys.stdin)["name"])') \
        || lab_die "cannot read the container name from $ARCHIVE"
    podman container exists "$orig" && lab_die "a container named $orig exists; remove it first (or use --plain)"
    CTR=$orig
    lab_log "restoring $ARCHIVE as $orig with --tcp-established in network namespace $NETNS"
    nsenter --net="/run/netns/$NETNS" podman --runtime runc container restore --import="$ARCHIVE_IN" \
        --tcp-established >"$WORK/restore.out" 2>&1 \
        || { restore_failed; lab_die "podman container restore --tcp-established failed"; }
fi
lab_log "restored in $(lab_elapsed "$t0")s; letting it run ${SETTLE}s"
sleep "$SETTLE"
lab_running || lab_die "restored container is not running: $(podman inspect -f '{{.State.Status}} {{.State.Error}}' "$CTR")"

lab_collect "$WORK/restored.json"
n=$("$LAB_PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["processes"]))' "$WORK/restored.json")
lab_log "running: $n processes"

if [ -n "$TRUTH" ]; then
    INIT=$(podman inspect -f '{{.State.Pid}}' "$CTR")
    "$LAB_PY" - "$TRUTH" "$WORK/restored.json" "$INIT" "$MODE" <<'EOF' || lab_die "restored container differs from $TRUTH"
import json, os, sys
truth, got, init, mode = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3], sys.argv[4]
say = lambda *a: print("restore-check:", *a, file=sys.stderr)
tcp = lambda s: s.get("proto", "").startswith("tcp")
locals_ = {s["local"] for s in truth["sockets"] if tcp(s)}
# connections to a peer outside the container: after a restore without that peer the
# kernel resets them, and the processes that used them may exit
external = {s["inode"] for s in truth["sockets"]
            if tcp(s) and s["state"] == "ESTABLISHED" and s["remote"] not in locals_}
tprocs = {p["pid"]: p for p in truth["processes"]}
uses_external = {pid for pid, p in tprocs.items()
                 if any(f.get("socket", {}).get("inode") in external for f in p["fds"])}
def has_external_descendant(pid, seen=()):
    if pid in uses_external:
        return True
    return any(has_external_descendant(c) for c, p in tprocs.items() if p["ppid"] == pid and c not in seen)
key = lambda p: (p["pid"], p["comm"], tuple(p["cmdline"]))
want = {key(p): p for p in truth["processes"]}
have = {key(p): p for p in got["processes"]}
missing = [k for k in want if k not in have]
extra = [k for k in have if k not in want]
bad = [k for k in missing if not has_external_descendant(k[0])]
for k in missing:
    if k not in bad:
        say(f"  exited after restore (its outside peer connection was reset): pid {k[0]} {' '.join(k[2])!r}")
for k in extra:
    say(f"  new process after restore: pid {k[0]} {' '.join(k[2])!r}")
if bad:
    for k in bad:
        say(f"  MISSING after restore: pid {k[0]} {' '.join(k[2])!r}")
    sys.exit(1)
say(f"{len(want) - len(missing)} of {len(want)} recorded processes running again (pid, comm, cmdline)")

if mode == "established":
    key_s = lambda s: (s["local"], s["remote"], s["state"])
    need = sorted(key_s(s) for s in truth["sockets"] if tcp(s) and s["inode"] not in external)
    now = sorted(key_s(s) for s in got["sockets"] if tcp(s))
    lost = [k for k in need if k not in now]
    if lost:
        say("TCP sockets inside the container not restored: " + ", ".join(f"{l}->{r} {s}" for l, r, s in lost))
        sys.exit(1)
    ext = [key_s(s) for s in truth["sockets"] if s["inode"] in external]
    say(f"TCP: {len(need)} listening/internal socket(s) restored; {len(ext)} connection(s) to outside peers "
        f"({sum(1 for k in ext if k in now)} still established after {os.environ.get('SETTLE', '?')}s)")

markers = (truth.get("facts") or {}).get("markers")
if markers:
    cpid = str(truth["facts"]["pid"])
    ns = os.readlink(f"/proc/{init}/ns/pid")
    hpid = None
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{p}/ns/pid") != ns:
                continue
            nspid = [l for l in open(f"/proc/{p}/status") if l.startswith("NSpid:")][0].split()
            if nspid[-1] == cpid:
                hpid = p
                break
        except OSError:
            pass
    if not hpid:
        sys.exit("restore-check: marker holder not found after restore")
    with open(f"/proc/{hpid}/mem", "rb", buffering=0) as mem:
        for m in markers:
            mem.seek(m["vaddr"])
            if mem.read(m["length"]) != m["marker"].encode():
                sys.exit(f"restore-check: marker {m['index']} not at {m['vaddr_hex']} after restore")
    say(f"all {len(markers)} memory markers at their recorded addresses after restore")
EOF
fi
echo "restore-check: OK: $ARCHIVE restored ($MODE) and running with $n processes"
