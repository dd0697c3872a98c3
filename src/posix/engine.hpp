// SPDX-License-Identifier: MIT
// The backend (engine) interface, its compile-time check and the factories (docs/BACKENDS.md).
#pragma once

#include <atomic>
#include <concepts>
#include <memory>
#include <string>
#include <type_traits>

#include "posix/operation.hpp"

// The forward declarations of the front end's types are in posix/handle.hpp.
namespace w3tp::posix {

/// What a backend provides (docs/BACKENDS.md). Every engine is a final class deriving from `engine`;
/// `backend_engine` checks each one at compile time, and the pool selects one at run time from the
/// table in src/posix/pool.cpp. Twelve functions are required; four hooks have defaults that fit a
/// backend without per-thread kernel state (epoll's), and only the io_uring engine overrides them.
class engine {
 public:
  virtual ~engine() = default;

  // --- Required ------------------------------------------------------------------------------
  /// Which backend this is.
  virtual backend kind() const noexcept = 0;
  /// Prepares a handle at association (e.g. registers it with epoll). ERROR_SUCCESS or a Win32 error.
  virtual DWORD attach(handle_slot& h) noexcept = 0;
  /// Undoes attach; called once, at the handle's final release, before its descriptor is closed.
  virtual void detach(handle_slot& h) noexcept = 0;
  /// Starts an accepted operation (the handle's lock is not held). The engine guarantees that it
  /// finishes exactly once (finish/finish_locked/finish_batch) and that its routine is then delivered.
  virtual void submit(op_record& op) noexcept = 0;
  /// Asks a pending operation to complete with ERROR_OPERATION_ABORTED; pending_lock(op) is held (the
  /// handle's lock for a stream, a file list's for a file).
  virtual void cancel(op_record& op) noexcept = 0;
  /// Reaps completions for this worker (pushing due items with scheduler::push_local). When `block`
  /// is true, waits until something happens or wake() is called. Returns true if it reaped anything.
  virtual bool poll(worker& w, bool block) noexcept = 0;
  /// Wakes an idle worker blocked in poll (the given one if the engine can target it; all for nullptr).
  virtual void wake(worker* w) noexcept = 0;
  /// Makes some idle worker wake within about a millisecond, to steal work queued behind a busy one.
  virtual void arm_watchdog() noexcept = 0;
  /// Runs an engine-specific item (kind_ >= k_item_engine).
  virtual void run_item(worker& w, queue_node* n) noexcept = 0;
  /// Whether completions have arrived (or requests wait to be submitted) that no pool thread has taken
  /// yet; called by the scheduler's gate thread, which is no pool thread, to tell a starved pool from
  /// one whose routines merely run long.
  virtual bool completions_waiting() noexcept = 0;
  /// Releases the engine's kernel resources after every worker has exited.
  virtual void stop() noexcept = 0;
  /// In a child of fork(): closes the child's copies of the engine's descriptors and mappings without
  /// touching the kernel objects they share with the parent (no epoll_ctl, no submission). Nothing
  /// else of the engine is called afterwards.
  virtual void forget_in_child() noexcept = 0;

  // --- Hooks with defaults ---------------------------------------------------------------------
  /// Called by CloseHandle with the handle's lock held, after its pending operations were asked to
  /// cancel. Returns true if the engine closed the descriptor itself (then fd is -1). Default: the
  /// descriptor is closed with the handle's last reference.
  virtual bool close_early(handle_slot&) noexcept { return false; }
  /// Called on each pool thread when it starts, before its first poll; may set w.engine_state (the
  /// scheduler clears it when the thread leaves its loop). Default: nothing per thread.
  virtual void worker_start(worker&) {}
  /// Whether an idle extra thread may park now (an io_uring worker must not with requests in flight
  /// on its own ring). Default: yes.
  virtual bool can_retire(worker&) noexcept { return true; }
  /// Whether requests are in flight whose completions only reach the pool through one thread (w's
  /// own ring, or the ring of another thread busy in a routine, which w may have been watching):
  /// before w runs a routine that may block, an idle thread is then asked to watch (arm_watchdog).
  /// Default: no (completions reach every thread).
  virtual bool needs_watch(worker&) noexcept { return false; }
  /// Called by ReadFile/WriteFile before the operation is accepted (no lock held, on no list): may run
  /// it to its end at once when that cannot block and changes nothing if the call then refuses it (a
  /// positional file read served by the page cache). True, with op.error and op.done set, if it did;
  /// the call then accepts it only if the handle is still open (docs/PROTOCOL.md). Default: never.
  virtual bool try_at_once(op_record&) noexcept { return false; }
};

/// The compile-time conformance check of an engine: final, derived from engine, and every required
/// function present with its exact signature and noexcept.
template <class E>
concept backend_engine = std::derived_from<E, engine> && std::is_final_v<E> &&
    requires(E& e, const E& ce, handle_slot& h, op_record& op, worker& w, queue_node* n) {
  { ce.kind() }
  noexcept->std::same_as<backend>;
  { e.attach(h) }
  noexcept->std::same_as<DWORD>;
  { e.detach(h) }
  noexcept;
  { e.submit(op) }
  noexcept;
  { e.cancel(op) }
  noexcept;
  { e.poll(w, true) }
  noexcept->std::same_as<bool>;
  { e.wake(&w) }
  noexcept;
  { e.arm_watchdog() }
  noexcept;
  { e.run_item(w, n) }
  noexcept;
  { e.completions_waiting() }
  noexcept->std::same_as<bool>;
  { e.stop() }
  noexcept;
  { e.forget_in_child() }
  noexcept;
};

// ---------------------------------------------------------------------------------------------
// fork (src/posix/fork.cpp)

// Written only by the fork handler in a child (its only thread); read on every operation's start.
inline std::atomic<unsigned> g_fork_generation{0};

/// How many fork()s this process is from the first process (0 in the original): a pool made in another
/// generation is stale here (it belongs to an ancestor). Inline: every ReadFile asks.
inline unsigned fork_generation() noexcept { return g_fork_generation.load(std::memory_order_relaxed); }
/// Adds a pool to / removes it from the list that a child's fork handler makes stale.
void register_pool(pool_impl* pool);
void unregister_pool(pool_impl* pool) noexcept;
/// The handle table's and the record depot's locks, held across fork() (handles.cpp).
void lock_tables_for_fork() noexcept;
void unlock_tables_after_fork() noexcept;

/// True on any w3tp pool thread (they keep SIGPIPE and SIGXFSZ blocked).
bool on_any_pool_thread() noexcept;

/// Engine factories; each throws std::system_error (with a sentence) when its backend cannot start.
std::unique_ptr<engine> make_epoll_engine(pool_impl& pool);
#ifdef W3TP_HAVE_IO_URING
/// base_threads: the pool's permanent threads, whose rings are set up by the factory.
std::unique_ptr<engine> make_uring_engine(pool_impl& pool, unsigned base_threads, unsigned max_threads);
/// Probes io_uring once per process: "" when usable, else why not.
const std::string& uring_unavailable_reason();
#endif

}  // namespace w3tp::posix
