#!/bin/bash
# Scenario ircdocs (benign control): a documentation portal whose articles include a guide to
# the IRC protocol (NICK, USER, JOIN #channel, PRIVMSG, PING/PONG examples). pid 1 is a Perl
# server that loads every article into memory and serves them on 127.123.x.y:8080; a crawler
# on the host (the search indexer) fetches the articles and runs searches over one keep-alive
# connection. IRC words in memory, no IRC anywhere. Nothing malicious.
# Usage: lab/scenarios/ircdocs.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init ircdocs "$@"

LISTEN="$(lab_addr 123):8080"
lab_host_dir APP app
lab_host_dir DOCS docs
lab_template "$SPEC/docsd.pl" "$APP/docsd.pl"
cp "$SPEC"/docs/* "$DOCS/"
PATHS='/docs/getting-started.md|/docs/irc-client-guide.txt|/search?q=privmsg|/docs/api.md|/search?q=join+channel'

lab_need_free "$LISTEN"
lab_run --env APP_ENV=prod --env "LISTEN=$LISTEN" --env DOCS_DIR=/srv/docs -v "$APP:/srv/portal:ro" \
    -v "$DOCS:/srv/docs:ro" --hostname docs-portal -- perl /srv/portal/docsd.pl
lab_wait "portal listening on $LISTEN" 10 lab_listening ${LISTEN%:*} ${LISTEN#*:}
lab_peer crawler perl "$PEERS/scraper.pl" --connect "$LISTEN" --paths "$PATHS" --interval 0.5 \
    --agent "portal-indexer/3.2 (+https://intranet.invalid/indexer)" --summary "$WORK/peer-crawler.json"
lab_wait "the crawler read every page" 15 lab_json "$WORK/peer-crawler.json" 'd["requests"] >= 6'

lab_finish /srv/portal/docsd.pl /srv/docs/irc-client-guide.txt /var/log/docs/access.log

lab_kv_json "$WORK/params.json" "malicious:=false" "listen=$LISTEN" "irc_text=/srv/docs/irc-client-guide.txt" \
    "crawler_paths:=$(IFS='|'; lab_json_list $PATHS)"
lab_facts --listen "server=$LISTEN" --set malicious=false
lab_truth --description "benign control: documentation portal on $LISTEN with an IRC protocol guide loaded in memory, crawled by an indexer" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
