// SPDX-License-Identifier: MIT
// thread_pool::stats() and pool_options::on_log: the counters follow what the pool did, and the log
// hook hears the pool's start, thread-count changes and escaped exceptions; a throwing hook changes
// nothing.
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend/common.hpp"

using namespace w3tp_test;

namespace {

/// Waits (bounded) until `pred()` holds, polling: stats() is a snapshot, not an event.
template <class Pred>
bool eventually(Pred pred) {
  auto end = std::chrono::steady_clock::now() + k_wait;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

std::atomic<int> g_posts_run{0};
VOID WINAPI count_post(DWORD, DWORD, LPOVERLAPPED) { g_posts_run.fetch_add(1); }

/// A routine that blocks until released: a busy thread for stats().
struct gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  bool entered = false;
};
gate* g_gate = nullptr;
VOID WINAPI blocking_post(DWORD, DWORD, LPOVERLAPPED) {
  std::unique_lock lock(g_gate->mu);
  g_gate->entered = true;
  g_gate->cv.notify_all();
  g_gate->cv.wait_for(lock, k_wait, [] { return g_gate->open; });
}

struct log_sink {
  std::mutex mu;
  std::vector<std::pair<w3tp::log_level, std::string>> lines;
  bool has(w3tp::log_level level, const std::string& part) {
    std::lock_guard lock(mu);
    for (auto& [l, text] : lines)
      if (l == level && text.find(part) != std::string::npos) return true;
    return false;
  }
};

}  // namespace

TEST_CASE("introspection: stats() counts threads, posts, completions, busy threads and pending routines",
          "[introspection][stats]") {
  w3tp::thread_pool pool(test_options(2));
  w3tp::pool_stats s = pool.stats();
  CHECK(s.active_backend == pool.active_backend());
  CHECK(s.threads == 2);
  CHECK(s.posts == 0);
  CHECK(s.completions == 0);
  CHECK(s.starvation_threads == 0);

  g_posts_run = 0;
  for (int i = 0; i < 10; ++i) REQUIRE(pool.post(count_post, 0, 0, nullptr) == S_OK);
  CHECK(eventually([&] { return pool.stats().posts == 10; }));
  CHECK(g_posts_run.load() == 10);
  CHECK(eventually([&] { return pool.stats().pending == 0; }));

  // One completion of an I/O operation.
  tracker t;
  t.pool = &pool;
  HANDLE r, w;
  REQUIRE(make_pipe(r, w));
  REQUIRE(pool.associate(r, record_routine) == S_OK);
  op o;
  o.owner = &t;
  REQUIRE(start_read(t, r, o));
  if (!k_windows) CHECK(pool.stats().pending >= 1);  // a pending read is owed a routine (POSIX counts it)
  REQUIRE(plain_write(w, "stats"));
  REQUIRE(t.wait_op(o));
  CHECK(eventually([&] { return pool.stats().completions == 1; }));
  CHECK(pool.stats().posts == 10);

  // A routine that blocks: one busy thread while it waits.
  gate g;
  g_gate = &g;
  REQUIRE(pool.post(blocking_post, 0, 0, nullptr) == S_OK);
  {
    std::unique_lock lock(g.mu);
    REQUIRE(g.cv.wait_for(lock, k_wait, [&] { return g.entered; }));
  }
  CHECK(pool.stats().busy_threads >= 1);
  {
    std::lock_guard lock(g.mu);
    g.open = true;
  }
  g.cv.notify_all();
  CHECK(eventually([&] { return pool.stats().busy_threads == 0 && pool.stats().posts == 11; }));
  CHECK(CloseHandle(r));
  CHECK(CloseHandle(w));
  pool.shutdown();
  g_gate = nullptr;
}

TEST_CASE("introspection: the log hook hears the start, thread-count changes and escaped exceptions",
          "[introspection][log]") {
  log_sink sink;
  w3tp::pool_options o = test_options(2);
  o.on_log = [&](w3tp::log_level level, std::string_view text) {
    std::lock_guard lock(sink.mu);
    sink.lines.emplace_back(level, std::string(text));
  };
  std::atomic<int> handled{0};
  o.on_exception = [&](std::exception_ptr) { handled.fetch_add(1); };
  {
    w3tp::thread_pool pool(std::move(o));
    CHECK(sink.has(w3tp::log_level::info, "w3tp pool: backend " + std::string(w3tp::to_string(pool.active_backend()))));
    pool.http_server().IncrementThreadCount();
    CHECK(sink.has(w3tp::log_level::info, "IncrementThreadCount: 3 threads"));
    pool.http_server().DecrementThreadCount();
    CHECK(sink.has(w3tp::log_level::info, "DecrementThreadCount: 2 threads wanted"));
    REQUIRE(pool.post([](DWORD, DWORD, LPOVERLAPPED) { throw std::runtime_error("boom"); }, 0, 0, nullptr) == S_OK);
    CHECK(eventually([&] { return handled.load() == 1; }));
    CHECK(sink.has(w3tp::log_level::error, "a completion routine let an exception escape: boom"));
  }
}

TEST_CASE("introspection: a log hook that throws changes nothing", "[introspection][log]") {
  w3tp::pool_options o = test_options(2);
  std::atomic<int> calls{0};
  o.on_log = [&](w3tp::log_level, std::string_view) {
    calls.fetch_add(1);
    throw std::runtime_error("the hook fails");
  };
  w3tp::thread_pool pool(std::move(o));
  g_posts_run = 0;
  REQUIRE(pool.post(count_post, 0, 0, nullptr) == S_OK);
  CHECK(eventually([&] { return g_posts_run.load() == 1; }));
  pool.http_server().IncrementThreadCount();
  CHECK(pool.thread_count() == 3);
  CHECK(calls.load() >= 2);  // the start and IncrementThreadCount
}
