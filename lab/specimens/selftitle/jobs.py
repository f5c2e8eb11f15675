#!/usr/bin/python3
# kcsi lab specimen: a benign Python worker that sets its own process title the way the
# setproctitle module does (the argument area rewritten, comm set): '@@NAME@@: waiting for jobs'.
import ctypes
import time


def set_title(title, comm):
    f = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
    start, end = int(f[45]), int(f[46])
    t = title.encode()[:end - start - 2] + b"\0"
    with open("/proc/self/mem", "r+b", buffering=0) as m:
        m.seek(start)
        m.write(t + b" " * (end - start - len(t)))
    ctypes.CDLL(None).prctl(15, comm.encode()[:15], 0, 0, 0)


set_title("@@NAME@@: waiting for jobs", "@@NAME@@")
done = 0
while True:
    done += sum(i * i for i in range(1000)) > 0
    time.sleep(1)
