#!/usr/bin/python3
# kcsi lab specimen (benign): a Prometheus-style exporter. Serves GET /metrics on LISTEN (127.x)
# with HTTP/1.1 keep-alive: load, memory, process and request counters read from /proc, in the
# Prometheus text format.
import http.server, os, time

START = time.time()
served = 0


def metrics():
    load = open("/proc/loadavg").read().split()
    mem = dict((l.split(":")[0], int(l.split()[1])) for l in open("/proc/meminfo") if l.split()[1].isdigit())
    procs = len([p for p in os.listdir("/proc") if p.isdigit()])
    out = ["# HELP node_load1 1m load average.", "# TYPE node_load1 gauge", "node_load1 %s" % load[0],
           "# HELP node_load5 5m load average.", "# TYPE node_load5 gauge", "node_load5 %s" % load[1],
           "# HELP node_memory_MemAvailable_bytes Memory information field MemAvailable_bytes.",
           "# TYPE node_memory_MemAvailable_bytes gauge",
           "node_memory_MemAvailable_bytes %d" % (mem.get("MemAvailable", 0) * 1024),
           "# HELP node_procs_running Number of processes in the container.", "# TYPE node_procs_running gauge",
           "node_procs_running %d" % procs,
           "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.",
           "# TYPE process_start_time_seconds gauge", "process_start_time_seconds %.2f" % START,
           "# HELP exporter_scrapes_total Scrapes served.", "# TYPE exporter_scrapes_total counter",
           'exporter_scrapes_total{handler="/metrics",code="200"} %d' % served]
    return ("\n".join(out) + "\n").encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        global served
        if self.path != "/metrics":
            self.send_error(404)
            return
        served += 1
        body = metrics()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


addr, port = os.environ["LISTEN"].rsplit(":", 1)
http.server.ThreadingHTTPServer((addr, int(port)), Handler).serve_forever()
