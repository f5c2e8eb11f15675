#!/bin/bash
# lab/run-all.sh OUTDIR [--crio] [--restore] [--score] [SCENARIO...]
# Runs lab/setup.sh when the lab is not ready (no working criu, no images), then every
# scenario (or the ones named) one after the other into OUTDIR, and prints the time each took.
#   The scenarios are the ones labelled in lab/corpus.json (attacks, benign controls, bigmem
#   and manyproc), in its order.
#   bigmem runs with BIGMEM_MIB=64 unless BIGMEM_MIB is set; MANYPROC_N and COMPRESS_ALL are
#   passed through.
#   --crio     also re-pack each OUTDIR/NAME.tar in the CRI-O layout into OUTDIR/crio/
#   --restore  also run restore-check.sh on each OUTDIR/NAME.tar
#   --score    at the end, run lab/score.py on OUTDIR (kcsi analyze on every corpus scene made,
#              against its labels; needs build/kcsi) and print its table
# Exit: 0 all ok; 77 the lab cannot run here; 1 some step failed. Logs: OUTDIR/logs/.
set -uo pipefail
LAB=$(cd "$(dirname "$0")" && pwd)
source "$LAB/env.sh"

# every scene, in the order of the labels (lab/corpus.json)
ALL=($("$LAB_PY" -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["scenes"]))' "$LAB/corpus.json")) \
    || { echo "run-all: cannot read $LAB/corpus.json" >&2; exit 1; }
OUT=""; CRIO=0; RESTORE=0; SCORE=0; PICK=()
for a in "$@"; do
    case $a in
        --crio) CRIO=1 ;;
        --restore) RESTORE=1 ;;
        --score) SCORE=1 ;;
        -h|--help) awk 'NR>1 && !/^#/{exit} NR>1{sub(/^# ?/,""); print}' "$0"; exit 0 ;;
        -*) echo "run-all: unknown option $a" >&2; exit 2 ;;
        *) if [ -z "$OUT" ]; then OUT=$a; else PICK+=("$a"); fi ;;
    esac
done
[ -n "$OUT" ] || { echo "usage: $0 OUTDIR [--crio] [--restore] [--score] [SCENARIO...]" >&2; exit 2; }
[ ${#PICK[@]} -gt 0 ] || PICK=("${ALL[@]}")
for s in "${PICK[@]}"; do
    [ -x "$LAB/scenarios/$s.sh" ] || { echo "run-all: no scenario '$s' (have: ${ALL[*]})" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "run-all: cannot run here: must run as root" >&2; exit 77; }
mkdir -p "$OUT/logs" || exit 1
OUT=$(cd "$OUT" && pwd)
export BIGMEM_MIB=${BIGMEM_MIB:-64}
export RESTORE_LOG_DIR=$OUT/logs

now() { date +%s.%N; }
secs() { awk -v a="$(now)" -v b="$1" 'BEGIN{printf "%.1f", a-b}'; }

T_ALL=$(now)
if command -v criu >/dev/null && criu check >/dev/null 2>&1 && command -v podman >/dev/null \
        && podman image exists "$LAB_IMAGE" && podman image exists "$LAB_TOOLS_IMAGE" && [ "$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null)" = runc ]; then
    echo "run-all: setup: lab ready (criu $(criu --version | awk '/^Version:/{print $2}'), images $LAB_IMAGE $LAB_TOOLS_IMAGE)"
else
    t=$(now)
    echo "run-all: setup: running lab/setup.sh"
    "$LAB/setup.sh" 2>&1 | tee "$OUT/logs/setup.log"
    rc=${PIPESTATUS[0]}
    [ "$rc" = 0 ] || { echo "run-all: setup failed (rc $rc)" >&2; exit "$rc"; }
    echo "run-all: setup: $(secs "$t") s"
fi

declare -A RES TIME
fail=0
for s in "${PICK[@]}"; do
    t=$(now)
    "$LAB/scenarios/$s.sh" "$OUT" >"$OUT/logs/$s.log" 2>&1
    rc=$?
    TIME[$s]=$(secs "$t")
    case $rc in
        0) RES[$s]=ok ;;
        77) RES[$s]="skipped: $(tail -1 "$OUT/logs/$s.log")"; fail=1 ;;
        *) RES[$s]="FAILED (rc $rc): $(grep -m1 FAILED "$OUT/logs/$s.log" || tail -1 "$OUT/logs/$s.log")"; fail=1 ;;
    esac
    printf 'run-all: %-14s %6s s  %s\n' "$s" "${TIME[$s]}" "${RES[$s]}"
    if [ "$rc" = 0 ] && [ "$CRIO" = 1 ]; then
        t=$(now)
        if f=$("$LAB/make-crio-layout.sh" "$OUT/$s.tar" "$OUT/crio" --pod "$s-7f6d9c-abcde" \
                --namespace lab --container "$s" 2>>"$OUT/logs/$s.crio.log"); then
            printf 'run-all: %-14s %6s s  crio layout: %s\n' "" "$(secs "$t")" "${f#$OUT/}"
        else
            printf 'run-all: %-14s %6s s  crio layout FAILED\n' "" "$(secs "$t")"; fail=1
        fi
    fi
    if [ "$rc" = 0 ] && [ "$RESTORE" = 1 ]; then
        t=$(now)
        "$LAB/restore-check.sh" "$OUT/$s.tar" >"$OUT/logs/$s.restore.log" 2>&1
        rrc=$?
        if [ "$rrc" = 0 ]; then
            printf 'run-all: %-14s %6s s  restore: %s\n' "" "$(secs "$t")" "$(tail -1 "$OUT/logs/$s.restore.log")"
        elif [ "$rrc" = 3 ]; then
            printf 'run-all: %-14s %6s s  restore: %s\n' "" "$(secs "$t")" "$(grep -m1 'KNOWN LIMITATION' "$OUT/logs/$s.restore.log")"
        else
            printf 'run-all: %-14s %6s s  restore FAILED: %s\n' "" "$(secs "$t")" \
                "$(grep -m1 -E 'FAILED|Error \(' "$OUT/logs/$s.restore.log")"
            fail=1
        fi
    fi
done
echo "run-all: total $(secs "$T_ALL") s; outputs in $OUT"
if [ "$SCORE" = 1 ]; then
    "$LAB_PY" "$LAB/score.py" --reuse "$OUT" || fail=1
fi
exit $fail
