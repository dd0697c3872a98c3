#!/bin/sh
# SPDX-License-Identifier: MIT
# package.conan: `conan create` of this checkout, static and shared, with no remote: fmt and liburing
# come from the stand-in recipes beside this script (Debian's libfmt-dev and liburing-dev). Skips
# (exit 77) when conan is not on the PATH. Everything Conan writes goes to a temporary CONAN_HOME.
#   tests/conan/run.sh SOURCE_DIR WORK_DIR
set -eu
src=$1
work=$2
if ! command -v conan >/dev/null 2>&1; then
  echo "package.conan: skipped: conan is not on the PATH"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work"
export CONAN_HOME="$work/conan-home"
conan --version
conan profile detect >/dev/null 2>&1
conan remote disable conancenter >/dev/null 2>&1 || true
here=$src/tests/conan
# Conan builds test_package/ inside the recipe's folder: work on a copy, never in the source tree.
copy=$work/w3tp
mkdir -p "$copy"
cp -R "$src/conanfile.py" "$src/CMakeLists.txt" "$src/LICENSE" "$src/cmake" "$src/include" "$src/src" "$src/docs" \
  "$src/test_package" "$copy/"
rm -rf "$copy/test_package/build" "$copy/test_package/CMakeUserPresets.json"
conan export "$here/fmt" >/dev/null
conan export "$here/liburing" >/dev/null
for shared in False True; do
  echo "== conan create . -o w3tp/*:shared=$shared"
  conan create "$copy" -o "w3tp/*:shared=$shared" --build=missing --no-remote -s compiler.cppstd=20 \
    >"$work/create-$shared.log" 2>&1 || { tail -n 60 "$work/create-$shared.log"; exit 1; }
  grep -E "from Conan: backend" "$work/create-$shared.log"
done
echo "package.conan: static and shared packages built, and their test_package ran"
