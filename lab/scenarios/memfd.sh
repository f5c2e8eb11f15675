#!/bin/bash
# Scenario memfd: a fileless program. A Perl loader in the container downloads a static ELF
# from a fake C2 (HTTP on 127.55.0.7:8080), writes it into a memfd (memfd_create, syscall
# 319), deletes itself and execs /proc/self/fd/N with a fake argv[0]. The payload (built
# here from lab/specimens/memfd/payload.c) beacons to 127.55.0.7:4443 and keeps that
# connection open.
# Usage: lab/scenarios/memfd.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init memfd "$@"

HTTP=127.55.0.7:8080
BEACON=127.55.0.7:4443
URLPATH=/static/js/app.bin
MEMFD_NAME=dbus-broker-shm
ARGV0=dbus-broker
LOADER=/var/cache/.updater/u.pl

command -v gcc >/dev/null || lab_skip "gcc missing (run lab/setup.sh)"
gcc -static -Os -s -o "$WORK/payload" "$SPEC/payload.c" || lab_die "payload build failed"
lab_template "$SPEC/loader.pl" "$WORK/loader.pl" "HTTP=$HTTP" "URLPATH=$URLPATH" \
    "MEMFD_NAME=$MEMFD_NAME" "BEACON=$BEACON" "ARGV0=$ARGV0"

lab_need_free "$HTTP" "$BEACON"
lab_peer c2 perl "$PEERS/memfd_c2.pl" --http "$HTTP" --beacon "$BEACON" --payload "$WORK/payload" \
    --url "$URLPATH" --summary "$WORK/peer-c2.json"
lab_wait "C2 HTTP on $HTTP" 10 lab_listening ${HTTP%:*} ${HTTP#*:}
lab_wait "C2 beacon on $BEACON" 10 lab_listening ${BEACON%:*} ${BEACON#*:}

lab_run --env APP_ENV=prod --hostname cache-07 -- \
    sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/loader.pl" "$LOADER" 0700
lab_exec_bg "perl $LOADER"
lab_wait "payload beaconed" 20 lab_json "$WORK/peer-c2.json" 'd["beacons"] and d["beacons"][0].get("lines")'
lab_wait "loader deleted itself" 10 lab_cexec sh -c "! test -e $LOADER"

lab_finish "$LOADER" "$(dirname "$LOADER")" /var/log/app.log

cat >"$WORK/params.json" <<EOF
{"http": "$HTTP", "url_path": "$URLPATH", "beacon": "$BEACON", "memfd_name": "$MEMFD_NAME",
 "argv0": "$ARGV0", "loader_path": "$LOADER",
 "payload_sha256": "$(sha256sum "$WORK/payload" | cut -d' ' -f1)", "payload_bytes": $(stat -c %s "$WORK/payload")}
EOF
"$LAB_PY" - "$WORK/live.json" >"$WORK/facts.json" <<'EOF'
import json, sys
live = json.load(open(sys.argv[1]))
fl = [p for p in live["processes"] if (p["exe"] or "").startswith("/memfd:")]
print(json.dumps({"fileless_processes": [{
    "pid": p["pid"], "ppid": p["ppid"], "comm": p["comm"], "exe": p["exe"],
    "exe_sha256": p["exe_sha256"], "exe_size": p["exe_size"], "cmdline": p["cmdline"],
    "environ": p["environ"],
    "connections": [f["socket"] for f in p["fds"] if f.get("socket", {}).get("state") == "ESTABLISHED"],
} for p in fl]}, indent=2))
EOF
lab_truth --description "fileless payload executed from memfd:$MEMFD_NAME (loader $LOADER deleted), beaconing to $BEACON" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
