// SPDX-License-Identifier: MIT
// API.md behaviour 5: CancelIoEx (one, all, another thread's, nothing) and CancelIo (the caller's only).
#include "backend/common.hpp"

using namespace w3tp_test;

TEST_CASE("cancel: CancelIoEx(h, ov) cancels that operation only", "[cancel]") {
  fixture f;
  HANDLE r, w, a, b;
  f.pipe(r, w);
  f.sockets(a, b);
  for (HANDLE h : {r, a}) {
    op first(8), second(8);
    REQUIRE(start_read(f.t, h, first));
    REQUIRE(start_read(f.t, h, second));
    SetLastError(0);
    CHECK(CancelIoEx(h, &first.ov) == TRUE);
    REQUIRE(f.t.wait_op(first));
    CHECK(first.error.load() == static_cast<DWORD>(ERROR_OPERATION_ABORTED));
    CHECK(first.bytes.load() == 0u);
    CHECK(pending(second));
    // Cancelling it again: it is no longer pending.
    SetLastError(0);
    CHECK(CancelIoEx(h, &first.ov) == FALSE);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_NOT_FOUND));
    REQUIRE(plain_write(h == r ? w : b, "ok"));
    REQUIRE(f.t.wait_op(second));
    CHECK(second.error.load() == 0u);
    CHECK(second.text() == "ok");
  }
  f.finish();
}

TEST_CASE("cancel: CancelIoEx(h, NULL) cancels all, whichever thread started them", "[cancel]") {
  fixture f;
  HANDLE r, w, a, b;
  f.pipe(r, w);
  f.sockets(a, b);
  std::vector<std::unique_ptr<op>> ops;
  for (int i = 0; i < 8; ++i) ops.push_back(std::make_unique<op>(8));
  // Four started here, four by threads that have exited by the time of the cancel.
  REQUIRE(start_read(f.t, r, *ops[0]));
  REQUIRE(start_read(f.t, r, *ops[1]));
  REQUIRE(start_read(f.t, a, *ops[2]));
  REQUIRE(start_read(f.t, a, *ops[3]));
  std::thread t1([&] {
    start_read(f.t, r, *ops[4]);
    start_read(f.t, a, *ops[5]);
  });
  std::thread t2([&] {
    start_read(f.t, r, *ops[6]);
    start_read(f.t, a, *ops[7]);
  });
  t1.join();
  t2.join();
  for (auto& o : ops) REQUIRE(o->accepted);
  CHECK(CancelIoEx(r, nullptr) == TRUE);
  CHECK(CancelIoEx(a, nullptr) == TRUE);
  REQUIRE(f.t.wait_delivered(8));
  for (auto& o : ops) {
    CHECK(o->error.load() == static_cast<DWORD>(ERROR_OPERATION_ABORTED));
    CHECK(o->calls.load() == 1);
  }
  // Nothing left: FALSE and ERROR_NOT_FOUND (Wine returns TRUE here: a known Wine deviation).
  CHECK_NOTHING_TO_CANCEL(r, nullptr);
  // The handles still work.
  op again(8);
  REQUIRE(start_read(f.t, r, again));
  REQUIRE(plain_write(w, "alive"));
  REQUIRE(f.t.wait_op(again));
  CHECK(again.text() == "alive");
  f.finish();
}

TEST_CASE("cancel: another thread's pending operation can be cancelled", "[cancel]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w);
  op rd(8);
  std::mutex mu;
  std::condition_variable cv;
  bool started = false, release = false;
  std::thread starter([&] {
    start_read(f.t, r, rd);
    std::unique_lock lock(mu);
    started = true;
    cv.notify_all();
    cv.wait_for(lock, k_wait, [&] { return release; });  // alive while the cancel happens
  });
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, k_wait, [&] { return started; }));
  }
  REQUIRE(rd.accepted);
  CHECK(CancelIoEx(r, &rd.ov) == TRUE);
  bool ok = f.t.wait_op(rd);
  {
    std::lock_guard lock(mu);
    release = true;
    cv.notify_all();
  }
  starter.join();
  REQUIRE(ok);
  CHECK(rd.error.load() == static_cast<DWORD>(ERROR_OPERATION_ABORTED));
  f.finish();
}

