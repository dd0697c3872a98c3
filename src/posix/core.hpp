// SPDX-License-Identifier: MIT
// The POSIX front end: handle table, operation records, the backend (engine) interface, the worker
// scheduler and the pool. Backends (src/epoll, src/uring) see only this header.
#pragma once

#include <atomic>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/common.hpp"
#include "posix/errors.hpp"
#include "posix/sync.hpp"
#include "w3tp/w3tp.hpp"

namespace w3tp::detail {
class pool_impl;
}

namespace w3tp::posix {

using detail::pool_impl;
using detail::queue_node;

struct op_record;
struct worker;
class scheduler;

// ---------------------------------------------------------------------------------------------
// Handles

/// Flags of a handle slot.
enum handle_flag : std::uint8_t {
  hf_overlapped = 1u << 0,  // opened with FILE_FLAG_OVERLAPPED, or adopted
  hf_read = 1u << 1,        // opened for reading
  hf_write = 1u << 2,       // opened for writing
  hf_callable = 1u << 3,    // the routine is a detail::routine_base*, not a function pointer
};

/// One entry of the handle table; exactly one cache line. A HANDLE is (generation << 32 | index + 1),
/// so a closed handle's value is never handed out again and a stale or forged value finds nothing.
struct alignas(64) handle_slot {
  // Bits 63..32: generation; bit 31: closed; bits 30..0: references (the open handle holds one,
  // every pending operation and every API call in progress holds one).
  std::atomic<std::uint64_t> state{0};
  int fd = -1;
  object_kind kind = object_kind::other;
  // handle_flag bits, and bits owned by the engine. Atomic: set at association or by the engine under
  // the lock while other threads read them without it.
  std::atomic<std::uint8_t> flags{0};
  std::atomic<std::uint8_t> backend_flags{0};
  std::uint8_t reserved = 0;
  std::atomic<pool_impl*> pool{nullptr};
  union {
    LPOVERLAPPED_COMPLETION_ROUTINE fn;
    detail::routine_base* callable;
  };
  small_mutex lock;  // guards `pending` and the engine's per-handle queues
  // Synchronous calls using fd right now (guarded by lock): CloseHandle leaves the descriptor to the
  // last reference instead of closing it early while one runs, so its number cannot be reused under it.
  std::uint32_t sync_users = 0;
  op_record* pending = nullptr;  // doubly-linked list of the handle's pending operations
  // The engine's per-handle state, in the slot itself (no allocation per handle); guarded by lock.
  union {
    void* backend = nullptr;
    detail::queue_node* backend_q[2];
  };

  handle_slot() noexcept : fn(nullptr) {}
  HANDLE value() const noexcept;
  bool has(handle_flag f) const noexcept { return (flags.load(std::memory_order_relaxed) & f) != 0; }
  void set(handle_flag f) noexcept { flags.fetch_or(f, std::memory_order_relaxed); }
  bool has_backend(std::uint8_t f) const noexcept { return (backend_flags.load(std::memory_order_relaxed) & f) != 0; }
  void set_backend(std::uint8_t f) noexcept { backend_flags.fetch_or(f, std::memory_order_relaxed); }
};
static_assert(sizeof(handle_slot) == 64, "a handle slot is one cache line");

constexpr std::uint64_t k_closed_bit = 1ull << 31;
constexpr std::uint64_t k_ref_mask = k_closed_bit - 1;

/// Creates a slot for a descriptor with one reference (the open handle). nullptr when the table is full.
handle_slot* create_handle(int fd, object_kind kind, std::uint8_t flags) noexcept;

/// Looks a HANDLE up and takes a reference; nullptr for NULL, INVALID_HANDLE_VALUE, closed, stale or
/// forged values.
handle_slot* acquire_handle(HANDLE h) noexcept;

/// Drops a reference; the last one of a closed handle closes the descriptor and frees the slot.
void release_handle(handle_slot* slot) noexcept;

/// Drops n references at once (n > 0); as n calls of release_handle.
void release_handle(handle_slot* slot, std::uint32_t n) noexcept;

/// Takes one more reference on a slot the caller already holds one on.
inline void retain_handle(handle_slot* slot) noexcept { slot->state.fetch_add(1, std::memory_order_relaxed); }

/// Calls f(slot) for every live slot (each with a reference held during the call).
template <class F>
void for_each_handle(F&& f);
void for_each_handle_impl(void (*fn)(handle_slot*, void*), void* ctx);
template <class F>
void for_each_handle(F&& f) {
  for_each_handle_impl([](handle_slot* s, void* ctx) { (*static_cast<F*>(ctx))(s); }, &f);
}

/// RAII reference on a handle slot.
class handle_ref {
 public:
  explicit handle_ref(HANDLE h) noexcept : slot_(acquire_handle(h)) {}
  ~handle_ref() {
    if (slot_ != nullptr) release_handle(slot_);
  }
  handle_ref(const handle_ref&) = delete;
  handle_ref& operator=(const handle_ref&) = delete;
  handle_slot* get() const noexcept { return slot_; }
  /// Gives the reference away (to an operation that keeps it until its routine has run).
  handle_slot* release() noexcept {
    handle_slot* s = slot_;
    slot_ = nullptr;
    return s;
  }
  handle_slot* operator->() const noexcept { return slot_; }
  explicit operator bool() const noexcept { return slot_ != nullptr; }

