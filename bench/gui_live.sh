#!/usr/bin/env bash
# Dashboard live page under load (benchmark, not a test): the honeypot takes RATE UDP probes a
# second (bench/loadgen, from 250 loopback sources, default 1,000/s) for MINUTES minutes
# (default 10) while headless Chromium shows /ui/live, which follows /api/v1/stream. Every
# minute it prints the tab's JavaScript heap (CDP Performance.getMetrics JSHeapUsedSize, after
# no forced GC), its DOM nodes, the rows in the live tables, and the events the page counted
# against those the honeypot stored. Loopback only.
#
#   bench/gui_live.sh                    # 10 minutes at 1,000/s
#   MINUTES=3 RATE=1000 bench/gui_live.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-10}
RATE=${RATE:-1000}

cargo build --release --quiet --bin sentrypeer --example loadgen
work=$(mktemp -d)
daemon_pid=""
load_pid=""
cleanup() {
    [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

HOME="$work" ./target/release/sentrypeer -N --sip-listen-address 127.0.0.1:0 --web-gui \
    --api-listen-address 127.0.0.1:0 -f "$work/bench.db" 2> "$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do
    grep -q "listening for API on" "$work/daemon.log" && grep -q "listening for UDP on" "$work/daemon.log" && break
    sleep 0.1
done
api=$(sed -n 's/.*listening for API on \([0-9.:]*\).*/\1/p' "$work/daemon.log")
udp=$(sed -n 's/.*listening for UDP on \([0-9.:]*\).*/\1/p' "$work/daemon.log")
echo "API on $api, UDP on $udp (pid $daemon_pid); $RATE probes/s for $MINUTES min"

/usr/bin/python3 - "http://$api" "$MINUTES" <<'PY' &
import json, sys, time, urllib.request
sys.path.insert(0, "bench/support")
from chromium import headless_chromium
base, minutes = sys.argv[1], int(sys.argv[2])
driver = headless_chromium()

def stored():
    with urllib.request.urlopen(base + "/api/v1/stats", timeout=30) as response:
        return json.load(response)["totals"]["events"]

def sample(label):
    metrics = {m["name"]: m["value"] for m in driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}
    page = driver.execute_script(
        "return [document.getElementById('event-count').textContent,"
        " document.getElementById('missed-count').textContent,"
        " document.querySelectorAll('#recent-events tbody tr').length,"
        " document.querySelectorAll('#decisions tbody tr').length,"
        " document.getElementById('connection').textContent]")
    print("%s heap_mb=%.1f dom_nodes=%d page_events=%s page_missed=%s event_rows=%d decision_rows=%d"
          " stored=%d status=%r" % (label, metrics["JSHeapUsedSize"] / 1e6, metrics["Nodes"],
                                   page[0], page[1], page[2], page[3], stored(), page[4]), flush=True)

try:
    driver.execute_cdp_cmd("Performance.enable", {})
    driver.get(base + "/ui/live")
    deadline = time.monotonic() + 20
    while "Connected" not in driver.find_element("id", "connection").text:
        if time.monotonic() > deadline:
            sys.exit("the live page never connected")
        time.sleep(0.1)
    sample("minute=0")
    start = time.monotonic()
    for minute in range(1, minutes + 1):
        time.sleep(max(0, start + 60 * minute - time.monotonic()))
        sample("minute=%d" % minute)
finally:
    driver.quit()
PY
watcher_pid=$!
sleep 2
./target/release/examples/loadgen send --target "$udp" --rate "$RATE" \
    --duration $((MINUTES * 60 + 5)) --sources 127.0.1.1-127.0.1.250 > "$work/load.txt" &
load_pid=$!
wait "$watcher_pid"
wait "$load_pid" || true
load_pid=""
echo "loadgen: $(cat "$work/load.txt")"
