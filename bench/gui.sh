#!/usr/bin/env bash
# Dashboard benchmark (not a test): the overview page on a database of 1,000,000 events, server
# time (curl; and each of its reads alone, `stats_latency`) and full load in headless Chromium
# (navigation start to the load event, with the navigation timing and the renderer's work broken
# down), medians of RUNS runs (default 5); and the size of the embedded assets, gzipped.
# Loopback only.
#
#   bench/gui.sh              # needs curl, chromium, chromium-driver, python3-selenium
#   FLOOD=50000 bench/gui.sh  # the same while `loadgen send` floods the daemon's UDP listener
#                             # at FLOOD probes/s (the daemon then captures on loopback)
#   BROWSER_GROUP=own ...     # Chromium in a scheduling group (autogroup) of its own, at the
#                             # weight of the benchmark's, as a browser on another machine would
#                             # not share the honeypot's and the sender's group; default: the
#                             # same group as the daemon and the sender
#   SOURCES=world ...         # the seed's world mix (bench/seed/world.rs): public source IPs
#                             # with countries, several tools, methods and attack types
#   SCREENSHOT=FILE ...       # also save a full-page PNG of the overview (the README's image:
#                             # SOURCES=world SCREENSHOT=docs/images/dashboard-overview.png)
#   PROFILE=profiling PERF=FILE ...  # record the daemon with `perf record -g` into FILE while
#                             # curl asks for the overview PERF_REQUESTS times (default 50);
#                             # the `profiling` build keeps symbols
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
EVENTS=${EVENTS:-1000000}
IPS=${IPS:-50000}
NUMBERS=${NUMBERS:-250000}

FLOOD=${FLOOD:-}
BROWSER_GROUP=${BROWSER_GROUP:-same}
PROFILE=${PROFILE:-release}
bin=target/$PROFILE

cargo build --profile "$PROFILE" --quiet --bin sentrypeer --example seed --example loadgen \
    --example stats_latency
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

seed_sources=()
[ -n "${SOURCES:-}" ] && seed_sources=(env "SEED_SOURCES=$SOURCES")
"${seed_sources[@]}" "./$bin/examples/seed" "$work/bench.db" "$EVENTS" "$IPS" "$NUMBERS"

if [ -n "$FLOOD" ]; then
    capture=(-N --sip-listen-address 127.0.0.1:0)
else
    capture=(-R)
fi
HOME="$work" "./$bin/sentrypeer" "${capture[@]}" --web-gui --api-listen-address 127.0.0.1:0 \
    -f "$work/bench.db" 2> "$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do grep -qs "listening for API on" "$work/daemon.log" && break; sleep 0.1; done
api=$(sed -n 's/.*listening for API on \([0-9.:]*\).*/\1/p' "$work/daemon.log")
echo "API on $api (pid $daemon_pid), $(du -h "$work/bench.db" | cut -f1) database, $EVENTS events"
if [ -n "$FLOOD" ]; then
    udp=$(sed -n 's/.*listening for UDP on \([0-9.:]*\).*/\1/p' "$work/daemon.log")
    "./$bin/examples/loadgen" send --target "$udp" --rate "$FLOOD" --duration 3600 \
        > "$work/flood.log" 2>&1 &
    flood_pid=$!
    sleep 3   # the flood under way before the first request
    echo "flooding $udp at $FLOOD probes/s (pid $flood_pid)"
fi
received_udp() {
    curl -s "http://$api/api/v1/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"]["received"]["UDP"])'
}
flood_from=$(date +%s.%N)
[ -n "$FLOOD" ] && flood_received=$(received_udp)

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
# The overview's reads one by one, on a read-only connection of another process (medians).
OVERVIEW_ONLY=1 RUNS="$RUNS" "./$bin/examples/stats_latency" "$work/bench.db"

if [ -n "${PERF:-}" ]; then
    perf record -g -o "$PERF" -p "$daemon_pid" 2> "$work/perf.log" &
    perf_pid=$!
    sleep 1
    for _ in $(seq "${PERF_REQUESTS:-50}"); do curl -s -o /dev/null "http://$api/ui/"; done
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
    echo "perf: recorded ${PERF_REQUESTS:-50} overview requests into $PERF"
fi

browser=(/usr/bin/python3 bench/support/gui_overview.py "http://$api/ui/" "$RUNS" "${SCREENSHOT:-}")
if [ "$BROWSER_GROUP" = own ]; then
    # A new session gets its own autogroup; give it this group's weight (nice of the group).
    weight=$(sed -n 's/.* nice \(-\?[0-9]*\)/\1/p' /proc/self/autogroup)
    setsid --wait bash -c 'echo "$0" > /proc/self/autogroup && exec "$@"' "${weight:-0}" \
        "${browser[@]}" | tee "$work/browser.json"
else
    "${browser[@]}" | tee "$work/browser.json"
fi
field() {  # one field of each JSON line (lines where the browser gave none left out)
    python3 -c 'import json,sys; [print(v) for v in (json.loads(l)[sys.argv[1]] for l in sys.stdin) if v is not None]' "$1"
}
echo "browser (scheduling group: $BROWSER_GROUP), medians over $RUNS loads, ms from navigation start:"
for name in responseStart responseEnd domInteractive domContentLoadedEventEnd firstContentfulPaint \
    loadEventEnd; do
    echo "  $name $(field "$name" < "$work/browser.json" | median)"
done
echo "  renderer main-thread CPU per load, ms: all tasks $(field TaskDuration < "$work/browser.json" | median)," \
    "script $(field ScriptDuration < "$work/browser.json" | median)," \
    "style $(field RecalcStyleDuration < "$work/browser.json" | median)," \
    "layout $(field LayoutDuration < "$work/browser.json" | median); DOM nodes $(field Nodes < "$work/browser.json" | median)"
field loadEventEnd < "$work/browser.json" | awk '{print $1 / 1000}' > "$work/browser.txt"
echo "overview browser_load_s median=$(median < "$work/browser.txt")"
[ -n "${SCREENSHOT:-}" ] && echo "screenshot: $SCREENSHOT ($(du -k "$SCREENSHOT" | cut -f1) KB)"

assets=0
for name in app.css live.js icon.svg; do
    size=$(curl -s "http://$api/ui/assets/$name" | gzip -9 | wc -c)
    assets=$((assets + size))
done
page=$(curl -s "http://$api/ui/" | gzip -9 | wc -c)
echo "assets gzip_bytes=$assets overview_html_gzip_bytes=$page"
if [ -n "$FLOOD" ]; then
    # What the daemon took while the page was measured: the sender may fall short of FLOOD when
    # it gets too little CPU, so the rate reached is part of the result.
    received=$(received_udp)
    echo "flood: $received UDP probes received by the end; while measuring:" \
        "$(python3 -c 'import sys; n, t = int(sys.argv[2]) - int(sys.argv[1]), float(sys.argv[4]) - float(sys.argv[3]); print("%.0f probes/s" % (n / t))' \
            "$flood_received" "$received" "$flood_from" "$(date +%s.%N)")"
fi
