# SPDX-License-Identifier: MIT
# Install rules and the CMake package: headers, the library, w3tp-targets.cmake, a config file that
# finds every dependency w3tp links (even privately, so a static w3tp links in the consumer), a
# version file, the Find module for liburing, and w3tp.pc. A build-tree export lets a consumer use
# a build directory directly.
include(CMakePackageConfigHelpers)

set(W3TP_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/w3tp" CACHE STRING "Where w3tp's CMake package goes")

# src/CMakeLists.txt says what it linked: W3TP_CONFIG_NEEDS_FMT (OFF for a header-only fmt) and
# W3TP_CONFIG_NEEDS_LIBURING.

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/w3tp-config.cmake.in ${PROJECT_BINARY_DIR}/w3tp-config.cmake
  INSTALL_DESTINATION ${W3TP_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/w3tp-config-version.cmake
  COMPATIBILITY SameMinorVersion)


# pkg-config: private requirements so that `pkg-config --static --libs w3tp` lists everything.
set(W3TP_PC_REQUIRES_PRIVATE "")
set(W3TP_PC_LIBS_PRIVATE "-pthread")
if(W3TP_CONFIG_NEEDS_FMT)
  string(APPEND W3TP_PC_REQUIRES_PRIVATE " fmt")
endif()
if(W3TP_CONFIG_NEEDS_LIBURING)
  string(APPEND W3TP_PC_REQUIRES_PRIVATE " liburing")
endif()
if(WIN32)
  string(APPEND W3TP_PC_LIBS_PRIVATE " -lws2_32")
endif()
set(W3TP_PC_CFLAGS "")
if(BUILD_SHARED_LIBS)
  set(W3TP_PC_CFLAGS "-DW3TP_SHARED")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(W3TP_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(W3TP_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(W3TP_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(W3TP_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/w3tp.pc.in ${PROJECT_BINARY_DIR}/w3tp.pc @ONLY)

if(W3TP_INSTALL)
  set(w3tp_install_targets w3tp)
  if(TARGET w3tp_iis)
    list(APPEND w3tp_install_targets w3tp_iis)  # w3tp::iis, for IIS modules (POSIX)
  endif()
  install(TARGETS ${w3tp_install_targets} EXPORT w3tp-targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/w3tp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT w3tp-targets NAMESPACE w3tp:: DESTINATION ${W3TP_INSTALL_CMAKEDIR})
  install(FILES ${PROJECT_BINARY_DIR}/w3tp-config.cmake ${PROJECT_BINARY_DIR}/w3tp-config-version.cmake
                ${CMAKE_CURRENT_LIST_DIR}/Findliburing.cmake
          DESTINATION ${W3TP_INSTALL_CMAKEDIR})
  # pkg-config looks in <libdir>/pkgconfig; "beside the CMake package" means under the same libdir.
  install(FILES ${PROJECT_BINARY_DIR}/w3tp.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/w3tp OPTIONAL)

  # The build tree is usable as a package too (CMAKE_PREFIX_PATH=<build dir>).
  export(EXPORT w3tp-targets NAMESPACE w3tp:: FILE ${PROJECT_BINARY_DIR}/w3tp-targets.cmake)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/Findliburing.cmake ${PROJECT_BINARY_DIR}/Findliburing.cmake COPYONLY)
endif()
