#!/bin/bash
# Scenario maillog (benign control): a newsletter service. pid 1 is a Perl mailer that loads
# 3000 recipients (e-mail addresses) into memory and sends each a campaign with links to the
# shop through a local SMTP relay on 127.121.x.y:25 (one SMTP session), logging every delivery.
# The delivery log holds the previous run's 4000 lines plus the new ones: thousands of e-mail
# addresses and URLs in files and memory, all of them the business's own. Nothing malicious.
# Usage: lab/scenarios/maillog.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init maillog "$@"

RELAY="$(lab_addr 121):25"
DOMAIN="$(lab_pick lumen-books nordic-gear tidewater-tea)-$(lab_hex 2).com"
lab_host_dir APP app
lab_template "$SPEC/mailer.pl" "$APP/mailer.pl"
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" customers 3000 >"$APP/recipients.csv" || lab_die "fakedata failed"
mkdir -p "$WORK/log"
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" maillog 4000 "$DOMAIN" >"$WORK/log/delivery.log" || lab_die "fakedata failed"

lab_peer_on relay "$RELAY" perl "$PEERS/smtp_relay.pl" --listen "$RELAY" --name "smtp-relay.$DOMAIN" --summary "$WORK/peer-relay.json"

lab_create --env APP_ENV=prod --env "SMTP_RELAY=$RELAY" --env "MAIL_DOMAIN=$DOMAIN" \
    --env RECIPIENTS=/srv/mailer/recipients.csv --env RATE=40 -v "$APP:/srv/mailer:ro" \
    --hostname newsletter -- perl /srv/mailer/mailer.pl
lab_podman cp "$WORK/log" "$CTR:/var/log/mailer" || lab_die "podman cp of the log failed"
lab_start
lab_wait "100 messages relayed" 20 lab_json "$WORK/peer-relay.json" 'd["messages"] >= 100'

lab_finish /srv/mailer/mailer.pl /var/log/mailer/delivery.log

lab_kv_json "$WORK/params.json" "malicious:=false" "relay=$RELAY" "mail_domain=$DOMAIN" "recipients=3000" \
    "log=/var/log/mailer/delivery.log" "log_lines_before_start=4000"
lab_facts --conn "mailer=$RELAY" --set malicious=false
lab_truth --description "benign control: newsletter mailer (3000 recipients in memory, a delivery log of thousands of e-mail addresses and URLs) relaying through $RELAY" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
