// SPDX-License-Identifier: MIT
// The pool shell that every platform's pool_impl is built on: its reference count, the shutdown state
// machine, and the thread counts it starts with. thread_pool's members are defined once, on top of it
// (src/common/thread_pool.cpp); what differs per platform is the pool_impl in src/posix/pool.hpp and
// src/iocp/iocp.hpp.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "w3tp/w3tp.hpp"

namespace w3tp::detail {

/// The threads a pool starts with (pool_options::threads; 0 means the CPU count, at least 2) and the
/// most it may have (max_threads; 0 means 256; never fewer than the base).
struct thread_counts {
  unsigned base;
  unsigned max;
};
thread_counts thread_counts_for(const pool_options& options) noexcept;

/// A pool's reference count: the thread_pool object and every running pool thread (on POSIX also
/// every associated handle) hold a reference, so a pool destroyed from its own routine stays valid
/// until its last thread has left it. The last release deletes the Pool.
template <class Pool>
class ref_counted {
 public:
  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete static_cast<Pool*>(this);
  }

 protected:
  ref_counted() = default;
  ~ref_counted() = default;

 private:
  std::atomic<long> refs_{1};
};

/// shutdown()'s state machine: running, then stopping (from the first call on), then stopped (when that
/// call has done its work). The pool refuses new work as soon as it is not running.
class shutdown_state {
 public:
  /// Neither stopping nor stopped (seq_cst: the pools pair it with their counts of accepted work).
  bool running() const noexcept { return state_.load(std::memory_order_seq_cst) == k_running; }

  /// Called first by shutdown(). True for the first call, which then does the work and calls finish().
  /// False for any later call, once the first has finished; or at once when `may_wait` is false (a pool
  /// thread: the first call may be waiting for that very thread's routine to return).
  bool begin(bool may_wait) {
    std::unique_lock lock(mu_);
    const int s = state_.load(std::memory_order_seq_cst);
    if (s == k_stopped) return false;
    if (s == k_stopping) {
      if (may_wait) cv_.wait(lock, [&] { return state_.load(std::memory_order_seq_cst) == k_stopped; });
      return false;
    }
    state_.store(k_stopping, std::memory_order_seq_cst);
    return true;
  }

  /// The first call's work is done: stopped, and every waiting call returns.
  void finish() {
    {
      std::lock_guard lock(mu_);
      state_.store(k_stopped, std::memory_order_seq_cst);
    }
    cv_.notify_all();
  }

  /// Stopped without a shutdown() call (a constructor that failed half-way).
  void abandon() noexcept { state_.store(k_stopped, std::memory_order_seq_cst); }

  /// For a pool whose shutdown waits on a count under this state's lock: waits until `done()` holds;
  /// notify() (called after the count changed, while not running) wakes it.
  template <class Pred>
  void wait_until(Pred done) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, done);
  }
  void notify() {
    // The lock orders this notification after the waiter's check of its predicate.
    std::lock_guard lock(mu_);
    cv_.notify_all();
  }

 private:
  enum : int { k_running = 0, k_stopping = 1, k_stopped = 2 };
  std::atomic<int> state_{k_running};
  std::mutex mu_;
  std::condition_variable cv_;
};

/// thread_pool::extension()'s object: made on first use, destroyed by reset() (shutdown) or with the
/// pool. Thread-safe.
class extension_holder {
 public:
  extension_holder() = default;
  extension_holder(const extension_holder&) = delete;
  extension_holder& operator=(const extension_holder&) = delete;
  ~extension_holder() { reset(); }

  void* get(void* (*make)(), void (*destroy)(void*) noexcept) {
    std::lock_guard lock(mu_);
    if (object_ == nullptr) {
      object_ = make();  // may throw: nothing is kept then
      destroy_ = destroy;
    }
    return object_;
  }
  void reset() noexcept {
    void* object;
    void (*destroy)(void*) noexcept;
    {
      std::lock_guard lock(mu_);
      object = object_;
      destroy = destroy_;
      object_ = nullptr;
    }
    if (object != nullptr) destroy(object);  // outside the lock: it may join threads that call get()
  }

 private:
  std::mutex mu_;
  void* object_ = nullptr;
  void (*destroy_)(void*) noexcept = nullptr;
};

}  // namespace w3tp::detail
