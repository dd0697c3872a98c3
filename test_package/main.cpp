// SPDX-License-Identifier: MIT
// The Conan package's smoke test: a post runs on a pool thread, and the version header is there.
#include <w3tp/version.h>
#include <w3tp/w3tp.hpp>

#include <atomic>
#include <cstdio>
#include <string>

namespace {
std::atomic<int> g_ran{0};
VOID WINAPI routine(DWORD error, DWORD bytes, LPOVERLAPPED) {
  if (error == 7 && bytes == 9) g_ran.store(1);
  g_ran.notify_all();
}
}  // namespace

int main() {
  w3tp::thread_pool pool;
  if (FAILED(pool.post(routine, 7, 9, nullptr))) return 1;
  g_ran.wait(0);
  std::printf("w3tp %d.%d.%d from Conan: backend %s, a post ran on the pool\n", W3TP_VERSION_MAJOR, W3TP_VERSION_MINOR,
              W3TP_VERSION_PATCH, std::string(w3tp::to_string(pool.active_backend())).c_str());
  return g_ran.load() == 1 ? 0 : 1;
}
