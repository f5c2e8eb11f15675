#!/usr/bin/python3
"""retarget.py SRC DST IMAGE_ID — copy a podman checkpoint export (plain, gzip or zstd) to a
plain tar DST whose config.dump names IMAGE_ID as rootfsImageID. Everything else is copied
as it is. Used by restore-check.sh when the archive's image ID is not on this machine."""
import io
import json
import subprocess
import sys
import tarfile

src, dst, image_id = sys.argv[1:4]
with open(src, "rb") as f:
    zstd = f.read(4) == b"\x28\xb5\x2f\xfd"
if zstd:
    proc = subprocess.Popen(["zstd", "-dcq", src], stdout=subprocess.PIPE)
    tin = tarfile.open(fileobj=proc.stdout, mode="r|")
else:
    tin = tarfile.open(src, "r:*")
with tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as tout:
    for m in tin:
        data = tin.extractfile(m) if m.isreg() else None
        name = m.name[2:] if m.name.startswith("./") else m.name
        if name == "config.dump":
            c = json.load(data)
            c["rootfsImageID"] = image_id
            raw = json.dumps(c).encode()
            m.size = len(raw)
            data = io.BytesIO(raw)
        tout.addfile(m, data)
