// SPDX-License-Identifier: MIT
// The one place that maps errno values to Win32 error codes, Win32 codes to the NTSTATUS-style value
// that OVERLAPPED::Internal holds after completion (and back), and builds HRESULTs.
#pragma once

#include "w3tp/win32.h"

namespace w3tp::posix {

/// What kind of object an errno came from changes its Win32 meaning (EPIPE: ERROR_NO_DATA on a pipe,
/// ERROR_NETNAME_DELETED on a socket).
enum class object_kind : unsigned char { file, pipe, socket, other };

/// The Win32 error for an errno value.
DWORD win32_from_errno(int err, object_kind kind = object_kind::other) noexcept;

/// The status stored in OVERLAPPED::Internal for a completed operation with this Win32 error:
/// Windows' NTSTATUS for the common ones, 0xC0070000 | code otherwise.
ULONG_PTR status_from_win32(DWORD error) noexcept;

/// The inverse of status_from_win32.
DWORD win32_from_status(ULONG_PTR status) noexcept;

/// HRESULT_FROM_WIN32 as a function.
constexpr HRESULT hresult_from_win32(DWORD error) noexcept { return HRESULT_FROM_WIN32(error); }

/// Sets the calling thread's last error.
void set_last_error(DWORD error) noexcept;

}  // namespace w3tp::posix
