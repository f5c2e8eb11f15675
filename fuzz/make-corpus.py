#!/usr/bin/env python3
"""Regenerate the fuzz seed corpora from real samples in the repository.

    fuzz/make-corpus.py [--kcsi BUILD/kcsi] [--lab] [TARGET...]

With no TARGET, every corpus is made again.  Each seed is a real sample, or
comes from a real program run here:

archive   whole checkpoints (plain, gzip, zstd) and trimmed ones (images
          only, no memory pages or seccomp) from tests/data/fixtures/
image     single CRIU images taken from the fixtures
falco     the alerts of tests/data/falco-events/ (Falco and Falcosidekick)
policy,   the shipped configs (deploy/kustomize/base/respond-config.yaml,
respond_config   deploy/argo/policy.yaml) and the YAML examples of docs/respond.md
bundle    case bundles exported by `kcsi vault export` from a vault made here
          with the kcsi CLI (a trimmed fixture as the evidence, with and
          without an attached `kcsi analyze --json` report)
ledger    that vault's files (vault.json, ledger.head, ledger.jsonl after
          init, put, get, report, verify, export and purge) with its signing
          key, as fuzz_ledger.c reads them, verbatim and to be resealed
sinkhole  what the lab's specimens send (lab/specimens/: the IRC bot, the
          miner, curl as the HTTP exfiltration uses it, glibc's resolver over
          TCP), each recorded on its way to the lab's own peer (lab/peers/)
dns       the DNS queries of the UDP tunnel specimen (nscache.pl, through
          lab/peers/dns_resolver.pl) and of glibc's resolver
dnsstat   the query names of those samples, and the host names the lab and
          the docs name
elf       shared libraries compiled here with cc (one replacing readdir, one
          write and send, one an allocator) and the heads of the programs
          the fixtures run (/usr/bin/sleep ...: program headers and notes)
confine   the fixtures' rootfs-diff.tar, devshm-checkpoint.tar and tmpfs
          images; with --lab (root, podman, the lab image) also the applied
          members of a fresh podman checkpoint of a container that deleted,
          linked and wrote files (its deleted.files)

Needs python3 and the zstd CLI (archive); bundle and ledger need a built
kcsi (--kcsi, default build/kcsi); sinkhole and dns need perl and curl, and
root for glibc's resolver (run in a network and mount namespace of its own).
A sample that cannot be made here is skipped with a warning.
"""
import base64
import glob
import gzip
import io
import json
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIX = os.path.join(ROOT, "tests", "data", "fixtures")
CORPUS = os.path.join(HERE, "corpus")
KCSI = os.path.join(ROOT, "build", "kcsi")
WORK = None
TARGETS = set()


def warn(msg):
    print("make-corpus: %s" % msg, file=sys.stderr)


def put(target, name, data):
    """a seed for target, when that corpus is being made"""
    if target not in TARGETS:
        return
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def reset(target):
    shutil.rmtree(os.path.join(CORPUS, target), ignore_errors=True)


# ---- archive, image: the fixtures ----

def members(fixture):
    out = []
    with tarfile.open(os.path.join(FIX, "checkpoint-%s.tar" % fixture)) as t:
        for m in t.getmembers():
            data = t.extractfile(m).read() if m.isfile() else None
            out.append((m, data))
    return out


