#!/bin/bash
# Scenario bigmem: one process holding BIGMEM_MIB MiB (default 256) of random bytes with
# marker strings planted at known virtual addresses (page starts, mid-page, across page
# boundaries, buffer start and end). The process reports its markers and their addresses;
# the scenario checks each one from the host through /proc/PID/mem before checkpointing,
# and deletes the process's report file so that the markers are only in memory.
# Usage: [BIGMEM_MIB=N] lab/scenarios/bigmem.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init bigmem "$@"

MIB=${BIGMEM_MIB:-256}
case $MIB in ''|*[!0-9]*) lab_die "BIGMEM_MIB must be a number of MiB" ;; esac
[ "$MIB" -ge 1 ] || lab_die "BIGMEM_MIB must be >= 1"
HOLDER=/opt/analytics/cache-warm.pl
REPORT=/tmp/.cw-report.json
lab_template "$SPEC/bigmem.pl" "$WORK/bigmem.pl"

lab_run --env BIGMEM_MIB="$MIB" --hostname analytics-1 -- \
    sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/bigmem.pl" "$HOLDER" 0755
lab_exec_bg "perl $HOLDER $REPORT"
lab_wait "holder filled $MIB MiB and reported its markers" $((30 + MIB / 8)) lab_cexec test -s "$REPORT"
lab_cexec cat "$REPORT" >"$WORK/report.json" || lab_die "cannot read $REPORT"
lab_cexec rm -f "$REPORT" || lab_die "cannot remove $REPORT"

CPID=$("$LAB_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$WORK/report.json")
HPID=$(lab_host_pid "$CPID") || lab_die "host pid of container pid $CPID not found"
"$LAB_PY" - "$WORK/report.json" "$HPID" >"$WORK/facts.json" <<'PYEOF' || lab_die "host-side marker check failed"
import json, sys
rep, hpid = json.load(open(sys.argv[1])), int(sys.argv[2])
with open(f"/proc/{hpid}/mem", "rb", buffering=0) as mem:
    for m in rep["markers"]:
        mem.seek(m["vaddr"])
        got = mem.read(m["length"])
        m["verified_from_host"] = got == m["marker"].encode()
        if not m["verified_from_host"]:
            sys.exit(f"marker {m['index']} not found at {m['vaddr_hex']} from the host")
rep["holder_host_pid"] = hpid
print(json.dumps(rep, indent=2))
PYEOF
lab_log "markers verified from the host (pid $HPID)"

lab_finish "$HOLDER" "$REPORT" /var/log/app.log
cat >"$WORK/params.json" <<EOF
{"bigmem_mib": $MIB, "holder_path": "$HOLDER", "report_path_deleted": "$REPORT"}
EOF
lab_truth --description "process (container pid $CPID) holding $MIB MiB of random bytes with markers at known virtual addresses" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
