// SPDX-License-Identifier: MIT
// The handle table and the operation records.
#include <unistd.h>

#include <array>
#include <mutex>
#include <new>
#include <vector>

#include "posix/core.hpp"

namespace w3tp::posix {

namespace {

// Two-level table: chunks of slots that are allocated on demand and never freed, so a lookup never
// races with a deallocation and needs no lock.
constexpr std::uint32_t k_chunk_bits = 10;
constexpr std::uint32_t k_chunk_size = 1u << k_chunk_bits;
constexpr std::uint32_t k_max_chunks = 1u << 12;  // 4 M handles
constexpr std::uint32_t k_max_generation = 0x7FFFFFFFu;

struct table {
  std::array<std::atomic<handle_slot*>, k_max_chunks> chunks{};
  std::atomic<std::uint32_t> used{0};  // slots ever handed out
  std::mutex free_mu;
  std::vector<std::uint32_t> free_list;
};

table& the_table() {
  // Never destroyed: handles may be closed by static destructors and threads that outlive main.
  static table* t = new table();
  return *t;
}

handle_slot* slot_at(table& t, std::uint32_t index) noexcept {
  std::uint32_t chunk = index >> k_chunk_bits;
  if (chunk >= k_max_chunks) return nullptr;
  handle_slot* c = t.chunks[chunk].load(std::memory_order_acquire);
  return c == nullptr ? nullptr : &c[index & (k_chunk_size - 1)];
}

handle_slot* new_slot(table& t) noexcept {
  {
    std::lock_guard lock(t.free_mu);
    if (!t.free_list.empty()) {
      std::uint32_t index = t.free_list.back();
      t.free_list.pop_back();
      return slot_at(t, index);
    }
  }
  std::uint32_t index = t.used.fetch_add(1, std::memory_order_relaxed);
  std::uint32_t chunk = index >> k_chunk_bits;
  if (chunk >= k_max_chunks) return nullptr;
  handle_slot* c = t.chunks[chunk].load(std::memory_order_acquire);
  if (c == nullptr) {
    auto* fresh = new (std::nothrow) handle_slot[k_chunk_size];
    if (fresh == nullptr) return nullptr;
    for (std::uint32_t i = 0; i < k_chunk_size; ++i) {
      fresh[i].index = (chunk << k_chunk_bits) | i;
      fresh[i].state.store(k_closed_bit, std::memory_order_relaxed);  // generation 0: never valid
    }
    if (!t.chunks[chunk].compare_exchange_strong(c, fresh, std::memory_order_acq_rel)) delete[] fresh;
    c = t.chunks[chunk].load(std::memory_order_acquire);
  }
  return &c[index & (k_chunk_size - 1)];
}

// Runs once, when the last reference of a closed handle is dropped.
void destroy_slot(handle_slot* s) noexcept {
  pool_impl* pool = s->pool.load(std::memory_order_acquire);
  if (pool != nullptr) pool->eng().detach(*s);
  if (s->fd >= 0) ::close(s->fd);
  if ((s->flags & hf_callable) != 0) delete s->callable;
  s->fn = nullptr;
  s->fd = -1;
  s->flags = 0;
  s->backend_flags = 0;
  s->backend = nullptr;
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
    t.free_list.push_back(s->index);
  }
  if (pool != nullptr) pool->release();
}

}  // namespace

HANDLE handle_slot::value() const noexcept {
  std::uint64_t gen = state.load(std::memory_order_relaxed) >> 32;
  return reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>((gen << 32) | (index + 1u)));
}

handle_slot* create_handle(int fd, object_kind kind, std::uint8_t flags) noexcept {
  table& t = the_table();
  handle_slot* s = new_slot(t);
  if (s == nullptr) return nullptr;
  s->fd = fd;
  s->kind = kind;
  s->flags = flags;
  s->backend_flags = 0;
  s->fn = nullptr;
  s->pending = nullptr;
  s->backend = nullptr;
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
  if (s == nullptr) return nullptr;
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

void for_each_handle_impl(void (*fn)(handle_slot*, void*), void* ctx) {
  table& t = the_table();
  std::uint32_t used = t.used.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < used; ++i) {
    handle_slot* s = slot_at(t, i);
    if (s == nullptr) continue;
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
// Operation records: a per-thread cache in front of a global free list, so that the hot path
// (a routine re-issuing its read) never calls the allocator.

namespace {

struct op_depot {
  std::mutex mu;
  std::vector<op_record*> free;
};
op_depot& depot() {
  static op_depot* d = new op_depot();
  return *d;
}

constexpr std::size_t k_cache_max = 256;
constexpr std::size_t k_batch = 64;

struct op_cache {
  std::vector<op_record*> items;
  ~op_cache() {
    if (items.empty()) return;
    std::lock_guard lock(depot().mu);
    depot().free.insert(depot().free.end(), items.begin(), items.end());
  }
};
thread_local op_cache t_ops;

}  // namespace

op_record* alloc_op() noexcept {
  auto& items = t_ops.items;
  if (items.empty()) {
    op_depot& d = depot();
    std::lock_guard lock(d.mu);
    std::size_t n = std::min(k_batch, d.free.size());
    try {
      items.insert(items.end(), d.free.end() - static_cast<std::ptrdiff_t>(n), d.free.end());
    } catch (...) {
      n = 0;
    }
    d.free.resize(d.free.size() - n);
  }
  op_record* op;
  if (!items.empty()) {
    op = items.back();
    items.pop_back();
  } else {
    op = new (std::nothrow) op_record();
    if (op == nullptr) return nullptr;
  }
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
  auto& items = t_ops.items;
  if (items.size() < k_cache_max) {
    try {
      items.push_back(op);
      return;
    } catch (...) {
    }
  }
  op_depot& d = depot();
  std::lock_guard lock(d.mu);
  try {
    d.free.push_back(op);
  } catch (...) {
    delete op;
  }
}

}  // namespace w3tp::posix
