#!/usr/bin/python3
# kcsi lab specimen (benign): a service-discovery and health agent. Keeps one connected UDP
# socket to its cluster DNS server @@RES_ADDR@@:@@RES_PORT@@ and resolves, in a loop, the
# names it watches: cluster services, the pods of headless services (hashed pod names),
# SRV records, CDN and SaaS endpoints. Many unique names, some long hashed labels, nothing
# encoded: a DNS-heavy workload that must come out clean.
import random, socket, string, struct, time

rnd = random.Random(@@SEED@@)
ALPHA = "bcdfghjklmnpqrstvwxz2456789"
def h(n):
    return "".join(rnd.choice(ALPHA) for _ in range(n))

services = ["checkout", "cart", "catalog", "search", "payments", "ledger", "auth", "profile", "orders", "shipping",
            "inventory", "pricing", "reviews", "recommend", "notify", "mailer", "media", "thumbs", "reports", "audit"]
namespaces = ["prod", "shop", "platform", "data"]
names = []
for ns in namespaces:
    for s in services:
        names.append("%s.%s.svc.cluster.local" % (s, ns))
        names.append("_http._tcp.%s.%s.svc.cluster.local" % (s, ns))
        rs = h(10)
        for _ in range(3):
            names.append("%s-%s-%s.%s.%s.svc.cluster.local" % (s, rs, h(5), s, ns))
for _ in range(25):
    names.append("d%s.cloudfront.net" % "".join(rnd.choice(string.ascii_lowercase + string.digits) for _ in range(13)))
names += ["api.stripe.com", "hooks.slack.com", "sqs.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com",
          "sts.amazonaws.com", "oauth2.googleapis.com", "api.github.com", "registry-1.docker.io",
          "o%d.ingest.sentry.io" % rnd.randrange(100000, 999999), "events.pagerduty.com"]

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.connect(("@@RES_ADDR@@", @@RES_PORT@@))
sock.settimeout(0.5)
qid = rnd.randrange(65536)
stats = {"queries": 0, "answers": 0}
while True:
    for name in names:
        qtype = 33 if name.startswith("_") else 1
        msg = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
        msg += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", qtype, 1)
        sock.send(msg)
        stats["queries"] += 1
        try:
            sock.recv(512)
            stats["answers"] += 1
        except OSError:
            pass
        qid = (qid + 1) & 0xFFFF
        time.sleep(0.01)
    with open("/var/log/discovery/stats.log", "a") as f:
        f.write("%s queries=%d answers=%d\n" % (time.strftime("%H:%M:%S"), stats["queries"], stats["answers"]))
