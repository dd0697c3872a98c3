// SPDX-License-Identifier: MIT
// Starvation (API.md addition 12): when every pool thread is blocked inside a routine while completions
// are due, the pool adds a thread by itself after a short delay, never past max_threads, and retires it
// when the pool is idle again.
#include "backend/common.hpp"

using namespace w3tp_test;

namespace {

struct blockers {
  std::mutex mu;
  std::condition_variable cv;
  int blocked = 0;
  bool release = false;
  // A read that the first blocker starts from inside its routine before it blocks (on io_uring it sits
  // in that thread's ring, prepared but not submitted).
  fixture* f = nullptr;
  HANDLE h = nullptr;
  op* inner = nullptr;
};
blockers* g_blockers = nullptr;

VOID WINAPI block_for_3s(DWORD, DWORD, LPOVERLAPPED ov);

// Blocks both of the pool's threads in routines (the first one starts b.inner first, if set) and waits
// until they are blocked.
void block_both(fixture& f, blockers& b) {
  g_blockers = &b;
  static OVERLAPPED marker{};
  REQUIRE(f.p().post(block_for_3s, 0, 0, b.inner != nullptr ? &marker : nullptr) == S_OK);
  REQUIRE(f.p().post(block_for_3s, 0, 0, nullptr) == S_OK);
  std::unique_lock lock(b.mu);
  REQUIRE(b.cv.wait_for(lock, k_wait, [&] { return b.blocked == 2; }));
}

void release(blockers& b) {
  std::lock_guard lock(b.mu);
  b.release = true;
  b.cv.notify_all();
}

VOID WINAPI block_for_3s(DWORD, DWORD, LPOVERLAPPED ov) {
  blockers& b = *g_blockers;
  if (ov != nullptr && b.inner != nullptr) start_read(b.f->t, b.h, *b.inner);
  std::unique_lock lock(b.mu);
  ++b.blocked;
  b.cv.notify_all();
  b.cv.wait_for(lock, 3s, [&] { return b.release; });
  --b.blocked;
  b.cv.notify_all();
}

}  // namespace

TEST_CASE("starvation: every thread blocked in a routine for 3 s; a read that becomes due completes within 1 s",
          "[fault][starvation]") {
  fixture f(test_options(2, 8));
  HANDLE r, w, r2, w2;
  f.pipe(r, w);
  f.pipe(r2, w2);
  op outer(8), inner(8);
  REQUIRE(start_read(f.t, r, outer));  // started by this thread: a request in flight
  blockers b;
  b.f = &f;
  b.h = r2;
  b.inner = &inner;
  block_both(f, b);  // the first one starts `inner`, then blocks
  CHECK(f.p().thread_count() == 2u);
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(plain_write(w, "due"));
  REQUIRE(plain_write(w2, "due too"));
  const bool both = f.t.wait([&] { return outer.calls.load() == 1 && inner.calls.load() == 1; }, 1000ms);
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  INFO("the due reads waited " << waited.count() << " ms; threads now " << f.p().thread_count());
  CHECK(both);
  CHECK(outer.text() == "due");
  CHECK(inner.text() == "due too");
  CHECK(f.p().thread_count() > 2u);
  release(b);
  {
    std::unique_lock lock(b.mu);
    REQUIRE(b.cv.wait_for(lock, k_wait, [&] { return b.blocked == 0; }));
  }
  // Retired again once the pool idles (within a second or so).
  CHECK(f.t.eventually([&] { return f.p().thread_count() == 2u; }, 5000ms));
  f.finish();
  g_blockers = nullptr;
}

TEST_CASE("starvation: no thread is added past max_threads", "[fault][starvation]") {
  fixture f(test_options(2, 2));
  HANDLE r, w;
  f.pipe(r, w);
  op rd(8);
  REQUIRE(start_read(f.t, r, rd));
  blockers b;
  block_both(f, b);
  REQUIRE(plain_write(w, "due"));
  // Three gate ticks and more: no thread may appear, so the read waits for a blocker.
  CHECK_FALSE(f.t.wait([&] { return rd.calls.load() == 1; }, 300ms));
  CHECK(f.p().thread_count() == 2u);
  release(b);
  REQUIRE(f.t.wait_op(rd));
  CHECK(rd.text() == "due");
  f.finish();
  g_blockers = nullptr;
}

TEST_CASE("starvation: routines that run long with nothing due get no extra thread", "[fault][starvation]") {
  fixture f(test_options(2, 8));
  blockers b;
  block_both(f, b);
  {
    // Nothing is due: after several ticks the pool still has its two threads.
    std::unique_lock lock(b.mu);
    CHECK_FALSE(b.cv.wait_for(lock, 400ms, [&] { return b.release; }));
  }
  CHECK(f.p().thread_count() == 2u);
  release(b);
  f.finish();
  g_blockers = nullptr;
}

namespace {
std::atomic<int> g_long_started{0};
std::atomic<bool> g_long_release{false};
// A routine that runs long (bounded at 2 s) while more of its kind wait in the queue.
VOID WINAPI run_long(DWORD, DWORD, LPOVERLAPPED) {
  g_long_started.fetch_add(1);
  const auto end = std::chrono::steady_clock::now() + 2s;
  while (!g_long_release.load() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(1ms);
}
}  // namespace

TEST_CASE("starvation: threads are added one stuck tick later each, not one per tick", "[fault][starvation]") {
  fixture f(test_options(2, 64));
  g_long_started.store(0);
  g_long_release.store(false);
  for (int i = 0; i < 40; ++i) REQUIRE(f.p().post(run_long, 0, 0, nullptr) == S_OK);
  // One second of starvation: the n-th added thread needs n ticks of 50 ms, so about 5 are added (1, 3,
  // 6, 10, 15 ticks), where a thread per tick would have made 20.
  std::this_thread::sleep_for(1000ms);
  const unsigned threads = f.p().thread_count();
  INFO(threads << " threads after 1 s of starvation, " << g_long_started.load() << " routines started");
  CHECK(threads > 2u);
  CHECK(threads <= 2u + 7u);
  g_long_release.store(true);
  CHECK(f.t.eventually([&] { return g_long_started.load() == 40; }, 20000ms));
  f.finish();
}
