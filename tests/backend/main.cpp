// SPDX-License-Identifier: MIT
// The main() of the behaviour suite and the stress test. ctest runs each once per backend with
// W3TP_BACKEND set; when that backend cannot start here (io_uring blocked by seccomp, an old kernel,
// a build without it) the run is skipped with exit code 77 and the reason, instead of failing.
#include <w3tp/w3tp.hpp>

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <system_error>

#include "backend/support.hpp"

#define W3TP_CATCH_RUNNER
#include "support/catch.hpp"

#include "backend/common.hpp"

namespace {

constexpr int k_skip = 77;

// A backend by the name that w3tp::to_string gives it (the names ctest sets in W3TP_BACKEND).
bool parse(std::string_view name, w3tp::backend& out) {
  for (w3tp::backend b : {w3tp::backend::io_uring, w3tp::backend::epoll, w3tp::backend::iocp}) {
    if (w3tp::to_string(b) != name) continue;
    out = b;
    return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  // A stray SIGPIPE must kill the run (API.md, behaviour 4): make sure it is at its default action.
  w3tp_test::reset_sigpipe();

  const char* env = std::getenv("W3TP_BACKEND");
  const char* asked = (env != nullptr && *env != '\0') ? env : "auto";
  w3tp::backend wanted = w3tp::backend::automatic;
  if (std::string_view(asked) != "auto" && !parse(asked, wanted)) {
    std::fprintf(stderr, "W3TP_BACKEND='%s' is not a backend this suite knows\n", asked);
    return 2;
  }
  w3tp::backend active;
  try {
    w3tp::pool_options o;
    o.threads = 1;
    o.preferred = wanted;
    active = w3tp::thread_pool(o).active_backend();
  } catch (const std::system_error& e) {
    std::printf("skipped: the %s backend cannot start here: %s\n", asked, e.what());
    return k_skip;
  }
  const std::string active_name(w3tp::to_string(active));
  if (wanted != w3tp::backend::automatic && active != wanted) {
    std::fprintf(stderr, "asked for %s, got %s\n", asked, active_name.c_str());
    return 1;
  }
  // Say which backend really runs (the test output is the proof that, say, IOCP is active).
  std::printf("w3tp tests on backend %s (asked for %s)%s%s\n", active_name.c_str(), asked,
              w3tp_test::running_under_wine() ? ", under Wine " : "",
              w3tp_test::running_under_wine() ? w3tp_test::wine_version() : "");
  std::fflush(stdout);
  int rc = Catch::Session().run(argc, argv);
  if (w3tp_test::running_under_wine())
    std::printf("todo_wine: %d check(s) failed as Wine is known to (reported, not counted), %d passed\n",
                w3tp_test::g_todo_wine_failed.load(), w3tp_test::g_todo_wine_passed.load());
  return rc;
}
