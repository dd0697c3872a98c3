// SPDX-License-Identifier: MIT
// Bounded stress: 4 application threads, each with 64 handles (files, pipes, TCP loopback sockets),
// start a few thousand operations with random cancels and closes. Every accepted operation must get
// exactly one routine (a counter per OVERLAPPED) and no descriptor may leak.
#include <w3tp/w3tp.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backend/common.hpp"
#include "backend/support.hpp"
#include "support/catch.hpp"

namespace {

using namespace std::chrono_literals;

constexpr int k_threads = 4;
constexpr int k_handles = 64;                       // per thread, counting both ends of a pipe or socket pair
constexpr int k_ops = 5000;                         // per thread and round
constexpr auto k_budget = std::chrono::seconds(4);  // rounds run until this much time has passed
constexpr int k_max_rounds = 40;
constexpr std::size_t k_buf = 256;

struct stress_op {
  OVERLAPPED ov;  // first: the routine converts back
  std::atomic<int> calls{0};
  bool accepted = false;
  bool abandoned = false;  // under Wine: the system never ended it although its handle closed (see below)
  bool at_once = false;    // the call returned TRUE (the routine still runs, through the pool)
  bool write = false;
  char kind_name = '?';  // f(ile), p(ipe), s(ocket): for the report of an operation without its routine
  DWORD len = 0;
  char buf[k_buf];
};
static_assert(std::is_standard_layout_v<stress_op>, "OVERLAPPED* converts back to stress_op*");

struct totals {
  std::atomic<long> accepted{0};
  std::atomic<long> delivered{0};
  std::atomic<long> duplicates{0};
  std::mutex mu;
  std::condition_variable cv;
};
totals* g_totals = nullptr;

VOID WINAPI stress_routine(DWORD, DWORD, LPOVERLAPPED ov) {
  auto* o = reinterpret_cast<stress_op*>(ov);
  if (o->calls.fetch_add(1) != 0) g_totals->duplicates.fetch_add(1);
  if (g_totals->delivered.fetch_add(1) + 1 == g_totals->accepted.load()) {
    std::lock_guard lock(g_totals->mu);
    g_totals->cv.notify_all();
  }
}

enum class kind { file, pipe_read, pipe_write, sock };

struct slot {
  kind k = kind::file;
  HANDLE h = nullptr;
  HANDLE peer = nullptr;  // the other end of a pipe or socket pair (also a slot of its own)
  std::vector<stress_op*> started;
};

struct worker_result {
  long failures_at_start = 0;  // calls that failed at once (owed no routine)
  long unexpected = 0;         // anything that should not happen (association failures, ...)
  std::string message;
};

// One application thread's run. Ops are never reused, so a per-op counter shows duplicates.
void run_worker(w3tp::thread_pool& pool, int index, std::vector<std::unique_ptr<stress_op>>& ops,
                worker_result& result) {
  std::mt19937 rng(static_cast<unsigned>(1234 + index + 7919 * static_cast<int>(ops.size())));
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  std::vector<std::string> paths;
  std::vector<slot> slots(k_handles);

  auto open_slot = [&](int i) {
    slot& s = slots[static_cast<std::size_t>(i)];
    s.started.clear();
    s.peer = nullptr;
    int choice = i % 3;
    if (choice == 0) {
      s.k = kind::file;
      paths.push_back(w3tp_test::temp_path("stress"));
      s.h = CreateFileA(paths.back().c_str(), GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                        CREATE_ALWAYS, FILE_FLAG_OVERLAPPED, nullptr);
      if (s.h == INVALID_HANDLE_VALUE) {
        ++result.unexpected;
        s.h = nullptr;
        return;
      }
      if (pool.associate(s.h, stress_routine) != S_OK) ++result.unexpected;
    } else if (choice == 1) {
      HANDLE r, w;
      if (!w3tp_test::make_pipe(r, w)) {
        ++result.unexpected;
        s.h = nullptr;
        return;
      }
      // This slot owns the read end and writes into its own write end (kept as `peer`).
      s.k = kind::pipe_read;
      s.h = r;
      s.peer = w;
      if (pool.associate(r, stress_routine) != S_OK || pool.associate(w, stress_routine) != S_OK) ++result.unexpected;
    } else {
      HANDLE a, b;
      if (!w3tp_test::make_socket_pair(a, b)) {
        ++result.unexpected;
        s.h = nullptr;
        return;
      }
      s.k = kind::sock;
      s.h = a;
      s.peer = b;
      if (pool.associate(a, stress_routine) != S_OK || pool.associate(b, stress_routine) != S_OK) ++result.unexpected;
    }
  };
  auto close_slot = [&](int i) {
    slot& s = slots[static_cast<std::size_t>(i)];
    if (s.h != nullptr && !CloseHandle(s.h)) ++result.unexpected;
    if (s.peer != nullptr && !CloseHandle(s.peer)) ++result.unexpected;
    s.h = s.peer = nullptr;
    s.started.clear();
  };

  // Pairs count as two handles: 64 handles give about 21 files and 43 pipe/socket pair members.
  const int n_slots = k_handles * 2 / 3;
  for (int i = 0; i < n_slots; ++i) open_slot(i);

  for (int n = 0; n < k_ops; ++n) {
    int i = pick(n_slots);
    slot& s = slots[static_cast<std::size_t>(i)];
    if (s.h == nullptr) {
      open_slot(i);
      continue;
    }
    int action = pick(100);
    if (action < 4) {  // close (with whatever is pending) and reopen later
      close_slot(i);
      continue;
    }
    if (action < 12 && !s.started.empty()) {  // cancel one, or all
      stress_op* victim = s.started[static_cast<std::size_t>(pick(static_cast<int>(s.started.size())))];
      if (pick(2) == 0)
        CancelIoEx(s.h, &victim->ov);
      else
        CancelIoEx(s.h, nullptr);
      if (s.peer != nullptr) CancelIoEx(s.peer, nullptr);
      continue;
    }
    ops.push_back(std::make_unique<stress_op>());
    stress_op& o = *ops.back();
    std::memset(&o.ov, 0, sizeof o.ov);
    std::memset(o.buf, 'a' + index, sizeof o.buf);
    DWORD len = 1 + static_cast<DWORD>(pick(static_cast<int>(k_buf)));
    HANDLE target = s.h;
    bool write = pick(2) == 0;
    if (s.k == kind::file) {
      unsigned long long offset = static_cast<unsigned long long>(pick(64)) * 512;
      o.ov.Offset = static_cast<DWORD>(offset);
    } else if (write) {
      target = s.peer;  // feed our own read end
    }
    g_totals->accepted.fetch_add(1);  // counted first, so delivered never overtakes accepted
    BOOL ok = write ? WriteFile(target, o.buf, len, nullptr, &o.ov) : ReadFile(target, o.buf, len, nullptr, &o.ov);
    o.accepted = ok || GetLastError() == ERROR_IO_PENDING;
    o.at_once = ok != FALSE;
    o.write = write;
    o.len = len;
    o.kind_name = s.k == kind::file ? 'f' : s.k == kind::sock ? 's' : 'p';
    if (!o.accepted) {
      g_totals->accepted.fetch_sub(1);
      ++result.failures_at_start;
      continue;
    }
    s.started.push_back(&o);
    if (s.started.size() > 64) s.started.erase(s.started.begin());
  }
  for (int i = 0; i < n_slots; ++i) close_slot(i);
  for (const auto& p : paths) w3tp_test::remove_file(p);
}

}  // namespace

