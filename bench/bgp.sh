#!/usr/bin/env bash
# BGP blackhole feed benchmark (not a test): three network namespaces of its own (attacker ─
# router ─ honeypot), the daemon with --bgp in the honeypot one, BIRD 2 in the router one as its
# peer (multihop eBGP, the blackhole import filter of tests/fixtures/bgp/bird.conf, no kernel
# protocol: what is measured is BIRD's BGP RIB). Attacker addresses come from 198.18.0.0/15
# (the benchmarking range), routed to the attacker namespace as local (AnyIP).
#   1. capture to RIB: PROBES SIP OPTIONS over TCP, each from a new attacker address, GAP s
#      apart; latency = the time BIRD logged the route (ms) - the time the probe's connection
#      was made (same clock); median, p99, max. RUNS rounds of fresh addresses.
#   2. full table: TABLE more addresses captured (one UDP OPTIONS each, `[verdicts.bgp]
#      udp_only = "list"` so unproven UDP sources count), BIRD's session disabled meanwhile;
#      then enabled: seconds from the session's establishment (BIRD's log) to BIRD holding every
#      route, RUNS times (disable, enable); median. RSS of the daemon before and after the table
#      (the blocklist, the route table and the session's record of what it sent), and BIRD's
#      holding the table.
# Needs root, bird2, python3, curl, iproute2. Only its own namespaces; everything stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
PROBES=${PROBES:-100}
GAP=${GAP:-0.1}
TABLE=${TABLE:-100000}
RUNS=${RUNS:-3}
BIN=${BIN:-target/release/sentrypeer}
[ "$BIN" = target/release/sentrypeer ] && cargo build --release --quiet --bin sentrypeer

tag=spbgp$$
A=${tag}a R=${tag}r H=${tag}h
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for ns in "$A" "$R" "$H"; do ip netns del "$ns" 2>/dev/null || true; done
    [ -n "${KEEP:-}" ] && echo "logs kept in $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
wait_for() { # seconds command...: until the command succeeds
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do [ $SECONDS -lt $deadline ] || { echo "timeout: $*" >&2; return 1; }; sleep 0.05; done
}

# The namespaces: attacker 203.0.113.2 ─ .1 router 198.51.100.1 ─ 198.51.100.2 honeypot.
for ns in "$A" "$R" "$H"; do ip netns add "$ns"; in_ns "$ns" ip link set lo up; done
ip link add "${tag}ra" netns "$R" type veth peer name "${tag}ar" netns "$A"
ip link add "${tag}rh" netns "$R" type veth peer name "${tag}hr" netns "$H"
in_ns "$R" ip addr add 203.0.113.1/24 dev "${tag}ra"
in_ns "$R" ip addr add 198.51.100.1/24 dev "${tag}rh"
in_ns "$A" ip addr add 203.0.113.2/24 dev "${tag}ar"
in_ns "$H" ip addr add 198.51.100.2/24 dev "${tag}hr"
for link in "$R ${tag}ra" "$R ${tag}rh" "$A ${tag}ar" "$H ${tag}hr"; do
    set -- $link; in_ns "$1" ip link set "$2" up
done
in_ns "$A" ip route add default via 203.0.113.1
in_ns "$A" ip route add local 198.18.0.0/15 dev lo
in_ns "$H" ip route add default via 198.51.100.1
in_ns "$R" ip route add 198.18.0.0/15 via 203.0.113.2
in_ns "$R" sysctl -qw net.ipv4.ip_forward=1

# BIRD 2, logging to a file with milliseconds.
cat > "$work/bird.conf" <<EOF
log "$work/bird.log" all;
timeformat log "%F %T.%3f";
router id 198.51.100.1;
debug protocols { states, routes };
protocol device {}
filter sentrypeer_in {
  if net.len != 32 then reject;
  if (65535,666) ~ bgp_community then { dest = RTD_BLACKHOLE; accept; }
  reject;
}
protocol bgp sentrypeer {
  local 198.51.100.1 as 65001;
  neighbor 198.51.100.2 as 64512;
  multihop;
  passive on;
  ipv4 { import filter sentrypeer_in; export none; };
}
EOF
ip netns exec "$R" bird -f -c "$work/bird.conf" -s "$work/bird.ctl" > "$work/bird.err" 2>&1 &
pids+=($!)
bird_pid=$!
birdc() { in_ns "$R" birdc -s "$work/bird.ctl" "$@"; }
wait_for 20 test -S "$work/bird.ctl"

