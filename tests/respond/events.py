"""Make a stream of Falco alerts for the load tests and the bench.

usage: events.py N OUT.jsonl [--containers C] [--seed S]

Alerts are drawn from the published events' shapes with many rules, C
containers (each one pod) and many repeats for the same container.  Every
line is a distinct alert (its time differs); a few are exact replays of an
earlier line (the same bytes), as a retrying sender would send.  Prints a JSON
summary with the number of distinct containers that a policy matching
'priority >= Warning, namespace != kube-system' must checkpoint."""
import json
import random
import sys

RULES = [
    ('Terminal shell in container', 'Notice'),
    ('Drop and execute new binary in container', 'Critical'),
    ('Redirect STDOUT/STDIN to Network Connection in Container', 'Warning'),
    ('Detect crypto miners using the Stratum protocol', 'Critical'),
    ('Launch Suspicious Network Tool in Container', 'Notice'),
    ('Write below binary dir', 'Error'),
    ('Read sensitive file untrusted', 'Warning'),
    ('Contact K8S API Server From Container', 'Notice'),
]


def make(n, containers, seed):
    rnd = random.Random(seed)
    out, want = [], set()
    base = 1772619301000000000
    for i in range(n):
        if out and rnd.random() < 0.02:
            out.append(out[rnd.randrange(len(out))])  # an exact replay
            continue
        c = rnd.randrange(containers)
        ns = 'kube-system' if c % 10 == 9 else 'team-%d' % (c % 7)
        pod = 'app-%d-7c9f8d6b5-x%04d' % (c % 13, c)
        ctr = 'ctr-%d' % (c % 3)
        rule, prio = RULES[rnd.randrange(len(RULES))]
        t = base + i * 1000
        ev = {
            'hostname': 'worker-%d' % (c % 4),
            'output': '%d: %s %s (container=%s)' % (t, prio, rule, ctr),
            'output_fields': {
                'container.id': '%012x' % (0x3f1c2a9b0000 + c),
                'container.image.repository': 'docker.io/library/python',
                'container.name': ctr,
                'evt.time': t,
                'k8s.ns.name': ns,
                'k8s.pod.name': pod,
                'proc.cmdline': 'sh -c id',
                'proc.name': 'sh',
            },
            'priority': prio,
            'rule': rule,
            'source': 'syscall',
            'tags': ['container', 'mitre_execution'],
            'time': '2026-03-04T10:15:01.%09dZ' % (i % 1000000000),
        }
        out.append(json.dumps(ev, separators=(',', ':')))
        if prio in ('Critical', 'Error', 'Warning') and ns != 'kube-system':
            want.add('%s/%s/%s' % (ns, pod, ctr))
    return out, want


def main():
    n = int(sys.argv[1])
    path = sys.argv[2]
    containers = 500
    seed = 1
    if '--containers' in sys.argv:
        containers = int(sys.argv[sys.argv.index('--containers') + 1])
    if '--seed' in sys.argv:
        seed = int(sys.argv[sys.argv.index('--seed') + 1])
    lines, want = make(n, containers, seed)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print(json.dumps({'events': len(lines), 'distinct_lines': len(set(lines)), 'checkpoints': len(want),
                      'targets': sorted(want)}))


if __name__ == '__main__':
    main()