def tar_bytes(mems, keep):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for m, data in mems:
            if not keep(m):
                continue
            t.addfile(m, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def zstd(data):
    return subprocess.run(["zstd", "-19", "-q", "-c"], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


def gz(data):
    return gzip.compress(data, 9, mtime=0)


def trimmed(m):
    """images and small metadata only: no pages, seccomp, rootfs diff, config."""
    n = m.name
    if m.isdir():
        return True
    if "/pages-" in n or n.endswith("seccomp.img") or n.endswith(".tar"):
        return False
    if n in ("config.dump", "spec.dump"):
        return False
    return m.size <= 8192


def corpus_archive():
    with open(os.path.join(FIX, "checkpoint-counter.tar"), "rb") as f:
        counter = f.read()
    put("archive", "counter.tar", counter)
    put("archive", "counter.tar.gz", gz(counter))
    put("archive", "counter.tar.zst", zstd(counter))
    for fx in ("counter", "perlbot", "revshell", "memfd"):
        put("archive", "%s-images.tar" % fx, tar_bytes(members(fx), trimmed))
    # perlbot with memory but without seccomp and rootfs diff, zstd-compressed
    put("archive", "perlbot-mem.tar.zst",
        zstd(tar_bytes(members("perlbot"), lambda m: not m.name.endswith(("seccomp.img", ".tar")))))


def corpus_elf():
    """shared libraries built here, and the first 8 KiB of programs of this system"""
    libs = {"readdir": ["readdir", "readdir64"], "sniff": ["write", "send"], "alloc": ["malloc", "free"]}
    for name, fns in libs.items():
        src, out = os.path.join(WORK, name + ".c"), os.path.join(WORK, name + ".so")
        with open(src, "w") as f:
            for fn in fns:
                f.write("void *%s(void *a) { return a; }\n" % fn)
        if subprocess.run(["cc", "-shared", "-fPIC", "-fno-builtin", "-s" if name == "alloc" else "-g0",
                           "-o", out, src]).returncode != 0:
            warn("cc failed for %s" % name)
            continue
        with open(out, "rb") as f:
            put("elf", "lib%s.so" % name, f.read())
    for prog in ("/usr/bin/sleep", "/usr/bin/dash"):
        if os.path.exists(prog):
            with open(prog, "rb") as f:
                put("elf", os.path.basename(prog) + "-head", f.read(8192))


def corpus_image():
    want = {
        "counter": ["pstree.img", "core-1.img", "core-9.img", "mm-1.img", "pagemap-1.img",
                    "files.img", "fdinfo-2.img", "inventory.img", "ids-1.img", "fs-1.img",
                    "mountpoints-12.img", "cgroup.img", "utsns-11.img", "timens-0.img",
                    "ipcns-var-10.img", "stats-dump"],
        "perlbot": ["ghost-file-1.img", "tcp-stream-8bb0.img", "remap-fpath.img",
                    "files.img", "pstree.img", "seccomp.img"],
        "revshell": ["tcp-stream-9327.img", "files.img", "pstree.img"],
        "memfd": ["memfd.img", "files.img"],
    }
    for fx, names in want.items():
        for m, data in members(fx):
            base = os.path.basename(m.name)
            if data is not None and base in names and (m.name.startswith("checkpoint/")
                                                      or base == "stats-dump"):
                put("image", "%s-%s" % (fx, base), data)
    # a few more entry kinds (core, mm, pagemap, fdinfo) from the other fixtures
    for fx in ("perlbot", "revshell", "memfd"):
        for m, data in members(fx):
            base = os.path.basename(m.name)
            if data is None or not m.name.startswith("checkpoint/"):
                continue
            if base.startswith(("core-", "mm-", "fdinfo-", "pagemap-")) and len(data) <= 8192:
                put("image", "%s-%s" % (fx, base), data)


# ---- falco, policy, respond_config ----

def corpus_falco():
    for p in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "falco-events", "*.json"))):
        with open(p, "rb") as f:
            put("falco", os.path.basename(p), f.read())


def yaml_samples():
    """(name, text) of the shipped configs and the YAML examples in the docs."""
    out = []
    for rel in ("deploy/kustomize/base/respond-config.yaml", "deploy/argo/policy.yaml"):
        p = os.path.join(ROOT, rel)
        if os.path.exists(p):
            with open(p, "rb") as f:
                out.append((rel.replace("/", "_"), f.read()))
    with open(os.path.join(ROOT, "docs", "respond.md"), encoding="utf-8") as f:
        doc = f.read()
    for i, block in enumerate(re.findall(r"```ya?ml\n(.*?)```", doc, re.S)):
        out.append(("docs_respond.md-%02d.yaml" % (i + 1), block.encode()))
    return out


