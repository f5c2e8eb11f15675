#!/usr/bin/python3
"""lab/lib/fakedata.py — realistic but freshly random data for the lab scenes. Nothing here
is a real secret: every key, token and password is generated on the spot and used nowhere.

    fakedata.py secrets DIR [--namespace NS] [--pod POD] [--sa NAME]
        writes into DIR: token (a Kubernetes service-account JWT), namespace, ca.crt (a
        self-signed CA made by openssl), aws_credentials (AKIA... key pair), gcp_sa.json (a
        GCP service-account key file with an RSA key), kubeconfig, rsa_key.pem (PKCS#8 RSA
        private key), docker_config.json, gcloud_adc.json (application-default credentials
        of a user: refresh token), id_ed25519 / id_ed25519.pub (ssh-keygen), and
        values.json: every generated value by name (see VALUES below)
    fakedata.py tls DIR NAME     a CA (ca.pem) and a server certificate for NAME signed by it
                                 (server.pem, server.key), made by openssl
    fakedata.py customers N      CSV of N made-up customers on stdout
    fakedata.py maillog N DOMAIN a mail-delivery application log of N lines on stdout

VALUES: aws_access_key_id, aws_secret_access_key, stripe_key (sk_live_...), github_token
(ghp_... with its CRC32 checksum), slack_token (xoxb-...), jwt (the service-account token),
jwt_sub, namespace, pod, serviceaccount, gcp_project, gcp_client_email, gcp_private_key_id,
gcp_adc_client_id, gcp_adc_client_secret, gcp_adc_refresh_token,
rsa_key_sha256, ssh_pubkey, ssh_key_comment, docker_registry, docker_auth, db_password.
"""
import base64
import hashlib
import json
import os
import random
import string
import subprocess
import sys
import time
import uuid
import zlib

R = random.SystemRandom()
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
FIRST = ["olivia", "liam", "emma", "noah", "ava", "lucas", "mia", "mateo", "sofia", "leo", "amelia",
         "hugo", "chloe", "arthur", "ines", "jonas", "lena", "finn", "maya", "omar", "yuki", "ravi"]
LAST = ["martin", "bernard", "dubois", "schmidt", "novak", "rossi", "garcia", "silva", "kowalski",
        "jensen", "nakamura", "okafor", "haddad", "moreau", "weber", "costa", "singh", "larsen"]
MAILDOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "proton.me", "gmx.de", "orange.fr", "web.de"]


def rand(alphabet, n):
    return "".join(R.choice(alphabet) for _ in range(n))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def base62(n, width):
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return out.rjust(width, "0")


def github_token():
    body = rand(B62, 30)
    return "ghp_" + body + base62(zlib.crc32(body.encode()), 6)


def openssl(*args, stdin=None):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True).stdout


