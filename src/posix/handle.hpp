// SPDX-License-Identifier: MIT
// Handles: the slot behind a HANDLE, its references, and the table (src/posix/handles.cpp).
#pragma once

#include <atomic>
#include <cstdint>

#include "common/common.hpp"
#include "posix/errors.hpp"
#include "posix/sync.hpp"
#include "w3tp/w3tp.hpp"

namespace w3tp::detail {
class pool_impl;
}

namespace w3tp::posix {

using detail::pool_impl;

struct op_record;
struct worker;
class scheduler;
class engine;
struct handle_slot;

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
  small_mutex lock;  // guards `pending` (streams), `sync_users` and the engine's per-handle queues
  // Synchronous calls using fd right now (guarded by lock): CloseHandle leaves the descriptor to the
  // last reference instead of closing it early while one runs, so its number cannot be reused under it.
  std::uint32_t sync_users = 0;
  op_record* pending = nullptr;  // a stream's pending operations, doubly linked (a file's: file lists)
  // The engine's per-handle state, in the slot itself (no allocation per handle); guarded by lock.
  union {
    void* backend = nullptr;
    queue_node* backend_q[2];
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

/// As acquire_handle, for a call that starts an operation: on a pool thread that holds references of
/// earlier routines of this very handle (worker::held), one of them is taken over instead, so that a
/// routine starting the next read on its own handle does no atomic read-modify-write on the slot's line,
/// which the other pool threads then keep reading from their caches (src/posix/pool.cpp).
handle_slot* acquire_handle_for_io(HANDLE h) noexcept;

/// RAII reference on a handle slot.
class handle_ref {
 public:
  explicit handle_ref(HANDLE h) noexcept : slot_(acquire_handle(h)) {}
  /// Takes over a reference the caller already has (nullptr: none).
  static handle_ref adopt(handle_slot* s) noexcept { return handle_ref(s); }
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
  explicit handle_ref(handle_slot* s) noexcept : slot_(s) {}
  handle_slot* slot_;
};

}  // namespace w3tp::posix
