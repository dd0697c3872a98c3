// SPDX-License-Identifier: MIT
// The Win32 I/O functions of <w3tp/win32.h> on POSIX, and adopt_fd / native_fd.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "posix/core.hpp"
#include "posix/results.hpp"
#include "posix/signals.hpp"

namespace w3tp::posix {

namespace {

thread_local DWORD t_tid = 0;

DWORD current_tid() noexcept {
  if (t_tid == 0) t_tid = static_cast<DWORD>(platform::current_thread_id());
  return t_tid;
}

BOOL fail(DWORD error) noexcept {
  set_last_error(error);
  return FALSE;
}

object_kind kind_of(const struct stat& st) noexcept {
  if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) return object_kind::file;
  if (S_ISFIFO(st.st_mode)) return object_kind::pipe;
  if (S_ISSOCK(st.st_mode)) return object_kind::socket;
  return object_kind::other;
}

// Converts a wide (UTF-32) string to UTF-8; false for a code point that is not a Unicode scalar value.
bool wide_to_utf8(const wchar_t* w, std::string& out) {
  for (; *w != L'\0'; ++w) {
    auto c = static_cast<std::uint32_t>(*w);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      if (c >= 0xD800 && c <= 0xDFFF) return false;
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c <= 0x10FFFF) {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      return false;
    }
  }
  return true;
}

// ENOENT means ERROR_FILE_NOT_FOUND when the directory exists, ERROR_PATH_NOT_FOUND when it does not.
DWORD not_found_error(const char* path) {
  std::string dir(path);
  auto slash = dir.find_last_of('/');
  if (slash == std::string::npos) return ERROR_FILE_NOT_FOUND;
  dir.resize(slash == 0 ? 1 : slash);
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return ERROR_FILE_NOT_FOUND;
  return ERROR_PATH_NOT_FOUND;
}

// Waits until a non-blocking stream descriptor is ready (synchronous calls on such handles).
void wait_ready(int fd, short events) noexcept {
  struct pollfd p = {fd, events, 0};
  while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
}

// A synchronous read on descriptor fd into buf: its Win32 error (done set to the bytes read). `offset` is
// the position when `positioned` (an OVERLAPPED on a file), else the descriptor's own is used.
DWORD sync_read(const handle_slot& h, int fd, bool positioned, off_t offset, char* buf, DWORD len, DWORD& done) {
  for (;;) {
    ssize_t n = positioned ? ::pread(fd, buf, len, offset)
                           : (h.kind == object_kind::socket ? ::recv(fd, buf, len, 0) : ::read(fd, buf, len));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      wait_ready(fd, POLLIN);
      continue;
    }
    if (n > 0) done = static_cast<DWORD>(n);
    return read_error(h.kind, len, n >= 0 ? static_cast<long>(n) : -static_cast<long>(errno));
  }
}

// A synchronous write of buf to descriptor fd, until all of it is written or it fails: its Win32 error
// (done set to the bytes written).
DWORD sync_write(const handle_slot& h, int fd, bool positioned, off_t offset, const char* buf, DWORD len, DWORD& done) {
  quiet_signals quiet;  // on any thread: SIGPIPE / SIGXFSZ blocked around the write, and discarded
  while (done < len) {
    ssize_t n;
    if (positioned)
      n = ::pwrite(fd, buf + done, len - done, offset + done);
    else if (h.kind == object_kind::socket)
      n = ::send(fd, buf + done, len - done, MSG_NOSIGNAL);
    else
      n = ::write(fd, buf + done, len - done);
    if (n > 0) {
      done += static_cast<DWORD>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      wait_ready(fd, POLLOUT);
      continue;
    }
    return write_error(h.kind, n == 0 ? 0 : -static_cast<long>(errno));
  }
  return ERROR_SUCCESS;
}

