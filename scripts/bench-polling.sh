#!/usr/bin/env bash
# Issue 12 benchmarks (docs/perf/polling.md): the server as shipped polling SNMP items from
# templates, against snmpsim agents on loopback (127.79.x.y:161, one endpoint per device).
#
#   scripts/bench-polling.sh all   [DEVICES=10000] [SECONDS=600] [STEP=30]
#       `wardflux serve` (release, embedded store): DEVICES devices pinged every 10 s, the
#       Generic SNMP template applied to all (3 interfaces per agent: 19 items every 60 s,
#       2 hourly). Samples CPU, RSS, scheduler lag and skipped runs; counts the items polled.
#   scripts/bench-polling.sh chain [DEVICES=1000]  [SECONDS=300]
#       The same items for DEVICES devices through prometheus-snmp-exporter scraped every
#       60 s by vmagent into VictoriaMetrics, beside `wardflux serve` polling them (ICMP
#       every hour only), in the same window: CPU of the whole chain vs ours.
#
# Needs root (port 161, ICMP). BIN=path/to/wardflux skips the build. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-all}
case "$MODE" in
    all) N=${2:-10000}; SECS=${3:-600}; STEP=${4:-30}; ICMP=10 ;;
    chain) N=${2:-1000}; SECS=${3:-300}; STEP=60; ICMP=3600 ;;
    *) echo "usage: $0 all|chain [DEVICES] [SECONDS] [STEP]" >&2; exit 2 ;;
esac
if [ -z "${BIN:-}" ]; then
    cargo build --profile "${PROFILE:-release}" -q -p wardflux
    BIN=${CARGO_TARGET_DIR:-target}/${PROFILE:-release}/wardflux
fi
WORK=$(mktemp -d); chmod 755 "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
ip_of() { echo "127.79.$(($1 / 250)).$(($1 % 250 + 1))"; }

# --- the agents: one small recording (system group, 3 Ethernet interfaces in ifTable and
# ifXTable), served on every device address by 4 snmpsimd processes.
mkdir -p "$WORK/data" "$WORK/cache"; chown nobody:nogroup "$WORK/cache"
python3 - "$WORK/data/bench.snmprec" <<'EOF'
import sys
rows = [("1.3.6.1.2.1.1.1.0", 4, "Bench switch (snmpsim)"), ("1.3.6.1.2.1.1.2.0", 6, "1.3.6.1.4.1.8072.3.2.10"),
        ("1.3.6.1.2.1.1.3.0", 67, "8640000"), ("1.3.6.1.2.1.1.5.0", 4, "bench-switch"), ("1.3.6.1.2.1.2.1.0", 2, "3")]
cols = {1: (2, lambda i: str(i)), 2: (4, lambda i: f"GigabitEthernet0/{i}"), 3: (2, lambda i: "6"),
        7: (2, lambda i: "1"), 8: (2, lambda i: "1"), 10: (65, lambda i: str(1000000 * i)),
        14: (65, lambda i: "0"), 16: (65, lambda i: str(2000000 * i)), 20: (65, lambda i: "0")}
for c, (t, f) in cols.items():
    for i in (1, 2, 3):
        rows.append((f"1.3.6.1.2.1.2.2.1.{c}.{i}", t, f(i)))
xcols = {1: (4, lambda i: f"Gi0/{i}"), 6: (70, lambda i: str(10**9 * i)), 10: (70, lambda i: str(2 * 10**9 * i)),
         18: (4, lambda i: f"uplink {i}")}
for c, (t, f) in xcols.items():
    for i in (1, 2, 3):
        rows.append((f"1.3.6.1.2.1.31.1.1.1.{c}.{i}", t, f(i)))
rows.sort(key=lambda r: [int(x) for x in r[0].split(".")])
open(sys.argv[1], "w").write("".join(f"{o}|{t}|{v}\n" for o, t, v in rows))
EOF
chmod -R a+rX "$WORK/data"
PROCS=4
for p in $(seq 0 $((PROCS - 1))); do
    { echo "--data-dir=$WORK/data"; echo "--cache-dir=$WORK/cache"
      for i in $(seq "$p" "$PROCS" $((N - 1))); do echo "--agent-udpv4-endpoint=$(ip_of "$i"):161"; done
    } > "$WORK/sim$p.args"
    snmpsimd --logging-method=null --process-user=nobody --process-group=nogroup \
        --args-from-file="$WORK/sim$p.args" >/dev/null 2>&1 &
    PIDS+=($!)
