#!/usr/bin/env bash
# Size and idle memory of a sentrypeer binary (README "Small build"): its size on disk, then,
# over RUNS starts (default 5), the median VmRSS read from /proc one second after the daemon
# logged "sentrypeer ready", started on a loopback port 0 with a database in a fresh temporary
# directory and no other option (extra arguments are passed on, e.g. -N).
#
#   bench/idle_rss.sh target/small/sentrypeer
set -euo pipefail
binary=$(realpath "$1")
shift
runs=${RUNS:-5}

echo "size: $(stat -c %s "$binary") bytes"
samples=()
for _ in $(seq "$runs"); do
    dir=$(mktemp -d)
    : >"$dir/log"
    (cd "$dir" && exec "$binary" --sip-listen-address 127.0.0.1:0 -f "$dir/sentrypeer.db" "$@" \
        2>"$dir/log") &
    pid=$!
    for _ in $(seq 200); do
        grep -q "sentrypeer ready" "$dir/log" && break
        sleep 0.05
    done
    if ! grep -q "sentrypeer ready" "$dir/log"; then
        cat "$dir/log" >&2
        kill "$pid" 2>/dev/null || true
        exit 1
    fi
    sleep 1
    samples+=("$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")")
    kill -TERM "$pid"
    wait "$pid" || true
    rm -rf "$dir"
done
median=$(printf '%s\n' "${samples[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "idle VmRSS: median ${median} kB of ${samples[*]} kB"
