# shellcheck shell=bash
# lab/lib/common.sh — helpers shared by lab/scenarios/*.sh. Source it, then:
#   lab_init NAME "$@"        # checks (exit 77 if the lab cannot run), OUT, CTR, WORK, traps
#   lab_peer ROLE CMD...      # start a host-side peer (127.x only), remembered for cleanup
#   lab_run [podman-run-args] -- CMD...   # start the container from $LAB_IMAGE
#   lab_exec_bg 'shell cmd'   # start a process in the container, double-forked to pid 1
#   lab_wait DESC TIMEOUT CMD...          # poll CMD until it succeeds
#   lab_collect FILE [--file PATH]...     # ground truth observed live, from inside
#   lab_checkpoint            # podman checkpoint --export (+gz/zst when COMPRESS_ALL=1)
#   lab_truth [extra args for truth.py]   # write OUT/NAME.truth.json
set -uo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/env.sh"

LAB_T0=$(date +%s.%N)
PEER_PIDS=()
PEER_ARGS=()
CTR=""

lab_elapsed() { awk -v a="$(date +%s.%N)" -v b="${1:-$LAB_T0}" 'BEGIN{printf "%.1f", a-b}'; }
lab_log() { printf '[%s %5ss] %s\n' "${SCEN:-lab}" "$(lab_elapsed)" "$*" >&2; }
lab_die() { echo "[${SCEN:-lab}] FAILED: $*" >&2; exit 1; }
lab_skip() { echo "[${SCEN:-lab}] cannot run here: $*" >&2; exit 77; }

lab_now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# lab_starttime PID — the process's start time (clock ticks since boot), empty if it is gone
lab_starttime() { awk '{sub(/.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null; }

lab_preflight() {
    [ "$(id -u)" = 0 ] || lab_skip "must run as root"
    command -v podman >/dev/null || lab_skip "podman not installed (run lab/setup.sh)"
    command -v runc >/dev/null || lab_skip "runc not installed (run lab/setup.sh)"
    command -v criu >/dev/null || lab_skip "criu not installed (run lab/setup.sh)"
    criu check >/dev/null 2>&1 || lab_skip "'criu check' fails ($(command -v criu)); run lab/setup.sh"
    [ -x "$LAB_PY" ] || lab_skip "$LAB_PY missing"
    command -v perl >/dev/null || lab_skip "perl missing"
    podman image exists "$LAB_IMAGE" || lab_skip "image $LAB_IMAGE missing (run lab/setup.sh)"
}

# lab_init NAME OUTDIR
lab_init() {
    SCEN=$1; shift
    [ $# -ge 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
    OUT=$1
    lab_preflight
    mkdir -p "$OUT" || lab_die "cannot create $OUT"
    OUT=$(cd "$OUT" && pwd)
    # A neutral container name (it is in the archive: tools must not learn the scenario from
    # it) and an opaque label value that lets a later run find this scenario's leftovers.
    local base
    case $SCEN in
        ircbot) base=shop-frontend ;; revshell) base=billing-api ;; memfd) base=cache ;;
        miner) base=worker ;; webapp) base=bookshop-web ;; bigmem) base=analytics ;;
        manyproc) base=batch-runner ;; *) base=app ;;
    esac
    CTR="$base-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
    LAB_TAG=$(printf 'kcsi-lab:%s' "$SCEN" | sha256sum | cut -c1-12)
    WORK=$(mktemp -d "/tmp/kcsi-lab-$SCEN.XXXXXX")
    SPEC="$LAB_DIR/specimens/$SCEN"
    PEERS="$LAB_DIR/peers"
    # Leftovers of an earlier run of this scenario that was killed (they would hold its
    # 127.x ports): same tag, owner process gone, not a restored copy. Containers of a run
    # going on at the same time, and restore-check's restored containers, are left alone.
    LAB_OWNER="$$.$(lab_starttime $$)"
    local old owner restored
    for old in $(podman ps -a --filter "label=$LAB_LABEL=$LAB_TAG" --format '{{.Names}}' 2>/dev/null); do
        owner=$(podman inspect -f "{{index .Config.Labels \"$LAB_LABEL.owner\"}}" "$old" 2>/dev/null) || continue
        restored=$(podman inspect -f '{{.State.Restored}}' "$old" 2>/dev/null) || continue
        [ "$restored" = true ] && continue
        [ -n "$owner" ] && [ "$(lab_starttime "${owner%%.*}")" = "${owner#*.}" ] && continue
        lab_log "removing leftover container $old of an earlier, killed run"
        lab_podman rm -f -t 0 "$old" >/dev/null 2>&1
    done
    rm -f "$OUT/$SCEN.tar" "$OUT/$SCEN.tar.gz" "$OUT/$SCEN.tar.zst" "$OUT/$SCEN.truth.json" "$OUT/$SCEN.dump.log"
    trap lab_cleanup EXIT
    trap 'exit 130' INT TERM
    lab_log "container $CTR, work dir $WORK"
}

