// SPDX-License-Identifier: MIT
// API.md behaviour 10: shutdown refuses new work, cancels what would never finish, waits for every owed
// routine, is idempotent, works from a pool thread, and leaves CloseHandle/CancelIo(Ex) working.
#include "backend/common.hpp"

using namespace w3tp_test;

TEST_CASE("shutdown: idempotent, and the destructor after it is fine", "[shutdown]") {
  fixture f;
  f.p().shutdown();
  f.p().shutdown();
  f.p().shutdown();
  f.finish();
  // A pool destroyed without an explicit shutdown.
  { w3tp::thread_pool pool(test_options()); }
}

TEST_CASE("shutdown: pending pipe and socket reads complete with ERROR_OPERATION_ABORTED", "[shutdown]") {
  fixture f;
  HANDLE r, w, a, b;
  f.pipe(r, w);
  f.sockets(a, b, true, true);
  op p1(8), p2(8), s1(8), s2(8);
  REQUIRE(start_read(f.t, r, p1));
  REQUIRE(start_read(f.t, r, p2));
  REQUIRE(start_read(f.t, a, s1));
  REQUIRE(start_read(f.t, b, s2));
  if (k_windows) {
    // On Windows shutdown cannot see the system's ReadFile (API.md, "On Windows"): the application
    // cancels what it started and lets the routines run before it shuts the pool down.
    for (HANDLE h : {r, a, b}) CHECK(CancelIoEx(h, nullptr) == TRUE);
    REQUIRE(f.t.wait_delivered(4));
  }
  f.p().shutdown();  // returns only when every owed routine has run
  CHECK(f.t.delivered.load() == 4);
  for (op* o : {&p1, &p2, &s1, &s2}) {
    CHECK(o->calls.load() == 1);
    CHECK(o->error.load() == static_cast<DWORD>(ERROR_OPERATION_ABORTED));
  }
  f.finish();
}

TEST_CASE("shutdown: every accepted operation gets its routine", "[shutdown]") {
  fixture f(test_options(2));
  temp_file tf("shutdown-all");
  HANDLE file = f.file(tf.path);
  HANDLE r, w;
  f.pipe(r, w);
  std::vector<std::unique_ptr<op>> ops;
  for (int i = 0; i < 200; ++i) {
    ops.push_back(std::make_unique<op>(512, static_cast<unsigned long long>(i) * 512));
    op& o = *ops.back();
    switch (i % 4) {
      case 0: start_write(f.t, file, o, std::string(512, static_cast<char>('a' + i % 26))); break;
      case 1: start_read(f.t, file, o); break;
      case 2:
        o.owner = &f.t;
        f.t.accepted.fetch_add(1);
        REQUIRE(f.p().post(record_routine, 0, static_cast<DWORD>(i), &o.ov) == S_OK);
        break;
      default: start_read(f.t, r, o); break;
    }
  }
  if (k_windows) {
    // On Windows shutdown owes only what w3tp can see: posts and packets already queued (API.md, "On
    // Windows"). The application cancels its reads and lets the I/O routines run; posts made right
    // before the shutdown must all run.
    CHECK(CancelIoEx(r, nullptr) == TRUE);
    REQUIRE(f.t.wait([&] { return f.t.delivered.load() == f.t.accepted.load(); }));
    for (int i = 0; i < 100; ++i) {
      ops.push_back(std::make_unique<op>(8));
      op& o = *ops.back();
      o.owner = &f.t;
      f.t.accepted.fetch_add(1);
      REQUIRE(f.p().post(record_routine, 0, static_cast<DWORD>(i), &o.ov) == S_OK);
    }
  }
  f.p().shutdown();
  CHECK(f.t.accepted.load() == f.t.delivered.load());
  for (auto& o : ops)
    if (o->accepted || o->owner != nullptr) CHECK(o->calls.load() <= 1);
  f.finish();
}

TEST_CASE("shutdown: later calls fail with ERROR_INVALID_STATE and run no routine", "[shutdown]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w, true, true);
  temp_file tf("shutdown-late");
  HANDLE file = f.file(tf.path);
  f.p().shutdown();
  op rd(8), wr, fr(8);
  if (!k_windows) {
    // On Windows ReadFile and WriteFile are the system's, which w3tp cannot refuse (API.md, "On Windows").
    CHECK_FALSE(start_read(f.t, r, rd));
    CHECK(rd.start_error == static_cast<DWORD>(ERROR_INVALID_STATE));
    CHECK_FALSE(start_write(f.t, w, wr, "x"));
    CHECK(wr.start_error == static_cast<DWORD>(ERROR_INVALID_STATE));
    CHECK_FALSE(start_read(f.t, file, fr));
    CHECK(fr.start_error == static_cast<DWORD>(ERROR_INVALID_STATE));
  }
  op posted;
  CHECK(f.p().post(record_routine, 0, 0, &posted.ov) == HRESULT_FROM_WIN32(ERROR_INVALID_STATE));
  CHECK(f.p().associate(file, record_routine) == HRESULT_FROM_WIN32(ERROR_INVALID_STATE));
  // CancelIoEx finds nothing, CancelIo says TRUE, CloseHandle works.
  CHECK_NOTHING_TO_CANCEL(r, nullptr);
  CHECK_NOTHING_TO_CANCEL(file, &fr.ov);
  CHECK(CancelIo(r) == TRUE);
  CHECK(CloseHandle(r) == TRUE);
  CHECK(CloseHandle(w) == TRUE);
  CHECK(CloseHandle(file) == TRUE);
  f.finish();
  CHECK(rd.calls.load() == 0);
  CHECK(wr.calls.load() == 0);
  CHECK(posted.calls.load() == 0);
}

