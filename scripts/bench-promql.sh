#!/usr/bin/env bash
# PromQL query latency over HTTP on 10,000 devices (30,000 series, 1 hour of 30 s samples):
# this crate's Prometheus router over the embedded store vs VictoriaMetrics, same data imported
# through /api/v1/import/prometheus, same queries through /api/v1/query (release build).
# Usage: scripts/bench-promql.sh [SERIES=10000] [RUNS=15]
# Needs: victoria-metrics on PATH (Debian package) or $WARDFLUX_VM_BIN, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2} cargo build -q --profile "${PROFILE:-release}" -p wardflux-tsdb --example promql_bench
VMBIN=${WARDFLUX_VM_BIN:-$(command -v victoria-metrics)}
DATA=$(mktemp -d); VMPORT=$((20000 + RANDOM % 20000))
"$VMBIN" -httpListenAddr=127.0.0.1:$VMPORT -storageDataPath="$DATA/vm" -retentionPeriod=100y \
    -search.latencyOffset=0s -search.disableCache -loggerLevel=ERROR >"$DATA/vm.log" 2>&1 &
VM=$!
trap 'kill $VM 2>/dev/null; wait $VM 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 400); do curl -sf "http://127.0.0.1:$VMPORT/health" >/dev/null && break; sleep 0.05; done
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"${CARGO_TARGET_DIR:-target}/${PROFILE:-release}/examples/promql_bench" "http://127.0.0.1:$VMPORT" "${1:-10000}" "${2:-15}"
