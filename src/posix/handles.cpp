// SPDX-License-Identifier: MIT
// The handle table and the operation records.
#include <sys/mman.h>
#include <unistd.h>

#include <mutex>
#include <new>
#include <vector>

#include "posix/core.hpp"

namespace w3tp::posix {

namespace {

// One range of address space reserved for every slot there can be (PROT_NONE: it costs no memory and
// counts against no commit limit), made readable and writable k_grow_slots at a time as the table
// grows. Slots are constructed when first handed out and never freed, so a lookup never races with a
// deallocation and needs no lock, an index is the slot's position, and memory grows with the handles
// in use (a slot and nothing more each: 64 bytes).
constexpr std::uint32_t k_max_slots = 1u << 22;  // 4 M handles, 256 MiB of address space
constexpr std::uint32_t k_grow_slots = 1024;     // 64 KiB at a time
constexpr std::uint32_t k_max_generation = 0x7FFFFFFFu;

struct table {
  handle_slot* base = nullptr;         // k_max_slots slots, of which `used` are constructed
  std::atomic<std::uint32_t> used{0};  // slots constructed (published with release)
  std::uint32_t mapped = 0;            // slots readable and writable (free_mu)
  std::mutex free_mu;                  // the free list, growing the table
  std::vector<std::uint32_t> free_list;
};

table& the_table() {
  // Never destroyed: handles may be closed by static destructors and threads that outlive main.
  static table* t = [] {
    auto* tb = new table();
    void* p = ::mmap(nullptr, std::size_t{k_max_slots} * sizeof(handle_slot), PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    tb->base = p == MAP_FAILED ? nullptr : static_cast<handle_slot*>(p);
    return tb;
  }();
  return *t;
}

handle_slot* slot_at(table& t, std::uint32_t index) noexcept { return &t.base[index]; }

handle_slot* new_slot(table& t) noexcept {
  std::lock_guard lock(t.free_mu);
  if (!t.free_list.empty()) {
    std::uint32_t index = t.free_list.back();
    t.free_list.pop_back();
    return slot_at(t, index);
  }
  const std::uint32_t index = t.used.load(std::memory_order_relaxed);
  if (t.base == nullptr || index >= k_max_slots) return nullptr;
  if (index == t.mapped) {
    if (::mprotect(&t.base[index], std::size_t{k_grow_slots} * sizeof(handle_slot), PROT_READ | PROT_WRITE) != 0)
      return nullptr;
    t.mapped += k_grow_slots;
  }
  auto* s = new (&t.base[index]) handle_slot();
  s->state.store(k_closed_bit, std::memory_order_relaxed);  // generation 0: never valid
  t.used.store(index + 1, std::memory_order_release);
  return s;
}

// Runs once, when the last reference of a closed handle is dropped.
void destroy_slot(handle_slot* s) noexcept {
  pool_impl* pool = s->pool.load(std::memory_order_acquire);
  if (pool != nullptr) pool->eng().detach(*s);
  if (s->fd >= 0) ::close(s->fd);
  if (s->has(hf_callable)) delete s->callable;
  s->fn = nullptr;
  s->fd = -1;
  s->flags.store(0, std::memory_order_relaxed);
  s->backend_flags.store(0, std::memory_order_relaxed);
  s->sync_users = 0;
  s->backend_q[0] = s->backend_q[1] = nullptr;
  s->pending = nullptr;
  s->pool.store(nullptr, std::memory_order_relaxed);

  std::uint64_t gen = s->state.load(std::memory_order_relaxed) >> 32;
  table& t = the_table();
  if (gen + 1 > k_max_generation) {
    // Retire the slot: its values must never come back.
    s->state.store(k_closed_bit | (gen << 32), std::memory_order_release);
  } else {
    s->state.store(k_closed_bit | ((gen + 1) << 32), std::memory_order_release);
    std::lock_guard lock(t.free_mu);
    t.free_list.push_back(static_cast<std::uint32_t>(s - t.base));
  }
  if (pool != nullptr) pool->release();
}

}  // namespace

HANDLE handle_slot::value() const noexcept {
  std::uint64_t gen = state.load(std::memory_order_relaxed) >> 32;
  auto index = static_cast<std::uint64_t>(this - the_table().base);
  return reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>((gen << 32) | (index + 1u)));
}

handle_slot* create_handle(int fd, object_kind kind, std::uint8_t flags) noexcept {
  table& t = the_table();
  handle_slot* s = new_slot(t);
  if (s == nullptr) return nullptr;
  s->fd = fd;
  s->kind = kind;
  s->flags.store(flags, std::memory_order_relaxed);
  s->backend_flags.store(0, std::memory_order_relaxed);
  s->sync_users = 0;
  s->fn = nullptr;
  s->pending = nullptr;
  s->backend_q[0] = s->backend_q[1] = nullptr;
  std::uint64_t gen = s->state.load(std::memory_order_relaxed) >> 32;
  if (gen == 0) gen = 1;  // a fresh slot
  s->state.store((gen << 32) | 1u, std::memory_order_release);
  return s;
}

handle_slot* acquire_handle(HANDLE h) noexcept {
  auto v = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(h));
  if (h == nullptr || h == INVALID_HANDLE_VALUE) return nullptr;
  std::uint64_t gen = v >> 32;
  std::uint32_t low = static_cast<std::uint32_t>(v);
  if (gen == 0 || gen > k_max_generation || low == 0) return nullptr;
  table& t = the_table();
  if (low - 1 >= t.used.load(std::memory_order_acquire)) return nullptr;
  handle_slot* s = slot_at(t, low - 1);
  std::uint64_t st = s->state.load(std::memory_order_acquire);
  for (;;) {
    if ((st >> 32) != gen || (st & k_closed_bit) != 0 || (st & k_ref_mask) == 0) return nullptr;
    if (s->state.compare_exchange_weak(st, st + 1, std::memory_order_acquire, std::memory_order_acquire)) return s;
  }
}

