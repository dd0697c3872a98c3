// SPDX-License-Identifier: MIT
// <w3tp/win32.h>: the ABI (sizes, layouts, signedness) and every constant that API.md lists, with the
// numeric values of Windows' own headers, so that code and data shared with Windows mean the same.
#include <w3tp/win32.h>

#include <cstddef>
#include <cstdint>
#include <cwchar>
#include <string_view>
#include <thread>
#include <type_traits>

#include "support/catch.hpp"

// The layout is checked at compile time where possible: a wrong layout should not even build.
static_assert(sizeof(DWORD) == 4 && std::is_unsigned_v<DWORD>, "DWORD is 32 bits unsigned");
static_assert(sizeof(LONG) == 4 && std::is_signed_v<LONG>, "LONG is 32 bits signed");
static_assert(sizeof(ULONG) == 4 && std::is_unsigned_v<ULONG>, "ULONG is 32 bits unsigned");
static_assert(sizeof(HRESULT) == 4 && std::is_signed_v<HRESULT>, "HRESULT is 32 bits signed");
static_assert(sizeof(BYTE) == 1 && sizeof(BOOLEAN) == 1, "BYTE and BOOLEAN are one byte");
static_assert(sizeof(BOOL) == 4 && std::is_signed_v<BOOL>, "BOOL is a 32-bit int");
static_assert(sizeof(ULONG_PTR) == sizeof(void*) && std::is_unsigned_v<ULONG_PTR>, "ULONG_PTR is pointer-sized");
static_assert(sizeof(LONG_PTR) == sizeof(void*) && std::is_signed_v<LONG_PTR>, "LONG_PTR is pointer-sized");
static_assert(sizeof(DWORD_PTR) == sizeof(void*) && sizeof(SIZE_T) == sizeof(void*), "pointer-sized integers");
static_assert(sizeof(HANDLE) == sizeof(void*), "HANDLE is a pointer");
static_assert(std::is_same_v<WCHAR, wchar_t>, "WCHAR is wchar_t, so L\"...\" literals work");
static_assert(std::is_same_v<LPOVERLAPPED, OVERLAPPED*>, "LPOVERLAPPED");
static_assert(std::is_same_v<LPDWORD, DWORD*>, "LPDWORD");
static_assert(std::is_same_v<LPCSTR, const char*> && std::is_same_v<PCSTR, const char*>, "narrow strings");
static_assert(std::is_same_v<LPCWSTR, const wchar_t*> && std::is_same_v<PCWSTR, const wchar_t*>, "wide strings");
static_assert(std::is_same_v<LPSTR, char*> && std::is_same_v<LPWSTR, wchar_t*>, "mutable strings");
static_assert(std::is_same_v<LPVOID, void*> && std::is_same_v<PVOID, void*> && std::is_same_v<LPCVOID, const void*>,
              "void pointers");
static_assert(std::is_same_v<LPOVERLAPPED_COMPLETION_ROUTINE, void(WINAPI*)(DWORD, DWORD, LPOVERLAPPED)>,
              "the completion routine's signature");
static_assert(std::is_pointer_v<LPSECURITY_ATTRIBUTES>, "LPSECURITY_ATTRIBUTES");
static_assert(std::is_standard_layout_v<OVERLAPPED> && std::is_trivial_v<OVERLAPPED>, "OVERLAPPED is a C struct");

#if UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
static_assert(sizeof(OVERLAPPED) == 32, "OVERLAPPED is 32 bytes on 64-bit systems");
static_assert(offsetof(OVERLAPPED, Internal) == 0, "Internal");
static_assert(offsetof(OVERLAPPED, InternalHigh) == 8, "InternalHigh");
static_assert(offsetof(OVERLAPPED, Offset) == 16, "Offset");
static_assert(offsetof(OVERLAPPED, OffsetHigh) == 20, "OffsetHigh");
static_assert(offsetof(OVERLAPPED, Pointer) == 16, "Pointer shares the union with Offset");
static_assert(offsetof(OVERLAPPED, hEvent) == 24, "hEvent");
#else
static_assert(sizeof(OVERLAPPED) == 20, "OVERLAPPED is 20 bytes on 32-bit systems");
static_assert(offsetof(OVERLAPPED, Offset) == 8 && offsetof(OVERLAPPED, hEvent) == 16, "32-bit layout");
#endif