// A synchronous read or write on descriptor fd (h's, pinned by the caller): no OVERLAPPED, or a handle
// that is not associated with a pool.
BOOL sync_io(const handle_slot& h, int fd, op_code code, char* buf, DWORD len, LPDWORD transferred, LPOVERLAPPED ov) {
  const bool positioned = ov != nullptr && h.kind == object_kind::file;
  off_t offset = positioned ? static_cast<off_t>((static_cast<std::uint64_t>(ov->OffsetHigh) << 32) | ov->Offset) : 0;
  DWORD done = 0;
  DWORD error = ERROR_SUCCESS;
  if (transferred != nullptr) *transferred = 0;
  switch (code) {
    case op_code::read: error = sync_read(h, fd, positioned, offset, buf, len, done); break;
    case op_code::write: error = sync_write(h, fd, positioned, offset, buf, len, done); break;
    case op_code::post: error = k_not_io_error; break;
  }
  if (ov != nullptr) {
    ov->InternalHigh = done;
    std::atomic_ref<ULONG_PTR>(ov->Internal).store(status_from_win32(error), std::memory_order_release);
  }
  if (transferred != nullptr) *transferred = done;
  // A synchronous read at the end of a file succeeds with 0 bytes, as on Windows (read_error says
  // ERROR_HANDLE_EOF for the end of any file, however it was read).
  if (error == ERROR_HANDLE_EOF && ov == nullptr) error = ERROR_SUCCESS;
  if (error != ERROR_SUCCESS) return fail(error);
  set_last_error(ERROR_SUCCESS);
  return TRUE;
}

// The access a handle needs for an operation code (0: the code is no I/O).
constexpr std::uint8_t access_needed(op_code code) noexcept {
  switch (code) {
    case op_code::read: return hf_read;
    case op_code::write: return hf_write;
    case op_code::post: return 0;
  }
  return 0;
}

BOOL start_io(op_code code, HANDLE hFile, char* buf, DWORD len, LPDWORD transferred, LPOVERLAPPED ov) {
  handle_ref ref = handle_ref::adopt(acquire_handle_for_io(hFile));
  if (!ref) return fail(ERROR_INVALID_HANDLE);
  handle_slot& h = *ref.get();
  const std::uint8_t access = access_needed(code);
  if (access == 0) return fail(k_not_io_error);
  if (!h.has(static_cast<handle_flag>(access))) return fail(ERROR_ACCESS_DENIED);
  if (buf == nullptr && len != 0) return fail(ERROR_NOACCESS);
  pool_impl* pool = h.pool.load(std::memory_order_acquire);
  // Associated with a pool of the parent process (a child of fork()): nothing serves it here, and its
  // lock may be held by a thread that does not exist in this process.
  if (pool != nullptr && pool->stale()) return fail(ERROR_INVALID_STATE);
  if (ov == nullptr || pool == nullptr) {
    // Pin the descriptor: CloseHandle on another thread closes an associated stream's descriptor early,
    // and a number closed under this call could belong to another object by the time it is used.
    int fd;
    {
      small_lock lock(h.lock);
      if (h.fd < 0 || (h.state.load(std::memory_order_acquire) & k_closed_bit) != 0) return fail(ERROR_INVALID_HANDLE);
      ++h.sync_users;
      fd = h.fd;
    }
    BOOL result = sync_io(h, fd, code, buf, len, transferred, ov);
    small_lock lock(h.lock);
    --h.sync_users;
    return result;
  }
  if (!pool->owe_routine()) return fail(ERROR_INVALID_STATE);
  op_record* op = alloc_op();
  if (op == nullptr) {
    pool->pay_routine();
    return fail(ERROR_NOT_ENOUGH_MEMORY);
  }
  op->ov = ov;
  op->h = &h;
  op->buf = buf;
  op->len = len;
  op->starter = current_tid();
  op->set_code(code);
  if (pool->eng().try_at_once(*op)) {
    // It ran to its end inside this call, on no pending list (a page-cache hit): accepted if the handle is
    // still open now, which is when it counts as started and finished; a close that comes later finds
    // nothing to cancel, as for any operation that finished before it (docs/PROTOCOL.md).
    if ((h.state.load(std::memory_order_acquire) & k_closed_bit) != 0) {
      free_op(op);
      pool->pay_routine();
      return fail(ERROR_INVALID_HANDLE);
    }
    record_result(*op, op->error);
    ref.release();  // the call's reference becomes the operation's, dropped after its routine
    op->kind_ = k_item_done;
    pool->sched().push(op);
    if (transferred != nullptr) *transferred = 0;
    return fail(ERROR_IO_PENDING);
  }
  {
    // The moment of acceptance (docs/PROTOCOL.md): linked into its pending list under that list's lock.
    // CloseHandle sets the closed bit before it takes this lock to cancel what is pending, so either it
    // finds this operation in the list, or this call sees the bit and refuses (no routine is owed).
    small_lock lock(pending_lock(*op));
    if ((h.state.load(std::memory_order_acquire) & k_closed_bit) != 0) {
      free_op(op);
      pool->pay_routine();
      return fail(ERROR_INVALID_HANDLE);  // `ref` is still this call's and is released on return
    }
    ov->InternalHigh = 0;
    std::atomic_ref<ULONG_PTR>(ov->Internal).store(STATUS_PENDING, std::memory_order_release);
    link_pending(*op);
    // Shutdown began after this operation was accepted but may have scanned this handle before it was
    // linked: a stream operation that would never finish by itself is cancelled at once.
    if (!pool->accepting() && h.kind != object_kind::file) op->flags.fetch_or(of_cancel, std::memory_order_relaxed);
  }
  ref.release();  // the call's reference becomes the operation's, dropped after its routine
  pool->eng().submit(*op);
  if (transferred != nullptr) *transferred = 0;
  return fail(ERROR_IO_PENDING);
}

