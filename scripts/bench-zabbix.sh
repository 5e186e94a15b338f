#!/usr/bin/env bash
# Zabbix as a source, measured on the server as shipped (`wardflux serve`, release build,
# embedded default) against the real Zabbix 6.0 of scripts/zabbix-rig.sh, in one run:
#
#   - in Zabbix: HOSTS hosts (loopback addresses) in one new group, 2 trapper items each
#     (`icmpping`, `net.if.in[eth0]`), PROBLEMS triggers fired with zabbix_sender;
#   - in WARD FLUX: half of those addresses are our own devices too (hybrid: one record each);
#     the Zabbix connection, sync every 10 s, mode hybrid;
#   - sync cycles: duration and API calls of each (from /api/v1/zabbix/status);
#   - latency of the merged device list (GET /api/v1/devices?limit=1000) against the same
#     list from Zabbix' own API (host.get with groups and interfaces), and of the active
#     alert list against problem.get, side by side, with the ratio.
#
# Usage: scripts/bench-zabbix.sh [HOSTS=1000] [PROBLEMS=100] [REQUESTS=300]
# BIN=path/to/wardflux skips the build. Loopback only (127.71.0.0/16). The Zabbix hosts are
# deleted at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
HOSTS=${1:-1000}; PROBLEMS=${2:-100}; REQS=${3:-300}
if [ -z "${BIN:-}" ]; then
    cargo build --profile "${PROFILE:-release}" -q -p wardflux
    BIN=${CARGO_TARGET_DIR:-target}/${PROFILE:-release}/wardflux
fi
eval "$(scripts/zabbix-rig.sh start 2>/dev/null | grep '^ZABBIX_' | sed 's/^/export /')"
DATA=$(mktemp -d); PORT=$((20000 + RANDOM % 20000))
WARDFLUX_ADMIN_PASSWORD=bench-password-1 WARDFLUX_LOG=warn "$BIN" serve \
    --listen 127.0.0.1:$PORT --data-dir "$DATA" >"$DATA/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 400); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
python3 - "$PORT" "$HOSTS" "$PROBLEMS" "$REQS" "$PID" "$ZABBIX_API_URL" "$ZABBIX_TRAPPER" "$DATA" <<'EOF'
import json, os, random, statistics, subprocess, sys, time, urllib.request
port, hosts, problems, reqs, pid, zurl, trapper, data = sys.argv[1:9]
hosts, problems, reqs = int(hosts), int(problems), int(reqs)
base = f"http://127.0.0.1:{port}"

def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, method=method, headers={"content-type": "application/json", **(headers or {})},
                                 data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=120) as r:
        raw = r.read()
        return json.loads(raw) if raw else None

zsession = None
def zrpc(method, params):
    body = {"jsonrpc": "2.0", "method": method, "params": params, "id": 1}
    if zsession: body["auth"] = zsession
    r = http("POST", zurl, body, {"content-type": "application/json-rpc"})
    if "error" in r: raise SystemExit(f"{method}: {r['error']}")
    return r["result"]
zsession = zrpc("user.login", {"username": "Admin", "password": "zabbix"})

tag = f"{random.randrange(16**6):06x}"
group = f"wf-bench-{tag}"
gid = zrpc("hostgroup.create", {"name": group})["groupids"][0]
ip = lambda i: f"127.71.{i // 250}.{i % 250 + 1}"
name = lambda i: f"bench-{tag}-{i}"
t0 = time.time()
ids = []
for start in range(0, hosts, 200):
    batch = [{"host": name(i), "groups": [{"groupid": gid}],
              "interfaces": [{"type": 1, "main": 1, "useip": 1, "ip": ip(i), "dns": "", "port": "10050"}]}
             for i in range(start, min(hosts, start + 200))]
    ids += zrpc("host.create", batch)["hostids"]
items = []
for i, h in enumerate(ids):
    items.append({"hostid": h, "name": "ICMP ping", "key_": "icmpping", "type": 2, "value_type": 3})
    items.append({"hostid": h, "name": "In", "key_": "net.if.in[eth0]", "type": 2, "value_type": 3})
for start in range(0, len(items), 500):
    zrpc("item.create", items[start:start + 500])
zrpc("trigger.create", [{"description": f"Inbound too high on {name(i)}",
                          "expression": f"last(/{name(i)}/net.if.in[eth0])>100", "priority": i % 6}
                         for i in range(problems)])
