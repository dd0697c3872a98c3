// SPDX-License-Identifier: MIT
// GetOverlappedResult(..., TRUE) racing the completion it waits for (API.md behaviour 7): application
// threads start a read and wait for it at once, while pool threads complete it (file reads from the
// page cache, often before the wait begins; pipe reads fed by a writer thread, so that the data lands
// just before, during or after the waiter registers). A lost wake-up leaves a waiter blocked: the
// waiters run on threads of their own and the test fails (and stops the process) when one of them has
// not come back in time.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "race/race.hpp"

using namespace w3tp_test;

namespace {

constexpr DWORD k_len = 16;

struct wait_race {
  race::ledger ledger;
  race::first_problem first;
  std::atomic<long> bad{0};
  std::atomic<long> waits{0};    // GetOverlappedResult(TRUE) calls that returned
  std::atomic<int> finished{0};  // waiter threads that are done
  void problem(const std::string& what) {
    first(what);
    bad.fetch_add(1);
  }
};

// Fails the test from a watchdog: a waiter that never returns cannot be joined, so the process ends
// here with the reason rather than hanging until ctest's timeout.
[[noreturn]] void give_up(const char* what, long done) {
  std::fprintf(stderr, "race wait: %s (%ld waits had returned); a wake-up was lost\n", what, done);
  std::fflush(stderr);
  std::_Exit(1);
}

// Waits until `threads` waiters are done, failing the test if the count of returned waits stops moving.
void watch(wait_race& wr, int threads) {
  long last = -1;
  auto moved = std::chrono::steady_clock::now();
  while (wr.finished.load() < threads) {
    const long now_waits = wr.waits.load();
    if (now_waits != last) {
      last = now_waits;
      moved = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - moved > k_wait) {
      give_up("a GetOverlappedResult(TRUE) call did not return", now_waits);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

TEST_CASE("race: GetOverlappedResult(TRUE) racing the completion of a file read", "[race][wait]") {
  temp_file tf("race_wait_file");
  auto pool = std::make_unique<w3tp::thread_pool>(test_options(2));
  wait_race wr;
  wr.ledger.pool = pool.get();
  HANDLE h = CreateFileA(tf.path.c_str(), GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                         CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, nullptr);
  REQUIRE(h != INVALID_HANDLE_VALUE);
  write_known_bytes(h, 64 * 1024);  // before the handle is associated
  REQUIRE(pool->associate(h, race::record) == S_OK);
  std::atomic<bool> go{false};
  auto waiter = [&](unsigned seed) {
    race::spin_until([&] { return go.load(); });
    std::mt19937 rng(seed);
    race::rounds budget(2000, 200000);
    race::op o;
    while (budget.next()) {
      o.reset();
      o.owner = &wr.ledger;
      const DWORD offset = (rng() % 4096) * k_len;
      o.ov.Offset = offset;
      wr.ledger.accepted.fetch_add(1);
      BOOL ok = ReadFile(h, o.buf, k_len, nullptr, &o.ov);
      if (!ok && GetLastError() != ERROR_IO_PENDING) {
        wr.ledger.accepted.fetch_sub(1);
        wr.problem("ReadFile refused with " + std::to_string(GetLastError()));
        break;
      }
      race::jitter(rng, 200);
      DWORD n = 0;
      if (GetOverlappedResult(h, &o.ov, &n, TRUE) != TRUE || n != k_len) {
        wr.problem("GetOverlappedResult(TRUE) said " + std::to_string(GetLastError()) + " with " + std::to_string(n) +
                   " bytes");
      } else if (o.buf[0] != static_cast<char>(offset * 7)) {
        wr.problem("the waited-for read holds other bytes");
      }
      wr.waits.fetch_add(1);
      // The routine may still be running: the op is reused only after it has run.
      if (!race::spin_until([&] { return o.calls.load() != 0; })) give_up("a routine did not run", wr.waits.load());
    }
    wr.finished.fetch_add(1);
  };
  std::thread t1(waiter, 1), t2(waiter, 2);
  go.store(true);
  watch(wr, 2);
  t1.join();
  t2.join();
  REQUIRE(wr.ledger.wait_all());
  INFO(wr.first.text());
  CHECK(wr.bad.load() == 0);
  CHECK(wr.ledger.duplicates.load() == 0);
  CHECK(wr.ledger.off_pool.load() == 0);
  CHECK(wr.waits.load() == wr.ledger.accepted.load());
  CHECK(CloseHandle(h));
  pool->shutdown();
}

TEST_CASE("race: GetOverlappedResult(TRUE) racing a pipe read that a writer completes", "[race][wait]") {
  auto pool = std::make_unique<w3tp::thread_pool>(test_options(2));
  wait_race wr;
  wr.ledger.pool = pool.get();
  HANDLE r, w;
  REQUIRE(make_pipe(r, w));
  REQUIRE(pool->associate(r, race::record) == S_OK);
  std::atomic<long> started{0};  // reads started so far; the writer feeds each one once
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::mt19937 rng(3);
    const std::string chunk(k_len, 'p');
    for (long fed = 0;;) {
      if (!race::spin_until([&] { return started.load() > fed || stop.load(); })) break;
      if (started.load() <= fed) break;  // stopped
      race::jitter(rng, 2000);           // the data lands before, during or after the wait begins
      if (!plain_write(w, chunk)) {
        wr.problem("the writer's WriteFile failed");
        break;
      }
      ++fed;
    }
  });
  std::thread reader([&] {
    std::mt19937 rng(4);
    race::rounds budget(1000, 50000);
    race::op o;
    while (budget.next()) {
      o.reset();
      o.owner = &wr.ledger;
      wr.ledger.accepted.fetch_add(1);
      BOOL ok = ReadFile(r, o.buf, k_len, nullptr, &o.ov);
      if (!ok && GetLastError() != ERROR_IO_PENDING) {
        wr.ledger.accepted.fetch_sub(1);
        wr.problem("ReadFile refused with " + std::to_string(GetLastError()));
        break;
      }
      started.fetch_add(1);
      race::jitter(rng, 2000);
      DWORD n = 0;
      if (GetOverlappedResult(r, &o.ov, &n, TRUE) != TRUE || n != k_len)
        wr.problem("GetOverlappedResult(TRUE) said " + std::to_string(GetLastError()) + " with " + std::to_string(n) +
                   " bytes");
      wr.waits.fetch_add(1);
      if (!race::spin_until([&] { return o.calls.load() != 0; })) give_up("a routine did not run", wr.waits.load());
    }
    wr.finished.fetch_add(1);
  });
  watch(wr, 1);
  reader.join();
  stop.store(true);
  writer.join();
  REQUIRE(wr.ledger.wait_all());
  INFO(wr.first.text());
  CHECK(wr.bad.load() == 0);
  CHECK(wr.ledger.duplicates.load() == 0);
  CHECK(wr.ledger.off_pool.load() == 0);
  CHECK(wr.waits.load() == wr.ledger.accepted.load());
  CHECK(CloseHandle(r));
  CHECK(CloseHandle(w));
  pool->shutdown();
}
