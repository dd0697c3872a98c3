# SPDX-License-Identifier: MIT
# Cross-compiles w3tp for 64-bit Arm Linux with Debian's cross compiler (g++-aarch64-linux-gnu) against
# Debian's arm64 multiarch packages (dpkg --add-architecture arm64; libfmt-dev:arm64, liburing-dev:arm64):
#
#   cmake -S . -B build-arm -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
#   cmake --build build-arm
#
# The programs it makes do not run here (no emulator is set), so ctest is not for this build tree.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(W3TP_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${W3TP_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${W3TP_CROSS_TRIPLE}-g++)

# Multiarch: arm64 libraries and package files live in /usr/lib/aarch64-linux-gnu, and find_package and
# find_library look there (never in the host's /usr/lib/x86_64-linux-gnu) once the architecture is set.
set(CMAKE_LIBRARY_ARCHITECTURE ${W3TP_CROSS_TRIPLE})
# pkg-config (cmake/Findliburing.cmake) must read the arm64 .pc files, not the host's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${W3TP_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
