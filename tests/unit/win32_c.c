/* SPDX-License-Identifier: MIT */
/* <w3tp/win32.h> compiled as C: the header promises to be valid C, and C code of a port includes it. */
#include <w3tp/version.h>
#include <w3tp/win32.h>

#include <stddef.h>
#include <stdio.h>

#if !defined(_WIN32) && UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
_Static_assert(sizeof(OVERLAPPED) == 32, "OVERLAPPED is 32 bytes on 64-bit systems");
_Static_assert(offsetof(OVERLAPPED, Offset) == 16, "Offset");
_Static_assert(offsetof(OVERLAPPED, hEvent) == 24, "hEvent");
#endif
#if !defined(_WIN32) && UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
_Static_assert(sizeof(TP_CALLBACK_ENVIRON) == 72, "TP_CALLBACK_ENVIRON_V3 has Windows' 64-bit size");
_Static_assert(offsetof(TP_CALLBACK_ENVIRON, Pool) == 8, "TP_CALLBACK_ENVIRON::Pool");
_Static_assert(offsetof(TP_CALLBACK_ENVIRON, CallbackPriority) == 60, "TP_CALLBACK_ENVIRON::CallbackPriority");
#endif
/* <w3tp/version.h> is valid C, and its number agrees with its parts (CMake checks it against project()). */
_Static_assert(W3TP_VERSION == W3TP_VERSION_MAJOR * 10000 + W3TP_VERSION_MINOR * 100 + W3TP_VERSION_PATCH,
               "W3TP_VERSION");
_Static_assert(sizeof(DWORD) == 4, "DWORD is 32 bits");
_Static_assert(sizeof(HRESULT) == 4, "HRESULT is 32 bits");

static int failures = 0;

static void check(int ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "win32.h as C: %s failed\n", what);
    ++failures;
  }
}

static VOID WINAPI routine(DWORD error, DWORD bytes, LPOVERLAPPED ov) {
  UNREFERENCED_PARAMETER(error);
  UNREFERENCED_PARAMETER(bytes);
  UNREFERENCED_PARAMETER(ov);
}

int main(void) {
  LPOVERLAPPED_COMPLETION_ROUTINE fn = routine;
  OVERLAPPED ov = {0};
  ov.Offset = 1;
  ov.OffsetHigh = 2;
  check(fn != NULL, "a completion routine converts to LPOVERLAPPED_COMPLETION_ROUTINE");
  check(ov.Offset == 1 && ov.OffsetHigh == 2, "OVERLAPPED's anonymous union");
  check(HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED) == (HRESULT)0x80070005L, "HRESULT_FROM_WIN32");
  check(SUCCEEDED(S_OK) && FAILED(E_FAIL), "SUCCEEDED / FAILED");
  check(ERROR_IO_PENDING == 997 && ERROR_OPERATION_ABORTED == 995, "error codes");
  SetLastError(ERROR_NOT_FOUND);
  check(GetLastError() == ERROR_NOT_FOUND, "GetLastError / SetLastError link from C");
#ifndef _WIN32 /* on Windows, INVALID_HANDLE_VALUE is also the current process's pseudo-handle */
  check(CloseHandle(INVALID_HANDLE_VALUE) == FALSE && GetLastError() == ERROR_INVALID_HANDLE,
        "CloseHandle(INVALID_HANDLE_VALUE)");
#endif
  return failures == 0 ? 0 : 1;
}
