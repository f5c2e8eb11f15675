#!/bin/sh
# kcsi lab specimen (benign): a CI job as a runner starts it. It configures npm with the token
# of its environment, builds an artifact (a tar.gz of the workspace) under /tmp/build and
# publishes it with its own credentials to the company's artifact store (127.x), again and
# again, as a long release step does.
set -e
mkdir -p /tmp/build /root
printf '//registry.npmjs.org/:_authToken=%s\n' "$NPM_TOKEN" > /root/.npmrc
cd /srv/workspace
exec python3 /srv/ci/publish.py
