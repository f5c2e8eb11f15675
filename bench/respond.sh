#!/usr/bin/env bash
# bench/respond.sh [N] — kcsi respond on loopback: accept rate and latency with
# persistence (SQLite WAL, synchronous=FULL) and deduplication, then the time
# from an alert's receipt to its checkpoint request.  Record mode (a fake
# kubelet that records each request in the queue database, atomically with
# the job), so the figures are the responder's own.  N defaults to 100000.
set -eu
N=${1:-100000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KCSI=${KCSI:-$ROOT/build/kcsi}
W=$(mktemp -d /tmp/kcsi-bench-respond.XXXXXX)
trap 'kill $PID 2>/dev/null || true; rm -rf "$W"' EXIT
cc -O2 -pthread -o "$W/loadgen" "$ROOT/tests/respond/loadgen.c"
python3 "$ROOT/tests/respond/events.py" "$N" "$W/ev.jsonl" > "$W/info.json"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$W/cfg.yaml" <<YAML
listen: {address: 127.0.0.1, port: $PORT}
auth: {bearer_token: bench}
state_dir: $W/state
incident_log: $W/incidents.jsonl
checkpoint: {mode: record, cooldown: 86400, max_concurrent: 4, per_node: 4}
rules:
  - {name: serious, priority: ">= Warning", actions: [checkpoint]}
exclude: {namespaces: [kube-system]}
YAML
"$KCSI" respond --config "$W/cfg.yaml" 2> "$W/log" & PID=$!
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.05; done
echo "== $N alerts, 32 connections (alerts/s, accept latency incl. durable commit)"
"$W/loadgen" 127.0.0.1 "$PORT" "$W/ev.jsonl" 32 bench
echo "== 1 connection (one Falco instance's http_output sends one at a time)"
head -5000 "$W/ev.jsonl" | sed 's/"time":"/"time":"x/' > "$W/ev1.jsonl"
"$W/loadgen" 127.0.0.1 "$PORT" "$W/ev1.jsonl" 1 bench
sleep 1
python3 - "$W" <<'PY'
import json, sqlite3, sys
w = sys.argv[1]
info = json.load(open(w + '/info.json'))
db = sqlite3.connect(w + '/state/queue.db')
reqs = db.execute('SELECT COUNT(*) FROM requests').fetchone()[0]
ev = db.execute('SELECT COUNT(*) FROM events').fetchone()[0]
print('== stored events %d, checkpoint requests %d (expected %d)' % (ev, reqs, info['checkpoints']))
PY
echo "== alert to checkpoint request: 300 alerts for new containers, 20 ms apart"
python3 - "$PORT" "$W" <<'PY'
import json, sys, time, urllib.request
port, w = sys.argv[1], sys.argv[2]
for i in range(300):
    e = {'rule': 'Terminal shell in container', 'priority': 'Critical', 'source': 'syscall', 'time': str(i),
         'output_fields': {'k8s.ns.name': 'lat', 'k8s.pod.name': 'p-%d' % i, 'container.name': 'c'}}
    req = urllib.request.Request('http://127.0.0.1:%s/' % port, data=json.dumps(e).encode(),
                                 headers={'Authorization': 'Bearer bench'})
    urllib.request.urlopen(req).read()
    time.sleep(0.02)
time.sleep(1)
lat = sorted(json.loads(l)['alert_to_request_ms'] for l in open(w + '/incidents.jsonl')
             if '"lat"' in l)
print('   n=%d p50 %.2f ms  p99 %.2f ms  max %.2f ms' % (len(lat), lat[len(lat)//2], lat[int(len(lat)*0.99)-1], lat[-1]))
PY
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^kcsi_respond_(events_(received|accepted|replayed|deduplicated)|checkpoints)_total'
