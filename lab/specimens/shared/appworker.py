#!/usr/bin/python3
# kcsi lab specimen: a benign workload, the "application" of several scenes. Loads the
# KEY=VALUE settings file named by APP_SETTINGS (if any) into memory, then every second writes
# one line to the log named by APP_LOG (default /var/log/app/worker.log).
import os, time

settings = {}
path = os.environ.get("APP_SETTINGS")
if path:
    for line in open(path):
        k, sep, v = line.strip().partition("=")
        if sep and not k.startswith("#"):
            settings[k] = v.strip('"').replace("\\n", "\n")
os.makedirs(os.path.dirname(os.environ.get("APP_LOG", "/var/log/app/worker.log")), exist_ok=True)
log = open(os.environ.get("APP_LOG", "/var/log/app/worker.log"), "a", buffering=1)
n = 0
while True:
    n += 1
    log.write("%s %s: processed job %d (%d settings)\n" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                                         os.environ.get("APP_NAME", "worker"), n, len(settings)))
    time.sleep(1)
