// SPDX-License-Identifier: MIT
// API.md behaviour 1: association and every bad input it names.
#include "backend/common.hpp"

using namespace w3tp_test;

namespace {
VOID WINAPI unused_routine(DWORD, DWORD, LPOVERLAPPED) {}
const HRESULT k_bad_handle = HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE);
const HRESULT k_bad_param = HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER);
}  // namespace

TEST_CASE("associate: files, pipes and sockets associate with S_OK", "[assoc]") {
  fixture f;
  temp_file tf("assoc");
  HANDLE file = f.file(tf.path, false);
  CHECK(f.p().associate(file, record_routine) == S_OK);
  HANDLE r, w, a, b;
  f.pipe(r, w, false, false);
  CHECK(f.p().associate(r, record_routine) == S_OK);
  CHECK(f.p().associate(w, record_routine) == S_OK);
  f.sockets(a, b, false, false);
  // Through the IIS interface as well.
  CHECK(w3tp::http_server(f.p()).AssociateWithThreadPool(a, record_routine) == S_OK);
  CHECK(f.p().http_server().AssociateWithThreadPool(b, record_routine) == S_OK);
  f.finish();
}

TEST_CASE("associate: NULL, INVALID_HANDLE_VALUE, closed and forged handles", "[assoc]") {
  fixture f;
  IHttpServer& server = w3tp::http_server(f.p());
  CHECK(f.p().associate(nullptr, record_routine) == k_bad_handle);
  CHECK(server.AssociateWithThreadPool(nullptr, record_routine) == k_bad_handle);
  CHECK(f.p().associate(INVALID_HANDLE_VALUE, record_routine) == k_bad_handle);
  CHECK(server.AssociateWithThreadPool(INVALID_HANDLE_VALUE, record_routine) == k_bad_handle);

  temp_file tf("assoc-closed");
  HANDLE h = CreateFileA(tf.path.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS, FILE_FLAG_OVERLAPPED,
                         nullptr);
  REQUIRE(h != INVALID_HANDLE_VALUE);
  REQUIRE(CloseHandle(h));
  CHECK(f.p().associate(h, record_routine) == k_bad_handle);
  CHECK(server.AssociateWithThreadPool(h, record_routine) == k_bad_handle);

#ifndef _WIN32
  // Forged values: on POSIX a HANDLE is validated against w3tp's table (on Windows the system
  // answers for handle values, which it reuses).
  for (std::uintptr_t forged :
       {std::uintptr_t{0x1}, std::uintptr_t{0x1234}, std::uintptr_t{0xDEADBEEF}, std::uintptr_t{0x0000000100000001ull},
        std::uintptr_t{0x7FFFFFFF7FFFFFFFull}, reinterpret_cast<std::uintptr_t>(h) + 1,
        reinterpret_cast<std::uintptr_t>(h) + (std::uintptr_t{1} << 32)}) {
    HANDLE fake = reinterpret_cast<HANDLE>(forged);
    CHECK(f.p().associate(fake, record_routine) == k_bad_handle);
  }
#endif
  f.finish();
}

TEST_CASE("associate: a NULL routine gives E_INVALIDARG", "[assoc]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w, false, false);
  CHECK(f.p().associate(r, nullptr) == E_INVALIDARG);
  CHECK(w3tp::http_server(f.p()).AssociateWithThreadPool(r, nullptr) == E_INVALIDARG);
  LPOVERLAPPED_COMPLETION_ROUTINE none = nullptr;
  CHECK(f.p().associate(w, none) == E_INVALIDARG);
  // The failed attempts left the handle free to associate.
  CHECK(f.p().associate(r, record_routine) == S_OK);
  f.finish();
}

TEST_CASE("associate: a second association, in the same or another pool, is refused", "[assoc]") {
  fixture f;
  w3tp::thread_pool other(test_options());
  HANDLE r, w;
  f.pipe(r, w, true, false);
  CHECK(f.p().associate(r, record_routine) == k_bad_param);
  CHECK(f.p().associate(r, unused_routine) == k_bad_param);
  CHECK(other.associate(r, record_routine) == k_bad_param);
  CHECK(w3tp::http_server(other).AssociateWithThreadPool(r, record_routine) == k_bad_param);
  // The callable form as well.
  CHECK(other.associate(r, [](DWORD, DWORD, OVERLAPPED*) {}) == k_bad_param);
  // The first association still works: a read on r completes through f's routine.
  op rd;
  REQUIRE(start_read(f.t, r, rd));
  REQUIRE(plain_write(w, "x"));
  REQUIRE(f.t.wait_op(rd));
  CHECK(rd.text() == "x");
  // And the other pool takes a fresh handle.
  CHECK(other.associate(w, unused_routine) == S_OK);
  f.finish();
  other.shutdown();
}

