#!/bin/bash
# Scenario backup-tar (benign control for the exfiltration rules): the workload's own
# backup job (pid 1's child, its script mounted read-only with the application) streams a
# tar of /srv/data (sales CSVs and chart images: nothing of accounts, keys or credentials)
# over bash's /dev/tcp to the company's backup server on 127.185.x.y (rsync or ssh port);
# the server is slow, ~250 KB wait in the send queue. Bulk archive data to a peer: it must
# come out clean.
# Usage: lab/scenarios/backup-tar.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init backup-tar "$@"

DEST="$(lab_addr 185):$(lab_pick 22 873)"
lab_host_dir APP reports
mkdir -p "$APP/bin" "$APP/data/sales" "$APP/data/charts"
lab_template "$SPEC/agent.sh" "$APP/bin/backup.sh" "DEST=$DEST" "DEST_ADDR=${DEST%:*}" "DEST_PORT=${DEST#*:}"
"$LAB_PY" - "$APP/data" <<'PYEOF' || lab_die "data generation failed"
import os, random, sys
d = sys.argv[1]
r = random.Random()
regions = ["north", "south", "east", "west", "central"]
for m in range(1, 13):
    with open(os.path.join(d, "sales", "2026-%02d.csv" % m), "w") as f:
        f.write("day,region,sku,units,revenue\n")
        for day in range(1, 29):
            for reg in regions:
                u = r.randrange(1, 400)
                f.write("2026-%02d-%02d,%s,SKU-%04d,%d,%.2f\n" % (m, day, reg, r.randrange(10000), u, u * r.uniform(3, 90)))
for i in range(6):
    with open(os.path.join(d, "charts", "q%d-%d.png" % (i % 4 + 1, i)), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + os.urandom(20000))
PYEOF
chmod -R a+rX "$APP"

lab_peer_on backup "$DEST" perl "$PEERS/sink.pl" --listen "$DEST" --read line --rcvbuf 4096 --summary "$WORK/peer-backup.json"

lab_run --env APP_ENV=prod --hostname reports-backup -v "$APP/bin:/srv/bin:ro" -v "$APP/data:/srv/data:ro" -- \
    sh -c 'date > /var/log/app.log; bash /srv/bin/backup.sh; while :; do sleep 3600; done'
lab_wait "backup server read the header" 15 lab_json "$WORK/peer-backup.json" 'd["sessions"] and d["sessions"][0].get("first_line")'
lab_wait_txq "$DEST" 100000 20
lab_wait "tar finished writing" 10 lab_no_proc tar

lab_finish /var/log/app.log

lab_kv_json "$WORK/params.json" "backup_server=$DEST" "script_path=/srv/bin/backup.sh" "malicious:=false"
lab_facts --conn "backup=$DEST"
lab_truth --description "benign: the workload's backup job streams a tar of /srv/data to its backup server $DEST" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
