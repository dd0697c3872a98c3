// SPDX-License-Identifier: MIT
// API.md behaviour 11: IncrementThreadCount / DecrementThreadCount.
#include "backend/common.hpp"

using namespace w3tp_test;

TEST_CASE("threads: IncrementThreadCount adds a thread at once, up to max_threads", "[threads]") {
  fixture f(test_options(2, 4));
  IHttpServer& server = w3tp::http_server(f.p());
  CHECK(f.p().thread_count() == 2);
  server.IncrementThreadCount();
  CHECK(f.p().thread_count() == 3);
  server.IncrementThreadCount();
  CHECK(f.p().thread_count() == 4);
  server.IncrementThreadCount();  // capped
  server.IncrementThreadCount();
  CHECK(f.p().thread_count() == 4);
  server.DecrementThreadCount();
  CHECK(f.t.eventually([&] { return f.p().thread_count() == 3; }));
  server.DecrementThreadCount();
  CHECK(f.t.eventually([&] { return f.p().thread_count() == 2; }));
  server.DecrementThreadCount();  // never below `threads`
  server.DecrementThreadCount();
  // Nothing to wait for: the count must simply stay where it is.
  CHECK(f.p().thread_count() == 2);
  // And up again after going down.
  server.IncrementThreadCount();
  CHECK(f.p().thread_count() == 3);
  f.finish();
}

TEST_CASE("threads: max_threads below threads means no extra thread", "[threads]") {
  fixture f(test_options(3, 2));
  CHECK(f.p().thread_count() == 3);
  w3tp::http_server(f.p()).IncrementThreadCount();
  CHECK(f.p().thread_count() == 3);
  f.finish();
}

TEST_CASE("threads: the default max_threads is 256, as IIS", "[threads]") {
  fixture f(test_options(2, 0));
  IHttpServer& server = w3tp::http_server(f.p());
  for (int i = 0; i < 300; ++i) server.IncrementThreadCount();
  CHECK(f.p().thread_count() == 256);
  for (int i = 0; i < 300; ++i) server.DecrementThreadCount();
  CHECK(f.t.eventually([&] { return f.p().thread_count() == 2; }, 20000ms));
  f.finish();
}

TEST_CASE("threads: a routine about to block adds a thread so that others still run", "[threads]") {
  // Two threads, both blocked in routines that called IncrementThreadCount first: a third completion
  // still runs, on the added thread.
  fixture f(test_options(2, 8));
  IHttpServer& server = w3tp::http_server(f.p());
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> blocked{0};
  auto blocking = [&](DWORD err, DWORD n, OVERLAPPED* ov) {
    op* o = reinterpret_cast<op*>(ov);
    o->owner->record(*o, err, n, ov);
    server.IncrementThreadCount();
    blocked.fetch_add(1);
    f.t.notify();
    {
      std::unique_lock lock(mu);
      cv.wait_for(lock, 2 * k_wait, [&] { return open; });
    }
    server.DecrementThreadCount();
  };
  HANDLE r1, w1, r2, w2;
  REQUIRE(make_pipe(r1, w1));
  REQUIRE(make_pipe(r2, w2));
  for (HANDLE h : {r1, w1, r2, w2}) f.keep(h);
  REQUIRE(f.p().associate(r1, blocking) == S_OK);
  REQUIRE(f.p().associate(r2, blocking) == S_OK);
  op a(4), b(4);
  REQUIRE(start_read(f.t, r1, a));
  REQUIRE(start_read(f.t, r2, b));
  REQUIRE(plain_write(w1, "a"));
  REQUIRE(plain_write(w2, "b"));
  REQUIRE(f.t.wait([&] { return blocked.load() == 2; }, 5000ms));
  CHECK(f.p().thread_count() == 4);
  op posted;
  posted.owner = &f.t;
  f.t.accepted.fetch_add(1);
  REQUIRE(f.p().post(record_routine, 0, 0, &posted.ov) == S_OK);
  CHECK(f.t.wait_op(posted, 5000ms));
  {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
  CHECK(f.t.eventually([&] { return f.p().thread_count() == 2; }));
  f.finish();
}
