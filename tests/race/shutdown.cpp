// SPDX-License-Identifier: MIT
// shutdown() racing submitters (API.md rule 10): application threads and routines keep starting reads
// and posts while another thread shuts the pool down (and a third calls shutdown too). Each call is
// accepted or refused with ERROR_INVALID_STATE; once a thread saw a refusal, every later call of it is
// refused; when shutdown() returns, every accepted operation has had its routine, and none runs later.
#include <memory>
#include <vector>

#include "race/race.hpp"

using namespace w3tp_test;

namespace {

struct shutdown_race {
  race::ledger ledger;
  std::atomic<bool> returned{false};  // shutdown() has returned
  std::atomic<long> late{0};          // routines that ran after that
  std::atomic<long> bad{0};
  std::atomic<long> accepted_after_refusal{0};
  HANDLE pipe = nullptr;
  HANDLE sock = nullptr;
  race::first_problem first;
  void problem(const std::string& what) {
    first(what);
    bad.fetch_add(1);
  }
};

struct sd_op {
  race::op op;  // first: the routine converts OVERLAPPED* back
  shutdown_race* sr = nullptr;
};
static_assert(std::is_standard_layout_v<sd_op>, "OVERLAPPED* converts back to sd_op*");

VOID WINAPI sd_routine(DWORD e, DWORD n, LPOVERLAPPED ov) {
  auto* o = reinterpret_cast<sd_op*>(ov);
  shutdown_race& sr = *o->sr;
  if (sr.returned.load()) sr.late.fetch_add(1);
  // Nobody writes to the handles: shutdown cancels the reads (rule 10).
  if (e != static_cast<DWORD>(ERROR_OPERATION_ABORTED)) sr.problem("a read ended with " + std::to_string(e));
  race::record(e, n, ov);
}

// Starts a read on h with a fresh op; false when refused (then checks the refusal).
bool start_read(shutdown_race& sr, std::vector<std::unique_ptr<sd_op>>& ops, std::mutex& ops_mu, HANDLE h) {
  sd_op* o;
  {
    std::lock_guard lock(ops_mu);
    ops.push_back(std::make_unique<sd_op>());
    o = ops.back().get();
  }
  o->op.owner = &sr.ledger;
  o->sr = &sr;
  sr.ledger.accepted.fetch_add(1);
  BOOL ok = ReadFile(h, o->op.buf, 8, nullptr, &o->op.ov);
  DWORD e = GetLastError();
  if (ok || e == ERROR_IO_PENDING) return true;
  sr.ledger.accepted.fetch_sub(1);
  if (e != static_cast<DWORD>(ERROR_INVALID_STATE)) sr.problem("ReadFile refused with " + std::to_string(e));
  return false;
}

shutdown_race* g_sr = nullptr;
std::vector<std::unique_ptr<sd_op>>* g_ops = nullptr;
std::mutex* g_ops_mu = nullptr;

// A post whose routine starts a read from the pool thread: submissions from routines race shutdown too.
VOID WINAPI post_routine(DWORD e, DWORD n, LPOVERLAPPED ov) {
  shutdown_race& sr = *g_sr;
  if (sr.returned.load()) sr.late.fetch_add(1);
  if (e != 7u || n != 9u || ov != nullptr) sr.problem("a post ran with other arguments");
  if (!k_windows) start_read(sr, *g_ops, *g_ops_mu, (n & 1) != 0 ? sr.pipe : sr.sock);
  sr.ledger.delivered_one();
}

}  // namespace