 private:
  handle_slot* slot_;
};

// ---------------------------------------------------------------------------------------------
// Work items and operation records

/// queue_node::kind_ values. Engines may use values from k_item_engine up.
enum item_kind : std::uint8_t {
  k_item_task = 1,     // detail::task_base from the executor
  k_item_post = 2,     // op_record: post()
  k_item_done = 3,     // op_record: completed I/O, run its routine
  k_item_file_io = 4,  // op_record: blocking file I/O to do on a pool thread, then run its routine
  k_item_engine = 16,
};

enum class op_code : std::uint8_t { read, write, post };

/// Operation flags (atomic: set by CancelIoEx on another thread). Bits 1-2 hold the op_code, written
/// once before the record is published and never changed.
enum op_flag : std::uint8_t {
  of_cancel = 1u << 0,  // cancellation requested
  of_code_shift = 1,
};

/// One accepted operation (or post): exactly one cache line, and cache-line aligned. Records move
/// between threads (allocated where an operation starts, freed where its routine ran); two records
/// sharing a line would make two pool threads write the same line for unrelated operations (measured:
/// it halved the 2-thread post rate). Drawn from per-thread free lists fed by 64-record slabs.
struct alignas(64) op_record : queue_node {
  // The first three use the tail of queue_node's line (after next_ and kind_).
  std::atomic<std::uint8_t> flags{0};
  std::atomic<std::uint16_t> home{0};  // engine's choice (e.g. the ring that owns it)
  std::uint32_t len = 0;
  OVERLAPPED* ov = nullptr;
  handle_slot* h = nullptr;  // holds a reference; nullptr for posts
  op_record* hprev = nullptr;
  op_record* hnext = nullptr;
  union {
    char* buf;
    LPOVERLAPPED_COMPLETION_ROUTINE post_fn;
  };
  std::uint32_t done = 0;  // bytes transferred so far (the final count once finished)
  union {
    // While the operation is on its handle's pending list: the thread id that started it (CancelIo).
    std::uint32_t starter;
    // Once finish_locked has taken it off that list (under the handle's lock): its result.
    DWORD error = ERROR_SUCCESS;
  };

