#!/usr/bin/env bash
# Issue 15 benchmark (docs/perf/discovery.md): full discovery with classification of a
# network of DEVICES simulated SNMP devices (snmpsim, --v2c-arch, one recording per
# address: the discovery fixtures and snmpsim's shipped recordings, each with its own
# sysName and serial), a few live hosts without an agent, and as many dead addresses.
#
#   scripts/bench-discovery.sh [DEVICES=1000] [RATE=5000] [CONCURRENCY=512]
#
# The range is 10.90.0.0/21 (2046 hosts): 10.90.0.1-10.90.3.255 alive (DEVICES agents,
# the rest ping only), 10.90.4.0/22 dead (nft drop at the input hook: real timeouts).
# Everything runs inside two network namespaces this script creates and deletes (a
# scanner and a network behind a veth link); no packet leaves them.
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
# Two namespaces: $NS scans (server, CLI, nmap), $NET is the network (the agents; every
# address of 10.90.0.0/21 is local there, the upper /22 dropped), routed over a veth pair,
# so every probe crosses a link and nmap cannot take a shortcut for local addresses.
NS=wfxbd-scan-$$
NET=wfxbd-net-$$
WORK=$(mktemp -d); chmod 755 "$WORK"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    pkill -f "snmpsimd --v2c-arch .*$WORK" 2>/dev/null || true
    wait 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    ip netns del "$NET" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$NS"
