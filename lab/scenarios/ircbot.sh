#!/bin/bash
# Scenario ircbot: a Perl IRC bot in a container, talking to a fake IRC C2 on 127.13.37.10:6697.
# The bot disguises itself as a kernel thread ($0), stages /etc/passwd in a hidden dir,
# keeps a deleted file open, joins a keyed channel and answers `!exec` commands. The C2
# drops the first session; the bot reconnects (trying a second C2, 127.13.37.11:7000, that
# does not answer) and the checkpoint is taken during the second session.
# Usage: lab/scenarios/ircbot.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init ircbot "$@"

C2A=127.13.37.10:6697
C2B=127.13.37.11:7000
KEY="IRCK-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
CHAN="#ops-$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')"
CHANKEY="ck$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
STAGE=/var/tmp/.font-cache
PROCNAME='[kworker/1:1H-kblockd]'
BOTPATH=/usr/local/bin/fc-cache-update

lab_template "$SPEC/ircbot.pl" "$WORK/bot.pl" "C2_LIST=$C2A $C2B" "BOT_KEY=$KEY" "CHANNEL=$CHAN" \
    "CHANNEL_KEY=$CHANKEY" "STAGE_DIR=$STAGE" "PROCNAME=$PROCNAME"

lab_need_free "$C2A" "$C2B"
lab_peer irc-c2 perl "$PEERS/irc_c2.pl" --listen "$C2A" --summary "$WORK/peer-irc-c2.json" \
    --drop-first 1 --cmds1 'id|uname -a' --cmds2 "ls -la $STAGE|cat /etc/hostname"
lab_wait "C2 listening on $C2A" 10 lab_listening ${C2A%:*} ${C2A#*:}

lab_run --env APP_ENV=qa --env DB_HOST=127.0.0.1 --hostname shop-frontend -- \
    sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/bot.pl" "$BOTPATH" 0755
lab_exec_bg "perl $BOTPATH"

lab_wait "bot registered and answered the first session" 30 \
    lab_json "$WORK/peer-irc-c2.json" 'd["sessions"] and d["sessions"][0].get("commands_done")'
lab_wait "bot reconnected and answered the second session" 40 \
    lab_json "$WORK/peer-irc-c2.json" 'len(d["sessions"]) >= 2 and d["sessions"][1].get("commands_done")'

lab_finish "$BOTPATH" "$STAGE" "$STAGE/.pw.bak" /var/log/app.log

cat >"$WORK/params.json" <<EOF
{"c2": ["$C2A", "$C2B"], "c2_listening": "$C2A", "bot_key": "$KEY", "channel": "$CHAN",
 "channel_key": "$CHANKEY", "stage_dir": "$STAGE", "proc_name": "$PROCNAME",
 "bot_path": "$BOTPATH", "c2_drops_first_session": true}
EOF
"$LAB_PY" - "$WORK/live.json" "$WORK/peer-irc-c2.json" "$PROCNAME" >"$WORK/facts.json" <<'EOF'
import json, sys
live, c2, pname = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
bots = [p for p in live["processes"] if p["cmdline"][:1] == [pname]]
bot = bots[0] if bots else None
conns = [f["socket"] for f in (bot["fds"] if bot else []) if f.get("socket", {}).get("state") == "ESTABLISHED"]
ghosts = [f for f in (bot["fds"] if bot else []) if f.get("deleted")]
last = c2["sessions"][-1]
print(json.dumps({
    "bot_pid": bot and bot["pid"],
    "bot_comm": bot and bot["comm"],
    "bot_exe": bot and bot["exe"],
    "bot_connection": conns[0] if conns else None,
    "ghost_fds": [{"fd": f["fd"], "target": f["target"], "sha256": f["sha256"], "text": f["text"]} for f in ghosts],
    "c2_sessions_seen": len(c2["sessions"]),
    "nick": last.get("nick"), "user": last.get("user"), "realname_key": last.get("realname"),
    "channel_joined": last.get("channel"), "channel_key_sent": last.get("channel_key"),
    "commands": [{"session": s["n"], "cmd": c["cmd"], "output": c["output"]}
                 for s in c2["sessions"] for c in s["commands"]],
}, indent=2))
EOF
lab_truth --description "Perl IRC bot (\$0 rewritten to $PROCNAME) connected to a fake IRC C2 at $C2A, reconnected once; staged /etc/passwd in $STAGE; deleted-open journal file" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
