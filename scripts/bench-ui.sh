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

# What a burst of state changes costs (e.g. 1,000 changes per minute, i.e. more than one per
# second): every open page's SSE stream says "state" and the page re-fetches its fragment at
# most once per second (hx-trigger "sse:state throttle:1s"). So K open Monitor pages cost K
# fragment renders per second; simulated here by K clients each re-fetching /ui/monitor once
# a second for 20 s, with the server's CPU time read from /proc.
import threading
def cpu_s():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
import os
print("| open Monitor pages during a burst (each re-fetches once a second) | server CPU, % of one core | fragment p50 ms | p99 ms |")
print("| --- | --- | --- | --- |")
for k in (0, 1, 10, 50):
    times, stop = [], time.time() + 20
    def page():
        while time.time() < stop:
            t0 = time.perf_counter(); ui.open(base + "/ui/monitor").read()
            dt = time.perf_counter() - t0; times.append(dt * 1000)
            time.sleep(max(0, 1 - dt))
    c0, w0 = cpu_s(), time.time()
    ts = [threading.Thread(target=page) for _ in range(k)]
    for t in ts: t.start()
    for t in ts: t.join()
    if k == 0: time.sleep(20)  # the baseline: monitoring 10k devices, no page open
    cpu = (cpu_s() - c0) / (time.time() - w0) * 100
    times.sort()
    if not times:
        print(f"| 0 (baseline: monitoring only) | {cpu:.1f} | - | - |"); continue
    print(f"| {k} | {cpu:.1f} | {times[len(times)//2]:.1f} | {times[min(len(times)-1, int(.99*len(times)))]:.1f} |")
PY

# Time to first paint in headless Chromium (Debian's chromium + chromedriver, driven over the
# W3C WebDriver protocol): log in through the form, then load each page PAINTS times; the
# browser's own Paint Timing and Navigation Timing entries.
PAINTS=${PAINTS:-20}
if command -v chromedriver >/dev/null; then
python3 - "$PORT" "$PAINTS" <<'PY'
import json, socket, subprocess, sys, time, urllib.request
port, reps = sys.argv[1], int(sys.argv[2])
base = f"http://127.0.0.1:{port}"
s = socket.socket(); s.bind(("127.0.0.1", 0)); dport = s.getsockname()[1]; s.close()
drv = subprocess.Popen(["chromedriver", f"--port={dport}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wd = f"http://127.0.0.1:{dport}"
def call(method, path, body=None):
    req = urllib.request.Request(wd + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    return json.load(urllib.request.urlopen(req))["value"]
try:
    for _ in range(100):
        try: call("GET", "/status"); break
        except OSError: time.sleep(0.1)
    sid = call("POST", "/session", {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
        "binary": "/usr/bin/chromium", "args": ["--headless=new", "--no-sandbox", "--window-size=1280,900"]}}}})["sessionId"]
    S = f"/session/{sid}"
    call("POST", S + "/url", {"url": base + "/login"})
    def el(css): return list(call("POST", S + "/element", {"using": "css selector", "value": css}).values())[0]
    call("POST", S + f"/element/{el('#username')}/value", {"text": "admin"})
    call("POST", S + f"/element/{el('#password')}/value", {"text": "bench-password-1"})
    call("POST", S + f"/element/{el('button[type=submit]')}/click", {})
    # The paint entry can come after the load event in headless mode: wait for it (3 s at most).
    js = """const done = arguments[arguments.length - 1];
            const n = performance.getEntriesByType('navigation')[0];
            const out = (fcp) => done([fcp, n.domContentLoadedEventEnd, n.loadEventEnd]);
            new PerformanceObserver((l) => {
              const e = l.getEntriesByName('first-contentful-paint')[0]; if (e) out(e.startTime);
            }).observe({type: 'paint', buffered: true});
            setTimeout(() => out(null), 3000);"""
    print(f"| page in Chromium ({reps} loads) | first contentful paint p50 ms | p90 ms | DOMContentLoaded p50 ms | load p50 ms |")
    print("| --- | --- | --- | --- | --- |")
    for label, path in [("Monitor `/monitor`", "/monitor"), ("Dashboard `/`", "/"), ("Devices `/devices`", "/devices")]:
        fcp, dcl, load = [], [], []
        for _ in range(reps):
            call("POST", S + "/url", {"url": base + path})
            v = call("POST", S + "/execute/async", {"script": js, "args": []})
            if v[0] is not None: fcp.append(v[0])
            dcl.append(v[1]); load.append(v[2])
        q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")
        print(f"| {label} | {q(fcp, .5):.0f} | {q(fcp, .9):.0f} | {q(dcl, .5):.0f} | {q(load, .5):.0f} |")
    call("DELETE", S)
finally:
    drv.terminate()
PY
else
    echo "chromedriver not installed: first-paint rows skipped (apt install chromium chromium-driver)"
fi
