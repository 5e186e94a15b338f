#!/usr/bin/env bash
# Issue 13 benchmark (docs/perf/ui.md): the web UI of the server as shipped (`wardflux serve`,
# release build, embedded default) with N loopback devices imported by CSV and pinged every
# 10 s. After WAIT seconds (every device checked), logs in through the login form (CSRF
# cookie + field, as a browser does) and times R requests of each page and live fragment:
# server time to the last byte (p50 / p99 / max) and bytes transferred; the JSON API call that
# carries the same data is timed beside it. Devices are 127.77.x.y: loopback only.
#
# Usage: scripts/bench-ui.sh [DEVICES=10000] [REQUESTS=200] [WAIT=40]
# BIN=path/to/wardflux skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}; R=${2:-200}; WAIT=${3:-40}
if [ -z "${BIN:-}" ]; then
    cargo build --profile "${PROFILE:-release}" -q -p wardflux
    BIN=${CARGO_TARGET_DIR:-target}/${PROFILE:-release}/wardflux
fi
DATA=$(mktemp -d); PORT=$((20000 + RANDOM % 20000))
WARDFLUX_ADMIN_PASSWORD=bench-password-1 WARDFLUX_LOG=warn "$BIN" serve \
    --listen 127.0.0.1:$PORT --data-dir "$DATA" >"$DATA/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 400); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
TOKEN=$(curl -sf "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
        -d '{"username":"admin","password":"bench-password-1"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
{ echo "name,ip,region,vendor,device_type,tags,icmp_interval_s"
  for i in $(seq 0 $((N-1))); do echo "dev-$i,127.77.$((i/250)).$((i%250+1)),r$((i%10)),Cisco,switch,bench,10"; done; } > "$DATA/devices.csv"
curl -sf "http://127.0.0.1:$PORT/api/v1/devices/import" -H "authorization: Bearer $TOKEN" \
     -H 'content-type: text/csv' --data-binary @"$DATA/devices.csv" >/dev/null
echo "server pid $PID, $N devices imported; waiting ${WAIT}s for their first checks"
sleep "$WAIT"
python3 - "$PORT" "$TOKEN" "$R" "$PID" <<'PY'
import re, sys, time, urllib.parse, urllib.request, http.cookiejar
port, token, reps, pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
base = f"http://127.0.0.1:{port}"
jar = http.cookiejar.CookieJar()
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k): return None
ui = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
form = ui.open(base + "/login").read().decode()
csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
data = urllib.parse.urlencode({"csrf": csrf, "username": "admin", "password": "bench-password-1", "next": "/"}).encode()
try:
    ui.open(base + "/login", data)
except urllib.error.HTTPError as e:
    assert e.code == 303, e.code
assert any(c.name == "wardflux_session" for c in jar), "no session cookie"

def run(path, api=False):
    times, size = [], 0
    for _ in range(reps):
        req = urllib.request.Request(base + path, headers={"authorization": f"Bearer {token}"} if api else {})
        opener = urllib.request.build_opener() if api else ui
        t = time.perf_counter()
        body = opener.open(req).read()
        times.append((time.perf_counter() - t) * 1000)
        size = len(body)
    times.sort()
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    return p(0.5), p(0.99), times[-1], size

def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1]) / 1024

up = urllib.request.urlopen(urllib.request.Request(base + "/api/v1/monitoring/icmp/status?state=up",
      headers={"authorization": f"Bearer {token}"})).read().count(b'"device_id"')
print(f"devices up when measured: {up}; RSS before {rss():.1f} MB")
print(f"| request | p50 ms | p99 ms | max ms | bytes |")
print(f"| --- | --- | --- | --- | --- |")
for label, path, api in [
    ("Monitor page `/monitor` (all states, 500 up rows shown)", "/monitor", False),
    ("its live fragment `/ui/monitor`", "/ui/monitor", False),
    ("fragment filtered `/ui/monitor?state=down`", "/ui/monitor?state=down", False),
    ("fragment searched `/ui/monitor?q=dev-99`", "/ui/monitor?q=dev-99", False),
    ("Dashboard `/`", "/", False),
    ("its live fragment `/ui/dashboard`", "/ui/dashboard", False),
    ("Devices `/devices` (100 per page)", "/devices", False),
    ("API beside it: `/api/v1/monitoring/icmp/status` (all 10k as JSON)", "/api/v1/monitoring/icmp/status", True),
]:
    p50, p99, mx, size = run(path, api)
    print(f"| {label} | {p50:.1f} | {p99:.1f} | {mx:.1f} | {size:,} |")
print(f"RSS after {rss():.1f} MB")
PY
