// SPDX-License-Identifier: MIT
/// @file w3tp/w3tp.hpp
/// The C++ API of w3tp: a shared worker pool that runs the completion routines of overlapped I/O on
/// associated handles, as IIS's IHttpServer::AssociateWithThreadPool does, on every backend
/// (IOCP on Windows, io_uring or epoll on Linux).
#ifndef W3TP_W3TP_HPP
#define W3TP_W3TP_HPP

#include <any>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>

#include "w3tp/export.h"
#include "w3tp/httpserv.h"
#include "w3tp/version.h"
#include "w3tp/win32.h"

namespace w3tp {

/// The I/O backends. `automatic` picks the best one that starts on this machine.
enum class backend { automatic, iocp, io_uring, epoll };

/// "automatic", "iocp", "io_uring" or "epoll".
W3TP_API std::string_view to_string(backend) noexcept;

/// How serious a message to pool_options::on_log is.
enum class log_level { info, warning, error };

/// A snapshot of a pool's counters (thread_pool::stats()). The counts are read without stopping the
/// pool, so they may be a moment apart from each other.
struct pool_stats {
  /// The backend in use.
  backend active_backend = backend::automatic;
  /// Threads that run now (base threads, IncrementThreadCount's and the starvation gate's).
  unsigned threads = 0;
  /// Of those, the threads inside a routine (or an executor task) at the moment of the snapshot.
  unsigned busy_threads = 0;
  /// Threads the pool added by itself because every thread was busy while work waited (API.md,
  /// addition 12), not retired yet. Always 0 on Windows, where the completion port does this.
  unsigned starvation_threads = 0;
  /// Routines owed: operations and posts accepted whose routine has not run yet. On Windows, posts and
  /// tasks only (the system's ReadFile/WriteFile are not w3tp's to count).
  std::uint64_t pending = 0;
  /// Completion routines of I/O operations run so far.
  std::uint64_t completions = 0;
  /// Posted routines (thread_pool::post) and executor tasks run so far.
  std::uint64_t posts = 0;
};

/// How a pool is built.
struct pool_options {
  /// Worker threads; 0 gives std::thread::hardware_concurrency(), at least 2.
  unsigned threads = 0;
  /// Cap on the threads that IncrementThreadCount may add; 0 gives 256, as IIS.
  unsigned max_threads = 0;
  /// The backend to use. With `automatic`, the environment variable W3TP_BACKEND
  /// (auto, io_uring, epoll, iocp) chooses, then the best available one.
  backend preferred = backend::automatic;
  /// Called on the pool thread with the exception that a completion routine (or a task posted through
  /// the executor) let escape. Empty (the default): w3tp prints the exception and calls
  /// std::terminate, as IIS ends a worker process on an unhandled exception. When set, the pool
  /// thread goes on with its next completion after the handler returns.
  std::function<void(std::exception_ptr)> on_exception{};
  /// Called with each message the pool has for a person: the backend it chose and why it fell back
  /// (info, warning), thread count changes and starvation (info, warning), a routine's escaped
  /// exception (error). On any thread, possibly a pool thread; it must not block for long, and what
  /// it throws is ignored. Empty (the default): the pool says nothing.
  std::function<void(log_level, std::string_view)> on_log{};
};

class thread_pool;

namespace detail {

class pool_impl;
struct pool_access;

/// A type-erased completion routine owned by an association (implementation detail).
struct routine_base {
  virtual ~routine_base() = default;
  virtual void invoke(DWORD error, DWORD bytes, OVERLAPPED* overlapped) = 0;
};

template <class F>
struct routine_holder final : routine_base {
  template <class G>
  explicit routine_holder(G&& g) : fn_(std::forward<G>(g)) {}
  void invoke(DWORD error, DWORD bytes, OVERLAPPED* overlapped) override { fn_(error, bytes, overlapped); }
  F fn_;
};

/// What the executor answers to Boost.Asio's `execution::context` query (implementation detail): it
/// converts to the execution context type that Asio asks for (`boost::asio::execution_context&`),
/// which the pool makes on first use and destroys when it shuts down. So this header needs no Boost
/// include, and the conversion works whichever of Asio and w3tp a translation unit includes first.
struct context_proxy {
  thread_pool* pool;
  template <class Context>
  operator Context&() const;  // defined after thread_pool
};

/// A function object posted through the executor (implementation detail). `complete_` runs the
/// function when `run` is true, and in every case destroys the task.
struct task_base {
  void (*complete_)(task_base* self, bool run) = nullptr;
};

template <class F>
struct task_holder final : task_base {
  template <class G>
  explicit task_holder(G&& g) : fn_(std::forward<G>(g)) {
    complete_ = [](task_base* self, bool run) {
      std::unique_ptr<task_holder> owned(static_cast<task_holder*>(self));
      if (run) owned->fn_();
    };
  }
  F fn_;
};

}  // namespace detail

/// A pool of worker threads that runs completion routines and posted work.
class W3TP_API thread_pool {
 public:
  /// An executor that Boost.Asio accepts: `boost::asio::post(pool.get_executor(), f)` runs f on a
  /// pool thread. Work given to a pool that is shut down is destroyed without running.
  class W3TP_API executor_type {
   public:
    /// Runs f on a pool thread (never inside this call).
    template <class F>
    void execute(F&& f) const {
      using task = detail::task_holder<std::decay_t<F>>;
      pool_->submit_task(new task(std::forward<F>(f)));
    }
    /// The pool this executor submits to.
    thread_pool& context() const noexcept { return *pool_; }
    /// True on the pool's own threads.
    bool running_in_this_thread() const noexcept;
    /// Asio's `execution::blocking.never`, the property that asio::post and asio::defer require:
    /// execute() never runs f inline, so requiring it changes nothing. Recognised by shape (Asio's
    /// blocking_t has the static members never, possibly and always) so that this header needs no
    /// Boost include; any other property is left to Asio's prefer() fallback.
    template <class P, class R = typename P::polymorphic_query_result_type,
              std::enable_if_t<std::is_same_v<P, std::decay_t<decltype(R::never)>>, int> = 0>
    executor_type require(const P&) const noexcept {
      return *this;
    }
    /// asio::query(ex, execution::blocking): always blocking.never.
    template <class P, std::enable_if_t<std::is_same_v<P, std::decay_t<decltype(P::never)>> == false &&
                                            std::is_class_v<std::decay_t<decltype(P::possibly)>> &&
                                            std::is_class_v<std::decay_t<decltype(P::always)>>,
                                        int> = 0>
    static constexpr auto query(const P&) noexcept {
      return P::never;
    }
    /// asio::query(ex, execution::context): the Asio execution context of this pool (see
    /// detail::context_proxy), so that the executor converts to `boost::asio::any_io_executor` and Asio's
    /// timers and I/O objects accept it. Recognised by shape: Asio's context_t is the property whose
    /// polymorphic query result is std::any.
    template <class P, std::enable_if_t<std::is_same_v<typename P::polymorphic_query_result_type, std::any>, int> = 0>
    detail::context_proxy query(const P&) const noexcept {
      return detail::context_proxy{pool_};
    }
    /// Two executors are equal when they submit to the same pool.
    friend bool operator==(const executor_type& a, const executor_type& b) noexcept { return a.pool_ == b.pool_; }
    /// Not equal: they submit to different pools.
    friend bool operator!=(const executor_type& a, const executor_type& b) noexcept { return a.pool_ != b.pool_; }