TEST_CASE("shutdown: handles of a pool that was destroyed still close", "[shutdown]") {
  HANDLE r, w;
  REQUIRE(make_pipe(r, w));
  tracker t;
  op rd(8);
  {
    w3tp::thread_pool pool(test_options());
    t.pool = &pool;
    REQUIRE(pool.associate(r, record_routine) == S_OK);
    REQUIRE(start_read(t, r, rd));
    if (k_windows) {
      // On Windows the application cancels what it started before the pool goes (API.md, "On Windows").
      CHECK(CancelIoEx(r, &rd.ov) == TRUE);
      CHECK(t.wait_op(rd));
    }
  }  // the destructor shuts down: the pending read is cancelled and its routine runs
  CHECK(rd.calls.load() == 1);
  CHECK(rd.error.load() == static_cast<DWORD>(ERROR_OPERATION_ABORTED));
  CHECK_NOTHING_TO_CANCEL(r, nullptr);
  CHECK(CloseHandle(r) == TRUE);
  CHECK(CloseHandle(w) == TRUE);
}

namespace {
struct from_pool_ctx {
  w3tp::thread_pool* pool;
  tracker* t;
  std::atomic<bool> returned{false};
  op other{8};
};
from_pool_ctx* g_from_pool = nullptr;

VOID WINAPI shutdown_routine(DWORD err, DWORD n, LPOVERLAPPED ov) {
  op* o = reinterpret_cast<op*>(ov);
  g_from_pool->pool->shutdown();  // must not wait for itself
  g_from_pool->returned = true;
  o->owner->record(*o, err, n, ov);
}
}  // namespace

TEST_CASE("shutdown: called from a pool thread it does not deadlock", "[shutdown]") {
  fixture f;
  from_pool_ctx c;
  c.pool = &f.p();
  c.t = &f.t;
  g_from_pool = &c;
  HANDLE r, w;
  f.pipe(r, w);
  REQUIRE(start_read(f.t, r, c.other));  // owed too: cancelled by that shutdown
  if (k_windows) {
    // On Windows shutdown cannot cancel the system's ReadFile: the application does (API.md, "On Windows").
    CHECK(CancelIoEx(r, &c.other.ov) == TRUE);
    REQUIRE(f.t.wait_op(c.other));
  }
  op trigger;
  trigger.owner = &f.t;
  f.t.accepted.fetch_add(1);
  REQUIRE(f.p().post(shutdown_routine, 0, 0, &trigger.ov) == S_OK);
  REQUIRE(f.t.wait_op(trigger, 20000ms));
  CHECK(c.returned.load());
  REQUIRE(f.t.wait_op(c.other));
  CHECK(c.other.error.load() == static_cast<DWORD>(ERROR_OPERATION_ABORTED));
  // A call from outside after it: returns (the pool is stopped, or stops once the routine returned).
  f.p().shutdown();
  CHECK(f.p().post(record_routine, 0, 0, &trigger.ov) == HRESULT_FROM_WIN32(ERROR_INVALID_STATE));
  f.finish();
  g_from_pool = nullptr;
}

TEST_CASE("shutdown: a second call made while the first runs waits for it", "[shutdown]") {
  fixture f;
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<bool> blocker_done{false};
  HANDLE r, w;
  REQUIRE(make_pipe(r, w));
  f.keep(r);
  f.keep(w);
  std::atomic<int> entered{0};
  REQUIRE(f.p().associate(r, [&](DWORD err, DWORD n, OVERLAPPED* ov) {
    op* o = reinterpret_cast<op*>(ov);
    entered.fetch_add(1);
    f.t.notify();
    {
      std::unique_lock lock(mu);
      cv.wait_for(lock, 2 * k_wait, [&] { return open; });
    }
    blocker_done = true;
    o->owner->record(*o, err, n, ov);
  }) == S_OK);
  op rd(8);
  REQUIRE(start_read(f.t, r, rd));
  REQUIRE(plain_write(w, "x"));
  REQUIRE(f.t.wait([&] { return entered.load() == 1; }));
  std::atomic<int> started{0};
  std::atomic<bool> first_saw_done{false}, second_saw_done{false};
  std::thread first([&] {
    started.fetch_add(1);
    f.p().shutdown();
    first_saw_done = blocker_done.load();
  });
  std::thread second([&] {
    started.fetch_add(1);
    f.p().shutdown();
    second_saw_done = blocker_done.load();
  });
  REQUIRE(f.t.eventually([&] { return started.load() == 2; }));
  {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
  first.join();
  second.join();
  CHECK(first_saw_done.load());
  CHECK(second_saw_done.load());
  CHECK(rd.calls.load() == 1);
  f.finish();
}
