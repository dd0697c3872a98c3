// SPDX-License-Identifier: MIT
// API.md behaviour 7: OVERLAPPED::Internal and GetOverlappedResult while pending and after completion.
#include <atomic>

#include "backend/common.hpp"

using namespace w3tp_test;

TEST_CASE("results: while pending, Internal is STATUS_PENDING and GetOverlappedResult says ERROR_IO_INCOMPLETE",
          "[results]") {
  fixture f;
  HANDLE r, w, a, b;
  f.pipe(r, w);
  f.sockets(a, b);
  for (HANDLE h : {r, a}) {
    op rd(16);
    REQUIRE(start_read(f.t, h, rd));
    // Read as the library writes it (atomically): another thread stores the result there.
    CHECK(std::atomic_ref<ULONG_PTR>(rd.ov.Internal).load() == static_cast<ULONG_PTR>(STATUS_PENDING));
    DWORD n = 1234;
    SetLastError(0);
    CHECK(GetOverlappedResult(h, &rd.ov, &n, FALSE) == FALSE);
    CHECK(GetLastError() == static_cast<DWORD>(ERROR_IO_INCOMPLETE));
    REQUIRE(plain_write(h == r ? w : b, "result"));
    REQUIRE(f.t.wait_op(rd));
    SetLastError(1234);
    CHECK(GetOverlappedResult(h, &rd.ov, &n, FALSE) == TRUE);
    CHECK(n == 6u);
    CHECK(n == rd.bytes.load());
    CHECK(std::atomic_ref<ULONG_PTR>(rd.ov.Internal).load() != static_cast<ULONG_PTR>(STATUS_PENDING));
    CHECK(rd.ov.InternalHigh == 6u);
  }
  f.finish();
}

TEST_CASE("results: GetOverlappedResult with bWait TRUE blocks until the operation is done", "[results]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w);
  op rd(16);
  REQUIRE(start_read(f.t, r, rd));
  std::atomic<bool> written{false};
  std::thread writer([&] {
    // The main thread is (or is about to be) blocked in GetOverlappedResult below.
    written = plain_write(w, "waited");
  });
  DWORD n = 0;
  SetLastError(1234);
  BOOL ok = GetOverlappedResult(r, &rd.ov, &n, TRUE);
  writer.join();
  CHECK(written.load());
  CHECK(ok == TRUE);
  CHECK(n == 6u);
  CHECK(std::string(rd.buf.data(), 6) == "waited");
  REQUIRE(f.t.wait_op(rd));
  CHECK(rd.bytes.load() == n);
  // bWait TRUE on an operation that failed: it returns FALSE with the routine's error.
  op cancelled(16);
  REQUIRE(start_read(f.t, r, cancelled));
  std::thread canceller([&] { CancelIoEx(r, &cancelled.ov); });
  SetLastError(0);
  CHECK(GetOverlappedResult(r, &cancelled.ov, &n, TRUE) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_OPERATION_ABORTED));
  canceller.join();
  REQUIRE(f.t.wait_op(cancelled));
  CHECK(cancelled.error.load() == static_cast<DWORD>(ERROR_OPERATION_ABORTED));
  f.finish();
}

TEST_CASE("results: after completion GetOverlappedResult gives what the routine got", "[results]") {
  fixture f;
  HANDLE r, w, a, b;
  f.pipe(r, w);
  f.sockets(a, b, true, false);
  temp_file tf("results");
  HANDLE file = f.file(tf.path);

  op wr;
  write_all(f, file, wr, "twelve bytes", 0);
  op eof(16, 100);
  REQUIRE(start_read(f.t, file, eof));
  op cancelled(16);
  REQUIRE(start_read(f.t, r, cancelled));
  REQUIRE(CancelIoEx(r, &cancelled.ov));
  op broken(16);
  REQUIRE(start_read(f.t, r, broken));
  op reset(16);
  REQUIRE(start_read(f.t, a, reset));
  REQUIRE(f.t.wait_op(cancelled));
  REQUIRE(CloseHandle(w));
  REQUIRE(abort_socket(b));
  REQUIRE(f.t.wait_delivered(f.t.accepted.load()));

  struct expectation {
    HANDLE h;
    op* o;
  };
  for (expectation e : {expectation{file, &wr}, expectation{file, &eof}, expectation{r, &cancelled},
                        expectation{r, &broken}, expectation{a, &reset}}) {
    DWORD n = 0xFFFFu;
    SetLastError(0xABCu);
    BOOL ok = GetOverlappedResult(e.h, &e.o->ov, &n, FALSE);
    DWORD err = GetLastError();
    INFO("routine: error " << e.o->error.load() << " bytes " << e.o->bytes.load());
    CHECK(n == e.o->bytes.load());
    if (e.o->error.load() == 0u) {
      CHECK(ok == TRUE);
    } else {
      CHECK(ok == FALSE);
      CHECK(err == e.o->error.load());
    }
    // bWait TRUE on a completed operation answers the same at once.
    DWORD n2 = 0xFFFFu;
    CHECK(GetOverlappedResult(e.h, &e.o->ov, &n2, TRUE) == ok);
    CHECK(n2 == n);
  }
  CHECK(wr.bytes.load() == 12u);
  CHECK(eof.error.load() == static_cast<DWORD>(ERROR_HANDLE_EOF));
  CHECK(cancelled.error.load() == static_cast<DWORD>(ERROR_OPERATION_ABORTED));
  CHECK(broken.error.load() == static_cast<DWORD>(ERROR_BROKEN_PIPE));
  CHECK((reset.error.load() == ERROR_NETNAME_DELETED || reset.error.load() == ERROR_CONNECTION_ABORTED));
  f.finish();
}

#ifndef _WIN32
// Not on Windows: the system's GetOverlappedResult dereferences the OVERLAPPED it is given (a NULL one
// is an access violation there, not an error code), and on Windows it is the system's function.
TEST_CASE("results: GetOverlappedResult rejects a NULL OVERLAPPED", "[results]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w);
  DWORD n = 0;
  SetLastError(0);
  CHECK(GetOverlappedResult(r, nullptr, &n, FALSE) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_PARAMETER));
  f.finish();
}
#endif