def secrets(outdir, ns, pod, sa):
    os.makedirs(outdir, exist_ok=True)
    now = int(time.time())
    pod = pod or "%s-%s-%s" % (sa, rand(string.ascii_lowercase + string.digits, 10), rand(string.ascii_lowercase + string.digits, 5))
    v = {"namespace": ns, "pod": pod, "serviceaccount": sa}
    # Kubernetes projected service-account token: RS256 JWT (random signature)
    iss = "https://kubernetes.default.svc.cluster.local"
    header = {"alg": "RS256", "kid": b64url(os.urandom(32))}
    claims = {"aud": [iss], "exp": now + 3607, "iat": now - 60, "iss": iss,
              "kubernetes.io": {"namespace": ns, "pod": {"name": pod, "uid": str(uuid.uuid4())},
                                "serviceaccount": {"name": sa, "uid": str(uuid.uuid4())},
                                "warnafter": now + 3600},
              "nbf": now - 60, "sub": "system:serviceaccount:%s:%s" % (ns, sa)}
    jwt = ".".join([b64url(json.dumps(header, separators=(",", ":")).encode()),
                    b64url(json.dumps(claims, separators=(",", ":")).encode()),
                    b64url(os.urandom(256))])
    v.update(jwt=jwt, jwt_sub=claims["sub"])
    with open(os.path.join(outdir, "token"), "w") as f:
        f.write(jwt)
    with open(os.path.join(outdir, "namespace"), "w") as f:
        f.write(ns)
    key = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
    ca = subprocess.run(["openssl", "req", "-x509", "-key", "/dev/stdin", "-subj", "/CN=kubernetes",
                         "-days", "3650", "-sha256"], input=key, capture_output=True, check=True).stdout
    with open(os.path.join(outdir, "ca.crt"), "wb") as f:
        f.write(ca)
    # AWS key pair
    v["aws_access_key_id"] = "AKIA" + rand(string.ascii_uppercase + "234567", 16)
    v["aws_secret_access_key"] = rand(string.ascii_letters + string.digits + "+/", 40)
    with open(os.path.join(outdir, "aws_credentials"), "w") as f:
        f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = eu-west-1\n"
                % (v["aws_access_key_id"], v["aws_secret_access_key"]))
    # a private key of the workload (PKCS#8 PEM) and a GCP service-account key file with another
    rsa = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
    with open(os.path.join(outdir, "rsa_key.pem"), "wb") as f:
        f.write(rsa)
    v["rsa_key_sha256"] = hashlib.sha256(rsa).hexdigest()
    project = "%s-%d" % (R.choice(["payments", "shop", "analytics", "platform"]), R.randint(100000, 999999))
    v["gcp_project"] = project
    v["gcp_client_email"] = "%s@%s.iam.gserviceaccount.com" % (sa, project)
    v["gcp_private_key_id"] = os.urandom(20).hex()
    gcp = {"type": "service_account", "project_id": project, "private_key_id": v["gcp_private_key_id"],
           "private_key": key.decode(), "client_email": v["gcp_client_email"],
           "client_id": str(R.randint(10 ** 20, 10 ** 21 - 1)),
           "auth_uri": "https://accounts.google.com/o/oauth2/auth",
           "token_uri": "https://oauth2.googleapis.com/token",
           "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
           "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                                   + v["gcp_client_email"].replace("@", "%40"),
           "universe_domain": "googleapis.com"}
    with open(os.path.join(outdir, "gcp_sa.json"), "w") as f:
        json.dump(gcp, f, indent=2)
    # kubeconfig with the token
    with open(os.path.join(outdir, "kubeconfig"), "w") as f:
        f.write("apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n"
                "    certificate-authority-data: %s\n    server: https://kubernetes.default.svc\n"
                "  name: prod\ncontexts:\n- context:\n    cluster: prod\n    namespace: %s\n    user: %s\n"
                "  name: prod\ncurrent-context: prod\nusers:\n- name: %s\n  user:\n    token: %s\n"
                % (base64.b64encode(ca).decode(), ns, sa, sa, jwt))
    # registry credentials
    v["docker_registry"] = "registry.%s.internal" % project.split("-")[0]
    v["db_password"] = rand(string.ascii_letters + string.digits, 20)
    v["docker_auth"] = base64.b64encode(("ci-bot:" + v["db_password"]).encode()).decode()
    with open(os.path.join(outdir, "docker_config.json"), "w") as f:
        json.dump({"auths": {v["docker_registry"]: {"auth": v["docker_auth"]}}}, f, indent=2)
    # gcloud application-default credentials (an authorized user's refresh token)
    v["gcp_adc_client_id"] = "%d-%s.apps.googleusercontent.com" % (R.randint(10 ** 11, 10 ** 12 - 1),
                                                                   rand(string.ascii_lowercase + string.digits, 32))
    v["gcp_adc_client_secret"] = "GOCSPX-" + rand(B62 + "-_", 28)
    v["gcp_adc_refresh_token"] = "1//0" + rand(B62 + "-_", 99)
    with open(os.path.join(outdir, "gcloud_adc.json"), "w") as f:
        json.dump({"account": "", "client_id": v["gcp_adc_client_id"], "client_secret": v["gcp_adc_client_secret"],
                   "quota_project_id": project, "refresh_token": v["gcp_adc_refresh_token"],
                   "type": "authorized_user", "universe_domain": "googleapis.com"}, f, indent=2)
    # SaaS tokens
    v["stripe_key"] = "sk_live_" + rand(B62, 24)
    v["github_token"] = github_token()
    v["slack_token"] = "xoxb-%d-%d-%s" % (R.randint(10 ** 11, 10 ** 12 - 1), R.randint(10 ** 12, 10 ** 13 - 1),
                                          rand(string.ascii_letters + string.digits, 24))
    # an ssh key pair (the public half is what persistence plants)
    kp = os.path.join(outdir, "id_ed25519")
    for p in (kp, kp + ".pub"):
        if os.path.exists(p):
            os.unlink(p)
    v["ssh_key_comment"] = "%s@%s" % (R.choice(FIRST), R.choice(["kali", "build-07", "laptop", "vps"]))
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", v["ssh_key_comment"], "-f", kp],
                   check=True, stdin=subprocess.DEVNULL)
    v["ssh_pubkey"] = open(kp + ".pub").read().strip()
    with open(os.path.join(outdir, "values.json"), "w") as f:
        json.dump(v, f, indent=2)
    print(json.dumps(v, indent=2))


