/* SPDX-License-Identifier: MIT */
/**
 * @file w3tp/win32.h
 * The Win32 I/O vocabulary at global scope.
 *
 * On Windows this header is <windows.h> and nothing else. On POSIX systems it
 * defines the same names with Windows' values and layouts, and declares the
 * handful of I/O functions that w3tp implements (CreateFile, ReadFile,
 * WriteFile, CloseHandle, CancelIo, CancelIoEx, GetOverlappedResult, ...).
 * The header is valid C and C++.
 */
#ifndef W3TP_WIN32_H
#define W3TP_WIN32_H

#if defined(_WIN32)

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#else /* POSIX */

#include <stddef.h>
#include <stdint.h>
#include <wchar.h>

#include "w3tp/export.h"

/** @name Calling conventions and annotations */
/** @{ */
/** Empty outside Windows, so that declarations written for Windows compile unchanged. */
#ifndef WINAPI
#define WINAPI
#endif
#ifndef CALLBACK
#define CALLBACK
#endif
#ifndef IN
#define IN
#endif
#ifndef OUT
#define OUT
#endif
#ifndef VOID
#define VOID void
#endif
/** @} */

/** @name Types */
/** @{ */
/** Windows' names with Windows' sizes on LP64 (DWORD, LONG and ULONG are 32 bits, the _PTR types pointer sized). WCHAR
 * is wchar_t, 32 bits (UTF-32) on Linux: docs/porting.md. */
typedef int BOOL;
typedef unsigned char BOOLEAN;
typedef unsigned char BYTE;
typedef char CHAR;
typedef wchar_t WCHAR; /* 32-bit UTF-32 on Linux: see README */
typedef uint16_t WORD;
typedef uint32_t DWORD;
typedef int32_t LONG;
typedef uint32_t ULONG;
typedef intptr_t LONG_PTR;
typedef uintptr_t ULONG_PTR;
typedef ULONG_PTR DWORD_PTR;
typedef ULONG_PTR SIZE_T;
typedef LONG HRESULT;
typedef void* HANDLE;
typedef void* PVOID;
typedef void* LPVOID;
typedef const void* LPCVOID;
typedef DWORD* LPDWORD;
typedef CHAR* LPSTR;
typedef const CHAR* LPCSTR;
typedef const CHAR* PCSTR;
typedef WCHAR* LPWSTR;
typedef const WCHAR* LPCWSTR;
typedef const WCHAR* PCWSTR;
/** @} */

/** Windows' OVERLAPPED, member for member (32 bytes on 64-bit systems). */
typedef struct _OVERLAPPED {
  ULONG_PTR Internal;     /**< status: STATUS_PENDING while pending, then the final NTSTATUS-like code */
  ULONG_PTR InternalHigh; /**< bytes transferred */
  union {
    struct {
      DWORD Offset;     /**< low 32 bits of the file position */
      DWORD OffsetHigh; /**< high 32 bits of the file position */
    };
    PVOID Pointer; /**< the same bytes as Offset/OffsetHigh, as a pointer */
  };
  HANDLE hEvent; /**< kept, never signalled on Linux (wait with GetOverlappedResult or in the routine) */
} OVERLAPPED, /** A pointer to an OVERLAPPED. */ *LPOVERLAPPED;

/** Windows' SECURITY_ATTRIBUTES: only bInheritHandle has an effect on POSIX (without it, O_CLOEXEC). */
typedef struct _SECURITY_ATTRIBUTES {
  DWORD nLength;               /**< sizeof(SECURITY_ATTRIBUTES) */
  LPVOID lpSecurityDescriptor; /**< ignored on POSIX */
  BOOL bInheritHandle;         /**< TRUE: the descriptor survives exec */
} SECURITY_ATTRIBUTES, /** A pointer to SECURITY_ATTRIBUTES. */ *PSECURITY_ATTRIBUTES,
    /** A pointer to SECURITY_ATTRIBUTES. */ *LPSECURITY_ATTRIBUTES;

/** A completion routine: runs once per accepted operation, on a pool thread, with the operation's Win32
    error, its byte count and its OVERLAPPED. */
typedef VOID(WINAPI* LPOVERLAPPED_COMPLETION_ROUTINE)(DWORD dwErrorCode, DWORD dwNumberOfBytesTransfered,
                                                      LPOVERLAPPED lpOverlapped);

/** @name Constants and macros */
/** @{ */
/** Windows' values (windef.h, winbase.h, winerror.h). */
#define TRUE 1
#define FALSE 0
#define INVALID_HANDLE_VALUE ((HANDLE)(LONG_PTR)-1)
#define INFINITE 0xFFFFFFFFu
#define MAX_PATH 260
#define UNREFERENCED_PARAMETER(P) ((void)(P))

