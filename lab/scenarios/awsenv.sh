#!/bin/bash
# Scenario awsenv (benign control): a workload with cloud credentials in its environment doing
# its normal work. pid 1 is a Python uploader with AWS_ACCESS_KEY_ID (AKIA...),
# AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION and AWS_ENDPOINT_URL (a local S3-compatible store
# on 127.122.x.y:9000) in its environment; it PUTs a small manifest every second, signed with
# AWS Signature Version 4. The keys are its own and go only to its own store. Nothing malicious.
# Usage: lab/scenarios/awsenv.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init awsenv "$@"
lab_use_tools_image

S3="$(lab_addr 122):9000"
BUCKET=thumbnails-$(lab_hex 3)
lab_host_dir APP app
lab_template "$SPEC/sync.py" "$APP/sync.py"
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" secrets "$WORK/sec" >/dev/null || lab_die "fakedata failed"
V=$WORK/sec/values.json

lab_peer_on s3 "$S3" perl "$PEERS/sink.pl" --listen "$S3" --respond ok --body '' --server MinIO --summary "$WORK/peer-s3.json"

lab_run --env APP_ENV=prod --env "AWS_ACCESS_KEY_ID=$(lab_json_pick "$V" aws_access_key_id)" \
    --env "AWS_SECRET_ACCESS_KEY=$(lab_json_pick "$V" aws_secret_access_key)" --env AWS_DEFAULT_REGION=eu-west-1 \
    --env "AWS_ENDPOINT_URL=http://$S3" --env "S3_BUCKET=$BUCKET" -v "$APP:/srv/s3sync:ro" \
    --hostname s3-sync -- python3 /srv/s3sync/sync.py
lab_wait "4 objects stored" 15 lab_json "$WORK/peer-s3.json" 'd["sessions"] and d["sessions"][0].get("request_count", 0) >= 4'

lab_finish /srv/s3sync/sync.py /var/log/s3sync.log

lab_kv_json "$WORK/params.json" "malicious:=false" "endpoint=$S3" "bucket=$BUCKET" \
    "env_names:=$(lab_json_list AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION AWS_ENDPOINT_URL)" \
    "secrets:=$(lab_json_pick "$V" aws_access_key_id aws_secret_access_key)"
lab_facts --conn "uploader=$S3" --set malicious=false
lab_truth --description "benign control: S3 uploader with its AWS keys in the environment, PUTting signed objects to its own store $S3" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
