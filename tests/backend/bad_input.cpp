// SPDX-License-Identifier: MIT
// Every bad input of the README's table, tried, with the error it gets. w3tp's own functions
// (associate, post) everywhere; the Win32 functions only on POSIX, where they are w3tp's (on Windows
// they are the system's own).
#include "backend/common.hpp"

using namespace w3tp_test;

namespace {
const HRESULT k_invalid_handle = HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE);
const HRESULT k_invalid_parameter = HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER);
const HRESULT k_invalid_state = HRESULT_FROM_WIN32(ERROR_INVALID_STATE);
const HANDLE k_forged = reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(0x7777000012345ull));

#ifndef _WIN32
/// The error a failing call left, checked with what the README's table says.
#define CHECK_FAILS_WITH(call, error)                   \
  do {                                                  \
    SetLastError(0);                                    \
    INFO(#call);                                        \
    CHECK_FALSE(call);                                  \
    CHECK(GetLastError() == static_cast<DWORD>(error)); \
  } while (0)
#endif
}  // namespace

TEST_CASE("bad input: associate and post answer each bad argument with its error", "[bad_input]") {
  fixture f;
  HANDLE r, w;
  REQUIRE(make_pipe(r, w));
  f.keep(r);
  f.keep(w);
  temp_file tf("bad-assoc");
  HANDLE closed = CreateFileA(tf.path.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                              FILE_FLAG_OVERLAPPED, nullptr);
  REQUIRE(closed != INVALID_HANDLE_VALUE);
  REQUIRE(CloseHandle(closed));
  CHECK(f.p().associate(nullptr, record_routine) == k_invalid_handle);
  CHECK(f.p().associate(INVALID_HANDLE_VALUE, record_routine) == k_invalid_handle);
  if (!k_windows) {
    CHECK(f.p().associate(closed, record_routine) == k_invalid_handle);
    CHECK(f.p().associate(k_forged, record_routine) == k_invalid_handle);
  }
  CHECK(f.p().associate(r, nullptr) == E_INVALIDARG);
  REQUIRE(f.p().associate(r, record_routine) == S_OK);
  CHECK(f.p().associate(r, record_routine) == k_invalid_parameter);  // already associated
  HANDLE sync_file = CreateFileA(tf.path.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                                 OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
  REQUIRE(sync_file != INVALID_HANDLE_VALUE);
  f.keep(sync_file);
  CHECK(f.p().associate(sync_file, record_routine) == k_invalid_parameter);  // not opened for overlapped I/O
  CHECK(f.p().post(nullptr, 0, 0, nullptr) == E_INVALIDARG);
  f.finish();
}

TEST_CASE("bad input: a pool that is shut down refuses associate and post", "[bad_input][shutdown]") {
  w3tp::thread_pool pool(test_options());
  HANDLE r, w;
  REQUIRE(make_pipe(r, w));
  pool.shutdown();
  CHECK(pool.associate(r, record_routine) == k_invalid_state);
  CHECK(pool.post(record_routine, 0, 0, nullptr) == k_invalid_state);
  CloseHandle(r);
  CloseHandle(w);
}

#ifndef _WIN32
TEST_CASE("bad input: the Win32 functions answer each bad argument with its error", "[bad_input][posix]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w);
  temp_file tf("bad-win32");
  HANDLE file = f.file(tf.path);
  HANDLE closed = CreateFileA(tf.path.c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_EXISTING,
                              FILE_FLAG_OVERLAPPED, nullptr);
  REQUIRE(closed != INVALID_HANDLE_VALUE);
  REQUIRE(CloseHandle(closed));
  char buf[16];
  DWORD n = 0;
  OVERLAPPED ov{};
  for (HANDLE bad : {static_cast<HANDLE>(nullptr), INVALID_HANDLE_VALUE, closed, k_forged}) {
    CHECK_FAILS_WITH(ReadFile(bad, buf, sizeof buf, nullptr, &ov), ERROR_INVALID_HANDLE);
    CHECK_FAILS_WITH(WriteFile(bad, buf, sizeof buf, nullptr, &ov), ERROR_INVALID_HANDLE);
    CHECK_FAILS_WITH(ReadFile(bad, buf, sizeof buf, &n, nullptr), ERROR_INVALID_HANDLE);
    CHECK_FAILS_WITH(CancelIoEx(bad, nullptr), ERROR_INVALID_HANDLE);
    CHECK_FAILS_WITH(CancelIo(bad), ERROR_INVALID_HANDLE);
    CHECK_FAILS_WITH(GetOverlappedResult(bad, &ov, &n, FALSE), ERROR_INVALID_HANDLE);
    CHECK_FAILS_WITH(CloseHandle(bad), ERROR_INVALID_HANDLE);
  }
  // A NULL buffer with a length, the wrong direction, an OVERLAPPED nobody started.
  CHECK_FAILS_WITH(ReadFile(r, nullptr, 8, nullptr, &ov), ERROR_NOACCESS);
  CHECK_FAILS_WITH(WriteFile(r, "x", 1, nullptr, &ov), ERROR_ACCESS_DENIED);
  OVERLAPPED stranger{};
  CHECK_FAILS_WITH(CancelIoEx(r, &stranger), ERROR_NOT_FOUND);
  CHECK_FAILS_WITH(CancelIoEx(r, reinterpret_cast<OVERLAPPED*>(static_cast<std::uintptr_t>(0x1000))), ERROR_NOT_FOUND);
  CHECK_FAILS_WITH(GetOverlappedResult(file, nullptr, &n, FALSE), ERROR_INVALID_PARAMETER);
  // CreateFile.
  auto open = [](const char* path, DWORD disposition, DWORD flags) {
    return CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, nullptr, disposition, flags, nullptr) !=
           INVALID_HANDLE_VALUE;
  };
  CHECK_FAILS_WITH(open(nullptr, OPEN_EXISTING, FILE_FLAG_OVERLAPPED), ERROR_INVALID_PARAMETER);
  CHECK_FAILS_WITH(open("", OPEN_EXISTING, FILE_FLAG_OVERLAPPED), ERROR_PATH_NOT_FOUND);
  CHECK_FAILS_WITH(open(tf.path.c_str(), 77, FILE_FLAG_OVERLAPPED), ERROR_INVALID_PARAMETER);
  CHECK_FAILS_WITH(open(tf.path.c_str(), OPEN_EXISTING, FILE_FLAG_OVERLAPPED | FILE_FLAG_DELETE_ON_CLOSE),
                   ERROR_NOT_SUPPORTED);
  CHECK_FAILS_WITH(open("/nonexistent-dir-w3tp/x", OPEN_EXISTING, 0), ERROR_PATH_NOT_FOUND);
  CHECK_FAILS_WITH(open("/tmp", OPEN_EXISTING, 0), ERROR_ACCESS_DENIED);
  const wchar_t lone_surrogate[] = {L'/', static_cast<wchar_t>(0xD800), L'\0'};
  SetLastError(0);
  CHECK(CreateFileW(lone_surrogate, GENERIC_READ, 0, nullptr, OPEN_EXISTING, 0, nullptr) == INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_PARAMETER));
  // adopt_fd / native_fd.
  SetLastError(0);
  CHECK(w3tp::adopt_fd(-1) == INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  CHECK(w3tp::native_fd(closed) == -1);
  CHECK(w3tp::native_fd(k_forged) == -1);
  f.finish();
}

TEST_CASE("bad input: a backend that cannot start, or a W3TP_BACKEND that names none, throws with a sentence",
          "[bad_input][posix]") {
  w3tp::pool_options o;
  o.preferred = w3tp::backend::iocp;
  try {
    w3tp::thread_pool pool(o);
    FAIL("the iocp backend started on POSIX");
  } catch (const std::system_error& e) {
    CHECK(std::string(e.what()).find("Windows") != std::string::npos);
  }
}
#endif