TEST_CASE("cancel: with nothing to cancel CancelIoEx gives FALSE and ERROR_NOT_FOUND", "[cancel]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w);
  temp_file tf("cancel-none");
  HANDLE file = f.file(tf.path);
  OVERLAPPED never_started{};
  for (HANDLE h : {r, w, file}) {
    CHECK_NOTHING_TO_CANCEL(h, nullptr);
    CHECK_NOTHING_TO_CANCEL(h, &never_started);
  }
  // A pending operation on another handle is not "found" through this one.
  op rd(8);
  REQUIRE(start_read(f.t, r, rd));
  SetLastError(0);
  CHECK(CancelIoEx(w, &rd.ov) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_NOT_FOUND));
  CHECK(pending(rd));
  // An unassociated handle has nothing pending either.
  HANDLE r2, w2;
  REQUIRE(make_pipe(r2, w2));
  f.keep(r2);
  f.keep(w2);
  CHECK_NOTHING_TO_CANCEL(r2, nullptr);
  f.finish();
  check_aborted_by_close(rd, end_kind::pipe);  // by the shutdown (on Windows by the fixture's close)
}

TEST_CASE("cancel: CancelIo cancels only the calling thread's operations and returns TRUE", "[cancel]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w);
  op mine(8), theirs(8);
  std::mutex mu;
  std::condition_variable cv;
  int stage = 0;
  BOOL other_cancel = FALSE;  // checked on the test's thread: Catch2 assertions are not thread-safe
  std::thread other([&] {
    start_read(f.t, r, theirs);
    std::unique_lock lock(mu);
    stage = 1;
    cv.notify_all();
    cv.wait_for(lock, k_wait, [&] { return stage == 2; });
    // Now this thread cancels its own.
    other_cancel = CancelIo(r);
    stage = 3;
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, k_wait, [&] { return stage == 1; }));
  }
  REQUIRE(theirs.accepted);
  REQUIRE(start_read(f.t, r, mine));
  SetLastError(1234);
  CHECK(CancelIo(r) == TRUE);
  REQUIRE(f.t.wait_op(mine));
  CHECK(mine.error.load() == static_cast<DWORD>(ERROR_OPERATION_ABORTED));
  CHECK(pending(theirs));
  // With nothing of this thread's left: still TRUE.
  CHECK(CancelIo(r) == TRUE);
  CHECK(CancelIo(w) == TRUE);
  CHECK(pending(theirs));
  {
    std::lock_guard lock(mu);
    stage = 2;
    cv.notify_all();
  }
  {
    std::unique_lock lock(mu);
    CHECK(cv.wait_for(lock, k_wait, [&] { return stage == 3; }));
  }
  other.join();
  CHECK(other_cancel == TRUE);
  REQUIRE(f.t.wait_op(theirs));
  CHECK(theirs.error.load() == static_cast<DWORD>(ERROR_OPERATION_ABORTED));
  f.finish();
}

TEST_CASE("cancel: an operation that already completed is unaffected", "[cancel]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w);
  temp_file tf("cancel-done");
  HANDLE file = f.file(tf.path);
  op rd(8), wr;
  REQUIRE(start_read(f.t, r, rd));
  REQUIRE(plain_write(w, "done"));
  REQUIRE(f.t.wait_op(rd));
  write_all(f, file, wr, "file", 0);
  SetLastError(0);
  CHECK(CancelIoEx(r, &rd.ov) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_NOT_FOUND));
  CHECK(CancelIoEx(file, &wr.ov) == FALSE);
  CHECK(CancelIo(r) == TRUE);
  f.finish();
  CHECK(rd.calls.load() == 1);
  CHECK(rd.error.load() == 0u);
  CHECK(rd.text() == "done");
  CHECK(wr.calls.load() == 1);
  CHECK(wr.error.load() == 0u);
  // The handle was closed by finish(): the OVERLAPPED keeps its result, but the call needs a live handle.
  CHECK(rd.ov.InternalHigh == 4u);
}
