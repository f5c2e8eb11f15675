#!/bin/bash
# Scenario miner: an imitation cryptominer. A Perl "miner" (disguised as kswapd0) reads an
# xmrig-style config with a wallet address from a hidden directory, logs in to a fake
# stratum pool on 127.77.0.5:14444 (mining.subscribe / mining.authorize), burns CPU and
# submits fake shares.
# Usage: lab/scenarios/miner.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init miner "$@"

POOL=127.77.0.5:14444
DIR=/opt/.sysupd
CONFIG=$DIR/config.json
MINER=$DIR/sysupd
PROCNAME=kswapd0
WALLET=$("$LAB_PY" -c 'import random; a="123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"; print("4"+random.choice("0123456789AB")+"".join(random.choice(a) for _ in range(93)))')
WORKER="x-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
AGENT="XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0"

cat >"$WORK/config.json" <<EOF
{
    "autosave": true,
    "background": true,
    "cpu": { "enabled": true, "huge-pages": true, "max-threads-hint": 50 },
    "donate-level": 0,
    "user-agent": "$AGENT",
    "pools": [
        { "algo": "rx/0", "url": "stratum+tcp://$POOL", "user": "$WALLET", "pass": "$WORKER",
          "keepalive": true, "tls": false }
    ]
}
EOF
lab_template "$SPEC/miner.pl" "$WORK/miner.pl" "PROCNAME=$PROCNAME" "CONFIG=$CONFIG"

lab_peer_on pool "$POOL" perl "$PEERS/stratum_pool.pl" --listen "$POOL" --summary "$WORK/peer-pool.json"

lab_run --env APP_ENV=prod --hostname worker-3 -- \
    sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/config.json" "$CONFIG" 0600
lab_cp "$WORK/miner.pl" "$MINER" 0755
lab_exec_bg "cd $DIR && perl $MINER"
lab_wait "miner authorized and submitted a share" 30 \
    lab_json "$WORK/peer-pool.json" 'd["sessions"] and d["sessions"][0].get("authorized") and d["sessions"][0]["submits"] >= 1'

lab_finish "$DIR" "$CONFIG" "$MINER" /var/log/app.log

cat >"$WORK/params.json" <<EOF
{"pool": "$POOL", "pool_url": "stratum+tcp://$POOL", "wallet": "$WALLET", "worker_password": "$WORKER",
 "user_agent": "$AGENT", "config_path": "$CONFIG", "miner_path": "$MINER", "proc_name": "$PROCNAME"}
EOF
"$LAB_PY" - "$WORK/live.json" "$WORK/peer-pool.json" "$PROCNAME" >"$WORK/facts.json" <<'EOF'
import json, sys
live, pool, pname = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
m = [p for p in live["processes"] if p["cmdline"][:1] == [pname]]
p = m[0] if m else None
s = pool["sessions"][0]
print(json.dumps({
    "miner_pid": p and p["pid"], "miner_comm": p and p["comm"], "miner_exe": p and p["exe"],
    "miner_cwd": p and p["cwd"],
    "pool_connection": next((f["socket"] for f in (p["fds"] if p else []) if f.get("socket", {}).get("state") == "ESTABLISHED"), None),
    "pool_saw": {"agent": s.get("agent"), "worker": s.get("worker"), "password": s.get("password"),
                 "methods": s.get("methods"), "submits": s.get("submits")},
}, indent=2))
EOF
lab_truth --description "imitation cryptominer ($PROCNAME) with config $CONFIG, stratum login to fake pool $POOL" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
