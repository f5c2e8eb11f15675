#!/usr/bin/python3
"""lab/score.py — judge `kcsi analyze` on the lab corpus (labels in lab/corpus.json).

    lab/score.py [--reuse DIR | --out DIR] [--scenes A,B,...] [--kcsi PATH] [--strict]
                 [--min-severity low|medium|high|critical] [--json FILE]

--reuse DIR   score the checkpoints already made in DIR (NAME.tar + NAME.truth.json, as
              lab/run-all.sh writes them); scenes missing there are reported as such
--out DIR     make every scene into DIR first (lab/run-all.sh DIR SCENE..., needs root and the
              lab), then score them. Without --reuse or --out: --out to a new temporary dir.
--strict      exit 1 when a scene's verdict is not the expected one (default: always 0 once
              the table is printed; 2 on a usage or setup error)

For each scene: `kcsi analyze --format json` (and `--format misp` for the IDS flags), then
  verdict    expected (corpus) and actual
  families   technique families expected, found, missed and false positives. A finding of at
             least --min-severity (default medium) counts for a family when one of its MITRE
             ids is one the family lists or a sub-technique of one (T1071.004 counts for a
             family listing T1071): rule ids do not matter, so today's rules and tomorrow's
             are judged alike. False positives: families found that are neither expected nor
             in the scene's families_ok.
  IOC prec   exported indicators that belong to the scene's truth (its must, may and not_ids
             indicators: peers, zones, URLs, hashes, tokens...) / all exported indicators
  MUST       the scene's must indicators found / all. ip, domain, url, sha256: an exported
             indicator of the kind (a URL counts for its host; a sub-domain for its zone);
             text: any indicator or finding text holding it; secret: the value in an indicator
             or a finding, or a masked form (its first 8+ characters and an ellipsis)
  bad IDS    indicators flagged for IDS use (MISP to_ids; without MISP: not of a loopback,
             private, documentation... class) that must not be: the scene's not_ids (loopback
             peers are observables), the images' own strings (corpus image_strings, or first
             seen in a file mapping of the image), and for benign scenes every one of them
The table goes to stdout; --json FILE writes every detail (missed indicators, false-positive
families with the findings behind them, the bad IDS indicators).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

LAB = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(LAB)
SEV = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


# ---------------------------------------------------------------- labels → values
def lookup(truth, path):
    cur = truth
    for part in path.split("."):
        if isinstance(cur, list) and part.isdigit():
            cur = cur[int(part)] if int(part) < len(cur) else None
        elif isinstance(cur, dict):
            cur = cur.get(part)
        else:
            cur = None
        if cur is None:
            raise KeyError(path)
    return cur


def apply_filter(v, f):
    if f == "addr":
        return v.rsplit(":", 1)[0] if ":" in v else v
    if f == "port":
        return v.rsplit(":", 1)[1]
    if f == "lower":
        return v.lower()
    raise ValueError("unknown filter " + f)


def resolve(template, truth):
    """'{params.x|addr}' and text around it → list of strings (a list value gives several)."""
    m = re.fullmatch(r"\{([^{}|]+)(?:\|(\w+))?\}", template)
    if m:
        v = lookup(truth, m.group(1))
        vals = v if isinstance(v, list) else [v]
        return [apply_filter(str(x), m.group(2)) if m.group(2) else str(x) for x in vals]

    def one(mm):
        v = lookup(truth, mm.group(1))
        v = str(v)
        return apply_filter(v, mm.group(2)) if mm.group(2) else v
    return [re.sub(r"\{([^{}|]+)(?:\|(\w+))?\}", one, template)]


def indicators(spec_list, truth, errors):
    """corpus indicator specs → [(type, value, why)]"""
    out = []
    for spec in spec_list:
        try:
            if "file" in spec:
                path = resolve(spec["file"], truth)[0]
                f = [f for f in truth.get("files", []) if f.get("path") == path and f.get("sha256")]
                if not f:
                    continue
                vals = [f[0]["sha256"]]
            else:
                vals = resolve(spec["value"], truth)
        except (KeyError, ValueError) as e:
            errors.append("label %s: %s" % (json.dumps(spec), e))
            continue
        out += [(spec["type"], v, spec.get("why", "")) for v in vals if v]
    return out


def text_of_findings(report):
    parts = []
    for f in report.get("findings", []):
        parts.append(f.get("title", ""))
        for e in f.get("evidence", []):
            parts += [str(e.get(k, "")) for k in ("excerpt", "path", "connection")]
    return "\n".join(parts)


# ---------------------------------------------------------------- matching
def url_host(u):
    m = re.match(r"^[a-z][a-z0-9+.-]*://(\[[^\]]+\]|[^/:?#]+)", u, re.I)
    return m.group(1).lower() if m else None


def in_zone(name, zone):
    name, zone = name.lower().rstrip("."), zone.lower().rstrip(".")
    return name == zone or name.endswith("." + zone)


def masked_found(secret, text):
    """a masked form of SECRET in TEXT: its first 8 or more characters and an ellipsis, and, when
    a length follows ('AKIAP662... (20 characters)'), the secret's length"""
    for n in range(min(len(secret), 16), 7, -1):
        for m in re.finditer(re.escape(secret[:n]) + r"(?:\.\.\.|\u2026)( ?\((\d+) characters?\))?", text):
            if not m.group(1) or int(m.group(2)) == len(secret):
                return True
    return False


