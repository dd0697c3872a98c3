#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's quick start. On a Debian/Ubuntu machine it installs what is missing (as root, or
# through sudo), configures and builds w3tp, then:
#   tools/quickstart.sh demo   runs the main demo (examples/hello_write)
#   tools/quickstart.sh test   runs the whole test suite with ctest
# BUILD_DIR (default: build) and CMAKE_ARGS (extra configure arguments) may be set in the environment.
set -eu

mode=${1:-demo}
case "$mode" in
  demo | test) ;;
  *)
    echo "usage: $0 demo|test" >&2
    exit 2
    ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-"$root/build"}

# Debian packages: the build needs liburing and fmt; the tests add Catch2, Boost (Asio executor
# checks) and pkg-config (the installed w3tp.pc is tested).
packages="cmake g++ make ninja-build pkg-config liburing-dev libfmt-dev"
if [ "$mode" = test ]; then
  packages="$packages catch2 libboost1.81-dev libpugixml-dev"
fi

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "quickstart: installing$missing"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
if [ "$mode" = demo ]; then
  tests=OFF
else
  tests=ON
fi
# shellcheck disable=SC2086  # CMAKE_ARGS is a list of arguments on purpose
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DW3TP_BUILD_TESTS=$tests \
  -DW3TP_BUILD_EXAMPLES=ON -DW3TP_BUILD_BENCH=OFF ${CMAKE_ARGS:-}
cmake --build "$build" -j "$jobs"

if [ "$mode" = demo ]; then
  cd "$build"
  exec "$build/examples/hello_write" "$build/hello_write.txt"
fi
exec ctest --test-dir "$build" --output-on-failure --timeout 600 -j "$jobs"
