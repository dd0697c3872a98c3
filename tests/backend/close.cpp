// SPDX-License-Identifier: MIT
// API.md behaviour 6: CloseHandle with pending operations, a second close, the peer seeing end of file,
// a reused descriptor number, and stale or forged handles in every call.
#include "backend/common.hpp"

using namespace w3tp_test;

TEST_CASE("close: pending operations complete with ERROR_OPERATION_ABORTED exactly once", "[close]") {
  fixture f;
  HANDLE r, w, a, b;
  f.pipe(r, w);
  f.sockets(a, b);
  op p1(8), p2(8), s1(8), s2(8);
  REQUIRE(start_read(f.t, r, p1));
  REQUIRE(start_read(f.t, r, p2));
  REQUIRE(start_read(f.t, a, s1));
  REQUIRE(start_read(f.t, a, s2));
  SetLastError(1234);
  CHECK(CloseHandle(r) == TRUE);
  CHECK(CloseHandle(a) == TRUE);
  REQUIRE(f.t.wait_delivered(4));
  for (op* o : {&p1, &p2}) check_aborted_by_close(*o, end_kind::pipe);
  for (op* o : {&s1, &s2}) check_aborted_by_close(*o, end_kind::socket);
  for (op* o : {&p1, &p2, &s1, &s2}) CHECK(o->bytes.load() == 0u);
  // Data sent to the closed ends afterwards must not reach anything.
  plain_write(w, "late");
  plain_write(b, "late");
  f.finish();
  for (op* o : {&p1, &p2, &s1, &s2}) CHECK(o->calls.load() == 1);
}

TEST_CASE("close: a pending write on a full pipe is aborted by the close", "[close]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w, false, true);
  op big;
  REQUIRE(start_write(f.t, w, big, std::string(1u << 20, 'q')));
  CHECK(CloseHandle(w) == TRUE);
  REQUIRE(f.t.wait_op(big));
  // On Windows the system decides for a named pipe: its end's queued requests end as a broken pipe.
  check_aborted_by_close(big, end_kind::pipe);
  f.finish();
}

TEST_CASE("close: closing again gives FALSE and ERROR_INVALID_HANDLE", "[close]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w);
  temp_file tf("close-twice");
  HANDLE file = f.file(tf.path);
  HANDLE unassociated = CreateFileA(tf.path.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                                    OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr);
  REQUIRE(unassociated != INVALID_HANDLE_VALUE);
  for (HANDLE h : {r, w, file, unassociated}) {
    SetLastError(1234);
    CHECK(CloseHandle(h) == TRUE);
    SetLastError(0);
    CHECK(CloseHandle(h) == FALSE);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  }
  f.finish();
}

TEST_CASE("close: the socket's peer sees end of file within 100 ms", "[close][socket]") {
  fixture f;
  HANDLE a, b;
  f.sockets(a, b, true, true);
  op pending_on_a(8), peer(8);
  REQUIRE(start_read(f.t, a, pending_on_a));  // a read in flight must not keep the socket open
  REQUIRE(start_read(f.t, b, peer));
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(CloseHandle(a));
  REQUIRE(f.t.wait_op(peer));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  CHECK(peer.error.load() == 0u);
  CHECK(peer.bytes.load() == 0u);
  INFO("the peer saw end of file after " << std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()
                                         << " us");
  CHECK(elapsed <= 100ms);
  REQUIRE(f.t.wait_op(pending_on_a));
  check_aborted_by_close(pending_on_a, end_kind::socket);
  f.finish();
}

TEST_CASE("close: a descriptor that reuses the number gets no old data or completion", "[close]") {
  fixture f;
  HANDLE a, b;
  f.sockets(a, b);
  op old_read(16);
  REQUIRE(start_read(f.t, a, old_read));
  long long old_fd = descriptor_of(a);
  REQUIRE(CloseHandle(a));
  REQUIRE(f.t.wait_op(old_read));
  check_aborted_by_close(old_read, end_kind::socket);

  // The next socket (or pipe) made will usually take the same number on POSIX (lowest free).
  HANDLE c, d;
  f.sockets(c, d, true, true);
  INFO("old descriptor " << old_fd << ", new ones " << descriptor_of(c) << " and " << descriptor_of(d));
  op new_read(16);
  REQUIRE(start_read(f.t, c, new_read));
  plain_write(b, "OLD DATA");  // may fail: the peer is gone
  op fresh;
  REQUIRE(start_write(f.t, d, fresh, "new"));
  REQUIRE(f.t.wait_op(new_read));
  CHECK(new_read.error.load() == 0u);
  CHECK(new_read.text() == "new");
  // Same for a pipe that reuses a number.
  HANDLE r, w;
  f.pipe(r, w);
  op pipe_read(16);
  REQUIRE(start_read(f.t, r, pipe_read));
  REQUIRE(plain_write(w, "pipe"));
  REQUIRE(f.t.wait_op(pipe_read));
  CHECK(pipe_read.text() == "pipe");
  f.finish();
  CHECK(old_read.calls.load() == 1);
  check_aborted_by_close(old_read, end_kind::socket);
}

