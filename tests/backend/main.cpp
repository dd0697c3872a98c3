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

namespace {

constexpr int k_skip = 77;

bool parse(std::string_view name, w3tp::backend& out) {
  if (name == "epoll")
    out = w3tp::backend::epoll;
  else if (name == "io_uring")
    out = w3tp::backend::io_uring;
  else if (name == "iocp")
    out = w3tp::backend::iocp;
  else
    return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  // A stray SIGPIPE must kill the run (API.md, behaviour 4): make sure it is at its default action.
  w3tp_test::reset_sigpipe();

  const char* env = std::getenv("W3TP_BACKEND");
  w3tp::backend wanted = w3tp::backend::automatic;
  if (env != nullptr && *env != '\0' && std::string_view(env) != "auto") {
    if (!parse(env, wanted)) {
      std::fprintf(stderr, "W3TP_BACKEND='%s' is not a backend this suite knows\n", env);
      return 2;
    }
    try {
      w3tp::pool_options o;
      o.threads = 1;
      o.preferred = wanted;
      w3tp::thread_pool probe(o);
      if (probe.active_backend() != wanted) {
        std::fprintf(stderr, "asked for %s, got %s\n", env,
                     std::string(w3tp::to_string(probe.active_backend())).c_str());
        return 1;
      }
    } catch (const std::system_error& e) {
      std::printf("skipped: the %s backend cannot start here: %s\n", env, e.what());
      return k_skip;
    }
  }
  std::printf("w3tp behaviour tests on backend %s\n", env != nullptr ? env : "auto");
  return Catch::Session().run(argc, argv);
}