// Asks every matching pending operation of a handle to cancel; returns how many were pending.
template <class Match>
unsigned cancel_matching(handle_slot& h, Match&& match) noexcept {
  pool_impl* pool = h.pool.load(std::memory_order_acquire);
  if (pool == nullptr || pool->stale()) return 0;  // a parent's pool in a child of fork(): nothing of ours
  unsigned found = 0;
  for_each_pending(h, [&](op_record& op) {
    if (!match(op)) return;
    ++found;
    if ((op.flags.fetch_or(of_cancel, std::memory_order_seq_cst) & of_cancel) == 0) pool->eng().cancel(op);
  });
  return found;
}

HANDLE open_file(const char* path, DWORD access, LPSECURITY_ATTRIBUTES sa, DWORD disposition, DWORD flags) {
  auto invalid = [](DWORD error) {
    set_last_error(error);
    return INVALID_HANDLE_VALUE;
  };
  if (path == nullptr) return invalid(ERROR_INVALID_PARAMETER);
  if (*path == '\0') return invalid(ERROR_PATH_NOT_FOUND);
  if ((flags & FILE_FLAG_DELETE_ON_CLOSE) != 0) return invalid(ERROR_NOT_SUPPORTED);

  const bool want_read = (access & (GENERIC_READ | GENERIC_ALL)) != 0;
  const bool want_write = (access & (GENERIC_WRITE | GENERIC_ALL)) != 0;
  int oflags = O_CLOEXEC | (want_read && want_write ? O_RDWR : (want_write ? O_WRONLY : O_RDONLY));
  if (sa != nullptr && sa->bInheritHandle) oflags &= ~O_CLOEXEC;
  if ((flags & FILE_FLAG_WRITE_THROUGH) != 0) oflags |= O_DSYNC;
  const mode_t mode = (flags & FILE_ATTRIBUTE_READONLY) != 0 ? 0444 : 0666;

  int fd = -1;
  bool existed = false;
  auto try_open = [&](int extra) { return ::open(path, oflags | extra, mode); };
  if ((flags & FILE_FLAG_NO_BUFFERING) != 0) oflags |= O_DIRECT;
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    switch (disposition) {
      case CREATE_NEW: fd = try_open(O_CREAT | O_EXCL); break;
      case OPEN_EXISTING: fd = try_open(0); break;
      case TRUNCATE_EXISTING:
        if (!want_write) return invalid(ERROR_INVALID_PARAMETER);
        fd = try_open(O_TRUNC);
        break;
      case CREATE_ALWAYS:
      case OPEN_ALWAYS: {
        // Create exclusively first, so that "it already existed" (ERROR_ALREADY_EXISTS) is exact.
        fd = try_open(O_CREAT | O_EXCL);
        if (fd < 0 && errno == EEXIST) {
          fd = try_open(disposition == CREATE_ALWAYS ? O_TRUNC : 0);
          if (fd >= 0)
            existed = true;
          else if (errno == ENOENT)
            continue;  // removed in between: try again
        }
        break;
      }
      default: return invalid(ERROR_INVALID_PARAMETER);
    }
    break;
  }
  if (fd < 0 && (flags & FILE_FLAG_NO_BUFFERING) != 0 && errno == EINVAL) {
    // A file system without O_DIRECT (tmpfs): buffered I/O is still correct.
    return open_file(path, access, sa, disposition, flags & ~FILE_FLAG_NO_BUFFERING);
  }
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return invalid(not_found_error(path));
    if (err == EEXIST) return invalid(ERROR_FILE_EXISTS);
    return invalid(win32_from_errno(err, object_kind::file));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    return invalid(ERROR_ACCESS_DENIED);  // as Windows, for a directory opened without backup semantics
  }
  std::uint8_t hflags = (want_read ? hf_read : 0) | (want_write ? hf_write : 0) |
                        ((flags & FILE_FLAG_OVERLAPPED) != 0 ? hf_overlapped : 0);
  handle_slot* s = create_handle(fd, kind_of(st), hflags);
  if (s == nullptr) {
    ::close(fd);
    return invalid(ERROR_TOO_MANY_OPEN_FILES);
  }
  HANDLE h = s->value();
  set_last_error((existed && (disposition == CREATE_ALWAYS || disposition == OPEN_ALWAYS)) ? ERROR_ALREADY_EXISTS
                                                                                           : ERROR_SUCCESS);
  return h;
}

}  // namespace

}  // namespace w3tp::posix

