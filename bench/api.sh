#!/usr/bin/env bash
# API benchmark (not a test): point lookups with wrk on a database of 1,000,000 events, and
# /numbers time-to-first-byte, total time and memory with 250,000 distinct numbers.
# Each figure is the median of RUNS runs (default 3). Loopback only.
#
#   bench/api.sh            # needs wrk and curl (apt-get install wrk curl)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
EVENTS=${EVENTS:-1000000}
IPS=${IPS:-50000}
NUMBERS=${NUMBERS:-250000}
DURATION=${DURATION:-10s}

cargo build --release --quiet --bin sentrypeer --example seed
work=$(mktemp -d)
daemon_pid=""
cleanup() { [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

./target/release/examples/seed "$work/bench.db" "$EVENTS" "$IPS" "$NUMBERS"

HOME="$work" ./target/release/sentrypeer -R -a --api-listen-address 127.0.0.1:0 \
    -f "$work/bench.db" --retention-days 0 2> "$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do grep -q "listening for API on" "$work/daemon.log" && break; sleep 0.1; done
api=$(sed -n 's/.*listening for API on \([0-9.:]*\).*/\1/p' "$work/daemon.log")
echo "API on $api (pid $daemon_pid), $(du -h "$work/bench.db" | cut -f1) database"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rss_kb() { awk "/^$1:/ {print \$2}" "/proc/$daemon_pid/status"; }

# /numbers first, on a fresh process, so its peak RSS is its own.
: > "$work/numbers.txt"
for run in $(seq "$RUNS"); do
    before=$(rss_kb VmRSS)
    timing=$(curl -s -o /dev/null -w '%{time_starttransfer} %{time_total} %{size_download}' "http://$api/numbers")
    peak=$(rss_kb VmHWM)
    echo "$timing $before $peak" | tee -a "$work/numbers.txt"
done
echo "/numbers ttfb_s median=$(cut -d' ' -f1 "$work/numbers.txt" | median)"
echo "/numbers total_s median=$(cut -d' ' -f2 "$work/numbers.txt" | median)"
echo "/numbers bytes=$(cut -d' ' -f3 "$work/numbers.txt" | head -1)"
echo "/numbers rss_before_kb=$(cut -d' ' -f4 "$work/numbers.txt" | head -1) peak_rss_kb=$(cut -d' ' -f5 "$work/numbers.txt" | sort -n | tail -1)"

for kind in ip number; do
    : > "$work/$kind.txt"
    for run in $(seq "$RUNS"); do
        KIND=$kind IPS=$IPS NUMBERS=$NUMBERS wrk -t2 -c16 -d"$DURATION" --latency -s bench/lookups.lua "http://$api" \
            | grep '^RESULT' | tee -a "$work/$kind.txt"
    done
    for field in requests_per_s p50_ms p99_ms; do
        value=$(sed -n "s/.*$field=\([0-9.]*\).*/\1/p" "$work/$kind.txt" | median)
        echo "lookup $kind $field median=$value"
    done
done

