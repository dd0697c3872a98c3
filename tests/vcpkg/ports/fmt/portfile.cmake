# SPDX-License-Identifier: MIT
# Test-only stand-in for vcpkg's fmt port: nothing is built or installed; find_package(fmt) finds
# Debian's libfmt-dev (/usr/lib/x86_64-linux-gnu/cmake/fmt). Used only by w3tp's package.vcpkg.
if(NOT EXISTS "/usr/include/fmt/format.h")
  message(FATAL_ERROR "the fmt stand-in port wraps the system's fmt: apt-get install libfmt-dev")
endif()
set(VCPKG_POLICY_EMPTY_PACKAGE enabled)
