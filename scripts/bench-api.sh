#!/usr/bin/env bash
# API latency benchmark: a release server on the embedded default with N devices
# (imported through the API), then wrk against the read routes an operator's screen polls.
# Usage: scripts/bench-api.sh [DEVICES=1000] [SECONDS=10]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}; SECS=${2:-10}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 1; }
cargo build --profile "${PROFILE:-release}" -q -p wardflux
BIN=${CARGO_TARGET_DIR:-target}/${PROFILE:-release}/wardflux
DATA=$(mktemp -d); PORT=$((20000 + RANDOM % 20000))
ts=$(date +%s%N)
WARDFLUX_ADMIN_PASSWORD=bench-password-1 WARDFLUX_LOG=warn "$BIN" serve --listen 127.0.0.1:$PORT --data-dir "$DATA" >/dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 400); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.01; done
te=$(date +%s%N)
echo "fresh data dir: process start to first /healthz 200: $(( (te - ts) / 1000000 )) ms"
TOKEN=$(curl -sf "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
        -d '{"username":"admin","password":"bench-password-1"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
# Devices on 127.77.x.y: loopback, so the ICMP monitor really pings them while we measure.
{ echo "name,ip,region,vendor,tags"
  for i in $(seq 0 $((N-1))); do echo "branch-$i,127.77.$((i/250)).$((i%250+1)),r$((i%10)),Cisco,atm"; done; } > "$DATA/devices.csv"
t0=$(date +%s%N)
curl -sf "http://127.0.0.1:$PORT/api/v1/devices/import" -H "authorization: Bearer $TOKEN" \
     -H 'content-type: text/csv' --data-binary @"$DATA/devices.csv" >/dev/null
t1=$(date +%s%N)
echo "import of $N devices (CSV, one request): $(( (t1 - t0) / 1000000 )) ms"
ID=$(curl -sf "http://127.0.0.1:$PORT/api/v1/devices?limit=1" -H "authorization: Bearer $TOKEN" | sed 's/.*"id":"\([^"]*\)".*/\1/')
for path in "/healthz" "/api/v1/devices?limit=100" "/api/v1/devices?search=branch-99&sort=-name" \
            "/api/v1/devices/$ID" "/api/v1/monitoring/icmp/status" "/api/v1/auth/me"; do
    echo "== GET $path (4 connections, ${SECS}s)"
    wrk -t2 -c4 -d${SECS}s --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$path" \
        | grep -E 'Requests/sec|50%|99%|Non-2xx' || true
done
echo "server RSS: $(ps -o rss= -p $PID | awk '{printf "%.1f MB", $1/1024}')"