TEST_CASE("win32.h: the types have Windows' sizes and signedness", "[unit][win32]") {
  CHECK(sizeof(DWORD) == 4);
  CHECK(static_cast<LONG>(-1) < 0);
  CHECK(static_cast<HRESULT>(0x80000000u) < 0);
  CHECK(static_cast<DWORD>(-1) == 0xFFFFFFFFu);
  OVERLAPPED ov{};
  ov.Offset = 0x11223344u;
  ov.OffsetHigh = 0x55667788u;
  // The union: on 64-bit little-endian systems Pointer aliases Offset (low) and OffsetHigh (high).
  if (sizeof(void*) == 8)
    CHECK(reinterpret_cast<std::uintptr_t>(ov.Pointer) == static_cast<std::uintptr_t>(0x5566778811223344ull));
  CHECK(ov.Internal == 0);
  CHECK(ov.InternalHigh == 0);
  CHECK(ov.hEvent == nullptr);
}

TEST_CASE("win32.h: TRUE, FALSE, INVALID_HANDLE_VALUE and the annotation macros", "[unit][win32]") {
  CHECK(TRUE == 1);
  CHECK(FALSE == 0);
  CHECK(reinterpret_cast<std::intptr_t>(INVALID_HANDLE_VALUE) == -1);
  CHECK(INVALID_HANDLE_VALUE != nullptr);
  int unused = 0;
  UNREFERENCED_PARAMETER(unused);
  // IN, OUT, WINAPI and CALLBACK are annotations: they must expand to something a declaration accepts.
  auto fn = [](IN DWORD a, OUT DWORD* b) { *b = a; };
  DWORD out = 0;
  fn(5, &out);
  CHECK(out == 5);
  void(CALLBACK * cb)(DWORD, DWORD, LPOVERLAPPED) = nullptr;
  CHECK(cb == nullptr);
  VOID* pv = nullptr;
  CHECK(pv == nullptr);
}

TEST_CASE("win32.h: TEXT follows UNICODE", "[unit][win32]") {
#ifdef UNICODE
  CHECK(std::wcscmp(TEXT("abc"), L"abc") == 0);
#else
  static_assert(std::is_same_v<decltype(TEXT("abc")), const char(&)[4]>, "TEXT is narrow without UNICODE");
  CHECK(std::string_view(TEXT("abc")) == "abc");
#endif
}

TEST_CASE("win32.h: HRESULT values and macros", "[unit][win32]") {
  CHECK(S_OK == 0);
  CHECK(S_FALSE == 1);
  CHECK(E_NOTIMPL == static_cast<HRESULT>(0x80004001u));
  CHECK(E_POINTER == static_cast<HRESULT>(0x80004003u));
  CHECK(E_FAIL == static_cast<HRESULT>(0x80004005u));
  CHECK(E_OUTOFMEMORY == static_cast<HRESULT>(0x8007000Eu));
  CHECK(E_INVALIDARG == static_cast<HRESULT>(0x80070057u));
  static_assert(std::is_same_v<std::decay_t<decltype(E_FAIL)>, HRESULT>, "E_FAIL is an HRESULT");

  CHECK(SUCCEEDED(S_OK));
  CHECK(SUCCEEDED(S_FALSE));
  CHECK_FALSE(SUCCEEDED(E_FAIL));
  CHECK(FAILED(E_INVALIDARG));
  CHECK_FALSE(FAILED(S_OK));
  CHECK_FALSE(FAILED(S_FALSE));

  CHECK(HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED) == static_cast<HRESULT>(0x80070005u));
  CHECK(HRESULT_FROM_WIN32(5) == static_cast<HRESULT>(0x80070005u));
  CHECK(HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE) == static_cast<HRESULT>(0x80070006u));
  CHECK(HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER) == static_cast<HRESULT>(0x80070057u));
  CHECK(HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER) == E_INVALIDARG);
  CHECK(HRESULT_FROM_WIN32(ERROR_NOT_ENOUGH_MEMORY) == static_cast<HRESULT>(0x80070008u));
  CHECK(HRESULT_FROM_WIN32(ERROR_INVALID_STATE) == static_cast<HRESULT>(0x8007139Fu));
  CHECK(HRESULT_FROM_WIN32(ERROR_IO_PENDING) == static_cast<HRESULT>(0x800703E5u));
  CHECK(HRESULT_FROM_WIN32(ERROR_NOT_FOUND) == static_cast<HRESULT>(0x80070490u));
  // Zero (and an HRESULT that is already negative) pass through unchanged, as Windows' inline function.
  CHECK(HRESULT_FROM_WIN32(ERROR_SUCCESS) == S_OK);
  CHECK(HRESULT_FROM_WIN32(0) == 0);
  CHECK(HRESULT_FROM_WIN32(E_FAIL) == E_FAIL);
  CHECK(FAILED(HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)));
}

