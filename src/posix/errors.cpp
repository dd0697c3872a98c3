// SPDX-License-Identifier: MIT
#include "posix/errors.hpp"

#include <cerrno>

namespace w3tp::posix {

namespace {
thread_local DWORD t_last_error = ERROR_SUCCESS;

struct status_pair {
  DWORD error;
  ULONG_PTR status;
};
// Windows' NTSTATUS values for the errors that completions carry most often.
constexpr status_pair k_status_table[] = {
    {ERROR_SUCCESS, 0x00000000u},
    {ERROR_HANDLE_EOF, 0xC0000011u},
    {ERROR_OPERATION_ABORTED, 0xC0000120u},
    {ERROR_BROKEN_PIPE, 0xC000014Bu},
    {ERROR_DISK_FULL, 0xC000007Fu},
    {ERROR_NETNAME_DELETED, 0xC00000C9u},
    {ERROR_CONNECTION_ABORTED, 0xC0000241u},
    {ERROR_NO_DATA, 0xC00000B1u},
    {ERROR_ACCESS_DENIED, 0xC0000022u},
    {ERROR_INVALID_PARAMETER, 0xC000000Du},
    {ERROR_NOT_ENOUGH_MEMORY, 0xC0000017u},
    {ERROR_INVALID_HANDLE, 0xC0000008u},
    {ERROR_IO_DEVICE, 0xC0000185u},
    {ERROR_NOACCESS, 0xC0000005u},
};
constexpr ULONG_PTR k_ntstatus_from_win32 = 0xC0070000u;
}  // namespace

DWORD win32_from_errno(int err, object_kind kind) noexcept {
  switch (err) {
    case 0: return ERROR_SUCCESS;
    case ENOENT: return ERROR_FILE_NOT_FOUND;
    case ENOTDIR: return ERROR_PATH_NOT_FOUND;
    case EACCES:
    case EPERM:
    case EISDIR: return ERROR_ACCESS_DENIED;
    case EEXIST: return ERROR_FILE_EXISTS;
    case EBADF: return ERROR_INVALID_HANDLE;
    case ENOMEM: return ERROR_NOT_ENOUGH_MEMORY;
    case EMFILE:
    case ENFILE: return ERROR_TOO_MANY_OPEN_FILES;
    case EINVAL: return ERROR_INVALID_PARAMETER;
    case EFAULT: return ERROR_NOACCESS;
    case ENOSPC:
    case EFBIG:
    case EDQUOT: return ERROR_DISK_FULL;
    case EROFS: return ERROR_WRITE_PROTECT;
    case ENAMETOOLONG: return ERROR_FILENAME_EXCED_RANGE;
    case EBUSY: return ERROR_BUSY;
    case ETXTBSY: return ERROR_SHARING_VIOLATION;
    case ESPIPE: return ERROR_SEEK;
    case EIO: return ERROR_IO_DEVICE;
    case ECANCELED:
    case EINTR: return ERROR_OPERATION_ABORTED;
    case ETIMEDOUT: return ERROR_TIMEOUT;
    case ECONNREFUSED: return ERROR_CONNECTION_REFUSED;
    case ECONNRESET:
    case ENETRESET:
    case EHOSTUNREACH:
    case ENETDOWN:
    case ENETUNREACH: return ERROR_NETNAME_DELETED;
    case ECONNABORTED: return ERROR_CONNECTION_ABORTED;
    case ENOTCONN: return kind == object_kind::pipe ? ERROR_PIPE_NOT_CONNECTED : ERROR_NETNAME_DELETED;
    case EPIPE: return kind == object_kind::socket ? ERROR_NETNAME_DELETED : ERROR_NO_DATA;
    case EOPNOTSUPP: return ERROR_NOT_SUPPORTED;
    case EAGAIN: return ERROR_IO_PENDING;  // never shown to a routine; the front end waits instead
    default: return ERROR_GEN_FAILURE;
  }
}

ULONG_PTR status_from_win32(DWORD error) noexcept {
  for (const auto& p : k_status_table)
    if (p.error == error) return p.status;
  return k_ntstatus_from_win32 | (error & 0xFFFFu);
}

DWORD win32_from_status(ULONG_PTR status) noexcept {
  for (const auto& p : k_status_table)
    if (p.status == status) return p.error;
  if ((status & 0xFFFF0000u) == k_ntstatus_from_win32) return static_cast<DWORD>(status & 0xFFFFu);
  return ERROR_GEN_FAILURE;
}

void set_last_error(DWORD error) noexcept { t_last_error = error; }

}  // namespace w3tp::posix

extern "C" {
W3TP_API DWORD WINAPI GetLastError(void) { return w3tp::posix::t_last_error; }
W3TP_API VOID WINAPI SetLastError(DWORD dwErrCode) { w3tp::posix::t_last_error = dwErrCode; }
}
