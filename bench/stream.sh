#!/usr/bin/env bash
# How long a new attacker takes to reach a `curl -N /api/v1/stream` client while the honeypot
# takes a paced UDP flood (bench/loadgen/stream.rs): builds the release binary and the load
# generator, then runs `loadgen stream` (median of 3 runs; any of its options pass through).
#
#   bench/stream.sh                                   # 50,000/s, 200 new attackers per run
#   bench/stream.sh --kind event,decision --runs 5    # a client taking every event too
#   PRIORITY=1 bench/stream.sh                        # shared machine (root): own CPU group
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PRIORITY:-}" ] && [ -z "${SENTRYPEER_BENCH_GROUP:-}" ]; then
    export SENTRYPEER_BENCH_GROUP=1
    exec setsid --wait bash -c 'echo -10 > /proc/self/autogroup && exec "$0" "$@"' "$0" "$@"
fi
cargo build --release --quiet --bin sentrypeer --example loadgen
exec ./target/release/examples/loadgen stream --binary target/release/sentrypeer "$@"