def tls(outdir, name):
    os.makedirs(outdir, exist_ok=True)
    p = lambda f: os.path.join(outdir, f)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key"), "-out", p("ca.pem"),
            "-subj", "/O=Internal/CN=Internal Root CA", "-days", "3650", "-sha256")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", p("server.key"), "-out", p("server.csr"),
            "-subj", "/CN=" + name)
    with open(p("ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n" % name)
    openssl("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
            "-CAcreateserial", "-out", p("server.pem"), "-days", "825", "-sha256", "-extfile", p("ext.cnf"))


def person():
    f, l = R.choice(FIRST), R.choice(LAST)
    return f, l, "%s.%s%d@%s" % (f, l, R.randint(1, 99), R.choice(MAILDOMAINS))


def customers(n):
    print("id,first_name,last_name,email,phone,city,card_last4,created")
    cities = ["Lyon", "Berlin", "Porto", "Gdansk", "Aarhus", "Osaka", "Lagos", "Austin", "Leeds"]
    for i in range(n):
        f, l, mail = person()
        print("%d,%s,%s,%s,+%d %09d,%s,%04d,2026-%02d-%02d" % (
            10000 + i, f.title(), l.title(), mail, R.choice([33, 49, 351, 48, 45, 81, 1]),
            R.randint(0, 10 ** 9 - 1), R.choice(cities), R.randint(0, 9999), R.randint(1, 11), R.randint(1, 28)))


def maillog(n, domain):
    t = int(time.time()) - n * 2
    campaigns = ["winter-sale", "order-shipped", "password-reset", "weekly-digest", "back-in-stock"]
    for i in range(n):
        t += R.randint(0, 3)
        _, _, mail = person()
        c = R.choice(campaigns)
        mid = "%s.%s@mail.%s" % (rand(string.digits, 10), rand(string.ascii_lowercase, 6), domain)
        st = R.choice(["sent"] * 12 + ["deferred", "bounced"])
        print("%s INFO delivery campaign=%s to=<%s> from=<news@%s> msgid=<%s> status=%s relay=smtp-relay.%s "
              "track=https://click.%s/c/%s?u=%s unsubscribe=https://www.%s/account/unsubscribe?t=%s"
              % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)), c, mail, domain, mid, st, domain,
                 domain, c, rand(B62, 12), domain, rand(B62, 20)))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "secrets":
        args = dict(zip(sys.argv[3::2], sys.argv[4::2]))
        secrets(sys.argv[2], args.get("--namespace", "prod"), args.get("--pod"), args.get("--sa", "default"))
    elif len(sys.argv) == 4 and sys.argv[1] == "tls":
        tls(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "customers":
        customers(int(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "maillog":
        maillog(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