def test_configs():
    """(name, text) of configs as tests/test_respond.py's Responder writes them"""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import test_respond  # noqa: E402 (the test suite's own config writer)
    record = "checkpoint:\n  mode: record\n"
    made = [("default", test_respond.Responder("corpus-default", extra=record)),
            ("notify", test_respond.Responder(
                "corpus-notify", extra=record + "notify:\n  url: http://127.0.0.1:8080/hook\nhooks:\n  analyze: "
                "kcsi analyze --json {archive}\n  timeout: 120\n",
                rules='rules:\n  - name: ck-notify\n    priority: ">= Warning"\n    actions: [checkpoint, notify]\n')),
            ("files-only", test_respond.Responder(
                "corpus-files", port=False, auth="",
                extra=record + "inputs:\n  files: [/var/log/falco/events.json]\n"))]
    out = []
    for name, r in made:
        with open(r.cfg, "rb") as f:
            text = f.read().replace(test_respond.kt.tmpdir().encode(), b"/var/lib/kcsi-test")
        out.append(("test_respond-%s.yaml" % name, re.sub(rb"port: \d+", b"port: 2801", text)))
    shutil.rmtree(test_respond.kt.tmpdir(), ignore_errors=True)
    return out


def corpus_yaml():
    for name, text in yaml_samples() + test_configs():
        put("respond_config", name, text)
        if b"rules:" in text:
            put("policy", name, text)


# ---- bundle, ledger: a vault made with the kcsi CLI ----

