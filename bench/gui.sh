#!/usr/bin/env bash
# Dashboard benchmark (not a test): the overview page on a database of 1,000,000 events, server
# time (curl) and full load in headless Chromium (navigation start to the load event), medians of
# RUNS runs (default 5); and the size of the embedded assets, gzipped. Loopback only.
#
#   bench/gui.sh              # needs curl, chromium, chromium-driver, python3-selenium
#   FLOOD=50000 bench/gui.sh  # the same while `loadgen send` floods the daemon's UDP listener
#                             # at FLOOD probes/s (the daemon then captures on loopback)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
EVENTS=${EVENTS:-1000000}
IPS=${IPS:-50000}
NUMBERS=${NUMBERS:-250000}

FLOOD=${FLOOD:-}

cargo build --release --quiet --bin sentrypeer --example seed --example loadgen
work=$(mktemp -d)
daemon_pid=""
flood_pid=""
cleanup() {
    [ -n "$flood_pid" ] && kill "$flood_pid" 2>/dev/null
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

./target/release/examples/seed "$work/bench.db" "$EVENTS" "$IPS" "$NUMBERS"

if [ -n "$FLOOD" ]; then
    capture=(-N --sip-listen-address 127.0.0.1:0)
else
    capture=(-R)
fi
HOME="$work" ./target/release/sentrypeer "${capture[@]}" --web-gui --api-listen-address 127.0.0.1:0 \
    -f "$work/bench.db" 2> "$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do grep -q "listening for API on" "$work/daemon.log" && break; sleep 0.1; done
api=$(sed -n 's/.*listening for API on \([0-9.:]*\).*/\1/p' "$work/daemon.log")
echo "API on $api (pid $daemon_pid), $(du -h "$work/bench.db" | cut -f1) database, $EVENTS events"
if [ -n "$FLOOD" ]; then
    udp=$(sed -n 's/.*listening for UDP on \([0-9.:]*\).*/\1/p' "$work/daemon.log")
    ./target/release/examples/loadgen send --target "$udp" --rate "$FLOOD" --duration 3600 \
        > "$work/flood.log" 2>&1 &
    flood_pid=$!
    sleep 3   # the flood under way before the first request
    echo "flooding $udp at $FLOOD probes/s (pid $flood_pid)"
fi

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

curl -s -o /dev/null "http://$api/ui/"   # warm the page cache once
for _ in $(seq "$RUNS"); do
    curl -s -o /dev/null -w '%{time_total}\n' "http://$api/ui/"
done | tee "$work/server.txt"
echo "overview server_s median=$(median < "$work/server.txt")"
# The same figures from the API alone, for comparison (the overview reads them too).
for _ in $(seq "$RUNS"); do
    curl -s -o /dev/null -w '%{time_total}\n' "http://$api/api/v1/stats"
done > "$work/stats.txt"
echo "api_v1_stats server_s median=$(median < "$work/stats.txt")"

/usr/bin/python3 - "http://$api/ui/" "$RUNS" <<'PY' | tee "$work/browser.txt"
import sys
sys.path.insert(0, "bench/support")
from chromium import headless_chromium
url, runs = sys.argv[1], int(sys.argv[2])
driver = headless_chromium()
try:
    for _ in range(runs):
        driver.get(url)
        print(driver.execute_script(
            "const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd / 1000;"))
finally:
    driver.quit()
PY
echo "overview browser_load_s median=$(median < "$work/browser.txt")"

assets=0
for name in app.css live.js icon.svg; do
    size=$(curl -s "http://$api/ui/assets/$name" | gzip -9 | wc -c)
    assets=$((assets + size))
done
page=$(curl -s "http://$api/ui/" | gzip -9 | wc -c)
echo "assets gzip_bytes=$assets overview_html_gzip_bytes=$page"
if [ -n "$FLOOD" ]; then
    received=$(curl -s "http://$api/api/v1/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"]["received"]["UDP"])')
    echo "flood: the daemon had received $received UDP probes by the end"
fi