ip netns add "$NET"
ip -n "$NS" link set lo up
ip -n "$NET" link set lo up
ip link add wfxbd$$a netns "$NS" type veth peer name wfxbd$$b netns "$NET"
ip -n "$NS" addr add 10.213.250.1/30 dev wfxbd$$a
ip -n "$NET" addr add 10.213.250.2/30 dev wfxbd$$b
ip -n "$NS" link set wfxbd$$a up
ip -n "$NET" link set wfxbd$$b up
ip -n "$NET" route add local 10.90.0.0/21 dev lo
ip -n "$NS" route add 10.90.0.0/21 via 10.213.250.2
ip netns exec "$NET" nft -f - <<'EOF'
table inet wfx {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr 10.90.4.0/22 drop
  }
}
EOF
in_ns() { ip netns exec "$NS" "$@"; }
ip_of() { echo "10.90.$((($1 + 1) / 256)).$((($1 + 1) % 256))"; }

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
    lines = [l for l in src.splitlines() if l[:1].isdigit() and not l.startswith(("1.3.6.1.2.1.1.5.0|", "1.3.6.1.6.3.10.2.1.1.0|"))
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
    # (--v2c-arch reads only the endpoints from --args-from-file: directories on the line.)
    for i in $(seq "$p" 2 $((N - 1))); do echo "--agent-udpv4-endpoint=$(ip_of "$i"):161"; done > "$WORK/sim$p.args"
    ip netns exec "$NET" snmpsimd --v2c-arch --logging-method=null --process-user=nobody --process-group=nogroup \
        --data-dir="$WORK/data$p" --cache-dir="$WORK/cache" \
        --args-from-file="$WORK/sim$p.args" >/dev/null 2>&1 &
    PIDS+=($!)
done
for i in 0 1 $((N - 2)) $((N - 1)); do
    for _ in $(seq 600); do
        in_ns snmpget -v2c -c public -t 0.3 -r 0 "$(ip_of "$i")" 1.3.6.1.2.1.1.5.0 >/dev/null 2>&1 && break
        sleep 0.2
    done
done
# Warm snmpsim's per-file indexes (built on first use) so no row pays for them.
for i in $(seq 0 $((N - 1))); do echo "$(ip_of "$i")"; done > "$WORK/agents.txt"
in_ns "$BIN" discover 10.90.0.0/22 -c public --rate 20000 --concurrency 1024 --json >/dev/null
echo "snmpsim: $N agents up in namespace $NET; range 10.90.0.0/21 (2046 hosts, 1023 alive, 1023 dead)"

secs() { python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / 1e9:.2f}')" "$1" "$2"; }

# --- 1. the server through its API
DATA="$WORK/wardflux"; PORT=$((20000 + RANDOM % 20000))
ip netns exec "$NS" env WARDFLUX_ADMIN_PASSWORD=bench-password-1 WARDFLUX_LOG=warn "$BIN" serve \
    --listen 127.0.0.1:$PORT --data-dir "$DATA" >"$WORK/server.log" 2>&1 &
SPID=$!; PIDS+=($SPID)   # ip netns exec and env exec: $! is the server
for _ in $(seq 400); do in_ns curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
API_OUT=$(in_ns python3 - "$PORT" "$RATE" "$CONC" "$SPID" <<'EOF'
import json, os, sys, time, urllib.request
port, rate, conc, spid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def cpu():
    f = open(f"/proc/{spid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
def call(method, path, body=None, token=None):
    h = {"content-type": "application/json"}
    if token: h["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(), headers=h)
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read() or b"null")
tok = call("POST", "/api/v1/auth/login", {"username": "admin", "password": "bench-password-1"})["token"]
c0 = cpu(); t0 = time.monotonic()
job = call("POST", "/api/v1/monitoring/discovery/scan",
           {"ranges": ["10.90.0.0/21"], "communities": ["public"], "rate_limit": rate, "concurrency": conc}, tok)["job_id"]
while True:
    run = call("GET", f"/api/v1/monitoring/discovery/jobs/{job}", token=tok)
    if run["state"] != "running": break
    time.sleep(0.05)
wall = time.monotonic() - t0; scan_cpu = cpu() - c0
res = call("GET", f"/api/v1/monitoring/discovery/results?job_id={job}&limit=1000", token=tok)
items = list(res["items"]); off = 1000
while off < res["total"]:
    items += call("GET", f"/api/v1/monitoring/discovery/results?job_id={job}&limit=1000&offset={off}", token=tok)["items"]
    off += 1000
snmp = sum(1 for r in items if r["snmp"]); classified = sum(1 for r in items if r["snmp"] and r.get("rule"))
print(f"{wall:.2f} {run['duration_ms']/1000:.2f} {run['state']} {run['alive']} {snmp} {classified} {len(items)} {scan_cpu:.2f}")
EOF
)
read -r API_WALL API_JOB API_STATE API_ALIVE API_SNMP API_CLASS API_RESULTS API_CPU <<<"$API_OUT"
echo "server: $API_STATE in ${API_WALL}s (job ${API_JOB}s): $API_ALIVE alive, $API_SNMP SNMP, $API_CLASS classified, $API_RESULTS results; server CPU during the scan ${API_CPU} s"

# Wall and CPU seconds (user + system of the process and its children) of a command.
run_timed() {
    python3 - "$@" <<'EOF'
import resource, subprocess, sys, time
out = open(sys.argv[1], "w")
t0 = time.monotonic()
subprocess.run(sys.argv[2:], stdout=out, check=True)
wall = time.monotonic() - t0
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{wall:.2f} {r.ru_utime + r.ru_stime:.2f}")
EOF
}

# --- 2. the CLI
read -r CLI CLI_CPU <<<"$(run_timed "$WORK/cli.json" ip netns exec "$NS" "$BIN" discover 10.90.0.0/21 -c public --rate "$RATE" --concurrency "$CONC" --json)"
CLI_SNMP=$(python3 -c "import json,sys; print(sum(1 for f in json.load(open(sys.argv[1])) if f['snmp']))" "$WORK/cli.json")
echo "cli: ${CLI}s (CPU ${CLI_CPU}s), $CLI_SNMP SNMP devices"

# --- 3. nmap host discovery of the same range
read -r NMAP_SN NMAP_SN_CPU <<<"$(run_timed /dev/null ip netns exec "$NS" nmap -sn -n 10.90.0.0/21 -oG "$WORK/nmap-sn.txt")"
NMAP_UP=$(grep -c "Status: Up" "$WORK/nmap-sn.txt" || true)
echo "nmap -sn: ${NMAP_SN}s (CPU ${NMAP_SN_CPU}s), $NMAP_UP up"

# --- 4. nmap SNMP sysDescr of the live agents
read -r NMAP_SNMP NMAP_SNMP_CPU <<<"$(run_timed /dev/null ip netns exec "$NS" nmap -sU -p161 -n --script snmp-sysdescr --script-args snmpcommunity=public -iL "$WORK/agents.txt" -oN "$WORK/nmap-snmp.txt")"
NMAP_DESCR=$(grep -c "snmp-sysdescr:" "$WORK/nmap-snmp.txt" || true)
echo "nmap snmp-sysdescr: ${NMAP_SNMP}s (CPU ${NMAP_SNMP_CPU}s), $NMAP_DESCR sysDescr read"

python3 - "$API_WALL" "$CLI" "$NMAP_SN" "$NMAP_SNMP" "$API_CPU" "$CLI_CPU" "$NMAP_SN_CPU" "$NMAP_SNMP_CPU" "$N" "$API_SNMP" "$API_CLASS" "$NMAP_UP" "$NMAP_DESCR" "$API_ALIVE" <<'EOF'
import sys
api, cli, sn, snmp, acpu, ccpu, sncpu, snmpcpu = map(float, sys.argv[1:9])
n, asnmp, acls, up, descr, alive = map(int, sys.argv[9:15])
print()
print("| what | wall s | CPU s | found | wall vs server |")
print("| --- | --- | --- | --- | --- |")
print(f"| wardflux serve, API scan: sweep + SNMP + classification + results stored | **{api:.2f}** | {acpu:.2f} | {alive} alive, {asnmp} of {n} SNMP, {acls} classified | 1 |")
print(f"| wardflux discover (CLI, same work, JSON out) | {cli:.2f} | {ccpu:.2f} | | {cli/api:.2f} |")
print(f"| nmap -sn (sweep only) | {sn:.2f} | {sncpu:.2f} | {up} up | {sn/api:.2f} |")
print(f"| nmap -sU -p161 --script snmp-sysdescr (the {n} agents only, no sweep) | {snmp:.2f} | {snmpcpu:.2f} | {descr} sysDescr | {snmp/api:.2f} |")
print(f"| nmap, both steps | {sn+snmp:.2f} | {sncpu+snmpcpu:.2f} | | {(sn+snmp)/api:.2f} |")
EOF
