#!/usr/bin/env bash
# The OpenDHT bridge and discovery benchmarks (not tests), release build, against a real
# `dhtnode --proxyserver` on loopback; what each scenario measures is in bench/opendht.py.
#
#   bench/opendht.sh                       # import, latency, flood, discovery
#   bench/opendht.sh import latency        # some of them
#   PRIORITY=1 RUNS=3 bench/opendht.sh     # on a shared machine (root): a scheduling group of
#                                          # its own, weighted 10x, as bench/run.sh does
# COUNT, PROBES, BOGUS, RUNS override the defaults. Needs dhtnode, python3-opendht and ss.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PRIORITY:-}" ] && [ -z "${SENTRYPEER_BENCH_GROUP:-}" ]; then
    export SENTRYPEER_BENCH_GROUP=1
    exec setsid --wait bash -c 'echo -10 > /proc/self/autogroup && exec "$0" "$@"' "$0" "$@"
fi
# BINARY=path runs another build (e.g. target/debug/sentrypeer) without building the release one.
[ -n "${BINARY:-}" ] || cargo build --release --quiet --bin sentrypeer
exec /usr/bin/python3 -B bench/opendht.py "$@"
