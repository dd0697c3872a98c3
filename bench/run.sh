#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds w3tp's benchmarks (-O2, Release) and runs them all: one table with ratios on stdout, JSON lines,
# then (if python3 has matplotlib) a Markdown table and a chart for the README.
#
#   bench/run.sh [w3tp_bench options: --quick, --reps N, --only WORD, --no-instructions, --scale X]
#
# Environment: BUILD_DIR (default build-bench), OUT_DIR (default $BUILD_DIR/bench-results),
# TMPDIR (where the 64 MiB test file lives; not tmpfs, so that its cache can be dropped).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build-bench}
out=${OUT_DIR:-$build/bench-results}
: "${TMPDIR:=/var/tmp}"
export TMPDIR

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DW3TP_BUILD_BENCH=ON \
  -DW3TP_BUILD_TESTS=OFF -DW3TP_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" >/dev/null
mkdir -p "$out"
"$build/bench/w3tp_bench" run --json "$out/results.jsonl" "$@" | tee "$out/results.txt"
# The first Python that has matplotlib (a pyenv shim may hide Debian's python3-matplotlib).
py=""
for cand in python3 /usr/bin/python3; do
  if command -v "$cand" >/dev/null && "$cand" -c 'import matplotlib' 2>/dev/null; then py=$cand; break; fi
done
if [ -n "$py" ]; then
  "$py" "$here/report.py" "$out/results.jsonl" --md "$out/results.md" --png "$out/results.png"
else
  echo "run.sh: python3-matplotlib is missing (apt-get install -y python3-matplotlib); no chart" >&2
fi
