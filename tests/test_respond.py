"""kcsi respond and kcsi checkpoint: Falco alert parsing (the published
events in tests/data/falco-events, in Falco's and Falcosidekick's shapes),
policy decisions, the daemon's durable queue, deduplication, authentication,
hostile input, crash recovery, and the end-to-end path to a real checkpoint
through a kubelet stand-in (tests/respond/kubelet.py) serving mutual TLS."""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import kt
from kt import eq, jrun, run

HERE = os.path.dirname(os.path.abspath(__file__))
EVENTS = os.path.join(HERE, 'data', 'falco-events')
RESP = os.path.join(HERE, 'respond')
sys.path.insert(0, RESP)

# file prefix -> (rule, priority, namespace, pod, container, target_from, reason substring)
EXPECT = {
    '01': ('Terminal shell in container', 'Critical', 'default', 'kubecon', None, 'k8s', 'container ID ee97d9c4186f'),
    '02': ('Terminal shell in container', 'Notice', 'default', 'alpine', None, 'k8s', 'container ID 97c9868ea832'),
    '03': ('Contact K8S API Server From Container', 'Notice', 'openfaas-fn', 'falco-pod-delete-7dc9f5fbb8-gbfk7',
           None, 'k8s', 'container ID 12fc4de5ccc3'),
    '04': ('Contact K8S API Server From Container', 'Notice', 'fission-function',
           'poolmgr-go-default-516098-5bdbf8c8f5-g8gvc', None, 'k8s', 'container ID 281c99ea33c2'),
    '05': ('Attach/Exec Pod', 'Notice', 'default', 'kubecon', None, 'k8s_audit', 'k8s_audit alert names pod default/kubecon but no container'),
    '06': ('Write below binary dir', 'Error', None, None, None, None, 'names no pod and no container'),
    '07': ('Test NetworkPolicy', 'Critical', 'default', 'static-web', None, 'k8s', 'no container.name or container.id'),
    '08': ('Run shell untrusted', 'Debug', 'red-ns', 'wordpress-66cd544579-cv29k', None, 'k8s', 'container ID 854d2f6f3c68'),
    '09': ('Launch Package Management Process in Container', 'Error', 'red-ns', 'wordpress-66cd544579-cv29k',
           'wordpress', 'dockershim', None),
    '10': ('Write below root', 'Error', 'red-ns', 'wordpress-66cd544579-cv29k', None, 'k8s', 'container ID 854d2f6f3c68'),
    '11': ('The docker client is executed in a container', 'Warning', 'red-ns', 'wordpress-66cd544579-cv29k', None,
           'k8s', 'container ID 854d2f6f3c68'),
    '12': ('Launch Suspicious Network Tool in Container', 'Notice', 'red-ns', 'wordpress-66cd544579-cv29k',
           'wordpress', 'dockershim', None),
    '13': ('Packet socket created in container', 'Notice', 'red-ns', 'wordpress-66cd544579-cv29k', 'wordpress',
           'dockershim', None),
    '14': ('Terminal shell in container', 'Notice', None, None, None, None, 'lab9-target id 9965a6a599f6 runs outside Kubernetes'),
    '15': ('Drop and execute new binary in container', 'Critical', None, None, None, None, 'runs outside Kubernetes'),
    '16': ('Launch Suspicious Network Tool in Container', 'Notice', 'falco-custom-lab', 'ubuntu-lab-2',
           'ubuntu-lab-2-container', 'k8s', None),
    'S1': ('Redirect STDOUT/STDIN to Network Connection in Container', 'Notice', 'shop', 'api-7c9f8d6b5-x2k4q', 'api', 'k8s', None),
    'S2': ('Outbound Connection to C2 Servers', 'Warning', 'shop', 'api-7c9f8d6b5-x2k4q', 'api', 'k8s', None),
    'S3': ('Unexpected outbound connection destination', 'Notice', 'shop', 'api-7c9f8d6b5-x2k4q', 'api', 'k8s', None),
    'S4': ('Detect crypto miners using the Stratum protocol', 'Critical', 'shop', 'api-7c9f8d6b5-x2k4q', 'api', 'k8s', None),
    'S5': ('Launch Suspicious Network Tool in Container', 'Notice', 'falco-custom-lab', 'ubuntu-lab-2',
           'ubuntu-lab-2-container', 'k8s', None),
}