TEST_CASE("win32.h: Win32 error codes have winerror.h's values", "[unit][win32]") {
  CHECK(ERROR_SUCCESS == 0);
  CHECK(ERROR_FILE_NOT_FOUND == 2);
  CHECK(ERROR_PATH_NOT_FOUND == 3);
  CHECK(ERROR_ACCESS_DENIED == 5);
  CHECK(ERROR_INVALID_HANDLE == 6);
  CHECK(ERROR_NOT_ENOUGH_MEMORY == 8);
  CHECK(ERROR_HANDLE_EOF == 38);
  CHECK(ERROR_NETNAME_DELETED == 64);
  CHECK(ERROR_FILE_EXISTS == 80);
  CHECK(ERROR_INVALID_PARAMETER == 87);
  CHECK(ERROR_BROKEN_PIPE == 109);
  CHECK(ERROR_DISK_FULL == 112);
  CHECK(ERROR_INSUFFICIENT_BUFFER == 122);
  CHECK(ERROR_ALREADY_EXISTS == 183);
  CHECK(ERROR_NO_DATA == 232);
  CHECK(ERROR_OPERATION_ABORTED == 995);
  CHECK(ERROR_IO_INCOMPLETE == 996);
  CHECK(ERROR_IO_PENDING == 997);
  CHECK(ERROR_NOT_FOUND == 1168);
  CHECK(ERROR_CONNECTION_ABORTED == 1236);
  CHECK(ERROR_INVALID_STATE == 5023);
  // A few that w3tp uses beyond API.md's list, and that Windows code compares against.
#ifdef ERROR_HANDLES_CLOSED  // not in MinGW-w64's winerror.h
  CHECK(ERROR_HANDLES_CLOSED == 676);
#endif
  CHECK(ERROR_MORE_DATA == 234);
  CHECK(ERROR_NOACCESS == 998);
}

TEST_CASE("win32.h: CreateFile arguments have Windows' values", "[unit][win32]") {
  CHECK(GENERIC_READ == 0x80000000u);
  CHECK(GENERIC_WRITE == 0x40000000u);
  CHECK(FILE_SHARE_READ == 0x1u);
  CHECK(FILE_SHARE_WRITE == 0x2u);
  CHECK(FILE_SHARE_DELETE == 0x4u);
  CHECK(CREATE_NEW == 1u);
  CHECK(CREATE_ALWAYS == 2u);
  CHECK(OPEN_EXISTING == 3u);
  CHECK(OPEN_ALWAYS == 4u);
  CHECK(TRUNCATE_EXISTING == 5u);
  CHECK(FILE_ATTRIBUTE_NORMAL == 0x80u);
  CHECK(FILE_FLAG_OVERLAPPED == 0x40000000u);
  CHECK(STATUS_PENDING == 0x103u);
  // GENERIC_READ | GENERIC_WRITE must fit a DWORD without sign trouble.
  DWORD rw = GENERIC_READ | GENERIC_WRITE;
  CHECK(rw == 0xC0000000u);
}