#ifdef UNICODE
#define W3TP_TEXT_(quote) L##quote
#else
#define W3TP_TEXT_(quote) quote
#endif
#define TEXT(quote) W3TP_TEXT_(quote)

#define S_OK ((HRESULT)0)
#define S_FALSE ((HRESULT)1)
#define E_NOTIMPL ((HRESULT)0x80004001L)
#define E_POINTER ((HRESULT)0x80004003L)
#define E_FAIL ((HRESULT)0x80004005L)
#define E_OUTOFMEMORY ((HRESULT)0x8007000EL)
#define E_INVALIDARG ((HRESULT)0x80070057L)
#define SUCCEEDED(hr) (((HRESULT)(hr)) >= 0)
#define FAILED(hr) (((HRESULT)(hr)) < 0)
#define FACILITY_WIN32 7
#define HRESULT_FROM_WIN32(x)         \
  ((HRESULT)(x) <= 0 ? ((HRESULT)(x)) \
                     : ((HRESULT)(((DWORD)(x)&0x0000FFFFu) | ((DWORD)FACILITY_WIN32 << 16) | 0x80000000u)))

/** @} */

/** @name Win32 error codes */
/** @{ */
/** winerror.h's values, as GetLastError() and completion routines report them; docs/porting.md maps each errno to one.
 */
#define ERROR_SUCCESS 0L
#define NO_ERROR 0L
#define ERROR_INVALID_FUNCTION 1L
#define ERROR_FILE_NOT_FOUND 2L
#define ERROR_PATH_NOT_FOUND 3L
#define ERROR_TOO_MANY_OPEN_FILES 4L
#define ERROR_ACCESS_DENIED 5L
#define ERROR_INVALID_HANDLE 6L
#define ERROR_NOT_ENOUGH_MEMORY 8L
#define ERROR_OUTOFMEMORY 14L
#define ERROR_WRITE_PROTECT 19L
#define ERROR_NOT_READY 21L
#define ERROR_SEEK 25L
#define ERROR_WRITE_FAULT 29L
#define ERROR_READ_FAULT 30L
#define ERROR_GEN_FAILURE 31L
#define ERROR_SHARING_VIOLATION 32L
#define ERROR_HANDLE_EOF 38L
#define ERROR_HANDLE_DISK_FULL 39L
#define ERROR_NOT_SUPPORTED 50L
#define ERROR_NETNAME_DELETED 64L
#define ERROR_FILE_EXISTS 80L
#define ERROR_INVALID_PARAMETER 87L
#define ERROR_BROKEN_PIPE 109L
#define ERROR_DISK_FULL 112L
#define ERROR_INSUFFICIENT_BUFFER 122L
#define ERROR_INVALID_NAME 123L
#define ERROR_NEGATIVE_SEEK 131L
#define ERROR_DIR_NOT_EMPTY 145L
#define ERROR_BUSY 170L
#define ERROR_ALREADY_EXISTS 183L
#define ERROR_FILENAME_EXCED_RANGE 206L
#define ERROR_PIPE_BUSY 231L
#define ERROR_NO_DATA 232L
#define ERROR_PIPE_NOT_CONNECTED 233L
#define ERROR_MORE_DATA 234L
#define WAIT_TIMEOUT 258L
#define ERROR_DIRECTORY 267L
#define ERROR_HANDLES_CLOSED 676L
#define ERROR_OPERATION_ABORTED 995L
#define ERROR_IO_INCOMPLETE 996L
#define ERROR_IO_PENDING 997L
#define ERROR_NOACCESS 998L
#define ERROR_IO_DEVICE 1117L
#define ERROR_NOT_FOUND 1168L
#define ERROR_CONNECTION_REFUSED 1225L
#define ERROR_CONNECTION_ABORTED 1236L
#define ERROR_NO_SYSTEM_RESOURCES 1450L
#define ERROR_TIMEOUT 1460L
#define ERROR_INVALID_USER_BUFFER 1784L
#define ERROR_NOT_ENOUGH_QUOTA 1816L
#define ERROR_INVALID_STATE 5023L
/** @} */

