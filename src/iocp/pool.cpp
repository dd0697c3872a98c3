// SPDX-License-Identifier: MIT
// The Windows pool: a completion port per pool, association by CreateIoCompletionPort, worker threads
// that take one packet at a time, post, the thread count and shutdown (thread_pool's members are in
// src/common/thread_pool.cpp).
//
// On Windows the application's CreateFile/ReadFile/WriteFile/CancelIoEx/CloseHandle are the system's
// own. What w3tp owns is the association, the pool, post, the thread count and shutdown (API.md, "On
// Windows"); the system's completion packets carry the status that the routine receives.
#include <algorithm>
#include <cstdio>
#include <new>
#include <system_error>

#include <fmt/format.h>

#include "iocp/iocp.hpp"

namespace w3tp::iocp {

namespace {

// The pool whose thread this is.
thread_local detail::pool_impl* t_pool = nullptr;

// ntdll's NtQueryInformationFile and RtlNtStatusToDosError, found at run time: MinGW's import library
// and headers for the native API vary between versions, and both functions exist in every Windows that
// has completion ports (and in Wine).
struct io_status_block {
  union {
    LONG Status;
    PVOID Pointer;
  };
  ULONG_PTR Information;
};
using nt_query_information_file_fn = LONG(WINAPI*)(HANDLE, io_status_block*, PVOID, ULONG, int);
using rtl_nt_status_to_dos_error_fn = ULONG(WINAPI*)(LONG);
using set_thread_description_fn = HRESULT(WINAPI*)(HANDLE, PCWSTR);

constexpr int k_file_mode_information = 16;             // FILE_INFORMATION_CLASS::FileModeInformation
constexpr ULONG k_file_synchronous_io_alert = 0x10;     // FILE_SYNCHRONOUS_IO_ALERT
constexpr ULONG k_file_synchronous_io_nonalert = 0x20;  // FILE_SYNCHRONOUS_IO_NONALERT

template <class Fn>
Fn find_function(const char* module, const char* name) noexcept {
  HMODULE m = GetModuleHandleA(module);
  if (m == nullptr) return nullptr;
  // Through void(*)(): GCC accepts that one as "any function type" without -Wcast-function-type.
  return reinterpret_cast<Fn>(reinterpret_cast<void (*)()>(GetProcAddress(m, name)));
}

struct native_api {
  nt_query_information_file_fn query_information_file =
      find_function<nt_query_information_file_fn>("ntdll.dll", "NtQueryInformationFile");
  rtl_nt_status_to_dos_error_fn status_to_dos_error =
      find_function<rtl_nt_status_to_dos_error_fn>("ntdll.dll", "RtlNtStatusToDosError");
  set_thread_description_fn set_thread_description =
      find_function<set_thread_description_fn>("kernel32.dll", "SetThreadDescription");
};

const native_api& native() noexcept {
  static const native_api api;
  return api;
}

// Whether a handle may be bound to a completion port: ERROR_SUCCESS, ERROR_INVALID_PARAMETER for a file
// object opened for synchronous I/O (CreateFile without FILE_FLAG_OVERLAPPED), ERROR_INVALID_HANDLE for a
// value that is not a handle of this process. Objects that are not files (the query does not apply) and
// systems without the query pass: CreateIoCompletionPort then gives the system's own answer.
DWORD check_overlapped(HANDLE h) noexcept {
  const native_api& api = native();
  if (api.query_information_file == nullptr) return ERROR_SUCCESS;
  io_status_block iosb{};
  ULONG mode = 0;
  LONG status = api.query_information_file(h, &iosb, &mode, sizeof mode, k_file_mode_information);
  if (status >= 0)
    return (mode & (k_file_synchronous_io_alert | k_file_synchronous_io_nonalert)) != 0 ? ERROR_INVALID_PARAMETER
                                                                                        : ERROR_SUCCESS;
  DWORD error = api.status_to_dos_error != nullptr ? api.status_to_dos_error(status) : ERROR_SUCCESS;
  return error == ERROR_INVALID_HANDLE ? ERROR_INVALID_HANDLE : ERROR_SUCCESS;
}

void name_thread(std::size_t slot) noexcept {
  // SetThreadDescription exists from Windows 10 1607 on; without it threads stay unnamed.
  if (auto set = native().set_thread_description; set != nullptr) {
    wchar_t name[32];
    std::swprintf(name, 32, L"w3tp-worker-%u", static_cast<unsigned>(slot));
    set(GetCurrentThread(), name);
  }
}

}  // namespace

}  // namespace w3tp::iocp