lab_cleanup() {
    local rc=$? p
    trap - EXIT
    if [ -n "$CTR" ] && podman container exists "$CTR" 2>/dev/null; then
        lab_podman rm -f -t 0 "$CTR" >/dev/null 2>&1 || echo "[$SCEN] warning: could not remove $CTR" >&2
    fi
    for p in "${PEER_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${PEER_PIDS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ "${LAB_KEEP_WORK:-0}" = 1 ] || [ $rc -ne 0 ]; then
        [ -n "${WORK:-}" ] && echo "[$SCEN] work dir kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit $rc
}

# lab_peer ROLE CMD... — run a host-side peer in the background; its stdout/stderr go to
# $WORK/peer-ROLE.out. The peer itself must listen on 127.x only.
lab_peer() {
    local role=$1; shift
    "$@" >"$WORK/peer-$role.out" 2>&1 &
    local pid=$!
    PEER_PIDS+=("$pid")
    PEER_ARGS+=(--peer "$role=$pid=$WORK/peer-$role.json")
    lab_log "peer $role started (pid $pid): $*"
}

# lab_wait DESC TIMEOUT_SECONDS CMD... — poll every 0.2 s
lab_wait() {
    local desc=$1 to=$2; shift 2
    local end=$(( $(date +%s) + to ))
    while :; do
        if "$@" >/dev/null 2>&1; then lab_log "ok: $desc"; return 0; fi
        [ "$(date +%s)" -lt "$end" ] || lab_die "timed out after ${to}s waiting for: $desc"
        sleep 0.2
    done
}

# lab_listening ADDR PORT — true when a TCP socket LISTENs on ADDR:PORT (IPv4)
lab_listening() {
    local hex
    hex=$(printf '%02X%02X%02X%02X:%04X' $(echo "$1" | awk -F. '{print $4, $3, $2, $1}') "$2")
    grep -q " $hex 00000000:0000 0A " /proc/net/tcp
}

# lab_need_free ADDR:PORT... — fail clearly if something already listens there (another
# run of the same scenario at the same time, or a leftover)
lab_need_free() {
    local a
    for a in "$@"; do
        ! lab_listening "${a%:*}" "${a#*:}" \
            || lab_die "$a is already in use (another run of this scenario going on?)"
    done
}

# lab_json FILE PYEXPR — true when the python expression over d=json.load(FILE) is true
lab_json() {
    [ -s "$1" ] || return 1
    "$LAB_PY" - "$1" "$2" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(1)
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}

# lab_create [podman-create-args] -- CMD... — create (not start) the container
lab_create() {
    local args=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    lab_podman create --name "$CTR" --label "$LAB_LABEL=$LAB_TAG" --label "$LAB_LABEL.owner=$LAB_OWNER" "${PODMAN_RUN_FLAGS[@]}" \
        "${args[@]}" "$LAB_IMAGE" "$@" >/dev/null || lab_die "podman create failed"
}

lab_start() {
    lab_podman start "$CTR" >/dev/null || lab_die "podman start failed"
    lab_wait "container running" 20 lab_running
}

lab_running() { [ "$(podman inspect -f '{{.State.Running}}' "$CTR" 2>/dev/null)" = true ]; }

# lab_run [podman-create-args] -- CMD... — create and start
lab_run() { lab_create "$@"; lab_start; }

# lab_cp HOSTFILE CTRPATH [MODE] — copy into the container (created or running)
lab_cp() {
    local src=$1 dst=$2 mode=${3:-}
    lab_podman exec -i "$CTR" sh -c "mkdir -p \"\$(dirname '$dst')\" && cat > '$dst'" <"$src" \
        || lab_die "copy of $src to $dst failed"
    [ -z "$mode" ] || lab_podman exec "$CTR" chmod "$mode" "$dst" || lab_die "chmod $dst failed"
}

# lab_exec_bg 'SHELL CMD' — run CMD inside the container with sh, double-forked so that it
# is re-parented to the container's pid 1 (a plain `podman exec -d` process would not be
# in the checkpoint). stdin/stdout/stderr go to /dev/null unless CMD redirects them.
lab_exec_bg() {
    lab_podman exec "$CTR" sh -c "( $1 ) </dev/null >/dev/null 2>&1 &" || lab_die "exec of '$1' failed"
}

# lab_cexec CMD... — run a command in the container and print its output
lab_cexec() { lab_podman exec "$CTR" "$@"; }

# lab_collect OUTFILE [--file PATH]... — ground truth from inside the container
lab_collect() {
    local f=$1; shift
    lab_podman exec -i "$CTR" perl - "$@" <"$LAB_DIR/lib/collect.pl" >"$f.tmp" \
        || lab_die "collector failed"
    mv "$f.tmp" "$f"
}