# The daemon.
cat > "$work/sentrypeer.toml" <<EOF
[bgp]
enabled = true
local_as = 64512
router_id = "198.51.100.2"
max_routes = 1000000
[[bgp.peer]]
address = "198.51.100.1"
remote_as = 65001
[verdicts.bgp]
udp_only = "list"
EOF
ip netns exec "$H" env HOME="$work" RUST_LOG=info "$BIN" -g "$work/sentrypeer.toml" -N -f "$work/sentrypeer.db" \
    --sip-listen-address 198.51.100.2:0 -a --api-listen-address 127.0.0.1:0 \
    --verdict-include-special-addresses > "$work/daemon.log" 2>&1 &
pids+=($!)
daemon_pid=$!
wait_for 30 grep -q "BGP session established" "$work/daemon.log"
sip_port=$(sed -n 's/.*listening for TCP on \S*:\([0-9]*\).*/\1/p' "$work/daemon.log" | head -1)
api=$(sed -n 's/.*listening for API on \(\S*\).*/\1/p' "$work/daemon.log" | head -1)
routes() { in_ns "$H" curl -s "http://$api/api/v1/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["bgp"]["routes"])'; }
bird_routes() { birdc show route count | awk '$2 == "of" {n += $1} END {print n + 0}'; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
bird_holds() { [ "$(bird_routes)" -ge "$1" ]; }
bird_holds_none() { [ "$(bird_routes)" -eq 0 ]; }
daemon_holds() { [ "$(routes)" -ge "$1" ]; }

# 1. Capture to RIB.
probe_tcp() { # first_index count gap: prints "address unix_time" per probe
in_ns "$A" python3 - "$1" "$2" "$3" "$sip_port" <<'PY'
import socket, sys, time
first, count, gap, port = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
for i in range(first, first + count):
    source = f"198.18.{i // 256}.{i % 256}"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.connect(("198.51.100.2", port))
    sent = time.time()
    s.sendall((f"OPTIONS sip:100@198.51.100.2 SIP/2.0\r\nVia: SIP/2.0/TCP {source}:5060;branch=z9hG4bK{i}\r\n"
               f"From: <sip:bench@{source}>;tag={i}\r\nTo: <sip:100@198.51.100.2>\r\nCall-ID: bgp-bench-{i}\r\n"
               "CSeq: 1 OPTIONS\r\nUser-Agent: bgp-bench\r\nContent-Length: 0\r\n\r\n").encode())
    s.close()
    print(source, f"{sent:.6f}", flush=True)
    time.sleep(gap)
PY
}
: > "$work/latency"
next=256
for run in $(seq "$RUNS"); do
    probe_tcp "$next" "$PROBES" "$GAP" > "$work/sent.$run"
    next=$((next + PROBES))
    total=$((run * PROBES))
    wait_for 60 bird_holds "$total"
    # BIRD's log: "2026-12-04 20:31:07.123 <TRACE> sentrypeer.ipv4 > added [best] 198.18.1.0/32 ..."
    python3 - "$work/sent.$run" "$work/bird.log" >> "$work/latency" <<'PY'
import sys, datetime
sent = dict(line.split() for line in open(sys.argv[1]))
seen = {}
for line in open(sys.argv[2], errors="replace"):
    if "> added" not in line:
        continue
    words = line.split()
    prefix = next((w for w in words if w.endswith("/32")), None)
    ip = prefix[:-3] if prefix else None
    if ip in sent and ip not in seen:
        at = datetime.datetime.strptime(f"{words[0]} {words[1]}", "%Y-%m-%d %H:%M:%S.%f").timestamp()
        seen[ip] = at
for ip, at in seen.items():
    print(f"{(at - float(sent[ip])) * 1000:.1f}")
if len(seen) != len(sent):
    print(f"only {len(seen)} of {len(sent)} routes found in BIRD's log", file=sys.stderr)
    sys.exit(1)
PY
done
python3 - "$work/latency" <<'PY'
import statistics, sys
values = sorted(float(v) for v in open(sys.argv[1]))
p99 = values[min(len(values) - 1, int(round(0.99 * len(values))) - 1)]
print(f"capture to BIRD RIB over {len(values)} captures: median {statistics.median(values):.0f} ms, "
      f"p99 {p99:.0f} ms, max {values[-1]:.0f} ms")
PY

# 2. The full table.
rss_before=$(rss_kb "$daemon_pid")
birdc disable sentrypeer > /dev/null
birdc debug sentrypeer "{ states }" > /dev/null
udp_port=$(sed -n 's/.*listening for UDP on \S*:\([0-9]*\).*/\1/p' "$work/daemon.log" | head -1)
first_table=$next
want=$(( $(routes) + TABLE ))
send_table() {
in_ns "$A" python3 - "$first_table" "$TABLE" "$udp_port" <<'PY'
import socket, sys, time
first, count, port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for n, i in enumerate(range(first, first + count)):
    source = f"198.{18 + i // 65536}.{i // 256 % 256}.{i % 256}"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.sendto((f"OPTIONS sip:100@198.51.100.2 SIP/2.0\r\nVia: SIP/2.0/UDP {source}:5060;branch=z9hG4bK{i}\r\n"
              f"From: <sip:bench@{source}>;tag={i}\r\nTo: <sip:100@198.51.100.2>\r\nCall-ID: bgp-table-{i}\r\n"
              "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode(), ("198.51.100.2", port))
    s.close()
    if n % 500 == 499:
        time.sleep(0.05)  # under the daemon's socket buffer
PY
}
for attempt in 1 2 3; do  # UDP: what the kernel dropped is sent again
    send_table
    wait_for 60 daemon_holds "$want" && break || true
done
[ "$(routes)" -ge "$want" ] || { echo "the daemon holds $(routes) routes, not $want" >&2; exit 1; }
rss_after=$(rss_kb "$daemon_pid")
: > "$work/table"
for run in $(seq "$RUNS"); do
    : > "$work/bird.log"
    enabled=$(date +%s.%N)
    birdc enable sentrypeer > /dev/null
    wait_for 120 bird_holds "$want"
    full=$(date +%s.%N)
    bird_rss=$(rss_kb "$bird_pid")
    up=$(python3 - "$work/bird.log" <<'PY'
import sys, datetime
for line in open(sys.argv[1], errors="replace"):
    if "state changed to up" in line.lower():
        w = line.split()
        print(datetime.datetime.strptime(f"{w[0]} {w[1]}", "%Y-%m-%d %H:%M:%S.%f").timestamp())
        break
PY
)
    echo "$up $enabled $full" >> "$work/table"
    birdc disable sentrypeer > /dev/null
    wait_for 30 bird_holds_none
done
rss_after_sent=$(rss_kb "$daemon_pid")
python3 - "$work/table" "$want" "$rss_before" "$rss_after" "$rss_after_sent" "$bird_rss" <<'PY'
import statistics, sys
rows = [[float(x) for x in line.split()] for line in open(sys.argv[1])]
from_up = [full - up for up, _, full in rows]
from_enable = [full - enabled for _, enabled, full in rows]
want, before, after, sent, bird = sys.argv[2:]
print(f"{want} routes to BIRD after the session opens: median {statistics.median(from_up):.2f} s "
      f"(runs {', '.join(f'{v:.2f}' for v in from_up)}; from 'enable': median {statistics.median(from_enable):.2f} s)")
mb = lambda kb: int(kb) / 1024
print(f"daemon RSS: {mb(before):.0f} MiB before the table, {mb(after):.0f} MiB holding it, "
      f"{mb(sent):.0f} MiB after sending it; BIRD {mb(bird):.0f} MiB holding it")
PY
