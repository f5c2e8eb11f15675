#!/usr/bin/python3
"""lab/lib/facts.py — scenario facts derived from a live snapshot (collect.pl's JSON).

    facts.py LIVE.json [--conn KEY=ADDR:PORT] [--listen KEY=ADDR:PORT] [--proc KEY=REGEX]
                       [--set KEY=JSON]...

Prints one JSON object:
  --conn KEY=A:P    KEY: the processes holding a socket (tcp or udp) whose remote end is A:P,
                    each {pid, ppid, comm, exe, cmdline, fds, socket}; KEY_pid: the first
                    pid (or null)
  --listen KEY=A:P  the same for sockets whose local end is A:P and that are not connected
                    (TCP LISTEN, UDP unconnected)
  --proc KEY=REGEX  the processes whose command line (joined with spaces) or exe matches
  --set KEY=JSON    KEY: the JSON value as given
Everything is what was seen; nothing is expected here.
"""
import argparse
import json
import re


def proc_row(p, fds=None, sock=None):
    row = {"pid": p["pid"], "ppid": p["ppid"], "comm": p["comm"], "exe": p["exe"],
           "cmdline": p["cmdline"]}
    if fds is not None:
        row["fds"] = fds
        row["socket"] = sock
    return row


def by_socket(live, want, match):
    out = []
    for p in live["processes"]:
        hits = [f for f in p["fds"] if f.get("socket") and match(f["socket"], want)]
        if hits:
            out.append(proc_row(p, sorted(f["fd"] for f in hits), hits[0]["socket"]))
    return out


def remote_is(s, want):
    return s.get("remote") == want and s.get("state") not in ("LISTEN", "UNCONN")


def local_listens(s, want):
    return s.get("local") == want and s.get("state") in ("LISTEN", "UNCONN")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("live")
    ap.add_argument("--conn", action="append", default=[])
    ap.add_argument("--listen", action="append", default=[])
    ap.add_argument("--proc", action="append", default=[])
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    live = json.load(open(a.live))
    out = {}

    def put(key, rows):
        out[key] = rows
        out[key + "_pid"] = rows[0]["pid"] if rows else None

    for spec in a.conn:
        key, want = spec.split("=", 1)
        put(key, by_socket(live, want, remote_is))
    for spec in a.listen:
        key, want = spec.split("=", 1)
        put(key, by_socket(live, want, local_listens))
    for spec in a.proc:
        key, rx = spec.split("=", 1)
        r = re.compile(rx)
        put(key, [proc_row(p) for p in live["processes"]
                  if r.search(" ".join(p["cmdline"])) or r.search(p["exe"] or "")])
    for spec in a.set:
        key, val = spec.split("=", 1)
        out[key] = json.loads(val)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