def kcsi(*args, **kw):
    return subprocess.run([KCSI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True,
                          env=dict(os.environ, KCSI_ACTOR="make-corpus@kcsi"), **kw).stdout


def ledger_seed(store, flags):
    """fuzz_ledger.c's input: the signing key, flags, vault.json NUL ledger.head NUL ledger.jsonl"""
    def read(name):
        with open(os.path.join(store, name), "rb") as f:
            return f.read()
    return read("keys/sign.key") + bytes([flags]) + read("vault.json") + b"\0" + read("ledger.head") + b"\0" + \
        read("ledger.jsonl")


def corpus_vault():
    if not os.access(KCSI, os.X_OK):
        warn("no kcsi at %s (--kcsi): bundle and ledger skipped" % KCSI)
        return
    store = os.path.join(WORK, "vault")
    ev = os.path.join(WORK, "counter-images.tar")
    ev2 = os.path.join(WORK, "memfd-images.tar")
    with open(ev, "wb") as f:
        f.write(tar_bytes(members("counter"), trimmed))
    with open(ev2, "wb") as f:
        f.write(tar_bytes(members("memfd"), trimmed))
    kcsi("vault", "init", "--store", store)
    ident = kcsi("vault", "put", "--store", store, "--case", "IR-2026-0042", "--note", "node-3 kubelet", ev)
    ident = ident.decode().split()[0]
    put("ledger", "after-put", ledger_seed(store, 0))
    kcsi("vault", "export", "--store", store, ident, "--out", os.path.join(WORK, "b1.tar"), "--reason", "court")
    kcsi("vault", "get", "--store", store, ident, "--out", os.path.join(WORK, "got.tar"), "--reason", "triage")
    report = os.path.join(WORK, "report.json")
    with open(report, "wb") as f:
        f.write(kcsi("analyze", "--json", os.path.join(FIX, "checkpoint-counter.tar")))
    kcsi("vault", "report", "--store", store, ident, report, "--note", "kcsi analyze")
    subprocess.run([KCSI, "vault", "verify", "--store", store], stdout=subprocess.PIPE, check=True)
    kcsi("vault", "export", "--store", store, ident, "--out", os.path.join(WORK, "b2.tar"), "--reason", "handover")
    other = kcsi("vault", "put", "--store", store, ev2).decode().split()[0]
    kcsi("vault", "purge", "--store", store, other, "--reason", "duplicate upload")
    for name, src in (("export-before-report.tar", "b1.tar"), ("export-with-report.tar", "b2.tar")):
        with open(os.path.join(WORK, src), "rb") as f:
            put("bundle", name, f.read())
    put("ledger", "full", ledger_seed(store, 0))
    put("ledger", "full-resealed", ledger_seed(store, 1))


# ---- sinkhole, dns, dnsstat: the lab's specimens talking to the lab's peers ----

def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class TcpRecorder:
    """Listens on 127.0.0.1, relays each connection to upstream and keeps
    what the client sent, per connection."""

    def __init__(self, upstream, port=0):
        self.upstream = upstream
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", port))
        self.ls.listen(8)
        self.port = self.ls.getsockname()[1]
        self.streams = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            rec = bytearray()
            self.streams.append(rec)
            threading.Thread(target=self._relay, args=(c, rec), daemon=True).start()

    def _relay(self, c, rec):
        try:
            u = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            c.close()
            return
        socks = [c, u]
        while True:
            r, _, _ = select.select(socks, [], [], 30)
            if not r:
                break
            done = False
            for s in r:
                try:
                    d = s.recv(65536)
                except OSError:
                    d = b""
                if not d:
                    done = True
                    break
                if s is c:
                    rec.extend(d)
                    u.sendall(d)
                else:
                    c.sendall(d)
            if done:
                break
        c.close()
        u.close()

    def close(self):
        self.ls.close()


class UdpRecorder:
    """Relays datagrams from clients to upstream and back; keeps the client's."""

    def __init__(self, upstream):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.port = self.s.getsockname()[1]
        self.u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.u.connect(upstream)
        self.datagrams = []
        self.client = None
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                r, _, _ = select.select([self.s, self.u], [], [], 30)
            except (OSError, ValueError):
                return
            for x in r:
                d, a = x.recvfrom(65536)
                if x is self.s:
                    self.client = a
                    self.datagrams.append(d)
                    self.u.send(d)
                elif self.client:
                    self.s.sendto(d, self.client)

    def close(self):
        self.s.close()
        self.u.close()


def template(spec, out, **values):
    with open(os.path.join(ROOT, "lab", "specimens", spec)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace("@@%s@@" % k, v)
    left = re.findall(r"@@[A-Z0-9_]+@@", text)
    assert not left, (spec, left)
    with open(out, "w") as f:
        f.write(text)
    return out


def peer(script, *args):
    return subprocess.Popen(["perl", os.path.join(ROOT, "lab", "peers", script)] + list(args) +
                            ["--summary", os.path.join(WORK, script + ".json")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_port(port, kind=socket.SOCK_STREAM, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if kind == socket.SOCK_STREAM:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                pass
        else:
            return True
        time.sleep(0.1)
    return False


def stop(*procs):
    for p in procs:
        if p and p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def sinkhole_seed(port_byte, chunk, stream):
    """fuzz_sinkhole.c's input: port selector, chunk size, the client's bytes"""
    return bytes([port_byte, chunk]) + bytes(stream)


def recorded_peer(script, *args):
    """a lab peer on a free port, and a TcpRecorder in front of it"""
    pport = free_port()
    p = peer(script, "--listen", "127.0.0.1:%d" % pport, *args)
    if not wait_port(pport):
        stop(p)
        raise RuntimeError("%s did not listen" % script)
    return p, TcpRecorder(("127.0.0.1", pport))


def run_until(cmd, done, seconds):
    """start cmd; return it once done() holds or after seconds"""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + seconds
    while time.time() < end and not done():
        time.sleep(0.2)
    return p


def streams_of(rec, *procs):
    stop(*procs)
    rec.close()
    return [bytes(s) for s in rec.streams if s]


def record_irc():
    c2, rec = recorded_peer("irc_c2.pl", "--cmds1", "id|uname -a", "--cmds2", "id", "--drop-first", "1")
    bot = template("ircbot/ircbot.pl", os.path.join(WORK, "ircbot.pl"), C2_LIST="127.0.0.1:%d" % rec.port,
                   BOT_KEY="IRCK-5d41402abc4b2a76b9719d91", CHANNEL="#ops-7f3a", CHANNEL_KEY="ck9e21b0",
                   STAGE_DIR=os.path.join(WORK, ".font-cache"), PROCNAME="[kworker/1:1H-kblockd]")
    p = run_until(["perl", bot], lambda: len(rec.streams) >= 2 and b"PRIVMSG" in rec.streams[1], 25)
    time.sleep(1)
    return streams_of(rec, p, c2)


def record_miner():
    pool, rec = recorded_peer("stratum_pool.pl")
    cfg = os.path.join(WORK, "miner-config.json")
    wallet = ("44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQ"
              "BEP3A")
    with open(cfg, "w") as f:
        json.dump({"autosave": True, "background": True, "donate-level": 0,
                   "user-agent": "XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0",
                   "pools": [{"algo": "rx/0", "url": "stratum+tcp://127.0.0.1:%d" % rec.port, "user": wallet,
                              "pass": "x-1f2e3d", "keepalive": True, "tls": False}]}, f)
    miner = template("miner/miner.pl", os.path.join(WORK, "miner.pl"), PROCNAME="kswapd0", CONFIG=cfg)
    p = run_until(["perl", miner], lambda: rec.streams and b"mining.submit" in rec.streams[0], 15)
    return streams_of(rec, p, pool)


def record_http():
    sink, rec = recorded_peer("sink.pl", "--respond", "ok", "--body", "ok")
    blob = os.path.join(WORK, "blob")
    with open(os.path.join(FIX, "README.md"), "rb") as f:
        data = base64.b64encode(gzip.compress(f.read(), mtime=0))
    with open(blob, "wb") as f:
        f.write(data)
    url = "http://127.0.0.1:%d" % rec.port
    # as lab/specimens/httpexfil/sync.sh posts, and as the ircbot's journal fetches
    subprocess.run(["curl", "-s", "-m", "10", "-A", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 "
                    "Firefox/128.0", "-H", "Content-Type: text/plain", "-H", "X-Upload-Id: 7c1e0d2a",
                    "--data-binary", "@" + blob, url + "/upload"], stdout=subprocess.DEVNULL, check=False)
    subprocess.run(["curl", "-s", "-m", "10", url + "/k.sh"], stdout=subprocess.DEVNULL, check=False)
    time.sleep(0.5)
    return streams_of(rec, sink)


def record_nscache():
    zone = "telemetry-3fa9c1.net"
    pport = free_port(socket.SOCK_DGRAM)
    res = peer("dns_resolver.pl", "--listen", "127.0.0.1:%d" % pport, "--proto", "udp", "--zone", zone,
               "--encoding", "hex", "--meta-labels", "2")
    time.sleep(1)
    rec = UdpRecorder(("127.0.0.1", pport))
    spec = template("dnsexfil-udp/nscache.pl", os.path.join(WORK, "nscache.pl"), RESOLVER="127.0.0.1:%d" % rec.port,
                    ZONE=zone, SID="a3f09c", FILES=os.path.join(FIX, "README.md"), PACE="0.02")
    p = run_until(["perl", spec], lambda: len(rec.datagrams) >= 12, 15)
    stop(p, res)
    rec.close()
    return list(rec.datagrams)


GLIBC_CAPTURE = r'''
import os, socket, subprocess, sys, threading
work = sys.argv[1]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
conf = os.path.join(work, "resolv.conf")
with open(conf, "w") as f:
    f.write("nameserver 127.0.0.1\noptions use-vc attempts:1 timeout:1\n")
subprocess.run(["mount", "--bind", conf, "/etc/resolv.conf"], check=True)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 53))
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("127.0.0.1", 53)); t.listen(4)
streams = []
def serve():
    while True:
        c, _ = t.accept()
        c.settimeout(2)
        got = bytearray()
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                got += d
                # answer each complete message with an empty NOERROR reply
                while len(got) >= 2 and len(got) >= 2 + (got[0] << 8 | got[1]):
                    n = got[0] << 8 | got[1]
                    m = bytes(got[2:2 + n])
                    streams.append(m)
                    del got[:2 + n]
                    r = m[:2] + bytes([0x81, 0x80]) + m[4:6] + b"\0\0\0\0\0\0" + m[12:]
                    c.sendall(len(r).to_bytes(2, "big") + r)
        except OSError:
            pass
        c.close()
threading.Thread(target=serve, daemon=True).start()
for name in ("www.example.com", "k8s-api.intranet.invalid", "4f6b2c1d9e8a7b3c.cdn-sync.xyz"):
    subprocess.run(["getent", "ahosts", name], stdout=subprocess.DEVNULL, timeout=10)
with open(os.path.join(work, "glibc-tcp.bin"), "wb") as f:
    for m in streams:
        f.write(len(m).to_bytes(2, "big") + m)
'''


def record_glibc_tcp():
    """glibc's stub resolver over TCP (options use-vc), in namespaces of its own"""
    if os.geteuid() != 0:
        raise RuntimeError("needs root (a network namespace to bind port 53 in)")
    script = os.path.join(WORK, "glibc-capture.py")
    with open(script, "w") as f:
        f.write(GLIBC_CAPTURE)
    subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", sys.executable, script, WORK],
                   check=True, timeout=60, stdout=subprocess.DEVNULL)
    with open(os.path.join(WORK, "glibc-tcp.bin"), "rb") as f:
        return f.read()


def qname(m):
    """the first question's name of a DNS message, or None"""
    off, labels = 12, []
    while off < len(m) and m[off]:
        n = m[off]
        if n > 63 or off + 1 + n > len(m):
            return None
        labels.append(m[off + 1:off + 1 + n])
        off += 1 + n
    return b".".join(labels) if off < len(m) else None


def messages(tcp_stream):
    out, i = [], 0
    while i + 2 <= len(tcp_stream):
        n = tcp_stream[i] << 8 | tcp_stream[i + 1]
        out.append(tcp_stream[i + 2:i + 2 + n])
        i += 2 + n
    return out


def corpus_network(targets):
    names = []
    jobs = (("irc", record_irc, 2, 0), ("stratum", record_miner, 6, 0), ("http", record_http, 2, 0))
    for label, fn, port_byte, chunk in jobs if "sinkhole" in targets else ():
        try:
            streams = fn()
        except (OSError, RuntimeError, subprocess.SubprocessError) as e:
            warn("%s sample skipped: %s" % (label, e))
            continue
        for i, s in enumerate(streams):
            put("sinkhole", "%s-%d" % (label, i + 1), sinkhole_seed(port_byte, chunk, s))
            # the same stream in small pieces, as a slow client sends it
            put("sinkhole", "%s-%d-pieces" % (label, i + 1), sinkhole_seed(port_byte, 7, s))
    try:
        dgrams = record_nscache()
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        warn("nscache.pl sample skipped: %s" % e)
        dgrams = []
    for i, d in enumerate(dgrams[:4]):
        put("dns", "nscache-txt-%d" % (i + 1), d)
    names += [qname(d) for d in dgrams]
    try:
        tcp = record_glibc_tcp()
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        warn("glibc resolver sample skipped: %s" % e)
        tcp = b""
    if tcp:
        put("sinkhole", "dns-tcp-glibc", sinkhole_seed(1, 0, tcp))
        put("sinkhole", "dns-tcp-glibc-pieces", sinkhole_seed(1, 5, tcp))
        for i, m in enumerate(messages(tcp)):
            names.append(qname(m))
            put("dns", "glibc-%d" % (i + 1), m)
    if "dnsstat" in targets:
        names = [n for n in names if n]
        if names:
            put("dnsstat", "queries", b"\n".join(names))
            put("dnsstat", "tunnel-queries", b"\n".join(n for n in names if n.count(b".") > 3))
        hosts = set()
        for p in glob.glob(os.path.join(ROOT, "lab", "**", "*"), recursive=True) + \
                glob.glob(os.path.join(ROOT, "docs", "*.md")):
            if not os.path.isfile(p) or os.path.getsize(p) > 1 << 20:
                continue
            with open(p, "rb") as f:
                hosts.update(re.findall(rb"\b(?:[a-z0-9-]{1,63}\.)+(?:com|net|org|io|xyz|top|invalid|example)\b",
                                        f.read()))
        put("dnsstat", "lab-and-docs-hosts", b"\n".join(sorted(hosts)))


# ---- confine: the members detonate applies on the host ----

KIND = {"rootfs-diff.tar": 0, "devshm-checkpoint.tar": 1, "deleted.files": 2}


def confine_seeds_from(tag, tar_path, seen):
    """the applied members of a checkpoint, each once (seen: their contents so far)"""
    def seed(name, data):
        if data not in seen:
            seen.add(data)
            put("confine", name, data)
    with tarfile.open(tar_path) as t:
        for m in t.getmembers():
            if not m.isfile():
                continue
            data = t.extractfile(m).read()
            if m.name in KIND:
                seed("%s-%s" % (tag, m.name), bytes([KIND[m.name]]) + data)
            elif m.name.startswith("checkpoint/tmpfs-") and m.name.endswith(".tar.gz.img"):
                try:
                    data = gzip.decompress(data)
                except (OSError, EOFError):
                    pass
                seed("%s-%s" % (tag, os.path.basename(m.name)[:-len(".gz.img")]), bytes([3]) + data)


def lab_checkpoint():
    """a podman checkpoint of a container that deleted, linked and wrote files"""
    name = "kcsi-make-corpus-%d" % os.getpid()
    out = os.path.join(WORK, "lab-checkpoint.tar")
    script = ("rm -f /etc/issue.net /etc/motd; mkdir -p /srv/app/cache; echo hello > /srv/app/cache/x; "
              "ln -s /etc/passwd /srv/app/pw; ln /srv/app/cache/x /srv/app/hard; mkfifo /srv/app/fifo; "
              "echo shm > /dev/shm/seg; exec sleep 600")
    subprocess.run(["podman", "--runtime", "runc", "run", "-d", "--name", name, "--network", "host",
                    "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096", "localhost/debian-perl:12",
                    "sh", "-c", script],
                   check=True, stdout=subprocess.DEVNULL, timeout=120)
    try:
        time.sleep(2)
        subprocess.run(["podman", "--runtime", "runc", "container", "checkpoint", "--compress", "none", "--export",
                        out, name], check=True,
                       stdout=subprocess.DEVNULL, timeout=180)
    finally:
        subprocess.run(["podman", "--runtime", "runc", "rm", "-f", name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return out


def corpus_confine(lab):
    seen = set()
    for fx in ("counter", "perlbot", "revshell", "memfd"):
        confine_seeds_from(fx, os.path.join(FIX, "checkpoint-%s.tar" % fx), seen)
    if lab:
        try:
            confine_seeds_from("lab", lab_checkpoint(), seen)
        except (OSError, subprocess.SubprocessError) as e:
            warn("lab checkpoint skipped: %s" % e)


def main():
    global KCSI, WORK, TARGETS
    args = sys.argv[1:]
    lab = "--lab" in args
    if lab:
        args.remove("--lab")
    if "--kcsi" in args:
        i = args.index("--kcsi")
        KCSI = os.path.abspath(args[i + 1])
        del args[i:i + 2]
    every = ["archive", "image", "falco", "policy", "respond_config", "bundle", "ledger", "sinkhole", "dns",
             "dnsstat", "elf", "confine"]
    targets = args or every
    TARGETS = set(targets)
    for t in targets:
        if t not in every:
            sys.exit("make-corpus: no target %s (%s)" % (t, " ".join(every)))
        reset(t)
    WORK = tempfile.mkdtemp(prefix="kcsi-make-corpus.")
    try:
        if "archive" in targets:
            corpus_archive()
        if "image" in targets:
            corpus_image()
        if "elf" in targets:
            corpus_elf()
        if "falco" in targets:
            corpus_falco()
        if "policy" in targets or "respond_config" in targets:
            corpus_yaml()
        if "bundle" in targets or "ledger" in targets:
            corpus_vault()
        if {"sinkhole", "dns", "dnsstat"} & set(targets):
            corpus_network(targets)
        if "confine" in targets:
            corpus_confine(lab)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    for t in targets:
        d = os.path.join(CORPUS, t)
        n = len(os.listdir(d)) if os.path.isdir(d) else 0
        print("%-15s %3d seeds" % (t, n))


if __name__ == "__main__":
    main()
