#!/usr/bin/env bash
# The benchmark (not a test): builds the release binary and the load generator (bench/loadgen),
# then runs every scenario and prints the results table, each figure the median of 3 runs:
#   capture  UDP probe mix as fast as one sender can go, against a bare UDP sink (the machine's
#            ceiling, measured in the same run) and against the honeypot; ratio to the ceiling;
#   tcp      the same mix over TCP connections;
#   huge     maximal (65,507-byte) datagrams: peak RSS stays bounded;
#   persist  a paced 50,000/s flood for 60 s into a database of 300,000 events, with point
#            lookups on /ip-addresses/{ip} and /numbers/{number} at 500/s meanwhile;
#   numbers  /numbers with 250,000 numbers: first byte, whole body, RSS growth;
#   idle     idle RSS and the stripped binary's size;
#   dips     a paced 50,000/s flood with and without 10,000 SIP dips/s at the SIP agent.
# Every flood checks sent = stored + store-queue drops + kernel drops. Loopback only; about
# 10 minutes on 2 cores.
#
#   bench/run.sh                                  # everything
#   bench/run.sh --only capture,idle --runs 5     # any `loadgen bench` option (see --help)
#   PRIORITY=1 bench/run.sh                       # on a shared machine (needs root): run in a
#                                                 # scheduling group of its own, weighted 10x
# Linux shares the CPU between sessions (autogroups) before nice values count, so on a machine
# where others are busy, PRIORITY=1 keeps their work from deciding the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PRIORITY:-}" ] && [ -z "${SENTRYPEER_BENCH_GROUP:-}" ]; then
    export SENTRYPEER_BENCH_GROUP=1
    exec setsid --wait bash -c 'echo -10 > /proc/self/autogroup && exec "$0" "$@"' "$0" "$@"
fi
cargo build --release --quiet --bin sentrypeer --example seed --example loadgen
exec ./target/release/examples/loadgen bench --binary target/release/sentrypeer \
    --seed target/release/examples/seed "$@"
