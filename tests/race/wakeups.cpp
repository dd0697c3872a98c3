// SPDX-License-Identifier: MIT
// Wake-ups racing the threads they are meant for (API.md behaviour 9): bursts of short routines, posted
// from the test thread and from routines, keep the pool's threads going between running items, looking
// for I/O and falling asleep, so that a wake-up sent to a sleeping thread can be taken by another one.
// After each burst one routine blocks and one more is posted: an idle thread must run it while the
// first one blocks. A wake-up that was lost leaves a thread asleep that the pool counts as being woken;
// the probe then waits behind the blocked routine (or, once every thread is so, forever).
#include <cstdio>
#include <string>

#include "race/race.hpp"

using namespace w3tp_test;

namespace {

// The tracker gives the waits (wait, notify) and the pool pointer; the rest is this race's own state.
struct wake_race : tracker {
  std::atomic<long> ran{0};       // short routines run this round
  std::atomic<long> refused{0};   // posts from routines the pool refused
  std::atomic<bool> hold{false};  // the blocker waits while this is set
  std::atomic<bool> holding{false};
  std::atomic<bool> probe_ran{false};
};
wake_race* g_wake = nullptr;

// A short routine; `follow` more are posted from it, one after the other (a pool thread's own queue).
VOID WINAPI short_routine(DWORD follow, DWORD, LPOVERLAPPED) {
  wake_race& c = *g_wake;
  if (follow != 0 && c.pool->post(short_routine, follow - 1, 0, nullptr) != S_OK) c.refused.fetch_add(1);
  c.ran.fetch_add(1);
  c.notify();
}

VOID WINAPI blocker(DWORD, DWORD, LPOVERLAPPED) {
  wake_race& c = *g_wake;
  c.holding.store(true);
  c.notify();
  c.wait([&] { return !c.hold.load(); });
  c.holding.store(false);
  c.notify();
}

VOID WINAPI probe(DWORD, DWORD, LPOVERLAPPED) {
  g_wake->probe_ran.store(true);
  g_wake->notify();
}

// Bursts, then a blocked routine and a probe, for the race budget; with `churn`, IncrementThreadCount
// and DecrementThreadCount between bursts (extra threads come and retire while wake-ups fly).
void run_wake_race(unsigned threads, bool churn) {
  INFO(threads << " threads" << (churn ? ", thread-count changes" : ""));
  auto pool = std::make_unique<w3tp::thread_pool>(test_options(threads, threads + 4));
  IHttpServer& server = w3tp::http_server(*pool);
  wake_race c;
  c.pool = pool.get();
  g_wake = &c;
  std::mt19937 rng(threads + (churn ? 100 : 0));
  race::rounds budget(200, 20000);
  std::string problem;
  int extra = 0;
  while (problem.empty() && budget.next()) {
    if (churn) {
      if (extra < 3 && (extra == 0 || rng() % 2 == 0)) {
        server.IncrementThreadCount();
        ++extra;
      } else {
        server.DecrementThreadCount();
        --extra;
      }
    }
    c.ran.store(0);
    long expected = 0;
    const unsigned burst = 1 + rng() % 24;
    for (unsigned i = 0; i < burst; ++i) {
      const DWORD follow = rng() % 3;
      expected += follow + 1;
      REQUIRE(pool->post(short_routine, follow, 0, nullptr) == S_OK);
      race::jitter(rng, 400);
    }
    if (!c.wait([&] { return c.ran.load() >= expected; })) {
      problem = "short routines did not all run: " + std::to_string(c.ran.load()) + " of " + std::to_string(expected);
      break;
    }
    // One thread blocked, the others free: a post must start on a free one.
    c.hold.store(true);
    c.holding.store(false);
    REQUIRE(pool->post(blocker, 0, 0, nullptr) == S_OK);
    if (!c.wait([&] { return c.holding.load(); })) {
      problem = "a routine posted to an idle pool did not start";
      break;
    }
    c.probe_ran.store(false);
    REQUIRE(pool->post(probe, 0, 0, nullptr) == S_OK);
    const bool started = c.wait([&] { return c.probe_ran.load(); }, std::chrono::milliseconds(2000));
    c.hold.store(false);
    c.notify();
    if (!started) problem = "a post waited 2 s behind a blocked routine while a thread was idle (a lost wake-up)";
    REQUIRE(c.wait([&] { return !c.holding.load(); }));
  }
  INFO("round " << budget.done() << ": " << problem);
  CHECK(problem.empty());
  c.hold.store(false);
  c.notify();
  pool->shutdown();
  CHECK(c.refused.load() == 0);
  g_wake = nullptr;
}

}  // namespace

TEST_CASE("race: a wake-up taken by a busy thread still wakes an idle one", "[race][wakeups]") {
  for (unsigned threads : {2u, 3u}) run_wake_race(threads, false);
}

TEST_CASE("race: wake-ups while IncrementThreadCount and DecrementThreadCount add and retire threads",
          "[race][wakeups]") {
  run_wake_race(2, true);
}
