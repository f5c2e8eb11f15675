#!/bin/bash
# Scenario ci-job (benign control): a CI job with cloud and registry credentials in its
# environment that does nothing bad. pid 1 is the job's shell (run.sh) which writes ~/.npmrc
# from NPM_TOKEN and execs the publish step (python3): it packs the workspace into
# /tmp/build/artifact.tgz and uploads it every second to the company's artifact store on
# 127.175.x.y with its GitHub token in the Authorization header. AWS keys are in the
# environment too (unused by this step). Nothing malicious.
# Usage: lab/scenarios/ci-job.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init ci-job "$@"
lab_use_tools_image

STORE="$(lab_addr 175):$(lab_pick 80 8080 9000)"
SHA=$(lab_hex 20)
lab_host_dir CI ci
lab_host_dir WS workspace
lab_template "$SPEC/run.sh" "$CI/run.sh"
lab_template "$SPEC/publish.py" "$CI/publish.py"
chmod 755 "$CI/run.sh"
mkdir -p "$WS/src"
printf 'def main():\n    print("hello")\n' >"$WS/src/app.py"
printf '{"name": "storefront", "version": "3.%d.0"}\n' "$(lab_rand 1 40)" >"$WS/package.json"
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" secrets "$WORK/sec" >/dev/null || lab_die "fakedata failed"
V=$WORK/sec/values.json
NPM="npm_$("$LAB_PY" -c 'import random,string; R=random.SystemRandom(); print("".join(R.choice(string.ascii_letters+string.digits) for _ in range(36)))')"

lab_peer_on store "$STORE" perl "$PEERS/sink.pl" --listen "$STORE" --respond ok --body '{"stored":true}' \
    --server Artifactory --summary "$WORK/peer-store.json"

lab_run --env APP_ENV=ci --env CI=true --env "CI_COMMIT_SHA=$SHA" \
    --env "AWS_ACCESS_KEY_ID=$(lab_json_pick "$V" aws_access_key_id)" \
    --env "AWS_SECRET_ACCESS_KEY=$(lab_json_pick "$V" aws_secret_access_key)" --env AWS_DEFAULT_REGION=eu-central-1 \
    --env "GITHUB_TOKEN=$(lab_json_pick "$V" github_token)" --env "NPM_TOKEN=$NPM" \
    --env "ARTIFACT_URL=http://$STORE/artifacts/storefront" \
    -v "$CI:/srv/ci:ro" -v "$WS:/srv/workspace:ro" --hostname runner-job -- /srv/ci/run.sh
lab_wait "4 uploads stored" 20 lab_json "$WORK/peer-store.json" 'd["sessions"] and d["sessions"][0].get("request_count", 0) >= 4'

lab_finish /srv/ci/run.sh /srv/ci/publish.py /tmp/build/artifact.tgz /root/.npmrc

lab_kv_json "$WORK/params.json" "malicious:=false" "store=$STORE" \
    "secrets:=$(lab_json_pick "$V" aws_access_key_id github_token)" "npm_token=$NPM"
lab_facts --conn "publisher=$STORE" --set malicious=false
lab_truth --description "benign control: CI job with AWS, GitHub and npm credentials in its environment publishing an artifact to $STORE" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
