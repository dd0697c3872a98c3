#!/bin/sh
# SPDX-License-Identifier: MIT
# package.vcpkg: installs w3tp's overlay port (packaging/vcpkg/ports/w3tp) in classic mode for
# x64-linux and x64-linux-dynamic, then builds and runs a find_package(w3tp) consumer with vcpkg's
# toolchain file against each; then a manifest-mode consumer (tests/vcpkg/manifest). fmt and liburing
# come from the stand-in ports in tests/vcpkg/ports (Debian's packages). Everything vcpkg writes goes
# under WORK_DIR: nothing is written into VCPKG_ROOT, and w3tp is installed --editable (no binary
# cache), so an edit of the sources is never hidden by a cached build. Skips (exit 77) unless
# VCPKG_ROOT holds a vcpkg executable.
#   tests/vcpkg/run.sh SOURCE_DIR WORK_DIR
set -eu
src=$1
work=$2
if [ -z "${VCPKG_ROOT:-}" ] || [ ! -x "$VCPKG_ROOT/vcpkg" ]; then
  echo "package.vcpkg: skipped: VCPKG_ROOT does not hold a vcpkg executable"
  exit 77
fi
vcpkg=$VCPKG_ROOT/vcpkg
for tool in cmake ninja git pkg-config patchelf; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "package.vcpkg: $tool is missing (vcpkg uses the system's here: apt-get install $tool)"
    exit 1
  fi
done
export VCPKG_FORCE_SYSTEM_BINARIES=1  # Debian's cmake, ninja, git and pkg-config; nothing downloaded
export VCPKG_DISABLE_METRICS=1
rm -rf "$work"
mkdir -p "$work"
stamp=$work/stamp
touch "$stamp"
"$vcpkg" version | head -n 1
roots="--x-buildtrees-root=$work/buildtrees --x-packages-root=$work/packages --downloads-root=$work/downloads"
overlays="--overlay-ports=$src/packaging/vcpkg/ports --overlay-ports=$src/tests/vcpkg/ports"

run_consumer() {  # name source-dir install-dir triplet [extra cmake args]
  name=$1 source=$2 installed=$3 triplet=$4
  shift 4
  cmake -S "$source" -B "$work/$name" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$VCPKG_ROOT/scripts/buildsystems/vcpkg.cmake" -DVCPKG_TARGET_TRIPLET="$triplet" \
    -DVCPKG_INSTALLED_DIR="$installed" "$@" >"$work/$name.log" 2>&1 || { cat "$work/$name.log"; exit 1; }
  cmake --build "$work/$name" >>"$work/$name.log" 2>&1 || { cat "$work/$name.log"; exit 1; }
  "$work/$name/consumer" "$work/$name.txt"
}

for triplet in x64-linux x64-linux-dynamic; do
  echo "== classic mode, $triplet: vcpkg install w3tp --editable"
  # shellcheck disable=SC2086
  "$vcpkg" install "w3tp:$triplet" --classic --editable --binarysource=clear $overlays $roots \
    --x-install-root="$work/installed" >"$work/install-$triplet.log" 2>&1 ||
    { tail -n 80 "$work/install-$triplet.log"; exit 1; }
  lib=$(find "$work/installed/$triplet/lib" -maxdepth 1 -name 'libw3tp.*' | head -n 1)
  echo "installed: ${lib#"$work/"}"
  run_consumer "classic-$triplet" "$src/tests/find_package" "$work/installed" "$triplet" -DVCPKG_MANIFEST_MODE=OFF
done

echo "== manifest mode, x64-linux: tests/vcpkg/manifest (vcpkg.json + vcpkg-configuration.json)"
run_consumer manifest "$src/tests/vcpkg/manifest" "$work/manifest-installed" x64-linux \
  -DVCPKG_INSTALL_OPTIONS="--binarysource=clear;--x-buildtrees-root=$work/buildtrees-manifest;--x-packages-root=$work/packages-manifest;--downloads-root=$work/downloads"

# Nothing may have been written into VCPKG_ROOT.
written=$(find "$VCPKG_ROOT" -newer "$stamp" -not -path '*/.git/*' 2>/dev/null | head -n 5)
if [ -n "$written" ]; then
  echo "package.vcpkg: vcpkg wrote into VCPKG_ROOT:"
  echo "$written"
  exit 1
fi
echo "package.vcpkg: classic (x64-linux, x64-linux-dynamic) and manifest consumers built and ran"