TEST_CASE("associate: a handle not opened for overlapped I/O is refused", "[assoc]") {
  fixture f;
  temp_file tf("assoc-sync");
  HANDLE h = CreateFileA(tf.path.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                         FILE_ATTRIBUTE_NORMAL, nullptr);
  REQUIRE(h != INVALID_HANDLE_VALUE);
  f.keep(h);
  CHECK(f.p().associate(h, record_routine) == k_bad_param);
  CHECK(w3tp::http_server(f.p()).AssociateWithThreadPool(h, record_routine) == k_bad_param);
  // It still works synchronously.
  DWORD n = 0;
  CHECK(WriteFile(h, "abc", 3, &n, nullptr));
  CHECK(n == 3);
  f.finish();
}

TEST_CASE("associate: a pool that is shut down refuses with ERROR_INVALID_STATE", "[assoc][shutdown]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w, false, false);
  f.p().shutdown();
  CHECK(f.p().associate(r, record_routine) == HRESULT_FROM_WIN32(ERROR_INVALID_STATE));
  CHECK(w3tp::http_server(f.p()).AssociateWithThreadPool(r, record_routine) == HRESULT_FROM_WIN32(ERROR_INVALID_STATE));
  CHECK(f.p().associate(w, [](DWORD, DWORD, OVERLAPPED*) {}) == HRESULT_FROM_WIN32(ERROR_INVALID_STATE));
  // A handle refused by a pool that is shut down can go to a live one.
  w3tp::thread_pool other(test_options());
  CHECK(other.associate(r, unused_routine) == S_OK);
  f.finish();
}

TEST_CASE("associate: a callable routine runs for each operation and is destroyed after the close", "[assoc]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w, false, false);
  auto alive = std::make_shared<int>(0);
  std::weak_ptr<int> watch = alive;
  std::atomic<int> calls{0};
  std::atomic<DWORD> got_bytes{0};
  std::atomic<OVERLAPPED*> got_ov{nullptr};
  REQUIRE(f.p().associate(r, [&, alive = std::move(alive)](DWORD err, DWORD n, OVERLAPPED* ov) {
    (void)err;
    got_bytes = n;
    got_ov = ov;
    calls.fetch_add(1);
    f.t.notify();
  }) == S_OK);
  OVERLAPPED ov{};
  char buf[16];
  BOOL ok = ReadFile(r, buf, sizeof buf, nullptr, &ov);
  REQUIRE((ok || GetLastError() == ERROR_IO_PENDING));
  REQUIRE(plain_write(w, "hello"));
  REQUIRE(f.t.wait([&] { return calls.load() == 1; }));
  CHECK(got_bytes.load() == 5);
  CHECK(got_ov.load() == &ov);
  CHECK(std::string(buf, 5) == "hello");
  CHECK_FALSE(watch.expired());
  REQUIRE(CloseHandle(r));
  if (k_windows) {
    // Windows gives no notice of a handle's close, so the callable lives as long as the pool (README).
    CHECK_FALSE(watch.expired());
    f.finish();
    CHECK(watch.expired());
    return;
  }
  // The callable goes with the handle's last reference (its last operation completed already).
  REQUIRE(f.t.eventually([&] { return watch.expired(); }));
  f.finish();
}

#ifndef _WIN32
TEST_CASE("associate: a descriptor given to adopt_fd counts as overlapped", "[assoc][posix]") {
  fixture f;
  HANDLE r, w;
  REQUIRE(make_pipe(r, w));  // both made by adopt_fd
  f.keep(r);
  f.keep(w);
  CHECK(f.p().associate(r, record_routine) == S_OK);
  CHECK(w3tp::native_fd(r) >= 0);
  f.finish();
}
#endif
