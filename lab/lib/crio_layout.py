#!/usr/bin/python3
"""Re-pack a podman checkpoint export as the kubelet/CRI-O layout. See make-crio-layout.sh.

What CRI-O (internal/lib/checkpoint.go) puts in a container checkpoint archive, which the
kubelet names checkpoint-<pod>_<namespace>-<container>-<RFC3339 time>.tar:
  stats-dump, dump.log, checkpoint/ (CRIU images), config.dump, spec.dump, bind.mounts,
  rootfs-diff.tar, deleted.files, and the container log stored under the literal file
  name "io.kubernetes.cri-o.LogPath". No network.status, devshm-checkpoint.tar, ctr.log or
  artifacts/ (those are podman's).
config.dump is checkpointctl's ContainerConfig (id, name, rootfsImage, rootfsImageRef,
rootfsImageName, runtime, createdTime, checkpointedTime, restoredTime, restored).
"""
import argparse
import datetime as dt
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import uuid

ZERO_TIME = "0001-01-01T00:00:00Z"
# CRI-O leaves these mounts out of bind.mounts (containerMounts in checkpoint.go)
CONTAINER_MOUNTS = {"/dev", "/dev/shm", "/proc", "/run", "/run/.containerenv", "/run/secrets", "/sys"}


def die(msg):
    print(f"make-crio-layout: ERROR: {msg}", file=sys.stderr)
    sys.exit(1)