TEST_CASE("stress: every accepted operation gets exactly one routine, and no descriptor leaks", "[stress]") {
  const int fds_before = w3tp_test::count_open_fds();
  totals t;
  g_totals = &t;
  std::vector<std::vector<std::unique_ptr<stress_op>>> ops(k_threads);
  std::vector<worker_result> results(k_threads);
  auto t0 = std::chrono::steady_clock::now();
  int rounds = 0;
  long abandoned = 0;  // see the todo_wine below
  {
    w3tp::pool_options o;
    o.threads = 2;
    w3tp::thread_pool pool(o);
    INFO("backend " << w3tp::to_string(pool.active_backend()));
    while (rounds < k_max_rounds && (rounds == 0 || std::chrono::steady_clock::now() - t0 < k_budget)) {
      ++rounds;
      std::vector<std::thread> threads;
      for (int i = 0; i < k_threads; ++i)
        threads.emplace_back(
            [&, i] { run_worker(pool, i, ops[static_cast<std::size_t>(i)], results[static_cast<std::size_t>(i)]); });
      for (auto& th : threads) th.join();
      // Every handle is closed: every accepted operation is owed its routine now, without shutdown's help.
      std::unique_lock lock(t.mu);
      bool all = t.cv.wait_for(lock, 30s, [&] { return t.delivered.load() == t.accepted.load(); });
      lock.unlock();
      INFO("round " << rounds << ": accepted " << t.accepted.load() << ", delivered " << t.delivered.load());
      if (!all) {
        // Name the operations that are still owed a routine, for the report. An OVERLAPPED whose Internal
        // is still STATUS_PENDING was never ended by the system, although every handle is closed.
        std::string owed;
        std::vector<stress_op*> owed_ops;
        long never_ended = 0;
        for (auto& per_thread : ops)
          for (auto& o : per_thread) {
            if (!o->accepted || o->abandoned || o->calls.load() != 0) continue;
            const ULONG_PTR internal = std::atomic_ref<ULONG_PTR>(o->ov.Internal).load();
            owed_ops.push_back(o.get());
            if (internal == STATUS_PENDING) ++never_ended;
            if (owed.size() < 2000)
              owed += std::string(" ") + o->kind_name + (o->write ? "W" : "R") + std::to_string(o->len) +
                      (o->at_once ? "(TRUE)" : "(pending)") + " Internal=" + std::to_string(internal);
          }
        INFO("owed:" << owed);
        const auto owed_count = static_cast<long>(owed_ops.size());
        if (w3tp_test::running_under_wine() && owed_count > 0 && never_ended == owed_count) {
          // Seen once in about 140 runs under Wine 8: an operation stays pending after its handle closed
          // (Windows ends every operation when the last handle to the object closes), so there is no
          // packet for the pool to run. Reported, not counted, under Wine; a lost packet (Internal final,
          // no routine) still fails.
          TODO_WINE_REPORT("Wine left " << owed_count << " operation(s) pending after their handle closed:" << owed);
          for (stress_op* o : owed_ops) o->abandoned = true;
          t.accepted.fetch_sub(owed_count);
          abandoned += owed_count;
          continue;
        }
        REQUIRE(all);
      }
    }
    pool.shutdown();
  }
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  long started = 0, failed = 0, unexpected = 0, bad = 0;
  for (int i = 0; i < k_threads; ++i) {
    failed += results[static_cast<std::size_t>(i)].failures_at_start;
    unexpected += results[static_cast<std::size_t>(i)].unexpected;
    for (auto& o : ops[static_cast<std::size_t>(i)]) {
      ++started;
      if (!o->abandoned && o->calls.load() != (o->accepted ? 1 : 0)) ++bad;
    }
  }
  INFO(rounds << " rounds, " << started << " operations started, " << failed << " failed at the call, "
              << t.accepted.load() << " accepted, " << t.delivered.load() << " routines, " << elapsed.count() << " ms");
  if (abandoned == 0)
    CHECK(t.accepted.load() == t.delivered.load());
  else
    CHECK(t.delivered.load() >= t.accepted.load());  // an abandoned one may still have completed late
  CHECK(t.duplicates.load() == 0);
  CHECK(bad == 0);
  CHECK(unexpected == 0);
  CHECK(started > k_threads * k_ops / 2);
  const int fds_after = w3tp_test::count_open_fds();
  if (fds_before >= 0) {
    INFO("descriptors before " << fds_before << ", after " << fds_after);
    CHECK(fds_after == fds_before);
  }
  g_totals = nullptr;
}