   private:
    friend class thread_pool;
    explicit executor_type(thread_pool* pool) noexcept : pool_(pool) {}
    thread_pool* pool_;
  };

  /// Starts the pool. Throws std::system_error, with a sentence that says why, when a backend asked
  /// for by name cannot start on this machine.
  explicit thread_pool(pool_options options = {});
  /// Shuts the pool down (see shutdown()).
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  /// The backend in use (never `automatic`).
  backend active_backend() const noexcept;
  /// Why `automatic` did not get its first choice, or "".
  std::string_view fallback_reason() const noexcept;
  /// The number of threads the pool runs now (base threads plus those added by IncrementThreadCount).
  unsigned thread_count() const noexcept;
  /// The pool's counters now (threads, busy threads, starvation threads, pending routines, completions
  /// and posts run); see pool_stats.
  pool_stats stats() const noexcept;

  /// Binds an overlapped handle to this pool: its overlapped reads and writes complete by running
  /// `routine` on a pool thread. S_OK, or an HRESULT that says why not (API.md, behaviour 1).
  HRESULT associate(HANDLE handle, LPOVERLAPPED_COMPLETION_ROUTINE routine) noexcept;

  /// As above, with any callable `void(DWORD error, DWORD bytes, OVERLAPPED*)`. The callable is
  /// destroyed when the handle is closed and its last operation has completed.
  template <class F, class = std::enable_if_t<!std::is_convertible_v<F, LPOVERLAPPED_COMPLETION_ROUTINE> &&
                                              std::is_invocable_v<std::decay_t<F>&, DWORD, DWORD, OVERLAPPED*>>>
  HRESULT associate(HANDLE handle, F&& routine) {
    return associate_routine(handle, new detail::routine_holder<std::decay_t<F>>(std::forward<F>(routine)));
  }

