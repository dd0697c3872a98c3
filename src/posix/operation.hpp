// SPDX-License-Identifier: MIT
// Work items and operation records: what a pool thread runs, and how an operation is finished and
// delivered (src/posix/handles.cpp, src/posix/pool.cpp).
#pragma once

#include <atomic>
#include <cstdint>

#include "posix/handle.hpp"

// The forward declarations of the front end's types are in posix/handle.hpp.
namespace w3tp::posix {

// ---------------------------------------------------------------------------------------------
// Work items and operation records

/// queue_node::kind_ values. Engines may use values from k_item_engine up.
enum item_kind : std::uint8_t {
  k_item_task = 1,     // op_record carrying a detail::task_base from the executor (op_record::task)
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
  of_code_mask = 3u << 1,
  // The engine made the operation a request (io_uring: `home` names its ring). Set with a
  // read-modify-write that also reads of_cancel, and of_cancel is set with one that also reads this,
  // so of the two racing sides at least one sees the other (see the io_uring engine's cancel()).
  of_request = 1u << 3,
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
    detail::task_base* task;  // k_item_task
  };
  std::uint32_t done = 0;  // bytes transferred so far (the final count once finished)
  union {
    // While the operation is on a pending list: the thread id that started it (CancelIo; and which file
    // list holds it).
    std::uint32_t starter;
    // Once finish_locked has taken it off that list (under its lock): its result.
    DWORD error = ERROR_SUCCESS;
  };

  op_record() noexcept : buf(nullptr) {}
  bool cancel_requested() const noexcept { return (flags.load(std::memory_order_acquire) & of_cancel) != 0; }
  op_code code() const noexcept {
    return static_cast<op_code>((flags.load(std::memory_order_relaxed) & of_code_mask) >> of_code_shift);
  }
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

// ---------------------------------------------------------------------------------------------
// Pending lists: where CancelIo, CancelIoEx and CloseHandle find an accepted operation until it finishes

/// One list of pending file operations, with its lock, on a cache line of its own.
struct alignas(64) file_list {
  small_mutex lock;
  op_record* head = nullptr;
};

/// How many file lists there are: a file operation is on list starter % k_file_lists, so threads
/// with consecutive ids (a pool's threads) never share one up to that many.
constexpr unsigned k_file_lists = 64;

/// The file list at index i (< k_file_lists).
file_list& file_list_at(unsigned i) noexcept;

/// Empties every file list and frees its lock, in a child of fork(): their operations are the
/// parent's and never finish here, and a lock may be held by a thread that does not exist here.
void reset_file_lists_in_child() noexcept;

/// Whether h's operations are on the file lists rather than on h's own list. A stream's operations
/// are on its own list, under its lock, which also guards the engine's per-handle queues. A file's are
/// on the list of the thread that started them: many threads reading one file then write no shared
/// line per operation (measured: the handle's lock was 85% of ReadFile's own time on 2 threads).
/// Cancelling a file's operations walks every file list instead.
inline bool on_file_lists(const handle_slot& h) noexcept { return h.kind == object_kind::file; }

/// The lock that guards op's pending list (op is linked, or about to be; op.starter is set).
inline small_mutex& pending_lock(const op_record& op) noexcept {
  return on_file_lists(*op.h) ? file_list_at(op.starter % k_file_lists).lock : op.h->lock;
}

/// Links op into its pending list; the caller holds pending_lock(op).
void link_pending(op_record& op) noexcept;

/// Calls f(op) for each operation of h on a pending list, with that list's lock held (f may unlink op
/// through finish_locked). Returns how many it visited.
template <class F>
unsigned for_each_pending(handle_slot& h, F&& f) {
  unsigned n = 0;
  auto walk = [&](op_record* op) {
    while (op != nullptr) {
      op_record* next = op->hnext;
      if (op->h == &h) {
        ++n;
        f(*op);
      }
      op = next;
    }
  };
  if (!on_file_lists(h)) {
    small_lock lock(h.lock);
    walk(h.pending);
    return n;
  }
  for (unsigned i = 0; i < k_file_lists; ++i) {
    file_list& l = file_list_at(i);
    small_lock lock(l.lock);
    walk(l.head);
  }
  return n;
}

/// Records the result of a pending operation: unlinks it from its pending list, fills the
/// OVERLAPPED (InternalHigh, then Internal) and wakes GetOverlappedResult waiters. The caller holds
/// pending_lock(op). After this the operation can no longer be cancelled; its routine is still owed.
void finish_locked(op_record& op, DWORD error) noexcept;

/// The second half of finish_locked: stores the result in the record and the OVERLAPPED and wakes
/// GetOverlappedResult waiters. Alone only for an operation on no pending list (engine::try_at_once).
void record_result(op_record& op, DWORD error) noexcept;

/// Threads blocked in GetOverlappedResult(..., TRUE): finish_locked notifies only when this is not 0.
/// A waiter increments it and passes a heavy fence before it re-reads the status, and record_result
/// passes a light one between the status and this count, so no wake-up is lost.
extern std::atomic<unsigned> overlapped_waiters;

/// As finish_locked, taking pending_lock(op) itself.
void finish(op_record& op, DWORD error) noexcept;

/// As finish for n operations (errors[i] is ops[i]'s result), taking each pending list's lock once per
/// run of consecutive operations on that list; then links them through next_ as items due (k_item_done),
/// ops[0] first. n > 0.
void finish_batch(op_record* const* ops, const DWORD* errors, unsigned n) noexcept;

/// Runs the routine of a finished operation on the current pool thread and retires the operation.
void deliver(op_record& op) noexcept;

}  // namespace w3tp::posix
