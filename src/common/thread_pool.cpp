// SPDX-License-Identifier: MIT
// thread_pool's members, once for every platform: each forwards to the platform's pool_impl, which
// has the same shape everywhere (src/posix/pool.hpp, src/iocp/iocp.hpp), and the shell's pieces
// (common/shell.hpp) that both build on.
#include <algorithm>
#include <thread>

#include "common/common.hpp"
#include "common/shell.hpp"

#if defined(_WIN32)
#include "iocp/iocp.hpp"
#else
#include "posix/pool.hpp"
#endif

namespace w3tp {

namespace detail {

thread_counts thread_counts_for(const pool_options& options) noexcept {
  const unsigned base = options.threads != 0 ? options.threads : std::max(2u, std::thread::hardware_concurrency());
  const unsigned max = std::max(options.max_threads == 0 ? 256u : options.max_threads, base);
  return {base, max};
}

// The two thread-count hooks of http_server_impl (common/common.hpp), and the fork check.
void increment_thread_count(thread_pool& pool) noexcept { pool_access::of(pool).add_thread(); }
void decrement_thread_count(thread_pool& pool) noexcept { pool_access::of(pool).remove_thread(); }
bool stale_after_fork(thread_pool& pool) noexcept { return pool_access::of(pool).stale(); }

}  // namespace detail

thread_pool::thread_pool(pool_options options) : impl_(new detail::pool_impl(*this, std::move(options))) {}

thread_pool::~thread_pool() {
  if (impl_->stale()) return;  // a parent's pool in a child of fork(): left as it is (src/posix/fork.cpp)
  shutdown();
  impl_->release();
}

backend thread_pool::active_backend() const noexcept { return impl_->kind(); }
std::string_view thread_pool::fallback_reason() const noexcept { return impl_->fallback_reason(); }
unsigned thread_pool::thread_count() const noexcept { return impl_->thread_count(); }
pool_stats thread_pool::stats() const noexcept { return impl_->stats(); }

HRESULT thread_pool::associate(HANDLE handle, LPOVERLAPPED_COMPLETION_ROUTINE routine) noexcept {
  return impl_->associate(handle, routine, nullptr);
}
HRESULT thread_pool::associate_routine(HANDLE handle, detail::routine_base* routine) noexcept {
  return impl_->associate(handle, nullptr, routine);
}
HRESULT thread_pool::post(LPOVERLAPPED_COMPLETION_ROUTINE routine, DWORD error, DWORD bytes,
                          OVERLAPPED* overlapped) noexcept {
  return impl_->post(routine, error, bytes, overlapped);
}
void thread_pool::submit_task(detail::task_base* task) noexcept { impl_->submit_task(task); }
void thread_pool::shutdown() {
  impl_->shutdown();
  // After the last routine: an Asio execution_context's services (timers) go with their pending handlers.
  impl_->ext().reset();
}
void* thread_pool::extension_slot(void* (*make)(), void (*destroy)(void*) noexcept) {
  return impl_->ext().get(make, destroy);
}
IHttpServer& thread_pool::http_server() noexcept { return impl_->http(); }

bool thread_pool::executor_type::running_in_this_thread() const noexcept { return pool_->impl_->on_own_thread(); }

}  // namespace w3tp
