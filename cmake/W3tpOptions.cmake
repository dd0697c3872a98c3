# SPDX-License-Identifier: MIT
# Options of API.md: tests, examples and benchmarks are built only when w3tp is the top-level project.
include(CMakeDependentOption)

option(W3TP_BUILD_TESTS "Build w3tp's tests" ${PROJECT_IS_TOP_LEVEL})
option(W3TP_BUILD_EXAMPLES "Build w3tp's examples" ${PROJECT_IS_TOP_LEVEL})
option(W3TP_BUILD_BENCH "Build w3tp's benchmarks" ${PROJECT_IS_TOP_LEVEL})
option(W3TP_WERROR "Treat warnings in w3tp's own targets as errors" OFF)
option(W3TP_INSTALL "Generate w3tp's install rules" ON)
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  option(W3TP_WITH_IO_URING "Build the io_uring backend (liburing)" ON)
else()
  set(W3TP_WITH_IO_URING OFF)
endif()
option(W3TP_FUZZ "Build the libFuzzer target (clang only; tests/fuzz)" OFF)
set(W3TP_SANITIZE "" CACHE STRING "Sanitizers for w3tp's own targets: '', 'address,undefined' or 'thread'")

set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
# The build type is the enclosing project's choice under add_subdirectory / FetchContent.
if(PROJECT_IS_TOP_LEVEL AND NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
endif()

# w3tp_warnings(target): the warning set of w3tp's own targets (PRIVATE, never imposed on consumers).
function(w3tp_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra)
    if(W3TP_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
  if(W3TP_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${W3TP_SANITIZE} -fno-omit-frame-pointer)
    if(W3TP_SANITIZE MATCHES "thread")
      # liburing's barrier.h uses std::atomic_thread_fence, which GCC warns about under TSan.
      target_compile_options(${target} PRIVATE -Wno-tsan)
    endif()
    target_link_options(${target} PRIVATE -fsanitize=${W3TP_SANITIZE})
  endif()
endfunction()
