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
#   lab_use_tools_image       # this scene runs in $LAB_TOOLS_IMAGE instead of $LAB_IMAGE
#   lab_hex N / lab_addr A / lab_port LO HI   # random hex, 127.A.x.y address, port
#   lab_kv_json FILE K=V... K:=JSON...    # write a JSON object (params) safely
#   lab_facts ARGS...         # generic facts from the live snapshot (lib/facts.py)
set -uo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/env.sh"

LAB_T0=$(date +%s.%N)
PEER_PIDS=()
PEER_ARGS=()
HOST_DIRS=()
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
        manyproc) base=batch-runner ;;
        dnsexfil-udp) base=inventory-sync ;; dnsexfil-tcp) base=geo-lookup ;;
        tarexfil) base=backup-agent ;; httpexfil) base=orders-api ;;
        k8screds) base=payments-svc ;; cloudcreds) base=image-resizer ;;
        secretsenv) base=checkout ;; secretsmem) base=notifier ;;
        masq-nginx) base=web-edge ;; masq-sshd) base=jumpbox ;;
        revshell-py) base=search-api ;; revshell-socat) base=pdf-render ;;
        preload-cron) base=auth-svc ;; preload-env) base=ledger ;;
        shm-loader) base=session-store ;; deleted-exe) base=thumbnailer ;;
        maillog) base=newsletter ;; awsenv) base=s3-sync ;; ircdocs) base=docs-portal ;;
        tlsclient) base=event-consumer ;; metrics) base=node-metrics ;;
        lock-loader) base=report-builder ;; k8screds-py) base=quota-svc ;; secrets-queue) base=chat-bridge ;;
        incluster-client) base=rollout-watcher ;; ci-job) base=build-runner ;; masq-shim) base=queue-worker ;;
        histshell) base=feed-reader ;; selftitle) base=edge-cache ;; dnsexfil-b64u) base=asset-indexer ;;
        zipexfil-socat) base=archive-svc ;; ptyshell-py) base=image-proxy ;; dnsheavy) base=service-mapper ;;
        backup-tar) base=nightly-backup ;;
        *) base=app ;;
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
    rm -f "$OUT/$SCEN.tar" "$OUT/$SCEN.tar.gz" "$OUT/$SCEN.tar.zst" "$OUT/$SCEN.truth.json" "$OUT/$SCEN.dump.log" \
        "$OUT/$SCEN.mounts.tar"
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
        [ -n "${WORK:-}" ] && echo "[$SCEN] work dir kept: $WORK ${HOST_DIRS[*]}" >&2
    else
        rm -rf "$WORK" "${HOST_DIRS[@]}"
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
        "${args[@]}" "${CTR_IMAGE:-$LAB_IMAGE}" "$@" >/dev/null || lab_die "podman create failed"
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
    # the content of the scene's bind-mount sources (lab_host_dir), for restore-check.sh: the
    # directories themselves are removed with the work dir
    if [ ${#HOST_DIRS[@]} -gt 0 ]; then
        tar -C / -cf "$OUT/$SCEN.mounts.tar" "${HOST_DIRS[@]#/}" || lab_die "cannot save the bind-mount sources"
    fi
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

# lab_use_tools_image — the scene's container runs $LAB_TOOLS_IMAGE (curl, openssl, python3,
# netcat, socat, xxd, dig); exit 77 when setup.sh has not built it
lab_use_tools_image() {
    podman image exists "$LAB_TOOLS_IMAGE" || lab_skip "image $LAB_TOOLS_IMAGE missing (run lab/setup.sh)"
    CTR_IMAGE=$LAB_TOOLS_IMAGE
}

# lab_hex N — N random bytes as hex
lab_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# lab_rand LO HI — a random integer in [LO, HI]
lab_rand() { echo $(( $1 + $(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % ($2 - $1 + 1) )); }

# lab_addr A — a random 127.A.x.y address (x, y in 2..254): each scene owns its A, so scenes
# never clash, and the addresses differ from run to run
lab_addr() { echo "127.$1.$(lab_rand 2 254).$(lab_rand 2 254)"; }

# lab_port LO HI — a random port in [LO, HI]
lab_port() { lab_rand "$1" "$2"; }

# lab_udp_bound ADDR PORT — true when a UDP socket is bound to ADDR:PORT (IPv4)
lab_udp_bound() {
    local hex
    hex=$(printf '%02X%02X%02X%02X:%04X' $(echo "$1" | awk -F. '{print $4, $3, $2, $1}') "$2")
    grep -q " $hex 00000000:0000 07 " /proc/net/udp
}

# lab_kv_json FILE KEY=VALUE... KEY:=JSON... — write a JSON object: KEY=VALUE is a string,
# KEY:=JSON a JSON value (number, list, object, true/false), KEY@=FILE the JSON in FILE
lab_kv_json() {
    local f=$1; shift
    "$LAB_PY" - "$@" >"$f" <<'PYEOF' || lab_die "lab_kv_json $f failed"
import json, sys
out = {}
for a in sys.argv[1:]:
    k, sep, v = a.partition("=")
    if k.endswith(":"):
        out[k[:-1]] = json.loads(v)
    elif k.endswith("@"):
        out[k[:-1]] = json.load(open(v))
    else:
        out[k] = v
print(json.dumps(out, indent=2))
PYEOF
}

# lab_facts [facts.py options] — facts from $WORK/live.json into $WORK/facts.json
lab_facts() {
    "$LAB_PY" "$LAB_DIR/lib/facts.py" "$WORK/live.json" "$@" >"$WORK/facts.json" || lab_die "facts.py failed"
}

# lab_pick WORD... — one of the words, at random
lab_pick() { local a=("$@"); echo "${a[$(lab_rand 0 $(( $# - 1 )))]}"; }

# lab_zone — a random, plausible DNS zone for a tunnel (never resolved: only the lab's own
# 127.x resolver peer ever sees it)
lab_zone() {
    echo "$(lab_pick cdn metrics telemetry updates static img api-edge)-$(lab_hex 3).$(lab_pick net com io xyz top)"
}

# lab_json_list WORD... — the words as a JSON list of strings
lab_json_list() { "$LAB_PY" -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@"; }

# lab_txq REMOTE_ADDR:PORT — the send queue (bytes) of the host's established TCP connection to
# that address (the containers share the host's network), empty when there is none
lab_txq() {
    local hex
    hex=$(printf '%02X%02X%02X%02X:%04X' $(echo "${1%:*}" | awk -F. '{print $4, $3, $2, $1}') "${1#*:}")
    local q
    q=$(awk -v r="$hex" '$3 == r && $4 == "01" { split($5, q, ":"); print q[1]; exit }' /proc/net/tcp)
    [ -z "$q" ] || printf '%d\n' "0x$q"
}

# lab_wait_txq REMOTE MIN TIMEOUT — wait until the send queue towards REMOTE holds at least MIN
# bytes and has not changed for a second (the sender is blocked: the peer stopped reading)
lab_wait_txq() {
    local remote=$1 min=$2 to=$3 prev="" cur end
    end=$(( $(date +%s) + to ))
    while :; do
        cur=$(lab_txq "$remote")
        if [ -n "$cur" ] && [ "$cur" -ge "$min" ] && [ "$cur" = "$prev" ]; then
            lab_log "ok: $cur bytes wait in the send queue to $remote"; return 0
        fi
        [ "$(date +%s)" -lt "$end" ] || lab_die "timed out: send queue to $remote is '${cur}' (want >= $min, stable)"
        prev=$cur
        sleep 1
    done
}

# lab_no_proc NAME — true when no process named NAME runs in the container
lab_no_proc() { ! lab_cexec pgrep -x "$1" >/dev/null 2>&1; }

# lab_user_agent — a common browser user agent, at random
lab_user_agent() {
    lab_pick "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36" \
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15" \
        "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
}

# lab_host_dir VAR PREFIX — make a host directory /tmp/PREFIX.XXXXXX for bind mounts, removed
# with the work dir, and put its path in VAR. Its name is neutral: the sources of bind mounts
# are in the archive (spec.dump), the scene's name must not be.
lab_host_dir() {
    local d
    d=$(mktemp -d "/tmp/$2.XXXXXX") || lab_die "mktemp failed"
    chmod 755 "$d"
    HOST_DIRS+=("$d")
    printf -v "$1" '%s' "$d"
}

# lab_json_pick FILE KEY... — the JSON object in FILE reduced to KEYs (one KEY alone: its value,
# as plain text when it is a string)
lab_json_pick() {
    "$LAB_PY" - "$@" <<'PYEOF' || lab_die "lab_json_pick $1 failed"
import json, sys
d = json.load(open(sys.argv[1]))
keys = sys.argv[2:]
if len(keys) == 1:
    v = d[keys[0]]
    print(v if isinstance(v, str) else json.dumps(v))
else:
    print(json.dumps({k: d[k] for k in keys}))
PYEOF
}

# lab_peer_on ROLE ADDR:PORT CMD... — check that ADDR:PORT is free, start the peer (lab_peer)
# and wait until it listens there (TCP)
lab_peer_on() {
    local role=$1 at=$2; shift 2
    lab_need_free "$at"
    lab_peer "$role" "$@"
    lab_wait "$role listening on $at" 10 lab_listening "${at%:*}" "${at#*:}"
}

# lab_build_agent OUT TAG ENVVAR — build the small C beacon agent (specimens/memfd/payload.c,
# dynamically linked) with its agent text TAG, reading its C2 address from ENVVAR
lab_build_agent() {
    command -v gcc >/dev/null || lab_skip "gcc missing (run lab/setup.sh)"
    gcc -O2 -s -Wall -DAGENT_TAG="\"$2\"" -DSRV_ENV="\"$3\"" -o "$1" "$LAB_DIR/specimens/memfd/payload.c" \
        || lab_die "agent build failed"
}

# lab_shell_listener ADDR:PORT 'CMD|CMD...' — the fake attacker of a reverse shell (peer
# "listener", shell_peer.pl): listens on ADDR:PORT and runs the commands through the shell
# lab_wait_shell_done — wait until the shell has answered all of them
lab_shell_listener() {
    lab_peer_on listener "$1" perl "$PEERS/shell_peer.pl" --listen "$1" --summary "$WORK/peer-listener.json" --cmds "$2"
}
lab_wait_shell_done() {
    lab_wait "the shell answered its commands" 30 \
        lab_json "$WORK/peer-listener.json" 'd["sessions"] and d["sessions"][0].get("commands_done")'
}
