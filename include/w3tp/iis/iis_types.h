// SPDX-License-Identifier: MIT
/// @file iis_types.h
/// The Win32 base types that IIS's headers use and <w3tp/win32.h> lacks, with Windows' sizes; included
/// by this directory's <windows.h> and <http.h> (target `w3tp::iis`), in either order.
#ifndef W3TP_IIS_TYPES_H
#define W3TP_IIS_TYPES_H

#include <stdint.h>
#include <sys/socket.h>

#include "w3tp/win32.h"

typedef uint16_t USHORT;
typedef USHORT* PUSHORT;
typedef unsigned char UCHAR;
typedef UCHAR* PUCHAR;
typedef CHAR* PCHAR;
typedef CHAR* PSTR;
typedef WCHAR* PWCHAR;
typedef WCHAR* PWSTR;
typedef ULONG* PULONG;
typedef int64_t LONGLONG;
typedef uint64_t ULONGLONG;
typedef ULONGLONG* PULONGLONG;
typedef BYTE* PBYTE;
typedef BYTE* LPBYTE;
typedef BOOL* PBOOL;
typedef BOOL* LPBOOL;
typedef DWORD* PDWORD;
typedef HANDLE* PHANDLE;

/// Windows' ULARGE_INTEGER: a 64-bit unsigned integer, whole or as two 32-bit halves (8 bytes).
typedef union _ULARGE_INTEGER {
  __extension__ struct {
    DWORD LowPart;   ///< low 32 bits
    DWORD HighPart;  ///< high 32 bits
  };
  /// The two halves by name.
  struct {
    DWORD LowPart;   ///< low 32 bits
    DWORD HighPart;  ///< high 32 bits
  } u;
  ULONGLONG QuadPart;  ///< the whole value
} ULARGE_INTEGER, *PULARGE_INTEGER;

/// A socket address: the system's struct sockaddr (only pointers to it appear in this header).
typedef struct sockaddr SOCKADDR, *PSOCKADDR, *LPSOCKADDR;

#endif  // W3TP_IIS_TYPES_H
