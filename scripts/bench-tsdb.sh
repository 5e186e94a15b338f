#!/usr/bin/env bash
# Metric store side by side over HTTP: `wardflux serve` (release, embedded default) and
# VictoriaMetrics (Debian `victoria-metrics`), fed the same Prometheus text by the same client
# in the same run. SERIES series x STEPS samples (10 s apart, ending now) go in one body per
# timestamp (a scrape of every series), each body to VictoriaMetrics then to wardflux (bearer
# token). Every 10 % of the data: both processes' RSS; at the end: CPU seconds each spent
# (samples per CPU-second), bytes on disk, and Grafana's usual calls on both (median of RUNS),
# with a token and again with HTTP basic auth (as Grafana is told to connect; VictoriaMetrics
# runs with -httpAuth.username/-httpAuth.password, so both sides check a password on every
# request), and wardflux's RSS before and after its first 10 basic-auth requests.
#
# Usage: scripts/bench-tsdb.sh [SERIES=10000] [STEPS=300] [RUNS=30]
# BIN=path/to/wardflux skips the build. Loopback only.
# ALLOC_PRELOAD=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2 (or libjemalloc.so.2) runs the server on that
# allocator instead of glibc malloc, to compare without rebuilding.
set -euo pipefail
cd "$(dirname "$0")/.."
SERIES=${1:-10000}; STEPS=${2:-300}; RUNS=${3:-30}
if [ -z "${BIN:-}" ]; then
    cargo build --profile "${PROFILE:-release}" -q -p wardflux
    BIN=${CARGO_TARGET_DIR:-target}/${PROFILE:-release}/wardflux
fi
VM=${WARDFLUX_VM_BIN:-victoria-metrics}
DATA=$(mktemp -d); WPORT=$((20000 + RANDOM % 20000)); VPORT=$((WPORT + 1))
LD_PRELOAD=${ALLOC_PRELOAD:-} WARDFLUX_ADMIN_PASSWORD=bench-password-1 WARDFLUX_LOG=warn "$BIN" serve \
    --listen 127.0.0.1:$WPORT --data-dir "$DATA/wf" >"$DATA/wf.log" 2>&1 &
WPID=$!
"$VM" -httpListenAddr=127.0.0.1:$VPORT -storageDataPath="$DATA/vm" -retentionPeriod=100y \
    -search.latencyOffset=0s -search.disableCache -loggerLevel=ERROR \
    -httpAuth.username=bench -httpAuth.password=bench-password-1 >"$DATA/vm.log" 2>&1 &
VPID=$!
trap 'kill $WPID $VPID 2>/dev/null; wait $WPID $VPID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 400); do
    curl -sf "http://127.0.0.1:$WPORT/healthz" >/dev/null && curl -sf -u bench:bench-password-1 "http://127.0.0.1:$VPORT/health" >/dev/null && break
    sleep 0.05
done
TOKEN=$(curl -sf "http://127.0.0.1:$WPORT/api/v1/auth/login" -H 'content-type: application/json' \
        -d '{"username":"admin","password":"bench-password-1"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
python3 - "$WPID" "$WPORT" "$VPID" "$VPORT" "$TOKEN" "$SERIES" "$STEPS" "$RUNS" "$DATA" <<'EOF'
import base64, http.client, json, os, statistics, sys, time, urllib.parse
wpid, wport, vpid, vport, token = sys.argv[1:6]
series, steps, runs, data = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8]), sys.argv[9]
hz = os.sysconf("SC_CLK_TCK")

class Side:
    def __init__(self, name, pid, port, headers, ddir):
        self.name, self.pid, self.headers, self.ddir = name, pid, headers, ddir
        self.c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)
    def req(self, method, path, body=None, headers=None):
        h = dict(self.headers); h.update(headers or {})
        self.c.request(method, path, body=body, headers=h)
        r = self.c.getresponse(); b = r.read()
        if r.status >= 300:
            raise SystemExit(f"{self.name} {method} {path[:80]}: HTTP {r.status} {b[:200]!r}")
        return b
    def cpu(self):
        f = open(f"/proc/{self.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / hz
    def rss(self):
        for l in open(f"/proc/{self.pid}/status"):
            if l.startswith("VmRSS:"): return int(l.split()[1]) / 1024
    def disk(self):
        t = 0
        for root, _, files in os.walk(self.ddir):
            for f in files:
                try: t += os.path.getsize(os.path.join(root, f))
                except OSError: pass
        return t

def basic(user, pw):
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}
# VictoriaMetrics checks its -httpAuth password on every request (a string comparison)
vm = Side("VictoriaMetrics", vpid, vport, basic("bench", "bench-password-1"), f"{data}/vm")
wf = Side("wardflux", wpid, wport, {"authorization": f"Bearer {token}"}, f"{data}/wf/tsdb")
sides = [vm, wf]

# data: per series a gauge at microsecond resolution (random walk) or a counter, like the
# monitor's ping_rtt_ms and if_in_octets; labels as in docs/metrics.md
end = int(time.time() * 1000) // 10_000 * 10_000
t0 = end - (steps - 1) * 10_000
x = 0x9E3779B97F4A7C15
def rnd():
    global x
    x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF; x ^= x >> 7; x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
    return x
labels = [f'device="dev-{i}",site="s{i % 50}",ip="10.{i // 65536}.{i // 256 % 256}.{i % 256}"' for i in range(series)]
names = ["bench_rtt_ms" if i % 2 == 0 else "bench_octets" for i in range(series)]
val = [800 + (i * 37) % 20000 for i in range(series)]

