#!/usr/bin/env bash
# Peer-to-peer benchmarks (not tests), release build:
#
#   bench/p2p.sh [chain]                  NODES (6) nodes in a chain on loopback, see below
#   bench/p2p.sh scale                    NODES (50) nodes on one loopback address, every one
#   TOPOLOGY=netns bench/p2p.sh scale     capturing; or each in a namespace of its own (root)
#   bench/p2p.sh late-joiner              a node joins 2 peers holding a 7-day window of
#                                         RECORDS (1,000,000) records and catches up
#
# scale and late-joiner are in bench/p2p_cluster.py (what they measure is described there);
# RUNS=3 repeats a run. PRIORITY=1 (root) runs in a scheduling group of its own, weighted 10x,
# as bench/run.sh does, so other work on a shared machine does not decide the figures.
#
# chain: node i bootstraps from node i-1, probes captured by the first node.
#   1. propagation latency to the last node: PROBES probes, 20 ms apart; latency = time the last
#      node accepted the record - the record's event_timestamp (same clock); median and p99;
#   2. ingest rate: a burst of BURST probes into node 1 (kept under the default queue of 8,192
#      so node 1 drops none), records/s node 2 verifies and accepts, from its own log;
#   3. payload bytes per record published by node 1.
# Needs python3 and curl. Loopback (and namespaces of its own) only.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PRIORITY:-}" ] && [ -z "${SENTRYPEER_BENCH_GROUP:-}" ]; then
    export SENTRYPEER_BENCH_GROUP=1
    exec setsid --wait bash -c 'echo -10 > /proc/self/autogroup && exec "$0" "$@"' "$0" "$@"
fi
MODE=${1:-chain}
if [ "$MODE" != chain ]; then
    cargo build --release --quiet --bin sentrypeer --example seed
    for _ in $(seq "${RUNS:-1}"); do python3 bench/p2p_cluster.py "$MODE"; done
    exit 0
fi
NODES=${NODES:-6}
PROBES=${PROBES:-200}
BURST=${BURST:-8000}

cargo build --release --quiet --bin sentrypeer
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null; [ -n "${KEEP:-}" ] && echo "logs kept in $work" || rm -rf "$work"; }
trap cleanup EXIT

wait_line() { for _ in $(seq 200); do grep -q "$2" "$1" && return 0; sleep 0.05; done; echo "timeout waiting for $2 in $1" >&2; return 1; }

previous=""
for i in $(seq 1 "$NODES"); do
    mkdir -p "$work/$i"
    args=(-N -p --p2p-listen-address 127.0.0.1:0 --p2p-min-contribution 1 --p2p-max-records-per-second 1000000
          -a --api-listen-address 127.0.0.1:0 -f "$work/$i/sentrypeer.db" --sip-listen-address 127.0.0.1:0)
    [ "$i" -eq 1 ] && args+=(-r -j -l "$work/1/events.json") || args+=(-R)
    [ -n "$previous" ] && args+=(-b "$previous")
    HOME="$work/$i" RUST_LOG=sentrypeer::p2p=debug,info ./target/release/sentrypeer "${args[@]}" > "$work/$i/log" 2>&1 &
    pids+=($!)
    wait_line "$work/$i/log" "listening for P2P on"
    previous=$(sed -n 's/.*listening for P2P on \(\S*\).*/\1/p' "$work/$i/log" | head -1)
done
last=$NODES
wait_line "$work/$last/log" "peer connected"
sleep 2  # let the gossip mesh form (heartbeat 500 ms)
udp=$(sed -n 's/.*listening for UDP on \(\S*\).*/\1/p' "$work/1/log")
api1=$(sed -n 's/.*listening for API on \(\S*\).*/\1/p' "$work/1/log")
api2=$(sed -n 's/.*listening for API on \(\S*\).*/\1/p' "$work/2/log")

send() { # count gap_seconds
python3 - "$udp" "$1" "$2" <<'PY'
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
count, gap = int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(count):
    msg = (f"OPTIONS sip:{1000 + i}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{i}\r\n"
           f"From: <sip:bench@127.0.0.1>;tag={i}\r\nTo: <sip:{1000 + i}@127.0.0.1>\r\nCall-ID: bench-{i}\r\n"
           f"CSeq: 1 OPTIONS\r\nUser-Agent: p2p-bench\r\nContent-Length: 0\r\n\r\n").encode()
    s.sendto(msg, (host, int(port)))
    if gap: time.sleep(gap)
PY
}

send "$PROBES" 0.02
for _ in $(seq 200); do
    [ "$(grep -c 'peer record accepted' "$work/$last/log")" -ge "$PROBES" ] && break
    sleep 0.1
done
python3 - "$work/1/events.json" "$work/$last/log" "$PROBES" <<'PY'
import json, re, sys
from datetime import datetime, timezone
stamp = lambda text: datetime.strptime(text[:26], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
captured = {}
for line in open(sys.argv[1]):
    event = json.loads(line)
    captured[event["event_uuid"]] = stamp(event["event_timestamp"])
latencies = []
for line in open(sys.argv[2]):
    if "peer record accepted" not in line:
        continue
    uuid = re.search(r"event_uuid=(\S+)", line).group(1)
    at = datetime.fromisoformat(line.split()[0].replace("Z", "+00:00"))
    if uuid in captured:
        latencies.append((at - captured[uuid]).total_seconds() * 1000)
latencies.sort()
n = len(latencies)
print(f"propagation to node {sys.argv[2].split('/')[-2]} (hops: chain): {n}/{sys.argv[3]} records, "
      f"median {latencies[n // 2]:.1f} ms, p99 {latencies[min(n - 1, int(n * 0.99))]:.1f} ms")
PY

accepted() { curl -s "http://$1/api/v1/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["p2p"]["accepted_records"])'; }
lines_before=$(grep -c 'peer record accepted' "$work/2/log")
send "$BURST" 0
previous_count=-1
for _ in $(seq 600); do
    count=$(accepted "$api2")
    [ "$count" -eq "$previous_count" ] && break
    previous_count=$count
    sleep 1
done
# Rate from node 2's own log: records accepted / time between the first and the last of the burst.
python3 - "$work/2/log" "$lines_before" <<'PY'
import sys
from datetime import datetime
stamps = [datetime.fromisoformat(line.split()[0].replace("Z", "+00:00"))
          for line in open(sys.argv[1]) if "peer record accepted" in line][int(sys.argv[2]):]
span = (stamps[-1] - stamps[0]).total_seconds() if len(stamps) > 1 else 0
print(f"ingest at node 2: {len(stamps)} records in {span:.2f} s = {len(stamps) / span if span else 0:.0f} records/s")
PY

curl -s "http://$api1/api/v1/health" | python3 -c '
import json, sys
p = json.load(sys.stdin)["p2p"]
records, messages, size = p["published_records"], p["published_messages"], p["published_bytes"]
print(f"node 1 published {records} records in {messages} messages, {size} payload bytes = {size / max(1, records):.0f} bytes/record")'
