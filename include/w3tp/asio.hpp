// SPDX-License-Identifier: MIT
// w3tp with Boost.Asio: overlapped reads and writes as Asio asynchronous operations, and Win32 errors
// as boost::system::error_code.
//
// The executor alone needs no header of this one: thread_pool::get_executor() converts to
// boost::asio::any_io_executor, so boost::asio::post/dispatch/defer, co_spawn, timers and every Asio
// I/O object accept it, and their completions run on the pool's threads. This header adds:
//
//   w3tp::asio::overlapped_handle f(pool, CreateFileA(..., FILE_FLAG_OVERLAPPED, ...));
//   auto [ec, n] = co_await f.async_read_some_at(0, boost::asio::buffer(buf), as_tuple(use_awaitable));
//
// with any completion token (a callback, use_awaitable, use_future, deferred, ...), the handler's
// associated executor and cancellation slot honoured (a cancellation signal becomes CancelIoEx), and
// errors in w3tp::asio::win32_category(). Header-only; needs Boost 1.80 or newer.
#ifndef W3TP_ASIO_HPP
#define W3TP_ASIO_HPP

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <utility>

#include "w3tp/w3tp.hpp"

namespace w3tp::asio {

/// The error category of Win32 error codes (what a routine's dwErrorCode holds). Its conditions match
/// the portable ones where there is one: ERROR_OPERATION_ABORTED compares equal to
/// std::errc::operation_canceled, ERROR_FILE_NOT_FOUND to std::errc::no_such_file_or_directory, ...
class win32_error_category final : public boost::system::error_category {
 public:
  /// "win32".
  const char* name() const noexcept override { return "win32"; }
  /// The error's meaning and its name ("Reached the end of the file (ERROR_HANDLE_EOF)").
  std::string message(int ev) const override {
    switch (ev) {
      case ERROR_SUCCESS: return "The operation completed successfully (ERROR_SUCCESS)";
      case ERROR_FILE_NOT_FOUND: return "The file cannot be found (ERROR_FILE_NOT_FOUND)";
      case ERROR_PATH_NOT_FOUND: return "The path cannot be found (ERROR_PATH_NOT_FOUND)";
      case ERROR_ACCESS_DENIED: return "Access is denied (ERROR_ACCESS_DENIED)";
      case ERROR_INVALID_HANDLE: return "The handle is invalid (ERROR_INVALID_HANDLE)";
      case ERROR_NOT_ENOUGH_MEMORY: return "Not enough memory (ERROR_NOT_ENOUGH_MEMORY)";
      case ERROR_HANDLE_EOF: return "Reached the end of the file (ERROR_HANDLE_EOF)";
      case ERROR_INVALID_PARAMETER: return "The parameter is incorrect (ERROR_INVALID_PARAMETER)";
      case ERROR_BROKEN_PIPE: return "The pipe has been ended (ERROR_BROKEN_PIPE)";
      case ERROR_NO_DATA: return "The pipe is being closed (ERROR_NO_DATA)";
      case ERROR_DISK_FULL: return "There is not enough space on the disk (ERROR_DISK_FULL)";
      case ERROR_NETNAME_DELETED: return "The network name is no longer available (ERROR_NETNAME_DELETED)";
      case ERROR_OPERATION_ABORTED: return "The I/O operation has been aborted (ERROR_OPERATION_ABORTED)";
      case ERROR_NOT_FOUND: return "Element not found (ERROR_NOT_FOUND)";
      case ERROR_INVALID_STATE: return "The pool is shut down (ERROR_INVALID_STATE)";
      default: return "Win32 error " + std::to_string(ev);
    }
  }
  /// The portable condition an error corresponds to, where there is one (std::errc's values).
  boost::system::error_condition default_error_condition(int ev) const noexcept override {
    using std::errc;
    auto portable = [](errc e) {
      return boost::system::error_condition(static_cast<int>(e), boost::system::generic_category());
    };
    switch (ev) {
      case ERROR_FILE_NOT_FOUND:
      case ERROR_PATH_NOT_FOUND: return portable(errc::no_such_file_or_directory);
      case ERROR_ACCESS_DENIED: return portable(errc::permission_denied);
      case ERROR_INVALID_HANDLE: return portable(errc::bad_file_descriptor);
      case ERROR_NOT_ENOUGH_MEMORY: return portable(errc::not_enough_memory);
      case ERROR_INVALID_PARAMETER: return portable(errc::invalid_argument);
      case ERROR_BROKEN_PIPE:
      case ERROR_NO_DATA: return portable(errc::broken_pipe);
      case ERROR_DISK_FULL: return portable(errc::no_space_on_device);
      case ERROR_NETNAME_DELETED: return portable(errc::connection_reset);
      case ERROR_OPERATION_ABORTED: return portable(errc::operation_canceled);
      default: return boost::system::error_condition(ev, *this);
    }
  }
};

/// The one win32_error_category object.
inline const boost::system::error_category& win32_category() noexcept {
  static const win32_error_category category;
  return category;
}

/// A Win32 error as an error_code in win32_category() (ERROR_SUCCESS gives a code that is false).
inline boost::system::error_code make_error_code(DWORD error) noexcept {
  return {static_cast<int>(error), win32_category()};
}

namespace detail {

/// One operation in flight: the OVERLAPPED first, so that the handle's routine leads back to it.
struct op_base {
  OVERLAPPED overlapped{};
  void (*complete)(op_base* self, DWORD error, DWORD bytes) noexcept = nullptr;
};

/// The routine of every overlapped_handle: completes the operation the OVERLAPPED belongs to.
inline VOID WINAPI complete_routine(DWORD error, DWORD bytes, LPOVERLAPPED overlapped) {
  auto* op = reinterpret_cast<op_base*>(overlapped);
  op->complete(op, error, bytes);
}

/// A cancellation slot's handler: asks for the operation's cancel (CancelIoEx finds nothing once it
/// has completed, and the slot is cleared before the completion handler runs).
struct cancel_handler {
  HANDLE handle;
  OVERLAPPED* overlapped;
  void operator()(boost::asio::cancellation_type_t type) const noexcept {
    if (type != boost::asio::cancellation_type::none) CancelIoEx(handle, overlapped);
  }
};

template <class Handler, class IoExecutor>
struct op final : op_base {
  using handler_executor = boost::asio::associated_executor_t<Handler, IoExecutor>;
  op(Handler&& h, const IoExecutor& io_ex)
      : handler(std::move(h)),
        work(boost::asio::make_work_guard(boost::asio::get_associated_executor(handler, io_ex))) {
    complete = &op::do_complete;
  }
  static void do_complete(op_base* base, DWORD error, DWORD bytes) noexcept {
    auto* self = static_cast<op*>(base);
    auto slot = boost::asio::get_associated_cancellation_slot(self->handler);
    if (slot.is_connected()) slot.clear();
    Handler h(std::move(self->handler));
    auto guard = std::move(self->work);
    delete self;
    // A read at the end of a file is ERROR_HANDLE_EOF, as the routine would get it.
    const boost::system::error_code ec = error == ERROR_SUCCESS ? boost::system::error_code() : make_error_code(error);
    const std::size_t n = bytes;
    auto ex = guard.get_executor();
    boost::asio::dispatch(ex, [h = std::move(h), ec, n]() mutable { std::move(h)(ec, n); });
  }
  Handler handler;
  boost::asio::executor_work_guard<handler_executor> work;
};

}  // namespace detail

/// An overlapped HANDLE (file, pipe, socket) associated with a pool, with Asio-style asynchronous
/// reads and writes. Owns the handle: the destructor closes it (which completes what is pending with
/// ERROR_OPERATION_ABORTED).
class overlapped_handle {
 public:
  /// The pool's executor: where completions run unless the handler names another.
  using executor_type = thread_pool::executor_type;
  /// A Win32 HANDLE.
  using native_handle_type = HANDLE;

