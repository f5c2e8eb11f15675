#!/usr/bin/python3
# kcsi lab specimen (benign): an S3 uploader with its AWS credentials in the environment, as
# the SDKs take them (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION,
# AWS_ENDPOINT_URL: a local S3-compatible store on 127.x). Every second it PUTs a small
# thumbnail manifest to S3_BUCKET with an AWS Signature Version 4, over one keep-alive
# connection, and logs the result.
import datetime, hashlib, hmac, http.client, json, os, time, urllib.parse

key, secret = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
endpoint = urllib.parse.urlparse(os.environ["AWS_ENDPOINT_URL"])
bucket = os.environ.get("S3_BUCKET", "thumbnails")
conn = http.client.HTTPConnection(endpoint.hostname, endpoint.port or 80, timeout=30)
log = open("/var/log/s3sync.log", "a", buffering=1)


def sign(k, msg):
    return hmac.new(k, msg.encode(), hashlib.sha256).digest()


def put(path, body):
    now = datetime.datetime.now(datetime.timezone.utc)
    amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    host = endpoint.netloc
    digest = hashlib.sha256(body).hexdigest()
    headers = {"host": host, "x-amz-content-sha256": digest, "x-amz-date": amz}
    signed = ";".join(sorted(headers))
    canon = "\n".join(["PUT", path, "", "".join("%s:%s\n" % (h, headers[h]) for h in sorted(headers)), signed, digest])
    scope = "%s/%s/s3/aws4_request" % (day, region)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canon.encode()).hexdigest()])
    k = sign(sign(sign(sign(("AWS4" + secret).encode(), day), region), "s3"), "aws4_request")
    auth = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        key, scope, signed, hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest())
    conn.request("PUT", path, body=body, headers=dict(headers, Authorization=auth,
                                                      **{"Content-Type": "application/json"}))
    r = conn.getresponse()
    r.read()
    return r.status


n = 0
while True:
    n += 1
    body = json.dumps({"image": "img-%06d.jpg" % n, "sizes": [64, 256, 1024], "at": time.time()}).encode()
    try:
        st = put("/%s/manifests/%06d.json" % (bucket, n), body)
    except (OSError, http.client.HTTPException) as e:
        st = "error %s" % e
        conn.close()
    log.write("%s PUT s3://%s/manifests/%06d.json -> %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%SZ"), bucket, n, st))
    time.sleep(1)
