# SPDX-License-Identifier: MIT
# Runs one example the way a user would and checks what a user sees:
#   cmake -DPROGRAM=path -DARGS="a;b" -DEXPECT_EXIT=1 -DEXPECT_OUTPUT=regex [-DENV=NAME=VALUE]
#         [-DEMULATOR=runner] -P check_cli.cmake
# (EMULATOR: CMAKE_CROSSCOMPILING_EMULATOR, Wine for the MinGW build.)
# Fails unless the exit status is EXPECT_EXIT and stdout+stderr match EXPECT_OUTPUT, and never when a
# C++ exception escaped (libstdc++'s "terminate called").
if(DEFINED ENV)
  string(REPLACE "=" ";" pair "${ENV}")
  list(GET pair 0 name)
  list(GET pair 1 value)
  set(ENV{${name}} "${value}")
endif()
execute_process(COMMAND ${EMULATOR} "${PROGRAM}" ${ARGS} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 30)
set(all "${out}${err}")
if(NOT status STREQUAL "${EXPECT_EXIT}")
  message(FATAL_ERROR "${PROGRAM} ${ARGS}: exit status ${status}, expected ${EXPECT_EXIT}; it printed:\n${all}")
endif()
if(NOT all MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "${PROGRAM} ${ARGS}: the output does not match '${EXPECT_OUTPUT}':\n${all}")
endif()
if(all MATCHES "terminate called")
  message(FATAL_ERROR "${PROGRAM} ${ARGS}: an exception escaped:\n${all}")
endif()
message(STATUS "${PROGRAM} ${ARGS}: exit ${status} as expected")
