#!/usr/bin/python3
# kcsi lab specimen (benign): the publish step of a CI job. Packs the workspace into
# /tmp/build/artifact.tgz and uploads it every second to ARTIFACT_URL with the job's token
# in an Authorization header (keep-alive), logging each upload.
import http.client, os, tarfile, time, urllib.parse

os.makedirs("/tmp/build", exist_ok=True)
with tarfile.open("/tmp/build/artifact.tgz", "w:gz") as t:
    t.add("/srv/workspace", arcname="workspace")
blob = open("/tmp/build/artifact.tgz", "rb").read()
u = urllib.parse.urlparse(os.environ["ARTIFACT_URL"])
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
log = open("/var/log/ci-publish.log", "a", buffering=1)
n = 0
while True:
    n += 1
    conn.request("PUT", "%s/%s/artifact-%d.tgz" % (u.path, os.environ.get("CI_COMMIT_SHA", "dev")[:12], n), body=blob,
                 headers={"Authorization": "token " + os.environ["GITHUB_TOKEN"],
                          "Content-Type": "application/gzip", "User-Agent": "ci-publish/2.3"})
    r = conn.getresponse()
    r.read()
    log.write("upload %d: %d\n" % (n, r.status))
    time.sleep(1)