namespace {

// Every call that takes a handle, with a handle that is not live: each fails with ERROR_INVALID_HANDLE.
void check_dead_everywhere(w3tp::thread_pool& pool, HANDLE dead) {
  char buf[8] = {};
  DWORD n = 0;
  OVERLAPPED ov{};
  SetLastError(0);
  CHECK(ReadFile(dead, buf, sizeof buf, &n, &ov) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  SetLastError(0);
  CHECK(ReadFile(dead, buf, sizeof buf, &n, nullptr) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  SetLastError(0);
  CHECK(WriteFile(dead, buf, sizeof buf, &n, &ov) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  SetLastError(0);
  CHECK(WriteFile(dead, buf, sizeof buf, &n, nullptr) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  SetLastError(0);
  CHECK(CancelIo(dead) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  SetLastError(0);
  CHECK(CancelIoEx(dead, nullptr) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  SetLastError(0);
  CHECK(CancelIoEx(dead, &ov) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  if (!w3tp_test::k_windows) {
    // Windows' GetOverlappedResult reads only the OVERLAPPED when bWait is FALSE (the handle is used
    // only to wait): the system decides, API.md "On Windows".
    SetLastError(0);
    CHECK(GetOverlappedResult(dead, &ov, &n, FALSE) == FALSE);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  }
  SetLastError(0);
  CHECK(CloseHandle(dead) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  CHECK(pool.associate(dead, record_routine) == HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE));
  CHECK(w3tp::http_server(pool).AssociateWithThreadPool(dead, record_routine) ==
        HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE));
#ifndef _WIN32
  CHECK(w3tp::native_fd(dead) == -1);
#endif
}

}  // namespace

TEST_CASE("close: a stale or forged HANDLE gives ERROR_INVALID_HANDLE in every call", "[close][stale]") {
  fixture f;
  temp_file tf("stale");
  HANDLE stale = f.file(tf.path);
  REQUIRE(CloseHandle(stale));
#ifndef _WIN32
  // On POSIX a HANDLE value is never handed out again: open many and check none equals the stale one.
  std::vector<HANDLE> fresh;
  for (int i = 0; i < 64; ++i) {
    HANDLE h = CreateFileA(tf.path.c_str(), GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                           OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr);
    REQUIRE(h != INVALID_HANDLE_VALUE);
    CHECK(h != stale);
    fresh.push_back(h);
  }
  check_dead_everywhere(f.p(), stale);
  for (HANDLE h : fresh) CloseHandle(h);
  check_dead_everywhere(f.p(), stale);
  // Forged values.
  check_dead_everywhere(f.p(), reinterpret_cast<HANDLE>(std::uintptr_t{0x42}));
  check_dead_everywhere(f.p(), reinterpret_cast<HANDLE>(std::uintptr_t{0x00000005FFFFFFF0ull}));
  check_dead_everywhere(f.p(), reinterpret_cast<HANDLE>(reinterpret_cast<std::uintptr_t>(stale) ^ 0x8));
#else
  // On Windows the system reuses handle values (API.md, rule 6): only the value just closed is checked,
  // with no handle opened by the test in between.
  check_dead_everywhere(f.p(), stale);
#endif
  check_dead_everywhere(f.p(), nullptr);
#ifndef _WIN32
  check_dead_everywhere(f.p(), INVALID_HANDLE_VALUE);
#endif
  f.finish();
}

TEST_CASE("close: closing from inside a routine, with other operations pending", "[close]") {
  fixture f;
  HANDLE r, w;
  REQUIRE(make_pipe(r, w));
  f.keep(r);
  f.keep(w);
  std::atomic<int> aborted{0}, calls{0};
  std::atomic<BOOL> close_result{FALSE};  // Catch2 assertions belong on the test's thread
  op first(8), second(8), third(8);
  REQUIRE(f.p().associate(r, [&](DWORD err, DWORD n, OVERLAPPED* ov) {
    op* o = reinterpret_cast<op*>(ov);
    // The read that got the data closes the handle; the other two are still pending then.
    if (err == 0 && n > 0) close_result = CloseHandle(r);
    // (On Windows the system decides for a named pipe: ERROR_BROKEN_PIPE, API.md rule 6.)
    if (err == ERROR_OPERATION_ABORTED || (k_windows && err == ERROR_BROKEN_PIPE)) aborted.fetch_add(1);
    calls.fetch_add(1);
    o->owner->record(*o, err, n, ov);
  }) == S_OK);
  REQUIRE(start_read(f.t, r, first, 2));
  REQUIRE(start_read(f.t, r, second));
  REQUIRE(start_read(f.t, r, third));
  REQUIRE(plain_write(w, "go"));
  REQUIRE(f.t.wait_delivered(3));
  CHECK(first.text() + second.text() + third.text() == "go");
  CHECK(aborted.load() == 2);
  CHECK(close_result.load() == TRUE);
  f.finish();
  CHECK(calls.load() == 3);
}

namespace {
/// Counts the destruction of its copies: captured by a routine, it says when the pool deleted it.
struct lifetime_probe {
  std::shared_ptr<std::atomic<int>> destroyed = std::make_shared<std::atomic<int>>(0);
  bool copy = false;
  lifetime_probe() = default;
  lifetime_probe(const lifetime_probe& o) : destroyed(o.destroyed), copy(true) {}
  lifetime_probe& operator=(const lifetime_probe&) = delete;
  ~lifetime_probe() {
    if (copy) destroyed->fetch_add(1);
  }
};
}  // namespace

TEST_CASE("close: a routine that starts a read on its handle and closes it is not deleted while it still runs",
          "[close][lifetime]") {
  // A routine object is deleted with its handle's last reference. On POSIX a pool thread passes an
  // operation's reference on to the next read a routine starts on the same handle; the routine object
  // must still outlive its own call, even when that read's routine runs and ends on another thread
  // after the handle was closed.
  fixture f;
  temp_file tf("close_lifetime");
  HANDLE h = f.file(tf.path, false);
  write_known_bytes(h, 4096);
  lifetime_probe probe;
  op first(16), second(16);
  std::atomic<bool> second_done{false}, waited{false};
  std::atomic<int> destroyed_at_end{-1};
  std::atomic<BOOL> started{FALSE}, closed{FALSE};
  REQUIRE(f.p().associate(h, [&, probe](DWORD err, DWORD n, OVERLAPPED* ov) {
    op* o = reinterpret_cast<op*>(ov);
    if (o == &first) {
      // The next read, the close, then a wait (bounded) for that read's routine to end on another thread.
      started = start_read(*o->owner, h, second);
      closed = CloseHandle(h);
      const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (!second_done.load() && std::chrono::steady_clock::now() < end) std::this_thread::yield();
      waited = second_done.load();
      // That thread drops what it holds once it has nothing more to run: had this routine's object gone
      // with the last reference, it would be within this time (a passing run waits all of it).
      const int seen = probe.destroyed->load();
      const auto settle = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
      while (probe.destroyed->load() == seen && std::chrono::steady_clock::now() < settle) std::this_thread::yield();
      destroyed_at_end = probe.destroyed->load();
    } else {
      second_done = true;
    }
    o->owner->record(*o, err, n, ov);
  }) == S_OK);
  const int destroyed_before = probe.destroyed->load();  // the temporaries of associate()
  REQUIRE(start_read(f.t, h, first));
  REQUIRE(f.t.wait_delivered(2));
  CHECK(started.load() == TRUE);
  CHECK(closed.load() == TRUE);
  CHECK(waited.load());
  CHECK(destroyed_at_end.load() == destroyed_before);
  CHECK(first.error.load() == static_cast<DWORD>(ERROR_SUCCESS));
  CHECK(second.error.load() == static_cast<DWORD>(ERROR_SUCCESS));
  f.finish();
  CHECK(first.calls.load() == 1);
  CHECK(second.calls.load() == 1);
}
