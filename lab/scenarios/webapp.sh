#!/bin/bash
# Scenario webapp: the benign control. The container's entrypoint (/srv/app/run.sh) starts a
# small Perl HTTP server on 127.88.0.1:8080 (host network) serving /srv/www, and a
# health-check client that keeps one keep-alive connection to it and polls every second.
# Nothing malicious: no disguise, no hidden files, no deleted files, no outside peer.
# Usage: lab/scenarios/webapp.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init webapp "$@"

LISTEN=127.88.0.1:8080
mkdir -p "$WORK/srv/app" "$WORK/srv/www"
for f in httpd.pl client.pl run.sh; do lab_template "$SPEC/$f" "$WORK/srv/app/$f"; done
chmod 755 "$WORK/srv/app/run.sh"
cp "$SPEC/index.html" "$WORK/srv/www/index.html"

lab_need_free "$LISTEN"
lab_create --env LISTEN=$LISTEN --env TARGET=$LISTEN --env DOCROOT=/srv/www --env APP_ENV=staging \
    --hostname bookshop-web -- /bin/sh /srv/app/run.sh
lab_podman cp "$WORK/srv" "$CTR:/" || lab_die "podman cp of /srv failed"
lab_start

lab_wait "web server listening on $LISTEN" 15 lab_listening ${LISTEN%:*} ${LISTEN#*:}
lab_wait "client made 6 requests" 20 lab_cexec sh -c '[ $(wc -l < /var/log/webapp/client.log) -ge 6 ]'

lab_finish /srv/app/run.sh /srv/app/httpd.pl /srv/app/client.pl /srv/www/index.html \
    /var/log/webapp/access.log /var/log/webapp/client.log

cat >"$WORK/params.json" <<EOF
{"listen": "$LISTEN", "malicious": false}
EOF
"$LAB_PY" - "$WORK/live.json" "$LISTEN" >"$WORK/facts.json" <<'EOF'
import json, sys
live, listen = json.load(open(sys.argv[1])), sys.argv[2]
def find(pred):
    return [p["pid"] for p in live["processes"] if any(pred(f.get("socket", {})) for f in p["fds"])]
print(json.dumps({
    "malicious": False,
    "server_pids": find(lambda s: s.get("local") == listen and s.get("state") == "LISTEN"),
    "client_pids": find(lambda s: s.get("remote") == listen and s.get("state") == "ESTABLISHED"),
    "process_count": len(live["processes"]),
}, indent=2))
EOF
lab_truth --description "benign control: Perl HTTP server on $LISTEN and a keep-alive health-check client, started by the entrypoint" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
