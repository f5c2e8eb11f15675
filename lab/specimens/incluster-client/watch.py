#!/usr/bin/python3
# kcsi lab specimen (benign): an in-cluster Kubernetes API client, as client libraries work.
# It reads its own service-account token and namespace from the pod's mounted secret, then
# lists the config maps of its namespace every second over one keep-alive connection to the
# API server (a local stand-in on 127.x), with "Authorization: Bearer <token>", and logs
# what it saw.
import http.client, os, time

SA = "/var/run/secrets/kubernetes.io/serviceaccount"
token = open(SA + "/token").read().strip()
ns = open(SA + "/namespace").read().strip()
host, port = os.environ["KUBERNETES_SERVICE_HOST"], int(os.environ["KUBERNETES_SERVICE_PORT"])
conn = http.client.HTTPConnection(host, port, timeout=30)
log = open("/var/log/watcher.log", "a", buffering=1)
while True:
    conn.request("GET", "/api/v1/namespaces/%s/configmaps?limit=50" % ns,
                 headers={"Authorization": "Bearer " + token, "Accept": "application/json",
                          "User-Agent": "config-watcher/1.4 (linux/amd64) kubernetes-client/python"})
    r = conn.getresponse()
    log.write("%s list configmaps %d %d bytes\n" % (time.strftime("%H:%M:%S"), r.status, len(r.read())))
    time.sleep(1)
