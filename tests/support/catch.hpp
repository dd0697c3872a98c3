// SPDX-License-Identifier: MIT
// Includes Catch2 v3 or v2, whichever tests/CMakeLists.txt found, so that test files compile with both.
// Define W3TP_CATCH_RUNNER before including this header in the one file that defines main().
#pragma once

#if W3TP_CATCH_MAJOR >= 3
#include <catch2/catch_all.hpp>
#else
#ifdef W3TP_CATCH_RUNNER
#define CATCH_CONFIG_RUNNER
#endif
#include <catch2/catch.hpp>
#endif
