#!/bin/bash
# Scenario selftitle (benign control): programs that rename their own processes, as nginx,
# postgres and sshd do, by their own name. pid 1 starts a small native queue daemon (built here
# from specimens/selftitle/queued.c) whose master and two workers rewrite their command lines
# to '<name>: master process ...' and '<name>: worker process' and serve HTTP on 127.149.x.y; a
# Perl worker that sets $0 to its job's name and status; and a Python worker that rewrites its
# title the way setproctitle does. A scraper on the host keeps a connection to the daemon.
# Nothing is disguised: every title names the program's own job.
# Usage: lab/scenarios/selftitle.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init selftitle "$@"
lab_use_tools_image
command -v gcc >/dev/null || lab_skip "gcc missing (run lab/setup.sh)"

LISTEN="$(lab_addr 149):$(lab_pick 8080 8081 9000)"
DAEMON=$(lab_pick queued jobd mqd)
PLNAME=$(lab_pick report-builder invoice-render stats-rollup)
PYNAME=$(lab_pick orders-worker mail-dispatch thumb-worker)
lab_host_dir APP app
mkdir -p "$APP/sbin" "$APP/bin" "$APP/etc"
lab_template "$SPEC/queued.c" "$WORK/queued.c" "NAME=$DAEMON"
gcc -O2 -s -Wall -o "$APP/sbin/$DAEMON" "$WORK/queued.c" || lab_die "build of $DAEMON failed"
lab_template "$SPEC/report-builder.pl" "$APP/bin/$PLNAME" "NAME=$PLNAME"
lab_template "$SPEC/jobs.py" "$APP/bin/$PYNAME" "NAME=$PYNAME"
chmod 755 "$APP/bin/$PLNAME" "$APP/bin/$PYNAME"
printf 'workers 2\nqueue /var/spool/%s\n' "$DAEMON" >"$APP/etc/$DAEMON.conf"

lab_need_free "$LISTEN"
lab_run --env APP_ENV=prod --env "LISTEN=$LISTEN" -v "$APP:/opt/$DAEMON:ro" --hostname "$DAEMON-1" -- \
    sh -c "/opt/$DAEMON/sbin/$DAEMON -c /opt/$DAEMON/etc/$DAEMON.conf & perl /opt/$DAEMON/bin/$PLNAME & python3 /opt/$DAEMON/bin/$PYNAME & wait"
lab_wait "$DAEMON listening on $LISTEN" 10 lab_listening ${LISTEN%:*} ${LISTEN#*:}
lab_peer scraper perl "$PEERS/scraper.pl" --connect "$LISTEN" --paths /status --interval 1 --summary "$WORK/peer-scraper.json"
lab_wait "3 requests" 15 lab_json "$WORK/peer-scraper.json" 'd["requests"] >= 3'

lab_finish "/opt/$DAEMON/sbin/$DAEMON"

lab_kv_json "$WORK/params.json" "malicious:=false" "listen=$LISTEN" "daemon=$DAEMON" "perl_worker=$PLNAME" \
    "python_worker=$PYNAME"
lab_facts --listen "daemon=$LISTEN" --proc "workers=^$DAEMON: worker process" --set malicious=false
lab_truth --description "benign control: $DAEMON (native) and two workers ($PLNAME in Perl, $PYNAME in Python) name their processes by their own name" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
