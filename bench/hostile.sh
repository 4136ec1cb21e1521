#!/usr/bin/env bash
# Hostile-client benchmark (issue 21; not a test): UDP reflection per personality, an unread
# /numbers during a flood (WAL), 505 slow readers (RSS, threads), stats during a flood (store
# drops) and abandoned stats (CPU), on the release binary. Medians of RUNS runs (default 3).
# Loopback only; needs curl.
#
#   bench/hostile.sh                      # everything
#   bench/hostile.sh unread readers       # some of: reflection unread readers stats abandoned
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin sentrypeer --example seed --example loadgen
exec python3 bench/hostile.py "$@"