  /// Runs `routine(error, bytes, overlapped)` once on a pool thread. E_INVALIDARG for a NULL routine,
  /// HRESULT_FROM_WIN32(ERROR_INVALID_STATE) after shutdown.
  HRESULT post(LPOVERLAPPED_COMPLETION_ROUTINE routine, DWORD error, DWORD bytes, OVERLAPPED* overlapped) noexcept;

  /// Refuses new work, cancels what would never finish by itself, waits until every routine that is
  /// owed has run, then joins the threads. Idempotent; safe from a pool thread.
  void shutdown();

  /// The pool's Asio-compatible executor.
  executor_type get_executor() noexcept { return executor_type(this); }

  /// The IIS view of this pool.
  IHttpServer& http_server() noexcept;

  /// An object of type T that lives as long as the pool's threads: made by the first call (with T's
  /// default constructor), destroyed by shutdown() after the last routine has run. One per pool: it
  /// exists for Boost.Asio's execution_context (detail::context_proxy); every call must name the same T.
  template <class T>
  T& extension() {
    return *static_cast<T*>(
        extension_slot([]() -> void* { return new T(); }, [](void* p) noexcept { delete static_cast<T*>(p); }));
  }

 private:
  friend struct detail::pool_access;  // w3tp's own sources (src/common/common.hpp)
  // Takes ownership of `routine` in every case.
  HRESULT associate_routine(HANDLE handle, detail::routine_base* routine) noexcept;
  // Takes ownership of `task` in every case.
  void submit_task(detail::task_base* task) noexcept;
  // The extension object (see extension()): made with `make` on first use, destroyed with `destroy`.
  void* extension_slot(void* (*make)(), void (*destroy)(void*) noexcept);

  detail::pool_impl* impl_;
};

template <class Context>
detail::context_proxy::operator Context&() const {
  return pool->extension<Context>();
}

/// The IHttpServer view of a pool.
W3TP_API IHttpServer& http_server(thread_pool& pool);

/// The process-wide shared pool, started on first use with default options and shut down at exit.
W3TP_API thread_pool& default_pool();

#ifndef _WIN32
/// POSIX only: wraps a descriptor that the application made (socket, pipe, file) in a HANDLE. The
/// handle owns the descriptor from then on (CloseHandle closes it). An invalid descriptor gives
/// INVALID_HANDLE_VALUE and ERROR_INVALID_HANDLE. The descriptor counts as opened for overlapped I/O.
W3TP_API HANDLE adopt_fd(int fd);

/// POSIX only: the descriptor behind a live handle, or -1.
W3TP_API int native_fd(HANDLE handle);
#endif

}  // namespace w3tp

#endif  // W3TP_W3TP_HPP