/** @name CreateFile arguments */
/** @{ */
/** Access rights, share modes (accepted, not enforced on POSIX), dispositions, attributes and flags. */
#define GENERIC_READ 0x80000000u
#define GENERIC_WRITE 0x40000000u
#define GENERIC_EXECUTE 0x20000000u
#define GENERIC_ALL 0x10000000u
#define FILE_SHARE_READ 0x00000001u
#define FILE_SHARE_WRITE 0x00000002u
#define FILE_SHARE_DELETE 0x00000004u
#define CREATE_NEW 1u
#define CREATE_ALWAYS 2u
#define OPEN_EXISTING 3u
#define OPEN_ALWAYS 4u
#define TRUNCATE_EXISTING 5u
#define FILE_ATTRIBUTE_READONLY 0x00000001u
#define FILE_ATTRIBUTE_HIDDEN 0x00000002u
#define FILE_ATTRIBUTE_NORMAL 0x00000080u
#define FILE_ATTRIBUTE_TEMPORARY 0x00000100u
#define FILE_FLAG_WRITE_THROUGH 0x80000000u
#define FILE_FLAG_OVERLAPPED 0x40000000u
#define FILE_FLAG_NO_BUFFERING 0x20000000u
#define FILE_FLAG_RANDOM_ACCESS 0x10000000u
#define FILE_FLAG_SEQUENTIAL_SCAN 0x08000000u
#define FILE_FLAG_DELETE_ON_CLOSE 0x04000000u
/** @} */

/** @name OVERLAPPED::Internal values */
/** @{ */
/** STATUS_PENDING while an operation runs; STATUS_SUCCESS (or another NTSTATUS-like code) after. */
#define STATUS_SUCCESS ((DWORD)0x00000000L)
#define STATUS_PENDING ((DWORD)0x00000103L)
/** @} */

