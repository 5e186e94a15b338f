#!/usr/bin/env bash
# Sample -> webhook latency through VictoriaMetrics + vmalert + Alertmanager (Debian packages
# victoria-metrics and prometheus-alertmanager), for docs/perf/alerts.md.
#
#   scripts/bench-vmalert.sh defaults|tightest TRIALS SPACING_S
#
# Each trial sets the existing series bench_trigger{trial="N"} to 1 in VictoriaMetrics; the rule
# `bench_trigger > 0` (no `for`) fires, Alertmanager (group_by: ['...'], so each trial is its
# own group) posts to a local receiver, which logs the arrival time. Trials start every
# SPACING_S seconds (they are independent series, so they may overlap); the latency of a
# trial is arrival - write.
#   defaults: VictoriaMetrics and vmalert flags and Alertmanager timers at their defaults
#             (search.latencyOffset 30s, evaluationInterval 1m, group_wait 30s).
#   tightest: -search.latencyOffset=0s -search.disableCache, evaluationInterval 1s,
#             group_wait 0s, group_interval 1s.
# Everything listens on 127.0.0.1 and is stopped by recorded PID at the end.
set -euo pipefail
MODE=${1:?defaults|tightest}; TRIALS=${2:-20}; SPACING=${3:-3}
DIR=$(mktemp -d); PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
VM=$(free_port); AM=$(free_port); VMA=$(free_port); HOOK=$(free_port); AMC=$(free_port)

cat > "$DIR/hook.py" <<'EOF'
import http.server, json, sys, time
log = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        t = time.time()
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        for a in body.get("alerts", []):
            if a.get("status") == "firing":
                log.write(f'{a["labels"].get("trial")} {t:.6f}\n')
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
python3 "$DIR/hook.py" "$HOOK" "$DIR/arrivals" & PIDS+=($!)

if [ "$MODE" = tightest ]; then
  VMFLAGS=(-search.latencyOffset=0s -search.disableCache); EVAL=1s; GW=0s; GI=1s
else
  VMFLAGS=(); EVAL=1m; GW=30s; GI=5m
fi
victoria-metrics -httpListenAddr=127.0.0.1:$VM -storageDataPath="$DIR/vm" -loggerLevel=ERROR "${VMFLAGS[@]}" & PIDS+=($!)
cat > "$DIR/am.yml" <<EOF
route:
  receiver: hook
  group_by: ['...']
  group_wait: $GW
  group_interval: $GI
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:$HOOK/
        send_resolved: false
EOF
prometheus-alertmanager --config.file="$DIR/am.yml" --storage.path="$DIR/am" \
  --web.listen-address=127.0.0.1:$AM --cluster.listen-address= --log.level=error & PIDS+=($!)
cat > "$DIR/rules.yml" <<'EOF'
groups:
  - name: bench
    rules:
      - alert: BenchTrigger
        expr: bench_trigger > 0
EOF
for u in "http://127.0.0.1:$VM/health" "http://127.0.0.1:$AM/-/ready"; do
  for _ in $(seq 200); do curl -sf "$u" >/dev/null && break; sleep 0.05; done
done
vmalert -rule="$DIR/rules.yml" -datasource.url=http://127.0.0.1:$VM -notifier.url=http://127.0.0.1:$AM \
  -httpListenAddr=127.0.0.1:$VMA -evaluationInterval=$EVAL -loggerLevel=ERROR & PIDS+=($!)
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$VMA/health" >/dev/null && break; sleep 0.05; done

# The series exist before the trials (value 0), as in docs/perf/alerts.md's own benchmark: a
# trial changes a known series' value, it does not create a series.
seq "$TRIALS" | sed 's/.*/bench_trigger{trial="&"} 0/' |
  curl -sf --data-binary @- "http://127.0.0.1:$VM/api/v1/import/prometheus"
until [ "$(curl -s "http://127.0.0.1:$VM/api/v1/query?query=count(bench_trigger)" | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')" = "$TRIALS" ]; do
  curl -sf --data-binary @- "http://127.0.0.1:$VM/api/v1/import/prometheus" < <(seq "$TRIALS" | sed 's/.*/bench_trigger{trial="&"} 0/')
  sleep 1
done
: > "$DIR/writes"
for i in $(seq "$TRIALS"); do
  t=$(date +%s.%N)
  curl -sf --data-binary "bench_trigger{trial=\"$i\"} 1" "http://127.0.0.1:$VM/api/v1/import/prometheus"
  echo "$i $t" >> "$DIR/writes"
  sleep "$SPACING"
done
# Wait for every trial's notification (bounded: 5 min after the last write).
deadline=$(( $(date +%s) + 300 ))
while [ "$(cut -d' ' -f1 "$DIR/arrivals" 2>/dev/null | sort -u | wc -l)" -lt "$TRIALS" ] && [ "$(date +%s)" -lt "$deadline" ]; do
  sleep 1
done
python3 - "$DIR/writes" "$DIR/arrivals" "$MODE" <<'EOF'
import sys
w = dict(l.split() for l in open(sys.argv[1]))
a = {}
for l in open(sys.argv[2]):
    k, t = l.split()
    a.setdefault(k, float(t))
lat = sorted((a[k] - float(w[k])) * 1000 for k in w if k in a)
def p(q): return lat[min(len(lat) - 1, round((len(lat) - 1) * q))]
print(f"vmalert+alertmanager {sys.argv[3]}: {len(lat)}/{len(w)} trials, p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms, min {lat[0]:.0f} ms, max {lat[-1]:.0f} ms")
EOF