TEST_CASE("race: shutdown racing submitters on application threads and in routines", "[race][shutdown]") {
  long rounds_run = 0, accepted_total = 0;
  race::rounds budget(100, 3000);
  std::mt19937 rng(7);
  while (budget.next()) {
    auto pool = std::make_unique<w3tp::thread_pool>(test_options(2));
    shutdown_race sr;
    sr.ledger.pool = pool.get();
    std::vector<std::unique_ptr<sd_op>> ops;
    std::mutex ops_mu;
    g_sr = &sr;
    g_ops = &ops;
    g_ops_mu = &ops_mu;
    HANDLE r, w, a, b;
    REQUIRE(make_pipe(r, w));
    REQUIRE(make_socket_pair(a, b));
    REQUIRE(pool->associate(r, sd_routine) == S_OK);
    REQUIRE(pool->associate(a, sd_routine) == S_OK);
    sr.pipe = r;
    sr.sock = a;
    std::atomic<bool> go{false};
    auto submitter = [&](int who) {
      race::spin_until([&] { return go.load(); });
      bool refused = false;
      for (int i = 0; i < 400; ++i) {
        bool accepted;
        if (i % 3 == 2 || k_windows) {
          // post: the routine starts a read of its own (POSIX).
          sr.ledger.accepted.fetch_add(1);
          HRESULT hr = pool->post(post_routine, 7, 9, nullptr);
          accepted = hr == S_OK;
          if (!accepted) {
            sr.ledger.accepted.fetch_sub(1);
            if (hr != HRESULT_FROM_WIN32(ERROR_INVALID_STATE)) sr.problem("post refused with another HRESULT");
          }
        } else {
          accepted = start_read(sr, ops, ops_mu, (i + who) % 2 == 0 ? r : a);
        }
        if (accepted && refused) sr.accepted_after_refusal.fetch_add(1);
        if (!accepted) {
          if (refused) break;  // seen twice: the pool is shutting down for good
          refused = true;
        }
      }
    };
    std::thread t1(submitter, 0), t2(submitter, 1);
    go.store(true);
    race::jitter(rng, 20000);
    std::thread second([&] { pool->shutdown(); });  // a second call waits for the first
    pool->shutdown();
    sr.returned.store(true);
    second.join();
    // Every accepted operation has had its routine: nothing is owed once shutdown returned.
    const long delivered_at_return = sr.ledger.delivered.load();
    t1.join();
    t2.join();
    ++rounds_run;
    accepted_total += sr.ledger.accepted.load();
    INFO("round " << rounds_run << ": accepted " << sr.ledger.accepted.load() << ", delivered "
                  << sr.ledger.delivered.load() << " (" << delivered_at_return << " when shutdown returned); "
                  << sr.first.text());
    REQUIRE(sr.ledger.accepted.load() == sr.ledger.delivered.load());
    REQUIRE(sr.late.load() == 0);
    REQUIRE(sr.bad.load() == 0);
    REQUIRE(sr.accepted_after_refusal.load() == 0);
    REQUIRE(sr.ledger.duplicates.load() == 0);
    // Handles of a pool that was shut down (and then destroyed) still close.
    pool.reset();
    for (HANDLE h : {r, w, a, b}) CHECK(CloseHandle(h));
    g_sr = nullptr;
  }
  WARN("shutdown race: " << rounds_run << " rounds, " << accepted_total << " operations accepted");
  CHECK(rounds_run >= 100);
}

namespace {
struct rendezvous {
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  int left = 0;
  long waited_out = 0;
};
rendezvous g_rv;

// Waits (bounded) until both posts of the round run at once: each needs the other's thread.
VOID WINAPI meet(DWORD, DWORD, LPOVERLAPPED) {
  std::unique_lock lock(g_rv.mu);
  ++g_rv.arrived;
  g_rv.cv.notify_all();
  if (!g_rv.cv.wait_for(lock, 2s, [&] { return g_rv.arrived >= 2; })) ++g_rv.waited_out;
  ++g_rv.left;
  g_rv.cv.notify_all();
}
}  // namespace

TEST_CASE("race: two posts made at once to two idle threads both start (no wake-up is lost)", "[race][wake]") {
  // epoll's wake-ups reach any sleeping thread: one thread may take the wake-up sent to the other, which
  // must then not sleep on with work waiting for it.
  w3tp::thread_pool pool(test_options(2));
  long rounds_run = 0;
  race::rounds budget(300, 3000);
  std::mt19937 rng(8);
  g_rv.waited_out = 0;
  while (budget.next()) {
    {
      std::lock_guard lock(g_rv.mu);
      g_rv.arrived = g_rv.left = 0;
    }
    REQUIRE(pool.post(meet, 0, 0, nullptr) == S_OK);
    race::jitter(rng, 3000);
    REQUIRE(pool.post(meet, 0, 0, nullptr) == S_OK);
    std::unique_lock lock(g_rv.mu);
    REQUIRE(g_rv.cv.wait_for(lock, k_wait, [&] { return g_rv.left == 2; }));
    lock.unlock();
    ++rounds_run;
    // Let both threads go back to sleep (or not) before the next round.
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
  }
  pool.shutdown();
  INFO(rounds_run << " rounds");
  CHECK(g_rv.waited_out == 0);
}
