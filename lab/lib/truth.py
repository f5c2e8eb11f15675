#!/usr/bin/python3
"""lab/lib/truth.py — assemble a scenario's ground-truth file (OUT/NAME.truth.json).

Everything in it was observed while the container ran (collect.pl snapshots taken right
before and right after the checkpoint, podman inspect, the peers' own logs), plus the
parameters the scenario planted. The format is documented in lab/README.md.
"""
import argparse
import hashlib
import json
import os
import subprocess
import time

SCHEMA = "kcsi-lab-truth/1"


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:
        return None


def first_word_after(text, key):
    for line in (text or "").splitlines():
        if line.startswith(key):
            return line.split()[1]
    return None


def last_word(text):
    w = (text or "").split()
    return w[-1] if w else None


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load(path, default=None):
    if not path or not os.path.exists(path) or os.path.getsize(path) == 0:
        return default
    with open(path) as f:
        return json.load(f)


def proc_key(p):
    return (p["pid"], p.get("comm"), p.get("exe"), tuple(p.get("cmdline") or []))


def compare(live, after):
    """What changed between the snapshot before the checkpoint and the one after it."""
    if not after:
        return None
    b = {p["pid"]: p for p in live["processes"]}
    a = {p["pid"]: p for p in after["processes"]}
    changed = sorted(pid for pid in set(a) & set(b) if proc_key(a[pid]) != proc_key(b[pid]))
    fds_changed = sorted(
        pid for pid in set(a) & set(b)
        if [(f["fd"], f["target"]) for f in a[pid]["fds"]] != [(f["fd"], f["target"]) for f in b[pid]["fds"]]
    )
    sk = lambda s: (s.get("proto"), s.get("local"), s.get("remote"), s.get("state"), s.get("path"))
    sb = sorted(map(sk, live["sockets"]), key=str)
    sa = sorted(map(sk, after["sockets"]), key=str)
    return {
        "collected_at": after["collected_at"],
        "same_processes": set(a) == set(b) and not changed,
        "appeared": sorted(set(a) - set(b)),
        "disappeared": sorted(set(b) - set(a)),
        "changed": changed,
        "fds_changed": fds_changed,
        "same_sockets": sa == sb,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--description", default="")
    ap.add_argument("--container", required=True)
    ap.add_argument("--live", required=True)
    ap.add_argument("--after")
    ap.add_argument("--inspect")
    ap.add_argument("--archives")
    ap.add_argument("--t0", type=float)
    ap.add_argument("--peer", action="append", default=[], help="ROLE=PID=SUMMARY.json")
    ap.add_argument("--facts", help="JSON file: scenario facts observed live")
    ap.add_argument("--params", help="JSON file: what the scenario planted")
    ap.add_argument("--dump-log", help="CRIU dump.log saved beside the archive")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    live = load(a.live)
    after = load(a.after)
    insp = (load(a.inspect) or [{}])[0]
    cfg = insp.get("Config", {})

    archives = []
    if a.archives and os.path.exists(a.archives):
        for line in open(a.archives):
            path, comp, when, secs = line.rstrip("\n").split("\t")
            archives.append({
                "file": os.path.basename(path),
                "compression": comp,
                "bytes": os.path.getsize(path),
                "sha256": sha256_file(path),
                "checkpointed_at": when,
                "checkpoint_seconds": float(secs),
            })

    peers = []
    for spec in a.peer:
        role, pid, summary = spec.split("=", 2)
        peers.append({"role": role, "host_pid": int(pid), "summary": load(summary, {})})

    criu_v = first_word_after(sh(["criu", "--version"]), "Version:")
    truth = {
        "schema": SCHEMA,
        "scenario": a.scenario,
        "description": a.description,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {
            "kernel": os.uname().release,
            "machine": os.uname().machine,
            "podman": last_word(sh(["podman", "--version"])),
            "runc": last_word((sh(["runc", "--version"]) or "").split("\n")[0]),
            "criu": criu_v,
        },
        "container": {
            "name": insp.get("Name", a.container),
            "id": insp.get("Id"),
            "image": insp.get("ImageName"),
            "image_id": insp.get("Image"),
            "created": insp.get("Created"),
            "command": (insp.get("Config", {}) or {}).get("Cmd"),
            "entrypoint": cfg.get("Entrypoint"),
            "env": cfg.get("Env"),
            "hostname": cfg.get("Hostname"),
            "labels": cfg.get("Labels"),
            "init_host_pid": insp.get("State", {}).get("Pid"),
            "network_mode": insp.get("HostConfig", {}).get("NetworkMode"),
        },
        "archives": archives,
        "dump_log": os.path.basename(a.dump_log) if a.dump_log and os.path.exists(a.dump_log) else None,
        "collected_at": live["collected_at"],
        "processes": live["processes"],
        "sockets": live["sockets"],
        "files": live["files"],
        "peers": peers,
        "params": load(a.params, {}),
        "facts": load(a.facts, {}),
        "after_checkpoint": compare(live, after),
    }
    if a.t0:
        truth["scenario_seconds"] = round(time.time() - a.t0, 1)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(truth, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