  /// Associates `handle` with `pool`; throws boost::system::system_error (win32_category) when it
  /// cannot (the handle is then still the caller's).
  overlapped_handle(thread_pool& pool, HANDLE handle) : pool_(&pool), handle_(handle) {
    const HRESULT hr = pool.associate(handle, &detail::complete_routine);
    if (FAILED(hr)) {
      handle_ = INVALID_HANDLE_VALUE;
      throw boost::system::system_error(make_error_code(static_cast<DWORD>(hr) & 0xFFFF),
                                        "w3tp::asio::overlapped_handle");
    }
  }
  overlapped_handle(const overlapped_handle&) = delete;
  overlapped_handle& operator=(const overlapped_handle&) = delete;
  /// Takes over the other's handle (the other is left closed).
  overlapped_handle(overlapped_handle&& other) noexcept
      : pool_(other.pool_), handle_(std::exchange(other.handle_, INVALID_HANDLE_VALUE)) {}
  ~overlapped_handle() { close(); }

  /// The pool's executor.
  executor_type get_executor() const noexcept { return pool_->get_executor(); }
  /// The HANDLE (still owned by this object).
  native_handle_type native_handle() const noexcept { return handle_; }
  /// False after close() or a move.
  bool is_open() const noexcept { return handle_ != INVALID_HANDLE_VALUE; }
  /// CloseHandle: pending operations complete with ERROR_OPERATION_ABORTED.
  void close() noexcept {
    if (handle_ != INVALID_HANDLE_VALUE) CloseHandle(std::exchange(handle_, INVALID_HANDLE_VALUE));
  }
  /// CancelIoEx(handle, NULL): every pending operation completes with ERROR_OPERATION_ABORTED.
  void cancel() noexcept { CancelIoEx(handle_, nullptr); }

