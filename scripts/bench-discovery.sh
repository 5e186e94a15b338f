#!/usr/bin/env bash
# Issue 15 benchmark (docs/perf/discovery.md): full discovery with classification of a
# network of DEVICES simulated SNMP devices (snmpsim, --v2c-arch, one recording per
# address: the discovery fixtures and snmpsim's shipped recordings, each with its own
# sysName and serial), a few live hosts without an agent, and as many dead addresses.
#
#   scripts/bench-discovery.sh [DEVICES=1000] [RATE=5000] [CONCURRENCY=512]
#
# The range is 127.90.0.0/21 (2046 hosts): 127.90.0.1-127.90.3.255 alive (DEVICES agents,
# the rest ping only), 127.90.4.0/22 dead (nft drop at the input hook: real timeouts).
# Everything runs inside a network namespace this script creates and deletes.
# Rows, all in the same run:
#   1. `wardflux serve` (release, embedded store) through its API: POST /discovery/scan,
#      poll the job until done (the like-for-like headline), results counted over the API;
#   2. `wardflux discover` (the CLI, one process);
#   3. `nmap -sn -n` of the same range (ICMP/TCP host discovery only, no SNMP);
#   4. `nmap -sU -p161 --script snmp-sysdescr` of the live hosts (SNMP only, no sweep).
# Needs root. BIN=path/to/wardflux skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
RATE=${2:-5000}
CONC=${3:-512}
if [ -z "${BIN:-}" ]; then
    cargo build --profile "${PROFILE:-release}" -q -p wardflux
    BIN=${CARGO_TARGET_DIR:-target}/${PROFILE:-release}/wardflux
fi
BIN=$(readlink -f "$BIN")
command -v nmap >/dev/null || apt-get install -y -q nmap >/dev/null
command -v snmpsimd >/dev/null || apt-get install -y -q snmpsim snmp >/dev/null
NS=wfx-bench-disc-$$
WORK=$(mktemp -d); chmod 755 "$WORK"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" nft -f - <<'EOF'
table inet wfx { chain input { type filter hook input priority 0; policy accept;
  ip daddr 127.90.4.0/22 drop } }
EOF
in_ns() { ip netns exec "$NS" "$@"; }
ip_of() { echo "127.90.$((($1 + 1) / 256)).$((($1 + 1) % 256))"; }

# --- the agents: one recording per address (unique sysName and serial), 2 snmpsimd processes.
mkdir -p "$WORK/data/public" "$WORK/cache"; chown nobody:nogroup "$WORK/cache"
python3 - "$WORK" "$N" crates/wardflux-discovery/tests/fixtures/recordings <<'EOF'
import glob, gzip, os, sys
work, n, fixdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
srcs = []
for f in sorted(glob.glob(os.path.join(fixdir, "*.snmprec"))):
    srcs.append(open(f).read())
shipped = "/usr/share/doc/snmpsim/examples/data/"
for f in ["cisco_16_switch.snmprec.gz", "hp_perf.snmprec.gz", "recorded/linux-full-walk.snmprec.gz",
          "recorded/winxp-full-walk.snmprec.gz"]:
    srcs.append(gzip.open(shipped + f, "rt", errors="replace").read())
def key(line):
    return [int(x) for x in line.split("|", 1)[0].split(".")]
for i in range(n):
    src = srcs[i % len(srcs)]
    lines = [l for l in src.splitlines() if l and not l.startswith(("1.3.6.1.2.1.1.5.0|", "1.3.6.1.6.3.10.2.1.1.0|"))
             and not l.startswith("1.3.6.1.2.1.47.1.1.1.1.11.")]
    lines.append(f"1.3.6.1.2.1.1.5.0|4|bench-{i:04d}")
    lines.append(f"1.3.6.1.2.1.47.1.1.1.1.11.1|4|SN{i:08d}")
    lines.sort(key=key)
    # snmpsim endpoint index per process: process p serves i = p, p+2, ...
    p, k = i % 2, i // 2
    os.makedirs(f"{work}/data{p}/public", exist_ok=True)
    open(f"{work}/data{p}/public/1.3.6.1.6.1.1.{k}.snmprec", "w").write("\n".join(lines) + "\n")
EOF
chmod -R a+rX "$WORK"
for p in 0 1; do
    { echo "--data-dir=$WORK/data$p"; echo "--cache-dir=$WORK/cache"
      for i in $(seq "$p" 2 $((N - 1))); do echo "--agent-udpv4-endpoint=$(ip_of "$i"):161"; done
    } > "$WORK/sim$p.args"
    in_ns snmpsimd --v2c-arch --logging-method=null --process-user=nobody --process-group=nogroup \
        --args-from-file="$WORK/sim$p.args" >/dev/null 2>&1 &
    PIDS+=($!)
done
for i in 0 1 $((N - 2)) $((N - 1)); do
    for _ in $(seq 900); do
        in_ns snmpget -v2c -c public -t 0.3 -r 0 "$(ip_of "$i")" 1.3.6.1.2.1.1.5.0 >/dev/null 2>&1 && break
        sleep 0.2
    done
done
# Warm snmpsim's per-file indexes (built on first use) so no row pays for them.
for i in $(seq 0 $((N - 1))); do echo "$(ip_of "$i")"; done > "$WORK/agents.txt"
in_ns "$BIN" discover 127.90.0.0/22 -c public --rate 20000 --concurrency 1024 --json >/dev/null
echo "snmpsim: $N agents up in namespace $NS; range 127.90.0.0/21 (2046 hosts, 1023 alive, 1023 dead)"