TEST_CASE("win32.h: GetLastError and SetLastError are per thread", "[unit][win32]") {
  SetLastError(ERROR_HANDLE_EOF);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_HANDLE_EOF));
  DWORD seen_in_thread = 12345;
  DWORD after_set_in_thread = 0;
  std::thread t([&] {
    seen_in_thread = GetLastError();  // a new thread starts with 0, as on Windows
    SetLastError(ERROR_NOT_FOUND);
    after_set_in_thread = GetLastError();
  });
  t.join();
  CHECK(seen_in_thread == 0);
  CHECK(after_set_in_thread == static_cast<DWORD>(ERROR_NOT_FOUND));
#ifndef _WIN32
  // On Windows the thread library's own calls (CreateThread, WaitForSingleObject in join) may set the
  // caller's last error, which Windows allows; on POSIX nothing but w3tp's functions touch it.
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_HANDLE_EOF));
#endif
  SetLastError(0);
}

TEST_CASE("win32.h: GetCurrentThreadId differs between threads and is stable", "[unit][win32]") {
  DWORD mine = GetCurrentThreadId();
  CHECK(mine != 0);
  CHECK(GetCurrentThreadId() == mine);
  DWORD other = 0;
  std::thread t([&] { other = GetCurrentThreadId(); });
  t.join();
  CHECK(other != 0);
  CHECK(other != mine);
}

TEST_CASE("win32.h: the I/O functions have Windows' signatures", "[unit][win32]") {
  // Taking each function's address with the exact Windows type fails to compile if a signature drifts.
  HANDLE(WINAPI * create_a)(LPCSTR, DWORD, DWORD, LPSECURITY_ATTRIBUTES, DWORD, DWORD, HANDLE) = &CreateFileA;
  HANDLE(WINAPI * create_w)(LPCWSTR, DWORD, DWORD, LPSECURITY_ATTRIBUTES, DWORD, DWORD, HANDLE) = &CreateFileW;
  BOOL(WINAPI * read)(HANDLE, LPVOID, DWORD, LPDWORD, LPOVERLAPPED) = &ReadFile;
  BOOL(WINAPI * write)(HANDLE, LPCVOID, DWORD, LPDWORD, LPOVERLAPPED) = &WriteFile;
  BOOL(WINAPI * close)(HANDLE) = &CloseHandle;
  DWORD(WINAPI * get_error)(void) = &GetLastError;
  VOID(WINAPI * set_error)(DWORD) = &SetLastError;
  BOOL(WINAPI * cancel)(HANDLE) = &CancelIo;
  BOOL(WINAPI * cancel_ex)(HANDLE, LPOVERLAPPED) = &CancelIoEx;
  BOOL(WINAPI * result)(HANDLE, LPOVERLAPPED, LPDWORD, BOOL) = &GetOverlappedResult;
  DWORD(WINAPI * tid)(void) = &GetCurrentThreadId;
  CHECK(create_a != nullptr);
  CHECK(create_w != nullptr);
  CHECK(read != nullptr);
  CHECK(write != nullptr);
  CHECK(close != nullptr);
  CHECK(get_error != nullptr);
  CHECK(set_error != nullptr);
  CHECK(cancel != nullptr);
  CHECK(cancel_ex != nullptr);
  CHECK(result != nullptr);
  CHECK(tid != nullptr);
#ifdef UNICODE
  CHECK(&CreateFile == &CreateFileW);
#else
  CHECK(&CreateFile == &CreateFileA);
#endif
}

TEST_CASE("win32.h: bad arguments to the I/O functions fail with Windows' errors", "[unit][win32]") {
  // The unit level only needs no pool: invalid handles are refused before anything else.
  char buf[4];
  DWORD n = 99;
  SetLastError(0);
  CHECK(ReadFile(nullptr, buf, sizeof buf, &n, nullptr) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  SetLastError(0);
  CHECK(WriteFile(INVALID_HANDLE_VALUE, buf, sizeof buf, &n, nullptr) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  SetLastError(0);
  CHECK(CloseHandle(nullptr) == FALSE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_INVALID_HANDLE));
  SetLastError(0);
  CHECK(CreateFileA("/nonexistent-w3tp-dir/x", GENERIC_READ, 0, nullptr, OPEN_EXISTING, FILE_FLAG_OVERLAPPED,
                    nullptr) == INVALID_HANDLE_VALUE);
  CHECK(GetLastError() == static_cast<DWORD>(ERROR_PATH_NOT_FOUND));
}