  op_record() noexcept : buf(nullptr) {}
  bool cancel_requested() const noexcept { return (flags.load(std::memory_order_acquire) & of_cancel) != 0; }
  op_code code() const noexcept { return static_cast<op_code>(flags.load(std::memory_order_relaxed) >> of_code_shift); }
  /// Only before the record is published (it replaces the flags).
  void set_code(op_code c) noexcept {
    flags.store(static_cast<std::uint8_t>(static_cast<unsigned>(c) << of_code_shift), std::memory_order_relaxed);
  }
  /// The file position: read from the caller's OVERLAPPED, which must stay untouched while the
  /// operation is pending (as on Windows).
  std::uint64_t offset() const noexcept { return (static_cast<std::uint64_t>(ov->OffsetHigh) << 32) | ov->Offset; }
};
static_assert(sizeof(op_record) == 64, "an operation record is one cache line");

op_record* alloc_op() noexcept;
void free_op(op_record* op) noexcept;

/// Records the result of a pending operation: unlinks it from its handle's pending list, fills the
/// OVERLAPPED (InternalHigh, then Internal) and wakes GetOverlappedResult waiters. The caller holds
/// the handle's lock. After this the operation can no longer be cancelled; its routine is still owed.
void finish_locked(op_record& op, DWORD error) noexcept;

/// The second half of finish_locked: stores the result in the record and the OVERLAPPED and wakes
/// GetOverlappedResult waiters. Alone only for an operation on no pending list (engine::try_at_once).
void record_result(op_record& op, DWORD error) noexcept;

/// Threads blocked in GetOverlappedResult(..., TRUE): finish_locked notifies only when this is not 0.
/// A waiter increments it (seq_cst) before it re-reads the status, so no wake-up is lost.
extern std::atomic<unsigned> overlapped_waiters;

/// As finish_locked, taking the handle's lock itself.
void finish(op_record& op, DWORD error) noexcept;

/// As finish for n operations (errors[i] is ops[i]'s result), taking each handle's lock once per run of
/// consecutive operations on that handle; then links them through next_ as items due (k_item_done),
/// ops[0] first. n > 0.
void finish_batch(op_record* const* ops, const DWORD* errors, unsigned n) noexcept;

/// Runs the routine of a finished operation on the current pool thread and retires the operation.
void deliver(op_record& op) noexcept;

// ---------------------------------------------------------------------------------------------
// Engines (backends)

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
  // Idle and not claimed: wake_idle() clears it (claims the worker) before it sends the wake-up.
  std::atomic<bool> idle{false};
  std::atomic<bool> sleeping{false};  // inside engine::poll(w, true)
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
  // This thread's share of the pool's count of owed routines (see pool_impl::enter); on its own
  // cache line so that the per-operation increments and decrements never bounce between cores.
  alignas(64) std::atomic<std::int64_t> owed{0};
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
  /// Asks a pending operation to complete with ERROR_OPERATION_ABORTED; the handle's lock is held.
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
  /// Whether worker w has requests whose completions only reach the pool through w (its own ring):
  /// before w runs a routine that may block, an idle thread is then asked to watch (arm_watchdog).
  /// Default: no (completions reach every thread).
  virtual bool has_requests(worker&) noexcept { return false; }
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

/// How many fork()s this process is from the first process (0 in the original): a pool made in another
/// generation is stale here (it belongs to an ancestor).
unsigned fork_generation() noexcept;
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
  /// An idle worker, or nullptr.
  worker* idle_worker() noexcept;
  /// For engines whose wake-ups reach any sleeping thread (epoll): worker w took a wake-up. If nobody
  /// had claimed w, the wake-up was meant for a claimed worker that still sleeps: that worker's claim is
  /// given back, so that the next wake_idle() claims it, and wakes it, again.
  void wake_taken(worker& w) noexcept;
  /// One more / one fewer thread (IIS's IncrementThreadCount / DecrementThreadCount).
  void add_thread() noexcept { grow(false); }
  void remove_thread() noexcept;
  unsigned thread_count() const noexcept { return active_.load(std::memory_order_relaxed); }
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

namespace w3tp::detail {

/// The POSIX pool. Reference counted: the thread_pool object, every running worker thread and every
/// associated handle hold a reference, so a pool destroyed from its own routine stays valid until its
/// last thread has left it.
class pool_impl {
 public:
  pool_impl(thread_pool& owner, pool_options options);
  ~pool_impl();

  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  backend kind() const noexcept { return engine_->kind(); }
  std::string_view fallback_reason() const noexcept { return fallback_reason_; }
  posix::engine& eng() noexcept { return *engine_; }
  posix::scheduler& sched() noexcept { return *sched_; }
  IHttpServer& http() noexcept { return http_; }
  const pool_options& options() const noexcept { return options_; }

  /// Accounts for one more owed routine; false (and nothing owed) once shutdown has begun.
  bool enter() noexcept;
  /// One owed routine has run (or an owed item was dropped).
  void leave() noexcept;
  bool accepting() const noexcept { return state_.load(std::memory_order_seq_cst) == k_running && !stale(); }
  /// True in a child of fork() for a pool that the parent made (src/posix/fork.cpp): it refuses all.
  bool stale() const noexcept { return fork_generation_ != posix::fork_generation(); }

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

  enum : int { k_running = 0, k_stopping = 1, k_stopped = 2 };

  std::atomic<long> refs_{1};
  const unsigned fork_generation_ = posix::fork_generation();
  pool_options options_;
  std::string fallback_reason_;
  std::unique_ptr<posix::engine> engine_;
  std::unique_ptr<posix::scheduler> sched_;
  http_server_impl http_;
  std::atomic<int> state_{k_running};
  std::atomic<std::int64_t>& owed_shard() noexcept;
  std::int64_t owed_total() noexcept;
  // Owed routines, counted in shards: each worker's own (worker::owed) plus this one for threads
  // outside the pool. Only the sum means anything (a routine may be owed on one shard and paid on
  // another). owed_epoch_ moves after every payment once shutdown has begun, for shutdown to wait on.
  alignas(64) std::atomic<std::int64_t> external_owed_{0};
  std::atomic<std::uint32_t> owed_epoch_{0};
  std::mutex shutdown_mu_;
  std::condition_variable shutdown_cv_;
};

}  // namespace w3tp::detail