def ioc_matches(ioc, kind, value):
    """does the exported indicator IOC stand for the truth indicator (kind, value)?"""
    t, v = ioc.get("type", ""), str(ioc.get("value", ""))
    if kind == "ip":
        return (t in ("ipv4", "ipv6") and v == value) or (t == "url" and url_host(v) == value)
    if kind == "domain":
        return ((t == "domain" and in_zone(v, value)) or (t == "url" and url_host(v) and in_zone(url_host(v), value))
                or (t == "email" and in_zone(v.rsplit("@", 1)[-1], value)))
    if kind == "url":
        return t == "url" and (v == value or v.startswith(value))
    if kind == "sha256":
        return t == "sha256" and v.lower() == value.lower()
    if kind == "email":
        return t == "email" and v.lower() == value.lower()
    # text, secret: the value inside the indicator or the indicator inside the value
    return value in v or (len(v) >= 8 and v in value)


def found(kind, value, report, ftext):
    if any(ioc_matches(i, kind, value) for i in report.get("iocs", [])):
        return True
    if kind == "text":
        return value in ftext
    if kind == "secret":
        return value in ftext or masked_found(value, ftext)
    return False


def misp_ids(kcsi, archive):
    """{value: [(MISP type, to_ids)]} from kcsi's MISP export, or None"""
    try:
        p = subprocess.run([kcsi, "analyze", "--format", "misp", archive], capture_output=True, timeout=600)
        ev = json.loads(p.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    ev = ev.get("Event", ev)
    out = {}
    for a in ev.get("Attribute", []):
        out.setdefault(a.get("value"), []).append((a.get("type", ""), bool(a.get("to_ids"))))
    return out


MISP_TYPE = {"ipv4": "ip-dst", "ipv6": "ip-dst", "url": "url", "domain": "domain", "sha256": "sha256",
             "email": "email-src", "user-agent": "user-agent"}


def is_ids(ioc, corpus, misp):
    if "to_ids" in ioc:
        return bool(ioc["to_ids"])
    if misp is not None:
        for t, ids in misp.get(ioc.get("value"), []):
            if t == MISP_TYPE.get(ioc.get("type")) or t.startswith(ioc.get("type", "?")):
                return ids
    return ioc.get("class") not in corpus["ids_classes_not_ids"]


def from_image(ioc, truth, corpus):
    """an image's own string: listed in the corpus, or first seen in a file mapping of a path the
    container did not add (the rootfs diff and the scene's recorded files are the container's)"""
    if ioc.get("value") in corpus["image_strings"]:
        return True
    m = re.search(r"\((/[^()]+)\)$", ioc.get("source", ""))
    if not m or not ioc.get("source", "").startswith("memory "):
        return False
    path = m.group(1)
    mine = {f.get("path") for f in truth.get("files", [])}
    return path.startswith(("/usr/", "/lib")) and path not in mine


# ---------------------------------------------------------------- one scene
def families_of(finding, families):
    out = set()
    for t in finding.get("mitre", []):
        for name, fam in families.items():
            if any(t == x or t.startswith(x + ".") for x in fam["mitre"]):
                out.add(name)
    return out


def score_scene(name, label, corpus, archive, truth, report, misp, min_sev):
    errors = []
    r = {"scene": name, "kind": label["kind"], "expected": label["verdict"], "verdict": report.get("verdict")}
    accept = label.get("verdict_accept") or [label["verdict"]]
    r["verdict_ok"] = r["verdict"] in accept
    fams = corpus["families"]
    found_f, behind = set(), {}
    for f in report.get("findings", []):
        if SEV.get(f.get("severity"), 0) < SEV[min_sev]:
            continue
        for fam in families_of(f, fams):
            found_f.add(fam)
            behind.setdefault(fam, []).append("%s %s" % (f.get("id"), f.get("title", "")))
    exp = set(label["families"])
    r["families_expected"] = sorted(exp)
    r["families_found"] = sorted(found_f & exp)
    r["families_missed"] = sorted(exp - found_f)
    r["families_fp"] = sorted(found_f - exp - set(label.get("families_ok", [])))
    r["families_fp_findings"] = {f: behind[f] for f in r["families_fp"]}

    ind = label["indicators"]
    must = indicators(ind["must"], truth, errors)
    may = indicators(ind["may"], truth, errors)
    not_ids = indicators(ind["not_ids"], truth, errors)
    ftext = text_of_findings(report)
    r["must_found"] = [[k, v] for k, v, _ in must if found(k, v, report, ftext)]
    r["must_missed"] = [[k, v, why] for k, v, why in must if not found(k, v, report, ftext)]
    iocs = report.get("iocs", [])
    truthset = must + may + not_ids
    good = [i for i in iocs if any(ioc_matches(i, k, v) for k, v, _ in truthset)]
    r["iocs"] = len(iocs)
    r["iocs_in_truth"] = len(good)
    bad_ids = []
    for i in iocs:
        if not is_ids(i, corpus, misp):
            continue
        why = None
        if label["kind"] == "benign":
            why = "benign scene"
        elif any(ioc_matches(i, k, v) for k, v, _ in not_ids):
            why = "observable, not malicious"
        elif from_image(i, truth, corpus):
            why = "the image's own string"
        if why:
            bad_ids.append({"type": i.get("type"), "value": i.get("value"), "source": i.get("source"), "why": why})
    r["bad_ids"] = bad_ids
    r["findings_expected"] = []
    for fd in label.get("findings", []):
        try:
            r["findings_expected"].append({"family": fd["family"], "what": resolve(fd["what"], truth)[0]})
        except KeyError as e:
            errors.append("finding label %s: %s" % (fd["what"], e))
    r["errors"] = errors
    return r


# ---------------------------------------------------------------- table
def frac(a, b):
    return "%d/%d" % (a, b) if b else "-"


def table(rows):
    head = ("scene", "expect", "got", "ok", "fam exp/found", "missed", "false pos", "IOC prec", "MUST", "bad IDS")
    lines = []
    for r in rows:
        if r.get("missing"):
            lines.append((r["scene"], r["expected"], "-", "-", "-", "-", "-", "-", "-", r["missing"]))
            continue
        lines.append((r["scene"], r["expected"], r["verdict"] or "?", "yes" if r["verdict_ok"] else "NO",
                      "%d/%d" % (len(r["families_expected"]), len(r["families_found"])),
                      ",".join(r["families_missed"]) or "-", ",".join(r["families_fp"]) or "-",
                      frac(r["iocs_in_truth"], r["iocs"]), frac(len(r["must_found"]), len(r["must_found"]) + len(r["must_missed"])),
                      str(len(r["bad_ids"]))))
    w = [max(len(str(x[i])) for x in [head] + lines) for i in range(len(head))]
    out = ["  ".join(str(x[i]).ljust(w[i]) for i in range(len(head))).rstrip() for x in [head] + lines]
    out.insert(1, "  ".join("-" * n for n in w))
    done = [r for r in rows if not r.get("missing")]
    att = [r for r in done if r["kind"] == "attack"]
    ben = [r for r in done if r["kind"] == "benign"]
    fe = sum(len(r["families_expected"]) for r in done)
    ff = sum(len(r["families_found"]) for r in done)
    mf = sum(len(r["must_found"]) for r in done)
    mt = mf + sum(len(r["must_missed"]) for r in done)
    ni = sum(r["iocs"] for r in done)
    ng = sum(r["iocs_in_truth"] for r in done)
    out.append("")
    out.append("verdicts right %s (attacks %s, controls %s); families found %s, false-positive families %d; "
               "IOC precision %s; MUST recall %s; bad IDS indicators %d; scenes not scored %d"
               % (frac(sum(r["verdict_ok"] for r in done), len(done)), frac(sum(r["verdict_ok"] for r in att), len(att)),
                  frac(sum(r["verdict_ok"] for r in ben), len(ben)), frac(ff, fe),
                  sum(len(r["families_fp"]) for r in done), frac(ng, ni), frac(mf, mt),
                  sum(len(r["bad_ids"]) for r in done), len(rows) - len(done)))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--reuse", metavar="DIR")
    g.add_argument("--out", metavar="DIR")
    ap.add_argument("--scenes", help="comma-separated scene names (default: every scene of the corpus)")
    ap.add_argument("--kcsi", default=os.environ.get("KCSI", os.path.join(ROOT, "build", "kcsi")))
    ap.add_argument("--corpus", default=os.path.join(LAB, "corpus.json"))
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--min-severity", default="medium", choices=list(SEV))
    ap.add_argument("--json", metavar="FILE")
    a = ap.parse_args()
    corpus = json.load(open(a.corpus))
    names = a.scenes.split(",") if a.scenes else list(corpus["scenes"])
    unknown = [n for n in names if n not in corpus["scenes"]]
    if unknown:
        sys.exit("score: not in the corpus: " + " ".join(unknown))
    if not os.access(a.kcsi, os.X_OK):
        print("score: %s is not an executable (build kcsi or give --kcsi)" % a.kcsi, file=sys.stderr)
        return 2
    outdir = a.reuse
    if not outdir:
        outdir = a.out or tempfile.mkdtemp(prefix="kcsi-corpus.")
        env = dict(os.environ, BIGMEM_MIB=os.environ.get("BIGMEM_MIB", "64"))
        print("score: making %d scenes in %s (lab/run-all.sh)" % (len(names), outdir), file=sys.stderr)
        subprocess.run(["bash", os.path.join(LAB, "run-all.sh"), outdir] + names, env=env,
                       stdout=sys.stderr, stderr=sys.stderr)
    rows = []
    for n in names:
        label = corpus["scenes"][n]
        arch, tpath = os.path.join(outdir, n + ".tar"), os.path.join(outdir, n + ".truth.json")
        if not (os.path.exists(arch) and os.path.exists(tpath)):
            rows.append({"scene": n, "kind": label["kind"], "expected": label["verdict"], "missing": "not made"})
            continue
        truth = json.load(open(tpath))
        p = subprocess.run([a.kcsi, "analyze", "--format", "json", arch], capture_output=True, timeout=600)
        try:
            report = json.loads(p.stdout)
        except ValueError:
            rows.append({"scene": n, "kind": label["kind"], "expected": label["verdict"],
                         "missing": "analyze failed (rc %d): %s" % (p.returncode, p.stderr.decode(errors="replace").strip()[:80])})
            continue
        rows.append(score_scene(n, label, corpus, arch, truth, report, misp_ids(a.kcsi, arch), a.min_severity))
    print(table(rows))
    errs = [(r["scene"], e) for r in rows for e in r.get("errors", [])]
    for s, e in errs:
        print("score: %s: %s" % (s, e), file=sys.stderr)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"dir": outdir, "kcsi": a.kcsi, "min_severity": a.min_severity, "scenes": rows}, f, indent=2)
    if errs:
        return 2
    if a.strict and any(not r.get("missing") and not r["verdict_ok"] for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
