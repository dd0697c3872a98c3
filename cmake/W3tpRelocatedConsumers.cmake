# SPDX-License-Identifier: MIT
# cmake -DW3TP_SOURCE=... -DW3TP_BUILD=... -DBINARY=... -DSHARED=ON|OFF -DGENERATOR=... -DCXX=...
#       -DLIBDIR=lib -P W3tpRelocatedConsumers.cmake
# The installed package as a user moves it: install w3tp (SHARED=ON: a build of its own with
# BUILD_SHARED_LIBS=ON; OFF: this build's static library), move the prefix somewhere else (the
# original path is gone), then build and run the find_package consumer and a pkg-config consumer
# against the moved prefix. Fails with the step's output on the first error.
file(REMOVE_RECURSE ${BINARY})
file(MAKE_DIRECTORY ${BINARY})
set(prefix ${BINARY}/prefix)
set(moved ${BINARY}/moved/w3tp)

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}${err}")
  endif()
  message(STATUS "${what}: ok")
endfunction()

if(SHARED)
  run_step("configure w3tp (BUILD_SHARED_LIBS=ON)" ${CMAKE_COMMAND} -S ${W3TP_SOURCE} -B ${BINARY}/w3tp -G ${GENERATOR}
           -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX} -DBUILD_SHARED_LIBS=ON -DW3TP_BUILD_TESTS=OFF
           -DW3TP_BUILD_EXAMPLES=OFF -DW3TP_BUILD_BENCH=OFF)
  run_step("build w3tp (shared)" ${CMAKE_COMMAND} --build ${BINARY}/w3tp)
  run_step("install w3tp (shared)" ${CMAKE_COMMAND} --install ${BINARY}/w3tp --prefix ${prefix})
  file(GLOB libs ${prefix}/${LIBDIR}/libw3tp.so*)
  if(NOT libs)
    message(FATAL_ERROR "the shared install has no libw3tp.so in ${prefix}/${LIBDIR}")
  endif()
else()
  run_step("install w3tp (static)" ${CMAKE_COMMAND} --install ${W3TP_BUILD} --prefix ${prefix})
endif()

# Move it: nothing may still point at the old path.
file(MAKE_DIRECTORY ${BINARY}/moved)
file(RENAME ${prefix} ${moved})

run_step("configure the find_package consumer" ${CMAKE_COMMAND} -S ${W3TP_SOURCE}/tests/find_package
         -B ${BINARY}/find_package -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX}
         -DCMAKE_PREFIX_PATH=${moved})
run_step("build the find_package consumer" ${CMAKE_COMMAND} --build ${BINARY}/find_package)
# The consumer finds libw3tp.so through the RPATH CMake gave it (the moved prefix's lib directory).
run_step("run the find_package consumer" ${BINARY}/find_package/consumer ${BINARY}/find_package.txt)

set(ENV{PKG_CONFIG_PATH} ${moved}/${LIBDIR}/pkgconfig)
set(pc_args --cflags --libs)
if(NOT SHARED)
  list(APPEND pc_args --static)
endif()
execute_process(COMMAND pkg-config ${pc_args} w3tp RESULT_VARIABLE rc OUTPUT_VARIABLE flags ERROR_VARIABLE err
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config w3tp failed: ${err}")
endif()
if(NOT flags MATCHES "${moved}")
  message(FATAL_ERROR "pkg-config's flags do not point into the moved prefix ${moved}: ${flags}")
endif()
separate_arguments(flag_list UNIX_COMMAND "${flags}")
run_step("build the pkg-config consumer" ${CXX} -std=c++20 ${W3TP_SOURCE}/tests/find_package/main.cpp
         -o ${BINARY}/pc_consumer ${flag_list})
set(ENV{LD_LIBRARY_PATH} ${moved}/${LIBDIR})
run_step("run the pkg-config consumer" ${BINARY}/pc_consumer ${BINARY}/pc_consumer.txt)
