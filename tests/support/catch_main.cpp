// SPDX-License-Identifier: MIT
// The main() of the test executables that need nothing before Catch2 runs.
#define W3TP_CATCH_RUNNER
#include "support/catch.hpp"

int main(int argc, char** argv) { return Catch::Session().run(argc, argv); }
