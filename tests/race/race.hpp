// SPDX-License-Identifier: MIT
// What the race suite shares: a time budget per race, operations that remember what was done to them
// (so that every routine's code can be checked against its fate), and a waiter for routines.
//
// Each race runs until its budget (W3TP_RACE_SECONDS, default 2 s; a number, fractions allowed) or its
// round cap is used up, whichever comes first, and at least a minimum number of rounds.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "backend/common.hpp"

namespace race {

using namespace std::chrono_literals;

/// The budget of one race.
inline std::chrono::milliseconds budget() {
  const char* env = std::getenv("W3TP_RACE_SECONDS");
  double s = env != nullptr ? std::atof(env) : 2.0;
  if (!(s > 0)) s = 2.0;
  return std::chrono::milliseconds(static_cast<long long>(s * 1000));
}

/// A time budget that also counts rounds: over() once `min_rounds` are done and the time is up, or
/// `max_rounds` are done.
class rounds {
 public:
  rounds(long min_rounds, long max_rounds)
      : min_(min_rounds), max_(max_rounds), end_(std::chrono::steady_clock::now() + budget()) {}
  bool next() {
    if (done_ >= max_) return false;
    if (done_ >= min_ && std::chrono::steady_clock::now() >= end_) return false;
    ++done_;
    return true;
  }
  long done() const { return done_; }

 private:
  long min_, max_, done_ = 0;
  std::chrono::steady_clock::time_point end_;
};

/// Spins for a random number of pause-sized steps: spreads the point where two threads meet.
inline void jitter(std::mt19937& rng, unsigned max_steps) {
  unsigned n = max_steps == 0 ? 0 : rng() % max_steps;
  for (unsigned i = 0; i < n; ++i) std::atomic_signal_fence(std::memory_order_seq_cst);  // not optimised away
}

/// Makes a thread give way until `pred()` holds (bounded: false after `limit`).
template <class Pred>
bool spin_until(Pred pred, std::chrono::milliseconds limit = w3tp_test::k_wait) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) return pred();
    std::this_thread::yield();
  }
  return true;
}

/// The first problem a race saw, kept for its report; any thread may call it.
class first_problem {
 public:
  void operator()(const std::string& what) {
    std::lock_guard lock(mu_);
    if (text_.empty()) text_ = what;
  }
  std::string text() {
    std::lock_guard lock(mu_);
    return text_;
  }

 private:
  std::mutex mu_;
  std::string text_;
};

/// Routines counted for a whole race, with a waiter.
struct ledger {
  std::atomic<long> accepted{0};
  std::atomic<long> delivered{0};
  std::atomic<long> duplicates{0};
  std::atomic<long> off_pool{0};
  std::mutex mu;
  std::condition_variable cv;
  w3tp::thread_pool* pool = nullptr;

  /// Counts a routine; the routine's last use of the ledger (the count is taken under the lock, so that
  /// a waiter that sees it can destroy the ledger once this returns).
  void delivered_one() {
    std::lock_guard lock(mu);
    if (delivered.fetch_add(1) + 1 >= accepted.load()) cv.notify_all();
  }
  /// Waits until every accepted operation has had its routine (bounded).
  bool wait_all(std::chrono::milliseconds limit = w3tp_test::k_wait) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, limit, [&] { return delivered.load() >= accepted.load(); });
  }
};

/// One operation of a race. The OVERLAPPED comes first: the routine converts its pointer back.
struct op {
  OVERLAPPED ov{};
  ledger* owner = nullptr;
  std::atomic<int> calls{0};
  std::atomic<DWORD> error{0xFFFFFFFFu};
  std::atomic<DWORD> bytes{0};
  bool accepted = false;
  DWORD start_error = 0;
  char buf[64] = {};
  void reset() {
    std::memset(&ov, 0, sizeof ov);
    calls.store(0);
    error.store(0xFFFFFFFFu);
    bytes.store(0);
    accepted = false;
    start_error = 0;
  }
};
static_assert(std::is_standard_layout_v<op>, "OVERLAPPED* converts back to op*");

/// Records a routine run for a race::op: its code and bytes first, then the call count, then the
/// ledger (after which the test may reuse the op).
inline VOID WINAPI record(DWORD error, DWORD bytes, LPOVERLAPPED ov) {
  auto* o = reinterpret_cast<op*>(ov);
  o->error.store(error);
  o->bytes.store(bytes);
  ledger& l = *o->owner;
  if (l.pool != nullptr && !l.pool->get_executor().running_in_this_thread()) l.off_pool.fetch_add(1);
  if (o->calls.fetch_add(1) != 0) l.duplicates.fetch_add(1);
  l.delivered_one();
}

/// True when the code is what CloseHandle promises an operation that was pending at the close
/// (API.md rule 6): ERROR_OPERATION_ABORTED; on Windows a named pipe may say ERROR_BROKEN_PIPE, and
/// Wine's closesocket says ERROR_HANDLES_CLOSED (676).
inline bool aborted_by_close(DWORD e, w3tp_test::end_kind kind) {
  if (e == static_cast<DWORD>(ERROR_OPERATION_ABORTED)) return true;
  if (!w3tp_test::k_windows) return false;
  if (kind == w3tp_test::end_kind::pipe) return e == static_cast<DWORD>(ERROR_BROKEN_PIPE) || e == 232u;
  return w3tp_test::running_under_wine() && kind == w3tp_test::end_kind::socket && e == 676u;
}

}  // namespace race
