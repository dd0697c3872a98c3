// SPDX-License-Identifier: MIT
/// @file windows.h
/// What an IIS native module takes from `<windows.h>`, for modules built on Linux against the
/// `w3tp::iis` target: w3tp's Win32 subset (<w3tp/win32.h>: the base types, OVERLAPPED, CreateFile,
/// ReadFile/WriteFile, CloseHandle, the error codes and HRESULTs) plus the calling-convention and
/// helper macros and the few C runtime functions that module code written for Windows calls
/// (`sprintf_s`, `strcpy_s`, `wcscpy_s`). Anything else of Windows is not here; docs/iis.md lists what is.
///
/// `_WINSOCKAPI_`, which IIS samples define before including this header, changes nothing here.
#ifndef W3TP_IIS_WINDOWS_H
#define W3TP_IIS_WINDOWS_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "iis_types.h"
#include "w3tp/win32.h"

// Calling conventions: x86-64 and aarch64 have one, so every Windows spelling means the default.
#ifndef __stdcall
#define __stdcall
#endif
#ifndef __cdecl
#define __cdecl
#endif
#ifndef STDMETHODCALLTYPE
#define STDMETHODCALLTYPE
#endif
#ifndef APIENTRY
#define APIENTRY
#endif

// Parameter markers from the Windows headers (IN and OUT come with <w3tp/win32.h>).
#ifndef OPTIONAL
#define OPTIONAL
#endif
#ifndef CONST
#define CONST const
#endif

/// Silences an unused-parameter warning, as in Windows.
#ifndef UNREFERENCED_PARAMETER
#define UNREFERENCED_PARAMETER(P) ((void)(P))
#endif

/// A wide string literal (w3tp's WCHAR is wchar_t; IIS modules are Unicode).
#ifndef TEXT
#define TEXT(quote) L##quote
#endif
#ifndef _T
#define _T(quote) L##quote
#endif

/// Memory helpers of the Windows headers.
#ifndef ZeroMemory
#define ZeroMemory(Destination, Length) memset((Destination), 0, (Length))
#define CopyMemory(Destination, Source, Length) memcpy((Destination), (Source), (Length))
#define MoveMemory(Destination, Source, Length) memmove((Destination), (Source), (Length))
#define FillMemory(Destination, Length, Fill) memset((Destination), (Fill), (Length))
#endif

#ifndef MAX_PATH
#define MAX_PATH 260
#endif

#ifdef __cplusplus
#include <cerrno>

/// `sprintf_s(buffer, size, format, ...)`: as snprintf, but a result that does not fit is an error
/// (an empty buffer and -1), as the secure CRT's is (which also invokes its invalid-parameter handler).
inline int sprintf_s(char* buffer, size_t size, const char* format, ...) __attribute__((format(printf, 3, 4)));
inline int sprintf_s(char* buffer, size_t size, const char* format, ...) {
  if (buffer == nullptr || size == 0 || format == nullptr) return -1;
  va_list args;
  va_start(args, format);
  const int n = vsnprintf(buffer, size, format, args);
  va_end(args);
  if (n < 0 || static_cast<size_t>(n) >= size) {
    buffer[0] = '\0';
    return -1;
  }
  return n;
}

/// `sprintf_s(array, format, ...)`: the secure CRT's template form, which takes the size from the array.
template <size_t N>
int sprintf_s(char (&buffer)[N], const char* format, ...) {
  if (format == nullptr) return -1;
  va_list args;
  va_start(args, format);
  const int n = vsnprintf(buffer, N, format, args);
  va_end(args);
  if (n < 0 || static_cast<size_t>(n) >= N) {
    buffer[0] = '\0';
    return -1;
  }
  return n;
}

/// `strcpy_s(dest, size, src)`: 0, or ERANGE (and an empty dest) when src does not fit.
inline int strcpy_s(char* dest, size_t size, const char* src) {
  if (dest == nullptr || size == 0) return EINVAL;
  if (src == nullptr) {
    dest[0] = '\0';
    return EINVAL;
  }
  const size_t n = strlen(src);
  if (n >= size) {
    dest[0] = '\0';
    return ERANGE;
  }
  memcpy(dest, src, n + 1);
  return 0;
}

/// `wcscpy_s(dest, size, src)`: as strcpy_s, for wide strings (size in characters).
inline int wcscpy_s(wchar_t* dest, size_t size, const wchar_t* src) {
  if (dest == nullptr || size == 0) return EINVAL;
  if (src == nullptr) {
    dest[0] = L'\0';
    return EINVAL;
  }
  const size_t n = wcslen(src);
  if (n >= size) {
    dest[0] = L'\0';
    return ERANGE;
  }
  wmemcpy(dest, src, n + 1);
  return 0;
}
#endif  // __cplusplus

#endif  // W3TP_IIS_WINDOWS_H
