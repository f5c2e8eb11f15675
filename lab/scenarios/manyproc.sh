#!/bin/bash
# Scenario manyproc: a container with many processes (MANYPROC_N, default 200) in a
# three-level tree: a spawner shell, group shells, `sleep` leaves.
# Usage: [MANYPROC_N=N] lab/scenarios/manyproc.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init manyproc "$@"

N=${MANYPROC_N:-200}
case $N in ''|*[!0-9]*) lab_die "MANYPROC_N must be a number" ;; esac
[ "$N" -ge 1 ] && [ "$N" -le 3000 ] || lab_die "MANYPROC_N must be between 1 and 3000 (nproc limit 4096)"
SPAWNER=/opt/batch/spawn.sh
lab_template "$SPEC/spawn.sh" "$WORK/spawn.sh"

lab_run --hostname batch-runner -- sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/spawn.sh" "$SPAWNER" 0755
lab_exec_bg "sh $SPAWNER $N"
# pid 1 + its sleep + N + the sh and ls of the check itself
want=$((N + 4))
lab_wait "$N processes spawned" 60 lab_cexec sh -c "[ \$(ls -d /proc/[0-9]* | wc -l) -ge $want ]"

lab_finish "$SPAWNER" /var/log/app.log
cat >"$WORK/params.json" <<EOF
{"manyproc_n": $N, "spawner_path": "$SPAWNER"}
EOF
"$LAB_PY" - "$WORK/live.json" "$SPAWNER" >"$WORK/facts.json" <<'EOF'
import json, sys, collections
live, spawner = json.load(open(sys.argv[1])), sys.argv[2]
procs = {p["pid"]: p for p in live["processes"]}
top = [p["pid"] for p in procs.values() if p["cmdline"][:2] == ["sh", spawner]]
kids = collections.defaultdict(list)
for p in procs.values():
    kids[p["ppid"]].append(p["pid"])
tree = []
stack = list(top)
while stack:
    x = stack.pop()
    tree.append(x)
    stack.extend(kids[x])
def depth(pid):
    d = 0
    while pid in procs and pid != 1:
        pid = procs[pid]["ppid"]; d += 1
    return d
print(json.dumps({
    "total_processes": len(procs),
    "spawner_pid": top[0] if top else None,
    "spawner_tree_processes": len(tree),
    "comm_counts": dict(collections.Counter(p["comm"] for p in procs.values())),
    "max_depth_from_pid1": max(depth(p) for p in procs),
}, indent=2))
EOF
lab_truth --description "$N processes in a spawner/group/sleep tree" --params "$WORK/params.json" --facts "$WORK/facts.json"