# lab_host_pid CPID — host pid of in-container pid CPID
lab_host_pid() {
    local init
    init=$(podman inspect -f '{{.State.Pid}}' "$CTR") || return 1
    "$LAB_PY" - "$init" "$1" <<'EOF'
import os, sys
init, want = sys.argv[1], sys.argv[2]
ns = os.readlink(f"/proc/{init}/ns/pid")
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        if os.readlink(f"/proc/{p}/ns/pid") != ns:
            continue
        for l in open(f"/proc/{p}/status"):
            if l.startswith("NSpid:"):
                if l.split()[-1] == want:
                    print(p); sys.exit(0)
    except OSError:
        pass
sys.exit(1)
EOF
}

# lab_userdata — the container's podman userdata directory (config.json, dump.log, ...)
lab_userdata() { podman inspect -f '{{.StaticDir}}' "$CTR" 2>/dev/null || echo /nonexistent; }

# lab_checkpoint — checkpoint with --leave-running into OUT/SCEN.tar (and .tar.gz, .tar.zst
# when COMPRESS_ALL=1). Records each archive for the truth file.
lab_checkpoint() {
    local comps=(none) c f t0 t1
    [ "${COMPRESS_ALL:-0}" = 1 ] && comps=(none gzip zstd)
    : >"$WORK/archives.tsv"
    for c in "${comps[@]}"; do
        case $c in none) f=$OUT/$SCEN.tar ;; gzip) f=$OUT/$SCEN.tar.gz ;; zstd) f=$OUT/$SCEN.tar.zst ;; esac
        t0=$(date +%s.%N)
        # --keep leaves CRIU's dump.log in the container's userdata dir (podman does not put
        # it in the archive); it is saved as OUT/SCEN.dump.log for make-crio-layout.sh.
        lab_podman container checkpoint --keep --tcp-established --leave-running \
            --export="$f" --compress "$c" "$CTR" >"$WORK/checkpoint-$c.out" 2>&1 \
            || { cat "$WORK/checkpoint-$c.out" >&2; lab_die "podman container checkpoint ($c) failed"; }
        t1=$(date +%s.%N)
        if [ "$c" = none ]; then
            cp "$(lab_userdata)/dump.log" "$OUT/$SCEN.dump.log" 2>/dev/null \
                || lab_log "warning: CRIU dump.log not found in $(lab_userdata)"
        fi
        printf '%s\t%s\t%s\t%s\n' "$f" "$c" "$(lab_now)" "$(awk -v a="$t1" -v b="$t0" 'BEGIN{printf "%.2f", a-b}')" >>"$WORK/archives.tsv"
        lab_log "checkpoint ($c) -> $f ($(du -h "$f" | cut -f1))"
        lab_running || lab_die "container stopped after checkpoint ($c)"
    done
}

# lab_truth [--facts FILE] [--params FILE] — assemble OUT/SCEN.truth.json
lab_truth() {
    "$LAB_PY" "$LAB_DIR/lib/truth.py" --scenario "$SCEN" --container "$CTR" \
        --live "$WORK/live.json" --after "$WORK/after.json" --archives "$WORK/archives.tsv" --inspect "$WORK/inspect.json" \
        --dump-log "$OUT/$SCEN.dump.log" \
        --t0 "$LAB_T0" "${PEER_ARGS[@]}" "$@" --out "$OUT/$SCEN.truth.json" \
        || lab_die "truth.py failed"
    lab_log "truth -> $OUT/$SCEN.truth.json"
}

# lab_finish FILES... — live snapshot, checkpoint(s), snapshot after, truth. FILES are the
# in-container paths to describe in the truth file.
lab_finish() {
    local fargs=() p
    for p in "$@"; do fargs+=(--file "$p"); done
    lab_collect "$WORK/live.json" "${fargs[@]}"
    lab_log "live state recorded ($("$LAB_PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["processes"]))' "$WORK/live.json") processes)"
    podman inspect "$CTR" >"$WORK/inspect.json" || lab_die "podman inspect failed"
    lab_checkpoint
    lab_collect "$WORK/after.json" "${fargs[@]}"
}

# lab_template SRC DST [KEY=VALUE]... — copy a specimen template with @@KEY@@ replaced and its
# leading comment block (the lab's notes, after the #! line) removed, so that the file in the
# container carries no lab commentary.
lab_template() {
    local src=$1 dst=$2; shift 2
    "$LAB_PY" - "$src" "$dst" "$@" <<'PYEOF' || lab_die "template $src failed"
import sys, re
src, dst, subs = sys.argv[1], sys.argv[2], sys.argv[3:]
lines = open(src).read().split("\n")
out, i = [], 0
if lines and lines[0].startswith("#!"):
    out.append(lines[0]); i = 1
while i < len(lines) and lines[i].startswith("#"):
    i += 1
text = "\n".join(out + lines[i:])
for kv in subs:
    k, v = kv.split("=", 1)
    text = text.replace("@@" + k + "@@", v)
left = re.findall(r"@@[A-Z0-9_]+@@", text)
if left:
    sys.exit("unfilled placeholders: " + " ".join(sorted(set(left))))
open(dst, "w").write(text)
PYEOF
}
