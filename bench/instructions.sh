#!/bin/sh
# SPDX-License-Identifier: MIT
# User-space instructions per completed operation, under valgrind --tool=callgrind: every case runs
# twice, with N and 5N operations, and the table shows (I(5N) - I(N)) / 4N, so that start-up and
# tear-down cancel out. Covers the file workload (4 KiB reads, 64 in flight, 1 pool thread), posts and
# ping-pong round trips, for w3tp's two backends and the peers.
#
#   bench/instructions.sh [extra w3tp_bench options, e.g. --scale 0.5]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build-bench}
out=${OUT_DIR:-$build/bench-results}
: "${TMPDIR:=/var/tmp}"
export TMPDIR
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 77; }
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DW3TP_BUILD_BENCH=ON \
  -DW3TP_BUILD_TESTS=OFF -DW3TP_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" >/dev/null
mkdir -p "$out"
exec "$build/bench/w3tp_bench" run --only instructions --json "$out/instructions.jsonl" "$@"
