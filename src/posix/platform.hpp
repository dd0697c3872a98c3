// SPDX-License-Identifier: MIT
// The Linux-isms of the POSIX front end, each behind one small function: futex wait/wake, the spin-wait
// hint, the kernel thread id and thread names. Porting to another kernel or CPU starts here.
#pragma once

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
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

}  // namespace w3tp::posix::platform
