# SPDX-License-Identifier: MIT
# Test-only stand-in for vcpkg's liburing port: nothing is built or installed; w3tp's Findliburing
# finds Debian's liburing-dev. Used only by w3tp's package.vcpkg.
if(NOT EXISTS "/usr/include/liburing.h")
  message(FATAL_ERROR "the liburing stand-in port wraps the system's liburing: apt-get install liburing-dev")
endif()
set(VCPKG_POLICY_EMPTY_PACKAGE enabled)
