#!/usr/bin/env bash
# Soak test (not a test of the suite): DURATION seconds (default 600) of mixed load on one
# honeypot (node A: -r, API, P2P) sharing with a second node (B: -R, P2P, bootstrapped from A):
#   - UDP probes at UDP_RATE/s (default 2,000) and TCP probes at TCP_RATE/s (default 200) from
#     bench/loadgen's mix, many 127.0.0.X sources;
#   - every INTERVAL seconds (default 10): A's RSS, its counters, and the time of a few API
#     queries (point lookups, /api/v1/stats, /numbers);
#   - halfway through, node B is stopped and started again (same database and key).
# At the end A is stopped cleanly and the accounting checked: sent = stored + dropped by the
# store queue + dropped by the kernel. Prints RSS over time, drops and error lines. Loopback only.
#
#   bench/soak.sh                    # needs curl and python3
#   DURATION=120 bench/soak.sh       # shorter
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-600}
UDP_RATE=${UDP_RATE:-2000}
TCP_RATE=${TCP_RATE:-200}
INTERVAL=${INTERVAL:-10}
# B accepts this many of A's records per second (the default, 1,000, is below what A captures
# here, and B would count the rest as rate_limited).
B_RATE=${B_RATE:-10000}

cargo build --release --quiet --bin sentrypeer --example loadgen
bin=$PWD/target/release/sentrypeer
loadgen=$PWD/target/release/examples/loadgen
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

wait_line() { for _ in $(seq 300); do grep -q "$2" "$1" && return 0; sleep 0.1; done; echo "no '$2' in $1" >&2; return 1; }
address() { sed -n "s/.*listening for $2 on \([^ ]*\).*/\1/p" "$1" | head -1; }

start_node() { # name extra-args...
    local name=$1; shift
    mkdir -p "$work/$name"
    (cd "$work/$name" && HOME="$work/$name" RUST_LOG=info exec "$bin" -N -a --api-listen-address 127.0.0.1:0 \
        --sip-listen-address 127.0.0.1:0 -f "$work/$name/sentrypeer.db" -p --p2p-listen-address /ip4/127.0.0.1/tcp/0 \
        --p2p-min-contribution 0 "$@" >> "$work/$name/log" 2>&1) &
    pids+=($!)
    echo $! > "$work/$name/pid"
    wait_line "$work/$name/log" "sentrypeer ready"
}

start_node a -r --sip-reply-rate-limit 0
a_pid=$(cat "$work/a/pid")
a_api=$(address "$work/a/log" API)
a_udp=$(address "$work/a/log" UDP)
a_tcp=$(address "$work/a/log" TCP)
a_p2p=$(address "$work/a/log" P2P)
start_node b -R -b "$a_p2p" --p2p-max-records-per-second "$B_RATE"
echo "node A pid $a_pid api $a_api udp $a_udp; node B bootstrapped from $a_p2p; $DURATION s"

"$loadgen" send --target "$a_udp" --rate "$UDP_RATE" --duration "$DURATION" \
    --sources 127.0.0.2-127.0.0.65 > "$work/udp.out" 2>&1 &
pids+=($!)
"$loadgen" send --target "$a_tcp" --transport tcp --rate "$TCP_RATE" --duration "$DURATION" \
    --sources 127.0.1.2-127.0.1.9 > "$work/tcp.out" 2>&1 &
pids+=($!)

timed() { curl -s -o /dev/null -w '%{time_total}' "http://$a_api$1"; }
printf '%6s %9s %10s %10s %10s %8s %9s %9s %9s\n' t_s rss_kb received stored q_drops k_drops lookup_ms stats_ms numbers_s
started=$(date +%s)
restarted=""
while :; do
    now=$(( $(date +%s) - started ))
    [ "$now" -ge "$DURATION" ] && break
    if [ -z "$restarted" ] && [ "$now" -ge $(( DURATION / 2 )) ]; then
        kill -TERM "$(cat "$work/b/pid")"; sleep 1
        start_node b -R -b "$a_p2p" --p2p-max-records-per-second "$B_RATE"
        restarted=1
        echo "  node B restarted at ${now} s"
    fi
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$a_pid/status")
    counters=$(curl -s "http://$a_api/api/v1/health" | python3 -c '
import json, sys
e = json.load(sys.stdin)["events"]
print(sum(e["received"].values()), e["stored"], e["dropped"], e["kernel_dropped"])')
    lookup=$(timed /ip-addresses/127.0.0.2)
    stats=$(timed /api/v1/stats)
    numbers=$(timed /numbers)
    read -r received stored dropped kdropped <<< "$counters"
    printf '%6s %9s %10s %10s %10s %8s %9.1f %9.1f %9.2f\n' "$now" "$rss" "$received" "$stored" "$dropped" \
        "$kdropped" "$(awk "BEGIN {print $lookup * 1000}")" "$(awk "BEGIN {print $stats * 1000}")" "$numbers" \
        | tee -a "$work/series"
    sleep "$INTERVAL"
done
wait "${pids[2]}" "${pids[3]}"
b_api=$(sed -n "s/.*listening for API on \([^ ]*\).*/\1/p" "$work/b/log" | tail -1)
b_p2p=$(curl -s "http://$b_api/api/v1/health" | python3 -c '
import json, sys
p = json.load(sys.stdin).get("p2p") or {}
print(" ".join(f"{k}={v}" for k, v in sorted(p.items()) if isinstance(v, int) and v))')
peak=$(awk '/^VmHWM:/ {print $2}' "/proc/$a_pid/status")
kill -TERM "$a_pid"
for _ in $(seq 300); do kill -0 "$a_pid" 2>/dev/null || break; sleep 0.1; done
sent=$(( $(sed -n 's/^sent=\([0-9]*\).*/\1/p' "$work/udp.out") + $(sed -n 's/^sent=\([0-9]*\).*/\1/p' "$work/tcp.out") ))
stopped=$(grep ' stopped ' "$work/a/log" | tail -1)
field() { echo "$stopped" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
rows=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM honey").fetchone()[0])' "$work/a/sentrypeer.db")
b_rows=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM honey").fetchone()[0])' "$work/b/sentrypeer.db")
echo
echo "sent $sent (UDP $(cat "$work/udp.out"); TCP $(cat "$work/tcp.out"))"
echo "node A: rows $rows, stopped line: ${stopped#*stopped }"
echo "accounting: sent - rows - queue drops - kernel drops = $(( sent - rows - $(field dropped) - $(field kernel_dropped) ))"
echo "node A RSS: min $(sort -k2 -n "$work/series" | head -1 | awk '{print $2}') kB, max $(sort -k2 -n "$work/series" | tail -1 | awk '{print $2}') kB, peak (VmHWM) $peak kB"
echo "node B (restarted halfway) stored $b_rows records shared by A; its P2P counters (non-zero, since its restart): $b_p2p"
echo "error/warning lines: A $(grep -c -E 'ERROR|WARN' "$work/a/log" || true), B $(grep -c -E 'ERROR|WARN' "$work/b/log" || true)"
grep -h -E 'ERROR|WARN' "$work/a/log" "$work/b/log" | sed 's/^[^ ]* //' | sort | uniq -c | sort -rn | head -10 || true
