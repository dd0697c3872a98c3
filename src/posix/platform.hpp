// SPDX-License-Identifier: MIT
// The Linux-isms of the POSIX front end, each behind one small function: futex wait/wake, the spin-wait
// hint, the kernel thread id, thread names and asymmetric fences (membarrier). Porting to another kernel or CPU starts
// here.
#pragma once

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>

#if defined(__SANITIZE_THREAD__)
#define W3TP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define W3TP_TSAN 1
#endif
#endif
#include <cstdint>

namespace w3tp::posix::platform {

/// Sleeps while `word` holds `expected` (process-private); returns when woken, on a signal, spuriously,
/// or at once if the value differs: callers re-check `word` in a loop.
inline void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

/// Wakes up to `count` threads sleeping in futex_wait on `word` (process-private).
inline void futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
}

/// Tells the CPU that this is one turn of a spin-wait loop (x86 pause, aarch64 yield, nothing elsewhere).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

/// The calling thread's kernel thread id (gettid), as Windows' GetCurrentThreadId reports a thread.
inline pid_t current_thread_id() noexcept { return static_cast<pid_t>(::syscall(SYS_gettid)); }

/// Names the calling thread for debuggers and ps (best effort; cut to the kernel's 15 bytes).
inline void set_thread_name(const char* name) noexcept {
  char cut[16];
  std::size_t n = 0;
  for (; n + 1 < sizeof cut && name[n] != '\0'; ++n) cut[n] = name[n];
  cut[n] = '\0';
  pthread_setname_np(pthread_self(), cut);
}

// Asymmetric fences, for a Dekker pair with a hot side and a rare side (count an operation, then read
// the pool's state; against shutdown, which sets the state and then reads the counts): light_fence()
// on the hot side, heavy_fence() on the rare side, and of the two sides' reads at least one sees the
// other side's write. With Linux's membarrier(PRIVATE_EXPEDITED) the light fence is only a compiler
// barrier and the heavy one makes every running thread of the process pass a full barrier (a few
// microseconds); without it (an old kernel, a seccomp filter) or under ThreadSanitizer, which does not
// know membarrier, both are seq_cst fences.

namespace detail {
// True once this process is registered for membarrier's expedited private command (never reset).
inline std::atomic<bool> g_membarrier{false};
}  // namespace detail

/// Registers the process for the cheap light_fence() if the kernel allows it; safe to call any time
/// and from any thread (a light fence that ran before still was a full fence).
inline void init_fences() noexcept {
#if !defined(W3TP_TSAN) && defined(SYS_membarrier)
  if (detail::g_membarrier.load(std::memory_order_acquire)) return;
  if (::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
    detail::g_membarrier.store(true, std::memory_order_release);
#endif
}

/// In a child of fork() (its only thread): the next init_fences() registers the child itself, as the
/// kernel does not promise that a registration outlives fork().
inline void forget_fences_in_child() noexcept { detail::g_membarrier.store(false, std::memory_order_relaxed); }

/// The hot side's fence (see above).
inline void light_fence() noexcept {
  if (detail::g_membarrier.load(std::memory_order_relaxed))
    std::atomic_signal_fence(std::memory_order_seq_cst);
  else
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

/// The rare side's fence (see above).
inline void heavy_fence() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
#if defined(SYS_membarrier)
  // Cannot fail once the process is registered (membarrier(2)).
  if (detail::g_membarrier.load(std::memory_order_acquire))
    ::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
#endif
}

}  // namespace w3tp::posix::platform