using namespace w3tp::posix;

extern "C" {

W3TP_API HANDLE WINAPI CreateFileA(LPCSTR lpFileName, DWORD dwDesiredAccess, DWORD /*dwShareMode*/,
                                   LPSECURITY_ATTRIBUTES lpSecurityAttributes, DWORD dwCreationDisposition,
                                   DWORD dwFlagsAndAttributes, HANDLE /*hTemplateFile*/) {
  return open_file(lpFileName, dwDesiredAccess, lpSecurityAttributes, dwCreationDisposition, dwFlagsAndAttributes);
}

W3TP_API HANDLE WINAPI CreateFileW(LPCWSTR lpFileName, DWORD dwDesiredAccess, DWORD dwShareMode,
                                   LPSECURITY_ATTRIBUTES lpSecurityAttributes, DWORD dwCreationDisposition,
                                   DWORD dwFlagsAndAttributes, HANDLE hTemplateFile) {
  if (lpFileName == nullptr) {
    set_last_error(ERROR_INVALID_PARAMETER);
    return INVALID_HANDLE_VALUE;
  }
  std::string utf8;
  try {
    if (!w3tp::posix::wide_to_utf8(lpFileName, utf8)) {
      set_last_error(ERROR_INVALID_PARAMETER);
      return INVALID_HANDLE_VALUE;
    }
  } catch (...) {
    set_last_error(ERROR_NOT_ENOUGH_MEMORY);
    return INVALID_HANDLE_VALUE;
  }
  return CreateFileA(utf8.c_str(), dwDesiredAccess, dwShareMode, lpSecurityAttributes, dwCreationDisposition,
                     dwFlagsAndAttributes, hTemplateFile);
}

W3TP_API BOOL WINAPI ReadFile(HANDLE hFile, LPVOID lpBuffer, DWORD nNumberOfBytesToRead, LPDWORD lpNumberOfBytesRead,
                              LPOVERLAPPED lpOverlapped) {
  return start_io(op_code::read, hFile, static_cast<char*>(lpBuffer), nNumberOfBytesToRead, lpNumberOfBytesRead,
                  lpOverlapped);
}

W3TP_API BOOL WINAPI WriteFile(HANDLE hFile, LPCVOID lpBuffer, DWORD nNumberOfBytesToWrite,
                               LPDWORD lpNumberOfBytesWritten, LPOVERLAPPED lpOverlapped) {
  return start_io(op_code::write, hFile, const_cast<char*>(static_cast<const char*>(lpBuffer)), nNumberOfBytesToWrite,
                  lpNumberOfBytesWritten, lpOverlapped);
}

W3TP_API BOOL WINAPI CloseHandle(HANDLE hObject) {
  handle_slot* s = acquire_handle(hObject);
  if (s == nullptr) return fail(ERROR_INVALID_HANDLE);
  std::uint64_t prev = s->state.fetch_or(k_closed_bit, std::memory_order_acq_rel);
  if ((prev & k_closed_bit) != 0) {
    release_handle(s);
    return fail(ERROR_INVALID_HANDLE);
  }
  if (pool_impl* pool = s->pool.load(std::memory_order_acquire); pool != nullptr && pool->stale()) {
    // A child of fork() closes its copy of the descriptor; the parent's operations (copied into this
    // process's memory, never to complete here) keep the slot, which is never reused.
    int fd = s->fd;
    s->fd = -1;
    if (fd >= 0) ::close(fd);
  } else if (pool != nullptr) {
    // Every pending operation and every call in progress holds a reference: with none but the open
    // handle's and this call's, nothing is pending and no call can accept an operation any more (each
    // checks the closed bit under its pending list's lock), so a file's lists need no walk.
    if (!on_file_lists(*s) || (prev & k_ref_mask) > 2) {
      for_each_pending(*s, [pool](op_record& op) {
        if ((op.flags.fetch_or(of_cancel, std::memory_order_seq_cst) & of_cancel) == 0) pool->eng().cancel(op);
      });
    }
    // A synchronous call still using the descriptor keeps it until the last reference (sync_users).
    small_lock lock(s->lock);
    if (s->sync_users == 0) pool->eng().close_early(*s);
  }
  release_handle(s);  // this call's reference
  release_handle(s);  // the open handle's reference
  set_last_error(ERROR_SUCCESS);
  return TRUE;
}

W3TP_API BOOL WINAPI CancelIoEx(HANDLE hFile, LPOVERLAPPED lpOverlapped) {
  handle_ref ref(hFile);
  if (!ref) return fail(ERROR_INVALID_HANDLE);
  unsigned found = cancel_matching(
      *ref.get(), [lpOverlapped](const op_record& op) { return lpOverlapped == nullptr || op.ov == lpOverlapped; });
  if (found == 0) return fail(ERROR_NOT_FOUND);
  set_last_error(ERROR_SUCCESS);
  return TRUE;
}

W3TP_API BOOL WINAPI CancelIo(HANDLE hFile) {
  handle_ref ref(hFile);
  if (!ref) return fail(ERROR_INVALID_HANDLE);
  DWORD tid = current_tid();
  cancel_matching(*ref.get(), [tid](const op_record& op) { return op.starter == tid; });
  set_last_error(ERROR_SUCCESS);
  return TRUE;
}

W3TP_API BOOL WINAPI GetOverlappedResult(HANDLE hFile, LPOVERLAPPED lpOverlapped, LPDWORD lpNumberOfBytesTransferred,
                                         BOOL bWait) {
  handle_ref ref(hFile);
  if (!ref) return fail(ERROR_INVALID_HANDLE);
  if (lpOverlapped == nullptr) return fail(ERROR_INVALID_PARAMETER);
  std::atomic_ref<ULONG_PTR> status(lpOverlapped->Internal);
  ULONG_PTR s = status.load(std::memory_order_acquire);
  if (s == STATUS_PENDING) {
    if (!bWait) return fail(ERROR_IO_INCOMPLETE);
    // An operation of the parent process, seen in a child of fork(): it never completes here.
    if (pool_impl* pool = ref->pool.load(std::memory_order_acquire); pool != nullptr && pool->stale())
      return fail(ERROR_INVALID_STATE);
    overlapped_waiters.fetch_add(1, std::memory_order_seq_cst);
    platform::heavy_fence();  // the rare side of the pair with record_result
    while ((s = status.load(std::memory_order_acquire)) == STATUS_PENDING) status.wait(STATUS_PENDING);
    overlapped_waiters.fetch_sub(1, std::memory_order_relaxed);
  }
  if (lpNumberOfBytesTransferred != nullptr)
    *lpNumberOfBytesTransferred = static_cast<DWORD>(lpOverlapped->InternalHigh);
  DWORD error = win32_from_status(s);
  if (error != ERROR_SUCCESS) return fail(error);
  return TRUE;
}

W3TP_API DWORD WINAPI GetCurrentThreadId(void) { return current_tid(); }

}  // extern "C"

namespace w3tp {

HANDLE adopt_fd(int fd) {
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    set_last_error(ERROR_INVALID_HANDLE);
    return INVALID_HANDLE_VALUE;
  }
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0) {
    set_last_error(ERROR_INVALID_HANDLE);
    return INVALID_HANDLE_VALUE;
  }
  int acc = fl & O_ACCMODE;
  std::uint8_t flags = hf_overlapped | (acc == O_RDONLY || acc == O_RDWR ? hf_read : 0) |
                       (acc == O_WRONLY || acc == O_RDWR ? hf_write : 0);
  // Sockets report O_RDWR; a path-only descriptor (O_PATH) can do neither.
  handle_slot* s = create_handle(fd, kind_of(st), flags);
  if (s == nullptr) {
    set_last_error(ERROR_TOO_MANY_OPEN_FILES);
    return INVALID_HANDLE_VALUE;
  }
  set_last_error(ERROR_SUCCESS);
  return s->value();
}

int native_fd(HANDLE handle) {
  handle_ref ref(handle);
  return ref ? ref->fd : -1;
}

}  // namespace w3tp
