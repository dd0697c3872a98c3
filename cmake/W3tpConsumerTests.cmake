# SPDX-License-Identifier: MIT
# Package consumers as real projects: one builds against an installed prefix with find_package(w3tp),
# one vendors the source tree with add_subdirectory; both build and run a small program. The
# relocated ones move the installed prefix elsewhere first, for this build's static library and for a
# shared build of its own (BUILD_SHARED_LIBS=ON), with find_package and with pkg-config.
set(w3tp_consumer_dir ${PROJECT_BINARY_DIR}/consumers)
set(w3tp_consumer_args -G ${CMAKE_GENERATOR} -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER})

add_test(NAME package.install
  COMMAND ${CMAKE_COMMAND} --install ${PROJECT_BINARY_DIR} --prefix ${w3tp_consumer_dir}/prefix)
add_test(NAME package.find_package
  COMMAND ${CMAKE_COMMAND} -DSOURCE=${PROJECT_SOURCE_DIR}/tests/find_package -DBINARY=${w3tp_consumer_dir}/find_package
          "-DARGS=${w3tp_consumer_args};-DCMAKE_PREFIX_PATH=${w3tp_consumer_dir}/prefix"
          -DRUN=${w3tp_consumer_dir}/find_package/consumer -P ${PROJECT_SOURCE_DIR}/cmake/W3tpRunConsumer.cmake)
add_test(NAME package.pkg_config
  COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${w3tp_consumer_dir}/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig
          sh -c "${CMAKE_CXX_COMPILER} -std=c++20 ${PROJECT_SOURCE_DIR}/tests/find_package/main.cpp -o ${w3tp_consumer_dir}/pc_consumer $(pkg-config --cflags --libs --static w3tp) && ${w3tp_consumer_dir}/pc_consumer ${w3tp_consumer_dir}/pc_consumer.txt")
add_test(NAME package.add_subdirectory
  COMMAND ${CMAKE_COMMAND} -DSOURCE=${PROJECT_SOURCE_DIR}/tests/add_subdirectory -DBINARY=${w3tp_consumer_dir}/add_subdirectory
          "-DARGS=${w3tp_consumer_args};-DW3TP_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
          -DRUN=${w3tp_consumer_dir}/add_subdirectory/consumer -P ${PROJECT_SOURCE_DIR}/cmake/W3tpRunConsumer.cmake)
set_tests_properties(package.install PROPERTIES FIXTURES_SETUP w3tp_prefix TIMEOUT 120)
set_tests_properties(package.find_package package.pkg_config PROPERTIES FIXTURES_REQUIRED w3tp_prefix TIMEOUT 300)
set_tests_properties(package.add_subdirectory PROPERTIES TIMEOUT 600)
foreach(kind static shared)
  if(kind STREQUAL "shared")
    set(shared ON)
  else()
    set(shared OFF)
  endif()
  add_test(NAME package.relocated_${kind}
    COMMAND ${CMAKE_COMMAND} -DW3TP_SOURCE=${PROJECT_SOURCE_DIR} -DW3TP_BUILD=${PROJECT_BINARY_DIR}
            -DBINARY=${w3tp_consumer_dir}/relocated_${kind} -DSHARED=${shared} -DGENERATOR=${CMAKE_GENERATOR}
            -DCXX=${CMAKE_CXX_COMPILER} -DLIBDIR=${CMAKE_INSTALL_LIBDIR}
            -P ${PROJECT_SOURCE_DIR}/cmake/W3tpRelocatedConsumers.cmake)
  set_tests_properties(package.relocated_${kind} PROPERTIES TIMEOUT 900)
endforeach()
# Conan 2 (conanfile.py at the root, test_package/): `conan create` static and shared with no remote;
# skipped (77) when conan is not on the PATH (Debian does not package it).
add_test(NAME package.conan COMMAND sh ${PROJECT_SOURCE_DIR}/tests/conan/run.sh ${PROJECT_SOURCE_DIR} ${w3tp_consumer_dir}/conan)
set_tests_properties(package.conan PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 1200)
# vcpkg (packaging/vcpkg/ports/w3tp): classic mode for x64-linux and x64-linux-dynamic, and manifest
# mode, each with a find_package consumer; skipped (77) unless VCPKG_ROOT holds a vcpkg executable.
add_test(NAME package.vcpkg COMMAND sh ${PROJECT_SOURCE_DIR}/tests/vcpkg/run.sh ${PROJECT_SOURCE_DIR} ${w3tp_consumer_dir}/vcpkg)
set_tests_properties(package.vcpkg PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 1800)
