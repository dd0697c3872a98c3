// SPDX-License-Identifier: MIT
// fork(): what a child process may do with the pools its parent made (API.md, addition 13).
//
// A child has only the thread that called fork(). The parent's pools have no threads there, and their
// rings, epoll instance and eventfds are the parent's kernel objects: using them would serve nothing or
// steal the parent's completions. So in the child every pool made before the fork is stale: its calls
// fail with ERROR_INVALID_STATE, its handles refuse I/O, and default_pool() makes a fresh pool. The
// child closes its copies of the stale engines' descriptors and mappings (which leaves the parent's
// untouched) in the fork handler; the stale pool objects themselves are never freed (their threads'
// references can never be dropped).
#include <pthread.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "posix/core.hpp"

namespace w3tp::posix {

namespace {

struct registry {
  std::mutex mu;
  std::vector<pool_impl*> pools;
};
registry& pools() {
  static registry* r = new registry();  // never destroyed: pools may outlive static destructors
  return *r;
}

void before_fork() {
  // Nothing that the child needs may be locked by a thread that does not exist there.
  pools().mu.lock();
  lock_tables_for_fork();
}

void in_parent() {
  unlock_tables_after_fork();
  pools().mu.unlock();
}

void in_child() {
  g_fork_generation.fetch_add(1, std::memory_order_relaxed);
  platform::forget_fences_in_child();
  unlock_tables_after_fork();
  reset_file_lists_in_child();
  registry& r = pools();
  for (pool_impl* p : r.pools) p->eng().forget_in_child();
  r.pools.clear();  // stale from now on; none of them unregisters
  r.mu.unlock();
}

}  // namespace

void register_pool(pool_impl* pool) {
  static std::once_flag once;
  std::call_once(once, [] { ::pthread_atfork(before_fork, in_parent, in_child); });
  registry& r = pools();
  std::lock_guard lock(r.mu);
  r.pools.push_back(pool);
}

void unregister_pool(pool_impl* pool) noexcept {
  registry& r = pools();
  std::lock_guard lock(r.mu);
  r.pools.erase(std::remove(r.pools.begin(), r.pools.end(), pool), r.pools.end());
}

}  // namespace w3tp::posix
