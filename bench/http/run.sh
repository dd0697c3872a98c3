#!/bin/sh
# SPDX-License-Identifier: MIT
# The HTTP benchmark: "Hello" over keep-alive on 127.0.0.1, measured with wrk (64 connections), from
# w3tp-iishost with a module (io_uring and epoll), nginx with 2 workers serving the same 5-byte file, and
# a Boost.Beast asynchronous server with 2 threads; a second row runs the IIS documentation sample (a
# per-request overlapped file write, behind Basic authentication). Builds what it needs (Release).
#
#   bench/http/run.sh [--reps N] [--seconds S] [--connections C] [--skip-anchors]
#
# Environment: BUILD_DIR (default build-bench), OUT_DIR (default $BUILD_DIR/bench-results).
# Needs wrk and nginx (apt-get install -y wrk nginx); a missing nginx drops that peer.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
build=${BUILD_DIR:-$root/build-bench}
out=${OUT_DIR:-$build/bench-results}
: "${TMPDIR:=/var/tmp}"
export TMPDIR

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DW3TP_BUILD_BENCH=ON \
  -DW3TP_BUILD_TESTS=OFF -DW3TP_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build" --target w3tp_bench w3tp-iishost w3tp_bench_hello_chunks w3tp_bench_beast_hello \
  iis_hello_module >/dev/null
mkdir -p "$out"
exec python3 "$here/http_bench.py" --build "$build" --json "$out/http.jsonl" --md "$out/http.md" "$@"