done
for i in 0 $((N - 1)); do
    for _ in $(seq 600); do
        snmpget -v2c -c bench -t 0.3 -r 0 "$(ip_of "$i")" 1.3.6.1.2.1.1.5.0 >/dev/null 2>&1 && break
        sleep 0.2
    done
done
echo "snmpsim: $PROCS processes, $N endpoints up"

# --- the server
DATA="$WORK/wardflux"; PORT=$((20000 + RANDOM % 20000))
WARDFLUX_ADMIN_PASSWORD=bench-password-1 WARDFLUX_LOG=warn "$BIN" serve \
    --listen 127.0.0.1:$PORT --data-dir "$DATA" >"$WORK/server.log" 2>&1 &
SPID=$!; PIDS+=($SPID)
for _ in $(seq 400); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
TOKEN=$(curl -sf "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
        -d '{"username":"admin","password":"bench-password-1"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
{ echo "name,ip,vendor,tags,icmp_interval_s"
  for i in $(seq 0 $((N - 1))); do echo "dev-$i,$(ip_of "$i"),Bench,bench,$ICMP"; done; } > "$WORK/devices.csv"
curl -sf "http://127.0.0.1:$PORT/api/v1/devices/import" -H "authorization: Bearer $TOKEN" \
     -H 'content-type: text/csv' --data-binary @"$WORK/devices.csv" >/dev/null
curl -sf "http://127.0.0.1:$PORT/api/v1/monitoring/snmp/credentials" -H "authorization: Bearer $TOKEN" \
     -H 'content-type: application/json' -d '{"name":"bench","version":"v2c","community":"bench"}' >/dev/null
python3 - "$PORT" "$TOKEN" <<'EOF'
import json, sys, urllib.error, urllib.request
port, token = sys.argv[1], sys.argv[2]
def call(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: {e.code} {e.read().decode()[:500]}")
ids, off = [], 0
while True:
    page = call("GET", f"/api/v1/devices?limit=1000&offset={off}")
    items = page["items"] if isinstance(page, dict) else page
    ids += [d["id"] for d in items]
    if len(items) < 1000: break
    off += 1000
tid = next(t["id"] for t in call("GET", "/api/v1/monitoring/templates") if t["name"] == "Generic SNMP")
call("POST", f"/api/v1/monitoring/templates/{tid}/apply", {"device_ids": ids})
print(f"Generic SNMP applied to {len(ids)} devices")
EOF

if [ "$MODE" = chain ]; then
    # --- the peer chain: snmp_exporter (same OIDs: 3 scalars, 9 interface columns walked),
    # vmagent scraping it every 60 s, VictoriaMetrics storing.
    EXP=$((PORT + 1)); VM=$((PORT + 2)); VMA=$((PORT + 3))
    cat > "$WORK/snmp.yml" <<EOF
wf:
  version: 2
  auth:
    community: bench
  timeout: 5s
  retries: 3
  get: [1.3.6.1.2.1.1.1.0, 1.3.6.1.2.1.1.3.0, 1.3.6.1.2.1.1.5.0]
  walk: [1.3.6.1.2.1.2.2.1.2, 1.3.6.1.2.1.2.2.1.3, 1.3.6.1.2.1.2.2.1.8, 1.3.6.1.2.1.2.2.1.14, 1.3.6.1.2.1.2.2.1.20, 1.3.6.1.2.1.31.1.1.1.1, 1.3.6.1.2.1.31.1.1.1.6, 1.3.6.1.2.1.31.1.1.1.10, 1.3.6.1.2.1.31.1.1.1.18]
  metrics:
  - {name: sysDescr, oid: 1.3.6.1.2.1.1.1, type: DisplayString}
  - {name: sysUpTime, oid: 1.3.6.1.2.1.1.3, type: gauge}
  - {name: sysName, oid: 1.3.6.1.2.1.1.5, type: DisplayString}
EOF
    for m in "ifHCInOctets 1.3.6.1.2.1.31.1.1.1.6 counter" "ifHCOutOctets 1.3.6.1.2.1.31.1.1.1.10 counter" \
             "ifInErrors 1.3.6.1.2.1.2.2.1.14 counter" "ifOutErrors 1.3.6.1.2.1.2.2.1.20 counter" \
             "ifOperStatus 1.3.6.1.2.1.2.2.1.8 gauge"; do
        set -- $m
        cat >> "$WORK/snmp.yml" <<EOF
  - name: $1
    oid: $2
    type: $3
    indexes: [{labelname: ifIndex, type: gauge}]
    lookups:
    - {labels: [ifIndex], labelname: ifName, oid: 1.3.6.1.2.1.31.1.1.1.1, type: DisplayString}
    - {labels: [ifIndex], labelname: ifDescr, oid: 1.3.6.1.2.1.2.2.1.2, type: DisplayString}
    - {labels: [ifIndex], labelname: ifAlias, oid: 1.3.6.1.2.1.31.1.1.1.18, type: DisplayString}
    - {labels: [ifIndex], labelname: ifType, oid: 1.3.6.1.2.1.2.2.1.3, type: gauge}
EOF
    done
    prometheus-snmp-exporter --config.file="$WORK/snmp.yml" --web.listen-address=127.0.0.1:$EXP \
        --log.level=error >"$WORK/exporter.log" 2>&1 &
    EPID=$!; PIDS+=($EPID)
    victoria-metrics -storageDataPath="$WORK/vm" -httpListenAddr=127.0.0.1:$VM -loggerLevel=ERROR >"$WORK/vm.log" 2>&1 &
    VPID=$!; PIDS+=($VPID)
    { echo "scrape_configs:"; echo "- job_name: snmp"; echo "  scrape_interval: 60s"; echo "  scrape_timeout: 30s"
      echo "  metrics_path: /snmp"; echo "  params: {module: [wf]}"; echo "  static_configs:"; echo "  - targets:"
      for i in $(seq 0 $((N - 1))); do echo "    - $(ip_of "$i")"; done
      echo "  relabel_configs:"
      echo "  - {source_labels: [__address__], target_label: __param_target}"
      echo "  - {source_labels: [__param_target], target_label: instance}"
      echo "  - {target_label: __address__, replacement: 127.0.0.1:$EXP}"; } > "$WORK/scrape.yml"
    for _ in $(seq 200); do curl -sf "http://127.0.0.1:$VM/health" >/dev/null && break; sleep 0.05; done
    vmagent -promscrape.config="$WORK/scrape.yml" -remoteWrite.url="http://127.0.0.1:$VM/api/v1/write" \
        -httpListenAddr=127.0.0.1:$VMA -remoteWrite.tmpDataPath="$WORK/vmagent" -loggerLevel=ERROR \
        >"$WORK/vmagent.log" 2>&1 &
    APID=$!; PIDS+=($APID)
    echo "chain: snmp_exporter $EPID, vmagent $APID, victoria-metrics $VPID; wardflux $SPID"
    # one full minute for both sides to start polling, then measure
    sleep 70
    python3 - "$SPID" "$EPID" "$APID" "$VPID" "$SECS" "$PORT" "$TOKEN" "$VM" "$N" <<'EOF'
import json, os, sys, time, urllib.parse, urllib.request
spid, epid, apid, vpid, secs, port, token, vm, n = sys.argv[1:]
secs, n = int(secs), int(n)
hz = os.sysconf("SC_CLK_TCK")
def ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
def rss(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1]) / 1024
def q(base, expr, auth=None):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    req = urllib.request.Request(url, headers={"authorization": f"Bearer {auth}"} if auth else {})
    r = json.loads(urllib.request.urlopen(req, timeout=60).read())["data"]["result"]
    return float(r[0]["value"][1]) if r else 0.0
ours_base, vm_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{vm}"
pids = {"wardflux": spid, "snmp_exporter": epid, "vmagent": apid, "victoria-metrics": vpid}
t0, c0 = time.time(), {k: ticks(p) for k, p in pids.items()}
time.sleep(secs)
t1, c1 = time.time(), {k: ticks(p) for k, p in pids.items()}
cpu = {k: (c1[k] - c0[k]) / hz for k in pids}
span = int(t1 - t0)
ours_if = q(ours_base, f"sum(count_over_time(interface_oper_status[{span}s]))", token)
ours_up = q(ours_base, f"sum(count_over_time(system_uptime_seconds[{span}s]))", token)
theirs_if = q(vm_base, f"sum(count_over_time(ifOperStatus[{span}s]))")
theirs_up = q(vm_base, f"sum(count_over_time(sysUpTime[{span}s]))")
ours_items = 6 * ours_if + ours_up
theirs_items = 6 * theirs_if + theirs_up
chain = cpu["snmp_exporter"] + cpu["vmagent"] + cpu["victoria-metrics"]
print(f"window {span} s, {n} devices, 19 items per device per minute")
for k in pids:
    print(f"  {k:17s} CPU {cpu[k]:7.2f} s ({100*cpu[k]/span:5.2f} % of one core)  RSS {rss(pids[k]):7.1f} MB")
print(f"  items polled: wardflux {ours_items:.0f}, chain {theirs_items:.0f} (expected {n*19*span/60:.0f})")
print(f"  CPU per 1,000 items: wardflux {1000*cpu['wardflux']/max(ours_items,1)*1000:.1f} ms, chain {1000*chain/max(theirs_items,1)*1000:.1f} ms")
print(f"  CPU ratio wardflux / chain: {cpu['wardflux']/chain:.3f}")
EOF
    exit 0
fi

OUT=${OUT:-bench-polling.csv}
echo "server pid $SPID; sampling every ${STEP}s for ${SECS}s into $OUT"
python3 - "$SPID" "$PORT" "$TOKEN" "$SECS" "$STEP" "$OUT" "$N" <<'EOF'
import json, os, re, sys, time, urllib.parse, urllib.request
pid, port, token, secs, step, out, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], int(sys.argv[7])
base = f"http://127.0.0.1:{port}"
hz = os.sysconf("SC_CLK_TCK")
def get(path):
    req = urllib.request.Request(base + path, headers={"authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=120) as r: return r.read()
def ticks():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1]) / 1024
def metrics():
    text = get("/metrics").decode()
    qs = {m.group(1): float(m.group(2)) for m in re.finditer(r'wardflux_scheduler_lag_seconds\{[^}]*quantile="([0-9.]+)"[^}]*\} (\S+)', text)}
    sk = sum(float(m.group(1)) for m in re.finditer(r'wardflux_scheduler_skipped_total\{[^}]*\} (\S+)', text))
    runs = sum(float(m.group(1)) for m in re.finditer(r'wardflux_scheduler_runs_total\{[^}]*\} (\S+)', text))
    return qs.get("0.5", float("nan")), qs.get("0.99", float("nan")), qs.get("1", float("nan")), sk, runs