// =============================================================================================
namespace w3tp::detail {

using namespace w3tp::iocp;

namespace {

void check_backend(const pool_options& options) {
  backend b = requested_backend(options);
  if (b == backend::io_uring || b == backend::epoll)
    throw std::system_error(
        std::make_error_code(std::errc::not_supported),
        fmt::format("the {} backend exists only on Linux; on Windows w3tp uses iocp", to_string(b)));
}

}  // namespace

pool_impl::pool_impl(thread_pool& owner, pool_options options) : options_(std::move(options)), http_(owner) {
  check_backend(options_);
  const thread_counts counts = thread_counts_for(options_);
  base_ = counts.base;
  max_ = counts.max;
  // Concurrency max_threads, not 0 (= the CPU count): the port must release a waiting thread for a due
  // packet while other threads run or block in routines (API.md, behaviour 9).
  port_ = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, max_);
  if (port_ == nullptr) {
    DWORD error = GetLastError();
    throw std::system_error(static_cast<int>(error), std::system_category(),
                            "w3tp could not create an I/O completion port");
  }
  try {
    std::lock_guard lock(threads_mu_);
    workers_.reserve(max_);
    target_ = base_;
    for (unsigned i = 0; i < base_; ++i) spawn(i);
  } catch (...) {
    // The threads that did start hold references to this object: stop and join them before the
    // new-expression frees it.
    stop_.abandon();
    stop_threads();
    CloseHandle(port_);
    throw;
  }
  log_format(options_, log_level::info, "w3tp pool: backend iocp, {} threads (at most {})", base_, max_);
}

pool_impl::~pool_impl() {
  if (port_ != nullptr) CloseHandle(port_);
}

bool pool_impl::on_own_thread() const noexcept { return t_pool == this; }

bool pool_impl::begin_call() noexcept {
  calls_in_progress_.fetch_add(1, std::memory_order_seq_cst);
  if (stop_.running()) return true;
  end_call();
  return false;
}

void pool_impl::end_call() noexcept {
  calls_in_progress_.fetch_sub(1, std::memory_order_seq_cst);
  if (!stop_.running()) stop_.notify();  // shutdown is waiting (or about to)
}

void pool_impl::on_exception(std::exception_ptr e) noexcept { handle_routine_exception(options_, e); }

bool pool_impl::post_control(key_record& key, OVERLAPPED* ov) noexcept {
  return PostQueuedCompletionStatus(port_, 0, reinterpret_cast<ULONG_PTR>(&key), ov) != FALSE;
}

HRESULT pool_impl::associate(HANDLE h, LPOVERLAPPED_COMPLETION_ROUTINE fn, routine_base* callable) noexcept {
  std::unique_ptr<routine_base> owned(callable);
  // Windows versions answer NULL and INVALID_HANDLE_VALUE differently (INVALID_HANDLE_VALUE is also the
  // current-process pseudo handle), so w3tp answers them itself.
  if (h == nullptr || h == INVALID_HANDLE_VALUE) return HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE);
  if (fn == nullptr && callable == nullptr) return E_INVALIDARG;
  if (DWORD error = check_overlapped(h); error != ERROR_SUCCESS) return HRESULT_FROM_WIN32(error);
  if (!begin_call()) return HRESULT_FROM_WIN32(ERROR_INVALID_STATE);
  struct leave_at_exit {
    pool_impl* pool;
    ~leave_at_exit() { pool->end_call(); }
  } leave_guard{this};

  association_record* record = nullptr;
  try {
    std::lock_guard lock(records_mu_);
    if (callable != nullptr) {
      // The record takes the callable only once it exists, so that a failed allocation destroys it.
      auto made = std::make_unique<association_record>(static_cast<routine_base*>(nullptr));
      made->callable = std::move(owned);
      record = made.get();
      callable_records_.push_back(std::move(made));
    } else {
      auto& slot = fn_records_[fn];
      if (!slot) slot = std::make_unique<association_record>(fn);
      record = slot.get();
    }
  } catch (const std::bad_alloc&) {
    return E_OUTOFMEMORY;
  }

  if (CreateIoCompletionPort(h, port_, reinterpret_cast<ULONG_PTR>(record), 0) != nullptr) return S_OK;
  // The system refused: a handle bound to a port already (ERROR_INVALID_PARAMETER), a closed handle
  // (ERROR_INVALID_HANDLE), or an object that cannot be bound.
  DWORD error = GetLastError();
  if (callable != nullptr) {
    std::lock_guard lock(records_mu_);
    auto it = std::find_if(callable_records_.rbegin(), callable_records_.rend(),
                           [record](const auto& r) { return r.get() == record; });
    if (it != callable_records_.rend()) callable_records_.erase(std::next(it).base());
  }
  return HRESULT_FROM_WIN32(error != ERROR_SUCCESS ? error : ERROR_INVALID_PARAMETER);
}

