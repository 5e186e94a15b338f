#!/usr/bin/env bash
# PromQL conformance, measured over HTTP: runs PromQL test files (Prometheus' promqltest format)
# against the server as shipped (`wardflux serve`, embedded store, bearer token) and against
# VictoriaMetrics side by side, and prints pass / unsupported / wrong counts for each (plus the
# in-process evaluator as a third column).
#
# Usage: scripts/promql-conformance.sh DIR [-v]
#   DIR holds the .test files to run, e.g. Prometheus' own promql/promqltest/testdata/
#   {aggregators,functions,operators,selectors,staleness}.test (not part of this repository:
#   fetch them from github.com/prometheus/prometheus yourself), or crates/wardflux-tsdb/tests/promql.
# Needs: victoria-metrics on PATH (Debian package) or $WARDFLUX_VM_BIN, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?usage: $0 DIR [-v]}; shift
CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2} cargo build -q -p wardflux
CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2} cargo build -q -p wardflux-tsdb --example promql_conformance
T=${CARGO_TARGET_DIR:-target}/debug
VMBIN=${WARDFLUX_VM_BIN:-$(command -v victoria-metrics)}
DATA=$(mktemp -d)
PORT=$((20000 + RANDOM % 20000)); VMPORT=$((PORT + 1))
WARDFLUX_ADMIN_PASSWORD=conformance-pw-1 WARDFLUX_LOG=warn WARDFLUX_METRICS_RAW_RETENTION_DAYS=36500 \
    "$T/wardflux" serve --listen 127.0.0.1:$PORT --data-dir "$DATA/wf" >"$DATA/wf.log" 2>&1 &
WF=$!
"$VMBIN" -httpListenAddr=127.0.0.1:$VMPORT -storageDataPath="$DATA/vm" -retentionPeriod=100y \
    -search.latencyOffset=0s -search.disableCache -loggerLevel=ERROR >"$DATA/vm.log" 2>&1 &
VM=$!
trap 'kill $WF $VM 2>/dev/null; wait $WF $VM 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && curl -sf "http://127.0.0.1:$VMPORT/health" >/dev/null && break
    sleep 0.05
done
TOKEN=$(curl -sf "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
        -d '{"username":"admin","password":"conformance-pw-1"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
"$T/examples/promql_conformance" "$@" \
    "wardflux=http://127.0.0.1:$PORT#$TOKEN" "victoriametrics=http://127.0.0.1:$VMPORT" embedded embedded-at-0 \
    -- "$DIR"/*.test
