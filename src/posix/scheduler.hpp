// SPDX-License-Identifier: MIT
// The worker threads: each one's state, and the scheduler that runs them (src/posix/pool.cpp).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "posix/engine.hpp"

// The forward declarations of the front end's types are in posix/handle.hpp.
namespace w3tp::posix {

/// Per-thread state of a pool thread.
struct worker {
  /// Marks the start of a routine on this (the calling) thread; end_routine marks its end.
  void begin_routine() noexcept {
    routines.store(routines.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    in_routine.store(true, std::memory_order_release);
  }
  void end_routine() noexcept { in_routine.store(false, std::memory_order_relaxed); }

  scheduler* sched = nullptr;
  unsigned index = 0;
  bool extra = false;  // added by IncrementThreadCount or for starvation
  // Retired, waiting to be reused (written under scheduler::threads_mu_, read by the gate without it).
  std::atomic<bool> parked{false};
  std::atomic<bool> in_routine{false};
  /// Where the worker is between running items (rest_busy, rest_idle, rest_claimed): see `rest`.
  enum : std::uint8_t { rest_busy, rest_idle, rest_claimed };
  // rest_busy outside the idle section of its loop (and once it took the wake-up it was claimed for);
  // rest_idle inside it; rest_claimed once wake_idle() chose it and sent it a wake-up. Only these
  // moves: busy->idle and idle/claimed->busy by the worker, idle->claimed by wake_idle(), and
  // claimed->idle by wake_taken() (a claim given back because another thread took its wake-up).
  std::atomic<std::uint8_t> rest{rest_busy};
  std::atomic<bool> exited{false};
  small_mutex lock;  // guards local
  node_fifo local;   // items due on this worker; idle workers steal from here
  std::atomic<unsigned> local_size{0};
  // The engine's per-thread state (the worker's io_uring ring): written by the thread itself when it
  // starts and stops, read by others (wake-ups, help), hence atomic.
  std::atomic<void*> engine_state{nullptr};
  // Routines started by this thread so far (only this thread writes it): lets a helper tell a routine
  // that has been running since it last looked from one that started since.
  std::atomic<std::uint32_t> routines{0};
  std::thread thread;
  // This thread's share of the pool's count of owed routines (see pool_impl::owe_routine); on its own
  // cache line so that the per-operation increments and decrements never bounce between cores.
  alignas(64) std::atomic<std::int64_t> owed{0};
  // Routines run by this thread, for thread_pool::stats() (only this thread writes them).
  std::atomic<std::uint64_t> completions{0};  // of I/O operations
  std::atomic<std::uint64_t> posts{0};        // posts and executor tasks
  /// One more of `counter` (a counter only this thread writes).
  static void count(std::atomic<std::uint64_t>& counter) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // References of delivered operations not dropped yet, all on one handle (only this thread touches
  // them; see deliver()): a run of routines for one handle drops their references with one atomic
  // instead of one each, so that two threads serving one handle do not pass its line back and forth.
  handle_slot* held = nullptr;
  std::uint32_t held_refs = 0;
  /// Drops the held references (before anything that may block, or a routine of another handle).
  void drop_held() noexcept {
    if (held_refs != 0) release_handle(held, held_refs);
    held = nullptr;
    held_refs = 0;
  }
};

// ---------------------------------------------------------------------------------------------
// Scheduler

/// The pool's threads and queues: every worker has a local FIFO (items made on that thread, and
/// completions it reaped), there is one global FIFO for items from other threads, and an idle worker
/// steals from busy ones, so no due item waits behind a routine that blocks while a thread is idle.
class scheduler {
 public:
  scheduler(pool_impl& pool, unsigned base_threads, unsigned max_threads);
  ~scheduler();

