// SPDX-License-Identifier: MIT
// The one place that turns what a read or write syscall (or a readiness poll) returned into the Win32
// result that an operation's routine gets. Every POSIX path uses it: io_uring's completions, epoll's
// non-blocking attempts and blocking file calls, and the synchronous ReadFile/WriteFile. Each function
// is one rule of API.md (behaviours 3-5); they are inline because the io_uring read path runs them for
// every completion.
//
// A syscall result `res` is the byte count, or -errno (io_uring's convention; callers of the libc
// wrappers pass -errno themselves).
#pragma once

#include <poll.h>

#include <cstdint>

#include "posix/core.hpp"

namespace w3tp::posix {

/// A read of `len` bytes from a `kind` object returned `res`: its Win32 error (the bytes are res when
/// res > 0, else 0). End of a file: ERROR_HANDLE_EOF; a pipe's writer gone: ERROR_BROKEN_PIPE; a
/// socket's orderly close (and end of data on other objects): success; a zero-length read: success.
inline DWORD read_error(object_kind kind, std::uint32_t len, long res) noexcept {
  if (res > 0 || (res == 0 && len == 0)) return ERROR_SUCCESS;
  if (res < 0) return win32_from_errno(static_cast<int>(-res), kind);
  switch (kind) {
    case object_kind::file: return ERROR_HANDLE_EOF;
    case object_kind::pipe: return ERROR_BROKEN_PIPE;
    case object_kind::socket:
    case object_kind::other: return ERROR_SUCCESS;
  }
  return ERROR_SUCCESS;
}

/// The error pending on socket fd (SO_ERROR, which reading clears), 0 when none or fd is no socket.
int pending_socket_error(int fd) noexcept;

/// A zero-byte read on a stream (not a file) whose readiness poll reported `events` (POLL* bits, not
/// 0): its Win32 error. Readable: success (no data is taken); a pipe's hang-up: ERROR_BROKEN_PIPE; an
/// error without data (POLLERR) on a socket: that error (SO_ERROR on fd); anything else: success.
inline DWORD zero_byte_read_error(object_kind kind, unsigned events, int fd) noexcept {
  if ((events & POLLIN) != 0) return ERROR_SUCCESS;
  if (kind == object_kind::pipe && (events & POLLHUP) != 0) return ERROR_BROKEN_PIPE;
  if (kind == object_kind::socket && (events & POLLERR) != 0)
    if (int err = pending_socket_error(fd); err != 0) return win32_from_errno(err, kind);
  return ERROR_SUCCESS;
}

/// A write to a `kind` object with bytes still to go whose syscall returned `res` <= 0: its Win32
/// error. 0 bytes written to a file: ERROR_DISK_FULL (as ENOSPC); to a stream: ERROR_NO_DATA; -errno
/// as win32_from_errno (EPIPE: ERROR_NO_DATA on a pipe, ERROR_NETNAME_DELETED on a socket; EFBIG:
/// ERROR_DISK_FULL). A write of 0 bytes never calls the system: it succeeds. The caller discards the
/// SIGPIPE / SIGXFSZ that the write raised on its thread (drain_write_signal, or quiet_signals).
inline DWORD write_error(object_kind kind, long res) noexcept {
  if (res < 0) return win32_from_errno(static_cast<int>(-res), kind);
  return kind == object_kind::file ? ERROR_DISK_FULL : ERROR_NO_DATA;
}

/// The result of an operation whose last request returned `res` with `error`: ERROR_OPERATION_ABORTED
/// if that request ended without data (res <= 0) and the operation's cancel was requested (CancelIoEx,
/// CancelIo, CloseHandle, shutdown), since the cancel may be what ended it; otherwise `error`.
inline DWORD after_cancel(DWORD error, long res, const op_record& op) noexcept {
  return res <= 0 && error != ERROR_OPERATION_ABORTED && op.cancel_requested() ? ERROR_OPERATION_ABORTED : error;
}

/// What an operation code that is no I/O (a post) gets if it ever reaches an engine's I/O path: posts
/// are run by the pool, never submitted, so this is a bug caught without running it as a read or write.
constexpr DWORD k_not_io_error = ERROR_INVALID_FUNCTION;

}  // namespace w3tp::posix