cpu0 = {s.name: s.cpu() for s in sides}
print(f"{series} series x {steps} samples, one body per timestamp ({series} lines)")
print("samples,vm_rss_mb,wardflux_rss_mb")
print(f"0,{vm.rss():.1f},{wf.rss():.1f}")
send_s = {s.name: 0.0 for s in sides}
body_bytes = 0
for k in range(steps):
    t = t0 + k * 10_000
    lines = []
    for i in range(series):
        if i % 2 == 0:
            val[i] = max(20, val[i] + rnd() % 201 - 100)
            v = f"{val[i] / 1000:.3f}".rstrip("0").rstrip(".")
        else:
            val[i] += rnd() % 2_000_000
            v = str(val[i])
        lines.append(f"{names[i]}{{{labels[i]}}} {v} {t + rnd() % 20}\n")
    body = "".join(lines).encode()
    body_bytes += len(body)
    for s in sides:
        a = time.perf_counter()
        s.req("POST", "/api/v1/import/prometheus", body, {"content-type": "text/plain"})
        send_s[s.name] += time.perf_counter() - a
    if (k + 1) % max(1, steps // 10) == 0:
        print(f"{(k + 1) * series},{vm.rss():.1f},{wf.rss():.1f}", flush=True)
vm.req("GET", "/internal/force_flush")
n = series * steps
print(f"text sent: {body_bytes / 1e6:.1f} MB, {body_bytes / n:.1f} B/sample")
for s in sides:
    c = s.cpu() - cpu0[s.name]
    print(f"{s.name}: ingest CPU {c:.2f} s = {n / c / 1e6:.2f} M samples per CPU-second; "
          f"wall {send_s[s.name]:.1f} s; RSS after {s.rss():.1f} MB; disk {s.disk() / 1e6:.2f} MB = {s.disk() / n:.2f} B/sample")

# the embedded store replaces its WAL by a head checkpoint on its 1 s tick: disk once settled
time.sleep(3)
vm.req("GET", "/internal/force_flush")
for s in sides:
    print(f"{s.name}: disk after 3 s {s.disk() / 1e6:.2f} MB = {s.disk() / n:.2f} B/sample")

# Grafana's usual calls, same URL on both sides
now = end / 1000
def rng(expr, span, step):
    return "/api/v1/query_range?" + urllib.parse.urlencode({"query": expr, "start": now - span, "end": now, "step": step})
few = 'bench_rtt_ms{device=~"dev-2|dev-4|dev-6"}'
calls = [
    ("query_range 3 series, 1 h, step 15 s", rng(few, 3600, 15)),
    ("query_range 3 series, 24 h, step 60 s", rng(few, 86400, 60)),
    ("query_range 3 series, 7 d, step 10 m", rng(few, 7 * 86400, 600)),
    ("query_range 1 of 10k series, 1 h", rng('bench_rtt_ms{device="dev-8"}', 3600, 15)),
    ("max_over_time > 50, 100 of 10k series", "/api/v1/query?" + urllib.parse.urlencode({"query": 'max_over_time(bench_rtt_ms{site="s8"}[5m]) > 5', "time": now})),
    ("avg by (site) over 5k series", "/api/v1/query?" + urllib.parse.urlencode({"query": "avg by (site) (bench_rtt_ms)", "time": now})),
    ("sum(rate()) over 5k series, 1 h", rng("sum(rate(bench_octets[5m]))", 3600, 60)),
    ("series match[] (100 series), 1 h", "/api/v1/series?" + urllib.parse.urlencode({"match[]": 'bench_rtt_ms{site="s4"}', "start": now - 3600, "end": now})),
    ("labels match[], 1 h", "/api/v1/labels?" + urllib.parse.urlencode({"match[]": 'bench_rtt_ms{site="s4"}', "start": now - 3600, "end": now})),
    ("label/__name__/values", "/api/v1/label/__name__/values?" + urllib.parse.urlencode({"start": now - 3600, "end": now})),
    ("label/device/values (10k)", "/api/v1/label/device/values?" + urllib.parse.urlencode({"start": now - 3600, "end": now})),
]
def latency(title, sides, calls):
    print(f"\n{title}, median of {runs} (ms) | VictoriaMetrics | wardflux | ratio")
    for name, path in calls:
        med = []
        for s in sides:
            s.req("GET", path)  # warm
            ts = []
            for _ in range(runs):
                a = time.perf_counter(); s.req("GET", path); ts.append((time.perf_counter() - a) * 1000)
            med.append(statistics.median(ts))
        a, b = med
        print(f"{name} | {a:.2f} | {b:.2f} | x{b / a:.2f}")
latency("query latency, bearer token", sides, calls)

# basic auth, as Grafana's Prometheus data source is set up: wardflux's admin user and
# password on every request (one password hash per credential and minute, then its cache)
wfb = Side("wardflux", wpid, wport, basic("admin", "bench-password-1"), f"{data}/wf/tsdb")
r0 = wf.rss()
for _ in range(10):
    wfb.req("GET", calls[3][1])
r1 = wf.rss()
time.sleep(2)
r2 = wf.rss()
print(f"\nwardflux RSS around its first 10 basic-auth requests: {r0:.1f} MB before, {r1:.1f} MB right after "
      f"(+{r1 - r0:.1f}), {r2:.1f} MB 2 s later (+{r2 - r0:.1f})")
grafana = [c for c in calls if c[0].startswith(("query_range", "series", "labels", "label/__name__"))
           and "rate" not in c[0]]
latency("query latency, basic auth on both", [vm, wfb], grafana)
for s in sides:
    print(f"{s.name}: RSS after queries {s.rss():.1f} MB")
time.sleep(15)
for s in sides:
    print(f"{s.name}: RSS 15 s later {s.rss():.1f} MB")
print("load average:", open("/proc/loadavg").read().strip())
EOF