HRESULT pool_impl::post(LPOVERLAPPED_COMPLETION_ROUTINE fn, DWORD error, DWORD bytes, OVERLAPPED* ov) noexcept {
  if (fn == nullptr) return E_INVALIDARG;
  if (!begin_call()) return HRESULT_FROM_WIN32(ERROR_INVALID_STATE);
  auto* record = new (std::nothrow) post_record(fn, error);
  if (record == nullptr) {
    end_call();
    return E_OUTOFMEMORY;
  }
  queued_.fetch_add(1, std::memory_order_relaxed);  // before the packet: its thread may run it at once
  if (!PostQueuedCompletionStatus(port_, bytes, reinterpret_cast<ULONG_PTR>(record), ov)) {
    DWORD why = GetLastError();
    queued_.fetch_sub(1, std::memory_order_relaxed);
    delete record;
    end_call();
    return HRESULT_FROM_WIN32(why);
  }
  end_call();
  return S_OK;
}

void pool_impl::submit_task(task_base* t) noexcept {
  if (!begin_call()) {
    t->complete_(t, false);  // a pool that is shut down destroys work without running it
    return;
  }
  queued_.fetch_add(1, std::memory_order_relaxed);
  if (!post_control(task_key_, reinterpret_cast<OVERLAPPED*>(t))) {
    queued_.fetch_sub(1, std::memory_order_relaxed);
    t->complete_(t, false);
  }
  end_call();
}

void pool_impl::spawn(std::size_t slot) {
  if (slot == workers_.size()) workers_.push_back(std::make_unique<worker>());
  worker& w = *workers_[slot];
  if (w.thread.joinable()) w.thread.join();  // a thread that retired from this slot
  w.exited.store(false, std::memory_order_relaxed);
  live_.fetch_add(1, std::memory_order_relaxed);
  retain();
  try {
    w.thread = std::thread([this, &w, slot] {
      name_thread(slot);
      run(w);
      release();
    });
  } catch (...) {
    live_.fetch_sub(1, std::memory_order_relaxed);
    w.exited.store(true, std::memory_order_relaxed);
    release();
    throw;
  }
}