def q(expr):
    r = json.loads(get("/api/v1/query?" + urllib.parse.urlencode({"query": expr})))["data"]["result"]
    return float(r[0]["value"][1]) if r else 0.0
t0, c0 = time.time(), ticks(); prev_t, prev_c = t0, c0
_, _, _, sk0, _ = metrics()
with open(out, "w") as f:
    f.write("elapsed_s,cpu_pct_step,cpu_pct_total,rss_mb,lag_p50_ms,lag_p99_ms,lag_max_ms,skipped,snmp_up,snmp_series,load1\n")
    while time.time() - t0 < secs:
        time.sleep(step - ((time.time() - t0) % step))
        now, c = time.time(), ticks()
        p50, p99, mx, sk, runs = metrics()
        up = q("sum(snmp_up)"); series = q("count(interface_oper_status)")
        f.write(f"{now-t0:.0f},{100*(c-prev_c)/hz/(now-prev_t):.2f},{100*(c-c0)/hz/(now-t0):.2f},{rss():.1f},{p50*1000:.2f},{p99*1000:.2f},{mx*1000:.2f},{sk-sk0:.0f},{up:.0f},{series:.0f},{open('/proc/loadavg').read().split()[0]}\n")
        f.flush(); prev_t, prev_c = now, c
span = int(time.time() - t0)
cpu_s = (ticks() - c0) / hz
items = 6 * q(f"sum(count_over_time(interface_oper_status[{span}s]))") + q(f"sum(count_over_time(system_uptime_seconds[{span}s]))")
pings = q(f"sum(count_over_time(ping_up[{span}s]))")
print(f"items polled in {span} s: {items:.0f} (expected {n*19*span/60:.0f}); ICMP checks: {pings:.0f}")
print(f"CPU {cpu_s:.1f} s = {100*cpu_s/span:.2f} % of one core ({50*cpu_s/span:.2f} % of 2 cores); per 1,000 items (ICMP included) {1e6*cpu_s/max(items,1):.1f} ms")
EOF
echo "== $OUT"; column -s, -t < "$OUT"