void release_handle(handle_slot* s) noexcept {
  std::uint64_t prev = s->state.fetch_sub(1, std::memory_order_acq_rel);
  if ((prev & k_ref_mask) == 1 && (prev & k_closed_bit) != 0) destroy_slot(s);
}

void release_handle(handle_slot* s, std::uint32_t n) noexcept {
  std::uint64_t prev = s->state.fetch_sub(n, std::memory_order_acq_rel);
  if ((prev & k_ref_mask) == n && (prev & k_closed_bit) != 0) destroy_slot(s);
}

void for_each_handle_impl(void (*fn)(handle_slot*, void*), void* ctx) {
  table& t = the_table();
  std::uint32_t used = t.used.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < used; ++i) {
    handle_slot* s = slot_at(t, i);
    // Take a reference only on a live, open slot.
    std::uint64_t st = s->state.load(std::memory_order_acquire);
    bool got = false;
    while ((st & k_closed_bit) == 0 && (st & k_ref_mask) != 0) {
      if (s->state.compare_exchange_weak(st, st + 1, std::memory_order_acquire)) {
        got = true;
        break;
      }
    }
    if (!got) continue;
    fn(s, ctx);
    release_handle(s);
  }
}

// ---------------------------------------------------------------------------------------------
// Operation records: a per-thread free list in front of a global one, so that the hot path (a
// routine re-issuing its read) never calls the allocator. Records come from 64-record slabs that are
// never returned (like the records themselves before); the lists are intrusive (through next_), so
// neither freeing nor moving records between the lists can fail.

namespace {

constexpr std::size_t k_cache_max = 256;  // records a thread keeps before it gives some back
constexpr std::size_t k_batch = 64;       // records moved between a thread and the depot at once

/// An intrusive LIFO of free records.
struct op_list {
  queue_node* head = nullptr;
  std::size_t size = 0;
  void push(op_record* op) noexcept {
    op->next_ = head;
    head = op;
    ++size;
  }
  op_record* pop() noexcept {
    auto* op = static_cast<op_record*>(head);
    if (op != nullptr) {
      head = op->next_;
      --size;
    }
    return op;
  }
  /// Moves up to n records from this list to `to`.
  void move_to(op_list& to, std::size_t n) noexcept {
    for (; n > 0 && head != nullptr; --n) to.push(pop());
  }
};

struct op_depot {
  std::mutex mu;
  op_list free;
};
op_depot& depot() {
  static op_depot* d = new op_depot();
  return *d;
}

/// Allocates a slab of k_batch records into `to`; false when out of memory.
bool new_slab(op_list& to) noexcept {
  void* raw = ::operator new (sizeof(op_record) * k_batch, std::align_val_t{alignof(op_record)}, std::nothrow);
  if (raw == nullptr) return false;
  auto* slab = static_cast<op_record*>(raw);
  for (std::size_t i = 0; i < k_batch; ++i) to.push(new (&slab[i]) op_record());
  return true;
}

struct op_cache {
  op_list items;
  ~op_cache() {
    if (items.head == nullptr) return;
    std::lock_guard lock(depot().mu);
    items.move_to(depot().free, items.size);
  }
};
thread_local op_cache t_ops;

}  // namespace

void lock_tables_for_fork() noexcept {
  the_table().free_mu.lock();
  depot().mu.lock();
}

void unlock_tables_after_fork() noexcept {
  depot().mu.unlock();
  the_table().free_mu.unlock();
}

op_record* alloc_op() noexcept {
  op_list& items = t_ops.items;
  if (items.head == nullptr) {
    op_depot& d = depot();
    {
      std::lock_guard lock(d.mu);
      d.free.move_to(items, k_batch);
    }
    if (items.head == nullptr && !new_slab(items)) return nullptr;
  }
  op_record* op = items.pop();
  op->next_ = nullptr;
  op->kind_ = 0;
  op->hprev = op->hnext = nullptr;
  op->h = nullptr;
  op->done = 0;
  op->flags.store(0, std::memory_order_relaxed);
  op->home.store(0, std::memory_order_relaxed);
  op->error = ERROR_SUCCESS;
  return op;
}

void free_op(op_record* op) noexcept {
  op_list& items = t_ops.items;
  items.push(op);
  if (items.size <= k_cache_max) return;
  // Too many here (records freed on another thread than the one that allocates): give a batch back.
  op_depot& d = depot();
  std::lock_guard lock(d.mu);
  items.move_to(d.free, k_batch);
}

}  // namespace w3tp::posix
