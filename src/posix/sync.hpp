// SPDX-License-Identifier: MIT
// Small synchronisation pieces of the POSIX front end: a 4-byte futex mutex (handle slots must stay
// within one cache line, which std::mutex's 40 bytes would not allow) and an intrusive FIFO.
#pragma once

#include <atomic>
#include <cstdint>

#include "posix/platform.hpp"
#include "w3tp/w3tp.hpp"

namespace w3tp::posix {

/// A node of the pool's intrusive work queues: operation records, and the engines' own items.
struct queue_node {
  queue_node* next_ = nullptr;
  std::uint8_t kind_ = 0;  // one byte: derived records use the rest of the line
};

/// Drepper's three-state futex mutex: 0 free, 1 locked, 2 locked with waiters.
class small_mutex {
 public:
  void lock() noexcept {
    std::uint32_t c = 0;
    if (state_.compare_exchange_strong(c, 1, std::memory_order_acquire, std::memory_order_relaxed)) return;
    lock_slow(c);
  }
  bool try_lock() noexcept {
    std::uint32_t c = 0;
    return state_.compare_exchange_strong(c, 1, std::memory_order_acquire, std::memory_order_relaxed);
  }
  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2) wake();
  }

 private:
  void lock_slow(std::uint32_t c) noexcept {
    // Spin briefly: critical sections here are a few dozen instructions or one non-blocking syscall.
    for (int i = 0; i < 64 && c != 0; ++i) {
      platform::cpu_relax();
      c = 0;
      if (state_.compare_exchange_weak(c, 1, std::memory_order_acquire, std::memory_order_relaxed)) return;
    }
    if (c != 2) c = state_.exchange(2, std::memory_order_acquire);
    while (c != 0) {
      platform::futex_wait(state_, 2);
      c = state_.exchange(2, std::memory_order_acquire);
    }
  }
  void wake() noexcept { platform::futex_wake(state_, 1); }
  std::atomic<std::uint32_t> state_{0};
};
static_assert(sizeof(small_mutex) == 4);

/// Scoped lock for small_mutex (std::lock_guard works too; this one is explicit about the type).
class small_lock {
 public:
  explicit small_lock(small_mutex& m) noexcept : m_(m) { m_.lock(); }
  ~small_lock() { m_.unlock(); }
  small_lock(const small_lock&) = delete;
  small_lock& operator=(const small_lock&) = delete;

 private:
  small_mutex& m_;
};

/// Intrusive FIFO of queue_node (through next_). Not synchronised: callers hold a lock.
class node_fifo {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  void push(queue_node* n) noexcept {
    n->next_ = nullptr;
    if (tail_ != nullptr)
      tail_->next_ = n;
    else
      head_ = n;
    tail_ = n;
  }
  /// Appends a whole chain (first..last, linked through next_).
  void push_chain(queue_node* first, queue_node* last) noexcept {
    last->next_ = nullptr;
    if (tail_ != nullptr)
      tail_->next_ = first;
    else
      head_ = first;
    tail_ = last;
  }
  /// Detaches up to n nodes from the front as one chain first..last (last->next_ is nullptr);
  /// returns how many (0 when empty).
  unsigned pop_front(unsigned n, queue_node*& first, queue_node*& last) noexcept {
    first = last = head_;
    if (head_ == nullptr) return 0;
    unsigned k = 1;
    for (; k < n && last->next_ != nullptr; ++k) last = last->next_;
    head_ = last->next_;
    if (head_ == nullptr) tail_ = nullptr;
    last->next_ = nullptr;
    return k;
  }
  queue_node* pop() noexcept {
    queue_node* n = head_;
    if (n != nullptr) {
      head_ = n->next_;
      if (head_ == nullptr) tail_ = nullptr;
      n->next_ = nullptr;
    }
    return n;
  }
  /// Removes n if it is queued; O(n).
  bool remove(queue_node* n) noexcept {
    queue_node* prev = nullptr;
    for (queue_node* it = head_; it != nullptr; prev = it, it = it->next_) {
      if (it != n) continue;
      if (prev != nullptr)
        prev->next_ = it->next_;
      else
        head_ = it->next_;
      if (tail_ == it) tail_ = prev;
      it->next_ = nullptr;
      return true;
    }
    return false;
  }
  queue_node* front() const noexcept { return head_; }

 private:
  queue_node* head_ = nullptr;
  queue_node* tail_ = nullptr;
};

}  // namespace w3tp::posix