secs() { python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / 1e9:.2f}')" "$1" "$2"; }

# --- 1. the server through its API
DATA="$WORK/wardflux"; PORT=$((20000 + RANDOM % 20000))
in_ns env WARDFLUX_ADMIN_PASSWORD=bench-password-1 WARDFLUX_LOG=warn "$BIN" serve \
    --listen 127.0.0.1:$PORT --data-dir "$DATA" >"$WORK/server.log" 2>&1 &
SPID=$!; PIDS+=($SPID)
for _ in $(seq 400); do in_ns curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
API_OUT=$(in_ns python3 - "$PORT" "$RATE" "$CONC" <<'EOF'
import json, sys, time, urllib.request
port, rate, conc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def call(method, path, body=None, token=None):
    h = {"content-type": "application/json"}
    if token: h["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(), headers=h)
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read() or b"null")
tok = call("POST", "/api/v1/auth/login", {"username": "admin", "password": "bench-password-1"})["token"]
t0 = time.monotonic()
job = call("POST", "/api/v1/monitoring/discovery/scan",
           {"ranges": ["127.90.0.0/21"], "communities": ["public"], "rate_limit": rate, "concurrency": conc}, tok)["job_id"]
while True:
    run = call("GET", f"/api/v1/monitoring/discovery/jobs/{job}", token=tok)
    if run["state"] != "running": break
    time.sleep(0.05)
wall = time.monotonic() - t0
res = call("GET", f"/api/v1/monitoring/discovery/results?job_id={job}&limit=1000", token=tok)
items = list(res["items"]); off = 1000
while off < res["total"]:
    items += call("GET", f"/api/v1/monitoring/discovery/results?job_id={job}&limit=1000&offset={off}", token=tok)["items"]
    off += 1000
snmp = sum(1 for r in items if r["snmp"]); classified = sum(1 for r in items if r["snmp"] and r.get("os"))
print(f"{wall:.2f} {run['duration_ms']/1000:.2f} {run['state']} {run['alive']} {snmp} {classified} {len(items)}")
EOF
)
read -r API_WALL API_JOB API_STATE API_ALIVE API_SNMP API_CLASS API_RESULTS <<<"$API_OUT"
SCPU=$(awk '{print $14 + $15}' "/proc/$SPID/stat"); TCK=$(getconf CLK_TCK)
echo "server: $API_STATE in ${API_WALL}s (job ${API_JOB}s): $API_ALIVE alive, $API_SNMP SNMP, $API_CLASS classified, $API_RESULTS results; server CPU total $(python3 -c "print(f'{$SCPU/$TCK:.2f}')") s (incl. start)"

# --- 2. the CLI
T0=$(date +%s%N)
in_ns "$BIN" discover 127.90.0.0/21 -c public --rate "$RATE" --concurrency "$CONC" --json > "$WORK/cli.json"
T1=$(date +%s%N); CLI=$(secs "$T0" "$T1")
CLI_SNMP=$(python3 -c "import json,sys; print(sum(1 for f in json.load(open(sys.argv[1])) if f['snmp']))" "$WORK/cli.json")
echo "cli: ${CLI}s, $CLI_SNMP SNMP devices"

# --- 3. nmap host discovery of the same range
T0=$(date +%s%N)
in_ns nmap -sn -n 127.90.0.0/21 -oG "$WORK/nmap-sn.txt" >/dev/null
T1=$(date +%s%N); NMAP_SN=$(secs "$T0" "$T1")
NMAP_UP=$(grep -c "Status: Up" "$WORK/nmap-sn.txt" || true)
echo "nmap -sn: ${NMAP_SN}s, $NMAP_UP up"

# --- 4. nmap SNMP sysDescr of the live agents
T0=$(date +%s%N)
in_ns nmap -sU -p161 -n --script snmp-sysdescr --script-args snmpcommunity=public -iL "$WORK/agents.txt" -oN "$WORK/nmap-snmp.txt" >/dev/null
T1=$(date +%s%N); NMAP_SNMP=$(secs "$T0" "$T1")
NMAP_DESCR=$(grep -c "snmp-sysdescr:" "$WORK/nmap-snmp.txt" || true)
echo "nmap snmp-sysdescr: ${NMAP_SNMP}s, $NMAP_DESCR sysDescr read"

python3 - "$API_WALL" "$CLI" "$NMAP_SN" "$NMAP_SNMP" "$N" "$API_SNMP" "$API_CLASS" "$NMAP_UP" "$NMAP_DESCR" <<'EOF'
import sys
api, cli, sn, snmp = map(float, sys.argv[1:5]); n, asnmp, acls, up, descr = map(int, sys.argv[5:10])
print()
print("| what | seconds | found | vs server |")
print("| --- | --- | --- | --- |")
print(f"| wardflux serve, API scan (sweep + SNMP + classification + results stored) | **{api:.2f}** | {asnmp} of {n} SNMP, {acls} classified | 1 |")
print(f"| wardflux discover (CLI) | {cli:.2f} | | {cli/api:.2f} |")
print(f"| nmap -sn (sweep only) | {sn:.2f} | {up} up | {sn/api:.2f} |")
print(f"| nmap -sU -p161 --script snmp-sysdescr (agents only, no sweep) | {snmp:.2f} | {descr} sysDescr | {snmp/api:.2f} |")
print(f"| nmap, both steps | {sn+snmp:.2f} | | {(sn+snmp)/api:.2f} |")
EOF
