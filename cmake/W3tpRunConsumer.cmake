# SPDX-License-Identifier: MIT
# cmake -DSOURCE=... -DBINARY=... -DARGS=... -DRUN=... -P W3tpRunConsumer.cmake
# Configures, builds and runs a consumer project, failing with its output on the first error.
file(REMOVE_RECURSE ${BINARY})
foreach(step configure build run)
  if(step STREQUAL "configure")
    set(cmd ${CMAKE_COMMAND} -S ${SOURCE} -B ${BINARY} ${ARGS})
  elseif(step STREQUAL "build")
    set(cmd ${CMAKE_COMMAND} --build ${BINARY})
  else()
    set(cmd ${RUN} ${BINARY}/consumer.txt)
  endif()
  execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer ${step} failed (${rc})")
  endif()
endforeach()