print(f"zabbix: {hosts} hosts, {2 * hosts} items, {problems} triggers created in {time.time() - t0:.1f} s")
# Values: every host up, the first PROBLEMS over their trigger's threshold. A new item takes
# values once the server's configuration cache has it (about 1 s): resend until all processed.
lines = [f"{name(i)} icmpping 1" for i in range(hosts)] + [f"{name(i)} net.if.in[eth0] 500" for i in range(problems)]
with open(f"{data}/values.txt", "w") as f: f.write("\n".join(lines) + "\n")
zh, zp = trapper.rsplit(":", 1)
# Until every value is processed and every trigger fired (a trigger the server's configuration
# cache did not have yet when its value came is evaluated at the next value: resend).
deadline = time.time() + 120
while True:
    subprocess.run(["zabbix_sender", "-z", zh, "-p", zp, "-i", f"{data}/values.txt"], capture_output=True, text=True)
    if len(zrpc("problem.get", {"groupids": [gid], "output": ["eventid"]})) >= problems:
        break
    assert time.time() < deadline, "problems never fired"
    time.sleep(1)

tok = http("POST", f"{base}/api/v1/auth/login", {"username": "admin", "password": "bench-password-1"})["token"]
auth = {"authorization": f"Bearer {tok}"}
rows = "name,ip\n" + "".join(f"ours-{i},{ip(i)}\n" for i in range(0, hosts, 2))
req = urllib.request.Request(f"{base}/api/v1/devices/import", data=rows.encode(), method="POST",
                             headers={"content-type": "text/csv", **auth})
urllib.request.urlopen(req).read()
http("PUT", f"{base}/api/v1/settings/zabbix", {"url": zurl, "username": "Admin", "password": "zabbix",
                                                "sync_interval_s": 10}, auth)
http("PUT", f"{base}/api/v1/settings/mode", {"mode": "hybrid"}, auth)

# Sync cycles: wait for the first, then record the next five.
cycles, last = [], None
deadline = time.time() + 300
while len(cycles) < 6:
    assert time.time() < deadline, "sync cycles did not come"
    s = http("GET", f"{base}/api/v1/zabbix/status", None, auth)
    if s["last_success_at"] and s["last_success_at"] != last:
        last = s["last_success_at"]
        cycles.append(s)
    time.sleep(0.2)
first, rest = cycles[0], cycles[1:]
print(f"first sync (creates the mirror): {first['duration_ms']} ms, {first['api_calls']} API calls, "
      f"{first['hosts']} hosts, {first['problems']} problems")
d = [c["duration_ms"] for c in rest]; calls = [c["api_calls"] for c in rest]
print(f"steady sync: median {statistics.median(d):.0f} ms (min {min(d)}, max {max(d)}), API calls {sorted(set(calls))}")

def lat(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter(); fn(); out.append((time.perf_counter() - t) * 1000)
    out.sort()
    return out[len(out) // 2], out[min(len(out) - 1, int(len(out) * 0.99))]

devs = http("GET", f"{base}/api/v1/devices?limit=1000", None, auth)
merged = sum(1 for x in devs["items"] if x["sources"] == ["standalone", "zabbix"])
print(f"merged device list: {devs['total']} devices, {merged} of the first page in both sources")
# Latency = request sent to the whole body read (not parsed: a JSON parse in Python would
# add milliseconds to both sides), one keep-alive-less request at a time.
def raw(method, url, body=None, headers=None):
    req = urllib.request.Request(url, method=method, headers={"content-type": "application/json", **(headers or {})},
                                 data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.read()
def zraw(method, params):
    return raw("POST", zurl, {"jsonrpc": "2.0", "method": method, "params": params, "id": 1, "auth": zsession},
               {"content-type": "application/json-rpc"})
ours = lat(lambda: raw("GET", f"{base}/api/v1/devices?limit=1000", None, auth), reqs)
theirs = lat(lambda: zraw("host.get", {"output": ["hostid", "host", "name", "status"], "selectInterfaces": ["ip"],
                                        "selectGroups": ["name"], "limit": 1000}), max(20, reqs // 5))
al_ours = lat(lambda: raw("GET", f"{base}/api/v1/monitoring/alerts/active", None, auth), reqs)
al_theirs = lat(lambda: zraw("problem.get", {"output": "extend", "selectAcknowledges": "extend", "recent": False,
                                              "limit": 1000}), max(20, reqs // 5))
size = len(raw("GET", f"{base}/api/v1/devices?limit=1000", None, auth))
print(f"device list body: {size // 1024} KB")
print("| what | wardflux p50 / p99 | Zabbix API, same list | ratio (p50) |")
print("| --- | --- | --- | --- |")
print(f"| 1,000 devices (merged, hybrid) vs host.get | {ours[0]:.1f} / {ours[1]:.1f} ms | {theirs[0]:.1f} / {theirs[1]:.1f} ms | x{ours[0] / theirs[0]:.2f} |")
print(f"| active alerts (ours + {problems} Zabbix problems) vs problem.get | {al_ours[0]:.1f} / {al_ours[1]:.1f} ms | {al_theirs[0]:.1f} / {al_theirs[1]:.1f} ms | x{al_ours[0] / al_theirs[0]:.2f} |")
rss = int(open(f"/proc/{pid}/status").read().split("VmRSS:")[1].split()[0]) // 1024
print(f"server RSS {rss} MB")
zrpc("host.delete", ids)
zrpc("hostgroup.delete", [gid])
EOF