/* ---- Functions (implemented by w3tp, C linkage, Windows' signatures) ---- */
#ifdef __cplusplus
extern "C" {
#endif

/** Opens or creates a file (POSIX path, UTF-8); INVALID_HANDLE_VALUE and GetLastError() on failure. */
W3TP_API HANDLE WINAPI CreateFileA(LPCSTR lpFileName, DWORD dwDesiredAccess, DWORD dwShareMode,
                                   LPSECURITY_ATTRIBUTES lpSecurityAttributes, DWORD dwCreationDisposition,
                                   DWORD dwFlagsAndAttributes, HANDLE hTemplateFile);
/** CreateFileA with a wide (UTF-32) path, converted to UTF-8. */
W3TP_API HANDLE WINAPI CreateFileW(LPCWSTR lpFileName, DWORD dwDesiredAccess, DWORD dwShareMode,
                                   LPSECURITY_ATTRIBUTES lpSecurityAttributes, DWORD dwCreationDisposition,
                                   DWORD dwFlagsAndAttributes, HANDLE hTemplateFile);
/** Reads: overlapped on an associated handle (FALSE with ERROR_IO_PENDING, then the routine), else synchronously. */
W3TP_API BOOL WINAPI ReadFile(HANDLE hFile, LPVOID lpBuffer, DWORD nNumberOfBytesToRead, LPDWORD lpNumberOfBytesRead,
                              LPOVERLAPPED lpOverlapped);
/** Writes: overlapped on an associated handle (completes when every byte went), else synchronously. */
W3TP_API BOOL WINAPI WriteFile(HANDLE hFile, LPCVOID lpBuffer, DWORD nNumberOfBytesToWrite,
                               LPDWORD lpNumberOfBytesWritten, LPOVERLAPPED lpOverlapped);
/** Closes a handle; its pending operations complete with ERROR_OPERATION_ABORTED. */
W3TP_API BOOL WINAPI CloseHandle(HANDLE hObject);
/** The calling thread's last error. */
W3TP_API DWORD WINAPI GetLastError(void);
/** Sets the calling thread's last error. */
W3TP_API VOID WINAPI SetLastError(DWORD dwErrCode);
/** Cancels the pending operations that the calling thread started on the handle. */
W3TP_API BOOL WINAPI CancelIo(HANDLE hFile);
/** Cancels one pending operation (lpOverlapped) or all of them (NULL); ERROR_NOT_FOUND when none is pending. */
W3TP_API BOOL WINAPI CancelIoEx(HANDLE hFile, LPOVERLAPPED lpOverlapped);
/** An operation's result from its OVERLAPPED: ERROR_IO_INCOMPLETE while pending, or waits when bWait is TRUE. */
W3TP_API BOOL WINAPI GetOverlappedResult(HANDLE hFile, LPOVERLAPPED lpOverlapped, LPDWORD lpNumberOfBytesTransferred,
                                         BOOL bWait);
/** The calling thread's id (the kernel's thread id on Linux). */
W3TP_API DWORD WINAPI GetCurrentThreadId(void);

/* Windows' other two pool-I/O APIs, on w3tp's default pool (w3tp::default_pool()). */

/** Binds an overlapped handle to the default pool: its completions run Function(error, bytes,
   overlapped). Flags must be 0. FALSE with GetLastError() as associate() says (API.md, behaviour 1). */
W3TP_API BOOL WINAPI BindIoCompletionCallback(HANDLE FileHandle, LPOVERLAPPED_COMPLETION_ROUTINE Function, ULONG Flags);

/** @name Thread-pool I/O types */
/** @{ */
/** Windows Vista's thread-pool I/O objects; the structs are opaque, as on Windows. */
typedef struct _TP_IO TP_IO, *PTP_IO;
typedef struct _TP_CALLBACK_INSTANCE TP_CALLBACK_INSTANCE, *PTP_CALLBACK_INSTANCE;
typedef struct _TP_POOL TP_POOL, *PTP_POOL;
typedef struct _TP_CLEANUP_GROUP TP_CLEANUP_GROUP, *PTP_CLEANUP_GROUP;
typedef VOID(CALLBACK* PTP_CLEANUP_GROUP_CANCEL_CALLBACK)(PVOID ObjectContext, PVOID CleanupContext);
typedef VOID(CALLBACK* PTP_SIMPLE_CALLBACK)(PTP_CALLBACK_INSTANCE Instance, PVOID Context);
/** A callback environment's priority (only the default environment is served). */
typedef enum _TP_CALLBACK_PRIORITY {
  TP_CALLBACK_PRIORITY_HIGH,
  TP_CALLBACK_PRIORITY_NORMAL,
  TP_CALLBACK_PRIORITY_LOW,
  TP_CALLBACK_PRIORITY_INVALID,
  TP_CALLBACK_PRIORITY_COUNT = TP_CALLBACK_PRIORITY_INVALID
} TP_CALLBACK_PRIORITY;
/** Windows' TP_CALLBACK_ENVIRON_V3 layout. w3tp serves only the default environment: Pool and
   CleanupGroup NULL (TpInitializeCallbackEnviron's values); any other is refused (ERROR_NOT_SUPPORTED). */
typedef struct _TP_CALLBACK_ENVIRON_V3 {
  DWORD Version;                                                /**< 3 */
  PTP_POOL Pool;                                                /**< NULL: the default pool */
  PTP_CLEANUP_GROUP CleanupGroup;                               /**< NULL: none */
  PTP_CLEANUP_GROUP_CANCEL_CALLBACK CleanupGroupCancelCallback; /**< unused */
  PVOID RaceDll;                                                /**< unused */
  struct _ACTIVATION_CONTEXT* ActivationContext;                /**< unused */
  PTP_SIMPLE_CALLBACK FinalizationCallback;                     /**< unused */
  union {
    DWORD Flags; /**< unused */
    struct {
      DWORD LongFunction : 1;            /**< unused */
      DWORD Persistent : 1;              /**< unused */
      DWORD Private : 30;                /**< unused */
    } s;                                 /**< the flags by name */
  } u;                                   /**< flags */
  TP_CALLBACK_PRIORITY CallbackPriority; /**< unused */
  DWORD Size;                            /**< sizeof(TP_CALLBACK_ENVIRON_V3) */
} TP_CALLBACK_ENVIRON_V3, TP_CALLBACK_ENVIRON, *PTP_CALLBACK_ENVIRON;

/** The callback of a thread-pool I/O object: IoResult is the Win32 error, Overlapped the operation's
    OVERLAPPED, Io the object. */
typedef VOID(CALLBACK* PTP_WIN32_IO_CALLBACK)(PTP_CALLBACK_INSTANCE Instance, PVOID Context, PVOID Overlapped,
                                              ULONG IoResult, ULONG_PTR NumberOfBytesTransferred, PTP_IO Io);
/** @} */

/** Binds the handle to the default pool; NULL with GetLastError() when it cannot (as associate()). */
W3TP_API PTP_IO WINAPI CreateThreadpoolIo(HANDLE fl, PTP_WIN32_IO_CALLBACK pfnio, PVOID pv, PTP_CALLBACK_ENVIRON pcbe);
/** Before each overlapped operation on the handle: one more callback is expected. */
W3TP_API VOID WINAPI StartThreadpoolIo(PTP_IO pio);
/** After an operation that failed at once (not ERROR_IO_PENDING): the expected callback is not coming. */
W3TP_API VOID WINAPI CancelThreadpoolIo(PTP_IO pio);
/** Waits until every expected callback has run; with fCancelPendingCallbacks, a callback that is due but
   has not started is dropped instead. Not from one of the object's own callbacks. */
W3TP_API VOID WINAPI WaitForThreadpoolIoCallbacks(PTP_IO pio, BOOL fCancelPendingCallbacks);
/** Releases the object: at once, or after its expected callbacks have run. */
W3TP_API VOID WINAPI CloseThreadpoolIo(PTP_IO pio);

#ifdef __cplusplus
} /* extern "C" */
#endif

/** CreateFileW when UNICODE is defined, else CreateFileA. */
#ifdef UNICODE
#define CreateFile CreateFileW
#else
#define CreateFile CreateFileA
#endif

#endif /* POSIX */

#endif /* W3TP_WIN32_H */
