#!/usr/bin/env bash
# The server as shipped: `wardflux serve` (release build, embedded metric store, defaults)
# with N loopback devices imported by CSV through the API, each pinged every 10 s. Samples
# every STEP seconds: CPU of the process (share of one core over the step), RSS, scheduler lag
# quantiles (from /metrics), devices not up, the metric store's size on disk, and the latency
# of two queries (one series over the last hour; an aggregate over all devices). At the end:
# false downs = devices whose ping_up was ever 0 during the run (from the store itself).
#
# Usage: scripts/bench-server.sh [DEVICES=10000] [SECONDS=600] [STEP=10] [OUT=bench-server.csv]
# Needs root (raw ICMP sockets) and curl, python3. Devices are 127.78.x.y (NET=127.80 for another
# range, so two runs at once never ping the same addresses): loopback only.
# BIN=path/to/wardflux skips the build (e.g. to run a binary built earlier).
# ALLOC_PRELOAD=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2 (or libjemalloc.so.2) runs the server on that
# allocator instead of glibc malloc, to compare without rebuilding.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}; SECS=${2:-600}; STEP=${3:-10}; OUT=${4:-bench-server.csv}
if [ -z "${BIN:-}" ]; then
    cargo build --profile "${PROFILE:-release}" -q -p wardflux
    BIN=${CARGO_TARGET_DIR:-target}/${PROFILE:-release}/wardflux
fi
DATA=$(mktemp -d); PORT=$((20000 + RANDOM % 20000))
LD_PRELOAD=${ALLOC_PRELOAD:-} WARDFLUX_ADMIN_PASSWORD=bench-password-1 WARDFLUX_LOG=warn "$BIN" serve \
    --listen 127.0.0.1:$PORT --data-dir "$DATA" >"$DATA/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 400); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
TOKEN=$(curl -sf "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
        -d '{"username":"admin","password":"bench-password-1"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
{ echo "name,ip,region,vendor,tags,icmp_interval_s"
  for i in $(seq 0 $((N-1))); do echo "dev-$i,${NET:-127.78}.$((i/250)).$((i%250+1)),r$((i%10)),Cisco,bench,10"; done; } > "$DATA/devices.csv"
curl -sf "http://127.0.0.1:$PORT/api/v1/devices/import" -H "authorization: Bearer $TOKEN" \
     -H 'content-type: text/csv' --data-binary @"$DATA/devices.csv" >/dev/null
echo "server pid $PID, $N devices imported, sampling every ${STEP}s for ${SECS}s into $OUT"
python3 - "$PID" "$PORT" "$TOKEN" "$SECS" "$STEP" "$OUT" "$DATA/tsdb" <<'EOF'
import json, os, re, sys, time, urllib.parse, urllib.request
pid, port, token, secs, step, out, tsdb = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
base = f"http://127.0.0.1:{port}"
hz = os.sysconf("SC_CLK_TCK")

def get(path, timeout=60):
    req = urllib.request.Request(base + path, headers={"authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()

def cpu_ticks():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])

def rss_mb():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1]) / 1024

def du_mb(d):
    t = 0
    for root, _, files in os.walk(d):
        for f in files:
            try: t += os.path.getsize(os.path.join(root, f))
            except OSError: pass
    return t / 1e6

def lag():
    text = get("/metrics").decode()
    q = {}
    for m in re.finditer(r'wardflux_scheduler_lag_seconds\{[^}]*quantile="([0-9.]+)"[^}]*\} (\S+)', text):
        q[m.group(1)] = float(m.group(2))
    return q.get("0.5", float("nan")), q.get("0.99", float("nan")), q.get("1", float("nan"))

def timed(path):
    t = time.perf_counter(); get(path); return (time.perf_counter() - t) * 1000

def q(expr, rng=None):
    now = time.time()
    if rng:
        return "/api/v1/query_range?" + urllib.parse.urlencode({"query": expr, "start": now - rng, "end": now, "step": 60})
    return "/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": now})

t0 = time.time(); c0 = cpu_ticks(); prev_t, prev_c = t0, c0
with open(out, "w") as f:
    f.write("elapsed_s,cpu_pct_step,cpu_pct_total,rss_mb,lag_p50_ms,lag_p99_ms,lag_max_ms,not_up,tsdb_mb,q_one_series_1h_ms,q_avg_all_ms,load1\n")
    while time.time() - t0 < secs:
        time.sleep(step - ((time.time() - t0) % step))
        now, c = time.time(), cpu_ticks()
        cpu_step = 100 * (c - prev_c) / hz / (now - prev_t)
        cpu_total = 100 * (c - c0) / hz / (now - t0)
        prev_t, prev_c = now, c
        p50, p99, mx = lag()
        not_up = sum(len(json.loads(get(f"/api/v1/monitoring/icmp/status?state={st}"))) for st in ("down", "unknown"))
        q1 = timed(q('ping_rtt_ms{device="dev-7"}', 3600))
        q2 = timed(q("avg(ping_rtt_ms)"))
        load1 = open("/proc/loadavg").read().split()[0]
        f.write(f"{now-t0:.0f},{cpu_step:.2f},{cpu_total:.2f},{rss_mb():.1f},{p50*1000:.2f},{p99*1000:.2f},{mx*1000:.2f},{not_up},{du_mb(tsdb):.2f},{q1:.2f},{q2:.2f},{load1}\n")
        f.flush()
# devices whose ping_up was 0 at any time during the run
span = int(time.time() - t0) + 60
ever_down = json.loads(get(q(f"count(min_over_time(ping_up[{span}s]) == 0)")))["data"]["result"]
checks = json.loads(get(q(f"sum(count_over_time(ping_up[{span}s]))")))["data"]["result"]
print("false downs (devices with ping_up == 0 during the run):", ever_down[0]["value"][1] if ever_down else 0)
print("ping_up samples stored:", checks[0]["value"][1] if checks else 0)
EOF
echo "== $OUT"; column -s, -t < "$OUT" | sed -n '1p;2p;$p'
awk -F, 'NR>1 {n++; c+=$2; if ($4>r) r=$4; if ($6>l) l=$6} END {printf "mean CPU %.2f %% of one core, peak RSS %.1f MB, worst lag p99 %.1f ms over %d samples\n", c/n, r, l, n}' "$OUT"