  /// Reads up to buffer_size(buffer) bytes at `offset` (files; ignored by pipes and sockets).
  /// Completion signature: void(boost::system::error_code, std::size_t); ERROR_HANDLE_EOF at the end.
  template <class MutableBuffer, class Token>
  auto async_read_some_at(std::uint64_t offset, const MutableBuffer& buffer, Token&& token) {
    return start<true>(offset, boost::asio::mutable_buffer(buffer), std::forward<Token>(token));
  }
  /// Writes all of the buffer at `offset` (files; ignored by pipes and sockets): w3tp completes a write
  /// only when every byte went, so the count is the buffer's size on success.
  template <class ConstBuffer, class Token>
  auto async_write_some_at(std::uint64_t offset, const ConstBuffer& buffer, Token&& token) {
    return start<false>(offset, boost::asio::const_buffer(buffer), std::forward<Token>(token));
  }
  /// Stream forms (pipes, sockets): the offset is 0.
  template <class MutableBuffer, class Token>
  auto async_read_some(const MutableBuffer& buffer, Token&& token) {
    return async_read_some_at(0, buffer, std::forward<Token>(token));
  }
  /// async_write_some_at at offset 0, for pipes and sockets.
  template <class ConstBuffer, class Token>
  auto async_write_some(const ConstBuffer& buffer, Token&& token) {
    return async_write_some_at(0, buffer, std::forward<Token>(token));
  }

 private:
  template <bool Read, class Buffer, class Token>
  auto start(std::uint64_t offset, Buffer buffer, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, std::uint64_t off, Buffer buf) {
          using handler_type = decltype(handler);
          using op_type = detail::op<handler_type, executor_type>;
          auto* o = new op_type(std::move(handler), get_executor());
          o->overlapped.Offset = static_cast<DWORD>(off);
          o->overlapped.OffsetHigh = static_cast<DWORD>(off >> 32);
          auto slot = boost::asio::get_associated_cancellation_slot(o->handler);
          if (slot.is_connected()) slot.template emplace<detail::cancel_handler>(handle_, &o->overlapped);
          const DWORD len = static_cast<DWORD>(buf.size() > 0xFFFFFFFFu ? 0xFFFFFFFFu : buf.size());
          BOOL ok;
          if constexpr (Read)
            ok = ReadFile(handle_, buf.data(), len, nullptr, &o->overlapped);
          else
            ok = WriteFile(handle_, buf.data(), len, nullptr, &o->overlapped);
          if (!ok && GetLastError() != ERROR_IO_PENDING) {
            // Failed at once: no routine runs, so the handler completes from here, through its executor
            // (never inside this call).
            const DWORD error = GetLastError();
            if (slot.is_connected()) slot.clear();
            handler_type h(std::move(o->handler));
            auto guard = std::move(o->work);
            delete o;
            auto ex = guard.get_executor();
            boost::asio::post(ex, [h = std::move(h), error]() mutable { std::move(h)(make_error_code(error), 0); });
          }
        },
        token, offset, buffer);
  }

  thread_pool* pool_;
  HANDLE handle_;
};

}  // namespace w3tp::asio

#endif  // W3TP_ASIO_HPP