void pool_impl::run(worker& self) noexcept {
  t_pool = this;
  // After its stop packet a thread drains: it runs every packet it can still take without waiting, and
  // leaves when the port is empty. Stop packets it takes while draining belong to other threads; it
  // queues them again as it leaves, so that every thread still gets one.
  bool draining = false;
  unsigned others_stops = 0;
  for (;;) {
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED* ov = nullptr;
    // One packet at a time: a batch taken with GetQueuedCompletionStatusEx would wait behind a routine
    // that blocks, while the port hands a single due packet to any idle thread (API.md, behaviour 9).
    BOOL ok = GetQueuedCompletionStatus(port_, &bytes, &key, &ov, draining ? 0 : INFINITE);
    // For a failed I/O the system has already turned the packet's NTSTATUS into the Win32 error with
    // RtlNtStatusToDosError (STATUS_END_OF_FILE: ERROR_HANDLE_EOF, STATUS_CANCELLED:
    // ERROR_OPERATION_ABORTED, STATUS_PIPE_BROKEN: ERROR_BROKEN_PIPE), as BindIoCompletionCallback does.
    DWORD error = ok ? ERROR_SUCCESS : GetLastError();
    if (!ok && ov == nullptr) {
      // No packet: the port is empty (draining), or gone, or the wait failed.
      if (draining || error == ERROR_ABANDONED_WAIT_0 || error == ERROR_INVALID_HANDLE) break;
      continue;
    }
    if (key == 0) continue;  // never one of w3tp's packets
    auto* record = reinterpret_cast<key_record*>(key);
    switch (record->kind) {
      case key_kind::routine_fn: {
        LPOVERLAPPED_COMPLETION_ROUTINE fn = static_cast<association_record*>(record)->fn;
        busy_.fetch_add(1, std::memory_order_relaxed);
        guarded([&] { fn(error, bytes, ov); });
        busy_.fetch_sub(1, std::memory_order_relaxed);
        completions_.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      case key_kind::routine_callable: {
        routine_base* r = static_cast<association_record*>(record)->callable.get();
        busy_.fetch_add(1, std::memory_order_relaxed);
        guarded([&] { r->invoke(error, bytes, ov); });
        busy_.fetch_sub(1, std::memory_order_relaxed);
        completions_.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      case key_kind::post: {
        auto* p = static_cast<post_record*>(record);
        LPOVERLAPPED_COMPLETION_ROUTINE fn = p->fn;
        DWORD posted_error = p->error;
        delete p;
        queued_.fetch_sub(1, std::memory_order_relaxed);
        busy_.fetch_add(1, std::memory_order_relaxed);
        guarded([&] { fn(posted_error, bytes, ov); });
        busy_.fetch_sub(1, std::memory_order_relaxed);
        posts_.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      case key_kind::task: {
        auto* t = reinterpret_cast<task_base*>(ov);
        queued_.fetch_sub(1, std::memory_order_relaxed);
        busy_.fetch_add(1, std::memory_order_relaxed);
        guarded([t] { t->complete_(t, true); });
        busy_.fetch_sub(1, std::memory_order_relaxed);
        posts_.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      case key_kind::stop:
        if (draining)
          ++others_stops;
        else
          draining = true;
        break;
      case key_kind::retire:
        if (!draining && should_retire(self)) {
          t_pool = nullptr;
          return;
        }
        break;
    }
  }
  for (; others_stops > 0; --others_stops) post_control(stop_key_, nullptr);
  live_.fetch_sub(1, std::memory_order_relaxed);
  self.exited.store(true, std::memory_order_release);
  t_pool = nullptr;
}

bool pool_impl::should_retire(worker& self) noexcept {
  std::lock_guard lock(threads_mu_);
  if (threads_stopping_) return false;                                 // this thread takes a stop packet instead
  if (live_.load(std::memory_order_relaxed) <= target_) return false;  // IncrementThreadCount came since
  live_.fetch_sub(1, std::memory_order_relaxed);
  self.exited.store(true, std::memory_order_release);
  return true;
}

void pool_impl::add_thread() noexcept {
  std::lock_guard lock(threads_mu_);
  if (threads_stopping_ || target_ >= max_) return;
  ++target_;
  // A thread that DecrementThreadCount asked to leave and that has not left yet stays instead.
  if (live_.load(std::memory_order_relaxed) >= target_) return;
  std::size_t slot = 0;
  while (slot < workers_.size() && !workers_[slot]->exited.load(std::memory_order_acquire)) ++slot;
  try {
    spawn(slot);
  } catch (...) {
    --target_;  // no thread (out of memory or of system resources): the count stays as it was
    return;
  }
  log_format(options_, log_level::info, "IncrementThreadCount: {} threads", target_);
}

pool_stats pool_impl::stats() const noexcept {
  pool_stats s;
  s.active_backend = backend::iocp;
  s.threads = live_.load(std::memory_order_relaxed);
  s.busy_threads = busy_.load(std::memory_order_relaxed);
  const std::int64_t queued = queued_.load(std::memory_order_relaxed);
  s.pending = queued > 0 ? static_cast<std::uint64_t>(queued) : 0;
  s.completions = completions_.load(std::memory_order_relaxed);
  s.posts = posts_.load(std::memory_order_relaxed);
  return s;
}

void pool_impl::remove_thread() noexcept {
  std::lock_guard lock(threads_mu_);
  if (threads_stopping_ || target_ <= base_) return;
  --target_;
  // The packet goes to a thread that waits on the port, so a thread busy in a routine finishes it first.
  if (!post_control(retire_key_, nullptr)) {
    ++target_;
    return;
  }
  log_format(options_, log_level::info, "DecrementThreadCount: {} threads wanted", target_);
}

void pool_impl::stop_threads() noexcept {
  std::vector<std::thread> joinable;
  {
    std::lock_guard lock(threads_mu_);
    threads_stopping_ = true;
    // One stop packet per thread. The port queues packets in FIFO order but does not promise to hand
    // them out in that order, so a thread does not leave at its stop packet: it drains the port first
    // (see run), and so every packet queued before the last thread leaves gets its routine.
    for (unsigned n = live_.load(std::memory_order_relaxed); n > 0; --n) post_control(stop_key_, nullptr);
    for (auto& w : workers_) {
      if (!w->thread.joinable()) continue;
      if (w->thread.get_id() == std::this_thread::get_id())
        w->thread.detach();  // shutdown from a routine: this thread drains and leaves when it returns
      else
        joinable.push_back(std::move(w->thread));
    }
  }
  for (auto& t : joinable) t.join();
}

void pool_impl::shutdown() {
  // A second call waits for the first, except from a pool thread: the first call may be waiting for
  // that thread's routine to return.
  if (!stop_.begin(!on_own_thread())) return;
  // From here on post, the executor and associate refuse. Calls that were accepted just before are
  // still queueing their packet: wait for them, so that every accepted post and task is in the port
  // before the stop packets. Their routines then run while the threads drain the port. Operations that
  // the application started with the system's ReadFile/WriteFile are not counted: the application
  // cancels or closes its handles, and lets their routines run, before it shuts the pool down.
  stop_.wait_until([&] { return calls_in_progress_.load(std::memory_order_seq_cst) == 0; });
  stop_threads();
  stop_.finish();
}

}  // namespace w3tp::detail