def open_input(path, tmpdir):
    """Return a path to an uncompressed tar (decompressing gzip/zstd input first)."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:2] == b"\x1f\x8b":
        out = os.path.join(tmpdir, "in.tar")
        with open(out, "wb") as o:
            subprocess.run(["gzip", "-dc", path], stdout=o, check=True)
        return out
    if magic == b"\x28\xb5\x2f\xfd":
        out = os.path.join(tmpdir, "in.tar")
        with open(out, "wb") as o:
            subprocess.run(["zstd", "-dcq", path], stdout=o, check=True)
        return out
    return path


def norm(name):
    """A member name without a leading "./" and trailing "/"."""
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


def rfc3339_nano(s):
    """Normalise a Go time string (podman's createdTime) for JSON; keep it if it parses."""
    return s if isinstance(s, str) and re.match(r"^\d{4}-\d\d-\d\dT", s) else ZERO_TIME


def main():
    ap = argparse.ArgumentParser(prog="make-crio-layout.sh",
                                 description="re-pack a podman checkpoint export in the kubelet/CRI-O layout")
    ap.add_argument("input")
    ap.add_argument("outdir")
    ap.add_argument("--pod", default="shop-7d9f8b6c5-x2k4q")
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--container", help="container name (default: the podman container's name)")
    ap.add_argument("--pod-uid", help="pod UID (default: random UUID)")
    ap.add_argument("--ip", default="10.244.1.17", help="pod IP written into io.kubernetes.cri-o.IP.0 (text only)")
    ap.add_argument("--time", help="checkpoint time, RFC3339 UTC (default: the CRIU images' mtime)")
    ap.add_argument("--dump-log", help="CRIU dump.log (default: INPUT without .tar* + .dump.log, if present)")
    ap.add_argument("--runtime", default="runc")
    ap.add_argument("--restart-count", type=int, default=0)
    a = ap.parse_args()

    if not os.path.isfile(a.input):
        die(f"{a.input}: no such file")
    os.makedirs(a.outdir, exist_ok=True)
    tmpdir = tempfile.mkdtemp(prefix="crio-layout.")
    try:
        src = open_input(a.input, tmpdir)
        try:
            tin = tarfile.open(src, "r:")
        except tarfile.TarError as e:
            die(f"{a.input}: not a tar archive ({e})")
        members = tin.getmembers()
        names = {norm(m.name): m for m in members}
        for need in ("config.dump", "spec.dump", "checkpoint"):
            if need not in names:
                die(f"{a.input}: no {need} — not a podman checkpoint export")

        pconf = json.load(tin.extractfile(names["config.dump"]))
        spec = json.load(tin.extractfile(names["spec.dump"]))
        ctr_log = tin.extractfile(names["ctr.log"]).read() if "ctr.log" in names else b""

        cpt_members = [m for m in members if norm(m.name) == "checkpoint" or norm(m.name).startswith("checkpoint/")]
        if a.time:
            when = dt.datetime.strptime(a.time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        else:
            mt = max((m.mtime for m in cpt_members), default=int(os.path.getmtime(a.input)))
            when = dt.datetime.fromtimestamp(mt, dt.timezone.utc)
        when_s = when.strftime("%Y-%m-%dT%H:%M:%SZ")

        cid = pconf.get("id") or hashlib.sha256(os.urandom(16)).hexdigest()
        ctr = a.container or re.sub(r"[^a-z0-9-]", "-", (pconf.get("name") or "app").lower()).strip("-")[:63]
        pod, ns = a.pod, a.namespace
        uid = a.pod_uid or str(uuid.uuid4())
        attempt = a.restart_count
        sandbox_id = hashlib.sha256(f"sandbox:{pod}:{ns}:{uid}".encode()).hexdigest()
        image = pconf.get("rootfsImageName") or pconf.get("RawImageName") or ""
        image_ref = pconf.get("rootfsImageID") or ""
        created = rfc3339_nano(pconf.get("createdTime"))
        kname = f"k8s_{ctr}_{pod}_{ns}_{uid}_{attempt}"
        log_path = f"/var/log/pods/{ns}_{pod}_{uid}/{ctr}/{attempt}.log"
        term_path = f"/var/lib/kubelet/pods/{uid}/containers/{ctr}/{hashlib.sha256(cid.encode()).hexdigest()[:8]}"

        config_dump = {
            "id": cid,
            "name": kname,
            "rootfsImage": image,
            "rootfsImageRef": image_ref,
            "rootfsImageName": image,
            "runtime": a.runtime,
            "createdTime": created,
            "checkpointedTime": when_s,
            "restoredTime": ZERO_TIME,
            "restored": False,
        }

        labels = {
            "io.kubernetes.container.name": ctr,
            "io.kubernetes.pod.name": pod,
            "io.kubernetes.pod.namespace": ns,
            "io.kubernetes.pod.uid": uid,
        }
        kube_annotations = {
            "io.kubernetes.container.hash": hashlib.sha256(f"{ctr}{image}".encode()).hexdigest()[:8],
            "io.kubernetes.container.restartCount": str(attempt),
            "io.kubernetes.container.terminationMessagePath": "/dev/termination-log",
            "io.kubernetes.container.terminationMessagePolicy": "File",
            "io.kubernetes.pod.terminationGracePeriod": "30",
        }
        compact = lambda o: json.dumps(o, separators=(",", ":"), sort_keys=True)
        ann = {}
        ann.update(kube_annotations)
        ann.update(labels)
        ann.update({
            "io.container.manager": "cri-o",
            "io.kubernetes.cri-o.Annotations": compact(kube_annotations),
            "io.kubernetes.cri-o.ContainerID": cid,
            "io.kubernetes.cri-o.ContainerName": kname,
            "io.kubernetes.cri-o.ContainerType": "container",
            "io.kubernetes.cri-o.Created": created,
            "io.kubernetes.cri-o.IP.0": a.ip,
            "io.kubernetes.cri-o.Image": image_ref or image,
            "io.kubernetes.cri-o.ImageName": image,
            "io.kubernetes.cri-o.ImageRef": image_ref,
            "io.kubernetes.cri-o.Labels": compact(labels),
            "io.kubernetes.cri-o.LogPath": log_path,
            "io.kubernetes.cri-o.Metadata": compact({"name": ctr, **({"attempt": attempt} if attempt else {})}),
            "io.kubernetes.cri-o.MountPoint": f"/var/lib/containers/storage/overlay/{hashlib.sha256(cid.encode()).hexdigest()}/merged",
            "io.kubernetes.cri-o.Name": kname,
            "io.kubernetes.cri-o.ResolvPath": f"/run/containers/storage/overlay-containers/{sandbox_id}/userdata/resolv.conf",
            "io.kubernetes.cri-o.SandboxID": sandbox_id,
            "io.kubernetes.cri-o.SandboxName": f"k8s_{pod}_{ns}_{uid}_0",
            "io.kubernetes.cri-o.SeccompProfilePath": "RuntimeDefault",
            "io.kubernetes.cri-o.Stdin": "false",
            "io.kubernetes.cri-o.StdinOnce": "false",
            "io.kubernetes.cri-o.TTY": "false",
            "io.kubernetes.cri-o.Volumes": compact([
                {"container_path": "/dev/termination-log", "host_path": term_path, "readonly": False,
                 "propagation": 0, "selinux_relabel": False},
            ]),
        })
        spec["annotations"] = dict(sorted(ann.items()))

        bind_mounts = []
        for m in spec.get("mounts", []):
            if m.get("type") != "bind" or m.get("destination") in CONTAINER_MOUNTS:
                continue
            src_path = m.get("source", "")
            if os.path.exists(src_path):
                st = os.stat(src_path)
                ftype, perm = ("directory" if os.path.isdir(src_path) else "file"), st.st_mode & 0o777
            else:  # the podman container is gone: these are files (/etc/hosts, resolv.conf, hostname)
                ftype, perm = "file", 0o644
            bind_mounts.append({"source": src_path, "destination": m["destination"],
                                "file_type": ftype, "permissions": perm})

        deleted = []
        if "deleted.files" in names:
            deleted = json.load(tin.extractfile(names["deleted.files"]))

        dump_log = a.dump_log
        if not dump_log:
            base = re.sub(r"\.tar(\.gz|\.zst)?$", "", a.input)
            if os.path.exists(base + ".dump.log"):
                dump_log = base + ".dump.log"
        if dump_log:
            dump_log_bytes = open(dump_log, "rb").read()
        else:
            dump_log_bytes = b"(CRIU dump.log not available: podman does not export it; made by kcsi lab make-crio-layout)\n"
            print("make-crio-layout: warning: no CRIU dump.log found; writing a placeholder", file=sys.stderr)

        out_name = f"checkpoint-{pod}_{ns}-{ctr}-{when_s}.tar"
        out_path = os.path.join(a.outdir, out_name)
        mtime = int(when.timestamp())

        def add_bytes(tout, name, data, mode=0o600):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime, ti.uid, ti.gid = len(data), mode, mtime, 0, 0
            ti.uname = ti.gname = "root"
            tout.addfile(ti, io.BytesIO(data))

        def copy_member(tout, m):
            ti = tarfile.TarInfo(norm(m.name) + ("/" if m.isdir() else ""))
            for k in ("size", "mode", "mtime", "type", "linkname", "uid", "gid", "uname", "gname"):
                setattr(ti, k, getattr(m, k))
            tout.addfile(ti, tin.extractfile(m) if m.isreg() else None)

        js = lambda o: (json.dumps(o, indent=2) + "").encode()
        tmp_out = out_path + ".part"
        with tarfile.open(tmp_out, "w", format=tarfile.PAX_FORMAT) as tout:
            if "stats-dump" in names:
                copy_member(tout, names["stats-dump"])
            add_bytes(tout, "dump.log", dump_log_bytes)
            for m in cpt_members:
                copy_member(tout, m)
            add_bytes(tout, "config.dump", js(config_dump))
            add_bytes(tout, "spec.dump", js(spec))
            add_bytes(tout, "bind.mounts", js(bind_mounts))
            if "rootfs-diff.tar" in names:
                copy_member(tout, names["rootfs-diff.tar"])
            add_bytes(tout, "deleted.files", js(deleted))
            add_bytes(tout, "io.kubernetes.cri-o.LogPath", ctr_log, 0o644)
        os.chmod(tmp_out, 0o600)
        os.replace(tmp_out, out_path)

        # check: every checkpoint/ image is byte-identical to the input's
        with tarfile.open(out_path, "r:") as tchk:
            got = {m.name: m for m in tchk.getmembers()}
            for m in cpt_members:
                if not m.isreg():
                    continue
                n = norm(m.name)
                if hashlib.sha256(tchk.extractfile(got[n]).read()).digest() != \
                        hashlib.sha256(tin.extractfile(m).read()).digest():
                    die(f"{n} differs after re-packing")
        print(out_path)
    finally:
        for root, dirs, files in os.walk(tmpdir, topdown=False):
            for f in files:
                os.unlink(os.path.join(root, f))
            os.rmdir(root)


if __name__ == "__main__":
    main()