  void start(engine& e);
  /// Makes an item due: on a pool thread of this pool it goes to that worker's local FIFO, otherwise
  /// to the global FIFO and an idle worker is woken.
  void push(queue_node* n) noexcept;
  /// Makes an item due on worker w (which must be the calling thread's).
  void push_local(worker& w, queue_node* n) noexcept;
  /// As push_local for a chain of n items linked through next_ (first..last).
  void push_local_chain(worker& w, queue_node* first, queue_node* last, unsigned n) noexcept;
  /// Makes an item due on any pool thread (the global FIFO), waking an idle one.
  void push_global(queue_node* n) noexcept;
  /// The worker slots in use (some may have exited), and one of them.
  unsigned slots() const noexcept { return slots_used_.load(std::memory_order_acquire); }
  worker& worker_at(unsigned i) noexcept { return workers_[i]; }
  const worker& worker_at(unsigned i) const noexcept { return workers_[i]; }
  /// For an engine that serves busy threads' requests (io_uring's help): whether the worker in slot i
  /// (i < slots()) is inside a routine now, and in `seq` how many routines it has started so far, so that
  /// one that has been running since the engine last looked can be told from one that started since.
  bool in_routine(unsigned i, std::uint32_t& seq) const noexcept {
    const worker& w = workers_[i];
    if (!w.in_routine.load(std::memory_order_acquire)) return false;
    seq = w.routines.load(std::memory_order_relaxed);
    return true;
  }
  /// An idle worker, or nullptr.
  worker* idle_worker() noexcept;
  /// For engines whose wake-ups reach any thread that looks (epoll: one shared eventfd): worker w took a
  /// wake-up. If w was claimed it was w's own; otherwise (w was busy, or idle and unclaimed) it was meant
  /// for a claimed worker, which then sleeps on: one claimed worker's claim is given back, so that the
  /// next wake_idle() claims it, and wakes it, again. Claimed workers never outnumber wake-ups on
  /// their way, so none of them sleeps on while the pool counts it as being woken.
  void wake_taken(worker& w) noexcept;
  /// One more / one fewer thread (IIS's IncrementThreadCount / DecrementThreadCount).
  void add_thread() noexcept { grow(false); }
  void remove_thread() noexcept;
  unsigned thread_count() const noexcept { return active_.load(std::memory_order_relaxed); }
  /// Threads the starvation gate added and has not retired yet.
  unsigned starvation_threads() const noexcept { return starved_.load(std::memory_order_relaxed); }
  /// Stops and joins every worker (the calling one, if it is a worker, is detached instead).
  void stop() noexcept;
  /// The calling thread's worker if it belongs to this scheduler.
  worker* current() const noexcept;
  unsigned idle_count() const noexcept { return idle_.load(std::memory_order_seq_cst); }
  bool stopping() const noexcept { return stop_.load(std::memory_order_acquire); }

 private:
  void spawn(unsigned slot, bool extra);
  /// Parks a thread that left the pool until add_thread reuses it (true) or the pool stops (false).
  bool park(worker& w);
  /// Adds a thread (a parked one if there is one): for IncrementThreadCount, or for starvation.
  bool grow(bool starvation) noexcept;
  /// Threads the pool should have now: the base, IncrementThreadCount's, and the gate's.
  unsigned wanted() const noexcept {
    return target_.load(std::memory_order_seq_cst) + starved_.load(std::memory_order_seq_cst);
  }
  /// Wakes idle extra threads so that those beyond wanted() retire.
  void wake_extras() noexcept;
  /// The gate thread: adds a thread when every thread has been in one routine for a tick while work
  /// waits (API.md addition 12), retires such threads when the pool idles again.
  void gate() noexcept;
  void wake_gate() noexcept;
  void run(worker& w);
  void run_item(worker& w, queue_node* n) noexcept;
  queue_node* pop_local(worker& w) noexcept;
  queue_node* pop_global() noexcept;
  queue_node* steal(worker& self) noexcept;
  bool work_visible(const worker& self) const noexcept;
  void wake_idle() noexcept;

  pool_impl& pool_;
  engine* engine_ = nullptr;
  unsigned base_;
  unsigned max_;
  std::unique_ptr<worker[]> workers_;  // max_ slots; a slot is live while its thread runs
  std::atomic<unsigned> slots_used_{0};
  std::atomic<unsigned> active_{0};
  std::atomic<unsigned> target_{0};
  std::atomic<unsigned> idle_{0};
  std::atomic<bool> stop_{false};
  std::mutex threads_mu_;  // spawning, parking and joining
  std::condition_variable park_cv_;
  std::atomic<unsigned> starved_{0};  // threads the gate added, not retired yet
  std::thread gate_;
  std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  std::atomic<bool> gate_asleep_{false};
  alignas(64) small_mutex global_mu_;
  node_fifo global_;
  std::atomic<unsigned> global_size_{0};
};

}  // namespace w3tp::posix
