# SPDX-License-Identifier: MIT
# The overlay port of w3tp's own repository: it builds the checkout it lives in (four directories up),
# so `vcpkg install w3tp --overlay-ports=<clone>/packaging/vcpkg/ports` works from any clone. Install
# with --editable (or without binary caching) to rebuild after an edit of the sources.
set(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../../..")
cmake_path(NORMAL_PATH SOURCE_PATH)
if(NOT EXISTS "${SOURCE_PATH}/include/w3tp/w3tp.hpp")
  message(FATAL_ERROR "the w3tp overlay port must stay in packaging/vcpkg/ports/w3tp of a w3tp checkout")
endif()

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DW3TP_BUILD_TESTS=OFF
    -DW3TP_BUILD_EXAMPLES=OFF
    -DW3TP_BUILD_BENCH=OFF
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH lib/cmake/w3tp)
vcpkg_fixup_pkgconfig()

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug/include")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
