// SPDX-License-Identifier: MIT
// The Windows pool (private header): one I/O completion port per pool, the records that completion
// keys point to, and pool_impl as thread_pool sees it on Windows.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/common.hpp"
#include "common/shell.hpp"
#include "w3tp/w3tp.hpp"

namespace w3tp::iocp {

/// What a completion key points to. Every packet that reaches the pool's port carries a key that
/// points to one of these records, so a worker knows what to run without looking anything up (and
/// without a table of HANDLE values, which the system reuses after CloseHandle).
enum class key_kind : std::uint32_t {
  routine_fn,        // an association with a function pointer: the packet is an I/O completion
  routine_callable,  // an association with a C++ callable: the packet is an I/O completion
  post,              // thread_pool::post: the record carries the routine and the error, and is freed after
  task,              // an executor task: the OVERLAPPED* of the packet is the detail::task_base*
  stop,              // shutdown: the thread that takes it leaves
  retire,            // DecrementThreadCount: the thread that takes it leaves if the pool has one too many
};

struct key_record {
  explicit key_record(key_kind k) noexcept : kind(k) {}
  key_kind kind;
};

/// The key of an associated handle. Function-pointer records are shared by every handle that names the
/// same routine; callable records belong to one association. Both live as long as the pool does,
/// because Windows gives no notice when an associated handle is closed.
struct association_record final : key_record {
  explicit association_record(LPOVERLAPPED_COMPLETION_ROUTINE f) noexcept : key_record(key_kind::routine_fn), fn(f) {}
  explicit association_record(detail::routine_base* c) noexcept : key_record(key_kind::routine_callable), callable(c) {}
  LPOVERLAPPED_COMPLETION_ROUTINE fn = nullptr;
  std::unique_ptr<detail::routine_base> callable;
};

/// The key of one post: the routine and the error travel here, the bytes and the OVERLAPPED* in the
/// packet itself, exactly as the caller gave them.
struct post_record final : key_record {
  post_record(LPOVERLAPPED_COMPLETION_ROUTINE f, DWORD e) noexcept : key_record(key_kind::post), fn(f), error(e) {}
  LPOVERLAPPED_COMPLETION_ROUTINE fn;
  DWORD error;
};

/// One pool thread.
struct worker {
  std::thread thread;
  std::atomic<bool> exited{false};  // set by the thread itself when it leaves (retired or stopped)
};

}  // namespace w3tp::iocp

namespace w3tp::detail {

/// The Windows pool, on the shell every platform shares (common/shell.hpp). The thread_pool object and
/// each running pool thread hold a reference, so a thread that shutdown() had to detach (shutdown
/// called from a routine) can still finish.
class pool_impl : public ref_counted<pool_impl> {
 public:
  pool_impl(thread_pool& owner, pool_options options);
  ~pool_impl();
  pool_impl(const pool_impl&) = delete;
  pool_impl& operator=(const pool_impl&) = delete;

  backend kind() const noexcept { return backend::iocp; }
  bool stale() const noexcept { return false; }  // Windows has no fork()
  std::string_view fallback_reason() const noexcept { return {}; }
  unsigned thread_count() const noexcept { return live_.load(std::memory_order_relaxed); }
  IHttpServer& http() noexcept { return http_; }
  extension_holder& ext() noexcept { return ext_; }
  bool on_own_thread() const noexcept;

  HRESULT associate(HANDLE h, LPOVERLAPPED_COMPLETION_ROUTINE fn, routine_base* callable) noexcept;
  HRESULT post(LPOVERLAPPED_COMPLETION_ROUTINE fn, DWORD error, DWORD bytes, OVERLAPPED* ov) noexcept;
  void submit_task(task_base* t) noexcept;
  void shutdown();
  void add_thread() noexcept;
  void remove_thread() noexcept;
  pool_stats stats() const noexcept;

 private:
  /// Accounts for one more call in progress (post, a task given to the executor, associate) until its
  /// packet is queued or its association made; false, with nothing counted, once shutdown has begun.
  bool begin_call() noexcept;
  /// The call is done.
  void end_call() noexcept;
  /// Starts a thread in slot `slot` (threads_mu_ held).
  void spawn(std::size_t slot);
  /// A pool thread's loop: one packet at a time, so that a routine that blocks holds back nothing else;
  /// after a stop packet, the rest of the port's packets, then the thread leaves.
  void run(iocp::worker& self) noexcept;
  /// Handles a retire packet: true (and `self` is accounted as gone) if this thread should leave.
  bool should_retire(iocp::worker& self) noexcept;
  /// Queues a stop packet for every live thread and joins them (detaching the calling thread if it is
  /// one); each thread drains the port before it leaves.
  void stop_threads() noexcept;
  /// Runs a user callback with the pool's exception policy.
  template <class F>
  void guarded(F&& f) noexcept {
    try {
      f();
    } catch (...) {
      on_exception(std::current_exception());
    }
  }
  void on_exception(std::exception_ptr e) noexcept;
  /// Queues a packet with one of the pool's static keys; false if the system refused.
  bool post_control(iocp::key_record& key, OVERLAPPED* ov) noexcept;

  pool_options options_;
  http_server_impl http_;
  HANDLE port_ = nullptr;
  unsigned base_ = 0;
  unsigned max_ = 0;

  // Shutdown.
  shutdown_state stop_;
  extension_holder ext_;
  std::atomic<std::uint64_t> calls_in_progress_{0};
  // For stats(): packets queued by post()/the executor and not run yet, routines running now, and the
  // routines run so far (I/O completions, and posts with tasks).
  std::atomic<std::int64_t> queued_{0};
  std::atomic<unsigned> busy_{0};
  std::atomic<std::uint64_t> completions_{0};
  std::atomic<std::uint64_t> posts_{0};

  // Threads: `target_` is the count that IncrementThreadCount/DecrementThreadCount ask for, `live_` the
  // threads that run now. Slots of threads that left are reused (after a join).
  std::mutex threads_mu_;
  std::vector<std::unique_ptr<iocp::worker>> workers_;
  unsigned target_ = 0;
  std::atomic<unsigned> live_{0};
  bool threads_stopping_ = false;

  // Association records (see association_record).
  std::mutex records_mu_;
  std::unordered_map<LPOVERLAPPED_COMPLETION_ROUTINE, std::unique_ptr<iocp::association_record>> fn_records_;
  std::vector<std::unique_ptr<iocp::association_record>> callable_records_;

  // The keys of control packets.
  iocp::key_record task_key_{iocp::key_kind::task};
  iocp::key_record stop_key_{iocp::key_kind::stop};
  iocp::key_record retire_key_{iocp::key_kind::retire};
};

}  // namespace w3tp::detail