def event_files():
    fs = sorted(f for f in os.listdir(EVENTS) if f.endswith('.json'))
    eq(sorted(f[:2] for f in fs), sorted(EXPECT), 'event files')
    return [os.path.join(EVENTS, f) for f in fs]


def sidekick_shape(path, n):
    """The alert as Falcosidekick's webhook sends it: its struct order, a uuid,
    numbers as written (the raw text is kept so 64-bit values stay exact)."""
    with open(path) as f:
        raw = f.read()
    ev = json.loads(raw)
    order = ['uuid', 'output', 'priority', 'rule', 'Rule', 'time', 'output_fields', 'source', 'tags', 'hostname']
    ev['uuid'] = '00000000-0000-4000-8000-%012d' % n
    out = {k: ev[k] for k in order if k in ev}
    text = json.dumps(out)
    # json round trip keeps Python ints exact; 18446744073670260079 stays a bare number
    return text


def check_parsed(rows, what):
    for row in rows:
        key = os.path.basename(row['file'])[:2]
        rule, prio, ns, pod, ctr, tf, reason = EXPECT[key]
        assert row['ok'], '%s %s: %s' % (what, key, row)
        eq(row['rule'], rule, '%s %s rule' % (what, key))
        eq(row['priority'], prio, '%s %s priority' % (what, key))
        eq(row['namespace'], ns, '%s %s namespace' % (what, key))
        eq(row['pod'], pod, '%s %s pod' % (what, key))
        eq(row['container'], ctr, '%s %s container' % (what, key))
        eq(row['target_from'], tf, '%s %s target_from' % (what, key))
        if reason:
            assert reason in (row['reason'] or ''), '%s %s reason: %r' % (what, key, row['reason'])
        else:
            eq(row['reason'], None, '%s %s reason' % (what, key))


def test_parse_published_events_falco_shape():
    rows = jrun('respond', '--parse', *event_files())
    eq(len(rows), len(EXPECT), 'rows')
    check_parsed(rows, 'falco')
    by = {os.path.basename(r['file'])[:2]: r for r in rows}
    eq(by['15']['big_integers'], 1, '15: the value above INT64_MAX')
    eq(by['07']['rule'], 'Test NetworkPolicy', '07: key "Rule"')
    eq(by['02']['source'], 'syscall', '02: no source means syscall')
    eq(by['S5']['uuid'], '0b7c9a52-3f0e-4d4a-9a51-2a8f3c6e1d77', 'S5 uuid')
    assert 'cluster-prod' in by['S5']['tags']


def test_parse_published_events_sidekick_shape():
    d = os.path.join(kt.tmpdir(), 'sidekick')
    os.makedirs(d, exist_ok=True)
    paths = []
    for i, p in enumerate(event_files()):
        q = os.path.join(d, os.path.basename(p))
        with open(q, 'w') as f:
            f.write(sidekick_shape(p, i))
        paths.append(q)
    rows = jrun('respond', '--parse', *paths)
    check_parsed(rows, 'sidekick')
    for i, r in enumerate(rows):
        assert r['uuid'].startswith('00000000-0000-4000-8000-'), r
    # and as JSON lines in one file
    lines = os.path.join(d, 'all.jsonl')
    with open(lines, 'w') as f:
        for p in paths:
            f.write(open(p).read() + '\n')
    rows2 = jrun('respond', '--parse', lines)
    eq(len(rows2), len(paths), 'JSON lines')
    eq([r['rule'] for r in rows2], [r['rule'] for r in rows], 'same rules as JSON lines')
