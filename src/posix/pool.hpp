// SPDX-License-Identifier: MIT
// The POSIX pool: reference counted, owns the engine and the scheduler (src/posix/pool.cpp).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "common/shell.hpp"
#include "posix/scheduler.hpp"

namespace w3tp::detail {

/// The POSIX pool, on the shell every platform shares (common/shell.hpp): reference counted (the
/// thread_pool object, every running worker thread and every associated handle hold a reference).
class pool_impl : public ref_counted<pool_impl> {
 public:
  pool_impl(thread_pool& owner, pool_options options);
  ~pool_impl();

  backend kind() const noexcept { return engine_->kind(); }
  std::string_view fallback_reason() const noexcept { return fallback_reason_; }
  posix::engine& eng() noexcept { return *engine_; }
  posix::scheduler& sched() noexcept { return *sched_; }
  IHttpServer& http() noexcept { return http_; }
  extension_holder& ext() noexcept { return ext_; }
  const pool_options& options() const noexcept { return options_; }

  /// Accounts for one more owed routine; false (and nothing owed) once shutdown has begun.
  bool owe_routine() noexcept;
  /// One owed routine has run (or an owed item was dropped).
  void pay_routine() noexcept;
  bool accepting() const noexcept { return stop_.running() && !stale(); }
  /// True in a child of fork() for a pool that the parent made (src/posix/fork.cpp): it refuses all.
  bool stale() const noexcept { return fork_generation_ != posix::fork_generation(); }

  /// What thread_pool asks every platform's pool (src/common/thread_pool.cpp).
  unsigned thread_count() const noexcept { return stale() ? 0 : sched_->thread_count(); }
  bool on_own_thread() const noexcept { return sched_->current() != nullptr; }
  void add_thread() noexcept;
  void remove_thread() noexcept {
    if (!stale()) sched_->remove_thread();
  }
  pool_stats stats() const noexcept;
  HRESULT associate(HANDLE h, LPOVERLAPPED_COMPLETION_ROUTINE fn, routine_base* callable) noexcept;
  HRESULT post(LPOVERLAPPED_COMPLETION_ROUTINE fn, DWORD error, DWORD bytes, OVERLAPPED* ov) noexcept;
  void submit_task(task_base* t) noexcept;
  void shutdown();

  /// Runs a user callback with the pool's exception policy.
  template <class F>
  void guarded(F&& f) noexcept {
    try {
      f();
    } catch (...) {
      on_exception(std::current_exception());
    }
  }

 private:
  void on_exception(std::exception_ptr e) noexcept;

  const unsigned fork_generation_ = posix::fork_generation();
  pool_options options_;
  std::string fallback_reason_;
  std::unique_ptr<posix::engine> engine_;
  std::unique_ptr<posix::scheduler> sched_;
  http_server_impl http_;
  shutdown_state stop_;
  extension_holder ext_;
  void add_owed(std::int64_t by) noexcept;
  std::int64_t owed_total() noexcept;
  // Owed routines, counted in shards: each worker's own (worker::owed) plus this one for threads
  // outside the pool. Only the sum means anything (a routine may be owed on one shard and paid on
  // another). owed_epoch_ moves after every payment once shutdown has begun, for shutdown to wait on.
  alignas(64) std::atomic<std::int64_t> external_owed_{0};
  std::atomic<std::uint32_t> owed_epoch_{0};
};

}  // namespace w3tp::detail
